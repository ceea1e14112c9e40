import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { calibrate } from '../../src/sve/calibrate.js';
import { applyAsZeroRows, applyCompacted, eliminateLayer, keepCount, planElimination } from '../../src/sve/eliminate.js';
import { layerWeights, rowToKernel, unroll } from '../../src/sve/unroll.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

/** x [N, 3, 6, 6] -> Conv c1 (pad 1) -> Relu -> Conv c2 (group 2) -> Flatten -> Gemm fc (transB 0, alpha, beta). */
function smallNet(): Graph {
  const r = rng(21);
  return {
    inputs: [{ name: 'x', shape: [1, 3, 6, 6] }],
    outputs: ['y'],
    nodes: [
      { name: 'c1', op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['h1'], attrs: { pads: [1, 1, 1, 1] } },
      { name: 'r1', op: 'Relu', inputs: ['h1'], outputs: ['a1'], attrs: {} },
      { name: 'c2', op: 'Conv', inputs: ['a1', 'w2'], outputs: ['h2'], attrs: { group: 2, strides: [2, 2] } },
      { name: 'f', op: 'Flatten', inputs: ['h2'], outputs: ['h3'], attrs: { axis: 1 } },
      { name: 'fc', op: 'Gemm', inputs: ['h3', 'w3', 'b3'], outputs: ['y'], attrs: { alpha: 0.5, beta: 2 } },
    ],
    initializers: new Map([
      ['w1', randomTensor([4, 3, 3, 3], r)],
      ['b1', randomTensor([4], r)],
      ['w2', randomTensor([4, 2, 3, 3], r)],
      ['w3', randomTensor([16, 3], r)],
      ['b3', randomTensor([3], r)],
    ]),
  };
}

function snapshot(g: Graph): string {
  return JSON.stringify({ nodes: g.nodes, outputs: g.outputs, inits: [...g.initializers].map(([k, t]) => [k, t.shape, Array.from(t.data)]) });
}

test('eliminate: applyAsZeroRows equals the compacted layers (kept rows only, per group), and the input graph is untouched', async () => {
  const graph = smallNet();
  const before = snapshot(graph);
  const r = rng(22);
  const stats = await calibrate(graph, [randomTensor([4, 3, 6, 6], r, 0, 1), randomTensor([4, 3, 6, 6], r, 0, 1)]);
  for (const method of ['correlation', 'weight-norm', 'random'] as const) {
    for (const refit of [false, true]) {
      const plan = planElimination(graph, stats, 0.5, { method, refit });
      const reduced = applyAsZeroRows(graph, plan);
      assert.equal(snapshot(graph), before);
      const x = randomTensor([2, 3, 6, 6], r, 0, 1);
      const outs = await new CpuSession({ ...reduced, inputs: [{ name: 'x', shape: x.shape }], outputs: ['y', 'h1', 'a1', 'h2', 'h3'] }).run({ x });
      const layerOut: Record<string, [string, string]> = { c1: ['x', 'h1'], c2: ['a1', 'h2'], fc: ['h3', 'y'] };
      for (const [name, le] of plan.layers) {
        const spec = le.spec;
        assert.equal(le.report.Kp, spec.K - Math.round(0.5 * spec.K));
        assert.deepEqual(le.wCompacted.shape, [spec.M, le.report.Kp]);
        const xin = layerOut[name][0] === 'x' ? x : outs[layerOut[name][0]];
        const got = outs[layerOut[name][1]];
        for (let g = 0; g < spec.groups; g++) {
          const kept = le.keptByGroup[g];
          const X = unroll(spec, xin, g, undefined);
          for (let m = 0; m < spec.Mg; m++) {
            const oc = g * spec.Mg + m;
            for (let col = 0; col < X.cols; col++) {
              let s = le.bias.data[oc];
              kept.forEach((k, i) => (s += le.wCompacted.data[oc * kept.length + i] * X.data[k * X.cols + col]));
              // Output layout: Conv [N, M, OH, OW] (col = (n, oy, ox)), Gemm [N, M] (col = n).
              const per = spec.conv ? spec.conv.geom.OH * spec.conv.geom.OW : 1;
              const idx = (Math.floor(col / per) * spec.M + oc) * per + (col % per);
              assert.ok(Math.abs(got.data[idx] - s) < 1e-4 * (1 + Math.abs(s)), `${method} ${name} oc ${oc} col ${col}: ${got.data[idx]} vs ${s}`);
            }
          }
        }
        for (const rr of le.report.removed) {
          assert.deepEqual({ c: rr.c, ky: rr.ky, kx: rr.kx }, rowToKernel(spec, rr.k));
          assert.ok(!le.keptByGroup[rr.group].includes(rr.k));
        }
      }
    }
  }
});

const gpu = await testGpu();

