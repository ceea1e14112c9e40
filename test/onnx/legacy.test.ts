// Forms of ONNX ops older than opset 9 (down to version 1), converted by the importer's handlers:
// each old-form model runs through deftnn (cpu and webgpu) and is compared with onnxruntime
// running the same computation written in a current form (onnxruntime itself refuses opsets < 7).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../../src/model.js';
import { assertClose, testGpu } from '../helpers.js';
import { asFloat, asFloats, buildModel, f32, i64, oneNodeModel, type AttrSpec, type TensorSpec } from './build.js';
import { randomData, randomFeeds, runOrt } from './oracle.js';

const gpu = await testGpu();

async function same(what: string, old: Uint8Array, modern: Uint8Array, inputs: Record<string, number[]>): Promise<void> {
  const feeds = randomFeeds(inputs, 17);
  const expected = await runOrt(modern, feeds);
  for (const backend of gpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const)) {
    const m = await load(old, { backend, gpu: gpu ?? undefined });
    try {
      const got = await m.run(feeds);
      for (const [k, e] of Object.entries(expected)) assertClose(got[k], e, { atol: 1e-5, rtol: 1e-4 }, `${what} [${backend}] ${k}`);
    } finally {
      m.dispose();
    }
  }
}

const w = (dims: number[], seed: number, lo = -1, hi = 1): TensorSpec => f32(dims, randomData(dims.reduce((a, b) => a * b, 1), seed, lo, hi));
const one = (op: string, opset: number, inputs: Record<string, number[]>, attrs: Record<string, AttrSpec>, consts: Record<string, TensorSpec> = {}) =>
  oneNodeModel(op, inputs, attrs, { opset, consts });

test('binary ops before version 7: broadcast=1 with axis aligns B from that axis; without axis as numpy', async () => {
  const x = { x: [2, 3, 4, 5] };
  const b = w([3], 1);
  await same('Add-6 axis 1', one('Add', 6, x, { broadcast: 1, axis: 1 }, { b }), one('Add', 13, x, {}, { b: { ...b, dims: [3, 1, 1] } }), x);
  const b2 = w([4, 1], 2);
  await same('Div-1 axis 2', one('Div', 1, x, { broadcast: 1, axis: 2, consumed_inputs: [0, 0] }, { b: b2 }), one('Div', 13, x, {}, { b: b2 }), x);
  const b3 = w([5], 3);
  await same('Mul-6 trailing', one('Mul', 6, x, { broadcast: 1 }, { b: b3 }), one('Mul', 13, x, {}, { b: b3 }), x);
  const xy = { x: [2, 3], y: [2, 3] };
  await same('Sub-6 same shapes', one('Sub', 6, xy, {}), one('Sub', 13, xy, {}), xy);
  await assert.rejects(load(one('Sub', 6, { x: [2, 3], y: [3] }, {}), { backend: 'cpu' }), /\(Sub, version 6\): A \[2, 3\] and B \[3\] differ and broadcast is not set/);
  await assert.rejects(load(one('Add', 6, { x: [2, 3, 4], y: [3] }, { broadcast: 1, axis: 1 }), { backend: 'cpu' }), /\(Add, version 6\): B broadcast from axis 1 .* must be known at load time/);
});

