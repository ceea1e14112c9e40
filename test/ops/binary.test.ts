import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BINARY } from '../../src/ops/binary.js';
import type { Activation } from '../../src/ops/op.js';
import { activationCpu } from '../../src/ops/unary.js';
import { coalesceDims } from '../../src/kernels/wgsl.js';
import { Tensor, sizeOf, type Shape } from '../../src/tensor.js';
import { assertClose, randInt, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

// Every broadcasting pattern, as [a, b]; each is also run swapped.
const PATTERNS: [Shape, Shape][] = [
  [[2, 3, 5, 7], [2, 3, 5, 7]], // same shape
  [[], [3, 5]], // rank-0 scalar
  [[1], [7, 3]], // one-element tensor
  [[3, 1, 1], [2, 3, 5, 7]], // per-channel [C,1,1] vs [N,C,H,W]
  [[1, 3, 1, 1], [2, 3, 5, 7]], // per-channel, same rank
  [[5, 7], [2, 3, 5, 7]], // rank difference 2
  [[7], [2, 3, 5, 7]], // rank difference 3, last dim
  [[2, 1, 7], [2, 3, 7]], // middle dim
  [[2, 1, 5], [3, 1]], // both sides broadcast, rank difference
  [[1, 3, 1, 7], [2, 1, 5, 1]], // both sides, alternating
  [[13, 1], [1, 17]], // outer product, primes
  [[0, 3], [3]], // empty output
];

// The slope of PRelu broadcasts only to x: [x, slope].
const PRELU_PATTERNS: [Shape, Shape][] = [
  [[2, 3, 5, 7], [2, 3, 5, 7]],
  [[2, 3, 5, 7], []],
  [[2, 3, 5, 7], [3, 1, 1]],
  [[2, 3, 5, 7], [1, 3, 1, 1]],
  [[2, 3, 5, 7], [7]],
  [[1, 11, 13], [11, 1]],
];

/** Operands in a range where each op is well-conditioned on both backends. */
function operands(op: string, [sa, sb]: [Shape, Shape], r: () => number): [Tensor, Tensor] {
  const a = randomTensor(sa, r, -4, 4);
  const b = randomTensor(sb, r, -4, 4);
  if (op === 'Div') b.data.forEach((v, i) => (b.data[i] = (v < 0 ? -1 : 1) * (0.5 + Math.abs(v) / 2))); // |b| >= 0.5
  if (op === 'Pow') {
    a.data.forEach((v, i) => (a.data[i] = 0.1 + Math.abs(v) * 0.7)); // base in [0.1, 2.9]
    b.data.forEach((v, i) => (b.data[i] = v * 0.75)); // exponent in [-3, 3]
  }
  return [a, b];
}

// Add/Sub/Mul are correctly rounded on both sides; WGSL allows Div 2.5 ulp and pow is exp2(b·log2 a).
const TOL: Record<string, { atol: number; rtol: number }> = {
  Add: { atol: 1e-6, rtol: 1e-6 },
  Sub: { atol: 1e-6, rtol: 1e-6 },
  Mul: { atol: 1e-6, rtol: 1e-6 },
  Div: { atol: 1e-6, rtol: 1e-5 },
  Pow: { atol: 1e-5, rtol: 1e-4 },
  PRelu: { atol: 1e-6, rtol: 1e-6 },
};

/** An independent broadcast: each element's operand coordinates by div/mod, no strides. */
function naive(op: string, a: Tensor, b: Tensor, out: Shape): Float32Array {
  const y = new Float32Array(sizeOf(out));
  const pick = (t: Tensor, coord: number[]) => {
    const lead = out.length - t.rank;
    let flat = 0;
    t.shape.forEach((d, k) => (flat = flat * d + (d === 1 ? 0 : coord[lead + k])));
    return t.data[flat];
  };
  for (let i = 0; i < y.length; i++) {
    const coord: number[] = [];
    let rest = i;
    for (let d = out.length - 1; d >= 0; d--) {
      coord[d] = rest % out[d];
      rest = Math.floor(rest / out[d]);
    }
    y[i] = BINARY[op].cpu(pick(a, coord), pick(b, coord));
  }
  return y;
}

test('every binary op has a tolerance', () => {
  assert.deepEqual(Object.keys(TOL).sort(), Object.keys(BINARY).sort());
});

for (const op of Object.keys(BINARY)) {
  const patterns = op === 'PRelu' ? PRELU_PATTERNS : PATTERNS.flatMap(([a, b]) => [[a, b], [b, a]] as [Shape, Shape][]);

  test(`${op}: CPU reference broadcasts like an independent div/mod broadcast`, async () => {
    const r = rng(op.length * 31 + 1);
    for (const p of patterns) {
      const [a, b] = operands(op, p, r);
      const { cpu } = await runBoth(null, op, [a, b]);
      assert.deepEqual(cpu[0].data, naive(op, a, b, cpu[0].shape), `${op} ${JSON.stringify(p)}`);
    }
  });

  test(`${op}: WebGPU matches the CPU reference on every broadcasting pattern`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(op.length * 131 + 7);
    for (const p of patterns) {
      const [a, b] = operands(op, p, r);
      const { cpu, gpu: g } = await runBoth(gpu, op, [a, b]);
      assertClose(g![0], cpu[0], TOL[op], `${op} ${JSON.stringify(p)}`);
    }
  });
}

