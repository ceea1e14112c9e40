// The OCR pipeline's pre- and post-processing on small hand-made cases: sizes and batches, pixel
// planes, DB boxes from a probability map, reading order, crops, CTC decoding.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Point, Quad } from '../../src/image/geometry.js';
import type { Image } from '../../src/image/image.js';
import { chunks } from '../../src/ocr/batch.js';
import { classifierImage } from '../../src/ocr/classify.js';
import { cropBox } from '../../src/ocr/crop.js';
import { ctcGreedy } from '../../src/ocr/ctc.js';
import { boxesFromMap, boxScore, miniBox, orderClockwise, sortBoxes, unclip } from '../../src/ocr/db.js';
import { detectorInput, detectorSize } from '../../src/ocr/detect.js';
import { CONVENTIONS, HALF_NORM } from '../../src/ocr/conventions.js';
import { writeBgrPlanes } from '../../src/ocr/pixels.js';

const DET_NORM = CONVENTIONS.paddleocr.detector.norm;

test('detectorSize: longer side at most 960, sides rounded to the nearest multiple of 32 (halves to even), at least 32', () => {
  assert.deepEqual(detectorSize(480, 256), { width: 480, height: 256 });
  assert.deepEqual(detectorSize(1920, 1000), { width: 960, height: 512 }); // 1000 * 0.5 = 500 -> 15.6 -> 16 * 32
  assert.deepEqual(detectorSize(100, 47), { width: 96, height: 32 });
  assert.deepEqual(detectorSize(80, 16), { width: 64, height: 32 }); // 80 / 32 = 2.5 rounds to 2; 16 -> 0 -> at least 32
  assert.deepEqual(detectorSize(112, 112), { width: 128, height: 128 }); // 3.5 rounds to 4
});

