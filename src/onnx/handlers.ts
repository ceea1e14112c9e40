// ONNX node handlers, named exactly after the ONNX op they import and looked up by op_type.
// Each turns one node into IR nodes (usually one, of the same op, attributes passed through) or
// into a load-time constant. Differences between opsets 9 and 21 end here: the IR sees one form of
// each op, with inputs that must be constant (Reshape's shape, Clip's bounds, Slice's starts ...)
// turned into attributes. Forms older than opset 9 (down to 1) are converted here too: see the
// handlers of the ops whose definition changed (legacy.ts has the helpers). An op registered in ops/registry.ts without a handler here is imported
// by `passthrough`.

import type { RawAttrs } from '../ops/op.js';
import { importConv3d, importConvTranspose3d, importOnUnitAxis, importPool3d } from './other-ranks.js';
import { REARRANGE_EMITS, REARRANGE_HANDLERS } from './rearrange.js';
import { PICK_EMITS, PICK_HANDLERS } from './picks.js';
import { LOSS_EMITS, LOSS_HANDLERS } from './losses.js';
import { GENERATOR_EMITS, GENERATOR_HANDLERS } from './generators.js';
import { RECURRENT_EMITS, RECURRENT_HANDLERS } from './recurrent.js';
import { LEGACY_ATTRS, legacyBroadcast, legacyCastTarget, legacyUpsample } from './legacy.js';
import { constSize, makeConst } from './constant.js';
import { ONNX_DTYPES } from './fold.js';
import {
  intAttrOf,
  intsAttrOf,
  normAxis,
  padArgs,
  reduceAxes,
  reshapeTarget,
  sliceArgs,
  splitSizes,
  squeezeAxes,
  unsqueezeAxes,
  type NodeIO,
} from './node.js';

export type Handler = (n: NodeIO) => void;

/** The same op with the given inputs (optional ones may be left out only at the end) and its attributes. */
export function passthrough(n: NodeIO, drop: readonly string[] = []): void {
  const tensorAttr = Object.keys(n.node.tensors)[0];
  if (tensorAttr) n.fail(`tensor attribute '${tensorAttr}' is not supported on ${n.node.opType}`);
  const other = Object.entries(n.node.unreadable)[0];
  if (other) n.fail(`attribute '${other[0]}' of type ${other[1]} is not supported`);
  let count = n.node.inputs.length;
  while (count > 0 && !n.has(count - 1)) count--;
  const inputs = Array.from({ length: count }, (_, i) => i);
  for (const i of inputs) if (!n.has(i)) n.fail(`optional input ${i} is left out before a later input; deftnn cannot import that for ${n.node.opType}`);
  const attrs: Record<string, RawAttrs[string]> = {};
  for (const [k, v] of Object.entries(n.attrs)) if (!drop.includes(k) && !LEGACY_ATTRS.includes(k)) attrs[k] = v;
  n.emit(n.node.opType, inputs, attrs, outputsGiven(n));
}

function outputsGiven(n: NodeIO): number[] {
  return n.node.outputs.flatMap((o, i) => (o ? [i] : []));
}

// ---- values known at load time ----

function Constant(n: NodeIO): void {
  const a = n.attrs;
  const t = n.node.tensors.value;
  if (t) return n.setConst(0, t);
  if (a.value_float !== undefined) return n.setConst(0, makeConst('float32', [], [a.value_float as number]));
  if (a.value_floats !== undefined) return n.setConst(0, makeConst('float32', [(a.value_floats as number[]).length], a.value_floats as number[]));
  if (a.value_int !== undefined) return n.setConst(0, makeConst('int64', [], [a.value_int as number]));
  if (a.value_ints !== undefined) return n.setConst(0, makeConst('int64', [(a.value_ints as number[]).length], a.value_ints as number[]));
  const other = [...Object.keys(a), ...Object.keys(n.node.unreadable)][0];
  n.fail(other ? `attribute '${other}' is not supported (only numeric tensors, value_float(s) and value_int(s))` : `has no value`);
}

