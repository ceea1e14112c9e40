// Packed values in graphs (Graph.formats): the CPU reference computes with the rounded values,
// the planner sizes packed buffers as their words, WebGPU runs whole graphs with packed weights
// and activations (conv -> conv -> depthwise -> flatten view -> gemm -> gemm, and LeNet-5) under
// every GEMM variant against the CPU, and sessions refuse what the ops cannot do, with errors
// that name the value and the reason.
//
// Tolerance of the whole graphs: atol 2e-3 + rtol 1e-2. Both backends compute with the same
// rounded values; they differ by f32 summation order, and where an activation lands within that
// error of a rounding boundary of its format, by one unit in its last place (bf16: 2^-7), which
// the next layers carry on at a similar relative size.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORMATS, FormatError, quantize, storageBytes } from '../../src/formats/format.js';
import { valueFormats } from '../../src/formats/values.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import type { Graph } from '../../src/graph/ir.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { planBuffers } from '../../src/graph/planner.js';
import { CpuSession, GpuSession, type SessionOptions } from '../../src/graph/session.js';
import { GraphError, inferShapes } from '../../src/graph/shapes.js';
import { packableValues } from '../../src/ndf/pack.js';
import { getOp } from '../../src/ops/registry.js';
import { Tensor } from '../../src/tensor.js';
import { lenet5 } from '../../src/zoo/lenet.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const skip = !gpu && 'no WebGPU adapter';

const withFormats = (g: Graph, f: Record<string, string>): Graph => ({ ...g, formats: new Map(Object.entries(f)) });

/**
 * x [2, 3, 8, 8] -> conv 3x3 pad 1 relu (6 ch) -> conv 1x1 (8 ch) -> depthwise 3x3 pad 1 ->
 * flatten -> gemm 512->12 relu -> gemm 12->5. Every conv/gemm output but the last can be packed.
 */
function smallNet(seed = 7, compacted = false): Graph {
  const r = rng(seed);
  const b = new GraphBuilder();
  const c = (t: Tensor, name: string) => b.constant(t, name);
  const relu = { op: 'Relu', attrs: {} };
  let x = b.input('x', [2, 3, 8, 8]);
  // compacted (synapse vector elimination): conv1 keeps 13 of its 27 rows, fc4 301 of its 512.
  const kept = (K: number, n: number) => Array.from({ length: n }, (_, i) => Math.floor((i * K) / n));
  x = compacted
    ? b.node('Conv', [x, c(randomTensor([6, 13], r), 'w1'), c(randomTensor([6], r), 'b1')], { pads: [1, 1, 1, 1], kernel_shape: [3, 3], kept_rows: kept(27, 13), activation: relu }, 'conv1')
    : b.node('Conv', [x, c(randomTensor([6, 3, 3, 3], r), 'w1'), c(randomTensor([6], r), 'b1')], { pads: [1, 1, 1, 1], activation: relu }, 'conv1');
  x = b.node('Conv', [x, c(randomTensor([8, 6, 1, 1], r), 'w2')], {}, 'conv2');
  x = b.node('Conv', [x, c(randomTensor([8, 1, 3, 3], r), 'w3'), c(randomTensor([8], r), 'b3')], { group: 8, pads: [1, 1, 1, 1] }, 'dw3');
  x = b.node('Flatten', [x], { axis: 1 }, 'flat');
  x = compacted
    ? b.node('Gemm', [x, c(randomTensor([301, 12], r, -0.1, 0.1), 'w4'), c(randomTensor([12], r), 'b4')], { kept_rows: kept(512, 301), activation: relu }, 'fc4')
    : b.node('Gemm', [x, c(randomTensor([512, 12], r, -0.1, 0.1), 'w4'), c(randomTensor([12], r), 'b4')], { activation: relu }, 'fc4');
  x = b.node('Gemm', [x, c(randomTensor([5, 12], r), 'w5')], { transB: 1 }, 'fc5');
  return b.output(x).build();
}

