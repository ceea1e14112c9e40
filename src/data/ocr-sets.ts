// Data sets of rendered text for PaddleOCR's models (see src/data/render/ for how text is drawn).
//
// Direction classifier (ch_ppocr_mobile_v2.0_cls): line i of the seed, turned 180 degrees when i
// is odd (label 1 = "180", 0 = "0"; exactly half of each kind), prepared as PaddleOCR's cls
// predictor does (resize_norm_img): resized to height 48 keeping the aspect ratio, width
// ceil(48 * w / h) capped at 192, values (x / 255 - 0.5) / 0.5, channels in OpenCV's B, G, R
// order (PaddleOCR reads images with cv2), then padded on the right to 192 with zeros (after
// normalisation, so the padding is mid-grey). Resampling is deftnn's triangle filter
// (src/image/image.ts), not OpenCV's bilinear: near-identical on text, not bit-identical.

import { imageToChw, type Image } from '../image/image.js';
import type { Dataset } from './dataset.js';
import { renderLine, renderLines, renderPages, rotate180, type RenderedLine, type RenderedPage, type RenderOptions } from './render/index.js';

export const CLS_SHAPE = [3, 48, 192] as const;
export const CLS_LABELS = ['0', '180'] as const;

/** The width a line is resized to for the classifier: ceil(48 * w / h), at most 192. */
export function classifierWidth(img: Image): number {
  if (img.width < 1 || img.height < 1) throw new RangeError(`cannot prepare an empty ${img.width}x${img.height} image`);
  return Math.min(CLS_SHAPE[2], Math.ceil((CLS_SHAPE[1] * img.width) / img.height));
}

/** One line image as the classifier's [3, 48, 192] input (see the header). */
export function classifierInput(img: Image, out = new Float32Array(CLS_SHAPE[0] * CLS_SHAPE[1] * CLS_SHAPE[2])): Float32Array {
  const [C, H, W] = CLS_SHAPE;
  if (out.length !== C * H * W) throw new RangeError(`a classifier input is [${CLS_SHAPE.join(', ')}] (${C * H * W} values), got ${out.length}`);
  const w = classifierWidth(img);
  const rgb = imageToChw(img, [3, H, w], { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  out.fill(0);
  for (let c = 0; c < C; c++) {
    const src = 2 - c; // B, G, R
    for (let y = 0; y < H; y++) out.set(rgb.subarray((src * H + y) * w, (src * H + y + 1) * w), (c * H + y) * W);
  }
  return out;
}

/**
 * A line as a 192x48 picture in the classifier's geometry (resized as classifierInput does, RGB,
 * padded on the right with grey 128), for folders that `deftnn eval --dataset DIR --mean 0.5
 * --std 0.5` reads: the CLI then feeds what classifierInput computes but in R, G, B order, with
 * the padding at 0.0039 instead of 0 and pixels rounded to bytes.
 */
export function classifierPicture(img: Image): Image {
  const [, H, W] = CLS_SHAPE;
  const w = classifierWidth(img);
  const rgb = imageToChw(img, [3, H, w]); // values / 255
  const rgba = new Uint8Array(W * H * 4).fill(128);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = 4 * (y * W + x);
      rgba[p + 3] = 255;
      if (x < w) for (let c = 0; c < 3; c++) rgba[p + c] = Math.max(0, Math.min(255, Math.round(255 * rgb[(c * H + y) * w + x])));
    }
  }
  return { width: W, height: H, rgba };
}

/** Lines 0..n-1 of `seed` for the classifier: odd ones turned 180 degrees and labelled 1. */
export async function classifierSet(seed: number, n: number, name = `rendered lines (seed ${seed})`, opts: RenderOptions = {}): Promise<Dataset> {
  const per = CLS_SHAPE[0] * CLS_SHAPE[1] * CLS_SHAPE[2];
  const images = new Float32Array(n * per);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const line = await renderLine(seed, i, opts);
    labels[i] = i % 2;
    classifierInput(labels[i] ? rotate180(line.image) : line.image, images.subarray(i * per, (i + 1) * per));
  }
  return { name, images, labels, imageShape: [...CLS_SHAPE], classes: 2 };
}

/** Lines 0..n-1 of `seed` for the recogniser: images at height 48 and their exact text. */
export function recogniserSet(seed: number, n: number, opts: RenderOptions = {}): Promise<RenderedLine[]> {
  return renderLines(seed, n, opts);
}

/** Pages 0..n-1 of `seed` for the detector and the pipeline: images, line boxes and texts. */
export function pageSet(seed: number, n: number, opts: RenderOptions = {}): Promise<RenderedPage[]> {
  return renderPages(seed, n, opts);
}

/** Seeds of the classifier splits the results scripts adapt and measure on (ranges: render/seeds.ts). */
export const CLS_TRAIN_SEED = 1000;
export const CLS_VALIDATION_SEED = 2000;

/**
 * Rendered classifier lines with their true directions: `train` lines of CLS_TRAIN_SEED (to
 * calibrate and fine-tune) and `test` lines of CLS_VALIDATION_SEED (to choose budgets and measure;
 * a script splits it by index). Replaces the MNIST-digit lines the results scripts used before.
 */
export async function classifierSplits(opts: { train?: number; test?: number } = {}): Promise<{ train: Dataset; test: Dataset }> {
  return {
    train: await classifierSet(CLS_TRAIN_SEED, opts.train ?? 4096, `rendered lines (seed ${CLS_TRAIN_SEED})`),
    test: await classifierSet(CLS_VALIDATION_SEED, opts.test ?? 1000, `rendered lines (seed ${CLS_VALIDATION_SEED})`),
  };
}
