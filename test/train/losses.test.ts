import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import type { Graph } from '../../src/graph/ir.js';
import { Tensor } from '../../src/tensor.js';
import { checkGradients } from '../gradcheck.js';
import { assertClose, oneNodeGraph, randInt, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

/** Labels [n] as floats, each a class index in [0, c). */
function randomLabels(n: number, c: number, rand: () => number): Tensor {
  return new Tensor([n], Array.from({ length: n }, () => randInt(rand, 0, c - 1)));
}

// [N, C]: one invocation per row (C <= 64) and one workgroup per row (C > 64), odd and prime
// sizes, a single row, a single class, more rows than a reduction workgroup (64), 1000 classes.
const SHAPES: [number, number][] = [
  [1, 1],
  [3, 7],
  [5, 64],
  [7, 65],
  [13, 97],
  [2, 1000],
  [37, 10],
  [131, 3],
  [300, 10],
];

// ---- SoftmaxCrossEntropyLoss ----

test('SoftmaxCrossEntropyLoss: uniform scores give log C, log_prob = -log C', async () => {
  for (const c of [1, 2, 10, 1000]) {
    const n = 3;
    const { cpu } = await runBoth(null, 'SoftmaxCrossEntropyLoss', [new Tensor([n, c], new Float32Array(n * c).fill(0.7)), new Tensor([n], [0, c - 1, Math.floor(c / 2)])], {}, 2);
    assert.deepEqual(cpu[0].shape, []);
    assert.ok(Math.abs(cpu[0].data[0] - Math.log(c)) < 1e-6, `C = ${c}: ${cpu[0].data[0]} vs log C = ${Math.log(c)}`);
    for (const v of cpu[1].data) assert.ok(Math.abs(v + Math.log(c)) < 1e-6);
  }
});

test('SoftmaxCrossEntropyLoss: known values by hand, mean and sum', async () => {
  // Row 0: scores [1, 2, 3], label 2: log(e + e² + e³) - 3 = 0.40760596.
  // Row 1: scores [0, ln 3, 0], label 0: log(1 + 3 + 1) - 0 = ln 5 = 1.60943791.
  const scores = new Tensor([2, 3], [1, 2, 3, 0, Math.log(3), 0]);
  const labels = new Tensor([2], [2, 0]);
  const mean = await runBoth(gpu, 'SoftmaxCrossEntropyLoss', [scores, labels], {}, 2);
  assert.ok(Math.abs(mean.cpu[0].data[0] - (0.40760596 + 1.60943791) / 2) < 1e-6);
  // log_prob of row 1: [-ln 5, ln 3 - ln 5, -ln 5].
  assertClose(mean.cpu[1], new Tensor([2, 3], [1 - 3.40760596, 2 - 3.40760596, -0.40760596, -Math.log(5), Math.log(3 / 5), -Math.log(5)]), { atol: 1e-6 });
  const sum = await runBoth(gpu, 'SoftmaxCrossEntropyLoss', [scores, labels], { reduction: 'sum' });
  assert.ok(Math.abs(sum.cpu[0].data[0] - (0.40760596 + 1.60943791)) < 1e-6);
  if (gpu) {
    assertClose(mean.gpu![0], mean.cpu[0], { atol: 1e-6, rtol: 1e-6 }, 'mean on WebGPU');
    assertClose(mean.gpu![1], mean.cpu[1], { atol: 1e-6, rtol: 1e-6 }, 'log_prob on WebGPU');
    assertClose(sum.gpu![0], sum.cpu[0], { atol: 1e-6, rtol: 1e-6 }, 'sum on WebGPU');
  }
});

test('SoftmaxCrossEntropyLoss: huge logits stay finite (log-sum-exp)', async () => {
  // [1000, 1001, -1000], label 1: log(1 + e) + 1000 - 1001 = log(1 + e) - 1 = 0.31326169.
  const scores = new Tensor([1, 3], [1000, 1001, -1000]);
  const { cpu, gpu: g } = await runBoth(gpu, 'SoftmaxCrossEntropyLoss', [scores, new Tensor([1], [1])], {}, 2);
  assert.ok(Math.abs(cpu[0].data[0] - 0.31326169) < 1e-6);
  assert.ok(cpu[1].data.every(Number.isFinite));
  if (g) {
    assertClose(g[0], cpu[0], { atol: 1e-5, rtol: 1e-5 }, 'loss on WebGPU');
    assertClose(g[1], cpu[1], { atol: 1e-4, rtol: 1e-6 }, 'log_prob on WebGPU');
  }
});

test('SoftmaxCrossEntropyLoss: WebGPU matches the CPU reference on random shapes', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(401);
  for (const [n, c] of SHAPES) {
    for (const reduction of ['mean', 'sum']) {
      const scores = randomTensor([n, c], r, -6, 6);
      const labels = randomLabels(n, c, r);
      const { cpu, gpu: g } = await runBoth(gpu, 'SoftmaxCrossEntropyLoss', [scores, labels], { reduction }, 2);
      // f32 exp/log against float64, and a sum over up to 300 rows in another order.
      assertClose(g![0], cpu[0], { atol: 1e-5, rtol: 1e-5 }, `loss [${n}, ${c}] ${reduction}`);
      assertClose(g![1], cpu[1], { atol: 1e-5, rtol: 1e-5 }, `log_prob [${n}, ${c}]`);
    }
  }
});

