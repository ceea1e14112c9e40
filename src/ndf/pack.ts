// Near-compute data fission for a whole model (design notes 4.2): choose a packed float format
// per tensor, fixed by the user or automatically under an accuracy budget, and return a model
// whose graph carries them (Graph.formats), so that its Conv and Gemm kernels read weights and
// activations packed and pack their outputs on store.
//
//   const packed = await pack(model, { formats: { weights: 'e4m3', activations: 'bf16' } });
//   const auto = await pack(model, { maxAccuracyDrop: 1, validation, calibration });
//   auto.packing.tensors   // per tensor: format, bytes before and after
//
// Which tensors can be packed: a weight (initializer) when every op reading it (through views)
// reads that input packed; an activation when its producer packs on store in that format (its
// rows are whole words) and every consumer reads it packed, and neither it nor a view of it is a
// graph output (src/formats/values.ts decides, for the sessions too).
//
// The automatic choice (maxAccuracyDrop, in percentage points of top-1 accuracy on
// `validation`): tensors in order of their size, largest first; for each, the candidate formats
// from the fewest bits upward, keeping the first whose model (with every choice so far) stays
// within the budget of the original's accuracy; none: fp32. Every accepted step is measured with
// all earlier choices in place, so the final model is within the budget by construction.
// `calibration` (optional) gives each activation's range: a format whose largest finite value it
// exceeds is not tried (it would saturate).
//
// Non-finite weights (policy `nonFinite`): 'error' (default) refuses the model with a FormatError
// naming the tensor; 'keep' encodes them as the format's policy says (NaN stays NaN; inf stays inf,
// or saturates in formats without inf) and the automatic choice leaves such tensors fp32. A finite
// weight beyond a format's range saturates in saturating formats (counted in the report) and is
// refused in formats that would turn it into inf.

import { getFormat, maxFinite, storageBytes, FORMATS, FormatError, type FloatFormat } from '../formats/format.js';
import { isViewNode, valueFormats } from '../formats/values.js';
import type { Graph } from '../graph/ir.js';
import { CpuSession, GpuSession, type Session } from '../graph/session.js';
import { inferShapes, type InferredGraph } from '../graph/shapes.js';
import { fromGraph, type Model } from '../model.js';
import { sizeOf } from '../tensor.js';
import { datasetSize, gather, type Dataset } from '../data/dataset.js';
import { evaluate, type GraphMetric } from '../train/trainer.js';

export interface FormatChoice {
  /** Default format of every weight (initializer) that can be packed. */
  readonly weights?: string;
  /** Default format of every activation that can be packed in it. */
  readonly activations?: string;
  /** Formats by value or initializer name; these win over the defaults and must be possible. */
  readonly values?: Readonly<Record<string, string>>;
}

export interface PackOptions {
  /** Fixed formats (give either this or maxAccuracyDrop). */
  readonly formats?: FormatChoice;
  /** Largest top-1 accuracy loss on `validation`, in percentage points (>= 0). */
  readonly maxAccuracyDrop?: number;
  /** Labelled data the budget is measured on (top-1 accuracy; with maxAccuracyDrop, this or `metric`). */
  readonly validation?: Dataset;
  /** The task's own metric instead of top-1 accuracy on `validation` (see eliminate's). */
  readonly metric?: GraphMetric;
  /** Inputs whose activation ranges rule out formats that would saturate them (optional). */
  readonly calibration?: Dataset;
  /** Formats the automatic choice tries (default: every preset but fp32), fewest bits first. */
  readonly candidates?: readonly string[];
  /** What the automatic choice may pack (default: both). */
  readonly include?: { readonly weights?: boolean; readonly activations?: boolean };
  /** NaN or infinite weights: 'error' (default) or 'keep' (see the header). */
  readonly nonFinite?: 'error' | 'keep';
  /** Called after each evaluation of the automatic choice. */
  readonly onProgress?: (p: { tensor: string; format: string; accuracy: number; accepted: boolean }) => void;
}

export interface TensorPacking {
  readonly name: string;
  readonly kind: 'weight' | 'activation';
  readonly shape: readonly number[];
  readonly format: string;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Finite values beyond the format's range (saturated), for weights. */
  readonly saturated: number;
}

