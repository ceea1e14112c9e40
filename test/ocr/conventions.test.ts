// The two OCR conventions (src/ocr/conventions.ts) on small cases: the detector's input size and
// placement, its pixels, the DB constants, the recogniser's input (width, pixels, batches) and
// Guten OCR's joined rows. The whole pipeline under each is in pipeline.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Quad } from '../../src/image/geometry.js';
import type { Image } from '../../src/image/image.js';
import { CONVENTIONS, convention, DEFAULT_PRESET } from '../../src/ocr/conventions.js';
import { boxesFromMap, unclip } from '../../src/ocr/db.js';
import { detectorInput, detectorSize, toPage } from '../../src/ocr/detect.js';
import type { OcrModel } from '../../src/ocr/models.js';
import { recognize, recogniserWidth } from '../../src/ocr/recognize.js';
import { joinRows } from '../../src/ocr/rows.js';

const PADDLE = CONVENTIONS.paddleocr;
const GUTEN = CONVENTIONS.guten;
const solid = (width: number, height: number, rgba: number[]): Image => ({ width, height, rgba: new Uint8Array(width * height * 4).map((_, i) => rgba[i % 4]) });

test('convention(): PaddleOCR by default, Guten OCR by name, an unknown name refused', () => {
  assert.equal(DEFAULT_PRESET, 'paddleocr');
  assert.equal(convention(), PADDLE);
  assert.equal(convention('guten'), GUTEN);
  assert.throws(() => convention('tesseract'), /unknown OCR preset 'tesseract': use 'paddleocr' or 'guten'/);
});

test('detectorSize: Guten OCR rounds each side up to a multiple of 32 and sets no limit', () => {
  assert.deepEqual(detectorSize(480, 256, GUTEN.detector), { width: 480, height: 256 });
  assert.deepEqual(detectorSize(100, 47, GUTEN.detector), { width: 128, height: 64 }); // PaddleOCR: 96 x 32
  assert.deepEqual(detectorSize(1920, 1000, GUTEN.detector), { width: 1920, height: 1024 }); // PaddleOCR: 960 x 512
  assert.deepEqual(detectorSize(10, 3, GUTEN.detector), { width: 32, height: 32 });
});

test("detectorInput under Guten OCR: the page scaled by one factor, centred on black ('contain'), pixels x / 255", () => {
  // 500 x 300 -> 512 x 320: factor 1.024, the page 512 x 307 at rows 6..312 (sharp puts it there too).
  const page = solid(500, 300, [255, 128, 0, 255]);
  const { data, size, image, placement } = detectorInput(page, GUTEN.detector);
  assert.deepEqual(size, { width: 512, height: 320 });
  assert.deepEqual([image.width, image.height], [512, 320]);
  assert.deepEqual(placement, { scaleX: 512 / 500, scaleY: 307 / 300, dx: 0, dy: 6 });
  const at = (c: number, y: number, x: number) => data[(c * 320 + y) * 512 + x];
  assert.deepEqual([at(0, 5, 10), at(1, 5, 10), at(2, 5, 10)], [0, 0, 0]); // a black bar above
  assert.deepEqual([at(0, 100, 10), +at(1, 100, 10).toFixed(4), at(2, 100, 10)], [0, +(128 / 255).toFixed(4), 1]); // B, G, R
  assert.equal(at(2, 313, 10), 0); // and below
  assert.deepEqual(toPage(placement)([256, 6]), [250, 0]);
  // PaddleOCR stretches the same page to 512 x 288 (300 / 32 = 9.4 rounds to 9) and normalises with ImageNet's statistics.
  const paddle = detectorInput(page, PADDLE.detector);
  assert.deepEqual(paddle.placement, { scaleX: 512 / 500, scaleY: 288 / 300, dx: 0, dy: 0 });
  assert.ok(Math.abs(paddle.data[0] - (0 - 0.485) / 0.229) < 1e-5);
});

/** A probability map with filled axis-aligned blocks [x0, y0, x1, y1] (inclusive) of value v. */
function mapWith(width: number, height: number, blocks: [number, number, number, number, number][]) {
  const data = new Float32Array(width * height).fill(0.01);
  for (const [x0, y0, x1, y1, v] of blocks) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data[y * width + x] = v;
  return { width, height, data };
}

test('boxesFromMap under Guten OCR: binarised at 0.03, no box score, regions in the order found', () => {
  const map = mapWith(64, 32, [
    [30, 4, 59, 9, 0.9],
    [4, 5, 25, 10, 0.95],
    [4, 20, 40, 26, 0.2], // faint: PaddleOCR drops it (under 0.3), Guten OCR reads it
  ]);
  assert.equal(boxesFromMap(map, 64, 32, PADDLE.boxes).length, 2);
  const boxes = boxesFromMap(map, 64, 32, GUTEN.boxes);
  assert.equal(boxes.length, 3);
  // Found top to bottom by their first pixel: the right block (row 4) before the left (row 5).
  assert.deepEqual(boxes.map((b) => b.box[0][0] > 20), [true, false, false]);
  // Corners may reach one past the last pixel: a block at the map's right edge.
  const edge = boxesFromMap(mapWith(32, 16, [[20, 4, 31, 10, 0.9]]), 32, 16, GUTEN.boxes);
  assert.equal(Math.max(...edge[0].box.map((p) => p[0])), 32);
  assert.equal(Math.max(...boxesFromMap(mapWith(32, 16, [[20, 4, 31, 10, 0.9]]), 32, 16, PADDLE.boxes)[0].box.map((p) => p[0])), 31);
});

