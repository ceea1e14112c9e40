// Folding and fusion of elementwise ops, for inference (pure Graph -> Graph passes, with the
// conventions of graph/passes.ts: inputs never mutated, graph input and output names kept).
//
//  - foldAffine: a constant per-tensor or per-channel Mul, Add, Sub or Div right after a Conv,
//    ConvTranspose, Gemm or MatMul that nobody else reads goes into the weights and bias, as
//    BatchNormalization does (PP-LCNetV3's "learnable affine block" starts with a Mul and an Add).
//    A constant per-channel Mul in front of a Conv goes into its weights (exact with any padding,
//    since 0·s = 0); an Add in front is not folded: with padding, the padded border would see the
//    offset, and the models measured have none without padding.
//  - fuseEpilogues: elementwise ops after a Conv or an elementwise binary op (a standalone chain
//    head) become steps of its epilogue chain (ops/epilogue.ts): unary ops, binary ops with a
//    scalar, per-channel or same-shape operand (the residual Add), and x·sigmoid(x).
//  - fuseInputScale: squeeze-excite's gate, x · g with g [N, C, 1, 1] computed from x, becomes a
//    prologue of the pointwise Conv reading the product (attribute input_scale: x is scaled as it
//    is loaded), so the gated tensor is never written. The gate cannot go into x's producer: it
//    is computed from all of x.
//  - unfuseEpilogues: the inverse, node for node, for training (a chain has no backward) and for
//    ONNX export.

import { MAX_EPILOGUE_INPUTS, type EpilogueStep, type RawAttrs } from '../ops/op.js';
import { BINARY } from '../ops/binary.js';
import { epilogueOf } from '../ops/epilogue.js';
import { isActivation } from '../ops/unary.js';
import { sizeOf, Tensor, type Shape } from '../tensor.js';
import type { Graph, Node } from './ir.js';
import { constant, foldIntoConv, foldIntoConvTranspose, foldIntoGemm, nameSource, rewriting, type Affine } from './passes.js';
import { inferShapes } from './shapes.js';

/** Channels along dim 1 of `out` that a constant of shape `c` varies along, or undefined when it varies along others. */
function perChannel(c: Tensor, out: Shape, axis: number): Float64Array | undefined {
  if (c.rank > out.length) return undefined;
  const lead = out.length - c.rank;
  for (let d = 0; d < c.rank; d++) if (c.shape[d] !== 1 && d + lead !== axis) return undefined;
  const C = out[axis];
  const along = axis - lead >= 0 ? c.shape[axis - lead] : 1;
  if (along !== 1 && along !== C) return undefined;
  return Float64Array.from({ length: C }, (_, i) => c.data[along === 1 ? 0 : i]);
}

/** The affine map y = mul·x + add of a constant elementwise op on `x`, per channel; undefined when it is not one. */
function affineOf(op: string, c: Float64Array, xFirst: boolean): Affine | undefined {
  const C = c.length;
  const ones = () => new Float64Array(C).fill(1);
  switch (op) {
    case 'Mul':
      return { mul: c, add: new Float64Array(C) };
    case 'Add':
      return { mul: ones(), add: c };
    case 'Sub':
      return xFirst ? { mul: ones(), add: c.map((v) => -v) } : { mul: new Float64Array(C).fill(-1), add: c };
    case 'Div':
      return xFirst ? { mul: c.map((v) => 1 / v), add: new Float64Array(C) } : undefined;
    default:
      return undefined;
  }
}

const FOLDS_INTO = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);

/** Whether a node carries a fused activation or chain (then nothing may fold into its weights). */
const hasEpilogue = (n: Node) => n.attrs.activation !== undefined || n.attrs.epilogue !== undefined;

/**
 * Fold constant affine elementwise ops into the weights of the Conv, ConvTranspose, Gemm or
 * MatMul before them (see the header), and constant per-channel Muls in front of a Conv into it.
 * MatMul takes a Mul only (it has no bias to take an Add), with B a constant [K, N].
 */
