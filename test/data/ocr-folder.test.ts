import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encodePng, OcrFolderError, readDetFolder, readRecFolder, writeOcrFolder } from '../../src/data/ocr-folder.js';
import { renderLine, renderPage } from '../../src/data/render/index.js';

const root = mkdtempSync(join(tmpdir(), 'ocr-folder-'));
after(() => rmSync(root, { recursive: true, force: true }));
const tiny = { width: 3, height: 2, rgba: new Uint8Array(24).fill(200) };

test('writeOcrFolder writes what the readers read back: the renderer\'s texts, boxes and pixels', async () => {
  const out = join(root, 'set');
  await writeOcrFolder({ out, lines: 3, pages: 1, seed: 4 });
  assert.deepEqual(readdirSync(join(out, 'cls', '0')), ['000000.png', '000002.png']);
  assert.deepEqual(readdirSync(join(out, 'cls', '180')), ['000001.png']);
  const rec = readRecFolder(out);
  const line1 = await renderLine(4, 1);
  assert.deepEqual(rec.map((s) => s.file), ['000000.png', '000001.png', '000002.png']);
  assert.equal(rec[1].text, line1.text);
  assert.ok(Buffer.from(rec[1].image.rgba).equals(Buffer.from(line1.image.rgba)));
  const [page] = readDetFolder(out);
  const truth = await renderPage(4, 0);
  assert.deepEqual(page.lines.map((l) => l.text), truth.lines.map((l) => l.text));
  page.lines.forEach((l, k) => l.box.forEach(([x, y], c) => assert.ok(Math.abs(x - truth.lines[k].box[c][0]) < 0.01 && Math.abs(y - truth.lines[k].box[c][1]) < 0.01)));
  // An existing folder is kept unless forced, and then replaced whole; no temporary folder is left.
  await assert.rejects(writeOcrFolder({ out, lines: 1, pages: 0, seed: 4 }), /exists; pass --force/);
  assert.equal(readRecFolder(out).length, 3);
  await writeOcrFolder({ out, lines: 1, pages: 0, seed: 4, force: true });
  assert.equal(readRecFolder(out).length, 1);
  assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp-')), []);
  await assert.rejects(writeOcrFolder({ out: join(root, 'x'), lines: 1, pages: 0, seed: 4, font: 'Nope Sans' }), /unknown font family 'Nope Sans'/);
});

test('readRecFolder: clear errors for a missing labels file, a bad row, a missing image, an empty list', () => {
  const dir = join(root, 'rec-bad');
  mkdirSync(dir, { recursive: true });
  assert.throws(() => readRecFolder(dir), (e: Error) => e instanceof OcrFolderError && /labels\.tsv is missing/.test(e.message));
  writeFileSync(join(dir, 'labels.tsv'), 'no tab here\n');
  assert.throws(() => readRecFolder(dir), /line 1: expected "file<TAB>text"/);
  writeFileSync(join(dir, 'labels.tsv'), 'a.png\thello\n');
  assert.throws(() => readRecFolder(dir), /names a\.png, which is not in/);
  writeFileSync(join(dir, 'labels.tsv'), '../x.png\thello\n');
  assert.throws(() => readRecFolder(dir), /must be a plain file name/);
  writeFileSync(join(dir, 'a.png'), 'not a png');
  writeFileSync(join(dir, 'labels.tsv'), 'a.png\thello\n');
  assert.throws(() => readRecFolder(dir), /neither a PNG nor a JPEG/);
  writeFileSync(join(dir, 'a.png'), encodePng(tiny));
  assert.deepEqual(readRecFolder(dir).map((s) => [s.file, s.text, s.image.width]), [['a.png', 'hello', 3]]);
  writeFileSync(join(dir, 'labels.tsv'), '\n');
  assert.throws(() => readRecFolder(dir), /lists no lines/);
});

test('readDetFolder: clear errors for bad JSON, a missing list, a bad box, a size that does not match', () => {
  const dir = join(root, 'det-bad');
  mkdirSync(dir, { recursive: true });
  assert.throws(() => readDetFolder(dir), /boxes\.json is missing/);
  writeFileSync(join(dir, 'p.png'), encodePng(tiny));
  const write = (v: unknown) => writeFileSync(join(dir, 'boxes.json'), typeof v === 'string' ? v : JSON.stringify(v));
  write('{');
  assert.throws(() => readDetFolder(dir), /not valid JSON/);
  write({ page: [] });
  assert.throws(() => readDetFolder(dir), /must hold \{"pages": \[\.\.\.\]\}/);
  write({ pages: [{ file: 'p.png', lines: [{ text: 'a', box: [[0, 0], [1, 0], [1, 1]] }] }] });
  assert.throws(() => readDetFolder(dir), /line 0: "box" must be 4 \[x, y\] points/);
  write({ pages: [{ file: 'p.png', width: 5, height: 2, lines: [] }] });
  assert.throws(() => readDetFolder(dir), /p\.png is 3x2, boxes\.json says 5x2/);
  const box = [[0, 0], [2, 0], [2, 1], [0, 1]];
  write({ pages: [{ file: 'p.png', width: 3, height: 2, lines: [{ text: 'ab', box }] }] });
  assert.deepEqual(readDetFolder(dir)[0].lines, [{ text: 'ab', box }]);
});
