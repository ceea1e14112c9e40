// Synapse vector elimination as one call (design.md 4.1, steps 1-7):
//
//   const fast = await eliminate(model, { calibration, maxAccuracyDrop: 1, validation, finetune: { data } });
//   fast.elimination.layers  // per layer: K, K', the rows removed and what they were folded into
//
// Calibrate once on the original model, plan each layer from its own statistics, compact (the
// `kept_rows` layers run as smaller dense GEMMs), fine-tune, measure. With `maxAccuracyDrop` the
// per-layer rates come from a search: each layer's sensitivity (validation accuracy, or the task's
// own metric, with only that layer eliminated, at each candidate rate, no fine-tuning) and its
// time on the device at hand (GPU timestamps; FLOPs where the adapter has no timestamps) order the steps "layer l
// to its next rate" by time saved per point of accuracy lost. A rate that is not faster than the
// layer's previous one by at least 5% of the layer's dense cost is never a step: on some shapes a
// compacted kernel is slower than the dense one (the gather costs more than the rows it saves), and
// a smaller gain is within the timing noise of a shared machine (LeNet-5's first conv, K = 25, at
// 25% was taken as a step and then timed 4% slower than dense). A binary search then finds the
// longest prefix of that order whose model (fine-tuned, when fine-tuning is asked for: that is the
// model returned) stays within the budget on the validation split. Accuracy is assumed to fall as
// steps are added; the search measures only O(log steps) models, so where that assumption fails it
// may stop early, never beyond the budget.
//
// The original model is never modified; the result is a new Model on the same backend.

import type { Gpu } from '../device/gpu.js';
import { batches as datasetBatches, datasetSize, permutation, subset, type Dataset } from '../data/dataset.js';
import { nodeCost } from '../graph/cost.js';
import type { Graph } from '../graph/ir.js';
import { GpuSession } from '../graph/session.js';
import { inferShapes } from '../graph/shapes.js';
import { fromGraph, type Model } from '../model.js';
import { seededRandom } from '../random.js';
import { Tensor } from '../tensor.js';
import { evaluate, train, type GraphMetric, type TrainProgress } from '../train/trainer.js';
import { calibrate, type CalibrationBatch, type CalibrationResult } from './calibrate.js';
import { applyCompacted, eliminateLayer, keepCount, type EliminationPlan, type LayerElimination, type RemovedRow } from './eliminate.js';
import type { Method } from './select.js';
import { eligibleLayers, layerWeights, SveError } from './unroll.js';

export interface FinetuneConfig {
  /** Training images; their labels are used unless `distill` is set. */
  readonly data: Dataset;
  /** Default 1. */
  readonly epochs?: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** AdamW's learning rate, decayed by a cosine to 1% of it. Default 5e-4. */
  readonly lr?: number;
  /** Distil from the original model instead of using labels (temperature default 4). */
  readonly distill?: boolean | { readonly temperature?: number };
  /** Random shifts of up to this many pixels. Default 0. */
  readonly maxShift?: number;
  readonly seed?: number;
  readonly onProgress?: (p: TrainProgress) => void;
}

export interface EliminateConfig {
  /** Calibration inputs: a Dataset (its images), or batches of input tensors. */
  readonly calibration: Dataset | Iterable<CalibrationBatch> | AsyncIterable<CalibrationBatch>;
  /** Images taken from a calibration Dataset (seeded sample). Default 512. */
  readonly calibrationSamples?: number;
  /** One rate for every eligible layer, or rates by node name (others untouched). */
  readonly rate?: number | Readonly<Record<string, number>>;
  /** Or: the largest loss of the task's metric (`metric`, else top-1 accuracy on `validation`), in percentage points. */
  readonly maxAccuracyDrop?: number;
  /** Labelled images: top-1 accuracy on them is the metric unless `metric` is given; reported when given. */
  readonly validation?: Dataset;
  /**
   * The task's own metric of a graph, a fraction in [0, 1] where higher is better (a detector's
   * F-score, a recogniser's character accuracy, ...), measured on data never used to calibrate or
   * fine-tune. Replaces top-1 accuracy on `validation` for the budget and the report.
   */
  readonly metric?: GraphMetric;
  /** Rates the search tries per layer. Default [0.25, 0.5, 0.75]. */
  readonly candidateRates?: readonly number[];
  /** Only these layers (node names); default every eligible Conv and Gemm. */
  readonly layers?: readonly string[];
  readonly finetune?: FinetuneConfig | false;
  readonly method?: Method;
  readonly refit?: boolean;
  readonly scale?: boolean;
  readonly seed?: number;
  readonly onProgress?: (p: EliminateProgress) => void;
}