export function foldAffine(graph: Graph): Graph {
  const rw = rewriting(graph);
  const { u, inits, nodes, producer, setInit } = rw;
  const ig = inferShapes(graph);
  let changed = false;
  nodes.forEach((e, ei) => {
    if (!e || !(e.op in BINARY) || e.inputs.length !== 2 || e.outputs.length !== 1 || hasEpilogue(e)) return;
    for (const side of [0, 1]) {
      const x = e.inputs[side];
      const c = constant(graph, inits, e.inputs[1 - side]);
      const pi = producer.get(x);
      if (!c || pi === undefined || u.reads.get(x) !== 1 || u.graphOutputs.has(x)) continue;
      const p = nodes[pi]!;
      if (!FOLDS_INTO.has(p.op) || p.outputs.length !== 1 || hasEpilogue(p)) continue;
      const out = ig.shapes.get(x)!;
      if (sizeOf(ig.shapes.get(e.outputs[0])!) !== sizeOf(out)) continue; // the constant must not broadcast x
      const axis = p.op === 'Gemm' || p.op === 'MatMul' ? out.length - 1 : 1;
      const per = perChannel(c, out, axis);
      const aff = per && affineOf(e.op, per, side === 0);
      if (!aff) continue;
      if (p.op === 'MatMul' && aff.add.some((v) => v !== 0)) continue;
      const affine = (channels: number) => (channels === aff.mul.length ? aff : undefined);
      const folded =
        p.op === 'Conv'
          ? foldIntoConv(graph, inits, p, e.outputs[0], affine, setInit)
          : p.op === 'ConvTranspose'
            ? foldIntoConvTranspose(graph, inits, p, e.outputs[0], affine, setInit)
            : p.op === 'Gemm'
              ? foldIntoGemm(graph, inits, p, e.outputs[0], affine, setInit)
              : foldIntoMatMul(graph, inits, p, e.outputs[0], aff, setInit);
      if (!folded) continue;
      nodes[pi] = folded;
      nodes[ei] = null;
      producer.set(e.outputs[0], pi);
      changed = true;
      return;
    }
  });
  const g = changed ? rw.result() : graph;
  return foldScaleIntoConv(g);
}

function foldIntoMatMul(graph: Graph, inits: ReadonlyMap<string, Tensor>, mm: Node, out: string, aff: Affine, setInit: (b: string, t: Tensor) => string): Node | undefined {
  const B = constant(graph, inits, mm.inputs[1]);
  if (!B || B.rank !== 2 || B.shape[1] !== aff.mul.length) return undefined;
  const N = B.shape[1];
  const B2 = B.data.map((v, i) => v * aff.mul[i % N]);
  return { ...mm, inputs: [mm.inputs[0], setInit(`${out}_B`, new Tensor(B.shape, B2))], outputs: [out] };
}

/**
 * Conv(x · s) = Conv'(x) with w'[m, c, ...] = w[m, c, ...]·s[c], for a constant s that is a scalar
 * or per input channel, when the Mul's output is read by that Conv alone. Exact with padding: the
 * zeros of the border stay zeros.
 */
function foldScaleIntoConv(graph: Graph): Graph {
  const rw = rewriting(graph);
  const { u, fresh, inits, nodes, producer } = rw;
  const ig = inferShapes(graph);
  let changed = false;
  nodes.forEach((conv, ci) => {
    if (!conv || conv.op !== 'Conv' || conv.attrs.kept_rows !== undefined) return;
    const v = conv.inputs[0];
    const mi = producer.get(v);
    const w = constant(graph, inits, conv.inputs[1]);
    if (mi === undefined || !w || w.rank !== 4 || u.reads.get(v) !== 1 || u.graphOutputs.has(v)) return;
    const mul = nodes[mi]!;
    if (mul.op !== 'Mul' || mul.inputs.length !== 2 || hasEpilogue(mul)) return;
    const xShape = ig.shapes.get(v)!;
    for (const side of [0, 1]) {
      const s = constant(graph, inits, mul.inputs[1 - side]);
      const x = mul.inputs[side];
      if (!s || sizeOf(ig.shapes.get(x)!) !== sizeOf(xShape)) continue;
      const per = perChannel(s, xShape, 1);
      if (!per) continue;
      const group = Number(conv.attrs.group ?? 1);
      const [M, Cg] = w.shape;
      const per4 = w.size / (M * Cg);
      const w2 = new Float32Array(w.size);
      for (let m = 0; m < M; m++) {
        const c0 = Math.floor(m / (M / group)) * Cg;
        for (let c = 0; c < Cg; c++) for (let j = 0; j < per4; j++) w2[(m * Cg + c) * per4 + j] = w.data[(m * Cg + c) * per4 + j] * per[c0 + c];
      }
      const wName = fresh(`${conv.outputs[0]}_w`);
      inits.set(wName, new Tensor(w.shape, w2));
      nodes[ci] = { ...conv, inputs: [x, wName, ...conv.inputs.slice(2)] };
      nodes[mi] = null;
      changed = true;
      return;
    }
  });
  return changed ? rw.result() : graph;
}

