// Images as deftnn's pipelines see them: RGBA pixels (decoded by ./decode.ts in Node, by the
// browser in a page), their declared size read from a header, and resampling into a model input
// [C, H, W]. Below the CLI and the OCR pipeline, which both use it.
//
// Image -> tensor: alpha composited over black; resampled separably with a triangle filter whose
// support grows with the reduction (bilinear when enlarging, an area-like average when shrinking,
// so small digits are not aliased); 1 channel = luminance (0.299 R + 0.587 G + 0.114 B), 3 = RGB;
// value = (pixel / 255 - mean[c]) / std[c], after `invert` (255 - pixel) when asked.

import { DeftnnError } from '../errors.js';
import { resampleWeights, type ResizeFilter } from './resample.js';

export interface Image {
  readonly width: number;
  readonly height: number;
  /** RGBA, 4 bytes per pixel, row-major. */
  readonly rgba: Uint8Array;
}

/** A file or buffer that is not an image deftnn can decode. */
export interface Normalization {
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
  readonly invert?: boolean;
}

export class ImageError extends DeftnnError {
  override name = 'ImageError';
}

/**
 * The most pixels an image may declare: 100 megapixels (400 MB as RGBA). The header's dimensions
 * are checked against it before the decoder runs, so a file of a few hundred bytes that declares
 * 100,000 x 100,000 pixels is refused instead of allocating 40 GB.
 */
export const MAX_IMAGE_PIXELS = 100_000_000;

/** Width and height as the PNG IHDR or the JPEG start-of-frame declares them; null when not found. */
export function declaredSize(bytes: Uint8Array): { width: number; height: number } | null {
  const be16 = (i: number) => (bytes[i] << 8) | bytes[i + 1];
  const be32 = (i: number) => bytes[i] * 2 ** 24 + ((bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]);
  if (isPng(bytes)) {
    // signature (8), IHDR chunk: length (4), 'IHDR' (4), width (4), height (4)
    if (bytes.length < 24 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') return null;
    return { width: be32(16), height: be32(20) };
  }
  if (isJpeg(bytes)) {
    // Segments after SOI: FF marker, a 16-bit length that counts itself, the payload. A
    // start-of-frame (C0-CF except C4 DHT, C8 JPG, CC DAC) holds precision, height, width.
    let i = 2;
    while (i + 9 <= bytes.length && bytes[i] === 0xff) {
      const marker = bytes[i + 1];
      if (marker === 0xff) { i++; continue; } // fill byte
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { i += 2; continue; } // no payload
      if (marker === 0xda || marker === 0xd9) return null; // scan data or end before any frame
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: be16(i + 7), height: be16(i + 5) };
      }
      i += 2 + be16(i + 2);
    }
  }
  return null;
}

export const isPng = (b: Uint8Array) => b[0] === 0x89 && b[1] === 0x50;
export const isJpeg = (b: Uint8Array) => b[0] === 0xff && b[1] === 0xd8;

/** One image as [C, H, W] float32 for a model input (see the header for the steps); mean and std per channel. */
export function imageToChw(img: Image, [C, H, W]: readonly [number, number, number], norm: Normalization = {}): Float32Array {
  if (C !== 1 && C !== 3) throw new ImageError(`images can feed 1 (grayscale) or 3 (RGB) channels, not ${C}`);
  const mean = norm.mean ?? Array<number>(C).fill(0);
  const std = norm.std ?? Array<number>(C).fill(1);
  if (mean.length !== C || std.length !== C) throw new ImageError(`mean and std need ${C} values each`);
  const { width: w0, height: h0, rgba } = img;
  // Source planes in [0, 255]: luminance or R, G, B, alpha composited over black.
  const planes = Array.from({ length: C }, () => new Float32Array(w0 * h0));
  for (let p = 0; p < w0 * h0; p++) {
    const a = rgba[4 * p + 3] / 255;
    const [r, g, b] = [0, 1, 2].map((k) => rgba[4 * p + k] * a);
    if (C === 1) planes[0][p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else [r, g, b].forEach((v, k) => (planes[k][p] = v));
  }
  const wx = resampleWeights(w0, W);
  const wy = resampleWeights(h0, H);
  const out = new Float32Array(C * H * W);
  const rows = new Float32Array(h0 * W);
  const clamp = (i: number, n: number) => (i < 0 ? 0 : i >= n ? n - 1 : i);
  for (let c = 0; c < C; c++) {
    const src = planes[c];
    for (let y = 0; y < h0; y++) {
      for (let x = 0; x < W; x++) {
        const { start, w } = wx[x];
        let s = 0;
        for (let k = 0; k < w.length; k++) s += w[k] * src[y * w0 + clamp(start + k, w0)];
        rows[y * W + x] = s;
      }
    }
    for (let y = 0; y < H; y++) {
      const { start, w } = wy[y];
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let k = 0; k < w.length; k++) s += w[k] * rows[clamp(start + k, h0) * W + x];
        const v = norm.invert ? 255 - s : s;
        out[(c * H + y) * W + x] = (v / 255 - mean[c]) / std[c];
      }
    }
  }
  return out;
}


/**
 * The image resampled to width x height RGBA (alpha resampled too), by default with the same filter
 * as imageToChw; `filter` picks another (./resample.ts).
 */
export function resizeImage(img: Image, width: number, height: number, filter: ResizeFilter = 'triangle'): Image {
  if (!(width >= 1 && height >= 1 && Number.isInteger(width) && Number.isInteger(height))) throw new ImageError(`cannot resize to ${width}x${height}`);
  const { width: w0, height: h0, rgba } = img;
  if (w0 === width && h0 === height) return img;
  const wx = resampleWeights(w0, width, filter);
  const wy = resampleWeights(h0, height, filter);
  const clamp = (i: number, n: number) => (i < 0 ? 0 : i >= n ? n - 1 : i);
  // Horizontal pass into float rows [h0, width, 4], then vertical into bytes.
  const rows = new Float32Array(h0 * width * 4);
  for (let y = 0; y < h0; y++) {
    for (let x = 0; x < width; x++) {
      const { start, w } = wx[x];
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let k = 0; k < w.length; k++) s += w[k] * rgba[(y * w0 + clamp(start + k, w0)) * 4 + c];
        rows[(y * width + x) * 4 + c] = s;
      }
    }
  }
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const { start, w } = wy[y];
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let k = 0; k < w.length; k++) s += w[k] * rows[(clamp(start + k, h0) * width + x) * 4 + c];
        out[(y * width + x) * 4 + c] = Math.min(255, Math.max(0, Math.round(s)));
      }
    }
  }
  return { width, height, rgba: out };
}