test('eliminate: the compacted graph (kept_rows layers) equals the zero-row graph, on the CPU and on WebGPU', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const graph = smallNet();
  const r = rng(25);
  const stats = await calibrate(graph, [randomTensor([5, 3, 6, 6], r, 0, 1)]);
  for (const rates of [0.5, { c1: 0.7, c2: 0.2, fc: 0.34 }, 0.9]) {
    const plan = planElimination(graph, stats, rates);
    const zero = applyAsZeroRows(graph, plan);
    const compact = applyCompacted(graph, plan);
    for (const g of [zero, compact]) {
      const read = new Set(g.nodes.flatMap((m) => m.inputs));
      assert.deepEqual([...g.initializers.keys()].filter((k) => !read.has(k)), [], 'the replaced weights are dropped');
    }
    for (const [name, le] of plan.layers) {
      const n = compact.nodes.find((m) => m.name === name)!;
      assert.equal((n.attrs.kept_rows as number[]).length, le.report.Kp * le.spec.groups, `${name}: one K' list per group`);
    }
    const x = randomTensor([3, 3, 6, 6], r, 0, 1);
    const shaped = (g: Graph): Graph => ({ ...g, inputs: [{ name: 'x', shape: x.shape }] });
    const want = (await new CpuSession(shaped(zero)).run({ x })).y;
    assertClose((await new CpuSession(shaped(compact)).run({ x })).y, want, { atol: 1e-5 }, `CPU, rates ${JSON.stringify(rates)}`);
    const s = new GpuSession(gpu!, shaped(compact));
    assertClose((await s.run({ x })).y, want, { atol: 1e-4 }, `WebGPU, rates ${JSON.stringify(rates)}`);
    s.dispose();
  }
  assert.throws(() => applyCompacted(applyCompacted(graph, planElimination(graph, stats, 0.5)), planElimination(graph, stats, 0.5)), /already compacted/);
});

test('eliminate: a conv whose input channel 1 is 2·channel 0 + 3 loses channel 1\'s rows with its output exactly unchanged', async () => {
  const r = rng(23);
  const graph: Graph = {
    inputs: [{ name: 'x', shape: [1, 2, 7, 7] }],
    outputs: ['y'],
    nodes: [{ name: 'conv', op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: {} }],
    initializers: new Map([['w', randomTensor([3, 2, 3, 3], r)], ['b', randomTensor([3], r)]]),
  };
  const planted = (n: number) => {
    const x = randomTensor([n, 2, 7, 7], r);
    for (let i = 0; i < n; i++) for (let p = 0; p < 49; p++) x.data[(i * 2 + 1) * 49 + p] = 2 * x.data[i * 2 * 49 + p] + 3;
    return x;
  };
  // Channel 1's weights are small, so its rows are the ones of lower contribution.
  const w = graph.initializers.get('w')!;
  for (let m = 0; m < 3; m++) for (let p = 0; p < 9; p++) w.data[(m * 2 + 1) * 9 + p] *= 0.2;
  const stats = await calibrate(graph, [planted(8), planted(8)]);
  const plan = planElimination(graph, stats, 0.5);
  const le = plan.layers.get('conv')!;
  assert.deepEqual(le.kept, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  for (const rr of le.report.removed) {
    assert.equal(rr.c, 1);
    assert.equal(rr.predictor, rr.k - 9);
    assert.ok(Math.abs(rr.a - 2) < 1e-6 && Math.abs(rr.offset - 3) < 1e-5, `a ${rr.a} c ${rr.offset}`);
  }
  const x = planted(3);
  const want = (await new CpuSession({ ...graph, inputs: [{ name: 'x', shape: x.shape }] }).run({ x })).y;
  const reduced = applyAsZeroRows(graph, plan);
  const got = (await new CpuSession({ ...reduced, inputs: [{ name: 'x', shape: x.shape }] }).run({ x })).y;
  for (let i = 0; i < want.data.length; i++) assert.ok(Math.abs(got.data[i] - want.data[i]) < 1e-4 * (1 + Math.abs(want.data[i])), `${i}: ${got.data[i]} vs ${want.data[i]}`);
});

test('eliminate: bad input (rates, keep, unknown layers, mismatched weights)', async () => {
  const graph = smallNet();
  const stats = await calibrate(graph, [randomTensor([2, 3, 6, 6], rng(24))]);
  for (const rate of [1, -0.1, 1.5, NaN]) assert.throws(() => planElimination(graph, stats, rate), /rate must be in \[0, 1\), got/);
  assert.throws(() => planElimination(graph, stats, { c1: 1 }), /rate must be in \[0, 1\), got 1/);
  assert.throws(() => planElimination(graph, stats, { r1: 0.5 }), /rate given for layer 'r1', which has no calibration statistics/);
  assert.equal(planElimination(graph, stats, 0).layers.size, 0, 'rate 0 removes nothing');
  assert.deepEqual([...planElimination(graph, stats, { c2: 0.25 }).layers.keys()], ['c2']);
  const st = stats.layers.get('c1')!;
  const { W, b } = layerWeights(graph, st.spec);
  assert.throws(() => eliminateLayer(W, b, st, { keep: 0 }), /keep must be an integer in 1..27, got 0/);
  assert.throws(() => eliminateLayer(W, b, st, { keep: 3, rate: 0.5 }), /either rate or keep/);
  assert.throws(() => eliminateLayer(W.subarray(1), b, st, { rate: 0.5 }), /weights have 107 values, expected \[4, 27\]/);
  assert.equal(eliminateLayer(W, b, st, { keep: 5 }).report.Kp, 5);
  assert.equal(keepCount(10, { rate: 0.99 }), 1);
  // Rate 0 through eliminateLayer keeps everything and, with fold and scale, changes nothing.
  const same = eliminateLayer(W, b, st, { rate: 0 });
  for (let i = 0; i < W.length; i++) assert.ok(Math.abs(same.wDense.data[i] - W[i]) < 1e-6);
});
