// Conv's backward ops (Conv's `grad` in ops/conv.ts emits them), both implicit GEMMs on
// kernels/gemm.ts with one GEMM per group (the core's batch), like the forward conv.
// Notation as in ops/conv.ts: x: [N, C, H, W], w: [M, Cg, KH, KW], gy: [N, M, OH, OW];
// Cg = C/group, Mg = M/group; tap (ky, kx) of output (oy, ox) reads x at
//   iy = oy*sh - padTop + ky*dh,  ix = ox*sw - padLeft + kx*dw.
//
// ConvInputGrad(gy, wt) -> gx: [N, C, H, W], with wt: [C, Mg, KH, KW] (wt[g*Cg + c, m, ky, kx] =
// w[g*Mg + m, c, ky, kx], regrouped by Conv's grad so that A's rows are contiguous) and the
// attribute input_size = [H, W] (several input sizes give the same output size):
//   O[g][c, col] = sum_k A[g][c, k] * B[g][k, col]      col = (n, iy, ix), k = (m, ky, kx)
//   A[g][c, k] = wt[g*Cg + c, k],  B[g][k, col] = gy[n, g*Mg + m, oy, ox] where
//   oy = (iy + padTop - ky*dh) / sh when that divides exactly and lands in [0, OH) (same for x),
//   else 0: the gather form of the transposed conv. With stride s, (s*s - 1)/(s*s) of B is zeros.
//
// ConvWeightGrad(x, gy) -> gw: [M, Cg, KH, KW]: a GEMM with a long reduction over every output
// position of every image and a small M x K result:
//   O[g][m, kc] = sum_j A[g][m, j] * B[g][j, kc]        j = (n, oy, ox), kc = (c, ky, kx)
//   A[g][m, j] = gy[n, g*Mg + m, oy, ox],  B[g][j, kc] = x[n, g*Cg + c, iy, ix] (0 in the padding)
// The bias gradient is a plain ReduceSum of gy over (0, 2, 3).
//
// Both loaders do the per-k index arithmetic that the forward conv's loadB does (k -> (m, ky, kx)
// or j -> (n, oy, ox), divisions by constants), and hoist what depends only on the row or the
// columns into rowA/colB (see the header of kernels/gemm.ts for why).

import { gemmKernel, matrixOperand, storeColumns } from '../kernels/gemm.js';
import { bindingDecls, elementwiseMain, i32, linearGrid, u32 } from '../kernels/wgsl.js';
import { shapeStr, Tensor, type Shape } from '../tensor.js';
import { geometry, resolveAttrs, type ConvAttrs, type ConvGeom } from './conv.js';
import { defineOp, intAttr, intsAttr, OpError, type RawAttrs } from './op.js';
import { type Binding, type Dispatch, type KernelContext } from '../kernels/context.js';

interface GradAttrs {
  readonly conv: ConvAttrs;
  readonly g: ConvGeom;
}

const sameShape = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The forward conv's attributes and geometry for the given x and w shapes; gy must be its output. */
function forward(op: string, raw: RawAttrs, x: Shape, w: Shape, gy: Shape): GradAttrs {
  const conv = resolveAttrs(raw, [x, w]);
  if (conv.activation) throw new OpError(`${op}: attribute 'activation' has no meaning here`);
  const g = geometry([x, w], conv);
  const out = [g.N, g.M, g.OH, g.OW];
  if (!sameShape(gy, out)) throw new OpError(`${op}: gradient of shape ${shapeStr(gy)} does not match the conv's output ${shapeStr(out)}`);
  return { conv, g };
}

// ---- ConvInputGrad ----

