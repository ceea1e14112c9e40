// End to end: forward + loss + buildBackward + optimiser nodes, run as one graph per step with
// the parameters and moments as session state, on the CPU reference and on WebGPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession, type Session } from '../../src/graph/session.js';
import { getOp } from '../../src/ops/registry.js';
import { Tensor } from '../../src/tensor.js';
import { appendOptimizer, type OptimizerConfig } from '../../src/train/optimizers.js';
import { cosineSchedule, type Schedule } from '../../src/train/schedules.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();

const N = 24;
const C = 5;

/** Features [N, C] and labels: each row's class is the index of its largest feature. */
function dataset(seed: number) {
  const r = rng(seed);
  const x = randomTensor([N, C], r);
  const labels = new Tensor(
    [N],
    Array.from({ length: N }, (_, i) => {
      const row = [...x.data.subarray(i * C, (i + 1) * C)];
      return row.indexOf(Math.max(...row));
    }),
  );
  return { x, labels };
}

/**
 * logits = x·w + b with w, b of shape [1, C], broadcast over the batch. (MatMul has no gradient
 * yet, being written elsewhere; a broadcasting Mul and Add do, and still learn this task: a
 * larger w sharpens the softmax around each row's largest feature.)
 */
function perClassModel(loss: 'ce' | 'distill'): { graph: Graph; params: string[] } {
  const lossNode =
    loss === 'ce'
      ? { name: 'loss', op: 'SoftmaxCrossEntropyLoss', inputs: ['logits', 'labels'], outputs: ['loss'], attrs: {} }
      : { name: 'loss', op: 'DistillationLoss', inputs: ['logits', 'teacher'], outputs: ['loss'], attrs: { temperature: 2 } };
  return {
    graph: {
      inputs: [
        { name: 'x', shape: [N, C] },
        loss === 'ce' ? { name: 'labels', shape: [N] } : { name: 'teacher', shape: [N, C] },
      ],
      outputs: ['loss'],
      nodes: [
        { name: 'scale', op: 'Mul', inputs: ['x', 'w'], outputs: ['xw'], attrs: {} },
        { name: 'shift', op: 'Add', inputs: ['xw', 'b'], outputs: ['logits'], attrs: {} },
        lossNode,
      ],
      initializers: new Map([
        ['w', new Tensor([1, C], new Float32Array(C).fill(0.1))],
        ['b', new Tensor([1, C])],
      ]),
    },
    params: ['w', 'b'],
  };
}

/** x [N, F] · W [F, C] + b [C], then the cross-entropy. */
function linearModel(F: number): { graph: Graph; params: string[] } {
  const r = rng(77);
  return {
    graph: {
      inputs: [
        { name: 'x', shape: [N, F] },
        { name: 'labels', shape: [N] },
      ],
      outputs: ['loss'],
      nodes: [
        { name: 'fc', op: 'MatMul', inputs: ['x', 'W'], outputs: ['xW'], attrs: {} },
        { name: 'bias', op: 'Add', inputs: ['xW', 'b'], outputs: ['logits'], attrs: {} },
        { name: 'loss', op: 'SoftmaxCrossEntropyLoss', inputs: ['logits', 'labels'], outputs: ['loss'], attrs: {} },
      ],
      initializers: new Map([
        ['W', randomTensor([F, C], r, -0.1, 0.1)],
        ['b', new Tensor([C])],
      ]),
    },
    params: ['W', 'b'],
  };
}

type Backend = 'cpu' | 'webgpu';

/** Train for `steps` steps; the loss of every step and the parameters at the end. */
async function train(model: { graph: Graph; params: string[] }, feeds: Record<string, Tensor>, config: OptimizerConfig, steps: number, backend: Backend, schedule?: Schedule) {
  const back = buildBackward(model.graph, 'loss', model.params);
  const step = appendOptimizer(back.graph, config, model.params, back.grads);
  const s: Session = backend === 'cpu' ? new CpuSession(step.graph, { state: step.state }) : new GpuSession(gpu!, step.graph, { state: step.state });
  try {
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const out = await s.run({ ...feeds, ...step.feeds(i, schedule?.(i)) });
      losses.push(out.loss.data[0]);
    }
    return { losses, params: await s.read(step.state.map(([v]) => v)) };
  } finally {
    s.dispose();
  }
}

const backends: Backend[] = gpu ? ['cpu', 'webgpu'] : ['cpu'];

