import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sliceOp } from '../../src/ops/slice.js';
import { DEFAULT_KERNEL_CONTEXT } from '../../src/kernels/context.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();
const INT64_MAX = 9223372036854775807; // as the importer hands it over: the nearest double
const INT64_MIN = -9223372036854775808;
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const exact = { atol: 0, rtol: 0 }; // copies must be bit-exact

const sliceCases: [number[], Record<string, number[]>][] = [
  [[7], { starts: [1], ends: [6] }],
  [[7], { starts: [1], ends: [7], steps: [2] }],
  [[7], { starts: [-3], ends: [INT64_MAX] }],
  [[7], { starts: [-1], ends: [INT64_MIN], steps: [-1] }], // reversed
  [[7], { starts: [100], ends: [-100], steps: [-3] }], // clamped both ends
  [[7], { starts: [5], ends: [2] }], // empty
  [[2, 3, 5, 7], { starts: [1, -5], ends: [3, 100], axes: [1, 3], steps: [1, 2] }],
  [[2, 3, 5, 7], { starts: [-1, 4], ends: [-8, 0], axes: [-1, -2], steps: [-2, -3] }],
  [[2, 3, 5, 7], { starts: [1, 0, 1, 2], ends: [2, 3, 4, 5] }],
  [[1, 3, 17, 19], { starts: [1, 2, 3], ends: [3, 15, 18], axes: [1, 2, 3], steps: [1, 5, 7] }],
  [[1, 3, 17, 19], { starts: [0], ends: [2], axes: [1] }], // a prefix: served as a view
  [[3, 4, 2, 5, 3], { starts: [2, -1, 1], ends: [0, 0, 2], axes: [0, 3, 4], steps: [-1, -2, 1] }],
];

