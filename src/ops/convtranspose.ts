// ConvTranspose (ONNX, 2-D): the gradient of Conv with respect to its input, used to upsample in
// segmentation and generator decoders. Each input pixel scatters a weighted kernel into the
// output:
//   y[n, g·Mg + m, iy·sh - padTop + ky·dh, ix·sw - padLeft + kx·dw] += x[n, g·Cg + c, iy, ix] · w[g·Cg + c, m, ky, kx]
// x: [N, C, H, W], w: [C, M/group, KH, KW], b: [M], y: [N, M, OH, OW]; Cg = C/group, Mg = M/group.
//
// Output size, per spatial axis: OH = sh·(H - 1) + output_padding + (KH - 1)·dh + 1 - padTop - padBottom.
// With `output_shape` (2 values, or 4 with N and M first), or auto_pad SAME_UPPER/SAME_LOWER
// (output = input · stride), the pads are derived from the total padding the spec defines:
//   total = sh·(H - 1) + output_padding + (KH - 1)·dh + 1 - OH
//   SAME_UPPER: begin = floor(total / 2), end = total - begin; otherwise the odd one goes first.
// A negative total (an output longer than the kernel reaches) counts as 0: the extra positions
// at the end get the bias only, as in the ONNX examples (onnxruntime 1.22 agrees for a total of
// -1 and reads uninitialised memory below that). For SAME_* with a kernel span shorter than the
// stride, onnxruntime shortens the output to the unpadded length; we keep the spec's
// input · stride. When output_shape is given it wins over `pads` (onnxruntime's rule). Only the
// start pads matter for the values. Checked against onnxruntime on every attribute.
//
// Backward: ConvTranspose is the adjoint of a Conv with the same weights, so its input gradient is
// that Conv of gy and its weight gradient is that Conv's weight gradient with the roles swapped
// (see convTransposeGrad at the end).
//
// The CPU reference is the scatter above. The WebGPU kernel is the gather form: one invocation
// per output element sums over the (ky, kx) whose tap lands on an input pixel
// (oy + padTop - ky·dh divisible by sh and inside x), then over the group's channels; where the
// stride equals the kernel and nothing is padded (one tap per output: upsampling heads) it is a
// GEMM on the tiled core instead (tapGemm).

import { activationAttr, defineOp, intAttr, intsAttr, OpError, stringAttr, type Activation, type GradContext, type RawAttrs } from './op.js';
import { type Binding, type KernelContext } from '../kernels/context.js';
import { gatherOperand } from '../formats/wgsl.js';
import { gemmKernel, matrixOperand, storeColumns } from '../kernels/gemm.js';
import { activationCpu, activationWgsl } from './unary.js';
import { bindingDecls, elementwiseMain, i32, linearGrid, u32, unravelWgsl } from '../kernels/wgsl.js';
import { shapeStr, Tensor, type Shape } from '../tensor.js';

export interface ConvTransposeAttrs {
  readonly group: number;
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly outputPadding: readonly [number, number];
  /** [top, left]: only the start pads affect which input reaches an output position. */
  readonly padBegin: readonly [number, number];
  /** [OH, OW]. */
  readonly outSize: readonly [number, number];
  readonly activation?: Activation;
}

const pair = (v: number[], name: string): [number, number] => {
  if (v.length !== 2) throw new OpError(`attribute '${name}' must have 2 values for a 2-D ConvTranspose, got ${v.length}`);
  return [v[0], v[1]];
};