export interface EliminateProgress {
  readonly stage: 'calibrate' | 'plan' | 'sensitivity' | 'search' | 'finetune';
  readonly done: number;
  /** 0 when unknown. */
  readonly total: number;
  readonly detail?: string;
}

export interface LayerEliminationReport {
  readonly node: string;
  readonly op: 'Conv' | 'Gemm';
  readonly K: number;
  /** Rows kept per group. */
  readonly Kp: number;
  readonly rate: number;
  readonly flopsBefore: number;
  readonly flopsAfter: number;
  /** Calibration sampled this layer's columns. */
  readonly sampled: boolean;
  readonly removed: readonly RemovedRow[];
}

export interface SearchReport {
  readonly maxAccuracyDrop: number;
  /** What a step saves: measured layer time, or FLOPs where the adapter cannot time layers. */
  readonly cost: 'time' | 'flops';
  /** Validation accuracy with one layer eliminated at one rate (no fine-tuning), and the layer's cost then (rate 0: dense). */
  readonly sensitivity: readonly { node: string; rate: number; accuracy: number; cost: number }[];
  /** The steps in search order, and each model the binary search measured. */
  readonly steps: readonly { node: string; rate: number }[];
  readonly probes: readonly { steps: number; accuracy: number; withinBudget: boolean }[];
}

export interface EliminationReport {
  readonly method: Method;
  readonly refit: boolean;
  readonly layers: readonly LayerEliminationReport[];
  /** Layers left dense, and why. */
  readonly skipped: readonly { node: string; reason: string }[];
  /** Whole model, per inference at the model's input shapes. */
  readonly flops: { readonly before: number; readonly after: number };
  /** Top-1 accuracy on the validation split: original, eliminated, and after fine-tuning. */
  readonly accuracy?: { readonly original: number; readonly eliminated?: number; readonly finetuned?: number };
  readonly search?: SearchReport;
}

export type EliminatedModel = Model & { readonly elimination: EliminationReport };

const DEFAULT_RATES = [0.25, 0.5, 0.75];
/** The least a step must save, as a fraction of the layer's dense cost (see the header). */
const MIN_STEP_GAIN = 0.05;

