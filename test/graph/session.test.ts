import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession, type Session } from '../../src/graph/session.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const noGpu = !gpu && 'no WebGPU adapter';

/** x -> Relu -> Sigmoid -> LeakyRelu, plus a second output straight from Relu. */
function chain(shape: number[]): Graph {
  return {
    inputs: [{ name: 'x', shape }],
    outputs: ['c', 'a'],
    nodes: [
      { name: 'relu', op: 'Relu', inputs: ['x'], outputs: ['a'], attrs: {} },
      { name: 'sig', op: 'Sigmoid', inputs: ['a'], outputs: ['b'], attrs: {} },
      { name: 'leaky', op: 'LeakyRelu', inputs: ['b'], outputs: ['c'], attrs: { alpha: 0.5 } },
    ],
    initializers: new Map(),
  };
}

test('a chain of nodes matches the CPU reference, with several outputs', { skip: noGpu }, async () => {
  const g = chain([2, 3, 5, 7]);
  const x = randomTensor([2, 3, 5, 7], rng(1), -4, 4);
  const ref = await new CpuSession(g).run({ x });
  const s = new GpuSession(gpu!, g);
  const out = await s.run({ x });
  s.dispose();
  assert.deepEqual(Object.keys(out).sort(), ['a', 'c']);
  assertClose(out.a, ref.a);
  assertClose(out.c, ref.c, { atol: 1e-6 });
});

test('one inference is one submission of all dispatches, and concurrent runs are serialised', { skip: noGpu }, async () => {
  const g = chain([64]);
  const s = new GpuSession(gpu!, g);
  assert.equal(s.dispatchCount, 3);
  const xs = [0, 1, 2, 3].map((i) => randomTensor([64], rng(10 + i)));
  const outs = await Promise.all(xs.map((x) => s.run({ x })));
  const cpu = new CpuSession(g);
  for (let i = 0; i < xs.length; i++) assertClose(outs[i].c, (await cpu.run({ x: xs[i] })).c, { atol: 1e-6 });
  s.dispose();
});

test('a thousand inferences in a row do not grow GPU memory or the pipeline cache', { skip: noGpu }, async () => {
  const g = chain([1, 8, 16, 16]);
  const x = randomTensor([1, 8, 16, 16], rng(2));
  const s = new GpuSession(gpu!, g);
  await s.run({ x });
  const bytes = gpu!.allocatedBytes;
  const pipelines = gpu!.pipelineCount;
  for (let i = 0; i < 1000; i++) await s.run({ x });
  assert.equal(gpu!.allocatedBytes, bytes);
  assert.equal(gpu!.pipelineCount, pipelines);
  s.dispose();
  // Building the same session again reuses the pooled buffers and cached pipelines.
  const again = new GpuSession(gpu!, g);
  await again.run({ x });
  again.dispose();
  assert.equal(gpu!.allocatedBytes, bytes);
  assert.equal(gpu!.pipelineCount, pipelines);
});

test('profile gives one timing per node when the adapter has timestamps', { skip: noGpu }, async () => {
  const s = new GpuSession(gpu!, chain([256]));
  const { nodes, outputs } = await s.profile({ x: randomTensor([256], rng(3)) });
  assert.equal(outputs.c.size, 256);
  if (gpu!.adapter.features.timestampQuery) {
    assert.deepEqual(nodes.map((n) => n.node), ['relu', 'sig', 'leaky']);
    for (const n of nodes) assert.ok(n.ms >= 0);
  }
  s.dispose();
});

test('bad feeds get errors that name the problem', async () => {
  const s = new CpuSession(chain([2, 3]));
  await assert.rejects(s.run({}), /missing input 'x' \(shape \[2, 3\]\)/);
  await assert.rejects(s.run({ x: new Tensor([3, 2]) }), /input 'x' has shape \[3, 2\], expected \[2, 3\]/);
  await assert.rejects(s.run({ x: new Tensor([2, 3]), y: new Tensor([1]) }), /unknown input 'y'; this model's inputs are: x/);
});

test('bad graphs are refused with the node named', () => {
  const g = chain([4]);
  assert.throws(() => new CpuSession({ ...g, nodes: [{ ...g.nodes[0], op: 'NoSuchOp' }] }), /unsupported op type 'NoSuchOp'/);
  assert.throws(
    () => new CpuSession({ ...g, nodes: [g.nodes[1]] }),
    /node 'sig' \(Sigmoid\) reads 'a', which no earlier node produces/,
  );
  assert.throws(
    () => new CpuSession({ ...g, nodes: [{ ...g.nodes[0], inputs: ['x', 'x'] }] }),
    /node 'relu' \(Relu, inputs \[4\], \[4\]\): takes 1 inputs, got 2/,
  );
});

test('a tensor larger than the binding limit is refused before any GPU work', { skip: noGpu }, () => {
  const n = gpu!.adapter.limits.maxStorageBufferBindingSize / 4 + 1024;
  assert.throws(() => new GpuSession(gpu!, chain([n])), /exceeds this adapter's storage binding limit/);
});

test('a disposed session refuses to run', { skip: noGpu }, async () => {
  const s = new GpuSession(gpu!, chain([4]));
  s.dispose();
  await assert.rejects(s.run({ x: new Tensor([4]) }), /disposed/);
});

/** w := relu(w + x) each run; the updated value is read by later nodes and its slot would be reusable. */
function accumulator(): Graph {
  return {
    inputs: [{ name: 'x', shape: [5] }],
    outputs: ['out'],
    nodes: [
      { name: 'add', op: 'Add', inputs: ['w', 'x'], outputs: ['sum'], attrs: {} },
      { name: 'relu', op: 'Relu', inputs: ['sum'], outputs: ['w_next'], attrs: {} },
      { name: 'sig', op: 'Sigmoid', inputs: ['w_next'], outputs: ['s'], attrs: {} },
      { name: 'neg', op: 'Neg', inputs: ['s'], outputs: ['out'], attrs: {} },
    ],
    initializers: new Map([['w', new Tensor([5], [0, 1, 2, 3, -4])]]),
  };
}

test('session state carries values from one run to the next, on both backends', async () => {
  const x = new Tensor([5], [1, -2, 0.5, 1, 1]);
  const sessions: Session[] = [new CpuSession(accumulator(), { state: [['w', 'w_next']] })];
  if (gpu) sessions.push(new GpuSession(gpu, accumulator(), { state: [['w', 'w_next']] }));
  for (const s of sessions) {
    await s.run({ x });
    const out = await s.run({ x });
    // w: [0,1,2,3,-4] -> relu(w+x) = [1,0,2.5,4,0] -> [2,0,3,5,1]
    assert.deepEqual([...(await s.read(['w'])).w.data], [2, 0, 3, 5, 1], s.backend);
    const expected = [2, 0, 3, 5, 1].map((v) => -1 / (1 + Math.exp(-v)));
    assertClose(out.out, new Tensor([5], expected), { atol: 1e-6 }, s.backend);
    s.dispose();
  }
  // The graph's own initializer tensor is never modified.
  assert.deepEqual([...accumulator().initializers.get('w')!.data], [0, 1, 2, 3, -4]);
});

test('bad state declarations are refused', () => {
  assert.throws(() => new CpuSession(accumulator(), { state: [['x', 'w_next']] }), /state value 'x' must be an initializer/);
  assert.throws(() => new CpuSession(accumulator(), { state: [['w', 'nope']] }), /which the graph does not compute/);
});
