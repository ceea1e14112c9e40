import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph, Node } from '../../src/graph/ir.js';
import { eliminateDeadNodes, foldBatchNorm, freeBatch, fuseActivations, optimizeGraph, recognizeHardSwish, removeIdentities, unfuseActivations } from '../../src/graph/passes.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { getOp } from '../../src/ops/registry.js';
import { UNARY } from '../../src/ops/unary.js';
import { ACTIVATIONS } from '../../src/ops/activations.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();

// Folding reorders f32 arithmetic: (x·w)·s against x·(w·s), and a bias added in another place.
const FOLD_TOL = { atol: 1e-5, rtol: 1e-4 };

function n(name: string, op: string, inputs: string[], outputs: string[], attrs: RawAttrs = {}): Node {
  return { name, op, inputs, outputs, attrs };
}

function graph(inputs: [string, Shape][], outputs: string[], nodes: Node[], inits: Record<string, Tensor> = {}): Graph {
  return { inputs: inputs.map(([name, shape]) => ({ name, shape })), outputs, nodes, initializers: new Map(Object.entries(inits)) };
}

/** Everything about a graph that a pass could mutate, copied deeply (tensor data included). */
function snapshot(g: Graph) {
  return {
    inputs: JSON.stringify(g.inputs),
    outputs: [...g.outputs],
    nodes: g.nodes.map((x) => ({ node: x, json: JSON.stringify(x) })),
    inits: [...g.initializers].map(([k, t]) => ({ k, t, shape: [...t.shape], data: [...t.data] })),
  };
}

/** Apply a pass and check that it left its input exactly as it was. */
function applyPure(pass: (g: Graph) => Graph, g: Graph): Graph {
  const before = snapshot(g);
  const out = pass(g);
  const after = snapshot(g);
  assert.equal(after.inputs, before.inputs, 'graph inputs changed');
  assert.deepEqual(after.outputs, before.outputs, 'graph outputs changed');
  assert.equal(after.nodes.length, before.nodes.length, 'node list changed');
  after.nodes.forEach((a, i) => {
    assert.equal(a.node, before.nodes[i].node, `node ${i} replaced in the input graph`);
    assert.equal(a.json, before.nodes[i].json, `node ${i} mutated`);
  });
  assert.equal(after.inits.length, before.inits.length, 'initializers added or removed in the input graph');
  after.inits.forEach((a, i) => {
    const b = before.inits[i];
    assert.equal(a.k, b.k);
    assert.equal(a.t, b.t, `initializer '${a.k}' replaced in the input graph`);
    assert.deepEqual(a.shape, b.shape, `initializer '${a.k}' reshaped`);
    assert.deepEqual(a.data, b.data, `initializer '${a.k}' data mutated`);
  });
  return out;
}

const ops = (g: Graph) => g.nodes.map((x) => x.op);

/**
 * The original graph's outputs, evaluated node by node with the ops' CPU references. Identity and
 * Dropout are not ops deftnn registers (the ONNX importer turns them into aliases), so this
 * evaluates them here as what they are at inference time: their first input, unchanged.
 */
function evaluateOriginal(g: Graph, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const values = new Map<string, Tensor>([...g.initializers, ...Object.entries(feeds)]);
  for (const node of g.nodes) {
    const ins = node.inputs.map((v) => values.get(v)!);
    if (node.op === 'Identity' || node.op === 'Dropout') {
      values.set(node.outputs[0], ins[0]);
      continue;
    }
    const op = getOp(node.op);
    const outs = op.cpu(ins, op.attrs(node.attrs, ins.map((t) => t.shape)));
    node.outputs.forEach((v, i) => values.set(v, outs[i]));
  }
  return Object.fromEntries(g.outputs.map((o) => [o, values.get(o)!]));
}

/** Run both graphs on the CPU reference with the same random feeds and compare every output. */
async function assertSameOutputs(original: Graph, optimized: Graph, seed: number, tol = FOLD_TOL): Promise<void> {
  assert.deepEqual(optimized.outputs, original.outputs);
  const r = rng(seed);
  const feeds = Object.fromEntries(original.inputs.map((v) => [v.name, randomTensor(v.shape, r, -2, 2)]));
  const passThroughs = original.nodes.some((x) => x.op === 'Identity' || x.op === 'Dropout');
  const want = passThroughs ? evaluateOriginal(original, feeds) : await new CpuSession(original).run(feeds);
  const got = await new CpuSession(optimized).run(feeds);
  for (const o of original.outputs) assertClose(got[o], want[o], tol, `output '${o}'`);
}

const bnInits = (prefix: string, C: number, r: () => number): Record<string, Tensor> => ({
  [`${prefix}_scale`]: randomTensor([C], r, 0.5, 2),
  [`${prefix}_B`]: randomTensor([C], r, -1, 1),
  [`${prefix}_mean`]: randomTensor([C], r, -1, 1),
  [`${prefix}_var`]: randomTensor([C], r, 0.1, 2),
});
const bnInputs = (x: string, prefix: string) => [x, `${prefix}_scale`, `${prefix}_B`, `${prefix}_mean`, `${prefix}_var`];

