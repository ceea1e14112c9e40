// Conv (ONNX, 2-D): y[n, oc, oy, ox] = b[oc] + sum_{c, ky, kx} w[oc, c, ky, kx] *
//   x[n, g*C/group + c, oy*sh - padTop + ky*dh, ox*sw - padLeft + kx*dw]     (zero outside x)
// x: [N, C, H, W], w: [M, C/group, KH, KW], b: [M], y: [N, M, OH, OW]; oc = g*M/group + m.
//
// On WebGPU it is an implicit GEMM on kernels/gemm.ts, one GEMM per group (the core's batch):
//   O[g][m, col] = sum_k W[g][m, k] * X[g][k, col]    K = C/group*KH*KW, col = (n, oy, ox)
// W[g] is w's rows as they lie; X[g][k, col] is the im2col matrix, never materialised: loadB
// computes each element's address from k = (c, ky, kx) and col, and returns 0 in the padding.
// Bias and the fused epilogue chain (ops/epilogue.ts: activation, affine steps, a residual tensor
// read as input 3 and on) are applied in the GEMM's store, before the value leaves registers.
// Compacted conv (synapse vector elimination, design notes 4.1 step 5): with the attribute
// `kept_rows` (sorted, distinct indices k = (c*KH + ky)*KW + kx into the per-group reduction
// dimension K = C/group*KH*KW), w is [M, K'], row oc's column j holding the weight of its group's
// j-th kept row, and `kernel_shape` is required, since w no longer carries KH, KW. kept_rows is
// either one list of K' rows that every group keeps, or (group > 1) group lists of K' rows one
// after the other, group g's at [g*K', (g+1)*K'): every group keeps the same number of rows, so
// that w stays one matrix and the groups one batched GEMM. The op computes the conv over the kept rows only: it equals the dense conv
// whose w has zeros in every other row. On WebGPU the GEMM's K is K': loadB reads x through a table
// of the kept rows' (offset, dy, dx), so the work is the smaller dense GEMM, with no masked
// multiply-adds.
// Backward: see convGrad below and ops/convgrad.ts (the input and weight gradients are implicit
// GEMMs on the same core).

import type { FloatFormat } from '../formats/format.js';
import { alignedOperand, formatsWgsl, gatherOperand, packedMatrixOperand, packedStoreColumns, runType, storageType, valueAt } from '../formats/wgsl.js';
import { gemmKernel, matrixOperand, storeColumns } from '../kernels/gemm.js';
import { bindingDecls, i32, linearGrid, linearIndexFn, u32 } from '../kernels/wgsl.js';
import { shapeStr, Tensor, type Shape } from '../tensor.js';
import { activationAttr, defineOp, intAttr, intsAttr, OpError, stringAttr, type Activation, type EpilogueStep, type GradContext, type RawAttrs } from './op.js';
import { type Binding, type KernelContext } from '../kernels/context.js';
import { type IoFormats } from '../formats/format.js';
import { checkEpilogue, MAX_EPILOGUE_INPUTS, epilogueBuffer, epilogueCpu, epilogueInputs, epilogueNeeds, epilogueOf, epilogueWgsl } from './epilogue.js';

export interface ConvAttrs {
  readonly group: number;
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** [top, left, bottom, right], resolved from auto_pad when it is set. */
  readonly pads: readonly [number, number, number, number];
  readonly activation?: Activation;
  /** The fused chain (ops/epilogue.ts): the activation, then the `epilogue` steps; operands from input 3 on. */
  readonly epilogue: readonly EpilogueStep[];
  /**
   * A prologue (attribute `input_scale`, the index of an input of N·C values, e.g. [N, C, 1, 1]):
   * x[n, c, ...] is multiplied by it as it is loaded. Squeeze-excite's gate, fused into the conv
   * that reads the gated tensor (pointwise, ungrouped, dense only).
   */
  readonly inputScale?: number;
  /** Compacted conv: the kept reduction rows (see the header): K' rows, or group*K' when perGroup. */
  readonly kept?: readonly number[];
  readonly keptPerGroup?: boolean;
}

/** Every size a Conv kernel needs, from validated shapes and attributes. */
export interface ConvGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  M: number;
  OH: number;
  OW: number;
  Cg: number;
  Mg: number;
  KH: number;
  KW: number;
  bias: boolean;
}

const pair = (v: number[], name: string): [number, number] => {
  if (v.length !== 2) throw new OpError(`Conv: attribute '${name}' must have 2 values for a 2-D conv, got ${v.length}`);
  return [v[0], v[1]];
};

