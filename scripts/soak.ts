// Long-run check: N inferences (default 10,000) alternating between two models with new random
// inputs each time, printing the process's memory (RSS, V8 heap, external) and the engine's own
// count of GPU buffers and bytes (Gpu.memory) at intervals. After warm-up all of them should stay
// flat: a leak of one buffer or one tensor per run shows within a few hundred runs.
//
//   npx tsx scripts/soak.ts [--runs 10000] [--backend webgpu|cpu] [--every 500] [--warmup 1000]
//   node --expose-gc --import tsx scripts/soak.ts ...   (collects garbage before each sample)

import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { load, type Model } from '../src/model.js';
import { seededRandom } from '../src/random.js';
import { sizeOf, Tensor } from '../src/tensor.js';

const { values: a } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    backend: { type: 'string', default: 'webgpu' },
    every: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '1000' },
  },
});
const runs = Number(a.runs);
const every = Number(a.every);
const warmup = Number(a.warmup);
const backend = a.backend as 'webgpu' | 'cpu';
// With --expose-gc, collect before each sample, so the figures are what is live, not when V8 last ran.
const gc = (globalThis as { gc?: () => void }).gc;
const commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();

// Two models and two batch sizes of the artifact (a .deft takes another batch through inputShapes).
const models: { name: string; model: Model }[] = [
  { name: 'zoo/resnet.onnx', model: await load('zoo/resnet.onnx', { backend }) },
  { name: 'zoo/lenet5.deft batch 1', model: await load('zoo/lenet5.deft', { backend }) },
  { name: 'zoo/lenet5.deft batch 8', model: await load('zoo/lenet5.deft', { backend, inputShapes: { input: [8, 1, 28, 28] } }) },
];
const gpu = models[0].model.gpu;
console.log(`soak: ${runs} runs on ${gpu ? gpu.name : 'the CPU reference'}, commit ${commit}, ${new Date().toISOString()}${gc ? ', garbage collected before each sample' : ''}`);
console.log(`models: ${models.map((m) => `${m.name} [${m.model.inputs[0].shape}]`).join(', ')}\n`);

const MB = (b: number) => (b / 2 ** 20).toFixed(1);
interface Row { runs: number; seconds: number; rss: number; heap: number; external: number; buffers: number; bytes: number; staging: number }
const rows: Row[] = [];
const sample = (i: number, t0: number) => {
  gc?.();
  const m = process.memoryUsage();
  const g = gpu?.memory;
  rows.push({ runs: i, seconds: (performance.now() - t0) / 1000, rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers, buffers: g?.buffers ?? 0, bytes: g?.bytes ?? 0, staging: g?.stagingBuffers ?? 0 });
  const r = rows.at(-1)!;
  console.log(`| ${r.runs} | ${r.seconds.toFixed(0)} | ${MB(r.rss)} | ${MB(r.heap)} | ${MB(r.external)} | ${r.buffers} | ${MB(r.bytes)} | ${r.staging} |`);
};

console.log('| runs | s | RSS MB | heap MB | external MB | GPU buffers | GPU MB | staging buffers |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
const rand = seededRandom(1);
const t0 = performance.now();
sample(0, t0);
for (let i = 1; i <= runs; i++) {
  const { model } = models[i % models.length];
  const v = model.inputs[0];
  const x = new Tensor(v.shape, Float32Array.from({ length: sizeOf(v.shape) }, () => rand()));
  const out = await model.run({ [v.name]: x });
  if (!Object.values(out).every((t) => t.data.every(Number.isFinite))) throw new Error(`run ${i}: non-finite output`);
  if (i % every === 0 || i === runs) sample(i, t0);
}

// Flat after warm-up: GPU counts unchanged, RSS and heap within a margin of their post-warm-up values.
const after = rows.filter((r) => r.runs >= warmup);
const span = (f: (r: Row) => number) => Math.max(...after.map(f)) - Math.min(...after.map(f));
console.log(`\nafter ${warmup} warm-up runs: RSS varies by ${MB(span((r) => r.rss))} MB, heap by ${MB(span((r) => r.heap))} MB, external by ${MB(span((r) => r.external))} MB, GPU buffers by ${span((r) => r.buffers)}, GPU bytes by ${span((r) => r.bytes)}`);
for (const m of models) m.model.dispose();
