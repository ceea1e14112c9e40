// Conv's gradients: checkGradients (finite differences on the CPU reference; WebGPU backward vs
// CPU for some cases, each case being several kernels that lavapipe compiles cold) over strides,
// asymmetric pads, dilations, groups (depthwise too), with and without bias; the two gradient ops
// directly, WebGPU vs CPU on larger odd shapes and both GEMM stagings; the CPU reference of
// ConvInputGrad against ConvTranspose (the same function, written independently); known values;
// the refusal of fused activations and of bad inputs.
//
// Tolerances: finite differences as checkGradients (atol 2e-3, rtol 2e-2); WebGPU vs CPU
// |gpu - cpu| <= 1e-4·max(1, K/64) + 1e-4·|cpu| with K the length of each output's sum, as in
// test/ops/conv.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, oneNodeGraph, randomTensor, rng, runBoth, runGpuWith, testGpu } from '../helpers.js';
import { checkOp } from './check.js';

const gpu = await testGpu();
const skip = !gpu && 'no WebGPU adapter';
const tol = (K: number) => ({ atol: 1e-4 * Math.max(1, K / 64), rtol: 1e-4 });

// [x, w, attrs, bias, also on WebGPU]
const CASES: [Shape, Shape, RawAttrs, boolean, boolean][] = [
  [[2, 3, 5, 7], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }, true, true],
  [[1, 2, 7, 6], [3, 2, 3, 2], { strides: [2, 2], pads: [1, 0, 2, 1] }, true, true],
  [[1, 2, 7, 7], [2, 2, 3, 3], { dilations: [2, 2], pads: [2, 1, 0, 1] }, false, false],
  [[2, 4, 5, 5], [6, 2, 3, 3], { group: 2, strides: [2, 1], pads: [1, 1, 1, 1] }, true, true],
  [[1, 3, 6, 5], [6, 1, 3, 3], { group: 3, pads: [1, 1, 1, 1] }, true, false], // depthwise, multiplier 2
  [[2, 4, 5, 5], [4, 1, 3, 3], { group: 4, strides: [2, 2], pads: [0, 1, 1, 0] }, false, true], // depthwise
  [[2, 5, 3, 3], [3, 5, 1, 1], {}, true, false], // pointwise
  [[1, 2, 9, 8], [2, 2, 2, 3], { strides: [3, 2], dilations: [2, 1], pads: [0, 1, 1, 0] }, false, false],
  [[1, 2, 7, 5], [3, 2, 3, 3], { strides: [2, 2], auto_pad: 'SAME_UPPER' }, true, false],
];

test('Conv: gradients of x, w and b against finite differences, every attribute', async () => {
  const r = rng(41);
  for (const [x, w, attrs, bias, onGpu] of CASES) {
    const inputs = [randomTensor(x, r), randomTensor(w, r), ...(bias ? [randomTensor([w[0]], r)] : [])];
    await checkOp(onGpu ? gpu : null, 'Conv', inputs, attrs, { samples: 30 });
  }
});

test('Conv: gradient of w alone (x a constant) and of x alone (w a constant)', async () => {
  const r = rng(42);
  const x = randomTensor([1, 2, 5, 6], r);
  const w = randomTensor([3, 2, 3, 3], r);
  await checkOp(null, 'Conv', [x, w], { pads: [1, 0, 1, 2] }, { wrt: [1], constant: [true, false] });
  await checkOp(null, 'Conv', [x, w], { pads: [1, 0, 1, 2] }, { wrt: [0], constant: [false, true] });
});

/** The forward output shape of a conv, from the CPU reference. */
async function outShape(x: Shape, w: Shape, attrs: RawAttrs): Promise<Shape> {
  const r = rng(1);
  return (await runBoth(null, 'Conv', [randomTensor(x, r), randomTensor(w, r)], attrs)).cpu[0].shape;
}

/** wt[g*Cg + c, m] = w[g*Mg + m, c]: the layout ConvInputGrad takes. */
function regroup(w: Tensor, group: number): Tensor {
  const [M, Cg, KH, KW] = w.shape;
  const Mg = M / group;
  const r = KH * KW;
  const out = new Float32Array(w.size);
  for (let g = 0; g < group; g++) {
    for (let m = 0; m < Mg; m++) {
      for (let c = 0; c < Cg; c++) {
        for (let i = 0; i < r; i++) out[((g * Cg + c) * Mg + m) * r + i] = w.data[((g * Mg + m) * Cg + c) * r + i];
      }
    }
  }
  return new Tensor([Cg * group, Mg, KH, KW], out);
}