// ---- removeIdentities ----

test('removeIdentities drops Identity and inference Dropout, rewiring their readers', () => {
  const g = graph(
    [['x', [1, 3, 4, 4]]],
    ['y'],
    [
      n('relu', 'Relu', ['x'], ['a']),
      n('id', 'Identity', ['a'], ['b']),
      n('drop', 'Dropout', ['b'], ['c'], { ratio: 0.5 }),
      n('sig', 'Sigmoid', ['c'], ['d']),
      n('sig2', 'Sigmoid', ['b'], ['e']),
      n('add', 'Add', ['d', 'e'], ['y']),
    ],
  );
  const out = applyPure(removeIdentities, g);
  assert.deepEqual(ops(out), ['Relu', 'Sigmoid', 'Sigmoid', 'Add']);
  assert.deepEqual(out.nodes.map((x) => x.inputs), [['x'], ['a'], ['a'], ['d', 'e']]);
  assert.deepEqual(out.outputs, ['y']);
});

test('removeIdentities: an Identity producing a graph output renames its source instead', () => {
  const g = graph(
    [['x', [2, 5]]],
    ['y', 'z'],
    [
      n('relu', 'Relu', ['x'], ['a']),
      n('sig', 'Sigmoid', ['a'], ['s']), // reads a before the Identity
      n('id', 'Identity', ['a'], ['y']),
      n('lrelu', 'LeakyRelu', ['a'], ['t']), // reads a after it
      n('add', 'Add', ['s', 't'], ['z']),
    ],
  );
  const out = applyPure(removeIdentities, g);
  assert.deepEqual(ops(out), ['Relu', 'Sigmoid', 'LeakyRelu', 'Add']);
  assert.deepEqual(out.nodes[0].outputs, ['y']);
  assert.deepEqual(out.nodes.map((x) => x.inputs), [['x'], ['y'], ['y'], ['s', 't']]);
  assert.deepEqual(out.outputs, ['y', 'z']);
});

test('removeIdentities: a chain of pass-throughs ending in a graph output', () => {
  const g = graph(
    [['x', [3]]],
    ['o'],
    [
      n('relu', 'Relu', ['x'], ['a']),
      n('id1', 'Identity', ['a'], ['b']),
      n('sig', 'Sigmoid', ['b'], ['s']),
      n('id2', 'Dropout', ['b'], ['o', 'mask']), // mask unread: still an identity
      n('id3', 'Identity', ['s'], ['dead']),
    ],
  );
  const out = applyPure(removeIdentities, g);
  assert.deepEqual(ops(out), ['Relu', 'Sigmoid']);
  assert.deepEqual(out.nodes[0].outputs, ['o']);
  assert.deepEqual(out.nodes[1].inputs, ['o']);
});

test('removeIdentities keeps the pass-throughs it cannot remove', () => {
  const t0 = new Tensor([], [0]);
  const t1 = new Tensor([], [1]);
  const g = graph(
    [['x', [4]], ['train', []]],
    // q, r, k and dd are read by nobody: those Dropouts stay or go for their own reason only.
    ['y', 'a', 'p', 'm', 'a2'],
    [
      n('in2out', 'Identity', ['x'], ['y']), // graph input to graph output: two names needed
      n('relu', 'Relu', ['x'], ['a']),
      n('out2out', 'Identity', ['a'], ['p']), // a is a graph output itself
      n('drop_mask', 'Dropout', ['a'], ['q', 'm']), // the mask is a graph output
      n('drop_train', 'Dropout', ['a', '', 'train'], ['r']), // training_mode is a graph input
      n('drop_on', 'Dropout', ['a', '', 'on'], ['k']), // training_mode is a constant true
      n('init2out', 'Identity', ['w'], ['a2']), // an initializer to a graph output
      n('drop_off', 'Dropout', ['a', '', 'off'], ['dd']), // training_mode constant false: removable
    ],
    { on: t1, off: t0, w: new Tensor([4], [1, 2, 3, 4]) },
  );
  const out = applyPure(removeIdentities, g);
  assert.deepEqual(
    out.nodes.map((x) => x.name),
    ['in2out', 'relu', 'out2out', 'drop_mask', 'drop_train', 'drop_on', 'init2out'],
  );
});

test('removeIdentities: two graph outputs through Identity from one value keep one Identity', () => {
  const g = graph([['x', [4]]], ['o1', 'o2'], [n('relu', 'Relu', ['x'], ['a']), n('i1', 'Identity', ['a'], ['o1']), n('i2', 'Identity', ['a'], ['o2'])]);
  const out = applyPure(removeIdentities, g);
  assert.deepEqual(
    out.nodes.map((x) => [x.op, x.inputs, x.outputs]),
    [
      ['Relu', ['x'], ['o1']],
      ['Identity', ['o1'], ['o2']],
    ],
  );
});

