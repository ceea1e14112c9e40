// Every op and attribute deftnn supports, imported from a small ONNX model built here and checked
// against onnxruntime on the CPU reference and on WebGPU. Opset-dependent forms (inputs that
// became attributes, changed defaults) are covered at the opsets where they differ.
//
// Tolerance: |deftnn - onnxruntime| <= 1e-5 + 1e-4·|onnxruntime| unless a case says otherwise
// (inputs in [-1, 1), so outputs are O(1); the differences come from summation order only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OPS } from '../../src/ops/registry.js';
import { isOnnxOp } from '../../src/onnx/import.js';
import { testGpu } from '../helpers.js';
import { asFloat, asFloats, f32, i64, oneNodeModel, tensor, type AttrSpec, type TensorSpec } from './build.js';
import { checkAgainstOrt, randomData, randomFeeds } from './oracle.js';

const gpu = await testGpu();

interface OpCase {
  readonly op: string;
  readonly name: string;
  readonly model: Uint8Array;
  readonly inputs: Readonly<Record<string, readonly number[]>>;
  readonly range?: readonly [number, number];
  readonly atol?: number;
  readonly rtol?: number;
}

const cases: OpCase[] = [];
let seed = 1;

/** Random float32 weights as an initializer. */
function w(dims: readonly number[], lo = -1, hi = 1): TensorSpec {
  return f32(dims, randomData(dims.reduce((a, b) => a * b, 1), seed++ * 7919, lo, hi));
}

interface CaseOpts {
  opset?: number;
  consts?: Record<string, TensorSpec>;
  outputs?: number;
  inputOrder?: string[];
  range?: [number, number];
  atol?: number;
  rtol?: number;
}

function add(op: string, label: string, inputs: Record<string, number[]>, attrs: Record<string, AttrSpec> = {}, o: CaseOpts = {}): void {
  const opset = o.opset ?? 13;
  cases.push({
    op,
    name: `${op} opset ${opset}: ${label}`,
    model: oneNodeModel(op, inputs, attrs, { opset, consts: o.consts, outputs: o.outputs, inputOrder: o.inputOrder }),
    inputs,
    range: o.range,
    atol: o.atol,
    rtol: o.rtol,
  });
}

