import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UNARY } from '../../src/ops/unary.js';
import { ACTIVATIONS } from '../../src/ops/activations.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

const cases: Record<string, Record<string, number>[]> = {
  Relu: [{}],
  LeakyRelu: [{}, { alpha: 0.3 }],
  Clip: [{}, { min: -0.5, max: 0.25 }, { min: 0 }],
  Sigmoid: [{}],
  HardSigmoid: [{}, { alpha: 0.3, beta: 0.1 }],
  HardSwish: [{}],
  Sqrt: [{}],
  Exp: [{}],
  Tanh: [{}],
  Neg: [{}],
  Abs: [{}],
  Reciprocal: [{}],
  Log: [{}],
};

/** Input ranges for ops whose domain is not the whole line (default [-8, 8)). */
const domains: Record<string, [number, number]> = { Sqrt: [0, 8], Log: [1e-3, 8] };

test('every unary op has test cases', () => {
  assert.deepEqual(Object.keys(cases).sort(), Object.keys(UNARY).filter((op) => !(op in ACTIVATIONS)).sort()); // ACTIVATIONS: test/ops/activations.test.ts
});

for (const [op, attrList] of Object.entries(cases)) {
  for (const attrs of attrList) {
    test(`${op} ${JSON.stringify(attrs)}: WebGPU matches the CPU reference`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
      const r = rng(op.length * 977 + Object.keys(attrs).length);
      for (const shape of [[1], [7], [2, 3, 5, 7], [1, 3, 17, 19]]) {
        const [lo, hi] = domains[op] ?? [-8, 8];
        const x = randomTensor(shape, r, lo, hi);
        const { cpu, gpu: g } = await runBoth(gpu, op, [x], attrs);
        assertClose(g![0], cpu[0], { atol: 1e-6, rtol: 1e-5 }, `${op} ${shape}`);
      }
    });
  }
}

test('CPU references give known values', async () => {
  const x = [-3, -1, 0, 0.5, 4];
  const at = async (op: string, attrs = {}) => [...(await runBoth(null, op, [new (await import('../../src/tensor.js')).Tensor([5], x)], attrs)).cpu[0].data];
  assert.deepEqual(await at('Relu'), [0, 0, 0, 0.5, 4]);
  assert.deepEqual(await at('Clip', { min: -1, max: 1 }), [-1, -1, 0, 0.5, 1]);
  assert.deepEqual(await at('HardSwish'), [-0, -1 / 3, 0, 0.5 * (0.5 / 6 + 0.5), 4].map(Math.fround));
  assert.deepEqual(await at('Neg'), [3, 1, -0, -0.5, -4]);
  assert.deepEqual(await at('Abs'), [3, 1, 0, 0.5, 4]);
  assert.deepEqual(await at('Reciprocal'), [-1 / 3, -1, Infinity, 2, 0.25].map(Math.fround));
  assert.deepEqual(await at('Sqrt'), [NaN, NaN, 0, Math.SQRT1_2, 2].map(Math.fround));
  assert.deepEqual(await at('Log'), [NaN, NaN, -Infinity, -Math.LN2, 2 * Math.LN2].map(Math.fround));
  assert.deepEqual(await at('Exp'), [Math.exp(-3), 1 / Math.E, 1, Math.sqrt(Math.E), Math.exp(4)].map(Math.fround));
  assert.deepEqual(await at('Tanh'), [Math.tanh(-3), Math.tanh(-1), 0, Math.tanh(0.5), Math.tanh(4)].map(Math.fround));
});

test('Clip with min > max is refused with a clear error', async () => {
  const { Tensor } = await import('../../src/tensor.js');
  await assert.rejects(runBoth(null, 'Clip', [new Tensor([2], [0, 1])], { min: 1, max: 0 }), /min \(1\) is greater than max \(0\)/);
});

test('Tanh stays finite and saturates to ±1 for large |x| on WebGPU', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const { Tensor } = await import('../../src/tensor.js');
  const x = new Tensor([6], [-1e30, -100, -9.5, 9.5, 100, 1e30]);
  const { cpu, gpu: g } = await runBoth(gpu, 'Tanh', [x]);
  assert.deepEqual([...cpu[0].data], [-1, -1, -1, 1, 1, 1]);
  assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, 'Tanh large');
});
