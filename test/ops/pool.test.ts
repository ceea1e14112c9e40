import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type Shape } from '../../src/tensor.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { convOutputSize, resolvePads, windowAttrs } from '../../src/ops/window.js';
import { CpuSession } from '../../src/graph/session.js';
import { assertClose, randInt, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();
const noGpu = !gpu && 'no WebGPU adapter';

// MaxPool picks one of its inputs, so WebGPU must match exactly. AveragePool sums at most a few
// dozen values in f32 against the CPU's f64 sum rounded once.
const EXACT = { atol: 0, rtol: 0 };
const AVG_TOL = { atol: 1e-6, rtol: 1e-5 };
const tolFor = (op: string) => (op === 'MaxPool' || op === 'GlobalMaxPool' ? EXACT : AVG_TOL);

async function cpuRun(op: string, x: Tensor, attrs: RawAttrs = {}): Promise<Tensor> {
  return (await runBoth(null, op, [x], attrs)).cpu[0];
}

/** x[0, 0, i, j] = i·W + j + 1, a plane whose values say where they came from. */
function ramp(H: number, W: number, C = 1): Tensor {
  return new Tensor([1, C, H, W], Array.from({ length: C * H * W }, (_, i) => i + 1));
}

// ---- window arithmetic ----

test('convOutputSize: floor and ceil rules, the last ceil window starting inside input or left padding', () => {
  assert.equal(convOutputSize(5, 2, 2, 1, 0, 0), 2);
  assert.equal(convOutputSize(5, 2, 2, 1, 0, 0, true), 3); // window 2 starts at 4 < 5
  assert.equal(convOutputSize(6, 2, 2, 1, 0, 0, true), 3); // exact fit: ceil changes nothing
  // in 5, pads 1+1, k 2, s 3: ceil((5+2-2)/3)+1 = 3, but window 2 would start at 6 - 1 = 5: dropped.
  assert.equal(convOutputSize(5, 2, 3, 1, 1, 1, true), 2);
  assert.equal(convOutputSize(5, 2, 3, 1, 1, 1, false), 2);
  // in 4, pad end 1, k 2, s 3: window 1 starts at 3 (inside the input) and keeps the end pad.
  assert.equal(convOutputSize(4, 2, 3, 1, 0, 1, true), 2);
  // dilation: extent (3-1)·2+1 = 5
  assert.equal(convOutputSize(7, 3, 1, 2, 0, 0), 3);
  assert.equal(convOutputSize(7, 3, 2, 2, 1, 0, true), 3);
  assert.equal(convOutputSize(3, 3, 1, 2, 0, 0), 0); // does not fit
});

test('resolvePads: SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning; VALID pads nothing', () => {
  // in 5, k 2, s 1: out 5, total pad 1
  assert.deepEqual(resolvePads([5], [2], [1], [1], [0, 0], 'SAME_UPPER'), { pads: [0, 1], output: [5] });
  assert.deepEqual(resolvePads([5], [2], [1], [1], [0, 0], 'SAME_LOWER'), { pads: [1, 0], output: [5] });
  // in 7, k 3, s 2: out 4, total (4-1)·2+3-7 = 2
  assert.deepEqual(resolvePads([7], [3], [2], [1], [0, 0], 'SAME_UPPER'), { pads: [1, 1], output: [4] });
  // dilation counts: in 5, k 2, d 2, s 1: out 5, total 4+3-5 = 2
  assert.deepEqual(resolvePads([5], [2], [1], [2], [0, 0], 'SAME_LOWER'), { pads: [1, 1], output: [5] });
  // a stride longer than the kernel needs no padding (never negative): in 5, k 1, s 3
  assert.deepEqual(resolvePads([5], [1], [3], [1], [0, 0], 'SAME_UPPER'), { pads: [0, 0], output: [2] });
  // two axes: pads come back as [begins..., ends...]
  assert.deepEqual(resolvePads([6, 5], [3, 2], [2, 1], [1, 1], [0, 0, 0, 0], 'SAME_UPPER'), { pads: [0, 0, 1, 1], output: [3, 5] });
  assert.deepEqual(resolvePads([5, 9], [3, 2], [1, 2], [1, 1], [0, 0, 0, 0], 'VALID'), { pads: [0, 0, 0, 0], output: [3, 4] });
  // ceil_mode keeps a last partial window for VALID and explicit pads, never changes SAME.
  assert.deepEqual(resolvePads([5], [2], [2], [1], [0, 0], 'VALID', true).output, [3]);
  assert.deepEqual(resolvePads([5], [2], [2], [1], [0, 0], 'SAME_UPPER', true), resolvePads([5], [2], [2], [1], [0, 0], 'SAME_UPPER'));
  assert.deepEqual(resolvePads([5], [2], [2], [1], [1, 0], 'NOTSET', true), { pads: [1, 0], output: [3] });
  assert.throws(() => resolvePads([2], [3], [1], [1], [0, 0], 'VALID'), /input size 2 with pads 0\+0 is smaller than the kernel extent 3/);
});

test('windowAttrs: defaults, a kernel given by the caller, and errors naming the attribute', () => {
  const w = windowAttrs({ kernel_shape: [3, 2] }, [7, 5]);
  assert.deepEqual([w.strides, w.dilations, w.pads, w.output, w.autoPad], [[1, 1], [1, 1], [0, 0, 0, 0], [5, 4], 'NOTSET']);
  assert.deepEqual(windowAttrs({}, [7, 5], { kernel: [3, 3] }).output, [5, 3]);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 2] }, [7, 5], { kernel: [3, 3] }), /'kernel_shape' \[3, 2\] does not match the weight's kernel \[3, 3\]/);
  assert.throws(() => windowAttrs({}, [7, 5]), /attribute 'kernel_shape' is required/);
  assert.throws(() => windowAttrs({ kernel_shape: [3] }, [7, 5]), /'kernel_shape' must have 2 values/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 0] }, [7, 5]), /'kernel_shape' must be positive/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], strides: [1, 0] }, [7, 5]), /'strides' must be positive/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], strides: [1] }, [7, 5]), /'strides' must have 2 values/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], dilations: [0, 1] }, [7, 5]), /'dilations' must be positive/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], dilations: [2, 1] }, [7, 5], { allowDilations: false }), /'dilations' is not supported/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], pads: [1, 1] }, [7, 5]), /'pads' must have 4 values/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], pads: [0, -1, 0, 0] }, [7, 5]), /'pads' must not be negative/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], auto_pad: 'SAME' }, [7, 5]), /'auto_pad' must be one of NOTSET, SAME_UPPER, SAME_LOWER, VALID, got 'SAME'/);
  assert.throws(() => windowAttrs({ kernel_shape: [3, 3], auto_pad: 'SAME_UPPER', pads: [1, 1, 1, 1] }, [7, 5]), /'pads' \[1, 1, 1, 1\] cannot be combined with auto_pad 'SAME_UPPER'/);
  // All-zero pads next to auto_pad are accepted and auto_pad decides.
  assert.deepEqual(windowAttrs({ kernel_shape: [3, 3], auto_pad: 'SAME_UPPER', pads: [0, 0, 0, 0] }, [7, 5]).pads, [1, 1, 1, 1]);
});

