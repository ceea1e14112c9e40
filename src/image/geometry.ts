// Plane geometry on images, as text detection needs it and nothing OCR-specific: connected regions
// of a binary mask, convex hulls, minimum-area rectangles, polygon area and perimeter, the
// perspective transform between two quadrilaterals, and sampling an RGBA image through one.
//
// Coordinates are pixel centres: pixel (x, y) of a W x H image sits at the point (x, y), so the
// image spans [-0.5, W - 0.5] (OpenCV's convention, which PaddleOCR's boxes follow).

import type { Image } from './image.js';
import { cubic } from './resample.js';

export type Point = readonly [number, number];
/** Four corners: top-left, top-right, bottom-right, bottom-left. */
export type Quad = readonly [Point, Point, Point, Point];

/**
 * Connected regions of the pixels where `mask` is non-zero, 8-connected, in raster order of their
 * first pixel. Each region is given by its pixel count and, per row it covers, the leftmost and
 * rightmost pixel: enough for its convex hull (every other pixel lies between them).
 */
export interface Region {
  readonly pixels: number;
  /** Per covered row: [y, xmin, xmax]. */
  readonly rows: readonly (readonly [number, number, number])[];
}

export function connectedRegions(mask: Uint8Array, width: number, height: number): Region[] {
  if (mask.length !== width * height) throw new RangeError(`mask has ${mask.length} values, not ${width}x${height}`);
  const label = new Int32Array(width * height).fill(-1);
  const regions: Region[] = [];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || label[start] >= 0) continue;
    const id = regions.length;
    const extent = new Map<number, [number, number]>();
    let pixels = 0;
    label[start] = id;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop()!;
      const x = p % width;
      const y = (p - x) / width;
      pixels++;
      const e = extent.get(y);
      if (!e) extent.set(y, [x, x]);
      else if (x < e[0]) e[0] = x;
      else if (x > e[1]) e[1] = x;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] && label[q] < 0) {
            label[q] = id;
            stack.push(q);
          }
        }
      }
    }
    const rows = [...extent.entries()].sort((a, b) => a[0] - b[0]).map(([y, [lo, hi]]) => [y, lo, hi] as const);
    regions.push({ pixels, rows });
  }
  return regions;
}

/** The points of a region's outline that its convex hull needs (two per row). */
export function regionPoints(r: Region): Point[] {
  return r.rows.flatMap(([y, lo, hi]) => (lo === hi ? [[lo, y] as Point] : [[lo, y] as Point, [hi, y] as Point]));
}

const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Convex hull, counter-clockwise in a y-up frame (Andrew's monotone chain); collinear points dropped. */
export function convexHull(points: readonly Point[]): Point[] {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length <= 2) return pts.filter((p, i) => i === 0 || p[0] !== pts[0][0] || p[1] !== pts[0][1]);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

export interface RotatedRect {
  readonly center: Point;
  /** Side lengths along `angle` (width) and across it (height). */
  readonly width: number;
  readonly height: number;
  /** Direction of the width side, in radians. */
  readonly angle: number;
}

/**
 * The rectangle of least area that contains the points: one of its sides lies on a hull edge
 * (rotating calipers, here by trying every edge; hulls of text regions have few edges).
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  if (!points.length) throw new RangeError('minAreaRect needs at least one point');
  const hull = convexHull(points);
  if (hull.length === 1) return { center: hull[0], width: 0, height: 0, angle: 0 };
  let best: RotatedRect | undefined;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i];
    const b = hull[(i + 1) % hull.length];
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (len === 0) continue;
    const ux = (b[0] - a[0]) / len;
    const uy = (b[1] - a[1]) / len;
    let [umin, umax, vmin, vmax] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      umin = Math.min(umin, u);
      umax = Math.max(umax, u);
      vmin = Math.min(vmin, v);
      vmax = Math.max(vmax, v);
    }
    const area = (umax - umin) * (vmax - vmin);
    if (area < bestArea - 1e-9) {
      bestArea = area;
      const cu = (umin + umax) / 2;
      const cv = (vmin + vmax) / 2;
      best = { center: [cu * ux - cv * uy, cu * uy + cv * ux], width: umax - umin, height: vmax - vmin, angle: Math.atan2(uy, ux) };
    }
  }
  return best!;
}

/** The rectangle's four corners, in no particular order. */
export function rectCorners(r: RotatedRect): Point[] {
  const [cx, cy] = r.center;
  const ux = Math.cos(r.angle);
  const uy = Math.sin(r.angle);
  const hw = r.width / 2;
  const hh = r.height / 2;
  return [
    [cx - hw * ux + hh * uy, cy - hw * uy - hh * ux],
    [cx + hw * ux + hh * uy, cy + hw * uy - hh * ux],
    [cx + hw * ux - hh * uy, cy + hw * uy + hh * ux],
    [cx - hw * ux - hh * uy, cy - hw * uy + hh * ux],
  ];
}

/** Signed area by the shoelace formula (positive for clockwise order on screen, y down). */
export function polygonArea(poly: readonly Point[]): number {
  let s = 0;
  for (let i = 0; i < poly.length; i++) {
    const [x0, y0] = poly[i];
    const [x1, y1] = poly[(i + 1) % poly.length];
    s += x0 * y1 - x1 * y0;
  }
  return s / 2;
}

export function polygonPerimeter(poly: readonly Point[]): number {
  let s = 0;
  for (let i = 0; i < poly.length; i++) {
    const [x0, y0] = poly[i];
    const [x1, y1] = poly[(i + 1) % poly.length];
    s += Math.hypot(x1 - x0, y1 - y0);
  }
  return s;
}

export const distance = (a: Point, b: Point) => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** A 3x3 homography, row-major: [x', y', w'] = H [x, y, 1]. */
export type Homography = Float64Array;

/**
 * The homography that maps the four `from` points onto the four `to` points (the 8x8 linear system
 * of the direct linear transform with h33 = 1, solved by Gaussian elimination with pivoting).
 */
export function perspectiveTransform(from: readonly Point[], to: readonly Point[]): Homography {
  if (from.length !== 4 || to.length !== 4) throw new RangeError('a perspective transform maps 4 points to 4 points');
  const A: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i];
    const [u, v] = to[i];
    A.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    A.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let c = 0; c < 8; c++) {
    let p = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    if (Math.abs(A[p][c]) < 1e-12) throw new RangeError('the four points are degenerate (three on a line): no perspective transform');
    [A[c], A[p]] = [A[p], A[c]];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k < 9; k++) A[r][k] -= f * A[c][k];
    }
  }
  const h = new Float64Array(9);
  for (let i = 0; i < 8; i++) h[i] = A[i][8] / A[i][i];
  h[8] = 1;
  return h;
}

