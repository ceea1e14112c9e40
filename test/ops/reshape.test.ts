import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type Shape } from '../../src/tensor.js';
import type { RawAttrs } from '../../src/ops/op.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { getOp } from '../../src/ops/registry.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

// [op, input shape, attrs, expected output shape]
const CASES: [string, Shape, RawAttrs, Shape][] = [
  ['Flatten', [2, 3, 4, 5], {}, [2, 60]],
  ['Flatten', [2, 3, 4, 5], { axis: 0 }, [1, 120]],
  ['Flatten', [2, 3, 4, 5], { axis: 2 }, [6, 20]],
  ['Flatten', [2, 3, 4, 5], { axis: 4 }, [120, 1]],
  ['Flatten', [2, 3, 4, 5], { axis: -1 }, [24, 5]],
  ['Flatten', [2, 3, 4, 5], { axis: -4 }, [1, 120]],
  ['Flatten', [7], {}, [7, 1]],
  ['Reshape', [2, 3, 4], { shape: [4, 6] }, [4, 6]],
  ['Reshape', [2, 3, 4], { shape: [4, -1] }, [4, 6]],
  ['Reshape', [2, 3, 4], { shape: [-1] }, [24]],
  ['Reshape', [2, 3, 4], { shape: [0, -1] }, [2, 12]],
  ['Reshape', [2, 3, 4], { shape: [0, 0, -1] }, [2, 3, 4]],
  ['Reshape', [2, 3, 4], { shape: [-1, 0, 2] }, [4, 3, 2]],
  ['Reshape', [2, 3, 4], { shape: [1, 2, 1, 12, 1] }, [1, 2, 1, 12, 1]],
  ['Reshape', [2, 3, 4], { shape: [2, 12], allowzero: 1 }, [2, 12]],
  ['Reshape', [0, 3], { shape: [3, 0], allowzero: 1 }, [3, 0]], // a real zero-sized dim
  ['Reshape', [0, 3], { shape: [2, -1] }, [2, 0]], // -1 over an empty input
  ['Reshape', [1, 1], { shape: [] }, []],
  ['Squeeze', [1, 3, 1, 5], {}, [3, 5]],
  ['Squeeze', [1, 3, 1, 5], { axes: [0] }, [3, 1, 5]],
  ['Squeeze', [1, 3, 1, 5], { axes: [-2] }, [1, 3, 5]],
  ['Squeeze', [1, 3, 1, 5], { axes: [2, 0] }, [3, 5]],
  ['Squeeze', [1, 3, 1, 5], { axes: [] }, [1, 3, 1, 5]],
  ['Squeeze', [1], {}, []],
  ['Unsqueeze', [3, 5], { axes: [0] }, [1, 3, 5]],
  ['Unsqueeze', [3, 5], { axes: [-1] }, [3, 5, 1]],
  ['Unsqueeze', [3, 5], { axes: [0, 3] }, [1, 3, 5, 1]],
  ['Unsqueeze', [3, 5], { axes: [1, -2] }, [3, 1, 1, 5]],
  ['Unsqueeze', [3, 5], { axes: [2, 0] }, [1, 3, 1, 5]],
  ['Unsqueeze', [], { axes: [0] }, [1]],
];

