// Pooling: MaxPool and AveragePool over the two spatial axes of NCHW, and GlobalAveragePool /
// GlobalMaxPool over all spatial axes.
//
// Windowed pools run one invocation per output element; the window's taps are walked with the
// shapes, strides, dilations and pads baked into the WGSL. Padding never contributes a value:
// MaxPool takes the max over the taps inside the input, AveragePool sums those and divides by
// either their number (count_include_pad = 0) or the number of taps inside the padded input
// (count_include_pad = 1). A ceil_mode window may reach past the end padding; taps out there
// count for neither (PyTorch's rule; onnxruntime 1.22's CPU kernel agrees with count_include_pad
// = 0 but with 1 divides by the whole window there, a difference the tests avoid).
//
// Global pools reduce one (n, c) row of H·W values per workgroup with a tree in workgroup memory,
// or, for short rows, per invocation.
//
// Backward. MaxPoolGrad routes each output's gradient to the first maximum of its window (taps in
// row-major order, a later equal value loses: PyTorch's and onnxruntime's argmax), AveragePoolGrad
// spreads it evenly over the window's taps inside the input with the forward pass's divisor. WGSL
// has no float atomics, so their kernels gather: one invocation per input element visits the few
// windows that contain it (MaxPoolGrad recomputes each one's argmax) and sums what they send it.
// GlobalAveragePool's gradient is a broadcasting Mul by 1/(H·W); GlobalMaxPoolGrad sends each
// row's gradient to the row's first maximum.

import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, f32, i32, linearGrid, u32 } from '../kernels/wgsl.js';
import { defineOp, intAttr, OpError, type GradContext, type OpDef, type RawAttrs } from './op.js';
import { type KernelContext } from '../kernels/context.js';
import { windowAttrs, type AutoPad } from './window.js';

interface PoolAttrs {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** [top, left, bottom, right] */
  readonly pads: readonly [number, number, number, number];
  /** [OH, OW] */
  readonly output: readonly [number, number];
  readonly countIncludePad: boolean;
  /** As given: the gradient ops resolve their windows from the same attributes. */
  readonly autoPad: AutoPad;
  readonly ceilMode: boolean;
}

type PoolKind = 'max' | 'avg';

/** Index of the first output position along one axis whose window has no tap in [0, size), or -1. */
function firstEmptyWindow(size: number, kernel: number, stride: number, dilation: number, padBegin: number, out: number): number {
  for (let o = 0; o < out; o++) {
    const start = o * stride - padBegin;
    let hit = false;
    for (let k = 0; k < kernel && !hit; k++) hit = start + k * dilation >= 0 && start + k * dilation < size;
    if (!hit) return o;
  }
  return -1;
}

function boolAttr(raw: RawAttrs, name: string): boolean {
  const v = intAttr(raw, name, 0);
  if (v !== 0 && v !== 1) throw new OpError(`attribute '${name}' must be 0 or 1, got ${v}`);
  return v === 1;
}

function poolAttrs(kind: PoolKind, raw: RawAttrs, inputs: readonly Shape[]): PoolAttrs {
  const x = inputs[0];
  if (x.length !== 4) {
    throw new OpError(`input X must be NCHW (rank 4, two spatial axes); got rank ${x.length}: only 2-D pooling is supported`);
  }
  const ceilMode = boolAttr(raw, 'ceil_mode');
  const countIncludePad = kind === 'avg' ? boolAttr(raw, 'count_include_pad') : false;
  if (kind === 'max') {
    // storage_order only concerns the Indices output, which we do not produce.
    const so = intAttr(raw, 'storage_order', 0);
    if (so !== 0 && so !== 1) throw new OpError(`attribute 'storage_order' must be 0 or 1, got ${so}`);
  }
  const w = windowAttrs(raw, x.slice(2), { ceilMode });
  // A window holding no input element (all padding: a pad as wide as the kernel extent, or
  // dilation stepping over a small input) has no max and no exclusive average; ONNX's reference
  // fails there, so refuse it up front. (onnxruntime refuses any pad >= kernel_shape.)
  for (let i = 0; i < 2; i++) {
    const empty = firstEmptyWindow(x[2 + i], w.kernel[i], w.strides[i], w.dilations[i], w.pads[i], w.output[i]);
    if (empty >= 0) {
      throw new OpError(
        `window ${empty} on spatial axis ${i} covers no input element (input ${x[2 + i]}, kernel ${w.kernel[i]}, ` +
          `stride ${w.strides[i]}, dilation ${w.dilations[i]}, pads [${w.pads.join(', ')}]): pads or dilation too large`,
      );
    }
  }
  return {
    kernel: [w.kernel[0], w.kernel[1]],
    strides: [w.strides[0], w.strides[1]],
    dilations: [w.dilations[0], w.dilations[1]],
    pads: [w.pads[0], w.pads[1], w.pads[2], w.pads[3]],
    output: [w.output[0], w.output[1]],
    countIncludePad,
    autoPad: w.autoPad,
    ceilMode,
  };
}

