// `deftnn optimize MODEL --dataset mnist|fashion-mnist|DIR`: both DeftNN methods under one
// accuracy budget (src/optimize.ts): synapse vector elimination with fine-tuning, then data
// fission; every variant measured on held-out images and timed on this device. Writes
// OUT/<name>.deft (the model as it runs), OUT/<name>.onnx (standard ONNX: fp32, eliminated rows
// as zero weights) and OUT/report.html.
//
// Splits (seeded): built-in sets calibrate on 512 training images and fine-tune on up to
// --finetune-images others; their test split is cut into a validation part (the budget is
// measured there: 1,000 images, or a quarter of a smaller set) and a test part (--test-images of
// the rest), so the reported accuracy is on images no choice was made on. A directory of class
// folders is cut the same way: half for calibration and fine-tuning, a quarter each for
// validation and test. With --validation DIR (class folders like --dataset's), the budget and the
// reported accuracy come from that folder instead (half validates, half tests), and all of a
// --dataset folder calibrates and fine-tunes.
//
// A rendered OCR folder (scripts/render-ocr.ts: cls/, rec/, det/) is cut the same way; the model's
// output says which part it reads (cli/ocr-data.ts). The classifier reads cls/'s class folders; the
// recogniser (at 48x320) and the detector (at 480x640 unless --input-shape says otherwise) are
// budgeted in their own metric, character accuracy and F-score (src/ocr/task.ts), and fine-tuned
// by distillation from the original. --layers and --rates bound the search on a slow adapter.

import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import { encodeDeft } from '../../artifact/deft.js';
import { exportDenseOnnx } from '../../artifact/dense.js';
import { datasetSize, permutation, subset, type Dataset } from '../../data/dataset.js';
import { inferShapes } from '../../graph/shapes.js';
import { fromGraph } from '../../model.js';
import { optimize, type OptimizeConfig, type OptimizeData } from '../../optimize.js';
import { costliestLayers } from '../../sve/api.js';
import type { Graph } from '../../graph/ir.js';
import { seededRandom } from '../../random.js';
import { renderReport } from '../../report/report.js';
import { backendOption, inputShapeOption, numberList, positiveInt, positiveIntList, stagedProgress, textTable, UsageError, writeFileAtomic, type BackendChoice, type Io } from '../common.js';
import { builtInDataset, datasetOptions } from '../datasets.js';
import { readImageDir } from '../images.js';
import { fillOcrInput, ocrFolder, ocrParts, ocrRole } from '../ocr-data.js';
import { pickBackend, readModelFile } from '../model-file.js';
import type { CliCommand } from '../command.js';

interface OptimizeOptions {
  dataset: string;
  validation?: string;
  maxAccuracyDrop: number;
  rate?: number;
  format?: string;
  eliminate: boolean;
  pack: boolean;
  finetune: boolean;
  refit: boolean;
  distill?: boolean;
  epochs: number;
  finetuneImages: number;
  testImages: number;
  batchSizes: number[];
  reps: number;
  out: string;
  backend?: BackendChoice;
  inputShape?: Record<string, number[]>;
  fashionDir: string;
  layers?: number;
  rates?: number[];
  finetuneBatch?: number;
  lr?: number;
  keys?: string;
  mean?: number[];
  std?: number[];
  invert?: boolean;
}

const fraction = (what: string, lo: number, hi: number) => (v: string) => {
  const x = Number(v);
  if (!(x >= lo && x < hi)) throw new UsageError(`${what} must be a number in [${lo}, ${hi}), got '${v}'`);
  return x;
};