/** Shapes are static once the input shapes are fixed, so Shape is always a constant. */
function Shape(n: NodeIO): void {
  const shape = n.value(0).shape;
  const r = shape.length;
  const clampEnd = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clampEnd(intAttrOf(n, 'start', 0));
  const end = clampEnd(intAttrOf(n, 'end', r));
  const dims = shape.slice(start, Math.max(start, end));
  n.setConst(0, makeConst('int64', [dims.length], dims));
}

function Size(n: NodeIO): void {
  n.setConst(0, makeConst('int64', [], [constSize(n.value(0).shape)]));
}

// ---- removed at import ----

function Identity(n: NodeIO): void {
  n.alias(0, 0);
}

/**
 * Inference-mode Dropout is Identity. Its mask output, if used, is a constant as onnxruntime
 * computes it: all true from opset 12, all false (zeros) before, when it also had the input's
 * float type up to opset 9. (The ONNX reference implementation gives all true everywhere.)
 */
function Dropout(n: NodeIO): void {
  // In training mode a ratio of 0 drops nothing (output x, mask all true); any other drops at random.
  const training = n.opset >= 12 && n.has(2) && n.scalar(2, 'training_mode');
  if (training && (!n.has(1) || n.scalar(1, 'ratio') !== 0)) n.fail(`training_mode is true with a ratio other than 0; deftnn imports models for inference`);
  n.alias(0, 0);
  if (!n.node.outputs[1]) return;
  const shape = n.value(0).shape;
  const fill = new Array<number>(constSize(shape)).fill(n.opset >= 12 ? 1 : 0);
  n.setConst(1, makeConst(n.opset < 10 ? 'float32' : 'bool', shape, fill));
}

/** Runtime values are float32 throughout, so a Cast between float types changes nothing we keep. */
function Cast(n: NodeIO): void {
  // Cast-1 names the type as a string ('FLOAT'), later versions by TensorProto.DataType number.
  const to = n.opset < 6 ? legacyCastTarget(n) : ONNX_DTYPES[intAttrOf(n, 'to', 0)];
  if (to !== 'float32' && to !== 'float64') {
    n.fail(`casting the runtime value '${n.node.inputs[0]}' to ${to ?? `data type ${n.attrs.to}`} is not supported: deftnn computes in float32 (integer values are supported only when they are known at load time)`);
  }
  n.alias(0, 0);
}

/**
 * DequantizeLinear(x, x_scale, x_zero_point?; axis): (x - zero_point) · scale, per tensor or per
 * slice along `axis`. x holds integers, which deftnn takes only as constants (quantised weights),
 * so the result is a constant, or a Mul by a scale computed at run time.
 */
function DequantizeLinear(n: NodeIO): void {
  const x = n.constant(0) ?? n.fail(`input 'x' holds integers computed at run time; deftnn computes in float32 and takes integer tensors only as constants (quantised weights)`);
  const along = (i: number) => {
    if (constSize(n.value(i).shape) === 1) return i;
    const axis = normAxis(n, intAttrOf(n, 'axis', 1), x.shape.length);
    return n.step('Reshape', [i], { shape: x.shape.map((d, k) => (k === axis ? d : 1)) });
  };
  n.emit('Mul', [n.has(2) ? n.step('Sub', [0, along(2)], {}) : 0, along(1)], {});
}

/** Range is folded when its inputs are constants (fold.ts); otherwise its length is unknown at load. */
function Range(n: NodeIO): void {
  n.fail(`start, limit and delta must be known at load time: they decide the output's length`);
}

// ---- inputs that became attributes ----

/** Reshape's target: attribute `shape` in version 1, input since 5. */
function Reshape(n: NodeIO): void {
  const raw = n.opset < 5 ? (intsAttrOf(n, 'shape') ?? n.fail(`attribute 'shape' is required`)) : n.ints(1, 'shape');
  n.emit('Reshape', [0], { shape: reshapeTarget(n, n.value(0).shape, raw) });
}

