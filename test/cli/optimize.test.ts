// `deftnn optimize` as a child process on LeNet-5 and MNIST, small sizes and fixed choices (a
// rate and formats: the budget searches are tested in test/sve/api.test.ts and test/ndf/): the
// files it writes load and agree with the variants it reports, and bad input exits with 2.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnist } from '../../src/data/mnist.js';
import { readRecFolder, writeOcrFolder } from '../../src/data/ocr-folder.js';
import { recogniserCharacters } from '../../src/ocr/models.js';
import { recogniserTask } from '../../src/ocr/task.js';
import { load } from '../../src/model.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
import { CLASSIFIER, RECOGNISER, cliJson, digit, LENET, rotate180, tempDir, textLine, writeDigitFolder, writePng } from './fixtures.js';

const small = ['--finetune-images', '256', '--test-images', '200', '--reps', '1', '--batch-sizes', '1,4'];

test('optimize: a fixed rate and formats on LeNet-5 write a .deft, a dense .onnx and the report; every variant is measured', async () => {
  const out = tempDir();
  const r = await cliJson(['optimize', LENET, '--dataset', 'mnist', '--rate', '0.5', '--format', 'bf16,bf16', '--out', out, ...small]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.variants.map((v: { name: string }) => v.name), ['dense fp32', 'eliminated', 'packed', 'eliminated + packed']);
  for (const v of r.json.variants) {
    assert.ok(v.accuracy > 0.8 && v.accuracy <= 1, `${v.name}: ${v.accuracy}`);
    assert.ok(v.latencyMs[1] > 0 && v.latencyMs[4] > 0, JSON.stringify(v.latencyMs));
  }
  assert.equal(r.json.elimination.length, 5, 'every Conv and Gemm of LeNet-5');
  for (const l of r.json.elimination) assert.equal(l.Kp, l.K - Math.round(0.5 * l.K));
  const deft = await load(r.json.files.deft, { backend: 'cpu' });
  assert.ok(deft.graph.nodes.some((n) => n.attrs.kept_rows !== undefined), 'the .deft runs compacted');
  assert.ok([...(deft.graph.formats ?? new Map()).values()].includes('bf16'), 'and packed');
  // The dense ONNX export computes what the .deft computes (eliminated rows as zeros, rounded weights).
  const onnx = await load(r.json.files.onnx, { backend: 'cpu' });
  const x = new Tensor([1, 1, 28, 28], loadMnist().test.images.slice(0, 784));
  const a = (await deft.run({ [deft.inputs[0].name]: x }))[deft.outputs[0].name];
  const b = (await onnx.run({ [onnx.inputs[0].name]: x }))[onnx.outputs[0].name];
  assertClose(b, a, { atol: 1e-2 }); // the .deft also rounds activations to bf16, the ONNX file does not
  const html = readFileSync(r.json.files.report, 'utf8');
  assert.match(html, /<canvas/);
  for (const v of r.json.variants) assert.ok(html.includes(v.name), v.name);
});

