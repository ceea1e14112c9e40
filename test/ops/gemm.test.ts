// Gemm, MatMul and the GEMM core (kernels/gemm.ts): WebGPU against the CPU reference on odd and
// prime shapes, every attribute, both stagings of the core; known values; bad-input errors.
//
// Tolerance: |gpu - cpu| <= atol + rtol*|cpu| with rtol = 1e-4 and atol = 1e-4 * max(1, K/64):
// inputs are uniform in [-1, 1], the GPU sums K f32 products in its own order while the CPU
// reference sums in float64, so the absolute error grows with K.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseTiling, gemmKernel, matrixOperand, storeColumns, type GemmTiling } from '../../src/kernels/gemm.js';
import { bindingDecls } from '../../src/kernels/wgsl.js';
import type { RawAttrs } from '../../src/ops/op.js';
import type { KernelContext } from '../../src/kernels/context.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randInt, randomTensor, rng, runBoth, runGpuWith, testGpu } from '../helpers.js';

const gpu = await testGpu();
const skip = !gpu && 'no WebGPU adapter';
const tol = (K: number) => ({ atol: 1e-4 * Math.max(1, K / 64), rtol: 1e-4 });
/** The GEMM core's workgroup staging, which a software adapter would not pick by itself. */
const workgroupCtx = (): KernelContext => ({ ...gpu!.kernelContext, softwareAdapter: false });

/**
 * CPU reference vs WebGPU through a session (the adapter's own kernel choice) and, with
 * `workgroup`, also through the other staging. Shapes and variants are rationed: each distinct
 * kernel costs lavapipe 0.2-2 s to compile when its shader cache is cold, as in CI.
 */
async function check(op: string, inputs: Tensor[], attrs: RawAttrs, K: number, what: string, workgroup = false) {
  const { cpu, gpu: g } = await runBoth(gpu, op, inputs, attrs);
  assertClose(g![0], cpu[0], tol(K), what);
  if (workgroup) assertClose((await runGpuWith(gpu!, op, inputs, attrs, workgroupCtx()))[0], cpu[0], tol(K), `${what} (workgroup staging)`);
}

// Odd, prime and vec4-aligned sizes.
const SIZES = [1, 2, 3, 4, 5, 7, 8, 16, 31, 37, 64, 67];

test('Gemm: every transA/transB on odd and prime shapes', { skip }, async () => {
  const r = rng(1);
  for (let i = 0; i < 10; i++) {
    const M = SIZES[randInt(r, 0, SIZES.length - 1)];
    const N = SIZES[randInt(r, 0, SIZES.length - 1)];
    const K = SIZES[randInt(r, 0, SIZES.length - 1)];
    const transA = i % 2;
    const transB = (i >> 1) % 2;
    const a = randomTensor(transA ? [K, M] : [M, K], r);
    const b = randomTensor(transB ? [N, K] : [K, N], r);
    await check('Gemm', [a, b], { transA, transB }, K, `Gemm M${M} N${N} K${K} tA${transA} tB${transB}`, i >= 8);
  }
});

test('Gemm: larger and deeper shapes (K up to 257)', { skip }, async () => {
  const r = rng(2);
  for (const [M, N, K] of [
    [129, 67, 70],
    [64, 128, 257],
    [3, 130, 129],
    [70, 1, 61],
  ]) {
    await check('Gemm', [randomTensor([M, K], r), randomTensor([K, N], r)], {}, K, `Gemm ${M}x${N}x${K}`, M === 129);
  }
});

test('Gemm: alpha, beta and C of every broadcastable shape', { skip }, async () => {
  const r = rng(3);
  const [M, N, K] = [7, 13, 5];
  const cShapes: Shape[] = [[], [1], [N], [1, N], [M, 1], [M, N], [1, 1]];
  for (const [i, cs] of cShapes.entries()) {
    const attrs = { alpha: i % 2 ? 0.5 : 1, beta: i % 3 ? -2 : 1, transB: i % 2 };
    const b = randomTensor(i % 2 ? [N, K] : [K, N], r);
    await check('Gemm', [randomTensor([M, K], r), b, randomTensor(cs, r)], attrs, K, `Gemm C${JSON.stringify(cs)}`, i === 4);
  }
  // beta = 0 ignores C; N a multiple of 4 takes the vec4 path for C and Y.
  await check('Gemm', [randomTensor([5, 8], r), randomTensor([8, 12], r), randomTensor([5, 12], r)], { beta: 0 }, 8, 'Gemm beta 0');
  await check('Gemm', [randomTensor([5, 8], r), randomTensor([8, 12], r), randomTensor([1, 12], r)], { alpha: 2, beta: 0.25 }, 8, 'Gemm vec4 C');
});

