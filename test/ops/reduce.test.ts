import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();
const OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum'];
/** Inputs per op: positive sums for LogSum's log, factors near ±1 so that products of ~400 stay normal. */
function input(op: string, shape: number[], r: () => number): Tensor {
  if (op === 'ReduceLogSum') return randomTensor(shape, r, 0.1, 1);
  if (op !== 'ReduceProd') return randomTensor(shape, r, -1, 1);
  const t = randomTensor(shape, r, 0.97, 1.03);
  return new Tensor(shape, t.data.map((v) => (r() < 0.5 ? -v : v)));
}

// [shape, attrs]: every path of the kernel builder: per-invocation loops (short reductions),
// one workgroup per output (reductions of >= 256 elements with few outputs), contiguous and
// strided reduced axes, negative axes, keepdims 0/1, empty axes (all), the noop.
const cases: [number[], Record<string, unknown>][] = [
  [[7], {}],
  [[7], { axes: [0], keepdims: 0 }],
  [[2, 3, 5, 7], { axes: [1] }],
  [[2, 3, 5, 7], { axes: [-1], keepdims: 0 }],
  [[2, 3, 5, 7], { axes: [0, 2] }],
  [[2, 3, 5, 7], { axes: [3, 1], keepdims: 0 }],
  [[2, 3, 5, 7], {}],
  [[2, 3, 5, 7], { keepdims: 0 }],
  [[2, 3, 5, 7], { axes: [], noop_with_empty_axes: 1 }],
  [[3, 1, 4, 1, 5], { axes: [1, 3] }], // only length-1 axes: a view
  [[3, 1, 4, 1, 5], { axes: [1, 2] }],
  [[2, 3, 17, 19], { axes: [2, 3] }], // 323 per output: workgroup path, contiguous
  [[2, 3, 17, 19], { axes: [-2, -1], keepdims: 0 }],
  [[13, 3, 29, 2], { axes: [0, 2] }], // 377 per output, strided: workgroup path
  [[1, 11, 31], {}], // everything into one value: workgroup path
  [[1031, 3], { axes: [1] }], // many outputs: per-invocation path over more than one workgroup
];

for (const op of OPS) {
  test(`${op}: WebGPU matches the CPU reference on every axes/keepdims case`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(op.length * 31);
    for (const [shape, attrs] of cases) {
      const x = input(op, shape, r);
      const { cpu, gpu: g } = await runBoth(gpu, op, [x], attrs as never);
      // f32 sums of up to ~400 terms in [-1, 1] against the reference's double sum.
      assertClose(g![0], cpu[0], { atol: 1e-4, rtol: 1e-5 }, `${op} ${JSON.stringify(shape)} ${JSON.stringify(attrs)}`);
    }
  });
}

test('reductions over an axis of length 0 give the finished identity: 0, NaN, ±Inf, 1', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const x = new Tensor([2, 0, 3], []);
  const want: Record<string, number> = {
    ReduceSum: 0,
    ReduceMean: NaN,
    ReduceMax: -Infinity,
    ReduceMin: Infinity,
    ReduceProd: 1,
    ReduceSumSquare: 0,
    ReduceL1: 0,
    ReduceL2: 0,
    ReduceLogSum: -Infinity,
  };
  for (const op of OPS) {
    const { cpu, gpu: g } = await runBoth(gpu, op, [x], { axes: [1] });
    assert.deepEqual(cpu[0].shape, [2, 1, 3]);
    assert.deepEqual([...cpu[0].data], new Array(6).fill(want[op]), op);
    assertClose(g![0], cpu[0], {}, op);
  }
});

test('ReduceMax of all -Inf is -Inf on WebGPU (both paths)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  for (const n of [5, 300]) {
    const x = new Tensor([1, n], new Float32Array(n).fill(-Infinity));
    const { gpu: g } = await runBoth(gpu, 'ReduceMax', [x], { axes: [1] });
    assert.deepEqual([...g![0].data], [-Infinity]);
  }
});

test('CPU references give known values', async () => {
  const x = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
  const run = async (op: string, attrs: Record<string, unknown>) => (await runBoth(null, op, [x], attrs as never)).cpu[0];
  let y = await run('ReduceSum', { axes: [0], keepdims: 0 });
  assert.deepEqual([y.shape, [...y.data]], [[3], [5, 7, 9]]);
  y = await run('ReduceMean', { axes: [1] });
  assert.deepEqual([y.shape, [...y.data]], [[2, 1], [2, 5]]);
  y = await run('ReduceMax', {});
  assert.deepEqual([y.shape, [...y.data]], [[1, 1], [6]]);
  y = await run('ReduceMax', { axes: [-2], keepdims: 0 });
  assert.deepEqual([y.shape, [...y.data]], [[3], [4, 5, 6]]);
  y = await run('ReduceSum', { noop_with_empty_axes: 1 });
  assert.deepEqual([y.shape, [...y.data]], [[2, 3], [1, 2, 3, 4, 5, 6]]);
  y = await run('ReduceMean', { keepdims: 0 });
  assert.deepEqual([y.shape, [...y.data]], [[], [3.5]]);
  const rows = async (op: string) => [...(await run(op, { axes: [1], keepdims: 0 })).data];
  assert.deepEqual(await rows('ReduceMin'), [1, 4]);
  assert.deepEqual(await rows('ReduceProd'), [6, 120]);
  assert.deepEqual(await rows('ReduceSumSquare'), [14, 77]);
  assert.deepEqual(await rows('ReduceL1'), [6, 15]);
  assertClose(new Tensor([2], await rows('ReduceL2')), new Tensor([2], [Math.sqrt(14), Math.sqrt(77)]), { atol: 0, rtol: 1e-6 });
  assertClose(new Tensor([2], await rows('ReduceLogSum')), new Tensor([2], [Math.log(6), Math.log(15)]), { atol: 0, rtol: 1e-6 });
});

test('bad attributes are refused with clear errors', async () => {
  const x = new Tensor([2, 3], [1, 2, 3, 4, 5, 6]);
  await assert.rejects(runBoth(null, 'ReduceSum', [x], { axes: [2] }), /'axes' has 2, out of range for rank 2/);
  await assert.rejects(runBoth(null, 'ReduceMean', [x], { axes: [1, -1] }), /'axes' repeats an axis/);
  await assert.rejects(runBoth(null, 'ReduceMax', [x], { keepdims: 2 }), /'keepdims' must be 0 or 1/);
  await assert.rejects(runBoth(null, 'ReduceMax', [x], { noop_with_empty_axes: 3 }), /'noop_with_empty_axes' must be 0 or 1/);
  await assert.rejects(runBoth(null, 'ReduceSum', [x], { axes: 1 }), /'axes' must be a list of integers/);
});