export const convInputGradOp = defineOp<GradAttrs>({
  type: 'ConvInputGrad',
  training: true,
  arity: [2, 2],
  attrs: (raw, [gy, wt]) => {
    if (gy.length !== 4) throw new OpError(`ConvInputGrad: gradient gy must be 4-D [N, M, OH, OW], got ${shapeStr(gy)}`);
    if (wt.length !== 4) throw new OpError(`ConvInputGrad: weight wt must be 4-D [C, M/group, KH, KW], got ${shapeStr(wt)}`);
    const size = intsAttr(raw, 'input_size');
    if (size.length !== 2 || size.some((v) => v < 1)) throw new OpError(`ConvInputGrad: attribute 'input_size' must be [H, W] (positive), got [${size}]`);
    const group = intAttr(raw, 'group', 1);
    const [C, Mg, KH, KW] = wt;
    if (!Number.isInteger(group) || group < 1 || C % group !== 0 || Mg * group !== gy[1]) {
      throw new OpError(`ConvInputGrad: wt ${shapeStr(wt)} with group ${group} does not fit the ${gy[1]} channels of gy ${shapeStr(gy)}`);
    }
    return forward('ConvInputGrad', raw, [gy[0], C, size[0], size[1]], [gy[1], C / group, KH, KW], gy);
  },
  shape: (_inputs, { g }) => [[g.N, g.C, g.H, g.W]],
  cpu: ([gy, wt], { conv, g }) => {
    // The scatter form, straight from the forward definition.
    const gx = new Float64Array(g.N * g.C * g.H * g.W);
    const [sh, sw] = conv.strides;
    const [dh, dw] = conv.dilations;
    for (let n = 0; n < g.N; n++) {
      for (let oc = 0; oc < g.M; oc++) {
        const grp = Math.floor(oc / g.Mg);
        const m = oc % g.Mg;
        for (let oy = 0; oy < g.OH; oy++) {
          for (let ox = 0; ox < g.OW; ox++) {
            const d = gy.data[((n * g.M + oc) * g.OH + oy) * g.OW + ox];
            for (let c = 0; c < g.Cg; c++) {
              const ic = grp * g.Cg + c;
              for (let ky = 0; ky < g.KH; ky++) {
                const iy = oy * sh - conv.pads[0] + ky * dh;
                if (iy < 0 || iy >= g.H) continue;
                for (let kx = 0; kx < g.KW; kx++) {
                  const ix = ox * sw - conv.pads[1] + kx * dw;
                  if (ix < 0 || ix >= g.W) continue;
                  gx[((n * g.C + ic) * g.H + iy) * g.W + ix] += d * wt.data[((ic * g.Mg + m) * g.KH + ky) * g.KW + kx];
                }
              }
            }
          }
        }
      }
    }
    return [new Tensor([g.N, g.C, g.H, g.W], gx)];
  },
  gpu: (_inputs, _out, { conv, g }, ctx) =>
    conv.strides[0] > 1 || conv.strides[1] > 1 ? inputGradPhased(g, conv, ctx) : [inputGradGemm(g, conv, ctx)],
});

