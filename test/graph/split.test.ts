// Oversize GEMM weights split along N (src/graph/split.ts): the split graph computes what the
// original does (CPU reference, exactly: each output element is the same dot product), and a
// WebGPU session with a small binding limit splits on its own and agrees with the CPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { splitOversizeWeights } from '../../src/graph/split.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const r = rng(4242);

/** x [m, k] -> op(x, W, b?) -> y, optionally with a fused Relu. */
function fc(op: 'Gemm' | 'MatMul', xShape: number[], w: Tensor, attrs: Record<string, unknown>, bias?: Tensor): Graph {
  const inputs = ['x', 'w', ...(bias ? ['b'] : [])];
  const initializers = new Map<string, Tensor>([['w', w], ...(bias ? ([['b', bias]] as [string, Tensor][]) : [])]);
  return { inputs: [{ name: 'x', shape: xShape }], outputs: ['y'], nodes: [{ name: 'fc', op, inputs, outputs: ['y'], attrs: attrs as never }], initializers };
}

const CASES: [string, Graph, number][] = [
  ['Gemm transB, bias [N], Relu', fc('Gemm', [3, 37], randomTensor([101, 37], r), { transB: 1, activation: { op: 'Relu', attrs: {} } }, randomTensor([101], r)), 37 * 4 * 16],
  ['Gemm, bias [M, N], alpha/beta', fc('Gemm', [3, 37], randomTensor([37, 101], r), { alpha: 0.5, beta: 2 }, randomTensor([3, 101], r)), 37 * 4 * 30],
  ['Gemm transB, scalar bias', fc('Gemm', [2, 19], randomTensor([23, 19], r), { transB: 1 }, randomTensor([1], r)), 19 * 4 * 5],
  ['MatMul, batched A', fc('MatMul', [2, 3, 29], randomTensor([29, 53], r), {}), 29 * 4 * 7],
];

for (const [name, graph, limit] of CASES) {
  test(`${name}: split into blocks of columns under a ${limit}-byte binding, same outputs`, async () => {
    const split = splitOversizeWeights(graph, limit);
    const blocks = split.nodes.filter((n) => n.op === graph.nodes[0].op);
    assert.ok(blocks.length > 2, `expected several blocks, got ${blocks.length}`);
    assert.equal(split.nodes.at(-1)!.op, 'Concat');
    for (const b of blocks) assert.ok(split.initializers.get(b.inputs[1])!.size * 4 <= limit, `${b.name}'s weight fits the binding`);
    assert.ok(!split.initializers.has('w'), 'the whole weight is gone');
    const x = randomTensor(graph.inputs[0].shape, r);
    const want = (await new CpuSession(graph).run({ x })).y;
    const got = (await new CpuSession(split).run({ x })).y;
    assertClose(got, want, { atol: 0, rtol: 0 }, `${name} split on cpu`);
    if (gpu) {
      const s = new GpuSession(gpu, graph, { kernel: { maxStorageBufferBindingSize: limit } });
      try {
        assertClose((await s.run({ x })).y, want, { atol: 1e-5, rtol: 1e-5 }, `${name} on webgpu`);
      } finally {
        s.dispose();
      }
    }
  });
}

test('weights within the limit, and training state, are left whole', () => {
  const g = fc('Gemm', [3, 37], randomTensor([101, 37], r), { transB: 1 });
  assert.equal(splitOversizeWeights(g, 1 << 20), g);
  assert.equal(splitOversizeWeights(g, 1024, new Set(['w'])), g);
});