const CONFIGS: [string, OptimizerConfig, Schedule?][] = [
  ['SGD with momentum', { kind: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 1e-4 }],
  ['SGD, nesterov, cosine schedule with warm-up', { kind: 'sgd', lr: 0.5, momentum: 0.9, nesterov: true }, cosineSchedule(0.5, 50, 5)],
  ['AdamW', { kind: 'adamw', lr: 0.05 }],
];

for (const [what, config, schedule] of CONFIGS) {
  test(`training (Mul + Add + SoftmaxCrossEntropyLoss), ${what}: the loss falls over 50 steps`, async () => {
    const { x, labels } = dataset(1);
    for (const backend of backends) {
      const { losses } = await train(perClassModel('ce'), { x, labels }, config, 50, backend, schedule);
      // Starting near log C (w = 0.1 and b = 0 make nearly uniform logits).
      assert.ok(Math.abs(losses[0] - Math.log(C)) < 0.1, `${backend}: first loss ${losses[0]}`);
      assert.ok(losses[49] < 0.6 * losses[0], `${backend}: loss ${losses[0]} -> ${losses[49]}`);
      assert.ok(losses.every(Number.isFinite));
    }
  });
}

test('training: CPU and WebGPU give the same parameters and moments after 5 steps (1e-4)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const { x, labels } = dataset(2);
  for (const [what, config, schedule] of CONFIGS) {
    const cpu = await train(perClassModel('ce'), { x, labels }, config, 5, 'cpu', schedule);
    const web = await train(perClassModel('ce'), { x, labels }, config, 5, 'webgpu', schedule);
    for (const name of Object.keys(cpu.params)) assertClose(web.params[name], cpu.params[name], { atol: 1e-4, rtol: 0 }, `${what}: ${name}`);
    cpu.losses.forEach((l, i) => assert.ok(Math.abs(l - web.losses[i]) < 1e-4, `${what}: loss at step ${i}: ${l} vs ${web.losses[i]}`));
  }
});

test('distillation: a student fitted to a teacher\'s logits, on both backends', async () => {
  const r = rng(3);
  const x = randomTensor([N, C], r);
  // The teacher is the same model family with w = 3, b = [0.5, -0.5, 0, 0.2, -0.2]: reachable, so
  // the loss can go to 0.
  const bias = [0.5, -0.5, 0, 0.2, -0.2];
  const teacher = new Tensor([N, C], x.data.map((v, i) => 3 * v + bias[i % C]));
  const results = [];
  for (const backend of backends) {
    const { losses, params } = await train(perClassModel('distill'), { x, teacher }, { kind: 'adamw', lr: 0.1, weightDecay: 0 }, 50, backend);
    assert.ok(losses[49] < 0.1 * losses[0], `${backend}: distillation loss ${losses[0]} -> ${losses[49]}`);
    results.push(params);
  }
  if (results.length === 2) assertClose(results[1].w, results[0].w, { atol: 1e-3, rtol: 0 }, 'w after 50 steps, WebGPU against CPU');
});

const matMulHasGrad = !!getOp('MatMul').grad;

test('training (MatMul + Add + SoftmaxCrossEntropyLoss): the loss falls, and the backends agree', { skip: !matMulHasGrad && 'MatMul has no gradient yet' }, async () => {
  const F = 7;
  const r = rng(4);
  const x = randomTensor([N, F], r);
  // Labels from a random linear teacher, so the task is linearly separable.
  const T = randomTensor([F, C], r);
  const labels = new Tensor(
    [N],
    Array.from({ length: N }, (_, i) => {
      const z = Array.from({ length: C }, (_, c) => {
        let s = 0;
        for (let f = 0; f < F; f++) s += x.data[i * F + f] * T.data[f * C + c];
        return s;
      });
      return z.indexOf(Math.max(...z));
    }),
  );
  const config: OptimizerConfig = { kind: 'sgd', lr: 0.5, momentum: 0.9 };
  for (const backend of backends) {
    const { losses } = await train(linearModel(F), { x, labels }, config, 50, backend);
    assert.ok(losses[49] < 0.5 * losses[0], `${backend}: loss ${losses[0]} -> ${losses[49]}`);
  }
  if (gpu) {
    const cpu = await train(linearModel(F), { x, labels }, config, 5, 'cpu');
    const web = await train(linearModel(F), { x, labels }, config, 5, 'webgpu');
    for (const name of Object.keys(cpu.params)) assertClose(web.params[name], cpu.params[name], { atol: 1e-4, rtol: 0 }, `MatMul model: ${name}`);
  }
});