// ---- fuseInputScale ----

/** Whether a Conv node is pointwise (1x1, stride 1, unpadded), ungrouped and dense. */
function pointwiseConv(n: Node, w: Shape): boolean {
  const a = n.attrs;
  const ones = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => x === 1));
  const zeros = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => x === 0));
  const autoPad = a.auto_pad ?? 'NOTSET';
  return w.length === 4 && w[2] === 1 && w[3] === 1 && ones(a.strides) && zeros(a.pads) && (autoPad === 'NOTSET' || autoPad === 'VALID') && (a.group ?? 1) === 1 && a.kept_rows === undefined;
}

/** Squeeze-excite's x · gate into the pointwise Conv that reads it (see the header). */
export function fuseInputScale(graph: Graph): Graph {
  const rw = rewriting(graph);
  const { u, fresh, inits, nodes, producer } = rw;
  const ig = inferShapes(graph);
  let changed = false;
  nodes.forEach((conv, ci) => {
    if (!conv || conv.op !== 'Conv' || conv.attrs.input_scale !== undefined) return;
    const v = conv.inputs[0];
    const mi = producer.get(v);
    const w = ig.shapes.get(conv.inputs[1]);
    if (mi === undefined || !w || !pointwiseConv(conv, w) || u.reads.get(v) !== 1 || u.graphOutputs.has(v) || conv.inputs.slice(1).includes(v)) return;
    const mul = nodes[mi]!;
    if (mul.op !== 'Mul' || mul.inputs.length !== 2 || hasEpilogue(mul)) return;
    const out = ig.shapes.get(v)!;
    for (const side of [0, 1]) {
      const x = mul.inputs[side];
      const gate = mul.inputs[1 - side];
      const xs = ig.shapes.get(x)!;
      const gs = ig.shapes.get(gate)!;
      const perImageChannel = gs.length === 4 && gs[0] === out[0] && gs[1] === out[1] && gs[2] === 1 && gs[3] === 1;
      if (xs.length !== 4 || xs.some((d, i) => d !== out[i]) || xs[2] * xs[3] === 1 || !perImageChannel || constant(graph, inits, gate)) continue;
      if (conv.inputs.length - 3 >= MAX_EPILOGUE_INPUTS) return;
      const inputs = [x, ...conv.inputs.slice(1)];
      if (inputs.length === 2) {
        inputs.push(fresh(`${conv.outputs[0]}_zero_bias`));
        inits.set(inputs[2], new Tensor([w[0]], new Float32Array(w[0])));
      }
      inputs.push(gate);
      nodes[ci] = { ...conv, inputs, attrs: { ...conv.attrs, input_scale: inputs.length - 1 } };
      nodes[mi] = null;
      changed = true;
      return;
    }
  });
  return changed ? rw.result() : graph;
}

// ---- fuseEpilogues ----

/** Ops that run a chain in their store: Conv (every kernel), and the binary ops as standalone chain heads. */
const TAKES_CHAIN = new Set(['Conv', ...Object.keys(BINARY).filter((op) => !BINARY[op].unidirectional)]);

/** Index of the first chain operand input of a node of `op`. */
const firstOperand = (op: string) => (op === 'Conv' ? 3 : 2);

/**
 * Append elementwise consumers to the chain of the Conv or binary op producing their input (see
 * the header), while that value has no other reader and is not a graph output. The fused node
 * takes the place of the last op it absorbed, so every operand it reads is computed by then.
 */
