// `npm run train:zoo`: trains the model zoo with deftnn's own training engine, exports each model
// to zoo/<name>.onnx, checks the file in onnxruntime-node against deftnn, and writes docs/zoo.md.
//
//   npm run train:zoo -- [--models lenet5,vgg,resnet] [--epochs N] [--backend webgpu|cpu]
//
// Checkpoints go to zoo/.checkpoints/, so an interrupted run resumes where it stopped.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { loadFashionMnist } from '../src/data/idx.js';
import { batches, datasetSize, subset, type Dataset } from '../src/data/dataset.js';
import { loadMnist } from '../src/data/mnist.js';
import { Gpu } from '../src/device/gpu.js';
import { graphCost } from '../src/graph/cost.js';
import type { Graph } from '../src/graph/ir.js';
import { CpuSession } from '../src/graph/session.js';
import { inferShapes } from '../src/graph/shapes.js';
import { exportOnnx } from '../src/onnx/export.js';
import { terminalProgress } from '../src/train/progress.js';
import { train } from '../src/train/trainer.js';
import { ZOO, ZOO_BATCH as BATCH } from '../src/zoo/recipes.js';

/** Largest |difference| between onnxruntime-node on the exported file and deftnn, on 16 test images. */
async function checkInOnnxRuntime(bytes: Uint8Array, graph: Graph, ds: Dataset): Promise<number> {
  const ortSession = await ort.InferenceSession.create(bytes);
  const ours = new CpuSession(graph);
  const input = graph.inputs[0].name;
  let worst = 0;
  for (const b of batches(subset(ds, Array.from({ length: 16 }, (_, i) => i)), { batchSize: 1 })) {
    const mine = (await ours.run({ [input]: b.x }))[graph.outputs[0]].data;
    const theirs = await ortSession.run({ [input]: new ort.Tensor('float32', b.x.data, [...b.x.shape]) });
    const t = theirs[ortSession.outputNames[0]].data as Float32Array;
    mine.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - t[i]))));
  }
  return worst;
}

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: ZOO.map((z) => z.name).join(',') },
    epochs: { type: 'string' },
    backend: { type: 'string', default: 'webgpu' },
  },
});
const wanted = values.models!.split(',');
for (const w of wanted) if (!ZOO.some((z) => z.name === w)) throw new Error(`unknown zoo model '${w}'; choose from ${ZOO.map((z) => z.name).join(', ')}`);
const gpu = values.backend === 'cpu' ? null : await Gpu.acquire();
const device = gpu ? gpu.name : 'CPU reference backend';
console.log(`training on ${device}`);
mkdirSync('zoo/.checkpoints', { recursive: true });
const date = new Date().toISOString().slice(0, 10);

// Results per model, kept across runs so that training one model keeps the others' rows.
const RESULTS = 'zoo/results.json';
const results: Record<string, string> = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : {};
for (const z of ZOO.filter((z) => wanted.includes(z.name))) {
  const data = z.dataset === 'mnist' ? loadMnist() : loadFashionMnist();
  const epochs = values.epochs ? Number(values.epochs) : z.epochs;
  const graph = z.build(z.seed);
  const progress = terminalProgress(z.name);
  const t0 = performance.now();
  const { graph: trained, history } = await train(
    graph,
    data,
    { ...z.recipe(epochs, Math.floor(datasetSize(data.train) / BATCH), BATCH, z.seed), onProgress: progress.onProgress, checkpoint: `zoo/.checkpoints/${z.name}.ckpt` },
    gpu,
  );
  progress.stop();
  const minutes = (performance.now() - t0) / 60000;
  const accuracy = history[history.length - 1].testAccuracy!;
  const bytes = exportOnnx(trained, { modelName: z.name, producer: 'deftnn train:zoo' });
  writeFileSync(`zoo/${z.name}.onnx`, bytes);
  const diff = await checkInOnnxRuntime(bytes, trained, data.test);
  const params = [...graph.initializers.values()].reduce((s, t) => s + t.size, 0);
  const mflops = graphCost(inferShapes(graph)).flops / 1e6;
  const verdict = accuracy >= z.target ? 'meets' : 'BELOW';
  console.log(`${z.name}: test accuracy ${(100 * accuracy).toFixed(2)}% (${verdict} the ${100 * z.target}% target), onnxruntime max |diff| ${diff.toExponential(1)}`);
  results[z.name] = (
    `| ${z.name} | ${z.dataset} (${datasetSize(data.train)} train / ${datasetSize(data.test)} test) | ${(100 * accuracy).toFixed(2)}% | ${100 * z.target}% | ` +
      `${params.toLocaleString('en-US')} | ${mflops.toFixed(2)} | ${epochs} | ${minutes.toFixed(1)} min | ${diff.toExponential(1)} | ${date} |`
  );
  writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
}

function untrained(): string {
  const missing = ZOO.filter((z) => !results[z.name]).map((z) => z.name);
  return missing.length ? `\nNot trained yet: ${missing.join(', ')} (\`npm run train:zoo -- --models ${missing.join(',')}\`).\n` : '';
}

writeFileSync(
  'docs/zoo.md',
  `# Model zoo

Trained by deftnn's own training engine with \`npm run train:zoo\` (on ${device}, 2 CPU cores).
Files: \`zoo/<model>.onnx\` (opset 17, float32; the inference graphs, batch 1). MNIST uses the
fixed split of \`src/data/mnist.ts\` (first 80% of each class trains, the rest tests);
Fashion-MNIST its standard 60,000/10,000 split. FLOPs are per image (a multiply-add counts 2).
"ORT diff" is the largest output difference between onnxruntime-node running the exported file
and deftnn on 16 test images. \`zoo/lenet5.deft\` is LeNet-5 optimised by \`npm run demo\` (both
methods, fine-tuned; the browser demo's default \"optimized\" model).

| model | data | test accuracy | target | parameters | MFLOPs | epochs | training time | ORT diff | trained |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${ZOO.filter((z) => results[z.name]).map((z) => results[z.name]).join('\n')}
${untrained()}`,
);
gpu?.destroy();