test('removeIdentities gives the same outputs', async () => {
  const g = graph(
    [['x', [2, 7]]],
    ['y', 'z'],
    [
      n('relu', 'Relu', ['x'], ['a']),
      n('id', 'Identity', ['a'], ['b']),
      n('sig', 'Sigmoid', ['b'], ['s']),
      n('drop', 'Dropout', ['s'], ['y']),
      n('lrelu', 'LeakyRelu', ['b'], ['z'], { alpha: 0.2 }),
    ],
  );
  const out = removeIdentities(g);
  assert.deepEqual(ops(out), ['Relu', 'Sigmoid', 'LeakyRelu']);
  await assertSameOutputs(g, out, 1, { atol: 0, rtol: 0 });
});

// ---- foldBatchNorm ----

/** x -> Conv(w[, b]) -> BN -> y, with group and a bias or not. */
function convBn(r: () => number, opts: { bias: boolean; group?: number; C?: number; M?: number; extra?: Partial<Graph> }): Graph {
  const C = opts.C ?? 4;
  const M = opts.M ?? 6;
  const group = opts.group ?? 1;
  const inits: Record<string, Tensor> = { w: randomTensor([M, C / group, 3, 3], r), ...bnInits('bn', M, r) };
  if (opts.bias) inits.b = randomTensor([M], r);
  return graph(
    [['x', [2, C, 7, 5]]],
    ['y'],
    [
      n('conv', 'Conv', opts.bias ? ['x', 'w', 'b'] : ['x', 'w'], ['c'], { pads: [1, 1, 1, 1], group }),
      n('bn', 'BatchNormalization', bnInputs('c', 'bn'), ['y'], { epsilon: 1e-3 }),
    ],
    inits,
  );
}

test('foldBatchNorm folds BN into a Conv with a bias: new weights, same outputs', async () => {
  const g = convBn(rng(2), { bias: true });
  const out = applyPure(foldBatchNorm, g);
  assert.deepEqual(ops(out), ['Conv']);
  const conv = out.nodes[0];
  assert.deepEqual(conv.outputs, ['y']);
  assert.equal(conv.inputs[0], 'x');
  // New names for the folded weights; the originals stay until dead-code elimination.
  assert.ok(!['w', 'b'].includes(conv.inputs[1]) && !['w', 'b'].includes(conv.inputs[2]));
  assert.deepEqual(out.initializers.get(conv.inputs[1])!.shape, [6, 4, 3, 3]);
  assert.deepEqual(out.initializers.get(conv.inputs[2])!.shape, [6]);
  assert.equal(conv.attrs, g.nodes[0].attrs);
  await assertSameOutputs(g, out, 3);
  await assertSameOutputs(g, eliminateDeadNodes(out), 3);
  assert.deepEqual([...eliminateDeadNodes(out).initializers.keys()].sort(), [conv.inputs[1], conv.inputs[2]].sort());
});

test('foldBatchNorm gives a bias-less grouped Conv a bias', async () => {
  const g = convBn(rng(4), { bias: false, group: 2, C: 4, M: 6 });
  const out = applyPure(foldBatchNorm, g);
  assert.deepEqual(ops(out), ['Conv']);
  assert.equal(out.nodes[0].inputs.length, 3);
  await assertSameOutputs(g, out, 5);
  // depthwise: group = C = M
  const dw = convBn(rng(6), { bias: true, group: 5, C: 5, M: 5 });
  const dwOut = applyPure(foldBatchNorm, dw);
  assert.deepEqual(ops(dwOut), ['Conv']);
  await assertSameOutputs(dw, dwOut, 7);
});

test('foldBatchNorm: a hand-computed fold', () => {
  // w: [2, 1, 1, 1] = [2, 3], b = [1, -1]; BN scale [1, 2], B [0, 1], mean [1, 0], var [3, 0], eps 1
  // mul = [1/2, 2], add = [-1/2, 1]  ->  w' = [1, 6], b' = [0, -1]
  const g = graph(
    [['x', [1, 1, 1, 1]]],
    ['y'],
    [n('conv', 'Conv', ['x', 'w', 'b'], ['c']), n('bn', 'BatchNormalization', ['c', 's', 'B', 'm', 'v'], ['y'], { epsilon: 1 })],
    {
      w: new Tensor([2, 1, 1, 1], [2, 3]),
      b: new Tensor([2], [1, -1]),
      s: new Tensor([2], [1, 2]),
      B: new Tensor([2], [0, 1]),
      m: new Tensor([2], [1, 0]),
      v: new Tensor([2], [3, 0]),
    },
  );
  const out = foldBatchNorm(g);
  const [, w, b] = out.nodes[0].inputs;
  assert.deepEqual([...out.initializers.get(w)!.data], [1, 6]);
  assert.deepEqual([...out.initializers.get(b)!.data], [0, -1]);
});