test('SoftmaxCrossEntropyLossGrad: (softmax - onehot)/N by hand, and WebGPU against the CPU', async () => {
  // Uniform scores over 4 classes, 2 rows, gy = 2: (1/4 - onehot)·2/2.
  const scores = new Tensor([2, 4], new Float32Array(8).fill(-3));
  const labels = new Tensor([2], [1, 3]);
  const { cpu, gpu: g } = await runBoth(gpu, 'SoftmaxCrossEntropyLossGrad', [scores, labels, new Tensor([], [2])]);
  assertClose(cpu[0], new Tensor([2, 4], [0.25, -0.75, 0.25, 0.25, 0.25, 0.25, 0.25, -0.75]), { atol: 1e-7 });
  if (g) assertClose(g[0], cpu[0], { atol: 1e-6, rtol: 1e-6 }, 'WebGPU');
  // 'sum' leaves out the 1/N.
  const sum = await runBoth(null, 'SoftmaxCrossEntropyLossGrad', [scores, labels, new Tensor([], [2])], { reduction: 'sum' });
  assertClose(sum.cpu[0], new Tensor([2, 4], [0.5, -1.5, 0.5, 0.5, 0.5, 0.5, 0.5, -1.5]), { atol: 1e-7 });

  if (!gpu) return;
  const r = rng(402);
  for (const [n, c] of SHAPES) {
    for (const reduction of ['mean', 'sum']) {
      const inputs = [randomTensor([n, c], r, -6, 6), randomLabels(n, c, r), randomTensor([1], r, 0.5, 2)];
      const out = await runBoth(gpu, 'SoftmaxCrossEntropyLossGrad', inputs, { reduction });
      assertClose(out.gpu![0], out.cpu[0], { atol: 1e-6, rtol: 1e-5 }, `gradient [${n}, ${c}] ${reduction}`);
    }
  }
});

test('SoftmaxCrossEntropyLoss: gradients against finite differences (loss and log_prob outputs)', async () => {
  const r = rng(403);
  for (const [n, c] of [[3, 5], [4, 70]] as const) {
    for (const reduction of ['mean', 'sum']) {
      const graph = oneNodeGraph('SoftmaxCrossEntropyLoss', [randomTensor([n, c], r, -2, 2), randomLabels(n, c, r)], { reduction }, 2);
      const feeds = { in0: randomTensor([n, c], r, -2, 2), in1: randomLabels(n, c, r) };
      await checkGradients(graph, feeds, ['in0'], { gpu, samples: 15 });
      // Through log_prob alone (and both outputs at once below).
      await checkGradients({ ...graph, outputs: ['out1'] }, feeds, ['in0'], { gpu, samples: 15 });
    }
  }
  // Both outputs feed the loss: the two gradients add up.
  const feeds = { s: randomTensor([3, 4], r, -2, 2), l: randomLabels(3, 4, r) };
  const both: Graph = {
    inputs: [
      { name: 's', shape: [3, 4] },
      { name: 'l', shape: [3] },
    ],
    outputs: ['y'],
    nodes: [
      { name: 'sce', op: 'SoftmaxCrossEntropyLoss', inputs: ['s', 'l'], outputs: ['loss', 'lp'], attrs: {} },
      { name: 'add', op: 'Add', inputs: ['lp', 'loss'], outputs: ['y'], attrs: {} },
    ],
    initializers: new Map(),
  };
  await checkGradients(both, feeds, ['s'], { gpu, samples: 12 });
});