function inputGradGemm(g: ConvGeom, a: ConvAttrs, ctx: KernelContext) {
  const { C, H, W, M, OH, OW, Cg, Mg, KH, KW } = g;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const [pt, pl] = a.pads;
  const K = Mg * KH * KW;
  const HW = H * W;
  const OHW = OH * OW;
  const N = g.N * HW;
  const vecW = K % 4 === 0;
  const vecX = HW % 4 === 0;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { output: 0 }];
  const decls = bindingDecls(bindings, ['gy', 'wt', 'gx'], ['f32', vecW ? 'vec4<f32>' : 'f32', vecX ? 'vec4<f32>' : 'f32']);
  // Column (n, p) -> flat offset of pixel p of image n in a tensor with `ch` channels.
  const colOffset = (col: string, ch: number) => (g.N === 1 ? col : `${col} / ${u32(HW)} * ${u32(ch * HW)} + ${col} % ${u32(HW)}`);
  const cols = `let col = ${N % 4 === 0 ? 'vec4(n) + vec4(0u, 1u, 2u, 3u)' : `min(vec4(n) + vec4(0u, 1u, 2u, 3u), vec4(${u32(N - 1)}))`};`;
  const div = (v: string, s: number) => (s === 1 ? v : `${v} / ${u32(s)}`);
  const exact = [sh > 1 ? `(ty % vec4(${u32(sh)}) == vec4(0u))` : '', sw > 1 ? `(tx % vec4(${u32(sw)}) == vec4(0u))` : ''].filter(Boolean);
  // colB: per column the offset of gy[n, g*Mg, 0, 0] and (iy + padTop, ix + padLeft); loadB walks
  // k = (m, ky, kx) back to the output position (oy, ox) that tap reads from this input pixel.
  const functions = `${decls}
${matrixOperand('A', 'wt', { rowStride: K, colStride: 1, batchOffset: (b) => `${b} * ${u32(Cg * K)}`, vec4: vecW })}
struct ColB { base: vec4<u32>, ty: vec4<i32>, tx: vec4<i32> }
fn colB(batch: u32, n: u32) -> ColB {
  ${cols}
  let p = col % ${u32(HW)};
  let base = ${g.N === 1 ? '' : `col / ${u32(HW)} * ${u32(M * OHW)} + `}vec4(batch * ${u32(Mg * OHW)});
  return ColB(base, vec4<i32>(p / ${u32(W)}) + ${i32(pt)}, vec4<i32>(p % ${u32(W)}) + ${i32(pl)});
}
fn loadB(k: u32, c: ColB) -> vec4<f32> {
  let r = k % ${u32(KH * KW)};
  let ty = vec4<u32>(c.ty - vec4(i32(r / ${u32(KW)} * ${u32(dh)})));
  let tx = vec4<u32>(c.tx - vec4(i32(r % ${u32(KW)} * ${u32(dw)})));
  let oy = ${div('ty', sh)};
  let ox = ${div('tx', sw)};
  let at = c.base + vec4(k / ${u32(KH * KW)} * ${u32(OHW)}) + oy * ${u32(OW)} + ox;
  let v = vec4(gy[at.x], gy[at.y], gy[at.z], gy[at.w]);
  return select(vec4<f32>(), v, ${['(oy < vec4(' + u32(OH) + '))', '(ox < vec4(' + u32(OW) + '))', ...exact].join(' & ')});
}
fn store(batch: u32, m: u32, col: u32, acc: vec4<f32>) {
  let ic = batch * ${u32(Cg)} + m;
${storeColumns('gx', 'acc', 'col', N, (c) => `${colOffset(c, C)} + ic * ${u32(HW)}`, vecX)}
}`;
  const k = gemmKernel({ M: Cg, N, K, batches: a.group, functions }, ctx);
  return { wgsl: k.wgsl, workgroups: k.workgroups, bindings };
}

// ---- ConvInputGrad with stride > 1: one GEMM per stride phase ----
//
// With stride s, the input pixel iy receives from tap ky only when (iy + padTop - ky*dh) is a
// multiple of s, so the gather form above multiplies (s*s - 1)/(s*s) zeros (4.6x the forward's
// time at stride 2 on llvmpipe, dev/train-profile.ts). Split the input pixels by phase instead:
// the pixels iy = py + s*t (py < s) all see the same taps Ty(py) = {ky : (py + padTop - ky*dh)
// mod s == 0}, and for them oy = t + (py + padTop - ky*dh)/s exactly. One GEMM per phase (py, px)
// over only those taps:
//   O[g][c, col] = sum_k A[g][c, k] * B[g][k, col]     col = (n, t, u), k = (tap, m), m fastest
//   A[g][c, k] = wt[g*Cg + c, m, ky(tap), kx(tap)],  B[g][k, col] = gy[n, g*Mg + m, oy, ox]
// (0 when oy or ox falls outside gy). Ty is an arithmetic progression (step s/gcd(dh, s)) whose
// oy offset falls by dh/gcd(dh, s) per step, so a tap index maps to (ky, oy offset) affinely.
// m is fastest in k so that a run of 4 k's is one tap and 4 channels when 4 | Mg: A's run is 4
// loads at a constant stride with no per-component index arithmetic. Phases with no taps (a 1x1
// kernel at stride 2, say) receive nothing: one elementwise dispatch writes their zeros.

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** One axis of a phase: its first input index, pixel count, taps (first, step, count) and the
 * output offset of its first tap and how much it falls per tap. */
