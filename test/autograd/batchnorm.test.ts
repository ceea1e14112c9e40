// BatchNormalization in training mode (batch statistics, running statistics) and the gradients of
// both modes through BatchNormGrad.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';
import { checkOp } from './check.js';

const gpu = await testGpu();

/** X plus scale, B, mean and a positive variance, all of parameter shape `p`. */
function inputs(x: Shape, p: Shape, r: () => number): Tensor[] {
  return [randomTensor(x, r, -3, 3), randomTensor(p, r, 0.5, 2), randomTensor(p, r, -1, 1), randomTensor(p, r, -1, 1), randomTensor(p, r, 0.05, 2)];
}

// [x, parameter shape, attrs]: ranks 2 to 5, channels longer than a workgroup (M > 64),
// per-element parameters (spatial = 0, also flat), epsilon and momentum.
const SHAPES: [Shape, Shape, RawAttrs][] = [
  [[5, 3], [3], {}],
  [[2, 3, 5, 7], [3], {}],
  [[3, 13, 11], [13], { epsilon: 1e-3, momentum: 0.8 }],
  [[1, 4, 3, 5, 2], [4], {}],
  [[4, 5, 17, 19], [5], { momentum: 0 }],
  [[3, 2, 5], [2, 5], { spatial: 0 }],
  [[3, 2, 5], [10], { spatial: 0, momentum: 0.5 }],
];

test('training mode: batch statistics and running statistics, known values', async () => {
  // x: [N=2, C=2, 2]; channel 0 holds 1, 2, 3, 6 (mean 3, biased var 3.5), channel 1 holds 0, 0, 4, 4 (mean 2, var 4).
  const x = new Tensor([2, 2, 2], [1, 2, 0, 0, 3, 6, 4, 4]);
  const scale = new Tensor([2], [2, 1]);
  const b = new Tensor([2], [1, -1]);
  const mean = new Tensor([2], [0, 10]);
  const variance = new Tensor([2], [1, 2]);
  const { cpu, gpu: g } = await runBoth(gpu, 'BatchNormalization', [x, scale, b, mean, variance], { training_mode: 1, epsilon: 0 }, 3);
  const s0 = Math.sqrt(3.5);
  assertClose(cpu[0], new Tensor([2, 2, 2], [(-2 / s0) * 2 + 1, (-1 / s0) * 2 + 1, -2, -2, 1, (3 / s0) * 2 + 1, 0, 0]), { atol: 0, rtol: 1e-6 }, 'Y');
  // running = input · 0.9 + batch · 0.1, with the biased batch variance (ONNX).
  assertClose(cpu[1], new Tensor([2], [0.3, 9.2]), { atol: 0, rtol: 1e-6 }, 'running_mean');
  assertClose(cpu[2], new Tensor([2], [1.25, 2.2]), { atol: 0, rtol: 1e-6 }, 'running_var');
  if (g) g.forEach((t, k) => assertClose(t, cpu[k], { atol: 1e-6, rtol: 1e-6 }, `WebGPU output ${k}`));
});

test('training mode: WebGPU matches the CPU reference (Y and running statistics)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(41);
  for (const [x, p, attrs] of SHAPES) {
    const { cpu, gpu: g } = await runBoth(gpu, 'BatchNormalization', inputs(x, p, r), { ...attrs, training_mode: 1 }, 3);
    cpu.forEach((t, k) => assertClose(g![k], t, { atol: 1e-5, rtol: 1e-5 }, `BN training ${JSON.stringify(x)} ${JSON.stringify(attrs)} output ${k}`));
  }
});

test('training mode on WebGPU with only Y named: the running statistics go to a scratch buffer', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(42);
  const ins = inputs([2, 3, 5, 7], [3], r);
  const names = ins.map((_, i) => `in${i}`);
  const graph: Graph = {
    inputs: ins.map((t, i) => ({ name: names[i], shape: t.shape })),
    outputs: ['y'],
    nodes: [{ name: 'bn', op: 'BatchNormalization', inputs: names, outputs: ['y'], attrs: { training_mode: 1 } }],
    initializers: new Map(),
  };
  const feeds = Object.fromEntries(ins.map((t, i) => [names[i], t]));
  const want = (await new CpuSession(graph).run(feeds)).y;
  const s = new GpuSession(gpu!, graph);
  try {
    assertClose((await s.run(feeds)).y, want, { atol: 1e-5, rtol: 1e-5 }, 'Y');
  } finally {
    s.dispose();
  }
});

test('training mode: gradients of X, scale and B; input_mean and input_var get zeros', async () => {
  const r = rng(43);
  for (const [x, p, attrs] of SHAPES.filter(([x]) => x.reduce((a, b) => a * b, 1) < 500)) {
    await checkOp(gpu, 'BatchNormalization', inputs(x, p, r), { ...attrs, training_mode: 1 }, { samples: 15, atol: 3e-3 });
  }
});

