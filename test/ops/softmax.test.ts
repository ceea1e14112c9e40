import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

// exp differs by a few ulp between Math.exp and WGSL, and the GPU sums rows in another order.
const TOL = { atol: 1e-6, rtol: 1e-5 };

// [shape, attrs]: every axis, both semantics, short rows (one invocation per row) and long rows
// (one workgroup per row, both workgroup sizes), strided rows (axis not last).
const CASES: [number[], RawAttrs][] = [
  [[7], {}],
  [[3, 5, 7], {}],
  [[3, 5, 7], { axis: 0 }],
  [[3, 5, 7], { axis: 1 }],
  [[3, 5, 7], { axis: 2 }],
  [[3, 5, 7], { axis: -2 }],
  [[3, 5, 7], { axis: -3 }],
  [[1, 21, 5, 3], { axis: 1 }], // per-pixel class scores
  [[3, 1000], {}], // long rows, 64-wide workgroups
  [[2, 2053], { axis: -1 }], // long prime rows, 256-wide workgroups
  [[131, 3, 2], { axis: 0 }], // long strided rows
  [[5, 1], {}], // rows of one element
  [[2, 3, 5, 7], { legacy_coerce_2d: 1 }], // rows of 3·5·7 = 105
  [[2, 3, 5, 7], { legacy_coerce_2d: 1, axis: 0 }], // one row of everything
  [[2, 3, 5, 7], { legacy_coerce_2d: 1, axis: 2 }],
  [[2, 3, 5, 7], { legacy_coerce_2d: 1, axis: -1 }],
  [[2, 3, 5, 7], { legacy_coerce_2d: 0, axis: 1 }],
];

