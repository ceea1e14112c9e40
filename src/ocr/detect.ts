// The text detector's input and output. The page is scaled to a size whose sides are multiples of
// 32, as the convention says (conventions.ts): PaddleOCR's `DetResizeForTest` (limit type 'max':
// the longer side at most 960, each side then rounded to the nearest multiple of 32, at least 32,
// the page stretched to it) or Guten OCR's sharp resize (each side rounded up to a multiple of 32,
// the page scaled by one factor to fit and centred on black). Pixels normalised as the convention
// says, in B, G, R order. The output is a probability map at the input's size.
//
// Every page runs at its own size: kernels are shape-generic (kernels/uniforms.ts), so a new size
// builds a session but compiles nothing once its kernels' forms have been seen.

import type { Point } from '../image/geometry.js';
import { resizeImage, type Image } from '../image/image.js';
import { CONVENTIONS, type DetectorConvention } from './conventions.js';
import type { OcrModel } from './models.js';
import { writeBgrPlanes } from './pixels.js';

const MULTIPLE = 32;

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The size the detector is fed for a width x height page. */
export function detectorSize(width: number, height: number, conv: DetectorConvention = CONVENTIONS.paddleocr.detector): { width: number; height: number } {
  const limit = conv.limitSide ?? Infinity;
  const ratio = Math.max(width, height) > limit ? limit / Math.max(width, height) : 1;
  const side = conv.rounding === 'nearest'
    ? (n: number) => Math.max(roundHalfEven(Math.trunc(n * ratio) / MULTIPLE) * MULTIPLE, MULTIPLE)
    : (n: number) => Math.max(Math.ceil((n * ratio) / MULTIPLE) * MULTIPLE, MULTIPLE);
  return { width: side(width), height: side(height) };
}

/** Where a page lies in the detector's input: x_input = x_page * scaleX + dx (likewise y). */
export interface Placement {
  readonly scaleX: number;
  readonly scaleY: number;
  readonly dx: number;
  readonly dy: number;
}

/** The page scaled into the detector's input size, and where it lies there (see the header). */
export function placePage(page: Image, size: { width: number; height: number }, conv: DetectorConvention): { image: Image; placement: Placement } {
  if (conv.fit === 'stretch') {
    const image = resizeImage(page, size.width, size.height, conv.filter);
    return { image, placement: { scaleX: size.width / page.width, scaleY: size.height / page.height, dx: 0, dy: 0 } };
  }
  // 'contain', as sharp does it: one factor, the scaled sides rounded, centred (offsets rounded
  // down), black and opaque around.
  const s = Math.min(size.width / page.width, size.height / page.height);
  const w = Math.min(size.width, Math.max(1, Math.round(page.width * s)));
  const h = Math.min(size.height, Math.max(1, Math.round(page.height * s)));
  const scaled = resizeImage(page, w, h, conv.filter);
  const dx = Math.floor((size.width - w) / 2);
  const dy = Math.floor((size.height - h) / 2);
  if (w === size.width && h === size.height) return { image: scaled, placement: { scaleX: 1, scaleY: 1, dx: 0, dy: 0 } };
  const rgba = new Uint8Array(size.width * size.height * 4);
  for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
  for (let y = 0; y < h; y++) rgba.set(scaled.rgba.subarray(y * w * 4, (y + 1) * w * 4), ((y + dy) * size.width + dx) * 4);
  return { image: { ...size, rgba }, placement: { scaleX: w / page.width, scaleY: h / page.height, dx, dy } };
}

/** A point of the detector's input on the page. */
export const toPage = (p: Placement) => ([x, y]: Point): Point => [(x - p.dx) / p.scaleX, (y - p.dy) / p.scaleY];

/** The detector's input [1, 3, H, W] for a page, the scaled page it was made from, and where the page lies in it. */
export function detectorInput(page: Image, conv: DetectorConvention = CONVENTIONS.paddleocr.detector): { data: Float32Array; size: { width: number; height: number }; image: Image; placement: Placement } {
  const size = detectorSize(page.width, page.height, conv);
  const { image, placement } = placePage(page, size, conv);
  const data = new Float32Array(3 * size.width * size.height);
  writeBgrPlanes(image, conv.norm, data, 0, size.height, size.width);
  return { data, size, image, placement };
}

/** A probability map, row-major. */
export interface ProbabilityMap {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** Run the detector on a page: its probability map at the input's size, and the input it saw. */
export async function detect(det: OcrModel, page: Image, conv: DetectorConvention = CONVENTIONS.paddleocr.detector): Promise<{ map: ProbabilityMap; image: Image; placement: Placement }> {
  const { data, size, image, placement } = detectorInput(page, conv);
  const out = await det.run([1, 3, size.height, size.width], data);
  if (out.data.length !== size.width * size.height) {
    throw new Error(`the detector gave ${out.data.length} values for a ${size.width}x${size.height} input; a DB detector gives one probability per pixel`);
  }
  return { map: { ...size, data: out.data }, image, placement };
}
