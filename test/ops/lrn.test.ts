import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

// Odd and even sizes, windows wider than C, defaults and AlexNet's/GoogLeNet's settings, rank 3-5.
const cases: [number[], Record<string, number>][] = [
  [[1, 7, 5, 3], { size: 5 }],
  [[2, 5, 3, 7], { size: 2, alpha: 0.3, beta: 0.5, bias: 2 }],
  [[1, 3, 13], { size: 9, alpha: 1, beta: 1.5, bias: 0.5 }], // wider than C
  [[1, 11, 4, 4], { size: 5, alpha: 1e-4, beta: 0.75, bias: 2 }], // AlexNet
  [[1, 6, 3, 2, 3], { size: 4, alpha: 2, beta: 0.25, bias: 1 }],
  [[1, 4, 2, 2], { size: 1, alpha: 0.5 }],
];

test('LRN: WebGPU matches the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(31);
  for (const [shape, attrs] of cases) {
    const x = randomTensor(shape, r, -2, 2);
    const { cpu, gpu: g } = await runBoth(gpu, 'LRN', [x], attrs);
    // pow in WGSL is exp2(beta·log2(base)): a few ulp.
    assertClose(g![0], cpu[0], { atol: 1e-6, rtol: 1e-5 }, `LRN ${shape} ${JSON.stringify(attrs)}`);
  }
});

test('CPU reference gives known values', async () => {
  const x = new Tensor([1, 4, 1, 1], [1, 2, 3, 4]);
  const lrn = async (attrs: Record<string, number>) => [...(await runBoth(null, 'LRN', [x], attrs)).cpu[0].data];
  // size 3: channels c-1..c+1; alpha/size = 1, beta 1, bias 1.
  assert.deepEqual(await lrn({ size: 3, alpha: 3, beta: 1, bias: 1 }), [1 / 6, 2 / 15, 3 / 30, 4 / 26].map(Math.fround));
  // size 2 (even): channels c..c+1.
  assert.deepEqual(await lrn({ size: 2, alpha: 2, beta: 1, bias: 1 }), [1 / 6, 2 / 14, 3 / 26, 4 / 17].map(Math.fround));
  // Defaults alpha 1e-4, beta 0.75, bias 1 with size 1: x / (1 + 1e-4·x²)^0.75.
  assert.deepEqual(await lrn({ size: 1 }), [1, 2, 3, 4].map((v) => Math.fround(v / (1 + 1e-4 * v * v) ** 0.75)));
  // Each spatial position and batch item is its own column.
  const y = (await runBoth(null, 'LRN', [new Tensor([2, 2, 1, 2], [1, 0, 0, 2, 3, 0, 0, 0])], { size: 2, alpha: 2, beta: 1, bias: 1 })).cpu[0];
  assert.deepEqual([...y.data], [1 / 2, 0, 0, 2 / 5, 3 / 10, 0, 0, 0].map(Math.fround));
});

test('bad inputs and attributes are refused with clear errors', async () => {
  await assert.rejects(runBoth(null, 'LRN', [new Tensor([2, 3], [1, 2, 3, 4, 5, 6])], { size: 3 }), /input X must be \[N, C, D1, \.\.\.\]/);
  const x = new Tensor([1, 2, 1, 1], [1, 2]);
  await assert.rejects(runBoth(null, 'LRN', [x], {}), /attribute 'size' is required/);
  await assert.rejects(runBoth(null, 'LRN', [x], { size: 0 }), /'size' must be >= 1/);
  await assert.rejects(runBoth(null, 'LRN', [x], { size: 2.5 }), /'size' must be an integer/);
});
