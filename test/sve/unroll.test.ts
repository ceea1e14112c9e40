import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph } from '../../src/graph/ir.js';
import { convOp } from '../../src/ops/conv.js';
import { gemmOp } from '../../src/ops/gemm.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor } from '../../src/tensor.js';
import { eligibleLayers, kernelToRow, layerSpec, layerWeights, rowToKernel, unroll, type LayerSpec } from '../../src/sve/unroll.js';
import { randomTensor, rng } from '../helpers.js';

function convSpec(x: number[], w: number[], attrs: RawAttrs, bias = true): LayerSpec {
  const spec = layerSpec({ name: 'c', op: 'Conv', inputs: ['x', 'w', ...(bias ? ['b'] : [])], outputs: ['y'], attrs }, [x, w, ...(bias ? [[w[0]]] : [])]);
  assert.ok(typeof spec !== 'string');
  return spec;
}

/** O[oc, col] = b[oc] + sum_k W[oc, k] X[g][k, col], laid out as the Conv output [N, M, OH, OW]. */
function convFromUnrolled(spec: LayerSpec, x: Tensor, w: Tensor, b: Tensor): Float32Array {
  const g = spec.conv!.geom;
  const per = g.OH * g.OW;
  const y = new Float32Array(g.N * g.M * per);
  for (let grp = 0; grp < spec.groups; grp++) {
    const X = unroll(spec, x, grp);
    for (let m = 0; m < spec.Mg; m++) {
      const oc = grp * spec.Mg + m;
      for (let col = 0; col < X.cols; col++) {
        let s = b.data[oc];
        for (let k = 0; k < spec.K; k++) s += w.data[oc * spec.K + k] * X.data[k * X.cols + col];
        const n = Math.floor(col / per);
        y[(n * g.M + oc) * per + (col % per)] = s;
      }
    }
  }
  return y;
}

const cases: { x: number[]; w: number[]; attrs: RawAttrs }[] = [
  { x: [2, 3, 7, 5], w: [4, 3, 3, 3], attrs: {} },
  { x: [1, 2, 9, 8], w: [5, 2, 3, 2], attrs: { pads: [1, 0, 2, 1], strides: [2, 3] } },
  { x: [3, 4, 11, 7], w: [6, 2, 3, 3], attrs: { group: 2, dilations: [2, 1], pads: [2, 1, 2, 1] } },
  { x: [2, 3, 6, 6], w: [3, 1, 3, 3], attrs: { group: 3, auto_pad: 'SAME_UPPER', strides: [2, 2] } },
  { x: [1, 1, 13, 5], w: [2, 1, 5, 1], attrs: { auto_pad: 'SAME_LOWER' } },
];

for (const [i, c] of cases.entries()) {
  test(`unroll: W·X + b equals Conv (case ${i}: x ${c.x}, w ${c.w}, ${JSON.stringify(c.attrs)})`, () => {
    const r = rng(10 + i);
    const x = randomTensor(c.x, r);
    const w = randomTensor(c.w, r);
    const b = randomTensor([c.w[0]], r);
    const spec = convSpec(c.x, c.w, c.attrs);
    const [want] = convOp.cpu([x, w, b], convOp.attrs(c.attrs, [c.x, c.w, [c.w[0]]]));
    const got = convFromUnrolled(spec, x, w, b);
    assert.equal(got.length, want.data.length);
    for (let j = 0; j < got.length; j++) assert.ok(Math.abs(got[j] - want.data[j]) < 1e-4, `element ${j}: ${got[j]} vs ${want.data[j]}`);
  });
}

test('unroll: a column subset equals the same columns of the full X', () => {
  const r = rng(3);
  const spec = convSpec([2, 3, 8, 8], [4, 3, 3, 3], { pads: [1, 1, 1, 1] });
  const x = randomTensor([2, 3, 8, 8], r);
  const full = unroll(spec, x, 0);
  const cols = [0, 5, 63, 64, 127];
  const sub = unroll(spec, x, 0, cols);
  assert.equal(sub.cols, cols.length);
  for (let k = 0; k < spec.K; k++) cols.forEach((col, j) => assert.equal(sub.data[k * sub.cols + j], full.data[k * full.cols + col]));
  // A kernel position outside the padded input reads 0: row (c=0, ky=0, kx=0) at column (0, 0, 0).
  assert.equal(full.data[kernelToRow(spec, 0, 0, 0) * full.cols + 0], 0);
  // and row (c, 1, 1) at (oy, ox) reads x[n, c, oy, ox] (the centre tap with pad 1).
  assert.equal(full.data[kernelToRow(spec, 2, 1, 1) * full.cols + 9], x.data[2 * 64 + 9]);
});

