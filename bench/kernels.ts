// Kernel benchmark: our GEMM and Conv kernels beside the same ops through tfjs-backend-webgpu, on
// the same adapter, in one run. Usage: npm run bench:kernels [-- --rounds 5 --only conv]
//
// Fairness: both sides get their inputs resident on the GPU, run the op `iters` times back to
// back and read the last result back once; we time wall clock around that. Ours records the
// `iters` dispatches into one submission (as a GpuSession does); tfjs issues them its own way.
// Each case is warmed up (pipelines compiled), then measured in interleaved rounds (ours, tfjs,
// ours, tfjs, ...), and the table shows medians. tfjs runs in its native NHWC layout; we run NCHW.
// The last column is each side's first run (pipeline compilation included); run with
// MESA_SHADER_CACHE_DISABLE=true to see cold compiles on lavapipe.
// Lavapipe numbers are CPU numbers: read them as ratios.

import { Gpu, type Step } from '../src/device/gpu.js';
import type { RawAttrs } from '../src/ops/op.js';
import { getOp } from '../src/ops/registry.js';
import { sizeOf, type Shape } from '../src/tensor.js';
import { tfjsWebgpu } from './peers.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const ROUNDS = Number(opt('rounds', '5'));
const ONLY = new RegExp(opt('only', '.'));
const TARGET_MS = Number(opt('target-ms', '250')); // wall time of one measurement

const gpu = await Gpu.acquire();
if (!gpu) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
// tfjs builds its own device from navigator.gpu (bench/peers.ts holds Dawn's instance).
const tf = await tfjsWebgpu();

interface Case {
  name: string;
  flops: number;
  /** Ours: the op's dispatches over GPU-resident random inputs; returns the output buffer and size. */
  op: string;
  inputs: Shape[];
  attrs: RawAttrs;
  /** The same computation through tfjs (inputs created once). */
  tfjs: () => () => import('@tensorflow/tfjs-core').Tensor;
}

function gemmCase(n: number): Case {
  return {
    name: `GEMM ${n}x${n}x${n}`,
    flops: 2 * n ** 3,
    op: 'MatMul',
    inputs: [[n, n], [n, n]],
    attrs: {},
    tfjs: () => {
      const a = tf.randomUniform([n, n]);
      const b = tf.randomUniform([n, n]);
      return () => tf.matMul(a, b);
    },
  };
}

/** A fully connected layer as ONNX exports it: Gemm with W [out, in] and transB = 1. */
function fcCase(batch: number, inF: number, outF: number): Case {
  return {
    name: `FC ${inF}->${outF}, batch ${batch} (Gemm transB)`,
    flops: 2 * batch * inF * outF,
    op: 'Gemm',
    inputs: [[batch, inF], [outF, inF]],
    attrs: { transB: 1 },
    tfjs: () => {
      const x = tf.randomUniform([batch, inF]);
      const w = tf.randomUniform([outF, inF]);
      return () => tf.matMul(x, w, false, true);
    },
  };
}

function convCase(name: string, c: { n?: number; ci: number; co: number; hw: number; k: number; s: number; p: number; dw?: boolean }): Case {
  const n = c.n ?? 1;
  const group = c.dw ? c.ci : 1;
  const out = Math.floor((c.hw + 2 * c.p - c.k) / c.s) + 1;
  return {
    name,
    flops: 2 * n * c.co * out * out * (c.ci / group) * c.k * c.k,
    op: 'Conv',
    inputs: [[n, c.ci, c.hw, c.hw], [c.co, c.ci / group, c.k, c.k]],
    attrs: { strides: [c.s, c.s], pads: [c.p, c.p, c.p, c.p], group },
    tfjs: () => {
      const x = tf.randomUniform([n, c.hw, c.hw, c.ci]) as import('@tensorflow/tfjs-core').Tensor4D;
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [c.p, c.p], [c.p, c.p], [0, 0]];
      if (c.dw) {
        const w = tf.randomUniform([c.k, c.k, c.ci, 1]) as import('@tensorflow/tfjs-core').Tensor4D;
        return () => tf.depthwiseConv2d(x, w, c.s, c.p === 0 ? 'valid' : pad);
      }
      const w = tf.randomUniform([c.k, c.k, c.ci, c.co]) as import('@tensorflow/tfjs-core').Tensor4D;
      return () => tf.conv2d(x, w, c.s, c.p === 0 ? 'valid' : pad);
    },
  };
}

