// Compacted graphs back to standard ONNX: denseGraph expands every kept_rows Conv/Gemm to its
// dense form with zero weights in the eliminated rows (checked weight for weight against the
// zeroed graph made alongside the compaction), and the exported file runs in onnxruntime-node with
// the outputs deftnn computes for the compacted graph (tolerance 1e-5 absolute + 1e-4 relative:
// the same sums in another order).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { denseGraph, exportDenseOnnx } from '../../src/artifact/dense.js';
import { decodeDeft, encodeDeft } from '../../src/artifact/deft.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { Tensor } from '../../src/tensor.js';
import { lenet5 } from '../../src/zoo/lenet.js';
import { gather } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { load } from '../../src/model.js';
import { calibrate } from '../../src/sve/calibrate.js';
import { applyCompacted, planElimination } from '../../src/sve/eliminate.js';
import { fileURLToPath } from 'node:url';
import { assertClose, randomTensor, rng } from '../helpers.js';
import { runOrt } from '../onnx/oracle.js';
import { compactByHand } from './compact.js';

const LENET = fileURLToPath(new URL('../../zoo/lenet5.onnx', import.meta.url));

/** Grouped conv (group 3) with bias, a relu, and a Gemm without transB: the other layouts. */
function groupedNet(): Graph {
  const r = rng(11);
  const b = new GraphBuilder();
  const x = b.input('x', [2, 6, 5, 7]);
  let y = b.node('Conv', [x, b.constant(randomTensor([9, 2, 3, 2], r)), b.constant(randomTensor([9], r))], { group: 3, pads: [1, 0, 1, 1], strides: [1, 2] });
  y = b.node('Relu', [y]);
  y = b.node('Flatten', [y], { axis: 1 });
  y = b.node('Gemm', [y, b.constant(randomTensor([9 * 5 * 4, 4], r)), b.constant(randomTensor([4], r))], { alpha: 0.5, beta: 2 });
  return b.output(y).build();
}

async function cpu(graph: Graph, x: Tensor): Promise<Tensor> {
  return (await new CpuSession(graph).run({ [graph.inputs[0].name]: x }))[graph.outputs[0]];
}

const cases = [
  { what: 'LeNet-5', graph: lenet5({ seed: 2 }), x: randomTensor([1, 1, 28, 28], rng(1), 0, 1), perGroup: false },
  { what: 'grouped conv, one list for all groups', graph: groupedNet(), x: randomTensor([2, 6, 5, 7], rng(2)), perGroup: false },
  { what: 'grouped conv, a list per group', graph: groupedNet(), x: randomTensor([2, 6, 5, 7], rng(3)), perGroup: true },
];

for (const c of cases) {
  test(`${c.what}: compacted -> dense zero rows -> ONNX -> onnxruntime equals deftnn`, async () => {
    const { compacted, zeroed } = compactByHand(c.graph, rng(5), { fraction: 0.5, perGroup: c.perGroup });
    assert.throws(() => exportOnnx(compacted), /compacted \(kept_rows\)/);
    const before = new Map([...compacted.initializers].map(([k, t]) => [k, t.data.slice()]));
    const dense = denseGraph(compacted);
    // The input graph is untouched; the dense graph is the zeroed one, weight for weight.
    for (const [k, t] of compacted.initializers) assert.deepEqual(t.data, before.get(k), k);
    assert.ok(dense.nodes.every((n) => n.attrs.kept_rows === undefined));
    assert.deepEqual(dense.nodes.map((n) => n.inputs), zeroed.nodes.map((n) => n.inputs));
    for (const [k, t] of zeroed.initializers) {
      assert.deepEqual(dense.initializers.get(k)!.shape, t.shape, k);
      assert.deepEqual(dense.initializers.get(k)!.data, t.data, k);
    }
    const want = await cpu(compacted, c.x);
    assertClose(await cpu(dense, c.x), want, {}, 'dense vs compacted on the CPU');
    // Through the artifact and back, then to ONNX.
    const fromFile = (await decodeDeft(await encodeDeft(compacted))).graph;
    const ort = await runOrt(exportDenseOnnx(fromFile), { [c.graph.inputs[0].name]: c.x });
    assertClose(ort[c.graph.outputs[0]], want, {}, 'onnxruntime on the dense export vs deftnn compacted');
  });
}