/** Raw attributes that resolve to `a` again, for the gradient op of the same window. */
function rawPoolAttrs(a: PoolAttrs): RawAttrs {
  return {
    kernel_shape: [...a.kernel],
    strides: [...a.strides],
    dilations: [...a.dilations],
    auto_pad: a.autoPad,
    ...(a.autoPad === 'NOTSET' ? { pads: [...a.pads] } : {}),
    ceil_mode: a.ceilMode ? 1 : 0,
    count_include_pad: a.countIncludePad ? 1 : 0,
  };
}

/** The reference: walk every tap of every window. */
function poolCpu(kind: PoolKind, x: Tensor, a: PoolAttrs): Tensor {
  const [N, C, H, W] = x.shape;
  const [OH, OW] = a.output;
  const [KH, KW] = a.kernel;
  const [SH, SW] = a.strides;
  const [DH, DW] = a.dilations;
  const [PT, PL, PB, PR] = a.pads;
  const y = new Float32Array(N * C * OH * OW);
  let o = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const plane = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        let best = -Infinity;
        let sum = 0;
        let inside = 0; // taps inside the input
        let padded = 0; // taps inside the padded input
        for (let ky = 0; ky < KH; ky++) {
          const iy = oh * SH - PT + ky * DH;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ow * SW - PL + kx * DW;
            if (iy >= -PT && iy < H + PB && ix >= -PL && ix < W + PR) padded++;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            const v = x.data[plane + iy * W + ix];
            best = Math.max(best, v);
            sum += v;
            inside++;
          }
        }
        y[o++] = kind === 'max' ? best : sum / (a.countIncludePad ? padded : inside);
      }
    }
  }
  return new Tensor([N, C, OH, OW], y);
}

const WG = 64;

/** Number of taps k in [0, K) with lo <= start + k·D < hi, as a WGSL loop (bounds are constants). */
function countTaps(name: string, start: string, K: number, D: number, lo: number, hi: number): string {
  return `  var ${name} = 0u;
  for (var k = 0; k < ${i32(K)}; k++) {
    let p = ${start} + k * ${i32(D)};
    if (p >= ${i32(lo)} && p < ${i32(hi)}) { ${name}++; }
  }`;
}

