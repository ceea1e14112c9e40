// RGBA images into the planes PaddleOCR's models read. PaddleOCR decodes with OpenCV, so its
// models see channels in B, G, R order; its normalisation constants apply in that order too.
// Transparent pixels are composited over white (paper), where OpenCV would drop alpha.
//
// Each convention's constants are in conventions.ts.
//
// Layout: out[n][c][y][x] for a batch written image by image: [N, 3, H, W] float32.

import type { Image } from '../image/image.js';

export interface PixelNorm {
  /** Per channel, in B, G, R order: value = (pixel / 255 - mean) / std. */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}


/**
 * Write `img` into `out` at batch slot `n` of an [N, 3, H, W] tensor, at its top-left corner; the
 * rest of the slot is left as it is (the caller fills padding).
 */
export function writeBgrPlanes(img: Image, norm: PixelNorm, out: Float32Array, n: number, H: number, W: number): void {
  if (img.width > W || img.height > H) throw new RangeError(`a ${img.width}x${img.height} image does not fit a ${W}x${H} slot`);
  const { rgba } = img;
  const base = n * 3 * H * W;
  const scale = [0, 1, 2].map((c) => 1 / (255 * norm.std[c]));
  const shift = [0, 1, 2].map((c) => norm.mean[c] / norm.std[c]);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const p = (y * img.width + x) * 4;
      const a = rgba[p + 3] / 255;
      const white = 255 * (1 - a);
      for (let c = 0; c < 3; c++) {
        const v = rgba[p + 2 - c] * a + white; // c = 0 reads blue
        out[base + (c * H + y) * W + x] = v * scale[c] - shift[c];
      }
    }
  }
}
