import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subset } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import type { Graph } from '../../src/graph/ir.js';
import { fuseEpilogues } from '../../src/graph/fusion.js';
import { CpuSession } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor.js';
import { evaluate, loadCheckpoint, train, trainingGraph } from '../../src/train/trainer.js';
import { randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();

/**
 * A small classifier from ops whose gradients need no GEMM: 4x4 average pooling, batch norm,
 * then a linear map written as a broadcasting Mul and a ReduceSum, and Softmax.
 */
function tinyClassifier(): Graph {
  const b = new GraphBuilder();
  let x = b.input('input', [1, 1, 28, 28]);
  x = b.node('AveragePool', [x], { kernel_shape: [4, 4], strides: [4, 4] });
  const ones = new Tensor([1], [1]);
  x = b.node('BatchNormalization', [x, b.constant(ones), b.constant(new Tensor([1])), b.constant(new Tensor([1])), b.constant(new Tensor([1], [1]))], {});
  x = b.node('Reshape', [x], { shape: [0, 1, 49] });
  const w = b.constant(randomTensor([10, 49], rng(3), -0.05, 0.05), 'w');
  x = b.node('ReduceSum', [b.node('Mul', [x, w])], { axes: [2], keepdims: 0 });
  x = b.node('Add', [x, b.constant(new Tensor([10]), 'b')]);
  return b.output(b.node('Softmax', [x], { axis: 1 })).build();
}

const mnist = loadMnist();
const train500 = subset(mnist.train, Array.from({ length: 500 }, (_, i) => i * 16));
const test300 = subset(mnist.test, Array.from({ length: 300 }, (_, i) => i * 6));

test('the training graph drops the final Softmax, trains BN in training mode, keeps running stats as state', () => {
  const tg = trainingGraph(tinyClassifier(), 8, { kind: 'sgd', lr: 0.1 });
  assert.ok(!tg.graph.nodes.some((n) => n.op === 'Softmax'));
  const bn = tg.graph.nodes.find((n) => n.op === 'BatchNormalization')!;
  assert.equal(bn.attrs.training_mode, 1);
  assert.equal(bn.outputs.length, 3);
  const stateOf = new Map(tg.state);
  assert.equal(stateOf.get(bn.inputs[3]), bn.outputs[1]);
  assert.ok(stateOf.has('w') && stateOf.has('b'));
  assert.deepEqual([...tg.graph.inputs.map((v) => v.shape)].slice(0, 2), [[8, 1, 28, 28], [8]]);
});

for (const backend of ['cpu', 'webgpu'] as const) {
  test(`training on ${backend}: loss falls and test accuracy rises on a small MNIST subset`, { skip: backend === 'webgpu' && !gpu && 'no WebGPU adapter' }, async () => {
    const g = backend === 'webgpu' ? gpu : null;
    const graph = tinyClassifier();
    const before = await evaluate(graph, test300, g);
    const progress: number[] = [];
    const { graph: trained, history } = await train(
      graph,
      { train: train500, test: test300 },
      { epochs: 3, batchSize: 25, optimizer: { kind: 'sgd', lr: 0.2, momentum: 0.9 }, seed: 1, onProgress: (p) => progress.push(p.loss) },
      g,
    );
    assert.equal(history.length, 3);
    assert.ok(history[2].loss < history[0].loss * 0.8, `loss ${history.map((h) => h.loss)}`);
    assert.ok(history[2].testAccuracy! > Math.max(0.5, before + 0.3), `accuracy before ${before}, after ${history[2].testAccuracy}`);
    assert.ok(progress.length >= 3 * 20);
    // The input graph is untouched; the trained graph evaluates to what train() reported.
    assert.equal(graph.initializers.get('w')!.data[0], tinyClassifier().initializers.get('w')!.data[0]);
    assert.equal(await evaluate(trained, test300, g), history[2].testAccuracy);
  });
}

test("an initializer read only as Pow's exponent (an exporter's constant 2) is not a parameter; the base's weights still train", () => {
  // x -> Mul(w) -> Pow(., two) -> ReduceSum -> Softmax: LayerNorm-style squaring with the 2 as an initializer.
  const b = new GraphBuilder();
  let x = b.input('input', [1, 1, 28, 28]);
  x = b.node('Reshape', [x], { shape: [0, 1, 784] });
  x = b.node('Pow', [b.node('Mul', [x, b.constant(randomTensor([10, 784], rng(4), -0.05, 0.05), 'w')]), b.constant(new Tensor([], [2]), 'two')]);
  x = b.node('ReduceSum', [x], { axes: [2], keepdims: 0 });
  const tg = trainingGraph(b.output(b.node('Softmax', [x], { axis: 1 })).build(), 4, { kind: 'sgd', lr: 0.1 });
  const stateOf = new Map(tg.state);
  assert.ok(stateOf.has('w'), 'w is trained');
  assert.ok(!stateOf.has('two'), 'the exponent is not');
});

test('checkpoints: an interrupted run resumes to the same result; corrupt checkpoints are refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-ck-'));
  try {
    const cfg = { batchSize: 50, optimizer: { kind: 'adamw' as const, lr: 0.01 }, seed: 2 };
    const straight = await train(tinyClassifier(), { train: train500 }, { ...cfg, epochs: 2 }, null);
    const path = join(dir, 'run.ckpt');
    await train(tinyClassifier(), { train: train500 }, { ...cfg, epochs: 1, checkpoint: path }, null);
    assert.ok(existsSync(path) && !existsSync(`${path}.tmp`));
    assert.equal(loadCheckpoint(path).epoch, 1);
    const resumed = await train(tinyClassifier(), { train: train500 }, { ...cfg, epochs: 2, checkpoint: path }, null);
    assert.equal(resumed.history.length, 2);
    assert.deepEqual([...resumed.graph.initializers.get('w')!.data], [...straight.graph.initializers.get('w')!.data]);
    writeFileSync(path, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    assert.throws(() => loadCheckpoint(path), /unreadable \(truncated header\); delete it to start over/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a diverging run stops with a clear message and keeps the last good checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-nan-'));
  try {
    const path = join(dir, 'run.ckpt');
    const base = { batchSize: 50, seed: 3, checkpoint: path };
    await train(tinyClassifier(), { train: train500 }, { ...base, epochs: 1, optimizer: { kind: 'sgd', lr: 0.1 } }, null);
    await assert.rejects(
      train(tinyClassifier(), { train: train500 }, { ...base, epochs: 3, optimizer: { kind: 'sgd', lr: 1e30 } }, null),
      /training diverged: loss is (NaN|Infinity) at epoch 2.*last good checkpoint .* is kept/,
    );
    assert.equal(loadCheckpoint(path).epoch, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad training settings are refused', async () => {
  await assert.rejects(train(tinyClassifier(), { train: train500 }, { epochs: 0, batchSize: 10, optimizer: { kind: 'sgd', lr: 0.1 } }, null), /epochs must be an integer >= 1/);
  await assert.rejects(train(tinyClassifier(), { train: train500 }, { epochs: 1, batchSize: 501, optimizer: { kind: 'sgd', lr: 0.1 } }, null), /batchSize must be in \[1, 500\]/);
});

// Dense heads: a detector-like map (Conv -> Sigmoid, [N, 1, H, W]) and a recogniser-like sequence
// of softmax columns (Conv -> Reshape/Transpose -> Softmax over the last axis, [N, T, C]), each
// distilled from a teacher of the same shape with other weights.

/** [N, 1, 6, 7] probabilities from a 3x3 conv, or [N, 7, 5] column scores (T = width, C = 5). */
function denseModel(kind: 'map' | 'columns', seed: number): Graph {
  const r = rng(seed);
  const b = new GraphBuilder();
  const x = b.input('input', [1, 2, 6, 7]);
  if (kind === 'map') {
    const y = b.node('Conv', [x, b.constant(randomTensor([1, 2, 3, 3], r), 'w'), b.constant(randomTensor([1], r), 'b')], { pads: [1, 1, 1, 1] });
    return b.output(b.node('Sigmoid', [y])).build();
  }
  // Conv to 5 channels over the full height: [N, 5, 1, 7] -> [N, 7, 5] columns.
  const y = b.node('Conv', [x, b.constant(randomTensor([5, 2, 6, 1], r), 'w'), b.constant(randomTensor([5], r), 'b')], {});
  const cols = b.node('Transpose', [b.node('Reshape', [y], { shape: [0, 5, 7] })], { perm: [0, 2, 1] });
  return b.output(b.node('Softmax', [cols], { axis: -1 })).build();
}

const images = (n: number, seed: number) => {
  const r = rng(seed);
  return { name: 'random', images: Float32Array.from({ length: n * 2 * 6 * 7 }, () => r()), labels: new Uint8Array(n), imageShape: [2, 6, 7] as [number, number, number], classes: 1 };
};

for (const kind of ['map', 'columns'] as const) {
  for (const backend of ['cpu', 'webgpu'] as const) {
    test(`distillation of a dense head (${kind}) on ${backend}: the student's outputs approach the teacher's`, { skip: backend === 'webgpu' && !gpu && 'no WebGPU adapter' }, async () => {
      const g = backend === 'webgpu' ? gpu : null;
      const teacher = denseModel(kind, 11);
      const student = denseModel(kind, 12);
      const data = images(64, 13);
      const gap = async (s: Graph) => {
        const x = new Tensor([8, 2, 6, 7], data.images.subarray(0, 8 * 84));
        const run = async (m: Graph) => (await new CpuSession({ ...m, inputs: [{ name: 'input', shape: [8, 2, 6, 7] }] }).run({ input: x }))[m.outputs[0]];
        const [a, t] = [await run(s), await run(teacher)];
        return Math.max(...a.data.map((v, i) => Math.abs(v - t.data[i])));
      };
      const before = await gap(student);
      const { graph: trained, history } = await train(
        student,
        { train: data },
        { epochs: 4, batchSize: 8, optimizer: { kind: 'adamw', lr: 0.05, weightDecay: 0 }, loss: { kind: 'distillation', teacher, temperature: 1 } },
        g,
      );
      assert.ok(history[3].loss < 0.3 * history[0].loss, `loss ${history.map((h) => h.loss)}`);
      assert.ok(Number.isNaN(history[3].accuracy) && history[3].testAccuracy === undefined, 'no accuracy for a dense head');
      const after = await gap(trained);
      assert.ok(after < 0.5 * before, `largest output difference ${before} -> ${after}`);
    });
  }
}

test('labels on a dense head are refused with a clear error', () => {
  assert.throws(() => trainingGraph(denseModel('map', 1), 4, { kind: 'sgd', lr: 0.1 }), /labels train a classifier \(scores \[N, classes\]\); this model's output is \[N, 1, 6, 7\]: use distillation/);
});

test('distillation from a fused teacher (Sigmoid riding on its conv, as imported) compares logits with logits', async () => {
  const teacher = fuseEpilogues(denseModel('map', 11));
  assert.ok(!teacher.nodes.some((n) => n.op === 'Sigmoid'), 'the teacher is fused');
  // The student is the teacher's own graph unfused: the loss must start at zero.
  const { history } = await train(denseModel('map', 11), { train: images(16, 13) }, { epochs: 1, batchSize: 8, optimizer: { kind: 'sgd', lr: 1e-9 }, loss: { kind: 'distillation', teacher } }, null);
  assert.ok(history[0].loss < 1e-6, `loss ${history[0].loss}`);
});
