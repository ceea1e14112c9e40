// Synapse vector elimination (design.md 4.1), step 1: calibration.
//
// Runs the ORIGINAL model on batches of calibration inputs (each layer's input is captured by
// adding it to the graph's outputs; the graph passed in is never modified) and accumulates, per
// layer and group, the mean μ (K) and covariance C (K×K) of the columns of the unrolled input X
// (unroll.ts), in float64. Batches are merged with Chan et al.'s pairwise update (batch mean and
// centred scatter, then the cross term), which does not suffer the cancellation of raw sums of
// products.
//
// The scale step (fold.ts) needs <o_m, r_m> and <r_m, r_m> over the calibration columns, with
// o = W x + b and r = W' x + b' both linear in x: they are functions of the second moments
// E[x xᵀ] = C + μ μᵀ and of μ alone, so μ and C are all that has to be accumulated.
//
// Memory bound (`memoryBytes`, default 128 MiB per layer and group): the covariance needs K·K·8
// bytes and the unrolled block of one batch K·cols·8. A layer whose covariance alone exceeds the
// bound is skipped and the reason recorded (sampling columns cannot shrink a K×K matrix). When a
// batch has more columns than fit in the rest of the bound, or more than `maxColumnsPerBatch`
// (default 4096: the K²·cols work of the covariance is the cost), columns are sampled uniformly
// without replacement with a seeded generator, and the result says so (`sampled`, `columnsSeen`
// of `columnsTotal`). The cap is per batch, so with batches of unequal size a small batch weighs
// a little more than its share; calibrate with equal batches where that matters.

import type { Gpu } from '../device/gpu.js';
import type { Graph } from '../graph/ir.js';
import { CpuSession, GpuSession, type Session } from '../graph/session.js';
import { seededRandom } from '../random.js';
import { shapeStr, Tensor } from '../tensor.js';
import { checkLayerInput, columnsPerBatch, eligibleLayers, SveError, unroll, type LayerSpec } from './unroll.js';

export interface GroupStats {
  readonly K: number;
  /** Columns accumulated. */
  readonly columnsSeen: number;
  /** Columns the calibration batches had (>= columnsSeen). */
  readonly columnsTotal: number;
  readonly sampled: boolean;
  /** μ [K]. */
  readonly mean: Float64Array;
  /** C [K, K], row-major, population covariance (divided by columnsSeen). */
  readonly cov: Float64Array;
}

export interface LayerStats {
  readonly spec: LayerSpec;
  /** One per group. */
  readonly groups: readonly GroupStats[];
}

export interface CalibrationResult {
  readonly layers: ReadonlyMap<string, LayerStats>;
  readonly skipped: readonly { node: string; reason: string }[];
  readonly batches: number;
  readonly samples: number;
}

export interface CalibrateOptions {
  /** Run the model on this device (GpuSession); the CPU reference otherwise. */
  readonly gpu?: Gpu;
  /** Only these layers (node names); default every eligible Conv/Gemm. */
  readonly layers?: readonly string[];
  readonly includeDepthwise?: boolean;
  /** Per layer and group, in bytes (see the header). Default 128 MiB. */
  readonly memoryBytes?: number;
  /** Columns per batch above which columns are sampled. Default 4096. */
  readonly maxColumnsPerBatch?: number;
  /** Seed of the column sampler. Default 1. */
  readonly seed?: number;
  readonly onProgress?: (p: { batches: number; samples: number }) => void;
}

export type CalibrationBatch = Tensor | Readonly<Record<string, Tensor>>;

/** Streaming μ and C of the columns of one group's X. */
export class MomentAccumulator {
  n = 0;
  readonly mean: Float64Array;
  /** Upper triangle of the centred scatter Σ (x-μ)(x-μ)ᵀ. */
  private readonly m2: Float64Array;

  constructor(readonly K: number) {
    this.mean = new Float64Array(K);
    this.m2 = new Float64Array(K * K);
  }