export function applyHomography(h: Homography, [x, y]: Point): Point {
  const w = h[6] * x + h[7] * y + h[8];
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}

export type Interpolation = 'bilinear' | 'bicubic';

/** OpenCV's INTER_CUBIC kernel parameter (Keys' a; libvips' bicubic uses -0.5). */
const OPENCV_CUBIC_A = -0.75;

/**
 * A width x height image whose pixel (x, y) is `src` sampled at `toSource(x, y)`: bilinearly from
 * the 2x2 pixels around it, or bicubically from the 4x4 (OpenCV's INTER_CUBIC, which PaddleOCR's
 * and Guten OCR's crops use); outside the source the nearest edge pixel is used (a replicated border).
 */
export function sampleImage(src: Image, width: number, height: number, toSource: (x: number, y: number) => Point, interpolation: Interpolation = 'bilinear'): Image {
  const rgba = new Uint8Array(width * height * 4);
  const { width: W, height: H, rgba: s } = src;
  const clampX = (x: number) => (x < 0 ? 0 : x > W - 1 ? W - 1 : x);
  const clampY = (y: number) => (y < 0 ? 0 : y > H - 1 ? H - 1 : y);
  const taps = interpolation === 'bicubic' ? 4 : 2;
  // The taps' weights along one axis for a sample at fractional offset t past the first inner tap.
  const weights = (t: number, w: number[]) => {
    if (taps === 2) [w[0], w[1]] = [1 - t, t];
    else for (let k = 0; k < 4; k++) w[k] = cubic(k - 1 - t, OPENCV_CUBIC_A);
  };
  const wx = [0, 0, 0, 0];
  const wy = [0, 0, 0, 0];
  const first = taps === 2 ? 0 : -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = toSource(x, y);
      // Bilinear clamps the point (the edge pixel outside); bicubic clamps each tap's index, as
      // OpenCV's BORDER_REPLICATE does (the same for points inside the image).
      const fx = taps === 2 ? clampX(sx) : sx;
      const fy = taps === 2 ? clampY(sy) : sy;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      weights(fx - x0, wx);
      weights(fy - y0, wy);
      const o = (y * width + x) * 4;
      for (let c = 0; c < 4; c++) {
        let v = 0;
        for (let j = 0; j < taps; j++) {
          const row = clampY(y0 + first + j) * W;
          let r = 0;
          for (let i = 0; i < taps; i++) r += wx[i] * s[(row + clampX(x0 + first + i)) * 4 + c];
          v += wy[j] * r;
        }
        rgba[o + c] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return { width, height, rgba };
}

/** The quadrilateral `quad` of `src` warped onto an upright width x height rectangle. */
export function warpQuad(src: Image, quad: Quad, width: number, height: number, interpolation: Interpolation = 'bilinear'): Image {
  // Inverse map: output corner (0,0) is quad[0], (width, 0) quad[1], and so on (OpenCV's pts_std).
  const toSource = perspectiveTransform(
    [
      [0, 0],
      [width, 0],
      [width, height],
      [0, height],
    ],
    quad,
  );
  return sampleImage(src, width, height, (x, y) => applyHomography(toSource, [x, y]), interpolation);
}

/** The image turned a quarter counter-clockwise (numpy's rot90) or half a turn. */
export function rotateImage(src: Image, turn: 90 | 180): Image {
  const { width: W, height: H, rgba: s } = src;
  const [w, h] = turn === 90 ? [H, W] : [W, H];
  const rgba = new Uint8Array(s.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // 90 ccw: out(x, y) = in(W - 1 - y, x); 180: out(x, y) = in(W - 1 - x, H - 1 - y).
      const [sx, sy] = turn === 90 ? [W - 1 - y, x] : [W - 1 - x, H - 1 - y];
      rgba.set(s.subarray((sy * W + sx) * 4, (sy * W + sx) * 4 + 4), (y * w + x) * 4);
    }
  }
  return { width: w, height: h, rgba };
}
