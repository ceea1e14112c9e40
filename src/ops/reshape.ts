// Ops that only change a tensor's shape: Flatten, Reshape, Squeeze, Unsqueeze. The data keeps its
// row-major order, so on WebGPU the output is the input's buffer under the new shape ('view'; the
// planner keeps that buffer alive while either name is in use), and on the CPU it shares the array.
//
// Our IR takes their shape arguments as attributes: the ONNX importer turns Reshape's constant
// `shape` input (and opset-13 Squeeze/Unsqueeze's constant `axes` input) into the attributes
// `shape: number[]` and `axes: number[]`.

import { shapeStr, sizeOf, type Shape } from '../tensor.js';
import { defineOp, intAttr, intsAttr, OpError, type OpDef, type RawAttrs } from './op.js';

interface ViewAttrs {
  /** The output shape, resolved from the attributes and the input shape. */
  readonly shape: readonly number[];
}

function viewOp(type: string, resolve: (raw: RawAttrs, x: Shape) => number[]): OpDef<ViewAttrs> {
  return defineOp<ViewAttrs>({
    type,
    arity: [1, 1],
    attrs: (raw, [x]) => ({ shape: resolve(raw, x) }),
    shape: (_inputs, { shape }) => [shape],
    cpu: ([x], { shape }) => [x.reshape(shape)],
    gpu: () => 'view',
    // The data never moved, so the gradient is the output's gradient under the input's shape
    // (allowzero: a 0 in that shape is a real empty dim, not "copy").
    grad: (g) => [g.emit('Reshape', [g.gradOutputs[0]!], { shape: [...g.inputShapes[0]], allowzero: 1 })],
  });
}

/** Normalise an axis in [-rank, rank) (or [-rank, rank] when `inclusive`), naming the attribute. */
function normAxis(axis: number, rank: number, what: string, shape: Shape, inclusive = false): number {
  const hi = inclusive ? rank : rank - 1;
  if (axis < -rank || axis > hi) {
    throw new OpError(`${what} = ${axis} is out of range [${-rank}, ${hi}] for input shape ${shapeStr(shape)}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Flatten: [d0 ... d(axis-1)] and [d(axis) ... ] each collapse to one dim; axis in [-r, r]. */
function flatten(raw: RawAttrs, x: Shape): number[] {
  const axis = normAxis(intAttr(raw, 'axis', 1), x.length, "attribute 'axis'", x, true);
  return [sizeOf(x.slice(0, axis)), sizeOf(x.slice(axis))];
}

/**
 * Reshape: a 0 copies the input dim at that index (unless allowzero = 1, which makes 0 a real
 * zero-sized dim), and one -1 takes whatever size is left.
 */
function reshape(raw: RawAttrs, x: Shape): number[] {
  const target = intsAttr(raw, 'shape');
  const allowzero = intAttr(raw, 'allowzero', 0);
  if (allowzero !== 0 && allowzero !== 1) throw new OpError(`attribute 'allowzero' must be 0 or 1, got ${allowzero}`);
  const want = `shape ${shapeStr(target)}`;
  const inferred = target.flatMap((d, i) => (d === -1 ? [i] : []));
  if (inferred.length > 1) throw new OpError(`${want} has more than one -1`);
  if (allowzero && inferred.length && target.includes(0)) {
    throw new OpError(`${want} has both 0 and -1, which allowzero = 1 forbids (the -1 would be ambiguous)`);
  }
  const out = target.map((d, i) => {
    if (d < -1) throw new OpError(`${want} has the invalid dim ${d} at index ${i}`);
    if (d !== 0 || allowzero) return d;
    if (i >= x.length) throw new OpError(`${want} copies dim ${i} (a 0) but the input ${shapeStr(x)} has rank ${x.length}`);
    return x[i];
  });
  const size = sizeOf(x);
  if (inferred.length) {
    const known = sizeOf(out.filter((d) => d !== -1));
    if (known === 0 || size % known !== 0) {
      throw new OpError(`cannot reshape input ${shapeStr(x)} (${size} elements) to ${want}: no size fits the -1`);
    }
    out[inferred[0]] = size / known;
  } else if (sizeOf(out) !== size) {
    throw new OpError(`cannot reshape input ${shapeStr(x)} (${size} elements) to ${shapeStr(out)} (${sizeOf(out)} elements)`);
  }
  return out;
}

/** Distinct normalised axes; the error names duplicates as given. */
function uniqueAxes(axes: readonly number[], rank: number, shape: Shape, what = "'axes' entry"): number[] {
  const norm = axes.map((a) => normAxis(a, rank, what, shape));
  if (new Set(norm).size !== norm.length) throw new OpError(`attribute 'axes' ${shapeStr(axes)} names an axis twice`);
  return norm;
}

/** Squeeze: remove the given size-1 dims, or every size-1 dim when `axes` is absent. */
function squeeze(raw: RawAttrs, x: Shape): number[] {
  if (raw.axes === undefined) return x.filter((d) => d !== 1);
  const axes = uniqueAxes(intsAttr(raw, 'axes'), x.length, x);
  for (const a of axes) {
    if (x[a] !== 1) throw new OpError(`cannot squeeze axis ${a} of input ${shapeStr(x)}: its size is ${x[a]}, not 1`);
  }
  return x.filter((_, i) => !axes.includes(i));
}

/** Unsqueeze: insert size-1 dims so that they sit at `axes` of the output. */
function unsqueeze(raw: RawAttrs, x: Shape): number[] {
  const given = intsAttr(raw, 'axes');
  const rank = x.length + given.length;
  const axes = uniqueAxes(given, rank, x, `'axes' entry (output rank ${rank})`);
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x[k++]);
  return out;
}

export const reshapeOps: OpDef<ViewAttrs>[] = [
  viewOp('Flatten', flatten),
  viewOp('Reshape', reshape),
  viewOp('Squeeze', squeeze),
  viewOp('Unsqueeze', unsqueeze),
];
