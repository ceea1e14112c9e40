// Sliding-window arithmetic shared by the ops that slide a kernel over spatial axes (MaxPool,
// AveragePool, and Conv): reading kernel_shape / strides / dilations / pads / auto_pad, and the
// ONNX output-size and padding rules. One place, so that every op agrees on the same edge cases.
//
// Pads follow ONNX order: [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; for 2-D that is
// [top, left, bottom, right].

import { intsAttr, OpError, stringAttr, type RawAttrs } from './op.js';

export const AUTO_PADS = ['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'] as const;
export type AutoPad = (typeof AUTO_PADS)[number];

export function autoPadAttr(raw: RawAttrs): AutoPad {
  const v = stringAttr(raw, 'auto_pad', 'NOTSET');
  if (!(AUTO_PADS as readonly string[]).includes(v)) {
    throw new OpError(`attribute 'auto_pad' must be one of ${AUTO_PADS.join(', ')}, got '${v}'`);
  }
  return v as AutoPad;
}

/** Extent of a dilated kernel: the distance from its first to its last tap, plus one. */
export function effectiveKernel(kernel: number, dilation: number): number {
  return (kernel - 1) * dilation + 1;
}

/**
 * Output length along one axis for explicit pads. With `ceilMode` the last partial window is
 * kept, but only if it starts inside the input or the begin padding: a window starting in the
 * end padding would see nothing but padding (ONNX, like PyTorch, drops it).
 * Returns a value <= 0 when not even one window fits.
 */
export function convOutputSize(
  inSize: number,
  kernel: number,
  stride: number,
  dilation: number,
  padBegin: number,
  padEnd: number,
  ceilMode = false,
): number {
  const span = inSize + padBegin + padEnd - effectiveKernel(kernel, dilation);
  if (span < 0) return 0;
  if (!ceilMode) return Math.floor(span / stride) + 1;
  let out = Math.ceil(span / stride) + 1;
  if ((out - 1) * stride >= inSize + padBegin) out--;
  return out;
}

export interface ResolvedWindow {
  /** Pads actually applied, ONNX order: all begins, then all ends. */
  readonly pads: number[];
  /** Output spatial size. */
  readonly output: number[];
}

/**
 * Resolve auto_pad into explicit pads and compute the output spatial size.
 *
 * - NOTSET: the given pads; floor or (with ceilMode) ceil rule of convOutputSize.
 * - VALID: no padding, then as NOTSET. With ceilMode this keeps a last partial window, as ONNX's
 *   shape inference and onnxruntime do (the operator page's prose formula for VALID would not).
 * - SAME_UPPER / SAME_LOWER: output ceil(in / s) whatever ceilMode says; the total padding
 *   needed to reach it, (out - 1)·s + dk - in (never negative: a stride longer than the kernel
 *   needs none), split evenly with the odd one at the end (UPPER) or at the beginning (LOWER).
 *   The kernel extent dk includes dilation, as the ONNX spec says (onnxruntime's pools leave it
 *   out, and disagree with ONNX's own shape inference there).
 */
export function resolvePads(
  inputHW: readonly number[],
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
  pads: readonly number[],
  autoPad: AutoPad,
  ceilMode = false,
): ResolvedWindow {
  const n = inputHW.length;
  const begins: number[] = [];
  const ends: number[] = [];
  const output: number[] = [];
  for (let i = 0; i < n; i++) {
    const inSize = inputHW[i];
    const dk = effectiveKernel(kernel[i], dilations[i]);
    let b = 0;
    let e = 0;
    let out: number;
    if (autoPad === 'NOTSET') {
      b = pads[i];
      e = pads[n + i];
      out = convOutputSize(inSize, kernel[i], strides[i], dilations[i], b, e, ceilMode);
    } else if (autoPad === 'VALID') {
      out = convOutputSize(inSize, kernel[i], strides[i], dilations[i], 0, 0, ceilMode);
    } else {
      out = Math.ceil(inSize / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + dk - inSize);
      b = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      e = total - b;
    }
    if (out <= 0) {
      throw new OpError(
        `spatial axis ${i}: input size ${inSize} with pads ${b}+${e} is smaller than the ` +
          `kernel extent ${dk} (kernel ${kernel[i]}, dilation ${dilations[i]}): the output would be empty`,
      );
    }
    begins.push(b);
    ends.push(e);
    output.push(out);
  }
  return { pads: [...begins, ...ends], output };
}