// ---- Conv ----
add('Conv', '3x3, no bias', { x: [1, 3, 7, 9] }, {}, { consts: { w: w([4, 3, 3, 3]) } });
// 1-D forms ([N, C, L]) run on the 2-D kernels over a unit axis (onnx/other-ranks.ts).
add('Conv', '1-D: bias, pads, stride, dilation', { x: [2, 3, 17] }, { pads: [1, 2], strides: [2], dilations: [2] }, { consts: { w: w([4, 3, 3]), b: w([4]) } });
add('Conv', '1-D: depthwise, SAME_UPPER', { x: [1, 4, 10] }, { group: 4, auto_pad: 'SAME_UPPER' }, { consts: { w: w([4, 1, 5]) } });
add('Conv', '1-D: runtime weight', { x: [1, 2, 9], w: [3, 2, 3] }, {});
add('ConvTranspose', '1-D: stride 2, output_padding', { x: [1, 2, 5] }, { strides: [2], output_padding: [1] }, { consts: { w: w([2, 3, 3]), b: w([3]) } });
add('MaxPool', '1-D: kernel 3, stride 2, pads', { x: [2, 3, 11] }, { kernel_shape: [3], strides: [2], pads: [1, 1] });
add('AveragePool', '1-D: kernel 4, count_include_pad', { x: [1, 3, 13] }, { kernel_shape: [4], pads: [2, 1], count_include_pad: 1 });
add('AveragePool', '1-D: ceil_mode', { x: [1, 2, 10] }, { kernel_shape: [3], strides: [2], ceil_mode: 1 });
// 3-D Conv: 2-D convolutions per depth tap over strided depth slices, summed (onnx/other-ranks.ts).
add('Conv', '3-D: strides, pads, dilations, bias, odd sizes', { x: [2, 3, 7, 6, 5] }, { strides: [2, 1, 2], pads: [1, 0, 1, 2, 1, 0], dilations: [2, 1, 1] }, { consts: { w: w([4, 3, 3, 2, 3]), b: w([4]) } });
add('Conv', '3-D: group 2, SAME_UPPER, runtime weight', { x: [1, 4, 5, 5, 4], w: [6, 2, 2, 3, 3] }, { group: 2, strides: [2, 2, 1], auto_pad: 'SAME_UPPER' });
add('Conv', '3-D: depthwise, SAME_LOWER, kernel 1 in depth', { x: [1, 3, 4, 5, 5] }, { group: 3, auto_pad: 'SAME_LOWER', strides: [1, 2, 2] }, { consts: { w: w([3, 1, 1, 3, 2]) } });
// 3-D ConvTranspose: 2-D ConvTransposes per depth tap, spread, shifted and summed (onnx/other-ranks.ts).
add('ConvTranspose', '3-D: strides, pads, dilations, output_padding, bias', { x: [2, 3, 3, 4, 5] }, { strides: [2, 1, 2], pads: [1, 0, 1, 0, 1, 1], dilations: [2, 1, 1], output_padding: [1, 0, 1] }, { consts: { w: w([3, 2, 3, 2, 3]), b: w([2]) } });
add('ConvTranspose', '3-D: group 2, stride 3 in depth, runtime weight', { x: [1, 4, 2, 3, 3], w: [4, 1, 2, 3, 1] }, { group: 2, strides: [3, 1, 1], pads: [0, 1, 0, 1, 1, 0] });
// 3-D pools ([N, C, D, H, W]) run as a 2-D pool over (H, W) and one over D (onnx/other-ranks.ts).
add('MaxPool', '3-D: pads, strides, odd sizes', { x: [2, 3, 5, 7, 6] }, { kernel_shape: [3, 2, 3], strides: [2, 1, 2], pads: [1, 0, 1, 1, 1, 0] });
add('MaxPool', '3-D: dilations, ceil_mode', { x: [1, 2, 7, 5, 9] }, { kernel_shape: [2, 3, 2], strides: [2, 2, 3], dilations: [2, 1, 1], ceil_mode: 1 });
add('MaxPool', '3-D: auto_pad SAME_UPPER', { x: [1, 2, 5, 6, 7] }, { kernel_shape: [3, 2, 3], strides: [2, 2, 2], auto_pad: 'SAME_UPPER' });
add('AveragePool', '3-D: pads, count_include_pad 0', { x: [1, 3, 5, 7, 6] }, { kernel_shape: [3, 3, 2], strides: [2, 2, 1], pads: [1, 1, 0, 1, 0, 1] });
add('AveragePool', '3-D: count_include_pad 1', { x: [2, 2, 6, 5, 7] }, { kernel_shape: [2, 3, 3], strides: [2, 2, 2], pads: [1, 1, 1, 0, 1, 1], count_include_pad: 1 });
add('AveragePool', '3-D: ceil_mode', { x: [1, 2, 6, 5, 7] }, { kernel_shape: [2, 3, 3], strides: [2, 2, 2], ceil_mode: 1 });
// Imported as chains of other ops (onnx/rearrange.ts).
add('DepthToSpace', 'DCR, blocksize 2', { x: [2, 8, 3, 5] }, { blocksize: 2 });
add('DepthToSpace', 'CRD, blocksize 3', { x: [1, 18, 2, 3] }, { blocksize: 3, mode: 'CRD' });
add('SpaceToDepth', 'blocksize 2', { x: [2, 3, 4, 6] }, { blocksize: 2 });
add('Where', 'constant condition, broadcast x and y', { x: [3, 1, 5], y: [4, 1] }, {}, { opset: 16, consts: { c: tensor('bool', [4, 5], Array.from({ length: 20 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0)) }, inputOrder: ['c', 'x', 'y'] });
add('Where', 'constant condition and x, opset 9', { y: [2, 3] }, {}, { opset: 9, consts: { c: tensor('bool', [3], [1, 0, 1]), x: f32([1], [0.5]) }, inputOrder: ['c', 'x', 'y'] });
// Picks at constant positions (onnx/picks.ts): one Gather from the float inputs.
add('GatherElements', 'axis 1, negative indices', { x: [3, 4, 2] }, { axis: 1 }, { consts: { i: i64([0, -1, 2, 3, 1, 1, -4, 0, 2, 2, 3, -2], [3, 2, 2]) } });
add('GatherND', 'batch_dims 1', { x: [2, 3, 4] }, { batch_dims: 1 }, { consts: { i: i64([2, 0, 1, -1], [2, 2, 1]) } });
add('GatherND', 'pairs into a matrix, slices', { x: [3, 4, 5] }, {}, { consts: { i: i64([0, 1, 2, 3, 1, 0], [3, 2]) } });
add('ScatterElements', 'axis 1, later updates win', { x: [3, 5], u: [3, 2] }, { axis: 1 }, { consts: { i: i64([1, 3, 0, -1, 4, 2], [3, 2]) }, inputOrder: ['x', 'i', 'u'] });
add('Scatter', 'opset 9', { x: [4, 3], u: [2, 3] }, {}, { opset: 9, consts: { i: i64([1, 0, 2, 3, 2, 1], [2, 3]) }, inputOrder: ['x', 'i', 'u'] });
add('ScatterND', 'slices', { x: [4, 3, 2], u: [2, 3, 2] }, {}, { consts: { i: i64([2, 0], [2, 1]) }, inputOrder: ['x', 'i', 'u'] });
for (const reduction of ['add', 'mul', 'max', 'min']) {
  const opset = reduction === 'add' || reduction === 'mul' ? 16 : 18;
  add('ScatterElements', `reduction ${reduction}, repeated indices`, { x: [3, 4], u: [3, 3] }, { axis: 1, reduction }, { opset, consts: { i: i64([1, 1, 3, 0, 0, 0, 2, -1, 2], [3, 3]) }, inputOrder: ['x', 'i', 'u'] });
  add('ScatterND', `reduction ${reduction}, repeated slices`, { x: [4, 3], u: [3, 3] }, { reduction }, { opset, consts: { i: i64([2, 0, 2], [3, 1]) }, inputOrder: ['x', 'i', 'u'] });
}
add('Compress', 'axis 1', { x: [3, 5] }, { axis: 1 }, { consts: { c: tensor('bool', [4], [1, 0, 1, 1]) } });
add('Compress', 'flattened', { x: [2, 3] }, {}, { consts: { c: tensor('bool', [5], [0, 1, 1, 0, 1]) } });
add('OneHot', 'axis 1, negative and out-of-range indices, values at run time', { v: [2] }, { axis: 1 }, { consts: { i: i64([1, -2, 7, 0], [2, 2]), d: f32([], [5]) }, inputOrder: ['i', 'd', 'v'] });
add('ReverseSequence', 'time axis 0', { x: [4, 3, 2] }, { batch_axis: 1, time_axis: 0 }, { consts: { l: i64([4, 1, 3]) } });
add('ReverseSequence', 'batch axis 0', { x: [2, 5, 3] }, { batch_axis: 0, time_axis: 1 }, { consts: { l: i64([2, 5]) } });
add('MaxUnpool', 'unpooled shape', { x: [1, 2, 2, 3] }, { kernel_shape: [2, 2], strides: [2, 2] }, { consts: { i: i64([0, 3, 4, 13, 15, 22, 24, 26, 33, 37, 42, 47], [1, 2, 2, 3]) } });
add('MaxUnpool', 'output_shape equal to the unpooled shape, pads', { x: [1, 1, 2, 2] }, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 0, 0, 1] }, { consts: { i: i64([5, 7, 11, 13], [1, 1, 2, 2]), s: i64([1, 1, 4, 4]) } });
add('DequantizeLinear', 'per axis, scale at run time', { s: [3] }, { axis: 1 }, { consts: { x: tensor('int8', [2, 3, 2], [-128, -3, 0, 5, 127, 9, 1, 2, 3, -4, -5, 100]), z: tensor('int8', [3], [1, -2, 0]) }, inputOrder: ['x', 's', 'z'] });
add('DequantizeLinear', 'per tensor, uint8, constant scale', { y: [4] }, {}, { consts: { x: tensor('uint8', [4], [0, 3, 128, 255]), s: f32([], [0.5]), z: tensor('uint8', [], [128]) }, inputOrder: ['x', 's', 'z'] });
for (const [op, periodic] of [['HannWindow', 1], ['HammingWindow', 0], ['BlackmanWindow', 1]] as const) add(op, `periodic ${periodic}`, {}, { periodic }, { opset: 17, consts: { n: i64([9], []) } });