/** Concat-1's axis was optional, default 1; required since 4. */
function Concat(n: NodeIO): void {
  if (n.opset >= 4 || n.attrs.axis !== undefined) return passthrough(n);
  const inputs = n.node.inputs.map((_, i) => i);
  n.emit('Concat', inputs, { axis: 1 });
}

// Binary ops before version 7 broadcast only when asked (broadcast=1), B onto A, from `axis`.
function Add(n: NodeIO): void {
  legacyBroadcast(n, passthrough);
}
function Sub(n: NodeIO): void {
  legacyBroadcast(n, passthrough);
}
function Mul(n: NodeIO): void {
  legacyBroadcast(n, passthrough);
}
function Div(n: NodeIO): void {
  legacyBroadcast(n, passthrough);
}
function Pow(n: NodeIO): void {
  legacyBroadcast(n, passthrough);
}

/** Gemm before version 7 had a `broadcast` flag for C; numpy broadcasting of C covers both settings. */
function Gemm(n: NodeIO): void {
  passthrough(n, ['broadcast']);
}

/** PRelu before version 7: the slope has X's shape or one value (both broadcast the same way since). */
function PRelu(n: NodeIO): void {
  if (n.opset < 7) {
    const x = n.value(0).shape;
    const s = n.value(1).shape;
    const size = s.reduce((a, b) => a * b, 1);
    if (size !== 1 && (s.length !== x.length || s.some((d, i) => d !== x[i]))) {
      n.fail(`slope [${s.join(', ')}] must have X's shape [${x.join(', ')}] or one value before version 7`);
    }
  }
  passthrough(n);
}

function Squeeze(n: NodeIO): void {
  n.emit('Squeeze', [0], { axes: squeezeAxes(n, n.value(0).shape) });
}

function Unsqueeze(n: NodeIO): void {
  n.emit('Unsqueeze', [0], { axes: unsqueezeAxes(n, n.value(0).shape.length) });
}

/**
 * Clip's bounds: attributes before opset 11, optional inputs since (absent = unbounded). A bound
 * computed at run time (one value; the output shape does not depend on it) becomes Max(x, min)
 * and/or Min(y, max) with the scalar broadcast, in ONNX's order: min first, then max.
 */
function Clip(n: NodeIO): void {
  if (n.opset < 11) return passthrough(n);
  const runtime = (i: number) => n.has(i) && !n.constant(i);
  if (!runtime(1) && !runtime(2)) {
    const attrs: Record<string, number> = {};
    if (n.has(1)) attrs.min = n.scalar(1, 'min');
    if (n.has(2)) attrs.max = n.scalar(2, 'max');
    return n.emit('Clip', [0], attrs);
  }
  for (const i of [1, 2]) {
    const shape = runtime(i) ? n.value(i).shape : [];
    if (constSize(shape) !== 1) n.fail(`input '${i === 1 ? 'min' : 'max'}' must hold one value, got shape [${shape.join(', ')}]`);
  }
  const steps: [string, (number | string)[], RawAttrs][] = [];
  if (n.has(1)) steps.push(runtime(1) ? ['Max', [1], {}] : ['Clip', [], { min: n.scalar(1, 'min') }]);
  if (n.has(2)) steps.push(runtime(2) ? ['Min', [2], {}] : ['Clip', [], { max: n.scalar(2, 'max') }]);
  let y: number | string = 0;
  steps.forEach(([op, bound, attrs], k) => {
    if (k === steps.length - 1) n.emit(op, [y, ...bound], attrs);
    else y = n.step(op, [y, ...bound], attrs);
  });
}

/**
 * Before opset 13, Softmax flattened its input to 2-D at `axis` (default 1) and normalised each
 * row; since 13 it normalises along `axis` (default -1). The two agree when axis is the last one,
 * otherwise the IR node carries `legacy_coerce_2d: 1`.
 */
function Softmax(n: NodeIO): void {
  if (n.opset >= 13) return passthrough(n);
  const rank = n.value(0).shape.length;
  const axis = normAxis(n, intAttrOf(n, 'axis', 1), rank);
  n.emit(n.node.opType, [0], axis === rank - 1 ? { axis } : { axis, legacy_coerce_2d: 1 });
}

