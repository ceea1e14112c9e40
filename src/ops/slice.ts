// Slice, Gather and Split: ops that copy a regular subset of their input.
//
// Our IR carries what ONNX passes as constant inputs as attributes (the ONNX importer converts
// them; a non-constant one is an import error):
//   Slice  — `starts`, `ends`, optional `axes` (default 0..len-1) and `steps` (default 1), as in
//            opset 10+. Negative starts/ends count from the end, then clamp to the axis (so
//            INT64_MAX / INT64_MIN style "to the end" values work); negative steps walk backwards.
//   Gather — `axis` (default 0), and the indices as `indices: number[]` (the flattened integer
//            values, negative ones counting from the end) with `indicesShape: number[]` (default
//            [indices.length]; [] for a scalar index, which drops the axis). The only input is
//            the data. Indices are attributes rather than a float tensor because our tensors are
//            float32 (integers above 2^24 would round), and because known indices let shape
//            inference check the range and let the kernel read them from a small table.
//   Split  — `axis` (default 0) and either `split` (the sizes; opset 13+'s input) or
//            `num_outputs` (opset 18: ceil(dim / n) each, the last one smaller). Before opset 18
//            a Split without sizes splits equally among the node's outputs: the importer then
//            sets num_outputs to the node's output count, since ops cannot see it here.
//
// Backward: Slice's gradient puts the output's gradient back where it was read from and zeros
// elsewhere: a constant Pad when every step is 1, else SliceGrad (below). Split's is the Concat
// of its outputs' gradients (zeros for an output that gets none).

import { shapeStr, sizeOf, stridesOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, i32, linearGrid, u32, unravelWgsl } from '../kernels/wgsl.js';
import { defineOp, intAttr, intsAttr, OpError, type RawAttrs } from './op.js';
import { type Dispatch, type KernelContext } from '../kernels/context.js';

const WG = 256;

function normAxis(a: number, rank: number, what: string): number {
  if (a < -rank || a >= rank) throw new OpError(`attribute '${what}' has ${a}, out of range for rank ${rank}`);
  return a < 0 ? a + rank : a;
}

/**
 * A copy where output coordinate o_d reads input coordinate start_d + o_d·step_d on every axis:
 * Slice, and each output of Split. One invocation per output element.
 */
interface AffineCopy {
  readonly start: readonly number[];
  readonly step: readonly number[];
}

function affineCpu(x: Tensor, out: Shape, c: AffineCopy): Tensor {
  const inStrides = stridesOf(x.shape);
  const outStrides = stridesOf(out);
  const y = new Float32Array(sizeOf(out));
  for (let i = 0; i < y.length; i++) {
    let src = 0;
    for (let d = 0; d < out.length; d++) {
      const o = Math.floor(i / outStrides[d]) % out[d];
      src += (c.start[d] + o * c.step[d]) * inStrides[d];
    }
    y[i] = x.data[src];
  }
  return new Tensor(out, y);
}

/**
 * The kernel of an affine copy into output `output`, or (when `mayView`) 'view' when the output
 * is just the input's first elements in order.
 */
