// Fused epilogue chains (ops/epilogue.ts) in Conv's kernels (GEMM with both stagings, pointwise,
// depthwise, compacted) and in the binary ops: WebGPU against the CPU reference on random odd
// shapes, and the CPU reference against the same ops run one node at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EpilogueStep, RawAttrs } from '../../src/ops/op.js';
import { getOp } from '../../src/ops/registry.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randInt, randomTensor, rng, runBoth, runGpuWith, testGpu } from '../helpers.js';

const gpu = await testGpu();
const TOL = { atol: 1e-5, rtol: 1e-4 };

/** Run one op's CPU reference. */
function cpu(op: string, inputs: readonly Tensor[], attrs: RawAttrs = {}): Tensor {
  const def = getOp(op);
  return def.cpu(inputs, def.attrs(attrs, inputs.map((t) => t.shape)))[0];
}

/**
 * A random chain over an output of shape `out` (channels along dim 1) whose operands become the
 * node's inputs from `first` on: returns the steps and the operand tensors.
 */
function randomChain(r: () => number, out: Shape, first: number): { steps: EpilogueStep[]; operands: Tensor[] } {
  const steps: EpilogueStep[] = [];
  const operands: Tensor[] = [];
  const unary: EpilogueStep[] = [{ op: 'Relu' }, { op: 'HardSwish' }, { op: 'Sigmoid' }, { op: 'LeakyRelu', attrs: { alpha: 0.2 } }, { op: 'Clip', attrs: { min: -1, max: 1.5 } }, { op: 'Tanh' }];
  const len = randInt(r, 2, 6);
  for (let i = 0; i < len; i++) {
    const kind = randInt(r, 0, 5);
    const op = ['Add', 'Sub', 'Mul', 'Div'][randInt(r, 0, 3)];
    const swap = r() < 0.3 && op !== 'Div' ? { swap: true } : {};
    if (kind <= 1) steps.push(unary[randInt(r, 0, unary.length - 1)]);
    else if (kind === 2) steps.push({ op, scalar: op === 'Div' ? 1.5 + r() : 2 * r() - 1, ...swap });
    else if (kind === 3) {
      operands.push(op === 'Div' ? randomTensor([out[1]], r, 0.5, 2) : randomTensor([out[1]], r));
      steps.push({ op, input: first + operands.length - 1, per: 'channel', ...swap });
    } else if (kind === 4) {
      operands.push(op === 'Div' ? randomTensor(out, r, 0.5, 2) : randomTensor(out, r));
      steps.push({ op, input: first + operands.length - 1, per: 'element', ...swap });
    } else steps.push({ op: 'Mul', value: randInt(r, 0, steps.length) }); // x · f(x), e.g. x · sigmoid(x)
    if (operands.length === 4) break;
  }
  return { steps, operands };
}

/** The chain applied by hand, one op at a time with the ops' own CPU references. */
function chainByOps(y: Tensor, steps: readonly EpilogueStep[], inputs: readonly Tensor[]): Tensor {
  const values = [y];
  const C = y.shape[1];
  for (const s of steps) {
    const v = values[values.length - 1];
    let next: Tensor;
    if (s.scalar === undefined && s.input === undefined && s.value === undefined) next = cpu(s.op, [v], s.attrs ?? {});
    else {
      const o =
        s.scalar !== undefined
          ? new Tensor([], [s.scalar])
          : s.value !== undefined
            ? values[s.value]
            : s.per === 'channel'
              ? new Tensor([C, ...Array(y.rank - 2).fill(1)], inputs[s.input!].data)
              : inputs[s.input!];
      next = cpu(s.op, s.swap ? [o, v] : [v, o]);
    }
    values.push(next);
  }
  return values[values.length - 1];
}

