// graph/fusion.ts: affine folding, epilogue chains and their undoing. Every optimised graph is
// run against the original on the CPU reference (and on WebGPU when there is an adapter), on
// random weights and odd sizes; the unfused graph must compute the same again, op by op.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { Graph, Node } from '../../src/graph/ir.js';
import { foldAffine, fuseEpilogues, unfuseEpilogues } from '../../src/graph/fusion.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { exportOnnx } from '../../src/onnx/export.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const TOL = { atol: 1e-5, rtol: 1e-4 };

const n = (name: string, op: string, inputs: string[], outputs: string[], attrs: RawAttrs = {}): Node => ({ name, op, inputs, outputs, attrs });
const graph = (inputs: [string, Shape][], outputs: string[], nodes: Node[], inits: Record<string, Tensor>): Graph => ({
  inputs: inputs.map(([name, shape]) => ({ name, shape })),
  outputs,
  nodes,
  initializers: new Map(Object.entries(inits)),
});
const ops = (g: Graph) => g.nodes.map((x) => x.op);
const scalar = (v: number) => new Tensor([1], [v]);

/** The optimised graph against the original (CPU), on WebGPU too, and the unfused graph again. */
async function assertSame(original: Graph, optimized: Graph, seed: number): Promise<void> {
  const r = rng(seed);
  const feeds = Object.fromEntries(original.inputs.map((v) => [v.name, randomTensor(v.shape, r, -2, 2)]));
  const want = await new CpuSession(original).run(feeds);
  const got = await new CpuSession(optimized).run(feeds);
  const unfused = unfuseEpilogues(optimized);
  assert.ok(!unfused.nodes.some((x) => x.attrs.epilogue || x.attrs.activation), 'unfused graph has no chains');
  const again = await new CpuSession(unfused).run(feeds);
  for (const o of original.outputs) {
    assertClose(got[o], want[o], TOL, `output '${o}' (cpu)`);
    assertClose(again[o], want[o], TOL, `output '${o}' (unfused)`);
  }
  if (gpu) {
    const s = new GpuSession(gpu, optimized);
    try {
      const g = await s.run(feeds);
      for (const o of original.outputs) assertClose(g[o], want[o], TOL, `output '${o}' (webgpu)`);
    } finally {
      s.dispose();
    }
  }
}

/** PP-LCNetV3's learnable affine block after a conv, then a residual Add and a Relu. */
function affineBlock(r: () => number, o: { C: number; M: number; H: number; W: number; k: number; group: number; bias: boolean }): Graph {
  const { C, M, H, W, k, group } = o;
  const pad = (k - 1) / 2;
  return graph(
    [
      ['x', [1, C, H, W]],
      ['skip', [1, M, H, W]],
    ],
    ['y'],
    [
      n('conv', 'Conv', ['x', 'w', ...(o.bias ? ['b'] : [])], ['c'], { group, pads: [pad, pad, pad, pad] }),
      n('m1', 'Mul', ['s1', 'c'], ['c1']),
      n('a1', 'Add', ['c1', 's2'], ['c2']),
      n('hs', 'HardSwish', ['c2'], ['c3']),
      n('m2', 'Mul', ['c3', 's3'], ['c4']),
      n('a2', 'Add', ['c4', 's4'], ['c5']),
      n('res', 'Add', ['skip', 'c5'], ['c6']),
      n('relu', 'Relu', ['c6'], ['y']),
    ],
    {
      w: randomTensor([M, C / group, k, k], r),
      ...(o.bias ? { b: randomTensor([M], r) } : {}),
      s1: scalar(1 + r()),
      s2: scalar(r() - 0.5),
      s3: scalar(r() + 0.2),
      s4: scalar(r() - 0.5),
    },
  );
}

test('a learnable affine block and a residual Add + Relu become one Conv (dense, depthwise, with and without bias)', async () => {
  const cases = [
    { C: 3, M: 5, H: 7, W: 9, k: 3, group: 1, bias: true },
    { C: 6, M: 6, H: 5, W: 11, k: 3, group: 6, bias: false },
    { C: 5, M: 7, H: 6, W: 6, k: 1, group: 1, bias: false },
  ];
  for (const [i, c] of cases.entries()) {
    const g = affineBlock(rng(10 + i), c);
    const out = optimizeGraph(g);
    assert.deepEqual(ops(out), ['Conv'], `case ${i}`);
    const chain = out.nodes[0].attrs.epilogue as { op: string }[];
    assert.deepEqual(chain.map((s) => s.op), ['HardSwish', 'Mul', 'Add', 'Add', 'Relu'], 'Mul/Add before HardSwish folded, the rest chained');
    await assertSame(g, out, 20 + i);
  }
});

