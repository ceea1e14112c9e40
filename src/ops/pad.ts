// Pad: constant, reflect, edge and wrap (opset 19) padding of any rank; negative pads crop.
//
// Our IR carries `pads` (ONNX layout [x1_begin, x2_begin, ..., x1_end, x2_end, ...]) and the
// constant `value` as attributes; the ONNX importer turns opset-11+'s `pads` / `constant_value`
// inputs (and opset-18's `axes` input) into them. With `axes`, `pads` has 2·len(axes) entries and
// the other axes are not padded.
//
// Negative pads crop first, and the positive pads then pad the cropped tensor (onnxruntime's
// order): a reflection or edge copy mirrors the cropped region, not the original one. Per axis,
// output coordinate o maps to j = o - max(begin, 0) in the cropped region of length L, whose
// first element sits at max(-begin, 0) in the input; j outside [0, L) is padding:
//   constant → value; edge → clamp(j, 0, L-1); wrap → j mod L;
//   reflect → mirror without repeating the border (numpy's 'reflect'), periodic with 2(L-1).
// Checked against onnxruntime 1.22, which agrees everywhere except reflect pads of L or more:
// there it writes zeros, and we keep reflecting as numpy (the ONNX reference) does.

import { sizeOf, stridesOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, i32, linearGrid, u32, unravelWgsl } from '../kernels/wgsl.js';
import { axesAttr, defineOp, floatAttr, intsAttr, OpError, stringAttr, type RawAttrs } from './op.js';
import { type Binding } from '../kernels/context.js';

const MODES = ['constant', 'reflect', 'edge', 'wrap'] as const;
type PadMode = (typeof MODES)[number];

export interface PadAttrs {
  readonly mode: PadMode;
  /** Per axis of the input: [begin..., end...], zeros for axes not listed in `axes`. */
  readonly pads: readonly number[];
  readonly value: number;
}

/** Where output coordinate `o` reads along one axis, or -1 for the constant. */
export function padSource(o: number, begin: number, end: number, n: number, mode: PadMode): number {
  const cropStart = Math.max(-begin, 0);
  const len = n - cropStart - Math.max(-end, 0);
  const j = o - Math.max(begin, 0);
  let k: number;
  if (j >= 0 && j < len) k = j;
  else if (mode === 'constant') return -1;
  else if (mode === 'edge') k = Math.min(Math.max(j, 0), len - 1);
  else if (mode === 'wrap') k = ((j % len) + len) % len;
  else if (len === 1) k = 0;
  else {
    const period = 2 * (len - 1);
    const m = ((j % period) + period) % period;
    k = m < len ? m : period - m;
  }
  return cropStart + k;
}

function resolve(raw: RawAttrs, [x]: readonly Shape[]): PadAttrs {
  const rank = x.length;
  const mode = stringAttr(raw, 'mode', 'constant');
  if (!(MODES as readonly string[]).includes(mode)) throw new OpError(`attribute 'mode' must be one of ${MODES.join(', ')}, got '${mode}'`);
  const value = floatAttr(raw, 'value', 0);
  const given = intsAttr(raw, 'pads');
  const axes = axesAttr(raw, 'axes', rank);
  if (given.length !== 2 * axes.length) {
    throw new OpError(`attribute 'pads' needs ${2 * axes.length} values (begin and end for ${axes.length} axes), got ${given.length}`);
  }
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, k) => {
    pads[a] = given[k];
    pads[a + rank] = given[k + axes.length];
  });
  for (let a = 0; a < rank; a++) {
    const [b, e] = [pads[a], pads[a + rank]];
    const len = x[a] - Math.max(-b, 0) - Math.max(-e, 0);
    if (len < 0 || x[a] + b + e < 0) throw new OpError(`attribute 'pads' crops axis ${a} (length ${x[a]}) by more than its length: [${b}, ${e}]`);
    if (mode !== 'constant' && len === 0 && Math.max(b, 0) + Math.max(e, 0) > 0) {
      throw new OpError(`mode '${mode}' cannot pad axis ${a}: it has no elements to copy from`);
    }
  }
  return { mode: mode as PadMode, pads, value };
}

function outShape(x: Shape, a: PadAttrs): number[] {
  return x.map((d, i) => d + a.pads[i] + a.pads[i + x.length]);
}

