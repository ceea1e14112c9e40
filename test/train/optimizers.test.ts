import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession, type Session } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor.js';
import { appendOptimizer, optimizerUpdates, type OptimizerConfig } from '../../src/train/optimizers.js';
import { assertClose, oneNodeGraph, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

const W = new Tensor([3], [1, -2, 0.5]);
const G = new Tensor([3], [0.1, 0.2, -0.3]);
const lr = (x: number) => new Tensor([1], [x]);

// ---- SgdUpdate: torch.optim.SGD's formulas by hand ----

test('SgdUpdate: momentum and coupled weight decay, by hand', async () => {
  // momentum 0.9, weight_decay 0.01, lr 0.1, v = [0.5, 0, -1]:
  //   g + 0.01·w = [0.11, 0.18, -0.295]
  //   v' = 0.9·v + that = [0.56, 0.18, -1.195]
  //   w' = w - 0.1·v' = [0.944, -2.018, 0.6195]
  const v = new Tensor([3], [0.5, 0, -1]);
  const { cpu, gpu: g } = await runBoth(gpu, 'SgdUpdate', [W, G, v, lr(0.1)], { momentum: 0.9, weight_decay: 0.01 }, 2);
  assertClose(cpu[0], new Tensor([3], [0.944, -2.018, 0.6195]), { atol: 1e-6, rtol: 0 }, 'w');
  assertClose(cpu[1], new Tensor([3], [0.56, 0.18, -1.195]), { atol: 1e-6, rtol: 0 }, 'v');
  if (g) g.forEach((t, i) => assertClose(t, cpu[i], { atol: 1e-6, rtol: 1e-6 }, `WebGPU output ${i}`));

  // nesterov: w' = w - 0.1·(g' + 0.9·v') = w - 0.1·[0.614, 0.342, -1.3705] = [0.9386, -2.0342, 0.63705].
  const nes = await runBoth(gpu, 'SgdUpdate', [W, G, v, lr(0.1)], { momentum: 0.9, weight_decay: 0.01, nesterov: 1 }, 2);
  assertClose(nes.cpu[0], new Tensor([3], [0.9386, -2.0342, 0.63705]), { atol: 1e-6, rtol: 0 }, 'nesterov w');
  assertClose(nes.cpu[1], new Tensor([3], [0.56, 0.18, -1.195]), { atol: 1e-6, rtol: 0 }, 'nesterov v');
  if (nes.gpu) nes.gpu.forEach((t, i) => assertClose(t, nes.cpu[i], { atol: 1e-6, rtol: 1e-6 }, `WebGPU nesterov output ${i}`));

  // Plain SGD (momentum 0): w' = w - lr·g, v' = g. Defaults: momentum 0.9, no decay: first step
  // from v = 0 is v' = g, as torch initialises its buffer to the first gradient.
  const plain = await runBoth(null, 'SgdUpdate', [W, G, new Tensor([3], [7, 7, 7]), lr(0.1)], { momentum: 0 }, 2);
  assertClose(plain.cpu[0], new Tensor([3], [0.99, -2.02, 0.53]), { atol: 1e-6, rtol: 0 });
  assertClose(plain.cpu[1], G, { atol: 0, rtol: 0 });
  const first = await runBoth(null, 'SgdUpdate', [W, G, new Tensor([3]), lr(0.1)], {}, 2);
  assertClose(first.cpu[1], G, { atol: 0, rtol: 0 });
  assertClose(first.cpu[0], plain.cpu[0], { atol: 1e-7, rtol: 0 });
});

test('SgdUpdate: WebGPU matches the CPU reference for every attribute combination', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(501);
  for (const shape of [[1], [7], [3, 5, 7], [2, 3, 11, 13]]) {
    for (const momentum of [0, 0.9]) {
      for (const weight_decay of [0, 5e-4]) {
        for (const nesterov of momentum ? [0, 1] : [0]) {
          const inputs = [randomTensor(shape, r), randomTensor(shape, r), randomTensor(shape, r), lr(0.05)];
          const { cpu, gpu: g } = await runBoth(gpu, 'SgdUpdate', inputs, { momentum, weight_decay, nesterov }, 2);
          const what = `${shape} momentum ${momentum} wd ${weight_decay} nesterov ${nesterov}`;
          g!.forEach((t, i) => assertClose(t, cpu[i], { atol: 1e-6, rtol: 1e-5 }, `${what} output ${i}`));
        }
      }
    }
  }
});

