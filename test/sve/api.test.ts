// eliminate(): the whole method on the trained LeNet-5 (zoo/lenet5.onnx) with MNIST, small sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { datasetSize, permutation, subset, type Dataset } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import type { Gpu } from '../../src/device/gpu.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { fromGraph, load } from '../../src/model.js';
import { seededRandom } from '../../src/random.js';
import { eliminate } from '../../src/sve/api.js';
import { Tensor } from '../../src/tensor.js';
import { evaluate } from '../../src/train/trainer.js';
import { assertClose, testGpu } from '../helpers.js';

const modelPath = fileURLToPath(new URL('../../zoo/lenet5.onnx', import.meta.url));
const gpu = await testGpu();
const backend = gpu ? 'webgpu' : 'cpu';
const mnist = loadMnist();
const pick = (ds: Dataset, n: number, seed: number) => subset(ds, permutation(datasetSize(ds), seededRandom(seed)).subarray(0, n));
const calibration = pick(mnist.train, 256, 1);
const validation = pick(mnist.test, 300, 2);
const tuneSet = pick(mnist.train, 1024, 3);

function snapshot(g: Graph): string {
  return JSON.stringify({ nodes: g.nodes, inits: [...g.initializers].map(([k, t]) => [k, t.shape, Array.from(t.data)]) });
}

test('eliminate: a uniform rate compacts every layer, fine-tunes with labels, reports per layer, and leaves the original alone', async () => {
  const model = await load(modelPath, { backend, gpu: gpu ?? undefined });
  const before = snapshot(model.graph);
  const fast = await eliminate(model, { calibration, rate: 0.5, validation, finetune: { data: tuneSet } });
  assert.equal(snapshot(model.graph), before, 'the original model is untouched');
  const r = fast.elimination;
  assert.deepEqual(r.layers.map((l) => l.node), model.graph.nodes.filter((n) => n.op === 'Conv' || n.op === 'Gemm').map((n) => n.name));
  for (const l of r.layers) {
    assert.equal(l.Kp, l.K - Math.round(0.5 * l.K), l.node);
    assert.equal(l.removed.length, l.K - l.Kp);
    const node = fast.graph.nodes.find((n) => n.name === l.node)!;
    assert.equal((node.attrs.kept_rows as number[]).length, l.Kp, `${l.node} runs compacted`);
    assert.ok(Math.abs(l.flopsAfter / l.flopsBefore - l.Kp / l.K) < 1e-9, `${l.node}: FLOPs scale with K'/K`);
  }
  assert.ok(r.flops.after < 0.6 * r.flops.before, `FLOPs ${r.flops.before} -> ${r.flops.after}`);
  const acc = r.accuracy!;
  console.log(`LeNet-5 at 50%, 300 validation digits: original ${acc.original}, eliminated ${acc.eliminated}, fine-tuned (1024 digits, 1 epoch) ${acc.finetuned}`);
  assert.ok(acc.original > 0.95 && acc.finetuned! > 0.9, JSON.stringify(acc));
  assert.equal(await evaluate(fast.graph, validation, fast.gpu), acc.finetuned, 'the report describes the model returned');
  // The returned model runs like any other, and matches the CPU reference of its graph.
  const x = new Tensor([1, 1, 28, 28], validation.images.slice(0, 784));
  const input = fast.inputs[0].name;
  const want = (await new CpuSession(fast.graph).run({ [input]: x }))[fast.outputs[0].name];
  assertClose((await fast.run({ [input]: x }))[fast.outputs[0].name], want, { atol: 1e-5 });
  fast.dispose();
});

test('eliminate: distillation fine-tuning (no labels) recovers accuracy lost at a high rate', async () => {
  const model = await load(modelPath, { backend, gpu: gpu ?? undefined });
  const unlabelled = { ...tuneSet, labels: new Uint8Array(datasetSize(tuneSet)) }; // every label 0: distillation must not read them
  const fast = await eliminate(model, { calibration, rate: { [model.graph.nodes.find((n) => n.op === 'Conv')!.name]: 0.8, [model.graph.nodes.filter((n) => n.op === 'Gemm')[0].name]: 0.8 }, validation, finetune: { data: unlabelled, distill: true, epochs: 2 } });
  const acc = fast.elimination.accuracy!;
  console.log(`LeNet-5, conv1 + fc1 at 80%: original ${acc.original}, eliminated ${acc.eliminated}, distilled ${acc.finetuned}`);
  assert.equal(fast.elimination.layers.length, 2);
  assert.ok(acc.finetuned! > acc.eliminated! + 0.01 || acc.finetuned! >= acc.original - 0.01, JSON.stringify(acc));
  fast.dispose();
});

test('eliminate: maxAccuracyDrop searches per-layer rates that stay within the budget on the validation split', async () => {
  const model = await load(modelPath, { backend, gpu: gpu ?? undefined });
  const fast = await eliminate(model, { calibration, maxAccuracyDrop: 1, validation });
  const r = fast.elimination;
  const s = r.search!;
  assert.equal(s.sensitivity.length, 5 * 4, "every layer dense and at every candidate rate");
  if (gpu?.adapter.features.timestampQuery) assert.equal(s.cost, "time");
  assert.ok(s.probes.length >= 1 && s.probes.length <= Math.ceil(Math.log2(s.steps.length + 1)) + 1, `${s.probes.length} probes for ${s.steps.length} steps`);
  const measured = await evaluate(fast.graph, validation, fast.gpu);
  console.log(`LeNet-5, budget 1 point: ${r.layers.map((l) => `${l.node} ${Math.round(100 * l.rate)}%`).join(', ')}; FLOPs x${(r.flops.before / r.flops.after).toFixed(2)}; accuracy ${r.accuracy!.original} -> ${measured}`);
  assert.ok(r.layers.length > 0 && r.flops.after < r.flops.before);
  assert.ok(r.accuracy!.original - measured <= 0.01 + 1e-12, `drop ${r.accuracy!.original - measured}`);
  assert.equal(measured, r.accuracy!.eliminated);
  fast.dispose();
});

