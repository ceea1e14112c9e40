// The recogniser, as PaddleOCR's TextRecognizer runs it: lines sorted by aspect ratio and taken in
// batches; a batch is as wide as 48 x its widest aspect ratio, and at least 320 (rec_image_shape
// 3,48,320); each line scaled to height 48 and its own width (squeezed only past the batch width),
// pixels (x / 255 - 0.5) / 0.5, zeros to the right. Output [N, W / 8, classes] softmax, decoded by
// CTC greedy (ctc.ts).
//
// Shape buckets (see models.ts): the batch width is rounded up to a multiple of 160 up to 960, of
// 320 up to 1920, then of 640, and the batch size to a power of two up to 8 (batch.ts). The extra
// zeros to the right are what PaddleOCR's own batching adds to every line but the widest; their
// columns decode as blanks. test/ocr/pipeline.test.ts checks that the text does not change.

import { resizeImage, type Image } from '../image/image.js';
import { batchBucket, chunks, MAX_BATCH } from './batch.js';
import { ctcGreedy, type Decoded } from './ctc.js';
import type { ShapeCache } from './models.js';
import { HALF_NORM, writeBgrPlanes } from './pixels.js';

export const REC_HEIGHT = 48;
export const REC_MIN_WIDTH = 320;

/** The width a recogniser batch runs at, for a batch PaddleOCR would make `width` wide. */
export function recWidthBucket(width: number): number {
  const step = width <= 960 ? 160 : width <= 1920 ? 320 : 640;
  return Math.ceil(width / step) * step;
}

export async function recognize(rec: ShapeCache, lines: readonly Image[], characters: readonly string[], bucketed = true): Promise<Decoded[]> {
  const ratio = lines.map((l) => l.width / l.height);
  const order = lines.map((_, i) => i).sort((a, b) => ratio[a] - ratio[b]);
  const out: Decoded[] = new Array(lines.length);
  // A recogniser that takes one shape only (ShapeCache.fixed) runs every batch at it, lines wider
  // than it squeezed (as PaddleOCR squeezes lines wider than their batch).
  const fixed = rec.fixed;
  for (const batch of chunks(order, fixed ? fixed[0] : MAX_BATCH)) {
    const maxRatio = Math.max(REC_MIN_WIDTH / REC_HEIGHT, ...batch.map((i) => ratio[i]));
    const paddleWidth = fixed ? Math.min(fixed[3], Math.trunc(REC_HEIGHT * maxRatio)) : Math.trunc(REC_HEIGHT * maxRatio);
    const W = fixed ? fixed[3] : bucketed ? recWidthBucket(paddleWidth) : paddleWidth;
    const n = fixed ? fixed[0] : bucketed ? batchBucket(batch.length) : batch.length;
    const data = new Float32Array(n * 3 * REC_HEIGHT * W);
    batch.forEach((i, slot) => {
      const w = Math.min(paddleWidth, Math.ceil(REC_HEIGHT * ratio[i]));
      writeBgrPlanes(resizeImage(lines[i], w, REC_HEIGHT), HALF_NORM, data, slot, REC_HEIGHT, W);
    });
    const res = await rec.run([n, 3, REC_HEIGHT, W], data);
    const [, T, C] = res.shape;
    if (C !== characters.length + 1) throw new Error(`the recogniser scores ${C} classes per column; its characters (blank, keys, space) are ${characters.length + 1}`);
    batch.forEach((i, slot) => (out[i] = ctcGreedy(res.data.subarray(slot * T * C, (slot + 1) * T * C), T, C, characters)));
  }
  return out;
}
