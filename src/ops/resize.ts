// Resize (opset 11+) in modes nearest, linear and cubic, and Upsample (opsets 7-9) on top of it.
//
// Our IR carries the target as an attribute: `scales: number[]` or `sizes: number[]` (exactly
// one; with opset-18's `axes`, one entry per listed axis). The ONNX importer converts the
// constant `scales` / `sizes` inputs, and for tf_crop_and_resize the constant `roi` (starts then
// ends, of every axis or of `axes`; with sizes only, see cropOf).
// With scales, output length = floor(input length · scale); with sizes, scale = size / input.
//
// Every axis is resized independently, so the op is a per-axis table of source taps computed
// once at plan time (in float32, step by step, as onnxruntime does, so that ties such as
// x_original = 2.5 round the same way): nearest reads one input coordinate per output
// coordinate, linear blends two with weights (N-linear over every resized axis; bilinear on H, W
// for images), cubic blends four. Both the CPU reference and the WebGPU kernel read the same
// tables, which go to the GPU as a constant array; the coordinate rules themselves are checked
// against hand-computed values in the tests.
//
// Coordinate transformation (x = output coordinate, s = scale, in/out = axis lengths):
//   half_pixel            (x + 0.5) / s - 0.5
//   half_pixel_symmetric  half_pixel shifted by in/2 · (1 - floor(in·s) / (in·s))
//   pytorch_half_pixel    out > 1 ? (x + 0.5) / s - 0.5 : 0
//   align_corners         out == 1 ? 0 : x · (in - 1) / (out - 1)
//   asymmetric            x / s
//   tf_half_pixel_for_nn  (x + 0.5) / s
//   tf_crop_and_resize    out > 1 ? start·(in - 1) + x·(end - start)·(in - 1) / (out - 1)
//                                 : (start + end)/2 · (in - 1); an output element that any axis
//                         maps outside [0, in - 1] is extrapolation_value (default 0)
// Nearest then rounds (round_prefer_floor, round_prefer_ceil, floor, ceil) and clamps to the
// axis; linear takes floor(x) and floor(x) + 1 with weight x - floor(x), both clamped to the
// axis (the edge value continues outside, as in the ONNX reference and onnxruntime). Cubic takes
// floor(x) - 1 .. floor(x) + 2 with Keys' weights for t = x - floor(x) and A = cubic_coeff_a
// (default -0.75), clamped to the axis, or with exclude_outside = 1 the taps outside the axis
// dropped and the others' weights renormalised to sum 1 (the ONNX reference's rule).
//
// Where the ONNX reference implementation and onnxruntime disagree we follow onnxruntime, which
// is also what the spec's words say: align_corners divides by the resized tensor's integer
// length (the reference uses in·scale, 2.4 rather than 2, in its downsample test). Checked
// against onnxruntime 1.22 on every mode above; the one known difference is that exact ties in
// half_pixel_symmetric (x_original exactly on .5 or on an integer in exact arithmetic) can land
// on either side after float32 rounding, and onnxruntime's rounding there is not reproduced.
//
// Backward: the op is linear and separable, y = (T_0 ⊗ T_1 ⊗ ...) x with one tap matrix per
// axis, so gx = (T_0ᵀ ⊗ T_1ᵀ ⊗ ...) gy: one ResizeAxisGrad node per resized axis, each applying
// one axis's transposed taps (every input coordinate sums the output coordinates that read it,
// with their weights; a gather over a per-coordinate list, so no atomics are needed).

import { sizeOf, stridesOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, linearGrid, u32, unravelWgsl } from '../kernels/wgsl.js';
import { axesAttr, defineOp, floatAttr, floatsAttr, intAttr, intsAttr, OpError, stringAttr, type GradContext, type RawAttrs } from './op.js';
import { type Binding, type Dispatch, type KernelContext } from '../kernels/context.js';

const COORD_MODES = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'] as const;
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'] as const;
type CoordMode = (typeof COORD_MODES)[number];
type NearestMode = (typeof NEAREST_MODES)[number];

/**
 * Where the output coordinates of a resized axis read: output coordinate o is
 * Σ_k weight[o·taps + k] · x[index[o·taps + k]]. taps is 1 when every coordinate copies one input
 * coordinate (nearest, or linear that lands on input points; weight 1), else 2 (linear) or up to
 * 4 (cubic); a coordinate with fewer taps than the axis repeats its last one with weight 0.
 */
