// Conv: WebGPU (implicit GEMM, pointwise fast path, depthwise direct kernel, both stagings of the
// GEMM core) against the CPU reference on odd and prime shapes with every attribute; known values
// for the CPU reference; bad-input errors.
//
// Tolerance: |gpu - cpu| <= atol + rtol*|cpu| with rtol = 1e-4 and atol = 1e-4 * max(1, K/64),
// K = C/group*KH*KW the length of each output's sum (inputs uniform in [-1, 1]; the CPU reference
// sums in float64, the GPU in f32 in another order).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randInt, randomTensor, rng, runBoth, runGpuWith, testGpu } from '../helpers.js';

const gpu = await testGpu();
const skip = !gpu && 'no WebGPU adapter';
const tol = (K: number) => ({ atol: 1e-4 * Math.max(1, K / 64), rtol: 1e-4 });

/**
 * CPU reference vs WebGPU through a session (the adapter's own kernel choice) and, with
 * `workgroup`, the GEMM core's other staging too. Every distinct shape is a kernel that lavapipe
 * compiles in 0.2-2 s with a cold shader cache (as in CI), so cases are rationed.
 */
async function check(x: Shape, w: Shape, attrs: RawAttrs, opts: { bias?: boolean; workgroup?: boolean; seed: number }) {
  const r = rng(opts.seed);
  const inputs = [randomTensor(x, r), randomTensor(w, r), ...(opts.bias ? [randomTensor([w[0]], r)] : [])];
  const K = w[1] * w[2] * w[3];
  const what = `Conv x${JSON.stringify(x)} w${JSON.stringify(w)} ${JSON.stringify(attrs)}${opts.bias ? ' +bias' : ''}`;
  const { cpu, gpu: g } = await runBoth(gpu, 'Conv', inputs, attrs);
  assertClose(g![0], cpu[0], tol(K), what);
  if (opts.workgroup) {
    const [wg] = await runGpuWith(gpu!, 'Conv', inputs, attrs, { ...gpu!.kernelContext, softwareAdapter: false });
    assertClose(wg, cpu[0], tol(K), `${what} (workgroup staging)`);
  }
}

test('Conv: random shapes with strides, asymmetric pads, dilations, groups, bias', { skip }, async () => {
  const r = rng(11);
  const primes = [1, 2, 3, 5, 7, 11, 13];
  let done = 0;
  while (done < 12) {
    const group = [1, 1, 2, 3][randInt(r, 0, 3)];
    const C = group * randInt(r, 1, 4);
    const M = group * randInt(r, 1, 5);
    const [H, W] = [primes[randInt(r, 1, 6)], primes[randInt(r, 0, 6)] + randInt(r, 0, 3)];
    const [KH, KW] = [randInt(r, 1, 4), randInt(r, 1, 3)];
    const strides = [randInt(r, 1, 3), randInt(r, 1, 3)];
    const dilations = [randInt(r, 1, 2), randInt(r, 1, 2)];
    const pads = [randInt(r, 0, 2), randInt(r, 0, 2), randInt(r, 0, 2), randInt(r, 0, 1)];
    if ((KH - 1) * dilations[0] + 1 > H + pads[0] + pads[2] || (KW - 1) * dilations[1] + 1 > W + pads[1] + pads[3]) continue;
    const activation = done % 4 === 3 ? { activation: { op: 'LeakyRelu', attrs: { alpha: 0.2 } } } : {};
    await check([randInt(r, 1, 2), C, H, W], [M, C / group, KH, KW], { group, strides, dilations, pads, ...activation }, { bias: done % 2 === 0, seed: done });
    done++;
  }
});

test('Conv: pointwise (1x1) fast path, with and without vec4 rows', { skip }, async () => {
  await check([2, 8, 4, 6], [12, 8, 1, 1], {}, { bias: true, seed: 1 }); // H*W % 4 == 0: vec4 loads and stores
  await check([1, 6, 5, 3], [10, 3, 1, 1], { group: 2 }, { seed: 2 }); // 15 pixels: scalar path, groups
  await check([1, 4, 5, 5], [8, 4, 1, 1], { strides: [2, 2] }, { seed: 3 }); // strided 1x1 is a general conv
});