export function resolveAttrs(raw: RawAttrs, inputs: readonly Shape[]): ConvAttrs {
  const [x, w] = inputs;
  if (x.length !== 4) throw new OpError(`Conv: input X must be 4-D [N, C, H, W], got ${shapeStr(x)}`);
  const group = intAttr(raw, 'group', 1);
  if (group < 1) throw new OpError(`Conv: attribute 'group' must be >= 1, got ${group}`);
  const kept = raw.kept_rows === undefined ? undefined : intsAttr(raw, 'kept_rows');
  let keptPerGroup = false;
  if (kept) {
    if (w.length !== 2) throw new OpError(`Conv: with 'kept_rows', weight W must be 2-D [M, K'], got ${shapeStr(w)}`);
    if (raw.kernel_shape === undefined) throw new OpError(`Conv: attribute 'kernel_shape' is required with 'kept_rows' (the compacted W does not carry KH, KW)`);
    const Kp = w[1];
    keptPerGroup = group > 1 && kept.length === group * Kp && Kp > 0;
    if (kept.length !== Kp && !keptPerGroup) {
      throw new OpError(
        `Conv: compacted W ${shapeStr(w)} does not match 'kept_rows' (${kept.length} rows): W must be [M, K'] with K' = the rows each group keeps` +
          (group > 1 ? ` (one list of K' shared by the ${group} groups, or ${group} lists of K' one after the other)` : ''),
      );
    }
    for (let g = 0; g < (keptPerGroup ? group : 1); g++) checkKeptRows(kept.slice(g * Kp, (g + 1) * Kp), 'Conv', keptPerGroup ? ` (group ${g}'s rows)` : '');
  } else if (w.length !== 4) throw new OpError(`Conv: weight W must be 4-D [M, C/group, KH, KW], got ${shapeStr(w)}`);
  const kernel = pair(intsAttr(raw, 'kernel_shape', kept ? undefined : [w[2], w[3]]), 'kernel_shape');
  if (kept && kernel.some((k) => k < 1)) throw new OpError(`Conv: attribute 'kernel_shape' must be >= 1, got [${kernel}]`);
  if (!kept && (kernel[0] !== w[2] || kernel[1] !== w[3])) throw new OpError(`Conv: attribute 'kernel_shape' [${kernel}] differs from W's [${w[2]}, ${w[3]}]`);
  const strides = pair(intsAttr(raw, 'strides', [1, 1]), 'strides');
  const dilations = pair(intsAttr(raw, 'dilations', [1, 1]), 'dilations');
  if (strides.some((s) => s < 1)) throw new OpError(`Conv: attribute 'strides' must be >= 1, got [${strides}]`);
  if (dilations.some((d) => d < 1)) throw new OpError(`Conv: attribute 'dilations' must be >= 1, got [${dilations}]`);
  const autoPad = stringAttr(raw, 'auto_pad', 'NOTSET');
  let pads: [number, number, number, number];
  if (autoPad === 'NOTSET') {
    const p = intsAttr(raw, 'pads', [0, 0, 0, 0]);
    if (p.length !== 4) throw new OpError(`Conv: attribute 'pads' must have 4 values [top, left, bottom, right], got ${p.length}`);
    if (p.some((v) => v < 0)) throw new OpError(`Conv: attribute 'pads' must be >= 0, got [${p}]`);
    pads = [p[0], p[1], p[2], p[3]];
  } else {
    if (raw.pads !== undefined) throw new OpError(`Conv: attribute 'pads' cannot be used together with auto_pad=${autoPad}`);
    if (autoPad === 'VALID') pads = [0, 0, 0, 0];
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      // Output = ceil(in / stride); the odd pixel of padding goes to the end (UPPER) or start (LOWER).
      const total = [0, 1].map((d) => Math.max(0, (Math.ceil(x[2 + d] / strides[d]) - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - x[2 + d]));
      const begin = total.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
      pads = [begin[0], begin[1], total[0] - begin[0], total[1] - begin[1]];
    } else throw new OpError(`Conv: attribute 'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '${autoPad}'`);
  }
  const inputScale = raw.input_scale === undefined ? undefined : intAttr(raw, 'input_scale');
  if (inputScale !== undefined) {
    const pointwise = kernel[0] === 1 && kernel[1] === 1 && strides.every((v) => v === 1) && pads.every((v) => v === 0);
    if (!pointwise || group !== 1 || kept) throw new OpError(`Conv: attribute 'input_scale' needs a pointwise (1x1, stride 1, unpadded), ungrouped, dense conv`);
    if (inputScale < 3 || inputScale >= inputs.length) throw new OpError(`Conv: attribute 'input_scale' is input ${inputScale}, not one of the inputs after x, W, B`);
  }
  return { group, kernel, strides, dilations, pads, activation: activationAttr(raw), epilogue: epilogueOf(raw), inputScale, ...(kept ? { kept, keptPerGroup } : {}) };
}

/**
 * One list of kept rows of a compacted Conv or Gemm: non-empty, strictly increasing (sorted, no
 * duplicates), non-negative. The upper bound (< K) is checked where K is known.
 */
function checkKeptRows(kept: readonly number[], op: string, which = ''): void {
  if (kept.length === 0) throw new OpError(`${op}: attribute 'kept_rows' must keep at least one row`);
  for (let j = 0; j < kept.length; j++) {
    if (kept[j] < 0) throw new OpError(`${op}: attribute 'kept_rows' has a negative row ${kept[j]}${which}`);
    if (j > 0 && kept[j] <= kept[j - 1]) {
      throw new OpError(`${op}: attribute 'kept_rows' must be sorted and distinct${which}, got ${kept[j - 1]} then ${kept[j]} at index ${j}`);
    }
  }
}

/** The `kept_rows` attribute of a compacted Gemm (see checkKeptRows). */
export function keptRowsAttr(raw: RawAttrs, op: string): number[] {
  const kept = intsAttr(raw, 'kept_rows');
  checkKeptRows(kept, op);
  return kept;
}

/** The rows group `g` of a compacted conv keeps. */
export function keptRowsOf(a: ConvAttrs, g: number): readonly number[] {
  const kept = a.kept!;
  if (!a.keptPerGroup) return kept;
  const Kp = kept.length / a.group;
  return kept.slice(g * Kp, (g + 1) * Kp);
}