test('Slice: WebGPU matches the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(11);
  for (const [shape, attrs] of sliceCases) {
    const x = randomTensor(shape, r);
    const { cpu, gpu: g } = await runBoth(gpu, 'Slice', [x], attrs);
    assertClose(g![0], cpu[0], exact, `Slice ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

test('Slice of a leading block is a free view; anything else is a kernel', () => {
  const attrs = sliceOp.attrs({ starts: [0], ends: [2], axes: [1] }, [[1, 3, 17, 19]]);
  assert.equal(sliceOp.gpu([[1, 3, 17, 19]], sliceOp.shape([[1, 3, 17, 19]], attrs), attrs, DEFAULT_KERNEL_CONTEXT), 'view');
  const other = sliceOp.attrs({ starts: [1], ends: [3], axes: [1] }, [[1, 3, 17, 19]]);
  assert.notEqual(sliceOp.gpu([[1, 3, 17, 19]], sliceOp.shape([[1, 3, 17, 19]], other), other, DEFAULT_KERNEL_CONTEXT), 'view');
});

test('Slice CPU reference gives known values (ONNX examples, negative steps, INT64 ends)', async () => {
  const slice = async (x: Tensor, attrs: Record<string, number[]>) => (await runBoth(null, 'Slice', [x], attrs)).cpu[0];
  const x = new Tensor([2, 4], [1, 2, 3, 4, 5, 6, 7, 8]);
  let y = await slice(x, { axes: [0, 1], starts: [1, 0], ends: [2, 3], steps: [1, 2] });
  assert.deepEqual([y.shape, [...y.data]], [[1, 2], [5, 7]]);
  y = await slice(x, { starts: [0, 1], ends: [-1, 1000] });
  assert.deepEqual([y.shape, [...y.data]], [[1, 3], [2, 3, 4]]);
  const v = new Tensor([10], iota(10));
  assert.deepEqual([...(await slice(v, { starts: [8], ends: [1], steps: [-3] })).data], [8, 5, 2]);
  assert.deepEqual([...(await slice(v, { starts: [-1], ends: [INT64_MIN], steps: [-1] })).data], iota(10).reverse());
  assert.deepEqual([...(await slice(v, { starts: [20], ends: [0], steps: [-4] })).data], [9, 5, 1]);
  assert.deepEqual([...(await slice(v, { starts: [-4], ends: [INT64_MAX], steps: [3] })).data], [6, 9]);
  assert.deepEqual((await slice(v, { starts: [3], ends: [3] })).shape, [0]);
  assert.deepEqual((await slice(v, { starts: [2], ends: [5], steps: [-1] })).shape, [0]);
});

test('Slice refuses bad attributes', async () => {
  const x = new Tensor([2, 3], iota(6));
  const bad = (attrs: Record<string, unknown>, re: RegExp) => assert.rejects(runBoth(null, 'Slice', [x], attrs as never), re);
  await bad({ ends: [1] }, /attribute 'starts' is required/);
  await bad({ starts: [0, 0], ends: [1] }, /must have equal lengths, got 2, 1, 2, 2/);
  await bad({ starts: [0], ends: [1], steps: [0] }, /'steps' is 0 for axis 0/);
  await bad({ starts: [0], ends: [1], axes: [2] }, /'axes' has 2, out of range for rank 2/);
  await bad({ starts: [0, 0], ends: [1, 1], axes: [1, -1] }, /'axes' repeats an axis/);
});

// ---- Gather ----

const gatherCases: [number[], Record<string, unknown>][] = [
  [[7], { indices: [3, -1, 0, 3] }],
  [[2, 3, 5, 7], { axis: 0, indices: [1, 0, -2], indicesShape: [3] }],
  [[2, 3, 5, 7], { axis: 1, indices: [2, 0, 1, 1, -3, 2], indicesShape: [2, 3] }],
  [[2, 3, 5, 7], { axis: -1, indices: [6], indicesShape: [] }], // scalar: drops the axis
  [[2, 3, 5, 7], { axis: 2, indices: [4, 4, 0, 1, 3, 2, 1, 0], indicesShape: [2, 2, 2] }],
  [[1, 3, 17, 19], { axis: 3, indices: [18, 0, 17, 5, 7], indicesShape: [5, 1] }],
  [[3, 5], { axis: 1, indices: [], indicesShape: [0] }], // empty result
];

test('Gather: WebGPU matches the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(12);
  for (const [shape, attrs] of gatherCases) {
    const x = randomTensor(shape, r);
    const { cpu, gpu: g } = await runBoth(gpu, 'Gather', [x], attrs as never);
    assertClose(g![0], cpu[0], exact, `Gather ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

test('Gather CPU reference gives known values (ONNX examples)', async () => {
  const gather = async (x: Tensor, attrs: Record<string, unknown>) => (await runBoth(null, 'Gather', [x], attrs as never)).cpu[0];
  const f = (a: number[]) => a.map(Math.fround);
  let y = await gather(new Tensor([3, 2], [1.0, 1.2, 2.3, 3.4, 4.5, 5.7]), { axis: 0, indices: [0, 1, 1, 2], indicesShape: [2, 2] });
  assert.deepEqual([y.shape, [...y.data]], [[2, 2, 2], f([1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7])]);
  const d = new Tensor([3, 3], [1.0, 1.2, 1.9, 2.3, 3.4, 3.9, 4.5, 5.7, 5.9]);
  y = await gather(d, { axis: 1, indices: [0, 2], indicesShape: [1, 2] });
  assert.deepEqual([y.shape, [...y.data]], [[3, 1, 2], f([1.0, 1.9, 2.3, 3.9, 4.5, 5.9])]);
  y = await gather(d, { axis: 0, indices: [-1], indicesShape: [] });
  assert.deepEqual([y.shape, [...y.data]], [[3], f([4.5, 5.7, 5.9])]);
  y = await gather(d, { axis: -1, indices: [-3, 1] });
  assert.deepEqual([y.shape, [...y.data]], [[3, 2], f([1.0, 1.2, 2.3, 3.4, 4.5, 5.7])]);
});

test('Gather refuses bad attributes', async () => {
  const x = new Tensor([2, 3], iota(6));
  const bad = (attrs: Record<string, unknown>, re: RegExp) => assert.rejects(runBoth(null, 'Gather', [x], attrs as never), re);
  await bad({}, /attribute 'indices' is required/);
  await bad({ indices: [3], axis: 1 }, /'indices' has 3, out of range for axis 1 of length 3/);
  await bad({ indices: [-3] }, /'indices' has -3, out of range for axis 0 of length 2/);
  await bad({ indices: [0, 1, 1], indicesShape: [2, 2] }, /'indicesShape' \[2, 2\] does not hold the 3 values/);
  await bad({ indices: [0], axis: -3 }, /'axis' has -3, out of range for rank 2/);
  await bad({ indices: [0.5] }, /'indices' must be a list of integers/);
});

// ---- Split ----

const splitCases: [number[], Record<string, unknown>, number][] = [
  [[7], { split: [3, 4] }, 2],
  [[7], { num_outputs: 3 }, 3], // 3, 3, 1
  [[2, 3, 5, 7], { axis: 1, split: [1, 0, 2] }, 3], // a zero-size piece
  [[2, 3, 5, 7], { axis: -1, num_outputs: 7 }, 7],
  [[2, 3, 5, 7], { axis: 2, split: [2, 3] }, 2],
  [[1, 3, 17, 19], { axis: 3, num_outputs: 4 }, 4], // 5, 5, 5, 4
  [[1, 3, 17, 19], { axis: 1, split: [1, 1, 1] }, 3],
];

test('Split: WebGPU matches the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(13);
  for (const [shape, attrs, n] of splitCases) {
    const x = randomTensor(shape, r);
    const { cpu, gpu: g } = await runBoth(gpu, 'Split', [x], attrs as never, n);
    for (let k = 0; k < n; k++) assertClose(g![k], cpu[k], exact, `Split ${JSON.stringify(shape)} ${JSON.stringify(attrs)} output ${k}`);
  }
});

test('Split CPU reference gives known values', async () => {
  const split = async (x: Tensor, attrs: Record<string, unknown>, n: number) =>
    (await runBoth(null, 'Split', [x], attrs as never, n)).cpu.map((t) => [t.shape, [...t.data]]);
  const v = new Tensor([7], iota(7));
  assert.deepEqual(await split(v, { split: [2, 5] }, 2), [
    [[2], [0, 1]],
    [[5], [2, 3, 4, 5, 6]],
  ]);
  assert.deepEqual(await split(v, { num_outputs: 4 }, 4), [
    [[2], [0, 1]],
    [[2], [2, 3]],
    [[2], [4, 5]],
    [[1], [6]],
  ]);
  const m = new Tensor([2, 3], iota(6));
  assert.deepEqual(await split(m, { axis: 1, split: [1, 2] }, 2), [
    [[2, 1], [0, 3]],
    [[2, 2], [1, 2, 4, 5]],
  ]);
  assert.deepEqual(await split(m, { axis: -2, num_outputs: 2 }, 2), [
    [[1, 3], [0, 1, 2]],
    [[1, 3], [3, 4, 5]],
  ]);
});

test('Split refuses bad attributes', async () => {
  const x = new Tensor([5, 2], iota(10));
  const bad = (attrs: Record<string, unknown>, re: RegExp) => assert.rejects(runBoth(null, 'Split', [x], attrs as never, 2), re);
  await bad({}, /needs attribute 'split' or 'num_outputs'/);
  await bad({ split: [2, 2] }, /'split' sums to 4, but axis 0 has length 5/);
  await bad({ split: [6, -1] }, /'split' must be non-negative sizes/);
  await bad({ split: [2, 3], num_outputs: 2 }, /mutually exclusive/);
  await bad({ num_outputs: 4 }, /length 5 cannot be split into 4 chunks of 2/);
  await bad({ num_outputs: 0 }, /'num_outputs' must be at least 1/);
  await bad({ split: [1, 1], axis: 2 }, /'axis' has 2, out of range/);
  await assert.rejects(runBoth(null, 'Split', [x], { split: [2, 3] }, 3), /produces 2 outputs, the node names 3/);
});
