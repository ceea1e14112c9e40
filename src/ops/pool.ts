// Pooling: MaxPool and AveragePool over the two spatial axes of NCHW, and GlobalAveragePool /
// GlobalMaxPool over all spatial axes.
//
// Windowed pools run one invocation per output element; the window's taps are walked with the
// shapes, strides, dilations and pads baked into the WGSL. Padding never contributes a value:
// MaxPool takes the max over the taps inside the input, AveragePool sums those and divides by
// either their number (count_include_pad = 0) or the number of taps inside the padded input
// (count_include_pad = 1). A ceil_mode window may reach past the end padding; taps out there
// count for neither (this is what onnxruntime and PyTorch do).
//
// Global pools reduce one (n, c) row of H·W values per workgroup with a tree in workgroup memory.

import { sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, f32, i32, linearGrid, u32 } from '../kernels/wgsl.js';
import { defineOp, intAttr, OpError, type KernelContext, type OpDef, type RawAttrs } from './op.js';
import { windowAttrs } from './window.js';

interface PoolAttrs {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  /** [top, left, bottom, right] */
  readonly pads: readonly [number, number, number, number];
  /** [OH, OW] */
  readonly output: readonly [number, number];
  readonly countIncludePad: boolean;
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
  });
}

export const MaxPool = windowPool('MaxPool', 'max');
export const AveragePool = windowPool('AveragePool', 'avg');

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

function globalGpu(kind: PoolKind, x: Shape, ctx: KernelContext) {
  const rows = x[0] * x[1];
  const S = sizeOf(x) / rows;
  const op = (a: string, b: string) => (kind === 'max' ? `max(${a}, ${b})` : `${a} + ${b}`);
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
  });
}

export const GlobalAveragePool = globalPool('GlobalAveragePool', 'avg');
export const GlobalMaxPool = globalPool('GlobalMaxPool', 'max');

export const poolOps: OpDef<any>[] = [MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool];