interface AxisTaps {
  readonly taps: number;
  readonly index: readonly number[];
  readonly weight: readonly number[];
  /** tf_crop_and_resize: output coordinates that map outside the input (their weights are 0). */
  readonly outside?: readonly boolean[];
}

export interface ResizeAttrs {
  readonly shape: readonly number[];
  /** Per axis: null when output coordinate o simply reads input coordinate o. */
  readonly axes: readonly (AxisTaps | null)[];
  /** tf_crop_and_resize: the value of an output element that some axis maps outside the input. */
  readonly extrapolation: number;
}

const fr = Math.fround;

/** The input coordinate (float32) that output coordinate x maps to; `crop`: tf_crop_and_resize's roi start and end on this axis. */
export function originalCoordinate(mode: CoordMode, x: number, scale: number, inLen: number, outLen: number, crop: readonly [number, number] = [0, 1]): number {
  switch (mode) {
    case 'tf_crop_and_resize': {
      const [start, end] = crop;
      return outLen > 1 ? fr(start * (inLen - 1) + (x * (end - start) * (inLen - 1)) / (outLen - 1)) : fr(0.5 * (start + end) * (inLen - 1));
    }
    case 'half_pixel':
      return fr(fr(fr(x + 0.5) / scale) - 0.5);
    case 'half_pixel_symmetric': {
      const outF = fr(inLen * scale);
      const adjustment = fr(outLen / outF);
      const offset = fr(fr(inLen / 2) * fr(1 - adjustment));
      return fr(offset + fr(fr(fr(x + 0.5) / scale) - 0.5));
    }
    case 'pytorch_half_pixel':
      return outLen > 1 ? fr(fr(fr(x + 0.5) / scale) - 0.5) : 0;
    case 'align_corners':
      return outLen === 1 ? 0 : fr(fr(x * (inLen - 1)) / (outLen - 1));
    case 'asymmetric':
      return fr(x / scale);
    case 'tf_half_pixel_for_nn':
      return fr(fr(x + 0.5) / scale);
  }
}

export function nearestIndex(mode: NearestMode, x: number): number {
  switch (mode) {
    case 'round_prefer_floor':
      return Math.ceil(x - 0.5);
    case 'round_prefer_ceil':
      return Math.floor(x + 0.5);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
  }
}

interface Resolved {
  mode: 'nearest' | 'linear' | 'cubic';
  coord: CoordMode;
  nearest: NearestMode;
  /** Cubic only: Keys' A, and whether taps outside the axis are dropped. */
  cubicA: number;
  excludeOutside: boolean;
}

/** Keys' cubic convolution weights of the taps at floor(x) - 1 .. floor(x) + 2, t = x - floor(x). */
export function cubicWeights(t: number, A: number): number[] {
  const far = (d: number) => ((A * d - 5 * A) * d + 8 * A) * d - 4 * A; // 1 <= d < 2
  const near = (d: number) => ((A + 2) * d - (A + 3)) * d * d + 1; // 0 <= d < 1
  return [far(t + 1), near(t), near(1 - t), far(2 - t)];
}

/** The taps (input coordinate, weight) of output coordinate o, before merging. */
function coordinateTaps(r: Resolved, x: number, inLen: number): [number, number][] {
  const clamp = (i: number) => Math.min(Math.max(i, 0), inLen - 1);
  if (r.mode === 'nearest') return [[clamp(nearestIndex(r.nearest, x)), 1]];
  const f = Math.floor(x);
  if (r.mode === 'linear') return [[clamp(f), 1 - fr(x - f)], [clamp(f + 1), fr(x - f)]];
  let taps = cubicWeights(x - f, r.cubicA).map((w, k): [number, number] => [f - 1 + k, w]);
  if (r.excludeOutside) {
    taps = taps.filter(([i]) => i >= 0 && i < inLen);
    const sum = taps.reduce((s, [, w]) => s + w, 0);
    taps = taps.map(([i, w]) => [i, w / sum]);
  }
  return taps.map(([i, w]) => [clamp(i), w]);
}