export function geometry([x, w, b]: readonly Shape[], a: ConvAttrs): ConvGeom {
  const [N, C, H, W] = x;
  const [M, Cg, KH, KW] = a.kept ? [w[0], C / a.group, a.kernel[0], a.kernel[1]] : w;
  if (C % a.group !== 0) throw new OpError(`Conv: group ${a.group} does not divide the ${C} input channels`);
  if (M % a.group !== 0) throw new OpError(`Conv: group ${a.group} does not divide the ${M} output channels of W`);
  if (a.kept) {
    const K = Cg * KH * KW;
    const last = Math.max(...a.kept);
    if (last >= K) throw new OpError(`Conv: attribute 'kept_rows' has row ${last}, out of range for K = C/group*KH*KW = ${Cg}*${KH}*${KW} = ${K}`);
  } else if (Cg !== C / a.group) throw new OpError(`Conv: W has ${Cg} input channels per group, X has ${C} channels in ${a.group} group(s) (expected ${C / a.group})`);
  if (b && (b.length !== 1 || b[0] !== M)) throw new OpError(`Conv: bias B must be [${M}], got ${shapeStr(b)}`);
  const out = (d: number) => {
    const span = (a.kernel[d] - 1) * a.dilations[d] + 1;
    return Math.floor((x[2 + d] + a.pads[d] + a.pads[d + 2] - span) / a.strides[d]) + 1;
  };
  const OH = out(0);
  const OW = out(1);
  if (OH < 1 || OW < 1) throw new OpError(`Conv: the (dilated) kernel ${KH}x${KW} does not fit the padded ${H}x${W} input`);
  return { N, C, H, W, M, OH, OW, Cg, Mg: M / a.group, KH, KW, bias: !!b };
}

export const convOp = defineOp<ConvAttrs>({
  type: 'Conv',
  // x, w, b, then the epilogue chain's operands (a residual tensor, per-channel constants).
  arity: [2, 3 + MAX_EPILOGUE_INPUTS],
  attrs: resolveAttrs,
  shape: (inputs, a) => {
    const g = geometry(inputs, a);
    checkEpilogue(a.epilogue, inputs, 3, g.M, g.N * g.M * g.OH * g.OW, a.inputScale === undefined ? [] : [a.inputScale]);
    if (a.inputScale !== undefined && inputs[a.inputScale].reduce((p, d) => p * d, 1) !== g.N * g.C) {
      throw new OpError(`Conv: the input scale (input ${a.inputScale}, ${shapeStr(inputs[a.inputScale])}) must have N·C = ${g.N * g.C} values`);
    }
    return [[g.N, g.M, g.OH, g.OW]];
  },
  cpu: (inputs, a) => {
    const [x0, w, b] = inputs;
    // The prologue: x scaled per (image, channel) before the conv.
    const s = a.inputScale === undefined ? undefined : inputs[a.inputScale];
    const plane = x0.shape[2] * x0.shape[3];
    const x = s ? new Tensor(x0.shape, x0.data.map((v, i) => Math.fround(v * s.data[Math.floor(i / plane)]))) : x0;
    const g = geometry(inputs.slice(0, 3).map((t) => t.shape), a);
    const ep = epilogueCpu(a.epilogue, inputs);
    const act = (s: number, i: number) => ep(s, Math.floor(i / (g.OH * g.OW)) % g.M, i);
    const [sh, sw] = a.strides;
    const [dh, dw] = a.dilations;
    const y = new Float32Array(g.N * g.M * g.OH * g.OW);
    if (a.kept) {
      // Compacted: the same sum over the kept rows only; w's column j is the group's row kept[j].
      const Kp = w.shape[1];
      let i = 0;
      for (let n = 0; n < g.N; n++) {
        for (let oc = 0; oc < g.M; oc++) {
          const c0 = Math.floor(oc / g.Mg) * g.Cg;
          const kept = keptRowsOf(a, Math.floor(oc / g.Mg));
          for (let oy = 0; oy < g.OH; oy++) {
            for (let ox = 0; ox < g.OW; ox++) {
              let s = b ? b.data[oc] : 0;
              for (let j = 0; j < Kp; j++) {
                const k = kept[j];
                const c = Math.floor(k / (g.KH * g.KW));
                const ky = Math.floor(k / g.KW) % g.KH;
                const kx = k % g.KW;
                const iy = oy * sh - a.pads[0] + ky * dh;
                const ix = ox * sw - a.pads[1] + kx * dw;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                s += w.data[oc * Kp + j] * x.data[((n * g.C + c0 + c) * g.H + iy) * g.W + ix];
              }
              y[i] = act(s, i);
              i++;
            }
          }
        }
      }
      return [new Tensor([g.N, g.M, g.OH, g.OW], y)];
    }
    let i = 0;
    for (let n = 0; n < g.N; n++) {
      for (let oc = 0; oc < g.M; oc++) {
        const c0 = Math.floor(oc / g.Mg) * g.Cg;
        for (let oy = 0; oy < g.OH; oy++) {
          for (let ox = 0; ox < g.OW; ox++) {
            let s = b ? b.data[oc] : 0;
            for (let c = 0; c < g.Cg; c++) {
              for (let ky = 0; ky < g.KH; ky++) {
                const iy = oy * sh - a.pads[0] + ky * dh;
                if (iy < 0 || iy >= g.H) continue;
                for (let kx = 0; kx < g.KW; kx++) {
                  const ix = ox * sw - a.pads[1] + kx * dw;
                  if (ix < 0 || ix >= g.W) continue;
                  s += w.data[((oc * g.Cg + c) * g.KH + ky) * g.KW + kx] * x.data[((n * g.C + c0 + c) * g.H + iy) * g.W + ix];
                }
              }
            }
            y[i] = act(s, i);
            i++;
          }
        }
      }
    }
    return [new Tensor([g.N, g.M, g.OH, g.OW], y)];
  },
  gpu: (inputs, _out, a, ctx, formats) => {
    const g = geometry(inputs.slice(0, 3), a);
    const pf = packedFormats(formats);
    return [isDepthwise(g, a) ? depthwise(g, a, ctx, pf) : convGemm(g, a, ctx, pf)];
  },
  // Data fission: x, w and b may be packed (every loader reads through the format's split), and
  // the output packed on store where each invocation owns whole words of it.
  packed: {
    inputs: Array.from({ length: 3 + MAX_EPILOGUE_INPUTS }, (_, i) => i),
    output: (inputs, _out, a, f) => {
      const g = geometry(inputs, a);
      if (4 % f.lanes) return `${f.name} packs ${f.lanes} values per word, which does not divide a run of 4`;
      const row = isDepthwise(g, a) ? g.OW : g.OH * g.OW;
      const what = isDepthwise(g, a) ? 'output row' : 'output channel plane';
      return row % f.lanes ? `an ${what} of ${row} values is not a whole number of ${f.name} words (${f.lanes} per word)` : null;
    },
  },
  grad: convGrad,
});