test('Gemm and MatMul: fused activations in the epilogue', { skip }, async () => {
  const r = rng(4);
  const acts = [
    { op: 'Relu', attrs: {} },
    { op: 'LeakyRelu', attrs: { alpha: 0.1 } },
    { op: 'Clip', attrs: { min: -0.5, max: 0.5 } },
    { op: 'HardSigmoid', attrs: {} },
    { op: 'Sigmoid', attrs: {} },
    { op: 'HardSwish', attrs: {} },
  ];
  for (const [i, activation] of acts.entries()) {
    if (i < 3) await check('Gemm', [randomTensor([9, 12], r), randomTensor([12, 6], r), randomTensor([6], r)], { activation }, 12, `Gemm+${activation.op}`);
    else await check('MatMul', [randomTensor([2, 5, 8], r), randomTensor([8, 3], r)], { activation }, 8, `MatMul+${activation.op}`);
  }
});

test('MatMul: batched with broadcasting, 1-D operands, folded batches', { skip }, async () => {
  const r = rng(5);
  const cases: [Shape, Shape][] = [
    [[3, 5, 7], [3, 7, 2]],
    [[2, 1, 4, 9], [3, 9, 5]], // batch dims broadcast both ways
    [[1, 6, 8], [4, 8, 12]],
    [[2, 3, 17, 8], [8, 20]], // one shared B: folded into one taller GEMM
    [[7], [7]], // dot product -> scalar
    [[7], [2, 7, 5]],
    [[3, 4, 8], [8]],
    [[31, 37], [37, 29]],
  ];
  for (const [sa, sb] of cases) {
    const K = sa[sa.length - 1];
    await check('MatMul', [randomTensor(sa, r), randomTensor(sb, r)], {}, K, `MatMul ${JSON.stringify(sa)} x ${JSON.stringify(sb)}`, sa.length === 4);
  }
});

test('MatMul: output shapes follow numpy', async () => {
  const shape = async (a: Shape, b: Shape) => (await runBoth(null, 'MatMul', [new Tensor(a), new Tensor(b)])).cpu[0].shape;
  assert.deepEqual(await shape([7], [7]), []);
  assert.deepEqual(await shape([7], [2, 7, 5]), [2, 5]);
  assert.deepEqual(await shape([3, 4, 7], [7]), [3, 4]);
  assert.deepEqual(await shape([2, 1, 4, 9], [3, 9, 5]), [2, 3, 4, 5]);
});

test('GEMM core: every tiling on edge shapes', { skip }, async () => {
  // Drive gemmKernel directly with tilings the heuristics would not pick for these shapes.
  const r = rng(6);
  const tilings: GemmTiling[] = [
    { staging: 'registers', wx: 8, wy: 8, rm: 8, tk: 0 },
    { staging: 'registers', wx: 4, wy: 2, rm: 1, tk: 0 },
    { staging: 'registers', wx: 16, wy: 1, rm: 2, tk: 0 },
    { staging: 'workgroup', wx: 16, wy: 16, rm: 4, tk: 32 },
    { staging: 'workgroup', wx: 8, wy: 4, rm: 2, tk: 4 },
    { staging: 'workgroup', wx: 4, wy: 8, rm: 8, tk: 8 },
  ];
  const shapes = [
    [1, 1, 1, 1],
    [17, 23, 11, 3],
    [64, 36, 40, 2],
    [5, 70, 129, 1],
  ];
  for (const [ti, t] of tilings.entries()) {
    for (const [M, N, K, batches] of ti < 2 ? [shapes[ti % 4], shapes[(ti + 2) % 4]] : [shapes[ti % 4]]) {
      const a = randomTensor([batches, M, K], r);
      const b = randomTensor([batches, K, N], r);
      const want = new Float32Array(batches * M * N);
      for (let q = 0; q < batches; q++)
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += a.data[(q * M + m) * K + k] * b.data[(q * K + k) * N + n];
            want[(q * M + m) * N + n] = s;
          }
      const bindings = [{ input: 0 }, { input: 1 }, { output: 0 }] as const;
      const functions = `${bindingDecls(bindings, ['a', 'b', 'y'])}
${matrixOperand('A', 'a', { rowStride: K, colStride: 1, batchOffset: (q) => `${q} * ${M * K}u` })}
${matrixOperand('B', 'b', { rowStride: N, colStride: 1, batchOffset: (q) => `${q} * ${K * N}u` })}
fn store(batch: u32, m: u32, n: u32, v: vec4<f32>) {
${storeColumns('y', 'v', 'n', N, (c) => `(batch * ${M}u + m) * ${N}u + ${c}`, false)}
}`;
      const k = gemmKernel({ M, N, K, batches, functions }, gpu!.kernelContext, t);
      await gpu!.validate(k.wgsl);
      const bufs = [gpu!.upload(a.data), gpu!.upload(b.data), gpu!.buffer(want.length * 4)];
      const { data } = await gpu!.execute([{ ...gpu!.prepare(k.wgsl, bufs), workgroups: k.workgroups }], [{ buffer: bufs[2], bytes: want.length * 4 }]);
      bufs.forEach((x) => gpu!.release(x));
      assertClose(new Tensor([want.length], data[0]), new Tensor([want.length], want), tol(K), `core ${M}x${N}x${K}x${batches} ${JSON.stringify(t)}`);
    }
  }
});