function axisTaps(r: Resolved, scale: number, inLen: number, outLen: number, crop?: readonly [number, number]): AxisTaps | null {
  // Per coordinate: taps on one input coordinate merged, zero weights dropped; a coordinate left
  // with one tap copies it (weight exactly 1: the weights of every mode sum to 1).
  const outside: boolean[] = [];
  const lists = Array.from({ length: outLen }, (_, o) => {
    const x = originalCoordinate(r.coord, o, scale, inLen, outLen, crop);
    outside.push(r.coord === 'tf_crop_and_resize' && (x < 0 || x > inLen - 1));
    if (outside[o]) return [[0, 0]];
    const merged = new Map<number, number>();
    for (const [i, w] of coordinateTaps(r, x, inLen)) merged.set(i, (merged.get(i) ?? 0) + w);
    const kept = [...merged].filter(([, w]) => w !== 0);
    return kept.length === 1 ? [[kept[0][0], 1]] : kept.length ? kept : [[0, 0]];
  });
  const taps = Math.max(...lists.map((l) => l.length));
  const out = outside.some(Boolean) ? { outside } : {};
  if (taps === 1 && inLen === outLen && !out.outside && lists.every(([[i]], o) => i === o)) return null;
  const index: number[] = [];
  const weight: number[] = [];
  for (const l of lists) {
    for (let k = 0; k < taps; k++) {
      index.push(l[Math.min(k, l.length - 1)][0]);
      weight.push(k < l.length ? fr(l[k][1]) : 0);
    }
  }
  return { taps, index, weight, ...out };
}

/** Target lengths and scales per axis from `scales` or `sizes` (over `axes` when given). */
function target(raw: RawAttrs, x: Shape): { scales: number[]; shape: number[] } {
  const rank = x.length;
  const axes = axesAttr(raw, 'axes', rank);
  const hasScales = raw.scales !== undefined;
  const hasSizes = raw.sizes !== undefined;
  if (hasScales === hasSizes) throw new OpError(`needs exactly one of the attributes 'scales' and 'sizes'`);
  const scales = x.map(() => 1);
  const shape = [...x];
  if (hasScales) {
    const given = floatsAttr(raw, 'scales');
    if (given.length !== axes.length) throw new OpError(`attribute 'scales' needs ${axes.length} values, got ${given.length}`);
    given.forEach((s, k) => {
      if (!(s > 0) || !Number.isFinite(s)) throw new OpError(`attribute 'scales' must be positive, got ${s} for axis ${axes[k]}`);
      scales[axes[k]] = fr(s);
      shape[axes[k]] = Math.floor(fr(x[axes[k]] * fr(s)));
    });
  } else {
    const given = intsAttr(raw, 'sizes');
    if (given.length !== axes.length) throw new OpError(`attribute 'sizes' needs ${axes.length} values, got ${given.length}`);
    given.forEach((n, k) => {
      if (n < 1) throw new OpError(`attribute 'sizes' must be positive, got ${n} for axis ${axes[k]}`);
      if (x[axes[k]] === 0) throw new OpError(`cannot resize axis ${axes[k]} of length 0 to ${n}`);
      shape[axes[k]] = n;
      scales[axes[k]] = fr(n / x[axes[k]]);
    });
  }
  return { scales, shape };
}

function tables(r: Resolved, x: Shape, scales: number[], shape: number[], crop?: readonly (readonly [number, number])[], extrapolation = 0): ResizeAttrs {
  // An axis with scale 1 is not resized (onnxruntime does the same): the transformation would
  // otherwise shift it in tf_half_pixel_for_nn, where x_original = x + 0.5; unless
  // tf_crop_and_resize crops it. An axis of length 0 stays empty and needs no taps either.
  const cropped = (d: number) => !!crop && (crop[d][0] !== 0 || crop[d][1] !== 1);
  const resized = (d: number) => (scales[d] !== 1 || cropped(d)) && x[d] > 0 && shape[d] > 0;
  return { shape, axes: x.map((len, d) => (resized(d) ? axisTaps(r, scales[d], len, shape[d], crop?.[d]) : null)), extrapolation };
}

/** tf_crop_and_resize's `roi` (starts, then ends, of every axis or of `axes`) as [start, end] per axis. */
function cropOf(raw: RawAttrs, x: Shape): [number, number][] {
  const axes = axesAttr(raw, 'axes', x.length);
  if (raw.roi === undefined) throw new OpError(`coordinate_transformation_mode 'tf_crop_and_resize' needs the roi input`);
  if (raw.sizes === undefined) throw new OpError(`tf_crop_and_resize with scales is not supported (ONNX sizes the output by the roi, onnxruntime by the scales alone); give sizes`);
  const roi = floatsAttr(raw, 'roi');
  if (roi.length !== 2 * axes.length) throw new OpError(`roi needs ${2 * axes.length} values (starts, then ends), got ${roi.length}`);
  const crop = x.map((): [number, number] => [0, 1]);
  axes.forEach((a, k) => (crop[a] = [roi[k], roi[k + axes.length]]));
  return crop;
}