/** Raw attributes that resolve to `a` again, pads explicit: what the gradient ops are given. */
export function rawConvAttrs(a: ConvAttrs): RawAttrs {
  return { group: a.group, kernel_shape: [...a.kernel], strides: [...a.strides], dilations: [...a.dilations], pads: [...a.pads] };
}

/**
 * Backward (the gradient ops are in ops/convgrad.ts):
 *   gx = ConvInputGrad(gy, wt)   wt = w regrouped to [C, M/group, KH, KW] (a Transpose, or a free
 *                                Reshape when Cg or Mg is 1), so the GEMM's A rows are contiguous
 *   gw = ConvWeightGrad(x, gy)
 *   gb = ReduceSum(gy, axes [0, 2, 3])
 * A fused activation is refused: the node keeps only the activated output, and recomputing the
 * pre-activation would cost a second forward conv. Training graphs are built from unfused graphs
 * (activations are fused for inference only), so this never happens in the trainer.
 * Compacted (kept_rows): with S the [K', K] selection matrix (S[j, kept[j]] = 1; one per group
 * when the groups keep different rows, applied as a batched MatMul), the dense weights
 * are w·S (zeros in the eliminated rows) and the gradient of the compacted w is the dense one times
 * S^T, so eliminated rows stay eliminated: gx = ConvInputGrad(gy, (w·S) regrouped), gw =
 * ConvWeightGrad(x, gy)·S^T. Both products are small MatMuls (M·K·K' multiply-adds); the input
 * gradient multiplies zeros in the eliminated rows, which costs time but not correctness.
 */
function convGrad(g: GradContext<ConvAttrs>): (string | undefined)[] {
  const a = g.attrs;
  if (a.epilogue.length) {
    throw new OpError(
      `Conv: cannot differentiate a fused ${a.activation && a.epilogue.length === 1 ? 'activation' : 'chain'} (${a.epilogue.map((s) => s.op).join(', ')}): the node keeps only its last value. ` +
        'Train the graph before elementwise ops are fused (fusion is an inference pass; graph/fusion.ts unfuseEpilogues undoes it)',
    );
  }
  const [x, wIn] = g.inputs;
  const gy = g.gradOutputs[0]!;
  const [xs, wsIn] = g.inputShapes;
  const kept = a.kept;
  const [M, Cg, KH, KW] = kept ? [wsIn[0], xs[1] / a.group, a.kernel[0], a.kernel[1]] : wsIn;
  const K = Cg * KH * KW;
  const Mg = M / a.group;
  const raw = rawConvAttrs(a);
  let w = wIn;
  // select(t, v): v [M, K'] -> [M, K] (t false: times S), or v [M, K] -> [M, K'] (t true: times
  // S^T); with lists per group, one S per group, as a batched MatMul over [group, Mg, *].
  let select: ((t: boolean, v: string) => string) | undefined;
  if (kept) {
    const Kp = wsIn[1];
    const sets = a.keptPerGroup ? a.group : 1;
    select = (t, v) => {
      const s = new Float32Array(sets * Kp * K);
      for (let q = 0; q < sets; q++) keptRowsOf(a, q).forEach((k, j) => (s[q * Kp * K + (t ? k * Kp + j : j * K + k)] = 1));
      const S = g.constant(new Tensor([...(sets > 1 ? [sets] : []), ...(t ? [K, Kp] : [Kp, K])], s));
      if (sets === 1) return g.emit('MatMul', [v, S]);
      const batched = g.emit('Reshape', [v], { shape: [sets, Mg, t ? K : Kp] });
      return g.emit('Reshape', [g.emit('MatMul', [batched, S])], { shape: [M, t ? Kp : K] });
    };
    if (g.wants[0]) w = g.emit('Reshape', [select(false, wIn)], { shape: [M, Cg, KH, KW] });
  }
  let gx: string | undefined;
  if (g.wants[0]) {
    // wt[g*Cg + c, m, ky, kx] = w[g*Mg + m, c, ky, kx].
    const wt =
      Cg === 1 || Mg === 1
        ? g.emit('Reshape', [w], { shape: [xs[1], Mg, KH, KW] })
        : a.group === 1
          ? g.emit('Transpose', [w], { perm: [1, 0, 2, 3] })
          : g.emit('Reshape', [g.emit('Transpose', [g.emit('Reshape', [w], { shape: [a.group, Mg, Cg, KH, KW] })], { perm: [0, 2, 1, 3, 4] })], {
              shape: [xs[1], Mg, KH, KW],
            });
    gx = g.emit('ConvInputGrad', [gy, wt], { ...raw, input_size: [xs[2], xs[3]] });
  }
  let gw = g.wants[1] ? g.emit('ConvWeightGrad', [x, gy], raw) : undefined;
  if (gw && select) gw = select(true, g.emit('Reshape', [gw], { shape: [M, K] }));
  const gb = g.inputs.length > 2 && g.wants[2] ? g.emit('ReduceSum', [gy], { axes: [0, 2, 3], keepdims: 0 }) : undefined;
  return [gx, gw, gb];
}