export function fuseEpilogues(graph: Graph): Graph {
  const rw = rewriting(graph);
  const { u, fresh, inits, nodes, producer } = rw;
  const ig = inferShapes(graph);
  const readers = new Map<string, number[]>();
  nodes.forEach((n, i) => n!.inputs.forEach((v) => readers.set(v, [...(readers.get(v) ?? []), i])));
  let changed = false;

  /** The producer of `v` if it can take a step: a chain op, one output, `v` internal and read `reads` times. */
  const takerOf = (v: string, reads = 1): number | undefined => {
    const pi = producer.get(v);
    const p = pi === undefined ? undefined : nodes[pi];
    if (!p || !TAKES_CHAIN.has(p.op) || p.outputs.length !== 1 || p.outputs[0] !== v) return undefined;
    if (u.reads.get(v) !== reads || u.graphOutputs.has(v)) return undefined;
    return pi;
  };
  /** `p` with `steps` appended, its output renamed `out`; operands become new inputs (undefined: too many). */
  const extend = (p: Node, steps: { step: EpilogueStep; operand?: string }[], out: string): Node | undefined => {
    const inputs = [...p.inputs];
    if (p.op === 'Conv' && inputs.length === 2 && steps.some((s) => s.operand !== undefined)) {
      const M = ig.shapes.get(p.outputs[0])![1];
      inputs.push(fresh(`${p.outputs[0]}_zero_bias`));
      inits.set(inputs[2], new Tensor([M], new Float32Array(M)));
    }
    const chain = epilogueOf(p.attrs);
    for (const { step, operand } of steps) {
      if (operand === undefined) {
        chain.push(step);
        continue;
      }
      let k = inputs.indexOf(operand, firstOperand(p.op));
      if (k < 0) {
        if (inputs.length - firstOperand(p.op) >= MAX_EPILOGUE_INPUTS) return undefined;
        k = inputs.push(operand) - 1;
      }
      chain.push({ ...step, input: k });
    }
    const { activation: _a, epilogue: _e, ...rest } = p.attrs;
    return { ...p, inputs, outputs: [out], attrs: { ...rest, epilogue: chain } as RawAttrs };
  };

  nodes.forEach((e, ei) => {
    if (!e || e.outputs.length !== 1) return;
    // x · sigmoid(x): a Sigmoid and a Mul both reading x, the Mul also reading the Sigmoid.
    if (e.op === 'Sigmoid' && e.inputs.length === 1) {
      const x = e.inputs[0];
      const s = e.outputs[0];
      const pi = takerOf(x, 2);
      const mi = readers.get(x)?.find((i) => i !== ei);
      const mul = mi === undefined ? undefined : nodes[mi];
      if (pi !== undefined && mul && mul.op === 'Mul' && mul.outputs.length === 1 && !hasEpilogue(mul) && u.reads.get(s) === 1 && !u.graphOutputs.has(s) && mul.inputs.includes(x) && mul.inputs.includes(s)) {
        const p = nodes[pi]!;
        const at = epilogueOf(p.attrs).length; // x is the chain's last value
        const fused = extend(p, [{ step: { op: 'Sigmoid', attrs: {} } }, { step: { op: 'Mul', value: at } }], mul.outputs[0]);
        if (fused) {
          nodes[pi] = null;
          nodes[ei] = null;
          nodes[mi!] = fused;
          producer.set(mul.outputs[0], mi!);
          changed = true;
          return;
        }
      }
    }
    if (isActivation(e.op) && e.inputs.length === 1) {
      const pi = takerOf(e.inputs[0]);
      if (pi === undefined) return;
      const fused = extend(nodes[pi]!, [{ step: { op: e.op, attrs: e.attrs } }], e.outputs[0]);
      if (!fused) return;
      nodes[pi] = null;
      nodes[ei] = fused;
      producer.set(e.outputs[0], ei);
      changed = true;
      return;
    }
    if (!(e.op in BINARY) || BINARY[e.op].unidirectional || e.inputs.length < 2) return;
    const out = ig.shapes.get(e.outputs[0])!;
    for (const side of [0, 1]) {
      const x = e.inputs[side];
      const o = e.inputs[1 - side];
      const pi = takerOf(x);
      if (pi === undefined || o === x) continue;
      const xShape = ig.shapes.get(x)!;
      if (xShape.length !== out.length || xShape.some((d, i) => d !== out[i])) continue; // x itself must not broadcast
      const p = nodes[pi]!;
      const swap = side === 1 ? { swap: true } : {};
      const c = constant(graph, inits, o);
      let first: { step: EpilogueStep; operand?: string } | undefined;
      const oShape = ig.shapes.get(o)!;
      if (c && c.size === 1) first = { step: { op: e.op, scalar: c.data[0], ...swap } };
      else if (oShape.length === out.length && oShape.every((d, i) => d === out[i])) first = { step: { op: e.op, per: 'element', ...swap }, operand: o };
      else if (c && out.length >= 2) {
        const per = perChannel(c, out, 1);
        if (per) {
          const name = fresh(`${e.outputs[0]}_per_channel`);
          inits.set(name, new Tensor([per.length], Float32Array.from(per)));
          first = { step: { op: e.op, per: 'channel', ...swap }, operand: name };
        }
      }
      if (!first) continue;
      // e's own chain (e.g. the Relu of a residual Add + Relu) follows, its operands carried over.
      const own = epilogueOf(e.attrs).map((s) => (s.input === undefined ? { step: s } : { step: s, operand: e.inputs[s.input] }));
      const shifted = own.map((s) => (s.step.value === undefined ? s : { step: { ...s.step, value: s.step.value + epilogueOf(p.attrs).length + 1 } }));
      const fused = extend(p, [first, ...shifted], e.outputs[0]);
      if (!fused) continue;
      nodes[pi] = null;
      nodes[ei] = fused;
      producer.set(e.outputs[0], ei);
      changed = true;
      return;
    }
  });
  return changed ? rw.result() : graph;
}