function affineGpu(x: Shape, out: Shape, c: AffineCopy, ctx: KernelContext, output: number, mayView: boolean): Dispatch[] | 'view' {
  const n = sizeOf(out);
  if (n === 0) return [];
  const inStrides = stridesOf(x);
  const outStrides = stridesOf(out);
  const base = c.start.reduce((s, v, d) => s + v * inStrides[d], 0);
  // Offsets are signed: a negative step walks an axis backwards from its start.
  const terms = out.flatMap((len, d) => (len === 1 ? [] : [`i32(o${d}) * ${i32(c.step[d] * inStrides[d])}`]));
  if (mayView && base === 0 && out.every((len, d) => len === 1 || c.step[d] * inStrides[d] === outStrides[d])) return 'view';
  const body = `${unravelWgsl('i', out, 'o')}
  y[i] = x[u32(${[i32(base), ...terms].join(' + ')})];`;
  const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, WG, body)}`;
  return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ input: 0 }, { output }] }];
}

// ---- Slice ----

export interface SliceAttrs extends AffineCopy {
  readonly shape: readonly number[];
}

function sliceAttrs(raw: RawAttrs, [x]: readonly Shape[]): SliceAttrs {
  const rank = x.length;
  const starts = intsAttr(raw, 'starts');
  const ends = intsAttr(raw, 'ends');
  const axes = intsAttr(
    raw,
    'axes',
    starts.map((_, i) => i),
  ).map((a) => normAxis(a, rank, 'axes'));
  const steps = intsAttr(
    raw,
    'steps',
    starts.map(() => 1),
  );
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw new OpError(`attributes 'starts', 'ends', 'axes' and 'steps' must have equal lengths, got ${starts.length}, ${ends.length}, ${axes.length}, ${steps.length}`);
  }
  if (new Set(axes).size !== axes.length) throw new OpError(`attribute 'axes' repeats an axis: [${axes.join(', ')}]`);
  const start = x.map(() => 0);
  const step = x.map(() => 1);
  const shape = [...x];
  axes.forEach((axis, k) => {
    const dim = x[axis];
    const s = steps[k];
    if (s === 0) throw new OpError(`attribute 'steps' is 0 for axis ${axis}`);
    const r = sliceRange(starts[k], ends[k], s, dim);
    shape[axis] = r.count;
    start[axis] = r.count === 0 ? 0 : r.start;
    step[axis] = s;
  });
  return { start, step, shape };
}

/**
 * ONNX's Slice rule along one axis of length `dim`: negative indices count from the end, then
 * start and end are clamped ([0, dim] going forward, [-1, dim - 1] going backward); returns the
 * first index and how many indices the step visits. Shared with the importer's constant folding.
 */
export function sliceRange(start: number, end: number, step: number, dim: number): { start: number; count: number } {
  let b = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    b = Math.min(Math.max(b, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    b = Math.min(Math.max(b, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  return { start: b, count: Math.max(0, Math.ceil((e - b) / step)) };
}

export const sliceOp = defineOp<SliceAttrs>({
  type: 'Slice',
  arity: [1, 1],
  attrs: sliceAttrs,
  shape: (_, a) => [a.shape],
  cpu: ([x], a) => [affineCpu(x, a.shape, a)],
  gpu: ([x], [out], a, ctx) => affineGpu(x, out, a, ctx, 0, true),
  grad: (g) => {
    const gy = g.gradOutputs[0]!;
    const x = g.inputShapes[0];
    const a = g.attrs;
    if (a.step.every((s) => s === 1)) {
      const ends = x.map((d, i) => d - a.start[i] - a.shape[i]);
      return [g.emit('Pad', [gy], { pads: [...a.start, ...ends] })];
    }
    return [g.emit('SliceGrad', [gy], { shape: [...x], starts: [...a.start], steps: [...a.step] })];
  },
});

// ---- SliceGrad ----

interface SliceGradAttrs extends AffineCopy {
  /** The forward input's shape (this op's output). */
  readonly shape: readonly number[];
}

/**
 * SliceGrad(gy) with attributes `shape` (the sliced input's shape) and, per axis of it, the
 * resolved `starts` and `steps` (Slice's start and step, as SliceAttrs holds them): the tensor
 * of `shape` holding gy's element o at input coordinate start + o·step on every axis, zeros
 * elsewhere. The WebGPU kernel gathers: each output element checks whether some gy element was
 * read from it, so no two invocations write one place.
 */
export const sliceGradOp = defineOp<SliceGradAttrs>({
  type: 'SliceGrad',
  training: true,
  arity: [1, 1],
  attrs: (raw, [gy]) => {
    const shape = intsAttr(raw, 'shape');
    const start = intsAttr(raw, 'starts');
    const step = intsAttr(raw, 'steps');
    const r = shape.length;
    if (gy.length !== r || start.length !== r || step.length !== r) {
      throw new OpError(`attributes 'shape', 'starts', 'steps' and the gradient must have one rank, got ${r}, ${start.length}, ${step.length}, ${gy.length}`);
    }
    for (let d = 0; d < r; d++) {
      if (step[d] === 0) throw new OpError(`attribute 'steps' is 0 for axis ${d}`);
      if (gy[d] === 0) continue;
      const last = start[d] + (gy[d] - 1) * step[d];
      if (start[d] < 0 || start[d] >= shape[d] || last < 0 || last >= shape[d]) {
        throw new OpError(`axis ${d}: ${gy[d]} elements from ${start[d]} by ${step[d]} do not fit in length ${shape[d]}`);
      }
    }
    return { shape, start, step };
  },
  shape: (_, a) => [a.shape],
  cpu: ([gy], a) => {
    const gx = new Float32Array(sizeOf(a.shape));
    const inStrides = stridesOf(a.shape);
    const gyStrides = stridesOf(gy.shape);
    for (let i = 0; i < gy.size; i++) {
      let dst = 0;
      for (let d = 0; d < gy.rank; d++) dst += (a.start[d] + (Math.floor(i / gyStrides[d]) % gy.shape[d]) * a.step[d]) * inStrides[d];
      gx[dst] = gy.data[i];
    }
    return [new Tensor(a.shape, gx)];
  },
  gpu: ([gy], [out], a, ctx) => {
    const n = sizeOf(out);
    if (n === 0) return [];
    if (sizeOf(gy) === 0) {
      // Nothing was read: all zeros, and gy (empty) is not bound.
      const wgsl = `@group(0) @binding(0) var<storage, read_write> gx: array<f32>;\n${elementwiseMain(n, WG, '  gx[i] = 0.0;')}`;
      return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ output: 0 }] }];
    }
    const gyStrides = stridesOf(gy);
    const checks: string[] = [];
    const terms: string[] = [];
    out.forEach((len, d) => {
      if (len === 1) return; // coordinate 0, which start 0 (the only start that fits) reads
      // t = coordinate - start; it was read iff t = q·step with 0 <= q < gy's length.
      const t = `(i32(o${d}) - ${i32(a.start[d])})`;
      if (a.step[d] === 1) {
        checks.push(`${t} >= 0 && ${t} < ${i32(gy[d])}`);
        terms.push(`${t} * ${i32(gyStrides[d])}`);
      } else {
        const q = `(${t} / ${i32(a.step[d])})`;
        checks.push(`${t} % ${i32(a.step[d])} == 0 && ${q} >= 0 && ${q} < ${i32(gy[d])}`);
        terms.push(`${q} * ${i32(gyStrides[d])}`);
      }
    });
    const body = `${unravelWgsl('i', out, 'o')}
  if (${checks.join(' && ') || 'true'}) { gx[i] = gy[u32(${terms.join(' + ') || '0'})]; } else { gx[i] = 0.0; }`;
    const wgsl = `@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> gx: array<f32>;