/** LogSoftmax and Hardmax changed as Softmax did in opset 13. */
function LogSoftmax(n: NodeIO): void {
  Softmax(n);
}
const Hardmax = LogSoftmax;

function BatchNormalization(n: NodeIO): void {
  // Training mode (opset 14+): batch statistics, and the running ones as outputs 1 and 2; our op
  // has it (the training loop uses it), so it imports as given.
  if (intAttrOf(n, 'training_mode', 0)) return passthrough(n, ['spatial']);
  // Before version 9, spatial=0 meant statistics per (channel, position): scale etc. of shape [C, D1, ...].
  if (n.opset < 9 && intAttrOf(n, 'spatial', 1) === 0 && n.value(1).shape.length !== 1) {
    n.fail(`spatial=0 with per-position statistics (scale [${n.value(1).shape.join(', ')}]) is not supported; only per-channel statistics are`);
  }
  if (n.node.outputs.slice(1).some(Boolean)) n.fail(`the running mean/variance outputs exist only in training mode`);
  passthrough(n, ['momentum', 'spatial', 'training_mode']);
}

/** storage_order only affects the Indices output, which deftnn does not compute. */
function MaxPool(n: NodeIO): void {
  if (n.node.outputs[1]) n.fail(`the Indices output is not supported`);
  if (n.value(0).shape.length === 3) return importOnUnitAxis(n, false, ['storage_order']);
  if (n.value(0).shape.length === 5) return importPool3d(n, ['storage_order']);
  passthrough(n, ['storage_order']);
}

// 1-D forms ([N, C, L]) run on the 2-D kernels over a unit axis, 3-D ones as 2-D ops (other-ranks.ts).
function AveragePool(n: NodeIO): void {
  if (n.value(0).shape.length === 3) return importOnUnitAxis(n, false);
  if (n.value(0).shape.length === 5) return importPool3d(n);
  passthrough(n);
}
function Conv(n: NodeIO): void {
  if (n.value(0).shape.length === 3) return importOnUnitAxis(n, true);
  if (n.value(0).shape.length === 5) return importConv3d(n);
  passthrough(n);
}
function ConvTranspose(n: NodeIO): void {
  if (n.value(0).shape.length === 3) return importOnUnitAxis(n, true);
  if (n.value(0).shape.length === 5) return importConvTranspose3d(n);
  passthrough(n);
}


function Slice(n: NodeIO): void {
  const { starts, ends, axes, steps } = sliceArgs(n, n.value(0).shape);
  n.emit('Slice', [0], { starts, ends, axes, steps });
}

/** Gather's indices are load-time integers; the IR op takes them flattened, with their shape. */
function Gather(n: NodeIO): void {
  const indices = n.constant(1) ?? n.fail(`input 'indices' must be known at load time`);
  n.emit('Gather', [0], { axis: intAttrOf(n, 'axis', 0), indices: n.ints(1, 'indices'), indicesShape: [...indices.shape] });
}

function Split(n: NodeIO): void {
  const { axis, split } = splitSizes(n, n.value(0).shape);
  n.emit('Split', [0], { axis, split }, outputsGiven(n));
}

function reduce(n: NodeIO, inputSince: number): void {
  const axes = reduceAxes(n, n.value(0).shape.length, inputSince);
  if (axes === 'identity') return n.alias(0, 0);
  n.emit(n.node.opType, [0], { axes, keepdims: intAttrOf(n, 'keepdims', 1) });
}

function ReduceSum(n: NodeIO): void {
  reduce(n, 13);
}

function ReduceMean(n: NodeIO): void {
  reduce(n, 18);
}

function ReduceMax(n: NodeIO): void {
  reduce(n, 18);
}
// The other reductions took their axes as an input from opset 18, as ReduceMax did.
const ReduceMin = ReduceMax;
const ReduceProd = ReduceMax;