function oneOf<T extends string>(raw: RawAttrs, name: string, allowed: readonly T[], dflt: T): T {
  const v = stringAttr(raw, name, dflt);
  if (!(allowed as readonly string[]).includes(v)) throw new OpError(`attribute '${name}' must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

function resizeAttrs(raw: RawAttrs, [x]: readonly Shape[]): ResizeAttrs {
  const mode = oneOf(raw, 'mode', ['nearest', 'linear', 'cubic'] as const, 'nearest');
  const coord = oneOf(raw, 'coordinate_transformation_mode', COORD_MODES, 'half_pixel');
  const nearest = oneOf(raw, 'nearest_mode', NEAREST_MODES, 'round_prefer_floor');
  if (intAttr(raw, 'antialias', 0) !== 0) throw new OpError(`antialias = 1 is not supported`);
  const policy = stringAttr(raw, 'keep_aspect_ratio_policy', 'stretch');
  if (policy !== 'stretch') throw new OpError(`keep_aspect_ratio_policy '${policy}' is not supported (stretch is)`);
  const cubicA = floatAttr(raw, 'cubic_coeff_a', -0.75);
  const excludeOutside = intAttr(raw, 'exclude_outside', 0) !== 0;
  const { scales, shape } = target(raw, x);
  const crop = coord === 'tf_crop_and_resize' ? cropOf(raw, x) : undefined;
  return tables({ mode, coord, nearest, cubicA, excludeOutside }, x, scales, shape, crop, floatAttr(raw, 'extrapolation_value', 0));
}

/** Upsample (opsets 7-9): asymmetric coordinates, nearest rounds down; scales ≥ 1. */
function upsampleAttrs(raw: RawAttrs, [x]: readonly Shape[]): ResizeAttrs {
  let mode = stringAttr(raw, 'mode', 'nearest');
  if (mode === 'bilinear') mode = 'linear'; // opset 7's name
  if (mode !== 'nearest' && mode !== 'linear') throw new OpError(`attribute 'mode' must be nearest or linear, got '${mode}'`);
  const given = floatsAttr(raw, 'scales');
  if (given.length !== x.length) throw new OpError(`attribute 'scales' needs ${x.length} values, got ${given.length}`);
  if (given.some((s) => !(s >= 1) || !Number.isFinite(s))) throw new OpError(`attribute 'scales' must be at least 1 for Upsample, got [${given.join(', ')}]`);
  const { scales, shape } = target({ scales: given }, x);
  return tables({ mode, coord: 'asymmetric', nearest: 'floor', cubicA: -0.75, excludeOutside: false }, x, scales, shape);
}

function resizeCpu(x: Tensor, a: ResizeAttrs): Tensor {
  const out = a.shape;
  const inStrides = stridesOf(x.shape);
  const outStrides = stridesOf(out);
  const y = new Float32Array(sizeOf(out));
  for (let i = 0; i < y.length; i++) {
    const o = out.map((len, d) => Math.floor(i / outStrides[d]) % len);
    // Blend axis by axis: value(d, offset) interpolates the remaining axes d.. at `offset`.
    const value = (d: number, offset: number): number => {
      if (d === out.length) return x.data[offset];
      const t = a.axes[d];
      if (!t) return value(d + 1, offset + o[d] * inStrides[d]);
      if (t.taps === 1) return value(d + 1, offset + t.index[o[d]] * inStrides[d]);
      let s = 0;
      for (let k = o[d] * t.taps; k < (o[d] + 1) * t.taps; k++) s += t.weight[k] * value(d + 1, offset + t.index[k] * inStrides[d]);
      return s;
    };
    y[i] = a.axes.some((t, d) => t?.outside?.[o[d]]) ? a.extrapolation : value(0, 0);
  }
  return new Tensor(out, y);
}

const WG = 256;

function resizeGpu([x]: readonly Shape[], [out]: readonly Shape[], a: ResizeAttrs, ctx: KernelContext): Dispatch[] {
  const n = sizeOf(out);
  if (n === 0) return [];
  const inStrides = stridesOf(x);
  // The table: per resized axis and output coordinate, the input offsets (coordinate · stride)
  // of its taps, and for blending axes each weight's f32 bits after them.
  const table: number[] = [];
  const lines: string[] = [];
  const fixed: string[] = [];
  const blended: { d: number; taps: number }[] = [];
  const outside: string[] = [];
  out.forEach((_, d) => {
    const t = a.axes[d];
    if (!t) {
      if (out[d] > 1) fixed.push(`o${d} * ${u32(inStrides[d])}`);
      return;
    }
    if (t.outside) {
      // tf_crop_and_resize: 1 where this axis maps the coordinate outside the input.
      outside.push(`tab[${u32(table.length)} + o${d}] != 0u`);
      table.push(...t.outside.map(Number));
    }
    const at = table.length;
    const bits = new Uint32Array(new Float32Array(t.weight).buffer);
    for (let o = 0; o < out[d]; o++) {
      for (let k = o * t.taps; k < (o + 1) * t.taps; k++) table.push(t.index[k] * inStrides[d]);
      if (t.taps > 1) table.push(...bits.subarray(o * t.taps, (o + 1) * t.taps));
    }
    if (t.taps === 1) fixed.push(`tab[${u32(at)} + o${d}]`);
    else {
      lines.push(`  let e${d} = ${u32(at)} + ${u32(2 * t.taps)} * o${d};`);
      blended.push({ d, taps: t.taps });
    }
  });
  // Σ_k w_k · v_k, nested over the blending axes; tap k of axis d: offset tab[e_d + k], weight
  // tab[e_d + taps + k].
  const value = (j: number, offset: string): string => {
    if (j === blended.length) return `x[${offset}]`;
    const { d, taps } = blended[j];
    const terms = Array.from({ length: taps }, (_, k) => `bitcast<f32>(tab[e${d} + ${u32(taps + k)}]) * ${value(j + 1, `${offset} + tab[e${d} + ${u32(k)}]`)}`);
    return `(${terms.join(' + ')})`;
  };
  const body = `${unravelWgsl('i', out, 'o')}
  let base = ${fixed.join(' + ') || '0u'};
${lines.join('\n')}
  y[i] = ${outside.length ? `select(${value(0, 'base')}, bitcast<f32>(tab[${u32(table.length)}]), ${outside.join(' || ')})` : value(0, 'base')};`;
  // The extrapolation value's bits at the table's end (a WGSL literal cannot be inf or NaN).
  if (outside.length) table.push(new Uint32Array(Float32Array.of(a.extrapolation).buffer)[0]);
  const decls = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;${table.length ? '\n@group(0) @binding(2) var<storage, read> tab: array<u32>;' : ''}`;
  const wgsl = `${decls}\n${elementwiseMain(n, WG, body)}`;
  const bindings: Binding[] = [{ input: 0 }, { output: 0 }];
  if (table.length) bindings.push({ constant: Uint32Array.from(table) });
  return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings }];
}

