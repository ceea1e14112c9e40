// Graph passes for inference: pure functions Graph -> Graph. None of them mutates its input graph,
// its nodes or its initializer tensors: changed nodes are new objects, changed weights are new
// tensors under new names (an initializer may be shared by several nodes, and callers may keep
// the original graph to compare against).
//
// Value names that the outside world sees are kept: graph inputs and outputs never change name.
// When a removed node produced a graph output, its producer is renamed to produce it instead.

import { floatAttr, intAttr, type Activation, type RawAttrs } from '../ops/op.js';
import { BINARY } from '../ops/binary.js';
import { isActivation } from '../ops/unary.js';
import { Tensor } from '../tensor.js';
import type { Graph, Node } from './ir.js';
import { inferShapes } from './shapes.js';
import { foldAffine, fuseEpilogues, fuseInputScale } from './fusion.js';

/** Where every value comes from and who reads it, for one snapshot of a graph. */
interface Uses {
  /** Number of reads of each value by nodes (a node reading a value twice counts twice). */
  readonly reads: Map<string, number>;
  readonly graphOutputs: ReadonlySet<string>;
  readonly graphInputs: ReadonlySet<string>;
}

export function uses(graph: Graph): Uses {
  const reads = new Map<string, number>();
  for (const n of graph.nodes) for (const v of n.inputs) reads.set(v, (reads.get(v) ?? 0) + 1);
  return { reads, graphOutputs: new Set(graph.outputs), graphInputs: new Set(graph.inputs.map((v) => v.name)) };
}

/** Every name in use in a graph, and a way to make new ones that clash with none of them. */
export function nameSource(graph: Graph): (base: string) => string {
  const taken = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.outputs, ...graph.initializers.keys()]);
  for (const n of graph.nodes) for (const v of [...n.inputs, ...n.outputs]) taken.add(v);
  return (base) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
}

/**
 * What a pass that rewrites nodes in place works on: the graph's readers, fresh names, a copy of
 * its initializers (setInit adds one under a fresh name), its nodes (null once removed) with the
 * producer of each value, and `result()`, the rewritten graph.
 */
export function rewriting(graph: Graph) {
  const fresh = nameSource(graph);
  const inits = new Map(graph.initializers);
  const nodes: (Node | null)[] = [...graph.nodes];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n!.outputs.forEach((v) => producer.set(v, i)));
  return {
    u: uses(graph),
    fresh,
    inits,
    nodes,
    producer,
    setInit(base: string, t: Tensor): string {
      const name = fresh(base);
      inits.set(name, t);
      return name;
    },
    result: (): Graph => ({ ...graph, nodes: nodes.filter((n): n is Node => n !== null), initializers: inits }),
  };
}

/** A constant the passes may fold: an initializer that a caller cannot override as an input. */
export function constant(graph: Graph, inits: ReadonlyMap<string, Tensor>, name: string | undefined): Tensor | undefined {
  if (name === undefined || name === '' || graph.inputs.some((v) => v.name === name)) return undefined;
  return inits.get(name);
}

// ---- removeIdentities ----

/** Whether a node passes its first input through unchanged at inference time. */
function isPassThrough(graph: Graph, node: Node, u: Uses): boolean {
  if (node.op === 'Identity') return node.inputs.length === 1 && node.outputs.length === 1;
  if (node.op !== 'Dropout') return false;
  // Dropout(data, ratio?, training_mode?) -> (output, mask?): an identity unless training_mode
  // is a constant true or unknown, or someone reads the mask.
  const [, , training] = node.inputs;
  if (training !== undefined && training !== '') {
    const t = constant(graph, graph.initializers, training);
    if (!t || t.data.some((v) => v !== 0)) return false;
  }
  const mask = node.outputs[1];
  if (mask !== undefined && mask !== '' && ((u.reads.get(mask) ?? 0) > 0 || u.graphOutputs.has(mask))) return false;
  return node.inputs.length >= 1 && node.outputs.length >= 1;
}

