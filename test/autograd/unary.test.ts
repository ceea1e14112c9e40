import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UNARY } from '../../src/ops/unary.js';
import { ACTIVATIONS } from '../../src/ops/activations.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';
import { awayFrom, checkOp } from './check.js';

const gpu = await testGpu();

// [attrs, input range, kinks to keep away from] per activation and attribute set.
const CASES: Record<string, [Record<string, number>, [number, number], number[]][]> = {
  Relu: [[{}, [-2, 2], [0]]],
  LeakyRelu: [
    [{}, [-2, 2], [0]],
    [{ alpha: 0.3 }, [-2, 2], [0]],
  ],
  Clip: [
    [{ min: -0.5, max: 0.25 }, [-1, 1], [-0.5, 0.25]],
    [{ min: 0 }, [-2, 2], [0]],
    [{}, [-2, 2], []],
  ],
  Sigmoid: [[{}, [-4, 4], []]],
  HardSigmoid: [
    [{}, [-4, 4], [-2.5, 2.5]],
    [{ alpha: 0.3, beta: 0.1 }, [-4, 4], [-1 / 3, 3]],
  ],
  HardSwish: [[{}, [-5, 5], [-3, 3]]],
  Tanh: [[{}, [-3, 3], []]],
  Exp: [[{}, [-2, 2], []]],
  Sqrt: [[{}, [0.5, 3], []]],
  Neg: [[{}, [-2, 2], []]],
  Abs: [[{}, [-2, 2], [0]]],
  Log: [[{}, [0.5, 3], []]],
  Reciprocal: [[{}, [0.5, 2], []]],
};

test('every unary op has gradient cases', () => {
  assert.deepEqual(Object.keys(CASES).sort(), Object.keys(UNARY).filter((op) => !(op in ACTIVATIONS)).sort()); // ACTIVATIONS: test/ops/activations.test.ts
});

for (const [op, list] of Object.entries(CASES)) {
  for (const [attrs, [lo, hi], kinks] of list) {
    test(`${op} ${JSON.stringify(attrs)}: gradient matches finite differences (and WebGPU the CPU)`, async () => {
      const r = rng(op.length * 31 + Object.keys(attrs).length);
      for (const shape of [[7], [2, 3, 5]]) {
        const x = awayFrom(randomTensor(shape, r, lo, hi), kinks);
        // Reciprocal has f''' ~ 24/x^5 at 0.5: a smaller step keeps the central difference exact.
        await checkOp(gpu, op, [x], attrs, { eps: op === 'Reciprocal' ? 2e-3 : 1e-2, samples: 30 });
      }
    });
  }
}

test('UnaryGrad: known derivatives, kinks as PyTorch defines them', async () => {
  const x = new Tensor([7], [-4, -3, -0.5, 0, 0.25, 3, 4]);
  const gy = new Tensor([7], [1, 1, 1, 1, 1, 1, 1]);
  const d = async (op: string, attrs: Record<string, number> = {}) => {
    const { cpu, gpu: g } = await runBoth(gpu, 'UnaryGrad', [x, gy], { activation: { op, attrs } });
    if (g) assertClose(g[0], cpu[0], { atol: 1e-6, rtol: 1e-6 }, `UnaryGrad ${op} on WebGPU`);
    return [...cpu[0].data];
  };
  assert.deepEqual(await d('Relu'), [0, 0, 0, 0, 1, 1, 1]); // Relu'(0) = 0
  assert.deepEqual(await d('LeakyRelu', { alpha: 0.5 }), [0.5, 0.5, 0.5, 0.5, 1, 1, 1]); // alpha at 0
  assert.deepEqual(await d('Clip', { min: -0.5, max: 0.25 }), [0, 0, 1, 1, 1, 0, 0]); // closed range
  assert.deepEqual(await d('HardSigmoid'), [0, 0, 0.2, 0.2, 0.2, 0, 0].map(Math.fround)); // open range
  assert.deepEqual(await d('HardSwish'), [0, -0.5, 1 / 3, 0.5, 0.25 / 3 + 0.5, 1.5, 1].map(Math.fround));
  assert.deepEqual(await d('Abs'), [-1, -1, -1, 0, 1, 1, 1]);
  assert.deepEqual(await d('Neg'), [-1, -1, -1, -1, -1, -1, -1]);
  assert.deepEqual(await d('Sigmoid').then((v) => v[3]), 0.25);
  assert.deepEqual(await d('Tanh').then((v) => v[3]), 1);
  // The upstream gradient multiplies.
  const { cpu } = await runBoth(null, 'UnaryGrad', [x, new Tensor([7], [1, 2, 3, 4, 5, 6, 7])], { activation: { op: 'Relu', attrs: {} } });
  assert.deepEqual([...cpu[0].data], [0, 0, 0, 0, 5, 6, 7]);
});

test('UnaryGrad: WebGPU matches the CPU on a larger odd shape for every activation', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(77);
  for (const [op, list] of Object.entries(CASES)) {
    const [attrs, [lo, hi]] = list[list.length - 1];
    const x = randomTensor([3, 5, 17, 19], r, lo, hi);
    const gy = randomTensor([3, 5, 17, 19], r);
    const { cpu, gpu: g } = await runBoth(gpu, 'UnaryGrad', [x, gy], { activation: { op, attrs } });
    assertClose(g![0], cpu[0], { atol: 1e-6, rtol: 1e-5 }, `UnaryGrad ${op}`);
  }
});

test('UnaryGrad refuses a missing or unknown activation and mismatched shapes', async () => {
  const x = new Tensor([3], [1, 2, 3]);
  await assert.rejects(runBoth(null, 'UnaryGrad', [x, x]), /attribute 'activation' is required/);
  await assert.rejects(runBoth(null, 'UnaryGrad', [x, x], { activation: { op: 'Softmax', attrs: {} } }), /Softmax is not an elementwise unary op/);
  await assert.rejects(runBoth(null, 'UnaryGrad', [x, new Tensor([1, 3], [1, 2, 3])], { activation: { op: 'Relu', attrs: {} } }), /gradient of shape \[1, 3\] does not match x of shape \[3\]/);
});