/** Depthwise (one input channel per group): a GEMM of K = KH*KW per channel is all overhead; a
 * direct kernel that slides along rows is ~2x faster on llvmpipe (bench/kernels.ts). */
function isDepthwise(g: ConvGeom, a: ConvAttrs): boolean {
  return g.Cg === 1 && a.group > 1 && !a.kept;
}

/** Packed formats of x, w, b and y (undefined: float32; fp32 counts as float32). */
interface ConvFormats {
  x?: FloatFormat;
  w?: FloatFormat;
  b?: FloatFormat;
  y?: FloatFormat;
  /** Of every input (the epilogue's operands read theirs from here). */
  inputs?: readonly (FloatFormat | undefined)[];
}

function packedFormats(io: IoFormats | undefined): ConvFormats {
  const p = (f: FloatFormat | undefined) => (f && f.bits < 32 ? f : undefined);
  return { x: p(io?.inputs[0]), w: p(io?.inputs[1]), b: p(io?.inputs[2]), y: p(io?.outputs[0]), inputs: io?.inputs.map(p) };
}

/**
 * The epilogue chain's part of a conv kernel: its operand bindings (appended to `bindings` and
 * declared), and the call applying it to `v`, the 4 results of channel `oc` at the flat output
 * indices index(c) of columns c = col..col+3.
 */
function convEpilogue(a: ConvAttrs, pf: ConvFormats, bindings: Binding[], index: (c: string) => string, col: string) {
  const operands = epilogueInputs(a.epilogue);
  const first = bindings.length;
  for (const i of operands) bindings.push({ input: i });
  const decls = operands
    .map((i, j) => `@group(0) @binding(${first + j}) var<storage, read> ${epilogueBuffer(i)}: array<${storageType(pf.inputs?.[i])}>;`)
    .join('\n');
  const needs = epilogueNeeds(a.epilogue);
  const at = needs.element ? `vec4(${[0, 1, 2, 3].map((i) => index(i ? `${col} + ${u32(i)}` : col)).join(', ')})` : 'vec4<u32>()';
  return {
    decls: `${decls}\n${epilogueWgsl(a.epilogue, (i) => pf.inputs?.[i])}`,
    apply: (v: string) => `epilogue(${v}, ${needs.channel ? 'vec4(oc)' : 'vec4<u32>()'}, ${at})`,
  };
}

