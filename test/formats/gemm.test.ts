// Packed GEMM operands (packedMatrixOperand) and pack-on-store (packedStoreColumns) plugged into
// the GEMM core, against a CPU product of the same rounded values, with both stagings.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineFormat, FORMATS, pack, quantize, unpack, type FloatFormat } from '../../src/formats/format.js';
import { formatWgsl, packedMatrixOperand, packedStoreColumns } from '../../src/formats/wgsl.js';
import { gemmKernel, storeColumns, type GemmTiling } from '../../src/kernels/gemm.js';
import { u32 } from '../../src/kernels/wgsl.js';
import { rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const e5m4 = defineFormat({ name: 'e5m4', exponentBits: 5, mantissaBits: 4, bias: 12 }); // 3 lanes: never aligned

const TILINGS: (GemmTiling & { fission?: 'compute' | 'load' })[] = [
  { staging: 'registers', wx: 2, wy: 2, rm: 2, tk: 0 },
  { staging: 'workgroup', wx: 2, wy: 2, rm: 2, tk: 8, fission: 'compute' },
  { staging: 'workgroup', wx: 2, wy: 2, rm: 2, tk: 8, fission: 'load' },
];

interface Case {
  M: number;
  N: number;
  K: number;
  batches: number;
  a: FloatFormat;
  b: FloatFormat;
  /** Output format; fp32 means a plain f32 store. */
  y: FloatFormat;
  transA?: boolean;
}

const CASES: Case[] = [
  { M: 5, N: 11, K: 13, batches: 1, a: FORMATS.e4m3, b: FORMATS.bf16, y: FORMATS.fp32 },
  { M: 7, N: 8, K: 16, batches: 2, a: FORMATS.fp16, b: FORMATS.e5m2, y: FORMATS.bf16 },
  { M: 3, N: 12, K: 9, batches: 1, a: FORMATS.e6m5, b: e5m4, y: FORMATS.e4m3, transA: true },
  { M: 6, N: 9, K: 20, batches: 3, a: FORMATS.fp32, b: FORMATS.e4m3, y: FORMATS.fp32 },
  { M: 1, N: 4, K: 5, batches: 1, a: e5m4, b: FORMATS.fp32, y: FORMATS.fp32 },
];

for (const c of CASES) {
  for (const tiling of TILINGS) {
    const what = `${c.M}x${c.N}x${c.K} x${c.batches}, A ${c.a.name}${c.transA ? ' (transposed)' : ''}, B ${c.b.name}, Y ${c.y.name}, ${tiling.staging}${tiling.fission ? ` (split ${tiling.fission === 'compute' ? 'next to the math' : 'at the load'})` : ''}`;
    test(`packed GEMM ${what} matches the CPU product of the rounded values`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
      const { M, N, K, batches } = c;
      const r = rng(M * 1000 + N * 10 + K);
      const A = new Float32Array(batches * M * K).map(() => (r() - 0.5) * 4);
      const B = new Float32Array(batches * K * N).map(() => (r() - 0.5) * 4);
      const Aq = quantize(c.a, A);
      const Bq = quantize(c.b, B);
      // A: [batches, M, K] row-major, or [batches, K, M] when transposed. B: [batches, K, N].
      const aAt = (bb: number, m: number, k: number) => Aq[bb * M * K + (c.transA ? k * M + m : m * K + k)];
      const want = new Float64Array(batches * M * N);
      for (let bb = 0; bb < batches; bb++)
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += aAt(bb, m, k) * Bq[bb * K * N + k * N + n];
            want[bb * M * N + m * N + n] = s;
          }
      const packedY = c.y.bits < 32;
      const formats = [...new Map([c.a, c.b, c.y].map((f) => [f.name, f])).values()];
      const aOp = c.transA
        ? packedMatrixOperand('A', 'a', c.a, { rowStride: 1, colStride: M, batchOffset: (bb) => `${bb} * ${u32(M * K)}` })
        : packedMatrixOperand('A', 'a', c.a, { rowStride: K, colStride: 1, batchOffset: (bb) => `${bb} * ${u32(M * K)}`, aligned: K % 4 === 0 && 4 % c.a.lanes === 0 });
      const bOp = packedMatrixOperand('B', 'b', c.b, { rowStride: N, colStride: 1, batchOffset: (bb) => `${bb} * ${u32(K * N)}`, aligned: N % 4 === 0 && 4 % c.b.lanes === 0 });
      const yIndex = (col: string) => `batch * ${u32(M * N)} + m * ${u32(N)} + ${col}`;
      const store = packedY ? packedStoreColumns('y', 'acc', 'n', yIndex, c.y) : storeColumns('y', 'acc', 'n', N, yIndex, false);
      const functions = `@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<${packedY ? 'u32' : 'f32'}>;
${formats.map(formatWgsl).join('\n')}
${aOp}
${bOp}
fn store(batch: u32, m: u32, n: u32, acc: vec4<f32>) {
${store}
}`;
      const g = gpu!;
      const kernel = gemmKernel({ M, N, K, batches, functions, packedA: c.a, packedB: c.b }, { ...g.kernelContext, fission: tiling.fission }, tiling);
      await g.validate(kernel.wgsl);
      const yWords = packedY ? Math.ceil((batches * M * N) / c.y.lanes) : batches * M * N;
      const bufs = [g.upload(pack(A, c.a)), g.upload(pack(B, c.b)), g.buffer(yWords * 4)];
      try {
        const step = { ...g.prepare(kernel.wgsl, bufs), workgroups: kernel.workgroups };
        const { data } = await g.execute([step], [{ buffer: bufs[2], bytes: yWords * 4 }]);
        const got = packedY ? unpack(new Uint32Array(data[0].buffer, data[0].byteOffset, yWords), c.y, batches * M * N) : data[0];
        // f32 accumulation against float64: 1e-5 relative to the sum of |terms| (bounded by 4K);
        // a packed output adds half an ulp of its format (2^-(m+1) relative).
        const rtol = packedY ? 2 ** -(c.y.mantissaBits + 1) : 0;
        for (let i = 0; i < want.length; i++) {
          const tol = 1e-5 * 4 * K + rtol * Math.abs(want[i]) * 1.001;
          assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}: y[${i}] = ${got[i]}, want ${want[i]} (tol ${tol})`);
        }
      } finally {
        for (const b of bufs) g.release(b);
      }
    });
  }
}

test('packed loaders and stores refuse layouts they cannot serve', () => {
  assert.throws(() => packedMatrixOperand('B', 'b', e5m4, { rowStride: 8, colStride: 1, aligned: true }), /3 lanes dividing 4/);
  assert.throws(() => packedMatrixOperand('A', 'a', FORMATS.bf16, { rowStride: 6, colStride: 1, aligned: true }), /4 \| rowStride/);
  assert.throws(() => packedStoreColumns('y', 'acc', 'n', (x) => x, e5m4), /3 lanes per word/);
  // The aligned 8-bit run is one word split by unpack_all; the unaligned one splits per element.
  const aligned = packedMatrixOperand('B', 'b', FORMATS.e4m3, { rowStride: 8, colStride: 1, aligned: true });
  assert.match(aligned, /fn loadWordsB\(k: u32, c: u32\) -> u32 \{ let run0 = \(c \+ k \* 8u\) \/ 4u; return b\[run0\]; \}/);
  assert.match(aligned, /return split_run_e4m3\(loadWordsB\(k, c\)\)/);
  assert.match(packedMatrixOperand('A', 'a', FORMATS.bf16, { rowStride: 8, colStride: 1, aligned: true }), /-> vec2<u32> \{ let run0 = \(r \+ k\) \/ 2u; return vec2<u32>\(a\[run0\], a\[run0 \+ 1u\]\); \}/);
  // Unaligned: each element's code from its own word and lane, rebuilt into a run's word for
  // workgroup memory (loadWordsB) or split (loadB).
  const gathered = packedMatrixOperand('B', 'b', FORMATS.e4m3, { rowStride: 7, colStride: 1 });
  assert.match(gathered, /\(\(b\[\(at\.w\) \/ 4u\] >> \(\(at\.w\) % 4u \* 8u\)\) & 0xffu\)/);
  assert.match(gathered, /fn loadWordsB\(k: u32, c: u32\) -> u32 \{ return run_e4m3\(codesB\(k, c\)\); \}/);
  assert.match(gathered, /fn loadB\(k: u32, c: u32\) -> vec4<f32> \{ return decode4_e4m3\(codesB\(k, c\)\); \}/);
  // 3 lanes: no run of whole words, so no loadWords.
  assert.doesNotMatch(packedMatrixOperand('B', 'b', e5m4, { rowStride: 7, colStride: 1 }), /loadWords/);
  assert.throws(() => packedStoreColumns('y', 'acc', 'n', (x) => x, FORMATS.e4m3, 6), /6 columns are not a whole number of e4m3 words/);
});