test('denseGraph: a graph without compacted layers is returned as is; a weight shared by two layers gets a fresh name', () => {
  const g = lenet5();
  assert.equal(denseGraph(g), g);
  const r = rng(4);
  const b = new GraphBuilder();
  const w = b.constant(randomTensor([3, 3], r), 'shared');
  const x = b.input('x', [1, 6]);
  const y1 = b.node('Gemm', [x, b.constant(randomTensor([4, 4], r), 'wc')], { transB: 1, kept_rows: [0, 2, 3, 5] });
  const y2 = b.node('Gemm', [y1, w], { transB: 1, kept_rows: [0, 1, 3] });
  const y3 = b.node('Gemm', [y1, w], { transB: 1, kept_rows: [0, 1, 3] });
  const shared = b.output(b.node('Add', [y2, y3])).build();
  const d = denseGraph(shared);
  assert.deepEqual(d.nodes.map((n) => n.inputs[1]), ['wc', 'gemm1.dense.W', 'gemm2.dense.W', y3]);
  assert.deepEqual([...d.initializers.get('wc')!.shape], [4, 6]);
  assert.deepEqual([...d.initializers.get('gemm1.dense.W')!.data.subarray(0, 4)], [...shared.initializers.get('shared')!.data.subarray(0, 2), 0, shared.initializers.get('shared')!.data[2]]);
});

test('denseGraph: storage formats become float32 with the initializers rounded as the formats store them', async () => {
  const { compacted } = compactByHand(lenet5({ seed: 4 }), rng(6));
  const convW = compacted.nodes.filter((n) => n.op === 'Conv').map((n) => n.inputs[1]);
  const gemmW = compacted.nodes.find((n) => n.op === 'Gemm')!.inputs[1];
  const packed: Graph = { ...compacted, formats: new Map([[convW[0], 'bf16'], [gemmW, 'e6m5']]) };
  const dense = denseGraph(packed);
  assert.equal(dense.formats, undefined);
  const bf16 = dense.initializers.get(convW[0])!.data;
  assert.ok(bf16.some((v) => v !== 0));
  // bf16 keeps the top 16 bits of each float32.
  assert.ok(new Uint32Array(bf16.buffer, bf16.byteOffset, bf16.length).every((bits) => (bits & 0xffff) === 0));
  const x = randomTensor([1, 1, 28, 28], rng(7), 0, 1);
  const ort = await runOrt(exportDenseOnnx(packed), { input: x });
  assertClose(ort[packed.outputs[0]], await cpu(packed, x), {}, 'onnxruntime on the dense export vs deftnn with packed weights');
});

test('the SVE pipeline\'s compacted LeNet-5 (calibrate, planElimination, applyCompacted) -> .deft -> dense ONNX -> onnxruntime', async () => {
  const graph = (await load(LENET, { backend: 'cpu' })).graph;
  const { test: digits } = loadMnist();
  const calibration = [0, 1].map((i) => gather(digits, Array.from({ length: 32 }, (_, j) => 61 * (32 * i + j))).x);
  const stats = await calibrate(graph, calibration);
  const compacted = applyCompacted(graph, planElimination(graph, stats, 0.4));
  assert.ok(compacted.nodes.filter((n) => n.attrs.kept_rows).length >= 2);
  const x = gather(digits, [5]).x;
  const want = await cpu(compacted, x);
  const back = (await decodeDeft(await encodeDeft(compacted))).graph;
  assert.deepEqual((await cpu(back, x)).data, want.data);
  const ort = await runOrt(exportDenseOnnx(back), { input: x });
  assertClose(ort[graph.outputs[0]], want, {}, 'onnxruntime on the dense export vs deftnn compacted');
});