function resizeDef(type: 'Resize' | 'Upsample', attrs: (raw: RawAttrs, inputs: readonly Shape[]) => ResizeAttrs) {
  return defineOp<ResizeAttrs>({
    type,
    arity: [1, 1],
    attrs,
    shape: (_, a) => [a.shape],
    cpu: ([x], a) => [resizeCpu(x, a)],
    gpu: (inputs, outputs, a, ctx) => {
      if (a.axes.every((t) => t === null)) return 'view'; // same shape, every coordinate maps to itself
      return resizeGpu(inputs, outputs, a, ctx);
    },
    grad: resizeGrad,
  });
}

function resizeGrad(g: GradContext<ResizeAttrs>): (string | undefined)[] {
  if (!g.wants[0]) return [undefined];
  let grad = g.gradOutputs[0]!;
  g.attrs.axes.forEach((t, axis) => {
    if (t) grad = g.emit('ResizeAxisGrad', [grad], { axis, input_length: g.inputShapes[0][axis], taps: t.taps, index: [...t.index], weight: [...t.weight] });
  });
  return [grad];
}

// ---- ResizeAxisGrad: one axis's transposed taps ----

export interface AxisGradAttrs {
  readonly axis: number;
  readonly shape: readonly number[];
  /** CSR by input coordinate: the output coordinates reading it, from start[i] to start[i + 1]. */
  readonly start: readonly number[];
  readonly from: readonly number[];
  readonly weight: readonly number[];
}

/**
 * gy: the gradient of a Resize output; attributes `axis`, `input_length` and that axis's taps:
 * `taps` per output coordinate, `index` and `weight` (output coordinate o read
 * Σ_k weight[o·taps + k] · x[index[o·taps + k]]).
 */