for (const mode of ['bilinear', 'nearest', 'bicubic']) {
  for (const [padding_mode, align_corners] of [['zeros', 0], ['border', 1], ['reflection', 0], ['reflection', 1]] as const) {
    add('GridSample', `${mode}, ${padding_mode}, align_corners ${align_corners}`, { x: [2, 3, 5, 4], g: [2, 3, 7, 2] }, { mode, padding_mode, align_corners }, { opset: 16, range: [-1.7, 1.7] });
  }
}
add('GridSample', 'opset 20 names: linear', { x: [1, 2, 4, 5], g: [1, 3, 2, 2] }, { mode: 'linear' }, { opset: 20, range: [-1.2, 1.2] });

// Recurrent ops unrolled over the sequence (onnx/recurrent.ts): Y, Y_h (and Y_c) against onnxruntime.
add('LSTM', 'bidirectional, bias, initial states, peepholes', { x: [4, 3, 5] }, { hidden_size: 6, direction: 'bidirectional' }, {
  opset: 14, outputs: 3,
  consts: { w: w([2, 24, 5]), r: w([2, 24, 6]), b: w([2, 48]), l: tensor('int32', [3], [4, 4, 4]), h: w([2, 3, 6]), c: w([2, 3, 6]), p: w([2, 18]) },
});
// (onnxruntime has no layout = 1; ONNX's node tests check that form.)
add('LSTM', 'reverse, clip, weights at run time', { x: [5, 2, 3], w: [1, 16, 3], r: [1, 16, 4] }, { hidden_size: 4, direction: 'reverse', clip: asFloat(0.5) }, { opset: 14, outputs: 3 });
add('GRU', 'bidirectional, linear_before_reset, bias', { x: [5, 2, 3] }, { hidden_size: 4, direction: 'bidirectional', linear_before_reset: 1 }, { opset: 14, outputs: 2, consts: { w: w([2, 12, 3]), r: w([2, 12, 4]), b: w([2, 24]) } });
add('GRU', 'reverse, initial state, HardSigmoid/Softsign', { x: [3, 2, 4] }, { hidden_size: 3, direction: 'reverse', activations: ['HardSigmoid', 'Softsign'], activation_alpha: asFloats([0.3]), activation_beta: asFloats([0.4]) }, {
  opset: 14, outputs: 2, consts: { w: w([1, 9, 4]), r: w([1, 9, 3]), b: w([1, 18]), l: tensor('int32', [2], [3, 3]), h: w([1, 2, 3]) },
});
add('RNN', 'bidirectional, Relu and Tanh', { x: [4, 2, 3] }, { hidden_size: 5, direction: 'bidirectional', activations: ['Relu', 'Tanh'] }, { opset: 14, outputs: 2, consts: { w: w([2, 5, 3]), r: w([2, 5, 5]), b: w([2, 10]) } });

// Losses with constant targets (onnx/losses.ts).
add('NegativeLogLikelihoodLoss', 'mean, weight at run time, ignore_index', { x: [3, 5, 2], w: [5] }, { ignore_index: 1 }, { consts: { t: i64([0, 4, 1, 2, 3, 1], [3, 2]) }, inputOrder: ['x', 't', 'w'] });
add('NegativeLogLikelihoodLoss', 'none', { x: [4, 3] }, { reduction: 'none' }, { consts: { t: i64([2, 0, 1, 2]) } });
add('SoftmaxCrossEntropyLoss', 'sum, constant weights, log_prob output', { x: [2, 4, 3] }, { reduction: 'sum' }, { consts: { t: i64([0, 3, 1, 2, 2, 0], [2, 3]), w: f32([4], [0.5, 1, 2, 0.25]) }, outputs: 2 });
add('SoftmaxCrossEntropyLoss', 'mean', { x: [5, 3] }, {}, { consts: { t: i64([2, 0, 1, 1, 0]) } });
add('Expand', 'to a larger rank', { x: [3, 1] }, {}, { consts: { shape: i64([2, 3, 4]) } });
add('Tile', 'repeats on two axes', { x: [2, 3, 5] }, {}, { consts: { repeats: i64([2, 1, 3]) } });
// Clip's bounds given at run time (one value each): Max/Min with the bound broadcast.
add('Clip', 'min and max at run time', { x: [2, 3, 5], min: [], max: [] }, {}, { range: [-1, 1] });
add('Clip', 'min at run time, max constant', { x: [2, 3, 5], min: [] }, {}, { consts: { max: f32([], [0.25]) }, inputOrder: ['x', 'min', 'max'] });
add('Clip', 'max only, at run time', { x: [4, 5], max: [1] }, {}, { inputOrder: ['x', '', 'max'] });
add('Conv', 'bias, asymmetric pads, strides', { x: [2, 3, 8, 11] }, { pads: [1, 2, 0, 1], strides: [2, 1] }, { consts: { w: w([5, 3, 3, 3]), b: w([5]) } });
add('Conv', 'dilations, kernel_shape given', { x: [1, 2, 11, 10] }, { dilations: [2, 3], kernel_shape: [3, 2] }, { consts: { w: w([3, 2, 3, 2]) } });
add('Conv', 'group 2', { x: [1, 4, 6, 7] }, { group: 2, pads: [1, 1, 1, 1] }, { consts: { w: w([6, 2, 3, 3]), b: w([6]) } });
add('Conv', 'depthwise, stride 2', { x: [2, 6, 9, 7] }, { group: 6, pads: [1, 1, 1, 1], strides: [2, 2] }, { consts: { w: w([6, 1, 3, 3]), b: w([6]) } });
add('Conv', 'auto_pad SAME_UPPER, stride 2', { x: [1, 3, 7, 8] }, { auto_pad: 'SAME_UPPER', strides: [2, 2] }, { consts: { w: w([4, 3, 3, 3]) } });
add('Conv', 'auto_pad SAME_LOWER', { x: [1, 2, 5, 6] }, { auto_pad: 'SAME_LOWER' }, { consts: { w: w([3, 2, 2, 4]) } });
add('Conv', 'auto_pad VALID, 1x1', { x: [1, 5, 4, 3] }, { auto_pad: 'VALID' }, { consts: { w: w([7, 5, 1, 1]), b: w([7]) } });
add('Conv', 'opset 9', { x: [1, 3, 6, 6] }, { pads: [1, 1, 1, 1] }, { opset: 9, consts: { w: w([2, 3, 3, 3]), b: w([2]) } });

