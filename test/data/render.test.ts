import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifierInput, classifierPicture, classifierSet } from '../../src/data/ocr-sets.js';
import { imageToChw } from '../../src/image/image.js';
import {
  FONT_FAMILIES, HELD_OUT_FONT, LINE_HEIGHT, renderLine, renderPage, rotate180, samplerFamilies, unknownCharacters, type Quad,
} from '../../src/data/render/index.js';
import { checkSeed, sampleRandom } from '../../src/data/render/seeds.js';
import { textScores } from '../../src/ocr/metrics.js';
import { onnxruntimeModels } from '../../scripts/ocr-systems.js';

test('renderLine: the same (seed, index) gives the same pixels and text; another index or seed differs', async () => {
  const a = await renderLine(7, 3);
  const b = await renderLine(7, 3);
  assert.equal(a.text, b.text);
  assert.deepEqual(a.image, b.image);
  assert.equal(a.image.height, LINE_HEIGHT);
  assert.equal(a.image.rgba.length, 4 * a.image.width * a.image.height);
  for (const other of [await renderLine(7, 4), await renderLine(8, 3)]) {
    assert.ok(other.text !== a.text || other.image.width !== a.image.width || !Buffer.from(other.image.rgba).equals(Buffer.from(a.image.rgba)));
  }
});

test('renderPage: the same (seed, index) gives the same pixels and boxes; another seed differs', async () => {
  const a = await renderPage(7, 0);
  const b = await renderPage(7, 0);
  assert.deepEqual(a.lines, b.lines);
  assert.ok(Buffer.from(a.image.rgba).equals(Buffer.from(b.image.rgba)));
  const c = await renderPage(8, 0);
  assert.notDeepEqual(c.lines.map((l) => l.text), a.lines.map((l) => l.text));
  assert.ok(a.lines.length >= 3, `only ${a.lines.length} lines on the page`);
});

test('samples are named by (kind, seed, index) alone; seed ranges are enforced', () => {
  const r = sampleRandom('line', 5, 9);
  const s = sampleRandom('line', 5, 9);
  assert.equal(r(), s());
  assert.notEqual(sampleRandom('page', 5, 9)(), sampleRandom('line', 5, 9)());
  assert.equal(checkSeed(9001, 'evaluation'), 9001);
  assert.throws(() => checkSeed(1000, 'evaluation'), /not in the range reserved for evaluation \(9000-9999/);
  assert.throws(() => sampleRandom('line', 1, -1), /index >= 0/);
});

test('the held-out family is never sampled, yet renders when asked for; text uses only the recogniser\'s characters', async () => {
  assert.ok(FONT_FAMILIES.some((f) => f.family === HELD_OUT_FONT));
  for (const script of ['latin', 'cjk'] as const) {
    assert.ok(samplerFamilies(script).length >= 2);
    assert.ok(!samplerFamilies(script).some((f) => f.family === HELD_OUT_FONT));
  }
  const families = new Set<string>();
  for (let i = 0; i < 24; i++) {
    const l = await renderLine(11, i);
    families.add(l.style.family);
    assert.deepEqual(unknownCharacters(l.text), [], `line ${i}: ${l.text}`);
    assert.equal(l.text, l.text.trim());
  }
  assert.ok(!families.has(HELD_OUT_FONT));
  assert.ok(families.size >= 5, `only ${[...families].join(', ')}`);
  const held = await renderLine(11, 0, { font: HELD_OUT_FONT });
  assert.equal(held.style.family, HELD_OUT_FONT);
  const page = await renderPage(11, 0, { font: HELD_OUT_FONT });
  assert.ok(page.lines.every((l) => l.family === HELD_OUT_FONT));
  await assert.rejects(renderLine(11, 0, { font: 'Comic Sans' }), /unknown font family 'Comic Sans'/);
});

/** Whether (x, y) lies inside a convex quadrilateral (either orientation). */
function inside(q: Quad, x: number, y: number): boolean {
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const [ax, ay] = q[i];
    const [bx, by] = q[(i + 1) % 4];
    const c = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    if (c === 0) continue;
    if (sign === 0) sign = Math.sign(c);
    else if (Math.sign(c) !== sign) return false;
  }
  return true;
}

