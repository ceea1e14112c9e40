// `deftnn run MODEL --input FILE`: one inference. The input is an image (PNG/JPEG, resized and
// normalised to the model's input; symbolic sizes follow the image: batch 1, and a free height or
// width keeps the image's aspect ratio) or a tensor JSON file. Prints every output's shape, its
// values when there are few, and the top classes of each row of a [N, classes] output.

import { readFileSync, existsSync } from 'node:fs';
import type { Command } from 'commander';
import { fromGraph } from '../../model.js';
import { Tensor, type Shape } from '../../tensor.js';
import { backendOption, existingFile, inputShapeOption, numberList, positiveInt, UsageError, type BackendChoice, type Io } from '../common.js';
import { imageToChw, isImagePath, jsonTensor, matchTensors, readImage, readTensorJson, type Image } from '../images.js';
import { pickBackend, readModelFile } from '../model-file.js';
import type { CliCommand } from '../command.js';

interface RunOptions {
  input: string;
  backend?: BackendChoice;
  inputShape?: Record<string, number[]>;
  top: number;
  labels?: string;
  mean?: number[];
  std?: number[];
  invert?: boolean;
}

/** Class names from a comma list or a file with one name per line. */
export function readLabels(spec: string | undefined): string[] | undefined {
  if (spec === undefined) return undefined;
  if (existsSync(spec)) return readFileSync(spec, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length);
  return spec.split(',').map((s) => s.trim());
}

/** A value for people: 4 significant digits, exponent form when tiny. */
const num = (x: number) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : String(+x.toPrecision(4)));

/** Top-k (index, score) of each row of an output seen as [rows, classes] (undefined: not class scores). */
export function topClasses(t: Tensor, k: number): { index: number; score: number }[][] | undefined {
  const classes = t.shape[t.shape.length - 1];
  if (t.shape.length < 2 || classes < 2 || t.size === 0) return undefined;
  const rows = t.size / classes;
  if (rows > 64) return undefined; // a map (segmentation, features), not class scores
  return Array.from({ length: rows }, (_, r) => {
    const row = Array.from(t.data.subarray(r * classes, (r + 1) * classes), (score, index) => ({ index, score }));
    return row.sort((a, b) => b.score - a.score).slice(0, Math.min(k, classes));
  });
}

/** Free dimensions of an image input [N, C, H, W]: batch 1, and H/W from the image. */
function fillFromImage(img: Image) {
  return (_name: string, dims: readonly (number | string)[]): number[] | undefined => {
    if (dims.length !== 4) return undefined;
    const [n, c, h, w] = dims;
    const N = typeof n === 'number' ? n : 1;
    const C = typeof c === 'number' ? c : 3;
    let H = typeof h === 'number' ? h : undefined;
    let W = typeof w === 'number' ? w : undefined;
    if (H === undefined && W === undefined) [H, W] = [img.height, img.width];
    else if (H === undefined) H = Math.max(1, Math.round((W! * img.height) / img.width));
    else if (W === undefined) W = Math.max(1, Math.round((H * img.width) / img.height));
    return [N, C, H!, W!];
  };
}