test('GEMM core: tilings respect the adapter limits', () => {
  const small: KernelContext = {
    maxComputeWorkgroupsPerDimension: 65535,
    maxComputeInvocationsPerWorkgroup: 64,
    maxComputeWorkgroupStorageSize: 4096,
    maxStorageBufferBindingSize: 1 << 27,
    subgroups: false,
    shaderF16: false,
  };
  for (const M of [1, 3, 8, 100, 1000]) {
    const t = chooseTiling(M, small);
    assert.equal(t.staging, 'workgroup');
    assert.ok(t.wx * t.wy <= 64, `M=${M}: ${t.wx}x${t.wy} invocations`);
    assert.ok((t.wy * t.rm * t.tk + t.tk * t.wx * 4) * 4 <= 4096, `M=${M}: workgroup storage`);
    assert.ok(t.tk >= 4 && t.tk % 4 === 0);
  }
  // Small M gets a small register block, so a GEMV does not compute rows of nothing.
  assert.equal(chooseTiling(1, { ...small, softwareAdapter: true }).rm, 1);
  assert.equal(chooseTiling(1, small).rm, 1);
  // More tiles than one grid dimension holds spill into the second.
  const k = gemmKernel({ M: 1, N: 4 * 8 * 70000, K: 1, functions: '' }, { ...small, softwareAdapter: true });
  assert.ok(k.workgroups[0] <= 65535 && k.workgroups[0] * k.workgroups[1] >= 70000);
});

test('CPU references give known values', async () => {
  const cpu = async (op: string, inputs: Tensor[], attrs: RawAttrs = {}) => [...(await runBoth(null, op, inputs, attrs)).cpu[0].data];
  const a = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
  const b = new Tensor([3, 2], [7, 8, 9, 10, 11, 12]);
  // [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58, 64], [139, 154]]
  assert.deepEqual(await cpu('MatMul', [a, b]), [58, 64, 139, 154]);
  assert.deepEqual(await cpu('Gemm', [a, b]), [58, 64, 139, 154]);
  // A^T (3x2)... with transA: A' = A^T is 3x2, B' = B^T is 2x3: A'B' = [[39,49,59],[54,68,82],[69,87,105]]
  assert.deepEqual(await cpu('Gemm', [a, b], { transA: 1, transB: 1 }), [39, 49, 59, 54, 68, 82, 69, 87, 105]);
  // alpha 0.5, beta 2, C = [1, -1] broadcast over rows: 0.5*[[58,64],[139,154]] + 2*[1,-1]
  assert.deepEqual(await cpu('Gemm', [a, b, new Tensor([2], [1, -1])], { alpha: 0.5, beta: 2 }), [31, 30, 71.5, 75]);
  // C = [[60],[200]] broadcast over columns, alpha -1, then Relu: [[2, -4], [61, 46]] -> [[2, 0], [61, 46]].
  assert.deepEqual(await cpu('Gemm', [a, b, new Tensor([2, 1], [60, 200])], { alpha: -1, activation: { op: 'Relu', attrs: {} } }), [2, 0, 61, 46]);
  // Batched MatMul with a broadcast B: both batches multiply by B.
  const a2 = new Tensor([2, 1, 3], [1, 0, 0, 0, 0, 1]);
  assert.deepEqual(await cpu('MatMul', [a2, b]), [7, 8, 11, 12]);
  // 1-D x 1-D is a dot product.
  assert.deepEqual(await cpu('MatMul', [new Tensor([3], [1, 2, 3]), new Tensor([3], [4, 5, 6])]), [32]);
});

test('bad inputs are refused with clear errors', async () => {
  const t = (...s: number[]) => new Tensor(s);
  const bad = (op: string, inputs: Tensor[], attrs: RawAttrs, re: RegExp) => assert.rejects(runBoth(null, op, inputs, attrs), re);
  await bad('Gemm', [t(2, 3), t(4, 2)], {}, /inner dimensions differ/);
  await bad('Gemm', [t(2, 3, 1), t(3, 2)], {}, /input A must be 2-D/);
  await bad('Gemm', [t(2, 3), t(3)], {}, /input B must be 2-D/);
  await bad('Gemm', [t(2, 3), t(3, 4), t(3, 4)], {}, /C of shape \[3, 4\] does not broadcast to \[2, 4\]/);
  await bad('Gemm', [t(2, 3), t(3, 4), t(2, 4, 1)], {}, /does not broadcast/);
  await bad('Gemm', [t(2, 3), t(3, 4)], { transA: 2 }, /'transA' must be 0 or 1/);
  await bad('Gemm', [t(2, 3), t(3, 4)], { activation: 'Relu' }, /'activation' must be \{op, attrs\}/);
  await bad('MatMul', [t(2, 3), t(4, 2)], {}, /inner dimensions differ/);
  await bad('MatMul', [t(2, 2, 3), t(3, 3, 2)], {}, /batch dimensions .* do not broadcast/);
  await bad('MatMul', [t(), t(3)], {}, /rank >= 1/);
});