/**
 * Reductions that map or finish each element (x², |x|, log): with empty axes and
 * noop_with_empty_axes = 1 ONNX's spec says the input passes through unchanged while its
 * reference implementation maps it (onnxruntime 1.22 fails), so that form is refused.
 */
function mappingReduce(n: NodeIO): void {
  if (reduceAxes(n, n.value(0).shape.length, 18) === 'identity') n.fail(`noop_with_empty_axes = 1 with empty axes is ambiguous here (ONNX's spec passes the input through, its reference maps each element); not supported`);
  reduce(n, 18);
}
const ReduceSumSquare = mappingReduce;
const ReduceL1 = mappingReduce;
const ReduceL2 = mappingReduce;
const ReduceLogSum = mappingReduce;

/**
 * MeanVarianceNormalization (ONNX defines it as a function): (x - mean) / (sqrt(variance) + 1e-9)
 * over `axes` (default [0, 2, 3]), the variance as the mean of squared deviations (ONNX's body
 * takes E[x²] - E[x]², equal in exact arithmetic and less accurate in float32).
 */
function MeanVarianceNormalization(n: NodeIO): void {
  const rank = n.value(0).shape.length;
  const axes = (intsAttrOf(n, 'axes') ?? [0, 2, 3]).map((a) => normAxis(n, a, rank));
  const d = n.step('Sub', [0, n.step('ReduceMean', [0], { axes, keepdims: 1 })], {});
  const variance = n.step('ReduceMean', [n.step('Mul', [d, d], {})], { axes, keepdims: 1 });
  const eps = n.literal(makeConst('float32', [], [1e-9]));
  n.emit('Div', [d, n.step('Add', [n.step('Sqrt', [variance], {}), eps], {})], {});
}

function Pad(n: NodeIO): void {
  if (n.opset >= 11 && n.has(2) && !n.constant(2) && (n.attrs.mode ?? 'constant') === 'constant') return padWithRuntimeValue(n);
  n.emit('Pad', [0], padArgs(n, n.value(0).shape.length));
}

/**
 * Pad in constant mode with `constant_value` computed at run time (one value): negative pads crop
 * first (a Pad whose fill is never used), then each padded axis gets slabs of the value on either
 * side (value + zeros of the slab's shape, then a Concat). Exact for every value, inf and NaN too.
 */
function padWithRuntimeValue(n: NodeIO): void {
  const v = n.value(2);
  if (constSize(v.shape) !== 1) n.fail(`input 'constant_value' must hold one value, got shape [${v.shape.join(', ')}]`);
  const shape = [...n.value(0).shape];
  const rank = shape.length;
  const { pads } = padArgs(n, rank, false);
  const crop = pads.map((p) => Math.min(p, 0));
  const grow = Array.from({ length: rank }, (_, a) => [Math.max(pads[a], 0), Math.max(pads[a + rank], 0)]).flatMap(([b, e], axis) => (b || e ? [{ axis, b, e }] : []));
  if (!grow.length) return n.emit('Pad', [0], { pads: crop, mode: 'constant', value: 0 });
  let y: number | string = crop.some((p) => p < 0) ? n.step('Pad', [0], { pads: crop, mode: 'constant', value: 0 }) : 0;
  crop.forEach((p, k) => (shape[k % rank] += p));
  grow.forEach(({ axis, b, e }, k) => {
    const zeros = (len: number) => shape.map((d, a) => (a === axis ? len : d));
    const slab = (len: number) => n.step('Add', [2, n.literal(makeConst('float32', zeros(len), new Float32Array(constSize(zeros(len)))))], {});
    const parts = [...(b ? [slab(b)] : []), y, ...(e ? [slab(e)] : [])];
    shape[axis] += b + e;
    if (k === grow.length - 1) n.emit('Concat', parts, { axis });
    else y = n.step('Concat', parts, { axis });
  });
}

/**
 * Resize: the attributes as given (opset 18's `axes` included) plus the constant `scales` (floats)
 * or `sizes` (ints) input as an attribute; an empty `scales` (opset 11-12 with sizes) means sizes.
 */