export const run: CliCommand = {
  name: 'run',
  configure(cmd: Command) {
    cmd
      .description('run one inference and print the outputs (top classes for classifiers)')
      .argument('<model>', 'model file: .onnx or .deft')
      .requiredOption('-i, --input <file>', 'input: an image (.png, .jpg) or a tensor .json ({"shape": [...], "data": [...]}, or tensors by input name)')
      .option('-b, --backend <backend>', "'webgpu' or 'cpu' (default: webgpu when there is an adapter)", backendOption)
      .option('--input-shape <name=dims>', 'fix an input shape, e.g. x=1,3,48,192 (repeatable)', inputShapeOption)
      .option('-k, --top <k>', 'classes to show per row of a classifier output', positiveInt, 5)
      .option('--labels <names|file>', 'class names: comma-separated, or a file with one per line')
      .option('--mean <m>', 'image normalisation: subtract (per channel, comma-separated) after scaling to [0, 1]', numberList)
      .option('--std <s>', 'image normalisation: divide by (per channel)', numberList)
      .option('--invert', 'images: use 255 - pixel (dark strokes on light paper for MNIST-style models)');
  },
  async action(args, raw, io: Io) {
    const [modelPath] = args as [string];
    const o = raw as unknown as RunOptions;
    existingFile(o.input, '--input file');
    const image = isImagePath(o.input) ? readImage(o.input) : undefined;
    if (!image && !o.input.toLowerCase().endsWith('.json')) throw new UsageError(`--input '${o.input}' must be an image (.png, .jpg, .jpeg) or a tensor file (.json)`);
    const tensors = image ? undefined : readTensorJson(o.input);
    // Symbolic dimensions follow the image, or the tensor file's shapes.
    const fromJson = (name: string) => (tensors?.[name] ?? tensors?.[''])?.shape;
    const file = await readModelFile(modelPath, { inputShapes: o.inputShape, fill: image ? fillFromImage(image) : fromJson });
    const feeds: Record<string, Tensor> = {};
    if (image) {
      if (file.graph.inputs.length !== 1) throw new UsageError(`an image feeds a model with one input; this one has ${file.graph.inputs.map((v) => v.name).join(', ')}: give a tensor .json`);
      const v = file.graph.inputs[0];
      if (v.shape.length !== 4) throw new UsageError(`an image feeds a 4-D input [N, C, H, W]; input '${v.name}' is [${v.shape.join(', ')}]: give a tensor .json`);
      const [N, C, H, W] = v.shape;
      const one = imageToChw(image, [C, H, W], { mean: o.mean, std: o.std, invert: o.invert });
      const data = new Float32Array(N * one.length);
      for (let i = 0; i < N; i++) data.set(one, i * one.length);
      feeds[v.name] = new Tensor(v.shape, data);
    } else {
      const matched = matchTensors(tensors!, file.graph.inputs.map((v) => v.name), o.input);
      for (const v of file.graph.inputs) feeds[v.name] = jsonTensor(matched[v.name], v.shape, v.name);
    }
    const { backend, gpu } = await pickBackend(o.backend);
    const model = await fromGraph(file.graph, { backend, gpu: gpu ?? undefined });
    const t0 = performance.now();
    let outputs: Record<string, Tensor>;
    try {
      outputs = await model.run(feeds);
    } finally {
      model.dispose();
    }
    const ms = performance.now() - t0;
    const labels = readLabels(o.labels);
    const name = (i: number) => labels?.[i] ?? String(i);
    io.out(`${modelPath} on ${backend === 'webgpu' ? `WebGPU (${gpu!.name})` : 'the CPU reference backend'}; input ${Object.entries(feeds).map(([k, t]) => `${k} [${t.shape.join(', ')}]`).join(', ')}; ${ms.toFixed(1)} ms (first run)`);
    const result: Record<string, { shape: Shape; data: number[]; top?: { class: number; label?: string; score: number }[][] }> = {};
    for (const [k, t] of Object.entries(outputs)) {
      const top = topClasses(t, o.top);
      result[k] = { shape: t.shape, data: Array.from(t.data), ...(top ? { top: top.map((row) => row.map((c) => ({ class: c.index, ...(labels ? { label: name(c.index) } : {}), score: c.score }))) } : {}) };
      io.out(`output '${k}' [${t.shape.join(', ')}]${t.size <= 20 ? ': ' + Array.from(t.data, num).join(', ') : ''}`);
      top?.forEach((row, r) => io.out(`  ${top.length > 1 ? `row ${r} ` : ''}top ${row.length}: ${row.map((c) => `${name(c.index)} (${num(c.score)})`).join(', ')}`));
    }
    return { model: modelPath, kind: file.kind, backend, device: gpu?.name ?? null, inputs: Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.shape])), ms, outputs: result };
  },
};
