// Image geometry on small hand-made cases: regions, hulls, minimum-area rectangles, polygons,
// perspective transforms, warps and rotations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyHomography,
  connectedRegions,
  convexHull,
  minAreaRect,
  perspectiveTransform,
  polygonArea,
  polygonPerimeter,
  rectCorners,
  regionPoints,
  rotateImage,
  sampleImage,
  warpQuad,
  type Point,
} from '../../src/image/geometry.js';
import { declaredSize, resizeImage, type Image } from '../../src/image/image.js';
import { PNG } from 'pngjs';

const close = (a: number, b: number, tol = 1e-9, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

function maskOf(rows: string[]): { mask: Uint8Array; width: number; height: number } {
  const width = rows[0].length;
  const mask = new Uint8Array(rows.length * width);
  rows.forEach((r, y) => [...r].forEach((c, x) => (mask[y * width + x] = c === '#' ? 1 : 0)));
  return { mask, width, height: rows.length };
}

test('connectedRegions: 8-connected regions with their row extents, in raster order', () => {
  const { mask, width, height } = maskOf([
    '##....#',
    '.#....#',
    '..#....',
    '.....##',
  ]);
  const regions = connectedRegions(mask, width, height);
  assert.equal(regions.length, 3);
  // The diagonal step (1,1) -> (2,2) joins the first region (8-connectivity).
  assert.deepEqual(regions[0], { pixels: 4, rows: [[0, 0, 1], [1, 1, 1], [2, 2, 2]] });
  assert.deepEqual(regions[1], { pixels: 2, rows: [[0, 6, 6], [1, 6, 6]] });
  assert.deepEqual(regions[2], { pixels: 2, rows: [[3, 5, 6]] });
  assert.deepEqual(regionPoints(regions[2]), [[5, 3], [6, 3]]);
  assert.deepEqual(connectedRegions(new Uint8Array(6), 3, 2), []);
});

test('convexHull drops inner and collinear points', () => {
  const pts: Point[] = [[0, 0], [2, 0], [4, 0], [4, 3], [0, 3], [2, 1], [1, 2]];
  const hull = convexHull(pts);
  assert.equal(hull.length, 4);
  assert.deepEqual(new Set(hull.map((p) => p.join(','))), new Set(['0,0', '4,0', '4,3', '0,3']));
  assert.deepEqual(convexHull([[1, 1], [1, 1]]), [[1, 1]]);
});

test('minAreaRect: an axis-aligned block, a rotated rectangle, and a single point', () => {
  const block = minAreaRect([[2, 1], [7, 1], [7, 4], [2, 4], [4, 2]]);
  assert.deepEqual([Math.max(block.width, block.height), Math.min(block.width, block.height)], [5, 3]);
  close(block.center[0], 4.5, 1e-9, 'cx');
  close(block.center[1], 2.5, 1e-9, 'cy');
  // A 10 x 4 rectangle turned by 30 degrees around (20, 10).
  const a = Math.PI / 6;
  const corners: Point[] = [[-5, -2], [5, -2], [5, 2], [-5, 2]].map(([x, y]) => [20 + x * Math.cos(a) - y * Math.sin(a), 10 + x * Math.sin(a) + y * Math.cos(a)]);
  const r = minAreaRect([...corners, [20, 10], [21, 10.5]]);
  close(r.width * r.height, 40, 1e-9, 'area');
  close(Math.max(r.width, r.height), 10, 1e-9, 'long side');
  const back = rectCorners(r);
  for (const c of corners) assert.ok(back.some((b) => Math.hypot(b[0] - c[0], b[1] - c[1]) < 1e-9), `corner ${c} recovered`);
  assert.deepEqual(minAreaRect([[3, 3]]), { center: [3, 3], width: 0, height: 0, angle: 0 });
});

test('polygon area (signed) and perimeter', () => {
  const sq: Point[] = [[0, 0], [4, 0], [4, 3], [0, 3]];
  assert.equal(polygonArea(sq), 12);
  assert.equal(polygonArea([...sq].reverse()), -12);
  assert.equal(polygonPerimeter(sq), 14);
});

test('perspectiveTransform maps the four points exactly, also for a true perspective quad', () => {
  const from: Point[] = [[0, 0], [10, 0], [10, 5], [0, 5]];
  const to: Point[] = [[3, 2], [15, 4], [13, 11], [1, 9]];
  const h = perspectiveTransform(from, to);
  from.forEach((p, i) => {
    const q = applyHomography(h, p);
    close(q[0], to[i][0], 1e-9, `x${i}`);
    close(q[1], to[i][1], 1e-9, `y${i}`);
  });
  assert.throws(() => perspectiveTransform([[0, 0], [1, 1], [2, 2], [0, 1]], to), /degenerate/);
});

/** A gray image whose pixel (x, y) is 10 x + y (small sizes only). */
function ramp(width: number, height: number): Image {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgba.set([10 * x + y, 10 * x + y, 10 * x + y, 255], (y * width + x) * 4);
  return { width, height, rgba };
}
const at = (img: Image, x: number, y: number) => img.rgba[(y * img.width + x) * 4];

test('sampleImage: bilinear between pixel centres, replicated border outside', () => {
  const img = ramp(4, 3);
  const out = sampleImage(img, 3, 1, (x) => [[0.5, 1], [-2, 1], [3.5, 2.25]][x] as unknown as Point);
  assert.equal(at(out, 0, 0), 6); // halfway between 1 and 11
  assert.equal(at(out, 1, 0), 1); // left of the image: column 0
  assert.equal(at(out, 2, 0), 32); // right of it: column 3, row 2.25 -> 30 + 2.25, rounded
});

test("sampleImage bicubic: OpenCV's INTER_CUBIC (a = -0.75) over 4 x 4 pixels, exact at pixel centres, indices clamped", () => {
  // One row 0, 0, 100, 200, 200 (then repeated down): at x = 1.5 the taps 0..3 weigh
  // -0.09375, 0.59375, 0.59375, -0.09375 -> 59.375 - 18.75 = 40.6; bilinear would give 50.
  const row = [0, 0, 100, 200, 200];
  const img: Image = { width: 5, height: 2, rgba: new Uint8Array(40).map((_, i) => (i % 4 === 3 ? 255 : row[(i >> 2) % 5])) };
  const out = sampleImage(img, 4, 1, (x) => [[1.5, 0.5], [2, 0], [-3, 0], [4.5, 1]][x] as unknown as Point, 'bicubic');
  assert.deepEqual([0, 1, 2, 3].map((x) => at(out, x, 0)), [41, 100, 0, 200]);
  assert.equal(at(sampleImage(img, 1, 1, () => [1.5, 0.5], 'bilinear'), 0, 0), 50);
});

test('warpQuad of an axis-aligned quad is a crop; of a rotated quad, an upright image', () => {
  const img = ramp(8, 6);
  const crop = warpQuad(img, [[2, 1], [5, 1], [5, 4], [2, 4]], 3, 3);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) assert.equal(at(crop, x, y), at(img, 2 + x, 1 + y));
  // The quad listed from its bottom-left corner upward: the crop comes out turned a quarter.
  const turned = warpQuad(img, [[2, 4], [2, 1], [5, 1], [5, 4]], 3, 3);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) assert.equal(at(turned, x, y), at(img, 2 + y, 4 - x));
});

