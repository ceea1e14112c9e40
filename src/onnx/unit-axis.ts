// 1-D convolution and pooling (audio and keyword-spotting CNNs: X is [N, C, L]) run on the 2-D
// kernels with a unit height: X is unsqueezed to [N, C, 1, L], the weight to [M, C/g, 1, K], the
// attributes gain a leading entry that does nothing along the unit axis (kernel 1, stride 1,
// dilation 1, no padding), and the result is squeezed back to [N, M, L'].
//
// 3-D pooling (X is [N, C, D, H, W]) runs as two 2-D pools, since a box window is separable:
// first over (H, W) with X viewed as [N, C·D, H, W], then over D with the result viewed as
// [N, C, D, H'·W'] and a (kd, 1) window. The max over a box is the max over D of the maxima over
// (H, W); the average is too, because the box's count of taps (inside the input, or inside the
// padded input for count_include_pad = 1) is the product of the per-axis counts, and padding,
// auto_pad and ceil_mode act on each axis alone.

import type { RawAttrs } from '../ops/op.js';
import { getOp } from '../ops/registry.js';
import { LEGACY_ATTRS } from './legacy.js';
import type { NodeIO } from './node.js';

/** Per-axis attributes given for the one spatial axis, with the unit axis's neutral value first. */
const NEUTRAL: Readonly<Record<string, number>> = { kernel_shape: 1, strides: 1, dilations: 1, output_padding: 0 };

function attrs2d(n: NodeIO): RawAttrs {
  const out: Record<string, RawAttrs[string]> = {};
  for (const [k, v] of Object.entries(n.attrs)) {
    if (k in NEUTRAL && Array.isArray(v)) out[k] = [NEUTRAL[k], ...(v as number[])];
    else if (k === 'pads' && Array.isArray(v)) out[k] = [0, (v as number[])[0], 0, (v as number[])[1]];
    else if (k === 'output_shape' && Array.isArray(v)) out[k] = [1, ...(v as number[])];
    else out[k] = v;
  }
  return out;
}

/**
 * Import node `n` (Conv, ConvTranspose, MaxPool, AveragePool with a [N, C, L] input) as the 2-D
 * op over a unit axis. `weighted`: input 1 is a weight [M, C/g, K] (bias, input 2, is unchanged).
 */
export function importOnUnitAxis(n: NodeIO, weighted: boolean, drop: readonly string[] = []): void {
  const x = n.step('Unsqueeze', [0], { axes: [2] });
  const inputs: (number | string)[] = [x];
  if (weighted) {
    const w = n.value(1);
    if (w.shape.length !== 3) n.fail(`weight must be [M, C/group, K] for a 1-D input, got [${w.shape.join(', ')}]`);
    const c = n.constant(1);
    if (c) {
      n.replaceInput(1, { ...c, shape: [w.shape[0], w.shape[1], 1, w.shape[2]] });
      inputs.push(1);
    } else inputs.push(n.step('Unsqueeze', [1], { axes: [2] }));
    if (n.has(2)) inputs.push(2);
  }
  const attrs = Object.fromEntries(Object.entries(attrs2d(n)).filter(([k]) => !drop.includes(k) && !LEGACY_ATTRS.includes(k)));
  const y = n.step(n.node.opType, inputs, attrs);
  n.emit('Squeeze', [y], { axes: [2] });
}

/** Import MaxPool or AveragePool `n` with a [N, C, D, H, W] input as two 2-D pools. */
export function importPool3d(n: NodeIO, drop: readonly string[] = []): void {
  const [N, C, D, H, W] = n.value(0).shape;
  const per = (name: string, dflt: number): number[] => {
    const v = n.attrs[name];
    if (v === undefined) return [dflt, dflt, dflt];
    if (!Array.isArray(v) || v.length !== 3) n.fail(`attribute '${name}' needs 3 values for a 3-D input, got ${JSON.stringify(v)}`);
    return v as number[];
  };
  const [kd, kh, kw] = per('kernel_shape', 0);
  const [sd, sh, sw] = per('strides', 1);
  const [dd, dh, dw] = per('dilations', 1);
  const pads = n.attrs.pads === undefined ? [0, 0, 0, 0, 0, 0] : (n.attrs.pads as number[]);
  if (pads.length !== 6) n.fail(`attribute 'pads' needs 6 values for a 3-D input, got ${JSON.stringify(pads)}`);
  const [pd0, ph0, pw0, pd1, ph1, pw1] = pads;
  const common = Object.fromEntries(Object.entries(n.attrs).filter(([k]) => !['kernel_shape', 'strides', 'dilations', 'pads', ...drop, ...LEGACY_ATTRS].includes(k)));
  const op = n.node.opType;
  const hw: RawAttrs = { ...common, kernel_shape: [kh, kw], strides: [sh, sw], dilations: [dh, dw], pads: [ph0, pw0, ph1, pw1] };
  const d: RawAttrs = { ...common, kernel_shape: [kd, 1], strides: [sd, 1], dilations: [dd, 1], pads: [pd0, 0, pd1, 0] };
  const x = n.step('Reshape', [0], { shape: [N, C * D, H, W] });
  const y = n.step(op, [x], hw);
  const def = getOp(op);
  const [, , OH, OW] = def.shape([[N, C * D, H, W]], def.attrs(hw, [[N, C * D, H, W]]))[0];
  const z = n.step(op, [n.step('Reshape', [y], { shape: [N, C, D, OH * OW] })], d);
  n.emit('Reshape', [z], { shape: [N, C, -1, OH, OW] });
}