/** Conv as an implicit GEMM (see the header); `pf`: the values stored packed (data fission). */
function convGemm(g: ConvGeom, a: ConvAttrs, ctx: KernelContext, pf: ConvFormats = {}) {
  const { C, H, W, M, OH, OW, Cg, Mg, KH, KW } = g;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const [pt, pl] = a.pads;
  // Compacted: K' rows per group. Every row kept: w [M, K] is the dense w's layout, so the dense
  // kernel (no table) is exact.
  const Kp = a.kept ? a.kept.length / (a.keptPerGroup ? a.group : 1) : Cg * KH * KW;
  const kept = a.kept && Kp < Cg * KH * KW ? a.kept : undefined;
  const K = Kp;
  // Lists per group: the table holds them one after the other, and colB gives the group's start
  // (`t`, in rows), so that loadB reads kt[t + k].
  const perGroup = !!kept && !!a.keptPerGroup;
  const OHW = OH * OW;
  const N = g.N * OHW;
  const padded = a.pads.some((p) => p > 0);
  // 1x1, stride 1, no padding: X[g][k, col] is x itself, contiguous along col within an image.
  const pointwise = KH === 1 && KW === 1 && sh === 1 && sw === 1 && !padded;
  // Aligned runs of 4 (one vec4, or whole packed words): x in a pointwise conv whose planes are
  // whole runs, w when rows are, y when output planes are (a packed format with 3 lanes never).
  const runs = (f: FloatFormat | undefined) => !f || runType(f) !== null;
  const vecX = pointwise && (H * W) % 4 === 0 && runs(pf.x);
  const vecW = K % 4 === 0 && runs(pf.w);
  const vecY = OHW % 4 === 0;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(g.bias ? [{ input: 2 }] : []), { output: 0 }];
  // Column -> flat offset of its (n, oy, ox) in a [N, *, OH, OW] tensor with `ch` channels.
  const colOffset = (col: string, ch: number) => (g.N === 1 ? col : `${col} / ${u32(OHW)} * ${u32(ch * OHW)} + ${col} % ${u32(OHW)}`);
  const yIndex = (c: string) => `${colOffset(c, M)} + oc * ${u32(OHW)}`;
  const vt = (f: FloatFormat | undefined, v: boolean) => storageType(f, v ? 'vec4<f32>' : 'f32');
  let decls = bindingDecls(
    bindings,
    ['x', 'w', ...(g.bias ? ['bias'] : []), 'y'],
    [vt(pf.x, vecX), vt(pf.w, vecW), ...(g.bias ? [vt(pf.b, false)] : []), vt(pf.y, vecY)],
  );
  // Epilogue operands bind after y, then the kept-row table when it is a binding.
  const ep = convEpilogue(a, pf, bindings, (c) => yIndex(`(${c})`), 'col');
  // The prologue (input_scale, pointwise only): loadB scales each x value by its (image, channel)'s
  // factor; x is then split at the load (packedB off), so that every read goes through it.
  let scaleDecl = '';
  if (a.inputScale !== undefined) {
    bindings.push({ input: a.inputScale });
    scaleDecl = `@group(0) @binding(${bindings.length - 1}) var<storage, read> xscale: array<${storageType(pf.inputs?.[a.inputScale])}>;`;
    decls += `\n${scaleDecl}`;
  }
  decls += `\n${ep.decls}\n${formatsWgsl([pf.x, pf.w, pf.b, pf.y, ...(pf.inputs ?? []).slice(3)])}`;
  // Compacted: the kept-row table `kt` (see keptTable), as a constant binding or a WGSL constant.
  const table = kept && keptTable(kept, g, a, pointwise);
  if (table) decls += `\n${tableDecl('kt', table.words, bindings, ctx)}`;
  // The 4 columns n..n+3 of an invocation; those past the last read the last instead of past x.
  const cols = `let col = ${N % 4 === 0 ? 'vec4(n) + vec4(0u, 1u, 2u, 3u)' : `min(vec4(n) + vec4(0u, 1u, 2u, 3u), vec4(${u32(N - 1)}))`};`;

  // colB for windowed convs: each column's window origin (iy, ix) and the offset of
  // x[n, g*Cg, iy, ix], plus an optional extra field (a compacted layer's per-group table start).
  const windowColB = (extra?: string) => `struct ColB { at: vec4<i32>, iy: vec4<i32>, ix: vec4<i32>${extra ? ', t: u32' : ''} }
fn colB(batch: u32, n: u32) -> ColB {
  ${cols}
  let p = col % ${u32(OHW)};
  let iy = vec4<i32>(p / ${u32(OW)} * ${u32(sh)}) - ${i32(pt)};
  let ix = vec4<i32>(p % ${u32(OW)} * ${u32(sw)}) - ${i32(pl)};
  let base = ${g.N === 1 ? '' : `col / ${u32(OHW)} * ${u32(C * H * W)} + `}vec4(batch * ${u32(Cg * H * W)});
  return ColB(vec4<i32>(base) + iy * ${i32(W)} + ix, iy, ix${extra ? `, ${extra}` : ''});
}`;
  // Which elements of the run of tap (dy, dx) lie inside x (the rest is padding, read as 0).
  const inWindow = padded ? `(vec4<u32>(c.iy + vec4(dy)) < vec4(${u32(H)})) & (vec4<u32>(c.ix + vec4(dx)) < vec4(${u32(W)}))` : undefined;

  let operandB: string;
  if (pointwise) {
    // B[g][k, col] = x[n, g*Cg + k, p] for col = (n, p): colB gives the offset of channel g*Cg.
    // Compacted: k indexes the table, whose entry is the kept channel c (its offset c*H*W).
    const chan = `${table ? `kt[${perGroup ? 'c.t + k' : 'k'}]` : 'k'} * ${u32(H * W)}`;
    const start = `batch * ${u32(Kp)}`;
    operandB = vecX
      ? perGroup
        ? `struct ColB { at: u32, t: u32 }
fn colB(batch: u32, n: u32) -> ColB { return ColB(${colOffset('n', C)} + batch * ${u32(Cg * H * W)}, ${start}); }
${alignedOperand('B', 'x', pf.x, 'ColB', `c.at + ${chan}`)}`
        : `fn colB(batch: u32, n: u32) -> u32 { return ${colOffset('n', C)} + batch * ${u32(Cg * H * W)}; }
${alignedOperand('B', 'x', pf.x, 'u32', `c + ${chan}`)}`
      : `${perGroup ? 'struct ColB { at: vec4<u32>, t: u32 }\n' : ''}fn colB(batch: u32, n: u32) -> ${perGroup ? 'ColB' : 'vec4<u32>'} {
  ${cols}
  let at = ${colOffset('col', C)} + vec4(batch * ${u32(Cg * H * W)});
  return ${perGroup ? `ColB(at, ${start})` : 'at'};
}
${gatherOperand('B', 'x', pf.x, perGroup ? 'ColB' : 'vec4<u32>', `  let at = c${perGroup ? '.at' : ''} + vec4(${chan});`)}`;
  } else if (table) {
    // Compacted: colB as below; loadB takes row k's offset (and for the padding check its dy, dx)
    // from one table read instead of dividing k, shared by the 4 columns.
    const [offMask, dyShift, dyMask, dxShift] = table.fields;
    const row = perGroup ? '(c.t + k)' : 'k';
    const decode =
      (table.stride === 1
        ? `  let e = kt[${row}];
  let ch = i32(e & ${u32(offMask)});
  let dy = i32((e >> ${u32(dyShift)}) & ${u32(dyMask)});
  let dx = i32(e >> ${u32(dxShift)});`
        : `  let ch = i32(kt[2u * ${row}]);
  let d = kt[2u * ${row} + 1u];
  let dy = i32(d & 0xffffu);
  let dx = i32(d >> 16u);`) + `\n  let off = ch * ${i32(H * W)} + dy * ${i32(W)} + dx;`;
    operandB = `${windowColB(perGroup ? `batch * ${u32(Kp)}` : undefined)}
${gatherOperand('B', 'x', pf.x, 'ColB', `${decode}\n  let at = vec4<u32>(c.at + vec4(off));`, inWindow)}`;
  } else {
    // loadB adds the offset of k = (c, ky, kx) to the window origin, dividing k.
    operandB = `${windowColB()}
${gatherOperand(
  'B',
  'x',
  pf.x,
  'ColB',
  `  let r = k % ${u32(KH * KW)};
  let dy = i32(r / ${u32(KW)} * ${u32(dh)});
  let dx = i32(r % ${u32(KW)} * ${u32(dw)});
  let at = vec4<u32>(c.at + vec4(i32(k / ${u32(KH * KW)} * ${u32(H * W)}) + dy * ${i32(W)} + dx));`,
  inWindow,
)}`;
  }
  const wOperand = { rowStride: K, colStride: 1, batchOffset: (b: string) => `${b} * ${u32(Mg * K)}` };
  const functions = `${decls}
${pf.w ? packedMatrixOperand('A', 'w', pf.w, { ...wOperand, aligned: vecW }) : matrixOperand('A', 'w', { ...wOperand, vec4: vecW })}
${operandB}
fn store(batch: u32, m: u32, col: u32, acc: vec4<f32>) {
  let oc = batch * ${u32(Mg)} + m;
  let v = ${ep.apply(`acc${g.bias ? ` + vec4(${valueAt('bias', pf.b, 'oc')})` : ''}`)};
${pf.y ? packedStoreColumns('y', 'v', 'col', yIndex, pf.y, N) : storeColumns('y', 'v', 'col', N, yIndex, vecY)}
}`;
  const k = gemmKernel({ M: Mg, N, K, batches: a.group, functions: a.inputScale === undefined ? functions : scaledB(functions, g, vecX, pf.inputs?.[a.inputScale]), packedA: pf.w, packedB: a.inputScale === undefined ? pf.x : undefined }, ctx);
  return { wgsl: k.wgsl, workgroups: k.workgroups, bindings };
}