// ---- known values of the CPU references ----

test('MaxPool known values: strides, pads ignored by max, ceil_mode, dilations, asymmetric pads', async () => {
  // 4x4 ramp 1..16, 2x2 windows, stride 2
  assert.deepEqual([...(await cpuRun('MaxPool', ramp(4, 4), { kernel_shape: [2, 2], strides: [2, 2] })).data], [6, 8, 14, 16]);
  // All-negative input with padding: the pads must not win as zeros.
  const neg = new Tensor([1, 1, 2, 2], [-4, -3, -2, -1]);
  const y = await cpuRun('MaxPool', neg, { kernel_shape: [2, 2], pads: [1, 1, 1, 1] });
  assert.deepEqual(y.shape, [1, 1, 3, 3]);
  assert.deepEqual([...y.data], [-4, -3, -3, -2, -1, -1, -2, -1, -1]);
  // ceil_mode on 1x5 [1..5], k 2, s 2: [2, 4, 5]; floor gives [2, 4].
  assert.deepEqual([...(await cpuRun('MaxPool', ramp(1, 5), { kernel_shape: [1, 2], strides: [1, 2], ceil_mode: 1 })).data], [2, 4, 5]);
  assert.deepEqual([...(await cpuRun('MaxPool', ramp(1, 5), { kernel_shape: [1, 2], strides: [1, 2] })).data], [2, 4]);
  // ceil_mode whose extra window would start in the end padding: 1x5, k 2, s 3, pads 1+1 -> 2 windows.
  assert.deepEqual([...(await cpuRun('MaxPool', ramp(1, 5), { kernel_shape: [1, 2], strides: [1, 3], pads: [0, 1, 0, 1], ceil_mode: 1 })).data], [1, 4]);
  // dilation 2 on 1x7 [1..7], k 3: taps {0,2,4}, {1,3,5}, {2,4,6}
  assert.deepEqual([...(await cpuRun('MaxPool', new Tensor([1, 1, 1, 7], [5, 1, 1, 9, 2, 1, 0]), { kernel_shape: [1, 3], dilations: [1, 2] })).data], [5, 9, 2]);
  // asymmetric pads [top 1, left 0, bottom 0, right 1] on the 2x2 [1 2; 3 4], k 2: output 2x2.
  const a = await cpuRun('MaxPool', ramp(2, 2), { kernel_shape: [2, 2], pads: [1, 0, 0, 1] });
  assert.deepEqual([a.shape, [...a.data]], [[1, 1, 2, 2], [2, 2, 4, 4]]);
  // SAME_LOWER vs SAME_UPPER on 1x4 [1 5 2 0], k 2: the odd pad is before or after.
  const t = new Tensor([1, 1, 1, 4], [1, 5, 2, 0]);
  assert.deepEqual([...(await cpuRun('MaxPool', t, { kernel_shape: [1, 2], auto_pad: 'SAME_LOWER' })).data], [1, 5, 5, 2]);
  assert.deepEqual([...(await cpuRun('MaxPool', t, { kernel_shape: [1, 2], auto_pad: 'SAME_UPPER' })).data], [5, 5, 2, 0]);
});

