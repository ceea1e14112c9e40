// Convolution and pooling of ranks other than 2, on the 2-D ops.
//
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
//
// 3-D Conv (X [N, C, D, H, W], W [M, C/g, KD, KH, KW]) is a sum over the depth taps kd of 2-D
// convolutions: output depth od reads input depth od·sd + kd·dd - pad, so X is zero-padded in
// depth, the depths each tap reads are one strided Slice ([N, C, OD, H, W], viewed as
// [N·OD, C, H, W]), convolved with W[:, :, kd], and the KD results added; then the bias.
//
// 3-D ConvTranspose (X [N, C, D, H, W], W [C, M/g, KD, KH, KW]) is a sum over the depth taps kd
// of 2-D ConvTransposes: input depth id with tap kd lands at output depth id·sd + kd·dd - pad,
// so each T_kd = ConvTranspose2d(X viewed as [N·D, C, H, W], W[:, :, kd]) is spread along depth
// (stride sd: each row followed by sd - 1 zero rows, a Pad of a unit axis), shifted by
// kd·dd - pad and cut to the output depth (one Pad, negative where it crops), and the KD results
// are added; the bias is added once at the end.

import type { RawAttrs } from '../ops/op.js';
import { sizeOf } from '../tensor.js';
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

/** A per-axis attribute of a node with a 3-D input: its 3 values, or `dflt` on each axis. */
function three(n: NodeIO, name: string, dflt: number): number[] {
  const v = n.attrs[name];
  if (v === undefined) return [dflt, dflt, dflt];
  if (!Array.isArray(v) || v.length !== 3) n.fail(`attribute '${name}' needs 3 values for a 3-D input, got ${JSON.stringify(v)}`);
  return v as number[];
}

/** Import MaxPool or AveragePool `n` with a [N, C, D, H, W] input as two 2-D pools. */
export function importPool3d(n: NodeIO, drop: readonly string[] = []): void {
  const [N, C, D, H, W] = n.value(0).shape;
  const [kd, kh, kw] = three(n, 'kernel_shape', 0);
  const [sd, sh, sw] = three(n, 'strides', 1);
  const [dd, dh, dw] = three(n, 'dilations', 1);
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

/** Import ConvTranspose `n` with a [N, C, D, H, W] input as 2-D ConvTransposes summed over depth taps. */
export function importConvTranspose3d(n: NodeIO): void {
  const [N, C, D, H, W] = n.value(0).shape;
  const w = n.value(1);
  if (w.shape.length !== 5 || w.shape[0] !== C) n.fail(`weight must be [C, M/group, KD, KH, KW] with C = ${C}, got [${w.shape.join(', ')}]`);
  for (const a of ['auto_pad', 'output_shape']) if (n.attrs[a] !== undefined && n.attrs[a] !== 'NOTSET') n.fail(`attribute '${a}' is not supported on a 3-D input (give pads and output_padding)`);
  const [, Mg, KD, KH, KW] = w.shape;
  const [sd, sh, sw] = three(n, 'strides', 1);
  const [dd, dh, dw] = three(n, 'dilations', 1);
  const [opd, oph, opw] = three(n, 'output_padding', 0);
  const pads = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0, 0, 0];
  if (pads.length !== 6) n.fail(`attribute 'pads' needs 6 values for a 3-D input, got ${JSON.stringify(pads)}`);
  if (KD !== three(n, 'kernel_shape', KD)[0] || opd >= Math.max(sd, dd) || opd < 0) n.fail(`kernel_shape or output_padding do not fit the weight [${w.shape.join(', ')}] and strides`);
  const OD = sd * (D - 1) + opd + (KD - 1) * dd + 1 - pads[0] - pads[3];
  if (OD < 1) n.fail(`the output depth would be ${OD}`);
  const attrs2d: RawAttrs = { group: n.attrs.group ?? 1, kernel_shape: [KH, KW], strides: [sh, sw], dilations: [dh, dw], pads: [pads[1], pads[2], pads[4], pads[5]], output_padding: [oph, opw] };
  const x = n.step('Reshape', [n.step('Transpose', [0], { perm: [0, 2, 1, 3, 4] })], { shape: [N * D, C, H, W] });
  let sum: string | undefined;
  let shape2d: readonly number[] = [];
  for (let kd = 0; kd < KD; kd++) {
    // W[:, :, kd] (folded at import when the weight is a constant).
    const wk = n.step('Reshape', [n.step('Slice', [1], { starts: [kd], ends: [kd + 1], axes: [2], steps: [1] })], { shape: [C, Mg, KH, KW] });
    const t = n.step('ConvTranspose', [x, wk], attrs2d);
    if (kd === 0) {
      const def = getOp('ConvTranspose');
      shape2d = def.shape([[N * D, C, H, W], [C, Mg, KH, KW]], def.attrs(attrs2d, [[N * D, C, H, W], [C, Mg, KH, KW]]))[0];
    }
    const P = sizeOf(shape2d.slice(1));
    let z = n.step('Reshape', [t], { shape: [N, D, 1, P] });
    if (sd > 1) z = n.step('Pad', [z], { pads: [0, 0, 0, 0, 0, 0, sd - 1, 0], mode: 'constant', value: 0 });
    const shift = kd * dd - pads[0];
    z = n.step('Pad', [n.step('Reshape', [z], { shape: [N, D * sd, P] })], { pads: [0, shift, 0, 0, OD - (D * sd + shift), 0], mode: 'constant', value: 0 });
    sum = sum === undefined ? z : n.step('Add', [sum, z], {});
  }
  const [, M, OH, OW] = shape2d;
  let y = n.step('Transpose', [n.step('Reshape', [sum!], { shape: [N, OD, M, OH, OW] })], { perm: [0, 2, 1, 3, 4] });
  if (n.has(2)) y = n.step('Add', [y, n.step('Reshape', [2], { shape: [M, 1, 1, 1] })], {});
  n.emit('Reshape', [y], { shape: [N, M, OD, OH, OW] });
}

