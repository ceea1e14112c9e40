import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import test from 'node:test';
import {
  classifierAccuracy, convexIntersection, detectionScores, editDistance, matchBoxes, pageScores, pageText, quadIou, readingOrder,
  normaliseSpaces, signedArea, sumDetectionScores, textScores, type Quad,
} from '../../src/ocr/metrics.js';
import { seededRandom } from '../../src/random.js';

const rect = (x0: number, y0: number, x1: number, y1: number): Quad => [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];

test('editDistance: hand-checked pairs, counted in code points', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3); // k->s, e->i, +g
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('abc', ''), 3);
  assert.equal(editDistance('flaw', 'lawn'), 2); // -f, +n
  assert.equal(editDistance('中文字', '中字'), 1); // one character, not 3 UTF-8 bytes
  assert.equal(editDistance('𠀀a', 'a'), 1); // a surrogate pair is one code point
  assert.equal(editDistance('same', 'same'), 0);
});

test('textScores: CER summed over lines, exact lines, accuracy below 0 when insertions outnumber the text', () => {
  // 'abcd' vs 'abed': 1 edit; 'xy' vs 'xy': 0; total 1 / 6 characters.
  const s = textScores(['abcd', 'xy'], ['abed', 'xy']);
  assert.equal(s.edits, 1);
  assert.equal(s.referenceChars, 6);
  assert.equal(s.cer, 1 / 6);
  assert.equal(s.characterAccuracy, 5 / 6);
  assert.equal(s.exactLineAccuracy, 0.5);
  assert.equal(textScores(['a'], ['abc']).characterAccuracy, -1);
  assert.throws(() => textScores(['a'], []), /1 references but 0 hypotheses/);
});

test('classifierAccuracy', () => {
  assert.equal(classifierAccuracy([0, 1, 1, 0], [0, 1, 0, 0]), 0.75);
  assert.throws(() => classifierAccuracy([0], [0, 1]), /1 predictions but 2 labels/);
});

test('quadIou: hand-checked rectangles, a turned square, order and orientation of corners do not matter', () => {
  assert.equal(quadIou(rect(0, 0, 2, 2), rect(1, 0, 3, 2)), 2 / 6); // overlap 1x2, union 4 + 4 - 2
  assert.equal(quadIou(rect(0, 0, 1, 1), rect(2, 2, 3, 3)), 0);
  assert.equal(quadIou(rect(0, 0, 4, 4), rect(1, 1, 3, 3)), 4 / 16);
  const clockwise = rect(0, 0, 2, 2);
  assert.equal(quadIou([...clockwise].reverse(), rect(1, 0, 3, 2)), 2 / 6);
  // A diamond inside the square [0, 2]^2 touching its edge midpoints: area 2, IoU 2 / 4.
  assert.ok(Math.abs(quadIou([[1, 0], [2, 1], [1, 2], [0, 1]], rect(0, 0, 2, 2)) - 0.5) < 1e-12);
  assert.throws(() => quadIou([[0, 0], [2, 0], [1, 0.5], [1, 2]], rect(0, 0, 1, 1)), /not convex/);
  assert.throws(() => quadIou([[0, 0], [1, NaN], [1, 1], [0, 1]], rect(0, 0, 1, 1)), /finite/);
});