${elementwiseMain(n, WG, body)}`;
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
  },
});

// ---- Gather ----

export interface GatherAttrs {
  readonly axis: number;
  /** Indices made non-negative. */
  readonly indices: readonly number[];
  readonly indicesShape: readonly number[];
}

function gatherAttrs(raw: RawAttrs, [x]: readonly Shape[]): GatherAttrs {
  if (x.length === 0) throw new OpError('cannot gather from a scalar');
  const axis = normAxis(intAttr(raw, 'axis', 0), x.length, 'axis');
  const given = intsAttr(raw, 'indices');
  const indicesShape = intsAttr(raw, 'indicesShape', [given.length]);
  if (indicesShape.some((d) => d < 0) || sizeOf(indicesShape) !== given.length) {
    throw new OpError(`attribute 'indicesShape' ${shapeStr(indicesShape)} does not hold the ${given.length} values of 'indices'`);
  }
  const dim = x[axis];
  const indices = given.map((v) => {
    if (v < -dim || v >= dim) throw new OpError(`attribute 'indices' has ${v}, out of range for axis ${axis} of length ${dim}`);
    return v < 0 ? v + dim : v;
  });
  return { axis, indices, indicesShape };
}

/** [outer, indices, inner] around the gathered axis. */
function gatherDims(x: Shape, a: GatherAttrs): [number, number, number] {
  return [sizeOf(x.slice(0, a.axis)), a.indices.length, sizeOf(x.slice(a.axis + 1))];
}

export const gatherOp = defineOp<GatherAttrs>({
  type: 'Gather',
  arity: [1, 1],
  attrs: gatherAttrs,
  shape: ([x], a) => [[...x.slice(0, a.axis), ...a.indicesShape, ...x.slice(a.axis + 1)]],
  cpu: ([x], a) => {
    const [outer, q, inner] = gatherDims(x.shape, a);
    const dim = x.shape[a.axis];
    const y = new Float32Array(outer * q * inner);
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < q; k++) {
        for (let j = 0; j < inner; j++) y[(o * q + k) * inner + j] = x.data[(o * dim + a.indices[k]) * inner + j];
      }
    }
    return [new Tensor([...x.shape.slice(0, a.axis), ...a.indicesShape, ...x.shape.slice(a.axis + 1)], y)];
  },
  gpu: ([x], [out], a, ctx) => {
    const n = sizeOf(out);
    if (n === 0) return [];
    const [, q, inner] = gatherDims(x, a);
    const dim = x[a.axis];
    // The index table is a plan-time constant; the text bakes in only the shapes.
    const body = `${unravelWgsl('i', [n / (q * inner), q, inner], 'g')}
  y[i] = x[(g0 * ${u32(dim)} + idx[g1]) * ${u32(inner)} + g2];`;
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
${elementwiseMain(n, WG, body)}`;
    return [
      {
        wgsl,
        workgroups: linearGrid(n, WG, ctx),
        bindings: [{ input: 0 }, { output: 0 }, { constant: Uint32Array.from(a.indices) }],
      },
    ];
  },
});