test('rotateImage: a quarter counter-clockwise (numpy rot90) and half a turn', () => {
  const img = ramp(3, 2); // rows: [0 10 20], [1 11 21]
  const q = rotateImage(img, 90);
  assert.deepEqual([q.width, q.height], [2, 3]);
  assert.deepEqual([0, 1, 2].map((y) => [at(q, 0, y), at(q, 1, y)]), [[20, 21], [10, 11], [0, 1]]);
  const h = rotateImage(img, 180);
  assert.deepEqual([0, 1].map((y) => [0, 1, 2].map((x) => at(h, x, y))), [[21, 11, 1], [20, 10, 0]]);
});

test('resizeImage keeps a flat image flat and returns the same image at its own size', () => {
  const flat: Image = { width: 5, height: 3, rgba: new Uint8Array(60).fill(200) };
  const big = resizeImage(flat, 12, 7);
  assert.ok(big.rgba.every((v) => v === 200));
  assert.equal(resizeImage(flat, 5, 3), flat);
});

test('declaredSize reads a PNG header and a JPEG SOF without decoding', () => {
  const png = new PNG({ width: 7, height: 5 });
  assert.deepEqual(declaredSize(PNG.sync.write(png)), { width: 7, height: 5 });
  // SOI, an APP0 of 4 bytes, SOF0 [length 17, precision 8, height 0x0102, width 0x0304].
  const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, 0xff, 0xc0, 0, 17, 8, 1, 2, 3, 4, 3, 0, 0, 0, 0, 0]);
  assert.deepEqual(declaredSize(jpeg), { width: 0x0304, height: 0x0102 });
  assert.equal(declaredSize(Uint8Array.from([1, 2, 3])), null);
});
