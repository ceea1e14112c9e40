// The reference adapters of scripts/ocr-metrics.ts (scripts/ocr-systems.ts): CTC greedy decoding
// and the recogniser's input rule, on hand-made cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ctcGreedy, recogniserInput } from '../../scripts/ocr-systems.js';

test('ctcGreedy: arg-max per column, repeats merged, blanks dropped (a blank splits a repeat), mean kept score', () => {
  const chars = ['a', 'b', ' '];
  // Columns' arg-max: a a blank a b b ' ' -> "aab " (scores of the kept columns: 0.9, 0.7, 0.6, 0.5).
  const best = [1, 1, 0, 1, 2, 2, 3];
  const score = [0.9, 0.8, 0.99, 0.7, 0.6, 0.95, 0.5];
  const C = 4;
  const m = new Float32Array(best.length * C);
  best.forEach((b, t) => {
    for (let c = 0; c < C; c++) m[t * C + c] = c === b ? score[t] : (1 - score[t]) / 3;
  });
  const r = ctcGreedy(m, best.length, C, chars);
  assert.equal(r.text, 'aab ');
  assert.ok(Math.abs(r.score - (0.9 + 0.7 + 0.6 + 0.5) / 4) < 1e-6);
  assert.deepEqual(ctcGreedy(new Float32Array([1, 0, 0, 0]), 1, C, chars), { text: '', score: 0 });
});

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