test('AveragePool known values: count_include_pad with pads, ceil_mode windows past the end padding', async () => {
  // 3x3 ramp, k 2, pads 1 all round, stride 2 -> 2x2 windows {1}, {2,3}, {4,7}, {5,6,8,9}
  const x = ramp(3, 3);
  const attrs = { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 1, 1] };
  assert.deepEqual([...(await cpuRun('AveragePool', x, attrs)).data], [1, 2.5, 5.5, 7]);
  assert.deepEqual([...(await cpuRun('AveragePool', x, { ...attrs, count_include_pad: 1 })).data], [1 / 4, 5 / 4, 11 / 4, 28 / 4]);
  // ceil_mode, 1x5 [1..5], k 2, s 2: the last window [5, past the end] counts 1 element even
  // with count_include_pad, since it reaches past the (empty) end padding, not into it.
  assert.deepEqual([...(await cpuRun('AveragePool', ramp(1, 5), { kernel_shape: [1, 2], strides: [1, 2], ceil_mode: 1, count_include_pad: 1 })).data], [1.5, 3.5, 5]);
  // ... and with end pad 1, k 3, s 2: windows [p,1,2], [2,3,4], [4,5,p] -> divisor 3 with include.
  const c = { kernel_shape: [1, 3], strides: [1, 2], pads: [0, 1, 0, 1], ceil_mode: 1 };
  assert.deepEqual([...(await cpuRun('AveragePool', ramp(1, 5), { ...c, count_include_pad: 1 })).data], [1, 3, 3]);
  assert.deepEqual([...(await cpuRun('AveragePool', ramp(1, 5), c)).data], [1.5, 3, 4.5]);
  // asymmetric pads with count_include_pad: 4x1 ones, k 3x1, pads top 2, bottom 0: 1/3, 2/3, 1, 1.
  const ones = new Tensor([1, 1, 4, 1], [1, 1, 1, 1]);
  assertClose(await cpuRun('AveragePool', ones, { kernel_shape: [3, 1], pads: [2, 0, 0, 0], count_include_pad: 1 }), new Tensor([1, 1, 4, 1], [1 / 3, 2 / 3, 1, 1]));
  // ... and bottom 2 instead: 1, 1, 2/3, 1/3.
  assertClose(await cpuRun('AveragePool', ones, { kernel_shape: [3, 1], pads: [0, 0, 2, 0], count_include_pad: 1 }), new Tensor([1, 1, 4, 1], [1, 1, 2 / 3, 1 / 3]));
  // dilations (AveragePool-19): 1x5 [1..5], k 2, d 2, pads 1+1, include: taps {-1,1}, {0,2}, ..., {3,5}
  assert.deepEqual([...(await cpuRun('AveragePool', ramp(1, 5), { kernel_shape: [1, 2], dilations: [1, 2], pads: [0, 1, 0, 1], count_include_pad: 1 })).data], [1, 2, 3, 4, 2]);
  // SAME_LOWER with count_include_pad: the leading pad counts.
  assert.deepEqual([...(await cpuRun('AveragePool', ramp(1, 5), { kernel_shape: [1, 2], auto_pad: 'SAME_LOWER', count_include_pad: 1 })).data], [0.5, 1.5, 2.5, 3.5, 4.5]);
});