interface PhaseAxis {
  readonly p0: number;
  readonly size: number;
  readonly k0: number;
  readonly kStep: number;
  readonly taps: number;
  readonly off0: number;
  readonly offStep: number;
}

function phaseAxis(p0: number, size: number, stride: number, pad: number, kernel: number, dil: number): PhaseAxis {
  const taps: number[] = [];
  for (let k = 0; k < kernel; k++) if ((((p0 + pad - k * dil) % stride) + stride) % stride === 0) taps.push(k);
  const kStep = stride / gcd(dil, stride);
  const off = (k: number) => (p0 + pad - k * dil) / stride;
  return {
    p0,
    size: Math.ceil((size - p0) / stride),
    k0: taps[0] ?? 0,
    kStep,
    taps: taps.length,
    off0: taps.length ? off(taps[0]) : 0,
    offStep: (kStep * dil) / stride,
  };
}

function inputGradPhased(g: ConvGeom, a: ConvAttrs, ctx: KernelContext): Dispatch[] {
  const { C, H, W, M, OH, OW, Cg, Mg, KH, KW } = g;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const [pt, pl] = a.pads;
  const HW = H * W;
  const OHW = OH * OW;
  const KWT = Mg * KH * KW; // a row of wt
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { output: 0 }];
  const decls = bindingDecls(bindings, ['gy', 'wt', 'gx'], ['f32', 'f32', 'f32']);
  const ys = Array.from({ length: Math.min(sh, H) }, (_, p) => phaseAxis(p, H, sh, pt, KH, dh));
  const xs = Array.from({ length: Math.min(sw, W) }, (_, p) => phaseAxis(p, W, sw, pl, KW, dw));
  const dispatches: Dispatch[] = [];
  const empty: [PhaseAxis, PhaseAxis][] = [];
  for (const py of ys) {
    for (const px of xs) {
      if (py.taps === 0 || px.taps === 0) {
        empty.push([py, px]);
        continue;
      }
      const T = py.taps * px.taps;
      const K = T * Mg;
      const PHW = py.size * px.size;
      const N = g.N * PHW;
      // Column (n, t, u) -> flat offset of input pixel (py0 + sh*t, px0 + sw*u) of image n, channel 0.
      const pixel = (col: string) => {
        const p = g.N === 1 ? col : `${col} % ${u32(PHW)}`;
        const img = g.N === 1 ? '' : `${col} / ${u32(PHW)} * ${u32(C * HW)} + `;
        return `${img}(${u32(py.p0)} + ${p} / ${u32(px.size)} * ${u32(sh)}) * ${u32(W)} + ${u32(px.p0)} + ${p} % ${u32(px.size)} * ${u32(sw)}`;
      };
      const cols = `let col = ${N % 4 === 0 ? 'vec4(n) + vec4(0u, 1u, 2u, 3u)' : `min(vec4(n) + vec4(0u, 1u, 2u, 3u), vec4(${u32(N - 1)}))`};`;
      // Tap index -> (ky, kx) and the (oy, ox) offsets; tap = k / Mg.
      const tapY = (tap: string) => (px.taps === 1 ? tap : `${tap} / ${u32(px.taps)}`);
      const tapX = (tap: string) => (px.taps === 1 ? '0u' : `${tap} % ${u32(px.taps)}`);
      const wOff = (tap: string) => `(${u32(py.k0)} + ${tapY(tap)} * ${u32(py.kStep)}) * ${u32(KW)} + ${u32(px.k0)} + ${tapX(tap)} * ${u32(px.kStep)}`;
      const loadA =
        Mg % 4 === 0
          ? `fn loadA(k: u32, r: u32) -> vec4<f32> {
  let at = r + k % ${u32(Mg)} * ${u32(KH * KW)} + ${wOff(`(k / ${u32(Mg)})`)};
  return vec4(wt[at], wt[at + ${u32(KH * KW)}], wt[at + ${u32(2 * KH * KW)}], wt[at + ${u32(3 * KH * KW)}]);
}`
          : `fn loadA(k: u32, r: u32) -> vec4<f32> {
  let kk = min(vec4(k) + vec4(0u, 1u, 2u, 3u), vec4(${u32(K - 1)}));
  let at = vec4(r) + kk % vec4(${u32(Mg)}) * ${u32(KH * KW)} + ${wOff(`(kk / vec4(${u32(Mg)}))`)};
  return vec4(wt[at.x], wt[at.y], wt[at.z], wt[at.w]);
}`;
      const functions = `${decls}
// ConvInputGrad phase (iy = ${py.p0} + ${sh}t, ix = ${px.p0} + ${sw}u): taps ky = ${py.k0} + ${py.kStep}i (${py.taps}), kx = ${px.k0} + ${px.kStep}j (${px.taps})
fn rowA(batch: u32, c: u32) -> u32 { return (batch * ${u32(Cg)} + c) * ${u32(KWT)}; }
${loadA}
struct ColB { at: vec4<u32>, t: vec4<i32>, u: vec4<i32> }
fn colB(batch: u32, n: u32) -> ColB {
  ${cols}
  let p = col % ${u32(PHW)};
  let t = vec4<i32>(p / ${u32(px.size)});
  let u = vec4<i32>(p % ${u32(px.size)});
  let base = ${g.N === 1 ? '' : `col / ${u32(PHW)} * ${u32(M * OHW)} + `}vec4(batch * ${u32(Mg * OHW)});
  return ColB(vec4<u32>(vec4<i32>(base) + t * ${i32(OW)} + u), t, u);
}
fn loadB(k: u32, c: ColB) -> vec4<f32> {
  let tap = k / ${u32(Mg)};
  let dy = ${i32(py.off0)} - i32(${tapY('tap')}) * ${i32(py.offStep)};
  let dx = ${i32(px.off0)} - i32(${tapX('tap')}) * ${i32(px.offStep)};
  let at = vec4<u32>(vec4<i32>(c.at) + vec4(i32(k % ${u32(Mg)} * ${u32(OHW)}) + dy * ${i32(OW)} + dx));
  let v = vec4(gy[at.x], gy[at.y], gy[at.z], gy[at.w]);
  return select(vec4<f32>(), v, (vec4<u32>(c.t + vec4(dy)) < vec4(${u32(OH)})) & (vec4<u32>(c.u + vec4(dx)) < vec4(${u32(OW)})));
}
fn store(batch: u32, m: u32, col: u32, acc: vec4<f32>) {
  let ic = batch * ${u32(Cg)} + m;
${storeColumns('gx', 'acc', 'col', N, (c) => `${pixel(c)} + ic * ${u32(HW)}`, false)}
}`;
      const k = gemmKernel({ M: Cg, N, K, batches: a.group, functions }, ctx);
      dispatches.push({ wgsl: k.wgsl, workgroups: k.workgroups, bindings });
    }
  }
  if (empty.length) dispatches.push(zeroPhases(g, empty, sh, sw, ctx));
  return dispatches;
}

