import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resizeOp } from '../../src/ops/resize.js';
import { DEFAULT_KERNEL_CONTEXT } from '../../src/kernels/context.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();
const COORD = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn'];
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

// [shape, target]: up and down, integer and fractional scales, sizes with prime lengths, an
// output length of 1, rank 3 and 5, N-linear over every axis, the opset-18 `axes` form.
const targets: [number[], Record<string, unknown>][] = [
  [[1, 3, 7, 5], { scales: [1, 1, 2, 3] }],
  [[1, 3, 7, 5], { scales: [1, 1, 0.5, 0.6] }],
  [[2, 3, 5, 7], { sizes: [2, 3, 11, 4] }],
  [[2, 3, 5, 7], { sizes: [2, 3, 1, 13] }],
  [[1, 2, 13, 3], { scales: [1, 1, 1.7, 2.5] }],
  [[3, 4, 6], { sizes: [3, 4, 17] }],
  [[2, 3, 5, 4, 3], { scales: [1, 1, 1.5, 0.75, 2] }],
  [[2, 3, 5, 7], { scales: [1.5, 2, 0.8, 1.3] }], // every axis
  [[2, 3, 5, 7], { sizes: [9, 10], axes: [-1, 2] }],
];

for (const coord of COORD) {
  test(`Resize linear, ${coord}: WebGPU matches the CPU reference`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(coord.length * 7);
    for (const [shape, target] of targets) {
      const x = randomTensor(shape, r);
      const attrs = { mode: 'linear', coordinate_transformation_mode: coord, ...target };
      const { cpu, gpu: g } = await runBoth(gpu, 'Resize', [x], attrs as never);
      // Blends of at most 2^5 values in [-1, 1]: f32 on both sides, different association.
      assertClose(g![0], cpu[0], { atol: 1e-6, rtol: 1e-5 }, `${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
    }
  });
}

for (const [coord, cubic] of COORD.filter((c) => c !== 'tf_half_pixel_for_nn').flatMap((c) => [
  [c, {}],
  [c, { exclude_outside: 1, cubic_coeff_a: -0.5 }],
] as const)) {
  test(`Resize cubic, ${coord} ${JSON.stringify(cubic)}: WebGPU matches the CPU reference`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(coord.length * 11 + Object.keys(cubic).length);
    for (const [shape, target] of [...targets.slice(0, 6), targets[8]]) {
      const x = randomTensor(shape, r);
      const attrs = { mode: 'cubic', coordinate_transformation_mode: coord, ...cubic, ...target };
      const { cpu, gpu: g } = await runBoth(gpu, 'Resize', [x], attrs as never);
      // Blends of 4^2 values in [-1, 1] with weights up to ~1.2: f32 on both sides, other order.
      assertClose(g![0], cpu[0], { atol: 1e-5, rtol: 1e-5 }, `${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
    }
  });
}

test('Resize tf_crop_and_resize (crops reaching outside, extrapolation): WebGPU matches the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(5);
  for (const mode of ['nearest', 'linear', 'cubic']) {
    for (const [shape, sizes, roi] of [
      [[1, 3, 7, 5], [1, 3, 4, 9], [0, 0, -0.3, 0.2, 1, 1, 0.9, 1.25]],
      [[2, 3, 6], [2, 5, 1], [0, 0.1, 0.4, 1, 1.2, 0.6]],
    ]) {
      const attrs = { mode, coordinate_transformation_mode: 'tf_crop_and_resize', sizes, roi, extrapolation_value: -Infinity };
      const { cpu, gpu: g } = await runBoth(gpu, 'Resize', [randomTensor(shape, r)], attrs as never);
      assertClose(g![0], cpu[0], { atol: 1e-5, rtol: 1e-5 }, JSON.stringify(attrs));
      assert.ok(cpu[0].data.includes(-Infinity), 'some outputs are extrapolated');
    }
  }
});

for (const nearest of NEAREST) {
  test(`Resize nearest, ${nearest}, every coordinate mode: WebGPU matches the CPU reference`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(nearest.length * 13);
    for (const coord of COORD) {
      for (const [shape, target] of targets.slice(0, 5)) {
        const x = randomTensor(shape, r);
        const attrs = { mode: 'nearest', nearest_mode: nearest, coordinate_transformation_mode: coord, ...target };
        const { cpu, gpu: g } = await runBoth(gpu, 'Resize', [x], attrs as never);
        assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, `${JSON.stringify(shape)} ${JSON.stringify(attrs)}`); // a copy: exact
      }
    }
  });
}

