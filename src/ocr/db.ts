// DB post-processing: from the detector's probability map to text boxes, as PaddleOCR's
// `DBPostProcess` (score_mode 'fast', box type 'quad') and its detector's `filter_tag_det_res` do
// it, or Guten OCR's splitIntoLineImages, with the convention's constants (conventions.ts):
//  1. binarise at `threshold`;
//  2. for each 8-connected region (at most `maxCandidates`), its minimum-area rectangle; dropped
//     when its shorter side is under 3 pixels;
//  3. the box's score is the mean probability inside it; dropped under `boxThreshold`;
//  4. the box grown by the Vatti offset area * unclipRatio / perimeter (round joins, clipper-lib as
//     PaddleOCR's pyclipper and Guten OCR's js-clipper), then its minimum-area rectangle again;
//     dropped when its shorter side is under 5;
//  5. scaled from the map to the target image (the page, or for Guten OCR the detector's input
//     itself), rounded, clipped to it; dropped when a side is 3 pixels or less.
// Boxes come in the order their regions are found (top to bottom by their first pixel, as OpenCV's
// findContours finds them); sortBoxes puts them in PaddleOCR's reading order.
// PaddleOCR traces region outlines with OpenCV's findContours; a region's outline and its pixels
// have the same convex hull, which is all the rectangle needs. Guten OCR lists inner outlines
// (holes) too (RETR_LIST); a hole in a region of probability over 0.03 is rare, and is not read here.

import ClipperLib from 'clipper-lib';
import { connectedRegions, distance, minAreaRect, polygonArea, polygonPerimeter, rectCorners, regionPoints, type Point, type Quad } from '../image/geometry.js';
import { CONVENTIONS, type BoxConvention } from './conventions.js';
import type { ProbabilityMap } from './detect.js';

/** The constants of steps 1-5 (BoxConvention's, which ocr() passes; PaddleOCR's by default). */
export type DbOptions = Partial<Pick<BoxConvention, 'threshold' | 'boxThreshold' | 'unclipRatio' | 'maxCandidates' | 'truncateUnclip' | 'pageEdge'>>;

export interface TextBox {
  /** Corners on the page: top-left, top-right, bottom-right, bottom-left. */
  readonly box: Quad;
  /** Mean probability inside the box, on the map. */
  readonly score: number;
}

const MIN_SIZE = 3;

/** Corners of a rectangle ordered as PaddleOCR's get_mini_boxes orders them, and its shorter side. */
export function miniBox(points: readonly Point[]): { box: Quad; side: number } {
  const rect = minAreaRect(points);
  const p = rectCorners(rect).sort((a, b) => a[0] - b[0]);
  const [tl, bl] = p[1][1] > p[0][1] ? [p[0], p[1]] : [p[1], p[0]];
  const [tr, br] = p[3][1] > p[2][1] ? [p[2], p[3]] : [p[3], p[2]];
  return { box: [tl, tr, br, bl], side: Math.min(rect.width, rect.height) };
}

/**
 * Mean of `map` over the pixels inside the quad (vertices truncated to integers, edges included,
 * as OpenCV's fillPoly rasterises it), within the map.
 */
