// Gemm's and MatMul's gradients against finite differences (checkGradients), for every
// transA/transB, alpha and beta, every shape of C, and MatMul's batched, broadcast and 1-D forms;
// the WebGPU backward pass against the CPU's for a subset (each case compiles several kernels
// cold on lavapipe); the refusal of fused activations.
//
// Tolerances: checkGradients' (finite differences atol 2e-3, rtol 2e-2; WebGPU vs CPU atol 1e-4,
// rtol 1e-3). Gemm and MatMul are linear in each input, so central differences are exact up to
// float32 rounding of the loss.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import { type Shape } from '../../src/tensor.js';
import { oneNodeGraph, randomTensor, rng, testGpu } from '../helpers.js';
import { checkOp } from './check.js';

const gpu = await testGpu();

test('Gemm: every transA/transB, alpha and beta, every shape of C', async () => {
  const r = rng(51);
  const [M, K, N] = [3, 5, 7];
  const cShapes: (Shape | null)[] = [null, [M, N], [N], [1, N], [M, 1], [1, 1], []];
  let i = 0;
  for (const transA of [0, 1]) {
    for (const transB of [0, 1]) {
      for (const c of cShapes) {
        const ab = [randomTensor(transA ? [K, M] : [M, K], r), randomTensor(transB ? [N, K] : [K, N], r)];
        const inputs = c ? [...ab, randomTensor(c, r)] : ab;
        const scaled = i++ % 2 === 1;
        const attrs = { transA, transB, ...(scaled ? { alpha: -0.75, beta: 2.5 } : {}) };
        // The WebGPU backward for one C shape per trans combination.
        await checkOp(c && c.length === 1 ? gpu : null, 'Gemm', inputs, attrs, { samples: 20 });
      }
    }
  }
});

test('Gemm: beta = 0 gives C a zero gradient; constant inputs get none', async () => {
  const r = rng(52);
  const inputs = [randomTensor([4, 3], r), randomTensor([3, 5], r), randomTensor([4, 5], r)];
  await checkOp(null, 'Gemm', inputs, { beta: 0 });
  await checkOp(null, 'Gemm', inputs, { transA: 0, alpha: 3 }, { wrt: [1], constant: [true, false, true] });
});

test('MatMul: 2-D, batched, broadcast batch dims and 1-D operands', async () => {
  const r = rng(53);
  // [A, B, also on WebGPU]
  const cases: [Shape, Shape, boolean][] = [
    [[3, 5], [5, 7], true],
    [[2, 3, 5], [2, 5, 4], true], // batched
    [[2, 1, 3, 5], [3, 5, 4], true], // broadcast both ways: batch [2, 3]
    [[3, 5], [2, 5, 4], false], // A shared across B's batch
    [[2, 3, 5], [5, 4], true], // B shared across A's batch (Gemm over folded rows)
    [[3, 2, 3, 5], [5, 4], false],
    [[5], [2, 5, 4], false], // 1-D A
    [[2, 3, 5], [5], true], // 1-D B
    [[5], [5], false], // dot product
    [[5], [5, 3], false],
    [[3, 5], [5], false],
  ];
  for (const [a, b, onGpu] of cases) {
    await checkOp(onGpu ? gpu : null, 'MatMul', [randomTensor(a, r), randomTensor(b, r)], {}, { samples: 20 });
  }
});

test('Gemm and MatMul with a fused activation refuse to be differentiated', () => {
  const r = rng(54);
  const relu = { activation: { op: 'Relu', attrs: {} } };
  for (const op of ['Gemm', 'MatMul']) {
    const graph = oneNodeGraph(op, [randomTensor([2, 3], r), randomTensor([3, 4], r)], relu);
    const loss = { ...graph, outputs: ['loss'], nodes: [...graph.nodes, { name: 'sum', op: 'ReduceSum', inputs: ['out0'], outputs: ['loss'], attrs: { keepdims: 0 } }] };
    assert.throws(() => buildBackward(loss, 'loss', ['in0']), new RegExp(`\\(${op}\\): ${op}: cannot differentiate a fused activation \\(Relu\\)`));
  }
});