/** Eliminate synapse vectors of `model`'s Conv and Gemm layers; see the header. */
export async function eliminate(model: Model, cfg: EliminateConfig): Promise<EliminatedModel> {
  const graph = model.graph;
  const gpu = model.gpu;
  const budgeted = cfg.maxAccuracyDrop !== undefined;
  if (budgeted === (cfg.rate !== undefined)) throw new SveError('give either rate or maxAccuracyDrop (not both, not neither)');
  if (budgeted && !(cfg.maxAccuracyDrop! >= 0 && cfg.maxAccuracyDrop! < 100)) throw new SveError(`maxAccuracyDrop is in percentage points, in [0, 100); got ${cfg.maxAccuracyDrop}`);
  if (budgeted && !cfg.validation && !cfg.metric) throw new SveError('maxAccuracyDrop needs a labelled validation set (validation) or a metric');
  if (cfg.validation && datasetSize(cfg.validation) === 0) throw new SveError('the validation set is empty');
  const measure = cfg.metric ? (g: Graph) => cfg.metric!(g, gpu) : cfg.validation ? (g: Graph) => evaluate(g, cfg.validation!, gpu) : undefined;
  if (graph.nodes.some((n) => n.attrs.kept_rows !== undefined)) throw new SveError('this model is already compacted: eliminate from the original model');
  checkRates(cfg.rate);
  const candidates = [...(cfg.candidateRates ?? DEFAULT_RATES)].sort((a, b) => a - b);
  for (const r of candidates) keepCount(1, { rate: r });
  if (budgeted && candidates.length === 0) throw new SveError('candidateRates is empty');
  const progress = cfg.onProgress ?? (() => {});

  const rateLayers = cfg.rate !== undefined && typeof cfg.rate === 'object' ? Object.keys(cfg.rate) : undefined;
  const stats = await calibrate(graph, calibrationBatches(graph, cfg), {
    gpu: gpu ?? undefined,
    layers: cfg.layers ?? rateLayers,
    seed: cfg.seed,
    onProgress: (p) => progress({ stage: 'calibrate', done: p.samples, total: 0, detail: `${p.batches} batches` }),
  });
  const planner = layerPlanner(graph, stats, cfg);
  const original = measure ? await measure(graph) : undefined;

  let rates: Record<string, number>;
  let search: SearchReport | undefined;
  let found: { graph: Graph; eliminated?: number; finetuned?: number } | undefined;
  if (budgeted) {
    ({ rates, search, found } = await searchRates(graph, stats, planner, candidates, original!, measure!, cfg, gpu, progress));
  } else {
    rates = typeof cfg.rate === 'number' ? Object.fromEntries([...stats.layers.keys()].map((n) => [n, cfg.rate as number])) : { ...cfg.rate };
    for (const name of Object.keys(rates)) if (!stats.layers.has(name)) throw new SveError(`rate given for layer '${name}', which cannot be eliminated: ${whyNot(stats, name)}`);
  }
  if (!found) {
    const compacted = applyCompacted(graph, planner.plan(rates));
    const eliminated = measure ? await measure(compacted) : undefined;
    const tuned = cfg.finetune ? await finetune(graph, compacted, cfg.finetune, gpu, progress) : undefined;
    found = { graph: tuned ?? compacted, eliminated, finetuned: tuned && measure ? await measure(tuned) : undefined };
  }
  const report = buildReport(graph, found.graph, planner.plan(rates), stats, cfg, search, original === undefined ? undefined : { original, eliminated: found.eliminated, finetuned: found.finetuned });
  const result = await fromGraph(found.graph, { backend: model.backend, gpu: gpu ?? undefined });
  return Object.assign(result, { elimination: report });
}

function checkRates(rate: EliminateConfig['rate']): void {
  if (rate === undefined) return;
  if (typeof rate === 'number') keepCount(1, { rate });
  else if (rate === null || typeof rate !== 'object') throw new SveError(`rate must be a number or an object of rates by layer, got ${JSON.stringify(rate)}`);
  else for (const [name, r] of Object.entries(rate)) if (typeof r !== 'number' || !(r >= 0 && r < 1)) throw new SveError(`rate of layer '${name}' must be in [0, 1), got ${r}`);
}

function whyNot(stats: CalibrationResult, name: string): string {
  return stats.skipped.find((s) => s.node === name)?.reason ?? 'no Conv or Gemm layer of that name was calibrated';
}

/** Input values per calibration batch: 64 small images, fewer large ones (see calibrationBatches). */
const CALIBRATION_INPUT_VALUES = 8_000_000;

/**
 * A Dataset becomes a seeded sample of its images in batches of 64, or fewer where the images are
 * large (a detector's 3x480x640 pages: 8), so that no layer's batch outgrows a storage binding
 * (128 MiB on many adapters); other sources pass through.
 */
