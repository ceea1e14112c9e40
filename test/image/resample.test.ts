// Resampling filters (src/image/resample.ts): weights that sum to one at the right positions, and
// 'vips' against sharp itself (the resize Guten OCR runs), on a text-like image.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { resizeImage, type Image } from '../../src/image/image.js';
import { cubic, resampleWeights } from '../../src/image/resample.js';
import { rng } from '../helpers.js';

test('resampleWeights: every output sums to one; triangle is bilinear when enlarging', () => {
  for (const filter of ['triangle', 'vips'] as const) {
    for (const [n, m] of [[10, 25], [25, 10], [7, 7], [48, 20]]) {
      for (const { w } of resampleWeights(n, m, filter)) assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-9, `${filter} ${n}->${m}`);
    }
  }
  // 2 -> 4 with the triangle: output 1 sits at source 0.25 (pixel centres), 3/4 of pixel 0.
  const t = resampleWeights(2, 4, 'triangle')[1];
  assert.deepEqual([t.start + 0, ...t.w.filter((x) => x > 0)], [0, 0.75, 0.25]); // + 0: the start is -0
});

test("resampleWeights 'vips': enlarging reads i * n / m - 0.5 with Catmull-Rom; reducing stretches Lanczos-3", () => {
  // 2x: output 3 reads source 1.0 exactly (a tap of weight 1), output 2 reads 0.5.
  const up = resampleWeights(10, 20, 'vips');
  assert.deepEqual(up[3].w.map((x) => +x.toFixed(9)).filter((x) => x !== 0), [1]);
  assert.equal(up[3].start + up[3].w.findIndex((x) => Math.abs(x - 1) < 1e-9), 1);
  assert.deepEqual(up[2].w.map((x) => +x.toFixed(6)).filter((x) => x !== 0), [cubic(1.5, -0.5), cubic(0.5, -0.5), cubic(0.5, -0.5), cubic(1.5, -0.5)].map((x) => +x.toFixed(6)));
  // Halving: 6 source samples on each side of the centre, negative lobes included.
  const down = resampleWeights(20, 10, 'vips')[5];
  assert.ok(down.w.some((x) => x < 0) && down.w.length >= 11);
});

test("resizeImage 'vips' is within a grey level of sharp's resize on average, up and down", async () => {
  // Dark strokes on paper with some noise, as a text line looks.
  const rand = rng(7);
  const [w, h] = [90, 24];
  const rgba = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ink = (x % 11 < 2 && y > 4 && y < 19) || (y === 12 && x % 23 < 9);
      rgba.set([ink ? 30 : 235 + rand() * 20, ink ? 30 : 235 + rand() * 20, ink ? 40 : 230, 255], (y * w + x) * 4);
    }
  }
  const img: Image = { width: w, height: h, rgba };
  for (const [W, H] of [[180, 48], [45, 12], [113, 30]]) {
    const s = await sharp(Buffer.from(rgba), { raw: { width: w, height: h, channels: 4 } }).resize({ width: W, height: H, fit: 'fill' }).raw().toBuffer();
    const ours = resizeImage(img, W, H, 'vips');
    let diff = 0;
    for (let i = 0; i < s.length; i++) diff += Math.abs(s[i] - ours.rgba[i]);
    const tri = resizeImage(img, W, H, 'triangle');
    let triDiff = 0;
    for (let i = 0; i < s.length; i++) triDiff += Math.abs(s[i] - tri.rgba[i]);
    assert.ok(diff / s.length < 1, `${w}x${h} -> ${W}x${H}: mean difference ${(diff / s.length).toFixed(2)} (triangle: ${(triDiff / s.length).toFixed(2)})`);
    assert.ok(diff < triDiff / 2, `${W}x${H}: closer to sharp than the triangle filter`);
  }
});