// ---- Gemm, MatMul ----
add('Gemm', 'A·B + C[N]', { a: [3, 5] }, {}, { consts: { b: w([5, 4]), c: w([4]) } });
add('Gemm', 'transA, transB, alpha, beta, C[M,N]', { a: [5, 3] }, { transA: 1, transB: 1, alpha: 0.5, beta: 2 }, { consts: { b: w([4, 5]), c: w([3, 4]) } });
add('Gemm', 'C[M,1]', { a: [3, 6] }, { beta: asFloat(1) }, { consts: { b: w([6, 2]), c: w([3, 1]) } });
add('Gemm', 'no C (opset 11)', { a: [2, 7] }, { transB: 1 }, { opset: 11, consts: { b: w([3, 7]) } });
add('Gemm', 'runtime B, scalar C', { a: [4, 3], b: [3, 5] }, {}, { consts: { c: w([1]) } });
add('MatMul', '2-D, constant B', { a: [3, 5] }, {}, { consts: { b: w([5, 4]) } });
add('MatMul', '3-D by 2-D', { a: [2, 3, 5] }, {}, { consts: { b: w([5, 4]) } });
add('MatMul', 'batched with broadcasting', { a: [2, 1, 3, 5], b: [3, 5, 2] });
add('MatMul', '1-D by 2-D', { a: [5] }, {}, { consts: { b: w([5, 3]) } });

// ---- elementwise binary ----
for (const op of ['Add', 'Sub', 'Mul']) {
  add(op, 'same shape', { a: [2, 3, 4, 5], b: [2, 3, 4, 5] });
  add(op, 'per-channel constant', { a: [2, 3, 4, 5] }, {}, { consts: { b: w([3, 1, 1]) } });
  add(op, 'both broadcast', { a: [2, 1, 5], b: [3, 1] });
  add(op, 'scalar constant first', { a: [3, 4] }, {}, { consts: { s: w([]) }, inputOrder: ['s', 'a'] });
}
add('Div', 'same shape', { a: [2, 3, 4], b: [2, 3, 4] }, {}, { range: [0.5, 2] });
add('Div', 'by constant [C,1,1]', { a: [1, 3, 4, 5] }, {}, { consts: { b: w([3, 1, 1], 0.5, 2) } });
add('Pow', 'constant exponent 2', { a: [2, 3, 4] }, {}, { consts: { e: f32([], [2]) } });
add('Pow', 'fractional exponents', { a: [3, 4] }, {}, { consts: { e: w([4], 0.3, 2.5) }, range: [0.1, 2] });
add('PRelu', 'slope [C,1,1]', { x: [2, 3, 4, 5] }, {}, { consts: { s: w([3, 1, 1]) } });
add('PRelu', 'scalar slope (opset 9)', { x: [2, 3, 4] }, {}, { opset: 9, consts: { s: f32([1], [0.25]) } });
add('PRelu', 'slope along the last axis', { x: [2, 3, 5] }, {}, { consts: { s: w([5]) } });

// ---- elementwise unary ----
add('Relu', '', { x: [2, 3, 4, 5] });
add('LeakyRelu', 'default alpha', { x: [2, 3, 5] });
add('LeakyRelu', 'alpha 0.2', { x: [7, 3] }, { alpha: 0.2 });
add('Clip', 'opset 9 attributes', { x: [2, 3, 5] }, { min: -0.5, max: 0.25 }, { opset: 9 });
add('Clip', 'opset 9 min only', { x: [2, 3, 5] }, { min: 0 }, { opset: 9 });
add('Clip', 'opset 11 inputs', { x: [2, 3, 5] }, {}, { opset: 11, consts: { lo: f32([], [-0.3]), hi: f32([], [0.6]) } });
add('Clip', 'opset 13 max only', { x: [2, 3, 5] }, {}, { consts: { hi: f32([], [0.1]) }, inputOrder: ['x', '', 'hi'] });
add('Clip', 'opset 13 min only', { x: [4, 5] }, {}, { consts: { lo: f32([], [-0.2]) } });
add('Clip', 'opset 13 no bounds', { x: [4, 5] });
add('Sigmoid', '', { x: [2, 3, 5] }, {}, { range: [-6, 6] });
add('HardSigmoid', 'defaults', { x: [2, 3, 5] }, {}, { range: [-4, 4] });
add('HardSigmoid', 'alpha, beta', { x: [2, 3, 5] }, { alpha: 0.3, beta: 0.4 }, { range: [-4, 4] });
add('HardSwish', '', { x: [2, 3, 5] }, {}, { opset: 14, range: [-5, 5] });
add('Tanh', '', { x: [3, 7] }, {}, { range: [-4, 4] });
add('Exp', '', { x: [3, 7] }, {}, { range: [-3, 3] });
add('Sqrt', '', { x: [3, 7] }, {}, { range: [0, 4] });
add('Log', '', { x: [3, 7] }, {}, { range: [0.1, 4] });
add('Neg', '', { x: [3, 7] });
add('Abs', '', { x: [3, 7] });
add('Reciprocal', '', { x: [3, 7] }, {}, { range: [0.2, 3] });

