// Constant folding of the integer shape arithmetic that exporters emit around Reshape, Slice,
// Expand and friends. The importer calls a folder when every input of a node is known at load
// time; the result is an int-capable constant (constant.ts), never a runtime op. Float work on
// constants with no folder here goes through the op registry's CPU reference instead (import.ts).

import { stridesOf, type Shape } from '../tensor.js';
import { broadcastIndex, broadcastShapes, constSize, isFloat, makeConst, type Const, type DType } from './constant.js';
import { legacyCastTarget } from './legacy.js';
import { intAttrOf, intsAttrOf, normAxis, reshapeTarget, sliceArgs, sliceRanges, squeezeAxes, unsqueezeAxes, unsqueezeShape, type NodeIO } from './node.js';
import { MAX_TENSOR_ELEMENTS } from '../errors.js';

type Folder = (n: NodeIO) => Const[];

/** TensorProto.DataType numbers for Cast's `to`. */
export const ONNX_DTYPES: Readonly<Record<number, DType>> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64', 12: 'uint32', 13: 'uint64',
};

const c = (n: NodeIO, i: number): Const => n.constant(i) ?? n.fail(`input ${i} is not known at load time`);

/**
 * Most elements a fold may make from a few values (Expand, Range, ConstantOfShape): load-time
 * shape arithmetic is small, and these are the folds where a few bytes of a file could ask for
 * gigabytes; the broadcasting folds are also held to MAX_TENSOR_ELEMENTS.
 */
export const MAX_FOLDED_ELEMENTS = 2 ** 24;

function sized(n: NodeIO, shape: Shape, limit = MAX_TENSOR_ELEMENTS): Shape {
  const count = constSize(shape);
  if (!(count <= limit)) n.fail(`its output would have shape [${shape.join(', ')}] = ${count} elements, more than deftnn folds at load time (${limit})`);
  return shape;
}

const same = (x: Const, shape: Shape): Const => ({ dtype: x.dtype, shape: [...shape], data: x.data });

function binary(f: (a: number, b: number) => number, outDtype?: DType): Folder {
  return (n) => {
    const a = c(n, 0);
    let b = c(n, 1);
    // Before version 7 a broadcast B could be aligned with A from `axis` (legacy.ts).
    if (n.opset < 7 && n.attrs.axis !== undefined && intAttrOf(n, 'broadcast', 0)) {
      const axis = normAxis(n, intAttrOf(n, 'axis', 0), a.shape.length);
      b = same(b, [...b.shape, ...new Array<number>(Math.max(0, a.shape.length - axis - b.shape.length)).fill(1)]);
    }
    const shape = broadcastShapes([a.shape, b.shape]) ?? n.fail(`shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not broadcast`);
    sized(n, shape);
    const ia = broadcastIndex(a.shape, shape);
    const ib = broadcastIndex(b.shape, shape);
    const out = new Array<number>(constSize(shape));
    for (let i = 0; i < out.length; i++) out[i] = f(a.data[ia(i)], b.data[ib(i)]);
    return [makeConst(outDtype ?? a.dtype, shape, out)];
  };
}

/** Gather of `data` along `axis` at `indices` (negative indices count from the end). */
function gather(n: NodeIO, data: Const, indices: Const, axis: number): Const {
  const d = data.shape[axis];
  const outer = constSize(data.shape.slice(0, axis));
  const inner = constSize(data.shape.slice(axis + 1));
  const idx = [...indices.data].map((v) => {
    if (v < -d || v >= d) n.fail(`index ${v} is out of range for axis ${axis} of size ${d}`);
    return v < 0 ? v + d : v;
  });
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const k of idx) for (let i = 0; i < inner; i++) out.push(data.data[(o * d + k) * inner + i]);
  return makeConst(data.dtype, [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)], out);
}