test('clean pages: every pixel outside all ground-truth boxes is paper, and every box holds ink', async () => {
  for (const index of [0, 1, 2]) {
    const page = await renderPage(3, index, { clean: true });
    const { width: w, height: h, rgba } = page.image;
    const [pr, pg, pb] = page.style.paper;
    const inked = new Array(page.lines.length).fill(0);
    let outside = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = 4 * (y * w + x);
        if (rgba[p] === pr && rgba[p + 1] === pg && rgba[p + 2] === pb) continue;
        const k = page.lines.findIndex((l) => inside(l.box, x + 0.5, y + 0.5));
        if (k < 0) outside++;
        else inked[k]++;
      }
    }
    assert.equal(outside, 0, `page ${index}: ${outside} ink pixels outside every box`);
    inked.forEach((n, k) => assert.ok(n > 20, `page ${index} line ${k} (${page.lines[k].text}): ${n} ink pixels`));
  }
});

test('classifierInput: height 48, width by aspect capped at 192, B-G-R order, zero padding; classifierSet turns odd lines', async () => {
  const red = { width: 96, height: 48, rgba: new Uint8Array(96 * 48 * 4).map((_, i) => (i % 4 === 0 || i % 4 === 3 ? 255 : 0)) };
  const x = classifierInput(red);
  const at = (c: number, y: number, col: number) => x[(c * 48 + y) * 192 + col];
  assert.equal(at(0, 10, 50), -1); // blue channel first
  assert.equal(at(2, 10, 50), 1); // red last
  assert.equal(at(2, 10, 95), 1);
  assert.equal(at(2, 10, 96), 0); // padding after ceil(48 * 96 / 48) = 96 columns
  const wide = classifierInput({ width: 1000, height: 48, rgba: new Uint8Array(1000 * 48 * 4).fill(255) });
  assert.equal(wide[191], 1);
  const ds = await classifierSet(5, 4);
  assert.deepEqual([...ds.labels], [0, 1, 0, 1]);
  assert.deepEqual(ds.imageShape, [3, 48, 192]);
  const per = 3 * 48 * 192;
  assert.deepEqual(ds.images.subarray(per, 2 * per), classifierInput(rotate180((await renderLine(5, 1)).image)));
  assert.deepEqual(ds.images.subarray(0, per), classifierInput((await renderLine(5, 0)).image));
});

test('classifierPicture: read back as the CLI reads folders, it is classifierInput in R, G, B order within a byte', async () => {
  const line = (await renderLine(5, 2)).image;
  const pic = classifierPicture(line);
  assert.deepEqual([pic.width, pic.height], [192, 48]);
  const viaCli = imageToChw(pic, [3, 48, 192], { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  const direct = classifierInput(line);
  const plane = 48 * 192;
  let worst = 0;
  for (let c = 0; c < 3; c++) for (let p = 0; p < plane; p++) worst = Math.max(worst, Math.abs(viaCli[c * plane + p] - direct[(2 - c) * plane + p]));
  assert.ok(worst <= 1 / 127.5 + 1e-6, `off by ${worst}`);
});

test('rendered lines are legible: PaddleOCR\'s recogniser (onnxruntime) reads a dozen clean lines, the classifier tells their direction', async () => {
  const ort = await onnxruntimeModels();
  try {
    const refs: string[] = [];
    const hyps: string[] = [];
    let right = 0;
    for (let i = 0; i < 12; i++) {
      const line = await renderLine(21, i, { clean: true });
      refs.push(line.text);
      hyps.push((await ort.recognise!(line.image)).trim());
      if ((await ort.classify!(i % 2 ? rotate180(line.image) : line.image)) === i % 2) right++;
    }
    const s = textScores(refs, hyps);
    assert.ok(s.characterAccuracy > 0.95, `character accuracy ${s.characterAccuracy}: ${JSON.stringify(hyps)} for ${JSON.stringify(refs)}`);
    assert.ok(right >= 9, `classifier right on ${right} of 12`);
  } finally {
    await ort.dispose?.();
  }
});