test('inference mode: gradients of every input (frozen statistics: a per-channel affine map)', async () => {
  const r = rng(44);
  for (const [x, p, attrs] of SHAPES.filter(([x]) => x.reduce((a, b) => a * b, 1) < 500)) {
    await checkOp(gpu, 'BatchNormalization', inputs(x, p, r), attrs, { samples: 15 });
  }
});

test('BatchNormGrad: WebGPU matches the CPU on larger shapes, both modes', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(45);
  for (const [x, p, attrs] of SHAPES) {
    const [X, scale, , mean, variance] = inputs(x, p, r);
    const gy = randomTensor(x, r);
    for (const training_mode of [0, 1]) {
      const a = { epsilon: attrs.epsilon, spatial: attrs.spatial, training_mode };
      const outs = training_mode ? 3 : 5;
      const { cpu, gpu: g } = await runBoth(gpu, 'BatchNormGrad', [X, scale, mean, variance, gy], a, outs);
      cpu.forEach((t, k) => assertClose(g![k], t, { atol: 1e-4, rtol: 1e-4 }, `BatchNormGrad ${JSON.stringify(x)} mode ${training_mode} output ${k}`));
    }
  }
});

test('BatchNormGrad: known values in training mode', async () => {
  // One channel of x = [1, 3] (mean 2, var 1, so x̂ = [-1, 1]), epsilon 0, scale 2, gy = [1, 0]:
  // gB = 1, gscale = Σ gy·x̂ = -1, gx = 2·(gy - gB/2 - x̂·gscale/2) = [0, 0] (a batch of two
  // normalises to [-1, 1] whatever its values, so y does not move with x).
  const x = new Tensor([2, 1], [1, 3]);
  const p = (v: number) => new Tensor([1], [v]);
  const run = async (gy: number[]) => (await runBoth(gpu, 'BatchNormGrad', [x, p(2), p(0), p(1), new Tensor([2, 1], gy)], { training_mode: 1, epsilon: 0 }, 3)).cpu;
  const [gx, gscale, gb] = await run([1, 0]);
  assert.deepEqual([...gx.data, ...gscale.data, ...gb.data], [0, 0, -1, 1]);
  // Three points: x = [0, 1, 5] (mean 2, var 14/3), gy = [1, 0, 0].
  const x3 = new Tensor([3, 1], [0, 1, 5]);
  const [g3] = (await runBoth(gpu, 'BatchNormGrad', [x3, p(1), p(0), p(1), new Tensor([3, 1], [1, 0, 0])], { training_mode: 1, epsilon: 0 }, 3)).cpu;
  const inv = 1 / Math.sqrt(14 / 3);
  const xh = [-2 * inv, -1 * inv, 3 * inv];
  const gs = xh[0]; // Σ gy·x̂
  const want = [1, 0, 0].map((gyv, i) => inv * (gyv - 1 / 3 - (xh[i] * gs) / 3));
  assertClose(g3, new Tensor([3, 1], want), { atol: 1e-7, rtol: 1e-6 }, 'gx of a 3-point batch');
});

test('BatchNormalization: no gradient through the running statistics; bad BatchNormGrad inputs', async () => {
  const r = rng(46);
  const ins = inputs([2, 3, 4], [3], r);
  const names = ins.map((_, i) => `in${i}`);
  const graph: Graph = {
    inputs: ins.map((t, i) => ({ name: names[i], shape: t.shape })),
    outputs: ['loss'],
    nodes: [
      { name: 'bn', op: 'BatchNormalization', inputs: names, outputs: ['y', 'rm', 'rv'], attrs: { training_mode: 1 } },
      { name: 'sum', op: 'ReduceSum', inputs: ['rm'], outputs: ['loss'], attrs: { keepdims: 0 } },
    ],
    initializers: new Map(),
  };
  assert.throws(() => buildBackward(graph, 'loss', ['in0']), /node 'bn' \(BatchNormalization\): running_mean and running_var are running statistics/);
  await assert.rejects(runBoth(null, 'BatchNormalization', ins, { training_mode: 2 }), /'training_mode' must be 0 or 1, got 2/);
  const [x, scale, , mean, variance] = ins;
  await assert.rejects(runBoth(null, 'BatchNormGrad', [x, scale, mean, variance, randomTensor([2, 3], r)], {}, 5), /gradient of shape \[2, 3\] does not match X of shape \[2, 3, 4\]/);
  await assert.rejects(runBoth(null, 'BatchNormGrad', [x, randomTensor([4], r), mean, variance, x], {}, 5), /input scale has shape \[4\], expected \[3\]/);
});