function resolve(raw: RawAttrs, [x, w, b]: readonly Shape[]): ConvTransposeAttrs {
  if (x.length !== 4) throw new OpError(`input X must be 4-D [N, C, H, W], got ${shapeStr(x)}`);
  if (w.length !== 4) throw new OpError(`weight W must be 4-D [C, M/group, KH, KW], got ${shapeStr(w)}`);
  const group = intAttr(raw, 'group', 1);
  if (group < 1) throw new OpError(`attribute 'group' must be >= 1, got ${group}`);
  const C = x[1];
  if (C % group !== 0) throw new OpError(`group ${group} does not divide the ${C} input channels`);
  if (w[0] !== C) throw new OpError(`W has ${w[0]} input channels (its first dim), X has ${C}`);
  const M = w[1] * group;
  if (b && (b.length !== 1 || b[0] !== M)) throw new OpError(`bias B must be [${M}], got ${shapeStr(b)}`);
  const kernel = pair(intsAttr(raw, 'kernel_shape', [w[2], w[3]]), 'kernel_shape');
  if (kernel[0] !== w[2] || kernel[1] !== w[3]) throw new OpError(`attribute 'kernel_shape' [${kernel}] differs from W's [${w[2]}, ${w[3]}]`);
  const strides = pair(intsAttr(raw, 'strides', [1, 1]), 'strides');
  const dilations = pair(intsAttr(raw, 'dilations', [1, 1]), 'dilations');
  if (strides.some((s) => s < 1)) throw new OpError(`attribute 'strides' must be >= 1, got [${strides}]`);
  if (dilations.some((d) => d < 1)) throw new OpError(`attribute 'dilations' must be >= 1, got [${dilations}]`);
  const outputPadding = pair(intsAttr(raw, 'output_padding', [0, 0]), 'output_padding');
  outputPadding.forEach((p, d) => {
    if (p < 0 || p >= Math.max(strides[d], dilations[d])) {
      throw new OpError(`attribute 'output_padding' must be >= 0 and below the stride or dilation, got [${outputPadding}] with strides [${strides}]`);
    }
  });
  // The output length with no padding at all.
  const full = [0, 1].map((d) => strides[d] * (x[2 + d] - 1) + outputPadding[d] + (kernel[d] - 1) * dilations[d] + 1);
  const autoPad = stringAttr(raw, 'auto_pad', 'NOTSET');
  if (!['NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'].includes(autoPad)) {
    throw new OpError(`attribute 'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '${autoPad}'`);
  }
  if (autoPad !== 'NOTSET' && raw.pads !== undefined) throw new OpError(`attribute 'pads' cannot be used together with auto_pad=${autoPad}`);

  let target: number[] | undefined;
  if (raw.output_shape !== undefined) {
    const os = intsAttr(raw, 'output_shape');
    if (os.length !== 2 && os.length !== 4) throw new OpError(`attribute 'output_shape' must have 2 (or 4) values, got ${os.length}`);
    target = os.slice(-2);
    if (target.some((v) => v < 1)) throw new OpError(`attribute 'output_shape' must be positive, got [${os}]`);
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    target = [x[2] * strides[0], x[3] * strides[1]];
  }
  let padBegin: [number, number];
  let outSize: [number, number];
  if (target) {
    const begin = target.map((t, d) => {
      const total = Math.max(0, full[d] - t);
      return autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : total - Math.floor(total / 2);
    });
    padBegin = [begin[0], begin[1]];
    outSize = [target[0], target[1]];
  } else {
    const p = autoPad === 'VALID' ? [0, 0, 0, 0] : intsAttr(raw, 'pads', [0, 0, 0, 0]);
    if (p.length !== 4) throw new OpError(`attribute 'pads' must have 4 values [top, left, bottom, right], got ${p.length}`);
    if (p.some((v) => v < 0)) throw new OpError(`attribute 'pads' must be >= 0, got [${p}]`);
    padBegin = [p[0], p[1]];
    outSize = [full[0] - p[0] - p[2], full[1] - p[1] - p[3]];
    if (outSize.some((v) => v < 1)) throw new OpError(`attribute 'pads' [${p}] leaves no output (unpadded output ${full[0]}x${full[1]})`);
  }
  return { group, strides, dilations, outputPadding, padBegin, outSize, activation: activationAttr(raw) };
}