/**
 * The inverse of fuseEpilogues and fuseActivations, for training and export: each fused node
 * writes `<output>.pre`, and one node per step computes the chain (constants become initializers,
 * per-channel operands [1, C, 1, ...] so that they broadcast along dim 1). `activations`: false
 * leaves nodes with a fused activation and no chain as they are (ONNX export writes those itself).
 */
export function unfuseEpilogues(graph: Graph, activations = true): Graph {
  const hasChain = (n: Node) => n.attrs.epilogue !== undefined || n.attrs.input_scale !== undefined || (activations && n.attrs.activation !== undefined);
  if (!graph.nodes.some(hasChain)) return graph;
  const fresh = nameSource(graph);
  const inits = new Map(graph.initializers);
  const ig = inferShapes(graph);
  const nodes = graph.nodes.flatMap((n): Node[] => {
    if (!hasChain(n)) return [n];
    const steps = epilogueOf(n.attrs);
    const { activation: _a, epilogue: _e, input_scale: scaleAt, ...attrs } = n.attrs;
    const out = n.outputs[0];
    const prologue: Node[] = [];
    if (scaleAt !== undefined) {
      const scaled = fresh(`${n.inputs[0]}.scaled`);
      prologue.push({ name: `${n.name}.scale`, op: 'Mul', inputs: [n.inputs[0], n.inputs[Number(scaleAt)]], outputs: [scaled], attrs: {} });
    }
    const rank = ig.shapes.get(out)!.length;
    const own = n.inputs.slice(0, firstOperand(n.op)).map((v, i) => (i === 0 && prologue.length ? prologue[0].outputs[0] : v));
    const values = [steps.length ? fresh(`${out}.pre`) : out];
    const chain: Node[] = [];
    steps.forEach((s, i) => {
      const last = values[i];
      const v = i === steps.length - 1 ? out : fresh(`${out}.ep${i}`);
      values.push(v);
      const name = `${n.name}.ep${i}`;
      if (s.input === undefined && s.scalar === undefined && s.value === undefined) {
        chain.push({ name, op: s.op, inputs: [last], outputs: [v], attrs: s.attrs ?? {} });
        return;
      }
      let operand: string;
      if (s.scalar !== undefined) {
        operand = fresh(`${out}.c${i}`);
        inits.set(operand, new Tensor([], [s.scalar]));
      } else if (s.value !== undefined) operand = values[s.value];
      else if (s.per === 'channel') {
        const src = n.inputs[s.input!];
        const t = inits.get(src);
        operand = fresh(`${out}.c${i}`);
        if (t && rank >= 2) inits.set(operand, new Tensor([t.size, ...Array(rank - 2).fill(1)], t.data));
        else chain.push({ name: `${name}.shape`, op: 'Reshape', inputs: [src], outputs: [operand], attrs: { shape: [-1, ...Array(Math.max(0, rank - 2)).fill(1)] } });
      } else operand = n.inputs[s.input!];
      chain.push({ name, op: s.op, inputs: s.swap ? [operand, last] : [last, operand], outputs: [v], attrs: {} });
    });
    return [...prologue, { ...n, inputs: own, outputs: [values[0]], attrs }, ...chain];
  });
  return { ...graph, nodes, initializers: inits };
}