export interface WindowAttrs extends ResolvedWindow {
  readonly kernel: number[];
  readonly strides: number[];
  readonly dilations: number[];
  readonly autoPad: AutoPad;
}

/**
 * Read and check kernel_shape, strides, dilations, pads and auto_pad for an op sliding over
 * `inputHW` (the spatial sizes), then resolve pads and output size. `kernel` is the kernel size
 * when the op knows it from elsewhere (Conv: the weight's shape); then kernel_shape, if given,
 * must agree with it. `allowDilations` false rejects a dilations attribute other than all ones.
 */
export function windowAttrs(
  raw: RawAttrs,
  inputHW: readonly number[],
  opts: { kernel?: readonly number[]; ceilMode?: boolean; allowDilations?: boolean } = {},
): WindowAttrs {
  const n = inputHW.length;
  const ones = new Array<number>(n).fill(1);
  let kernel: number[];
  if (opts.kernel) {
    kernel = [...opts.kernel];
    if (raw.kernel_shape !== undefined) {
      const ks = intsAttr(raw, 'kernel_shape');
      if (ks.length !== n || ks.some((k, i) => k !== kernel[i])) {
        throw new OpError(`attribute 'kernel_shape' [${ks.join(', ')}] does not match the weight's kernel [${kernel.join(', ')}]`);
      }
    }
  } else {
    kernel = intsAttr(raw, 'kernel_shape');
  }
  const strides = intsAttr(raw, 'strides', ones);
  const dilations = intsAttr(raw, 'dilations', ones);
  const autoPad = autoPadAttr(raw);
  const pads = intsAttr(raw, 'pads', new Array<number>(2 * n).fill(0));

  const expectLen = (name: string, v: readonly number[], len: number) => {
    if (v.length !== len) throw new OpError(`attribute '${name}' must have ${len} values for ${n} spatial axes, got [${v.join(', ')}]`);
  };
  expectLen('kernel_shape', kernel, n);
  expectLen('strides', strides, n);
  expectLen('dilations', dilations, n);
  expectLen('pads', pads, 2 * n);
  if (kernel.some((k) => k < 1)) throw new OpError(`attribute 'kernel_shape' must be positive, got [${kernel.join(', ')}]`);
  if (strides.some((s) => s < 1)) throw new OpError(`attribute 'strides' must be positive, got [${strides.join(', ')}]`);
  if (dilations.some((d) => d < 1)) throw new OpError(`attribute 'dilations' must be positive, got [${dilations.join(', ')}]`);
  if (opts.allowDilations === false && dilations.some((d) => d !== 1)) {
    throw new OpError(`attribute 'dilations' is not supported by this op, got [${dilations.join(', ')}]`);
  }
  if (pads.some((p) => p < 0)) throw new OpError(`attribute 'pads' must not be negative, got [${pads.join(', ')}]`);
  // ONNX's shape inference would let explicit pads win, onnxruntime lets auto_pad win: rather
  // than pick one silently, refuse the ambiguous combination (all-zero pads are harmless).
  if (autoPad !== 'NOTSET' && pads.some((p) => p !== 0)) {
    throw new OpError(`attribute 'pads' [${pads.join(', ')}] cannot be combined with auto_pad '${autoPad}'`);
  }
  const resolved = resolvePads(inputHW, kernel, strides, dilations, pads, autoPad, opts.ceilMode ?? false);
  return { kernel, strides, dilations, autoPad, ...resolved };
}