test('Conv: depthwise (direct kernel) with multipliers, strides, dilations, pads', { skip }, async () => {
  await check([1, 8, 12, 12], [8, 1, 3, 3], { group: 8, pads: [1, 1, 1, 1] }, { bias: true, seed: 4 });
  await check([2, 3, 11, 9], [6, 1, 3, 2], { group: 3, strides: [2, 3], pads: [2, 0, 1, 1] }, { seed: 5 });
  await check([1, 4, 13, 10], [4, 1, 5, 3], { group: 4, dilations: [2, 3], pads: [0, 3, 2, 1], activation: { op: 'Clip', attrs: { min: 0, max: 0.6 } } }, { bias: true, seed: 6 });
  await check([1, 5, 7, 7], [5, 1, 3, 3], { group: 5, auto_pad: 'SAME_LOWER', strides: [2, 2] }, { seed: 7 });
});

test('Conv: auto_pad SAME_UPPER, SAME_LOWER and VALID', { skip }, async () => {
  await check([1, 3, 10, 7], [4, 3, 3, 4], { auto_pad: 'SAME_UPPER', strides: [3, 2] }, { seed: 8 });
  await check([1, 3, 10, 7], [4, 3, 4, 3], { auto_pad: 'SAME_LOWER', strides: [2, 1], dilations: [1, 2] }, { seed: 9 });
  await check([1, 3, 10, 7], [4, 3, 3, 3], { auto_pad: 'VALID', strides: [2, 2] }, { seed: 10 });
});

test('Conv: realistic layers and deep reductions, both stagings', { skip }, async () => {
  await check([1, 16, 20, 20], [32, 16, 3, 3], { pads: [1, 1, 1, 1], activation: { op: 'Relu', attrs: {} } }, { bias: true, workgroup: true, seed: 12 });
  await check([2, 43, 7, 9], [5, 43, 3, 1], { strides: [2, 1], pads: [1, 0, 0, 0] }, { workgroup: true, seed: 13 }); // K = 129
  await check([1, 12, 9, 9], [6, 4, 2, 2], { group: 3, dilations: [2, 2], pads: [0, 1, 1, 0] }, { bias: true, workgroup: true, seed: 14 });
});

test('Conv: auto_pad puts the odd padding where ONNX says', async () => {
  const r = rng(21);
  const x = randomTensor([1, 2, 4, 5], r);
  const w = randomTensor([3, 2, 3, 3], r);
  const run = async (attrs: RawAttrs) => (await runBoth(null, 'Conv', [x, w], attrs)).cpu[0];
  // stride 2: out = ceil(4/2) x ceil(5/2) = 2 x 3; total pad = 1 row and 2 columns.
  const upper = await run({ auto_pad: 'SAME_UPPER', strides: [2, 2] });
  const lower = await run({ auto_pad: 'SAME_LOWER', strides: [2, 2] });
  assert.deepEqual(upper.shape, [1, 3, 2, 3]);
  assert.deepEqual([...upper.data], [...(await run({ pads: [0, 1, 1, 1], strides: [2, 2] })).data]);
  assert.deepEqual([...lower.data], [...(await run({ pads: [1, 1, 0, 1], strides: [2, 2] })).data]);
  assert.deepEqual((await run({ auto_pad: 'VALID', strides: [2, 2] })).shape, [1, 3, 1, 2]);
});