function poolGpu(kind: PoolKind, x: Shape, a: PoolAttrs, ctx: KernelContext) {
  const [N, C, H, W] = x;
  const [OH, OW] = a.output;
  const [KH, KW] = a.kernel;
  const [SH, SW] = a.strides;
  const [DH, DW] = a.dilations;
  const [PT, PL, PB, PR] = a.pads;
  const count = N * C * OH * OW;
  // Max starts from the first tap inside the input (attrs guarantee there is one), which keeps
  // -inf inputs exact where a -FLT_MAX start value would not.
  const combine = kind === 'max' ? 'acc = select(max(acc, v), v, first);\n      first = false;' : 'acc += v;';
  // The divisor factors into rows × columns because both regions (input, padded input) are boxes.
  const [loY, hiY, loX, hiX] = a.countIncludePad ? [-PT, H + PB, -PL, W + PR] : [0, H, 0, W];
  const finish =
    kind === 'max'
      ? '  y[i] = acc;'
      : `${countTaps('ny', 'y0', KH, DH, loY, hiY)}
${countTaps('nx', 'x0', KW, DW, loX, hiX)}
  y[i] = acc / f32(ny * nx);`;
  const body = `  // x: [N, C, H, W] = [${N}, ${C}, ${H}, ${W}], y: [N, C, OH, OW] = [${N}, ${C}, ${OH}, ${OW}]
  let ow = i % ${u32(OW)};
  let oh = (i / ${u32(OW)}) % ${u32(OH)};
  let plane = (i / ${u32(OW * OH)}) * ${u32(H * W)};
  let y0 = i32(oh) * ${i32(SH)} - ${i32(PT)};
  let x0 = i32(ow) * ${i32(SW)} - ${i32(PL)};
  var acc = 0.0;${kind === 'max' ? '\n  var first = true;' : ''}
  for (var ky = 0; ky < ${i32(KH)}; ky++) {
    let iy = y0 + ky * ${i32(DH)};
    if (iy < 0 || iy >= ${i32(H)}) { continue; }
    for (var kx = 0; kx < ${i32(KW)}; kx++) {
      let ix = x0 + kx * ${i32(DW)};
      if (ix < 0 || ix >= ${i32(W)}) { continue; }
      let v = x[plane + u32(iy * ${i32(W)} + ix)];
      ${combine}
    }
  }
${finish}`;
  const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${elementwiseMain(count, WG, body)}`;
  return [{ wgsl, workgroups: linearGrid(count, WG, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
}

function windowPool(type: string, kind: PoolKind): OpDef<PoolAttrs> {
  return defineOp({
    type,
    arity: [1, 1],
    attrs: (raw, inputs) => poolAttrs(kind, raw, inputs),
    shape: ([x], a) => [[x[0], x[1], a.output[0], a.output[1]]],
    cpu: ([x], a) => [poolCpu(kind, x, a)],
    gpu: ([x], _out, a, ctx) => poolGpu(kind, x, a, ctx),
    grad: (g: GradContext<PoolAttrs>) => [g.emit(`${type}Grad`, [g.inputs[0], g.gradOutputs[0]!], rawPoolAttrs(g.attrs))],
  });
}

export const MaxPool = windowPool('MaxPool', 'max');
export const AveragePool = windowPool('AveragePool', 'avg');

// ---- MaxPoolGrad, AveragePoolGrad: (x, gy) -> gx, with the forward op's attributes ----

/** The reference: walk every window as the forward pass does and send its gradient to its taps. */
function poolGradCpu(kind: PoolKind, x: Tensor, gy: Tensor, a: PoolAttrs): Tensor {
  const [N, C, H, W] = x.shape;
  const [OH, OW] = a.output;
  const [KH, KW] = a.kernel;
  const [SH, SW] = a.strides;
  const [DH, DW] = a.dilations;
  const [PT, PL, PB, PR] = a.pads;
  const gx = new Float32Array(x.size);
  let o = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const plane = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const g = gy.data[o++];
        const taps: number[] = []; // input offsets of the taps inside the input, in window order
        let padded = 0;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oh * SH - PT + ky * DH;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ow * SW - PL + kx * DW;
            if (iy >= -PT && iy < H + PB && ix >= -PL && ix < W + PR) padded++;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) taps.push(plane + iy * W + ix);
          }
        }
        if (kind === 'max') {
          let best = taps[0];
          for (const t of taps) if (x.data[t] > x.data[best]) best = t;
          gx[best] += g;
        } else {
          const share = g / (a.countIncludePad ? padded : taps.length);
          for (const t of taps) gx[t] += share;
        }
      }
    }
  }
  return new Tensor(x.shape, gx);
}

function poolGradGpu(kind: PoolKind, x: Shape, a: PoolAttrs, ctx: KernelContext) {
  const [N, C, H, W] = x;
  const [OH, OW] = a.output;
  const [KH, KW] = a.kernel;
  const [SH, SW] = a.strides;
  const [DH, DW] = a.dilations;
  const [PT, PL, PB, PR] = a.pads;
  if (kind === 'max' && tilesInput(x, a)) return [maxPoolGradTiled(x, a, ctx)];
  const count = N * C * H * W;
  // What window (oh, ow) sends to this element: its gradient if the element is the window's first
  // maximum (found as the forward kernel walks it), or its share of the average.
  const [loY, hiY, loX, hiX] = a.countIncludePad ? [-PT, H + PB, -PL, W + PR] : [0, H, 0, W];
  const send =
    kind === 'max'
      ? `var best = 0.0;
      var bestAt = -1;
      for (var my = 0; my < ${i32(KH)}; my++) {
        let py = wy0 + my * ${i32(DH)};
        if (py < 0 || py >= ${i32(H)}) { continue; }
        for (var mx = 0; mx < ${i32(KW)}; mx++) {
          let px = wx0 + mx * ${i32(DW)};
          if (px < 0 || px >= ${i32(W)}) { continue; }
          let v = x[plane + u32(py * ${i32(W)} + px)];
          if (bestAt < 0 || v > best) { best = v; bestAt = py * ${i32(W)} + px; }
        }
      }
      if (bestAt == iy * ${i32(W)} + ix) { acc += gy[gplane + u32(oh * ${i32(OW)} + ow)]; }`
      : `${countTaps('ny', 'wy0', KH, DH, loY, hiY)}
${countTaps('nx', 'wx0', KW, DW, loX, hiX)}
      acc += gy[gplane + u32(oh * ${i32(OW)} + ow)] / f32(ny * nx);`;
  const body = `  // x, gx: [N, C, H, W] = [${N}, ${C}, ${H}, ${W}], gy: [N, C, OH, OW] = [${N}, ${C}, ${OH}, ${OW}]
  let ix = i32(i % ${u32(W)});
  let iy = i32((i / ${u32(W)}) % ${u32(H)});
  let nc = i / ${u32(H * W)};
  let plane = nc * ${u32(H * W)};
  let gplane = nc * ${u32(OH * OW)};
  var acc = 0.0;
  // The windows holding (iy, ix): oh·SH - PT + ky·DH = iy for some tap ky, likewise for x.
  for (var ky = 0; ky < ${i32(KH)}; ky++) {
    let ty = iy + ${i32(PT)} - ky * ${i32(DH)};
    if (ty < 0 || ty % ${i32(SH)} != 0 || ty / ${i32(SH)} >= ${i32(OH)}) { continue; }
    let oh = ty / ${i32(SH)};
    let wy0 = oh * ${i32(SH)} - ${i32(PT)};
    for (var kx = 0; kx < ${i32(KW)}; kx++) {
      let tx = ix + ${i32(PL)} - kx * ${i32(DW)};
      if (tx < 0 || tx % ${i32(SW)} != 0 || tx / ${i32(SW)} >= ${i32(OW)}) { continue; }
      let ow = tx / ${i32(SW)};
      let wx0 = ow * ${i32(SW)} - ${i32(PL)};
      ${send}
    }
  }
  gx[i] = acc;`;
  const decls =
    kind === 'max'
      ? `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;`
      : `@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> gx: array<f32>;`;
  // AveragePoolGrad reads only x's shape, so x is not bound.
  const bindings = kind === 'max' ? [{ input: 0 }, { input: 1 }, { output: 0 }] : [{ input: 1 }, { output: 0 }];
  return [{ wgsl: `${decls}\n${elementwiseMain(count, WG, body)}`, workgroups: linearGrid(count, WG, ctx), bindings }];
}

/** True when the windows tile the input: every element lies in exactly one window (the usual
 * 2x2 stride-2 max pool of an even-sized input). */
function tilesInput([, , H, W]: Shape, a: PoolAttrs): boolean {
  const [KH, KW] = a.kernel;
  return (
    a.pads.every((p) => p === 0) &&
    a.dilations.every((d) => d === 1) &&
    a.strides[0] === KH &&
    a.strides[1] === KW &&
    a.output[0] * KH === H &&
    a.output[1] * KW === W
  );
}

/**
 * MaxPoolGrad when the windows tile the input: one invocation per window finds its first maximum
 * and writes the whole window (the gradient there, zeros elsewhere). The gather kernel above
 * would have every element re-find the argmax of its window: KH·KW times the loads and a loop
 * with data-dependent branches, ~10x an elementwise kernel on llvmpipe (dev/train-profile.ts).
 */
function maxPoolGradTiled([N, C, H, W]: Shape, a: PoolAttrs, ctx: KernelContext) {
  const [OH, OW] = a.output;
  const [KH, KW] = a.kernel;
  const count = N * C * OH * OW;
  const taps = Array.from({ length: KH * KW }, (_, t) => `${u32(Math.floor(t / KW) * W + (t % KW))}`);
  const body = `  // x, gx: [N, C, H, W] = [${N}, ${C}, ${H}, ${W}], gy: [N, C, OH, OW] = [${N}, ${C}, ${OH}, ${OW}]; window i
  let ow = i % ${u32(OW)};
  let oh = (i / ${u32(OW)}) % ${u32(OH)};
  let at = i / ${u32(OH * OW)} * ${u32(H * W)} + oh * ${u32(KH * W)} + ow * ${u32(KW)};
  var best = x[at];
  var bestTap = 0u;
${taps
  .slice(1)
  .map((off, t) => `  { let v = x[at + ${off}]; if (v > best) { best = v; bestTap = ${u32(t + 1)}; } }`)
  .join('\n')}
  let g = gy[i];
${taps.map((off, t) => `  gx[at + ${off}] = select(0.0, g, bestTap == ${u32(t)});`).join('\n')}`;
  const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
${elementwiseMain(count, WG, body)}`;
  return { wgsl, workgroups: linearGrid(count, WG, ctx), bindings: [{ input: 0 }, { input: 1 }, { output: 0 }] };
}

