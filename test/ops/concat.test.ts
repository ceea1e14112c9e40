import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, type Shape } from '../../src/tensor.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { assertClose, oneNodeGraph, randInt, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

/** Shapes equal to `base` except along `axis`, where they take `sizes`. */
function along(base: Shape, axis: number, sizes: number[]): Shape[] {
  const a = axis < 0 ? axis + base.length : axis;
  return sizes.map((n) => base.map((d, i) => (i === a ? n : d)));
}

// [input shapes, axis]
const CASES: [Shape[], number][] = [
  [along([5], 0, [3, 7]), 0], // rank 1
  [along([2, 3, 5, 7], 1, [3, 5, 1]), 1], // channels
  [along([2, 3, 5, 7], 0, [2, 1]), 0], // batch
  [along([2, 3, 5, 7], 2, [5, 2, 3]), 2],
  [along([2, 3, 5, 7], 3, [7, 11]), -1], // last axis, negative
  [along([2, 3, 5, 7], 0, [1, 2]), -4], // first axis, negative
  [along([3, 13], 1, [13]), 1], // one input: a copy
  [along([2, 3, 5], 1, [0, 3, 0, 2]), 1], // zero-sized inputs
  [along([3, 2, 5], 1, Array.from({ length: 7 }, (_, i) => i + 1)), 1], // exactly one dispatch
  [along([3, 2, 5], 1, Array.from({ length: 8 }, (_, i) => (i % 3) + 1)), 1], // two dispatches
  [along([2, 3, 2], 2, Array.from({ length: 17 }, (_, i) => (i % 4) + 1)), -1], // many inputs
  [along([2, 3], 0, Array.from({ length: 64 }, () => 1)), 0], // the most inputs Concat takes
];

/** Dispatches a one-node Concat graph records, for the grouping by storage-buffer limit. */
function dispatches(inputs: Tensor[], axis: number): number {
  const s = new GpuSession(gpu!, oneNodeGraph('Concat', inputs, { axis }));
  try {
    return s.dispatchCount;
  } finally {
    s.dispose();
  }
}

test('Concat: WebGPU matches the CPU reference for every axis and many inputs', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(77);
  const cases = [...CASES];
  for (let t = 0; t < 4; t++) {
    const rank = randInt(r, 1, 4);
    const base = Array.from({ length: rank }, () => randInt(r, 1, 6));
    const axis = randInt(r, -rank, rank - 1);
    cases.push([along(base, axis, Array.from({ length: randInt(r, 1, 9) }, () => randInt(r, 1, 5))), axis]);
  }
  for (const [shapes, axis] of cases) {
    const xs = shapes.map((s) => randomTensor(s, r));
    const { cpu, gpu: g } = await runBoth(gpu, 'Concat', xs, { axis });
    assertClose(g![0], cpu[0], { atol: 0, rtol: 0 }, `Concat ${JSON.stringify(shapes)} axis ${axis}`);
  }
  // Seven inputs (plus the output) fill the 8 storage buffers WebGPU guarantees per stage.
  const few = (n: number) => along([2, 3], 1, Array.from({ length: n }, () => 2)).map((s) => randomTensor(s, r));
  assert.equal(dispatches(few(7), 1), 1);
  assert.equal(dispatches(few(8), 1), 2);
  assert.equal(dispatches(few(17), 1), 3);
});

test('Concat of one value with itself binds its buffer twice', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const x = randomTensor([2, 3, 5], rng(8));
  const graph: Graph = {
    inputs: [{ name: 'x', shape: x.shape }],
    outputs: ['y'],
    initializers: new Map(),
    nodes: [{ name: 'cat', op: 'Concat', inputs: ['x', 'x', 'x'], outputs: ['y'], attrs: { axis: 1 } }],
  };
  const want = (await new CpuSession(graph).run({ x })).y;
  const s = new GpuSession(gpu!, graph);
  try {
    assertClose((await s.run({ x })).y, want, { atol: 0, rtol: 0 }, 'Concat(x, x, x)');
  } finally {
    s.dispose();
  }
});

test('CPU reference gives known values', async () => {
  const cat = async (xs: Tensor[], axis: number) => {
    const y = (await runBoth(null, 'Concat', xs, { axis })).cpu[0];
    return { shape: [...y.shape], data: [...y.data] };
  };
  const a = new Tensor([2, 2], [1, 2, 3, 4]);
  const b = new Tensor([2, 1], [5, 6]);
  assert.deepEqual(await cat([a, b], 1), { shape: [2, 3], data: [1, 2, 5, 3, 4, 6] });
  assert.deepEqual(await cat([a, b], -1), { shape: [2, 3], data: [1, 2, 5, 3, 4, 6] });
  assert.deepEqual(await cat([a, new Tensor([1, 2], [7, 8])], 0), { shape: [3, 2], data: [1, 2, 3, 4, 7, 8] });
  assert.deepEqual(await cat([new Tensor([1], [9]), new Tensor([0]), new Tensor([2], [7, 8])], 0), { shape: [3], data: [9, 7, 8] });
});

test('Concat refuses mismatched dims, ranks and bad axes', async () => {
  const r = rng(9);
  const t = (s: Shape) => randomTensor(s, r);
  await assert.rejects(runBoth(null, 'Concat', [t([2, 3, 4]), t([2, 5, 5])], { axis: 1 }), /input 1 has shape \[2, 5, 5\], which does not match input 0 \[2, 3, 4\] outside axis 1/);
  await assert.rejects(runBoth(null, 'Concat', [t([2, 3]), t([2, 3, 1])], { axis: 0 }), /input 1 has shape \[2, 3, 1\]/);
  await assert.rejects(runBoth(null, 'Concat', [t([2, 3]), t([2, 3])], { axis: 2 }), /attribute 'axis' = 2 is out of range \[-2, 1\]/);
  await assert.rejects(runBoth(null, 'Concat', [t([2, 3]), t([2, 3])], { axis: -3 }), /'axis' = -3 is out of range/);
  await assert.rejects(runBoth(null, 'Concat', [t([2, 3])]), /attribute 'axis' is required/);
  await assert.rejects(runBoth(null, 'Concat', [t([]), t([])], { axis: 0 }), /scalars/);
  await assert.rejects(runBoth(null, 'Concat', [], { axis: 0 }), /takes 1 to 64 inputs, got 0/);
  await assert.rejects(runBoth(null, 'Concat', Array.from({ length: 65 }, () => t([1])), { axis: 0 }), /takes 1 to 64 inputs, got 65/);
});