// ---- Softmax ----
// ---- ops/activations.ts, ops/variadic.ts, LogSoftmax ----
for (const op of ['Elu', 'Selu', 'ThresholdedRelu', 'Softplus', 'Softsign', 'Erf', 'Sin', 'Cos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Floor', 'Ceil', 'Round', 'Sign']) {
  add(op, 'random', { x: [2, 3, 5] }, {}, { range: [-3, 3] });
}
for (const op of ['Tan', 'Asin', 'Acos', 'Atanh']) add(op, 'random', { x: [2, 3, 5] }, {}, { range: [-0.9, 0.9] });
add('Acosh', 'random', { x: [2, 3, 5] }, {}, { range: [1.1, 4] });
add('Elu', 'alpha, opset 6', { x: [2, 3, 5] }, { alpha: asFloat(0.5) }, { opset: 6, range: [-3, 3] });
add('Selu', 'alpha, gamma', { x: [2, 3, 5] }, { alpha: asFloat(2), gamma: asFloat(3) }, { range: [-3, 3] });
add('Celu', 'alpha 2 (opset 12)', { x: [2, 3, 5] }, { alpha: asFloat(2) }, { opset: 12, range: [-3, 3] });
add('Shrink', 'bias, lambd', { x: [2, 3, 5] }, { bias: asFloat(0.5), lambd: asFloat(1) }, { range: [-3, 3] });
add('Mish', 'opset 18', { x: [2, 3, 5] }, {}, { opset: 18, range: [-5, 5] });
add('Gelu', 'erf (opset 20)', { x: [2, 3, 5] }, {}, { opset: 20, range: [-4, 4] });
add('Gelu', 'tanh (opset 20)', { x: [2, 3, 5] }, { approximate: 'tanh' }, { opset: 20, range: [-4, 4] });
add('Sum', 'three inputs, broadcast', { a: [2, 3, 5], b: [5], c: [3, 1] }, {});
add('Sum', 'opset 6 (same shapes)', { a: [2, 3], b: [2, 3] }, {}, { opset: 6 });
add('Mean', 'two inputs, broadcast', { a: [2, 3, 5], b: [1, 5] }, {});
add('Max', 'three inputs, broadcast', { a: [2, 3, 5], b: [3, 1], c: [1] }, {});
add('Min', 'one input', { a: [2, 3] }, {});
add('Min', 'two inputs, weight constant', { a: [4, 3] }, {}, { consts: { b: w([3]) } });
add('Hardmax', 'axis 1 of rank 3 (coerced to 2-D)', { x: [2, 3, 4] }, { axis: 1 }, { opset: 11 });
add('Hardmax', 'axis 0 of rank 3', { x: [3, 2, 4] }, { axis: 0 });
add('LogSoftmax', 'axis 1 of rank 3 (coerced to 2-D)', { x: [2, 3, 4] }, { axis: 1 }, { opset: 11, range: [-3, 3] });
add('LogSoftmax', 'axis 1 of rank 3', { x: [2, 3, 4] }, { axis: 1 }, { range: [-3, 3] });
add('LayerNormalization', 'axis -1 (opset 17)', { x: [2, 3, 5] }, {}, { opset: 17, consts: { s: w([5]), b: w([5]) } });
add('LayerNormalization', 'axis 1, Mean and InvStdDev', { x: [2, 3, 5] }, { axis: 1, epsilon: asFloat(1e-3) }, { opset: 17, consts: { s: w([3, 5]), b: w([3, 5]) }, outputs: 3 });
add('MeanVarianceNormalization', 'default axes [0, 2, 3]', { x: [2, 3, 5, 7] }, {});
add('MeanVarianceNormalization', 'axes [1, -1], opset 9', { x: [2, 3, 4, 5] }, { axes: [1, -1] }, { opset: 9 });
add('InstanceNormalization', 'epsilon', { x: [2, 3, 4, 5] }, { epsilon: asFloat(1e-3) }, { consts: { s: w([3]), b: w([3]) } });
add('GroupNormalization', 'per group (opset 18)', { x: [2, 6, 4, 3] }, { num_groups: 3 }, { opset: 18, consts: { s: w([3]), b: w([3]) } });
add('GroupNormalization', 'per channel (opset 21)', { x: [2, 6, 4, 3] }, { num_groups: 2 }, { opset: 21, consts: { s: w([6]), b: w([6]) } });

add('Softmax', 'axis 1 of rank 3 (coerced to 2-D)', { x: [2, 3, 4] }, { axis: 1 }, { opset: 11, range: [-3, 3] });
add('Softmax', 'default axis of rank 4 (coerced to 2-D)', { x: [2, 3, 2, 2] }, {}, { opset: 11, range: [-3, 3] });
add('Softmax', 'axis -1', { x: [2, 3, 4] }, { axis: -1 }, { opset: 9, range: [-3, 3] });
add('Softmax', 'axis 1 of rank 3', { x: [2, 3, 4] }, { axis: 1 }, { range: [-3, 3] });
add('Softmax', 'default axis', { x: [3, 5] }, {}, { range: [-3, 3] });

// ---- BatchNormalization ----
const bn = (c: number) => ({ s: w([c]), b: w([c]), m: w([c]), v: w([c], 0.2, 2) });
add('BatchNormalization', 'epsilon', { x: [2, 3, 4, 5] }, { epsilon: 1e-3 }, { opset: 9, consts: bn(3) });
add('BatchNormalization', 'default epsilon, momentum', { x: [1, 4, 3, 3] }, { momentum: 0.9 }, { opset: 15, consts: bn(4) });
add('BatchNormalization', 'training_mode 1, running statistics', { x: [3, 4, 5, 3] }, { training_mode: 1, momentum: 0.8 }, { opset: 15, consts: bn(4), outputs: 3 });
add('BatchNormalization', 'rank 2', { x: [5, 3] }, {}, { consts: bn(3) });