/** Seeded splits: calibration, fine-tuning, validation and test (`held`: a --validation folder). */
function splits(train: Dataset | undefined, test: Dataset, o: OptimizeOptions, held?: Dataset): { calibration: Dataset; finetune: Dataset; validation: Dataset; test: Dataset } {
  const pick = (ds: Dataset, idx: ArrayLike<number>) => subset(ds, idx, ds.name);
  if (held) {
    const n = datasetSize(held);
    if (n < 2) throw new UsageError(`the --validation folder has ${n} image(s); it needs at least 2 (half validate, half test)`);
    const p = permutation(n, seededRandom(8));
    const half = Math.floor(n / 2);
    const learn = train ?? test; // a --dataset folder: all of it calibrates and fine-tunes
    const pt = permutation(datasetSize(learn), seededRandom(7));
    return {
      calibration: train ? pick(train, pt.subarray(0, 512)) : learn,
      finetune: train ? pick(train, pt.subarray(512, 512 + o.finetuneImages)) : learn,
      validation: pick(held, p.subarray(0, half)),
      test: pick(held, p.subarray(half, Math.min(n, half + o.testImages))),
    };
  }
  if (!train) {
    // One labelled directory: half trains (calibration + fine-tuning), a quarter each validates and tests.
    const n = datasetSize(test);
    if (n < 8) throw new UsageError(`the image folder has ${n} images; optimize needs at least 8 (half calibrate and fine-tune, a quarter each validate and test)`);
    const p = permutation(n, seededRandom(11));
    const half = Math.floor(n / 2);
    const quarter = Math.floor(n / 4);
    const learn = pick(test, p.subarray(0, half));
    return { calibration: learn, finetune: learn, validation: pick(test, p.subarray(half, half + quarter)), test: pick(test, p.subarray(half + quarter, Math.min(n, half + quarter + o.testImages))) };
  }
  const pt = permutation(datasetSize(train), seededRandom(7));
  const nTest = datasetSize(test);
  const nVal = Math.min(1000, Math.floor(nTest / 4));
  const ps = permutation(nTest, seededRandom(8));
  return {
    calibration: pick(train, pt.subarray(0, 512)),
    finetune: pick(train, pt.subarray(512, 512 + o.finetuneImages)),
    validation: pick(test, ps.subarray(nTest - nVal)),
    test: pick(test, ps.subarray(0, Math.min(o.testImages, nTest - nVal))),
  };
}

