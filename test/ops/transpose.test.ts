import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type Shape } from '../../src/tensor.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { assertClose, randInt, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

/** A random permutation of 0..n-1 (Fisher-Yates). */
function shuffle(n: number, r: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randInt(r, 0, i);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

const CASES: [Shape, RawAttrs][] = [
  [[7], {}],
  [[13, 17], {}],
  [[2, 3, 5, 7], { perm: [0, 2, 3, 1] }], // NCHW -> NHWC
  [[2, 5, 7, 3], { perm: [0, 3, 1, 2] }], // NHWC -> NCHW
  [[2, 3, 5, 7], { perm: [0, 1, 2, 3] }], // identity: a copy
  [[2, 3, 5, 7], { perm: [2, 3, 0, 1] }], // merges to a 2-D transpose
  [[2, 3, 5, 7], {}],
  [[1, 3, 1, 5, 2], { perm: [4, 2, 0, 3, 1] }], // size-1 dims
  [[2, 3, 1, 5, 2, 3], {}], // rank 6, reversed
];

test('Transpose: WebGPU matches the CPU reference (fixed and random perms, ranks 1 to 6)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(606);
  const cases = [...CASES];
  for (let rank = 1; rank <= 6; rank++) {
    for (let t = 0; t < 2; t++) {
      const shape = Array.from({ length: rank }, () => randInt(r, 1, rank >= 5 ? 4 : 7));
      cases.push([shape, { perm: shuffle(rank, r) }]);
    }
  }
  for (const [shape, attrs] of cases) {
    const x = randomTensor(shape, r);
    const { cpu, gpu: g } = await runBoth(gpu, 'Transpose', [x], attrs);
    assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, `Transpose ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

test('CPU reference gives known values', async () => {
  const t = async (x: Tensor, attrs: RawAttrs = {}) => (await runBoth(null, 'Transpose', [x], attrs)).cpu[0];
  const m = await t(new Tensor([2, 3], [1, 2, 3, 4, 5, 6]));
  assert.deepEqual([...m.shape], [3, 2]);
  assert.deepEqual([...m.data], [1, 4, 2, 5, 3, 6]);
  // perm [1, 2, 0] on [2, 3, 4]: y[j, k, i] = x[i, j, k], checked element by element.
  const x = new Tensor([2, 3, 4], Array.from({ length: 24 }, (_, i) => i));
  const y = await t(x, { perm: [1, 2, 0] });
  assert.deepEqual([...y.shape], [3, 4, 2]);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) assert.equal(y.data[(j * 4 + k) * 2 + i], x.data[(i * 3 + j) * 4 + k]);
  // Default perm reverses: [2, 3, 4] -> [4, 3, 2], y[k, j, i] = x[i, j, k].
  const z = await t(x);
  assert.deepEqual([...z.shape], [4, 3, 2]);
  assert.equal(z.data[(3 * 3 + 1) * 2 + 1], x.data[(1 * 3 + 1) * 4 + 3]);
});

test('Transpose refuses a perm that is not a permutation of the axes', async () => {
  const x = randomTensor([2, 3, 4], rng(1));
  const bad = (perm: unknown) => assert.rejects(runBoth(null, 'Transpose', [x], { perm: perm as number[] }), /attribute 'perm'/);
  await bad([0, 1]); // too short
  await bad([0, 1, 2, 3]); // too long
  await bad([0, 1, 1]); // duplicate
  await bad([0, 1, 3]); // out of range
  await bad([-1, 0, 1]); // negative
  await bad([0, 1.5, 2]); // not integers
  await assert.rejects(runBoth(null, 'Transpose', [x], { perm: [0, 2, 2] }), /\[0, 2, 2\] is not a permutation of the 3 axes of input \[2, 3, 4\]/);
});
