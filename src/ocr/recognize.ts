// The recogniser, as PaddleOCR's TextRecognizer runs it: lines sorted by aspect ratio and taken in
// batches; a batch is as wide as 48 x its widest aspect ratio, and at least 320 (rec_image_shape
// 3,48,320); each line scaled to height 48 and its own width (squeezed only past the batch width),
// pixels (x / 255 - 0.5) / 0.5, zeros to the right. Output [N, W / 8, classes] softmax, decoded by
// CTC greedy (ctc.ts).
//
// Every batch runs at its own width and size: kernels are shape-generic (kernels/uniforms.ts).

import { resizeImage, type Image } from '../image/image.js';
import { chunks, MAX_BATCH } from './batch.js';
import { ctcGreedy, type Decoded } from './ctc.js';
import type { OcrModel } from './models.js';
import { HALF_NORM, writeBgrPlanes } from './pixels.js';

export const REC_HEIGHT = 48;
export const REC_MIN_WIDTH = 320;

export async function recognize(rec: OcrModel, lines: readonly Image[], characters: readonly string[]): Promise<Decoded[]> {
  const ratio = lines.map((l) => l.width / l.height);
  const order = lines.map((_, i) => i).sort((a, b) => ratio[a] - ratio[b]);
  const out: Decoded[] = new Array(lines.length);
  // A recogniser that takes one shape only (OcrModel.fixed) runs every batch at it, lines wider
  // than it squeezed (as PaddleOCR squeezes lines wider than their batch).
  const fixed = rec.fixed;
  for (const batch of chunks(order, fixed ? fixed[0] : MAX_BATCH)) {
    const maxRatio = Math.max(REC_MIN_WIDTH / REC_HEIGHT, ...batch.map((i) => ratio[i]));
    const paddleWidth = fixed ? Math.min(fixed[3], Math.trunc(REC_HEIGHT * maxRatio)) : Math.trunc(REC_HEIGHT * maxRatio);
    const W = fixed ? fixed[3] : paddleWidth;
    const n = fixed ? fixed[0] : batch.length;
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
