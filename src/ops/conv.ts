// Conv (ONNX, 2-D): y[n, oc, oy, ox] = b[oc] + sum_{c, ky, kx} w[oc, c, ky, kx] *
//   x[n, g*C/group + c, oy*sh - padTop + ky*dh, ox*sw - padLeft + kx*dw]     (zero outside x)
// x: [N, C, H, W], w: [M, C/group, KH, KW], b: [M], y: [N, M, OH, OW]; oc = g*M/group + m.
//
// On WebGPU it is an implicit GEMM on kernels/gemm.ts, one GEMM per group (the core's batch):
//   O[g][m, col] = sum_k W[g][m, k] * X[g][k, col]    K = C/group*KH*KW, col = (n, oy, ox)
// W[g] is w's rows as they lie; X[g][k, col] is the im2col matrix, never materialised: loadB
// computes each element's address from k = (c, ky, kx) and col, and returns 0 in the padding.
// Bias and the fused activation are applied in the GEMM's epilogue.
// Backward: see convGrad below and ops/convgrad.ts (the input and weight gradients are implicit
// GEMMs on the same core).

import { activationFn, gemmKernel, matrixOperand, storeColumns } from '../kernels/gemm.js';
import { bindingDecls, i32, linearGrid, linearIndexFn, u32 } from '../kernels/wgsl.js';
import { shapeStr, Tensor, type Shape } from '../tensor.js';
import { activationAttr, defineOp, intAttr, intsAttr, OpError, stringAttr, type Activation, type Binding, type GradContext, type KernelContext, type RawAttrs } from './op.js';
import { activationCpu } from './unary.js';

export interface ConvAttrs {
  readonly group: number;
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** [top, left, bottom, right], resolved from auto_pad when it is set. */
  readonly pads: readonly [number, number, number, number];
  readonly activation?: Activation;
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
  if (w.length !== 4) throw new OpError(`Conv: weight W must be 4-D [M, C/group, KH, KW], got ${shapeStr(w)}`);
  const group = intAttr(raw, 'group', 1);
  if (group < 1) throw new OpError(`Conv: attribute 'group' must be >= 1, got ${group}`);
  const kernel = pair(intsAttr(raw, 'kernel_shape', [w[2], w[3]]), 'kernel_shape');
  if (kernel[0] !== w[2] || kernel[1] !== w[3]) throw new OpError(`Conv: attribute 'kernel_shape' [${kernel}] differs from W's [${w[2]}, ${w[3]}]`);
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
  return { group, kernel, strides, dilations, pads, activation: activationAttr(raw) };
}

