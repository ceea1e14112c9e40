import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

// [x shape, w shape, bias?, attrs]: strides with gaps (stride > kernel), dilations, groups and
// depthwise, output_padding, explicit pads, auto_pad, output_shape (shorter and longer than the
// kernel reaches), a fused activation, odd and prime sizes.
const cases: [number[], number[], boolean, Record<string, unknown>][] = [
  [[1, 3, 5, 7], [3, 4, 3, 3], true, { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1] }],
  [[2, 6, 5, 4], [6, 2, 3, 2], false, { group: 3, strides: [1, 2], dilations: [2, 1] }],
  [[1, 2, 4, 3], [2, 3, 2, 2], true, { strides: [3, 3] }],
  [[1, 4, 3, 5], [4, 1, 4, 4], true, { group: 4, strides: [2, 2], pads: [1, 1, 1, 1] }], // depthwise
  [[1, 3, 5, 5], [3, 2, 3, 3], true, { strides: [2, 2], auto_pad: 'SAME_UPPER' }],
  [[1, 3, 5, 5], [3, 2, 4, 3], true, { strides: [2, 3], auto_pad: 'SAME_LOWER' }],
  [[1, 3, 5, 5], [3, 2, 3, 3], false, { strides: [2, 2], auto_pad: 'VALID' }],
  [[1, 2, 3, 4], [2, 3, 3, 3], true, { strides: [3, 2], output_shape: [10, 8] }], // longer than reached
  [[1, 2, 7, 6], [2, 3, 3, 3], true, { strides: [2, 2], output_shape: [12, 9] }],
  [[2, 2, 3, 4], [2, 3, 3, 3], false, { strides: [2, 2], output_shape: [2, 3, 6, 8], output_padding: [1, 1] }],
  [[1, 5, 7, 11], [5, 3, 1, 1], true, {}],
  [[1, 3, 6, 5], [3, 5, 3, 2], true, { strides: [2, 1], dilations: [2, 3], pads: [2, 0, 1, 3], activation: { op: 'Relu', attrs: {} } }],
  [[2, 4, 5, 3], [4, 3, 5, 3], true, { group: 2, strides: [3, 2], dilations: [1, 2], output_padding: [2, 1], activation: { op: 'LeakyRelu', attrs: { alpha: 0.2 } } }],
];

test('ConvTranspose: WebGPU (gather form) matches the CPU reference (scatter form)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(21);
  for (const [xs, ws, bias, attrs] of cases) {
    const inputs = [randomTensor(xs, r), randomTensor(ws, r), ...(bias ? [randomTensor([ws[1] * ((attrs.group as number) ?? 1)], r)] : [])];
    const { cpu, gpu: g } = await runBoth(gpu, 'ConvTranspose', inputs, attrs as never);
    // Sums of at most C/group·KH·KW products in [-1, 1], f32 against the reference's f64.
    assertClose(g![0], cpu[0], { atol: 1e-5, rtol: 1e-4 }, `x ${xs} w ${ws} ${JSON.stringify(attrs)}`);
  }
});

test('ConvTranspose with stride = kernel (one tap per output, the GEMM form) matches the CPU reference on random shapes', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(22);
  const pick = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const shapes: [number[], number[], boolean, Record<string, unknown>][] = [
    [[1, 24, 12, 16], [24, 24, 2, 2], true, { strides: [2, 2], activation: { op: 'Relu', attrs: {} } }], // the DB head's upsampling
    [[1, 24, 24, 32], [24, 1, 2, 2], true, { strides: [2, 2], activation: { op: 'Sigmoid', attrs: {} } }],
    [[3, 6, 5, 7], [6, 2, 2, 3], true, { group: 2, strides: [2, 3] }],
    [[1, 5, 3, 3], [5, 1, 2, 2], false, { strides: [2, 2] }],
  ];
  for (let i = 0; i < 6; i++) {
    const [kh, kw, group] = [pick(1, 3), pick(1, 3), pick(1, 2)];
    const C = group * pick(1, 9);
    shapes.push([[pick(1, 3), C, pick(1, 9), pick(1, 13)], [C, pick(1, 7), kh, kw], r() < 0.5, { group, strides: [kh, kw] }]);
  }
  for (const [xs, ws, bias, attrs] of shapes) {
    const inputs = [randomTensor(xs, r), randomTensor(ws, r), ...(bias ? [randomTensor([ws[1] * ((attrs.group as number) ?? 1)], r)] : [])];
    const { cpu, gpu: g } = await runBoth(gpu, 'ConvTranspose', inputs, attrs as never);
    assertClose(g![0], cpu[0], { atol: 1e-5, rtol: 1e-4 }, `x ${xs} w ${ws} ${JSON.stringify(attrs)}`);
  }
});