const CASES: Case[] = [
  gemmCase(256),
  gemmCase(512),
  gemmCase(1024),
  fcCase(1, 1024, 1000),
  fcCase(32, 1024, 1000),
  convCase('conv 3x3 64->64, 56x56 (VGG/ResNet)', { ci: 64, co: 64, hw: 56, k: 3, s: 1, p: 1 }),
  convCase('conv 1x1 256->64, 56x56 (ResNet)', { ci: 256, co: 64, hw: 56, k: 1, s: 1, p: 0 }),
  convCase('conv 3x3 s2 64->128, 56x56 (ResNet)', { ci: 64, co: 128, hw: 56, k: 3, s: 2, p: 1 }),
  convCase('conv 3x3 s2 3->32, 224x224 (first layer)', { ci: 3, co: 32, hw: 224, k: 3, s: 2, p: 1 }),
  convCase('depthwise 3x3 32ch, 112x112 (MobileNet)', { ci: 32, co: 32, hw: 112, k: 3, s: 1, p: 1, dw: true }),
  convCase('depthwise 3x3 s2 64ch, 112x112 (MobileNet)', { ci: 64, co: 64, hw: 112, k: 3, s: 2, p: 1, dw: true }),
  convCase('conv 1x1 32->64, 112x112 (MobileNet)', { ci: 32, co: 64, hw: 112, k: 1, s: 1, p: 0 }),
].filter((c) => ONLY.test(c.name));

/** Our side of a case: a function running it `iters` times and reading the output back. */
function ours(c: Case): (iters: number) => Promise<void> {
  const def = getOp(c.op);
  const at = def.attrs(c.attrs, c.inputs);
  const outShape = def.shape(c.inputs, at)[0];
  const ds = def.gpu(c.inputs, [outShape], at, gpu!.kernelContext);
  if (ds === 'view') throw new Error(`${c.op} is a view`);
  const ins = c.inputs.map((s) => gpu!.upload(Float32Array.from({ length: sizeOf(s) }, () => Math.random() * 2 - 1)));
  const out = gpu!.buffer(sizeOf(outShape) * 4);
  const steps: Step[] = ds.map((d) => ({
    ...gpu!.prepare(
      d.wgsl,
      d.bindings.map((b) => ('input' in b ? ins[b.input] : 'output' in b ? out : gpu!.upload(b.constant))),
    ),
    workgroups: d.workgroups,
  }));
  const read = [{ buffer: out, bytes: sizeOf(outShape) * 4 }];
  return async (iters) => {
    await gpu!.execute(Array.from({ length: iters }, () => steps).flat(), read);
  };
}

function theirs(c: Case): (iters: number) => Promise<void> {
  const f = c.tfjs();
  return async (iters) => {
    let last: import('@tensorflow/tfjs-core').Tensor | undefined;
    for (let i = 0; i < iters; i++) {
      last?.dispose();
      last = f();
    }
    await last!.data();
    last!.dispose();
  };
}

async function msPer(run: (iters: number) => Promise<void>, iters: number): Promise<number> {
  const t0 = performance.now();
  await run(iters);
  return (performance.now() - t0) / iters;
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const gflops = (flops: number, ms: number) => flops / ms / 1e6;

console.log(`adapter: ${gpu.name}`);
console.log(`date: ${new Date().toISOString()}; ${ROUNDS} interleaved rounds, median; ~${TARGET_MS} ms per measurement\n`);
const rows: string[] = [];
for (const c of CASES) {
  const sides = [ours(c), theirs(c)];
  // Warm-up: the first run compiles the pipelines (timed: with Mesa's shader cache off, that is
  // the cold compile); then size the iteration count from one timed run of each side.
  const first: number[] = [];
  const warm = [];
  for (const s of sides) {
    first.push(await msPer(s, 1));
    warm.push(await msPer(s, 1));
  }
  const iters = Math.max(2, Math.round(TARGET_MS / Math.max(...warm)));
  const t: number[][] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < 2; i++) t[i].push(await msPer(sides[i], iters));
  }
  const [us, them] = t.map(median);
  const row =
    `| ${c.name} | ${us.toFixed(2)} | ${gflops(c.flops, us).toFixed(2)} | ${them.toFixed(2)} | ${gflops(c.flops, them).toFixed(2)} | ` +
    `${(them / us).toFixed(2)}x | ${(first[0] / 1000).toFixed(2)} / ${(first[1] / 1000).toFixed(2)} |`;
  rows.push(row);
  console.error(`${row}   (${iters} iters)`);
}
console.log('\n| kernel | deftnn ms | deftnn GFLOP/s | tfjs-webgpu ms | tfjs GFLOP/s | deftnn speed ÷ tfjs | first run s (deftnn / tfjs) |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
process.exit(0);