test('foldAffine: per-channel and scalar Mul/Add/Sub/Div after Conv, ConvTranspose, Gemm and MatMul, either operand order', async () => {
  const r = rng(31);
  // Conv -> Sub(c - y) per channel [1, M, 1, 1] -> Div(y / s) [M, 1, 1]
  const conv = graph([['x', [2, 3, 5, 7]]], ['y'], [n('conv', 'Conv', ['x', 'w', 'b'], ['c']), n('sub', 'Sub', ['k', 'c'], ['d']), n('div', 'Div', ['d', 's'], ['y'])], {
    w: randomTensor([4, 3, 3, 3], r),
    b: randomTensor([4], r),
    k: randomTensor([1, 4, 1, 1], r),
    s: randomTensor([4, 1, 1], r, 0.5, 2),
  });
  const cf = foldAffine(conv);
  assert.deepEqual(ops(cf), ['Conv']);
  await assertSame(conv, cf, 32);
  // ConvTranspose (groups) -> Mul per channel -> Add scalar
  const ct = graph([['x', [1, 4, 3, 5]]], ['y'], [n('ct', 'ConvTranspose', ['x', 'w', 'b'], ['c'], { group: 2, strides: [2, 2] }), n('mul', 'Mul', ['c', 'm'], ['d']), n('add', 'Add', ['t', 'd'], ['y'])], {
    w: randomTensor([4, 3, 2, 2], r),
    b: randomTensor([6], r),
    m: randomTensor([1, 6, 1, 1], r),
    t: scalar(0.3),
  });
  const ctf = foldAffine(ct);
  assert.deepEqual(ops(ctf), ['ConvTranspose']);
  await assertSame(ct, ctf, 33);
  // Gemm (transB) -> Mul [N] -> Sub scalar; MatMul -> Mul [N] folds, MatMul -> Add does not (no bias).
  const gm = graph(
    [['a', [3, 5]]],
    ['y', 'z'],
    [
      n('gemm', 'Gemm', ['a', 'B', 'C'], ['g'], { transB: 1, beta: 0.5 }),
      n('mul', 'Mul', ['g', 'm'], ['h']),
      n('sub', 'Sub', ['h', 'k'], ['y']),
      n('mm', 'MatMul', ['a', 'B2'], ['p']),
      n('mul2', 'Mul', ['p', 'm'], ['q']),
      n('add2', 'Add', ['q', 'm'], ['z']),
    ],
    { B: randomTensor([7, 5], r), C: randomTensor([7], r), m: randomTensor([7], r), k: scalar(-0.2), B2: randomTensor([5, 7], r) },
  );
  const gf = foldAffine(gm);
  assert.deepEqual(ops(gf), ['Gemm', 'MatMul', 'Add']);
  await assertSame(gm, gf, 34);
});

test('foldAffine: a per-channel Mul in front of a padded Conv folds into its weights; an Add in front does not', async () => {
  const r = rng(41);
  const g = graph(
    [['x', [1, 4, 6, 5]]],
    ['y', 'z'],
    [
      n('mul', 'Mul', ['x', 's'], ['xs']),
      n('conv', 'Conv', ['xs', 'w', 'b'], ['y'], { pads: [1, 1, 1, 1], group: 2 }),
      n('add', 'Add', ['x', 't'], ['xt']),
      n('conv2', 'Conv', ['xt', 'w2'], ['z'], { pads: [1, 1, 1, 1] }),
    ],
    { s: randomTensor([1, 4, 1, 1], r), w: randomTensor([6, 2, 3, 3], r), b: randomTensor([6], r), t: randomTensor([1, 4, 1, 1], r), w2: randomTensor([3, 4, 3, 3], r) },
  );
  const out = foldAffine(g);
  assert.deepEqual(ops(out), ['Conv', 'Add', 'Conv']);
  await assertSame(g, out, 42);
});

test('fuseEpilogues: x·sigmoid(x) after a Conv, a standalone chain after a binary op, per-channel operands, a graph output stops a chain', async () => {
  const r = rng(51);
  const g = graph(
    [
      ['x', [2, 3, 5, 6]],
      ['u', [2, 4, 5, 6]],
    ],
    ['y', 'v'],
    [
      n('conv', 'Conv', ['x', 'w', 'b'], ['c'], { pads: [1, 1, 1, 1] }),
      n('sig', 'Sigmoid', ['c'], ['s']),
      n('silu', 'Mul', ['c', 's'], ['y']),
      n('add', 'Add', ['u', 'k'], ['a']), // a broadcast head
      n('mul', 'Mul', ['a', 'pc'], ['a2']), // per channel
      n('tanh', 'Tanh', ['a2'], ['v']),
    ],
    { w: randomTensor([4, 3, 3, 3], r), b: randomTensor([4], r), k: randomTensor([1, 4, 1, 6], r), pc: randomTensor([1, 4, 1, 1], r) },
  );
  const out = fuseEpilogues(g);
  assert.deepEqual(ops(out), ['Conv', 'Add']);
  await assertSame(g, out, 52);
  // The Conv's output is a graph output too: nothing fuses into it.
  const kept = fuseEpilogues({ ...g, outputs: ['y', 'v', 'c'] });
  assert.deepEqual(ops(kept).slice(0, 3), ['Conv', 'Sigmoid', 'Mul']);
});