function outShape([x, w]: readonly Shape[], a: ConvTransposeAttrs): number[] {
  return [x[0], w[1] * a.group, a.outSize[0], a.outSize[1]];
}

function convTransposeCpu([x, w, b]: readonly Tensor[], a: ConvTransposeAttrs): Tensor {
  const [N, C, H, W] = x.shape;
  const [, Mg, KH, KW] = w.shape;
  const M = Mg * a.group;
  const Cg = C / a.group;
  const [OH, OW] = a.outSize;
  const y = new Float64Array(N * M * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg);
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = x.data[((n * C + c) * H + iy) * W + ix];
          for (let m = 0; m < Mg; m++) {
            for (let ky = 0; ky < KH; ky++) {
              const oy = iy * a.strides[0] - a.padBegin[0] + ky * a.dilations[0];
              if (oy < 0 || oy >= OH) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ox = ix * a.strides[1] - a.padBegin[1] + kx * a.dilations[1];
                if (ox < 0 || ox >= OW) continue;
                y[((n * M + g * Mg + m) * OH + oy) * OW + ox] += v * w.data[((c * Mg + m) * KH + ky) * KW + kx];
              }
            }
          }
        }
      }
    }
  }
  const act = activationCpu(a.activation);
  const plane = OH * OW;
  return new Tensor(
    [N, M, OH, OW],
    y.map((v, i) => act(v + (b ? b.data[Math.floor(i / plane) % M] : 0))),
  );
}

const WG = 64;

/** WGSL: `let i${axis}: u32` and `continue` unless output coordinate `o` is reached by tap `k`. */
function tapWgsl(axis: string, o: string, k: string, pad: number, dil: number, stride: number, len: number, indent: string): string {
  const t = `t${axis}`;
  const lines = [`let ${t} = i32(${o}) + ${i32(pad)} - i32(${k}) * ${i32(dil)};`];
  if (stride === 1) lines.push(`if (${t} < 0 || ${t} >= ${i32(len)}) { continue; }`, `let i${axis} = u32(${t});`);
  else {
    lines.push(
      `if (${t} < 0 || ${t} % ${i32(stride)} != 0) { continue; }`,
      `let i${axis} = u32(${t} / ${i32(stride)});`,
      `if (i${axis} >= ${u32(len)}) { continue; }`,
    );
  }
  return lines.map((l) => indent + l).join('\n');
}

export const convTransposeOp = defineOp<ConvTransposeAttrs>({
  type: 'ConvTranspose',
  arity: [2, 3],
  attrs: resolve,
  shape: (inputs, a) => [outShape(inputs, a)],
  cpu: (inputs, a) => [convTransposeCpu(inputs, a)],
  gpu: (inputs, [out], a, ctx) => {
    if (tapPerOutput(inputs[0], inputs[1], a)) return [tapGemm(inputs, out, a, ctx)];
    const [x, w, b] = inputs;
    const [, C, H, W] = x;
    const [, Mg, KH, KW] = w;
    const [, M, OH, OW] = out;
    const Cg = C / a.group;
    const n = out[0] * M * OH * OW;
    if (n === 0) return [];
    const body = `${unravelWgsl('i', out, 'o')}
  let g = o1 / ${u32(Mg)};
  let m = o1 % ${u32(Mg)};
  // x[o0, g·Cg + c, iy, ix] and w[g·Cg + c, m, ky, kx] step by one channel at a time.
  let xBase = (o0 * ${u32(C)} + g * ${u32(Cg)}) * ${u32(H * W)};
  let wBase = (g * ${u32(Cg * Mg)} + m) * ${u32(KH * KW)};
  var acc = ${b ? 'bias[o1]' : '0.0'};
  for (var ky = 0u; ky < ${u32(KH)}; ky++) {
${tapWgsl('y', 'o2', 'ky', a.padBegin[0], a.dilations[0], a.strides[0], H, '    ')}
    for (var kx = 0u; kx < ${u32(KW)}; kx++) {
${tapWgsl('x', 'o3', 'kx', a.padBegin[1], a.dilations[1], a.strides[1], W, '      ')}
      var xi = xBase + iy * ${u32(W)} + ix;
      var wi = wBase + ky * ${u32(KW)} + kx;
      for (var c = 0u; c < ${u32(Cg)}; c++) {
        acc += x[xi] * w[wi];
        xi += ${u32(H * W)};
        wi += ${u32(Mg * KH * KW)};
      }
    }
  }
  y[i] = ${activationWgsl(a.activation, 'acc')};`;
    const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(b ? [{ input: 2 }] : []), { output: 0 }];
    const names = ['x', 'w', ...(b ? ['bias'] : []), 'y'];
    const wgsl = `${bindingDecls(bindings, names)}\n${elementwiseMain(n, WG, body)}`;
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings }];
  },
  grad: convTransposeGrad,
});

