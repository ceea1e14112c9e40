// GridSample (ops/gridsample.ts): WebGPU against the CPU reference for every mode, padding mode and
// align_corners on odd shapes with grid points inside, on and beyond the borders; known values;
// clear refusals. The CPU reference is checked against onnxruntime in test/onnx/ops.test.ts and
// against ONNX's node tests.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

for (const mode of ['bilinear', 'nearest', 'bicubic']) {
  test(`GridSample ${mode}: WebGPU matches the CPU reference for every padding mode and align_corners`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(mode.length * 17);
    for (const padding_mode of ['zeros', 'border', 'reflection']) {
      for (const align_corners of [0, 1]) {
        for (const [x, g] of [
          [[2, 3, 5, 7], [2, 4, 6, 2]],
          [[1, 2, 1, 9], [1, 3, 5, 2]], // a one-row input
        ]) {
          // Grid points up to 1.6 outside [-1, 1]: several reflections, border clamps, zeros.
          const inputs = [randomTensor(x, r), randomTensor(g, r, -2.6, 2.6)];
          const attrs = { mode, padding_mode, align_corners };
          const { cpu, gpu: out } = await runBoth(gpu, 'GridSample', inputs, attrs);
          assertClose(out![0], cpu[0], { atol: 2e-5, rtol: 1e-4 }, `${JSON.stringify(x)} ${JSON.stringify(attrs)}`);
        }
      }
    }
  });
}

test('GridSample: known values (pixel centres, corners, outside)', async () => {
  const x = new Tensor([1, 1, 2, 2], [1, 2, 3, 4]);
  // Without align_corners, pixel centres are at ±0.5; with it, at ±1.
  const grid = new Tensor([1, 1, 3, 2], [-0.5, -0.5, 0, 0, 1, 1]);
  const run = async (attrs: Record<string, unknown>, g = grid) => [...(await runBoth(null, 'GridSample', [x, g], attrs as never)).cpu[0].data];
  // (1, 1) without align_corners is the bottom-right pixel's outer corner, 1.5: a quarter of it
  // with zeros outside; border clamps it to the pixel.
  assert.deepEqual(await run({}), [1, 2.5, 1]);
  assert.deepEqual(await run({ padding_mode: 'border' }), [1, 2.5, 4]);
  assert.deepEqual(await run({ align_corners: 1 }), [1.75, 2.5, 4]);
  // nearest at 0.25, 0.5 (a tie: to even, 0) and 1.
  assert.deepEqual(await run({ mode: 'nearest', align_corners: 1 }), [1, 1, 4]);
});

test('GridSample: bad inputs and attributes are refused clearly', async () => {
  const x = new Tensor([1, 1, 2, 2]);
  const bad = (inputs: Tensor[], attrs: Record<string, unknown>, re: RegExp) => assert.rejects(runBoth(null, 'GridSample', inputs, attrs as never), re);
  await bad([new Tensor([1, 1, 2, 2, 2]), new Tensor([1, 1, 1, 1, 3])], {}, /2-D sampling only/);
  await bad([x, new Tensor([1, 2, 2, 3])], {}, /grid must be \[N, Ho, Wo, 2\]/);
  await bad([x, new Tensor([1, 2, 2, 2])], { mode: 'area' }, /'mode' must be bilinear, nearest or bicubic/);
  await bad([x, new Tensor([1, 2, 2, 2])], { padding_mode: 'wrap' }, /'padding_mode' must be zeros, border or reflection/);
});