  /** Add the columns of X (K × cols, row-major). */
  add(X: Float64Array, cols: number): void {
    const K = this.K;
    if (cols === 0) return;
    if (X.length !== K * cols) throw new SveError(`accumulator: X has ${X.length} values, expected ${K}x${cols}`);
    const bm = new Float64Array(K);
    const Xc = new Float64Array(K * cols);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += X[k * cols + j];
      bm[k] = s / cols;
      for (let j = 0; j < cols; j++) Xc[k * cols + j] = X[k * cols + j] - bm[k];
    }
    const n = this.n;
    const tot = n + cols;
    const f = (n * cols) / tot;
    const delta = new Float64Array(K);
    for (let k = 0; k < K; k++) delta[k] = bm[k] - this.mean[k];
    for (let a = 0; a < K; a++) {
      const ra = a * cols;
      for (let b = a; b < K; b++) {
        const rb = b * cols;
        let s = 0;
        for (let j = 0; j < cols; j++) s += Xc[ra + j] * Xc[rb + j];
        this.m2[a * K + b] += s + delta[a] * delta[b] * f;
      }
    }
    for (let k = 0; k < K; k++) this.mean[k] += (delta[k] * cols) / tot;
    this.n = tot;
  }

  /** Population covariance (full symmetric matrix). */
  covariance(): Float64Array {
    const K = this.K;
    const C = new Float64Array(K * K);
    const d = this.n > 0 ? this.n : 1;
    for (let a = 0; a < K; a++) {
      for (let b = a; b < K; b++) {
        C[a * K + b] = this.m2[a * K + b] / d;
        C[b * K + a] = C[a * K + b];
      }
    }
    return C;
  }
}

/** `count` distinct indices of 0..n-1, uniformly, sorted (Floyd's algorithm). */
export function sampleIndices(n: number, count: number, rand: () => number): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const chosen = new Set<number>();
  for (let j = n - count; j < n; j++) {
    const t = Math.floor(rand() * (j + 1));
    chosen.add(chosen.has(t) ? j : t);
  }
  return Int32Array.from(chosen).sort();
}