test('Global pools known values, any number of spatial axes', async () => {
  const x = new Tensor([2, 2, 1, 3], [1, 2, 3, -1, -5, 0, 7, 7, 7, -2, -2, 8]);
  const avg = await cpuRun('GlobalAveragePool', x);
  assert.deepEqual([avg.shape, [...avg.data]], [[2, 2, 1, 1], [2, -2, 7, 4 / 3].map(Math.fround)]);
  assert.deepEqual([...(await cpuRun('GlobalMaxPool', x)).data], [3, 0, 7, 8]);
  const x5 = new Tensor([1, 1, 2, 1, 2], [1, 2, 3, 4]);
  assert.deepEqual((await cpuRun('GlobalAveragePool', x5)).shape, [1, 1, 1, 1, 1]);
  assert.deepEqual([...(await cpuRun('GlobalAveragePool', x5)).data], [2.5]);
  assert.deepEqual([...(await cpuRun('GlobalMaxPool', new Tensor([1, 2, 3], [1, -3, 2, -Infinity, -Infinity, -Infinity]))).data], [2, -Infinity]);
});

// ---- WebGPU against the CPU reference ----

/** Configurations chosen so that every attribute and the combinations that interact appear. */
const CASES: [string, Shape, RawAttrs][] = [
  ['MaxPool', [2, 3, 7, 5], { kernel_shape: [3, 3] }],
  ['MaxPool', [1, 3, 13, 11], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }],
  ['MaxPool', [2, 2, 7, 7], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }],
  ['MaxPool', [1, 5, 11, 13], { kernel_shape: [3, 2], strides: [2, 3], pads: [0, 1, 2, 0], ceil_mode: 1 }],
  ['MaxPool', [1, 3, 11, 7], { kernel_shape: [3, 2], dilations: [2, 3], pads: [2, 1, 1, 2] }],
  ['MaxPool', [1, 2, 13, 13], { kernel_shape: [3, 3], strides: [2, 2], dilations: [2, 2], ceil_mode: 1, pads: [1, 1, 0, 0] }],
  ['MaxPool', [1, 3, 7, 11], { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }],
  ['MaxPool', [1, 3, 7, 11], { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_LOWER', dilations: [2, 1] }],
  ['MaxPool', [1, 3, 7, 11], { kernel_shape: [2, 2], strides: [2, 2], auto_pad: 'VALID', ceil_mode: 1 }],
  ['MaxPool', [3, 1, 1, 17], { kernel_shape: [1, 5], strides: [1, 3] }],
  ['AveragePool', [2, 3, 7, 5], { kernel_shape: [3, 3] }],
  ['AveragePool', [1, 3, 13, 11], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }],
  ['AveragePool', [1, 3, 13, 11], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }],
  ['AveragePool', [1, 5, 11, 13], { kernel_shape: [3, 2], strides: [2, 3], pads: [0, 1, 2, 0], ceil_mode: 1 }],
  ['AveragePool', [1, 5, 11, 13], { kernel_shape: [3, 2], strides: [2, 3], pads: [0, 1, 2, 0], ceil_mode: 1, count_include_pad: 1 }],
  ['AveragePool', [2, 2, 7, 7], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, count_include_pad: 1 }],
  ['AveragePool', [1, 3, 11, 7], { kernel_shape: [3, 2], dilations: [2, 3], pads: [2, 1, 1, 2], count_include_pad: 1 }],
  ['AveragePool', [1, 3, 7, 11], { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_UPPER', count_include_pad: 1 }],
  ['AveragePool', [1, 3, 7, 11], { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_LOWER' }],
  ['AveragePool', [1, 3, 7, 11], { kernel_shape: [2, 2], strides: [3, 2], auto_pad: 'VALID', ceil_mode: 1 }],
];

for (const [op, shape, attrs] of CASES) {
  test(`${op} ${JSON.stringify(shape)} ${JSON.stringify(attrs)}: WebGPU matches the CPU reference`, { skip: noGpu }, async () => {
    const x = randomTensor(shape, rng(shape.reduce((a, b) => a * 31 + b, 7)), -4, 4);
    const { cpu, gpu: g } = await runBoth(gpu, op, [x], attrs);
    assertClose(g![0], cpu[0], tolFor(op), `${op} ${JSON.stringify(attrs)}`);
  });
}

/** Random attributes for a random shape, retried until the op accepts them. */
function randomCase(r: () => number): [string, Shape, RawAttrs] {
  const dims = [1, 2, 3, 5, 7, 11, 13];
  for (;;) {
    const op = r() < 0.5 ? 'MaxPool' : 'AveragePool';
    const shape = [randInt(r, 1, 2), randInt(r, 1, 3), dims[randInt(r, 0, 6)], dims[randInt(r, 0, 6)]];
    const kernel = [randInt(r, 1, 4), randInt(r, 1, 4)];
    const attrs: Record<string, RawAttrs[string]> = { kernel_shape: kernel, strides: [randInt(r, 1, 3), randInt(r, 1, 3)] };
    if (r() < 0.4) attrs.dilations = [randInt(r, 1, 3), randInt(r, 1, 3)];
    const autoPad = ['NOTSET', 'NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'][randInt(r, 0, 4)];
    if (autoPad === 'NOTSET') attrs.pads = [0, 1, 0, 1].map((i) => randInt(r, 0, kernel[i] - 1));
    else attrs.auto_pad = autoPad;
    if (r() < 0.5) attrs.ceil_mode = 1;
    if (op === 'AveragePool' && r() < 0.5) attrs.count_include_pad = 1;
    try {
      new CpuSession({ inputs: [{ name: 'x', shape }], outputs: ['y'], nodes: [{ name: 'p', op, inputs: ['x'], outputs: ['y'], attrs }], initializers: new Map() });
      return [op, shape, attrs];
    } catch {
      // too small for the kernel, or a window of padding only: draw again
    }
  }
}

test('MaxPool and AveragePool: WebGPU matches the CPU reference on random shapes and attributes', { skip: noGpu }, async () => {
  const r = rng(4242);
  for (let t = 0; t < 30; t++) {
    const [op, shape, attrs] = randomCase(r);
    const x = randomTensor(shape, r, -4, 4);
    const { cpu, gpu: g } = await runBoth(gpu, op, [x], attrs);
    assertClose(g![0], cpu[0], tolFor(op), `${op} ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

// Rows up to 256 long take the one-invocation-per-row kernel, longer ones ([1, 2, 67, 3] and
// [2, 3, 17, 19]) the workgroup tree.
test('Global pools: WebGPU matches the CPU reference, rows longer than the workgroup and rank 3 and 5', { skip: noGpu }, async () => {
  const r = rng(77);
  for (const shape of [[1, 1, 1, 1], [2, 3, 5, 7], [1, 7, 13, 11], [3, 5, 1, 1], [2, 3, 29], [1, 2, 3, 5, 7], [1, 2, 67, 3], [2, 3, 17, 19]]) {
    const x = randomTensor(shape, r, -4, 4);
    for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
      const { cpu, gpu: g } = await runBoth(gpu, op, [x], {});
      assertClose(g![0], cpu[0], tolFor(op), `${op} ${JSON.stringify(shape)}`);
    }
  }
});

test('Global pools: many short rows (65537), and -inf kept by GlobalMaxPool', { skip: noGpu }, async () => {
  const rows = 65537; // short rows: one invocation per row, 1025 workgroups
  const x = randomTensor([1, rows, 1, 2], rng(5), -4, 4);
  x.data[2 * (rows - 1)] = -Infinity;
  x.data[2 * (rows - 1) + 1] = -Infinity;
  for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
    const { cpu, gpu: g } = await runBoth(gpu, op, [x], {});
    assertClose(g![0], cpu[0], tolFor(op), op);
  }
  const { gpu: g } = await runBoth(gpu, 'GlobalMaxPool', [x], {});
  assert.equal(g![0].data[rows - 1], -Infinity);
});

// ---- bad input ----

test('bad input is refused with errors that name the problem', async () => {
  const x4 = randomTensor([1, 2, 5, 5], rng(1));
  const bad = (op: string, x: Tensor, attrs: RawAttrs, re: RegExp) => assert.rejects(runBoth(null, op, [x], attrs), re, `${op} ${JSON.stringify(attrs)}`);
  await bad('MaxPool', randomTensor([1, 2, 5], rng(1)), { kernel_shape: [2] }, /input X must be NCHW \(rank 4, two spatial axes\); got rank 3/);
  await bad('AveragePool', randomTensor([1, 2, 3, 5, 5], rng(1)), { kernel_shape: [2, 2, 2] }, /got rank 5: only 2-D pooling is supported/);
  await bad('MaxPool', x4, {}, /attribute 'kernel_shape' is required/);
  await bad('MaxPool', x4, { kernel_shape: [2, 2, 2] }, /'kernel_shape' must have 2 values/);
  await bad('MaxPool', x4, { kernel_shape: [2, 2], strides: [0, 1] }, /'strides' must be positive/);
  await bad('MaxPool', x4, { kernel_shape: [2, 2], pads: [0, 0, -1, 0] }, /'pads' must not be negative/);
  await bad('MaxPool', x4, { kernel_shape: [2, 2], auto_pad: 'SAME_UPPER', pads: [1, 0, 0, 0] }, /cannot be combined with auto_pad/);
  await bad('MaxPool', x4, { kernel_shape: [2, 2], auto_pad: 'same' }, /'auto_pad' must be one of/);
  await bad('MaxPool', x4, { kernel_shape: [2, 2], ceil_mode: 2 }, /'ceil_mode' must be 0 or 1, got 2/);
  await bad('MaxPool', x4, { kernel_shape: [2, 2], storage_order: 3 }, /'storage_order' must be 0 or 1/);
  await bad('AveragePool', x4, { kernel_shape: [2, 2], count_include_pad: 5 }, /'count_include_pad' must be 0 or 1/);
  await bad('AveragePool', x4, { kernel_shape: [2, 'a'] as never }, /'kernel_shape' must be a list of integers/);
  await bad('MaxPool', x4, { kernel_shape: [6, 2] }, /input size 5 with pads 0\+0 is smaller than the kernel extent 6/);
  await bad('MaxPool', x4, { kernel_shape: [3, 2], dilations: [3, 1] }, /smaller than the kernel extent 7 \(kernel 3, dilation 3\)/);
  // A pad as wide as the kernel makes window 0 all padding.
  await bad('MaxPool', x4, { kernel_shape: [2, 2], pads: [0, 2, 0, 0] }, /window 0 on spatial axis 1 covers no input element/);
  // Dilation stepping over a 1-wide input: taps at -2 and 1.
  await bad('AveragePool', randomTensor([1, 1, 1, 1], rng(1)), { kernel_shape: [1, 2], dilations: [1, 3], pads: [0, 2, 0, 1] }, /window 0 on spatial axis 1 covers no input element/);
  await bad('GlobalAveragePool', randomTensor([2, 3], rng(1)), {}, /rank >= 3\), got rank 2/);
  await bad('GlobalMaxPool', new Tensor([1, 2, 0, 3]), {}, /empty spatial axis/);
  // MaxPool's optional Indices output is not produced.
  const graph = {
    inputs: [{ name: 'x', shape: x4.shape }],
    outputs: ['y', 'i'],
    nodes: [{ name: 'mp', op: 'MaxPool', inputs: ['x'], outputs: ['y', 'i'], attrs: { kernel_shape: [2, 2] } }],
    initializers: new Map(),
  };
  assert.throws(() => new CpuSession(graph), /node 'mp' \(MaxPool.*produces 1 outputs, the node names 2/);
});
