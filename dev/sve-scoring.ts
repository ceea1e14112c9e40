// Experiment: which selection score keeps VGG's accuracy best before fine-tuning, at one uniform rate?
// npx tsx dev/sve-scoring.ts [model] [rate] [images]
//
// Measured 2026-11-26 (llvmpipe, zoo/vgg.onnx, 50%, 1,000 test images, no fine-tuning):
// correlation 82.5%, correlation+refit 87.9%, weight-norm 78.7%, weight-norm+refit 86.7%; with the
// first conv (K = 9) kept dense: 90.4%, 91.2%, 86.0%, 90.5% (dense 92.3%). The first layer costs
// most, which is why the budget search's sensitivity ranking leaves it dense, and refit helps
// either score by 1-5 points before any fine-tuning.
import { Gpu } from '../src/device/gpu.js';
import { load } from '../src/model.js';
import { loadFashionMnist } from '../src/data/idx.js';
import { loadMnist } from '../src/data/mnist.js';
import { permutation, subset } from '../src/data/dataset.js';
import { seededRandom } from '../src/random.js';
import { calibrate } from '../src/sve/calibrate.js';
import { applyCompacted, planElimination } from '../src/sve/eliminate.js';
import { evaluate } from '../src/train/trainer.js';
import { batches } from '../src/data/dataset.js';

const file = process.argv[2] ?? 'zoo/vgg.onnx';
const rate = Number(process.argv[3] ?? 0.5);
const n = Number(process.argv[4] ?? 1000);
const gpu = (await Gpu.acquire())!;
const model = await load(file, { gpu });
const data = file.includes('lenet') ? loadMnist() : loadFashionMnist();
const calib = subset(data.train, permutation(data.train.labels.length, seededRandom(7)).subarray(0, 512));
const test = subset(data.test, permutation(data.test.labels.length, seededRandom(8)).subarray(0, n));
const stats = await calibrate(model.graph, [...batches(calib, { batchSize: 64 })].map((b) => b.x), { gpu });
console.log(`dense ${(await evaluate(model.graph, test, gpu)).toFixed(4)}`);
const layers = [...stats.layers.keys()];
for (const skipFirst of [false, true]) {
  const rates = Object.fromEntries(layers.map((l, i) => [l, skipFirst && i === 0 ? 0 : rate]));
  for (const [name, opts] of [
    ['correlation', { method: 'correlation' as const }],
    ['correlation+refit', { method: 'correlation' as const, refit: true }],
    ['weight-norm', { method: 'weight-norm' as const }],
    ['weight-norm+refit', { method: 'weight-norm' as const, refit: true }],
  ] as const) {
    const g = applyCompacted(model.graph, planElimination(model.graph, stats, rates, opts));
    console.log(`${skipFirst ? 'first layer dense, ' : ''}${name} @${rate}: ${(await evaluate(g, test, gpu)).toFixed(4)}`);
  }
}
gpu.destroy();
