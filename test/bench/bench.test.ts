// The benchmark plumbing that numbers depend on: the batch rewrite of the zoo files, the
// agreement measures, the roofline's classification, the peak microbenchmarks, and the tfjs
// translation of inference graphs (checked against deftnn's CPU reference). No timing is asserted.
// The GPU bundle itself is checked end to end by scripts/check-bundle.sh (minutes on lavapipe).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { benchModels, classifierInputs, maxAbsDiff, symbolicBatch, top1Agreement } from '../../bench/models.js';
import { classifierSet } from '../../src/data/ocr-sets.js';
import { tfjsWebgpu } from '../../bench/peers.js';
import { layerPoint, measurePeaks, type Peaks } from '../../bench/roofline.js';
import { nchwToNhwc, tfjsGraph } from '../../bench/tfjs-graph.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { load } from '../../src/model.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const lenet = benchModels().find((m) => m.name === 'lenet5');

test('agreement measures: hand-computed values', () => {
  assert.equal(maxAbsDiff(new Float32Array([1, 2, 3]), new Float32Array([1, 2.5, 2])), 1);
  assert.ok(Number.isNaN(maxAbsDiff(new Float32Array(2), new Float32Array(3))));
  // Rows [0.1, 0.9] / [0.8, 0.2] / [0.3, 0.7] against [0.2, 0.8] / [0.1, 0.9] / [0.4, 0.6]: rows 0 and 2 agree.
  const a = new Float32Array([0.1, 0.9, 0.8, 0.2, 0.3, 0.7]);
  const b = new Float32Array([0.2, 0.8, 0.1, 0.9, 0.4, 0.6]);
  assert.equal(top1Agreement(a, b, 2), 2 / 3);
  assert.equal(top1Agreement(a, a, 2), 1);
});

test('classifierInputs: the rendered lines of bench/assets (scripts/render-bench-lines.ts) come back within one 8-bit step, cycling', async () => {
  const x = classifierInputs(3, 31);
  assert.deepEqual(x.shape, [3, 3, 48, 192]);
  const per = 3 * 48 * 192;
  const truth = await classifierSet(900, 2, 'benchmark lines', { clean: true });
  // Lines 31, 0 and 1 of the 32: the second and third are lines 0 and 1 of seed 900.
  for (const [k, i] of [[1, 0], [2, 1]]) {
    let worst = 0;
    for (let p = 0; p < per; p++) worst = Math.max(worst, Math.abs(x.data[k * per + p] - truth.images[i * per + p]));
    assert.ok(worst <= 1 / 127.5 + 1e-6, `line ${i}: off by ${worst}`);
  }
});

test('symbolicBatch: a fixed batch-1 zoo file runs at batch 3 in onnxruntime and in deftnn, with equal outputs', { skip: !lenet && 'zoo/lenet5.onnx missing' }, async () => {
  const m = lenet!;
  const raw = new Uint8Array((await import('node:fs')).readFileSync(m.path));
  const x = m.makeInput(3, 11);
  const feed = { [m.input]: new ort.Tensor('float32', x.data, x.shape) };
  const fixed = await ort.InferenceSession.create(raw);
  await assert.rejects(fixed.run(feed), /dimension|Got: 3/i, 'the file as exported is fixed at batch 1');
  const s = await ort.InferenceSession.create(symbolicBatch(raw));
  const ref = (await s.run(feed))[m.output];
  assert.deepEqual(ref.dims, [3, 10]);
  const ours = await load(m.bytes(3), { backend: 'cpu', inputShapes: { [m.input]: m.shape(3) } });
  const got = (await ours.run({ [m.input]: x }))[m.output];
  assertClose(got, new Tensor([3, 10], ref.data as Float32Array), { atol: 1e-5 }, 'lenet5 at batch 3');
});

