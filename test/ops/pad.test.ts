import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();
const MODES = ['constant', 'reflect', 'edge', 'wrap'];

// [shape, pads, extra attrs]: growing, cropping (negative), both on one axis, pads longer than
// the axis (repeated reflection / wrap), size-1 axes, rank 1 to 5, the `axes` form.
const cases: [number[], number[], Record<string, unknown>][] = [
  [[7], [2, 3], {}],
  [[7], [-2, 4], {}],
  [[7], [9, 11], {}], // more than the length on both sides
  [[1], [3, 2], {}],
  [[2, 3, 5, 7], [0, 0, 1, 2, 0, 0, 2, 1], {}],
  [[2, 3, 5, 7], [1, 0, -1, 3, 0, 2, 2, -2], {}],
  [[1, 3, 17, 19], [0, 1, 3, 5, 0, 2, 4, 6], {}],
  [[1, 3, 17, 19], [0, 0, -3, -5, 0, 0, -4, -6], {}], // cropping only
  [[3, 4, 5, 2, 3], [1, 0, 2, 0, 1, 0, 1, 1, 3, 0], {}],
  [[2, 3, 5, 7], [3, 1, 4, 1], { axes: [-1, 2] }],
  [[2, 3, 5, 7], [2, -1], { axes: [1] }],
];

for (const mode of MODES) {
  test(`Pad mode=${mode}: WebGPU matches the CPU reference`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(mode.length * 101);
    for (const [shape, pads, extra] of cases) {
      const x = randomTensor(shape, r);
      const attrs = { mode, pads, ...extra, ...(mode === 'constant' ? { value: 0.75 } : {}) };
      const { cpu, gpu: g } = await runBoth(gpu, 'Pad', [x], attrs as never);
      assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, `Pad ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`); // a pure copy: exact
    }
  });
}

test('Pad with a non-finite constant, the default value and an empty input on WebGPU', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const x = randomTensor([2, 3, 4], rng(5));
  for (const value of [-Infinity, Infinity, NaN, undefined]) {
    const { cpu, gpu: g } = await runBoth(gpu, 'Pad', [x], { pads: [0, 1, 1, 0, 2, 1], value });
    assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, `value ${value}`);
  }
  const empty = new Tensor([2, 0, 3], []);
  const { cpu, gpu: g } = await runBoth(gpu, 'Pad', [empty], { pads: [0, 1, 0, 0, 2, 0], value: 3 });
  assert.deepEqual(cpu[0].shape, [2, 3, 3]);
  assert.ok(cpu[0].data.every((v) => v === 3));
  assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, 'empty input');
});

test('CPU reference gives known values (ONNX examples, numpy reflect/wrap, cropping)', async () => {
  const pad = async (x: Tensor, attrs: Record<string, unknown>) => (await runBoth(null, 'Pad', [x], attrs as never)).cpu[0];
  const data = new Tensor([3, 2], [1.0, 1.2, 2.3, 3.4, 4.5, 5.7]);
  const f = (a: number[]) => a.map(Math.fround);
  let y = await pad(data, { mode: 'constant', pads: [0, 2, 0, 0] });
  assert.deepEqual([y.shape, [...y.data]], [[3, 4], f([0, 0, 1.0, 1.2, 0, 0, 2.3, 3.4, 0, 0, 4.5, 5.7])]);
  y = await pad(data, { mode: 'reflect', pads: [0, 2, 0, 0] });
  assert.deepEqual([...y.data], f([1.0, 1.2, 1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7, 4.5, 5.7]));
  y = await pad(data, { mode: 'edge', pads: [0, 2, 0, 0] });
  assert.deepEqual([...y.data], f([1.0, 1.0, 1.0, 1.2, 2.3, 2.3, 2.3, 3.4, 4.5, 4.5, 4.5, 5.7]));
  y = await pad(data, { mode: 'constant', pads: [1, 0, 0, 0], value: -2 });
  assert.deepEqual([y.shape, [...y.data]], [[4, 2], f([-2, -2, 1.0, 1.2, 2.3, 3.4, 4.5, 5.7])]);

  const v = new Tensor([3], [1, 2, 3]);
  assert.deepEqual([...(await pad(v, { mode: 'reflect', pads: [5, 0] })).data], [2, 1, 2, 3, 2, 1, 2, 3]); // numpy
  assert.deepEqual([...(await pad(v, { mode: 'wrap', pads: [2, 4] })).data], [2, 3, 1, 2, 3, 1, 2, 3, 1]);
  assert.deepEqual([...(await pad(v, { mode: 'edge', pads: [2, 1] })).data], [1, 1, 1, 2, 3, 3]);
  assert.deepEqual([...(await pad(new Tensor([1], [7]), { mode: 'reflect', pads: [2, 1] })).data], [7, 7, 7, 7]);

  // Negative pads crop first; the rest pads the cropped region.
  const w = new Tensor([5], [1, 2, 3, 4, 5]);
  assert.deepEqual([...(await pad(w, { mode: 'reflect', pads: [-1, 2] })).data], [2, 3, 4, 5, 4, 3]);
  assert.deepEqual([...(await pad(w, { mode: 'reflect', pads: [2, -1] })).data], [3, 2, 1, 2, 3, 4]);
  assert.deepEqual([...(await pad(w, { mode: 'edge', pads: [-2, -1] })).data], [3, 4]);
  assert.deepEqual([...(await pad(w, { mode: 'constant', pads: [-5, 1], value: 9 })).data], [9]);
  // `axes` picks which axes `pads` talks about.
  y = await pad(new Tensor([2, 2], [1, 2, 3, 4]), { pads: [1, 0], axes: [-1] });
  assert.deepEqual([y.shape, [...y.data]], [[2, 3], [0, 1, 2, 0, 3, 4]]);
});

test('bad attributes are refused with clear errors', async () => {
  const x = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
  const bad = (attrs: Record<string, unknown>, re: RegExp) => assert.rejects(runBoth(null, 'Pad', [x], attrs as never), re);
  await bad({}, /attribute 'pads' is required/);
  await bad({ pads: [1, 1] }, /'pads' needs 4 values/);
  await bad({ pads: [0, 0, 0, 0], mode: 'symmetric' }, /'mode' must be one of constant, reflect, edge, wrap/);
  await bad({ pads: [0, -2, 0, -2] }, /crops axis 1 \(length 3\) by more than its length/);
  await bad({ pads: [-2, 0, -1, 0] }, /crops axis 0/);
  await bad({ pads: [0, 1], axes: [2] }, /'axes' has 2, out of range/);
  await bad({ pads: [0, 0, 1, 1], axes: [1, -1] }, /'axes' repeats an axis/);
  await bad({ pads: [-2, 0, 1, 0], mode: 'edge' }, /mode 'edge' cannot pad axis 0: it has no elements/);
});