// ---- AdamWUpdate: torch.optim.AdamW's formulas by hand ----

test('AdamWUpdate: first step and a later step, by hand', async () => {
  // t = 1 from zero moments, lr 0.01, weight_decay 0.01: w·(1 - 1e-4) = [0.9999, -1.9998, 0.49995];
  // m' = 0.1·g, v' = 0.001·g²; bias-corrected m'/0.1 = g, sqrt(v'/0.001) = |g|, so the step is
  // 0.01·g/(|g| + 1e-8): w' = [0.98990000, -2.00979999, 0.50994999].
  const zero = new Tensor([3]);
  const one = await runBoth(gpu, 'AdamWUpdate', [W, G, zero, zero, lr(0.01), new Tensor([1], [1])], {}, 3);
  assertClose(one.cpu[0], new Tensor([3], [0.989900001, -2.0097999995, 0.5099499997]), { atol: 1e-7, rtol: 0 }, 'w');
  assertClose(one.cpu[1], new Tensor([3], [0.01, 0.02, -0.03]), { atol: 1e-8, rtol: 0 }, 'm');
  assertClose(one.cpu[2], new Tensor([3], [1e-5, 4e-5, 9e-5]), { atol: 1e-11, rtol: 1e-6 }, 'v');
  if (one.gpu) one.gpu.forEach((t, i) => assertClose(t, one.cpu[i], { atol: 1e-7, rtol: 1e-5 }, `WebGPU output ${i}`));

  // t = 3, element 0: w 1, g 0.1, m 0.05, v 0.001, lr 0.001, weight_decay 0.1:
  //   decayed w = 1·(1 - 1e-4) = 0.9999
  //   m' = 0.9·0.05 + 0.1·0.1 = 0.055;  v' = 0.999·0.001 + 0.001·0.01 = 0.001009
  //   1 - 0.9³ = 0.271;  1 - 0.999³ = 0.002997001
  //   denom = sqrt(0.001009)/sqrt(0.002997001) + 1e-8 = 0.0317648/0.0547449 = 0.5802326
  //   w' = 0.9999 - (0.001/0.271)·0.055/0.5802326 = 0.9999 - 0.00034978 = 0.99955022
  const m = new Tensor([3], [0.05, -0.02, 0.01]);
  const v = new Tensor([3], [0.001, 0.0004, 0.0002]);
  const three = await runBoth(gpu, 'AdamWUpdate', [W, G, m, v, lr(0.001), new Tensor([1], [3])], { weight_decay: 0.1 }, 3);
  assert.ok(Math.abs(three.cpu[0].data[0] - 0.99955022) < 1e-7, `${three.cpu[0].data[0]}`);
  assert.ok(Math.abs(three.cpu[1].data[0] - 0.055) < 1e-8);
  assert.ok(Math.abs(three.cpu[2].data[0] - 0.001009) < 1e-9);
  if (three.gpu) three.gpu.forEach((t, i) => assertClose(t, three.cpu[i], { atol: 1e-7, rtol: 1e-5 }, `WebGPU t=3 output ${i}`));
});