test('layerPoint: intensity against the ridge decides the bound; fraction of the roof', () => {
  // 100 GFLOP/s and 10 GB/s: ridge at 10 FLOP/byte.
  const peaks = { fma: { gflops: 100 }, gbps: 10, ridge: 10 } as Peaks;
  // 1 FLOP/byte, 1 MFLOP in 0.1 ms = 10 GFLOP/s, exactly the memory roof (1 · 10 GB/s).
  const mem = layerPoint(peaks, 'a', 'Add', '', 1e6, 1e6, 0.1);
  assert.equal(mem.bound, 'memory');
  assert.equal(mem.intensity, 1);
  assert.ok(Math.abs(mem.gflops - 10) < 1e-9 && Math.abs(mem.gbps - 10) < 1e-9);
  assert.ok(Math.abs(mem.fracRoofline - 1) < 1e-9);
  // 100 FLOP/byte, 100 MFLOP in 2 ms = 50 GFLOP/s: half the compute roof.
  const cmp = layerPoint(peaks, 'c', 'Conv', '', 1e8, 1e6, 2);
  assert.equal(cmp.bound, 'compute');
  assert.ok(Math.abs(cmp.fracRoofline - 0.5) < 1e-9 && Math.abs(cmp.fracPeakFlops - 0.5) < 1e-9);
  // Below the timer's tick: no rates.
  assert.ok(Number.isNaN(layerPoint(peaks, 'z', 'Relu', '', 10, 80, 0).gflops));
});

test('measurePeaks: finite positive peaks and a consistent ridge', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const p = await measurePeaks(gpu!, { targetMs: 5, reps: 2 });
  for (const v of [p.fma.gflops, p.copyKernel.gbps, p.copyBufferToBuffer.gbps]) assert.ok(Number.isFinite(v) && v > 0, `peak ${v}`);
  assert.equal(p.gbps, Math.max(p.copyKernel.gbps, p.copyBufferToBuffer.gbps));
  assert.ok(Math.abs(p.ridge - p.fma.gflops / p.gbps) < 1e-9 * p.ridge);
  assert.ok(p.fma.ms >= 5 || p.fma.iterations >= 1 << 16, 'the FMA chains grow until a dispatch is long enough to time');
});

/**
 * A small classifier-like graph with what the benchmark models use: conv with fused ReLU and
 * asymmetric strides [2, 1] (where tfjs's numeric pads go wrong), depthwise conv with a fused
 * hard-sigmoid, hard-swish as Add/Clip/Mul/Div with scalar constants, squeeze-excitation (global
 * pool, 1x1 convs, Mul by a [N, C, 1, 1] map), max pool, Reshape, MatMul, Add of a vector, Softmax.
 */