/**
 * Drop Identity nodes and inference-time Dropout nodes; their readers read the source instead.
 * When the dropped node's output is a graph output, the source's producer is renamed to produce
 * it directly, unless the source is a graph input, an initializer or itself a graph output: then
 * the node stays, since two names for one value cannot be expressed otherwise.
 */
export function removeIdentities(graph: Graph): Graph {
  const u = uses(graph);
  const produced = new Set<string>();
  // value -> the name that replaces it; followed transitively.
  const alias = new Map<string, string>();
  const resolve = (v: string): string => {
    let r = v;
    while (alias.has(r)) r = alias.get(r)!;
    return r;
  };
  const kept: Node[] = [];
  for (const node of graph.nodes) {
    if (isPassThrough(graph, node, u)) {
      const src = resolve(node.inputs[0]);
      const out = node.outputs[0];
      if (!u.graphOutputs.has(out)) {
        alias.set(out, src);
        continue;
      }
      if (produced.has(src) && !u.graphOutputs.has(src)) {
        alias.set(src, out); // the producer of src now writes out, and src's readers read out
        continue;
      }
    }
    kept.push(node);
    node.outputs.forEach((v) => produced.add(v));
  }
  if (alias.size === 0) return graph;
  const rename = (vs: readonly string[]) => vs.map((v) => (v === '' ? v : resolve(v)));
  return {
    ...graph,
    nodes: kept.map((n) => ({ ...n, inputs: rename(n.inputs), outputs: rename(n.outputs) })),
  };
}

// ---- foldBatchNorm ----

/** A per-channel affine map y = mul·x + add (a BatchNormalization's: mul = scale / sqrt(var + eps), add = B - mean·mul). */
export interface Affine {
  readonly mul: Float64Array;
  readonly add: Float64Array;
}
type BnParams = Affine;
/** The affine map to fold for a producer with `channels` output channels, or undefined when there is none. */
export type AffineFor = (channels: number) => Affine | undefined;

/** The affine map of an inference BatchNormalization with constant [C] parameters, or undefined. */
function bnParams(graph: Graph, inits: ReadonlyMap<string, Tensor>, bn: Node, channels: number): BnParams | undefined {
  if (bn.inputs.length !== 5 || bn.outputs.length !== 1) return undefined;
  let epsilon: number;
  try {
    if (intAttr(bn.attrs, 'training_mode', 0) !== 0 || intAttr(bn.attrs, 'spatial', 1) !== 1) return undefined;
    epsilon = floatAttr(bn.attrs, 'epsilon', 1e-5);
  } catch {
    return undefined; // malformed: leave it for shape inference to report
  }
  const params = bn.inputs.slice(1).map((v) => constant(graph, inits, v));
  if (params.some((p) => !p || p.size !== channels)) return undefined;
  const [scale, b, mean, variance] = params as Tensor[];
  const mul = new Float64Array(channels);
  const add = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    mul[c] = scale.data[c] / Math.sqrt(variance.data[c] + epsilon);
    add[c] = b.data[c] - mean.data[c] * mul[c];
  }
  return { mul, add };
}

/**
 * Fold into the producer a BatchNormalization whose input comes from a Conv (a Gemm, a ConvTranspose) that
 * nobody else reads, whose parameters are initializers, and which has no fused activation yet:
 *   Conv:  w'[m, ...] = w[m, ...]·mul[m],   b'[m] = b[m]·mul[m] + add[m]     (b = 0 when absent)
 *          w: [M, C/group, KH, KW], b: [M]
 *   Gemm:  Y = alpha·A'·B' + beta·C with channels along Y's columns n:
 *          B' column n scaled by mul[n] (B: [K, N], or [N, K] when transB),
 *          C'[r, n] = beta·C[r, n]·mul[n] + add[n] and beta' = 1 (C' is [N], or [M, N] when C
 *          varied along rows).
 * The producer takes over the BN's output name; folded weights are new initializers.
 */
