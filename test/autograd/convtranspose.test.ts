// ConvTranspose's gradients (the adjoint Conv and its weight gradient, ops/convtranspose.ts)
// against finite differences of the CPU reference over strides, asymmetric pads, dilations,
// groups, output_padding and auto_pad, with and without bias; the WebGPU backward pass against
// the CPU's on some cases (each is several kernels that lavapipe compiles cold); the refusals.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBackward } from '../../src/graph/autograd.js';
import type { RawAttrs } from '../../src/ops/op.js';
import type { Shape } from '../../src/tensor.js';
import { oneNodeGraph, randomTensor, rng, testGpu } from '../helpers.js';
import { checkOp } from './check.js';

const gpu = await testGpu();

// [x, w ([C, M/group, KH, KW]), attrs, bias, also on WebGPU]
const CASES: [Shape, Shape, RawAttrs, boolean, boolean][] = [
  [[2, 3, 4, 5], [3, 2, 3, 3], {}, true, true],
  [[1, 4, 3, 4], [4, 3, 2, 2], { strides: [2, 2] }, true, true], // the detector's 2x upsampling
  [[1, 2, 4, 3], [2, 3, 3, 3], { strides: [2, 1], pads: [1, 0, 0, 1] }, false, false],
  [[1, 2, 3, 3], [2, 2, 3, 2], { strides: [2, 2], output_padding: [1, 1], pads: [1, 1, 1, 0] }, true, false],
  [[1, 2, 4, 4], [2, 1, 3, 3], { dilations: [2, 1], pads: [1, 2, 0, 1] }, false, false],
  [[2, 4, 3, 3], [4, 2, 3, 3], { group: 2, strides: [2, 2], pads: [1, 1, 1, 1] }, true, true],
  [[1, 3, 3, 4], [3, 1, 3, 3], { group: 3, strides: [2, 2], auto_pad: 'SAME_UPPER' }, false, false], // depthwise
  [[1, 3, 5, 4], [3, 2, 1, 1], {}, true, false], // pointwise
];

test('ConvTranspose: gradients of x, w and b against finite differences, every attribute', async () => {
  const r = rng(61);
  for (const [x, w, attrs, bias, onGpu] of CASES) {
    const inputs = [randomTensor(x, r), randomTensor(w, r), ...(bias ? [randomTensor([w[1] * ((attrs.group as number) ?? 1)], r)] : [])];
    await checkOp(onGpu ? gpu : null, 'ConvTranspose', inputs, attrs, { samples: 30 });
  }
});

test('ConvTranspose: gradient of w alone (x a constant) and of x alone (w a constant)', async () => {
  const r = rng(62);
  const x = randomTensor([1, 2, 3, 4], r);
  const w = randomTensor([2, 3, 3, 3], r);
  await checkOp(null, 'ConvTranspose', [x, w], { strides: [2, 2], pads: [1, 0, 1, 1] }, { wrt: [1], constant: [true, false] });
  await checkOp(null, 'ConvTranspose', [x, w], { strides: [2, 2], pads: [1, 0, 1, 1] }, { wrt: [0], constant: [false, true] });
});

test('ConvTranspose: refuses a fused activation and an output that reaches past every tap', () => {
  const r = rng(63);
  const x = randomTensor([1, 2, 3, 3], r);
  const w = randomTensor([2, 2, 3, 3], r);
  const backward = (attrs: RawAttrs) => {
    const g = oneNodeGraph('ConvTranspose', [x, w], attrs, 1, []);
    const loss = { name: 'sum', op: 'ReduceSum', inputs: [g.outputs[0]], outputs: ['loss'], attrs: { keepdims: 0 } };
    return () => buildBackward({ ...g, outputs: ['loss'], nodes: [...g.nodes, loss] }, 'loss', ['in0']);
  };
  assert.throws(backward({ activation: { op: 'Relu', attrs: {} } }), /cannot differentiate a fused activation \(Relu\)/);
  // output_shape 9 > the 7 positions that any tap reaches at stride 2 with a 3-wide kernel.
  assert.throws(backward({ strides: [2, 2], output_shape: [9, 9] }), /reaches past every kernel tap/);
});