// ---- layout ----
add('Flatten', 'default axis', { x: [2, 3, 4, 5] });
add('Flatten', 'axis 0', { x: [2, 3, 4] }, { axis: 0 });
add('Flatten', 'axis 2', { x: [2, 3, 4, 5] }, { axis: 2 });
add('Flatten', 'axis -1', { x: [2, 3, 4] }, { axis: -1 });
add('Reshape', '0 and -1', { x: [2, 3, 4] }, {}, { consts: { s: i64([0, -1]) } });
add('Reshape', 'explicit', { x: [2, 3, 4] }, {}, { consts: { s: i64([4, 3, 2]) } });
add('Reshape', 'allowzero 0', { x: [2, 3, 4] }, { allowzero: 0 }, { opset: 14, consts: { s: i64([0, 12]) } });
add('Squeeze', 'axes attribute', { x: [2, 1, 3, 1] }, { axes: [1] }, { opset: 11 });
add('Squeeze', 'axes input', { x: [2, 1, 3, 1] }, {}, { consts: { a: i64([-1, 1]) } });
add('Squeeze', 'no axes', { x: [1, 2, 1, 3] });
add('Unsqueeze', 'axes attribute', { x: [2, 3] }, { axes: [0, 3] }, { opset: 11 });
add('Unsqueeze', 'axes input', { x: [2, 3] }, {}, { consts: { a: i64([-1]) } });
add('Transpose', 'perm', { x: [2, 3, 4, 5] }, { perm: [0, 2, 3, 1] });
add('Transpose', 'default perm (reverse)', { x: [2, 3, 4] });
add('Concat', 'axis 1, three inputs, one constant', { a: [2, 3, 4], b: [2, 1, 4] }, { axis: 1 }, { consts: { c: w([2, 2, 4]) } });
add('Concat', 'axis -1', { a: [2, 3], b: [2, 5] }, { axis: -1 });