test('Upsample nearest and linear: WebGPU matches the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(99);
  for (const [mode, scales] of [
    ['nearest', [1, 1, 2, 3]],
    ['nearest', [1, 1, 1.5, 2.5]],
    ['linear', [1, 1, 2, 2]],
    ['bilinear', [1, 1, 3, 1.5]],
  ] as const) {
    const x = randomTensor([2, 3, 5, 7], r);
    const { cpu, gpu: g } = await runBoth(gpu, 'Upsample', [x], { mode, scales });
    assertClose(g![0], cpu[0], { atol: 1e-6, rtol: 1e-5 }, `Upsample ${mode} ${scales}`);
  }
});

test('Resize to the same shape with identity coordinates is a free view', async () => {
  const a = resizeOp.attrs({ mode: 'linear', scales: [1, 1, 1, 1] }, [[1, 3, 5, 7]]);
  assert.equal(resizeOp.gpu([[1, 3, 5, 7]], [[1, 3, 5, 7]], a, DEFAULT_KERNEL_CONTEXT), 'view');
  const x = randomTensor([1, 3, 5, 7], rng(1));
  const { cpu, gpu: g } = await runBoth(gpu, 'Resize', [x], { mode: 'nearest', sizes: [1, 3, 5, 7] });
  assert.deepEqual([...cpu[0].data], [...x.data]);
  if (g) assert.deepEqual([...g[0].data], [...x.data]);
});

const grid = (h: number, w: number) => new Tensor([1, 1, h, w], Array.from({ length: h * w }, (_, i) => i + 1));
const resize = async (x: Tensor, attrs: Record<string, unknown>, op = 'Resize') => (await runBoth(null, op, [x], attrs as never)).cpu[0];
const rows = (t: Tensor) => {
  const w = t.shape[t.rank - 1];
  return Array.from({ length: t.size / w }, (_, i) => [...t.data.slice(i * w, (i + 1) * w)]);
};
const near = (got: number[][], want: number[][]) =>
  got.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) < 2e-6, `[${i}][${j}]: got ${v}, expected ${want[i][j]}`)));

test('CPU reference gives the ONNX documentation values (nearest)', async () => {
  let y = await resize(grid(2, 2), { mode: 'nearest', scales: [1, 1, 2, 3] });
  assert.deepEqual(rows(y), [
    [1, 1, 1, 2, 2, 2],
    [1, 1, 1, 2, 2, 2],
    [3, 3, 3, 4, 4, 4],
    [3, 3, 3, 4, 4, 4],
  ]);
  y = await resize(grid(2, 4), { mode: 'nearest', scales: [1, 1, 0.6, 0.6] });
  assert.deepEqual([y.shape, rows(y)], [[1, 1, 1, 2], [[1, 3]]]);
  y = await resize(grid(4, 4), { mode: 'nearest', sizes: [1, 1, 8, 8], coordinate_transformation_mode: 'asymmetric', nearest_mode: 'round_prefer_ceil' });
  const r1 = [1, 2, 2, 3, 3, 4, 4, 4];
  const at = (base: number[], add: number) => base.map((v) => v + add);
  assert.deepEqual(rows(y), [r1, at(r1, 4), at(r1, 4), at(r1, 8), at(r1, 8), at(r1, 12), at(r1, 12), at(r1, 12)]);
  y = await resize(grid(4, 4), { mode: 'nearest', sizes: [1, 1, 8, 8], coordinate_transformation_mode: 'align_corners', nearest_mode: 'floor' });
  const r2 = [1, 1, 1, 2, 2, 3, 3, 4];
  assert.deepEqual(rows(y), [r2, r2, r2, at(r2, 4), at(r2, 4), at(r2, 8), at(r2, 8), at(r2, 12)]);
  y = await resize(grid(4, 4), { mode: 'nearest', sizes: [1, 1, 8, 8], coordinate_transformation_mode: 'half_pixel', nearest_mode: 'ceil' });
  assert.deepEqual(rows(y), [r1, at(r1, 4), at(r1, 4), at(r1, 8), at(r1, 8), at(r1, 12), at(r1, 12), at(r1, 12)]);
  // tf_half_pixel_for_nn: (x + 0.5) / s = 1, 3 where half_pixel gives 0.5, 2.5 (→ 0, 2).
  y = await resize(grid(1, 4), { mode: 'nearest', sizes: [1, 1, 1, 2], coordinate_transformation_mode: 'tf_half_pixel_for_nn' });
  assert.deepEqual(rows(y), [[2, 4]]);
  y = await resize(grid(1, 4), { mode: 'nearest', sizes: [1, 1, 1, 2] });
  assert.deepEqual(rows(y), [[1, 3]]);
  // ... and axes of scale 1 are not resized, so ceil does not shift them by (x + 0.5).
  y = await resize(grid(3, 2), { mode: 'nearest', scales: [1, 1, 1, 2], coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: 'ceil' });
  assert.deepEqual(rows(y), [
    [2, 2, 2, 2],
    [4, 4, 4, 4],
    [6, 6, 6, 6],
  ]);
  // Ties: half_pixel with scale 1/2 puts x_original on .5 exactly: 0.5, 2.5 (and 4.5).
  const v = new Tensor([6], [10, 11, 12, 13, 14, 15]);
  assert.deepEqual([...(await resize(v, { mode: 'nearest', scales: [0.5] })).data], [10, 12, 14]);
  assert.deepEqual([...(await resize(v, { mode: 'nearest', scales: [0.5], nearest_mode: 'round_prefer_ceil' })).data], [11, 13, 15]);
  // Upsample: floor(x / s).
  y = await resize(grid(2, 2), { mode: 'nearest', scales: [1, 1, 2, 3] }, 'Upsample');
  assert.deepEqual(rows(y), [
    [1, 1, 1, 2, 2, 2],
    [1, 1, 1, 2, 2, 2],
    [3, 3, 3, 4, 4, 4],
    [3, 3, 3, 4, 4, 4],
  ]);
});

