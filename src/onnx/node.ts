// What a handler (handlers.ts) or a constant folder (fold.ts) sees of one ONNX node, and the
// readers that turn the inputs ONNX moved between opsets (Reshape's shape, Squeeze's axes, Slice's
// starts/ends, Clip's min/max, ...) into plain values, whichever opset the model uses.

import type { AttrValue, RawAttrs } from '../ops/op.js';
import type { Shape } from '../tensor.js';
import type { Const } from './constant.js';
import type { OnnxNode } from './proto.js';
import { sliceRange } from '../ops/slice.js';

/** A value during import: its IR name and shape, and its data when it is known at load time. */
export interface Value {
  readonly name: string;
  readonly shape: Shape;
  readonly constant?: Const;
}

export interface NodeIO {
  readonly node: OnnxNode;
  /** A unique, non-empty name for messages and IR nodes. */
  readonly name: string;
  /** Opset version of the default ONNX domain. */
  readonly opset: number;
  /** This node's op version in that opset (see versions.ts); undefined for ops ONNX does not define there. */
  readonly version: number | undefined;
  readonly attrs: Readonly<Record<string, AttrValue>>;
  /** Whether optional input i was given (present and not ''). */
  has(i: number): boolean;
  value(i: number): Value;
  constant(i: number): Const | undefined;
  /** Input i as integers; it must be known at load time (the error names it as `what`). */
  ints(i: number, what: string): number[];
  /** Input i as one number; it must be known at load time. */
  scalar(i: number, what: string): number;
  /** Add an IR node of `op` reading the given inputs of this node and writing its outputs. */
  emit(op: string, inputs: readonly (number | string)[], attrs: RawAttrs, outputs?: readonly number[]): void;
  /**
   * For a node imported as a chain: add an IR node of `op` with one output and return that
   * value's name, which later `step`/`emit` calls may read (inputs: indices of this node's inputs
   * or such names).
   */
  step(op: string, inputs: readonly (number | string)[], attrs: RawAttrs): string;
  /** A value known at load time (zeros to broadcast against, a mask ...) that later steps may read. */
  literal(c: Const): string;
  /** Output `out` is known at load time. */
  setConst(out: number, c: Const): void;
  /**
   * Output `out` is input `input` unchanged (Identity, Dropout, no-op casts), or the value an
   * earlier step named (a chain's second output).
   */
  alias(out: number, input: number | string): void;
  /** From now on, input i of this node reads `c` instead (a constant the handler derived from it). */
  replaceInput(i: number, c: Const): void;
  /** Throw an OnnxError naming this node. */
  fail(message: string): never;
}

