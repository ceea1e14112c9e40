// An OCR model's task, for `deftnn optimize`: rendered samples (a folder as src/data/ocr-folder.ts
// reads it) made into inputs of the one shape a model is calibrated and fine-tuned at, and the
// task's own metric on any subset of them.
//
//   recogniser  lines scaled to height 48 at their own width, cut at the input's width to learn
//               from, read whole to measure (batches at their widest line's width); metric:
//               character accuracy (1 - CER, edits and reference characters summed over lines)
//               of the CTC greedy reading against the rendered text, stray spaces normalised as
//               scripts/ocr-metrics.ts does
//   detector    pages stretched to the input's size (PaddleOCR's convention stretches too, to its
//               own size per page); metric: F-score at IoU 0.5 of the DB boxes against the
//               rendered line boxes, counts summed over pages
//
// The images are a Dataset whose labels are all 0: fine-tuning distils from the original model.

import { subset, type Dataset } from '../data/dataset.js';
import type { DetSample, RecSample } from '../data/ocr-folder.js';
import { resizeImage, type Image } from '../image/image.js';
import { SizedSessions } from '../graph/sized.js';
import { Tensor } from '../tensor.js';
import { chunks } from './batch.js';
import { forEachBatch, type GraphMetric } from '../train/trainer.js';
import { CONVENTIONS } from './conventions.js';
import { ctcGreedy } from './ctc.js';
import { boxesFromMap } from './db.js';
import { placePage } from './detect.js';
import { detectionScores, normaliseSpaces, sumDetectionScores, textScores } from './metrics.js';
import { writeBgrPlanes } from './pixels.js';
import { recogniserWidth, REC_HEIGHT } from './recognize.js';

export interface OcrTask {
  readonly kind: 'recogniser' | 'detector';
  /** The metric's name, for reports. */
  readonly metric: string;
  /** Every sample as the model's input [C, H, W], in order; labels 0. */
  readonly images: Dataset;
  /** The metric of a graph on the samples at `indices` (batches of `batchSize`). */
  measure(indices: ArrayLike<number>, batchSize?: number): GraphMetric;
}

/** Batches small enough that a large input does not hold many copies of the network's activations. */
const BATCH_VALUES = 1_000_000;

function dataset(name: string, shape: readonly [number, number, number], n: number, fill: (i: number, out: Float32Array) => void): Dataset {
  const per = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(n * per);
  for (let i = 0; i < n; i++) fill(i, images);
  return { name, images, labels: new Uint8Array(n), imageShape: [...shape] as [number, number, number], classes: 1 };
}

function batchFor(ds: Dataset, batchSize?: number): number {
  const per = ds.images.length / Math.max(1, ds.labels.length);
  return batchSize ?? Math.max(1, Math.min(32, Math.floor(BATCH_VALUES / per)));
}

/** Columns a recogniser batch is padded to: whole steps of 32 (PaddleOCR pads to the widest line). */
const WIDTH_STEP = 32;

/**
 * A recogniser's task on rendered lines. The learning images are the lines at height 48 and their
 * own width, cut at `width` (PaddleOCR: 320) where longer: text as the model sees it, at one shape.
 * The metric reads every line whole, as the pipeline does: lines sorted by aspect ratio, batches
 * of 8 at the widest line's width rounded up to a multiple of 32 (at least `width`), zeros to the
 * right; the graph must take those widths (generic Reshape targets: onnx/generic.ts).
 */
