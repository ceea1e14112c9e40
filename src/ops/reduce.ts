// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2
// and ReduceLogSum over any set of axes, as one family: each maps every element (x², |x|, or x
// itself), folds the mapped values with one combining step (+, ·, max, min) and finishes the fold
// (÷ count, sqrt, log).
//
// Our IR carries the axes as the attribute `axes: number[]` for every opset: the ONNX importer
// turns opset-18's (and ReduceSum-13's) constant `axes` input into that attribute. Empty or
// absent axes mean every axis, unless noop_with_empty_axes = 1, when the op is the identity.
// keepdims defaults to 1. Reducing over an axis of length 0 gives the finished identity: 0 (Sum,
// SumSquare, L1, L2), NaN (Mean, 0/0), -Inf (Max, LogSum's log 0), +Inf (Min), 1 (Prod), as ONNX
// specifies.
//
// The WebGPU kernel first merges neighbouring axes that are both kept or both reduced, so the
// usual cases (global pooling over H×W, a channel sum) become a 2-D [kept, reduced] walk with
// no div/mod in the inner loop. Then either one invocation per output loops over its reduction
// (many outputs, short reductions) or one workgroup per output strides over it and combines in
// workgroup memory (few outputs, long reductions, e.g. a mean over a whole feature map).
//
// Backward (ReduceSum, ReduceMean): every input element gets its output's gradient (divided by
// the count for the mean). Broadcasting does the copying: the gradient, reshaped to keep the
// reduced axes as 1s, times a constant that has the reduced axes' sizes and 1s elsewhere (1 or
// 1/count), broadcasts to the input's shape, and the constant is only as big as one reduction.
// The other reductions have no gradient here.

import { sizeOf, stridesOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, f32, linearGrid, linearIndexFn, u32, unravelWgsl } from '../kernels/wgsl.js';
import { defineOp, intAttr, intsAttr, OpError, type GradContext, type OpDef, type RawAttrs } from './op.js';
import { type Dispatch, type KernelContext } from '../kernels/context.js';

export interface ReduceAttrs {
  /** Sorted, non-negative, distinct axes actually reduced (empty for the noop case). */
  readonly axes: readonly number[];
  readonly keepdims: boolean;
}

interface ReduceKind {
  /** Start value of the accumulator (the combining step's identity). */
  readonly init: number;
  /** Each element before it is folded in (default: itself). */
  readonly map?: (x: number) => number;
  readonly mapWgsl?: (x: string) => string;
  /** Combine an accumulator with a mapped element, or two accumulators. */
  readonly cpu: (acc: number, x: number) => number;
  readonly wgsl: (acc: string, x: string) => string;
  /** Final value from the accumulator and the count reduced (default: the accumulator). */
  readonly finish?: (acc: number, count: number) => number;
  readonly finishWgsl?: (acc: string, count: number) => string;
}

const add = { init: 0, cpu: (a: number, x: number) => a + x, wgsl: (a: string, x: string) => `${a} + ${x}` };
const square = { map: (x: number) => x * x, mapWgsl: (x: string) => `${x} * ${x}` };

const KINDS: Record<string, ReduceKind> = {
  ReduceSum: add,
  ReduceMean: { ...add, finish: (a, n) => a / n, finishWgsl: (a, n) => `${a} / ${f32(n)}` },
  ReduceMax: { init: -Infinity, cpu: (a, x) => (x > a || Number.isNaN(x) ? x : a), wgsl: (a, x) => `max(${a}, ${x})` },
  ReduceMin: { init: Infinity, cpu: (a, x) => (x < a || Number.isNaN(x) ? x : a), wgsl: (a, x) => `min(${a}, ${x})` },
  ReduceProd: { init: 1, cpu: (a, x) => a * x, wgsl: (a, x) => `${a} * ${x}` },
  ReduceSumSquare: { ...add, ...square },
  ReduceL1: { ...add, map: Math.abs, mapWgsl: (x) => `abs(${x})` },
  ReduceL2: { ...add, ...square, finish: Math.sqrt, finishWgsl: (a) => `sqrt(${a})` },
  ReduceLogSum: { ...add, finish: Math.log, finishWgsl: (a) => `log(${a})` },
};

const mapOf = (k: ReduceKind) => k.map ?? ((x: number) => x);
const mapWgslOf = (k: ReduceKind) => k.mapWgsl ?? ((x: string) => x);
const finishOf = (k: ReduceKind) => k.finish ?? ((a: number) => a);
const finishWgslOf = (k: ReduceKind) => k.finishWgsl ?? ((a: string) => a);