const SMALL_FORMATS = {
  w1: 'e4m3',
  b1: 'bf16',
  conv1_out: 'bf16',
  w2: 'e5m2',
  conv2_out: 'e6m5',
  w3: 'fp16',
  b3: 'e4m3',
  dw3_out: 'bf16',
  w4: 'e4m3',
  b4: 'fp32',
  fc4_out: 'bf16',
  w5: 'e6m5',
};

test('the CPU reference computes with the rounded values of packed weights and activations', async () => {
  const g = smallNet();
  const packed = withFormats(g, SMALL_FORMATS);
  const x = randomTensor([2, 3, 8, 8], rng(1));
  const got = (await new CpuSession(packed).run({ x }))[g.outputs[0]];
  // By hand: every packed initializer rounded, then every node on the CPU, packed outputs rounded.
  const values = new Map<string, Tensor>([['x', x]]);
  const fmt = (v: string) => (SMALL_FORMATS as Record<string, string>)[v] as keyof typeof FORMATS | undefined;
  const round = (v: string, t: Tensor) => (fmt(v) ? new Tensor(t.shape, quantize(FORMATS[fmt(v)!], t.data)) : t);
  for (const [n, t] of g.initializers) values.set(n, round(n, t));
  for (const r of inferShapes(g).nodes) {
    const [out] = r.op.cpu(r.node.inputs.map((v) => values.get(v)!), r.attrs);
    values.set(r.node.outputs[0], round(r.node.outputs[0], out));
  }
  assert.deepEqual([...got.data], [...values.get(g.outputs[0])!.data]);
  // And rounding changes the result (the test would notice a session that ignores formats).
  const plain = (await new CpuSession(g).run({ x }))[g.outputs[0]];
  assert.notDeepEqual([...plain.data], [...got.data]);
});

test('views of a packed value are packed in its format; the planner sizes packed buffers as words', () => {
  const g = withFormats(smallNet(), SMALL_FORMATS);
  const ig = inferShapes(g);
  const f = valueFormats(ig);
  assert.equal(f.get('flat_out'), FORMATS.bf16); // Flatten of dw3_out
  assert.equal(f.get('b4'), undefined); // fp32 is float32
  const isView = (i: number) => ig.nodes[i].node.op === 'Flatten';
  const plain = planBuffers(inferShapes(smallNet()), isView);
  const packed = planBuffers(ig, isView, [], f);
  // conv1_out: 2*6*64 bf16 values -> 768 values / 2 per word * 4 bytes.
  assert.equal(storageBytes(FORMATS.bf16, 768), 1536);
  assert.equal(packed.slotBytes[packed.slotOf.get('conv1_out')!] >= 1536, true);
  assert.ok(Math.max(...packed.slotBytes) < Math.max(...plain.slotBytes), 'packed slots are smaller');
  assert.equal(packed.slotBytes.reduce((s, b) => s + b, 0) < plain.slotBytes.reduce((s, b) => s + b, 0), true);
});

test('packable values: weights of Conv/Gemm, activations whose rows are whole words, not graph outputs', () => {
  const g = smallNet();
  const bf = packableValues(g, FORMATS.bf16);
  assert.deepEqual(bf.weights.sort(), ['b1', 'b3', 'b4', 'w1', 'w2', 'w3', 'w4', 'w5']);
  assert.deepEqual(bf.activations.sort(), ['conv1_out', 'conv2_out', 'dw3_out', 'fc4_out']);
  // fc4's rows hold 12 values: 3 words of e4m3; LeNet's pools cannot read packed values.
  assert.ok(packableValues(g, FORMATS.e4m3).activations.includes('fc4_out'));
  const lenet = optimizeGraph(lenet5({ batch: 2 }));
  const acts = packableValues(lenet, FORMATS.bf16).activations;
  assert.equal(acts.length, 2, `only the two hidden Gemm outputs: ${acts}`);
});

const VARIANTS: [string, SessionOptions][] = [
  ['registers staging', {}],
  ['workgroup staging, packed in workgroup memory', { kernel: { softwareAdapter: false, fission: 'compute' } }],
  ['workgroup staging, split at the load', { kernel: { softwareAdapter: false, fission: 'load' } }],
];