async function checkConv(seed: number, shape: { N: number; C: number; H: number; W: number; M: number; K: number; group: number; pads: number; stride: number }, extra: RawAttrs = {}) {
  const r = rng(seed);
  const { N, C, H, W, M, K, group, pads, stride } = shape;
  const x = randomTensor([N, C, H, W], r);
  const w = randomTensor([M, C / group, K, K], r);
  const b = randomTensor([M], r);
  const attrs: RawAttrs = { group, pads: [pads, pads, pads, pads], strides: [stride, stride], ...extra };
  const plain = cpu('Conv', [x, w, b], attrs);
  const { steps, operands } = randomChain(r, plain.shape, 3);
  const inputs = [x, w, b, ...operands];
  const fused = { ...attrs, epilogue: steps };
  const what = `seed ${seed} [${N},${C},${H},${W}] M ${M} k ${K} group ${group} chain ${JSON.stringify(steps)}`;
  const res = await runBoth(gpu, 'Conv', inputs, fused);
  assertClose(res.cpu[0], chainByOps(plain, steps, inputs), TOL, `${what} cpu vs ops`);
  if (res.gpu) assertClose(res.gpu[0], res.cpu[0], TOL, `${what} webgpu`);
  if (gpu && group === 1) {
    const [wg] = await runGpuWith(gpu, 'Conv', inputs, fused, { ...gpu.kernelContext, softwareAdapter: false });
    assertClose(wg, res.cpu[0], TOL, `${what} webgpu, workgroup staging`);
  }
}

test('Conv with a random epilogue chain: implicit GEMM (windowed and pointwise), batch 1 and 2, odd sizes', async () => {
  for (let seed = 1; seed <= 8; seed++) {
    const r = rng(100 + seed);
    const pointwise = seed % 2 === 0;
    await checkConv(seed, {
      N: randInt(r, 1, 2),
      C: randInt(r, 1, 7),
      H: randInt(r, 3, 9),
      W: randInt(r, 3, 9),
      M: randInt(r, 1, 9),
      K: pointwise ? 1 : 3,
      group: 1,
      pads: pointwise ? 0 : randInt(r, 0, 1),
      stride: pointwise ? 1 : randInt(r, 1, 2),
    });
  }
});

test('Conv with a random epilogue chain: depthwise and grouped', async () => {
  for (let seed = 11; seed <= 16; seed++) {
    const r = rng(200 + seed);
    const depthwise = seed % 2 === 1;
    const C = depthwise ? randInt(r, 1, 6) : 2 * randInt(r, 1, 3);
    await checkConv(seed, { N: randInt(r, 1, 2), C, H: randInt(r, 3, 9), W: randInt(r, 3, 11), M: depthwise ? C : 2 * randInt(r, 1, 3), K: 3, group: depthwise ? C : 2, pads: 1, stride: randInt(r, 1, 2) });
  }
});

test('a compacted Conv (kept_rows) carries the same chain', async () => {
  const r = rng(31);
  const [N, C, H, W, M] = [1, 3, 7, 5, 5];
  const kept = [0, 2, 5, 9, 13, 20, 26];
  const x = randomTensor([N, C, H, W], r);
  const w = randomTensor([M, kept.length], r);
  const b = randomTensor([M], r);
  const attrs: RawAttrs = { kernel_shape: [3, 3], pads: [1, 1, 1, 1], kept_rows: kept };
  const plain = cpu('Conv', [x, w, b], attrs);
  const { steps, operands } = randomChain(r, plain.shape, 3);
  const inputs = [x, w, b, ...operands];
  const res = await runBoth(gpu, 'Conv', inputs, { ...attrs, epilogue: steps });
  assertClose(res.cpu[0], chainByOps(plain, steps, inputs), TOL, 'cpu vs ops');
  if (res.gpu) assertClose(res.gpu[0], res.cpu[0], TOL, 'webgpu');
});

