// Synapse vector elimination (design.md 4.1): one layer end to end (select, fold, scale or refit,
// compact), the plan for a whole model, and the plan applied as zeroed rows.
//
// Results per layer: the kept rows of each group and the weights compacted to [M, K'] (output
// channel oc of group g uses group g's kept rows, in ascending k order), plus the dense form
// [M, K] with the removed columns zeroed. `applyAsZeroRows` writes the dense form into a NEW graph
// (same shapes, new initializer names; the input graph is never modified): it runs on every
// backend, exports to ONNX as is, and is the CPU reference for the compacted kernels.
//
// Every group keeps the same number of rows K' = K − round(rate·K) (at least 1), so the compacted
// weights of a grouped conv stay one [M, K'] tensor.

import type { Graph, Node } from '../graph/ir.js';
import type { AttrValue } from '../ops/op.js';
import { Tensor } from '../tensor.js';
import type { CalibrationResult, LayerStats } from './calibrate.js';
import { applyScale, foldRemovals, refitKept, scaleFactors } from './fold.js';
import { selectRows, type Method } from './select.js';
import { layerWeights, rowToKernel, SveError, type LayerSpec } from './unroll.js';

export interface EliminateOptions {
  /** Fraction of each group's rows to remove, in [0, 1). */
  readonly rate?: number;
  /** Or: rows to keep per group (1..K). */
  readonly keep?: number;
  readonly method?: Method;
  /** Least-squares refit of the kept weights instead of fold (default false). */
  readonly refit?: boolean;
  /** Per-channel least-squares scale after folding (default true). */
  readonly scale?: boolean;
  /** For method 'random'. */
  readonly seed?: number;
}

export interface RemovedRow {
  readonly group: number;
  readonly k: number;
  /** Input channel within the group, kernel row and column of row k. */
  readonly c: number;
  readonly ky: number;
  readonly kx: number;
  /** Best predictor among the rows remaining when k went (−1: constant row), x_k ≈ a·x_j + offset. */
  readonly predictor: number;
  readonly a: number;
  readonly offset: number;
}

export interface LayerReport {
  readonly node: string;
  readonly K: number;
  readonly Kp: number;
  readonly method: Method;
  readonly refit: boolean;
  readonly sampled: boolean;
  readonly fallbacks: number;
  /** In elimination order, group by group. */
  readonly removed: readonly RemovedRow[];
}

export interface LayerElimination {
  readonly spec: LayerSpec;
  /** Kept rows of group 0 (ascending); `keptByGroup` for grouped convs. */
  readonly kept: number[];
  readonly keptByGroup: number[][];
  /** [M, K'] effective weights (Gemm: alpha folded in), row oc uses its group's kept rows. */
  readonly wCompacted: Tensor;
  /** [M, K] effective weights, removed columns zero. */
  readonly wDense: Tensor;
  /** [M] effective bias (Gemm: beta folded in). */
  readonly bias: Tensor;
  /** [M] the least-squares scale factors applied (1 where scaling is off). */
  readonly scale: Float64Array;
  readonly report: LayerReport;
}

/** How many rows to keep per group, from rate or keep; the errors name the bad value. */
export function keepCount(K: number, opts: { rate?: number; keep?: number }): number {
  if (opts.rate !== undefined && opts.keep !== undefined) throw new SveError('give either rate or keep, not both');
  if (opts.keep !== undefined) {
    if (!Number.isInteger(opts.keep) || opts.keep < 1 || opts.keep > K) throw new SveError(`keep must be an integer in 1..${K}, got ${opts.keep}`);
    return opts.keep;
  }
  const rate = opts.rate ?? 0;
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new SveError(`rate must be in [0, 1), got ${rate}`);
  return Math.max(1, K - Math.round(rate * K));
}

/**
 * Eliminate rows of one layer. weights: effective W [M, K] (row-major; group g's channels are rows
 * g·Mg..), bias [M] or undefined, stats from calibrate(). Pure: the inputs are not modified.
 */
