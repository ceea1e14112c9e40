// Compacted Conv and Gemm (attribute kept_rows, synapse vector elimination): WebGPU against the
// CPU reference on odd and prime shapes with strides, pads, dilations, groups, bias, fused
// activations, both GEMM stagings and both places for the kept-row table; the equivalence the
// elimination relies on (the compacted op equals the dense op whose eliminated weight columns are
// zero); K' = 1 and K' = K; hand-computed values; the conv's gradients (finite differences, and
// the eliminated rows staying eliminated); bad inputs.
//
// Tolerance: |a - b| <= atol + rtol*|b| with rtol = 1e-4 and atol = 1e-4 * max(1, K/64), K the
// dense reduction length (inputs uniform in [-1, 1]; f32 sums in different orders).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keptTableOptions } from '../../src/ops/conv.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { checkOp } from '../autograd/check.js';
import { assertClose, pickRows, randInt, randomTensor, rng, runBoth, runGpuWith, testGpu } from '../helpers.js';

const gpu = await testGpu();
const skip = !gpu && 'no WebGPU adapter';
const tol = (K: number) => ({ atol: 1e-4 * Math.max(1, K / 64), rtol: 1e-4 });

/** w [M, K'] spread into [M, K] with zeros in the eliminated columns; row m uses rowsOf(m). */
function expand(w: Tensor, rowsOf: (m: number) => readonly number[], K: number): Float32Array {
  const [M, Kp] = w.shape;
  const d = new Float32Array(M * K);
  for (let m = 0; m < M; m++) rowsOf(m).forEach((k, j) => (d[m * K + k] = w.data[m * Kp + j]));
  return d;
}

/**
 * Compacted conv: WebGPU vs CPU (with `workgroup`, the GEMM core's other staging too), and the CPU
 * compacted result vs the CPU dense conv with zeros in the eliminated rows.
 */
async function checkConv(x: Shape, M: number, KH: number, KW: number, attrs: RawAttrs, o: { keep: number; perGroup?: boolean; bias?: boolean; workgroup?: boolean; seed: number }) {
  const r = rng(o.seed);
  const group = (attrs.group as number | undefined) ?? 1;
  const K = (x[1] / group) * KH * KW;
  const Kp = Math.max(1, Math.min(K, o.keep));
  // One list for every group, or (perGroup) each group its own.
  const lists = Array.from({ length: o.perGroup ? group : 1 }, () => pickRows(K, Kp, r));
  const kept = lists.flat();
  const rowsOf = (m: number) => lists[o.perGroup ? Math.floor(m / (M / group)) : 0];
  const w = randomTensor([M, Kp], r);
  const xt = randomTensor(x, r);
  const bias = o.bias ? [randomTensor([M], r)] : [];
  const at = { ...attrs, kernel_shape: [KH, KW], kept_rows: kept };
  const what = `Conv x${JSON.stringify(x)} M=${M} ${KH}x${KW} ${JSON.stringify(attrs)} K'=${Kp}/${K}${o.perGroup ? ' per group' : ''}`;
  const { cpu, gpu: g } = await runBoth(gpu, 'Conv', [xt, w, ...bias], at);
  const dense = await runBoth(null, 'Conv', [xt, new Tensor([M, x[1] / group, KH, KW], expand(w, rowsOf, K)), ...bias], attrs);
  assertClose(cpu[0], dense.cpu[0], tol(K), `${what}: compacted vs dense with zeros`);
  if (g) assertClose(g[0], cpu[0], tol(K), what);
  if (o.workgroup && gpu) {
    const [wg] = await runGpuWith(gpu, 'Conv', [xt, w, ...bias], at, { ...gpu.kernelContext, softwareAdapter: false });
    assertClose(wg, cpu[0], tol(K), `${what} (workgroup staging)`);
  }
}