export function foldBatchNorm(graph: Graph): Graph {
  const rw = rewriting(graph);
  const { u, inits, nodes, producer } = rw;
  const created = new Set<string>();
  const setInit = (base: string, t: Tensor): string => {
    const name = rw.setInit(base, t);
    created.add(name);
    return name;
  };
  // A tensor this pass made and nothing else reads any more is dropped right away.
  const release = (name: string | undefined) => {
    if (name !== undefined && created.has(name)) inits.delete(name);
  };
  let changed = false;

  nodes.forEach((bn, bi) => {
    if (!bn || bn.op !== 'BatchNormalization') return;
    const x = bn.inputs[0];
    const pi = producer.get(x);
    if (pi === undefined) return;
    const p = nodes[pi]!;
    if ((p.op !== 'Conv' && p.op !== 'Gemm' && p.op !== 'ConvTranspose') || p.outputs.length !== 1 || p.attrs.activation !== undefined) return;
    if (u.reads.get(x) !== 1 || u.graphOutputs.has(x)) return;
    const affine: AffineFor = (channels) => bnParams(graph, inits, bn, channels);
    const fold = p.op === 'Conv' ? foldIntoConv : p.op === 'Gemm' ? foldIntoGemm : foldIntoConvTranspose;
    const folded = fold(graph, inits, p, bn.outputs[0], affine, setInit);
    if (!folded) return;
    p.inputs.slice(1).forEach((v) => {
      if (!folded.inputs.includes(v)) release(v);
    });
    nodes[pi] = folded;
    nodes[bi] = null;
    producer.set(bn.outputs[0], pi);
    changed = true;
  });
  return changed ? rw.result() : graph;
}

type SetInit = (base: string, t: Tensor) => string;

/** `conv` (nobody else reading its output) followed by the affine map, as one Conv writing `out` (see foldBatchNorm). */
export function foldIntoConv(graph: Graph, inits: ReadonlyMap<string, Tensor>, conv: Node, out: string, affine: AffineFor, setInit: SetInit): Node | undefined {
  const w = constant(graph, inits, conv.inputs[1]); // w: [M, C/group, KH, KW]
  if (!w || w.rank < 3 || conv.inputs.length > 3) return undefined;
  const M = w.shape[0];
  const hasBias = conv.inputs.length === 3 && conv.inputs[2] !== '';
  const b = hasBias ? constant(graph, inits, conv.inputs[2]) : undefined;
  if (hasBias && (!b || b.size !== M)) return undefined;
  const bnp = affine(M);
  if (!bnp) return undefined;
  const per = w.size / M;
  const w2 = new Float32Array(w.size);
  for (let m = 0; m < M; m++) for (let j = 0; j < per; j++) w2[m * per + j] = w.data[m * per + j] * bnp.mul[m];
  const b2 = new Float32Array(M);
  for (let m = 0; m < M; m++) b2[m] = (b ? b.data[m] : 0) * bnp.mul[m] + bnp.add[m];
  const wName = setInit(`${out}_w`, new Tensor(w.shape, w2));
  const bName = setInit(`${out}_b`, new Tensor([M], b2));
  return { ...conv, inputs: [conv.inputs[0], wName, bName], outputs: [out] };
}