/** Zeros at the input pixels of the phases that no tap reaches. */
function zeroPhases(g: ConvGeom, phases: readonly [PhaseAxis, PhaseAxis][], sh: number, sw: number, ctx: KernelContext): Dispatch {
  const { H, W } = g;
  const planes = g.N * g.C;
  const parts = phases.map(([py, px]) => planes * py.size * px.size);
  const count = parts.reduce((s, n) => s + n, 0);
  const WG = 256;
  // Walk the phases' pixels back to back: i -> (phase, plane, t, u).
  let start = 0;
  const branches = phases.map(([py, px], q) => {
    const lo = start;
    start += parts[q];
    return `  ${q ? 'else ' : ''}if (i < ${u32(start)}) {
    let j = i - ${u32(lo)};
    let p = j % ${u32(py.size * px.size)};
    gx[j / ${u32(py.size * px.size)} * ${u32(H * W)} + (${u32(py.p0)} + p / ${u32(px.size)} * ${u32(sh)}) * ${u32(W)} + ${u32(px.p0)} + p % ${u32(px.size)} * ${u32(sw)}] = 0.0;
  }`;
  });
  const wgsl = `@group(0) @binding(0) var<storage, read_write> gx: array<f32>;
// gx: [N, C, H, W] = [${g.N}, ${g.C}, ${H}, ${W}]; zeros at the pixels of phases without taps
${elementwiseMain(count, WG, branches.join('\n'))}`;
  return { wgsl, workgroups: linearGrid(count, WG, ctx), bindings: [{ output: 0 }] };
}