/**
 * Stride equal to the kernel, no dilation, no padding, no extra output (the DB detector's 2x2
 * upsampling): every output pixel is reached by exactly one tap, (oy % KH, ox % KW) of input pixel
 * (oy / KH, ox / KW).
 */
function tapPerOutput([, , H, W]: Shape, [, , KH, KW]: Shape, a: ConvTransposeAttrs): boolean {
  return a.strides[0] === KH && a.strides[1] === KW && a.dilations.every((d) => d === 1) && a.padBegin.every((p) => p === 0) && a.outSize[0] === KH * H && a.outSize[1] === KW * W;
}

/**
 * The one-tap case as a plain GEMM per group on the tiled core (kernels/gemm.ts):
 *   O[g][q, col] = sum_c w[g·Cg + c, q] · x[n, g·Cg + c, p]     q = (m, ky, kx), col = (n, p), p = (iy, ix)
 * stored at y[n, g·Mg + m, iy·KH + ky, ix·KW + kx]. The gather form tests every tap of every
 * output (three of four miss at stride 2) and runs one dot product of Cg per output; here x and w
 * go through the core's register tiles. On lavapipe the detector's first upsampling (24 -> 24
 * channels, 120x160 -> 240x320) took 168 ms as a gather.
 */
function tapGemm([x, w, b]: readonly Shape[], out: Shape, a: ConvTransposeAttrs, ctx: KernelContext) {
  const [N, C, H, W] = x;
  const [, Mg, KH, KW] = w;
  const [, M, , OW] = out;
  const Cg = C / a.group;
  const HW = H * W;
  const OHW = out[2] * OW;
  const Q = Mg * KH * KW;
  const cols = N * HW;
  // Runs of 4 columns lie contiguous in x when they stay in one image and are aligned.
  const vecX = N === 1 && HW % 4 === 0;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(b ? [{ input: 2 }] : []), { output: 0 }];
  const decls = bindingDecls(bindings, ['x', 'w', ...(b ? ['bias'] : []), 'y'], [vecX ? 'vec4<f32>' : 'f32', 'f32', ...(b ? ['f32'] : []), 'f32']);
  const operandA = matrixOperand('A', 'w', { rowStride: 1, colStride: Q, batchOffset: (g) => `${g} * ${u32(Cg * Q)}` });
  const operandB = vecX
    ? matrixOperand('B', 'x', { rowStride: HW, colStride: 1, batchOffset: (g) => `${g} * ${u32(Cg * HW)}`, vec4: true })
    : `fn colB(batch: u32, n: u32) -> vec4<u32> {
  let col = min(vec4(n) + vec4(0u, 1u, 2u, 3u), vec4(${u32(cols - 1)}));
  return col / ${u32(HW)} * ${u32(C * HW)} + col % ${u32(HW)} + vec4(batch * ${u32(Cg * HW)});
}
${gatherOperand('B', 'x', undefined, 'vec4<u32>', `  let at = c + vec4(k * ${u32(HW)});`)}`;
  // Column c (n, iy, ix) of row (oc, ky, kx) in y.
  const yIndex = (c: string) => {
    const p = N === 1 ? c : `${c} % ${u32(HW)}`;
    return `${N === 1 ? '' : `${c} / ${u32(HW)} * ${u32(M * OHW)} + `}oc * ${u32(OHW)} + (${p} / ${u32(W)} * ${u32(KH)} + ky) * ${u32(OW)} + ${p} % ${u32(W)} * ${u32(KW)} + kx`;
  };
  const functions = `${decls}
${operandA}
${operandB}
fn store(batch: u32, q: u32, col: u32, acc: vec4<f32>) {
  let oc = batch * ${u32(Mg)} + q / ${u32(KH * KW)};
  let ky = q / ${u32(KW)} % ${u32(KH)};
  let kx = q % ${u32(KW)};
  let s = acc${b ? ' + vec4(bias[oc])' : ''};
  let v = vec4(${['x', 'y', 'z', 'w'].map((c) => activationWgsl(a.activation, `s.${c}`)).join(', ')});
${storeColumns('y', 'v', 'col', cols, (c) => yIndex(`(${c})`), false)}
}`;
  const k = gemmKernel({ M: Q, N: cols, K: Cg, batches: a.group, functions }, ctx);
  return { wgsl: k.wgsl, workgroups: k.workgroups, bindings };
}