test('foldBatchNorm leaves BN alone when folding would be wrong', () => {
  const r = rng(8);
  const base = convBn(r, { bias: true });
  const variants: [string, Graph][] = [
    // the Conv output has a second reader
    ['conv output read twice', { ...base, outputs: ['y', 'z'], nodes: [...base.nodes, n('relu', 'Relu', ['c'], ['z'])] }],
    // the Conv output is a graph output
    ['conv output is a graph output', { ...base, outputs: ['y', 'c'] }],
    // a BN parameter is a graph input, or an initializer that can be fed as an input
    ['parameter is a graph input', { ...base, inputs: [...base.inputs, { name: 'bn_var', shape: [6] }], initializers: new Map([...base.initializers].filter(([k]) => k !== 'bn_var')) }],
    ['parameter overridable', { ...base, inputs: [...base.inputs, { name: 'bn_mean', shape: [6] }] }],
    ['weight overridable', { ...base, inputs: [...base.inputs, { name: 'w', shape: [6, 4, 3, 3] }] }],
    // the Conv already has an activation: BN(act(conv)) is not a conv
    ['conv has an activation', { ...base, nodes: [{ ...base.nodes[0], attrs: { ...base.nodes[0].attrs, activation: { op: 'Relu', attrs: {} } } }, base.nodes[1]] }],
    ['training mode', { ...base, nodes: [base.nodes[0], { ...base.nodes[1], attrs: { training_mode: 1 } }] }],
    ['not after a conv', { ...base, nodes: [n('relu', 'Relu', ['x'], ['c']), n('bn', 'BatchNormalization', bnInputs('c', 'bn'), ['y'])] }],
  ];
  for (const [what, g] of variants) {
    const out = applyPure(foldBatchNorm, g);
    assert.equal(out, g, what);
  }
});

test('foldBatchNorm: a weight shared by two Convs, and BN after BN', async () => {
  const r = rng(9);
  const g = graph(
    [['x', [1, 3, 6, 6]]],
    ['y1', 'y2'],
    [
      n('conv1', 'Conv', ['x', 'w', 'b'], ['c1'], { pads: [1, 1, 1, 1] }),
      n('bn1', 'BatchNormalization', bnInputs('c1', 'p'), ['y1']),
      n('conv2', 'Conv', ['x', 'w'], ['c2'], { strides: [2, 2] }),
      n('bn2', 'BatchNormalization', bnInputs('c2', 'q'), ['d2']),
      n('bn3', 'BatchNormalization', bnInputs('d2', 'p'), ['y2']),
    ],
    { w: randomTensor([4, 3, 3, 3], r), b: randomTensor([4], r), ...bnInits('p', 4, r), ...bnInits('q', 4, r) },
  );
  const out = applyPure(foldBatchNorm, g);
  assert.deepEqual(ops(out), ['Conv', 'Conv']);
  assert.notEqual(out.nodes[0].inputs[1], out.nodes[1].inputs[1]);
  // The intermediate weights of the double fold are not left behind.
  const dce = eliminateDeadNodes(out);
  assert.equal(out.initializers.size - dce.initializers.size, 2 + 8, 'only w, b and the BN parameters are dead');
  await assertSameOutputs(g, out, 10);
});

/** x -> Gemm(B, C?) -> BN -> y */
function gemmBn(r: () => number, attrs: RawAttrs, cShape: Shape | null): Graph {
  const [rows, K, N] = [3, 5, 4];
  const inits: Record<string, Tensor> = { B: randomTensor(attrs.transB ? [N, K] : [K, N], r), ...bnInits('bn', N, r) };
  if (cShape) inits.C = randomTensor(cShape, r);
  return graph(
    [['a', attrs.transA ? [K, rows] : [rows, K]]],
    ['y'],
    [n('gemm', 'Gemm', cShape ? ['a', 'B', 'C'] : ['a', 'B'], ['g'], attrs), n('bn', 'BatchNormalization', bnInputs('g', 'bn'), ['y'])],
    inits,
  );
}

test('foldBatchNorm folds BN into a Gemm: transB, alpha, beta, C of every broadcast shape or none', async () => {
  const r = rng(11);
  const cases: [RawAttrs, Shape | null][] = [
    [{}, [4]],
    [{ transB: 1 }, [4]],
    [{ transB: 1, transA: 1, alpha: 0.5, beta: 2 }, [1, 4]],
    [{ beta: -1.5 }, [3, 4]],
    [{ beta: 0.5 }, [3, 1]],
    [{}, []],
    [{ alpha: 2 }, null],
  ];
  for (const [i, [attrs, c]] of cases.entries()) {
    const g = gemmBn(r, attrs, c);
    const out = applyPure(foldBatchNorm, g);
    assert.deepEqual(ops(out), ['Gemm'], JSON.stringify(attrs));
    assert.equal(out.nodes[0].attrs.beta, 1);
    await assertSameOutputs(g, out, 20 + i);
  }
});

// ---- fuseActivations ----