// ---- Split ----

export interface SplitAttrs {
  readonly axis: number;
  readonly sizes: readonly number[];
}

function splitAttrs(raw: RawAttrs, [x]: readonly Shape[]): SplitAttrs {
  if (x.length === 0) throw new OpError('cannot split a scalar');
  const axis = normAxis(intAttr(raw, 'axis', 0), x.length, 'axis');
  const dim = x[axis];
  const hasSplit = raw.split !== undefined;
  const hasNum = raw.num_outputs !== undefined;
  if (hasSplit && hasNum) throw new OpError(`attributes 'split' and 'num_outputs' are mutually exclusive`);
  if (hasSplit) {
    const sizes = intsAttr(raw, 'split');
    if (sizes.length === 0 || sizes.some((s) => s < 0)) throw new OpError(`attribute 'split' must be non-negative sizes, got [${sizes.join(', ')}]`);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== dim) throw new OpError(`attribute 'split' sums to ${total}, but axis ${axis} has length ${dim}`);
    return { axis, sizes };
  }
  if (!hasNum) throw new OpError(`needs attribute 'split' or 'num_outputs' (the importer sets num_outputs to the node's output count)`);
  const n = intAttr(raw, 'num_outputs');
  if (n < 1) throw new OpError(`attribute 'num_outputs' must be at least 1, got ${n}`);
  const chunk = Math.ceil(dim / n);
  const last = dim - chunk * (n - 1);
  if (last < 0) throw new OpError(`axis ${axis} of length ${dim} cannot be split into ${n} chunks of ${chunk}`);
  return { axis, sizes: [...new Array<number>(n - 1).fill(chunk), last] };
}

/** Output k of a split as an affine copy. */
function splitPiece(x: Shape, a: SplitAttrs, k: number): { shape: number[]; copy: AffineCopy } {
  const offset = a.sizes.slice(0, k).reduce((s, v) => s + v, 0);
  const shape = x.map((d, i) => (i === a.axis ? a.sizes[k] : d));
  return { shape, copy: { start: x.map((_, i) => (i === a.axis ? offset : 0)), step: x.map(() => 1) } };
}

export const splitOp = defineOp<SplitAttrs>({
  type: 'Split',
  arity: [1, 1],
  attrs: splitAttrs,
  shape: ([x], a) => a.sizes.map((_, k) => splitPiece(x, a, k).shape),
  cpu: ([x], a) =>
    a.sizes.map((_, k) => {
      const p = splitPiece(x.shape, a, k);
      return affineCpu(x, p.shape, p.copy);
    }),
  // One copy per output; never a view (that would only cover output 0).
  gpu: ([x], _out, a, ctx) =>
    a.sizes.flatMap((_, k) => {
      const p = splitPiece(x, a, k);
      return affineGpu(x, p.shape, p.copy, ctx, k, false) as Dispatch[];
    }),
  grad: (g) => {
    const parts = g.gradOutputs.map((gy, k) => gy ?? g.constant(new Tensor(g.outputShapes[k])));
    // An output the node does not name gets no gradient and still takes its place.
    for (let k = parts.length; k < g.outputShapes.length; k++) parts.push(g.constant(new Tensor(g.outputShapes[k])));
    return [g.emit('Concat', parts, { axis: g.attrs.axis })];
  },
});

export const sliceOps = [sliceOp, sliceGradOp, gatherOp, splitOp];