/** Calibrate every eligible layer (or `opts.layers`) of `graph` on the given batches. */
export async function calibrate(
  graph: Graph,
  batches: Iterable<CalibrationBatch> | AsyncIterable<CalibrationBatch>,
  opts: CalibrateOptions = {},
): Promise<CalibrationResult> {
  const memoryBytes = opts.memoryBytes ?? 128 * 2 ** 20;
  const maxCols = opts.maxColumnsPerBatch ?? 4096;
  if (!(memoryBytes > 0)) throw new SveError(`memoryBytes must be > 0, got ${memoryBytes}`);
  if (!(maxCols >= 1)) throw new SveError(`maxColumnsPerBatch must be >= 1, got ${maxCols}`);
  const { layers: all, skipped: skippedLayers } = eligibleLayers(graph, { includeDepthwise: opts.includeDepthwise });
  const skipped = [...skippedLayers];
  let layers = all;
  if (opts.layers) {
    for (const name of opts.layers) {
      if (!all.some((l) => l.node === name)) {
        const why = skipped.find((s) => s.node === name);
        throw new SveError(`layer '${name}' cannot be calibrated: ${why ? why.reason : 'no Conv or Gemm node of that name'}`);
      }
    }
    layers = all.filter((l) => opts.layers!.includes(l.node));
  }
  layers = layers.filter((l) => {
    const bytes = l.K * l.K * 8;
    if (bytes > memoryBytes) skipped.push({ node: l.node, reason: `its ${l.K}x${l.K} covariance needs ${bytes} bytes, over the memory bound of ${memoryBytes}` });
    return bytes <= memoryBytes;
  });
  const acc = new Map(layers.map((l) => [l.node, Array.from({ length: l.groups }, () => new MomentAccumulator(l.K))]));
  const totals = new Map(layers.map((l) => [l.node, 0]));
  const rand = seededRandom(opts.seed ?? 1);
  const captured = [...new Set(layers.map((l) => l.input))];
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  const extra = captured.filter((v) => !inputNames.has(v) && !graph.outputs.includes(v));
  const sessions = new Map<string, Session>();
  let nb = 0;
  let samples = 0;
  try {
    for await (const batch of batches as AsyncIterable<CalibrationBatch>) {
      const feeds = toFeeds(graph, batch, nb);
      const N = feeds[graph.inputs[0].name].shape[0];
      if (N === 0) continue; // an empty batch adds nothing (and no session runs on it)
      // One session per batch size: the graph's inputs take this batch's shapes.
      const key = graph.inputs.map((v) => shapeStr(feeds[v.name].shape)).join(';');
      let session = sessions.get(key);
      if (!session) {
        const g: Graph = { ...graph, inputs: graph.inputs.map((v) => ({ name: v.name, shape: feeds[v.name].shape })), outputs: [...graph.outputs, ...extra] };
        session = opts.gpu ? new GpuSession(opts.gpu, g) : new CpuSession(g);
        sessions.set(key, session);
      }
      const outs = layers.length > 0 ? await session.run(feeds) : {};
      for (const l of layers) {
        const x = inputNames.has(l.input) ? feeds[l.input] : outs[l.input];
        checkLayerInput(l, x);
        const total = columnsPerBatch(l, N);
        const fit = Math.max(1, Math.floor((memoryBytes - l.K * l.K * 8) / (l.K * 8)));
        const take = Math.min(total, fit, maxCols);
        totals.set(l.node, totals.get(l.node)! + total);
        for (let g = 0; g < l.groups; g++) {
          const cols = take < total ? sampleIndices(total, take, rand) : undefined;
          const X = unroll(l, x, g, cols);
          acc.get(l.node)![g].add(X.data, X.cols);
        }
      }
      nb++;
      samples += N;
      opts.onProgress?.({ batches: nb, samples });
    }
  } finally {
    for (const s of sessions.values()) s.dispose();
  }
  if (nb === 0 || samples === 0) throw new SveError('the calibration set is empty: give at least one batch with at least one input');
  const result = new Map<string, LayerStats>();
  for (const l of layers) {
    const groups = acc.get(l.node)!.map((a) => ({
      K: l.K,
      columnsSeen: a.n,
      columnsTotal: totals.get(l.node)!,
      sampled: a.n < totals.get(l.node)!,
      mean: Float64Array.from(a.mean),
      cov: a.covariance(),
    }));
    result.set(l.node, { spec: l, groups });
  }
  return { layers: result, skipped, batches: nb, samples };
}

/** A batch as feeds by input name, checked against the graph's inputs (any batch size). */
function toFeeds(graph: Graph, batch: CalibrationBatch, index: number): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = batch instanceof Tensor ? { [graph.inputs[0].name]: batch } : { ...batch };
  if (batch instanceof Tensor && graph.inputs.length !== 1) {
    throw new SveError(`calibration batch ${index} is one tensor, but the model has ${graph.inputs.length} inputs (${graph.inputs.map((v) => v.name).join(', ')}): give an object by input name`);
  }
  let N = -1;
  for (const v of graph.inputs) {
    const t = feeds[v.name];
    if (!(t instanceof Tensor)) throw new SveError(`calibration batch ${index} has no tensor for input '${v.name}' (expected shape [N, ${v.shape.slice(1).join(', ')}])`);
    const ok = t.shape.length === v.shape.length && t.shape.every((d, i) => i === 0 || d === v.shape[i]);
    if (!ok) throw new SveError(`calibration batch ${index}: input '${v.name}' has shape ${shapeStr(t.shape)}, expected [N, ${v.shape.slice(1).join(', ')}]`);
    if (N >= 0 && t.shape[0] !== N) throw new SveError(`calibration batch ${index}: inputs have different batch sizes`);
    N = t.shape[0];
  }
  return feeds;
}