export const optimizeCommand: CliCommand = {
  name: 'optimize',
  configure(cmd: Command) {
    cmd
      .description('make a model faster with synapse vector elimination and data fission under an accuracy budget; writes .deft, .onnx and report.html')
      .argument('<model>', 'model file: .onnx')
      .requiredOption('-d, --dataset <name|dir>', "calibration and fine-tuning data (and validation, without --validation): 'mnist', 'fashion-mnist', a directory with one folder of images per class, or a rendered OCR folder (cls/, rec/, det/: the part the model reads)")
      .option('--validation <dir>', 'a directory of class folders to measure the budget and the variants on, instead of a split of --dataset')
      .option('--max-accuracy-drop <points>', 'largest loss of top-1 accuracy on the validation split, in percentage points', fraction('--max-accuracy-drop', 0, 100), 1)
      .option('--rate <r>', 'eliminate this fraction of every layer\'s rows instead of searching under the budget', fraction('--rate', 0, 1))
      .option('--format <weights[,activations]>', 'store weights (and activations) in these formats instead of searching, e.g. e4m3,bf16')
      .option('--no-eliminate', 'skip synapse vector elimination')
      .option('--no-pack', 'skip data fission')
      .option('--no-finetune', 'do not fine-tune the eliminated model')
      .option('--no-refit', 'fold each removed row into its best predictor (the paper\'s way) instead of refitting the kept weights by least squares')
      .option('--distill', 'fine-tune by distillation from the original model instead of with labels')
      .option('--epochs <n>', 'fine-tuning epochs', positiveInt, 1)
      .option('--finetune-images <n>', 'training images to fine-tune on (built-in data sets)', positiveInt, 4000)
      .option('--test-images <n>', 'held-out images the variants are compared on', positiveInt, 2000)
      .option('--batch-sizes <list>', 'batch sizes to time', positiveIntList, [1, 32])
      .option('--reps <n>', 'timed runs per variant and batch size', positiveInt, 9)
      .option('-o, --out <dir>', 'directory for <name>.deft, <name>.onnx and report.html', 'deftnn-out')
      .option('-b, --backend <backend>', "'webgpu' or 'cpu' (default: webgpu when there is an adapter)", backendOption)
      .option('--input-shape <name=dims>', 'fix the input shape where the model leaves sizes free, e.g. x=1,3,48,192 (rendered OCR folders: recogniser 48x320, detector 480x640)', inputShapeOption)
      .option('--layers <n>', 'eliminate only the n eligible layers with the most FLOPs (fewer sensitivity measurements on a large network)', positiveInt)
      .option('--rates <list>', 'rates the elimination search tries per layer (default 0.25,0.5,0.75)', numberList)
      .option('--finetune-batch <n>', 'fine-tuning batch size (default 32, fewer for large inputs)', positiveInt)
      .option('--lr <rate>', "fine-tuning's AdamW learning rate (default 5e-4; pretrained networks such as PaddleOCR's want ~2e-5)", fraction('--lr', 0, 1))
      .option('--keys <file>', "a recogniser's characters, one per line (default PP-OCRv4's ppocr_keys_v1.txt)");
    datasetOptions(cmd);
  },
  async action(args, raw, io: Io) {
    const [path] = args as [string];
    const o = raw as unknown as OptimizeOptions;
    if (!o.eliminate && !o.pack) throw new UsageError('--no-eliminate and --no-pack leave nothing to do');
    const builtIn = builtInDataset(o.dataset, o.fashionDir);
    const ocr = builtIn ? undefined : ocrFolder(o.dataset);
    const fill = (_n: string, dims: readonly (number | string)[], outputs: readonly (readonly (number | string)[])[]) => (builtIn && dims.length === 4 ? [1, ...builtIn.train.imageShape] : ocr ? fillOcrInput(dims, outputs) : undefined);
    // Generic: calibration, fine-tuning and the metrics run the graph at other batches (and widths).
    const file = await readModelFile(path, { batch: 1, inputShapes: o.inputShape, fill, generic: true });
    if (file.kind !== 'onnx') throw new UsageError(`optimize starts from the original ONNX model; '${path}' is already a .deft artifact`);
    const role = ocr && ocrRole(file.graph);
    if (ocr && !role) throw new UsageError(`${o.dataset} is a rendered OCR folder, but ${path} is none of PaddleOCR's models (its output is neither [N, 2], [N, T, classes] nor [N, 1, H, W])`);
    const { backend, gpu } = await pickBackend(o.backend);
    const model = await fromGraph(file.graph, { backend, gpu: gpu ?? undefined });
    const where = backend === 'webgpu' ? `WebGPU (${gpu!.name})` : 'the CPU reference backend (no WebGPU adapter: slower)';
    let data: OptimizeData;
    // Texts and boxes are not labels the trainer has a loss for (CTC, DB): those models distil.
    const distill = o.distill || role === 'recogniser' || role === 'detector';
    if (role === 'recogniser' || role === 'detector') {
      const parts = await ocrParts(role, ocr!, o.validation === undefined ? undefined : ocrFolder(o.validation) ?? {}, file.graph, { keys: o.keys, testSamples: o.testImages, learnSamples: o.finetuneImages });
      data = { calibration: parts.learn, finetune: parts.learn, task: parts.task };
      io.out(`optimizing the ${role} ${path} at input [${file.graph.inputs[0].shape.join(', ')}] on ${where}: budget ${o.maxAccuracyDrop} points of ${parts.task.metric} on ${parts.task.validationSize} validation samples; ${datasetSize(parts.learn)} calibrate and fine-tune (by distillation)`);
    } else {
      // The direction classifier reads cls/'s pictures as PaddleOCR normalises them, (x - 0.5) / 0.5.
      if (role && !ocr!.cls) throw new UsageError(`${o.dataset} has no classifier pictures (cls/0 and cls/180)`);
      const clsOptions = role && { ...o, dataset: ocr!.cls!, validation: o.validation && (ocrFolder(o.validation)?.cls ?? o.validation), mean: o.mean ?? [0.5, 0.5, 0.5], std: o.std ?? [0.5, 0.5, 0.5] };
      data = splits(...classData(file.graph, clsOptions || o, builtIn));
      io.out(`optimizing ${path} on ${where}: budget ${o.maxAccuracyDrop} points on ${datasetSize(data.validation!)} validation images`);
    }
    const [wf, af] = o.format?.split(',') ?? [];
    const progress = stagedProgress(io);
    const cfg: OptimizeConfig = {
      maxAccuracyDrop: o.maxAccuracyDrop,
      rate: o.rate,
      formats: o.format ? { weights: wf, activations: af } : undefined,
      eliminate: o.eliminate,
      pack: o.pack,
      finetune: o.finetune ? { epochs: o.epochs, distill, batchSize: o.finetuneBatch, lr: o.lr } : false,
      refit: o.refit,
      layers: o.layers === undefined ? undefined : costliestLayers(file.graph, o.layers),
      candidateRates: o.rates,
      batchSizes: o.batchSizes,
      reps: o.reps,
      onStage: (line) => {
        progress.stop();
        io.note(line);
      },
      onProgress: (p) => progress.update(p),
    };
    const t0 = performance.now();
    const result = await optimize(model, data, cfg).finally(() => progress.stop());
    const seconds = (performance.now() - t0) / 1000;
    const name = basename(path, extname(path));
    mkdirSync(o.out, { recursive: true });
    const deftPath = join(o.out, `${name}.deft`);
    const onnxPath = join(o.out, `${name}.onnx`);
    const reportPath = join(o.out, 'report.html');
    writeFileAtomic(deftPath, await encodeDeft(result.model.graph, { producer: 'deftnn optimize', source: basename(path), layers: result.report.layers ? [...result.report.layers] : undefined, variants: result.variants }));
    writeFileAtomic(onnxPath, exportDenseOnnx(result.model.graph, { modelName: name, producer: 'deftnn optimize' }));
    writeFileAtomic(reportPath, renderReport({ ...result.report, model: basename(path) }));
    const metric = data.task?.metric ?? 'accuracy';
    const rows = result.variants.map((v) => [v.name, `${(100 * v.accuracy).toFixed(2)}%`, ...o.batchSizes.flatMap((b) => [v.latencyMs[b].toFixed(2), `${v.speedup[b].toFixed(2)}x`])]);
    for (const line of textTable(['variant', metric, ...o.batchSizes.flatMap((b) => [`ms @${b}`, `speed-up @${b}`])], rows)) io.out(line);
    io.out(`${metric} on ${data.task?.testSize ?? datasetSize(data.test!)} held-out test samples; latency: median of ${o.reps} interleaved runs on ${where}`);
    io.out(`wrote ${deftPath}, ${onnxPath} and ${reportPath} (${seconds.toFixed(0)} s)`);
    model.dispose();
    result.model.dispose();
    const images = Object.fromEntries(Object.entries(data).flatMap(([k, ds]) => (k === 'task' ? [] : [[k, datasetSize(ds as Dataset)]])));
    return { model: path, role: role ?? null, backend, adapter: gpu?.name ?? null, seconds, images, metric, variants: result.variants, elimination: result.elimination?.layers.map(({ removed: _, ...l }) => l), search: result.elimination?.search, packing: result.packing, layers: result.report.layers, files: { deft: deftPath, onnx: onnxPath, report: reportPath } };
  },
};

