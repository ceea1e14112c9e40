// The whole DeftNN pipeline on one model, as `deftnn optimize` and the main job run it:
// synapse vector elimination under part of the accuracy budget (fine-tuned), then data fission
// under what is left of it, then every variant (dense, eliminated, packed, both) measured on the
// test split and timed on the same device, interleaved, per batch size and per layer; the result
// is the final model and the data of the HTML report (src/report/report.ts).
//
// The budget is shared: elimination may spend `eliminationShare` of it (default 60%), measured on
// the validation split; packing gets the rest of the budget, less what elimination actually lost.
// Both are measured against the original model's validation accuracy, so the total stays within
// `maxAccuracyDrop` on validation; the test split shows what that means on unseen images.

import { datasetSize, type Dataset } from './data/dataset.js';
import type { Gpu } from './device/gpu.js';
import type { Graph } from './graph/ir.js';
import { CpuSession, GpuSession, type Session } from './graph/session.js';
import type { Model } from './model.js';
import { pack, type FormatChoice, type PackReport } from './ndf/pack.js';
import type { ReportData, ReportLayer, ReportVariant } from './report/report.js';
import { eliminate, type EliminateProgress, type EliminationReport, type FinetuneConfig } from './sve/api.js';
import { eligibleLayers } from './sve/unroll.js';
import { Tensor } from './tensor.js';
import { median, timeInterleaved } from './timing.js';
import { evaluate, type GraphMetric } from './train/trainer.js';

export interface OptimizeData {
  /** Inputs whose statistics guide elimination (and packing's activation ranges). */
  readonly calibration: Dataset;
  /** Labelled images the budget is measured on (top-1 accuracy), unless `task` is given. */
  readonly validation?: Dataset;
  /** Labelled images the variants are compared on (unseen by the search), unless `task` is given. */
  readonly test?: Dataset;
  /** Images to fine-tune on (default: the calibration set). */
  readonly finetune?: Dataset;
  /**
   * The task's own metric instead of top-1 accuracy (an OCR recogniser's character accuracy, a
   * detector's F-score): measured on validation data for the budget and on test data for the
   * variants, both disjoint from calibration and fine-tuning.
   */
  readonly task?: OptimizeTask;
}

export interface OptimizeTask {
  /** What the metric is, for the report ('character accuracy', ...). */
  readonly metric: string;
  readonly validation: GraphMetric;
  readonly test: GraphMetric;
  /** How many samples each measures (for the report). */
  readonly validationSize: number;
  readonly testSize: number;
}

export interface OptimizeConfig {
  /** Total top-1 accuracy budget on validation, in percentage points (default 1). */
  readonly maxAccuracyDrop?: number;
  /** A fixed elimination rate instead of the budget's choice. */
  readonly rate?: number;
  /** Fixed formats instead of the budget's choice. */
  readonly formats?: FormatChoice;
  /** Which methods run (default both). */
  readonly eliminate?: boolean;
  readonly pack?: boolean;
  /** Fine-tuning of the eliminated model (default 1 epoch with labels); false: none. */
  readonly finetune?: Omit<FinetuneConfig, 'data'> | false;
  /**
   * Least-squares refit of the kept weights instead of folding (default true: on the zoo's VGG and
   * ResNet at 50% it keeps 1-15 points more before fine-tuning and 0.35-1 after; dev/sve-recipe.ts).
   */
  readonly refit?: boolean;
  /** Only these layers are eliminated (node names; default every eligible Conv and Gemm). */
  readonly layers?: readonly string[];
  /** Rates the elimination search tries per layer (default 0.25, 0.5, 0.75). */
  readonly candidateRates?: readonly number[];
  /** Share of the budget elimination may spend (default 0.6). */
  readonly eliminationShare?: number;
  /** Batch sizes timed (default [1, 32]); reps per variant (default 9). */
  readonly batchSizes?: readonly number[];
  readonly reps?: number;
  /** A line per stage, for progress output. */
  readonly onStage?: (line: string) => void;
  /** Progress within the elimination (calibration, sensitivity, search, fine-tuning steps) and the packing search (one step per model measured). */
  readonly onProgress?: (p: OptimizeProgress) => void;
}

export type OptimizeProgress = EliminateProgress | { readonly stage: 'pack'; readonly done: number; readonly total: 0; readonly detail: string };

export interface VariantResult {
  readonly name: string;
  readonly accuracy: number;
  /** Median latency per batch size (ms), and the speed-up over the dense model. */
  readonly latencyMs: Readonly<Record<number, number>>;
  readonly speedup: Readonly<Record<number, number>>;
}

export interface OptimizeResult {
  /** The final model (eliminated and/or packed); the input model is unchanged. */
  readonly model: Model;
  readonly variants: readonly VariantResult[];
  readonly elimination?: EliminationReport;
  readonly packing?: PackReport;
  readonly report: ReportData;
}

