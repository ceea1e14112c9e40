// The text detector's input and output, as PaddleOCR's `DetResizeForTest` (limit_type 'max') and
// `NormalizeImage` prepare it: the page scaled so that its longer side is at most 960, each side
// then rounded to the nearest multiple of 32 (at least 32), pixels normalised with ImageNet's mean
// and std in B, G, R order. The output is a probability map at the input's size.
//
// Shape buckets (see models.ts): the scaled page is placed at the top-left of a canvas whose sides
// are rounded up to a multiple of 160 (at most 960, 36 shapes in all), the rest filled with the
// page's own border colour (the median of its edge pixels: paper, on a page), and the map is cut
// back to the page. The map is not quite the unpadded one: PP-OCRv4's detector has 10
// squeeze-and-excitation blocks, whose global average pooling sees the filler too. On the fixture
// pages (onnxruntime, padded against unpadded) 99% of the map moves by under 0.006, but the edges
// of text regions shift by about a pixel, and so do the boxes (1-3 pixels a corner; the text read
// is the same: test/ocr/pipeline.test.ts).

import { resizeImage, type Image } from '../image/image.js';
import type { ShapeCache } from './models.js';
import { DET_NORM, writeBgrPlanes } from './pixels.js';

export const DET_LIMIT_SIDE = 960;
export const DET_BUCKET = 160;

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

/** The padded size a detector input of this size runs at. */
export function detectorBucket(width: number, height: number): { width: number; height: number } {
  const up = (n: number) => Math.min(Math.ceil(n / DET_BUCKET) * DET_BUCKET, Math.max(n, DET_LIMIT_SIDE));
  return { width: up(width), height: up(height) };
}

/** Per channel, the median of the image's edge pixels (RGBA). */
function borderColour(img: Image): [number, number, number, number] {
  const { width: W, height: H, rgba } = img;
  const idx: number[] = [];
  for (let x = 0; x < W; x++) idx.push(x, (H - 1) * W + x);
  for (let y = 1; y < H - 1; y++) idx.push(y * W, y * W + W - 1);
  const median = (c: number) => {
    const v = idx.map((p) => rgba[p * 4 + c]).sort((a, b) => a - b);
    return v[v.length >> 1];
  };
  return [median(0), median(1), median(2), median(3)];
}

/** The page scaled and padded as the detector takes it: [1, 3, H, W] at the bucket's size. */
export function detectorInput(page: Image, bucketed = true): { data: Float32Array; size: { width: number; height: number }; input: { width: number; height: number } } {
  const size = detectorSize(page.width, page.height);
  const input = bucketed ? detectorBucket(size.width, size.height) : size;
  const scaled = resizeImage(page, size.width, size.height);
  let canvas = scaled;
  if (input.width !== size.width || input.height !== size.height) {
    const fill = borderColour(scaled);
    const rgba = new Uint8Array(input.width * input.height * 4);
    for (let p = 0; p < input.width * input.height; p++) rgba.set(fill, p * 4);
    for (let y = 0; y < size.height; y++) rgba.set(scaled.rgba.subarray(y * size.width * 4, (y + 1) * size.width * 4), y * input.width * 4);
    canvas = { width: input.width, height: input.height, rgba };
  }
  const data = new Float32Array(3 * input.width * input.height);
  writeBgrPlanes(canvas, DET_NORM, data, 0, input.height, input.width);
  return { data, size, input };
}

/** A probability map, row-major. */
export interface ProbabilityMap {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** Run the detector on a page: its probability map at the scaled page's size (padding cut off). */
export async function detect(det: ShapeCache, page: Image, bucketed = true): Promise<ProbabilityMap> {
  const { data, size, input } = detectorInput(page, bucketed);
  const out = await det.run([1, 3, input.height, input.width], data);
  if (out.data.length !== input.width * input.height) {
    throw new Error(`the detector gave ${out.data.length} values for a ${input.width}x${input.height} input; a DB detector gives one probability per pixel`);
  }
  if (input.width === size.width && input.height === size.height) return { ...size, data: out.data };
  const map = new Float32Array(size.width * size.height);
  for (let y = 0; y < size.height; y++) map.set(out.data.subarray(y * input.width, y * input.width + size.width), y * size.width);
  return { ...size, data: map };
}
