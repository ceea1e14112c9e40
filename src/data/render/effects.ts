// Degradations applied to rendered RGBA images, all deterministic for a given generator:
// Gaussian blur (separable, radius ceil(3 sigma), edges clamped), additive Gaussian noise (one
// value per pixel, added to R, G and B alike, as sensor luminance noise), a JPEG round trip
// (jpeg-js, at a given quality) and the 180-degree turn the direction classifier detects.

import jpeg from 'jpeg-js';
import type { Image } from '../../image/image.js';

export type Rgb = readonly [number, number, number];

export function gaussianBlur(img: Image, sigma: number): Image {
  if (sigma <= 0) return img;
  const r = Math.ceil(3 * sigma);
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  const kernel = k.map((v) => v / sum);
  const { width: w, height: h, rgba } = img;
  const tmp = new Float32Array(w * h * 4);
  const out = new Uint8Array(rgba.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let t = -r; t <= r; t++) s += kernel[t + r] * rgba[(y * w + Math.min(w - 1, Math.max(0, x + t))) * 4 + c];
        tmp[(y * w + x) * 4 + c] = s;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let t = -r; t <= r; t++) s += kernel[t + r] * tmp[(Math.min(h - 1, Math.max(0, y + t)) * w + x) * 4 + c];
        out[(y * w + x) * 4 + c] = Math.round(s);
      }
    }
  }
  return { width: w, height: h, rgba: out };
}

/** Standard normal samples from a uniform generator (Box-Muller). */
function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export function addNoise(img: Image, sigma: number, rand: () => number): Image {
  if (sigma <= 0) return img;
  const out = new Uint8Array(img.rgba);
  for (let p = 0; p < out.length; p += 4) {
    const n = sigma * normal(rand);
    for (let c = 0; c < 3; c++) out[p + c] = Math.max(0, Math.min(255, Math.round(out[p + c] + n)));
  }
  return { ...img, rgba: out };
}

/** Encode as JPEG at `quality` (1-100) and decode again: the block and ringing artefacts of a compressed photo. */
export function jpegRoundTrip(img: Image, quality: number): Image {
  const enc = jpeg.encode({ width: img.width, height: img.height, data: img.rgba }, quality);
  const dec = jpeg.decode(enc.data, { useTArray: true, formatAsRGBA: true });
  return { width: dec.width, height: dec.height, rgba: dec.data };
}

/** The image turned by 180 degrees (pixel order reversed). */
export function rotate180(img: Image): Image {
  const n = img.width * img.height;
  const out = new Uint8Array(img.rgba.length);
  for (let p = 0; p < n; p++) out.set(img.rgba.subarray(4 * p, 4 * p + 4), 4 * (n - 1 - p));
  return { ...img, rgba: out };
}

/** Relative luminance-like brightness (0-255) of a colour, for keeping ink and paper apart. */
export function brightness([r, g, b]: Rgb): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

export const cssColor = ([r, g, b]: Rgb) => `rgb(${r}, ${g}, ${b})`;

/** Paper: plain white, off-white or a light tint (cream, blue, green, grey). */
export function paperColor(rand: () => number): Rgb {
  const r = rand();
  if (r < 0.4) return [255, 255, 255];
  const v = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  if (r < 0.6) return [v(238, 252), v(238, 252), v(238, 252)];
  const tint: Rgb[] = [[v(240, 255), v(230, 245), v(200, 225)], [v(215, 235), v(228, 245), v(245, 255)], [v(220, 240), v(240, 255), v(220, 240)], [v(205, 225), v(205, 225), v(205, 225)]];
  return tint[Math.floor(rand() * tint.length)];
}

/** Ink: black, grey, dark blue, dark red-brown or dark green, at least 110 levels darker than `paper`. */
export function inkColor(rand: () => number, paper: Rgb): Rgb {
  const v = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const options: Rgb[] = [[v(0, 30), v(0, 30), v(0, 30)], [v(40, 80), v(40, 80), v(40, 80)], [v(10, 40), v(20, 50), v(90, 150)], [v(90, 140), v(20, 45), v(15, 40)], [v(10, 40), v(70, 100), v(30, 60)]];
  const ink = options[Math.floor(rand() * options.length)];
  return brightness(paper) - brightness(ink) >= 110 ? ink : [0, 0, 0];
}