/** Optimise `model` with both DeftNN methods and measure every variant; see the header. */
export async function optimize(model: Model, data: OptimizeData, cfg: OptimizeConfig = {}): Promise<OptimizeResult> {
  const budget = cfg.maxAccuracyDrop ?? 1;
  if (!(budget >= 0 && budget < 100)) throw new RangeError(`maxAccuracyDrop is in percentage points, in [0, 100); got ${budget}`);
  const share = cfg.eliminationShare ?? 0.6;
  if (!(share > 0 && share <= 1)) throw new RangeError(`eliminationShare must be in (0, 1], got ${share}`);
  const doEliminate = cfg.eliminate ?? true;
  const doPack = cfg.pack ?? true;
  if (!doEliminate && !doPack) throw new RangeError('nothing to do: both elimination and packing are off');
  for (const [what, ds] of Object.entries(data)) if (ds && what !== 'task' && datasetSize(ds) === 0) throw new RangeError(`the ${what} set is empty`);
  const measure = measures(data);
  const stage = cfg.onStage ?? (() => {});
  const gpu = model.gpu;
  const finetune = cfg.finetune === false ? undefined : { epochs: 1, ...cfg.finetune, data: data.finetune ?? data.calibration };

  const models: { name: string; model: Model; flags: Partial<ReportVariant> }[] = [{ name: 'dense fp32', model, flags: { baseline: true } }];
  let current = model;
  let elimination: EliminationReport | undefined;
  let spent = 0;
  if (doEliminate) {
    stage(`eliminating synapse vectors (${cfg.rate !== undefined ? `rate ${cfg.rate}` : `budget ${(share * budget).toFixed(2)} points`}${finetune ? ', fine-tuned' : ''})`);
    const e = await eliminate(model, {
      calibration: data.calibration,
      metric: measure.validation,
      layers: cfg.layers,
      candidateRates: cfg.candidateRates,
      finetune,
      refit: cfg.refit ?? true,
      ...(cfg.rate !== undefined ? { rate: cfg.rate } : { maxAccuracyDrop: share * budget }),
      onProgress: cfg.onProgress,
    });
    elimination = e.elimination;
    const acc = e.elimination.accuracy!;
    spent = Math.max(0, 100 * (acc.original - (acc.finetuned ?? acc.eliminated!)));
    models.push({ name: 'eliminated', model: e, flags: { eliminated: true, fineTuned: !!finetune } });
    current = e;
  }
  let packing: PackReport | undefined;
  if (doPack) {
    const left = Math.max(0, budget - spent);
    let tried = 0;
    const onProgress = (p: { tensor: string; format: string; accepted: boolean }) => cfg.onProgress?.({ stage: 'pack', done: ++tried, total: 0, detail: `${p.tensor} in ${p.format}: ${p.accepted ? 'kept' : 'over budget'}` });
    const opts = cfg.formats ? { formats: cfg.formats } : { maxAccuracyDrop: left, metric: measure.validation, calibration: data.calibration, onProgress };
    stage(`packing (${cfg.formats ? 'fixed formats' : `budget ${left.toFixed(2)} points`})`);
    if (doEliminate) {
      const alone = await pack(model, cfg.formats ? opts : { ...opts, maxAccuracyDrop: budget });
      models.push({ name: 'packed', model: alone, flags: { packed: true } });
    }
    const p = await pack(current, opts);
    packing = p.packing;
    models.push({ name: doEliminate ? 'eliminated + packed' : 'packed', model: p, flags: { eliminated: doEliminate, packed: true, fineTuned: doEliminate && !!finetune } });
    current = p;
  }

  stage(`measuring ${models.length} variants on ${measure.testSize} test ${measure.samples}`);
  const accuracy = new Map<string, number>();
  for (const m of models) accuracy.set(m.name, await measure.test(m.model.graph, gpu));
  const batchSizes = cfg.batchSizes ?? [1, 32];
  const latency = new Map<string, Record<number, number>>(models.map((m) => [m.name, {}]));
  let layerTimes: { before: Map<string, number>; after: Map<string, number> } | undefined;
  for (const batch of batchSizes) {
    stage(`timing at batch ${batch}`);
    const sessions = models.map((m) => sessionAt(m.model.graph, batch, gpu));
    const x = inputBatch(data.test ?? data.calibration, batch);
    try {
      const feeds = (s: Session) => ({ [s.inputs[0].name]: x });
      const timings = await timeInterleaved(sessions.map((s, i) => ({ name: models[i].name, run: () => s.run(feeds(s)) })), { warmup: 2, reps: cfg.reps ?? 9 });
      timings.forEach((t) => (latency.get(t.name)![batch] = t.medianMs));
      if (batch === Math.max(...batchSizes) && gpu) {
        const perNode = async (s: GpuSession) => {
          const runs: Map<string, number>[] = [];
          for (let i = 0; i < 5; i++) runs.push(new Map((await s.profile(feeds(s))).nodes.map((n) => [n.node, n.ms])));
          return new Map([...runs[0].keys()].map((k) => [k, median(runs.map((r) => r.get(k)!))]));
        };
        layerTimes = { before: await perNode(sessions[0] as GpuSession), after: await perNode(sessions[sessions.length - 1] as GpuSession) };
      }
    } finally {
      sessions.forEach((s) => s.dispose());
    }
  }
  const dense = latency.get('dense fp32')!;
  const variants: VariantResult[] = models.map((m) => {
    const l = latency.get(m.name)!;
    return { name: m.name, accuracy: accuracy.get(m.name)!, latencyMs: l, speedup: Object.fromEntries(batchSizes.map((b) => [b, dense[b] / l[b]])) };
  });
  for (const m of models.slice(1, -1)) m.model.dispose(); // the intermediate variants; the caller owns the input and gets the final

  const big = Math.max(...batchSizes);
  const report: ReportData = {
    model: 'model',
    backend: gpu ? 'webgpu' : 'cpu',
    adapter: gpu?.name,
    date: new Date(),
    metric: `${measure.metric} on the test split`,
    variants: models.map((m, i) => ({ name: m.name, accuracy: variants[i].accuracy, latencyMs: variants[i].latencyMs[big], speedup: variants[i].speedup[big], ...m.flags })),
    layers: reportLayers(model.graph, current.graph, elimination, layerTimes),
    notes: [
      `Latency: median of ${cfg.reps ?? 9} interleaved runs at batch ${big} after warm-up${gpu ? ` on ${gpu.name}` : ' on the CPU reference backend'}; per-layer times from GPU timestamps (median of 5).`,
      `Budget: ${budget} points of ${measure.metric} on ${measure.validationSize} validation ${measure.samples}; the metric here is on ${measure.testSize} other test ${measure.samples}.`,
    ],
  };
  return { model: current, variants, elimination, packing, report };
}

