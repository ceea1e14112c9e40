// Experiment: how much do the refit and longer fine-tuning keep at a fixed, fast set of rates (every
// Conv/Gemm but the first at the given rate)? npx tsx dev/sve-recipe.ts [model] [rate]
//
// Measured 2026-11-27 (llvmpipe, 50%, 2,000 Fashion-MNIST test images; before / after fine-tuning):
//   VGG (dense 92.25%, FLOPs x1.95):    fold 90.45 / 91.45 (1 epoch, 5k); refit 91.45 / 91.80 (1x5k), 91.80 (2x10k)
//   ResNet (dense 92.90%, FLOPs x1.97): fold 74.15 / 90.90 (1x5k);        refit 89.55 / 91.90 (1x5k), 92.55 (2x10k)
import { Gpu } from '../src/device/gpu.js';
import { load } from '../src/model.js';
import { loadFashionMnist } from '../src/data/idx.js';
import { permutation, subset } from '../src/data/dataset.js';
import { seededRandom } from '../src/random.js';
import { eliminate } from '../src/sve/api.js';
import { eligibleLayers } from '../src/sve/unroll.js';
import { evaluate } from '../src/train/trainer.js';

const file = process.argv[2] ?? 'zoo/vgg.onnx';
const rate = Number(process.argv[3] ?? 0.5);
const gpu = (await Gpu.acquire())!;
const model = await load(file, { gpu });
const { train, test } = loadFashionMnist();
const order = permutation(train.labels.length, seededRandom(7));
const calibration = subset(train, order.subarray(0, 512));
const tune = (n: number) => subset(train, order.subarray(512, 512 + n));
const part = subset(test, permutation(test.labels.length, seededRandom(8)).subarray(0, 2000));
const convs = eligibleLayers(model.graph).layers.map((l) => l.node);
console.log('layers', convs.join(' '), 'dense', (await evaluate(model.graph, part, gpu)).toFixed(4));
const rates = Object.fromEntries(convs.slice(1).map((n) => [n, rate]));
for (const [name, refit, n, epochs] of [['fold 1x5k', false, 5000, 1], ['refit 1x5k', true, 5000, 1], ['refit 2x10k', true, 10000, 2]] as const) {
  const t0 = Date.now();
  const m = await eliminate(model, { calibration, rate: rates, refit, finetune: { data: tune(n), epochs }, validation: part });
  const a = m.elimination.accuracy!;
  console.log(`${name}: flops x${(m.elimination.flops.before / m.elimination.flops.after).toFixed(2)} before FT ${a.eliminated!.toFixed(4)} after ${a.finetuned!.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  m.dispose();
}
gpu.destroy();
