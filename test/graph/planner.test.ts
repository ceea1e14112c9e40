import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastUses, type Graph, type Node } from '../../src/graph/ir.js';
import { planBuffers, type BufferPlan } from '../../src/graph/planner.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { inferShapes, type InferredGraph } from '../../src/graph/shapes.js';
import { DEFAULT_KERNEL_CONTEXT } from '../../src/kernels/context.js';
import { sizeOf, Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randInt, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();

function n(name: string, op: string, inputs: string[], outputs: string[] = [name]): Node {
  return { name, op, inputs, outputs, attrs: {} };
}

function graph(inputs: [string, Shape][], outputs: string[], nodes: Node[], inits: Record<string, Tensor> = {}): Graph {
  return { inputs: inputs.map(([name, shape]) => ({ name, shape })), outputs, nodes, initializers: new Map(Object.entries(inits)) };
}

/**
 * Plan as GpuSession does: a node is a view when its op's gpu() says so. `alsoViews` names extra
 * nodes to plan as views, so that view handling can be tested on any graph (the planner only
 * looks at the flag and at input 0).
 */
function plan(g: Graph, alsoViews: readonly string[] = []): { ig: InferredGraph; plan: BufferPlan; isView: (i: number) => boolean } {
  const ig = inferShapes(g);
  const views = ig.nodes.map(
    (r) => alsoViews.includes(r.node.name) || r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, DEFAULT_KERNEL_CONTEXT) === 'view',
  );
  const isView = (i: number) => views[i];
  const p = planBuffers(ig, isView);
  checkPlan(ig, p, isView);
  return { ig, plan: p, isView };
}

/**
 * The planner's contract, checked from first principles:
 *  - every value that is not an initializer (nor a view of one) has a slot big enough for it;
 *  - a view has its source's slot, and together they form one family occupying the slot from the
 *    source's definition to the last read of any member (graph outputs: to the end);
 *  - two families sharing a slot never occupy it at the same time. A value read by node i and a
 *    value written by node i overlap at i, so a node never writes into its own inputs.
 */
function checkPlan(ig: InferredGraph, p: BufferPlan, isView: (i: number) => boolean): void {
  const g = ig.graph;
  const last = lastUses(g);
  const def = new Map<string, number>();
  const root = new Map<string, string>();
  const viewOfInit = new Set<string>();
  for (const v of g.inputs) {
    def.set(v.name, -1);
    root.set(v.name, v.name);
  }
  g.nodes.forEach((node, i) =>
    node.outputs.forEach((v, k) => {
      def.set(v, i);
      const src = node.inputs[0];
      const view = k === 0 && isView(i);
      if (view && (g.initializers.has(src) || viewOfInit.has(src))) viewOfInit.add(v);
      root.set(v, view && root.has(src) ? root.get(src)! : v);
    }),
  );
  const families = new Map<string, { slot: number; from: number; to: number; members: string[] }>();
  for (const [v, d] of def) {
    if (viewOfInit.has(v)) {
      assert.ok(!p.slotOf.has(v), `'${v}' is a view of an initializer and needs no slot`);
      continue;
    }
    const s = p.slotOf.get(v);
    assert.ok(s !== undefined, `'${v}' has no slot`);
    assert.ok(p.slotBytes[s] >= sizeOf(ig.shapes.get(v)!) * 4, `slot ${s} (${p.slotBytes[s]} bytes) is too small for '${v}'`);
    const r = root.get(v)!;
    const end = last.get(v) ?? d;
    const f = families.get(r);
    if (!f) families.set(r, { slot: s, from: def.get(r)!, to: end, members: [v] });
    else {
      assert.equal(s, f.slot, `view '${v}' does not share the slot of '${r}'`);
      f.to = Math.max(f.to, end);
      f.members.push(v);
    }
  }
  const fs = [...families.values()];
  for (let a = 0; a < fs.length; a++) {
    for (let b = a + 1; b < fs.length; b++) {
      const [x, y] = [fs[a], fs[b]];
      if (x.slot !== y.slot) continue;
      assert.ok(
        x.to < y.from || y.to < x.from,
        `slot ${x.slot} holds [${x.members}] (nodes ${x.from}..${x.to}) and [${y.members}] (nodes ${y.from}..${y.to}) at once`,
      );
    }
  }
}

const slots = (p: BufferPlan, ...vs: string[]) => vs.map((v) => p.slotOf.get(v));

test('a chain reuses slots once values are read for the last time: two slots for any length', () => {
  const g = graph([['x', [2, 3, 5]]], ['y'], [n('a', 'Relu', ['x']), n('b', 'Sigmoid', ['a']), n('c', 'Relu', ['b']), n('d', 'Sigmoid', ['c']), n('y', 'Relu', ['d'])]);
  const { plan: p } = plan(g);
  assert.equal(p.slotBytes.length, 2);
  assert.deepEqual(p.slotBytes, [120, 120]);
  // Each node writes the slot its input's input lived in.
  assert.deepEqual(slots(p, 'x', 'a', 'b', 'c', 'd', 'y'), [0, 1, 0, 1, 0, 1]);
});