function calibrationBatches(graph: Graph, cfg: EliminateConfig): Iterable<CalibrationBatch> | AsyncIterable<CalibrationBatch> {
  const c = cfg.calibration;
  if (c === null || typeof c !== 'object') throw new SveError('calibration must be a Dataset or an iterable of input batches');
  if (!('images' in c)) return c;
  const n = datasetSize(c);
  if (n === 0) throw new SveError(`the calibration set '${c.name}' is empty`);
  const [C, H, W] = c.imageShape;
  const want = graph.inputs[0].shape.slice(1);
  if (want.join() !== [C, H, W].join()) throw new SveError(`calibration images are [${C}, ${H}, ${W}], the model's input '${graph.inputs[0].name}' is [N, ${want.join(', ')}]`);
  const take = Math.min(n, cfg.calibrationSamples ?? 512);
  const sample = subset(c, permutation(n, seededRandom(cfg.seed ?? 1)).subarray(0, take));
  const batchSize = Math.max(1, Math.min(64, Math.floor(CALIBRATION_INPUT_VALUES / (C * H * W))));
  return [...datasetBatches(sample, { batchSize })].map((b) => b.x);
}

/** Per-layer eliminations, computed once per (layer, rate) and shared by every plan. */
function layerPlanner(graph: Graph, stats: CalibrationResult, cfg: EliminateConfig) {
  const cache = new Map<string, LayerElimination>();
  const one = (node: string, rate: number): LayerElimination => {
    const key = `${node}@${rate}`;
    let le = cache.get(key);
    if (!le) {
      const st = stats.layers.get(node)!;
      const { W, b } = layerWeights(graph, st.spec);
      le = eliminateLayer(W, b, st, { rate, method: cfg.method, refit: cfg.refit, scale: cfg.scale, seed: cfg.seed });
      cache.set(key, le);
    }
    return le;
  };
  return {
    one,
    plan: (rates: Readonly<Record<string, number>>): EliminationPlan => {
      const layers = new Map<string, LayerElimination>();
      for (const [node, rate] of Object.entries(rates)) {
        const le = one(node, rate);
        if (le.report.Kp < le.spec.K) layers.set(node, le);
      }
      return { layers };
    },
  };
}

type Planner = ReturnType<typeof layerPlanner>;

async function finetune(teacher: Graph, student: Graph, ft: FinetuneConfig, gpu: Gpu | null, progress: (p: EliminateProgress) => void): Promise<Graph> {
  const epochs = ft.epochs ?? 1;
  const batchSize = Math.min(ft.batchSize ?? 32, datasetSize(ft.data));
  if (datasetSize(ft.data) === 0) throw new SveError('the fine-tuning set is empty');
  const lr = ft.lr ?? 5e-4;
  const steps = epochs * Math.floor(datasetSize(ft.data) / batchSize);
  const distill = ft.distill ? { kind: 'distillation' as const, teacher, temperature: typeof ft.distill === 'object' ? ft.distill.temperature : undefined } : undefined;
  const { graph } = await train(
    student,
    { train: ft.data },
    {
      epochs,
      batchSize,
      optimizer: { kind: 'adamw', lr, weightDecay: 0 },
      schedule: { kind: 'cosine', totalSteps: steps, minLr: lr * 0.01 },
      maxShift: ft.maxShift,
      seed: ft.seed,
      loss: distill,
      onProgress: (p) => {
        progress({ stage: 'finetune', done: (p.epoch - 1) * p.stepsPerEpoch + p.step, total: steps });
        ft.onProgress?.(p);
      },
    },
    gpu,
  );
  return graph;
}

/** Input values per timed batch (see layerTimes). */
const TIMING_INPUT_VALUES = 2_000_000;

/**
 * Each node's GPU time (ms, the least of 5 timestamped runs: on a shared machine the noise only
 * ever adds time), or undefined when the adapter has no timestamp queries. The batch is 100
 * images, or fewer where they are large (the OCR classifier's 3x48x192 lines: 72; a detector's
 * 3x320x320 pages: 6): enough work per layer to time it, without making each probe of a large
 * model take minutes on a CPU adapter.
 */