const x3 = new Tensor([1, 1, 3, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
const ones = new Tensor([1, 2, 3, 3], new Float32Array(18).fill(1));
const run = async (inputs: Tensor[], attrs: Record<string, unknown>) => (await runBoth(null, 'ConvTranspose', inputs, attrs as never)).cpu[0];
const planes = (t: Tensor) => {
  const [, M, H, W] = t.shape;
  return Array.from({ length: M }, (_, m) => Array.from({ length: H }, (_, y) => [...t.data.slice((m * H + y) * W, (m * H + y + 1) * W)]));
};

test('CPU reference gives the ONNX documentation values', async () => {
  let y = await run([x3, ones], {});
  const plain = [
    [0, 1, 3, 3, 2],
    [3, 8, 15, 12, 7],
    [9, 21, 36, 27, 15],
    [9, 20, 33, 24, 13],
    [6, 13, 21, 15, 8],
  ];
  assert.deepEqual(planes(y), [plain, plain]);

  y = await run([x3, ones], { strides: [3, 2], pads: [1, 2, 1, 2] });
  const padded = [
    [1, 1, 3],
    [1, 1, 3],
    [7, 4, 9],
    [7, 4, 9],
    [7, 4, 9],
    [13, 7, 15],
    [13, 7, 15],
  ];
  assert.deepEqual(planes(y), [padded, padded]);

  const shaped = [
    [0, 0, 1, 1, 3, 2, 2, 0],
    [0, 0, 1, 1, 3, 2, 2, 0],
    [0, 0, 1, 1, 3, 2, 2, 0],
    [3, 3, 7, 4, 9, 5, 5, 0],
    [3, 3, 7, 4, 9, 5, 5, 0],
    [3, 3, 7, 4, 9, 5, 5, 0],
    [6, 6, 13, 7, 15, 8, 8, 0],
    [6, 6, 13, 7, 15, 8, 8, 0],
    [6, 6, 13, 7, 15, 8, 8, 0],
    [0, 0, 0, 0, 0, 0, 0, 0],
  ];
  y = await run([x3, ones], { strides: [3, 2], output_shape: [10, 8] });
  assert.deepEqual(planes(y), [shaped, shaped]);
  y = await run([x3, ones], { strides: [3, 2], output_padding: [1, 1] });
  assert.deepEqual(planes(y), [shaped, shaped]);
  y = await run([x3, ones], { strides: [3, 2], output_shape: [10, 8], output_padding: [1, 1], kernel_shape: [3, 3] });
  assert.deepEqual(planes(y), [shaped, shaped]);

  y = await run([x3, ones], { strides: [2, 2], auto_pad: 'SAME_UPPER' });
  const same = [
    [0, 0, 1, 1, 3, 2],
    [0, 0, 1, 1, 3, 2],
    [3, 3, 8, 5, 12, 7],
    [3, 3, 7, 4, 9, 5],
    [9, 9, 20, 11, 24, 13],
    [6, 6, 13, 7, 15, 8],
  ];
  assert.deepEqual(planes(y), [same, same]);

  y = await run([new Tensor([1, 1, 3, 3], [3, 8, 1, 9, 5, 7, 3, 2, 6]), new Tensor([1, 1, 2, 2], [7, 2, 1, 9])], { dilations: [2, 2] });
  assert.deepEqual(planes(y), [
    [
      [21, 56, 13, 16, 2],
      [63, 35, 67, 10, 14],
      [24, 22, 76, 76, 21],
      [9, 5, 88, 45, 63],
      [3, 2, 33, 18, 54],
    ],
  ]);
});

test('CPU reference: groups, bias and a fused activation, by hand', async () => {
  // Two groups of one channel each, 1x1 kernels: y[g] = w[g] · x[g] + b[g], then Relu.
  const x = new Tensor([1, 2, 1, 2], [1, -2, 3, 4]);
  const w = new Tensor([2, 1, 1, 1], [2, -1]);
  const b = new Tensor([2], [0.5, 1]);
  const y = await run([x, w, b], { group: 2, activation: { op: 'Relu', attrs: {} } });
  assert.deepEqual([y.shape, [...y.data]], [
    [1, 2, 1, 2],
    [2.5, 0, 0, 0],
  ]);
  // SAME_LOWER puts the odd padding first: full length 2·(2-1)+2 = 4, target 4: no padding;
  // kernel 3: full 5, target 4, total 1 → begin 1 (LOWER) or 0 (UPPER).
  const v = new Tensor([1, 1, 1, 2], [1, 10]);
  const k = new Tensor([1, 1, 1, 3], [1, 2, 3]);
  assert.deepEqual([...(await run([v, k], { strides: [1, 2], auto_pad: 'SAME_UPPER' })).data], [1, 2, 13, 20]);
  assert.deepEqual([...(await run([v, k], { strides: [1, 2], auto_pad: 'SAME_LOWER' })).data], [2, 13, 20, 30]);
});

test('bad inputs and attributes are refused with clear errors', async () => {
  const x = new Tensor([1, 4, 3, 3], new Float32Array(36));
  const w = new Tensor([4, 2, 3, 3], new Float32Array(72));
  const bad = (inputs: Tensor[], attrs: Record<string, unknown>, re: RegExp) => assert.rejects(runBoth(null, 'ConvTranspose', inputs, attrs as never), re);
  await bad([new Tensor([4, 3, 3], new Float32Array(36)), w], {}, /input X must be 4-D/);
  await bad([x, new Tensor([4, 2, 9], new Float32Array(72))], {}, /weight W must be 4-D/);
  await bad([x, new Tensor([3, 2, 3, 3], new Float32Array(54))], {}, /W has 3 input channels \(its first dim\), X has 4/);
  await bad([x, w], { group: 3 }, /group 3 does not divide the 4 input channels/);
  await bad([x, w, new Tensor([3], [0, 0, 0])], {}, /bias B must be \[2\]/);
  await bad([x, w, new Tensor([3], [0, 0, 0])], { group: 2 }, /bias B must be \[4\]/);
  await bad([x, w], { kernel_shape: [2, 2] }, /'kernel_shape' \[2,2\] differs from W's \[3, 3\]/);
  await bad([x, w], { strides: [0, 1] }, /'strides' must be >= 1/);
  await bad([x, w], { strides: [2] }, /'strides' must have 2 values/);
  await bad([x, w], { strides: [2, 2], output_padding: [2, 0] }, /'output_padding' must be >= 0 and below the stride or dilation/);
  await bad([x, w], { auto_pad: 'SAME' }, /'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID/);
  await bad([x, w], { auto_pad: 'SAME_UPPER', pads: [1, 1, 1, 1] }, /'pads' cannot be used together with auto_pad=SAME_UPPER/);
  await bad([x, w], { pads: [3, 3, 3, 3] }, /leaves no output/);
  await bad([x, w], { pads: [1, 1, 1] }, /'pads' must have 4 values/);
  await bad([x, w], { output_shape: [5, 5, 5] }, /'output_shape' must have 2 \(or 4\) values/);
});
