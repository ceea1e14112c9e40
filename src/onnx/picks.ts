// Ops whose every output element is one element of their float inputs at a position known at
// load time, because the indices, condition or lengths that choose it are constants (as models
// carry them): Where, GatherElements, GatherND, ScatterElements (and Scatter before opset 11),
// ScatterND, Compress, OneHot, ReverseSequence, MaxUnpool. Each computes those positions here and imports as
// one Gather from its float inputs, flattened and concatenated in input order (pick below): a
// copy, exact for every value, on every backend, and trainable through Gather's gradient.
//
// An index that is itself computed at run time is refused, naming the input. The reductions of
// ScatterElements/ScatterND (add, mul, max, min) add one Gather and one Add/Mul/Max/Min per
// update landing on the same position (see scatter).

import { stridesOf, type Shape } from '../tensor.js';
import { broadcastIndex, broadcastShapes, constSize, makeConst, type Const } from './constant.js';
import type { Handler } from './handlers.js';
import { intAttrOf, normAxis, type NodeIO } from './node.js';

/**
 * The elements of `from` (inputs or step values of the given sizes, flattened and concatenated)
 * at flat positions `at`, shaped `out`: output 0 of `n`, or with `asStep` a value later steps read.
 */
export function pick(n: NodeIO, from: readonly (number | string)[], sizes: readonly number[], at: readonly number[], out: Shape, asStep = false): string | undefined {
  if (constSize(out) === 0) n.fail(`the output would be empty (shape [${out.join(', ')}]); deftnn does not run zero-sized tensors`);
  const flat = from.map((v, k) => n.step('Reshape', [v], { shape: [sizes[k]] }));
  const source = flat.length > 1 ? n.step('Concat', flat, { axis: 0 }) : flat[0];
  const attrs = { axis: 0, indices: [...at], indicesShape: [...out] };
  if (asStep) return n.step('Gather', [source], attrs);
  n.emit('Gather', [source], attrs);
}

/** Input i, which must be a constant because it chooses positions. */
export function known(n: NodeIO, i: number, what: string): Const {
  return n.constant(i) ?? n.fail(`input '${what}' ('${n.node.inputs[i]}') must be known at load time; deftnn imports ${n.node.opType} as a gather at positions computed from it`);
}

/** Index v on an axis of length `len`, negative counting from the end. */
function indexOn(n: NodeIO, v: number, len: number, what: string): number {
  if (v < -len || v >= len) n.fail(`${what} ${v} is out of range for an axis of length ${len}`);
  return v < 0 ? v + len : v;
}

/** The coordinates of flat position p in `shape`, given its strides. */
const coords = (p: number, shape: Shape, strides: readonly number[]) => shape.map((d, k) => Math.floor(p / strides[k]) % d);

/** Each reduction of ScatterElements / ScatterND: the binary op and its identity. */
const REDUCTIONS: Readonly<Record<string, [string, number]>> = { add: ['Add', 0], mul: ['Mul', 1], max: ['Max', -Infinity], min: ['Min', Infinity] };

/**
 * data (input 0, `size` elements) with update u (input 2, flat index) written to flat position
 * targets[u]. reduction none: later updates win, one Gather. Otherwise the updates that land on a
 * position are combined with it in index order, as ONNX's reference does: layer j of the chain
 * gathers every position's j-th update (the reduction's identity where it has fewer) and
 * combines it into the running result.
 */
function scatter(n: NodeIO, size: number, targets: readonly number[]): void {
  const reduction = String(n.attrs.reduction ?? 'none');
  const updates = constSize(n.value(2).shape);
  if (reduction === 'none') {
    const at = Array.from({ length: size }, (_, i) => i);
    targets.forEach((t, u) => (at[t] = size + u));
    pick(n, [0, 2], [size, updates], at, n.value(0).shape);
    return;
  }
  const [op, identity] = REDUCTIONS[reduction] ?? n.fail(`reduction '${reduction}' is not none, add, mul, max or min`);
  const lists: number[][] = Array.from({ length: size }, () => []);
  targets.forEach((t, u) => lists[t].push(u));
  const layers = Math.max(...lists.map((l) => l.length));
  const shape = n.value(0).shape;
  const unit = n.literal(makeConst('float32', [1], [identity]));
  let acc: number | string = 0;
  for (let j = 0; j < layers; j++) {
    const layer = pick(n, [2, unit], [updates, 1], lists.map((l) => (j < l.length ? l[j] : updates)), shape, true)!;
    if (j === layers - 1) n.emit(op, [acc, layer], {});
    else acc = n.step(op, [acc, layer], {});
  }
}

/** Where(condition, x, y), numpy broadcasting. */
function Where(n: NodeIO): void {
  const cond = known(n, 0, 'condition');
  const [x, y] = [n.value(1).shape, n.value(2).shape];
  const out = broadcastShapes([cond.shape, x, y]) ?? n.fail(`inputs [${cond.shape.join(', ')}], [${x.join(', ')}], [${y.join(', ')}] do not broadcast`);
  const size = constSize(out);
  const [ic, ix, iy] = [cond.shape, x, y].map((s) => broadcastIndex(s, out));
  pick(n, [1, 2], [constSize(x), constSize(y)], Array.from({ length: size }, (_, i) => (cond.data[ic(i)] ? ix(i) : constSize(x) + iy(i))), out);
}