/** Explicit conv attributes as Conv's grad passes them to the gradient ops. */
const explicit = (attrs: RawAttrs, w: Shape): RawAttrs => ({ pads: [0, 0, 0, 0], ...attrs, kernel_shape: [w[2], w[3]] });

// Larger odd shapes for the direct op checks: [x, w, attrs, check the workgroup staging too].
const BIG: [Shape, Shape, RawAttrs, boolean][] = [
  [[3, 5, 13, 11], [7, 5, 3, 3], { pads: [1, 1, 1, 1] }, true],
  [[2, 6, 12, 12], [8, 3, 3, 3], { group: 2, strides: [2, 2], pads: [1, 0, 1, 1] }, true],
  [[2, 4, 11, 9], [5, 4, 3, 2], { dilations: [2, 3], strides: [1, 2], pads: [2, 0, 0, 1] }, false],
  [[2, 6, 9, 10], [6, 1, 3, 3], { group: 6, pads: [1, 1, 1, 1] }, false],
  [[1, 8, 8, 8], [12, 8, 1, 1], {}, false],
  // ConvInputGrad's stride phases: a 1x1 kernel at stride 2 leaves 3 of 4 phases without taps
  // (zeros); 4 | M/group takes the single-tap vec4 path of A, odd sizes give unequal phases.
  [[2, 8, 7, 9], [12, 8, 1, 1], { strides: [2, 2] }, false],
  [[3, 5, 9, 11], [8, 5, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }, false],
];

test('ConvInputGrad and ConvWeightGrad: WebGPU matches the CPU on larger odd shapes', { skip }, async () => {
  const r = rng(43);
  const soft = { ...gpu!.kernelContext, softwareAdapter: false };
  for (const [xs, ws, attrs, workgroup] of BIG) {
    const group = (attrs.group as number | undefined) ?? 1;
    const ys = await outShape(xs, ws, attrs);
    const x = randomTensor(xs, r);
    const gy = randomTensor(ys, r);
    const wt = regroup(randomTensor(ws, r), group);
    const what = `x${JSON.stringify(xs)} w${JSON.stringify(ws)} ${JSON.stringify(attrs)}`;
    const ia = { ...explicit(attrs, ws), input_size: [xs[2], xs[3]] };
    const gi = await runBoth(gpu, 'ConvInputGrad', [gy, wt], ia);
    const Ki = wt.shape[1] * ws[2] * ws[3];
    assertClose(gi.gpu![0], gi.cpu[0], tol(Ki), `ConvInputGrad ${what}`);
    const gw = await runBoth(gpu, 'ConvWeightGrad', [x, gy], explicit(attrs, ws));
    const Kw = ys[0] * ys[2] * ys[3];
    assertClose(gw.gpu![0], gw.cpu[0], tol(Kw), `ConvWeightGrad ${what}`);
    if (workgroup) {
      assertClose((await runGpuWith(gpu!, 'ConvInputGrad', [gy, wt], ia, soft))[0], gi.cpu[0], tol(Ki), `ConvInputGrad ${what} (workgroup staging)`);
      assertClose((await runGpuWith(gpu!, 'ConvWeightGrad', [x, gy], explicit(attrs, ws), soft))[0], gw.cpu[0], tol(Kw), `ConvWeightGrad ${what} (workgroup staging)`);
    }
  }
});

test('ConvInputGrad CPU reference equals ConvTranspose with the matching output padding', async () => {
  const r = rng(44);
  for (const [xs, ws, attrs] of BIG) {
    const group = (attrs.group as number | undefined) ?? 1;
    const ys = await outShape(xs, ws, attrs);
    const gy = randomTensor(ys, r);
    const w = randomTensor(ws, r);
    const e = explicit(attrs, ws);
    const [pt, pl, pb, pr] = e.pads as number[];
    const [sh, sw] = (attrs.strides as number[] | undefined) ?? [1, 1];
    const [dh, dw] = (attrs.dilations as number[] | undefined) ?? [1, 1];
    // The input rows the conv's last window does not reach come back as output_padding.
    const outputPadding = [(xs[2] + pt + pb - (ws[2] - 1) * dh - 1) % sh, (xs[3] + pl + pr - (ws[3] - 1) * dw - 1) % sw];
    const ct = await runBoth(null, 'ConvTranspose', [gy, w], { group, strides: [sh, sw], dilations: [dh, dw], pads: e.pads, output_padding: outputPadding });
    const gi = await runBoth(null, 'ConvInputGrad', [gy, regroup(w, group)], { ...e, input_size: [xs[2], xs[3]] });
    assertClose(gi.cpu[0], ct.cpu[0], { atol: 1e-5, rtol: 1e-5 }, `x${JSON.stringify(xs)} ${JSON.stringify(attrs)}`);
  }
});