// ---- pooling ----
add('MaxPool', '3x3 stride 2 pads 1', { x: [1, 3, 9, 8] }, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
add('MaxPool', '2x2 default strides (opset 9)', { x: [2, 2, 5, 6] }, { kernel_shape: [2, 2] }, { opset: 9 });
add('MaxPool', 'ceil_mode', { x: [1, 2, 7, 7] }, { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 });
add('MaxPool', 'dilations', { x: [1, 2, 9, 9] }, { kernel_shape: [2, 2], dilations: [2, 2] });
add('MaxPool', 'auto_pad SAME_UPPER', { x: [1, 3, 7, 6] }, { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' });
add('MaxPool', 'storage_order', { x: [1, 2, 6, 6] }, { kernel_shape: [2, 2], strides: [2, 2], storage_order: 1 });
add('AveragePool', 'pads, count_include_pad 0', { x: [1, 3, 7, 8] }, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
add('AveragePool', 'count_include_pad 1', { x: [1, 3, 7, 8] }, { kernel_shape: [3, 3], pads: [1, 0, 1, 2], count_include_pad: 1 });
add('AveragePool', 'ceil_mode', { x: [2, 2, 6, 7] }, { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 });
add('AveragePool', 'auto_pad SAME_LOWER (opset 9)', { x: [1, 2, 5, 5] }, { kernel_shape: [2, 2], auto_pad: 'SAME_LOWER' }, { opset: 9 });
add('AveragePool', 'dilations (opset 19)', { x: [1, 2, 7, 8] }, { kernel_shape: [2, 3], dilations: [2, 2], pads: [1, 1, 1, 1] }, { opset: 19 });
add('GlobalAveragePool', '', { x: [2, 3, 5, 7] });
add('GlobalMaxPool', '', { x: [2, 3, 5, 7] });

// ---- reductions ----
for (const op of ['ReduceMean', 'ReduceSum', 'ReduceMax']) {
  const inputAxes = op === 'ReduceSum';
  add(op, 'axes, keepdims', { x: [2, 3, 4, 5] }, inputAxes ? {} : { axes: [2, 3] }, { consts: inputAxes ? { a: i64([2, 3]) } : {} });
  add(op, 'keepdims 0, negative axis', { x: [2, 3, 4] }, inputAxes ? { keepdims: 0 } : { axes: [-2], keepdims: 0 }, { consts: inputAxes ? { a: i64([-2]) } : {} });
  add(op, 'all axes', { x: [3, 4] }, { keepdims: 0 });
  add(op, 'axes input (opset 18)', { x: [2, 3, 4] }, {}, { opset: 18, consts: { a: i64([0, 2]) } });
  add(op, 'noop_with_empty_axes, empty axes (opset 18)', { x: [2, 3] }, { noop_with_empty_axes: 1 }, { opset: 18, consts: { a: i64([]) } });
}
for (const op of ['ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum']) {
  const range: [number, number] | undefined = op === 'ReduceLogSum' ? [0.1, 1] : undefined;
  add(op, 'axes, keepdims', { x: [2, 3, 4, 5] }, { axes: [2, 3] }, { range });
  add(op, 'keepdims 0, negative axis, an axis of length 1', { x: [2, 1, 4] }, { axes: [-2], keepdims: 0 }, { range });
  add(op, 'all axes', { x: [3, 5] }, { keepdims: 0 }, { range });
  add(op, 'axes input (opset 18)', { x: [2, 3, 4] }, {}, { opset: 18, consts: { a: i64([0, 2]) }, range });
}
add('ReduceMin', 'noop_with_empty_axes, empty axes (opset 18)', { x: [2, 3] }, { noop_with_empty_axes: 1 }, { opset: 18, consts: { a: i64([]) } });

// ---- Pad ----
add('Pad', 'opset 9 attributes, value', { x: [1, 2, 3, 4] }, { pads: [0, 0, 1, 2, 0, 0, 2, 1], value: 0.5 }, { opset: 9 });
add('Pad', 'constant_value input', { x: [1, 2, 3, 4] }, {}, { opset: 11, consts: { p: i64([0, 1, 1, 0, 0, 0, 2, 1]), v: f32([], [-0.75]) } });
add('Pad', 'constant_value at run time, crop and pad', { x: [2, 3, 4, 5], v: [] }, {}, { opset: 13, consts: { p: i64([0, 1, -1, 2, 1, 0, 2, -2]) }, inputOrder: ['x', 'p', 'v'] });
add('Pad', 'constant_value at run time, axes (opset 18)', { x: [2, 3, 4], v: [1] }, {}, { opset: 18, consts: { p: i64([1, 2, 0, 3]), a: i64([-1, 1]) }, inputOrder: ['x', 'p', 'v', 'a'] });
add('Pad', 'reflect', { x: [1, 2, 4, 5] }, { mode: 'reflect' }, { consts: { p: i64([0, 0, 2, 3, 0, 0, 1, 2]) } });
add('Pad', 'edge, negative pad crops', { x: [1, 2, 4, 5] }, { mode: 'edge' }, { consts: { p: i64([0, 0, 2, -1, 0, 0, 1, 2]) } });
add('Pad', 'axes input (opset 18)', { x: [2, 3, 4] }, {}, { opset: 18, consts: { p: i64([1, 2, 0, 3]), v: f32([], [1]), a: i64([-1, 1]) } });
add('Pad', 'wrap (opset 19)', { x: [1, 1, 3, 4] }, { mode: 'wrap' }, { opset: 19, consts: { p: i64([0, 0, 1, 2, 0, 0, 2, 1]) } });

// ---- Slice, Gather, Split ----
add('Slice', 'opset 9 attributes', { x: [4, 5, 6] }, { starts: [1, 0], ends: [3, -1], axes: [0, 2] }, { opset: 9 });
add('Slice', 'steps, INT64_MAX end', { x: [4, 5, 6] }, {}, { consts: { s: i64([0, 1]), e: i64([2 ** 63, 5]), a: i64([2, 1]), st: i64([2, 2]) } });
add('Slice', 'negative step, INT64_MIN end', { x: [4, 6] }, {}, { consts: { s: i64([-1]), e: i64([-(2 ** 63)]), a: i64([-1]), st: i64([-2]) } });
add('Slice', 'starts/ends only (opset 10)', { x: [5, 4] }, {}, { opset: 10, consts: { s: i64([1, 1]), e: i64([4, 3]) } });
add('Gather', 'axis 0, 1-D indices', { x: [5, 3] }, {}, { consts: { i: i64([4, 0, 2, 2]) } });
add('Gather', 'axis 1, negative index', { x: [2, 5, 3] }, { axis: 1 }, { consts: { i: i64([-1, 1]) } });
add('Gather', 'scalar index drops the axis', { x: [2, 5, 3] }, { axis: 2 }, { consts: { i: i64([1], []) } });
add('Gather', '2-D int32 indices', { x: [6, 2] }, {}, { consts: { i: tensor('int32', [2, 2], [5, 0, 1, 3]) } });
add('Split', 'split attribute (opset 11)', { x: [2, 7] }, { axis: 1, split: [2, 5] }, { opset: 11, outputs: 2 });
add('Split', 'split input', { x: [6, 3] }, {}, { consts: { s: i64([1, 2, 3]) }, outputs: 3 });
add('Split', 'equal parts', { x: [2, 3, 6] }, { axis: -1 }, { outputs: 3 });
add('Split', 'num_outputs, uneven (opset 18)', { x: [7, 2] }, { num_outputs: 3 }, { opset: 18, outputs: 3 });

// ---- Resize, Upsample, ConvTranspose, LRN ----
add('Resize', 'nearest asymmetric floor, scales', { x: [1, 2, 3, 4] }, { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }, { opset: 13, consts: { s: f32([4], [1, 1, 2, 1.5]) }, inputOrder: ['x', '', 's'] });
add('Resize', 'nearest half_pixel round_prefer_floor, sizes', { x: [1, 2, 4, 5] }, { mode: 'nearest' }, { consts: { z: i64([1, 2, 7, 3]) }, inputOrder: ['x', '', '', 'z'] });
add('Resize', 'linear half_pixel', { x: [1, 2, 3, 4] }, { mode: 'linear' }, { consts: { s: f32([4], [1, 1, 2, 2]) }, inputOrder: ['x', '', 's'] });
add('Resize', 'linear align_corners (opset 11)', { x: [1, 1, 3, 3] }, { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, { opset: 11, consts: { r: f32([0], []), s: f32([4], [1, 1, 2, 2]) } });
add('Resize', 'linear pytorch_half_pixel, axes (opset 18)', { x: [1, 2, 4, 4] }, { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel', axes: [2, 3] }, { opset: 18, consts: { s: f32([2], [0.5, 1.5]) }, inputOrder: ['x', '', 's'] });
add('Resize', 'cubic half_pixel, odd sizes', { x: [1, 2, 5, 3] }, { mode: 'cubic' }, { consts: { z: i64([1, 2, 9, 7]) }, inputOrder: ['x', '', '', 'z'] });
add('Resize', 'cubic asymmetric, exclude_outside, A = -0.5, shrinking', { x: [1, 1, 7, 6] }, { mode: 'cubic', coordinate_transformation_mode: 'asymmetric', exclude_outside: 1, cubic_coeff_a: -0.5 }, { consts: { s: f32([4], [1, 1, 0.6, 1.5]) }, inputOrder: ['x', '', 's'] });
add('Resize', 'tf_crop_and_resize linear, extrapolation', { x: [1, 2, 5, 6] }, { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: asFloat(-3) }, { consts: { r: f32([8], [0, 0, -0.2, 0.3, 1, 1, 0.8, 1.4]), z: i64([1, 2, 4, 7]) }, inputOrder: ['x', 'r', '', 'z'] });
add('Resize', 'tf_crop_and_resize nearest and cubic, one output row', { x: [1, 1, 6, 5] }, { mode: 'nearest', coordinate_transformation_mode: 'tf_crop_and_resize' }, { consts: { r: f32([8], [0, 0, 0.1, 0.2, 1, 1, 0.7, 0.9]), z: i64([1, 1, 1, 4]) }, inputOrder: ['x', 'r', '', 'z'] });
add('Resize', 'tf_crop_and_resize cubic', { x: [1, 1, 6, 5] }, { mode: 'cubic', coordinate_transformation_mode: 'tf_crop_and_resize' }, { consts: { r: f32([8], [0, 0, 0.1, 0.2, 1, 1, 0.7, 0.9]), z: i64([1, 1, 5, 4]) }, inputOrder: ['x', 'r', '', 'z'] });
add('Resize', 'opset 10 nearest', { x: [1, 2, 2, 3] }, { mode: 'nearest' }, { opset: 10, consts: { s: f32([4], [1, 1, 2, 2]) } });
add('Resize', 'opset 10 nearest, shrinking', { x: [1, 2, 5, 7] }, { mode: 'nearest' }, { opset: 10, consts: { s: f32([4], [1, 1, 0.5, 0.6]) } });
add('Resize', 'opset 10 linear', { x: [1, 2, 3, 3] }, { mode: 'linear' }, { opset: 10, consts: { s: f32([4], [1, 1, 2, 1.5]) } });
add('Resize', 'sizes, opset 11 (empty scales)', { x: [1, 1, 4, 4] }, { mode: 'linear', coordinate_transformation_mode: 'asymmetric' }, { opset: 11, consts: { r: f32([0], []), s: f32([0], []), z: i64([1, 1, 3, 6]) } });
add('Resize', 'nearest half_pixel_symmetric, round_prefer_ceil (opset 19)', { x: [1, 1, 3, 5] }, { mode: 'nearest', coordinate_transformation_mode: 'half_pixel_symmetric', nearest_mode: 'round_prefer_ceil' }, { opset: 19, consts: { s: f32([4], [1, 1, 1.7, 0.8]) }, inputOrder: ['x', '', 's'] });
add('Resize', 'nearest tf_half_pixel_for_nn, ceil (opset 11)', { x: [1, 1, 3, 5] }, { mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: 'ceil' }, { opset: 11, consts: { r: f32([0], []), s: f32([4], [1, 1, 1.7, 0.8]) } });
add('Upsample', 'nearest (opset 9)', { x: [1, 2, 2, 3] }, { mode: 'nearest' }, { opset: 9, consts: { s: f32([4], [1, 1, 2, 3]) } });
add('Upsample', 'linear (opset 9)', { x: [1, 1, 3, 3] }, { mode: 'linear' }, { opset: 9, consts: { s: f32([4], [1, 1, 2, 2]) } });
add('ConvTranspose', 'basic', { x: [1, 3, 4, 5] }, {}, { consts: { w: w([3, 2, 3, 3]) } });
add('ConvTranspose', 'stride 2, pads, output_padding, bias', { x: [1, 2, 3, 4] }, { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] }, { consts: { w: w([2, 3, 3, 3]), b: w([3]) } });
add('ConvTranspose', 'group 2, dilations', { x: [1, 4, 3, 3] }, { group: 2, dilations: [2, 1] }, { consts: { w: w([4, 1, 2, 3]) } });
add('ConvTranspose', 'output_shape', { x: [1, 2, 3, 3] }, { strides: [2, 2], output_shape: [8, 7] }, { consts: { w: w([2, 2, 3, 3]) } });
add('ConvTranspose', 'auto_pad SAME_UPPER, stride 2', { x: [1, 2, 3, 4] }, { strides: [2, 2], auto_pad: 'SAME_UPPER' }, { consts: { w: w([2, 3, 3, 3]), b: w([3]) } });
add('LRN', 'size 3', { x: [1, 5, 3, 4] }, { size: 3 });
add('LRN', 'alpha, beta, bias, size 5', { x: [2, 6, 2, 3] }, { size: 5, alpha: 0.001, beta: 0.6, bias: 2 });

test('docs/ops.md lists exactly the registered ONNX ops', () => {
  const doc = readFileSync(new URL('../../docs/ops.md', import.meta.url), 'utf8');
  const runtime = doc.slice(doc.indexOf('## Runtime operators'), doc.indexOf('## Import-time operators'));
  const listed = runtime
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| Op ') && !l.startsWith('| ---'))
    .flatMap((l) => l.split('|')[1].split(',').map((s) => s.trim()));
  assert.deepEqual([...listed].sort(), [...OPS.keys()].filter(isOnnxOp).sort());
});

test('docs/ops.md states the opsets the importer takes and lists the ops imported as other ops', async () => {
  const { MIN_OPSET, MAX_OPSET } = await import('../../src/onnx/import.js');
  const { REARRANGE_HANDLERS } = await import('../../src/onnx/rearrange.js');
  const doc = readFileSync(new URL('../../docs/ops.md', import.meta.url), 'utf8');
  assert.ok(doc.includes(`**opsets ${MIN_OPSET} to ${MAX_OPSET}**`), `docs/ops.md must say opsets ${MIN_OPSET} to ${MAX_OPSET}`);
  const section = doc.slice(doc.indexOf('## Operators imported as other operators'), doc.indexOf('## Weights and inputs'));
  const { EMITS } = await import('../../src/onnx/handlers.js');
  const chains = [...Object.keys(REARRANGE_HANDLERS), ...Object.entries(EMITS).flatMap(([op, emits]) => (emits.length ? [op] : []))];
  for (const op of chains) assert.ok(section.includes(op), `docs/ops.md does not list ${op} among the operators imported as other operators`);
});

test('every registered ONNX op has an importer test', () => {
  const covered = new Set(cases.map((c) => c.op));
  const missing = [...OPS.keys()].filter((op) => isOnnxOp(op) && !covered.has(op));
  assert.deepEqual(missing, [], `ops without an ONNX import test: ${missing.join(', ')}`);
});

for (const [k, c] of cases.entries()) {
  test(c.name, async () => {
    const feeds = randomFeeds(c.inputs, 1000 + k, ...(c.range ?? [-1, 1]));
    await checkAgainstOrt(c.model, feeds, { gpu, atol: c.atol, rtol: c.rtol, what: c.name });
  });
}
