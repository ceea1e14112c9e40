// `deftnn eval MODEL --dataset mnist|fashion-mnist|DIR`: top-1 accuracy on a labelled test set
// (MNIST: the test split of src/data/mnist.ts; Fashion-MNIST: its 10,000 test images; DIR: one
// folder of images per class), and with --agreement OTHER how often the two models pick the same
// class (the measure for an optimised model against its original when labels are scarce) and
// their largest output difference. Images run in batches of --batch (the last one padded).

import type { Command } from 'commander';
import { permutation, subset, type Dataset } from '../../data/dataset.js';
import type { Session } from '../../graph/session.js';
import { inferShapes } from '../../graph/shapes.js';
import { seededRandom } from '../../random.js';
import { sizeOf, Tensor } from '../../tensor.js';
import { backendOption, CliError, inputShapeOption, positiveInt, progressBar, UsageError, type BackendChoice, type Io } from '../common.js';
import { builtInDataset, datasetOptions } from '../datasets.js';
import { readImageDir } from '../images.js';
import { makeSession, pickBackend, readModelFile, type ModelFile } from '../model-file.js';
import type { CliCommand } from '../command.js';

interface EvalOptions {
  dataset: string;
  agreement?: string;
  limit?: number;
  batch: number;
  backend?: BackendChoice;
  fashionDir: string;
  mean?: number[];
  std?: number[];
  invert?: boolean;
  inputShape?: Record<string, number[]>;
}

/** Read a model for [batch, ...imageShape] inputs (symbolic sizes from the data set). */
async function readForData(path: string, batch: number, imageShape: readonly number[] | undefined, inputShape?: Record<string, number[]>): Promise<ModelFile> {
  // --input-shape's batch dimension is replaced by --batch.
  const inputShapes = inputShape && Object.fromEntries(Object.entries(inputShape).map(([k, s]) => [k, [batch, ...s.slice(1)]]));
  const file = await readModelFile(path, { batch, inputShapes, fill: (_n, dims) => (imageShape && dims.length === 4 ? [batch, ...imageShape] : undefined) });
  if (file.graph.inputs.length !== 1 || file.graph.inputs[0].shape.length !== 4) {
    throw new UsageError(`eval feeds images to a model with one [N, C, H, W] input; '${path}' has ${file.graph.inputs.map((v) => `${v.name} [${v.shape.join(', ')}]`).join(', ')}`);
  }
  return file;
}

/** Outputs (first graph output, [batch, classes]) of every image, in order. */
async function predict(session: Session, ds: Dataset, batch: number, bar: { tick(n?: number): void }): Promise<Float32Array[]> {
  const input = session.inputs[0];
  const per = sizeOf(input.shape) / batch;
  if (per !== sizeOf(ds.imageShape)) throw new CliError(`the model's input [${input.shape.join(', ')}] does not take the data set's [${ds.imageShape.join(', ')}] images`);
  const out: Float32Array[] = [];
  const n = ds.labels.length;
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const x = new Float32Array(batch * per);
    x.set(ds.images.subarray(start * per, (start + count) * per));
    const y = (await session.run({ [input.name]: new Tensor(input.shape, x) }))[session.outputs[0].name];
    const k = y.size / batch;
    for (let i = 0; i < count; i++) out.push(y.data.slice(i * k, (i + 1) * k));
    bar.tick(count);
  }
  return out;
}

const argmax = (v: Float32Array) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

export const evalCommand: CliCommand = {
  name: 'eval',
  configure(cmd: Command) {
    cmd
      .description('top-1 accuracy on a labelled data set, or agreement with another model')
      .argument('<model>', 'model file: .onnx or .deft')
      .requiredOption('-d, --dataset <name|dir>', "'mnist', 'fashion-mnist', or a directory with one folder of images per class")
      .option('--agreement <model>', 'also run this model and report how often both pick the same class')
      .option('-n, --limit <n>', 'evaluate this many images (a fixed random sample of the set)', positiveInt)
      .option('--batch <n>', 'images per run', positiveInt, 32)
      .option('-b, --backend <backend>', "'webgpu' or 'cpu' (default: webgpu when there is an adapter)", backendOption)
      .option('--input-shape <name=dims>', 'fix the input shape where the model leaves sizes free, e.g. x=1,3,48,192 (the batch is --batch)', inputShapeOption);
    datasetOptions(cmd);
  },
  async action(args, raw, io: Io) {
    const [path] = args as [string];
    const o = raw as unknown as EvalOptions;
    let ds = builtInDataset(o.dataset, o.fashionDir)?.test;
    const file = await readForData(path, o.batch, ds?.imageShape, o.inputShape);
    const [, C, H, W] = file.graph.inputs[0].shape;
    const classes = inferShapes(file.graph).shapes.get(file.graph.outputs[0])!.at(-1) ?? 1;
    if (!ds) ds = readImageDir(o.dataset, [C, H, W], { mean: o.mean, std: o.std, invert: o.invert }, classes);
    if (o.limit !== undefined && o.limit < ds.labels.length) ds = subset(ds, permutation(ds.labels.length, seededRandom(1)).slice(0, o.limit), ds.name);
    const data: Dataset = ds;
    const other = o.agreement ? await readForData(o.agreement, o.batch, ds.imageShape, o.inputShape) : undefined;
    const { backend, gpu } = await pickBackend(o.backend);
    const n = data.labels.length;
    const bar = progressBar('eval', n * (other ? 2 : 1));
    const t0 = performance.now();
    const run = async (f: ModelFile) => {
      const s = makeSession(f.graph, backend, gpu);
      try {
        return await predict(s, data, o.batch, bar);
      } finally {
        s.dispose();
      }
    };
    const outs = await run(file);
    const otherOuts = other ? await run(other) : undefined;
    bar.stop();
    const seconds = (performance.now() - t0) / 1000;
    const accuracy = (ys: Float32Array[]) => ys.filter((y, i) => argmax(y) === data.labels[i]).length / n;
    const acc = accuracy(outs);
    const where = backend === 'webgpu' ? `WebGPU (${gpu!.name})` : 'the CPU reference backend';
    io.out(`${path}: top-1 accuracy ${(100 * acc).toFixed(2)}% on ${n} images of ${o.dataset} (${where}, ${seconds.toFixed(1)} s)`);
    const result: Record<string, unknown> = { model: path, dataset: o.dataset, images: n, backend, accuracy: acc, correct: Math.round(acc * n), seconds };
    if (other && otherOuts) {
      const same = outs.filter((y, i) => argmax(y) === argmax(otherOuts[i])).length;
      const comparable = outs.every((y, i) => y.length === otherOuts[i].length);
      const maxAbsDiff = comparable ? Math.max(...outs.map((y, i) => y.reduce((m, v, j) => Math.max(m, Math.abs(v - otherOuts[i][j])), 0))) : null;
      const otherAcc = accuracy(otherOuts);
      io.out(`${o.agreement}: top-1 accuracy ${(100 * otherAcc).toFixed(2)}%`);
      io.out(`agreement: both pick the same class for ${same} of ${n} images (${((100 * same) / n).toFixed(2)}%)${maxAbsDiff !== null ? `; largest output difference ${maxAbsDiff.toExponential(2)}` : ''}`);
      result.agreement = { model: o.agreement, accuracy: otherAcc, agreement: same / n, sameClass: same, maxAbsDiff };
    }
    return result;
  },
};
