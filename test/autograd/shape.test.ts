// Gradients of the ops that move, select or reduce data: Flatten/Reshape/Squeeze/Unsqueeze,
// Transpose, Concat, Slice (+ SliceGrad), Split, Softmax, ReduceSum/ReduceMean.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';
import { checkOp } from './check.js';

const gpu = await testGpu();

test('Flatten, Reshape, Squeeze, Unsqueeze: the gradient is reshaped back', async () => {
  const r = rng(21);
  const cases: [string, Shape, RawAttrs][] = [
    ['Flatten', [2, 3, 5], {}],
    ['Flatten', [2, 3, 5], { axis: 0 }],
    ['Flatten', [2, 3, 5], { axis: -1 }],
    ['Reshape', [2, 3, 5], { shape: [5, -1] }],
    ['Reshape', [2, 3, 5], { shape: [0, 15] }],
    ['Squeeze', [3, 1, 5, 1], {}],
    ['Squeeze', [3, 1, 5, 1], { axes: [-1] }],
    ['Unsqueeze', [3, 5], { axes: [0, 3] }],
  ];
  for (const [op, shape, attrs] of cases) await checkOp(gpu, op, [randomTensor(shape, r)], attrs);
});

test('Transpose: the inverse permutation', async () => {
  const r = rng(22);
  for (const perm of [undefined, [0, 2, 3, 1], [2, 0, 3, 1], [3, 1, 0, 2]]) {
    await checkOp(gpu, 'Transpose', [randomTensor([2, 3, 5, 7], r)], perm ? { perm } : {}, { samples: 15 });
  }
});

test('Concat: each input gets its slice of the gradient, on every axis', async () => {
  const r = rng(23);
  await checkOp(gpu, 'Concat', [randomTensor([2, 3, 5], r), randomTensor([2, 1, 5], r), randomTensor([2, 4, 5], r)], { axis: 1 });
  await checkOp(gpu, 'Concat', [randomTensor([3, 2], r), randomTensor([1, 2], r)], { axis: 0 });
  await checkOp(gpu, 'Concat', [randomTensor([2, 3, 5], r), randomTensor([2, 3, 2], r)], { axis: -1 });
  // Only the second input.
  await checkOp(gpu, 'Concat', [randomTensor([2, 3], r), randomTensor([2, 4], r)], { axis: 1 }, { wrt: [1] });
});

// Slice with steps of 1 differentiates through Pad; other steps through SliceGrad.
const SLICES: [Shape, RawAttrs][] = [
  [[5, 7], { starts: [1, 2], ends: [4, 6] }],
  [[5, 7], { starts: [-3], ends: [100], axes: [1] }],
  [[2, 5, 7], { starts: [0, 1], ends: [1, 7], axes: [0, 2] }],
  [[5, 7], { starts: [0, 1], ends: [5, 7], steps: [2, 3] }],
  [[5, 7], { starts: [4, 6], ends: [-100, 0], steps: [-1, -2] }], // backwards
  [[3, 7, 5], { starts: [5, 1], ends: [0, 5], axes: [1, 2], steps: [-2, 1] }],
  [[5, 7], { starts: [2], ends: [2], axes: [0] }], // empty: every gradient is zero
];

test('Slice: gradient through Pad (unit steps) and SliceGrad (strided, backwards)', async () => {
  const r = rng(24);
  for (const [shape, attrs] of SLICES) await checkOp(gpu, 'Slice', [randomTensor(shape, r)], attrs, { samples: 35 });
});

test('SliceGrad: known values, WebGPU against the CPU, and bad attributes', async () => {
  const gy = new Tensor([2, 2], [1, 2, 3, 4]);
  const { cpu, gpu: g } = await runBoth(gpu, 'SliceGrad', [gy], { shape: [3, 5], starts: [2, 1], steps: [-2, 3] });
  // gy[i][j] came from x[2 - 2i][1 + 3j].
  assert.deepEqual([...cpu[0].data], [0, 3, 0, 0, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2]);
  if (g) assertClose(g[0], cpu[0], { atol: 0, rtol: 0 }, 'SliceGrad');
  if (gpu) {
    const r = rng(25);
    const big = randomTensor([3, 6, 9], r);
    const out = await runBoth(gpu, 'SliceGrad', [big], { shape: [7, 11, 19], starts: [6, 0, 1], steps: [-2, 2, 2] });
    assertClose(out.gpu![0], out.cpu[0], { atol: 0, rtol: 0 }, 'SliceGrad big');
  }
  await assert.rejects(runBoth(null, 'SliceGrad', [gy], { shape: [3, 5], starts: [2, 1], steps: [2, 3] }), /axis 0: 2 elements from 2 by 2 do not fit in length 3/);
  await assert.rejects(runBoth(null, 'SliceGrad', [gy], { shape: [3, 5], starts: [0, 0], steps: [1, 0] }), /'steps' is 0 for axis 1/);
  await assert.rejects(runBoth(null, 'SliceGrad', [gy], { shape: [3], starts: [0], steps: [1] }), /must have one rank/);
});

test('Split: gradient is the Concat of the outputs\' gradients, zeros for unused outputs', async () => {
  const r = rng(26);
  // checkGradients weighs output 0 only: outputs 1 and 2 get no gradient and contribute zeros.
  await checkOp(gpu, 'Split', [randomTensor([2, 7, 3], r)], { axis: 1, split: [2, 4, 1] }, { outputs: 3 });
  await checkOp(gpu, 'Split', [randomTensor([5, 4], r)], { axis: 0, num_outputs: 2 }, { outputs: 2 });
});

test('Softmax and LogSoftmax: every axis, and the legacy 2-D rows', async () => {
  const r = rng(27);
  const cases: [Shape, RawAttrs][] = [
    [[7], {}],
    [[3, 5], {}],
    [[2, 3, 5], { axis: 1 }],
    [[2, 3, 5], { axis: 0 }],
    [[2, 3, 5], { legacy_coerce_2d: 1 }],
    [[2, 3, 5], { legacy_coerce_2d: 1, axis: 2 }],
  ];
  for (const [shape, attrs] of cases) await checkOp(gpu, 'Softmax', [randomTensor(shape, r, -3, 3)], attrs, { samples: 15 });
  for (const [shape, attrs] of cases) await checkOp(gpu, 'LogSoftmax', [randomTensor(shape, r, -3, 3)], attrs, { samples: 15 });
});

test('ReduceSum, ReduceMean: gradient broadcast back over the reduced axes', async () => {
  const r = rng(28);
  const cases: RawAttrs[] = [
    {},
    { keepdims: 0 },
    { axes: [1] },
    { axes: [1], keepdims: 0 },
    { axes: [0, 2] },
    { axes: [-1, 0], keepdims: 0 },
    { axes: [], noop_with_empty_axes: 1 }, // the identity
  ];
  for (const op of ['ReduceSum', 'ReduceMean']) {
    for (const attrs of cases) await checkOp(gpu, op, [randomTensor([3, 5, 2], r)], attrs, { samples: 15 });
    // Reducing axes of length 1 only: a reshape.
    await checkOp(gpu, op, [randomTensor([3, 1, 5], r)], { axes: [1], keepdims: 0 });
  }
});