/** A classifier's labelled data: a built-in set, or class folders (and --validation's). */
function classData(graph: Graph, o: OptimizeOptions, builtIn: { train: Dataset; test: Dataset } | undefined): Parameters<typeof splits> {
  const [, C, H, W] = graph.inputs[0].shape;
  const classes = inferShapes(graph).shapes.get(graph.outputs[0])!.at(-1) ?? 1;
  const data = builtIn ?? { train: undefined, test: readImageDir(o.dataset, [C, H, W], { mean: o.mean, std: o.std, invert: o.invert }, classes) };
  if (data.test.imageShape.join() !== [C, H, W].join()) throw new UsageError(`the model takes [${C}, ${H}, ${W}] images; ${o.dataset} has [${data.test.imageShape.join(', ')}]`);
  const held = o.validation === undefined ? undefined : readImageDir(o.validation, [C, H, W], { mean: o.mean, std: o.std, invert: o.invert }, classes);
  if (held) {
    // Labels must mean the same in both sets: numbered folders, or the same folder names.
    const numbered = (names: readonly string[]) => names.every((c, i) => c === String(i));
    const learnNames = 'classNames' in data.test ? (data.test.classNames as string[]) : undefined;
    if (learnNames ? learnNames.join('/') !== held.classNames.join('/') : !numbered(held.classNames)) {
      throw new UsageError(`--validation's class folders (${held.classNames.join(', ')}) do not match --dataset's (${learnNames?.join(', ') ?? `0 to ${classes - 1}`})`);
    }
  }
  return [data.train, data.test, o, held];
}
