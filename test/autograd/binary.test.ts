import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';
import { awayFrom, checkOp } from './check.js';

const gpu = await testGpu();

// Broadcast patterns: equal shapes, trailing vector, both sides expanded, rank difference,
// a scalar, a one-element tensor against a matrix, a middle axis.
const PATTERNS: [Shape, Shape][] = [
  [[2, 3, 5], [2, 3, 5]],
  [[2, 3, 5], [5]],
  [[3, 1], [1, 4]],
  [[2, 1, 5], [3, 1]],
  [[3, 5], []],
  [[1], [2, 3]],
  [[2, 3, 5], [1, 3, 1]],
];

/** Values of magnitude in [0.5, 2) with random signs: safe divisors. */
function nonZero(shape: Shape, r: () => number): Tensor {
  const t = randomTensor(shape, r, 0.5, 2);
  return new Tensor(shape, t.data.map((v) => (r() < 0.5 ? -v : v)));
}

for (const op of ['Add', 'Sub', 'Mul', 'Div']) {
  test(`${op}: gradients of both inputs under broadcasting`, async () => {
    const r = rng(op.charCodeAt(0) * 7 + op.length);
    for (const [sa, sb] of PATTERNS) {
      const a = randomTensor(sa, r, -2, 2);
      const b = op === 'Div' ? nonZero(sb, r) : randomTensor(sb, r, -2, 2);
      await checkOp(gpu, op, [a, b], {}, { samples: 8 });
      await checkOp(gpu, op, [b, a].map((t) => (op === 'Div' ? nonZero(t.shape, r) : t)), {}, { samples: 8 }); // the other side broadcast
    }
  });
}

test('Add/Mul: only the requested input gets a gradient node', async () => {
  const r = rng(5);
  await checkOp(gpu, 'Mul', [randomTensor([3, 4], r), randomTensor([4], r)], {}, { wrt: [1] });
  await checkOp(gpu, 'Sub', [randomTensor([3, 4], r), randomTensor([3, 1], r)], {}, { wrt: [1] });
  await checkOp(gpu, 'Div', [randomTensor([3, 4], r), nonZero([1, 4], r)], {}, { wrt: [1] });
});

test('Pow: gradient with respect to the base, positive and integer-exponent negative bases', async () => {
  const r = rng(11);
  // Positive bases, any exponent; exponent broadcast both ways.
  await checkOp(gpu, 'Pow', [randomTensor([2, 3, 5], r, 0.5, 2), randomTensor([5], r, -2, 2)], {}, { wrt: [0], samples: 15 });
  await checkOp(gpu, 'Pow', [randomTensor([5], r, 0.5, 2), randomTensor([3, 5], r, -2, 2)], {}, { wrt: [0] });
  // Negative bases with integer exponents (odd and even): b·a^(b-1) through pow_onnx.
  await checkOp(gpu, 'Pow', [nonZero([3, 4], r), new Tensor([4], [2, 3, 1, -1])], {}, { wrt: [0], samples: 12 });
  await checkOp(gpu, 'Pow', [nonZero([7], r), new Tensor([], [3])], {}, { wrt: [0] });
});

test('Pow: a gradient for the exponent is refused, naming the node', async () => {
  const r = rng(12);
  await assert.rejects(
    checkOp(null, 'Pow', [randomTensor([3], r, 0.5, 2), randomTensor([3], r)], {}, { wrt: [1] }),
    /node 'pow0' \(Pow\): Pow: no gradient with respect to the exponent/,
  );
});

test('PRelu: gradients of x and of the slope, per channel, shared and full', async () => {
  const r = rng(13);
  const x = () => awayFrom(randomTensor([2, 3, 4, 5], r, -2, 2), [0]);
  await checkOp(gpu, 'PRelu', [x(), randomTensor([3, 1, 1], r, 0.05, 0.5)], {}, { samples: 20 });
  await checkOp(gpu, 'PRelu', [x(), randomTensor([1], r, 0.05, 0.5)], {});
  await checkOp(gpu, 'PRelu', [x(), randomTensor([2, 3, 4, 5], r, 0.05, 0.5)], {}, { samples: 20 });
  await checkOp(gpu, 'PRelu', [x(), randomTensor([5], r, -0.5, 0.5)], {}, { samples: 20 });
});

test('PReluGrad: known values (x = 0 takes the slope side, as PyTorch does) and WebGPU against the CPU', async () => {
  const x = new Tensor([1, 2, 3], [-2, 0, 3, -1, 1, 0]);
  const s = new Tensor([2, 1], [0.5, 0.25]);
  const gy = new Tensor([1, 2, 3], [1, 2, 3, 4, 5, 6]);
  const { cpu, gpu: g } = await runBoth(gpu, 'PReluGrad', [x, s, gy], {}, 2);
  assert.deepEqual([...cpu[0].data], [0.5, 1, 3, 1, 5, 1.5]);
  assert.deepEqual([...cpu[1].data], [-2, 0, 0, -4, 0, 0]);
  if (g) g.forEach((t, k) => assertClose(t, cpu[k], { atol: 0, rtol: 0 }, `PReluGrad output ${k}`));
  if (gpu) {
    const r = rng(14);
    const big = [randomTensor([3, 7, 11, 13], r), randomTensor([7, 1, 1], r), randomTensor([3, 7, 11, 13], r)];
    const out = await runBoth(gpu, 'PReluGrad', big, {}, 2);
    out.gpu!.forEach((t, k) => assertClose(t, out.cpu[k], { atol: 1e-6, rtol: 1e-6 }, `PReluGrad big ${k}`));
  }
});

test('PReluGrad refuses a slope that does not broadcast to x and a gradient of another shape', async () => {
  const r = rng(15);
  const x = randomTensor([2, 3], r);
  await assert.rejects(runBoth(null, 'PReluGrad', [x, randomTensor([2, 1, 3], r), x], {}, 2), /slope of shape \[2, 1, 3\] does not broadcast to x/);
  await assert.rejects(runBoth(null, 'PReluGrad', [x, randomTensor([3], r), randomTensor([3, 2], r)], {}, 2), /gradient of shape \[3, 2\] does not match x of shape \[2, 3\]/);
});
