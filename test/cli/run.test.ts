// `deftnn` as a child process: the command line as a whole (help, version, exit codes of usage
// errors) and `deftnn run` on images (PNG, JPEG), tensor files and .deft artifacts, checked
// against the same model run in this process (and against onnxruntime for the PaddleOCR
// classifier).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeDeft } from '../../src/artifact/deft.js';
import { imageToChw } from '../../src/cli/images.js';
import { CpuSession } from '../../src/graph/session.js';
import { load } from '../../src/model.js';
import { Tensor } from '../../src/tensor.js';
import { compactByHand } from '../artifact/compact.js';
import { randomTensor, rng, testGpu } from '../helpers.js';
import { runOrt } from '../onnx/oracle.js';
import { CLASSIFIER, cli, cliJson, digit, LENET, tempDir, writeJpeg, writePng } from './fixtures.js';

const gpu = await testGpu();
const dir = tempDir();
const seven = digit(0); // the first MNIST test digit
const png = writePng(join(dir, 'digit.png'), seven);
const jpg = writeJpeg(join(dir, 'digit.jpg'), seven);

test('help, version, and usage errors exit with 2 and say what is wrong', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  for (const c of ['run', 'eval', 'bench', 'info', 'train']) assert.match(help.stdout, new RegExp(`\\n  ${c} `));
  const version = await cli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  assert.equal((await cli([])).code, 2);
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['run', LENET], /required option '-i, --input <file>' not specified/],
    [['run', LENET, '-i', png, '--bogus'], /unknown option '--bogus'/],
    [['run', LENET, '-i', png, '--backend', 'tpu'], /expected 'webgpu' or 'cpu', got 'tpu'/],
    [['run', 'no-such-model.onnx', '-i', png], /model file 'no-such-model.onnx' does not exist/],
    [['run', LENET, '-i', join(dir, 'nope.png')], /--input file '.*nope.png' does not exist/],
    [['run', LENET, '-i', LENET], /must be an image \(.png, .jpg, .jpeg\) or a tensor file \(.json\)/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
  // --json: the error as a JSON document on stdout too.
  const j = await cliJson(['run', LENET, '-i', png, '--top', '0']);
  assert.equal(j.code, 2);
  assert.equal(j.json.error.exitCode, 2);
  assert.match(j.json.error.message, /expected a positive integer, got '0'/);
});