export const FOLDS: Readonly<Record<string, Folder>> = {
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: (n) => {
    // Integer Div truncates (onnxruntime computes it in C++); float Div is plain division.
    const int = !isFloat(c(n, 0).dtype);
    if (int && [...c(n, 1).data].includes(0)) n.fail(`integer division by zero`);
    return binary((a, b) => (int ? Math.trunc(a / b) : a / b))(n);
  },
  Equal: binary((a, b) => (a === b ? 1 : 0), 'bool'),
  Neg: (n) => [makeConst(c(n, 0).dtype, c(n, 0).shape, c(n, 0).data.map((v) => -v))],
  Where: (n) => {
    const [cond, x, y] = [c(n, 0), c(n, 1), c(n, 2)];
    const shape = broadcastShapes([cond.shape, x.shape, y.shape]) ?? n.fail(`inputs do not broadcast`);
    sized(n, shape);
    const [ic, ix, iy] = [cond, x, y].map((t) => broadcastIndex(t.shape, shape));
    const out = Array.from({ length: constSize(shape) }, (_, i) => (cond.data[ic(i)] ? x.data[ix(i)] : y.data[iy(i)]));
    return [makeConst(x.dtype, shape, out)];
  },
  Expand: (n) => {
    const x = c(n, 0);
    const shape = broadcastShapes([x.shape, n.ints(1, 'shape')]) ?? n.fail(`cannot expand [${x.shape.join(', ')}] to [${n.ints(1, 'shape').join(', ')}]`);
    sized(n, shape, MAX_FOLDED_ELEMENTS);
    const ix = broadcastIndex(x.shape, shape);
    return [makeConst(x.dtype, shape, Array.from({ length: constSize(shape) }, (_, i) => x.data[ix(i)]))];
  },
  Cast: (n) => {
    const to = n.opset < 6 ? n.attrs.to : intAttrOf(n, 'to', 0);
    const dtype = (n.opset < 6 ? legacyCastTarget(n) : ONNX_DTYPES[to as number]) ?? n.fail(`Cast to data type ${to} is not supported`);
    return [makeConst(dtype, c(n, 0).shape, c(n, 0).data)];
  },
  Gather: (n) => {
    const data = c(n, 0);
    return [gather(n, data, c(n, 1), normAxis(n, intAttrOf(n, 'axis', 0), data.shape.length))];
  },
  Concat: (n) => {
    const parts = n.node.inputs.map((_, i) => c(n, i));
    const rank = parts[0].shape.length;
    const axis = normAxis(n, intAttrOf(n, 'axis', n.opset < 4 ? 1 : 0), rank);
    for (const p of parts) {
      if (p.shape.length !== rank || p.shape.some((d, k) => k !== axis && d !== parts[0].shape[k])) {
        n.fail(`cannot concatenate shapes ${parts.map((q) => `[${q.shape.join(', ')}]`).join(', ')} on axis ${axis}`);
      }
    }
    const outer = constSize(parts[0].shape.slice(0, axis));
    const out: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (const p of parts) {
        const block = constSize(p.shape.slice(axis));
        for (let i = 0; i < block; i++) out.push(p.data[o * block + i]);
      }
    }
    const shape = [...parts[0].shape];
    shape[axis] = parts.reduce((a, p) => a + p.shape[axis], 0);
    return [makeConst(parts[0].dtype, shape, out)];
  },
  Slice: (n) => {
    const x = c(n, 0);
    const ranges = sliceRanges(x.shape, sliceArgs(n, x.shape));
    const shape = ranges.map((r) => r.count);
    const strides = stridesOf(x.shape);
    const out = new Array<number>(constSize(shape));
    for (let i = 0; i < out.length; i++) {
      let rem = i;
      let src = 0;
      for (let k = shape.length - 1; k >= 0; k--) {
        const j = rem % shape[k];
        rem = Math.floor(rem / shape[k]);
        src += (ranges[k].start + j * ranges[k].step) * strides[k];
      }
      out[i] = x.data[src];
    }
    return [makeConst(x.dtype, shape, out)];
  },
  Squeeze: (n) => {
    const x = c(n, 0);
    const axes = squeezeAxes(n, x.shape);
    return [same(x, x.shape.filter((_, i) => !axes.includes(i)))];
  },
  Unsqueeze: (n) => {
    const x = c(n, 0);
    return [same(x, unsqueezeShape(x.shape, unsqueezeAxes(n, x.shape.length)))];
  },
  Reshape: (n) => {
    const x = c(n, 0);
    const raw = n.opset < 5 ? (intsAttrOf(n, 'shape') ?? n.fail(`attribute 'shape' is required`)) : n.ints(1, 'shape');
    return [same(x, reshapeTarget(n, x.shape, raw))];
  },
  Flatten: (n) => {
    const x = c(n, 0);
    const axis = normAxis(n, intAttrOf(n, 'axis', 1), x.shape.length + 1);
    return [same(x, [constSize(x.shape.slice(0, axis)), constSize(x.shape.slice(axis))])];
  },
  Range: (n) => {
    const [start, limit, delta] = [0, 1, 2].map((i) => n.scalar(i, ['start', 'limit', 'delta'][i]));
    if (delta === 0) n.fail(`delta must not be 0`);
    const count = Math.max(Math.ceil((limit - start) / delta), 0);
    sized(n, [count], MAX_FOLDED_ELEMENTS);
    return [makeConst(c(n, 0).dtype, [count], Array.from({ length: count }, (_, i) => start + i * delta))];
  },
  ConstantOfShape: (n) => {
    const shape = n.ints(0, 'shape');
    if (shape.some((d) => d < 0)) n.fail(`shape [${shape.join(', ')}] has a negative dimension`);
    const v = n.node.tensors.value;
    if (v && constSize(v.shape) !== 1) n.fail(`attribute 'value' must hold one element`);
    sized(n, shape, MAX_FOLDED_ELEMENTS);
    return [makeConst(v?.dtype ?? 'float32', shape, new Array(constSize(shape)).fill(v ? v.data[0] : 0))];
  },
};
