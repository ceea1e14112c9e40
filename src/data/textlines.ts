// Synthetic text lines for the PaddleOCR text-direction classifier
// (ch_ppocr_mobile_v2.0_cls_infer.onnx, input [N, 3, 48, 192], normalised to [-1, 1]), which has
// no labelled data here: four MNIST digits scaled to 48x48 side by side, dark ink on white, every
// second line turned 180° (what the classifier detects). Its "labels" come from the model itself
// (pseudoLabelled), so accuracy against them is agreement with the original model. Shared by the
// results scripts of both DeftNN methods (scripts/sve-results.ts, scripts/ndf-results.ts).

import { datasetSize, type Dataset } from './dataset.js';
import { loadMnist } from './mnist.js';
import type { Gpu } from '../device/gpu.js';
import type { Graph } from '../graph/ir.js';
import { GpuSession } from '../graph/session.js';
import { seededRandom } from '../random.js';
import { Tensor } from '../tensor.js';

export const LINE_HEIGHT = 48;
export const LINE_WIDTH = 192;
/** Digits per line; each is scaled to LINE_HEIGHT x LINE_HEIGHT. */
export const DIGITS_PER_LINE = LINE_WIDTH / LINE_HEIGHT;

/**
 * Draw one line of 28x28 digits (values in [0, 1], ink = 1) into `out` ([3, 48, 192], the same
 * value in every channel): nearest-neighbour scaling, ink mapped to -1 and paper to +1; with
 * `flip`, the whole line turned 180° (first digit at the right end, upside down).
 */
export function drawTextLine(digits: readonly Float32Array[], flip: boolean, out: Float32Array): void {
  const H = LINE_HEIGHT;
  const W = LINE_WIDTH;
  if (digits.length !== DIGITS_PER_LINE) throw new RangeError(`a text line has ${DIGITS_PER_LINE} digits, got ${digits.length}`);
  if (out.length !== 3 * H * W) throw new RangeError(`a text line is [3, ${H}, ${W}] (${3 * H * W} values), got ${out.length}`);
  for (let d = 0; d < DIGITS_PER_LINE; d++) {
    const src = digits[d];
    if (src.length !== 784) throw new RangeError(`digit ${d} must be 28x28 (784 values), got ${src.length}`);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < H; x++) {
        const v = src[Math.floor((y * 28) / H) * 28 + Math.floor((x * 28) / H)];
        const [ty, tx] = flip ? [H - 1 - y, W - 1 - (d * H + x)] : [y, d * H + x];
        for (let c = 0; c < 3; c++) out[(c * H + ty) * W + tx] = (1 - v - 0.5) / 0.5; // dark ink on white
      }
    }
  }
}

/** `n` lines of digits drawn (seeded) from `src`; odd lines are flipped. Labels: 0 (see pseudoLabelled). */
export function makeTextLines(src: Dataset, n: number, seed: number, name: string): Dataset {
  if (src.imageShape[0] !== 1 || src.imageShape[1] !== 28 || src.imageShape[2] !== 28) throw new RangeError(`text lines are drawn from 1x28x28 digits, got ${src.imageShape.join('x')}`);
  const rand = seededRandom(seed);
  const per = 3 * LINE_HEIGHT * LINE_WIDTH;
  const images = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const digits = Array.from({ length: DIGITS_PER_LINE }, () => {
      const j = Math.floor(rand() * datasetSize(src));
      return src.images.subarray(j * 784, (j + 1) * 784);
    });
    drawTextLine(digits, i % 2 === 1, images.subarray(i * per, (i + 1) * per));
  }
  return { name, images, labels: new Uint8Array(n), imageShape: [3, LINE_HEIGHT, LINE_WIDTH], classes: 2 };
}

/** Synthetic text lines from MNIST's training digits (train) and its test digits (test). */
export function textLines(opts: { train?: number; test?: number } = {}): { train: Dataset; test: Dataset } {
  const m = loadMnist();
  return {
    train: makeTextLines(m.train, opts.train ?? 4096, 1, 'text lines (train)'),
    test: makeTextLines(m.test, opts.test ?? 1000, 2, 'text lines (test)'),
  };
}

/** The same images labelled with the model's own answers (top-1 of its first output), one at a time on the GPU. */
export async function pseudoLabelled(graph: Graph, ds: Dataset, gpu: Gpu): Promise<Dataset> {
  const input = graph.inputs[0];
  const shape = [1, ...input.shape.slice(1)];
  const s = new GpuSession(gpu, { ...graph, inputs: [{ name: input.name, shape }] });
  const per = ds.images.length / datasetSize(ds);
  const labels = new Uint8Array(datasetSize(ds));
  try {
    for (let i = 0; i < labels.length; i++) {
      const out = (await s.run({ [input.name]: new Tensor(shape, ds.images.subarray(i * per, (i + 1) * per)) }))[graph.outputs[0]].data;
      labels[i] = out.indexOf(Math.max(...out));
    }
  } finally {
    s.dispose();
  }
  return { ...ds, labels };
}