/** Depth pads [begin, end] of a 3-D Conv: `pads`, or auto_pad's (SAME_*: output depth ceil(D / sd)). */
function depthPads(n: NodeIO, D: number, K: number, s: number, d: number): [number, number] {
  const autoPad = (n.attrs.auto_pad as string | undefined) ?? 'NOTSET';
  if (autoPad === 'NOTSET') {
    const pads = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0, 0, 0];
    if (pads.length !== 6) n.fail(`attribute 'pads' needs 6 values for a 3-D input, got ${JSON.stringify(pads)}`);
    return [pads[0], pads[3]];
  }
  if (n.attrs.pads !== undefined) n.fail(`pads together with auto_pad '${autoPad}' is refused (onnxruntime refuses it too)`);
  if (autoPad === 'VALID') return [0, 0];
  const total = Math.max(0, (Math.ceil(D / s) - 1) * s + (K - 1) * d + 1 - D);
  const small = Math.floor(total / 2);
  if (autoPad === 'SAME_UPPER') return [small, total - small];
  if (autoPad === 'SAME_LOWER') return [total - small, small];
  return n.fail(`auto_pad '${autoPad}' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID`);
}

/** Import Conv `n` with a [N, C, D, H, W] input as 2-D convolutions summed over depth taps. */
export function importConv3d(n: NodeIO): void {
  const [N, C, D, H, W] = n.value(0).shape;
  const w = n.value(1).shape;
  if (w.length !== 5) n.fail(`weight must be [M, C/group, KD, KH, KW], got [${w.join(', ')}]`);
  const [M, Cg, KD, KH, KW] = w;
  const [sd, sh, sw] = three(n, 'strides', 1);
  const [dd, dh, dw] = three(n, 'dilations', 1);
  if (three(n, 'kernel_shape', KD)[0] !== KD) n.fail(`kernel_shape does not fit the weight [${w.join(', ')}]`);
  const [p0, p1] = depthPads(n, D, KD, sd, dd);
  const OD = Math.floor((D + p0 + p1 - (KD - 1) * dd - 1) / sd) + 1;
  if (OD < 1) n.fail(`the output depth would be ${OD}`);
  const autoPad = (n.attrs.auto_pad as string | undefined) ?? 'NOTSET';
  const pads = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0, 0, 0];
  const attrs2d: RawAttrs = {
    group: n.attrs.group ?? 1,
    kernel_shape: [KH, KW],
    strides: [sh, sw],
    dilations: [dh, dw],
    ...(autoPad === 'NOTSET' ? { pads: [pads[1], pads[2], pads[4], pads[5]] } : { auto_pad: autoPad }),
  };
  const x = p0 || p1 ? n.step('Pad', [0], { pads: [0, 0, p0, 0, 0, 0, 0, p1, 0, 0], mode: 'constant', value: 0 }) : 0;
  let sum: string | undefined;
  for (let kd = 0; kd < KD; kd++) {
    const start = kd * dd;
    const depths = n.step('Slice', [x], { starts: [start], ends: [start + (OD - 1) * sd + 1], axes: [2], steps: [sd] });
    const planes = n.step('Reshape', [n.step('Transpose', [depths], { perm: [0, 2, 1, 3, 4] })], { shape: [N * OD, C, H, W] });
    const wk = n.step('Reshape', [n.step('Slice', [1], { starts: [kd], ends: [kd + 1], axes: [2], steps: [1] })], { shape: [M, Cg, KH, KW] });
    const y = n.step('Conv', [planes, wk], attrs2d);
    sum = sum === undefined ? y : n.step('Add', [sum, y], {});
  }
  const def = getOp('Conv');
  const [, , OH, OW] = def.shape([[N * OD, C, H, W], [M, Cg, KH, KW]], def.attrs(attrs2d, [[N * OD, C, H, W], [M, Cg, KH, KW]]))[0];
  let y = n.step('Transpose', [n.step('Reshape', [sum!], { shape: [N, OD, M, OH, OW] })], { perm: [0, 2, 1, 3, 4] });
  if (n.has(2)) y = n.step('Add', [y, n.step('Reshape', [2], { shape: [M, 1, 1, 1] })], {});
  n.emit('Reshape', [y], { shape: [N, M, OD, OH, OW] });
}