test('convexIntersection agrees with clipper-lib on random turned rectangles', () => {
  const ClipperLib = createRequire(import.meta.url)('clipper-lib');
  const scale = 1e4;
  const rand = seededRandom(3);
  const turned = (): Quad => {
    const [cx, cy, w, h, a] = [rand() * 50, rand() * 50, 5 + rand() * 40, 3 + rand() * 20, rand() * Math.PI];
    const [c, s] = [Math.cos(a), Math.sin(a)];
    return [[-w, -h], [w, -h], [w, h], [-w, h]].map(([x, y]) => [cx + c * x - s * y, cy + s * x + c * y] as const);
  };
  let compared = 0;
  for (let k = 0; k < 200; k++) {
    const [a, b] = [turned(), turned()];
    const ours = Math.abs(signedArea(convexIntersection(a, b)));
    const c = new ClipperLib.Clipper();
    const path = (q: Quad) => q.map(([x, y]) => ({ X: Math.round(x * scale), Y: Math.round(y * scale) }));
    c.AddPath(path(a), ClipperLib.PolyType.ptSubject, true);
    c.AddPath(path(b), ClipperLib.PolyType.ptClip, true);
    const sol = new ClipperLib.Paths();
    c.Execute(ClipperLib.ClipType.ctIntersection, sol, ClipperLib.PolyFillType.pftNonZero, ClipperLib.PolyFillType.pftNonZero);
    const theirs = sol.reduce((s: number, p: unknown) => s + Math.abs(ClipperLib.Clipper.Area(p)), 0) / (scale * scale);
    assert.ok(Math.abs(ours - theirs) < 1e-3 * Math.max(1, theirs), `pair ${k}: ${ours} vs clipper ${theirs}`);
    if (theirs > 0) compared++;
  }
  assert.ok(compared > 30, `only ${compared} overlapping pairs`);
});

test('detection: greedy one-to-one matching at IoU 0.5, precision/recall/F, counts summed over pages', () => {
  const truth = [rect(0, 0, 10, 2), rect(0, 4, 10, 6)];
  // Two predictions on the first line (IoU 0.9 and 0.8): only the better one matches; the second line is missed.
  const predicted = [rect(0, 0, 9, 2), rect(1, 0, 9, 2), rect(20, 20, 30, 22)];
  assert.deepEqual(matchBoxes(predicted, truth).map(([p, t]) => [p, t]), [[0, 0]]);
  const s = detectionScores(predicted, truth);
  assert.deepEqual([s.matched, s.precision, s.recall], [1, 1 / 3, 1 / 2]);
  assert.ok(Math.abs(s.fScore - 0.4) < 1e-12); // 2 * (1/3) * (1/2) / (5/6)
  // Half overlap (IoU 1/3) does not match.
  assert.equal(detectionScores([rect(5, 0, 15, 2)], [rect(0, 0, 10, 2)]).matched, 0);
  const total = sumDetectionScores([s, detectionScores([rect(0, 0, 10, 2)], [rect(0, 0, 10, 2)])]);
  assert.deepEqual([total.predicted, total.truth, total.matched], [4, 3, 2]);
  assert.equal(total.precision, 0.5);
  assert.equal(detectionScores([], []).fScore, 1);
});

test('readingOrder and pageText: rows top to bottom, left to right in a row, joined by newlines', () => {
  const lines = [
    { text: 'right', box: rect(60, 11, 100, 29) },
    { text: 'second row', box: rect(0, 40, 50, 60) },
    { text: 'left', box: rect(0, 10, 50, 30) },
    // Slightly lower than 'left' (centre 4 px down, height 20): same row.
    { text: 'middle', box: rect(52, 14, 58, 34) },
  ];
  assert.deepEqual(readingOrder(lines).map((l) => l.text), ['left', 'middle', 'right', 'second row']);
  assert.equal(pageText(lines), 'left\nmiddle\nright\nsecond row');
  // One page, one wrong character and a missing line: edits 1 + 5 ('\nabcd' is 5 code points), 12 true code points.
  const truth = [[{ text: 'xyz1234', box: rect(0, 0, 10, 5) }, { text: 'abcd', box: rect(0, 10, 10, 15) }]];
  const read = [[{ text: 'xyz1284', box: rect(0, 0, 10, 5) }]];
  const p = pageScores(truth, read);
  assert.equal(p.edits, 6);
  assert.equal(p.referenceChars, 12);
});

test('normaliseSpaces: runs of white space become one space, none at the ends', () => {
  assert.equal(normaliseSpaces('  a \t b\n c  '), 'a b c');
  assert.equal(normaliseSpaces('中文 '), '中文');
});
