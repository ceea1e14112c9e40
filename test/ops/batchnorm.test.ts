import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type Shape } from '../../src/tensor.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { assertClose, oneNodeGraph, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

// f32 on the GPU against f64-then-rounded on the CPU, through a division by sqrt(var + eps).
const TOL = { atol: 1e-5, rtol: 1e-5 };

/** X plus scale, B, mean and a positive variance, all of parameter shape `p`. */
function inputs(x: Shape, p: Shape, r: () => number): Tensor[] {
  return [randomTensor(x, r, -3, 3), randomTensor(p, r, -2, 2), randomTensor(p, r, -1, 1), randomTensor(p, r, -1, 1), randomTensor(p, r, 0.05, 2)];
}

const CASES: [Shape, Shape, RawAttrs][] = [
  [[2, 3], [3], {}], // rank 2 (after a Gemm)
  [[1, 3, 5, 7], [3], {}],
  [[2, 5, 7, 3], [5], { epsilon: 1e-3 }],
  [[3, 13, 11], [13], { epsilon: 0.5, momentum: 0.8 }], // rank 3; momentum is a training attribute, ignored
  [[1, 4, 3, 5, 2], [4], { training_mode: 0 }], // rank 5
  [[1, 3, 17, 19], [3], {}],
  [[2, 3, 5], [3, 5], { spatial: 0 }], // opset < 9 per-element parameters
  [[2, 3, 5], [15], { spatial: 0 }], // ... given flat
];

test('BatchNormalization: WebGPU matches the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(909);
  for (const [x, p, attrs] of CASES) {
    const { cpu, gpu: g } = await runBoth(gpu, 'BatchNormalization', inputs(x, p, r), attrs);
    assertClose(g![0], cpu[0], TOL, `BN ${JSON.stringify(x)} ${JSON.stringify(attrs)}`);
  }
});

test('BatchNormalization with its parameters as initializers runs the same on WebGPU', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const ins = inputs([2, 7, 3, 5], [7], rng(10));
  const graph = oneNodeGraph('BatchNormalization', ins, {}, 1, [false, true, true, true, true]);
  const want = (await new CpuSession(graph).run({ in0: ins[0] })).out0;
  const s = new GpuSession(gpu!, graph);
  try {
    assertClose((await s.run({ in0: ins[0] })).out0, want, TOL, 'BN with initializers');
  } finally {
    s.dispose();
  }
});

test('CPU reference gives known values', async () => {
  // x: [1, 2, 2]; channel 0 has mean 1, var 4; channel 1 mean 3, var 0.25.
  const x = new Tensor([1, 2, 2], [1, 2, 3, 4]);
  const scale = new Tensor([2], [2, 0.5]);
  const b = new Tensor([2], [1, -1]);
  const mean = new Tensor([2], [1, 3]);
  const variance = new Tensor([2], [4, 0.25]);
  const run = async (attrs: RawAttrs, v = variance) => [...(await runBoth(null, 'BatchNormalization', [x, scale, b, mean, v], attrs)).cpu[0].data];
  assert.deepEqual(await run({ epsilon: 0 }), [1, 2, -1, 0]);
  // Default epsilon 1e-5: with zero variance, (x - mean) / sqrt(1e-5).
  const zeroVar = new Tensor([2], [0, 0]);
  assertClose(new Tensor([4], await run({}, zeroVar)), new Tensor([4], [1, 2 / Math.sqrt(1e-5) + 1, -1, 0.5 / Math.sqrt(1e-5) - 1]), { atol: 0, rtol: 1e-6 });
});

test('BatchNormalization refuses a bad training_mode and mismatched parameters', async () => {
  const r = rng(3);
  const ok = inputs([2, 3, 4, 4], [3], r);
  // (training_mode = 1 is supported: see test/autograd/batchnorm.test.ts)
  await assert.rejects(runBoth(null, 'BatchNormalization', ok, { training_mode: 2 }), /'training_mode' must be 0 or 1, got 2/);
  await assert.rejects(runBoth(null, 'BatchNormalization', ok, { spatial: 2 }), /'spatial' must be 0 or 1/);
  await assert.rejects(runBoth(null, 'BatchNormalization', ok, { epsilon: -1 }), /'epsilon' must be >= 0/);
  const badMean = [...ok];
  badMean[3] = randomTensor([4], r);
  await assert.rejects(runBoth(null, 'BatchNormalization', badMean), /input input_mean has shape \[4\], expected \[3\] for X of shape \[2, 3, 4, 4\]/);
  const badScale = [...ok];
  badScale[1] = randomTensor([3, 1, 1], r);
  await assert.rejects(runBoth(null, 'BatchNormalization', badScale), /input scale has shape \[3, 1, 1\], expected \[3\]/);
  await assert.rejects(runBoth(null, 'BatchNormalization', inputs([3], [3], r)), /rank >= 2/);
  await assert.rejects(runBoth(null, 'BatchNormalization', ok.slice(0, 4)), /takes 5 inputs, got 4/);
});