test('SoftmaxCrossEntropyLoss: bad labels are an error on the CPU and NaN on WebGPU', async () => {
  const scores = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
  for (const bad of [3, -1, 1.5]) {
    const labels = new Tensor([2], [0, bad]);
    await assert.rejects(runBoth(null, 'SoftmaxCrossEntropyLoss', [scores, labels]), new RegExp(`labels\\[1\\] = ${bad} is not a class index in \\[0, 3\\)`));
    await assert.rejects(runBoth(null, 'SoftmaxCrossEntropyLossGrad', [scores, labels, new Tensor([], [1])]), /is not a class index/);
    if (!gpu) continue;
    const g = new GpuSession(gpu, oneNodeGraph('SoftmaxCrossEntropyLoss', [scores, labels]));
    try {
      const out = await g.run({ in0: scores, in1: labels });
      assert.ok(Number.isNaN(out.out0.data[0]), `label ${bad}: loss ${out.out0.data[0]} should be NaN`);
    } finally {
      g.dispose();
    }
    const gg = new GpuSession(gpu, oneNodeGraph('SoftmaxCrossEntropyLossGrad', [scores, labels, new Tensor([], [1])]));
    try {
      const out = await gg.run({ in0: scores, in1: labels, in2: new Tensor([], [1]) });
      assert.deepEqual([...out.out0.data.slice(0, 3)].map(Number.isNaN), [false, false, false], 'the good row is untouched');
      assert.ok(out.out0.data.slice(3).every(Number.isNaN), `label ${bad}: the bad row's gradient should be NaN`);
    } finally {
      gg.dispose();
    }
  }
});

test('SoftmaxCrossEntropyLoss: bad shapes and attributes are refused', () => {
  const shapeErr = (op: string, inputs: Tensor[], attrs: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => new CpuSession(oneNodeGraph(op, inputs, attrs as never)), re);
  const s = new Tensor([2, 3]);
  const l = new Tensor([2]);
  shapeErr('SoftmaxCrossEntropyLoss', [new Tensor([2, 3, 4]), l], {}, /scores \(input 0\) must be \[N, C\], got \[2, 3, 4\]/);
  shapeErr('SoftmaxCrossEntropyLoss', [new Tensor([0, 3]), new Tensor([0])], {}, /at least one row and one class/);
  shapeErr('SoftmaxCrossEntropyLoss', [s, new Tensor([3])], {}, /labels \(input 1\) must be \[2\]/);
  shapeErr('SoftmaxCrossEntropyLoss', [s, new Tensor([2, 1])], {}, /labels \(input 1\) must be \[2\]/);
  shapeErr('SoftmaxCrossEntropyLoss', [s, l], { reduction: 'none' }, /'reduction' must be 'mean' or 'sum'/);
  shapeErr('SoftmaxCrossEntropyLoss', [s, l], { ignore_index: 0 }, /'ignore_index' is not supported/);
  shapeErr('SoftmaxCrossEntropyLoss', [s, l, new Tensor([3])], {}, /takes 2 inputs, got 3/);
  shapeErr('SoftmaxCrossEntropyLossGrad', [s, l, new Tensor([2])], {}, /gradient must have one element, got \[2\]/);
});

// ---- DistillationLoss ----