test('CPU reference gives the ONNX documentation values (linear)', async () => {
  let y = await resize(grid(2, 2), { mode: 'linear', scales: [1, 1, 2, 2] });
  near(rows(y), [
    [1, 1.25, 1.75, 2],
    [1.5, 1.75, 2.25, 2.5],
    [2.5, 2.75, 3.25, 3.5],
    [3, 3.25, 3.75, 4],
  ]);
  y = await resize(grid(2, 2), { mode: 'linear', scales: [1, 1, 2, 2], coordinate_transformation_mode: 'align_corners' });
  const t = 1 / 3;
  near(rows(y), [
    [1, 1 + t, 1 + 2 * t, 2],
    [1 + 2 * t, 2, 2 + t, 2 + 2 * t],
    [2 + t, 2 + 2 * t, 3, 3 + t],
    [3, 3 + t, 3 + 2 * t, 4],
  ]);
  y = await resize(grid(2, 4), { mode: 'linear', scales: [1, 1, 0.6, 0.6] });
  near(rows(y), [[2.6666665, 4.3333331]]);
  // align_corners divides by the output's integer length, 2 (onnxruntime, the spec's words);
  // the ONNX reference implementation uses 4 · 0.6 = 2.4 here and gets [1, 3.142857].
  y = await resize(grid(2, 4), { mode: 'linear', scales: [1, 1, 0.6, 0.6], coordinate_transformation_mode: 'align_corners' });
  near(rows(y), [[1, 4]]);
  y = await resize(grid(4, 4), { mode: 'linear', sizes: [1, 1, 3, 1], coordinate_transformation_mode: 'pytorch_half_pixel' });
  near(rows(y), [[1.6666666], [7], [12.333333]]);
  // asymmetric x / 2 on [1, 2]: 1, 1.5, 2, then the edge value continues.
  y = await resize(grid(1, 2), { mode: 'linear', scales: [1, 1, 1, 2], coordinate_transformation_mode: 'asymmetric' });
  near(rows(y), [[1, 1.5, 2, 2]]);
  // half_pixel_symmetric with an integer output length is half_pixel.
  const a = await resize(grid(3, 5), { mode: 'linear', sizes: [1, 1, 7, 2], coordinate_transformation_mode: 'half_pixel_symmetric' });
  const b = await resize(grid(3, 5), { mode: 'linear', sizes: [1, 1, 7, 2] });
  near(rows(a), rows(b));
  // ... and with a fractional one it recentres: in 4, scale 1.3 → out floor(5.2) = 5.
  y = await resize(new Tensor([4], [0, 1, 2, 3]), { mode: 'linear', scales: [1.3], coordinate_transformation_mode: 'half_pixel_symmetric' });
  const off = 2 * (1 - 5 / 5.2);
  near([[...y.data]], [[0, 1, 2, 3, 4].map((x) => Math.min(Math.max(off + (x + 0.5) / 1.3 - 0.5, 0), 3))]);
  // Upsample linear: asymmetric.
  y = await resize(grid(1, 2), { mode: 'linear', scales: [1, 1, 1, 2] }, 'Upsample');
  near(rows(y), [[1, 1.5, 2, 2]]);
});