export function geometry([x, w, b]: readonly Shape[], a: ConvAttrs): ConvGeom {
  const [N, C, H, W] = x;
  const [M, Cg, KH, KW] = w;
  if (C % a.group !== 0) throw new OpError(`Conv: group ${a.group} does not divide the ${C} input channels`);
  if (M % a.group !== 0) throw new OpError(`Conv: group ${a.group} does not divide the ${M} output channels of W`);
  if (Cg !== C / a.group) throw new OpError(`Conv: W has ${Cg} input channels per group, X has ${C} channels in ${a.group} group(s) (expected ${C / a.group})`);
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
  arity: [2, 3],
  attrs: resolveAttrs,
  shape: (inputs, a) => {
    const g = geometry(inputs, a);
    return [[g.N, g.M, g.OH, g.OW]];
  },
  cpu: ([x, w, b], a) => {
    const g = geometry([x.shape, w.shape, ...(b ? [b.shape] : [])], a);
    const act = activationCpu(a.activation);
    const [sh, sw] = a.strides;
    const [dh, dw] = a.dilations;
    const y = new Float32Array(g.N * g.M * g.OH * g.OW);
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
            y[i++] = act(s);
          }
        }
      }
    }
    return [new Tensor([g.N, g.M, g.OH, g.OW], y)];
  },
  gpu: (inputs, _out, a, ctx) => {
    const g = geometry(inputs, a);
    // Depthwise (one input channel per group): a GEMM of K = KH*KW per channel is all overhead;
    // a direct kernel that slides along rows is ~2x faster on llvmpipe (bench/kernels.ts).
    return [g.Cg === 1 && a.group > 1 ? depthwise(g, a, ctx) : convGemm(g, a, ctx)];
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
 */
function convGrad(g: GradContext<ConvAttrs>): (string | undefined)[] {
  const a = g.attrs;
  if (a.activation) {
    throw new OpError(
      `Conv: cannot differentiate a fused activation (${a.activation.op}): the node keeps only the activated output. ` +
        'Train the graph before activations are fused (fusion is an inference pass)',
    );
  }
  const [x, w] = g.inputs;
  const gy = g.gradOutputs[0]!;
  const [xs, ws] = g.inputShapes;
  const [M, Cg, KH, KW] = ws;
  const Mg = M / a.group;
  const raw = rawConvAttrs(a);
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
  const gw = g.wants[1] ? g.emit('ConvWeightGrad', [x, gy], raw) : undefined;
  const gb = g.inputs.length > 2 && g.wants[2] ? g.emit('ReduceSum', [gy], { axes: [0, 2, 3], keepdims: 0 }) : undefined;
  return [gx, gw, gb];
}

/** Conv as an implicit GEMM (see the header). */
function convGemm(g: ConvGeom, a: ConvAttrs, ctx: KernelContext) {
  const { C, H, W, M, OH, OW, Cg, Mg, KH, KW } = g;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const [pt, pl] = a.pads;
  const K = Cg * KH * KW;
  const OHW = OH * OW;
  const N = g.N * OHW;
  const padded = a.pads.some((p) => p > 0);
  // 1x1, stride 1, no padding: X[g][k, col] is x itself, contiguous along col within an image.
  const pointwise = KH === 1 && KW === 1 && sh === 1 && sw === 1 && !padded;
  const vecX = pointwise && (H * W) % 4 === 0;
  const vecW = K % 4 === 0;
  const vecY = OHW % 4 === 0;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(g.bias ? [{ input: 2 }] : []), { output: 0 }];
  const vt = (v: boolean) => (v ? 'vec4<f32>' : 'f32');
  const decls = bindingDecls(bindings, ['x', 'w', ...(g.bias ? ['bias'] : []), 'y'], [vt(vecX), vt(vecW), ...(g.bias ? ['f32'] : []), vt(vecY)]);
  // Column -> flat offset of its (n, oy, ox) in a [N, *, OH, OW] tensor with `ch` channels.
  const colOffset = (col: string, ch: number) => (g.N === 1 ? col : `${col} / ${u32(OHW)} * ${u32(ch * OHW)} + ${col} % ${u32(OHW)}`);
  // The 4 columns n..n+3 of an invocation; those past the last read the last instead of past x.
  const cols = `let col = ${N % 4 === 0 ? 'vec4(n) + vec4(0u, 1u, 2u, 3u)' : `min(vec4(n) + vec4(0u, 1u, 2u, 3u), vec4(${u32(N - 1)}))`};`;

  let operandB: string;
  if (pointwise) {
    // B[g][k, col] = x[n, g*Cg + k, p] for col = (n, p): colB gives the offset of channel g*Cg.
    operandB = vecX
      ? `fn colB(batch: u32, n: u32) -> u32 { return ${colOffset('n', C)} + batch * ${u32(Cg * H * W)}; }
fn loadB(k: u32, c: u32) -> vec4<f32> { return x[(c + k * ${u32(H * W)}) / 4u]; }`
      : `fn colB(batch: u32, n: u32) -> vec4<u32> {
  ${cols}
  return ${colOffset('col', C)} + vec4(batch * ${u32(Cg * H * W)});
}
fn loadB(k: u32, c: vec4<u32>) -> vec4<f32> {
  let at = c + vec4(k * ${u32(H * W)});
  return vec4(x[at.x], x[at.y], x[at.z], x[at.w]);
}`;
  } else {
    // colB: each column's window origin (iy, ix) and the offset of x[n, g*Cg, iy, ix]; loadB adds
    // the offset of k = (c, ky, kx), and zeroes what falls in the padding.
    operandB = `struct ColB { at: vec4<i32>, iy: vec4<i32>, ix: vec4<i32> }
fn colB(batch: u32, n: u32) -> ColB {
  ${cols}
  let p = col % ${u32(OHW)};
  let iy = vec4<i32>(p / ${u32(OW)} * ${u32(sh)}) - ${i32(pt)};
  let ix = vec4<i32>(p % ${u32(OW)} * ${u32(sw)}) - ${i32(pl)};
  let base = ${g.N === 1 ? '' : `col / ${u32(OHW)} * ${u32(C * H * W)} + `}vec4(batch * ${u32(Cg * H * W)});
  return ColB(vec4<i32>(base) + iy * ${i32(W)} + ix, iy, ix);
}
fn loadB(k: u32, c: ColB) -> vec4<f32> {
  let r = k % ${u32(KH * KW)};
  let dy = i32(r / ${u32(KW)} * ${u32(dh)});
  let dx = i32(r % ${u32(KW)} * ${u32(dw)});
  let at = vec4<u32>(c.at + vec4(i32(k / ${u32(KH * KW)} * ${u32(H * W)}) + dy * ${i32(W)} + dx));
  let v = vec4(x[at.x], x[at.y], x[at.z], x[at.w]);
  ${padded ? `return select(vec4<f32>(), v, (vec4<u32>(c.iy + vec4(dy)) < vec4(${u32(H)})) & (vec4<u32>(c.ix + vec4(dx)) < vec4(${u32(W)})));` : 'return v;'}
}`;
  }
  const functions = `${decls}
${matrixOperand('A', 'w', { rowStride: K, colStride: 1, batchOffset: (b) => `${b} * ${u32(Mg * K)}`, vec4: vecW })}
${operandB}
${activationFn(a.activation)}
fn store(batch: u32, m: u32, col: u32, acc: vec4<f32>) {
  let oc = batch * ${u32(Mg)} + m;
  let v = activate(acc${g.bias ? ' + vec4(bias[oc])' : ''});
${storeColumns('y', 'v', 'col', N, (c) => `${colOffset(c, M)} + oc * ${u32(OHW)}`, vecY)}
}`;
  const k = gemmKernel({ M: Mg, N, K, batches: a.group, functions }, ctx);
  return { wgsl: k.wgsl, workgroups: k.workgroups, bindings };
}

