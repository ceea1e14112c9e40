// Resize's gradient (ResizeAxisGrad per resized axis, ops/resize.ts) against finite differences
// of the CPU reference: up- and downsampling, nearest, linear and cubic, several coordinate modes, one
// axis or two, odd sizes; the WebGPU backward pass against the CPU's on some cases; and the axis
// gradient op alone on a larger odd shape, WebGPU against CPU.

import { test } from 'node:test';
import type { RawAttrs } from '../../src/ops/op.js';
import type { Shape } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';
import { checkOp } from './check.js';

const gpu = await testGpu();

// [x, op, attrs, also on WebGPU]
const CASES: [Shape, 'Resize' | 'Upsample', RawAttrs, boolean][] = [
  [[1, 2, 3, 5], 'Resize', { mode: 'nearest', scales: [1, 1, 2, 2] }, true], // the detector's FPN
  [[2, 1, 4, 3], 'Resize', { mode: 'linear', scales: [1, 1, 2, 2] }, true],
  [[1, 2, 5, 7], 'Resize', { mode: 'linear', coordinate_transformation_mode: 'align_corners', sizes: [1, 2, 3, 4] }, false],
  [[1, 1, 6, 5], 'Resize', { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor', sizes: [1, 1, 4, 9] }, false],
  [[1, 3, 4, 4], 'Resize', { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel', scales: [1, 1, 1, 1.75] }, false],
  [[1, 2, 3, 3], 'Upsample', { mode: 'linear', scales: [1, 1, 3, 2] }, true],
  [[1, 2, 4, 5], 'Resize', { mode: 'cubic', scales: [1, 1, 2, 1.6] }, true],
  [[1, 1, 7, 5], 'Resize', { mode: 'cubic', exclude_outside: 1, cubic_coeff_a: -0.5, sizes: [1, 1, 3, 9] }, false],
  [[1, 2, 5, 4], 'Resize', { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', sizes: [1, 2, 4, 6], roi: [0, 0, 0.2, -0.3, 1, 1, 0.9, 1.1], extrapolation_value: 1 }, true],
];

test('Resize/Upsample: gradient of x against finite differences', async () => {
  const r = rng(71);
  for (const [x, op, attrs, onGpu] of CASES) await checkOp(onGpu ? gpu : null, op, [randomTensor(x, r)], attrs, { samples: 40 });
});

test('ResizeAxisGrad: WebGPU matches the CPU reference on odd shapes', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(72);
  // gy [2, 3, 11, 5] is the gradient of a linear 5 -> 11 resize of axis 2 (half_pixel, clamped).
  const outLen = 11;
  const inLen = 5;
  const index: number[] = [];
  const weight: number[] = [];
  for (let o = 0; o < outLen; o++) {
    const x = (o + 0.5) * (inLen / outLen) - 0.5;
    const f = Math.floor(x);
    index.push(Math.min(Math.max(f, 0), inLen - 1), Math.min(Math.max(f + 1, 0), inLen - 1));
    weight.push(Math.fround(1 - (x - f)), Math.fround(x - f));
  }
  const { cpu, gpu: out } = await runBoth(gpu, 'ResizeAxisGrad', [randomTensor([2, 3, outLen, 5], r)], { axis: 2, input_length: inLen, taps: 2, index, weight });
  assertClose(out![0], cpu[0], { atol: 1e-5, rtol: 1e-5 });
});