test('Softmax: WebGPU matches the CPU reference for every axis and both semantics', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(1301);
  for (const [shape, attrs] of CASES) {
    const x = randomTensor(shape, r, -8, 8);
    const { cpu, gpu: g } = await runBoth(gpu, 'Softmax', [x], attrs);
    assertClose(g![0], cpu[0], TOL, `Softmax ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

/** Sum of the CPU output over the row through `at(row, k)`. */
async function rowSums(shape: number[], attrs: RawAttrs, rows: number, n: number, at: (row: number, k: number) => number) {
  const x = randomTensor(shape, rng(shape.length), -5, 5);
  const y = (await runBoth(null, 'Softmax', [x], attrs)).cpu[0].data;
  return Array.from({ length: rows }, (_, row) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += y[at(row, k)];
    return s;
  });
}

test('CPU reference: rows along the right axis sum to 1', async () => {
  const near1 = (sums: number[]) => sums.forEach((s) => assert.ok(Math.abs(s - 1) < 1e-5, `row sum ${s}`));
  // Opset 13, axis 1 of [2, 3, 4]: rows are (o, j), element k at o*12 + k*4 + j.
  near1(await rowSums([2, 3, 4], { axis: 1 }, 8, 3, (row, k) => Math.floor(row / 4) * 12 + k * 4 + (row % 4)));
  // Legacy, axis 1 of [2, 3, 4]: two rows of 12.
  near1(await rowSums([2, 3, 4], { axis: 1, legacy_coerce_2d: 1 }, 2, 12, (row, k) => row * 12 + k));
});

test('CPU reference gives known values, and is stable for large inputs', async () => {
  const sm = async (shape: number[], data: number[], attrs: RawAttrs = {}) => (await runBoth(null, 'Softmax', [new Tensor(shape, data)], attrs)).cpu[0];
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const want = e.map((v) => v / (e[0] + e[1] + e[2]));
  assertClose(await sm([3], [1, 2, 3]), new Tensor([3], want), { atol: 0, rtol: 1e-6 });
  assertClose(await sm([3], [1001, 1002, 1003]), new Tensor([3], want), { atol: 0, rtol: 1e-6 });
  // [[0, ln 3], [ln 3, 0]]: axis 0 (opset 13) normalises columns; legacy axis 0 the whole tensor.
  const l3 = Math.log(3);
  assertClose(await sm([2, 2], [0, l3, l3, 0], { axis: 0 }), new Tensor([2, 2], [0.25, 0.75, 0.75, 0.25]), { atol: 1e-7, rtol: 0 });
  assertClose(await sm([2, 2], [0, l3, l3, 0], { axis: 0, legacy_coerce_2d: 1 }), new Tensor([2, 2], [0.125, 0.375, 0.375, 0.125]), { atol: 1e-7, rtol: 0 });
  // Legacy default axis is 1: rows [0, ln 3] and [ln 3, 0].
  assertClose(await sm([2, 2], [0, l3, l3, 0], { legacy_coerce_2d: 1 }), new Tensor([2, 2], [0.25, 0.75, 0.75, 0.25]), { atol: 1e-7, rtol: 0 });
});

test('Softmax on WebGPU is stable for large inputs', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  for (const n of [3, 300]) {
    const x = new Tensor([2, n], Array.from({ length: 2 * n }, (_, i) => 1000 + (i % n) * (3 / n) - (i < n ? 0 : 2000)));
    const { cpu, gpu: g } = await runBoth(gpu, 'Softmax', [x]);
    assert.ok(g![0].data.every(Number.isFinite), 'finite outputs');
    assertClose(g![0], cpu[0], TOL, `large inputs, rows of ${n}`);
  }
});

test('Softmax refuses a bad axis or mode', async () => {
  const x = randomTensor([2, 3, 4], rng(2));
  await assert.rejects(runBoth(null, 'Softmax', [x], { axis: 3 }), /attribute 'axis' = 3 is out of range for rank 3/);
  await assert.rejects(runBoth(null, 'Softmax', [x], { axis: -4 }), /attribute 'axis' = -4 is out of range/);
  await assert.rejects(runBoth(null, 'Softmax', [x], { axis: 3, legacy_coerce_2d: 1 }), /'axis' = 3 is out of range/);
  await assert.rejects(runBoth(null, 'Softmax', [x], { legacy_coerce_2d: 2 }), /'legacy_coerce_2d' must be 0 or 1/);
  await assert.rejects(runBoth(null, 'Softmax', [x], { axis: 1.5 }), /'axis' must be an integer/);
  await assert.rejects(runBoth(null, 'Softmax', [new Tensor([], [1])]), /rank >= 1/);
});

test('LogSoftmax: WebGPU matches the CPU reference for every axis and both semantics', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(1303);
  for (const [shape, attrs] of CASES) {
    const x = randomTensor(shape, r, -8, 8);
    const { cpu, gpu: g } = await runBoth(gpu, 'LogSoftmax', [x], attrs);
    assertClose(g![0], cpu[0], { atol: 1e-5, rtol: 1e-5 }, `LogSoftmax ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

test('LogSoftmax: the CPU reference is the log of Softmax, finite where Softmax underflows', async () => {
  const r = rng(1304);
  const x = randomTensor([3, 5, 7], r, -8, 8);
  for (const attrs of [{ axis: 1 }, { axis: -1 }, { legacy_coerce_2d: 1, axis: 1 }]) {
    const s = (await runBoth(null, 'Softmax', [x], attrs)).cpu[0];
    const l = (await runBoth(null, 'LogSoftmax', [x], attrs)).cpu[0];
    assertClose(l, new Tensor(s.shape, s.data.map(Math.log)), { atol: 1e-5, rtol: 1e-5 }, `LogSoftmax ${JSON.stringify(attrs)}`);
  }
  const wide = new Tensor([3], [0, -200, 200]);
  assert.deepEqual([...(await runBoth(null, 'LogSoftmax', [wide])).cpu[0].data], [-200, -400, 0]);
});

test('Hardmax: WebGPU matches the CPU reference for every axis and both semantics', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(1307);
  for (const [shape, attrs] of CASES) {
    // Values on a coarse grid, so that rows have ties: the first maximum wins on both.
    const x = randomTensor(shape, r, -4, 4);
    const coarse = new Tensor(shape, x.data.map((v) => Math.round(v)));
    const { cpu, gpu: g } = await runBoth(gpu, 'Hardmax', [coarse], attrs);
    assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, `Hardmax ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

test('Hardmax: CPU reference gives known values (first maximum; NaN counts as the maximum)', async () => {
  const x = new Tensor([2, 3], [1, 3, 3, 2, NaN, 5]);
  const hm = async (attrs: RawAttrs) => [...(await runBoth(null, 'Hardmax', [x], attrs)).cpu[0].data];
  assert.deepEqual(await hm({}), [0, 1, 0, 0, 1, 0]);
  assert.deepEqual(await hm({ axis: 0 }), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(await hm({ axis: 0, legacy_coerce_2d: 1 }), [0, 0, 0, 0, 1, 0]);
});
