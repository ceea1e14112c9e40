// pack(): fixed formats (defaults for weights and activations, per value), the automatic choice
// under an accuracy budget on the trained LeNet-5 of the zoo (MNIST), the report and the
// bytes moved, the original model left alone, and the errors (unknown or impossible formats,
// NaN and infinite weights, weights beyond a format's range, budgets out of range).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subset } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { FORMATS, FormatError, storageBytes } from '../../src/formats/format.js';
import { load, fromGraph } from '../../src/model.js';
import { bytesMoved, pack } from '../../src/ndf/pack.js';
import { inferShapes } from '../../src/graph/shapes.js';
import { Tensor } from '../../src/tensor.js';
import { testGpu } from '../helpers.js';

const gpu = await testGpu();
const backend = gpu ? ('webgpu' as const) : ('cpu' as const);
const mnist = loadMnist();
// Images the zoo model was not trained on (its test split), small enough for lavapipe.
const validation = subset(mnist.test, Array.from({ length: 300 }, (_, i) => i), 'mnist-val');
const calibration = subset(mnist.test, Array.from({ length: 32 }, (_, i) => 1000 + i), 'mnist-cal');
const lenet = () => load('zoo/lenet5.onnx', { backend, gpu: gpu ?? undefined });

test('pack with fixed formats: defaults for weights and activations, per-value overrides, report, bytes', async () => {
  const model = await lenet();
  const graphBefore = model.graph;
  const packed = await pack(model, { formats: { weights: 'e4m3', activations: 'bf16', values: {} }, validation });
  try {
    const rep = packed.packing;
    const weights = rep.tensors.filter((t) => t.kind === 'weight');
    const acts = rep.tensors.filter((t) => t.kind === 'activation');
    assert.equal(weights.length, 10, 'weights and biases of 2 convs and 3 fully connected layers');
    assert.ok(weights.every((t) => t.format === 'e4m3' && t.bytesAfter === storageBytes(FORMATS.e4m3, t.shape.reduce((a, b) => a * b, 1))));
    assert.equal(acts.length, 2);
    assert.ok(acts.every((t) => t.format === 'bf16' && t.bytesAfter * 2 === t.bytesBefore));
    assert.ok(rep.bytesMoved.after < rep.bytesMoved.before);
    assert.equal(rep.bytesMoved.before, bytesMoved(graphBefore).total);
    // 8-bit weights of a trained LeNet cost little accuracy.
    assert.ok(rep.accuracy!.original > 0.95 && rep.accuracy!.packed > rep.accuracy!.original - 0.03, JSON.stringify(rep.accuracy));
    // The original is untouched and still runs float32.
    assert.equal(model.graph, graphBefore);
    assert.equal(model.graph.formats, undefined);
    assert.equal(packed.graph.formats!.size, 12);
    // One value fixed differently, and the packed model runs.
    const mixed = await pack(model, { formats: { weights: 'bf16', values: { [weights[0].name]: 'e5m2' } } });
    assert.equal(mixed.graph.formats!.get(weights[0].name), 'e5m2');
    assert.equal(mixed.packing.accuracy, undefined);
    const x = new Tensor([1, 1, 28, 28], validation.images.slice(0, 784));
    const y = (await mixed.run({ [model.inputs[0].name]: x }))[model.outputs[0].name];
    assert.equal(y.data.length, 10);
    mixed.dispose();
  } finally {
    packed.dispose();
    model.dispose();
  }
});

test('pack under maxAccuracyDrop stays within the budget, fewest bits first', async () => {
  const model = await lenet();
  const seen: string[] = [];
  const packed = await pack(model, {
    maxAccuracyDrop: 0.5,
    validation,
    calibration,
    candidates: ['bf16', 'e4m3'],
    onProgress: (p) => seen.push(`${p.tensor}:${p.format}:${p.accepted}`),
  });
  try {
    const rep = packed.packing;
    const { original, packed: acc } = rep.accuracy!;
    assert.ok(original - acc <= 0.005 + 1e-12, `drop ${((original - acc) * 100).toFixed(2)} points`);
    // The largest tensor (fc1's weight, 400x120) is tried first, e4m3 (8 bits) before bf16.
    assert.match(seen[0], /:e4m3:/);
    assert.ok(rep.evaluations >= seen.length);
    assert.ok(rep.tensors.some((t) => t.format !== 'fp32'), 'something was packed');
    assert.ok(rep.bytesMoved.after < rep.bytesMoved.before);
    // The packed model's accuracy is what the report says.
    const { evaluate } = await import('../../src/train/trainer.js');
    assert.equal(await evaluate(packed.graph, validation, packed.gpu), acc);
  } finally {
    packed.dispose();
    model.dispose();
  }
});