test('a node never writes into its own inputs, even at their last use', () => {
  // b reads a for the last time, and c reads b twice for the last time: their slots become free
  // only after the reading node has written its output.
  const g = graph(
    [['x', [7]]],
    ['y'],
    [n('a', 'Relu', ['x']), n('b', 'Sigmoid', ['a']), n('a2', 'Relu', ['x']), n('c', 'Add', ['b', 'b']), n('y', 'Add', ['c', 'a2'])],
  );
  const { ig, plan: p, isView } = plan(g);
  ig.graph.nodes.forEach((node, i) => {
    if (isView(i)) return;
    for (const o of node.outputs) for (const v of node.inputs) assert.notEqual(p.slotOf.get(o), p.slotOf.get(v), `${node.name} writes over ${v}`);
  });
});

test('values alive at the same time get different slots (diamond and long-lived values)', () => {
  const g = graph(
    [['x', [3, 11]]],
    ['y'],
    [
      n('a', 'Relu', ['x']),
      n('b', 'Sigmoid', ['a']),
      n('c', 'Relu', ['b']),
      n('d', 'Sigmoid', ['a']), // a lives across b and c
      n('e', 'Add', ['c', 'd']),
      n('y', 'Add', ['e', 'x']), // x lives to the end
    ],
  );
  const { plan: p } = plan(g);
  const [x, a, b, c, d] = slots(p, 'x', 'a', 'b', 'c', 'd');
  assert.equal(new Set([x, a, b]).size, 3);
  assert.equal(new Set([x, a, c]).size, 3);
  assert.equal(new Set([x, a, c, d]).size, 4);
  assert.equal(p.slotBytes.length, 4);
});

test('graph outputs are never overwritten by later values', () => {
  const g = graph(
    [['x', [4, 4]]],
    ['early', 'y', 'mid'],
    [
      n('early', 'Relu', ['x']), // a graph output nobody reads
      n('a', 'Sigmoid', ['x']),
      n('mid', 'Relu', ['a']), // a graph output that is read later too
      n('b', 'Sigmoid', ['mid']),
      n('c', 'Relu', ['b']),
      n('d', 'Sigmoid', ['c']),
      n('y', 'Relu', ['d']),
    ],
  );
  const { ig, plan: p } = plan(g);
  const later = ig.graph.nodes.slice(1).flatMap((x) => x.outputs).filter((v) => v !== 'mid');
  for (const v of later) assert.notEqual(p.slotOf.get(v), p.slotOf.get('early'), `'${v}' overwrites graph output 'early'`);
  for (const v of ['b', 'c', 'd', 'y']) assert.notEqual(p.slotOf.get(v), p.slotOf.get('mid'), `'${v}' overwrites graph output 'mid'`);
});

test('an output nobody reads frees its slot right after its node', () => {
  const g = graph([['x', [5]]], ['y'], [n('dead', 'Relu', ['x']), n('a', 'Sigmoid', ['x']), n('y', 'Relu', ['a'])]);
  const { plan: p } = plan(g);
  // dead is written at node 0 and free after it: a (node 1) may take its slot.
  assert.equal(p.slotOf.get('a'), p.slotOf.get('dead'));
});

test('views share their source slot, keep it alive as long as they are read, and views of views chain', () => {
  // Flatten is a real view op; its output must keep the Relu output's slot busy.
  const g = graph(
    [['x', [2, 3, 4]]],
    ['y'],
    [
      n('a', 'Relu', ['x']),
      n('f', 'Flatten', ['a']), // the last read of a: a's slot must stay busy for f
      n('s', 'Sigmoid', ['x']), // the last read of x; must not land in a's slot
      n('f2', 'Flatten', ['f']), // a view of a view
      n('t', 'Relu', ['s']),
      n('r2', 'Flatten', ['t']),
      n('y', 'Add', ['f2', 'r2']),
    ],
  );
  const { plan: p } = plan(g);
  assert.equal(p.slotOf.get('f'), p.slotOf.get('a'));
  assert.equal(p.slotOf.get('f2'), p.slotOf.get('a'));
  assert.notEqual(p.slotOf.get('s'), p.slotOf.get('a'));
  assert.notEqual(p.slotOf.get('t'), p.slotOf.get('a'));
});

