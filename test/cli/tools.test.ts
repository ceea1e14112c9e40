// `deftnn info`, `eval`, `bench` and `train` as child processes on small inputs: their --json
// documents checked against what the library computes in process, their text output, and the
// exit codes of bad input; and the progress notes long commands write without a terminal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeDeft } from '../../src/artifact/deft.js';
import { graphCost } from '../../src/graph/cost.js';
import { inferShapes } from '../../src/graph/shapes.js';
import { load } from '../../src/model.js';
import { compactByHand } from '../artifact/compact.js';
import { stagedProgress, type Io } from '../../src/cli/common.js';
import { rng, testGpu } from '../helpers.js';
import { CLASSIFIER, cli, cliJson, LENET, rotate180, tempDir, textLine, writeDigitFolder, writePng } from './fixtures.js';

const gpu = await testGpu();
const dir = tempDir();
const lenet = (await load(LENET, { backend: 'cpu' })).graph;
const { compacted } = compactByHand(lenet, rng(2), { fraction: 0.75 });
const compactedPath = join(dir, 'compacted.deft');
const convW = compacted.nodes.filter((n) => n.op === 'Conv').map((n) => n.inputs[1]);
writeFileSync(compactedPath, await encodeDeft({ ...compacted, formats: new Map([[convW[0], 'bf16'], [convW[1], 'e6m5']]) }, { producer: 'test', source: 'lenet5.onnx' }));
const densePath = join(dir, 'lenet.deft');
writeFileSync(densePath, await encodeDeft(lenet));

test('info: layers, FLOPs and bytes as graphCost computes them; eliminated rows of a compacted .deft; formats', async () => {
  const r = await cliJson(['info', LENET]);
  assert.equal(r.code, 0, r.stderr);
  const cost = graphCost(inferShapes(lenet));
  assert.equal(r.json.kind, 'onnx');
  assert.equal(r.json.layers.length, lenet.nodes.length);
  assert.equal(r.json.flops, cost.flops);
  assert.equal(r.json.bytes, cost.bytes);
  assert.deepEqual(r.json.layers.map((l: { flops: number }) => l.flops), cost.nodes.map((n) => n.flops));
  assert.deepEqual(r.json.layers.map((l: { bytes: number }) => l.bytes), cost.nodes.map((n) => n.bytes));
  assert.equal(r.json.parameters, [...lenet.initializers.values()].reduce((s, t) => s + t.size, 0));
  assert.equal(r.json.compactedLayers, 0);
  assert.deepEqual(r.json.outputs, [{ name: 'softmax0_out', shape: [1, 10] }]);

  const c = await cliJson(['info', compactedPath]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.json.kind, 'deft');
  assert.equal(c.json.metadata.source, 'lenet5.onnx');
  // K per layer: conv0 1*5*5, conv1 6*5*5, the Gemms their input widths; K' = round(0.75 K).
  const Ks = [25, 150, 400, 120, 84];
  const layers = c.json.layers.filter((l: { elimination?: unknown }) => l.elimination);
  assert.deepEqual(layers.map((l: { elimination: { K: number } }) => l.elimination.K), Ks);
  assert.deepEqual(layers.map((l: { elimination: { kept: number } }) => l.elimination.kept), Ks.map((K) => Math.round(0.75 * K)));
  assert.equal(c.json.rowsEliminated, Ks.reduce((s, K) => s + K - Math.round(0.75 * K), 0));
  assert.equal(c.json.flops, graphCost(inferShapes(compacted)).flops);
  assert.deepEqual(c.json.formats, { [convW[0]]: 'bf16', [convW[1]]: 'e6m5' });
  assert.deepEqual(c.json.layers[0].formats, { W: 'bf16' });
  // bf16 weights move half the bytes of float32 ones: conv0's W is [6, 19] (round(0.75 * 25) = 19 rows kept).
  assert.equal(c.json.layers[0].bytesFp32 - c.json.layers[0].bytes, 6 * 19 * 2);
  assert.equal(c.json.bytesFp32, graphCost(inferShapes(compacted)).bytes);
  const text = await cli(['info', compactedPath]);
  assert.match(text.stdout, /conv1 .* W e6m5 +37\/150 \(25%\)/);
  assert.match(text.stdout, /5 compacted layers, \d+ reduction rows eliminated/);

  // The PaddleOCR classifier: symbolic sizes need --input-shape (exit 2); with it, every layer.
  const bad = await cli(['info', CLASSIFIER]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /give its shape with --input-shape x=1,3,\?,\?/);
  const p = await cliJson(['info', CLASSIFIER, '--input-shape', 'x=1,3,48,192']);
  assert.equal(p.code, 0, p.stderr);
  const raw = await cliJson(['info', CLASSIFIER, '--input-shape', 'x=1,3,48,192', '--raw']);
  assert.ok(raw.json.layers.length > 150, 'as imported: BatchNormalization, hard-swish spelled out');
  assert.ok(p.json.layers.length < raw.json.layers.length - 70, 'after the passes');
  assert.deepEqual(p.json.outputs[0].shape, [1, 2]);
  assert.ok(p.json.flops > 1e7);
});