/** Likewise for a Gemm (channels along Y's columns; see foldBatchNorm). */
export function foldIntoGemm(graph: Graph, inits: ReadonlyMap<string, Tensor>, gemm: Node, out: string, affine: AffineFor, setInit: SetInit): Node | undefined {
  const B = constant(graph, inits, gemm.inputs[1]);
  if (!B || B.rank !== 2 || gemm.inputs.length > 3) return undefined;
  let transB: number, beta: number;
  try {
    transB = intAttr(gemm.attrs, 'transB', 0);
    beta = floatAttr(gemm.attrs, 'beta', 1);
  } catch {
    return undefined;
  }
  const N = transB ? B.shape[0] : B.shape[1];
  const K = transB ? B.shape[1] : B.shape[0];
  const hasC = gemm.inputs.length === 3 && gemm.inputs[2] !== '';
  const C = hasC ? constant(graph, inits, gemm.inputs[2]) : undefined;
  if (hasC && (!C || C.rank > 2)) return undefined;
  // C broadcasts (aligned right) to [rows, N]: its row and column extents.
  const cRows = C && C.rank === 2 ? C.shape[0] : 1;
  const cCols = C && C.rank >= 1 ? C.shape[C.rank - 1] : 1;
  if (C && cCols !== 1 && cCols !== N) return undefined;
  const bnp = affine(N);
  if (!bnp) return undefined;

  const B2 = new Float32Array(B.size);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) {
      const i = transB ? n * K + k : k * N + n;
      B2[i] = B.data[i] * bnp.mul[n];
    }
  }
  const C2 = new Float32Array(cRows * N);
  for (let r = 0; r < cRows; r++) {
    for (let n = 0; n < N; n++) {
      const c = C ? C.data[r * cCols + (cCols === 1 ? 0 : n)] : 0;
      C2[r * N + n] = beta * c * bnp.mul[n] + bnp.add[n];
    }
  }
  const bName = setInit(`${out}_B`, new Tensor(B.shape, B2));
  const cName = setInit(`${out}_C`, new Tensor(cRows === 1 ? [N] : [cRows, N], C2));
  return { ...gemm, inputs: [gemm.inputs[0], bName, cName], outputs: [out], attrs: { ...gemm.attrs, beta: 1 } };
}

/**
 * Likewise for a ConvTranspose: w [C, M/group, KH, KW], output channel g·M/group + m scales
 * w[c, m, ...] for the input channels c of group g; b [M].
 */
export function foldIntoConvTranspose(graph: Graph, inits: ReadonlyMap<string, Tensor>, ct: Node, out: string, affine: AffineFor, setInit: SetInit): Node | undefined {
  const w = constant(graph, inits, ct.inputs[1]);
  if (!w || w.rank !== 4 || ct.inputs.length > 3) return undefined;
  let group: number;
  try {
    group = intAttr(ct.attrs, 'group', 1);
  } catch {
    return undefined;
  }
  const [C, Mg, KH, KW] = w.shape;
  const M = Mg * group;
  const hasBias = ct.inputs.length === 3 && ct.inputs[2] !== '';
  const b = hasBias ? constant(graph, inits, ct.inputs[2]) : undefined;
  if (hasBias && (!b || b.size !== M)) return undefined;
  const aff = affine(M);
  if (!aff || C % group) return undefined;
  const Cg = C / group;
  const w2 = new Float32Array(w.size);
  for (let c = 0; c < C; c++) {
    for (let m = 0; m < Mg; m++) {
      const s = aff.mul[Math.floor(c / Cg) * Mg + m];
      for (let j = 0; j < KH * KW; j++) w2[(c * Mg + m) * KH * KW + j] = w.data[(c * Mg + m) * KH * KW + j] * s;
    }
  }
  const b2 = Float32Array.from({ length: M }, (_, m) => (b ? b.data[m] : 0) * aff.mul[m] + aff.add[m]);
  return { ...ct, inputs: [ct.inputs[0], setInit(`${out}_w`, new Tensor(w.shape, w2)), setInit(`${out}_b`, new Tensor([M], b2))], outputs: [out] };
}

// ---- fuseActivations ----

/** Ops whose epilogue applies a fused `activation` attribute (the binary ops: a residual Add + Relu). */
const FUSES_ACTIVATION = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul', ...Object.keys(BINARY)]);

/**
 * Merge an elementwise activation (anything ops/unary.ts's isActivation accepts) into the Conv,
 * Gemm, MatMul or binary elementwise op producing its input, when it is that output's only
 * reader, the output is not a graph output, and the producer has no activation yet. The producer
 * takes over the activation's output name.
 */
