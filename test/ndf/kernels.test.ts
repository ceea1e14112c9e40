// Packed Conv and Gemm kernels (near-compute data fission): every input and the output stored in
// a packed float format, against the CPU reference computing with the same rounded values
// (inputs quantized, output quantized). Random odd and prime shapes; dense, pointwise, grouped,
// depthwise and compacted (kept_rows) convs; Gemm plain, transposed, with C, compacted; every
// format family (16-bit 2 lanes: bf16, fp16; 12-bit e6m5, 2 lanes; 8-bit 4 lanes: e4m3, e5m2; a
// 10-bit format with 3 lanes, which has no run of whole words; fp32) and every way to run the
// GEMM: 'registers' staging (what lavapipe picks), 'workgroup' staging with the words kept packed
// in workgroup memory (fission 'compute'), and 'workgroup' staging split at the global load
// (fission 'load').
//
// Tolerance: |got - want| <= atol + (1e-4 + ulp)·|want|, atol = 1e-4·max(1, K/64) (f32 sums in
// another order than the CPU's float64 ones, inputs in [-1, 1]) and ulp = 2^-m of a packed
// output format: an accumulator within the f32 error of a rounding boundary may round the other
// way, one unit in the last place of the output format.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/device/gpu.js';
import { defineFormat, FORMATS, pack, quantize, storageBytes, unpack, type FloatFormat } from '../../src/formats/format.js';
import type { RawAttrs } from '../../src/ops/op.js';
import type { IoFormats } from '../../src/formats/format.js';
import type { KernelContext } from '../../src/kernels/context.js';
import { getOp } from '../../src/ops/registry.js';
import { sizeOf, Tensor } from '../../src/tensor.js';
import { pickRows, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const skip = !gpu && 'no WebGPU adapter';
const { bf16, fp16, e6m5, e4m3, e5m2, fp32 } = FORMATS;
const e5m4 = defineFormat({ name: 'e5m4', exponentBits: 5, mantissaBits: 4 }); // 10 bits, 3 lanes

type Variant = 'registers' | 'compute' | 'load';
const VARIANTS: Variant[] = ['registers', 'compute', 'load'];
const ctxOf = (g: Gpu, v: Variant): KernelContext =>
  v === 'registers' ? { ...g.kernelContext, softwareAdapter: true } : { ...g.kernelContext, softwareAdapter: false, fission: v };

/** fp32 (or undefined) means plain float32 storage. */
const packedOrNot = (f: FloatFormat | undefined) => (f && f.bits < 32 ? f : undefined);

/**
 * Run one op on WebGPU with packed inputs/output (no session: the kernel alone), and the CPU
 * reference on the rounded inputs, its output rounded; return both and the WGSL.
 */
async function runPacked(g: Gpu, op: string, inputs: readonly Tensor[], attrs: RawAttrs, ins: readonly (FloatFormat | undefined)[], out: FloatFormat | undefined, ctx: KernelContext) {
  const def = getOp(op);
  const shapes = inputs.map((t) => t.shape);
  const at = def.attrs(attrs, shapes);
  const [outShape] = def.shape(shapes, at);
  const io: IoFormats = { inputs: ins.map(packedOrNot), outputs: [packedOrNot(out)] };
  if (packedOrNot(out)) assert.equal(def.packed!.output!(shapes, [outShape], at, out!), null, 'the op should accept this packed output');
  const dispatches = def.gpu(shapes, [outShape], at, ctx, io);
  assert.ok(dispatches !== 'view');
  const count = sizeOf(outShape);
  const bufs = inputs.map((t, i) => g.upload(io.inputs[i] ? pack(t.data, io.inputs[i]!) : t.data));
  const y = g.buffer(storageBytes(io.outputs[0], count));
  const consts: GPUBuffer[] = [];
  try {
    const steps = [];
    for (const d of dispatches) {
      await g.validate(d.wgsl);
      const bs = d.bindings.map((b) => ('input' in b ? bufs[b.input] : 'output' in b ? y : consts[consts.push(g.upload(b.constant)) - 1]));
      steps.push({ ...g.prepare(d.wgsl, bs), workgroups: d.workgroups });
    }
    const { data } = await g.execute(steps, [{ buffer: y, bytes: storageBytes(io.outputs[0], count) }]);
    const got = io.outputs[0] ? unpack(new Uint32Array(data[0].buffer, data[0].byteOffset, data[0].length), io.outputs[0], count) : data[0];
    const rounded = inputs.map((t, i) => (io.inputs[i] ? new Tensor(t.shape, quantize(io.inputs[i]!, t.data)) : t));
    const [ref] = def.cpu(rounded, at);
    const want = io.outputs[0] ? quantize(io.outputs[0], ref.data) : ref.data;
    return { got, want, wgsl: dispatches.map((d) => d.wgsl).join('\n') };
  } finally {
    for (const b of [...bufs, y, ...consts]) g.release(b);
  }
}

function check(got: Float32Array, want: Float32Array, K: number, out: FloatFormat | undefined, what: string): void {
  assert.equal(got.length, want.length);
  const atol = 1e-4 * Math.max(1, K / 64);
  const rtol = 1e-4 + (packedOrNot(out) ? 2 ** -out!.mantissaBits : 0);
  for (let i = 0; i < want.length; i++) {
    const tol = atol + rtol * Math.abs(want[i]);
    if (!(Math.abs(got[i] - want[i]) <= tol)) assert.fail(`${what}: y[${i}] = ${got[i]}, want ${want[i]} (tol ${tol})`);
  }
}

/** Workgroup memory holds words for a packed operand with fission 'compute', f32 with 'load'. */
function checkStaging(wgsl: string, v: Variant, fa: FloatFormat | undefined, fb: FloatFormat | undefined, what: string): void {
  const tile = (name: string) => wgsl.match(new RegExp(`var<workgroup> ${name}: array<([^,]+),`))?.[1];
  const want = (f: FloatFormat | undefined) => (v === 'compute' && f && f.bits < 32 && f.lanes !== 3 ? { 1: 'vec4<u32>', 2: 'vec2<u32>', 4: 'u32' }[f.lanes] : 'vec4<f32>');
  if (v === 'registers') {
    assert.ok(!wgsl.includes('var<workgroup>'), `${what}: registers staging uses no workgroup memory`);
    return;
  }
  assert.equal(tile('tileA'), want(fa), `${what}: tileA`);
  assert.equal(tile('tileB'), want(fb), `${what}: tileB`);
}

interface ConvCase {
  x: number[];
  M: number;
  k: [number, number];
  attrs: RawAttrs;
  bias?: boolean;
  /** Compacted: keep this many rows (per group when perGroup). */
  keep?: number;
  perGroup?: boolean;
  f: { x?: FloatFormat; w?: FloatFormat; b?: FloatFormat; y?: FloatFormat };
}

const CONVS: ConvCase[] = [
  // 3x3 pad 1 on a 7x9 input: output planes of 63, so the output stays f32.
  { x: [2, 3, 7, 9], M: 5, k: [3, 3], attrs: { pads: [1, 1, 1, 1] }, bias: true, f: { x: bf16, w: e4m3, b: fp16 } },
  // output planes of 6x4 = 24: packed on store (8-bit, 4 lanes); stride 2, dilation.
  { x: [1, 5, 13, 9], M: 7, k: [3, 2], attrs: { strides: [2, 2], dilations: [1, 2], pads: [1, 0, 0, 1] }, f: { x: e5m2, w: bf16, y: e4m3 } },
  // pointwise, planes of 4x5 = 20: aligned runs of whole words of x; groups.
  { x: [2, 6, 4, 5], M: 4, k: [1, 1], attrs: { group: 2 }, bias: true, f: { x: e4m3, w: e6m5, b: e5m2, y: bf16 } },
  // K = 4*2*2 = 16: rows of w are whole runs (aligned word loads of w).
  { x: [1, 4, 6, 5], M: 6, k: [2, 2], attrs: {}, bias: true, f: { x: bf16, w: bf16, b: bf16, y: e5m2 } },
  // pointwise, planes of 3x3 = 9: gathered words.
  { x: [1, 7, 3, 3], M: 3, k: [1, 1], attrs: {}, f: { x: e6m5, w: fp16 } },
  // 10-bit, 3 lanes (no whole-word runs: split at the load in every variant), fp32 weights.
  { x: [1, 2, 6, 7], M: 3, k: [3, 3], attrs: { pads: [0, 1, 0, 1] }, f: { x: e5m4, w: fp32, y: e6m5 } },
  // depthwise, output rows of 8: packed rows.
  { x: [2, 4, 8, 8], M: 4, k: [3, 3], attrs: { group: 4, pads: [1, 1, 1, 1] }, bias: true, f: { x: bf16, w: e5m2, b: bf16, y: e4m3 } },
  // compacted (kept_rows), one list; output planes of 5x4.
  { x: [1, 4, 7, 6], M: 6, k: [3, 3], attrs: { pads: [0, 0, 0, 0] }, keep: 17, bias: true, f: { x: e4m3, w: bf16, b: e4m3, y: fp16 } },
  // compacted, a list per group, padded.
  { x: [2, 6, 6, 5], M: 4, k: [3, 3], attrs: { group: 2, pads: [1, 1, 1, 1] }, keep: 11, perGroup: true, f: { x: fp16, w: e4m3, y: e6m5 } },
  // compacted pointwise.
  { x: [1, 8, 4, 4], M: 5, k: [1, 1], attrs: {}, keep: 5, f: { x: bf16, w: e5m2, y: bf16 } },
];

CONVS.forEach((c, ci) => {
  // The depthwise kernel is direct (no GEMM core): one variant is enough.
  const depthwise = c.attrs.group !== undefined && c.attrs.group === c.x[1] && !c.keep;
  for (const v of depthwise ? VARIANTS.slice(0, 1) : VARIANTS) {
    const fs = Object.entries(c.f).map(([k, f]) => `${k} ${f!.name}`).join(', ');
    const what = `Conv x${JSON.stringify(c.x)} M=${c.M} ${c.k.join('x')} ${JSON.stringify(c.attrs)}${c.keep ? ` K'=${c.keep}${c.perGroup ? ' per group' : ''}` : ''} [${fs}] ${v}`;
    test(`packed ${what} matches the CPU on rounded values`, { skip }, async () => {
      const r = rng(1000 + ci);
      const group = (c.attrs.group as number | undefined) ?? 1;
      const Cg = c.x[1] / group;
      const K = Cg * c.k[0] * c.k[1];
      let attrs: RawAttrs = c.attrs;
      let w: Tensor;
      if (c.keep) {
        const lists = Array.from({ length: c.perGroup ? group : 1 }, () => pickRows(K, c.keep!, r));
        attrs = { ...attrs, kernel_shape: c.k, kept_rows: lists.flat() };
        w = randomTensor([c.M, c.keep], r);
      } else w = randomTensor([c.M, Cg, ...c.k], r);
      const inputs = [randomTensor(c.x, r), w, ...(c.bias ? [randomTensor([c.M], r)] : [])];
      const { got, want, wgsl } = await runPacked(gpu!, 'Conv', inputs, attrs, [c.f.x, c.f.w, c.f.b], c.f.y, ctxOf(gpu!, v));
      check(got, want, c.keep ?? K, c.f.y, what);
      if (!depthwise) checkStaging(wgsl, v, c.f.w, c.f.x, what);
      else assert.match(wgsl, /unpack_bf16\(x\[/, 'the depthwise kernel reads x packed');
    });
  }
});

interface GemmCase {
  M: number;
  K: number;
  N: number;
  transA?: boolean;
  transB?: boolean;
  c?: number[];
  keep?: number;
  f: { a?: FloatFormat; b?: FloatFormat; c?: FloatFormat; y?: FloatFormat };
}

const GEMMS: GemmCase[] = [
  { M: 5, K: 13, N: 8, c: [8], f: { a: bf16, b: e4m3, c: bf16, y: e5m2 } },
  { M: 7, K: 16, N: 12, transA: true, f: { a: e4m3, b: fp16, y: e6m5 } },
  { M: 3, K: 11, N: 6, transB: true, c: [3, 1], f: { a: e6m5, b: e5m2, c: e4m3, y: bf16 } },
  { M: 1, K: 20, N: 10, f: { a: e5m2, b: bf16 } },
  { M: 4, K: 9, N: 7, f: { a: e5m4, b: e5m4 } },
  // compacted: A keeps 7 of its 19 columns.
  { M: 6, K: 19, N: 8, keep: 7, c: [6, 8], f: { a: e4m3, b: bf16, c: fp16, y: e4m3 } },
  { M: 3, K: 17, N: 4, keep: 9, transA: true, transB: true, f: { a: fp16, b: e4m3, y: fp16 } },
];

GEMMS.forEach((c, ci) => {
  for (const v of VARIANTS) {
    const fs = Object.entries(c.f).map(([k, f]) => `${k} ${f!.name}`).join(', ');
    const what = `Gemm ${c.M}x${c.K}x${c.N}${c.transA ? ' transA' : ''}${c.transB ? ' transB' : ''}${c.c ? ` C[${c.c}]` : ''}${c.keep ? ` K'=${c.keep}` : ''} [${fs}] ${v}`;
    test(`packed ${what} matches the CPU on rounded values`, { skip }, async () => {
      const r = rng(2000 + ci);
      const Kb = c.keep ?? c.K;
      const a = randomTensor(c.transA ? [c.K, c.M] : [c.M, c.K], r);
      const b = randomTensor(c.transB ? [c.N, Kb] : [Kb, c.N], r);
      const attrs: RawAttrs = { transA: c.transA ? 1 : 0, transB: c.transB ? 1 : 0, ...(c.keep ? { kept_rows: pickRows(c.K, c.keep, r) } : {}) };
      const inputs = [a, b, ...(c.c ? [randomTensor(c.c, r)] : [])];
      const { got, want, wgsl } = await runPacked(gpu!, 'Gemm', inputs, attrs, [c.f.a, c.f.b, c.f.c], c.f.y, ctxOf(gpu!, v));
      check(got, want, Kb, c.f.y, what);
      checkStaging(wgsl, v, c.f.a, c.f.b, what);
    });
  }
});

test('packed outputs are refused where a word would straddle two invocations', () => {
  const conv = getOp('Conv');
  const shapes = [[1, 2, 7, 7], [3, 2, 3, 3]];
  const at = conv.attrs({}, shapes);
  const out = conv.shape(shapes, at);
  assert.match(conv.packed!.output!(shapes, out, at, bf16)!, /output channel plane of 25 values is not a whole number of bf16 words \(2 per word\)/);
  assert.match(conv.packed!.output!(shapes, out, at, e5m4)!, /3 values per word/);
  const gemm = getOp('Gemm');
  const gs = [[4, 5], [5, 6]];
  const gat = gemm.attrs({}, gs);
  assert.equal(gemm.packed!.output!(gs, gemm.shape(gs, gat), gat, bf16), null);
  assert.match(gemm.packed!.output!(gs, gemm.shape(gs, gat), gat, e4m3)!, /output row of 6 values is not a whole number of e4m3 words/);
});