function smallGraph(n: number): Graph {
  const r = rng(5);
  const t = (s: number[], lo = -0.5, hi = 0.5) => randomTensor(s, r, lo, hi);
  const scalar = (v: number) => new Tensor([], new Float32Array([v]));
  const relu = { op: 'Relu', attrs: {} };
  const conv = (name: string, x: string, w: string, b: string, attrs: Record<string, unknown>) => ({ name, op: 'Conv', inputs: [x, w, b], outputs: [name], attrs: { dilations: [1, 1], ...attrs } as never });
  const bin = (name: string, op: string, a: string, b: string) => ({ name, op, inputs: [a, b], outputs: [name], attrs: {} });
  return {
    inputs: [{ name: 'x', shape: [n, 3, 12, 20] }],
    outputs: ['prob'],
    initializers: new Map([
      ['w0', t([8, 3, 3, 3])], ['b0', t([8])],
      ['w1', t([8, 1, 3, 3])], ['b1', t([8])],
      ['three', scalar(3)], ['six', scalar(6)],
      ['ws', t([4, 8, 1, 1])], ['bs', t([4])], ['we', t([8, 4, 1, 1])], ['be', t([8])],
      ['fc', t([8, 5])], ['fcb', t([5])],
    ]),
    nodes: [
      conv('c0', 'x', 'w0', 'b0', { kernel_shape: [3, 3], strides: [2, 1], pads: [1, 1, 1, 1], group: 1, activation: relu }),
      conv('c1', 'c0', 'w1', 'b1', { kernel_shape: [3, 3], strides: [2, 1], pads: [1, 1, 1, 1], group: 8, activation: { op: 'HardSigmoid', attrs: { alpha: 0.2, beta: 0.5 } } }),
      bin('a3', 'Add', 'c1', 'three'),
      { name: 'clip', op: 'Clip', inputs: ['a3'], outputs: ['clip'], attrs: { min: 0, max: 6 } },
      bin('m', 'Mul', 'c1', 'clip'),
      bin('hs', 'Div', 'm', 'six'),
      { name: 'gap', op: 'GlobalAveragePool', inputs: ['hs'], outputs: ['gap'], attrs: {} },
      conv('se0', 'gap', 'ws', 'bs', { kernel_shape: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1, activation: { op: 'HardSwish', attrs: {} } }),
      conv('se1', 'se0', 'we', 'be', { kernel_shape: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0], group: 1, activation: { op: 'HardSigmoid', attrs: { alpha: 0.2, beta: 0.5 } } }),
      { ...bin('scaled', 'Mul', 'hs', 'se1'), attrs: { activation: relu } as never },
      { name: 'pool', op: 'MaxPool', inputs: ['scaled'], outputs: ['pool'], attrs: { kernel_shape: [3, 20], strides: [3, 20], pads: [0, 0, 0, 0] } },
      { name: 'flat', op: 'Reshape', inputs: ['pool'], outputs: ['flat'], attrs: { shape: [n, 8] } },
      bin('mm', 'MatMul', 'flat', 'fc'),
      bin('logits', 'Add', 'mm', 'fcb'),
      { name: 'prob', op: 'Softmax', inputs: ['logits'], outputs: ['prob'], attrs: { axis: 1 } },
    ],
  };
}

test('tfjsGraph: same outputs as deftnn CPU reference (synthetic classifier-like graph, lenet5)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const tf = await tfjsWebgpu();
  const n = 2;
  const g = smallGraph(n);
  const x = randomTensor([n, 3, 12, 20], rng(9));
  const ref = (await new CpuSession(g).run({ x })).prob;
  const net = tfjsGraph(tf, g);
  try {
    const got = await net.run(nchwToNhwc(x.data, x.shape));
    assertClose(new Tensor(ref.shape, got), ref, { atol: 1e-5 }, 'synthetic graph through tfjs');
  } finally {
    net.dispose();
  }
  if (lenet) {
    const { graph } = await load(lenet.bytes(n), { backend: 'cpu', inputShapes: { [lenet.input]: lenet.shape(n) } });
    const lx = lenet.makeInput(n, 3);
    const lref = (await new CpuSession(graph).run({ [lenet.input]: lx }))[lenet.output];
    const lnet = tfjsGraph(tf, graph);
    try {
      assertClose(new Tensor(lref.shape, await lnet.run(nchwToNhwc(lx.data, lx.shape))), lref, { atol: 1e-5 }, 'lenet5 through tfjs (Gemm rows reordered after Flatten)');
    } finally {
      lnet.dispose();
    }
  }
});

test('tfjsGraph: refuses what it does not translate, naming the node', () => {
  const g: Graph = {
    inputs: [{ name: 'x', shape: [1, 4, 5, 5] }],
    outputs: ['y'],
    initializers: new Map([['w', new Tensor([4, 2, 3, 3])]]),
    nodes: [{ name: 'grouped', op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [3, 3], group: 2 } }],
  };
  // The translation is built before any tfjs call, so a stand-in for tfjs is enough here.
  assert.throws(() => tfjsGraph({} as never, g), /grouped: grouped conv \(group 2/);
});