// ---- ConvWeightGrad ----

export const convWeightGradOp = defineOp<GradAttrs>({
  type: 'ConvWeightGrad',
  training: true,
  arity: [2, 2],
  attrs: (raw, [x, gy]) => {
    if (x.length !== 4) throw new OpError(`ConvWeightGrad: input x must be 4-D [N, C, H, W], got ${shapeStr(x)}`);
    if (gy.length !== 4) throw new OpError(`ConvWeightGrad: gradient gy must be 4-D [N, M, OH, OW], got ${shapeStr(gy)}`);
    const k = intsAttr(raw, 'kernel_shape');
    if (k.length !== 2) throw new OpError(`ConvWeightGrad: attribute 'kernel_shape' must have 2 values, got [${k}]`);
    const group = intAttr(raw, 'group', 1);
    if (!Number.isInteger(group) || group < 1 || x[1] % group !== 0) throw new OpError(`ConvWeightGrad: group ${group} does not divide the ${x[1]} channels of x`);
    return forward('ConvWeightGrad', raw, x, [gy[1], x[1] / group, k[0], k[1]], gy);
  },
  shape: (_inputs, { g }) => [[g.M, g.Cg, g.KH, g.KW]],
  cpu: ([x, gy], { conv, g }) => {
    const gw = new Float64Array(g.M * g.Cg * g.KH * g.KW);
    const [sh, sw] = conv.strides;
    const [dh, dw] = conv.dilations;
    for (let oc = 0; oc < g.M; oc++) {
      const c0 = Math.floor(oc / g.Mg) * g.Cg;
      for (let c = 0; c < g.Cg; c++) {
        for (let ky = 0; ky < g.KH; ky++) {
          for (let kx = 0; kx < g.KW; kx++) {
            let s = 0;
            for (let n = 0; n < g.N; n++) {
              for (let oy = 0; oy < g.OH; oy++) {
                const iy = oy * sh - conv.pads[0] + ky * dh;
                if (iy < 0 || iy >= g.H) continue;
                for (let ox = 0; ox < g.OW; ox++) {
                  const ix = ox * sw - conv.pads[1] + kx * dw;
                  if (ix < 0 || ix >= g.W) continue;
                  s += gy.data[((n * g.M + oc) * g.OH + oy) * g.OW + ox] * x.data[((n * g.C + c0 + c) * g.H + iy) * g.W + ix];
                }
              }
            }
            gw[((oc * g.Cg + c) * g.KH + ky) * g.KW + kx] = s;
          }
        }
      }
    }
    return [new Tensor([g.M, g.Cg, g.KH, g.KW], gw)];
  },
  gpu: (_inputs, _out, { conv, g }, ctx) => [weightGradGemm(g, conv, ctx)],
});

