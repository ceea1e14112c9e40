// Gradients of LayerNormalization, InstanceNormalization and GroupNormalization (a chain of ops
// with kernels, ops/normalization.ts) against finite differences of the CPU reference, for X,
// Scale and B, on odd shapes; the WebGPU backward pass against the CPU's on some of them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import type { Graph } from '../../src/graph/ir.js';
import type { RawAttrs } from '../../src/ops/op.js';
import type { Shape } from '../../src/tensor.js';
import { oneNodeGraph, randomTensor, rng, testGpu } from '../helpers.js';
import { checkOp } from './check.js';

const gpu = await testGpu();

// [op, x, scale, bias (null: none), attrs, also on WebGPU]
const CASES: [string, Shape, Shape, Shape | null, RawAttrs, boolean][] = [
  ['LayerNormalization', [3, 7], [7], [7], {}, true],
  ['LayerNormalization', [2, 3, 5], [3, 5], null, { axis: 1, epsilon: 1e-3 }, false],
  ['LayerNormalization', [2, 5, 3], [1], [1], { axis: -2 }, false], // one Scale value for the row
  ['InstanceNormalization', [2, 3, 5, 3], [3], [3], {}, true],
  ['InstanceNormalization', [1, 2, 9], [2], [2], { epsilon: 1e-2 }, false],
  ['GroupNormalization', [2, 6, 3, 3], [3], [3], { num_groups: 3 }, true], // opset 18: per group
  ['GroupNormalization', [2, 6, 5], [6], [6], { num_groups: 2 }, true], // opset 21: per channel
  ['GroupNormalization', [1, 4, 3, 2], [4], [4], { num_groups: 4 }, false],
];

test('normalization ops: gradients of X, Scale and B against finite differences', async () => {
  const r = rng(81);
  for (const [op, x, scale, bias, attrs, onGpu] of CASES) {
    // Rows with spread-out values keep the variance away from 0, where 1/sqrt is steep.
    const inputs = [randomTensor(x, r, -2, 2), randomTensor(scale, r, 0.5, 1.5), ...(bias ? [randomTensor(bias, r)] : [])];
    await checkOp(onGpu ? gpu : null, op, inputs, attrs, { samples: 30, eps: 1e-2 });
  }
});

test('LayerNormalization: the Mean and InvStdDev outputs have no gradient, and say so', () => {
  const r = rng(82);
  const g = oneNodeGraph('LayerNormalization', [randomTensor([2, 3], r), randomTensor([3], r)], {}, 3, []);
  const loss: Graph = { ...g, outputs: ['loss'], nodes: [...g.nodes, { name: 'sum', op: 'ReduceSum', inputs: [g.outputs[1]], outputs: ['loss'], attrs: { keepdims: 0 } }] };
  assert.throws(() => buildBackward(loss, 'loss', ['in0']), /no gradient through the Mean and InvStdDev outputs/);
});