test('binary ops on random shapes with random broadcast dims: WebGPU matches CPU', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(4242);
  const ops = Object.keys(BINARY).filter((op) => op !== 'PRelu');
  for (let t = 0; t < 12; t++) {
    const rank = randInt(r, 1, 5);
    const out = Array.from({ length: rank }, () => randInt(r, 1, 7));
    // Each operand drops some leading dims and sets some others to 1.
    const part = (): number[] => out.slice(randInt(r, 0, rank)).map((d) => (r() < 0.4 ? 1 : d));
    const op = ops[t % ops.length];
    const [a, b] = operands(op, [part(), part()], r);
    const { cpu, gpu: g } = await runBoth(gpu, op, [a, b]);
    assertClose(g![0], cpu[0], TOL[op], `${op} ${JSON.stringify([a.shape, b.shape])}`);
  }
});

test('Pow follows C pow for negative bases with integer exponents and x^0 = 1, on both backends', async () => {
  const base = [-2, -2, -2, -0.5, 0, 0, 2, 4, -3, 1.5];
  const exp = [3, 2, -3, 2, 0, 2, -1, 0.5, 0, -2];
  const want = [-8, 4, -0.125, 0.25, 1, 0, 0.5, 2, 1, 1 / 2.25];
  const { cpu, gpu: g } = await runBoth(gpu, 'Pow', [new Tensor([10], base), new Tensor([10], exp)]);
  assertClose(cpu[0], new Tensor([10], want), { atol: 0, rtol: 1e-7 }, 'Pow CPU');
  if (g) assertClose(g[0], cpu[0], TOL.Pow, 'Pow WebGPU');
  // Negative base, non-integer exponent: NaN (the CPU reference; WGSL leaves it undefined).
  const nan = await runBoth(null, 'Pow', [new Tensor([1], [-2]), new Tensor([1], [0.5])]);
  assert.ok(Number.isNaN(nan.cpu[0].data[0]));
});