test('binary ops head a standalone chain (broadcast head, per-channel and per-element operands)', async () => {
  for (let seed = 41; seed <= 46; seed++) {
    const r = rng(seed);
    const out = [randInt(r, 1, 2), randInt(r, 1, 5), randInt(r, 1, 6), randInt(r, 1, 7)];
    const a = randomTensor(out, r);
    const bShape = seed % 2 ? [1, out[1], 1, 1] : out;
    const b = randomTensor(bShape, r, 0.5, 2);
    const op = ['Add', 'Sub', 'Mul', 'Div'][seed % 4];
    const plain = cpu(op, [a, b]);
    const { steps, operands } = randomChain(r, plain.shape, 2);
    const inputs = [a, b, ...operands];
    const res = await runBoth(gpu, op, inputs, { epilogue: steps });
    const what = `${op} ${JSON.stringify(steps)}`;
    assertClose(res.cpu[0], chainByOps(plain, steps, inputs), TOL, `${what} cpu vs ops`);
    if (res.gpu) assertClose(res.gpu[0], res.cpu[0], TOL, `${what} webgpu`);
  }
});

test('malformed chains are refused with what is wrong', async () => {
  const x = new Tensor([1, 2, 3, 3], new Float32Array(18));
  const w = new Tensor([2, 2, 1, 1], new Float32Array(4));
  const b = new Tensor([2], new Float32Array(2));
  await assert.rejects(runBoth(null, 'Conv', [x, w, b], { epilogue: [{ op: 'Concat' }] }), /not an elementwise op a chain can apply/);
  await assert.rejects(runBoth(null, 'Conv', [x, w, b], { epilogue: [{ op: 'Add' }] }), /exactly one of scalar, input, value/);
  await assert.rejects(runBoth(null, 'Conv', [x, w, b, new Tensor([3], [1, 2, 3])], { epilogue: [{ op: 'Add', input: 3, per: 'channel' }] }), /has 3 values, a channel operand needs 2/);
  await assert.rejects(runBoth(null, 'Conv', [x, w, b, b]), /input 3 is read by no step/);
  await assert.rejects(runBoth(null, 'Conv', [x, w, b], { epilogue: [{ op: 'Mul', value: 1 }] }), /not an earlier chain value/);
});

test('a pointwise Conv with an input scale (the squeeze-excite prologue) matches the Mul then the Conv, with a chain, batch 1 and 2, vec4 and odd planes', async () => {
  for (const [seed, N, H, W] of [
    [51, 1, 4, 6],
    [52, 2, 3, 5],
    [53, 2, 4, 4],
    [54, 1, 3, 3],
  ]) {
    const r = rng(seed);
    const [C, M] = [randInt(r, 2, 7), randInt(r, 1, 9)];
    const x = randomTensor([N, C, H, W], r);
    const gate = randomTensor([N, C, 1, 1], r, 0, 1);
    const w = randomTensor([M, C, 1, 1], r);
    const b = randomTensor([M], r);
    const plain = cpu('Conv', [cpu('Mul', [x, gate]), w, b]);
    const { steps, operands } = randomChain(r, plain.shape, 3);
    const inputs = [x, w, b, ...operands, gate];
    const attrs = { epilogue: steps, input_scale: inputs.length - 1 };
    const res = await runBoth(gpu, 'Conv', inputs, attrs);
    const what = `seed ${seed} [${N},${C},${H},${W}] M ${M}`;
    assertClose(res.cpu[0], chainByOps(plain, steps, inputs), TOL, `${what} cpu vs ops`);
    if (res.gpu) assertClose(res.gpu[0], res.cpu[0], TOL, `${what} webgpu`);
    if (gpu) {
      const [wg] = await runGpuWith(gpu, 'Conv', inputs, attrs, { ...gpu.kernelContext, softwareAdapter: false });
      assertClose(wg, res.cpu[0], TOL, `${what} webgpu, workgroup staging`);
    }
  }
  const r = rng(55);
  await assert.rejects(runBoth(null, 'Conv', [randomTensor([1, 2, 3, 3], r), randomTensor([2, 2, 3, 3], r), randomTensor([2], r), randomTensor([1, 2, 1, 1], r)], { input_scale: 3 }), /needs a pointwise/);
});