function windowPoolGrad(type: string, kind: PoolKind): OpDef<PoolAttrs> {
  return defineOp({
    type,
    training: true,
    arity: [2, 2],
    attrs: (raw, [x, gy]) => {
      const a = poolAttrs(kind, raw, [x]);
      const want = [x[0], x[1], a.output[0], a.output[1]];
      if (gy.length !== 4 || gy.some((d, i) => d !== want[i])) {
        throw new OpError(`gradient of shape ${shapeStr(gy)} does not match the pool's output ${shapeStr(want)}`);
      }
      return a;
    },
    shape: ([x]) => [x],
    cpu: ([x, gy], a) => [poolGradCpu(kind, x, gy, a)],
    gpu: ([x], _out, a, ctx) => (sizeOf(x) === 0 ? [] : poolGradGpu(kind, x, a, ctx)),
  });
}

export const MaxPoolGrad = windowPoolGrad('MaxPoolGrad', 'max');
export const AveragePoolGrad = windowPoolGrad('AveragePoolGrad', 'avg');

// ---- global pools: [N, C, D1, ..., Dk] -> [N, C, 1, ..., 1] ----

function globalShape(x: Shape): Shape {
  if (x.length < 3) throw new OpError(`input X must be [N, C, spatial...] (rank >= 3), got rank ${x.length}`);
  if (x.slice(2).some((d) => d === 0)) throw new OpError(`input X has an empty spatial axis: [${x.join(', ')}]`);
  return [x[0], x[1], ...x.slice(2).map(() => 1)];
}