/** The flat data offset that position p of `indices` addresses along `axis` (GatherElements, ScatterElements). */
function elementOffsets(n: NodeIO, data: Shape, indices: Const, axis: number): number[] {
  if (indices.shape.length !== data.length) n.fail(`indices have rank ${indices.shape.length}, data rank ${data.length}`);
  if (indices.shape.some((d, k) => k !== axis && d > data[k])) n.fail(`indices [${indices.shape.join(', ')}] reach past data [${data.join(', ')}]`);
  const ds = stridesOf(data);
  const is = stridesOf(indices.shape);
  return [...indices.data].map((v, p) =>
    coords(p, indices.shape, is).reduce((off, c, k) => off + (k === axis ? indexOn(n, v, data[axis], 'index') : c) * ds[k], 0),
  );
}

/** GatherElements(data, indices; axis): out[p] = data[p with its axis coordinate = indices[p]]. */
function GatherElements(n: NodeIO): void {
  const data = n.value(0).shape;
  const indices = known(n, 1, 'indices');
  const axis = normAxis(n, intAttrOf(n, 'axis', 0), data.length);
  pick(n, [0], [constSize(data)], elementOffsets(n, data, indices, axis), indices.shape);
}

/** ScatterElements / Scatter(data, indices, updates; axis, reduction): data with data[p's target] = updates[p]. */
function ScatterElements(n: NodeIO): void {
  const data = n.value(0).shape;
  const indices = known(n, 1, 'indices');
  const axis = normAxis(n, intAttrOf(n, 'axis', 0), data.length);
  scatter(n, constSize(data), elementOffsets(n, data, indices, axis));
}

/**
 * GatherND / ScatterND's addressing: indices [..., k] hold tuples into data's axes b .. b + k - 1
 * (b = batch_dims, whose coordinates the tuple's position shares); each tuple addresses a slice
 * of `inner` contiguous elements. Returns the slices' first offsets, in tuple order.
 */
function sliceOffsets(n: NodeIO, data: Shape, indices: Const, b: number): { starts: number[]; inner: number; lead: number[] } {
  const q = indices.shape.length;
  const k = indices.shape[q - 1];
  if (q < 1 || b < 0 || b >= q || k > data.length - b) n.fail(`indices [${indices.shape.join(', ')}] do not fit data [${data.join(', ')}] with batch_dims ${b}`);
  if (indices.shape.slice(0, b).some((d, i) => d !== data[i])) n.fail(`the first ${b} dims of indices and data must agree`);
  const ds = stridesOf(data);
  const lead = indices.shape.slice(0, q - 1);
  const ls = stridesOf(lead);
  const starts = Array.from({ length: constSize(lead) }, (_, t) => {
    let off = coords(t, lead, ls).slice(0, b).reduce((o, c, d) => o + c * ds[d], 0);
    for (let j = 0; j < k; j++) off += indexOn(n, indices.data[t * k + j], data[b + j], 'index') * ds[b + j];
    return off;
  });
  return { starts, inner: constSize(data.slice(b + k)), lead };
}

/** GatherND(data, indices; batch_dims): out [..., data[b + k:]] = the addressed slices. */
function GatherND(n: NodeIO): void {
  const data = n.value(0).shape;
  const indices = known(n, 1, 'indices');
  const b = intAttrOf(n, 'batch_dims', 0);
  const { starts, inner, lead } = sliceOffsets(n, data, indices, b);
  const at = starts.flatMap((s) => Array.from({ length: inner }, (_, e) => s + e));
  pick(n, [0], [constSize(data)], at, [...lead, ...data.slice(b + indices.shape[indices.shape.length - 1])]);
}

/** ScatterND(data, indices, updates): data with each addressed slice replaced by its updates. */
function ScatterND(n: NodeIO): void {
  const data = n.value(0).shape;
  const indices = known(n, 1, 'indices');
  const { starts, inner } = sliceOffsets(n, data, indices, 0);
  scatter(n, constSize(data), starts.flatMap((s) => Array.from({ length: inner }, (_, e) => s + e)));
}

/** Compress(input, condition; axis): the slices (or, without axis, the flat elements) where condition is true. */
function Compress(n: NodeIO): void {
  const x = n.value(0).shape;
  const cond = known(n, 1, 'condition');
  const axis = n.attrs.axis === undefined ? undefined : normAxis(n, intAttrOf(n, 'axis', 0), x.length);
  const len = axis === undefined ? constSize(x) : x[axis];
  if (cond.data.length > len) n.fail(`condition has ${cond.data.length} values for ${len} ${axis === undefined ? 'elements' : 'slices'}`);
  const kept = [...cond.data].flatMap((c, i) => (c ? [i] : []));
  if (kept.length === 0) n.fail(`the condition keeps nothing; deftnn does not run zero-sized tensors`);
  if (axis === undefined) {
    pick(n, [0], [len], kept, [kept.length]);
    return;
  }
  n.emit('Gather', [0], { axis, indices: kept, indicesShape: [kept.length] });
}

