// `deftnn train ZOO-MODEL`: train a model of the zoo (src/zoo/) on its data set with deftnn's own
// training engine (src/train/trainer.ts) and write it as ONNX (or .deft), with the zoo's recipes
// (src/zoo/recipes.ts, shared with scripts/train-zoo.ts). --limit trains on a fixed random sample (and tests on at most as many images), for a
// quick run. With --checkpoint, an interrupted run resumes after its last finished epoch.

import type { Command } from 'commander';
import { encodeDeft } from '../../artifact/deft.js';
import { datasetSize, permutation, subset, type Dataset } from '../../data/dataset.js';
import { FASHION_MNIST_DIR, loadFashionMnist } from '../../data/idx.js';
import { loadMnist } from '../../data/mnist.js';
import { optimizeGraph } from '../../graph/passes.js';
import { exportOnnx } from '../../onnx/export.js';
import { seededRandom } from '../../random.js';
import { terminalProgress } from '../../train/progress.js';
import { train as trainGraph, type TrainProgress } from '../../train/trainer.js';
import { ZOO, ZOO_BATCH, zooModel } from '../../zoo/recipes.js';
import { backendOption, positiveInt, UsageError, writeFileAtomic, type BackendChoice, type Io } from '../common.js';
import { pickBackend } from '../model-file.js';
import type { CliCommand } from '../command.js';

interface TrainOptions {
  epochs?: number;
  batch: number;
  backend?: BackendChoice;
  out?: string;
  limit?: number;
  seed?: number;
  checkpoint?: string;
  fashionDir: string;
}

export const train: CliCommand = {
  name: 'train',
  configure(cmd: Command) {
    cmd
      .description(`train a zoo model (${ZOO.map((z) => z.name).join(', ')}) on its data set and write it as .onnx (or .deft)`)
      .argument('<model>', `zoo model: ${ZOO.map((z) => z.name).join(', ')}`)
      .option('-e, --epochs <n>', 'epochs (default: the zoo recipe\'s: lenet5 12, vgg 4, resnet 6)', positiveInt)
      .option('--batch <n>', 'batch size', positiveInt, ZOO_BATCH)
      .option('-b, --backend <backend>', "'webgpu' or 'cpu' (default: webgpu when there is an adapter)", backendOption)
      .option('-o, --out <file>', 'where to write the trained model (.onnx or .deft; default <model>.onnx)')
      .option('-n, --limit <n>', 'train on this many images (a fixed random sample) and test on at most as many', positiveInt)
      .option('--seed <n>', "seed for the initial weights, shuffling and augmentation (default: the zoo file's)", positiveInt)
      .option('--checkpoint <file>', 'checkpoint file: written after every epoch, resumed from when it exists')
      .option('--fashion-dir <dir>', 'where the Fashion-MNIST IDX files are', FASHION_MNIST_DIR);
  },
  async action(args, raw, io: Io) {
    const [name] = args as [string];
    const o = raw as unknown as TrainOptions;
    const zoo = zooModel(name);
    if (!zoo) throw new UsageError(`unknown zoo model '${name}'; choose one of ${ZOO.map((z) => z.name).join(', ')}`);
    const seed = o.seed ?? zoo.seed;
    const out = o.out ?? `${name}.onnx`;
    if (!/\.(onnx|deft)$/i.test(out)) throw new UsageError(`--out '${out}' must end in .onnx or .deft`);
    let data: { train: Dataset; test: Dataset };
    try {
      data = zoo.dataset === 'mnist' ? loadMnist() : loadFashionMnist(o.fashionDir);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (o.limit !== undefined) {
      const pick = (ds: Dataset, n: number, seed: number) => (n < datasetSize(ds) ? subset(ds, permutation(datasetSize(ds), seededRandom(seed)).slice(0, n), ds.name) : ds);
      data = { train: pick(data.train, o.limit, seed), test: pick(data.test, o.limit, seed + 1) };
    }
    const epochs = o.epochs ?? zoo.epochs;
    const steps = Math.floor(datasetSize(data.train) / o.batch);
    if (steps < 1) throw new UsageError(`--batch ${o.batch} is larger than the ${datasetSize(data.train)} training images`);
    const { backend, gpu } = await pickBackend(o.backend);
    io.out(`training ${name} on ${datasetSize(data.train)} ${zoo.dataset} images for ${epochs} epochs (batch ${o.batch}) on ${backend === 'webgpu' ? `WebGPU (${gpu!.name})` : 'the CPU reference backend'}`);
    // Human mode: the trainer's bar and per-epoch lines; --json: epoch lines on stderr only.
    const progress = io.json
      ? { onProgress: (p: TrainProgress) => p.epochDone && io.note(`epoch ${p.epoch}/${p.epochs}: loss ${p.loss.toFixed(4)}, train accuracy ${(100 * p.accuracy).toFixed(1)}%`), stop() {} }
      : terminalProgress(name);
    const t0 = performance.now();
    let result;
    try {
      result = await trainGraph(zoo.build(seed), data, { ...zoo.recipe(epochs, steps, o.batch, seed), onProgress: progress.onProgress, checkpoint: o.checkpoint }, gpu);
    } finally {
      progress.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    const last = result.history[result.history.length - 1];
    // A .deft holds the graph as it runs (load() runs it as it is); ONNX gets the plain graph, as the zoo's files.
    const bytes = /\.deft$/i.test(out) ? await encodeDeft(optimizeGraph(result.graph), { producer: 'deftnn train', source: `zoo:${name}` }) : exportOnnx(result.graph, { modelName: name, producer: 'deftnn train' });
    writeFileAtomic(out, bytes);
    io.out(`test accuracy ${(100 * (last?.testAccuracy ?? NaN)).toFixed(2)}% on ${datasetSize(data.test)} images; ${seconds.toFixed(1)} s; wrote ${out} (${bytes.length} bytes)`);
    return {
      model: name,
      dataset: zoo.dataset,
      backend,
      epochs,
      trainImages: datasetSize(data.train),
      testImages: datasetSize(data.test),
      testAccuracy: last?.testAccuracy ?? null,
      trainAccuracy: last?.accuracy ?? null,
      loss: last?.loss ?? null,
      seconds,
      out,
      bytes: bytes.length,
    };
  },
};