function weightGradGemm(g: ConvGeom, a: ConvAttrs, ctx: KernelContext) {
  const { C, H, W, M, OH, OW, Cg, Mg, KH, KW } = g;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const [pt, pl] = a.pads;
  const KC = Cg * KH * KW; // the result's columns
  const OHW = OH * OW;
  const J = g.N * OHW; // the reduction
  const padded = a.pads.some((p) => p > 0);
  // A run of 4 along j stays in one image when 4 | OHW: then it is one aligned vec4 load.
  const vecGy = OHW % 4 === 0;
  const vecW = KC % 4 === 0;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { output: 0 }];
  const decls = bindingDecls(bindings, ['x', 'gy', 'gw'], ['f32', vecGy ? 'vec4<f32>' : 'f32', vecW ? 'vec4<f32>' : 'f32']);
  // Flat offset in gy of position j = (n, p), relative to channel 0 of image 0.
  const jOffset = (j: string) => (g.N === 1 ? j : `${j} / ${u32(OHW)} * ${u32(M * OHW)} + ${j} % ${u32(OHW)}`);
  const operandA = vecGy
    ? `fn rowA(batch: u32, m: u32) -> u32 { return (batch * ${u32(Mg)} + m) * ${u32(OHW)}; }
fn loadA(j: u32, r: u32) -> vec4<f32> { return gy[(r + ${jOffset('j')}) / 4u]; }`
    : `fn rowA(batch: u32, m: u32) -> u32 { return (batch * ${u32(Mg)} + m) * ${u32(OHW)}; }
fn loadA(j: u32, r: u32) -> vec4<f32> {
  let jj = vec4(j) + vec4(0u, 1u, 2u, 3u);
  let at = vec4(r) + ${jOffset('jj')};
  return vec4(gy[at.x], gy[at.y], gy[at.z], gy[at.w]);
}`;
  const cols = `let col = ${KC % 4 === 0 ? 'vec4(n) + vec4(0u, 1u, 2u, 3u)' : `min(vec4(n) + vec4(0u, 1u, 2u, 3u), vec4(${u32(KC - 1)}))`};`;
  // colB: per column kc = (c, ky, kx) its offset in x relative to the window origin, and (dy, dx)
  // for the padding check; loadB finds the window origin of position j once for the 4 columns.
  const functions = `${decls}
${operandA}
struct ColB { off: vec4<i32>, dy: vec4<i32>, dx: vec4<i32> }
fn colB(batch: u32, n: u32) -> ColB {
  ${cols}
  let r = col % ${u32(KH * KW)};
  let dy = vec4<i32>(r / ${u32(KW)} * ${u32(dh)});
  let dx = vec4<i32>(r % ${u32(KW)} * ${u32(dw)});
  let off = vec4<i32>((vec4(batch * ${u32(Cg)}) + col / ${u32(KH * KW)}) * ${u32(H * W)}) + dy * ${i32(W)} + dx;
  return ColB(off, dy, dx);
}
fn loadB(j: u32, c: ColB) -> vec4<f32> {
  let p = j % ${u32(OHW)};
  let iy = i32(p / ${u32(OW)} * ${u32(sh)}) - ${i32(pt)};
  let ix = i32(p % ${u32(OW)} * ${u32(sw)}) - ${i32(pl)};
  let at = vec4<u32>(c.off + vec4(${g.N === 1 ? '' : `i32(j / ${u32(OHW)} * ${u32(C * H * W)}) + `}iy * ${i32(W)} + ix));
  let v = vec4(x[at.x], x[at.y], x[at.z], x[at.w]);
  ${padded ? `return select(vec4<f32>(), v, (vec4<u32>(c.dy + vec4(iy)) < vec4(${u32(H)})) & (vec4<u32>(c.dx + vec4(ix)) < vec4(${u32(W)})));` : 'return v;'}
}
fn store(batch: u32, m: u32, n: u32, acc: vec4<f32>) {
  let row = (batch * ${u32(Mg)} + m) * ${u32(KC)};
${storeColumns('gw', 'acc', 'n', KC, (c) => `row + ${c}`, vecW)}
}`;
  const k = gemmKernel({ M: Mg, N: KC, K: J, batches: a.group, functions }, ctx);
  return { wgsl: k.wgsl, workgroups: k.workgroups, bindings };
}

export const convGradOps = [convInputGradOp, convWeightGradOp];