test('CPU reference gives hand-computed values (cubic)', async () => {
  // asymmetric, scale 2 on [0, 1, 2, 3]: x = o / 2. At x = 0.5 the taps -1, 0, 1, 2 have Keys'
  // weights (A = -0.75) -0.09375, 0.59375, 0.59375, -0.09375; tap -1 clamps to 0 (value 0), so
  // y = 0.59375 - 2 · 0.09375 = 0.40625; with exclude_outside it is dropped and the rest
  // renormalised: 0.40625 / 1.09375. At x = 1.5 every tap is inside and cubic reproduces a line.
  const v = new Tensor([4], [0, 1, 2, 3]);
  let y = await resize(v, { mode: 'cubic', scales: [2], coordinate_transformation_mode: 'asymmetric' });
  near([[y.data[0], y.data[1], y.data[2], y.data[3]]], [[0, 0.40625, 1, 1.5]]);
  y = await resize(v, { mode: 'cubic', scales: [2], coordinate_transformation_mode: 'asymmetric', exclude_outside: 1 });
  near([[y.data[1], y.data[3]]], [[0.40625 / 1.09375, 1.5]]);
});

test('bad attributes are refused with clear errors', async () => {
  const x = grid(2, 2);
  const bad = (attrs: Record<string, unknown>, re: RegExp, op = 'Resize') => assert.rejects(runBoth(null, op, [x], attrs as never), re);
  await bad({}, /needs exactly one of the attributes 'scales' and 'sizes'/);
  await bad({ scales: [1, 1, 2, 2], sizes: [1, 1, 4, 4] }, /needs exactly one/);
  await bad({ scales: [2, 2] }, /'scales' needs 4 values, got 2/);
  await bad({ sizes: [1, 1, 4] }, /'sizes' needs 4 values, got 3/);
  await bad({ scales: [1, 1, 0, 2] }, /'scales' must be positive, got 0 for axis 2/);
  await bad({ sizes: [1, 1, 0, 2] }, /'sizes' must be positive, got 0 for axis 2/);
  await bad({ scales: [1, 1, 2, 2], mode: 'area' }, /'mode' must be one of nearest, linear, cubic/);
  await bad({ scales: [1, 1, 2, 2], coordinate_transformation_mode: 'tf_crop_and_resize' }, /'tf_crop_and_resize' needs the roi input/);
  await bad({ scales: [1, 1, 2, 2], roi: [0, 0, 0, 0, 1, 1, 1, 1], coordinate_transformation_mode: 'tf_crop_and_resize' }, /tf_crop_and_resize with scales is not supported/);
  await bad({ sizes: [1, 1, 2, 2], roi: [0, 0, 1, 1], coordinate_transformation_mode: 'tf_crop_and_resize' }, /roi needs 8 values/);
  await bad({ scales: [1, 1, 2, 2], coordinate_transformation_mode: 'corners' }, /'coordinate_transformation_mode' must be one of/);
  await bad({ scales: [1, 1, 2, 2], nearest_mode: 'round' }, /'nearest_mode' must be one of round_prefer_floor/);
  await bad({ scales: [1, 1, 0.5, 0.5], antialias: 1 }, /antialias = 1 is not supported/);
  await bad({ sizes: [4, 4], axes: [2, 2] }, /'axes' repeats an axis/);
  await bad({ sizes: [4, 4], keep_aspect_ratio_policy: 'not_larger', axes: [2, 3] }, /keep_aspect_ratio_policy 'not_larger' is not supported/);
  await bad({ scales: [1, 1, 0.5, 2] }, /'scales' must be at least 1 for Upsample/, 'Upsample');
  await bad({ scales: [1, 1, 2, 2], mode: 'cubic' }, /'mode' must be nearest or linear/, 'Upsample');
});