/** OneHot(indices, depth, values; axis): values[1] where the inserted axis's coordinate is the index, values[0] elsewhere. */
function OneHot(n: NodeIO): void {
  const indices = known(n, 0, 'indices');
  const depth = n.scalar(1, 'depth');
  if (!Number.isInteger(depth) || depth < 1) n.fail(`depth must be a positive integer, got ${depth}`);
  if (constSize(n.value(2).shape) !== 2) n.fail(`values must hold two values (off, on), got shape [${n.value(2).shape.join(', ')}]`);
  const r = indices.shape.length;
  const axis = normAxis(n, intAttrOf(n, 'axis', -1), r + 1);
  const out = [...indices.shape.slice(0, axis), depth, ...indices.shape.slice(axis)];
  const os = stridesOf(out);
  const at = Array.from({ length: constSize(out) }, (_, p) => {
    const c = coords(p, out, os);
    const i = c.filter((_, k) => k !== axis).reduce((o, v, k) => o * indices.shape[k] + v, 0);
    const v = indices.data[i];
    // ONNX: an index outside [-depth, depth - 1] gives a row of `off` values.
    return v >= -depth && v < depth && (v < 0 ? v + depth : v) === c[axis] ? 1 : 0;
  });
  pick(n, [2], [2], at, out);
}

/** ReverseSequence(input, sequence_lens; batch_axis, time_axis): each batch's first lens[b] steps reversed. */
function ReverseSequence(n: NodeIO): void {
  const x = n.value(0).shape;
  const lens = known(n, 1, 'sequence_lens');
  const batch = normAxis(n, intAttrOf(n, 'batch_axis', 1), x.length, 'batch_axis');
  const time = normAxis(n, intAttrOf(n, 'time_axis', 0), x.length, 'time_axis');
  if (batch === time || lens.data.length !== x[batch]) n.fail(`needs distinct batch and time axes and one length per batch (${x[batch]}), got ${lens.data.length}`);
  if ([...lens.data].some((l) => l < 0 || l > x[time])) n.fail(`sequence_lens must lie in [0, ${x[time]}]`);
  const xs = stridesOf(x);
  const at = Array.from({ length: constSize(x) }, (_, p) => {
    const t = Math.floor(p / xs[time]) % x[time];
    const len = lens.data[Math.floor(p / xs[batch]) % x[batch]];
    return t < len ? p + (len - 1 - 2 * t) * xs[time] : p;
  });
  pick(n, [0], [constSize(x)], at, x);
}

/**
 * MaxUnpool(X, I, output_shape?; kernel_shape, strides, pads): zeros with X[p] at the flat output
 * position I[p] (MaxPool's Indices); the output's spatial dims (in - 1)·stride + kernel - pads.
 * The zeros come from one 0 concatenated after X.
 */
function MaxUnpool(n: NodeIO): void {
  const x = n.value(0).shape;
  const indices = known(n, 1, 'I');
  const spatial = x.length - 2;
  const attr = (name: string, dflt: number) => (n.attrs[name] as number[] | undefined) ?? new Array<number>(2 * spatial).fill(dflt);
  const kernel = (n.attrs.kernel_shape as number[] | undefined) ?? n.fail(`attribute 'kernel_shape' is required`);
  const [strides, pads] = [attr('strides', 1), attr('pads', 0)];
  const out = [...x.slice(0, 2), ...x.slice(2).map((d, k) => (d - 1) * strides[k] + kernel[k] - pads[k] - pads[k + spatial])];
  // With another output_shape, ONNX's reference indexes the unpooled shape and pads it, while
  // onnxruntime (and PyTorch's max_unpool with output_size) index output_shape itself.
  if (n.has(2) && n.ints(2, 'output_shape').some((d, k) => d !== out[k])) {
    n.fail(`output_shape [${n.ints(2, 'output_shape').join(', ')}] differs from the unpooled shape [${out.join(', ')}]: ONNX's reference and onnxruntime place the elements differently then; not supported`);
  }
  if (indices.shape.length !== x.length || indices.shape.some((d, k) => d !== x[k])) n.fail(`I [${indices.shape.join(', ')}] must have X's shape [${x.join(', ')}]`);
  const size = constSize(x);
  const at = new Array<number>(constSize(out)).fill(size);
  indices.data.forEach((v, p) => (at[indexOn(n, v, at.length, 'index')] = p));
  pick(n, [0, n.literal(makeConst('float32', [1], [0]))], [size, 1], at, out);
}

export const PICK_HANDLERS: Readonly<Record<string, Handler>> = {
  Where,
  GatherElements,
  GatherND,
  ScatterElements,
  Scatter: ScatterElements,
  ScatterND,
  Compress,
  OneHot,
  ReverseSequence,
  MaxUnpool,
};

/** The registry ops each of them emits. */
export const PICK_EMITS: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(Object.keys(PICK_HANDLERS).map((op) => [op, ['Reshape', 'Concat', 'Gather']])),
};