test('view ops give the ONNX output shapes and keep the data in order (CPU)', async () => {
  const r = rng(11);
  for (const [op, shape, attrs, want] of CASES) {
    const x = randomTensor(shape, r);
    const y = (await runBoth(null, op, [x], attrs)).cpu[0];
    assert.deepEqual([...y.shape], [...want], `${op} ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
    assert.deepEqual(y.data, x.data);
  }
});

test('view ops are views on WebGPU and return the input data', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(12);
  for (const op of ['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze']) assert.equal(getOp(op).gpu([], [], {}, gpu!.kernelContext), 'view');
  for (const [op, shape, attrs] of CASES) {
    const x = randomTensor(shape, r);
    const { cpu, gpu: g } = await runBoth(gpu, op, [x], attrs);
    assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, `${op} ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
  }
});

test('a Reshape of a graph value runs through GpuSession: the aliased buffer stays alive', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  // a = Relu(x); b = Reshape(a) aliases a's buffer; c = Sigmoid(b) must not take that buffer,
  // since b is read again by d = Add(b, c). b is also a graph output, so it lives to the end,
  // while later values (e, f, g) are allocated. A Reshape of an initializer and a Squeeze of the
  // graph input are views of buffers the planner does not own.
  const w = randomTensor([24], rng(13));
  const graph: Graph = {
    inputs: [{ name: 'x', shape: [1, 2, 3, 4] }],
    outputs: ['b', 'g', 'sx'],
    initializers: new Map([['w', w]]),
    nodes: [
      { name: 'relu', op: 'Relu', inputs: ['x'], outputs: ['a'], attrs: {} },
      { name: 'sq', op: 'Squeeze', inputs: ['x'], outputs: ['sx'], attrs: { axes: [0] } },
      { name: 'reshape', op: 'Reshape', inputs: ['a'], outputs: ['b'], attrs: { shape: [6, -1] } },
      { name: 'sig', op: 'Sigmoid', inputs: ['b'], outputs: ['c'], attrs: {} },
      { name: 'add', op: 'Add', inputs: ['b', 'c'], outputs: ['d'], attrs: {} },
      { name: 'wview', op: 'Reshape', inputs: ['w'], outputs: ['w64'], attrs: { shape: [6, 4] } },
      { name: 'mul', op: 'Mul', inputs: ['d', 'w64'], outputs: ['e'], attrs: {} },
      { name: 'flat', op: 'Flatten', inputs: ['e'], outputs: ['f'], attrs: { axis: 0 } },
      { name: 'unsq', op: 'Unsqueeze', inputs: ['f'], outputs: ['f3'], attrs: { axes: [0] } },
      { name: 'sxr', op: 'Reshape', inputs: ['sx'], outputs: ['sxr'], attrs: { shape: [24, 1, 1] } },
      { name: 'sub', op: 'Sub', inputs: ['f3', 'sxr'], outputs: ['g'], attrs: {} }, // [1,1,24] - [24,1,1]
    ],
  };
  const x = randomTensor([1, 2, 3, 4], rng(14), -2, 2);
  const want = await new CpuSession(graph).run({ x });
  const s = new GpuSession(gpu!, graph);
  try {
    assert.equal(s.dispatchCount, 5, 'views record no dispatch');
    for (let k = 0; k < 2; k++) {
      const got = await s.run({ x });
      for (const o of graph.outputs) assertClose(got[o], want[o], { atol: 1e-6, rtol: 1e-5 }, `output ${o}, run ${k}`);
    }
  } finally {
    s.dispose();
  }
  assert.deepEqual([...want.g.shape], [24, 1, 24]);
});

test('view ops refuse impossible shapes and bad axes', async () => {
  const x = randomTensor([2, 3, 4], rng(15));
  const rejects = (op: string, attrs: RawAttrs, re: RegExp, t: Tensor = x) => assert.rejects(runBoth(null, op, [t], attrs), re);
  await rejects('Flatten', { axis: 4 }, /attribute 'axis' = 4 is out of range \[-3, 3\]/);
  await rejects('Flatten', { axis: -4 }, /attribute 'axis' = -4 is out of range/);
  await rejects('Reshape', { shape: [-1, -1] }, /shape \[-1, -1\] has more than one -1/);
  await rejects('Reshape', { shape: [5, 5] }, /cannot reshape input \[2, 3, 4\] \(24 elements\) to \[5, 5\] \(25 elements\)/);
  await rejects('Reshape', { shape: [5, -1] }, /no size fits the -1/);
  await rejects('Reshape', { shape: [2, -2, 6] }, /invalid dim -2 at index 1/);
  await rejects('Reshape', { shape: [0, 0, 0, 0] }, /copies dim 3 \(a 0\) but the input \[2, 3, 4\] has rank 3/);
  await rejects('Reshape', { shape: [0, -1], allowzero: 1 }, /both 0 and -1/);
  await rejects('Reshape', { shape: [0, 3], allowzero: 1 }, /cannot reshape input \[2, 3, 4\] \(24 elements\) to \[0, 3\]/);
  await rejects('Reshape', { shape: [3, 0] }, /to \[3, 3\] \(9 elements\)/, new Tensor([0, 3]));
  // The copied 0 makes every size fit the -1: ambiguous, refused (numpy refuses it too).
  await rejects('Reshape', { shape: [0, -1] }, /no size fits the -1/, new Tensor([0, 3]));
  await rejects('Reshape', { shape: [] }, /to \[\] \(1 elements\)/, new Tensor([5]));
  await rejects('Reshape', {}, /attribute 'shape' is required/);
  await rejects('Reshape', { shape: [24], allowzero: 2 }, /'allowzero' must be 0 or 1/);
  await rejects('Squeeze', { axes: [1] }, /cannot squeeze axis 1 of input \[2, 3, 4\]: its size is 3, not 1/);
  await rejects('Squeeze', { axes: [3] }, /'axes' entry = 3 is out of range \[-3, 2\]/, new Tensor([1, 1, 1]));
  await rejects('Squeeze', { axes: [0, -3] }, /names an axis twice/, new Tensor([1, 1, 1]));
  await rejects('Unsqueeze', { axes: [4] }, /'axes' entry \(output rank 4\) = 4 is out of range \[-4, 3\]/);
  await rejects('Unsqueeze', { axes: [1, 1] }, /names an axis twice/);
  await rejects('Unsqueeze', {}, /attribute 'axes' is required/);
});