test('compacted Conv: random shapes with strides, pads, dilations, groups (shared or own rows), bias; equals the dense conv with zeros', { skip }, async () => {
  const r = rng(5);
  const primes = [2, 3, 5, 7, 11];
  let done = 0;
  while (done < 8) {
    const group = [1, 1, 2, 3][randInt(r, 0, 3)];
    const C = group * randInt(r, 1, 4);
    const M = group * randInt(r, 1, 5);
    const [H, W] = [primes[randInt(r, 1, 4)], primes[randInt(r, 0, 4)] + randInt(r, 0, 2)];
    const [KH, KW] = [randInt(r, 1, 3), randInt(r, 1, 3)];
    const strides = [randInt(r, 1, 2), randInt(r, 1, 3)];
    const dilations = [randInt(r, 1, 2), randInt(r, 1, 2)];
    const pads = [randInt(r, 0, 2), randInt(r, 0, 1), randInt(r, 0, 1), randInt(r, 0, 2)];
    if ((KH - 1) * dilations[0] + 1 > H + pads[0] + pads[2] || (KW - 1) * dilations[1] + 1 > W + pads[1] + pads[3]) continue;
    const K = (C / group) * KH * KW;
    const activation = done % 3 === 2 ? { activation: { op: 'LeakyRelu', attrs: { alpha: 0.2 } } } : {};
    const keep = [Math.ceil(K * 0.75), Math.ceil(K / 2), Math.ceil(K / 4), K][done % 4];
    const perGroup = group > 1 && done % 2 === 1;
    await checkConv([randInt(r, 1, 2), C, H, W], M, KH, KW, { group, strides, dilations, pads, ...activation }, { keep, perGroup, bias: done % 2 === 0, workgroup: done < 2, seed: done });
    done++;
  }
  // Each group its own rows (seeds chosen so that the groups' lists differ), on every loader:
  // general, pointwise vec4 and scalar, both stagings.
  await checkConv([2, 6, 5, 7], 9, 3, 3, { group: 3, pads: [1, 1, 0, 1], strides: [1, 2] }, { keep: 7, perGroup: true, bias: true, workgroup: true, seed: 20 });
  await checkConv([1, 8, 4, 4], 6, 1, 1, { group: 2 }, { keep: 3, perGroup: true, workgroup: true, seed: 23 });
  await checkConv([2, 6, 3, 5], 4, 1, 1, { group: 2 }, { keep: 2, perGroup: true, seed: 22 });
});

test('compacted Conv: pointwise paths, K\' = 1, K\' = K, depthwise groups, the table as a storage binding, two-word table entries', { skip }, async () => {
  await checkConv([2, 8, 4, 6], 12, 1, 1, {}, { keep: 5, bias: true, seed: 1 }); // vec4 pointwise
  await checkConv([1, 6, 5, 3], 10, 1, 1, { group: 2 }, { keep: 2, seed: 2 }); // scalar pointwise, groups
  await checkConv([1, 3, 7, 5], 4, 3, 3, { pads: [1, 1, 1, 1] }, { keep: 1, seed: 3 }); // K' = 1
  await checkConv([1, 3, 7, 5], 4, 3, 3, { pads: [1, 1, 1, 1], strides: [2, 1] }, { keep: 27, bias: true, seed: 4 }); // K' = K
  await checkConv([1, 4, 6, 5], 4, 3, 3, { group: 4, pads: [1, 0, 1, 2] }, { keep: 5, seed: 5 }); // depthwise goes through the GEMM
  keptTableOptions.where = 'binding'; // the table as a storage binding (the default is a WGSL constant)
  try {
    await checkConv([1, 5, 7, 6], 6, 3, 3, { pads: [1, 1, 1, 1], dilations: [2, 1] }, { keep: 20, bias: true, seed: 6 });
    await checkConv([2, 8, 4, 6], 4, 1, 1, {}, { keep: 3, seed: 7 });
    keptTableOptions.packBits = 8; // (offset, dy, dx) no longer fit one word: two words per row
    await checkConv([1, 5, 7, 6], 6, 3, 2, { pads: [1, 1, 0, 1], dilations: [1, 2] }, { keep: 11, bias: true, seed: 8 });
  } finally {
    keptTableOptions.where = 'auto';
    keptTableOptions.packBits = 32;
  }
});