export interface PackReport {
  /** Every tensor that could be packed, with the format chosen (fp32 where none was). */
  readonly tensors: readonly TensorPacking[];
  /** Bytes read and written per inference (bytesMoved), before and after. */
  readonly bytesMoved: { readonly before: number; readonly after: number };
  /** The metric (top-1 accuracy on validation, or the task's own): original and packed; absent without either. */
  readonly accuracy?: { readonly original: number; readonly packed: number };
  /** Models evaluated by the automatic choice. */
  readonly evaluations: number;
}

export type PackedModel = Model & { readonly packing: PackReport };

/** Bytes read and written per inference by every node (views move nothing), at the graph's formats. */
export function bytesMoved(graph: Graph): { total: number; nodes: { node: string; op: string; bytes: number }[] } {
  const ig = inferShapes(graph);
  const formats = valueFormats(ig);
  const bytesOf = (v: string) => storageBytes(formats.get(v), sizeOf(ig.shapes.get(v)!));
  const nodes = ig.nodes
    .filter((r) => !isViewNode(r))
    .map((r) => ({ node: r.node.name, op: r.node.op, bytes: [...r.node.inputs, ...r.node.outputs].reduce((s, v) => s + bytesOf(v), 0) }));
  return { total: nodes.reduce((s, n) => s + n.bytes, 0), nodes };
}

/**
 * The weights and activations of `graph` that can be stored packed in `f` (each alone; any set of
 * them together too, since each constraint concerns one value).
 */
export function packableValues(graph: Graph, f: FloatFormat): { weights: string[]; activations: string[] } {
  const ig = inferShapes({ ...graph, formats: undefined });
  return packable(ig, f);
}

function packable(ig: InferredGraph, f: FloatFormat): { weights: string[]; activations: string[] } {
  const ok = (v: string) => {
    try {
      valueFormats({ ...ig, graph: { ...ig.graph, formats: new Map([[v, f.name]]) } });
      return true;
    } catch (e) {
      if (e instanceof Error && e.name === 'GraphError') return false;
      throw e;
    }
  };
  const read = new Set(ig.graph.nodes.flatMap((n) => n.inputs));
  const weights = [...ig.graph.initializers.keys()].filter((w) => read.has(w) && ok(w));
  const activations = ig.nodes.filter((r) => !isViewNode(r)).flatMap((r) => r.node.outputs.slice(0, 1).filter((v) => !ig.graph.initializers.has(v) && ok(v)));
  return { weights, activations };
}

/** Pack `model`'s tensors (see the header). The model itself is left as it is. */
export async function pack(model: Model, opts: PackOptions): Promise<PackedModel> {
  if (!model || typeof model !== 'object' || !('graph' in model)) throw new TypeError('pack() takes a Model (from load() or fromGraph())');
  if (!opts || typeof opts !== 'object') throw new TypeError('pack() takes options: { formats } or { maxAccuracyDrop, validation }');
  const budgeted = opts.maxAccuracyDrop !== undefined;
  if (budgeted === (opts.formats !== undefined)) throw new RangeError('pack(): give either formats or maxAccuracyDrop (not both, not neither)');
  const nonFinite = opts.nonFinite ?? 'error';
  if (nonFinite !== 'error' && nonFinite !== 'keep') throw new RangeError(`nonFinite must be 'error' or 'keep', got ${JSON.stringify(nonFinite)}`);
  const graph = model.graph;
  const ig = inferShapes(graph);
  const gpu = model.gpu;
  const before = bytesMoved(graph).total;

  let formats: Map<string, string>;
  let evaluations = 0;
  let accuracy: PackReport['accuracy'];
  if (!budgeted) {
    formats = fixedFormats(ig, opts.formats!, nonFinite);
    const measure = metricOf(opts);
    if (measure) accuracy = { original: await measure(graph, gpu), packed: await measure({ ...graph, formats }, gpu) };
  } else {
    const drop = opts.maxAccuracyDrop!;
    if (typeof drop !== 'number' || !(drop >= 0) || drop > 100) throw new RangeError(`maxAccuracyDrop is in percentage points, in [0, 100]; got ${drop}`);
    const measure = metricOf(opts);
    if (!measure) throw new RangeError('maxAccuracyDrop needs a labelled validation set (validation) or a metric');
    ({ formats, evaluations, accuracy } = await search(ig, opts, measure, gpu));
  }
  const packedGraph: Graph = { ...graph, formats };
  // Check the result as the sessions will (the CPU reference applies the same rules).
  const resolved = valueFormats(inferShapes(packedGraph));
  const tensors = report(ig, resolved);
  const result = await fromGraph(packedGraph, { backend: model.backend, gpu: gpu ?? undefined });
  return Object.assign(result, { packing: { tensors, bytesMoved: { before, after: bytesMoved(packedGraph).total }, accuracy, evaluations } });
}