async function layerTimes(graph: Graph, gpu: Gpu): Promise<Map<string, number> | undefined> {
  if (!gpu.adapter.features.timestampQuery) return undefined;
  const input = graph.inputs[0];
  const perImage = input.shape.slice(1).reduce((a, b) => a * b, 1);
  const shape = [Math.max(1, Math.min(100, Math.floor(TIMING_INPUT_VALUES / perImage))), ...input.shape.slice(1)];
  const s = new GpuSession(gpu, { ...graph, inputs: [{ name: input.name, shape }] });
  try {
    const x = new Tensor(shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5));
    const runs: Map<string, number>[] = [];
    for (let i = 0; i < 5; i++) runs.push(new Map((await s.profile({ [input.name]: x })).nodes.map((n) => [n.node, n.ms])));
    if (runs[0].size === 0) return undefined;
    return new Map([...runs[0].keys()].map((k) => [k, Math.min(...runs.map((r) => r.get(k)!))]));
  } finally {
    s.dispose();
  }
}

/**
 * The `n` eligible layers with the most FLOPs at the graph's input shapes: on a large network and a
 * slow adapter, the search's sensitivity pass (one measurement per layer and rate) restricted to
 * where the time is.
 */
export function costliestLayers(graph: Graph, n: number): string[] {
  const flops = layerFlops(graph);
  return eligibleLayers(graph)
    .layers.map((l) => l.node)
    .sort((a, b) => flops.get(b)! - flops.get(a)!)
    .slice(0, n);
}

/** FLOPs of each Conv/Gemm node at the graph's input shapes. */
function layerFlops(graph: Graph): Map<string, number> {
  return new Map(inferShapes(graph).nodes.map((r) => [r.node.name, nodeCost(r).flops]));
}

