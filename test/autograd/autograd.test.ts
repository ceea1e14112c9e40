// buildBackward itself: accumulation, values that do not reach the loss, errors; and a small
// network end to end through checkGradients.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor.js';
import { checkGradients } from '../gradcheck.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';
import { distinct } from './check.js';

const gpu = await testGpu();

/** loss = ReduceSum(op(x, ...)) as a graph, with x an input of shape `shape`. */
function sumOf(shape: number[], build: (b: GraphBuilder, x: string) => string): Graph {
  const b = new GraphBuilder();
  const x = b.input('x', shape);
  const y = build(b, x);
  return b.output(b.node('ReduceSum', [y], { keepdims: 0 }, 'loss')).build();
}

async function gradients(graph: Graph, feeds: Record<string, Tensor>, wrt: string[]): Promise<Tensor[]> {
  const back = buildBackward(graph, graph.outputs[0], wrt);
  const out = await new CpuSession(back.graph).run(feeds);
  return back.grads.map((g) => out[g]);
}

test('a value feeding two nodes (or one node twice) gets the sum of its gradients', async () => {
  const x = new Tensor([2, 3], [1, -2, 3, 0.5, 4, -1]);
  // d/dx Σ x·x = 2x: both inputs of one Mul are x.
  const square = sumOf([2, 3], (b, x) => b.node('Mul', [x, x]));
  const [g] = await gradients(square, { x }, ['x']);
  assertClose(g, new Tensor([2, 3], x.data.map((v) => 2 * v)), { atol: 0, rtol: 0 }, 'd Σx² / dx');
  // d/dx Σ (3x + x·w) = 3 + w: x read by two nodes whose results are added.
  const w = new Tensor([3], [10, 20, 30]);
  const twoUses = sumOf([2, 3], (b, x) => {
    const wv = b.constant(w, 'w');
    return b.node('Add', [b.node('Mul', [x, b.constant(new Tensor([], [3]))]), b.node('Mul', [x, wv])]);
  });
  const [gx, gw] = await gradients(twoUses, { x }, ['x', 'w']);
  assertClose(gx, new Tensor([2, 3], [13, 23, 33, 13, 23, 33]), { atol: 0, rtol: 0 }, 'd/dx');
  // d/dw Σ_rows x·w = column sums of x (broadcast reversed).
  assertClose(gw, new Tensor([3], [1.5, 2, 2]), { atol: 1e-6, rtol: 0 }, 'd/dw');
  await checkGradients(twoUses, { x: randomTensor([2, 3], rng(1)) }, ['x', 'w'], { gpu });
});

test('a value the loss does not depend on gets zeros of its shape; the loss itself gets 1', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', [3]);
  const unused = b.input('unused', [2, 2]);
  const side = b.node('Relu', [unused]); // computed, but not on the way to the loss
  const loss = b.node('ReduceSum', [b.node('Exp', [x])], { keepdims: 0 }, 'loss');
  const graph = b.output(loss).output(side).build();
  const xs = new Tensor([3], [0, 1, -1]);
  const [gx, gu, gl] = await gradients(graph, { x: xs, unused: new Tensor([2, 2], [1, 2, 3, 4]) }, ['x', 'unused', loss]);
  assertClose(gx, new Tensor([3], xs.data.map(Math.exp)), { atol: 0, rtol: 1e-6 }, 'd/dx');
  assert.deepEqual(gu.shape, [2, 2]);
  assert.deepEqual([...gu.data], [0, 0, 0, 0]);
  assert.deepEqual([...gl.data], [1]);
  // No gradient node reads the unrelated branch.
  const back = buildBackward(graph, loss, ['x', 'unused']);
  const added = back.graph.nodes.slice(graph.nodes.length);
  assert.ok(added.every((n) => !n.inputs.includes(side) && !n.inputs.includes(unused)), 'no backward node touches the unrelated branch');
});

test('only inputs in wrt get gradient nodes: a constant weight is not differentiated', () => {
  const b = new GraphBuilder();
  const x = b.input('x', [2, 3]);
  const w = b.constant(new Tensor([3], [1, 2, 3]), 'w');
  const graph = b.output(b.node('ReduceSum', [b.node('Mul', [x, w])], { keepdims: 0 })).build();
  const back = buildBackward(graph, graph.outputs[0], ['x']);
  const ops = back.graph.nodes.slice(graph.nodes.length).map((n) => n.op);
  // ReduceSum's gradient (a Reshape and a broadcasting Mul), then Mul's gradient for x only.
  assert.deepEqual(ops, ['Reshape', 'Mul', 'Mul']);
  assert.deepEqual(back.graph.outputs, [...graph.outputs, back.grads[0]]);
});

test('errors: an op without a gradient, a loss with more than one element, unknown names', () => {
  const noGrad = sumOf([2, 3], (b, x) => b.node('ReduceMax', [x], { axes: [1] }, 'rmax'));
  assert.throws(() => buildBackward(noGrad, 'loss_out', ['x']), /node 'rmax': op ReduceMax has no gradient, so it cannot be trained through/);
  // ...but a node without a gradient is fine where nothing to differentiate flows through it.
  const b = new GraphBuilder();
  const x = b.input('x', [2, 3]);
  const c = b.input('c', [2, 3]);
  const graph = b.output(b.node('ReduceSum', [b.node('Add', [x, b.node('ReduceMax', [c], { axes: [1] })])], { keepdims: 0 })).build();
  assert.doesNotThrow(() => buildBackward(graph, graph.outputs[0], ['x']));

  const vector = sumOf([2, 3], (b, x) => b.node('Relu', [x], {}, 'act'));
  assert.throws(() => buildBackward(vector, 'act_out', ['x']), /loss 'act_out' must have one element, has shape \[2,3\]/);
  assert.throws(() => buildBackward(vector, 'nope', ['x']), /loss value 'nope' is not in the graph/);
  assert.throws(() => buildBackward(vector, 'loss_out', ['y']), /cannot differentiate with respect to 'y': no such value/);
});

test('a small network end to end: BatchNormalization (training), Sigmoid, MaxPool, AveragePool, Concat, GlobalAveragePool, Softmax', async () => {
  const r = rng(7);
  const b = new GraphBuilder();
  const x = b.input('x', [3, 2, 6, 5]);
  const scale = b.constant(randomTensor([2], r, 0.5, 1.5), 'scale');
  const bias = b.constant(randomTensor([2], r, -0.5, 0.5), 'bias');
  const mean = b.constant(new Tensor([2]), 'mean');
  const variance = b.constant(new Tensor([2], [1, 1]), 'var');
  const bn = b.node('BatchNormalization', [x, scale, bias, mean, variance], { training_mode: 1 });
  const act = b.node('Sigmoid', [bn]);
  const pooled = b.node('MaxPool', [act], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 });
  const avg = b.node('AveragePool', [act], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  const both = b.node('Concat', [pooled, avg], { axis: 1 });
  const w = b.constant(randomTensor([4, 1, 1], r), 'w');
  const g = b.node('GlobalAveragePool', [b.node('Mul', [both, w])]);
  const logits = b.node('Flatten', [g]);
  const graph = b.output(b.node('Softmax', [logits])).build();
  // Distinct inputs keep MaxPool's argmax away from the perturbations: BatchNormalization (scale
  // > 0) and Sigmoid are increasing, so they keep the values' order and some of their spacing.
  const xs = distinct([3, 2, 6, 5], r, 0.05);
  await checkGradients(graph, { x: xs }, ['x', 'scale', 'bias', 'w'], { gpu, samples: 20, atol: 3e-3 });
});