/**
 * The prologue of a pointwise conv with input_scale: the generated loadB becomes loadB_raw, and
 * loadB multiplies its run by xscale[image·C + k] (k is the channel; colB's offsets give the
 * image: offset / (C·H·W)). colB is a u32 offset with vec4 runs, else one offset per column.
 */
function scaledB(functions: string, g: ConvGeom, vecX: boolean, f: FloatFormat | undefined): string {
  const def = 'fn loadB(k: u32, c: ';
  if (functions.split(def).length !== 2) throw new Error('Conv input_scale: expected one generated loadB');
  const CHW = u32(g.C * g.H * g.W);
  const at = (i: string) => valueAt('xscale', f, i);
  const scale = g.N === 1 ? `vec4(${at('k')})` : vecX ? `vec4(${at(`c / ${CHW} * ${u32(g.C)} + k`)})` : `vec4(${['x', 'y', 'z', 'w'].map((q) => at(`c.${q} / ${CHW} * ${u32(g.C)} + k`)).join(', ')})`;
  return `${functions.replace(def, 'fn loadB_raw(k: u32, c: ')}
fn loadB(k: u32, c: ${vecX ? 'u32' : 'vec4<u32>'}) -> vec4<f32> { return loadB_raw(k, c) * ${scale}; }`;
}

/**
 * Where a compacted op's kept-row table lives: 'binding' (a constant storage buffer) or 'const' (a
 * WGSL constant array in the shader text). 'auto' (the default): on software adapters 'const' up
 * to MAX_CONST_TABLE words, which dev/compacted-bench.ts measured 1.2-1.4x faster on lavapipe
 * (dev/gemm-notes.md), and a binding beyond, to keep the shader text small; on hardware adapters
 * a binding, since a dynamically indexed constant array may be copied into each invocation's
 * private memory there (not measured). A switch for tests
 * and that script. packBits (32) is the word a conv's packed table entry must fit; tests lower it
 * to reach the two-word layout (keptTable), which otherwise only large inputs need.
 */
export const keptTableOptions: { where: 'auto' | 'binding' | 'const'; packBits: number } = { where: 'auto', packBits: 32 };
const MAX_CONST_TABLE = 4096;

/** Declares the u32 table `name`: appends its constant binding to `bindings`, or a WGSL constant. */
export function tableDecl(name: string, words: Uint32Array, bindings: Binding[], ctx: KernelContext): string {
  const where = keptTableOptions.where;
  if (where === 'const' || (where === 'auto' && ctx.softwareAdapter && words.length <= MAX_CONST_TABLE)) return `const ${name} = array<u32, ${words.length}>(${Array.from(words, (v) => `${v}u`).join(', ')});`;
  bindings.push({ constant: words });
  return `@group(0) @binding(${bindings.length - 1}) var<storage, read> ${name}: array<u32>;`;
}

/**
 * The kept-row table of a compacted conv's loadB, one entry per kept row k = (c, ky, kx):
 *  - pointwise: the channel c;
 *  - otherwise c and the tap's offsets dy = ky*dh, dx = kx*dw, from which loadB computes the
 *    offset from a column's window origin, c*H*W + dy*W + dx, and checks the padding. Packed into
 *    one u32 (c | dy << s | dx << t, `fields` = [c mask, s, dy mask, t]) when the three fit, so
 *    that loadB does one table read per k; else two words per row (`stride` 2): c, then
 *    dy | dx << 16. The table holds no size of the input: the kernel's H and W are literals that
 *    kernels/uniforms.ts can lift, so a compacted conv serves every input size too.
 */