function resolveAxes(raw: RawAttrs, inputs: readonly Shape[]): ReduceAttrs {
  const rank = inputs[0].length;
  const keepdims = intAttr(raw, 'keepdims', 1);
  if (keepdims !== 0 && keepdims !== 1) throw new OpError(`attribute 'keepdims' must be 0 or 1, got ${keepdims}`);
  const noop = intAttr(raw, 'noop_with_empty_axes', 0);
  if (noop !== 0 && noop !== 1) throw new OpError(`attribute 'noop_with_empty_axes' must be 0 or 1, got ${noop}`);
  const given = intsAttr(raw, 'axes', []);
  const axes = given.map((a) => {
    if (a < -rank || a >= rank) throw new OpError(`attribute 'axes' has ${a}, out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  if (new Set(axes).size !== axes.length) throw new OpError(`attribute 'axes' repeats an axis: [${given.join(', ')}]`);
  if (axes.length === 0 && noop === 0) for (let d = 0; d < rank; d++) axes.push(d);
  return { axes: axes.sort((a, b) => a - b), keepdims: keepdims === 1 };
}

function outShape(x: Shape, a: ReduceAttrs): number[] {
  const out: number[] = [];
  x.forEach((d, i) => {
    if (!a.axes.includes(i)) out.push(d);
    else if (a.keepdims) out.push(1);
  });
  return out;
}

/** Plain reference: visit every input element once and fold it into its output slot. */
function reduceCpu(kind: ReduceKind, x: Tensor, a: ReduceAttrs): Tensor {
  const kept = x.shape.map((d, i) => (a.axes.includes(i) ? 1 : d));
  const outStrides = stridesOf(kept);
  const inStrides = stridesOf(x.shape);
  const count = a.axes.reduce((n, i) => n * x.shape[i], 1);
  const acc = new Float64Array(sizeOf(kept)).fill(kind.init);
  for (let i = 0; i < x.size; i++) {
    let o = 0;
    for (let d = 0; d < x.rank; d++) {
      if (!a.axes.includes(d)) o += (Math.floor(i / inStrides[d]) % x.shape[d]) * outStrides[d];
    }
    acc[o] = kind.cpu(acc[o], mapOf(kind)(x.data[i]));
  }
  return new Tensor(outShape(x.shape, a), acc.map((v) => finishOf(kind)(v, count)));
}

/** Merge neighbouring axes of the same role: returns dims and whether each is reduced. */
function coalesce(shape: Shape, axes: readonly number[]): { dims: number[]; reduced: boolean[] } {
  const dims: number[] = [];
  const reduced: boolean[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const r = axes.includes(i);
    if (dims.length > 0 && reduced[reduced.length - 1] === r) dims[dims.length - 1] *= d;
    else {
      dims.push(d);
      reduced.push(r);
    }
  });
  return { dims, reduced };
}

/** WGSL: `let ${name}: u32` = the input offset of flat index `idx` over the dims of one role. */
function offsetOf(idx: string, dims: number[], strides: number[], name: string): string {
  if (dims.length === 0) return `  let ${name} = 0u;`;
  const terms = dims.map((_, k) => (strides[k] === 1 ? `${name}_c${k}` : `${name}_c${k} * ${u32(strides[k])}`));
  return `${unravelWgsl(idx, dims, `${name}_c`)}\n  let ${name} = ${terms.join(' + ')};`;
}

const WG = 64;
const ROWS_WG = 256;

function reduceGpu(kind: ReduceKind, x: Shape, out: Shape, a: ReduceAttrs, ctx: KernelContext): Dispatch[] | 'view' {
  const outCount = sizeOf(out);
  const count = a.axes.reduce((n, i) => n * x[i], 1);
  if (outCount === 0) return [];
  // Reducing only length-1 axes changes nothing but the shape, unless the kind maps or finishes
  // a single element into something else (SumSquare's x², LogSum's log x ...).
  if (count === 1 && !kind.map && finishOf(kind)(7, 1) === 7) return 'view';
  const bindings = [{ input: 0 }, { output: 0 }] as const;
  const decls = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;`;
  if (count === 0) {
    // An empty reduction: every output is the finished identity. NaN and -Inf cannot be WGSL
    // literals, so the value is uploaded as a one-element constant. x has no elements and is not
    // bound (an unused binding would not be in the pipeline's layout).
    const fill = new Float32Array([finishOf(kind)(kind.init, 0)]);
    const wgsl = `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> fill: array<f32>;
${elementwiseMain(outCount, ROWS_WG, '  y[i] = fill[0];')}`;
    return [{ wgsl, workgroups: linearGrid(outCount, ROWS_WG, ctx), bindings: [{ output: 0 }, { constant: fill }] }];
  }
  const { dims, reduced } = coalesce(x, a.axes);
  const strides = stridesOf(dims);
  const keptDims = dims.filter((_, k) => !reduced[k]);
  const keptStrides = strides.filter((_, k) => !reduced[k]);
  const redDims = dims.filter((_, k) => reduced[k]);
  const redStrides = strides.filter((_, k) => reduced[k]);
  // Accumulators start from a (mapped) element of x, not from the identity: ±Inf (ReduceMax's,
  // ReduceMin's) is not a WGSL literal, and ∓FLT_MAX would be wrong when every element is ±Inf.
  const map = mapWgslOf(kind);
  const finish = finishWgslOf(kind);

  if (outCount >= 1024 || count < 256) {
    // One invocation per output element.
    const wgsl = `${decls}
${linearIndexFn(ROWS_WG)}
@compute @workgroup_size(${ROWS_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = linearIndex(gid, nwg);
  if (o >= ${u32(outCount)}) { return; }
${offsetOf('o', keptDims, keptStrides, 'base')}
  var acc = ${map('x[base]')};
  for (var r = 1u; r < ${u32(count)}; r++) {
${offsetOf('r', redDims, redStrides, 'off')}
    acc = ${kind.wgsl('acc', map('x[base + off]'))};
  }
  y[o] = ${finish('acc', count)};
}`;
    return [{ wgsl, workgroups: linearGrid(outCount, ROWS_WG, ctx), bindings: [...bindings] }];
  }

  // One workgroup per output element (fewer than 1024 of them here).
  const wgsl = `${decls}
var<workgroup> part: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let o = wid.x;
${offsetOf('o', keptDims, keptStrides, 'base')}
${offsetOf('t', redDims, redStrides, 'first')}
  var acc = ${map('x[base + first]')}; // count >= 256 > ${WG}: every invocation has an element
  for (var r = t + ${WG}u; r < ${u32(count)}; r += ${WG}u) {
${offsetOf('r', redDims, redStrides, 'off')}
    acc = ${kind.wgsl('acc', map('x[base + off]'))};
  }
  part[t] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { part[t] = ${kind.wgsl('part[t]', 'part[t + s]')}; }
    workgroupBarrier();
  }
  if (t == 0u) { y[o] = ${finish('part[0]', count)}; }
}`;
  return [{ wgsl, workgroups: [outCount, 1, 1], bindings: [...bindings] }];
}

function reduceOp(type: string): OpDef<ReduceAttrs> {
  const kind = KINDS[type];
  return defineOp({
    type,
    arity: [1, 1],
    attrs: (raw, inputs) => resolveAxes(raw, inputs),
    shape: ([x], a) => [outShape(x, a)],
    cpu: ([x], a) => [reduceCpu(kind, x, a)],
    gpu: ([x], [out], a, ctx) => reduceGpu(kind, x, out, a, ctx),
    grad: type === 'ReduceSum' || type === 'ReduceMean' ? (g) => [reduceGrad(g, type === 'ReduceMean')] : undefined,
  });
}

function reduceGrad(g: GradContext<ReduceAttrs>, mean: boolean): string {
  const x = g.inputShapes[0];
  const { axes } = g.attrs;
  if (sizeOf(x) === 0) return g.constant(new Tensor(x));
  const kept = x.map((d, i) => (axes.includes(i) ? 1 : d));
  const gy = g.emit('Reshape', [g.gradOutputs[0]!], { shape: kept, allowzero: 1 });
  const count = axes.reduce((n, i) => n * x[i], 1);
  if (count === 1) return g.emit('Reshape', [gy], { shape: [...x], allowzero: 1 });
  const spread = x.map((d, i) => (axes.includes(i) ? d : 1));
  const fill = new Tensor(spread, new Float32Array(count).fill(mean ? 1 / count : 1));
  return g.emit('Mul', [gy, g.constant(fill)]);
}

export const reduceOps: OpDef<ReduceAttrs>[] = Object.keys(KINDS).map(reduceOp);
