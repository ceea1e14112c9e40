import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';
import { checkOp, distinct } from './check.js';

const gpu = await testGpu();

// [input shape, attrs]: strides, pads, ceil_mode (with windows reaching past the end pad),
// dilations, overlapping windows, auto_pad, odd sizes.
const WINDOWS: [Shape, RawAttrs][] = [
  [[2, 3, 7, 9], { kernel_shape: [2, 2], strides: [2, 2] }],
  [[1, 2, 7, 9], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }],
  [[1, 2, 7, 8], { kernel_shape: [3, 2], strides: [2, 3], pads: [1, 0, 0, 1], ceil_mode: 1 }],
  [[1, 2, 7, 9], { kernel_shape: [2, 3], strides: [2, 2], ceil_mode: 1 }],
  [[1, 2, 8, 7], { kernel_shape: [2, 2], dilations: [2, 3], strides: [1, 2] }],
  [[1, 2, 7, 9], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }],
  [[1, 2, 6, 5], { kernel_shape: [2, 3], strides: [1, 2], auto_pad: 'SAME_LOWER' }],
  [[1, 2, 5, 7], { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'VALID', ceil_mode: 1 }],
];

test('MaxPool: gradient goes to each window\'s maximum, for every window shape', async () => {
  const r = rng(31);
  for (const [shape, attrs] of WINDOWS) {
    // Distinct values 0.05 apart: the ±0.01 finite-difference steps never change an argmax.
    await checkOp(gpu, 'MaxPool', [distinct(shape, r)], attrs, { samples: 40 });
  }
});

test('AveragePool: gradient spread over each window, with and without the padding counted', async () => {
  const r = rng(32);
  for (const [shape, attrs] of WINDOWS) {
    for (const count_include_pad of [0, 1]) {
      await checkOp(gpu, 'AveragePool', [randomTensor(shape, r)], { ...attrs, count_include_pad }, { samples: 30 });
    }
  }
});

test('GlobalAveragePool and GlobalMaxPool: rank 4 and rank 3', async () => {
  const r = rng(33);
  for (const shape of [[2, 3, 5, 7], [3, 2, 11]]) {
    await checkOp(gpu, 'GlobalAveragePool', [randomTensor(shape, r)], {}, { samples: 20 });
    await checkOp(gpu, 'GlobalMaxPool', [distinct(shape, r)], {}, { samples: 20 });
  }
});

test('MaxPoolGrad: ties go to the first maximum in window order; overlapping windows add up', async () => {
  // One 3x3 plane, 2x2 windows with stride 1: four overlapping windows.
  const x = new Tensor([1, 1, 3, 3], [1, 5, 5, 5, 5, 0, 2, 0, 5]);
  const gy = new Tensor([1, 1, 2, 2], [1, 10, 100, 1000]);
  const { cpu, gpu: g } = await runBoth(gpu, 'MaxPoolGrad', [x, gy], { kernel_shape: [2, 2] });
  //   1 5 5     windows, taps in row-major order:
  //   5 5 0     (0,0): 1 5 / 5 5 -> (0,1)    (0,1): 5 5 / 5 0 -> (0,1)
  //   2 0 5     (1,0): 5 5 / 2 0 -> (1,0)    (1,1): 5 0 / 0 5 -> (1,1)
  assert.deepEqual([...cpu[0].data], [0, 11, 0, 100, 1000, 0, 0, 0, 0]);
  if (g) assertClose(g[0], cpu[0], { atol: 0, rtol: 0 }, 'MaxPoolGrad ties on WebGPU');
  // All equal, with padding: padding never wins, the first real tap does.
  const flat = new Tensor([1, 1, 2, 2], [-1, -1, -1, -1]);
  const out = await runBoth(gpu, 'MaxPoolGrad', [flat, new Tensor([1, 1, 1, 1], [3])], { kernel_shape: [3, 3], pads: [1, 1, 0, 0] });
  assert.deepEqual([...out.cpu[0].data], [3, 0, 0, 0]);
  if (out.gpu) assertClose(out.gpu[0], out.cpu[0], { atol: 0, rtol: 0 }, 'MaxPoolGrad padded ties');
});

test('AveragePoolGrad: known shares with and without counting the padding', async () => {
  const x = new Tensor([1, 1, 2, 2], [0, 0, 0, 0]);
  // 2x2 windows, stride 2, one pad on every side: 2x2 windows over a 4x4 padded plane, each
  // holding one real tap.
  const gy = new Tensor([1, 1, 2, 2], [4, 8, 12, 16]);
  const run = async (count_include_pad: number) => {
    const { cpu, gpu: g } = await runBoth(gpu, 'AveragePoolGrad', [x, gy], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad });
    if (g) assertClose(g[0], cpu[0], { atol: 0, rtol: 0 }, 'AveragePoolGrad on WebGPU');
    return [...cpu[0].data];
  };
  assert.deepEqual(await run(0), [4, 8, 12, 16]);
  assert.deepEqual(await run(1), [1, 2, 3, 4]);
});

