// The OCR systems scripts/ocr-metrics.ts measures, behind one interface, so deftnn's pipeline
// plugs in as one more entry once `ocr()` exists (src/ocr/): a system reads a page (`read`) and,
// where it can run its models on their own, recognises an upright line (`recognise`) and tells
// a line's direction (`classify`).
//
// - Guten OCR (@gutenye/ocr-node 1.4, onnxruntime-node): `detect` on the page's PNG bytes (its
//   detector, its own box finding, its recogniser; no direction classifier). It resizes a page to
//   multiples of 32 (sharp, fit 'contain') and reports boxes in that image; they are mapped back
//   here (the identity for our pages, whose sides are multiples of 32). Its recogniser alone runs
//   on ground-truth lines through its Recognition and ImageRaw classes, which the packages do not
//   export: they are loaded from the packages' build folders (the module instances they use).
// - deftnn: deftnn's own pipeline (src/ocr/: ocr() on the page; its recogniser and classifier
//   alone on a line, the classifier by arg-max like the onnxruntime column), on WebGPU when there
//   is an adapter, else the CPU reference, under the default convention (PaddleOCR's); deftnn-guten
//   the same under Guten OCR's (src/ocr/conventions.ts: no classifier).
// - onnxruntime (onnxruntime-node running PaddleOCR's ONNX files directly, no detector): the
//   classifier on src/data/ocr-sets.ts's classifierInput; the recogniser on a line resized to
//   height 48 (width ceil(48 w / h), padded right with zeros to at least 320, as PaddleOCR's
//   predict_rec does for a batch of one), values (x / 255 - 0.5) / 0.5 in B, G, R order, the
//   pipeline's CTC greedy decoding (src/ocr/ctc.ts). A reference for what the models can do.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { encodePng } from '../src/data/ocr-folder.js';
import { classifierInput } from '../src/data/ocr-sets.js';
import { ocrModelsDir, recogniserCharacters } from '../src/data/render/index.js';
import { imageToChw, type Image } from '../src/image/image.js';
import type { Quad } from '../src/ocr/metrics.js';
import { classify } from '../src/ocr/classify.js';
import { convention, DEFAULT_PRESET, type OcrPreset } from '../src/ocr/conventions.js';
import { ctcGreedy } from '../src/ocr/ctc.js';
import { loadOcrModels } from '../src/ocr/models.js';
import { ocr } from '../src/ocr/ocr.js';
import { recognize } from '../src/ocr/recognize.js';