test('run: PNG and JPEG digits and a tensor file through LeNet-5 (CPU) give the labelled class and the in-process outputs', async () => {
  const model = await load(LENET, { backend: 'cpu' });
  const x = new Tensor([1, 1, 28, 28], imageToChw(seven, [1, 28, 28]));
  const want = (await model.run({ input: x })).softmax0_out.data;
  for (const input of [png, jpg]) {
    const r = await cliJson(['run', LENET, '--input', input, '--backend', 'cpu', '--top', '3']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.json.outputs.softmax0_out;
    assert.deepEqual(out.shape, [1, 10]);
    assert.equal(out.top[0].length, 3);
    assert.equal(out.top[0][0].class, seven.label, `${input}: top class`);
    assert.ok(Math.abs(out.data.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-5);
    if (input === png) assert.deepEqual(Float32Array.from(out.data), want);
    assert.deepEqual(r.json.inputs, { input: [1, 1, 28, 28] });
    assert.equal(r.json.backend, 'cpu');
  }
  const text = await cli(['run', LENET, '--input', png, '--backend', 'cpu', '--labels', 'zero,one,two,three,four,five,six,seven,eight,nine']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, new RegExp(`top 5: ${['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'][seven.label]} \\(`));
  // A tensor file: a nested array, and {shape, data}.
  const nested = join(dir, 'nested.json');
  writeFileSync(nested, JSON.stringify([[Array.from({ length: 28 }, (_, y) => Array.from(x.data.subarray(y * 28, y * 28 + 28)))]]));
  const flat = join(dir, 'flat.json');
  writeFileSync(flat, JSON.stringify({ input: { shape: [1, 1, 28, 28], data: Array.from(x.data) } }));
  for (const f of [nested, flat]) {
    const r = await cliJson(['run', LENET, '--input', f, '--backend', 'cpu']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Float32Array.from(r.json.outputs.softmax0_out.data), want);
  }
  const wrong = join(dir, 'wrong.json');
  writeFileSync(wrong, JSON.stringify({ shape: [1, 5], data: [1, 2, 3, 4, 5] }));
  const bad = await cli(['run', LENET, '--input', wrong, '--backend', 'cpu']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /has 5 values \(shape \[1, 5\]\); the model's input is \[1, 1, 28, 28\]/);
});

test('run: a compacted .deft artifact equals the compacted graph in process; a truncated one exits with 1', async () => {
  const graph = (await load(LENET, { backend: 'cpu' })).graph;
  const { compacted } = compactByHand(graph, rng(3));
  const path = join(dir, 'compacted.deft');
  const bytes = await encodeDeft(compacted, { producer: 'test' });
  writeFileSync(path, bytes);
  const x = randomTensor([1, 1, 28, 28], rng(4), 0, 1);
  const tensor = join(dir, 'x.json');
  writeFileSync(tensor, JSON.stringify({ shape: x.shape, data: Array.from(x.data) }));
  const want = (await new CpuSession(compacted).run({ input: x })).softmax0_out.data;
  const r = await cliJson(['run', path, '--input', tensor, '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.kind, 'deft');
  assert.deepEqual(Float32Array.from(r.json.outputs.softmax0_out.data), want);
  const cut = join(dir, 'cut.deft');
  writeFileSync(cut, bytes.subarray(0, 500));
  const t = await cli(['run', cut, '--input', tensor]);
  assert.equal(t.code, 1);
  assert.match(t.stderr, /truncated \.deft file: 500 bytes/);
  const corrupt = bytes.slice();
  corrupt[corrupt.length >> 1] ^= 1;
  writeFileSync(cut, corrupt);
  const c = await cliJson(['run', cut, '--input', tensor]);
  assert.equal(c.code, 1);
  assert.match(c.json.error.message, /corrupt \.deft file: its SHA-256 checksum does not match/);
});

test('run: the PaddleOCR classifier on a text-line image matches onnxruntime on the same preprocessing', async () => {
  const w = 160;
  const h = 40;
  const rgba = new Uint8Array(w * h * 4).fill(255);
  const r = rng(6);
  for (let y = 10; y < 30; y++) for (let x = 6; x < 154; x++) if (x % 9 < 3 || r() < 0.1) rgba.set([30, 30, 30, 255], 4 * (y * w + x));
  const line = { width: w, height: h, rgba };
  const file = writePng(join(dir, 'line.png'), line);
  const run = await cliJson(['run', CLASSIFIER, '-i', file, '--input-shape', 'x=1,3,48,192', '--mean', '0.5', '--std', '0.5', '--labels', '0,180', '--backend', 'cpu']);
  assert.equal(run.code, 0, run.stderr);
  const out = run.json.outputs['softmax_0.tmp_0'];
  assert.deepEqual(out.shape, [1, 2]);
  assert.deepEqual(out.top[0].map((c: { label: string }) => c.label).sort(), ['0', '180']);
  const x = new Tensor([1, 3, 48, 192], imageToChw(line, [3, 48, 192], { mean: [0.5], std: [0.5] }));
  const ort = (await runOrt(CLASSIFIER, { x }))['softmax_0.tmp_0'].data;
  out.data.forEach((v: number, i: number) => assert.ok(Math.abs(v - ort[i]) < 1e-4, `output ${i}: ${v} vs onnxruntime ${ort[i]}`));
  // Without --input-shape, both free sizes follow the image.
  const free = await cliJson(['run', CLASSIFIER, '-i', file, '--backend', 'cpu']);
  assert.equal(free.code, 0, free.stderr);
  assert.deepEqual(free.json.inputs.x, [1, 3, h, w]);
  // A tensor without a shape cannot fill symbolic sizes: a usage error naming the option.
  const flat = join(dir, 'flat3.json');
  writeFileSync(flat, JSON.stringify({ data: [1, 2, 3] }));
  const bad = await cli(['run', CLASSIFIER, '-i', flat, '--backend', 'cpu']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /give its shape with --input-shape x=\?,3,\?,\?/);
});

test('run on WebGPU matches the CPU backend', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const [g, c] = [await cliJson(['run', LENET, '-i', png, '--backend', 'webgpu']), await cliJson(['run', LENET, '-i', png, '--backend', 'cpu'])];
  assert.equal(g.code, 0, g.stderr);
  assert.equal(g.json.backend, 'webgpu');
  assert.ok(g.json.device);
  const a = g.json.outputs.softmax0_out.data as number[];
  const b = c.json.outputs.softmax0_out.data as number[];
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-5 + 1e-4 * Math.abs(b[i]), `output ${i}: ${v} vs ${b[i]}`));
});