test('CPU references give known values', async () => {
  const a = new Tensor([2, 1], [1, 2]);
  const b = new Tensor([3], [10, 20, 30]);
  const val = async (op: string, x: Tensor, y: Tensor) => {
    const out = (await runBoth(null, op, [x, y])).cpu[0];
    return { shape: [...out.shape], data: [...out.data] };
  };
  assert.deepEqual(await val('Add', a, b), { shape: [2, 3], data: [11, 21, 31, 12, 22, 32] });
  assert.deepEqual(await val('Sub', a, b), { shape: [2, 3], data: [-9, -19, -29, -8, -18, -28] });
  assert.deepEqual(await val('Sub', b, a), { shape: [2, 3], data: [9, 19, 29, 8, 18, 28] });
  assert.deepEqual(await val('Mul', a, b), { shape: [2, 3], data: [10, 20, 30, 20, 40, 60] });
  assert.deepEqual(await val('Div', b, new Tensor([], [4])), { shape: [3], data: [2.5, 5, 7.5] });
  // PRelu with a per-channel slope [C,1,1] on [1,C,1,2].
  const x = new Tensor([1, 2, 1, 2], [-2, 3, -4, 5]);
  const slope = new Tensor([2, 1, 1], [0.5, 0.25]);
  assert.deepEqual(await val('PRelu', x, slope), { shape: [1, 2, 1, 2], data: [-1, 3, -1, 5] });
});

test('coalesceDims merges what every operand walks contiguously and drops size-1 dims', () => {
  // Same shape: one flat walk.
  assert.deepEqual(coalesceDims([2, 3, 5, 7], [[105, 35, 7, 1], [105, 35, 7, 1]]), { dims: [210], strides: [[1], [1]] });
  // [C,1,1] against [N,C,H,W]: N, C, and H·W stay separate.
  assert.deepEqual(coalesceDims([2, 3, 5, 7], [[105, 35, 7, 1], [0, 1, 0, 0]]), { dims: [2, 3, 35], strides: [[105, 35, 1], [0, 1, 0]] });
  assert.deepEqual(coalesceDims([1, 4, 1], [[0, 1, 0]]), { dims: [4], strides: [[1]] });
});

test('non-broadcastable shapes are refused naming both shapes', async () => {
  const r = rng(5);
  await assert.rejects(runBoth(null, 'Add', [randomTensor([2, 3], r), randomTensor([3, 2], r)]), /\[2, 3\] and \[3, 2\] cannot be broadcast/);
  await assert.rejects(runBoth(null, 'Mul', [randomTensor([2, 3, 5, 7], r), randomTensor([3], r)]), /\[2, 3, 5, 7\] and \[3\] cannot be broadcast/);
  // PRelu: the slope may not grow x.
  await assert.rejects(runBoth(null, 'PRelu', [randomTensor([3, 1], r), randomTensor([3, 4], r)]), /slope of shape \[3, 4\] does not broadcast to x of shape \[3, 1\]/);
  await assert.rejects(runBoth(null, 'PRelu', [randomTensor([5], r), randomTensor([2, 5], r)]), /slope of shape \[2, 5\]/);
  await assert.rejects(runBoth(null, 'Add', [randomTensor([2], r)]), /takes 2 to 6 inputs, got 1/);
});

test('a fused activation is applied to each result, on both backends (the residual Add + Relu of a ResNet)', async () => {
  const r = rng(77);
  const acts: Activation[] = [{ op: 'Relu', attrs: {} }, { op: 'LeakyRelu', attrs: { alpha: 0.1 } }, { op: 'HardSwish', attrs: {} }];
  for (const op of Object.keys(BINARY)) {
    for (const activation of acts) {
      const p: [Shape, Shape] = op === 'PRelu' ? [[2, 3, 5, 7], [3, 1, 1]] : [[2, 3, 5, 7], [1, 3, 1, 7]];
      const [a, b] = operands(op, p, r);
      const { cpu, gpu: g } = await runBoth(gpu, op, [a, b], { activation });
      const f = activationCpu(activation);
      assert.deepEqual(cpu[0].data, naive(op, a, b, cpu[0].shape).map(f), `${op}+${activation.op} CPU`);
      if (g) assertClose(g[0], cpu[0], TOL[op], `${op}+${activation.op} WebGPU`);
    }
  }
});