test('AdamWUpdate: WebGPU matches the CPU reference on random shapes, steps and attributes', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(502);
  const attrSets = [{}, { beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weight_decay: 0 }, { beta1: 0, beta2: 0.5, weight_decay: 0.3 }];
  for (const shape of [[1], [7], [3, 5, 7], [2, 3, 11, 13]]) {
    for (const attrs of attrSets) {
      for (const t of [1, 2, 17, 1000]) {
        // Second moments are non-negative, as the optimiser keeps them.
        const inputs = [randomTensor(shape, r), randomTensor(shape, r), randomTensor(shape, r, -0.1, 0.1), randomTensor(shape, r, 0, 0.01), lr(3e-3), new Tensor([1], [t])];
        const { cpu, gpu: g } = await runBoth(gpu, 'AdamWUpdate', inputs, attrs, 3);
        // pow(beta, t) in f32 against float64: a few ulps on the bias corrections.
        g!.forEach((x, i) => assertClose(x, cpu[i], { atol: 1e-6, rtol: 1e-5 }, `${shape} ${JSON.stringify(attrs)} t=${t} output ${i}`));
      }
    }
  }
});

test('update ops: bad inputs and attributes are refused', async () => {
  const err = (op: string, inputs: Tensor[], attrs: Record<string, unknown>, re: RegExp) =>
    assert.throws(() => new CpuSession(oneNodeGraph(op, inputs, attrs as never, op === 'SgdUpdate' ? 2 : 3)), re);
  const w = new Tensor([2, 3]);
  const other = new Tensor([3, 2]);
  err('SgdUpdate', [w, other, w, lr(1)], {}, /gradient \(input 1\) must have the parameter's shape \[2, 3\], got \[3, 2\]/);
  err('SgdUpdate', [w, w, other, lr(1)], {}, /momentum buffer \(input 2\) must have/);
  err('SgdUpdate', [w, w, w, new Tensor([2])], {}, /learning rate \(input 3\) must have one element, got shape \[2\]/);
  err('SgdUpdate', [w, w, w, lr(1)], { momentum: -0.1 }, /'momentum' must be a finite number >= 0/);
  err('SgdUpdate', [w, w, w, lr(1)], { weight_decay: -1 }, /'weight_decay' must be a finite number >= 0/);
  err('SgdUpdate', [w, w, w, lr(1)], { nesterov: 2 }, /'nesterov' must be 0 or 1/);
  err('SgdUpdate', [w, w, w, lr(1)], { nesterov: 1, momentum: 0 }, /'nesterov' = 1 needs a momentum > 0/);
  err('SgdUpdate', [w, w, w], {}, /takes 4 inputs, got 3/);
  const t1 = new Tensor([1], [1]);
  err('AdamWUpdate', [w, w, other, w, lr(1), t1], {}, /first moment \(input 2\) must have/);
  err('AdamWUpdate', [w, w, w, other, lr(1), t1], {}, /second moment \(input 3\) must have/);
  err('AdamWUpdate', [w, w, w, w, lr(1), new Tensor([1, 2])], {}, /step count t \(input 5\) must have one element/);
  err('AdamWUpdate', [w, w, w, w, lr(1), t1], { beta1: 1 }, /'beta1' must be in \[0, 1\)/);
  err('AdamWUpdate', [w, w, w, w, lr(1), t1], { beta2: -0.5 }, /'beta2' must be in \[0, 1\)/);
  err('AdamWUpdate', [w, w, w, w, lr(1), t1], { epsilon: -1 }, /'epsilon' must be a finite number >= 0/);
  // t counts from 1; 0 (a 0-based step fed by mistake) would divide by a zero bias correction.
  await assert.rejects(runBoth(null, 'AdamWUpdate', [w, w, w, w, lr(1), new Tensor([1], [0])], {}, 3), /step count t \(input 5\) must be an integer >= 1/);
});

// ---- the optimiser API, through sessions with state ----

/** loss = Σ c·w for a constant c: the gradient is c at every step. */
function linearLoss(w0: Tensor, c: Tensor): Graph {
  return {
    inputs: [],
    outputs: ['loss'],
    nodes: [
      { name: 'mul', op: 'Mul', inputs: ['w', 'c'], outputs: ['cw'], attrs: {} },
      { name: 'sum', op: 'ReduceSum', inputs: ['cw'], outputs: ['loss'], attrs: { keepdims: 0 } },
    ],
    initializers: new Map([
      ['w', w0],
      ['c', c],
    ]),
  };
}

async function trainLinear(config: OptimizerConfig, steps: number, make: (g: Graph, state: [string, string][]) => Session) {
  const w0 = new Tensor([2, 3], [1, -1, 0.5, 2, 0, -3]);
  const c = new Tensor([2, 3], [0.5, -2, 1, 3, -0.25, 1.5]);
  const back = buildBackward(linearLoss(w0, c), 'loss', ['w']);
  const step = appendOptimizer(back.graph, config, ['w'], back.grads);
  assert.deepEqual(step.graph.outputs, ['loss'], 'gradients are no longer outputs');
  const s = make(step.graph, step.state);
  try {
    for (let i = 0; i < steps; i++) await s.run(step.feeds(i));
    return { w0, c, out: await s.read(step.state.map(([v]) => v)) };
  } finally {
    s.dispose();
  }
}

const backends: [string, (g: Graph, state: [string, string][]) => Session][] = [['cpu', (g, state) => new CpuSession(g, { state })]];
if (gpu) backends.push(['webgpu', (g, state) => new GpuSession(gpu, g, { state })]);

test('SGD through appendOptimizer: a constant gradient follows the closed form, on both backends', async () => {
  // v_k = c·(1 - μ^k)/(1 - μ); w_k = w_0 - lr·Σ_{j=1..k} v_j.
  const mu = 0.9;
  const k = 6;
  for (const [name, make] of backends) {
    const { w0, c, out } = await trainLinear({ kind: 'sgd', lr: 0.1, momentum: mu }, k, make);
    const vk = (j: number) => (1 - mu ** j) / (1 - mu);
    let sum = 0;
    for (let j = 1; j <= k; j++) sum += vk(j);
    assertClose(out.w, new Tensor(w0.shape, w0.data.map((w, i) => w - 0.1 * c.data[i] * sum)), { atol: 1e-5, rtol: 1e-5 }, `${name} w`);
    assertClose(out['w.momentum'], new Tensor(c.shape, c.data.map((x) => x * vk(k))), { atol: 1e-5, rtol: 1e-5 }, `${name} momentum`);
  }
});

test('AdamW through appendOptimizer: with a constant gradient every step is lr·sign(g) (bias correction exact)', async () => {
  // Constant g: the bias-corrected moments are exactly g and g², so each step moves w by
  // lr·g/(|g| + eps) after the decay w·(1 - lr·wd). Feeding t wrongly (0-based, or constant)
  // would break this.
  const lrv = 0.01;
  const wd = 0.05;
  const k = 5;
  for (const [name, make] of backends) {
    const { w0, c, out } = await trainLinear({ kind: 'adamw', lr: lrv, weightDecay: wd }, k, make);
    const expect = w0.data.map((w, i) => {
      let x = w;
      for (let j = 0; j < k; j++) x = x * (1 - lrv * wd) - (lrv * c.data[i]) / (Math.abs(c.data[i]) + 1e-8);
      return x;
    });
    assertClose(out.w, new Tensor(w0.shape, expect), { atol: 2e-6, rtol: 1e-5 }, `${name} w`);
    assertClose(out['w.adam_m'], new Tensor(c.shape, c.data.map((x) => x * (1 - 0.9 ** k))), { atol: 1e-6, rtol: 1e-5 }, `${name} m`);
    assertClose(out['w.adam_v'], new Tensor(c.shape, c.data.map((x) => x * x * (1 - 0.999 ** k))), { atol: 1e-7, rtol: 1e-4 }, `${name} v`);
  }
});

test('optimizerUpdates: nodes, zero moments, state pairs, inputs and feeds', () => {
  const params = [
    { name: 'conv.w', shape: [4, 3, 3, 3], grad: 'gw' },
    { name: 'conv.b', shape: [4], grad: 'gb' },
  ];
  const sgd = optimizerUpdates({ kind: 'sgd', lr: 0.1, nesterov: true, weightDecay: 1e-4 }, params);
  assert.deepEqual(
    sgd.nodes.map((n) => [n.op, n.inputs, n.outputs, n.attrs]),
    [
      ['SgdUpdate', ['conv.w', 'gw', 'conv.w.momentum', 'lr'], ['conv.w.next', 'conv.w.momentum.next'], { momentum: 0.9, weight_decay: 1e-4, nesterov: 1 }],
      ['SgdUpdate', ['conv.b', 'gb', 'conv.b.momentum', 'lr'], ['conv.b.next', 'conv.b.momentum.next'], { momentum: 0.9, weight_decay: 1e-4, nesterov: 1 }],
    ],
  );
  assert.deepEqual([...sgd.initializers.keys()], ['conv.w.momentum', 'conv.b.momentum']);
  assert.deepEqual(sgd.initializers.get('conv.w.momentum')!.shape, [4, 3, 3, 3]);
  assert.ok(sgd.initializers.get('conv.w.momentum')!.data.every((x) => x === 0));
  assert.deepEqual(sgd.state, [
    ['conv.w', 'conv.w.next'],
    ['conv.w.momentum', 'conv.w.momentum.next'],
    ['conv.b', 'conv.b.next'],
    ['conv.b.momentum', 'conv.b.momentum.next'],
  ]);
  assert.deepEqual(sgd.inputs, [{ name: 'lr', shape: [1] }]);
  assert.deepEqual(Object.keys(sgd.feeds(0)), ['lr']);
  assert.deepEqual([...sgd.feeds(3, 0.025).lr.data], [Math.fround(0.025)]);

  const adamw = optimizerUpdates({ kind: 'adamw', lr: 1e-3 }, params);
  assert.deepEqual(adamw.nodes[0].inputs, ['conv.w', 'gw', 'conv.w.adam_m', 'conv.w.adam_v', 'lr', 't']);
  assert.deepEqual(adamw.nodes[0].attrs, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weight_decay: 0.01 });
  assert.equal(adamw.state.length, 6);
  assert.deepEqual(adamw.inputs.map((i) => i.name), ['lr', 't']);
  const f = adamw.feeds(0);
  assert.deepEqual([f.lr.data[0], f.t.data[0]], [Math.fround(1e-3), 1], 't is 1-based');
  assert.equal(adamw.feeds(9).t.data[0], 10);
  assert.throws(() => adamw.feeds(-1), /step must be an integer >= 0/);
  assert.throws(() => optimizerUpdates({ kind: 'sgd', lr: NaN }, params), /lr must be a finite number >= 0/);
});

test('appendOptimizer: refuses parameters that are not initializers and names already taken', () => {
  const g = linearLoss(new Tensor([2], [1, 2]), new Tensor([2], [1, 1]));
  const back = buildBackward(g, 'loss', ['w']);
  assert.throws(() => appendOptimizer(back.graph, { kind: 'sgd', lr: 1 }, ['cw'], back.grads), /parameter 'cw' must be an initializer/);
  assert.throws(() => appendOptimizer(back.graph, { kind: 'sgd', lr: 1 }, ['w', 'c'], back.grads), /2 parameters but 1 gradients/);
  const taken: Graph = { ...back.graph, inputs: [{ name: 'lr', shape: [1] }] };
  assert.throws(() => appendOptimizer(taken, { kind: 'sgd', lr: 1 }, ['w'], back.grads), /value 'lr' is already a value of the graph/);
  // Bad hyperparameters surface when the graph is built, naming the attribute.
  const bad = appendOptimizer(back.graph, { kind: 'adamw', lr: 1, beta2: 1 }, ['w'], back.grads);
  assert.throws(() => new CpuSession(bad.graph, { state: bad.state }), /'beta2' must be in \[0, 1\)/);
});
