// The reference adapter of scripts/ocr-metrics.ts (scripts/ocr-systems.ts): the recogniser's input
// rule, on hand-made cases (its CTC decoding is the pipeline's, tested in postprocess.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recogniserInput } from '../../scripts/ocr-systems.js';

test('recogniserInput: height 48, width ceil(48 w / h) padded with zeros to at least 320, B-G-R order', () => {
  const blue = (w: number, h: number) => ({ width: w, height: h, rgba: new Uint8Array(w * h * 4).map((_, i) => (i % 4 === 2 || i % 4 === 3 ? 255 : 0)) });
  const short = recogniserInput(blue(50, 25)); // ceil(48 * 50 / 25) = 96 columns, padded to 320
  assert.equal(short.width, 320);
  const at = (d: Float32Array, W: number, c: number, y: number, x: number) => d[(c * 48 + y) * W + x];
  assert.equal(at(short.data, 320, 0, 20, 95), 1); // blue first
  assert.equal(at(short.data, 320, 2, 20, 95), -1); // red last
  assert.equal(at(short.data, 320, 0, 20, 96), 0);
  const long = recogniserInput(blue(1000, 48));
  assert.equal(long.width, 1000);
  assert.equal(at(long.data, 1000, 0, 47, 999), 1);
});