/** The budget's and the report's measures: the task's metric, else top-1 accuracy on the labelled splits. */
function measures(data: OptimizeData): OptimizeTask & { samples: string } {
  if (data.task) return { ...data.task, samples: 'samples' };
  const { validation, test } = data;
  if (!validation || !test) throw new RangeError('optimize needs labelled validation and test sets, or a task with its own metric');
  return {
    metric: 'top-1 accuracy',
    validation: (g, gpu) => evaluate(g, validation, gpu),
    test: (g, gpu) => evaluate(g, test, gpu),
    validationSize: datasetSize(validation),
    testSize: datasetSize(test),
    samples: 'images',
  };
}

function sessionAt(graph: Graph, batch: number, gpu: Gpu | null): Session {
  const input = graph.inputs[0];
  const g = { ...graph, inputs: [{ name: input.name, shape: [batch, ...input.shape.slice(1)] }] };
  return gpu ? new GpuSession(gpu, g) : new CpuSession(g);
}

/** The first `batch` images of a data set (repeated when it has fewer). */
function inputBatch(ds: Dataset, batch: number): Tensor {
  const per = ds.images.length / datasetSize(ds);
  const x = new Float32Array(batch * per);
  for (let i = 0; i < batch; i++) x.set(ds.images.subarray((i % datasetSize(ds)) * per, ((i % datasetSize(ds)) + 1) * per), i * per);
  return new Tensor([batch, ...ds.imageShape], x);
}

/** One row per Conv/Gemm of the original: K, K' kept, the final formats and the times. */
function reportLayers(original: Graph, final: Graph, elimination: EliminationReport | undefined, times?: { before: Map<string, number>; after: Map<string, number> }): ReportLayer[] {
  const eliminated = new Map((elimination?.layers ?? []).map((l) => [l.node, l]));
  const formats = final.formats ?? new Map<string, string>();
  const finalNodes = new Map(final.nodes.map((n) => [n.name, n]));
  return eligibleLayers(original, { includeDepthwise: true }).layers.map((spec) => {
    const n = finalNodes.get(spec.node);
    return {
      node: spec.node,
      op: spec.op,
      k: spec.K,
      kept: eliminated.get(spec.node)?.Kp ?? spec.K,
      weightFormat: (n && formats.get(n.inputs[1])) ?? 'fp32',
      activationFormat: (n && formats.get(n.outputs[0])) ?? 'fp32',
      timeBeforeMs: times?.before.get(spec.node),
      timeAfterMs: times?.after.get(spec.node),
    };
  });
}