function axisGradAttrs(raw: RawAttrs, [gy]: readonly Shape[]): AxisGradAttrs {
  const axis = intAttr(raw, 'axis');
  if (axis < 0 || axis >= gy.length) throw new OpError(`ResizeAxisGrad: axis ${axis} is out of range for rank ${gy.length}`);
  const len = intAttr(raw, 'input_length');
  const taps = intAttr(raw, 'taps');
  const index = intsAttr(raw, 'index');
  const weight = floatsAttr(raw, 'weight');
  const outLen = gy[axis];
  if (taps < 1 || index.length !== outLen * taps || weight.length !== outLen * taps) throw new OpError(`ResizeAxisGrad: ${index.length} taps, the gradient has ${outLen} coordinates of ${taps}`);
  if (len < 1 || index.some((i) => i < 0 || i >= len)) throw new OpError(`ResizeAxisGrad: a tap lies outside the input length ${len}`);
  const lists: [number, number][][] = Array.from({ length: len }, () => []);
  for (let k = 0; k < index.length; k++) if (weight[k] !== 0) lists[index[k]].push([Math.floor(k / taps), weight[k]]);
  const start = [0];
  for (const l of lists) start.push(start[start.length - 1] + l.length);
  const shape = [...gy];
  shape[axis] = len;
  return { axis, shape, start, from: lists.flat().map(([o]) => o), weight: lists.flat().map(([, v]) => v) };
}

function axisGradCpu(gy: Tensor, a: AxisGradAttrs): Tensor {
  const outer = sizeOf(a.shape.slice(0, a.axis));
  const inner = sizeOf(a.shape.slice(a.axis + 1));
  const len = a.shape[a.axis];
  const outLen = gy.shape[a.axis];
  const gx = new Float32Array(sizeOf(a.shape));
  for (let p = 0; p < outer; p++) {
    for (let i = 0; i < len; i++) {
      for (let q = 0; q < inner; q++) {
        let s = 0;
        for (let e = a.start[i]; e < a.start[i + 1]; e++) s += a.weight[e] * gy.data[(p * outLen + a.from[e]) * inner + q];
        gx[(p * len + i) * inner + q] = s;
      }
    }
  }
  return new Tensor(a.shape, gx);
}

function axisGradGpu([gy]: readonly Shape[], a: AxisGradAttrs, ctx: KernelContext): Dispatch[] {
  const n = sizeOf(a.shape);
  if (n === 0) return [];
  const inner = sizeOf(a.shape.slice(a.axis + 1));
  const len = a.shape[a.axis];
  const outLen = gy[a.axis];
  // tab: start offsets (len + 1), then per entry the output coordinate and the weight's f32 bits.
  const entries = a.from.length;
  const table = new Uint32Array(len + 1 + 2 * entries);
  table.set(a.start);
  const bits = new Uint32Array(Float32Array.from(a.weight).buffer);
  for (let e = 0; e < entries; e++) {
    table[len + 1 + 2 * e] = a.from[e];
    table[len + 2 + 2 * e] = bits[e];
  }
  const body = `  let q = i % ${u32(inner)};
  let ci = (i / ${u32(inner)}) % ${u32(len)};
  let p = i / ${u32(inner * len)};
  let base = p * ${u32(outLen * inner)} + q;
  var s = 0.0;
  for (var e = tab[ci]; e < tab[ci + 1u]; e++) {
    let at = ${u32(len + 1)} + 2u * e;
    s += bitcast<f32>(tab[at + 1u]) * gy[base + tab[at] * ${u32(inner)}];
  }
  gx[i] = s;`;
  const decls = `@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> gx: array<f32>;
@group(0) @binding(2) var<storage, read> tab: array<u32>;`;
  const bindings: Binding[] = [{ input: 0 }, { output: 0 }, { constant: table }];
  return [{ wgsl: `${decls}\n${elementwiseMain(n, WG, body)}`, workgroups: linearGrid(n, WG, ctx), bindings }];
}

export const resizeAxisGradOp = defineOp<AxisGradAttrs>({
  type: 'ResizeAxisGrad',
  training: true,
  arity: [1, 1],
  attrs: axisGradAttrs,
  shape: (_, a) => [[...a.shape]],
  cpu: ([gy], a) => [axisGradCpu(gy, a)],
  gpu: (inputs, _outputs, a, ctx) => axisGradGpu(inputs, a, ctx),
});

export const resizeOp = resizeDef('Resize', resizeAttrs);
export const upsampleOp = resizeDef('Upsample', upsampleAttrs);
export const resizeOps = [resizeOp, upsampleOp, resizeAxisGradOp];