test('fuseActivations merges every activation op into a Conv: structure and outputs', async () => {
  const attrsOf: Record<string, RawAttrs> = { LeakyRelu: { alpha: 0.3 }, Clip: { min: -0.5, max: 0.5 }, HardSigmoid: { alpha: 0.3, beta: 0.4 } };
  for (const op of Object.keys(UNARY)) {
    const r = rng(op.length);
    const g = graph(
      [['x', [1, 3, 5, 5]]],
      ['y'],
      [n('conv', 'Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }), n('act', op, ['c'], ['y'], attrsOf[op] ?? {})],
      { w: randomTensor([4, 3, 3, 3], r), b: randomTensor([4], r) },
    );
    const out = applyPure(fuseActivations, g);
    assert.deepEqual(ops(out), ['Conv'], op);
    assert.deepEqual(out.nodes[0].outputs, ['y']);
    assert.deepEqual(out.nodes[0].attrs.activation, { op, attrs: attrsOf[op] ?? {} });
    assert.deepEqual(out.nodes[0].attrs.pads, [1, 1, 1, 1]);
    // activations.ts's ops include steep ones (Cosh, Tan ...) that magnify the last-ulp
    // differences between the fused and the separate kernel's input.
    await assertSameOutputs(g, out, 30, op in ACTIVATIONS ? { atol: 1e-5, rtol: 1e-4 } : { atol: 1e-6, rtol: 1e-6 });
  }
});

test('unfuseActivations splits every fused activation off again: structure and outputs', async () => {
  const r = rng(5);
  const g = graph(
    [['x', [2, 3, 5, 5]]],
    ['y'],
    [
      n('conv', 'Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }),
      n('act', 'LeakyRelu', ['c'], ['a'], { alpha: 0.2 }),
      n('flat', 'Flatten', ['a'], ['f'], {}),
      n('fc', 'Gemm', ['f', 'w2'], ['g'], { transB: 1 }),
      n('act2', 'Sigmoid', ['g'], ['y'], {}),
    ],
    { w: randomTensor([4, 3, 3, 3], r), b: randomTensor([4], r), w2: randomTensor([3, 100], r) },
  );
  const fused = fuseActivations(g);
  assert.deepEqual(ops(fused), ['Conv', 'Flatten', 'Gemm']);
  const out = applyPure(unfuseActivations, fused);
  assert.deepEqual(ops(out), ['Conv', 'LeakyRelu', 'Flatten', 'Gemm', 'Sigmoid']);
  assert.ok(out.nodes.every((m) => m.attrs.activation === undefined));
  assert.deepEqual(out.nodes[1].attrs, { alpha: 0.2 });
  await assertSameOutputs(g, out, 30, { atol: 1e-6, rtol: 1e-6 });
  assert.equal(unfuseActivations(g), g, 'nothing fused: the same graph');
});

test('freeBatch: a Reshape that fixed the import-time batch copies it instead, so the graph runs at any batch', async () => {
  const r = rng(6);
  const g = graph(
    [['x', [1, 2, 3, 3]]],
    ['y', 't'],
    [
      n('conv', 'Conv', ['x', 'w'], ['c'], {}),
      n('flat', 'Reshape', ['c'], ['f'], { shape: [1, 4] }),
      n('fc', 'Gemm', ['f', 'w2'], ['y'], { transB: 1 }),
      // dim 0 of a transposed value is not the batch: its Reshape stays as it is (c is [1, 4, 1, 1]).
      n('tr', 'Transpose', ['c'], ['ct'], { perm: [1, 0, 2, 3] }),
      n('keep', 'Reshape', ['ct'], ['t'], { shape: [1, -1] }),
    ],
    { w: randomTensor([4, 2, 3, 3], r), w2: randomTensor([3, 4], r) },
  );
  const out = applyPure(freeBatch, g);
  assert.deepEqual(out.nodes[1].attrs.shape, [0, 4]);
  assert.deepEqual(out.nodes[4].attrs.shape, [1, -1]);
  await assertSameOutputs(g, out, 1, { atol: 0, rtol: 0 });
  // At batch 3 the freed graph gives each image what batch 1 gives it (the fixed one cannot run there).
  const fc = { ...out, outputs: ['y'], nodes: out.nodes.slice(0, 3) };
  const x = randomTensor([3, 2, 3, 3], r);
  const all = (await new CpuSession({ ...fc, inputs: [{ name: 'x', shape: [3, 2, 3, 3] }] }).run({ x })).y;
  for (let i = 0; i < 3; i++) {
    const one = (await new CpuSession(fc).run({ x: new Tensor([1, 2, 3, 3], x.data.slice(i * 18, (i + 1) * 18)) })).y;
    assertClose(new Tensor([1, 3], all.data.slice(i * 3, i * 3 + 3)), one, { atol: 1e-6 });
  }
  assert.equal(freeBatch(out), out, 'nothing left to free: the same graph');
});

test('fuseActivations into Gemm and MatMul', async () => {
  const r = rng(31);
  const g = graph(
    [['a', [3, 5]]],
    ['y', 'z'],
    [
      n('gemm', 'Gemm', ['a', 'B'], ['g'], { transB: 1 }),
      n('act1', 'LeakyRelu', ['g'], ['y'], { alpha: 0.1 }),
      n('mm', 'MatMul', ['a', 'M'], ['m']),
      n('act2', 'HardSwish', ['m'], ['z']),
    ],
    { B: randomTensor([4, 5], r), M: randomTensor([5, 2], r) },
  );
  const out = applyPure(fuseActivations, g);
  assert.deepEqual(ops(out), ['Gemm', 'MatMul']);
  assert.deepEqual(out.nodes[0].attrs, { transB: 1, activation: { op: 'LeakyRelu', attrs: { alpha: 0.1 } } });
  assert.deepEqual(out.nodes[1].attrs, { activation: { op: 'HardSwish', attrs: {} } });
  await assertSameOutputs(g, out, 32, { atol: 1e-6, rtol: 1e-6 });
});

test('fuseActivations into a residual Add (and any binary op)', async () => {
  const r = rng(36);
  const g = graph(
    [['x', [2, 3, 4, 4]]],
    ['y'],
    [n('conv', 'Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }), n('add', 'Add', ['c', 'x'], ['s']), n('relu', 'Relu', ['s'], ['y'])],
    { w: randomTensor([3, 3, 3, 3], r), b: randomTensor([3], r) },
  );
  const out = applyPure(fuseActivations, g);
  assert.deepEqual(ops(out), ['Conv', 'Add']);
  assert.deepEqual(out.nodes[1].attrs.activation, { op: 'Relu', attrs: {} });
  assert.deepEqual(out.nodes[1].outputs, ['y']);
  await assertSameOutputs(g, out, 37, { atol: 1e-6, rtol: 1e-6 });
  assert.deepEqual(ops(unfuseActivations(out)), ['Conv', 'Add', 'Relu']);
});

test('fuseActivations leaves activations it must not fuse', async () => {
  const r = rng(33);
  const w = randomTensor([2, 2, 1, 1], r);
  const cases: [string, Graph][] = [
    ['two readers', graph([['x', [1, 2, 3, 3]]], ['y', 'z'], [n('conv', 'Conv', ['x', 'w'], ['c']), n('relu', 'Relu', ['c'], ['y']), n('sig', 'Sigmoid', ['c'], ['z'])], { w })],
    ['graph output', graph([['x', [1, 2, 3, 3]]], ['y', 'c'], [n('conv', 'Conv', ['x', 'w'], ['c']), n('relu', 'Relu', ['c'], ['y'])], { w })],
    ['not a fusing producer', graph([['x', [1, 2, 3, 3]]], ['y'], [n('sig', 'Sigmoid', ['x'], ['c']), n('relu', 'Relu', ['c'], ['y'])])],
    ['an Add whose sum is read twice', graph([['x', [1, 2, 3, 3]]], ['y', 'z'], [n('add', 'Add', ['x', 'x'], ['c']), n('relu', 'Relu', ['c'], ['y']), n('neg', 'Neg', ['c'], ['z'])])],
    ['graph input', graph([['x', [1, 2, 3, 3]]], ['y'], [n('relu', 'Relu', ['x'], ['y'])])],
    ['Clip with min/max inputs', graph([['x', [1, 2, 3, 3]]], ['y'], [n('conv', 'Conv', ['x', 'w'], ['c']), n('clip', 'Clip', ['c', 'lo', 'hi'], ['y'])], { w, lo: new Tensor([], [0]), hi: new Tensor([], [6]) })],
    ['not an activation', graph([['x', [1, 2, 3, 3]]], ['y'], [n('conv', 'Conv', ['x', 'w'], ['c']), n('sm', 'Softmax', ['c'], ['y'])], { w })],
  ];
  for (const [what, g] of cases) assert.equal(applyPure(fuseActivations, g), g, what);
  // Conv -> Relu -> Sigmoid: the Relu fuses, the Sigmoid cannot follow it in.
  const chain = graph([['x', [1, 2, 3, 3]]], ['y'], [n('conv', 'Conv', ['x', 'w'], ['c']), n('relu', 'Relu', ['c'], ['r']), n('sig', 'Sigmoid', ['r'], ['y'])], { w });
  const out = applyPure(fuseActivations, chain);
  assert.deepEqual(ops(out), ['Conv', 'Sigmoid']);
  assert.deepEqual(out.nodes[0].outputs, ['r']);
  assert.deepEqual(out.nodes[0].attrs.activation, { op: 'Relu', attrs: {} });
  await assertSameOutputs(chain, out, 34, { atol: 1e-6, rtol: 1e-6 });
});

// ---- recognizeHardSwish ----

/** Conv -> c, then `tail` nodes computing y from c; the constants the spellings use. */
function hardSwishGraph(tail: Node[], extraOutputs: string[] = []): Graph {
  const r = rng(41);
  const k = (v: number) => new Tensor([1], [v]);
  return graph([['x', [2, 3, 6, 5]]], ['y', ...extraOutputs], [n('conv', 'Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }), ...tail], {
    w: randomTensor([4, 3, 3, 3], r),
    b: randomTensor([4], r),
    three: k(3),
    six: k(6),
    sixth: k(1 / 6),
    five: k(5),
    alsoThree: k(2.9),
  });
}
const relu6 = (x: string, three = 'three', clipAttrs: RawAttrs = { min: 0, max: 6 }) => [n('add', 'Add', [x, three], ['a']), n('clip', 'Clip', ['a'], ['h'], clipAttrs)];

test('recognizeHardSwish: every spelling of x * relu6(x + 3) / 6 becomes one HardSwish, fused into the Conv', async () => {
  const spellings: [string, Node[]][] = [
    ['Paddle: Add, Clip, Mul, Div', [...relu6('c'), n('mul', 'Mul', ['c', 'h'], ['m']), n('div', 'Div', ['m', 'six'], ['y'])]],
    ['operands swapped, Mul by 1/6', [n('add', 'Add', ['three', 'c'], ['a']), n('clip', 'Clip', ['a'], ['h'], { min: 0, max: 6 }), n('mul', 'Mul', ['h', 'c'], ['m']), n('div', 'Mul', ['sixth', 'm'], ['y'])]],
    ['division first', [...relu6('c'), n('div', 'Div', ['h', 'six'], ['s']), n('mul', 'Mul', ['s', 'c'], ['y'])]],
    ['x * HardSigmoid(x)', [n('sig', 'HardSigmoid', ['c'], ['s'], { alpha: 1 / 6, beta: 0.5 }), n('mul', 'Mul', ['c', 's'], ['y'])]],
  ];
  for (const [what, tail] of spellings) {
    const g = hardSwishGraph(tail);
    const out = applyPure(recognizeHardSwish, g);
    assert.deepEqual(ops(out), ['Conv', 'HardSwish'], what);
    assert.deepEqual(out.nodes[1].inputs, ['c'], what);
    assert.deepEqual(out.nodes[1].outputs, ['y'], what);
    await assertSameOutputs(g, out, 42, { atol: 1e-6, rtol: 1e-5 });
    const fused = optimizeGraph(g);
    assert.deepEqual(ops(fused), ['Conv'], what);
    assert.deepEqual(fused.nodes[0].attrs.activation, { op: 'HardSwish', attrs: {} }, what);
    assert.deepEqual([...fused.initializers.keys()].sort(), ['b', 'w'], `${what}: the pattern's constants are dropped`);
    await assertSameOutputs(g, fused, 43, { atol: 1e-6, rtol: 1e-5 });
  }
});

test('recognizeHardSwish leaves near misses alone', () => {
  const div = [n('mul', 'Mul', ['c', 'h'], ['m']), n('div', 'Div', ['m', 'six'], ['y'])];
  const cases: [string, Graph][] = [
    ['x + 2.9', hardSwishGraph([...relu6('c', 'alsoThree'), ...div])],
    ['Clip to 5', hardSwishGraph([...relu6('c', 'three', { min: 0, max: 5 }), ...div])],
    ['divided by 5', hardSwishGraph([...relu6('c'), n('mul', 'Mul', ['c', 'h'], ['m']), n('div', 'Div', ['m', 'five'], ['y'])])],
    ['division reversed (6 / m)', hardSwishGraph([...relu6('c'), n('mul', 'Mul', ['c', 'h'], ['m']), n('div', 'Div', ['six', 'm'], ['y'])])],
    ['the multiplier is not x', hardSwishGraph([...relu6('c'), n('mul', 'Mul', ['a', 'h'], ['m']), n('div', 'Div', ['m', 'six'], ['y'])])],
    ['relu6 is also a graph output', hardSwishGraph([...relu6('c'), ...div], ['h'])],
    ['HardSigmoid with the default alpha', hardSwishGraph([n('sig', 'HardSigmoid', ['c'], ['s']), n('mul', 'Mul', ['c', 's'], ['y'])])],
  ];
  for (const [what, g] of cases) assert.equal(applyPure(recognizeHardSwish, g), g, what);
});

// ---- eliminateDeadNodes ----

test('eliminateDeadNodes drops unread nodes transitively and unused initializers, keeps inputs', async () => {
  const r = rng(40);
  const g = graph(
    [['x', [1, 2, 4, 4]], ['unused', [3]]],
    ['y'],
    [
      n('relu', 'Relu', ['x'], ['a']),
      n('conv_dead', 'Conv', ['a', 'wd'], ['d1']),
      n('sig_dead', 'Sigmoid', ['d1'], ['d2']),
      n('conv', 'Conv', ['a', 'w', 'b'], ['y']),
    ],
    { w: randomTensor([2, 2, 1, 1], r), b: randomTensor([2], r), wd: randomTensor([2, 2, 1, 1], r), stray: randomTensor([2], r) },
  );
  const out = applyPure(eliminateDeadNodes, g);
  assert.deepEqual(out.nodes.map((x) => x.name), ['relu', 'conv']);
  assert.deepEqual([...out.initializers.keys()].sort(), ['b', 'w']);
  assert.deepEqual(out.inputs, g.inputs);
  await assertSameOutputs(g, out, 41, { atol: 0, rtol: 0 });
  // Nothing dead: the very same graph comes back.
  assert.equal(eliminateDeadNodes(out), out);
});

test('eliminateDeadNodes keeps a node one of whose outputs is read, and initializers that are outputs', () => {
  const g = graph(
    [['x', [4]]],
    ['b', 'k'],
    [n('split', 'Split', ['x'], ['a', 'b'], { axis: 0 }), n('dead', 'Relu', ['a'], ['z'])],
    { k: new Tensor([1], [5]) },
  );
  const out = applyPure(eliminateDeadNodes, g);
  assert.deepEqual(out.nodes.map((x) => x.name), ['split']);
  assert.deepEqual([...out.initializers.keys()], ['k']);
});

// ---- optimizeGraph ----

/** A small CNN with everything the passes handle, and a dead branch. */
function smallCnn(r: () => number): Graph {
  return graph(
    [['x', [2, 3, 9, 7]]],
    ['probs'],
    [
      n('conv1', 'Conv', ['x', 'w1', 'b1'], ['c1'], { pads: [1, 1, 1, 1] }),
      n('bn1', 'BatchNormalization', bnInputs('c1', 'bn1'), ['n1']),
      n('relu1', 'Relu', ['n1'], ['r1']),
      n('dead', 'Sigmoid', ['r1'], ['unused']),
      n('conv2', 'Conv', ['r1', 'w2'], ['c2'], { strides: [2, 2], pads: [0, 0, 1, 1], group: 2 }),
      n('bn2', 'BatchNormalization', bnInputs('c2', 'bn2'), ['n2'], { epsilon: 1e-3 }),
      n('act2', 'HardSwish', ['n2'], ['r2']),
      n('pool', 'GlobalAveragePool', ['r2'], ['p']),
      n('flat', 'Flatten', ['p'], ['f']),
      n('fc', 'Gemm', ['f', 'wf', 'bf'], ['g'], { transB: 1 }),
      n('bnf', 'BatchNormalization', bnInputs('g', 'bnf'), ['nf']),
      n('out', 'Sigmoid', ['nf'], ['probs']),
    ],
    {
      w1: randomTensor([8, 3, 3, 3], r),
      b1: randomTensor([8], r),
      w2: randomTensor([6, 4, 3, 3], r),
      wf: randomTensor([5, 6], r),
      bf: randomTensor([5], r),
      ...bnInits('bn1', 8, r),
      ...bnInits('bn2', 6, r),
      ...bnInits('bnf', 5, r),
      stray: randomTensor([3], r),
    },
  );
}

test('optimizeGraph: Conv+BN+act, Gemm+BN+act, dead code; same outputs as the original', async () => {
  const g = smallCnn(rng(50));
  const out = applyPure(optimizeGraph, g);
  assert.deepEqual(ops(out), ['Conv', 'Conv', 'GlobalAveragePool', 'Flatten', 'Gemm']);
  assert.deepEqual(out.nodes.map((x) => (x.attrs.activation as { op: string } | undefined)?.op), ['Relu', 'HardSwish', undefined, undefined, 'Sigmoid']);
  // Only the folded weights remain: two per folded producer.
  assert.equal(out.initializers.size, 6);
  for (const x of out.nodes) for (const v of x.inputs) assert.ok(out.initializers.has(v) || out.nodes.some((p) => p.outputs.includes(v)) || v === 'x', v);
  await assertSameOutputs(g, out, 51);
});

test('optimizeGraph with pass-throughs in the way gives the same outputs', async () => {
  const base = smallCnn(rng(52));
  // conv1 -> Identity -> bn1, and bn2 -> Dropout -> act2, and the output through an Identity.
  const nodes = base.nodes.flatMap((x): Node[] => {
    if (x.name === 'conv1') return [{ ...x, outputs: ['c1i'] }, n('id1', 'Identity', ['c1i'], ['c1'])];
    if (x.name === 'bn2') return [{ ...x, outputs: ['n2d'] }, n('drop', 'Dropout', ['n2d'], ['n2'])];
    if (x.name === 'out') return [{ ...x, outputs: ['pr'] }, n('idout', 'Identity', ['pr'], ['probs'])];
    return [x];
  });
  const g = { ...base, nodes };
  const out = applyPure(optimizeGraph, g);
  assert.deepEqual(ops(out), ['Conv', 'Conv', 'GlobalAveragePool', 'Flatten', 'Gemm']);
  assert.deepEqual(out.nodes[4].outputs, ['probs']);
  await assertSameOutputs(g, out, 53);
});

test('optimizeGraph: the optimized graph on WebGPU matches the original on the CPU', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const g = smallCnn(rng(54));
  const out = optimizeGraph(g);
  const x = randomTensor([2, 3, 9, 7], rng(55), -2, 2);
  const want = (await new CpuSession(g).run({ x })).probs;
  const s = new GpuSession(gpu!, out);
  try {
    assertClose((await s.run({ x })).probs, want, { atol: 1e-5, rtol: 1e-4 }, 'probs');
  } finally {
    s.dispose();
  }
});