test('unroll: Gemm rows are the input features; W·X + b equals Gemm (transB 0 and 1, alpha, beta)', () => {
  const r = rng(4);
  for (const attrs of [{ transB: 1 }, { transB: 0, alpha: 0.5, beta: 2 }] as RawAttrs[]) {
    const x = randomTensor([5, 7], r);
    const bShape = attrs.transB ? [3, 7] : [7, 3];
    const w = randomTensor(bShape, r);
    const c = randomTensor([3], r);
    const graph: Graph = { inputs: [{ name: 'x', shape: [5, 7] }], outputs: ['y'], nodes: [{ name: 'fc', op: 'Gemm', inputs: ['x', 'w', 'c'], outputs: ['y'], attrs }], initializers: new Map([['w', w], ['c', c]]) };
    const { layers } = eligibleLayers(graph);
    assert.equal(layers.length, 1);
    const spec = layers[0];
    assert.equal(spec.K, 7);
    assert.deepEqual(rowToKernel(spec, 6), { c: 6, ky: 0, kx: 0 });
    const { W, b } = layerWeights(graph, spec);
    const X = unroll(spec, x, 0);
    const [want] = gemmOp.cpu([x, w, c], gemmOp.attrs(attrs, [[5, 7], bShape, [3]]));
    for (let n = 0; n < 5; n++) {
      for (let m = 0; m < 3; m++) {
        let s = b[m];
        for (let k = 0; k < 7; k++) s += W[m * 7 + k] * X.data[k * 5 + n];
        assert.ok(Math.abs(s - want.data[n * 3 + m]) < 1e-5);
      }
    }
  }
});

test('unroll: k <-> (c, ky, kx) round trip', () => {
  const spec = convSpec([1, 4, 9, 9], [2, 4, 3, 2], {});
  assert.equal(spec.K, 24);
  for (let k = 0; k < spec.K; k++) {
    const p = rowToKernel(spec, k);
    assert.equal(kernelToRow(spec, p.c, p.ky, p.kx), k);
  }
  assert.deepEqual(rowToKernel(spec, 7), { c: 1, ky: 0, kx: 1 });
  assert.throws(() => rowToKernel(spec, 24), /outside/);
  assert.throws(() => kernelToRow(spec, 4, 0, 0), /outside/);
});

test('unroll: eligibility (depthwise skipped by default, non-initializer weights skipped) and bad input', () => {
  const r = rng(5);
  const graph: Graph = {
    inputs: [{ name: 'x', shape: [1, 4, 6, 6] }, { name: 'wdyn', shape: [2, 4, 1, 1] }],
    outputs: ['y2', 'y3'],
    nodes: [
      { name: 'dw', op: 'Conv', inputs: ['x', 'w1'], outputs: ['y1'], attrs: { group: 4, pads: [1, 1, 1, 1] } },
      { name: 'pw', op: 'Conv', inputs: ['y1', 'w2', 'b2'], outputs: ['y2'], attrs: {} },
      { name: 'dyn', op: 'Conv', inputs: ['x', 'wdyn'], outputs: ['y3'], attrs: {} },
    ],
    initializers: new Map([['w1', randomTensor([4, 1, 3, 3], r)], ['w2', randomTensor([3, 4, 1, 1], r)], ['b2', randomTensor([3], r)]]),
  };
  const e = eligibleLayers(graph);
  assert.deepEqual(e.layers.map((l) => l.node), ['pw']);
  assert.deepEqual(e.skipped.map((s) => s.node), ['dw', 'dyn']);
  assert.match(e.skipped[0].reason, /depthwise/);
  const withDw = eligibleLayers(graph, { includeDepthwise: true });
  assert.deepEqual(withDw.layers.map((l) => [l.node, l.groups, l.K]), [['dw', 4, 9], ['pw', 1, 4]]);
  const spec = withDw.layers[0];
  assert.throws(() => unroll(spec, new Tensor([1, 3, 6, 6]), 0), /input 'x' has shape \[1, 3, 6, 6\], expected \[N, 4, 6, 6\]/);
  assert.throws(() => unroll(spec, new Tensor([1, 4, 6, 6]), 4), /group 4 is outside/);
});