function Resize(n: NodeIO): void {
  if (n.opset < 11) return resizeLegacy(n, floats(n, 1, 'scales'));
  const attrs: Record<string, RawAttrs[string]> = { ...n.attrs };
  if (n.attrs.coordinate_transformation_mode === 'tf_crop_and_resize' && n.has(1)) attrs.roi = floats(n, 1, 'roi');
  const scales = n.has(2) ? floats(n, 2, 'scales') : [];
  if (scales.length > 0) attrs.scales = scales;
  else if (n.has(3)) attrs.sizes = n.ints(3, 'sizes');
  else n.fail(`needs scales or sizes`);
  n.emit('Resize', [0], attrs);
}

/**
 * Resize-10 samples at x_out / scale ('asymmetric') and, for nearest, truncates when enlarging
 * and rounds up when shrinking (onnxruntime's behaviour before opset 11's nearest_mode).
 */
function resizeLegacy(n: NodeIO, scales: number[]): void {
  const mode = typeof n.attrs.mode === 'string' ? n.attrs.mode : 'nearest';
  const up = scales.every((s) => s >= 1);
  if (!up && !scales.every((s) => s <= 1)) n.fail(`scales [${scales.join(', ')}] both enlarge and shrink; not supported before opset 11`);
  n.emit('Resize', [0], { mode, coordinate_transformation_mode: 'asymmetric', nearest_mode: up ? 'floor' : 'ceil', scales });
}

/** Upsample's scales: an input since opset 9, an attribute in 7 and 8, height_scale/width_scale in 1. */
function Upsample(n: NodeIO): void {
  if (n.opset < 7) return n.emit('Upsample', [0], legacyUpsample(n));
  n.emit('Upsample', [0], { ...n.attrs, scales: n.has(1) ? floats(n, 1, 'scales') : (n.attrs.scales ?? n.fail(`needs scales`)) });
}

function floats(n: NodeIO, i: number, what: string): number[] {
  const c = n.constant(i) ?? n.fail(`input '${what}' must be known at load time`);
  return [...c.data];
}

/** Handlers by ONNX op_type. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  Constant,
  Shape,
  Size,
  Identity,
  Dropout,
  Cast,
  Reshape,
  Concat,
  Add,
  Sub,
  Mul,
  Div,
  Pow,
  Gemm,
  PRelu,
  Squeeze,
  Unsqueeze,
  Clip,
  Softmax,
  LogSoftmax,
  Hardmax,
  BatchNormalization,
  MaxPool,
  AveragePool,
  Conv,
  ConvTranspose,
  Slice,
  Gather,
  Split,
  ReduceSum,
  ReduceMean,
  ReduceMax,
  ReduceMin,
  ReduceProd,
  ReduceSumSquare,
  ReduceL1,
  ReduceL2,
  ReduceLogSum,
  MeanVarianceNormalization,
  DequantizeLinear,
  Range,
  Pad,
  Resize,
  Upsample,
  ...REARRANGE_HANDLERS,
  ...PICK_HANDLERS,
  ...LOSS_HANDLERS,
  ...GENERATOR_HANDLERS,
  ...RECURRENT_HANDLERS,
};

/**
 * The registry ops a handler may emit for a node that is not folded away (default: the op of the
 * same name). Used to list every unsupported node before anything runs.
 */
export const EMITS: Readonly<Record<string, readonly string[]>> = {
  Constant: [],
  Shape: [],
  Size: [],
  Identity: [],
  Dropout: [],
  Cast: [],
  MeanVarianceNormalization: ['ReduceMean', 'Sub', 'Mul', 'Sqrt', 'Add', 'Div'],
  DequantizeLinear: ['Reshape', 'Sub', 'Mul'],
  Range: [],
  ...REARRANGE_EMITS,
  ...PICK_EMITS,
  ...LOSS_EMITS,
  ...GENERATOR_EMITS,
  ...RECURRENT_EMITS,
};
