// The text detector's input and output, as PaddleOCR's `DetResizeForTest` (limit_type 'max') and
// `NormalizeImage` prepare it: the page scaled so that its longer side is at most 960, each side
// then rounded to the nearest multiple of 32 (at least 32), pixels normalised with ImageNet's mean
// and std in B, G, R order. The output is a probability map at the input's size.
//
// Every page runs at its own size: kernels are shape-generic (kernels/uniforms.ts), so a new size
// builds a session but compiles nothing once its kernels' forms have been seen.

import { resizeImage, type Image } from '../image/image.js';
import type { OcrModel } from './models.js';
import { DET_NORM, writeBgrPlanes } from './pixels.js';

export const DET_LIMIT_SIDE = 960;

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The size PaddleOCR feeds its detector for a width x height page. */
export function detectorSize(width: number, height: number, limit = DET_LIMIT_SIDE): { width: number; height: number } {
  const ratio = Math.max(width, height) > limit ? limit / Math.max(width, height) : 1;
  const side = (n: number) => Math.max(roundHalfEven(Math.trunc(n * ratio) / 32) * 32, 32);
  return { width: side(width), height: side(height) };
}

/** The page scaled and normalised as the detector takes it: [1, 3, H, W]. */
export function detectorInput(page: Image): { data: Float32Array; size: { width: number; height: number } } {
  const size = detectorSize(page.width, page.height);
  const data = new Float32Array(3 * size.width * size.height);
  writeBgrPlanes(resizeImage(page, size.width, size.height), DET_NORM, data, 0, size.height, size.width);
  return { data, size };
}

/** A probability map, row-major. */
export interface ProbabilityMap {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** Run the detector on a page: its probability map at the scaled page's size. */
export async function detect(det: OcrModel, page: Image): Promise<ProbabilityMap> {
  const { data, size } = detectorInput(page);
  const out = await det.run([1, 3, size.height, size.width], data);
  if (out.data.length !== size.width * size.height) {
    throw new Error(`the detector gave ${out.data.length} values for a ${size.width}x${size.height} input; a DB detector gives one probability per pixel`);
  }
  return { ...size, data: out.data };
}