export function eliminateLayer(weights: ArrayLike<number>, bias: ArrayLike<number> | undefined, stats: LayerStats, opts: EliminateOptions = {}): LayerElimination {
  const spec = stats.spec;
  const { M, Mg, K, groups } = spec;
  if (weights.length !== M * K) throw new SveError(`layer '${spec.node}': weights have ${weights.length} values, expected [${M}, ${K}]`);
  if (bias && bias.length !== M) throw new SveError(`layer '${spec.node}': bias has ${bias.length} values, expected [${M}]`);
  if (stats.groups.length !== groups) throw new SveError(`layer '${spec.node}': statistics for ${stats.groups.length} groups, the layer has ${groups}`);
  const Kp = keepCount(K, opts);
  const method = opts.method ?? 'correlation';
  const refit = opts.refit ?? false;
  const dense = new Float32Array(M * K);
  const compact = new Float32Array(M * Kp);
  const bOut = new Float32Array(M);
  const scale = new Float64Array(M).fill(1);
  const keptByGroup: number[][] = [];
  const removedRows: RemovedRow[] = [];
  let fallbacks = 0;
  for (let g = 0; g < groups; g++) {
    const st = stats.groups[g];
    if (st.K !== K) throw new SveError(`layer '${spec.node}': statistics of group ${g} have K = ${st.K}, the layer has ${K}`);
    const Wg = Float64Array.from({ length: Mg * K }, (_, i) => weights[g * Mg * K + i]);
    const bg = Float64Array.from({ length: Mg }, (_, m) => (bias ? bias[g * Mg + m] : 0));
    const sel = selectRows(st.mean, st.cov, Wg, Mg, { method, keep: Kp, seed: opts.seed });
    fallbacks += sel.fallbacks;
    const red = refit ? refitKept(Wg, bg, Mg, sel.kept, st.mean, st.cov) : foldRemovals(Wg, bg, Mg, K, sel.removed);
    if (opts.scale ?? true) {
      const s = scaleFactors(Wg, bg, red.W, red.b, Mg, st.mean, st.cov);
      applyScale(red.W, red.b, s, K);
      scale.set(s, g * Mg);
    }
    for (let m = 0; m < Mg; m++) {
      const oc = g * Mg + m;
      for (let k = 0; k < K; k++) dense[oc * K + k] = red.W[m * K + k];
      sel.kept.forEach((k, i) => (compact[oc * Kp + i] = red.W[m * K + k]));
      bOut[oc] = red.b[m];
    }
    keptByGroup.push(sel.kept);
    for (const r of sel.removed) removedRows.push({ group: g, k: r.k, ...rowToKernel(spec, r.k), predictor: r.predictor, a: r.a, offset: r.c });
  }
  return {
    spec,
    kept: keptByGroup[0],
    keptByGroup,
    wCompacted: new Tensor([M, Kp], compact),
    wDense: new Tensor([M, K], dense),
    bias: new Tensor([M], bOut),
    scale,
    report: { node: spec.node, K, Kp, method, refit, sampled: stats.groups.some((s) => s.sampled), fallbacks, removed: removedRows },
  };
}

export interface EliminationPlan {
  readonly layers: ReadonlyMap<string, LayerElimination>;
}

/**
 * Plan the elimination of every calibrated layer at one rate, or per layer (`{ node: rate }`;
 * layers not named are left alone; a named layer must have been calibrated). Rate 0 layers are
 * left out of the plan.
 */
export function planElimination(
  graph: Graph,
  stats: CalibrationResult,
  rates: number | Readonly<Record<string, number>>,
  opts: Omit<EliminateOptions, 'rate' | 'keep'> = {},
): EliminationPlan {
  const perLayer = new Map<string, number>();
  if (typeof rates === 'number') for (const name of stats.layers.keys()) perLayer.set(name, rates);
  else {
    for (const [name, r] of Object.entries(rates)) {
      if (!stats.layers.has(name)) throw new SveError(`rate given for layer '${name}', which has no calibration statistics (calibrated: ${[...stats.layers.keys()].join(', ') || 'none'})`);
      perLayer.set(name, r);
    }
  }
  const layers = new Map<string, LayerElimination>();
  for (const [name, rate] of perLayer) {
    keepCount(1, { rate }); // validate every rate, also where round(rate·K) = 0
    const st = stats.layers.get(name)!;
    if (!graph.nodes.some((n) => n.name === name)) throw new SveError(`layer '${name}' is not a node of this graph`);
    if (Math.round(rate * st.spec.K) === 0) continue;
    const { W, b } = layerWeights(graph, st.spec);
    layers.set(name, eliminateLayer(W, b, st, { ...opts, rate }));
  }
  return { layers };
}