function keptTable(kept: readonly number[], g: ConvGeom, a: ConvAttrs, pointwise: boolean): { words: Uint32Array; stride: 1 | 2; fields: number[] } {
  const { KH, KW } = g;
  const [dh, dw] = a.dilations;
  const rows = kept.map((k) => ({ c: Math.floor(k / (KH * KW)), dy: (Math.floor(k / KW) % KH) * dh, dx: (k % KW) * dw }));
  const bits = (v: number) => Math.max(1, Math.ceil(Math.log2(v + 1)));
  const bC = bits(Math.max(...rows.map((r) => r.c)));
  const bDy = pointwise ? 0 : bits((KH - 1) * dh);
  const bDx = pointwise ? 0 : bits((KW - 1) * dw);
  if (pointwise || bC + bDy + bDx <= keptTableOptions.packBits) {
    const words = new Uint32Array(rows.map((r) => (r.c | (pointwise ? 0 : (r.dy << bC) | (r.dx << (bC + bDy)))) >>> 0));
    return { words, stride: 1, fields: [bC >= 32 ? 0xffffffff : 2 ** bC - 1, bC, 2 ** bDy - 1, bC + bDy] };
  }
  if ((KH - 1) * dh >= 1 << 16 || (KW - 1) * dw >= 1 << 16) throw new OpError('Conv: the dilated kernel is too large for a compacted conv (offsets >= 65536)');
  return { words: new Uint32Array(rows.flatMap((r) => [r.c, r.dy | (r.dx << 16)])), stride: 2, fields: [] };
}

/**
 * Depthwise conv, direct: each invocation computes 4 neighbouring outputs of one row, y[n, oc, oy,
 * ox..ox+3]. Per kernel row it loads the one input row segment that all 4 outputs and all KW taps
 * cover (4 + (KW-1)*dw values at stride 1) into registers and reuses it, so an input value is read
 * once per kernel row instead of once per tap.
 */
function depthwise(g: ConvGeom, a: ConvAttrs, ctx: KernelContext, pf: ConvFormats = {}) {
  const { N, C, H, W, M, OH, OW, Mg, KH, KW } = g;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const [pt, pl] = a.pads;
  const OWB = Math.ceil(OW / 4); // 4-output blocks per row
  const count = N * M * OH * OWB;
  const WG = 64;
  const vecY = OW % 4 === 0;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(g.bias ? [{ input: 2 }] : []), { output: 0 }];
  const yIndex = (c: string) => `(noc * ${u32(OH)} + oy) * ${u32(OW)} + ${c}`;
  const base = bindingDecls(
    bindings,
    ['x', 'w', ...(g.bias ? ['bias'] : []), 'y'],
    [storageType(pf.x), storageType(pf.w), ...(g.bias ? [storageType(pf.b)] : []), storageType(pf.y, vecY ? 'vec4<f32>' : 'f32')],
  );
  const ep = convEpilogue(a, pf, bindings, (c) => yIndex(`(${c})`), 'ox');
  const decls = `${base}
${ep.decls}
${formatsWgsl([pf.x, pf.w, pf.b, pf.y, ...(pf.inputs ?? []).slice(3)])}`;
  const seg = 3 * sw + (KW - 1) * dw + 1; // input columns under the 4 outputs
  // Column checks are needed where the segment can leave the row: padding, or a partial last block.
  const checkCols = pl > 0 || a.pads[3] > 0 || OW % 4 !== 0;
  const rows: string[] = [];
  for (let ky = 0; ky < KH; ky++) {
    const loads = Array.from({ length: seg }, (_, j) => {
      const ix = `ix0 + ${i32(j)}`;
      return checkCols
        ? `    let s${j} = select(0.0, ${valueAt('x', pf.x, `row + u32(${ix})`)}, u32(${ix}) < ${u32(W)});`
        : `    let s${j} = ${valueAt('x', pf.x, `row + u32(${ix})`)};`;
    });
    const fmas = Array.from({ length: KW }, (_, kx) => {
      const taps = [0, 1, 2, 3].map((i) => `s${i * sw + kx * dw}`).join(', ');
      return `    acc = fma(vec4(${taps}), vec4(${valueAt('w', pf.w, `wo + ${u32(ky * KW + kx)}`)}), acc);`;
    });
    rows.push(`  {
    let iy = iy0 + ${i32(ky * dh)};
    if (u32(iy) < ${u32(H)}) {
      let row = xc + u32(iy) * ${u32(W)};
${loads.map((l) => `  ${l}`).join('\n')}
${fmas.map((l) => `  ${l}`).join('\n')}
    }
  }`);
  }
  const wgsl = `${decls}
${linearIndexFn(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg);
  if (i >= ${u32(count)}) { return; }
  let ox = i % ${u32(OWB)} * 4u;
  let oy = i / ${u32(OWB)} % ${u32(OH)};
  let noc = i / ${u32(OWB * OH)}; // n * M + oc
  let oc = noc % ${u32(M)};
  let xc = (noc / ${u32(M)} * ${u32(C)} + oc / ${u32(Mg)}) * ${u32(H * W)};
  let wo = oc * ${u32(KH * KW)};
  let iy0 = i32(oy * ${u32(sh)}) - ${i32(pt)};
  let ix0 = i32(ox * ${u32(sw)}) - ${i32(pl)};
  var acc = vec4<f32>();
${rows.join('\n')}
  let v = ${ep.apply(`acc${g.bias ? ` + vec4(${valueAt('bias', pf.b, 'oc')})` : ''}`)};
${pf.y ? packedStoreColumns('y', 'v', 'ox', yIndex, pf.y, OW) : storeColumns('y', 'v', 'ox', OW, yIndex, vecY)}
}`;
  return { wgsl, workgroups: linearGrid(count, WG, ctx), bindings };
}

export const convOps = [convOp];
