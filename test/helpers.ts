// Shared test utilities: the test GPU (required in CI, skipped loudly elsewhere), seeded random
// tensors, one-node graphs run on either backend, and closeness checks that say where they failed.

import assert from 'node:assert/strict';
import { permutation } from '../src/data/dataset.js';
import { Gpu } from '../src/device/gpu.js';
import type { Graph } from '../src/graph/ir.js';
import { CpuSession, GpuSession } from '../src/graph/session.js';
import type { RawAttrs } from '../src/ops/op.js';
import type { KernelContext } from '../src/kernels/context.js';
import { getOp } from '../src/ops/registry.js';
import { sizeOf, Tensor, type Shape } from '../src/tensor.js';

let gpuPromise: Promise<Gpu | null> | undefined;

/**
 * The WebGPU device for tests. In CI (CI=true) a missing adapter is a failure, so a broken
 * lavapipe install cannot turn the GPU tests into silent skips; elsewhere they skip loudly.
 */
export function testGpu(): Promise<Gpu | null> {
  gpuPromise ??= Gpu.acquire().then((gpu) => {
    if (!gpu) {
      if (process.env.CI === 'true') throw new Error('CI=true but no WebGPU adapter was found: is Mesa lavapipe installed?');
      console.warn('\n!!! No WebGPU adapter found: WebGPU tests are SKIPPED. Install lavapipe (see README). !!!\n');
    }
    return gpu;
  });
  return gpuPromise;
}

/** A deterministic generator so every failure reproduces. */
export { seededRandom as rng } from '../src/random.js';

/** Uniform values in [lo, hi). */
export function randomTensor(shape: Shape, rand: () => number, lo = -1, hi = 1): Tensor {
  const d = new Float32Array(sizeOf(shape));
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rand();
  return new Tensor(shape, d);
}

/** An integer in [lo, hi]. */
/** `count` sorted distinct rows of 0..K-1, drawn at random (kept-row lists for compacted ops). */
export function pickRows(K: number, count: number, rand: () => number): number[] {
  return Array.from(permutation(K, rand).subarray(0, count)).sort((a, b) => a - b);
}

export function randInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** A graph of one node whose inputs are all graph inputs (or initializers, when `constant`). */
export function oneNodeGraph(op: string, inputs: readonly Tensor[], attrs: RawAttrs = {}, outputs = 1, constant: readonly boolean[] = []): Graph {
  const names = inputs.map((_, i) => `in${i}`);
  return {
    inputs: inputs.flatMap((t, i) => (constant[i] ? [] : [{ name: names[i], shape: t.shape }])),
    outputs: Array.from({ length: outputs }, (_, i) => `out${i}`),
    nodes: [{ name: `${op.toLowerCase()}0`, op, inputs: names, outputs: Array.from({ length: outputs }, (_, i) => `out${i}`), attrs }],
    initializers: new Map(inputs.flatMap((t, i) => (constant[i] ? [[names[i], t] as const] : []))),
  };
}

/** Run one node on the CPU reference and, when a GPU is given, on WebGPU too. */
export async function runBoth(gpu: Gpu | null, op: string, inputs: readonly Tensor[], attrs: RawAttrs = {}, outputs = 1) {
  const graph = oneNodeGraph(op, inputs, attrs, outputs);
  const feeds = Object.fromEntries(inputs.map((t, i) => [`in${i}`, t]));
  const names = graph.outputs;
  const cpu = await new CpuSession(graph).run(feeds);
  let webgpu: Record<string, Tensor> | undefined;
  if (gpu) {
    const s = new GpuSession(gpu, graph);
    try {
      webgpu = await s.run(feeds);
    } finally {
      s.dispose();
    }
  }
  return { cpu: names.map((n) => cpu[n]), gpu: webgpu && names.map((n) => webgpu![n]) };
}

/** Assert |a - b| <= atol + rtol·|b| everywhere (NaN only where both are NaN), naming the first miss. */
export function assertClose(actual: Tensor, expected: Tensor, tol: { atol?: number; rtol?: number } = {}, what = ''): void {
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-4;
  assert.deepEqual([...actual.shape], [...expected.shape], `${what} shape`);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.size; i++) {
    const a = actual.data[i];
    const e = expected.data[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue; // equal infinities
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      worstAt = i;
    }
  }
  if (worstAt >= 0) {
    assert.fail(
      `${what} mismatch at flat index ${worstAt}: got ${actual.data[worstAt]}, expected ${expected.data[worstAt]} ` +
        `(atol ${atol}, rtol ${rtol}, shape [${expected.shape.join(', ')}])`,
    );
  }
}

/**
 * Run one op on WebGPU under a given KernelContext, without a session: for kernels with variants
 * that this adapter would not pick (e.g. the GEMM's workgroup staging on a software adapter).
 */
export async function runGpuWith(gpu: Gpu, op: string, inputs: readonly Tensor[], attrs: RawAttrs, ctx: KernelContext): Promise<Tensor[]> {
  const def = getOp(op);
  const shapes = inputs.map((t) => t.shape);
  const at = def.attrs(attrs, shapes);
  const outShapes = def.shape(shapes, at);
  const dispatches = def.gpu(shapes, outShapes, at, ctx);
  if (dispatches === 'view') return def.cpu(inputs, at);
  const ins = inputs.map((t) => gpu.upload(t.data));
  const outs = outShapes.map((s) => gpu.buffer(sizeOf(s) * 4));
  const consts: GPUBuffer[] = [];
  const steps = dispatches.map((d) => {
    const bufs = d.bindings.map((b) => ('input' in b ? ins[b.input] : 'output' in b ? outs[b.output] : consts[consts.push(gpu.upload(b.constant)) - 1]));
    return { ...gpu.prepare(d.wgsl, bufs), workgroups: d.workgroups };
  });
  try {
    const { data } = await gpu.execute(steps, outs.map((b, i) => ({ buffer: b, bytes: sizeOf(outShapes[i]) * 4 })));
    return data.map((d, i) => new Tensor(outShapes[i], d));
  } finally {
    for (const b of [...ins, ...outs, ...consts]) gpu.release(b);
  }
}