test('optimize: the PaddleOCR classifier on a folder of text lines (0/ and 180/), on the CPU backend', async () => {
  const lines = join(tempDir(), 'lines');
  for (const [k, angle] of ['0', '180'].entries()) {
    mkdirSync(join(lines, angle), { recursive: true });
    for (let i = 0; i < 8; i++) writePng(join(lines, angle, `${i}.png`), k ? rotate180(textLine(rng(10 * k + i))) : textLine(rng(10 * k + i)));
  }
  const out = tempDir();
  const r = await cliJson(['optimize', CLASSIFIER, '--dataset', lines, '--input-shape', 'x=1,3,48,192', '--mean', '0.5', '--std', '0.5', '--rate', '0.25', '--format', 'bf16', '--reps', '1', '--batch-sizes', '1', '--backend', 'cpu', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.variants.length, 4);
  assert.ok(r.json.elimination.length > 0, 'some layers eliminated (depthwise ones stay dense)');
  const deft = await load(r.json.files.deft, { backend: 'cpu' });
  assert.deepEqual(deft.inputs[0].shape, [1, 3, 48, 192]);
  assert.ok(existsSync(r.json.files.onnx) && existsSync(r.json.files.report));
});

test('optimize --validation DIR: the budget and the variants are measured on that folder (half each), MNIST calibrates', async () => {
  const val = writeDigitFolder(join(tempDir(), 'val'), Array.from({ length: 30 }, (_, i) => i * 53));
  const r = await cliJson(['optimize', LENET, '--dataset', 'mnist', '--validation', val, '--rate', '0.25', '--format', 'bf16', '--backend', 'cpu', '--out', tempDir(), ...small]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.images, { calibration: 512, finetune: 256, validation: 15, test: 15 });
  for (const v of r.json.variants) assert.ok(v.accuracy >= 0.6, `${v.name}: ${v.accuracy} on 15 of the folder's digits`);
  // Class folders that do not match the model's numbered classes are refused.
  const named = join(tempDir(), 'named');
  for (const c of ['cat', 'dog']) {
    mkdirSync(join(named, c), { recursive: true });
    writePng(join(named, c, '1.png'), digit(1, 1));
  }
  const bad = await cliJson(['optimize', LENET, '--dataset', 'mnist', '--validation', named, '--out', tempDir()]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.json.error.message, /--validation's class folders \(cat, dog\) do not match --dataset's \(0 to 9\)/);
});

test('optimize: bad input exits with 2 and says what to do', async () => {
  const out = tempDir();
  const bad = async (args: string[], re: RegExp) => {
    const r = await cliJson(['optimize', ...args, '--out', out]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.json.error.message, re);
  };
  await bad([LENET, '--dataset', 'mnist', '--rate', '1'], /--rate must be a number in \[0, 1\)/);
  await bad([LENET, '--dataset', 'mnist', '--max-accuracy-drop', '-1'], /--max-accuracy-drop must be a number in \[0, 100\)/);
  await bad([LENET, '--dataset', 'mnist', '--no-eliminate', '--no-pack'], /leave nothing to do/);
  await bad([LENET, '--dataset', 'nope'], /directory|mnist/);
  await bad([join(out, 'missing.onnx'), '--dataset', 'mnist'], /does not exist/);
  assert.ok(!existsSync(join(out, 'report.html')), 'nothing written on failure');
});

test('optimize: PaddleOCR\'s recogniser on a rendered OCR folder is budgeted in character accuracy at 48x320 (WebGPU)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const dir = join(tempDir(), 'ocr');
  await writeOcrFolder({ out: dir, lines: 12, pages: 0, seed: 7 });
  const r = await cliJson(['optimize', RECOGNISER, '--dataset', dir, '--rate', '0.25', '--layers', '2', '--format', 'bf16', '--no-finetune', '--reps', '1', '--batch-sizes', '1', '--backend', 'webgpu', '--out', tempDir()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.role, 'recogniser');
  assert.equal(r.json.metric, 'character accuracy');
  assert.deepEqual(r.json.images, { calibration: 6, finetune: 6 });
  assert.equal(r.json.elimination.length, 2, '--layers 2: the two costliest layers only');
  const dense = r.json.variants[0];
  assert.ok(dense.accuracy > 0.8, `the original reads rendered lines: ${dense.accuracy}`);
  const deft = await load(r.json.files.deft, { backend: 'cpu' });
  assert.deepEqual(deft.inputs[0].shape, [1, 3, 48, 320]);
  assert.ok(deft.graph.nodes.some((n) => n.op === 'Reshape' && (n.attrs.shape as number[]).includes(-1)), 'its Reshape targets take any batch and width');
  // The task's metric is the pipeline's reading: the same lines through a Model of the .deft.
  const lines = readRecFolder(dir);
  const task = recogniserTask(lines, await recogniserCharacters(), 320);
  const all = lines.map((_, i) => i);
  const tuned = await task.measure(all)(deft.graph, gpu);
  assert.ok(tuned > dense.accuracy - 0.2 && tuned <= 1, `eliminated 25% of two layers, bf16: ${tuned}`);
  // A folder whose part the model does not read is refused, naming what is missing.
  const clsOnly = join(tempDir(), 'ocr2');
  await writeOcrFolder({ out: clsOnly, lines: 4, pages: 1, seed: 8 });
  rmSync(join(clsOnly, 'rec'), { recursive: true });
  const bad = await cliJson(['optimize', RECOGNISER, '--dataset', clsOnly, '--rate', '0.25', '--backend', 'cpu', '--out', tempDir()]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.json.error.message, /--dataset has no recogniser lines \(rec\/labels.tsv\)/);
});