test('unclip: PaddleOCR truncates the corners to integers first, Guten OCR does not', () => {
  const box = [[10.9, 10.9], [50.9, 10.9], [50.9, 20.9], [10.9, 20.9]] as const;
  const xs = (pts: readonly (readonly number[])[]) => pts.map((p) => p[0]);
  assert.equal(Math.min(...xs(unclip(box, 1.5, true))), 4); // from 10, grown by 6
  assert.equal(Math.min(...xs(unclip(box, 1.5, false))), 5); // from 10.9: 4.9, rounded
});

test('recogniserWidth: PaddleOCR ceil(48 w / h), Guten OCR (sharp) round(48 w / h)', () => {
  const line = solid(77, 34, [0, 0, 0, 255]); // 48 * 77 / 34 = 108.7
  assert.equal(recogniserWidth(line, PADDLE.recogniser), 109);
  assert.equal(recogniserWidth(solid(100, 37, [0, 0, 0, 255]), PADDLE.recogniser), 130); // 129.7
  assert.equal(recogniserWidth(solid(100, 37, [0, 0, 0, 255]), GUTEN.recogniser), 130);
  assert.equal(recogniserWidth(solid(101, 48, [0, 0, 0, 255]), GUTEN.recogniser), 101);
  assert.equal(recogniserWidth(solid(1001, 400, [0, 0, 0, 255]), GUTEN.recogniser), 120); // 120.1
  assert.equal(recogniserWidth(solid(1001, 400, [0, 0, 0, 255]), PADDLE.recogniser), 121);
});

/** A recogniser that records its inputs and reads every line as 'a' (class 1 in column 0). */
function fakeRecogniser(): { rec: OcrModel; runs: { shape: number[]; data: Float32Array }[] } {
  const runs: { shape: number[]; data: Float32Array }[] = [];
  const rec = {
    fixed: undefined,
    async run(shape: number[], data: Float32Array) {
      runs.push({ shape: [...shape], data: data.slice() });
      const T = shape[3] / 8;
      const out = new Float32Array(shape[0] * T * 3);
      for (let n = 0; n < shape[0]; n++) for (let t = 0; t < T; t++) out[(n * T + t) * 3 + (t === 0 ? 1 : 0)] = 1;
      return { shape: [shape[0], T, 3], data: out };
    },
  } as unknown as OcrModel;
  return { rec, runs };
}

test("recognize: PaddleOCR's batches padded to at least 320 in [-1, 1]; Guten OCR's lines one by one at their own width in [0, 1]", async () => {
  const lines = [solid(96, 48, [255, 255, 255, 255]), solid(40, 20, [255, 255, 255, 255])]; // 96 and 96 wide at height 48
  const paddle = fakeRecogniser();
  const p = await recognize(paddle.rec, lines, ['a', ' '], PADDLE.recogniser);
  assert.deepEqual(p.map((d) => d.text), ['a', 'a']);
  assert.equal(paddle.runs.length, 1);
  assert.deepEqual(paddle.runs[0].shape, [2, 3, 48, 320]);
  const d = paddle.runs[0].data;
  assert.deepEqual([d[95], d[96]], [1, 0]); // white is 1; zeros to the right of the line
  const guten = fakeRecogniser();
  await recognize(guten.rec, lines, ['a', ' '], GUTEN.recogniser);
  assert.deepEqual(guten.runs.map((r) => r.shape), [[1, 3, 48, 96], [1, 3, 48, 96]]);
  assert.ok(guten.runs[0].data.every((v) => v === 1), 'white is 1, nothing padded');
});

test("joinRows: a row's lines joined left to right by a space, rows ordered by their top, the mean score", () => {
  const q = (x0: number, y0: number, x1: number, y1: number): Quad => [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
  const rows = joinRows([
    { text: 'second floor', score: 0.9, box: q(120, 41, 200, 60) },
    { text: 'Room 204,', score: 0.7, box: q(10, 40, 100, 60) }, // midline 50 vs 50.5: the same row
    { text: 'Meeting', score: 1, box: q(10, 10, 90, 30) },
    { text: 'below', score: 0.8, box: q(10, 52, 90, 72) }, // midline 62: 11.5 away, over half the mean height (20.25)
  ]);
  assert.deepEqual(rows.map((r) => r.text), ['Meeting', 'Room 204, second floor', 'below']);
  assert.ok(Math.abs(rows[1].score - 0.8) < 1e-9);
  assert.deepEqual(rows[1].box, [[10, 40], [200, 41], [200, 60], [10, 60]]);
  assert.deepEqual(joinRows([]), []);
});
