// The unary ops of src/ops/activations.ts: WebGPU against the CPU reference on random odd shapes,
// the CPU reference against known values, and every gradient against finite differences.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVATIONS, erf } from '../../src/ops/activations.js';
import { Tensor } from '../../src/tensor.js';
import { awayFrom, checkOp } from '../autograd/check.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

// [attrs, input range, kinks (kept away from in gradient checks)] per op.
const CASES: Record<string, [Record<string, number | string>, [number, number], number[]][]> = {
  Elu: [[{}, [-4, 4], [0]], [{ alpha: 0.5 }, [-4, 4], [0]]],
  Selu: [[{}, [-4, 4], [0]], [{ alpha: 2, gamma: 3 }, [-4, 4], [0]]],
  Celu: [[{}, [-4, 4], [0]], [{ alpha: 2 }, [-4, 4], [0]]],
  ThresholdedRelu: [[{}, [-3, 3], [1]], [{ alpha: -0.5 }, [-3, 3], [-0.5]]],
  Shrink: [[{}, [-3, 3], [-0.5, 0.5]], [{ bias: 1.5, lambd: 1 }, [-3, 3], [-1, 1]]],
  Softplus: [[{}, [-30, 30], []]],
  Softsign: [[{}, [-5, 5], [0]]],
  Mish: [[{}, [-8, 8], []]],
  Erf: [[{}, [-4.5, 4.5], []]],
  Gelu: [[{}, [-5, 5], []], [{ approximate: 'tanh' }, [-5, 5], []]],
  Sin: [[{}, [-6, 6], []]],
  Cos: [[{}, [-6, 6], []]],
  Tan: [[{}, [-1.3, 1.3], []]],
  Asin: [[{}, [-0.95, 0.95], []]],
  Acos: [[{}, [-0.95, 0.95], []]],
  Atan: [[{}, [-6, 6], []]],
  Sinh: [[{}, [-4, 4], []]],
  Cosh: [[{}, [-4, 4], []]],
  Asinh: [[{}, [-6, 6], []]],
  Acosh: [[{}, [1.1, 6], []]],
  Atanh: [[{}, [-0.9, 0.9], []]],
  Floor: [[{}, [-4, 4], [-4, -3, -2, -1, 0, 1, 2, 3, 4]]],
  Ceil: [[{}, [-4, 4], [-4, -3, -2, -1, 0, 1, 2, 3, 4]]],
  Round: [[{}, [-4, 4], [-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5]]],
  Sign: [[{}, [-4, 4], [0]]],
};

test('every op of activations.ts has cases', () => {
  assert.deepEqual(Object.keys(CASES).sort(), Object.keys(ACTIVATIONS).sort());
});

for (const [op, list] of Object.entries(CASES)) {
  for (const [attrs, [lo, hi], kinks] of list) {
    test(`${op} ${JSON.stringify(attrs)}: WebGPU matches the CPU reference`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
      const r = rng(op.length * 131 + Object.keys(attrs).length);
      for (const shape of [[1], [7], [3, 5, 13], [1, 3, 17, 19]]) {
        const x = randomTensor(shape, r, lo, hi);
        const { cpu, gpu: g } = await runBoth(gpu, op, [x], attrs);
        // lavapipe's transcendental functions are accurate to a few ulp; erf's approximation to 1.5e-7.
        assertClose(g![0], cpu[0], { atol: 2e-6, rtol: 2e-5 }, `${op} ${shape}`);
      }
    });
    test(`${op} ${JSON.stringify(attrs)}: gradient matches finite differences`, async () => {
      const r = rng(op.length * 37 + Object.keys(attrs).length);
      const x = awayFrom(randomTensor([2, 3, 5], r, lo, hi), kinks, 0.05);
      await checkOp(gpu, op, [x], attrs as Record<string, number>, { eps: 1e-2, samples: 30 });
    });
  }
}

test('CPU references give known values', async () => {
  const at = async (op: string, xs: number[], attrs = {}) => [...(await runBoth(null, op, [new Tensor([xs.length], xs)], attrs)).cpu[0].data];
  // erf from tables (Abramowitz & Stegun 7.1): erf(0.5) = 0.5204998778, erf(1) = 0.8427007929, erf(2) = 0.9953222650.
  for (const [x, e] of [[0.5, 0.5204998778], [1, 0.8427007929], [2, 0.995322265], [-1, -0.8427007929], [1e-4, 1.1283791671e-4]]) {
    assert.ok(Math.abs(erf(x) - e) <= 1e-9 * Math.max(1, Math.abs(e) * 1e3), `erf(${x}) = ${erf(x)}, expected ${e}`);
  }
  assert.deepEqual(await at('Elu', [-1, 0, 2]), [Math.expm1(-1), 0, 2].map(Math.fround));
  assert.deepEqual(await at('Selu', [0, 1]), [0, Math.fround(1.05070102214813232421875)]);
  assert.deepEqual(await at('ThresholdedRelu', [0.5, 1, 1.5]), [0, 0, 1.5]);
  assert.deepEqual(await at('Shrink', [-1, 0.2, 1]), [-1, 0, 1]);
  assert.deepEqual(await at('Shrink', [-2, 0.2, 2], { bias: 0.5, lambd: 1 }), [-1.5, 0, 1.5]);
  assert.deepEqual(await at('Round', [-2.5, -0.5, 0.5, 1.5, 2.5, 2.6]), [-2, -0, 0, 2, 2, 3]);
  assert.deepEqual(await at('Softsign', [-1, 0, 3]), [-0.5, 0, 0.75]);
  const gelu = await at('Gelu', [1]);
  assert.ok(Math.abs(gelu[0] - 0.8413447461) < 1e-6, `Gelu(1) = ${gelu[0]}`);
  await assert.rejects(runBoth(null, 'Gelu', [new Tensor([1], [0])], { approximate: 'fast' }), /approximate must be 'none' or 'tanh'/);
});