test('DistillationLoss: known values by hand', async () => {
  // T = 1: teacher [ln 3, 0] -> p = [3/4, 1/4]; student [0, 0] -> q = [1/2, 1/2].
  // KL = 3/4·ln(3/2) + 1/4·ln(1/2) = 0.13081204.
  const s = new Tensor([1, 2], [0, 0]);
  const t = new Tensor([1, 2], [Math.log(3), 0]);
  const one = await runBoth(gpu, 'DistillationLoss', [s, t], { temperature: 1 }, 2);
  assert.ok(Math.abs(one.cpu[0].data[0] - 0.13081204) < 1e-7, `${one.cpu[0].data[0]}`);
  // T = 2: p = softmax([ln 3 / 2, 0]) = [√3, 1]/(√3 + 1) = [0.6339746, 0.3660254], q the same
  // [1/2, 1/2]; KL = 0.6339746·ln(1.2679492) + 0.3660254·ln(0.7320508)
  //               = 0.6339746·0.2374008 - 0.3660254·0.3119054 = 0.0363408; times T² = 4.
  const two = await runBoth(gpu, 'DistillationLoss', [s, t], { temperature: 2 }, 2);
  assert.ok(Math.abs(two.cpu[0].data[0] - 4 * 0.0363408) < 1e-6, `${two.cpu[0].data[0]}`);
  // Default T = 4; a batch of two rows, the second with student = teacher (KL 0): the mean halves row 0's.
  const batch = await runBoth(gpu, 'DistillationLoss', [new Tensor([2, 2], [0, 0, 5, -1]), new Tensor([2, 2], [Math.log(3), 0, 5, -1])], {}, 2);
  // Row 0 at T = 4: p = softmax([ln 3 / 4, 0]) = [a, 1]/(a + 1) with a = 3^(1/4), q = [1/2, 1/2].
  const a = 3 ** 0.25;
  const p = [a / (a + 1), 1 / (a + 1)];
  const kl0 = p[0] * Math.log(p[0] / 0.5) + p[1] * Math.log(p[1] / 0.5);
  assertClose(batch.cpu[1], new Tensor([2], [16 * kl0, 0]), { atol: 1e-6 }, 'per-example losses');
  assert.ok(Math.abs(batch.cpu[0].data[0] - 8 * kl0) < 1e-6);
  for (const r of [one, two, batch]) {
    if (r.gpu) {
      assertClose(r.gpu[0], r.cpu[0], { atol: 1e-6, rtol: 1e-5 }, 'loss on WebGPU');
      assertClose(r.gpu[1], r.cpu[1], { atol: 1e-6, rtol: 1e-5 }, 'rows on WebGPU');
    }
  }
});

test('DistillationLoss: identical logits give 0; huge logits stay finite', async () => {
  const r = rng(411);
  const x = randomTensor([4, 9], r, -3, 3);
  const { cpu } = await runBoth(null, 'DistillationLoss', [x, x], { temperature: 3 });
  assert.ok(Math.abs(cpu[0].data[0]) < 1e-7);
  const big = await runBoth(gpu, 'DistillationLoss', [new Tensor([1, 3], [1000, -1000, 0]), new Tensor([1, 3], [-1000, 1000, 0])], { temperature: 1 });
  // p puts all mass on class 1, where log q = -2000: KL = 2000.
  assert.ok(Math.abs(big.cpu[0].data[0] - 2000) < 1e-3, `${big.cpu[0].data[0]}`);
  if (big.gpu) assertClose(big.gpu[0], big.cpu[0], { atol: 1e-3, rtol: 1e-5 }, 'WebGPU');
});

test('DistillationLoss: WebGPU matches the CPU reference on random shapes and temperatures', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(412);
  // (Each shape and temperature is a pipeline of its own, slow to compile on lavapipe: two
  // temperatures, one of them not an integer; the default 4 is in the known values above.)
  for (const [n, c] of SHAPES) {
    for (const temperature of [1, 2.5]) {
      const s = randomTensor([n, c], r, -6, 6);
      const t = randomTensor([n, c], r, -6, 6);
      const { cpu, gpu: g } = await runBoth(gpu, 'DistillationLoss', [s, t], { temperature }, 2);
      // KL is a difference of nearby terms: f32 cancellation gives ~1e-6 absolute per row.
      assertClose(g![0], cpu[0], { atol: 2e-5, rtol: 1e-4 }, `loss [${n}, ${c}] T=${temperature}`);
      assertClose(g![1], cpu[1], { atol: 2e-5, rtol: 1e-4 }, `rows [${n}, ${c}] T=${temperature}`);
    }
  }
});