export function intAttrOf(n: NodeIO, name: string, dflt: number): number {
  const v = n.attrs[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) n.fail(`attribute '${name}' must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

export function intsAttrOf(n: NodeIO, name: string): number[] | undefined {
  const v = n.attrs[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x))) n.fail(`attribute '${name}' must be a list of integers`);
  return [...(v as number[])];
}

export function normAxis(n: NodeIO, axis: number, rank: number, what = 'axis'): number {
  if (axis < -rank || axis >= rank) n.fail(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function normAxes(n: NodeIO, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(n, a, rank, 'axis'));
  if (new Set(out).size !== out.length) n.fail(`axes [${axes.join(', ')}] repeat an axis`);
  return out;
}

/** Reshape's target shape with 0 (copy, unless allowzero) and -1 (infer) resolved. */
export function reshapeTarget(n: NodeIO, input: Shape, raw: readonly number[]): number[] {
  const allowzero = intAttrOf(n, 'allowzero', 0);
  const out = raw.map((d, i) => (d === 0 && !allowzero ? (i < input.length ? input[i] : n.fail(`shape[${i}] = 0 copies a dimension the input [${input.join(', ')}] does not have`)) : d));
  const total = input.reduce((a, b) => a * b, 1);
  const infer = out.filter((d) => d === -1).length;
  if (infer > 1) n.fail(`shape [${raw.join(', ')}] has more than one -1`);
  if (out.some((d) => d < -1)) n.fail(`shape [${raw.join(', ')}] has a negative dimension`);
  const known = out.reduce((a, d) => (d === -1 ? a : a * d), 1);
  if (infer) {
    if (known === 0 || total % known !== 0) n.fail(`cannot reshape [${input.join(', ')}] to [${raw.join(', ')}]`);
    out[out.indexOf(-1)] = total / known;
  }
  if (out.reduce((a, b) => a * b, 1) !== total) n.fail(`cannot reshape [${input.join(', ')}] (${total} values) to [${raw.join(', ')}]`);
  return out;
}

/** Squeeze's axes: an attribute before opset 13, an optional input since; none = every 1. */
export function squeezeAxes(n: NodeIO, input: Shape): number[] {
  const given = n.opset < 13 ? intsAttrOf(n, 'axes') : n.has(1) ? n.ints(1, 'axes') : undefined;
  if (!given) return input.flatMap((d, i) => (d === 1 ? [i] : []));
  const axes = normAxes(n, given, input.length);
  for (const a of axes) if (input[a] !== 1) n.fail(`cannot squeeze axis ${a} of size ${input[a]} (input [${input.join(', ')}])`);
  return axes.sort((a, b) => a - b);
}

/** Unsqueeze's axes (in the output's rank): an attribute before opset 13, an input since. */
export function unsqueezeAxes(n: NodeIO, inputRank: number): number[] {
  const given = n.opset < 13 ? intsAttrOf(n, 'axes') : n.has(1) ? n.ints(1, 'axes') : undefined;
  if (!given) n.fail(`needs axes`);
  return normAxes(n, given, inputRank + given.length).sort((a, b) => a - b);
}

export function unsqueezeShape(input: Shape, axes: readonly number[]): number[] {
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < input.length + axes.length; i++) out.push(axes.includes(i) ? 1 : input[k++]);
  return out;
}

export interface SliceArgs {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

/**
 * Slice's starts/ends/axes/steps (attributes before opset 10, inputs since), axes made
 * non-negative and every start/end clamped into [-dim-1, dim]: INT64_MAX-style sentinels become
 * small integers without changing what is selected, so kernels can use 32-bit arithmetic.
 */
export function sliceArgs(n: NodeIO, input: Shape): SliceArgs {
  let starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined;
  if (n.opset < 10) {
    starts = intsAttrOf(n, 'starts') ?? n.fail(`attribute 'starts' is required`);
    ends = intsAttrOf(n, 'ends') ?? n.fail(`attribute 'ends' is required`);
    axes = intsAttrOf(n, 'axes');
  } else {
    starts = n.ints(1, 'starts');
    ends = n.ints(2, 'ends');
    axes = n.has(3) ? n.ints(3, 'axes') : undefined;
    steps = n.has(4) ? n.ints(4, 'steps') : undefined;
  }
  axes ??= starts.map((_, i) => i);
  steps ??= starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    n.fail(`starts, ends, axes and steps must have the same length (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
  }
  if (steps.some((s) => s === 0)) n.fail(`steps must not be 0`);
  axes = normAxes(n, axes, input.length);
  const clamp = (v: number, d: number) => Math.min(Math.max(v, -d - 1), d);
  return {
    starts: starts.map((v, i) => clamp(v, input[axes![i]])),
    ends: ends.map((v, i) => clamp(v, input[axes![i]])),
    axes,
    steps,
  };
}

/** Per axis of the input: first index, step and count that a Slice selects (ONNX's clamping rules). */
export function sliceRanges(input: Shape, a: SliceArgs): { start: number; step: number; count: number }[] {
  return input.map((d, axis) => {
    const k = a.axes.indexOf(axis);
    if (k < 0) return { start: 0, step: 1, count: d };
    const step = a.steps[k];
    return { ...sliceRange(a.starts[k], a.ends[k], step, d), step };
  });
}

/** Split sizes along `axis`: attribute (< 13), input (>= 13), num_outputs (>= 18) or equal parts. */
export function splitSizes(n: NodeIO, input: Shape): { axis: number; split: number[] } {
  const axis = normAxis(n, intAttrOf(n, 'axis', 0), input.length);
  const d = input[axis];
  const outs = n.node.outputs.length;
  // Split-1 took the sizes as an attribute or as input 1; 2 to 12 as the attribute; 13+ as the input.
  let split = n.opset < 2 && n.has(1) ? n.ints(1, 'split') : n.opset < 13 ? intsAttrOf(n, 'split') : n.has(1) ? n.ints(1, 'split') : undefined;
  if (!split) {
    const parts = n.opset >= 18 && n.attrs.num_outputs !== undefined ? intAttrOf(n, 'num_outputs', outs) : outs;
    if (parts !== outs) n.fail(`num_outputs is ${parts} but the node has ${outs} outputs`);
    if (n.opset >= 18) {
      // Opset 18: chunks of ceil(d / parts), the last one smaller.
      const chunk = Math.ceil(d / parts);
      split = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
    } else {
      if (d % parts !== 0) n.fail(`cannot split axis ${axis} of size ${d} into ${parts} equal parts`);
      split = new Array(parts).fill(d / parts);
    }
  }
  if (split.length !== outs) n.fail(`split has ${split.length} sizes but the node has ${outs} outputs`);
  if (split.some((s) => s < 0) || split.reduce((a, b) => a + b, 0) !== d) n.fail(`split [${split.join(', ')}] does not add up to axis ${axis} of size ${d}`);
  return { axis, split };
}

/**
 * Reduction axes, an attribute until the opset where the op took them as input 1 (ReduceSum 13,
 * the others 18); none means all axes unless noop_with_empty_axes, which makes the op Identity.
 */
export function reduceAxes(n: NodeIO, rank: number, inputSince: number): number[] | 'identity' {
  const given = n.opset < inputSince ? intsAttrOf(n, 'axes') : n.has(1) ? n.ints(1, 'axes') : undefined;
  if (!given || given.length === 0) {
    if (n.opset >= inputSince && intAttrOf(n, 'noop_with_empty_axes', 0)) return 'identity';
    return Array.from({ length: rank }, (_, i) => i);
  }
  return normAxes(n, given, rank).sort((a, b) => a - b);
}

/**
 * Pad's pads (full rank, begins then ends), mode and constant value, for every opset; with
 * `readValue` false the value is left to the caller (it is computed at run time) and reads 0.
 */
export function padArgs(n: NodeIO, rank: number, readValue = true): { pads: number[]; mode: string; value: number } {
  const mode = typeof n.attrs.mode === 'string' ? n.attrs.mode : 'constant';
  if (n.opset < 11) {
    // Pad-1 called them `paddings` (same layout); Pad-2 `pads`.
    const pads = intsAttrOf(n, n.opset < 2 ? 'paddings' : 'pads') ?? n.fail(`attribute '${n.opset < 2 ? 'paddings' : 'pads'}' is required`);
    if (pads.length !== 2 * rank) n.fail(`pads has ${pads.length} values, expected ${2 * rank}`);
    const value = n.attrs.value === undefined ? 0 : Number(n.attrs.value);
    return { pads, mode, value };
  }
  const given = n.ints(1, 'pads');
  const value = readValue && n.has(2) && mode === 'constant' ? n.scalar(2, 'constant_value') : 0;
  const axes = n.opset >= 18 && n.has(3) ? normAxes(n, n.ints(3, 'axes'), rank) : Array.from({ length: rank }, (_, i) => i);
  if (given.length !== 2 * axes.length) n.fail(`pads has ${given.length} values, expected ${2 * axes.length}`);
  const pads = new Array<number>(2 * rank).fill(0);
  axes.forEach((a, k) => {
    pads[a] = given[k];
    pads[a + rank] = given[k + axes.length];
  });
  return { pads, mode, value };
}
