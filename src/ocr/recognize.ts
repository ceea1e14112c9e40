// The recogniser, as the convention runs it (conventions.ts). PaddleOCR's TextRecognizer: lines
// sorted by aspect ratio and taken in batches; a batch is as wide as 48 x its widest aspect ratio,
// and at least 320 (rec_image_shape 3,48,320); each line scaled to height 48 and its own width
// (squeezed only past the batch width), zeros to the right. Guten OCR: one line at a time, scaled
// to height 48 at its own width, nothing padded. Pixels normalised as the convention says, in B, G,
// R order. Output [N, W / 8, classes] softmax, decoded by CTC greedy (ctc.ts).
//
// Every batch runs at its own width and size: kernels are shape-generic (kernels/uniforms.ts).

import { resizeImage, type Image } from '../image/image.js';
import { chunks } from './batch.js';
import { CONVENTIONS, type RecogniserConvention } from './conventions.js';
import { ctcGreedy, type Decoded } from './ctc.js';
import type { OcrModel } from './models.js';
import { writeBgrPlanes } from './pixels.js';

export const REC_HEIGHT = 48;

/** A line's width at height 48, at least 1. */
export function recogniserWidth(line: Image, conv: RecogniserConvention): number {
  const w = (REC_HEIGHT * line.width) / line.height;
  return Math.max(1, conv.widthRounding === 'ceil' ? Math.ceil(w) : Math.round(w));
}

export async function recognize(rec: OcrModel, lines: readonly Image[], characters: readonly string[], conv: RecogniserConvention = CONVENTIONS.paddleocr.recogniser): Promise<Decoded[]> {
  const ratio = lines.map((l) => l.width / l.height);
  const order = lines.map((_, i) => i).sort((a, b) => ratio[a] - ratio[b]);
  const out: Decoded[] = new Array(lines.length);
  // A recogniser that takes one shape only (OcrModel.fixed) runs every batch at it, lines wider
  // than it squeezed (as PaddleOCR squeezes lines wider than their batch).
  const fixed = rec.fixed;
  for (const batch of chunks(order, fixed ? fixed[0] : conv.batch)) {
    const maxRatio = Math.max(conv.minWidth / REC_HEIGHT, ...batch.map((i) => ratio[i]));
    // PaddleOCR: trunc(48 * the widest ratio); Guten OCR (one line, no padding): the line's own width.
    const own = conv.minWidth === 0 && batch.length === 1 ? recogniserWidth(lines[batch[0]], conv) : Math.trunc(REC_HEIGHT * maxRatio);
    const batchWidth = fixed ? Math.min(fixed[3], own) : own;
    const W = fixed ? fixed[3] : batchWidth;
    const n = fixed ? fixed[0] : batch.length;
    const data = new Float32Array(n * 3 * REC_HEIGHT * W);
    batch.forEach((i, slot) => {
      const w = Math.min(batchWidth, recogniserWidth(lines[i], conv));
      writeBgrPlanes(resizeImage(lines[i], w, REC_HEIGHT, conv.filter), conv.norm, data, slot, REC_HEIGHT, W);
    });
    const res = await rec.run([n, 3, REC_HEIGHT, W], data);
    const [, T, C] = res.shape;
    if (C !== characters.length + 1) throw new Error(`the recogniser scores ${C} classes per column; its characters (blank, keys, space) are ${characters.length + 1}`);
    batch.forEach((i, slot) => (out[i] = ctcGreedy(res.data.subarray(slot * T * C, (slot + 1) * T * C), T, C, characters)));
  }
  return out;
}