export function boxScore(map: ProbabilityMap, box: readonly Point[]): number {
  const { width: W, height: H, data } = map;
  const pts = box.map(([x, y]) => [Math.trunc(x), Math.trunc(y)] as const);
  const clampX = (v: number) => Math.min(Math.max(v, 0), W - 1);
  const clampY = (v: number) => Math.min(Math.max(v, 0), H - 1);
  const xmin = clampX(Math.floor(Math.min(...box.map((p) => p[0]))));
  const xmax = clampX(Math.ceil(Math.max(...box.map((p) => p[0]))));
  const ymin = clampY(Math.floor(Math.min(...box.map((p) => p[1]))));
  const ymax = clampY(Math.ceil(Math.max(...box.map((p) => p[1]))));
  // A point is inside a convex polygon when it is on the same side of every edge (or on one).
  const sides = pts.map((a, i) => {
    const b = pts[(i + 1) % pts.length];
    return (x: number, y: number) => (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
  });
  let sum = 0;
  let n = 0;
  for (let y = ymin; y <= ymax; y++) {
    for (let x = xmin; x <= xmax; x++) {
      let pos = false;
      let neg = false;
      for (const s of sides) {
        const v = s(x, y);
        if (v > 0) pos = true;
        else if (v < 0) neg = true;
      }
      if (pos && neg) continue;
      sum += data[y * W + x];
      n++;
    }
  }
  return n ? sum / n : 0;
}

/**
 * The polygon grown by `ratio` * area / perimeter with round joins (PaddleOCR's unclip). Clipper
 * works on integers: pyclipper truncates PaddleOCR's float corners (`truncate`); js-clipper, as
 * Guten OCR calls it, takes them as they are, and so does clipper-lib.
 */
export function unclip(box: readonly Point[], ratio: number, truncate = true): Point[] {
  const d = (Math.abs(polygonArea(box)) * ratio) / polygonPerimeter(box);
  const offset = new ClipperLib.ClipperOffset();
  const corner = truncate ? Math.trunc : (v: number) => v;
  offset.AddPath(
    box.map(([x, y]) => ({ X: corner(x), Y: corner(y) })),
    ClipperLib.JoinType.jtRound,
    ClipperLib.EndType.etClosedPolygon,
  );
  const out: { X: number; Y: number }[][] = [];
  offset.Execute(out, d);
  return (out[0] ?? []).map((p) => [p.X, p.Y] as Point);
}

/** Corners ordered top-left, top-right, bottom-right, bottom-left (PaddleOCR's order_points_clockwise). */
export function orderClockwise(pts: readonly Point[]): Quad {
  const byX = [...pts].sort((a, b) => a[0] - b[0]);
  const left = byX.slice(0, 2).sort((a, b) => a[1] - b[1]);
  const right = byX.slice(2).sort((a, b) => a[1] - b[1]);
  return [left[0], right[0], right[1], left[1]];
}

/** Reading order: by top-left corner's y then x, then neighbours within 10 pixels of y by x. */
export function sortBoxes<T extends { box: Quad }>(boxes: readonly T[]): T[] {
  const out = [...boxes].sort((a, b) => a.box[0][1] - b.box[0][1] || a.box[0][0] - b.box[0][0]);
  for (let i = 0; i < out.length - 1; i++) {
    for (let j = i; j >= 0; j--) {
      if (Math.abs(out[j + 1].box[0][1] - out[j].box[0][1]) < 10 && out[j + 1].box[0][0] < out[j].box[0][0]) {
        [out[j], out[j + 1]] = [out[j + 1], out[j]];
      } else break;
    }
  }
  return out;
}

/**
 * Text boxes on a target image of width x height (the page, or the detector's input) from the
 * detector's map (see the header), in the order their regions were found.
 */
export function boxesFromMap(map: ProbabilityMap, width: number, height: number, opts: DbOptions = {}): TextBox[] {
  const c = { ...CONVENTIONS.paddleocr.boxes, ...opts };
  const mask = new Uint8Array(map.data.length);
  for (let i = 0; i < mask.length; i++) mask[i] = map.data[i] > c.threshold ? 1 : 0;
  const regions = connectedRegions(mask, map.width, map.height).slice(0, c.maxCandidates);
  // Corners may lie up to pageEdge past the last pixel (PaddleOCR: on it; Guten OCR: one past).
  const [maxX, maxY] = [width - 1 + c.pageEdge, height - 1 + c.pageEdge];
  const found: TextBox[] = [];
  for (const region of regions) {
    const { box, side } = miniBox(regionPoints(region));
    if (side < MIN_SIZE) continue;
    const score = boxScore(map, box);
    if (score < c.boxThreshold) continue;
    const grown = unclip(box, c.unclipRatio, c.truncateUnclip);
    if (grown.length < 3) continue;
    const big = miniBox(grown);
    if (big.side < MIN_SIZE + 2) continue;
    const scaled = big.box.map(([x, y]) => [
      Math.min(Math.max(Math.round((x / map.width) * width), 0), width),
      Math.min(Math.max(Math.round((y / map.height) * height), 0), height),
    ] as Point);
    const q = orderClockwise(scaled).map(([x, y]) => [Math.min(Math.max(x, 0), maxX), Math.min(Math.max(y, 0), maxY)] as Point) as unknown as Quad;
    if (Math.trunc(distance(q[0], q[1])) <= 3 || Math.trunc(distance(q[0], q[3])) <= 3) continue;
    found.push({ box: q, score });
  }
  return found;
}
