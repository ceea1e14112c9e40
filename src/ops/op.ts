// What one operator is, in one place: its attribute rule, shape rule, CPU reference and WebGPU
// kernel builder. Ops are named exactly after their ONNX op_type so that the importer can look
// them up directly. Adding an op touches its file and one line of ops/registry.ts.

import type { Dispatch, KernelContext } from '../kernels/context.js';
import type { FloatFormat, IoFormats } from '../formats/format.js';
import type { Shape, Tensor } from '../tensor.js';
import { DeftnnError, MAX_TENSOR_ELEMENTS } from '../errors.js';

/** ONNX-style attribute values as they arrive from a graph or the importer. */
export type AttrValue = number | string | readonly number[] | readonly string[] | Activation | readonly EpilogueStep[] | undefined;
export type RawAttrs = Readonly<Record<string, AttrValue>>;

/** An elementwise activation fused into a producer's epilogue (see ops/unary.ts). */
export interface Activation {
  readonly op: string;
  readonly attrs: RawAttrs;
}

/**
 * One step of a fused epilogue chain (ops/epilogue.ts, whose header gives the semantics): a unary
 * op, or a binary op whose other operand is a constant, a node input (per channel or per
 * element) or an earlier value of the chain.
 */
export interface EpilogueStep {
  readonly op: string;
  readonly attrs?: RawAttrs;
  readonly scalar?: number;
  readonly input?: number;
  readonly per?: 'channel' | 'element';
  readonly value?: number;
  readonly swap?: boolean;
}

/** Most operand inputs an epilogue chain may add to its node (an op's arity grows by this much). */
export const MAX_EPILOGUE_INPUTS = 4;

/** Which of an op's values its kernels can read or write packed (see OpDef.packed). */
export interface PackedIo<A> {
  /** Input indices that the kernels read packed, in any format. */
  readonly inputs: readonly number[];
  /**
   * Why output 0 cannot be packed on store in format `f` for these shapes, or null when it can.
   * Absent: the op never packs its output.
   */
  output?(inputs: readonly Shape[], outputs: readonly Shape[], attrs: A, f: FloatFormat): string | null;
}

export interface OpDef<A = unknown> {
  /** The ONNX op_type. */
  readonly type: string;
  /**
   * True for ops of deftnn's own that no ONNX file names and export never writes: gradient ops,
   * losses and optimiser steps. ONNX import and export skip them.
   */
  readonly training?: boolean;
  /** Number of inputs accepted: [min, max]. */
  readonly arity: readonly [number, number];
  /** Validate raw attributes against the input shapes and fill defaults; throw OpError when wrong. */
  attrs(raw: RawAttrs, inputs: readonly Shape[]): A;
  /** Output shapes; throw OpError when the inputs do not fit. */
  shape(inputs: readonly Shape[], attrs: A): Shape[];
  /** The plain reference: obviously correct loops, no cleverness. */
  cpu(inputs: readonly Tensor[], attrs: A): Tensor[];
  /**
   * The WebGPU kernels computing all outputs from the inputs, recorded in order; or 'view' when
   * output 0 is input 0's data under another shape (Reshape, Flatten, ...), which costs nothing.
   */
  gpu(inputs: readonly Shape[], outputs: readonly Shape[], attrs: A, ctx: KernelContext, formats?: IoFormats): Dispatch[] | 'view';
  /**
   * Packed values the kernels handle (near-compute data fission); absent: none, every input and
   * output is float32. The session refuses a graph that packs anything else of this op.
   */
  readonly packed?: PackedIo<A>;
  /**
   * Reverse mode, for training: emit graph nodes that compute the gradient of each input from
   * the gradients of the outputs (see graph/autograd.ts). Absent on ops that are not trainable.
   */
  grad?(g: GradContext<A>): (string | undefined)[];
}

/** What an op's `grad` sees, and how it adds nodes to the backward graph. */
export interface GradContext<A = unknown> {
  /** The forward node's input and output value names (readable by emitted nodes). */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: A;
  readonly inputShapes: readonly Shape[];
  readonly outputShapes: readonly Shape[];
  /** Gradient value of each output; undefined when no gradient flows into it. */
  readonly gradOutputs: readonly (string | undefined)[];
  /** Whether input i needs a gradient (skip work for constants and labels). */
  readonly wants: readonly boolean[];
  /** Add a node of `op` and return the name of its first output. */
  emit(op: string, inputs: readonly string[], attrs?: RawAttrs): string;
  /** Add a node with several outputs and return their names. */
  emitMulti(op: string, inputs: readonly string[], outputs: number, attrs?: RawAttrs): string[];
  /** Add a constant and return its name. */
  constant(t: Tensor): string;
  /** Sum a gradient of shape `from` down to the broadcast-input shape `to` (reverse of broadcasting). */
  sumTo(grad: string, from: Shape, to: Shape): string;
}