/**
 * A new graph whose planned layers have the eliminated columns of W zeroed and the folded/scaled
 * weights and bias, in the layers' own layouts (same shapes). New initializers are named
 * `<node>.sve.W` / `<node>.sve.B`; the input graph and its tensors are not touched.
 */
export function applyAsZeroRows(graph: Graph, plan: EliminationPlan): Graph {
  return rewriteLayers(graph, plan, 'zero-rows');
}

/**
 * A new graph whose planned layers are compacted (the `kept_rows` form of ops/conv.ts and
 * ops/gemm.ts): W holds the kept columns only, so each runs as the smaller dense GEMM. Same
 * initializer naming and guarantees as applyAsZeroRows, whose output it equals.
 */
export function applyCompacted(graph: Graph, plan: EliminationPlan): Graph {
  return rewriteLayers(graph, plan, 'compacted');
}

function rewriteLayers(graph: Graph, plan: EliminationPlan, form: 'zero-rows' | 'compacted'): Graph {
  const inits = new Map(graph.initializers);
  const replaced: string[] = [];
  const nodes: Node[] = graph.nodes.map((n) => {
    const le = plan.layers.get(n.name);
    if (!le) return n;
    const spec = le.spec;
    const { M, K } = spec;
    if (n.attrs.kept_rows !== undefined) throw new SveError(`layer '${n.name}' is already compacted`);
    const wName = `${n.name}.sve.W`;
    const bName = `${n.name}.sve.B`;
    if (inits.has(wName) || inits.has(bName)) throw new SveError(`the graph already has an initializer named '${wName}' or '${bName}'`);
    const old = graph.initializers.get(spec.weight);
    if (!old) throw new SveError(`layer '${n.name}': weight '${spec.weight}' is not an initializer`);
    // Effective weights have Gemm's alpha folded in and the new bias is for beta = 1, so a Gemm
    // gets alpha = beta = 1.
    const attrs: Record<string, AttrValue> = spec.gemm ? { ...n.attrs, alpha: 1, beta: 1 } : { ...n.attrs };
    const Kp = le.report.Kp;
    let w: Tensor;
    if (form === 'zero-rows') {
      w = spec.gemm && !spec.gemm.transB ? transpose(le.wDense, M, K) : new Tensor(old.shape, le.wDense.data.slice());
    } else {
      attrs.kept_rows = spec.groups > 1 ? le.keptByGroup.flat() : le.kept;
      if (spec.conv) attrs.kernel_shape = [spec.KH, spec.KW];
      w = spec.gemm && !spec.gemm.transB ? transpose(le.wCompacted, M, Kp) : new Tensor([M, Kp], le.wCompacted.data.slice());
    }
    inits.set(wName, w);
    inits.set(bName, new Tensor([M], le.bias.data.slice()));
    replaced.push(...n.inputs.slice(1, 3));
    // Inputs past the bias are a fused epilogue's operands (ops/epilogue.ts): kept, same indices.
    return { ...n, attrs, inputs: [n.inputs[0], wName, bName, ...n.inputs.slice(3)] };
  });
  // The old weights and biases go, unless something else still reads them (a shared weight):
  // left in, they would be uploaded and written to every artifact for nothing.
  const read = new Set([...nodes.flatMap((n) => n.inputs), ...graph.outputs]);
  for (const name of replaced) if (!read.has(name)) inits.delete(name);
  return { ...graph, nodes, initializers: inits };
}

/** [rows, cols] -> [cols, rows]. */
function transpose(t: Tensor, rows: number, cols: number): Tensor {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t.data[r * cols + c];
  return new Tensor([cols, rows], out);
}