test('compacted Conv: CPU reference, known values', async () => {
  const conv = async (x: Tensor, w: Tensor, attrs: RawAttrs) => {
    const [y] = (await runBoth(null, 'Conv', [x, w], attrs)).cpu;
    return { shape: y.shape, data: Array.from(y.data) };
  };
  const x33 = new Tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Kept rows 0 and 8 of a 3x3 kernel (the two corners), weights 1 and 10, pad 1: y = x[i-1, j-1] + 10 x[i+1, j+1].
  assert.deepEqual(await conv(x33, new Tensor([1, 2], [1, 10]), { kernel_shape: [3, 3], pads: [1, 1, 1, 1], kept_rows: [0, 8] }), {
    shape: [1, 1, 3, 3],
    data: [50, 60, 0, 80, 91, 2, 0, 4, 5],
  });
  // Two channels, 1x1: only channel 1 kept.
  assert.deepEqual(await conv(new Tensor([1, 2, 1, 2], [1, 2, 3, 4]), new Tensor([1, 1], [2]), { kernel_shape: [1, 1], kept_rows: [1] }), { shape: [1, 1, 1, 2], data: [6, 8] });
});

/** Compacted Gemm: WebGPU vs CPU and the CPU result vs the dense Gemm with zero rows in B. */
async function checkGemm(M: number, K: number, N: number, keep: number, attrs: RawAttrs, o: { c?: Shape; seed: number; workgroup?: boolean }) {
  const r = rng(o.seed);
  const kept = pickRows(K, keep, r);
  const Kp = kept.length;
  const a = randomTensor(attrs.transA ? [K, M] : [M, K], r);
  const bc = randomTensor([Kp, N], r); // B' rows
  const b = attrs.transB ? new Tensor([N, Kp], Array.from({ length: N * Kp }, (_, i) => bc.data[(i % Kp) * N + Math.floor(i / Kp)])) : bc;
  const bDense = new Float32Array(K * N);
  kept.forEach((k, j) => bDense.set(bc.data.subarray(j * N, (j + 1) * N), k * N));
  const c = o.c ? [randomTensor(o.c, r)] : [];
  const at = { ...attrs, kept_rows: kept };
  const what = `Gemm ${M}x${K}x${N} K'=${Kp} ${JSON.stringify(attrs)}`;
  const { cpu, gpu: g } = await runBoth(gpu, 'Gemm', [a, b, ...c], at);
  const dense = await runBoth(null, 'Gemm', [a, new Tensor([K, N], bDense), ...c], { ...attrs, transB: 0 });
  assertClose(cpu[0], dense.cpu[0], tol(K), `${what}: compacted vs dense with zeros`);
  if (g) assertClose(g[0], cpu[0], tol(K), what);
  if (o.workgroup && gpu) {
    const [wg] = await runGpuWith(gpu, 'Gemm', [a, b, ...c], at, { ...gpu.kernelContext, softwareAdapter: false });
    assertClose(wg, cpu[0], tol(K), `${what} (workgroup staging)`);
  }
}

test('compacted Gemm: odd shapes, trans flags, alpha/beta/C, K\' = 1 and K\' = K; equals the dense Gemm with zeros', { skip }, async () => {
  await checkGemm(5, 13, 7, 6, {}, { seed: 1, workgroup: true });
  await checkGemm(3, 16, 8, 9, { transB: 1 }, { c: [8], seed: 2 });
  await checkGemm(7, 11, 5, 4, { transA: 1, alpha: 0.5, beta: 2 }, { c: [7, 1], seed: 3, workgroup: true });
  await checkGemm(2, 9, 12, 1, { transA: 1, transB: 1, activation: { op: 'Relu', attrs: {} } }, { seed: 4 });
  await checkGemm(4, 10, 3, 10, {}, { c: [4, 3], seed: 5 }); // K' = K
  keptTableOptions.where = 'binding';
  try {
    await checkGemm(6, 20, 9, 7, {}, { seed: 6 });
  } finally {
    keptTableOptions.where = 'auto';
  }
});

test('compacted Conv: gradients of x, w (only its kept columns), b: finite differences, WebGPU backward vs CPU', async () => {
  const r = rng(9);
  const x = randomTensor([1, 2, 5, 4], r);
  const w = randomTensor([3, 7], r);
  const b = randomTensor([3], r);
  const attrs = { kernel_shape: [2, 3], pads: [1, 0, 0, 1], strides: [1, 2], kept_rows: [0, 2, 3, 5, 6, 9, 11] };
  await checkOp(gpu, 'Conv', [x, w, b], attrs, { samples: 30 });
  const xg = randomTensor([1, 4, 4, 3], r);
  await checkOp(null, 'Conv', [xg, randomTensor([4, 3], r)], { group: 2, kernel_shape: [1, 2], pads: [0, 1, 0, 0], kept_rows: [0, 1, 3] }, { samples: 20 });
  // Each group its own rows: the selection is a batched MatMul.
  await checkOp(gpu, 'Conv', [xg, randomTensor([4, 3], r), randomTensor([4], r)], { group: 2, kernel_shape: [1, 2], pads: [0, 1, 0, 0], kept_rows: [0, 1, 3, 1, 2, 3] }, { samples: 20 });
});

