// How well an OCR system reads text we know: the recogniser's characters and lines, the direction
// classifier's answers, the detector's boxes, and whole pages.
//
// - Edit distance: Levenshtein over Unicode code points (a Chinese character is one), unit costs.
//   Texts are compared as given; normaliseSpaces is there for callers that want stray spaces
//   (a recogniser's trailing space, doubled spaces) not to count.
// - Character error rate: edits summed over lines / reference code points summed over lines;
//   character accuracy = 1 - CER (below 0 when a system inserts more than the text holds).
// - Detector: a predicted and a true quadrilateral match when their IoU is at least 0.5; matching
//   is one-to-one and greedy (all pairs at or above the threshold, highest IoU first, each box used
//   once). Precision = matches / predicted, recall = matches / true, F = harmonic mean; over many
//   pages the counts are summed first. IoU is exact for convex quadrilaterals (clipping one
//   convex polygon by another, Sutherland-Hodgman), which boxes from minimum-area rectangles and
//   turned text lines are; a non-convex box is refused.
// - Page text (reading order): lines are taken in order of their centre's y; a line joins the
//   current row when its centre lies less than half of the smaller of the two heights (its own and
//   the row's first line's, axis-aligned) from the row's first line's centre, else it starts a new
//   row; within a row lines go left to right by their leftmost x; all lines are then joined by '\n'
//   (no line is merged with another). Page CER = edit distance of the two page texts / the true
//   page text's code points; over many pages, edits and lengths are summed first.

import { polygonArea } from '../image/geometry.js';

export type Point = readonly [number, number];
export type Quad = readonly Point[];

export interface OcrLine {
  readonly text: string;
  readonly box: Quad;
}

/** Runs of white space as one space, none at either end: recognisers emit stray spaces at a line's ends. */
export function normaliseSpaces(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** Levenshtein distance between two strings, counted in code points. */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  if (x.length === 0) return y.length;
  if (y.length === 0) return x.length;
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  let cur = new Array<number>(y.length + 1);
  for (let i = 1; i <= x.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[y.length];
}

export interface TextScores {
  readonly lines: number;
  /** Edits summed over lines. */
  readonly edits: number;
  /** Reference code points summed over lines. */
  readonly referenceChars: number;
  /** edits / referenceChars. */
  readonly cer: number;
  /** 1 - cer. */
  readonly characterAccuracy: number;
  /** Share of lines read exactly. */
  readonly exactLineAccuracy: number;
}

/** CER, character accuracy and exact-line accuracy of `hypotheses` against `references` (same order). */
export function textScores(references: readonly string[], hypotheses: readonly string[]): TextScores {
  if (references.length !== hypotheses.length) throw new RangeError(`${references.length} references but ${hypotheses.length} hypotheses`);
  let edits = 0;
  let referenceChars = 0;
  let exact = 0;
  references.forEach((r, i) => {
    edits += editDistance(r, hypotheses[i]);
    referenceChars += [...r].length;
    if (r === hypotheses[i]) exact++;
  });
  const cer = referenceChars ? edits / referenceChars : edits ? Infinity : 0;
  return { lines: references.length, edits, referenceChars, cer, characterAccuracy: 1 - cer, exactLineAccuracy: references.length ? exact / references.length : NaN };
}

/** Share of predictions equal to the labels (0 = "0", 1 = "180" for the direction classifier). */
export function classifierAccuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predicted.length !== labels.length) throw new RangeError(`${predicted.length} predictions but ${labels.length} labels`);
  let same = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) same++;
  return labels.length ? same / labels.length : NaN;
}

/** Signed area (shoelace, image/geometry.ts): positive when the corners turn counter-clockwise in x-right, y-up axes. */
export const signedArea = (poly: Quad): number => polygonArea(poly);

/** Whether every turn of the polygon goes the same way (collinear corners allowed). */
export function isConvex(poly: Quad): boolean {
  let sign = 0;
  for (let i = 0; i < poly.length; i++) {
    const [ax, ay] = poly[i];
    const [bx, by] = poly[(i + 1) % poly.length];
    const [cx, cy] = poly[(i + 2) % poly.length];
    const cross = (bx - ax) * (cy - by) - (by - ay) * (cx - bx);
    if (Math.abs(cross) < 1e-9) continue;
    if (sign === 0) sign = Math.sign(cross);
    else if (Math.sign(cross) !== sign) return false;
  }
  return true;
}

/** `poly` with counter-clockwise corners (reversed if they were clockwise). */
function counterClockwise(poly: Quad): Point[] {
  return signedArea(poly) < 0 ? [...poly].reverse() : [...poly];
}