test('chunks: batches of at most max items, in order', () => {
  assert.deepEqual(chunks([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});

function solid(width: number, height: number, [r, g, b, a]: number[]): Image {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) rgba.set([r, g, b, a], p * 4);
  return { width, height, rgba };
}

test('writeBgrPlanes: channels in B, G, R order, normalised; transparent pixels are white', () => {
  const out = new Float32Array(2 * 3 * 2 * 3).fill(-9);
  writeBgrPlanes(solid(2, 1, [255, 0, 51, 255]), HALF_NORM, out, 1, 2, 3);
  const plane = (c: number) => Array.from(out.subarray(18 + c * 6, 18 + c * 6 + 6));
  // Slot 1; row 0 columns 0-1 written, the rest left as it was.
  assert.deepEqual(plane(0).map((v) => +v.toFixed(4)), [-0.6, -0.6, -9, -9, -9, -9]); // blue 51
  assert.deepEqual(plane(1).slice(0, 2), [-1, -1]);
  assert.deepEqual(plane(2).slice(0, 2), [1, 1]); // red 255
  assert.ok(out.subarray(0, 18).every((v) => v === -9), 'slot 0 untouched');
  const clear = new Float32Array(3);
  writeBgrPlanes(solid(1, 1, [0, 0, 0, 0]), DET_NORM, clear, 0, 1, 1);
  assert.deepEqual(Array.from(clear, (v) => +v.toFixed(4)), [0, 1, 2].map((c) => +((1 - DET_NORM.mean[c]) / DET_NORM.std[c]).toFixed(4)));
  assert.throws(() => writeBgrPlanes(solid(4, 1, [0, 0, 0, 255]), HALF_NORM, clear, 0, 1, 3), /does not fit/);
});

test('detectorInput scales the page to its detector size and normalises it, nothing else', () => {
  const page = solid(40, 20, [250, 240, 230, 255]);
  const { data, size } = detectorInput(page);
  assert.deepEqual(size, { width: 32, height: 32 });
  assert.equal(data.length, 3 * 32 * 32);
  const blue = (230 / 255 - DET_NORM.mean[0]) / DET_NORM.std[0];
  assert.ok(data.subarray(0, 32 * 32).every((v) => Math.abs(v - blue) < 1e-5), 'blue plane first, all paper');
});

/** A probability map with filled axis-aligned blocks [x0, y0, x1, y1] (inclusive) of value v. */
function mapWith(width: number, height: number, blocks: [number, number, number, number, number][]) {
  const data = new Float32Array(width * height).fill(0.01);
  for (const [x0, y0, x1, y1, v] of blocks) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data[y * width + x] = v;
  return { width, height, data };
}

test('miniBox orders a rectangle top-left, top-right, bottom-right, bottom-left; boxScore averages inside', () => {
  const { box, side } = miniBox([[10, 20], [50, 20], [50, 30], [10, 30], [30, 25]]);
  assert.deepEqual(box.map((p) => p.map((v) => Math.round(v))), [[10, 20], [50, 20], [50, 30], [10, 30]]);
  assert.equal(Math.round(side), 10);
  const map = mapWith(8, 6, [[2, 1, 4, 3, 1]]);
  assert.equal(boxScore(map, [[2, 1], [4, 1], [4, 3], [2, 3]]), 1);
  // One more column to the right (value 0.01): 9 ones and 3 of 0.01.
  assert.ok(Math.abs(boxScore(map, [[2, 1], [5, 1], [5, 3], [2, 3]]) - (9 + 0.03) / 12) < 1e-6);
});

test('unclip grows a rectangle by area * ratio / perimeter on every side', () => {
  const grown = unclip([[10, 10], [50, 10], [50, 20], [10, 20]], 1.5); // d = 400 * 1.5 / 100 = 6
  const xs = grown.map((p) => p[0]);
  const ys = grown.map((p) => p[1]);
  assert.deepEqual([Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)], [4, 56, 4, 26]);
});

test('boxesFromMap: keeps solid regions, drops faint and tiny ones, scales to the page; sortBoxes puts them in reading order', () => {
  const map = mapWith(64, 32, [
    [30, 4, 59, 9, 0.9], // a line on the right, top
    [4, 5, 25, 10, 0.95], // a line on the left, a pixel lower: read first
    [4, 20, 40, 26, 0.45], // above 0.3 but its mean is under 0.6: dropped
    [50, 20, 51, 21, 0.99], // 2x2 pixels: its shorter side is under 3, dropped
  ]);
  const boxes = sortBoxes(boxesFromMap(map, 128, 64));
  assert.equal(boxes.length, 2);
  assert.ok(boxes[0].box[0][0] < boxes[1].box[0][0], 'left line first');
  assert.ok(Math.abs(boxes[0].score - 0.95) < 1e-6 && Math.abs(boxes[1].score - 0.9) < 1e-6);
  // Left block: pixel centres x 4..25, y 5..10 -> a 21 x 5 rectangle, d = 105 * 1.5 / 52 = 3.03;
  // grown to about x 1..28, y 2..13 on the map, twice that on the page.
  const [tl, , br] = boxes[0].box;
  assert.ok(Math.abs(tl[0] - 2) <= 2 && Math.abs(tl[1] - 4) <= 2 && Math.abs(br[0] - 56) <= 2 && Math.abs(br[1] - 26) <= 2, `box ${JSON.stringify(boxes[0].box)}`);
  assert.deepEqual(boxesFromMap(mapWith(16, 16, []), 16, 16), []);
});

test('sortBoxes: top to bottom; boxes within 10 pixels of height left to right', () => {
  const q = (x: number, y: number): { box: Quad } => ({ box: [[x, y], [x + 5, y], [x + 5, y + 5], [x, y + 5]] });
  const sorted = sortBoxes([q(50, 30), q(60, 0), q(10, 6), q(0, 38), q(90, 50), q(5, 60)]);
  // (0, 38) is 8 below (50, 30): same line, read first; (5, 60) is 10 below (90, 50): the next line.
  assert.deepEqual(sorted.map((b) => b.box[0]), [[10, 6], [60, 0], [0, 38], [50, 30], [90, 50], [5, 60]]);
  assert.deepEqual(orderClockwise([[5, 9], [1, 1], [5, 1], [1, 9]] as Point[]), [[1, 1], [5, 1], [5, 9], [1, 9]]);
});

test('cropBox cuts a quad upright and turns tall crops a quarter counter-clockwise', () => {
  const page = solid(20, 30, [255, 255, 255, 255]);
  page.rgba.set([0, 0, 0, 255], (2 * 20 + 3) * 4); // a dark pixel at (3, 2)
  const wide = cropBox(page, [[2, 2], [12, 2], [12, 6], [2, 6]]);
  assert.deepEqual([wide.width, wide.height], [10, 4]);
  assert.equal(wide.rgba[(0 * 10 + 1) * 4], 0);
  const tall = cropBox(page, [[2, 2], [6, 2], [6, 17], [2, 17]]); // 4 x 15 -> 15 x 4 after the turn
  assert.deepEqual([tall.width, tall.height], [15, 4]);
  // (1, 0) of the upright crop goes to (0, 4 - 1 - 1) = (0, 2) when turned counter-clockwise.
  assert.equal(tall.rgba[(2 * 15 + 0) * 4], 0);
  assert.deepEqual([classifierImage(wide).width, classifierImage(wide).height], [120, 48]);
  assert.deepEqual([classifierImage(solid(100, 10, [0, 0, 0, 255])).width], [192]);
});

test('ctcGreedy merges repeats, drops blanks, keeps a letter repeated across a blank; score is the mean kept', () => {
  const chars = ['a', 'b', ' '];
  const cols = [
    [0.1, 0.8, 0.05, 0.05], // a
    [0.1, 0.6, 0.2, 0.1], // a (repeat, merged)
    [0.7, 0.1, 0.1, 0.1], // blank
    [0.1, 0.9, 0.0, 0.0], // a again
    [0.0, 0.0, 0.1, 0.9], // space
    [0.2, 0.0, 0.7, 0.1], // b
  ];
  const probs = Float32Array.from(cols.flat());
  const r = ctcGreedy(probs, cols.length, 4, chars);
  assert.equal(r.text, 'aa b');
  assert.ok(Math.abs(r.score - (0.8 + 0.9 + 0.9 + 0.7) / 4) < 1e-6);
  assert.deepEqual(ctcGreedy(Float32Array.from([0.9, 0.1, 0, 0]), 1, 4, chars), { text: '', score: 0 });
});