/** Non-finite and out-of-range values of a weight in `f`. */
function weightRange(data: Float32Array, f: FloatFormat): { nonFinite: number; beyond: number } {
  const max = maxFinite(f);
  let nonFinite = 0;
  let beyond = 0;
  for (const x of data) {
    if (!Number.isFinite(x)) nonFinite++;
    else if (Math.abs(x) > max) beyond++;
  }
  return { nonFinite, beyond };
}

/** Beyond max finite, would a finite value become inf? (formats with overflow 'inf') */
function overflowsToInf(f: FloatFormat): boolean {
  return f.overflow === 'inf';
}

function fixedFormats(ig: InferredGraph, choice: FormatChoice, nonFinite: 'error' | 'keep'): Map<string, string> {
  if (choice === null || typeof choice !== 'object') throw new TypeError(`formats must be { weights?, activations?, values? }, got ${JSON.stringify(choice)}`);
  const out = new Map(ig.graph.formats ?? []);
  const wf = choice.weights === undefined ? undefined : getFormat(choice.weights);
  const af = choice.activations === undefined ? undefined : getFormat(choice.activations);
  if (wf) for (const w of packable(ig, wf).weights) out.set(w, wf.name);
  if (af) for (const v of packable(ig, af).activations) out.set(v, af.name);
  for (const [v, name] of Object.entries(choice.values ?? {})) out.set(v, getFormat(name).name);
  for (const [v, name] of out) {
    const t = ig.graph.initializers.get(v);
    const f = getFormat(name);
    if (!t || f.bits === 32) continue;
    const r = weightRange(t.data, f);
    if (r.nonFinite && nonFinite === 'error') {
      throw new FormatError(`weight '${v}' has ${r.nonFinite} NaN or infinite value(s); fix the model, or pass nonFinite: 'keep' to encode them as ${f.name}'s policy says`);
    }
    if (r.beyond && overflowsToInf(f)) {
      throw new FormatError(`weight '${v}' has ${r.beyond} finite value(s) beyond ${f.name}'s largest finite value ${maxFinite(f)}: they would become infinite; choose a format with more range`);
    }
  }
  return out;
}

/** Input values per run of activationRanges: every activation is an output, so large inputs run a few at a time. */
const RANGE_INPUT_VALUES = 2_000_000;

/** Largest |x| of each activation over (up to 64 images of) the calibration set, every activation an output. */
async function activationRanges(ig: InferredGraph, names: readonly string[], data: Dataset, gpu: Model['gpu']): Promise<Map<string, number>> {
  const input = ig.graph.inputs[0];
  const n = Math.min(datasetSize(data), 64);
  const per = input.shape.slice(1).reduce((a, b) => a * b, 1);
  const step = Math.max(1, Math.min(n, Math.floor(RANGE_INPUT_VALUES / per)));
  const sessions = new Map<number, Session>();
  const at = (batch: number): Session => {
    let s = sessions.get(batch);
    if (!s) {
      const g: Graph = { ...ig.graph, formats: undefined, inputs: [{ name: input.name, shape: [batch, ...input.shape.slice(1)] }], outputs: [...new Set([...ig.graph.outputs, ...names])] };
      s = gpu ? new GpuSession(gpu, g) : new CpuSession(g);
      sessions.set(batch, s);
    }
    return s;
  };
  const ranges = new Map(names.map((v) => [v, 0]));
  try {
    for (let first = 0; first < n; first += step) {
      const idx = Array.from({ length: Math.min(step, n - first) }, (_, i) => first + i);
      const out = await at(idx.length).run({ [input.name]: gather(data, idx).x });
      for (const v of names) ranges.set(v, out[v].data.reduce((m, y) => Math.max(m, Math.abs(y)), ranges.get(v)!));
    }
    return ranges;
  } finally {
    sessions.forEach((s) => s.dispose());
  }
}