for (const [name, opts] of VARIANTS) {
  test(`a conv/depthwise/gemm graph with packed weights and activations: WebGPU (${name}) = CPU`, { skip }, async () => {
    const packed = withFormats(smallNet(), SMALL_FORMATS);
    const x = randomTensor([2, 3, 8, 8], rng(2));
    const want = (await new CpuSession(packed).run({ x }))[packed.outputs[0]];
    const s = new GpuSession(gpu!, packed, opts);
    try {
      const got = (await s.run({ x }))[packed.outputs[0]];
      assertClose(got, want, { atol: 2e-3, rtol: 1e-2 }, name);
      // The rounding shows: the float32 graph's result is outside that tolerance.
      const plain = (await new CpuSession(smallNet()).run({ x }))[packed.outputs[0]];
      assert.throws(() => assertClose(got, plain, { atol: 2e-3, rtol: 1e-2 }), /mismatch/);
      // Packed initializers read back as their rounded values.
      const { w1 } = await s.read(['w1']);
      assert.deepEqual([...w1.data], [...quantize(FORMATS.e4m3, packed.initializers.get('w1')!.data)]);
    } finally {
      s.dispose();
    }
  });
}

test('compacted layers (kept_rows) with packed weights and activations: WebGPU (both stagings) = CPU', { skip }, async () => {
  const packed = withFormats(smallNet(9, true), SMALL_FORMATS);
  const x = randomTensor([2, 3, 8, 8], rng(3));
  const want = (await new CpuSession(packed).run({ x }))[packed.outputs[0]];
  for (const [name, opts] of VARIANTS) {
    const s = new GpuSession(gpu!, packed, opts);
    try {
      assertClose((await s.run({ x }))[packed.outputs[0]], want, { atol: 2e-3, rtol: 1e-2 }, `compacted, ${name}`);
    } finally {
      s.dispose();
    }
  }
});

test('LeNet-5 with every Conv/Gemm weight and the hidden activations packed: WebGPU = CPU', { skip }, async () => {
  const base = optimizeGraph(lenet5({ batch: 2, seed: 3 }));
  // Random biases, so that packing them matters.
  const r = rng(5);
  const inits = new Map([...base.initializers].map(([n, t]) => [n, t.shape.length === 1 ? randomTensor(t.shape, r, -0.1, 0.1) : t]));
  const g: Graph = { ...base, initializers: inits };
  const { weights, activations } = packableValues(g, FORMATS.e4m3);
  assert.equal(weights.length, 10);
  const formats: Record<string, string> = Object.fromEntries([...weights.map((w) => [w, 'e4m3']), ...packableValues(g, FORMATS.bf16).activations.map((v) => [v, 'bf16'])]);
  assert.equal(activations.length, 2, 'the hidden Gemm outputs (rows of 120 and 84: whole e4m3 words)');
  const packed = withFormats(g, formats);
  const x = randomTensor([2, 1, 28, 28], rng(6), 0, 1);
  const want = (await new CpuSession(packed).run({ input: x }))[g.outputs[0]];
  for (const [name, opts] of [VARIANTS[0], VARIANTS[1]]) {
    const s = new GpuSession(gpu!, packed, opts);
    try {
      assertClose((await s.run({ input: x }))[g.outputs[0]], want, { atol: 2e-3, rtol: 1e-2 }, `LeNet, ${name}`);
    } finally {
      s.dispose();
    }
  }
});