test('a fused graph exports to ONNX as one node per op and onnxruntime agrees', async () => {
  const g = affineBlock(rng(61), { C: 3, M: 4, H: 5, W: 7, k: 3, group: 1, bias: true });
  const out = optimizeGraph(g);
  const bytes = exportOnnx(out);
  const r = rng(62);
  const feeds = { x: randomTensor([1, 3, 5, 7], r), skip: randomTensor([1, 4, 5, 7], r) };
  const want = (await new CpuSession(g).run(feeds)).y;
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const res = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.data, [...t.shape])])));
    assertClose(new Tensor(want.shape, Float32Array.from(res.y.data as Float32Array)), want, TOL, 'onnxruntime on the export');
  } finally {
    await s.release();
  }
});

test('packed values flow through fused chains: a residual operand and the chain outputs stored in bf16, weights in e4m3 (WebGPU = CPU)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const r = rng(71);
  const g = graph(
    [['x', [1, 4, 6, 8]]],
    ['y'],
    [
      n('c1', 'Conv', ['x', 'w1', 'bias1'], ['a0'], { pads: [1, 1, 1, 1] }),
      n('h1', 'HardSwish', ['a0'], ['a1']),
      n('m1', 'Mul', ['a1', 's1'], ['a']),
      n('c2', 'Conv', ['a', 'w2', 'bias2'], ['b0'], { group: 4, pads: [1, 1, 1, 1] }),
      n('res', 'Add', ['b0', 'a'], ['r1']),
      n('relu', 'Relu', ['r1'], ['b']),
      n('c3', 'Conv', ['b', 'w3', 'bias3'], ['y']),
    ],
    { w1: randomTensor([4, 4, 3, 3], r), bias1: randomTensor([4], r), s1: scalar(0.7), w2: randomTensor([4, 1, 3, 3], r), bias2: randomTensor([4], r), w3: randomTensor([3, 4, 1, 1], r), bias3: randomTensor([3], r) },
  );
  const fused = optimizeGraph(g);
  assert.deepEqual(ops(fused), ['Conv', 'Conv', 'Conv']);
  const { packableValues } = await import('../../src/ndf/pack.js');
  const { FORMATS } = await import('../../src/formats/format.js');
  const acts = packableValues(fused, FORMATS.bf16).activations;
  assert.ok(acts.includes('a') && acts.includes('b'), `the chains' outputs can be packed (got ${acts})`);
  const formats = new Map<string, string>([...packableValues(fused, FORMATS.e4m3).weights.map((w) => [w, 'e4m3'] as [string, string]), ...acts.map((v) => [v, 'bf16'] as [string, string])]);
  const packed: Graph = { ...fused, formats };
  const x = randomTensor([1, 4, 6, 8], rng(72));
  const want = (await new CpuSession(packed).run({ x })).y;
  for (const kernel of [{}, { softwareAdapter: false, fission: 'compute' as const }]) {
    const s = new GpuSession(gpu!, packed, { kernel });
    try {
      assertClose((await s.run({ x })).y, want, { atol: 2e-3, rtol: 1e-2 }, `packed, ${JSON.stringify(kernel)}`);
    } finally {
      s.dispose();
    }
  }
});

test('squeeze-excite: the gate becomes a prologue of the pointwise Conv after it; SiLU on the squeezed vector stays a chain', async () => {
  const r = rng(81);
  const g = graph(
    [['x', [2, 6, 5, 7]]],
    ['y'],
    [
      n('dw', 'Conv', ['x', 'wd', 'bd'], ['d0'], { group: 6, pads: [1, 1, 1, 1] }),
      n('ds', 'Sigmoid', ['d0'], ['d1']),
      n('dm', 'Mul', ['d0', 'd1'], ['d']),
      n('gap', 'GlobalAveragePool', ['d'], ['p']),
      n('sq', 'Conv', ['p', 'w1', 'b1'], ['q0']),
      n('qs', 'Sigmoid', ['q0'], ['q1']),
      n('qm', 'Mul', ['q0', 'q1'], ['q']),
      n('ex', 'Conv', ['q', 'w2', 'b2'], ['e0']),
      n('es', 'Sigmoid', ['e0'], ['gate']),
      n('se', 'Mul', ['d', 'gate'], ['s']),
      n('proj', 'Conv', ['s', 'w3'], ['y']),
    ],
    { wd: randomTensor([6, 1, 3, 3], r), bd: randomTensor([6], r), w1: randomTensor([3, 6, 1, 1], r), b1: randomTensor([3], r), w2: randomTensor([6, 3, 1, 1], r), b2: randomTensor([6], r), w3: randomTensor([4, 6, 1, 1], r) },
  );
  const out = optimizeGraph(g);
  assert.deepEqual(ops(out), ['Conv', 'GlobalAveragePool', 'Conv', 'Conv', 'Conv']);
  assert.equal(out.nodes[4].attrs.input_scale, 3, 'the projection reads the gate as its input scale');
  await assertSame(g, out, 82);
});