/** The intersection of two convex polygons (Sutherland-Hodgman: clip `subject` by each edge of `clip`). */
export function convexIntersection(subject: Quad, clip: Quad): Point[] {
  let out = counterClockwise(subject);
  const c = counterClockwise(clip);
  for (let i = 0; i < c.length && out.length; i++) {
    const [ax, ay] = c[i];
    const [bx, by] = c[(i + 1) % c.length];
    // Inside = left of the edge a->b (counter-clockwise polygon).
    const side = ([px, py]: Point) => (bx - ax) * (py - ay) - (by - ay) * (px - ax);
    const input = out;
    out = [];
    for (let k = 0; k < input.length; k++) {
      const p = input[k];
      const q = input[(k + 1) % input.length];
      const sp = side(p);
      const sq = side(q);
      if (sp >= 0) out.push(p);
      if ((sp >= 0) !== (sq >= 0)) {
        const t = sp / (sp - sq);
        out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
      }
    }
  }
  return out;
}

/** Intersection over union of two convex quadrilaterals (or any convex polygons). */
export function quadIou(a: Quad, b: Quad): number {
  for (const [q, name] of [[a, 'first'], [b, 'second']] as const) {
    if (q.length < 3 || q.some((p) => p.length !== 2 || !Number.isFinite(p[0]) || !Number.isFinite(p[1]))) throw new RangeError(`the ${name} box needs at least 3 finite [x, y] corners, got ${JSON.stringify(q)}`);
    if (!isConvex(q)) throw new RangeError(`the ${name} box is not convex: ${JSON.stringify(q)}`);
  }
  const areaA = Math.abs(signedArea(a));
  const areaB = Math.abs(signedArea(b));
  const inter = Math.abs(signedArea(convexIntersection(a, b)));
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

export interface DetectionScores {
  readonly predicted: number;
  readonly truth: number;
  readonly matched: number;
  readonly precision: number;
  readonly recall: number;
  readonly fScore: number;
}

function scores(predicted: number, truth: number, matched: number): DetectionScores {
  const precision = predicted ? matched / predicted : truth ? 0 : 1;
  const recall = truth ? matched / truth : 1;
  const fScore = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { predicted, truth, matched, precision, recall, fScore };
}

/** The greedy one-to-one matches at IoU >= threshold: [predicted index, true index, IoU]. */
export function matchBoxes(predicted: readonly Quad[], truth: readonly Quad[], threshold = 0.5): [number, number, number][] {
  const pairs: [number, number, number][] = [];
  predicted.forEach((p, i) => truth.forEach((t, j) => {
    const iou = quadIou(p, t);
    if (iou >= threshold) pairs.push([i, j, iou]);
  }));
  pairs.sort((x, y) => y[2] - x[2] || x[0] - y[0] || x[1] - y[1]);
  const usedP = new Set<number>();
  const usedT = new Set<number>();
  const out: [number, number, number][] = [];
  for (const m of pairs) {
    if (usedP.has(m[0]) || usedT.has(m[1])) continue;
    usedP.add(m[0]);
    usedT.add(m[1]);
    out.push(m);
  }
  return out;
}

/** Precision, recall and F-score of one page's boxes. */
export function detectionScores(predicted: readonly Quad[], truth: readonly Quad[], threshold = 0.5): DetectionScores {
  return scores(predicted.length, truth.length, matchBoxes(predicted, truth, threshold).length);
}

/** Scores over many pages: counts summed, then the ratios. */
export function sumDetectionScores(pages: readonly DetectionScores[]): DetectionScores {
  const sum = (k: 'predicted' | 'truth' | 'matched') => pages.reduce((a, p) => a + p[k], 0);
  return scores(sum('predicted'), sum('truth'), sum('matched'));
}

function bounds(q: Quad): { x0: number; y0: number; x1: number; y1: number } {
  const xs = q.map((p) => p[0]);
  const ys = q.map((p) => p[1]);
  return { x0: Math.min(...xs), y0: Math.min(...ys), x1: Math.max(...xs), y1: Math.max(...ys) };
}

/** Lines in reading order (see the header): rows top to bottom, left to right within a row. */
export function readingOrder<T extends OcrLine>(lines: readonly T[]): T[] {
  const items = lines.map((line) => {
    const b = bounds(line.box);
    return { line, cy: (b.y0 + b.y1) / 2, h: b.y1 - b.y0, x0: b.x0 };
  });
  items.sort((a, b) => a.cy - b.cy || a.x0 - b.x0);
  const rows: (typeof items)[] = [];
  for (const it of items) {
    const row = rows.at(-1);
    if (row && Math.abs(it.cy - row[0].cy) < Math.min(it.h, row[0].h) / 2) row.push(it);
    else rows.push([it]);
  }
  return rows.flatMap((row) => row.sort((a, b) => a.x0 - b.x0).map((it) => it.line));
}

/** A page's text: its lines in reading order, joined by '\n'. */
export function pageText(lines: readonly OcrLine[]): string {
  return readingOrder(lines).map((l) => l.text).join('\n');
}

/** Page CER over pages: edit distances of page texts summed / true page text lengths summed. */
export function pageScores(truth: readonly (readonly OcrLine[])[], predicted: readonly (readonly OcrLine[])[]): TextScores {
  return textScores(truth.map(pageText), predicted.map(pageText));
}