function globalCpu(kind: PoolKind, x: Tensor): Tensor {
  const rows = x.shape[0] * x.shape[1];
  const S = x.size / rows;
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = kind === 'max' ? -Infinity : 0;
    for (let j = 0; j < S; j++) {
      const v = x.data[r * S + j];
      acc = kind === 'max' ? Math.max(acc, v) : acc + v;
    }
    y[r] = kind === 'max' ? acc : acc / S;
  }
  return new Tensor(globalShape(x.shape), y);
}

const GWG = 64;
/** Rows up to this long are reduced by one invocation each, longer ones by a workgroup tree. */
const ROW_SERIAL_MAX = 256;

function globalGpu(kind: PoolKind, x: Shape, ctx: KernelContext) {
  const rows = x[0] * x[1];
  const S = sizeOf(x) / rows;
  const op = (a: string, b: string) => (kind === 'max' ? `max(${a}, ${b})` : `${a} + ${b}`);
  if (S <= ROW_SERIAL_MAX) {
    // Short rows (7x7 at the end of a CNN): one invocation per row. A workgroup of 64 with a tree
    // and 7 barriers per 49 values cost 14x what this does on llvmpipe (8.6 vs 0.6 ms for a
    // 32x64x7x7 input, dev/train-profile.ts), where barriers are expensive.
    const body = `  // x: [rows, S] = [${rows}, ${S}] (N·C rows of all spatial positions), y: [rows]; row i
  var acc = x[i * ${u32(S)}];
  for (var j = 1u; j < ${u32(S)}; j++) {
    acc = ${op('acc', `x[i * ${u32(S)} + j]`)};
  }
  y[i] = ${kind === 'max' ? 'acc' : `acc / ${f32(S)}`};`;
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${elementwiseMain(rows, GWG, body)}`;
    return [{ wgsl, workgroups: linearGrid(rows, GWG, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
  }
  const result = kind === 'max' ? 'part[0]' : `part[0] / ${f32(S)}`;
  // One workgroup per row; the row index depends only on workgroup_id, so the early return and
  // the barriers stay in uniform control flow.
  const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
// x: [rows, S] = [${rows}, ${S}] (N·C rows of all spatial positions), y: [rows]
var<workgroup> part: array<f32, ${GWG}>;
@compute @workgroup_size(${GWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= ${u32(rows)}) { return; }
  // Max starts from an element of the row (repeating one is harmless), so -inf stays exact.
  var acc = ${kind === 'max' ? `x[row * ${u32(S)} + min(lid, ${u32(S - 1)})]` : '0.0'};
  for (var j = lid; j < ${u32(S)}; j += ${u32(GWG)}) {
    acc = ${op('acc', `x[row * ${u32(S)} + j]`)};
  }
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${u32(GWG / 2)}; s > 0u; s >>= 1u) {
    if (lid < s) { part[lid] = ${op('part[lid]', 'part[lid + s]')}; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[row] = ${result}; }
}`;
  return [{ wgsl, workgroups: linearGrid(rows, 1, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
}

function globalPool(type: string, kind: PoolKind): OpDef<Record<string, never>> {
  return defineOp({
    type,
    arity: [1, 1],
    attrs: () => ({}),
    shape: ([x]) => [globalShape(x)],
    cpu: ([x]) => [globalCpu(kind, x)],
    gpu: ([x], _out, _a, ctx) => globalGpu(kind, x, ctx),
    grad: (g) => {
      const [x] = g.inputShapes;
      const gy = g.gradOutputs[0]!;
      if (kind === 'max') return [g.emit('GlobalMaxPoolGrad', [g.inputs[0], gy])];
      // gy [N, C, 1, ...] times 1/S of shape [1, 1, D1, ...] broadcasts to x's shape.
      const spatial = x.slice(2);
      const S = sizeOf(spatial);
      return [g.emit('Mul', [gy, g.constant(new Tensor([1, 1, ...spatial], new Float32Array(S).fill(1 / S)))])];
    },
  });
}

export const GlobalAveragePool = globalPool('GlobalAveragePool', 'avg');
export const GlobalMaxPool = globalPool('GlobalMaxPool', 'max');

/** GlobalMaxPoolGrad(x, gy) -> gx: each (n, c) row's gradient goes to the row's first maximum. */
export const GlobalMaxPoolGrad = defineOp<Record<string, never>>({
  type: 'GlobalMaxPoolGrad',
  training: true,
  arity: [2, 2],
  attrs: (_raw, [x, gy]) => {
    const want = globalShape(x);
    if (gy.length !== want.length || gy.some((d, i) => d !== want[i])) {
      throw new OpError(`gradient of shape ${shapeStr(gy)} does not match the pool's output ${shapeStr(want)}`);
    }
    return {};
  },
  shape: ([x]) => [x],
  cpu: ([x, gy]) => {
    const rows = x.shape[0] * x.shape[1];
    const S = x.size / rows;
    const gx = new Float32Array(x.size);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < S; j++) if (x.data[r * S + j] > x.data[r * S + best]) best = j;
      gx[r * S + best] = gy.data[r];
    }
    return [new Tensor(x.shape, gx)];
  },
  gpu: ([x], _out, _a, ctx) => {
    const rows = x[0] * x[1];
    if (rows === 0) return [];
    const S = sizeOf(x) / rows;
    // One invocation per row: find the first maximum, then write the whole row.
    const body = `  // x, gx: [rows, S] = [${rows}, ${S}], gy: [rows]
  let base = i * ${u32(S)};
  var best = x[base];
  var at = 0u;
  for (var j = 1u; j < ${u32(S)}; j++) {
    let v = x[base + j];
    if (v > best) { best = v; at = j; }
  }
  let g = gy[i];
  for (var j = 0u; j < ${u32(S)}; j++) { gx[base + j] = select(0.0, g, j == at); }`;
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
${elementwiseMain(rows, WG, body)}`;
    return [{ wgsl, workgroups: linearGrid(rows, WG, ctx), bindings: [{ input: 0 }, { input: 1 }, { output: 0 }] }];
  },
});

export const poolOps: OpDef<any>[] = [MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, MaxPoolGrad, AveragePoolGrad, GlobalMaxPoolGrad];