test('compacted Gemm: gradients of A, B (only its kept rows), C for every trans flag (finite differences; WebGPU backward vs CPU)', async () => {
  const r = rng(3);
  const kept = [0, 2, 3, 6];
  for (const [transA, transB] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
    const a = randomTensor(transA ? [7, 3] : [3, 7], r);
    const b = randomTensor(transB ? [5, 4] : [4, 5], r);
    await checkOp(transA === transB ? gpu : null, 'Gemm', [a, b, randomTensor([5], r)], { transA, transB, alpha: 0.7, beta: 1.5, kept_rows: kept }, { samples: 20 });
  }
});

test('compacted Conv and Gemm: bad inputs are refused with clear errors', async () => {
  const t = (...s: number[]) => new Tensor(s);
  const bad = (op: string, inputs: Tensor[], attrs: RawAttrs, re: RegExp) => assert.rejects(runBoth(null, op, inputs, attrs), re);
  const k33 = { kernel_shape: [3, 3] };
  await bad('Conv', [t(1, 2, 5, 5), t(4, 3)], { ...k33, kept_rows: [0, 2, 1] }, /'kept_rows' must be sorted and distinct, got 2 then 1 at index 2/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 3)], { ...k33, kept_rows: [0, 4, 4] }, /'kept_rows' must be sorted and distinct/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 3)], { ...k33, kept_rows: [0, 4, 18] }, /'kept_rows' has row 18, out of range for K = C\/group\*KH\*KW = 2\*3\*3 = 18/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 2)], { ...k33, kept_rows: [-1, 4] }, /'kept_rows' has a negative row -1/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 0)], { ...k33, kept_rows: [] }, /'kept_rows' must keep at least one row/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 2)], { ...k33, kept_rows: [0, 4, 7] }, /compacted W \[4, 2\] does not match 'kept_rows' \(3 rows\)/);
  await bad('Conv', [t(1, 4, 5, 5), t(4, 2)], { ...k33, group: 2, kept_rows: [0, 4, 7] }, /or 2 lists of K' one after the other/);
  await bad('Conv', [t(1, 4, 5, 5), t(4, 2)], { ...k33, group: 2, kept_rows: [0, 4, 7, 3] }, /'kept_rows' must be sorted and distinct \(group 1's rows\), got 7 then 3/);
  await bad('Conv', [t(1, 4, 5, 5), t(4, 2)], { ...k33, group: 2, kept_rows: [0, 4, 7, 18] }, /'kept_rows' has row 18, out of range for K = C\/group\*KH\*KW = 2\*3\*3 = 18/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 2, 3, 3)], { ...k33, kept_rows: [0, 4] }, /with 'kept_rows', weight W must be 2-D \[M, K'\]/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 2)], { kept_rows: [0, 4] }, /'kernel_shape' is required with 'kept_rows'/);
  await bad('Conv', [t(1, 2, 5, 5), t(4, 2)], { ...k33, kept_rows: [0.5, 4] }, /'kept_rows' must be a list of integers/);
  await bad('Gemm', [t(2, 6), t(2, 3)], { kept_rows: [3, 1] }, /Gemm: attribute 'kept_rows' must be sorted and distinct/);
  await bad('Gemm', [t(2, 6), t(2, 3)], { kept_rows: [1, 6] }, /'kept_rows' has row 6, out of range for A's K = 6/);
  await bad('Gemm', [t(2, 6), t(3, 3)], { kept_rows: [1, 5] }, /compacted B must have 2 rows \(one per kept row\), got 3x3/);
  await bad('Gemm', [t(2, 6), t(3, 3)], { transB: 1, kept_rows: [1, 5] }, /compacted B\^T must have 2 rows/);
});