test('pack refuses bad options, unknown and impossible formats, non-finite and out-of-range weights', async () => {
  const model = await lenet();
  try {
    await assert.rejects(pack(model, { formats: { weights: 'fp8' } }), (e: Error) => e instanceof FormatError && /unknown format 'fp8'/.test(e.message));
    await assert.rejects(pack(model, { formats: { values: { input: 'bf16' } } }), /graph input 'input' cannot be packed/);
    await assert.rejects(pack(model, { maxAccuracyDrop: -1, validation }), /maxAccuracyDrop is in percentage points, in \[0, 100\]; got -1/);
    await assert.rejects(pack(model, { maxAccuracyDrop: 1 }), /needs a labelled validation set/);
    await assert.rejects(pack(model, { formats: {}, maxAccuracyDrop: 1, validation }), /either formats or maxAccuracyDrop/);
    await assert.rejects(pack(model, {}), /either formats or maxAccuracyDrop/);
    // A weight with NaN and inf: refused by default, encoded per the format's policy with 'keep'.
    const g = model.graph;
    const w = [...g.initializers.keys()].find((n) => g.initializers.get(n)!.shape.length === 4)!;
    const bad = new Tensor(g.initializers.get(w)!.shape, g.initializers.get(w)!.data.slice());
    bad.data[0] = NaN;
    bad.data[1] = Infinity;
    const broken = await fromGraph({ ...g, initializers: new Map(g.initializers).set(w, bad) }, { backend: 'cpu' });
    await assert.rejects(pack(broken, { formats: { weights: 'bf16' } }), (e: Error) => e instanceof FormatError && new RegExp(`weight '${w}' has 2 NaN or infinite value\\(s\\)`).test(e.message));
    const kept = await pack(broken, { formats: { weights: 'e4m3' }, nonFinite: 'keep' });
    const [r] = (await kept.run({ input: new Tensor([1, 1, 28, 28]) }).then(Object.values)) as Tensor[];
    assert.ok(r.data.some((v) => Number.isNaN(v)), 'NaN stays NaN');
    // A finite weight beyond fp16's range would become inf: refused; e4m3 saturates (counted).
    const big = new Tensor(bad.shape, g.initializers.get(w)!.data.slice());
    big.data[0] = 1e5;
    const loud = await fromGraph({ ...g, initializers: new Map(g.initializers).set(w, big) }, { backend: 'cpu' });
    const sat = await pack(loud, { formats: { values: { [w]: 'e4m3' } } });
    assert.equal(sat.packing.tensors.find((t) => t.name === w)!.saturated, 1);
    await assert.rejects(pack(loud, { formats: { values: { [w]: 'fp16' } } }), /1 finite value\(s\) beyond fp16's largest finite value 65504: they would become infinite/);
    for (const m of [broken, kept, loud, sat]) m.dispose();
  } finally {
    model.dispose();
  }
});

test('bytesMoved counts packed values as their words and views as nothing', async () => {
  const model = await lenet();
  try {
    const g = model.graph;
    const ig = inferShapes(g);
    const plain = bytesMoved(g);
    assert.ok(plain.nodes.every((n) => n.op !== 'Flatten' && n.op !== 'Reshape'));
    const conv = plain.nodes.find((n) => n.op === 'Conv')!;
    const r = ig.nodes.find((n) => n.node.name === conv.node)!;
    const count = (v: string) => ig.shapes.get(v)!.reduce((a, b) => a * b, 1);
    assert.equal(conv.bytes, [...r.node.inputs, ...r.node.outputs].reduce((s, v) => s + 4 * count(v), 0));
    const w = r.node.inputs[1];
    const packedBytes = bytesMoved({ ...g, formats: new Map([[w, 'e4m3']]) });
    assert.equal(plain.total - packedBytes.total, 4 * count(w) - storageBytes(FORMATS.e4m3, count(w)));
  } finally {
    model.dispose();
  }
});

test('pack: activation ranges come from every calibration image, large inputs run a few at a time', async () => {
  // x -> Conv 1x1 -> h -> Conv 1x1 -> y: h is an activation the search may pack. Images of
  // 1x1500x1500 run one at a time; only the last has a value beyond e4m3's 448, so h must not be
  // tried in e4m3 (the metric accepts anything: only the range can refuse it).
  const [H, W] = [1500, 1500];
  const graph = {
    inputs: [{ name: 'x', shape: [1, 1, H, W] }],
    outputs: ['y'],
    nodes: [
      { name: 'c1', op: 'Conv', inputs: ['x', 'w1'], outputs: ['h'], attrs: {} },
      { name: 'c2', op: 'Conv', inputs: ['h', 'w2'], outputs: ['y'], attrs: {} },
    ],
    initializers: new Map([['w1', new Tensor([4, 1, 1, 1], [1, 0.5, 0.25, 1])], ['w2', new Tensor([1, 4, 1, 1], [1, 1, 1, 1])]]),
  };
  const n = 3;
  const images = new Float32Array(n * H * W).fill(0.5);
  images[n * H * W - 7] = 1000;
  const calibration = { name: 'large', images, labels: new Uint8Array(n), imageShape: [1, H, W] as [number, number, number], classes: 1 };
  const model = await fromGraph(graph, { backend: 'cpu' });
  const packed = await pack(model, { maxAccuracyDrop: 1, metric: async () => 1, calibration, candidates: ['e4m3'], include: { weights: false } });
  assert.equal(packed.packing.tensors.find((t) => t.name === 'h')?.format ?? 'fp32', 'fp32', 'h reaches 1000 in the last image');
  const inRange = await pack(model, { maxAccuracyDrop: 1, metric: async () => 1, calibration: { ...calibration, images: new Float32Array(n * H * W).fill(0.5) }, candidates: ['e4m3'], include: { weights: false } });
  assert.equal(inRange.packing.tensors.find((t) => t.name === 'h')?.format, 'e4m3', 'without the outlier h packs');
  [packed, inRange, model].forEach((m) => m.dispose());
});