test('eval: MNIST accuracy, agreement with a .deft copy, an image-folder data set, and bad data sets', async () => {
  const r = await cliJson(['eval', LENET, '--dataset', 'mnist', '--limit', '200', '--batch', '50', '--backend', 'cpu', '--agreement', densePath]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.images, 200);
  assert.ok(r.json.accuracy > 0.95, `accuracy ${r.json.accuracy}`);
  assert.equal(r.json.agreement.agreement, 1);
  assert.equal(r.json.agreement.maxAbsDiff, 0);
  assert.equal(r.json.agreement.accuracy, r.json.accuracy);
  // 23 digits (a batch of 8 leaves a padded last batch), PNGs in class folders.
  const folder = writeDigitFolder(join(dir, 'digits'), Array.from({ length: 23 }, (_, i) => i * 37));
  const d = await cliJson(['eval', LENET, '--dataset', folder, '--batch', '8', '--backend', 'cpu']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.json.images, 23);
  assert.ok(d.json.accuracy > 0.85, `accuracy ${d.json.accuracy}`);
  const text = await cli(['eval', LENET, '--dataset', folder, '--backend', 'cpu']);
  assert.match(text.stdout, /top-1 accuracy \d+\.\d\d% on 23 images/);
  // The PaddleOCR classifier on a folder data set 0/ and 180/ (classes 0 and 1) of text lines.
  const lines = join(dir, 'lines');
  for (const [k, angle] of ['0', '180'].entries()) {
    mkdirSync(join(lines, angle), { recursive: true });
    for (let i = 0; i < 2; i++) {
      const img = textLine(rng(10 * k + i));
      writePng(join(lines, angle, `${i}.png`), k ? rotate180(img) : img);
    }
  }
  const p = await cliJson(['eval', CLASSIFIER, '--dataset', lines, '--input-shape', 'x=1,3,48,192', '--mean', '0.5', '--std', '0.5', '--batch', '3', '--backend', 'cpu']);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(p.json.images, 4);
  assert.ok(p.json.accuracy >= 0 && p.json.accuracy <= 1);
  const nowhere = await cli(['eval', LENET, '--dataset', join(dir, 'nowhere')]);
  assert.equal(nowhere.code, 2);
  assert.match(nowhere.stderr, /--dataset must be 'mnist', 'fashion-mnist' or a directory of class folders/);
  const empty = await cli(['eval', LENET, '--dataset', dir]);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no \.png or \.jpg images in its class folders/);
});

test('bench: latency and throughput per backend and batch size; per-layer times on WebGPU', async () => {
  const r = await cliJson(['bench', LENET, compactedPath, '--backend', 'cpu', '--batch', '1,2', '--reps', '3', '--warmup', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.results.map((x: { model: string; batch: number }) => [x.model, x.batch]), [[LENET, 1], [LENET, 2], [compactedPath, 1], [compactedPath, 2]]);
  for (const row of r.json.results) {
    assert.ok(row.medianMs > 0 && row.minMs <= row.medianMs && row.firstRunMs > 0, JSON.stringify(row));
    assert.ok(Math.abs(row.imagesPerSecond - (1000 * row.batch) / row.medianMs) < 1e-6);
    assert.equal(row.layers, undefined);
  }
  const text = await cli(['bench', LENET, '--backend', 'cpu', '--reps', '2', '--warmup', '0']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /model\s+backend\s+batch\s+first run ms\s+median ms/);
  const bad = await cli(['bench', LENET, '--batch', '1,x']);
  assert.equal(bad.code, 2);
  if (!gpu) return;
  const g = await cliJson(['bench', compactedPath, '--backend', 'webgpu', '--reps', '2', '--warmup', '1']);
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.json.results.length, 1);
  assert.equal(g.json.timestampQuery, gpu.adapter.features.timestampQuery);
  if (g.json.timestampQuery) {
    const layers = g.json.results[0].layers;
    assert.ok(layers.length > 0 && layers.every((l: { ms: number }) => l.ms >= 0));
    assert.ok(layers.some((l: { op: string }) => l.op === 'Conv'));
  }
});

test('train: a quick LeNet-5 run writes an ONNX file that loads; bad arguments exit with 2', async () => {
  const out = join(dir, 'trained.onnx');
  const r = await cliJson(['train', 'lenet5', '--epochs', '1', '--limit', '96', '--batch', '32', '--backend', 'cpu', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.trainImages, 96);
  assert.equal(r.json.testImages, 96);
  assert.ok(r.json.testAccuracy >= 0 && r.json.testAccuracy <= 1);
  assert.ok(existsSync(out));
  assert.equal(r.json.bytes, readFileSync(out).length);
  const m = await load(out, { backend: 'cpu' });
  assert.deepEqual(m.outputs[0].shape, [1, 10]);
  const unknown = await cli(['train', 'alexnet']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown zoo model 'alexnet'; choose one of lenet5, vgg, resnet/);
  const ext = await cli(['train', 'lenet5', '--out', join(dir, 'x.txt')]);
  assert.equal(ext.code, 2);
  assert.match(ext.stderr, /must end in \.onnx or \.deft/);
});

test('stagedProgress without a terminal: a note when a stage starts and at each tenth, none per step', { skip: process.stderr.isTTY && 'stderr is a terminal' }, () => {
  const notes: string[] = [];
  const io: Io = { json: false, out() {}, note: (l) => notes.push(l) };
  const p = stagedProgress(io);
  p.update({ stage: 'calibrate', done: 64, total: 0, detail: '1 batches' });
  p.update({ stage: 'calibrate', done: 128, total: 0, detail: '2 batches' });
  for (let i = 1; i <= 125; i++) p.update({ stage: 'finetune', done: i, total: 125 });
  p.update({ stage: 'finetune', done: 125, total: 125 });
  p.stop();
  p.update({ stage: 'finetune', done: 1, total: 3 }); // after stop() the same stage starts again
  assert.deepEqual(notes, [
    '  calibrate 64 1 batches',
    ...[1, 13, 25, 38, 50, 63, 75, 88, 100, 113, 125].map((d) => `  finetune ${d}/125`),
    '  finetune 1/3',
  ]);
});