test('views of graph inputs share the input slot; views of initializers get none', () => {
  const g = graph(
    [['x', [2, 6]]],
    ['y', 'z'],
    [n('fx', 'Flatten', ['x']), n('y', 'Relu', ['fx']), n('fw', 'Flatten', ['w']), n('z', 'Sigmoid', ['fw'])],
    { w: randomTensor([3, 2, 2], rng(1)) },
  );
  const { plan: p } = plan(g);
  assert.equal(p.slotOf.get('fx'), p.slotOf.get('x'));
  assert.notEqual(p.slotOf.get('y'), p.slotOf.get('x'));
  assert.equal(p.slotOf.has('fw'), false);
  assert.equal(p.slotOf.has('w'), false);
});

test('a graph output that is a view keeps its source slot for good', () => {
  const g = graph([['x', [3, 4]]], ['v'], [n('a', 'Relu', ['x']), n('v', 'Sigmoid', ['a']), n('b', 'Relu', ['a']), n('c', 'Sigmoid', ['b']), n('d', 'Relu', ['c'])]);
  // v is the only output; b, c and d are computed after it and must not land in its slot.
  const { plan: p } = plan(g, ['v']); // plan v as a view of a
  assert.equal(p.slotOf.get('v'), p.slotOf.get('a'));
  for (const v of ['b', 'c', 'd']) assert.notEqual(p.slotOf.get(v), p.slotOf.get('a'), `'${v}' overwrites the view output 'v'`);
});

test('slots grow to fit when a larger value reuses a smaller free slot', () => {
  const g = graph(
    [['small', [3]], ['big', [40]]],
    ['y', 'z'],
    [n('a', 'Relu', ['small']), n('y', 'Sigmoid', ['a']), n('b', 'Relu', ['big']), n('c', 'Sigmoid', ['b']), n('z', 'Relu', ['c'])],
  );
  const { plan: p } = plan(g);
  // checkPlan (in plan) verified every slot holds its largest value; small values reuse freed slots.
  assert.ok(p.slotBytes.length <= 4, `${p.slotBytes.length} slots`);
});

/** A random DAG of Relu, Sigmoid, Add and Flatten (a view) over a few inputs of different sizes. */
function randomGraph(r: () => number): { g: Graph; views: string[] } {
  const shapes: Shape[] = [[7], [2, 3, 5], [13], [1, 1, 3]];
  const nIn = randInt(r, 1, 3);
  const inputs: [string, Shape][] = Array.from({ length: nIn }, (_, i) => [`in${i}`, shapes[randInt(r, 0, shapes.length - 1)]]);
  const vals: { name: string; shape: Shape }[] = inputs.map(([name, shape]) => ({ name, shape }));
  const nodes: Node[] = [];
  const views: string[] = [];
  const count = randInt(r, 1, 14);
  for (let i = 0; i < count; i++) {
    const name = `v${i}`;
    // Prefer recent values so that lifetimes are short and slots get reused.
    const pick = () => vals[Math.max(0, vals.length - 1 - Math.floor(r() * r() * vals.length))];
    const a = pick();
    const partner = vals.filter((v) => v !== a && v.shape.join() === a.shape.join());
    if (partner.length > 0 && r() < 0.3) {
      nodes.push(n(name, 'Add', [a.name, partner[randInt(r, 0, partner.length - 1)].name]));
    } else if (a.shape.length >= 2 && r() < 0.2) {
      // a real view op: the GPU run then reads and writes through shared slots
      nodes.push(n(name, 'Flatten', [a.name]));
      vals.push({ name, shape: [a.shape[0], sizeOf(a.shape.slice(1))] });
      continue;
    } else {
      nodes.push(n(name, r() < 0.5 ? 'Relu' : 'Sigmoid', [a.name]));
      if (r() < 0.25) views.push(name);
    }
    vals.push({ name, shape: a.shape });
  }
  const produced = nodes.map((x) => x.name);
  const outs = new Set<string>([produced[produced.length - 1]]);
  for (const v of produced) if (r() < 0.15) outs.add(v);
  if (r() < 0.1) outs.add('in0');
  return { g: graph(inputs, [...outs], nodes), views };
}

test('random graphs: every plan keeps the contract (with and without views)', () => {
  const r = rng(2024);
  for (let t = 0; t < 400; t++) {
    const { g, views } = randomGraph(r);
    plan(g);
    plan(g, views);
  }
});

test('random graphs run on WebGPU with the planned slots and match the CPU reference', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(7);
  for (let t = 0; t < 25; t++) {
    const { g } = randomGraph(r);
    const feeds = Object.fromEntries(g.inputs.map((v) => [v.name, randomTensor(v.shape, r, -3, 3)]));
    const want = await new CpuSession(g).run(feeds);
    const s = new GpuSession(gpu!, g);
    try {
      const got = await s.run(feeds);
      for (const o of g.outputs) assertClose(got[o], want[o], { atol: 1e-6, rtol: 1e-5 }, `graph ${t} output '${o}'`);
    } finally {
      s.dispose();
    }
  }
});
