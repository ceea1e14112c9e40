// Rendered OCR folders (src/data/ocr-folder.ts: cls/, rec/, det/) as the data of a command that
// adapts a model: which part a model reads (by its output: [N, 2] the classifier, [N, T, classes]
// the recogniser, [N, 1, H, W] the detector), the input shape it is optimised at, and the OCR
// task (src/ocr/task.ts) with its seeded splits.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { datasetSize, permutation, subset, type Dataset } from '../data/dataset.js';
import { readDetFolder, readRecFolder } from '../data/ocr-folder.js';
import type { Graph } from '../graph/ir.js';
import { inferShapes } from '../graph/shapes.js';
import { recogniserCharacters } from '../ocr/models.js';
import { detectorTask, recogniserTask, type OcrTask } from '../ocr/task.js';
import type { OptimizeTask } from '../optimize.js';
import { seededRandom } from '../random.js';
import { UsageError } from './common.js';

/** The parts of a rendered OCR folder (or the folder itself, when it is one part). */
export interface OcrFolder {
  readonly rec?: string;
  readonly det?: string;
  readonly cls?: string;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/** The OCR parts of `dir`, or undefined when it holds none (a plain folder of class folders). */
export function ocrFolder(dir: string): OcrFolder | undefined {
  const part = (sub: string, marker: string) => (existsSync(join(dir, sub, marker)) ? join(dir, sub) : existsSync(join(dir, marker)) ? dir : undefined);
  const f = { rec: part('rec', 'labels.tsv'), det: part('det', 'boxes.json'), cls: isDir(join(dir, 'cls', '0')) && isDir(join(dir, 'cls', '180')) ? join(dir, 'cls') : undefined };
  return f.rec || f.det || f.cls ? f : undefined;
}

/** Input sizes [C, H, W] each model is optimised at, unless --input-shape says otherwise. */
export const OCR_INPUT = { classifier: [3, 48, 192], recogniser: [3, 48, 320], detector: [3, 480, 640] } as const;

/**
 * Fill an OCR model's free input dims from what its first output declares: [N, 2] the classifier
 * (PaddleOCR's 48x192), [N, T, classes] the recogniser (48x320), [N, 1, H, W] the detector
 * (480x640). Whether the folder has that part is checked later, naming it.
 */
export function fillOcrInput(dims: readonly (number | string)[], outputs: readonly (readonly (number | string)[])[]): number[] | undefined {
  const role = ({ 2: 'classifier', 3: 'recogniser', 4: 'detector' } as const)[outputs[0]?.length ?? 0];
  if (dims.length !== 4 || !role) return undefined;
  const size = OCR_INPUT[role];
  return dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : size[i - 1]));
}

export type OcrRole = 'classifier' | 'recogniser' | 'detector';

/** What a graph is, from its first output's shape. */
export function ocrRole(graph: Graph): OcrRole | undefined {
  const out = inferShapes(graph).shapes.get(graph.outputs[0])!;
  if (out.length === 2) return 'classifier';
  if (out.length === 3) return 'recogniser';
  if (out.length === 4 && out[1] === 1) return 'detector';
  return undefined;
}

export interface OcrParts {
  readonly role: 'recogniser' | 'detector';
  /** Calibration and fine-tuning inputs (labels unused: fine-tuning distils). */
  readonly learn: Dataset;
  readonly task: OptimizeTask;
}

/**
 * The recogniser's or detector's splits: with `held` (a second rendered folder) all of `folder`
 * calibrates and fine-tunes and `held` is halved into validation and test; without, half of
 * `folder` learns and a quarter each validates and tests. At most `testSamples` test samples.
 */
export async function ocrParts(role: 'recogniser' | 'detector', folder: OcrFolder, held: OcrFolder | undefined, graph: Graph, o: { keys?: string; testSamples: number; learnSamples: number }): Promise<OcrParts> {
  const [, , H, W] = graph.inputs[0].shape;
  const make = async (f: OcrFolder, what: string): Promise<OcrTask> => {
    if (role === 'recogniser') {
      if (!f.rec) throw new UsageError(`${what} has no recogniser lines (rec/labels.tsv)`);
      if (H !== 48) throw new UsageError(`a recogniser's lines are 48 pixels high; the model's input is ${H} high`);
      return recogniserTask(readRecFolder(f.rec), await recogniserCharacters(o.keys), W);
    }
    if (!f.det) throw new UsageError(`${what} has no detector pages (det/boxes.json)`);
    return detectorTask(readDetFolder(f.det), { width: W, height: H });
  };
  const learnTask = await make(folder, '--dataset');
  const n = datasetSize(learnTask.images);
  const cap = (idx: Uint32Array, k: number) => idx.subarray(0, Math.min(idx.length, k));
  let learn: Uint32Array;
  let validation: Uint32Array;
  let test: Uint32Array;
  let measured = learnTask;
  if (held) {
    measured = await make(held, '--validation');
    const m = datasetSize(measured.images);
    if (m < 2) throw new UsageError(`the --validation folder has ${m} sample(s); it needs at least 2 (half validate, half test)`);
    const p = permutation(m, seededRandom(8));
    learn = permutation(n, seededRandom(7));
    validation = p.subarray(0, Math.floor(m / 2));
    test = p.subarray(Math.floor(m / 2));
  } else {
    if (n < 8) throw new UsageError(`--dataset has ${n} ${role === 'recogniser' ? 'lines' : 'pages'}; optimize needs at least 8 (half calibrate and fine-tune, a quarter each validate and test)`);
    const p = permutation(n, seededRandom(11));
    learn = p.subarray(0, Math.floor(n / 2));
    validation = p.subarray(Math.floor(n / 2), Math.floor((3 * n) / 4));
    test = p.subarray(Math.floor((3 * n) / 4));
  }
  learn = cap(learn, o.learnSamples);
  test = cap(test, o.testSamples);
  return {
    role,
    learn: subset(learnTask.images, learn, `${learnTask.images.name} (calibration and fine-tuning)`),
    task: { metric: measured.metric, validation: measured.measure(validation), test: measured.measure(test), validationSize: validation.length, testSize: test.length },
  };
}