/** The budget's measure: the task's metric, else top-1 accuracy on the validation set. */
function metricOf(opts: PackOptions): GraphMetric | undefined {
  if (opts.metric) return opts.metric;
  const v = opts.validation;
  if (!v) return undefined;
  if (datasetSize(v) === 0) throw new RangeError('the validation set is empty');
  return (g, gpu) => evaluate(g, v, gpu);
}

async function search(ig: InferredGraph, opts: PackOptions, measure: GraphMetric, gpu: Model['gpu']) {
  const graph = ig.graph;
  const candidates = (opts.candidates ?? Object.keys(FORMATS)).map(getFormat).filter((f) => f.bits < 32);
  candidates.sort((a, b) => a.bits - b.bits);
  const include = { weights: opts.include?.weights ?? true, activations: opts.include?.activations ?? true };
  // Per format, what can be packed in it; the tensors to decide, largest first.
  const able = new Map(candidates.map((f) => [f.name, packable(ig, f)]));
  const kinds = new Map<string, 'weight' | 'activation'>();
  for (const p of able.values()) {
    if (include.weights) p.weights.forEach((w) => kinds.set(w, 'weight'));
    if (include.activations) p.activations.forEach((v) => kinds.set(v, 'activation'));
  }
  const size = (v: string) => sizeOf(ig.shapes.get(v)!);
  const order = [...kinds.keys()].sort((a, b) => size(b) - size(a));
  const acts = order.filter((v) => kinds.get(v) === 'activation');
  const ranges = opts.calibration && acts.length ? await activationRanges(ig, acts, opts.calibration, gpu) : undefined;

  const original = await measure({ ...graph, formats: undefined }, gpu);
  const floor = original - opts.maxAccuracyDrop! / 100;
  const formats = new Map(graph.formats ?? []);
  let accuracy = original;
  let evaluations = 1;
  for (const v of order) {
    const t = graph.initializers.get(v);
    if (t && t.data.some((x) => !Number.isFinite(x))) {
      if ((opts.nonFinite ?? 'error') === 'error') throw new FormatError(`weight '${v}' has NaN or infinite values; fix the model, or pass nonFinite: 'keep' (such tensors then stay fp32)`);
      continue;
    }
    for (const f of candidates) {
      const p = able.get(f.name)!;
      if (!(t ? p.weights : p.activations).includes(v)) continue;
      if (t && overflowsToInf(f) && weightRange(t.data, f).beyond) continue;
      if (ranges && !t && ranges.get(v)! > maxFinite(f)) continue;
      const trial = new Map(formats).set(v, f.name);
      const acc = await measure({ ...graph, formats: trial }, gpu);
      evaluations++;
      const accepted = acc >= floor - 1e-12;
      opts.onProgress?.({ tensor: v, format: f.name, accuracy: acc, accepted });
      if (accepted) {
        formats.set(v, f.name);
        accuracy = acc;
        break;
      }
    }
  }
  return { formats, evaluations, accuracy: { original, packed: accuracy } };
}

function report(ig: InferredGraph, resolved: ReadonlyMap<string, FloatFormat>): TensorPacking[] {
  // Every tensor that could be packed in some format, or is: packed ones with their format.
  const names = new Set<string>();
  for (const f of Object.values(FORMATS) as FloatFormat[]) {
    if (f.bits === 32) continue;
    const p = packable(ig, f);
    [...p.weights, ...p.activations].forEach((v) => names.add(v));
  }
  // Views of packed values share their source's storage: not listed.
  for (const v of ig.graph.formats?.keys() ?? []) if (resolved.has(v)) names.add(v);
  return [...names].map((v) => {
    const f = resolved.get(v);
    const shape = ig.shapes.get(v)!;
    const t = ig.graph.initializers.get(v);
    const n = sizeOf(shape);
    return {
      name: v,
      kind: t ? ('weight' as const) : ('activation' as const),
      shape: [...shape],
      format: f?.name ?? 'fp32',
      bytesBefore: storageBytes(undefined, n),
      bytesAfter: storageBytes(f, n),
      saturated: t && f ? weightRange(t.data, f).beyond : 0,
    };
  });
}