test('GlobalMaxPoolGrad: known values with ties', async () => {
  const x = new Tensor([1, 2, 4], [3, 7, 7, 1, -2, -2, -5, -2]);
  const { cpu, gpu: g } = await runBoth(gpu, 'GlobalMaxPoolGrad', [x, new Tensor([1, 2, 1], [10, 20])]);
  assert.deepEqual([...cpu[0].data], [0, 10, 0, 0, 20, 0, 0, 0]);
  if (g) assertClose(g[0], cpu[0], { atol: 0, rtol: 0 }, 'GlobalMaxPoolGrad on WebGPU');
});

test('MaxPoolGrad: windows that tile the input (stride = kernel), ties and random values', async () => {
  // 2x2 windows, stride 2, on a 2x4 plane: each element in exactly one window (the tiled kernel).
  const x = new Tensor([1, 1, 2, 4], [3, 3, 0, 1, 3, 2, 1, 1]);
  const { cpu, gpu: g } = await runBoth(gpu, 'MaxPoolGrad', [x, new Tensor([1, 1, 1, 2], [7, 9])], { kernel_shape: [2, 2], strides: [2, 2] });
  assert.deepEqual([...cpu[0].data], [7, 0, 0, 9, 0, 0, 0, 0]); // first max in row-major order wins
  if (g) assertClose(g[0], cpu[0], { atol: 0, rtol: 0 }, 'tiled MaxPoolGrad ties on WebGPU');
  if (!gpu) return;
  const r = rng(35);
  for (const [shape, k] of [[[3, 5, 14, 12], [2, 2]], [[2, 3, 9, 10], [3, 2]]] as const) {
    const x = randomTensor([...shape], r);
    const attrs = { kernel_shape: [...k], strides: [...k] };
    const gy = randomTensor((await runBoth(null, 'MaxPool', [x], attrs)).cpu[0].shape, r);
    const m = await runBoth(gpu, 'MaxPoolGrad', [x, gy], attrs);
    assertClose(m.gpu![0], m.cpu[0], { atol: 0, rtol: 0 }, `tiled MaxPoolGrad ${JSON.stringify(shape)} ${JSON.stringify(k)}`);
  }
});

test('pool gradient ops: WebGPU matches the CPU on larger odd shapes', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(34);
  for (const [shape, attrs] of WINDOWS) {
    const big = [shape[0] + 1, shape[1] + 2, shape[2] * 2 + 1, shape[3] * 2 + 3];
    const x = randomTensor(big, r);
    const out = (await runBoth(null, 'MaxPool', [x], attrs)).cpu[0];
    const gy = randomTensor(out.shape, r);
    const m = await runBoth(gpu, 'MaxPoolGrad', [x, gy], attrs);
    assertClose(m.gpu![0], m.cpu[0], { atol: 1e-5, rtol: 1e-5 }, `MaxPoolGrad ${JSON.stringify(attrs)}`);
    for (const count_include_pad of [0, 1]) {
      const a = await runBoth(gpu, 'AveragePoolGrad', [x, gy], { ...attrs, count_include_pad });
      assertClose(a.gpu![0], a.cpu[0], { atol: 1e-6, rtol: 1e-5 }, `AveragePoolGrad ${JSON.stringify(attrs)} ${count_include_pad}`);
    }
  }
  const x = randomTensor([3, 5, 13, 11], r);
  const g = await runBoth(gpu, 'GlobalMaxPoolGrad', [x, randomTensor([3, 5, 1, 1], r)]);
  assertClose(g.gpu![0], g.cpu[0], { atol: 0, rtol: 0 }, 'GlobalMaxPoolGrad');
});

test('pool gradient ops refuse a gradient that is not the pool\'s output shape', async () => {
  const r = rng(35);
  const x = randomTensor([1, 2, 5, 5], r);
  await assert.rejects(runBoth(null, 'MaxPoolGrad', [x, randomTensor([1, 2, 3, 3], r)], { kernel_shape: [2, 2], strides: [2, 2] }), /gradient of shape \[1, 2, 3, 3\] does not match the pool's output \[1, 2, 2, 2\]/);
  await assert.rejects(runBoth(null, 'AveragePoolGrad', [x, randomTensor([1, 2, 4], r)], { kernel_shape: [2, 2] }), /gradient of shape \[1, 2, 4\] does not match/);
  await assert.rejects(runBoth(null, 'GlobalMaxPoolGrad', [x, randomTensor([1, 2], r)]), /gradient of shape \[1, 2\] does not match the pool's output \[1, 2, 1, 1\]/);
});