/** A user-facing error about an op's inputs or attributes. The executor prefixes the node name. */
export class OpError extends DeftnnError {
  override name = 'OpError';
}

/**
 * Output shapes that a shape rule derived must be real sizes within MAX_TENSOR_ELEMENTS, checked
 * before anything is allocated (a Pad or Resize of absurd size would otherwise ask for terabytes).
 */
export function checkSizes(shapes: readonly (readonly number[])[]): void {
  shapes.forEach((s, k) => {
    if (s.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new OpError(`output ${k} would have shape [${s.join(', ')}], which is not a valid shape`);
    const n = s.reduce((a, b) => a * b, 1);
    if (n > MAX_TENSOR_ELEMENTS) throw new OpError(`output ${k} would have shape [${s.join(', ')}] = ${n} elements, more than deftnn's limit of ${MAX_TENSOR_ELEMENTS} per tensor`);
  });
}

/** Define an op with its attribute type inferred from the definition. */
export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  return def;
}

// ---- attribute readers: each names the attribute and what was wrong ----

export function intAttr(raw: RawAttrs, name: string, dflt?: number): number {
  const v = raw[name];
  if (v === undefined) {
    if (dflt === undefined) throw new OpError(`attribute '${name}' is required`);
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new OpError(`attribute '${name}' must be an integer, got ${fmt(v)}`);
  return v;
}

export function floatAttr(raw: RawAttrs, name: string, dflt?: number): number {
  const v = raw[name];
  if (v === undefined) {
    if (dflt === undefined) throw new OpError(`attribute '${name}' is required`);
    return dflt;
  }
  if (typeof v !== 'number') throw new OpError(`attribute '${name}' must be a number, got ${fmt(v)}`);
  return v;
}

export function intsAttr(raw: RawAttrs, name: string, dflt?: readonly number[]): number[] {
  const v = raw[name];
  if (v === undefined) {
    if (dflt === undefined) throw new OpError(`attribute '${name}' is required`);
    return [...dflt];
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x))) {
    throw new OpError(`attribute '${name}' must be a list of integers, got ${fmt(v)}`);
  }
  return [...(v as number[])];
}

/**
 * A list of distinct axes of a rank-`rank` tensor, negative ones counted from the end, returned
 * non-negative in the given order; `dflt` (default: every axis) when absent.
 */
export function axesAttr(raw: RawAttrs, name: string, rank: number, dflt?: readonly number[]): number[] {
  const axes = intsAttr(raw, name, dflt ?? Array.from({ length: rank }, (_, i) => i)).map((a) => {
    if (a < -rank || a >= rank) throw new OpError(`attribute '${name}' has ${a}, out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  if (new Set(axes).size !== axes.length) throw new OpError(`attribute '${name}' repeats an axis`);
  return axes;
}

export function floatsAttr(raw: RawAttrs, name: string, dflt?: readonly number[]): number[] {
  const v = raw[name];
  if (v === undefined) {
    if (dflt === undefined) throw new OpError(`attribute '${name}' is required`);
    return [...dflt];
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new OpError(`attribute '${name}' must be a list of numbers, got ${fmt(v)}`);
  return [...(v as number[])];
}

export function stringAttr(raw: RawAttrs, name: string, dflt?: string): string {
  const v = raw[name];
  if (v === undefined) {
    if (dflt === undefined) throw new OpError(`attribute '${name}' is required`);
    return dflt;
  }
  if (typeof v !== 'string') throw new OpError(`attribute '${name}' must be a string, got ${fmt(v)}`);
  return v;
}

let activationCheck: ((a: Activation) => void) | undefined;

/** unary.ts registers the check of a fused activation's op and attributes (it owns the table of them). */
export function setActivationCheck(check: (a: Activation) => void): void {
  activationCheck = check;
}

export function activationAttr(raw: RawAttrs): Activation | undefined {
  const v = raw.activation;
  if (v === undefined) return undefined;
  const a = v as Activation;
  if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof a.op !== 'string' || a.attrs === null || typeof a.attrs !== 'object' || Array.isArray(a.attrs)) {
    throw new OpError(`attribute 'activation' must be {op, attrs}, got ${fmt(v)}`);
  }
  // Checked here, with the node's other attributes, rather than when a kernel first applies it.
  activationCheck?.(a);
  return a;
}

function fmt(v: unknown): string {
  return JSON.stringify(v);
}