const NODE_MODULES = fileURLToPath(new URL('../node_modules/', import.meta.url));
export const MODELS_DIR = ocrModelsDir();
export const CLS_MODEL = join(MODELS_DIR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
export const REC_MODEL = join(MODELS_DIR, 'ch_PP-OCRv4_rec_infer.onnx');

const version = (pkg: string): string => JSON.parse(readFileSync(join(NODE_MODULES, pkg, 'package.json'), 'utf8')).version;
const DEFTNN_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

export interface OcrReading {
  readonly lines: readonly { readonly text: string; readonly box: Quad; readonly score: number }[];
}

export interface OcrSystem {
  readonly name: string;
  /** What it runs on, for the results. */
  readonly describe: string;
  read?(image: Image): Promise<OcrReading>;
  recognise?(line: Image): Promise<string>;
  /** 0 for upright, 1 for turned 180 degrees. */
  classify?(line: Image): Promise<number>;
  dispose?(): Promise<void>;
}

/** Where sharp's resize({ width, height, fit: 'contain' }) puts an image: scale, then centred. */
function containTransform(w: number, h: number, W: number, H: number): (p: readonly number[]) => [number, number] {
  const s = Math.min(W / w, H / h);
  const [dx, dy] = [(W - w * s) / 2, (H - h * s) / 2];
  return ([x, y]) => [(x - dx) / s, (y - dy) / s];
}

export async function gutenOcr(): Promise<OcrSystem> {
  const { default: Ocr } = await import('@gutenye/ocr-node');
  const ocr = await Ocr.create();
  const { Recognition } = await import(pathToFileURL(join(NODE_MODULES, '@gutenye', 'ocr-common', 'build', 'models', 'Recognition.js')).href);
  const { ImageRaw } = await import(pathToFileURL(join(NODE_MODULES, '@gutenye', 'ocr-node', 'build', 'ImageRaw.js')).href);
  const recognition = await Recognition.create({});
  const ceil32 = (n: number) => Math.max(32, Math.ceil(n / 32) * 32);
  return {
    name: 'Guten OCR',
    describe: `@gutenye/ocr-node ${version('@gutenye/ocr-node')} (onnxruntime-node ${version('onnxruntime-node')}, CPU)`,
    async read(image) {
      const lines = (await ocr.detect(encodePng(image) as unknown as string)) as { text: string; mean: number; box: number[][] }[];
      const back = containTransform(image.width, image.height, ceil32(image.width), ceil32(image.height));
      return { lines: lines.map((l) => ({ text: l.text, score: l.mean, box: l.box.map(back) as unknown as Quad })) };
    },
    async recognise(line) {
      const raw = new ImageRaw({ data: Buffer.from(line.rgba), width: line.width, height: line.height });
      const box = [[0, 0], [line.width, 0], [line.width, line.height], [0, line.height]];
      // Its run() drops lines scoring under 0.5 and joins same-row results with spaces; one line in, at most one out.
      const out = (await recognition.run([{ image: raw, box }])) as { text: string }[];
      return out.map((l) => l.text).join(' ');
    },
  };
}

type Ort = typeof import('onnxruntime-node');

/** A line as the recogniser's input [1, 3, 48, W] (see the header). */
export function recogniserInput(img: Image): { data: Float32Array; width: number } {
  const H = 48;
  const w = Math.max(1, Math.ceil((H * img.width) / img.height));
  const W = Math.max(320, w);
  const rgb = imageToChw(img, [3, H, w], { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  const data = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < H; y++) data.set(rgb.subarray(((2 - c) * H + y) * w, ((2 - c) * H + y + 1) * w), (c * H + y) * W);
  }
  return { data, width: W };
}

export async function onnxruntimeModels(): Promise<OcrSystem> {
  const ort: Ort = await import('onnxruntime-node');
  const opts = { intraOpNumThreads: 2 };
  const cls = await ort.InferenceSession.create(CLS_MODEL, opts);
  const rec = await ort.InferenceSession.create(REC_MODEL, opts);
  const characters = recogniserCharacters();
  return {
    name: 'onnxruntime',
    describe: `onnxruntime-node ${version('onnxruntime-node')} running ch_ppocr_mobile_v2.0_cls and ch_PP-OCRv4_rec directly (CPU)`,
    async classify(line) {
      const x = new ort.Tensor('float32', classifierInput(line), [1, 3, 48, 192]);
      const out = (await cls.run({ [cls.inputNames[0]]: x }))[cls.outputNames[0]].data as Float32Array;
      return out[1] > out[0] ? 1 : 0;
    },
    async recognise(line) {
      const { data, width } = recogniserInput(line);
      const out = (await rec.run({ [rec.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, 48, width]) }))[rec.outputNames[0]];
      const [, steps, classes] = out.dims as number[];
      if (classes !== characters.length + 1) throw new Error(`the recogniser scores ${classes} classes; blank + the dictionary + space is ${characters.length + 1}`);
      return ctcGreedy(out.data as Float32Array, steps, classes, characters).text;
    },
    async dispose() {
      await cls.release();
      await rec.release();
    },
  };
}

export async function deftnnPipeline(preset: OcrPreset = DEFAULT_PRESET): Promise<OcrSystem> {
  const conv = convention(preset);
  const models = await loadOcrModels({ cls: conv.classify ? undefined : false });
  return {
    name: preset === DEFAULT_PRESET ? 'deftnn' : `deftnn (${preset})`,
    describe: `deftnn ${DEFTNN_VERSION} pipeline (src/ocr/) under ${preset === 'guten' ? "Guten OCR's" : "PaddleOCR's"} convention on ${models.backend === 'webgpu' ? `WebGPU (${models.device})` : 'the CPU reference backend'}`,
    async read(image) {
      const r = await ocr(image, models, { preset });
      return { lines: r.lines.map((l) => ({ text: l.text, box: l.box, score: l.score })) };
    },
    async recognise(line) {
      return (await recognize(models.rec, [line], models.characters, conv.recogniser))[0].text;
    },
    ...(models.cls && {
      async classify(line: Image) {
        return (await classify(models.cls!, [line], 0))[0].angle === 180 ? 1 : 0;
      },
    }),
    async dispose() {
      models.dispose();
    },
  };
}