test('DistillationLossGrad: T·(q - p)/N by hand, per-row gradients, WebGPU against the CPU', async () => {
  // T = 1, the example above: q - p = [1/2 - 3/4, 1/2 - 1/4] = [-1/4, 1/4]; N = 1, gy = 3.
  const s = new Tensor([1, 2], [0, 0]);
  const t = new Tensor([1, 2], [Math.log(3), 0]);
  const { cpu, gpu: g } = await runBoth(gpu, 'DistillationLossGrad', [s, t, new Tensor([], [3])], { temperature: 1 });
  assertClose(cpu[0], new Tensor([1, 2], [-0.75, 0.75]), { atol: 1e-7 });
  if (g) assertClose(g[0], cpu[0], { atol: 1e-6, rtol: 1e-6 }, 'WebGPU');

  if (!gpu) return;
  const r = rng(413);
  for (const [i, [n, c]] of SHAPES.entries()) {
    // Temperatures alternate over the shapes (each is a pipeline of its own, slow to compile).
    const temperature = i % 2 ? 4 : 1.5;
    for (const gyShape of [[], [n]]) {
      const inputs = [randomTensor([n, c], r, -6, 6), randomTensor([n, c], r, -6, 6), randomTensor(gyShape, r, 0.5, 2)];
      const out = await runBoth(gpu, 'DistillationLossGrad', inputs, { temperature });
      assertClose(out.gpu![0], out.cpu[0], { atol: 1e-6, rtol: 1e-4 }, `gradient [${n}, ${c}] T=${temperature} gy [${gyShape}]`);
    }
  }
});

test('DistillationLoss: gradients against finite differences (loss and per-example outputs)', async () => {
  const r = rng(414);
  for (const [n, c] of [[3, 5], [2, 70]] as const) {
    for (const temperature of [1, 3]) {
      const graph = oneNodeGraph('DistillationLoss', [new Tensor([n, c]), new Tensor([n, c])], { temperature }, 2);
      const feeds = { in0: randomTensor([n, c], r, -3, 3), in1: randomTensor([n, c], r, -3, 3) };
      await checkGradients(graph, feeds, ['in0'], { gpu, samples: 15 });
      await checkGradients({ ...graph, outputs: ['out1'] }, feeds, ['in0'], { gpu, samples: 15 });
    }
  }
});

test('DistillationLoss: the teacher gets no gradient', async () => {
  const { buildBackward } = await import('../../src/graph/autograd.js');
  const graph = oneNodeGraph('DistillationLoss', [new Tensor([2, 3]), new Tensor([2, 3])]);
  const back = buildBackward(graph, 'out0', ['in0', 'in1']);
  const out = await new CpuSession(back.graph).run({ in0: randomTensor([2, 3], rng(1)), in1: randomTensor([2, 3], rng(2)) });
  assert.ok(out[back.grads[1]].data.every((v) => v === 0), 'teacher gradient is zero');
  assert.ok(out[back.grads[0]].data.some((v) => v !== 0), 'student gradient is not');
});

test('DistillationLoss: bad shapes and attributes are refused', () => {
  const err = (inputs: Tensor[], attrs: Record<string, unknown>, re: RegExp, op = 'DistillationLoss') =>
    assert.throws(() => new CpuSession(oneNodeGraph(op, inputs, attrs as never)), re);
  const x = new Tensor([2, 3]);
  err([new Tensor([6]), new Tensor([6])], {}, /student logits \(input 0\) must be \[N, C\], got \[6\]/);
  err([x, new Tensor([2, 4])], {}, /teacher logits \(input 1\) must have the student's shape \[2, 3\], got \[2, 4\]/);
  for (const temperature of [0, -1]) err([x, x], { temperature }, /'temperature' must be a positive number/);
  err([x, x], { temperature: 'hot' }, /'temperature' must be a number/);
  err([x, x, new Tensor([3])], {}, /gradient must have one element \(the loss's\) or shape \[2\]/, 'DistillationLossGrad');
});