test('CPU reference gives known values', async () => {
  const conv = async (x: Tensor, w: Tensor, attrs: RawAttrs = {}, b?: Tensor) => {
    const y = (await runBoth(null, 'Conv', b ? [x, w, b] : [x, w], attrs)).cpu[0];
    return { shape: y.shape, data: [...y.data] };
  };
  const x33 = new Tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // A diagonal 2x2 kernel adds each pixel to its lower-right neighbour.
  assert.deepEqual(await conv(x33, new Tensor([1, 1, 2, 2], [1, 0, 0, 1])), { shape: [1, 1, 2, 2], data: [6, 8, 12, 14] });
  // 3x3 box, pad 1, stride 2, bias 1: windows at the corners of the padded image.
  assert.deepEqual(await conv(x33, new Tensor([1, 1, 3, 3], Array(9).fill(1)), { pads: [1, 1, 1, 1], strides: [2, 2] }, new Tensor([1], [1])), {
    shape: [1, 1, 2, 2],
    data: [13, 17, 25, 29],
  });
  // Padding only at the top: [0+1, 1+2, 2+3].
  assert.deepEqual(await conv(new Tensor([1, 1, 3, 1], [1, 2, 3]), new Tensor([1, 1, 2, 1], [1, 1]), { pads: [1, 0, 0, 0] }), { shape: [1, 1, 3, 1], data: [1, 3, 5] });
  // Dilation 2 along W: y[i] = x[i] + 10 * x[i + 2].
  assert.deepEqual(await conv(new Tensor([1, 1, 1, 5], [1, 2, 3, 4, 5]), new Tensor([1, 1, 1, 2], [1, 10]), { dilations: [1, 2] }), { shape: [1, 1, 1, 3], data: [31, 42, 53] });
  // Two groups: each output channel sees only its own input channel.
  assert.deepEqual(await conv(new Tensor([1, 2, 1, 1], [2, 3]), new Tensor([2, 1, 1, 1], [10, 100]), { group: 2 }), { shape: [1, 2, 1, 1], data: [20, 300] });
  // Bias then a fused Relu: [1, -1] - 0.5 -> [0.5, 0].
  assert.deepEqual(await conv(new Tensor([1, 1, 1, 2], [1, -1]), new Tensor([1, 1, 1, 1], [1]), { activation: { op: 'Relu', attrs: {} } }, new Tensor([1], [-0.5])), {
    shape: [1, 1, 1, 2],
    data: [0.5, 0],
  });
});

test('bad inputs are refused with clear errors', async () => {
  const t = (...s: number[]) => new Tensor(s);
  const bad = (inputs: Tensor[], attrs: RawAttrs, re: RegExp) => assert.rejects(runBoth(null, 'Conv', inputs, attrs), re);
  await bad([t(1, 3, 5, 5), t(4, 2, 3, 3)], {}, /W has 2 input channels per group, X has 3 channels/);
  await bad([t(1, 3, 5, 5), t(4, 1, 3, 3)], { group: 2 }, /group 2 does not divide the 3 input channels/);
  await bad([t(1, 4, 5, 5), t(3, 2, 3, 3)], { group: 2 }, /group 2 does not divide the 3 output channels/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3)], {}, /weight W must be 4-D/);
  await bad([t(3, 5, 5), t(4, 3, 3, 3)], {}, /input X must be 4-D/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { pads: [1, -1, 1, 1] }, /'pads' must be >= 0/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { pads: [1, 1] }, /'pads' must have 4 values/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { auto_pad: 'SAME_UPPER', pads: [1, 1, 1, 1] }, /'pads' cannot be used together with auto_pad/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { auto_pad: 'SAME' }, /'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { strides: [0, 1] }, /'strides' must be >= 1/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { dilations: [1, 0] }, /'dilations' must be >= 1/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { group: 0 }, /'group' must be >= 1/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3)], { kernel_shape: [2, 2] }, /'kernel_shape' \[2,2\] differs from W's \[3, 3\]/);
  await bad([t(1, 3, 5, 5), t(4, 3, 3, 3), t(3)], {}, /bias B must be \[4\]/);
  await bad([t(1, 1, 2, 2), t(1, 1, 3, 3)], {}, /kernel 3x3 does not fit the padded 2x2 input/);
});
