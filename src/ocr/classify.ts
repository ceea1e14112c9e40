// The direction classifier, as PaddleOCR's TextClassifier runs it: each line image scaled to
// height 48 and at most 192 wide (keeping its aspect ratio), pixels (x / 255 - 0.5) / 0.5, padded
// with zeros to 3x48x192; the output [N, 2] scores 0 and 180 degrees, and a line is turned half a
// turn when 180 wins with a score above 0.9 (cls_thresh).

import { resizeImage, type Image } from '../image/image.js';
import { chunks, MAX_BATCH } from './batch.js';
import type { OcrModel } from './models.js';
import { CONVENTIONS, HALF_NORM } from './conventions.js';
import { writeBgrPlanes } from './pixels.js';

export const CLS_HEIGHT = 48;
export const CLS_WIDTH = 192;

export interface Direction {
  /** 180 when the line is upside down (and was turned). */
  readonly angle: 0 | 180;
  /** The winning label's score. */
  readonly score: number;
}

/** The line image as the classifier sees it: height 48, width by aspect ratio up to 192. */
export function classifierImage(line: Image): Image {
  const w = Math.min(CLS_WIDTH, Math.ceil((CLS_HEIGHT * line.width) / line.height));
  return resizeImage(line, w, CLS_HEIGHT);
}

export async function classify(cls: OcrModel, lines: readonly Image[], threshold = CONVENTIONS.paddleocr.clsThreshold): Promise<Direction[]> {
  const out: Direction[] = [];
  const fixed = cls.fixed;
  for (const batch of chunks(lines, fixed ? fixed[0] : MAX_BATCH)) {
    const n = fixed ? fixed[0] : batch.length;
    const plane = 3 * CLS_HEIGHT * CLS_WIDTH;
    const data = new Float32Array(n * plane);
    batch.forEach((line, i) => writeBgrPlanes(classifierImage(line), HALF_NORM, data, i, CLS_HEIGHT, CLS_WIDTH));
    const res = await cls.run([n, 3, CLS_HEIGHT, CLS_WIDTH], data);
    for (let i = 0; i < batch.length; i++) {
      const [p0, p180] = [res.data[2 * i], res.data[2 * i + 1]];
      out.push(p180 > p0 && p180 > threshold ? { angle: 180, score: p180 } : { angle: 0, score: Math.max(p0, p180) });
    }
  }
  return out;
}