export function fuseActivations(graph: Graph): Graph {
  const u = uses(graph);
  const nodes: (Node | null)[] = [...graph.nodes];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n!.outputs.forEach((v) => producer.set(v, i)));
  let changed = false;
  nodes.forEach((act, ai) => {
    // Clip from opset 11 gives min/max as inputs; only the attribute form is an activation here.
    if (!act || !isActivation(act.op) || act.inputs.length !== 1 || act.outputs.length !== 1) return;
    const x = act.inputs[0];
    const pi = producer.get(x);
    if (pi === undefined) return;
    const p = nodes[pi]!;
    if (!FUSES_ACTIVATION.has(p.op) || p.outputs.length !== 1 || p.attrs.activation !== undefined) return;
    if (u.reads.get(x) !== 1 || u.graphOutputs.has(x)) return;
    const activation: Activation = { op: act.op, attrs: act.attrs };
    nodes[pi] = { ...p, outputs: [act.outputs[0]], attrs: { ...p.attrs, activation } as RawAttrs };
    nodes[ai] = null;
    producer.set(act.outputs[0], pi);
    changed = true;
  });
  if (!changed) return graph;
  return { ...graph, nodes: nodes.filter((n): n is Node => n !== null) };
}

/**
 * The inverse of fuseActivations, for training (a fused activation has no backward): each fused
 * producer writes `<output>.preact` and a node `<name>.act` applies the activation.
 */
export function unfuseActivations(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.attrs.activation !== undefined)) return graph;
  const nodes = graph.nodes.flatMap((n): Node[] => {
    const act = n.attrs.activation as Activation | undefined;
    if (act === undefined) return [n];
    const { activation: _, ...attrs } = n.attrs;
    const pre = `${n.outputs[0]}.preact`;
    return [
      { ...n, outputs: [pre], attrs },
      { name: `${n.name}.act`, op: act.op, inputs: [pre], outputs: [n.outputs[0]], attrs: act.attrs },
    ];
  });
  return { ...graph, nodes };
}

// ---- recognizeHardSwish ----

/** Whether `name` is a one-element constant equal to `value` (as a float32). */
function isScalar(graph: Graph, name: string | undefined, value: number): boolean {
  const t = constant(graph, graph.initializers, name);
  return !!t && t.data.length === 1 && t.data[0] === Math.fround(value);
}

/**
 * Exporters that predate ONNX's HardSwish (opset 14) spell x * relu6(x + 3) / 6 in four
 * elementwise ops (PaddleOCR's MobileNetV3: Add, Clip, Mul, Div after nearly every conv), each a
 * kernel and a round trip through memory. This pass rewrites these spellings into one HardSwish,
 * which fuseActivations then folds into the producing Conv:
 *   Div|Mul(Mul(x, Clip(Add(x, 3), 0, 6)), 6|1/6)      (the division last)
 *   Mul(x, Div|Mul(Clip(Add(x, 3), 0, 6), 6|1/6))      (the division first)
 *   Mul(x, HardSigmoid(x; alpha 1/6, beta 1/2))         (PyTorch before opset 14)
 * with the operands of Add and Mul in either order. Every intermediate value must be read only
 * inside the pattern and not be a graph output; x may have other readers.
 */