async function searchRates(
  graph: Graph,
  stats: CalibrationResult,
  planner: Planner,
  candidates: readonly number[],
  original: number,
  measure: (g: Graph) => Promise<number>,
  cfg: EliminateConfig,
  gpu: Gpu | null,
  progress: (p: EliminateProgress) => void,
): Promise<{ rates: Record<string, number>; search: SearchReport; found: { graph: Graph; eliminated: number; finetuned?: number } }> {
  const budget = cfg.maxAccuracyDrop! / 100;
  const layers = [...stats.layers.keys()];

  // 1. Sensitivity: one layer at one rate, the rest dense; and the layer's cost there.
  const timed = gpu ? await layerTimes(graph, gpu) : undefined;
  const costOf = async (g: Graph): Promise<Map<string, number>> => (timed && (await layerTimes(g, gpu!))) || layerFlops(g);
  const denseCost = timed ?? layerFlops(graph);
  const sensitivity: { node: string; rate: number; accuracy: number; cost: number }[] = layers.map((node) => ({ node, rate: 0, accuracy: original, cost: denseCost.get(node)! }));
  const total = layers.length * candidates.length;
  for (const node of layers) {
    for (const rate of candidates) {
      progress({ stage: 'sensitivity', done: sensitivity.length - layers.length, total, detail: `${node} at ${Math.round(rate * 100)}%` });
      const g = applyCompacted(graph, planner.plan({ [node]: rate }));
      sensitivity.push({ node, rate, accuracy: await measure(g), cost: (await costOf(g)).get(node)! });
    }
  }
  progress({ stage: 'sensitivity', done: total, total });

  // 2. Steps in order of cost saved per accuracy lost. Per layer, only rates clearly cheaper than the
  // layer's previous step are steps, and its loss is taken as non-decreasing in its rate.
  const chains = new Map(
    layers.map((node) => {
      const chain: { rate: number; saved: number; loss: number }[] = [{ rate: 0, saved: 0, loss: 0 }];
      for (const s of sensitivity.filter((x) => x.node === node && x.rate > 0)) {
        const last = chain[chain.length - 1];
        const saved = denseCost.get(node)! - s.cost;
        if (saved - last.saved >= MIN_STEP_GAIN * denseCost.get(node)!) chain.push({ rate: s.rate, saved, loss: Math.max(last.loss, original - s.accuracy) });
      }
      return [node, chain];
    }),
  );
  const level = new Map(layers.map((n) => [n, 0]));
  const steps: { node: string; rate: number }[] = [];
  for (;;) {
    let best: { node: string; value: number } | undefined;
    for (const node of layers) {
      const chain = chains.get(node)!;
      const i = level.get(node)!;
      if (i + 1 >= chain.length) continue;
      const value = (chain[i + 1].saved - chain[i].saved) / (chain[i + 1].loss - chain[i].loss + 1e-3);
      if (!best || value > best.value) best = { node, value };
    }
    if (!best) break;
    const i = level.get(best.node)! + 1;
    level.set(best.node, i);
    steps.push({ node: best.node, rate: chains.get(best.node)![i].rate });
  }
  const ratesAfter = (p: number): Record<string, number> => Object.fromEntries(steps.slice(0, p).map((s) => [s.node, s.rate]));

  // 3. Binary search for the longest prefix within the budget.
  const probes: { steps: number; accuracy: number; withinBudget: boolean }[] = [];
  const measured = new Map<number, { graph: Graph; eliminated: number; finetuned?: number }>();
  const within = async (p: number): Promise<boolean> => {
    progress({ stage: 'search', done: probes.length, total: Math.ceil(Math.log2(steps.length + 1)) + 1, detail: `${p} of ${steps.length} steps` });
    const compacted = applyCompacted(graph, planner.plan(ratesAfter(p)));
    const eliminated = await measure(compacted);
    const tuned = cfg.finetune ? await finetune(graph, compacted, cfg.finetune, gpu, progress) : undefined;
    const finetuned = tuned ? await measure(tuned) : undefined;
    const accuracy = finetuned ?? eliminated;
    const ok = original - accuracy <= budget + 1e-12;
    probes.push({ steps: p, accuracy, withinBudget: ok });
    if (ok) measured.set(p, { graph: tuned ?? compacted, eliminated, finetuned });
    return ok;
  };
  let lo = 0;
  let hi = steps.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (await within(mid)) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0) {
    const first = steps[0];
    const tried = probes.map((p) => `${p.steps} step(s): ${(100 * p.accuracy).toFixed(2)}%`).join(', ');
    throw new SveError(
      `no elimination stays within maxAccuracyDrop = ${cfg.maxAccuracyDrop} points of the original ${(100 * original).toFixed(2)}%: ` +
        `even the cheapest step (${first ? `${first.node} at ${first.rate * 100}%` : 'none'}) loses more (${tried || 'no layer to eliminate'}). ` +
        `Allow a larger drop, ${cfg.finetune ? 'fine-tune on more data or for longer' : 'fine-tune (finetune)'}, or add smaller candidateRates`,
    );
  }
  return { rates: ratesAfter(lo), search: { maxAccuracyDrop: cfg.maxAccuracyDrop!, cost: timed ? 'time' : 'flops', sensitivity, steps, probes }, found: measured.get(lo)! };
}

function buildReport(
  original: Graph,
  result: Graph,
  plan: EliminationPlan,
  stats: CalibrationResult,
  cfg: EliminateConfig,
  search: SearchReport | undefined,
  accuracy: EliminationReport['accuracy'],
): EliminationReport {
  const before = layerFlops(original);
  const after = layerFlops(result);
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const layers = [...plan.layers.values()].map((le): LayerEliminationReport => ({
    node: le.spec.node,
    op: le.spec.op,
    K: le.spec.K,
    Kp: le.report.Kp,
    rate: 1 - le.report.Kp / le.spec.K,
    flopsBefore: before.get(le.spec.node)!,
    flopsAfter: after.get(le.spec.node)!,
    sampled: le.report.sampled,
    removed: le.report.removed,
  }));
  return { method: cfg.method ?? 'correlation', refit: cfg.refit ?? false, layers, skipped: stats.skipped, flops: { before: sum(before), after: sum(after) }, accuracy, search };
}