export function recogniserTask(lines: readonly RecSample[], characters: readonly string[], width = 320): OcrTask {
  const conv = CONVENTIONS.paddleocr.recogniser;
  const scaled = lines.map((l) => resizeImage(l.image, recogniserWidth(l.image, conv), REC_HEIGHT, conv.filter));
  const images = dataset(`${lines.length} rendered lines`, [3, REC_HEIGHT, width], lines.length, (i, out) => writeBgrPlanes(cropWidth(scaled[i], width), conv.norm, out, i, REC_HEIGHT, width));
  return {
    kind: 'recogniser',
    metric: 'character accuracy',
    images,
    measure: (indices, batchSize = conv.batch) => async (graph, gpu) => {
      const input = graph.inputs[0];
      const sized = new SizedSessions({ declared: [{ name: input.name, dims: ['batch', 3, REC_HEIGHT, 'width'] }], graphFor: (s) => ({ ...graph, inputs: [{ name: input.name, shape: s[input.name] }] }) }, gpu);
      const read = new Map<number, string>();
      try {
        const order = Array.from(indices).sort((a, b) => scaled[a].width - scaled[b].width);
        for (const batch of chunks(order, batchSize)) {
          const W = Math.max(width, Math.ceil(Math.max(...batch.map((i) => scaled[i].width)) / WIDTH_STEP) * WIDTH_STEP);
          const shape = [batch.length, 3, REC_HEIGHT, W];
          const x = new Float32Array(batch.length * 3 * REC_HEIGHT * W);
          batch.forEach((i, slot) => writeBgrPlanes(scaled[i], conv.norm, x, slot, REC_HEIGHT, W));
          const out = (await sized.get({ [input.name]: shape }).session.run({ [input.name]: new Tensor(shape, x) }))[graph.outputs[0]];
          const [, T, C] = out.shape;
          if (C !== characters.length + 1) throw new RangeError(`the recogniser scores ${C} classes per column; its characters (blank, keys, space) are ${characters.length + 1}`);
          batch.forEach((i, slot) => read.set(i, normaliseSpaces(ctcGreedy(out.data.subarray(slot * T * C, (slot + 1) * T * C), T, C, characters).text)));
        }
      } finally {
        sized.dispose();
      }
      return textScores(Array.from(indices, (i) => lines[i].text), Array.from(indices, (i) => read.get(i)!)).characterAccuracy;
    },
  };
}

/** The left `width` columns of an image (all of it when narrower). */
function cropWidth(img: Image, width: number): Image {
  if (img.width <= width) return img;
  const rgba = new Uint8Array(width * img.height * 4);
  for (let y = 0; y < img.height; y++) rgba.set(img.rgba.subarray(y * img.width * 4, (y * img.width + width) * 4), y * width * 4);
  return { width, height: img.height, rgba };
}

/** A detector's task on rendered pages at input size `size`. */
export function detectorTask(pages: readonly DetSample[], size: { readonly width: number; readonly height: number }): OcrTask {
  const conv = CONVENTIONS.paddleocr;
  const placed = pages.map((p) => placePage(p.image, size, { ...conv.detector, fit: 'stretch' }));
  const images = dataset(`${pages.length} rendered pages`, [3, size.height, size.width], pages.length, (i, out) => writeBgrPlanes(placed[i].image, conv.detector.norm, out, i, size.height, size.width));
  return {
    kind: 'detector',
    metric: 'F-score',
    images,
    measure: (indices, batchSize) => async (graph, gpu) => {
      const ds = subset(images, indices);
      const scores: ReturnType<typeof detectionScores>[] = [];
      await forEachBatch(graph, ds, gpu, batchFor(ds, batchSize), (out, first) => {
        // Boxes straight onto the page: the map is the stretched page, as in the pipeline.
        const plane = size.width * size.height;
        if (out.data.length !== out.shape[0] * plane) throw new RangeError(`the detector gave [${out.shape.join(', ')}] for ${size.width}x${size.height} inputs; a DB detector gives one probability per pixel`);
        for (let k = 0; k < out.shape[0]; k++) {
          const i = indices[first + k];
          const map = { ...size, data: out.data.subarray(k * plane, (k + 1) * plane) };
          const page = pages[i].image;
          const found = boxesFromMap(map, page.width, page.height, conv.boxes).map((b) => b.box);
          scores.push(detectionScores(found, pages[i].lines.map((l) => l.box)));
        }
      });
      return sumDetectionScores(scores).fScore;
    },
  };
}