export function recognizeHardSwish(graph: Graph): Graph {
  const u = uses(graph);
  const producer = new Map<string, Node>();
  for (const node of graph.nodes) for (const v of node.outputs) producer.set(v, node);
  /** One output and no fused activation (a graph optimised before may come through again). */
  const plain = (node: Node): boolean => node.outputs.length === 1 && node.attrs.activation === undefined;
  /** The node producing `v` (with op `op`, if given) when `v` is read once and is internal. */
  const inner = (v: string | undefined, op?: string): Node | undefined => {
    const p = v === undefined ? undefined : producer.get(v);
    return p && (op === undefined || p.op === op) && plain(p) && u.reads.get(v!) === 1 && !u.graphOutputs.has(v!) ? p : undefined;
  };
  /** x when `v` is relu6(x + 3) (Clip(Add(x, 3), 0, 6)), with the nodes it takes. */
  const relu6Plus3 = (v: string | undefined): { x: string; nodes: Node[] } | undefined => {
    // The importer turns Clip's bound inputs (opset 11+) into these attributes.
    const clip = inner(v, 'Clip');
    if (!clip || clip.inputs.length !== 1 || floatAttr(clip.attrs, 'min', -Infinity) !== 0 || floatAttr(clip.attrs, 'max', Infinity) !== 6) return undefined;
    const add = inner(clip.inputs[0], 'Add');
    if (!add || add.inputs.length !== 2) return undefined;
    const x = isScalar(graph, add.inputs[1], 3) ? add.inputs[0] : isScalar(graph, add.inputs[0], 3) ? add.inputs[1] : undefined;
    return x === undefined ? undefined : { x, nodes: [add, clip] };
  };
  /** The operand `node` divides by 6 (Div by 6, or Mul by 1/6 in either order). */
  const sixthOf = (node: Node): string | undefined => {
    if (node.inputs.length !== 2) return undefined;
    if (node.op === 'Div') return isScalar(graph, node.inputs[1], 6) ? node.inputs[0] : undefined;
    if (node.op !== 'Mul') return undefined;
    return isScalar(graph, node.inputs[1], 1 / 6) ? node.inputs[0] : isScalar(graph, node.inputs[0], 1 / 6) ? node.inputs[1] : undefined;
  };
  /** x and the pattern's nodes when `node` computes hardswish(x), by any of the three spellings. */
  const match = (node: Node): { x: string; nodes: Node[] } | undefined => {
    if (!plain(node)) return undefined;
    const divided = sixthOf(node);
    const mul = divided === undefined ? undefined : inner(divided, 'Mul');
    if (mul && mul.inputs.length === 2) {
      for (const [x, h] of [mul.inputs, [...mul.inputs].reverse()]) {
        const r = relu6Plus3(h);
        if (r && r.x === x) return { x, nodes: [...r.nodes, mul, node] };
      }
    }
    if (node.op !== 'Mul' || node.inputs.length !== 2) return undefined;
    for (const [x, h] of [node.inputs, [...node.inputs].reverse()]) {
      const sig = inner(h, 'HardSigmoid');
      if (sig && sig.inputs[0] === x && Math.fround(floatAttr(sig.attrs, 'alpha', 0.2)) === Math.fround(1 / 6) && floatAttr(sig.attrs, 'beta', 0.5) === 0.5) return { x, nodes: [sig, node] };
      const div = inner(h);
      const r = div && relu6Plus3(sixthOf(div));
      if (r && r.x === x) return { x, nodes: [...r.nodes, div, node] };
    }
    return undefined;
  };
  const removed = new Set<Node>();
  const replaced = new Map<Node, Node>();
  for (const node of graph.nodes) {
    if (removed.has(node)) continue;
    const m = match(node);
    if (!m || m.nodes.some((x) => removed.has(x))) continue;
    m.nodes.forEach((x) => removed.add(x));
    replaced.set(node, { name: node.name, op: 'HardSwish', inputs: [m.x], outputs: node.outputs, attrs: {} });
  }
  if (replaced.size === 0) return graph;
  // The HardSwish takes the place of the pattern's last node, after which x and its readers come.
  const nodes = graph.nodes.flatMap((x) => (replaced.has(x) ? [replaced.get(x)!] : removed.has(x) ? [] : [x]));
  return { ...graph, nodes };
}

// ---- eliminateDeadNodes ----

/**
 * Drop nodes none of whose outputs is read by a kept node or is a graph output, then the
 * initializers nothing reads. Graph inputs stay: they are the model's interface.
 */
export function eliminateDeadNodes(graph: Graph): Graph {
  const live = new Set<string>(graph.outputs);
  const keep = new Array<boolean>(graph.nodes.length).fill(false);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (!n.outputs.some((v) => live.has(v))) continue;
    keep[i] = true;
    n.inputs.forEach((v) => live.add(v));
  }
  const nodes = graph.nodes.filter((_, i) => keep[i]);
  const initializers = new Map([...graph.initializers].filter(([name]) => live.has(name)));
  if (nodes.length === graph.nodes.length && initializers.size === graph.initializers.size) return graph;
  return { ...graph, nodes, initializers };
}