test('gradient ops: known values', async () => {
  // x = 1..9 as a 3x3 plane, a 2x2 kernel, no padding: a 2x2 output.
  const x = new Tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const k = { kernel_shape: [2, 2] };
  // A gradient on one output picks out that output's window.
  const first = await runBoth(gpu, 'ConvWeightGrad', [x, new Tensor([1, 1, 2, 2], [1, 0, 0, 0])], k);
  assert.deepEqual([...first.cpu[0].data], [1, 2, 4, 5]);
  const last = await runBoth(gpu, 'ConvWeightGrad', [x, new Tensor([1, 1, 2, 2], [0, 0, 0, 2])], k);
  assert.deepEqual([...last.cpu[0].data], [10, 12, 16, 18]);
  // ...and scatters the kernel onto that window of the input.
  const w = new Tensor([1, 1, 2, 2], [1, 2, 3, 4]);
  const gx = await runBoth(gpu, 'ConvInputGrad', [new Tensor([1, 1, 2, 2], [1, 0, 0, 10]), w], { ...k, input_size: [3, 3] });
  assert.deepEqual([...gx.cpu[0].data], [1, 2, 0, 3, 14, 20, 0, 30, 40]);
  for (const o of [first, last, gx]) if (o.gpu) assertClose(o.gpu[0], o.cpu[0], { atol: 0, rtol: 0 }, 'known values on WebGPU');
});

test('Conv with a fused activation refuses to be differentiated, naming the node and the activation', () => {
  const r = rng(45);
  const graph = oneNodeGraph('Conv', [randomTensor([1, 2, 4, 4], r), randomTensor([2, 2, 3, 3], r)], { activation: { op: 'Relu', attrs: {} } });
  const loss = { ...graph, outputs: ['loss'], nodes: [...graph.nodes, { name: 'sum', op: 'ReduceSum', inputs: ['out0'], outputs: ['loss'], attrs: { keepdims: 0 } }] };
  assert.throws(() => buildBackward(loss, 'loss', ['in1']), /node 'conv0' \(Conv\): Conv: cannot differentiate a fused activation \(Relu\)/);
});

test('gradient ops refuse shapes that do not fit the conv', async () => {
  const r = rng(46);
  const x = randomTensor([1, 2, 5, 5], r);
  const k = { kernel_shape: [3, 3] };
  await assert.rejects(runBoth(null, 'ConvWeightGrad', [x, randomTensor([1, 3, 4, 4], r)], k), /gradient of shape \[1, 3, 4, 4\] does not match the conv's output \[1, 3, 3, 3\]/);
  await assert.rejects(runBoth(null, 'ConvWeightGrad', [x, randomTensor([1, 3, 3, 3], r)], {}), /attribute 'kernel_shape' is required/);
  await assert.rejects(runBoth(null, 'ConvInputGrad', [randomTensor([1, 3, 3, 3], r), randomTensor([2, 3, 3, 3], r)], k), /attribute 'input_size' is required/);
  await assert.rejects(
    runBoth(null, 'ConvInputGrad', [randomTensor([1, 4, 3, 3], r), randomTensor([2, 3, 3, 3], r)], { ...k, input_size: [5, 5] }),
    /wt \[2, 3, 3, 3\] with group 1 does not fit the 4 channels of gy/,
  );
  await assert.rejects(
    runBoth(null, 'ConvInputGrad', [randomTensor([1, 3, 3, 3], r), randomTensor([2, 3, 3, 3], r)], { ...k, input_size: [6, 6] }),
    /does not match the conv's output \[1, 3, 4, 4\]/,
  );
});