test('version-1 attributes: consumed_inputs, is_test, Reshape shape, Concat default axis, Cast type names, Pad paddings, Upsample scales', async () => {
  const x = { x: [2, 3, 4, 5] };
  await same('Relu-1', one('Relu', 1, x, { consumed_inputs: [0] }), one('Relu', 13, x, {}), x);
  const bn = { s: w([3], 4, 0.5, 1.5), bias: w([3], 5), mean: w([3], 6), var: w([3], 7, 0.5, 2) };
  await same('BatchNormalization-1', one('BatchNormalization', 1, x, { is_test: 1, spatial: 1, consumed_inputs: [0, 0, 0, 1, 1], epsilon: asFloat(1e-3) }, bn), one('BatchNormalization', 9, x, { epsilon: asFloat(1e-3) }, bn), x);
  await same('BatchNormalization-7', one('BatchNormalization', 7, x, { spatial: 1 }, bn), one('BatchNormalization', 9, x, {}, bn), x);
  await assert.rejects(
    load(one('BatchNormalization', 7, x, { spatial: 0 }, { s: w([3, 4, 5], 8), bias: w([3, 4, 5], 9), mean: w([3, 4, 5], 10), var: w([3, 4, 5], 11, 0.5, 1) }), { backend: 'cpu' }),
    /\(BatchNormalization, version 7\): spatial=0 with per-position statistics/,
  );
  await same('Reshape-1', one('Reshape', 1, x, { shape: [6, -1] }), one('Reshape', 13, x, {}, { shape: i64([6, -1]) }), x);
  const xy = { x: [2, 3], y: [2, 4] };
  await same('Concat-1', one('Concat', 1, xy, {}), one('Concat', 13, xy, { axis: 1 }), xy);
  await same('Cast-1', one('Cast', 1, x, { to: 'FLOAT' }), one('Cast', 13, x, { to: 1 }), x);
  await same('Pad-1', one('Pad', 1, x, { paddings: [0, 0, 1, 2, 0, 1, 2, 0], value: asFloat(0.5) }), one('Pad', 2, x, { pads: [0, 0, 1, 2, 0, 1, 2, 0], value: asFloat(0.5) }), x);
  const u = { x: [1, 2, 3, 4] };
  await same('Upsample-1', one('Upsample', 1, u, { height_scale: asFloat(2), width_scale: asFloat(3), mode: 'NEAREST' }), one('Upsample', 7, u, { scales: asFloats([1, 1, 2, 3]) }), u);
  await same('Softmax-1 axis 1', one('Softmax', 1, { x: [2, 3, 4] }, { axis: 1 }), one('Softmax', 11, { x: [2, 3, 4] }, { axis: 1 }), { x: [2, 3, 4] });
  const g = { x: [4, 6] };
  const gw = { w: w([6, 5], 12), c: w([5], 13) };
  await same('Gemm-6 broadcast', one('Gemm', 6, g, { broadcast: 1 }, gw), one('Gemm', 13, g, {}, gw), g);
});

test('an opset-8 model of the classic zoo shape (Conv, BatchNormalization-7, Relu, MaxPool-8, Gemm-7, Softmax) agrees with onnxruntime', async () => {
  const spec = (opset: number) =>
    buildModel({
      opset,
      inputs: [{ name: 'x', dims: [1, 3, 8, 8] }],
      outputs: ['y'],
      nodes: [
        { op: 'Conv', inputs: ['x', 'cw', 'cb'], outputs: ['c'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
        { op: 'BatchNormalization', inputs: ['c', 's', 'bias', 'mean', 'var'], outputs: ['n'], attrs: opset < 9 ? { spatial: 1 } : {} },
        { op: 'Relu', inputs: ['n'], outputs: ['r'] },
        { op: 'MaxPool', inputs: ['r'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
        { op: 'Flatten', inputs: ['p'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', 'fw', 'fb'], outputs: ['g'], attrs: { transB: 1 } },
        { op: 'Softmax', inputs: ['g'], outputs: ['y'] },
      ],
      initializers: { cw: w([4, 3, 3, 3], 20), cb: w([4], 21), s: w([4], 22, 0.5, 1.5), bias: w([4], 23), mean: w([4], 24), var: w([4], 25, 0.5, 2), fw: w([10, 64], 26), fb: w([10], 27) },
    });
  await same('zoo-style opset 8', spec(8), spec(8), { x: [1, 3, 8, 8] });
  await same('zoo-style opset 7', spec(7), spec(13), { x: [1, 3, 8, 8] });
});