function padCpu(x: Tensor, a: PadAttrs): Tensor {
  const shape = outShape(x.shape, a);
  const out = new Float32Array(sizeOf(shape));
  const inStrides = stridesOf(x.shape);
  const outStrides = stridesOf(shape);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let d = 0; d < shape.length && src >= 0; d++) {
      const o = Math.floor(i / outStrides[d]) % shape[d];
      const s = padSource(o, a.pads[d], a.pads[d + shape.length], x.shape[d], a.mode);
      src = s < 0 ? -1 : src + s * inStrides[d];
    }
    out[i] = src < 0 ? a.value : x.data[src];
  }
  return new Tensor(shape, out);
}

/** WGSL computing `s${d}: i32`, the input coordinate along axis d of output coordinate `o${d}` (-1 = constant). */
function axisWgsl(d: number, begin: number, end: number, n: number, mode: PadMode): string {
  const cropStart = Math.max(-begin, 0);
  const len = n - cropStart - Math.max(-end, 0);
  const j = `(i32(o${d}) - ${i32(Math.max(begin, 0))})`;
  if (begin <= 0 && end <= 0) return `  let s${d} = i32(o${d}) + ${i32(cropStart)};`; // only cropping
  let pad: string;
  if (mode === 'constant') pad = '-1';
  else if (mode === 'edge') pad = `clamp(j${d}, 0, ${i32(len - 1)})`;
  else if (mode === 'wrap') pad = `((j${d} % ${i32(len)}) + ${i32(len)}) % ${i32(len)}`;
  else if (len === 1) pad = '0';
  else {
    const p = i32(2 * (len - 1));
    pad = `select(${p} - m${d}, m${d}, m${d} < ${i32(len)})`;
  }
  const m = mode === 'reflect' && len > 1 ? `\n  let m${d} = ((j${d} % ${i32(2 * (len - 1))}) + ${i32(2 * (len - 1))}) % ${i32(2 * (len - 1))};` : '';
  const padded = mode === 'constant' ? pad : `${pad} + ${i32(cropStart)}`;
  return `  let j${d} = ${j};${m}
  let s${d} = select(${padded}, j${d} + ${i32(cropStart)}, j${d} >= 0 && j${d} < ${i32(len)});`;
}

const WG = 256;

export const padOp = defineOp<PadAttrs>({
  type: 'Pad',
  arity: [1, 1],
  attrs: resolve,
  shape: ([x], a) => [outShape(x, a)],
  cpu: ([x], a) => [padCpu(x, a)],
  gpu: ([x], [out], a, ctx) => {
    const n = sizeOf(out);
    if (n === 0) return [];
    const rank = x.length;
    // The constant goes in as a one-element array: ±Inf and NaN (used before max pooling) are
    // not WGSL literals, and equal shapes with different values then share one pipeline.
    const value = { constant: new Float32Array([a.value]) };
    if (sizeOf(x) === 0) {
      // Constant padding of an empty tensor: nothing to read, so x is not bound.
      const wgsl = `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> value: array<f32>;
${elementwiseMain(n, WG, '  y[i] = value[0];')}`;
      return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ output: 0 }, value] }];
    }
    const strides = stridesOf(x);
    const axes = x.map((d, i) => axisWgsl(i, a.pads[i], a.pads[i + rank], d, a.mode));
    const offset = x.map((_, d) => `u32(s${d}) * ${u32(strides[d])}`).join(' + ') || '0u';
    let decls = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;`;
    let store = `  y[i] = x[${offset}];`;
    const bindings: Binding[] = [{ input: 0 }, { output: 0 }];
    if (a.mode === 'constant') {
      // Only constant mode has coordinates outside x (marked -1).
      const inside = x.map((_, d) => `s${d} >= 0`).join(' && ') || 'true';
      decls += '\n@group(0) @binding(2) var<storage, read> value: array<f32>;';
      store = `  if (${inside}) { y[i] = x[${offset}]; } else { y[i] = value[0]; }`;
      bindings.push(value);
    }
    const wgsl = `${decls}
${elementwiseMain(n, WG, `${unravelWgsl('i', out, 'o')}\n${axes.join('\n')}\n${store}`)}`;
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings }];
  },
});