/**
 * Depthwise conv, direct: each invocation computes 4 neighbouring outputs of one row, y[n, oc, oy,
 * ox..ox+3]. Per kernel row it loads the one input row segment that all 4 outputs and all KW taps
 * cover (4 + (KW-1)*dw values at stride 1) into registers and reuses it, so an input value is read
 * once per kernel row instead of once per tap.
 */
function depthwise(g: ConvGeom, a: ConvAttrs, ctx: KernelContext) {
  const { N, C, H, W, M, OH, OW, Mg, KH, KW } = g;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const [pt, pl] = a.pads;
  const OWB = Math.ceil(OW / 4); // 4-output blocks per row
  const count = N * M * OH * OWB;
  const WG = 64;
  const vecY = OW % 4 === 0;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(g.bias ? [{ input: 2 }] : []), { output: 0 }];
  const decls = bindingDecls(bindings, ['x', 'w', ...(g.bias ? ['bias'] : []), 'y'], ['f32', 'f32', ...(g.bias ? ['f32'] : []), vecY ? 'vec4<f32>' : 'f32']);
  const seg = 3 * sw + (KW - 1) * dw + 1; // input columns under the 4 outputs
  // Column checks are needed where the segment can leave the row: padding, or a partial last block.
  const checkCols = pl > 0 || a.pads[3] > 0 || OW % 4 !== 0;
  const rows: string[] = [];
  for (let ky = 0; ky < KH; ky++) {
    const loads = Array.from({ length: seg }, (_, j) => {
      const ix = `ix0 + ${i32(j)}`;
      return checkCols
        ? `    let s${j} = select(0.0, x[row + u32(${ix})], u32(${ix}) < ${u32(W)});`
        : `    let s${j} = x[row + u32(${ix})];`;
    });
    const fmas = Array.from({ length: KW }, (_, kx) => {
      const taps = [0, 1, 2, 3].map((i) => `s${i * sw + kx * dw}`).join(', ');
      return `    acc = fma(vec4(${taps}), vec4(w[wo + ${u32(ky * KW + kx)}]), acc);`;
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
${activationFn(a.activation)}
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
  let v = activate(acc${g.bias ? ' + vec4(bias[oc])' : ''});
${storeColumns('y', 'v', 'ox', OW, (c) => `(noc * ${u32(OH)} + oy) * ${u32(OW)} + ${c}`, vecY)}
}`;
  return { wgsl, workgroups: linearGrid(count, WG, ctx), bindings };
}

export const convOps = [convOp];