test('eliminate: a task metric of its own (here agreement with the original, no labels) replaces validation accuracy', async () => {
  const model = await load(modelPath, { backend, gpu: gpu ?? undefined });
  const images = pick(mnist.test, 200, 6);
  const x = new Tensor([200, 1, 28, 28], images.images);
  const input = model.inputs[0].name;
  const scores = (await new CpuSession({ ...model.graph, inputs: [{ name: input, shape: [200, 1, 28, 28] }] }).run({ [input]: x }))[model.outputs[0].name];
  const top1 = Uint8Array.from({ length: 200 }, (_, i) => {
    const row = Array.from(scores.data.subarray(i * 10, i * 10 + 10));
    return row.indexOf(Math.max(...row));
  });
  const asOriginal = { ...images, labels: top1 };
  let calls = 0;
  const metric = (g: Graph, device: Gpu | null) => {
    calls++;
    return evaluate(g, asOriginal, device);
  };
  const fast = await eliminate(model, { calibration, maxAccuracyDrop: 2, metric, candidateRates: [0.5] });
  const r = fast.elimination;
  assert.equal(r.accuracy!.original, 1, 'the original agrees with itself');
  assert.ok(calls >= 1 + r.search!.sensitivity.length - 5, `the metric measured every sensitivity probe (${calls} calls)`);
  assert.ok(1 - (await metric(fast.graph, fast.gpu)) <= 0.02 + 1e-12, 'within the budget in the metric');
  assert.ok(r.layers.length > 0, 'something was eliminated');
  fast.dispose();
});

test('eliminate: bad input gets clear errors', async () => {
  const model = await load(modelPath, { backend: 'cpu' });
  const tiny = pick(mnist.train, 16, 4);
  await assert.rejects(eliminate(model, { calibration: tiny, rate: 1 }), /rate must be in \[0, 1\), got 1/);
  await assert.rejects(eliminate(model, { calibration: tiny, rate: -0.1 }), /rate must be in \[0, 1\), got -0.1/);
  await assert.rejects(eliminate(model, { calibration: tiny, rate: { nope: 0.5 } }), /layer 'nope' cannot be calibrated: no Conv or Gemm node/);
  await assert.rejects(eliminate(model, { calibration: tiny }), /either rate or maxAccuracyDrop/);
  await assert.rejects(eliminate(model, { calibration: tiny, rate: 0.5, maxAccuracyDrop: 1 }), /either rate or maxAccuracyDrop/);
  await assert.rejects(eliminate(model, { calibration: tiny, maxAccuracyDrop: 1 }), /needs a labelled validation set/);
  await assert.rejects(eliminate(model, { calibration: tiny, maxAccuracyDrop: -1, validation: tiny }), /maxAccuracyDrop is in percentage points/);
  await assert.rejects(eliminate(model, { calibration: subset(tiny, []), rate: 0.5 }), /calibration set .* is empty/);
  await assert.rejects(eliminate(model, { calibration: [], rate: 0.5 }), /calibration set is empty/);
  await assert.rejects(eliminate(model, { calibration: [new Tensor([2, 1, 27, 28], new Float32Array(2 * 27 * 28))], rate: 0.5 }), /shape \[2, 1, 27, 28\], expected \[N, 1, 28, 28\]/);
  await assert.rejects(eliminate(model, { calibration: { ...tiny, imageShape: [3, 28, 28] as const }, rate: 0.5 }), /calibration images are \[3, 28, 28\]/);
  // Keeping 5% of each layer's rows costs more than nothing on any layer.
  await assert.rejects(eliminate(model, { calibration: tiny, maxAccuracyDrop: 0, validation: pick(mnist.test, 200, 5), candidateRates: [0.95] }), /no elimination stays within maxAccuracyDrop = 0 points/);
  const once = await eliminate(model, { calibration: tiny, rate: 0.25 });
  await assert.rejects(eliminate(once, { calibration: tiny, rate: 0.25 }), /already compacted/);
  once.dispose();
});

test('eliminate: a Dataset of large images calibrates a few at a time (a 480x640 detector page batch of 64 outgrows a storage binding)', async () => {
  // 3x1200x1200 inputs: 4.3 M values each, so one image per calibration batch.
  const [C, H, W] = [3, 1200, 1200];
  const r = seededRandom(5);
  const graph: Graph = {
    inputs: [{ name: 'x', shape: [1, C, H, W] }],
    outputs: ['y'],
    nodes: [{ name: 'conv', op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: {} }],
    initializers: new Map([['w', new Tensor([4, C, 1, 1], Float32Array.from({ length: 4 * C }, () => r() - 0.5))]]),
  };
  const n = 3;
  const images: Dataset = { name: 'large', imageShape: [C, H, W], images: Float32Array.from({ length: n * C * H * W }, () => r()), labels: new Uint8Array(n), classes: 1 };
  const model = await fromGraph(graph, { backend: 'cpu' });
  const seen: string[] = [];
  const m = await eliminate(model, { calibration: images, rate: 1 / 3, onProgress: (p) => p.stage === 'calibrate' && seen.push(p.detail ?? '') });
  assert.equal(seen.at(-1), `${n} batches`);
  assert.equal(m.elimination.layers[0].Kp, 2);
  m.dispose();
  model.dispose();
});