/**
 * Backward. With the same strides, dilations, group and start pads, the forward scatter above is
 * the transpose of a Conv whose input is y-shaped and whose weights are w read as
 * [C, Mg, KH, KW] = [conv outputs, conv inputs per group, KH, KW]:
 *   gx = Conv(gy, w)                 [N, M, OH, OW] -> [N, C, H, W]
 *   gw = ConvWeightGrad(gy, x)       the conv's weight gradient, [C, Mg, KH, KW] like w
 *   gb = ReduceSum(gy, [0, 2, 3])
 * The conv's end pads are chosen so that its output is exactly H x W: s·(H - 1) + span - OH -
 * padTop. That is negative when output_padding or output_shape reach past every tap (the extra
 * rows get the bias alone); with an end pad of 0 the conv's floor still gives H while the excess
 * is below the stride, and a longer excess would need a crop first, so it is refused.
 */
function convTransposeGrad(g: GradContext<ConvTransposeAttrs>): (string | undefined)[] {
  const a = g.attrs;
  if (a.activation) {
    throw new OpError(
      `ConvTranspose: cannot differentiate a fused activation (${a.activation.op}): the node keeps only the activated output. ` +
        'Train the graph before activations are fused (fusion is an inference pass)',
    );
  }
  const [xs, ws] = g.inputShapes;
  const [, , KH, KW] = ws;
  const span = [KH, KW].map((k, d) => (k - 1) * a.dilations[d] + 1);
  const needed = [0, 1].map((d) => a.strides[d] * (xs[2 + d] - 1) + span[d] - a.outSize[d] - a.padBegin[d]);
  const end = needed.map((p) => Math.max(0, p));
  if (needed.some((p, d) => p <= -a.strides[d])) {
    throw new OpError(`ConvTranspose: no gradient when the output [${a.outSize}] reaches past every kernel tap (output_padding or output_shape); crop the output instead`);
  }
  const conv: RawAttrs = {
    group: a.group,
    kernel_shape: [KH, KW],
    strides: [...a.strides],
    dilations: [...a.dilations],
    pads: [a.padBegin[0], a.padBegin[1], end[0], end[1]],
  };
  const [x, w] = g.inputs;
  const gy = g.gradOutputs[0]!;
  const gx = g.wants[0] ? g.emit('Conv', [gy, w], conv) : undefined;
  const gw = g.wants[1] ? g.emit('ConvWeightGrad', [gy, x], conv) : undefined;
  const gb = g.inputs.length > 2 && g.wants[2] ? g.emit('ReduceSum', [gy], { axes: [0, 2, 3], keepdims: 0 }) : undefined;
  return [gx, gw, gb];
}