// ---- freeBatch ----

/** Ops whose output 0 keeps its batched input's dim 0 only under a condition on the attributes. */
const KEEPS_BATCH_IF: Readonly<Record<string, (attrs: RawAttrs) => boolean>> = {
  Transpose: (a) => !Array.isArray(a.perm) || a.perm[0] === 0,
  Concat: (a) => a.axis !== 0,
  Split: (a) => (a.axis ?? 0) !== 0,
  Gather: (a) => (a.axis ?? 0) !== 0,
  Slice: () => false,
};

/**
 * Importing folds shape arithmetic at the input shapes given, so a Reshape whose target was
 * computed from the batch size ends up with that number in dim 0 ([1, 200] at batch 1), and the
 * graph runs at no other batch. Where a Reshape's data carries the batch in dim 0 and its target
 * repeats it, the target's dim 0 becomes 0 (ONNX: copy the input's dim), which changes nothing at
 * this batch size and frees the others. Batch-carrying values are followed from the graph
 * inputs through ops that keep dim 0 (conservatively: see KEEPS_BATCH_IF). When the graph still
 * does not infer at another batch size, it is returned unchanged.
 */
export function freeBatch(graph: Graph): Graph {
  if (graph.inputs.length === 0 || graph.inputs.some((v) => v.shape.length === 0)) return graph;
  const ig = inferShapes(graph);
  const batched = new Set(graph.inputs.map((v) => v.name));
  let changed = false;
  const nodes = ig.nodes.map((r): Node => {
    const n = r.node;
    const from = n.inputs.findIndex((v) => batched.has(v));
    if (from < 0) return n;
    const B = r.inputShapes[from][0];
    const out0 = r.outputShapes[0];
    if (n.op === 'Reshape' && from === 0) {
      const target = n.attrs.shape as readonly number[] | undefined;
      if (target && target[0] === B && (n.attrs.allowzero ?? 0) === 0) {
        changed = true;
        batched.add(n.outputs[0]);
        return { ...n, attrs: { ...n.attrs, shape: [0, ...target.slice(1)] } };
      }
      if (target && (target[0] === 0 || target[0] === -1)) batched.add(n.outputs[0]);
      return n;
    }
    const keeps = KEEPS_BATCH_IF[n.op]?.(n.attrs) ?? true;
    if (keeps && out0 && out0.length > 0 && out0[0] === B) n.outputs.forEach((v, i) => r.outputShapes[i]?.[0] === B && batched.add(v));
    return n;
  });
  if (!changed) return graph;
  const freed = { ...graph, nodes };
  try {
    inferShapes({ ...freed, inputs: freed.inputs.map((v) => ({ ...v, shape: [v.shape[0] + 1, ...v.shape.slice(1)] })) });
  } catch {
    return graph;
  }
  return freed;
}

// ---- all of them ----

/**
 * The inference pipeline: dead code first (so that dead readers do not block folds), then
 * pass-throughs (which may put a BatchNormalization or an activation right after its Conv),
 * BN folding before activation fusion (Conv -> BN -> Relu becomes one Conv with Relu), hard-swish
 * spellings made one op just before it (so that it fuses too), constant affine ops folded into
 * weights after BN (graph/fusion.ts foldAffine), the remaining elementwise chains fused into
 * their producers last (fuseEpilogues), and dead code again for the weights and constants the
 * folds replaced.
 */
export function optimizeGraph(graph: Graph): Graph {
  let g = eliminateDeadNodes(graph);
  g = freeBatch(removeIdentities(g));
  g = foldBatchNorm(foldAffine(foldBatchNorm(g))); // again: a bias Add folded may put a BN right after its producer
  g = fuseActivations(recognizeHardSwish(g));
  g = fuseInputScale(fuseEpilogues(g)); // chains first: x · sigmoid(x) on a [N, C, 1, 1] is SiLU, not a gate
  return eliminateDeadNodes(g);
}