test('sessions refuse formats the graph cannot hold, naming the value and why', () => {
  const g = smallNet();
  const refuse = (f: Record<string, string>, re: RegExp, type: new (...a: never[]) => Error = GraphError) => {
    assert.throws(() => new CpuSession(withFormats(g, f)), (e: Error) => e instanceof type && re.test(e.message), JSON.stringify(f));
  };
  refuse({ w1: 'bf17' }, /unknown format 'bf17' \(presets: fp32, bf16/, FormatError);
  refuse({ nope: 'bf16' }, /'nope' is not a value or initializer of this graph/);
  refuse({ x: 'bf16' }, /graph input 'x' cannot be packed/);
  refuse({ fc5_out: 'bf16' }, /graph output 'fc5_out' cannot be packed/);
  refuse({ dw3_out: 'bf16', flat_out: 'e4m3' }, /'flat_out' is a view \(Flatten 'flat'\) of 'dw3_out', which is packed in bf16; it cannot be e4m3/);
  // fp32 is float32: allowed anywhere, even on an output.
  assert.doesNotThrow(() => new CpuSession(withFormats(g, { fc5_out: 'fp32', x: 'fp32' })));

  // A view of a packed value that is a graph output.
  const b = new GraphBuilder();
  const y = b.node('Conv', [b.input('x', [1, 2, 4, 4]), b.constant(randomTensor([2, 2, 1, 1], rng(1)), 'w')], {}, 'conv');
  const viewOut = b.output(b.node('Flatten', [y], { axis: 1 }, 'flat')).build();
  assert.throws(() => new CpuSession(withFormats(viewOut, { conv_out: 'bf16' })), /graph output 'flat_out' would be packed in bf16: it is a view \(Flatten\) of packed 'conv_out'/);

  // Ops that cannot read or write packed values.
  const lenet = lenet5({ batch: 1 }); // unfused: Conv -> Relu -> MaxPool
  const [conv0, relu0] = lenet.nodes;
  assert.throws(() => new CpuSession(withFormats(lenet, { [conv0.outputs[0]]: 'bf16' })), new RegExp(`node '${relu0.name}' \\(Relu\\) cannot read its input 0 \\('${conv0.outputs[0]}'\\) packed in bf16`));
  assert.throws(() => new CpuSession(withFormats(lenet, { [relu0.outputs[0]]: 'bf16' })), /\(Relu\) cannot pack its output '.*' in bf16: Relu's kernels store float32 only/);
  // A conv whose output planes (3x3) are not whole words.
  const odd = new GraphBuilder();
  const c1 = odd.node('Conv', [odd.input('x', [1, 2, 5, 5]), odd.constant(randomTensor([3, 2, 3, 3], rng(2)), 'w1')], {}, 'c1');
  const oddNet = odd.output(odd.node('Conv', [c1, odd.constant(randomTensor([2, 3, 1, 1], rng(3)), 'w2')], {}, 'c2')).build();
  assert.throws(() => new CpuSession(withFormats(oddNet, { c1_out: 'e4m3' })), /node 'c1' \(Conv\) cannot pack its output 'c1_out' in e4m3: an output channel plane of 9 values is not a whole number of e4m3 words/);
  assert.doesNotThrow(() => new CpuSession(withFormats(oddNet, { w1: 'e4m3', w2: 'e5m2' })));

  // Training state stays float32.
  const st = new GraphBuilder();
  st.node('Gemm', [st.input('x', [2, 3]), st.constant(randomTensor([3, 4], rng(4)), 'w')], {}, 'fc');
  const eye = new Tensor([4, 4], new Float32Array(16).map((_, i) => (i % 5 === 0 ? 1 : 0)));
  st.node('Gemm', ['w', st.constant(eye, 'eye')], {}, 'upd'); // reads w packed: allowed, but w is state
  const stateGraph = st.output('fc_out').output('upd_out').build();
  assert.throws(() => new CpuSession(withFormats(stateGraph, { w: 'bf16' }), { state: [['w', 'upd_out']] }), /state 'w' \(updated from 'upd_out'\) cannot be packed/);
});

test('GpuSession refuses the same graphs as the CPU', { skip }, () => {
  const lenet = lenet5({ batch: 1 });
  assert.throws(() => new GpuSession(gpu!, withFormats(lenet, { [lenet.nodes[0].outputs[0]]: 'bf16' })), /cannot read its input 0/);
  assert.throws(() => new GpuSession(gpu!, withFormats(lenet, { input: 'e4m3' })), /graph input 'input' cannot be packed/);
});

test('every op that declares packed inputs lists valid input indices', () => {
  for (const op of ['Conv', 'Gemm']) {
    const d = getOp(op);
    assert.ok(d.packed && d.packed.inputs.every((i) => i >= 0 && i < d.arity[1]), op);
  }
});
