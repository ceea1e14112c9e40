import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { seededRandom } from '../../src/random.js';
import { Tensor } from '../../src/tensor.js';
import { calibrate, MomentAccumulator, sampleIndices } from '../../src/sve/calibrate.js';
import { columnsPerBatch, eligibleLayers, unroll, type LayerSpec } from '../../src/sve/unroll.js';
import { randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();

/** x [N, 3, 6, 6] -> Conv c1 (pad 1) -> Relu -> Conv c2 (group 2, stride 2) -> Flatten -> Gemm fc. */
function smallNet(): Graph {
  const r = rng(7);
  return {
    inputs: [{ name: 'x', shape: [1, 3, 6, 6] }],
    outputs: ['y'],
    nodes: [
      { name: 'c1', op: 'Conv', inputs: ['x', 'w1', 'b1'], outputs: ['h1'], attrs: { pads: [1, 1, 1, 1] } },
      { name: 'r1', op: 'Relu', inputs: ['h1'], outputs: ['a1'], attrs: {} },
      { name: 'c2', op: 'Conv', inputs: ['a1', 'w2'], outputs: ['h2'], attrs: { group: 2, strides: [2, 2] } },
      { name: 'f', op: 'Flatten', inputs: ['h2'], outputs: ['h3'], attrs: { axis: 1 } },
      { name: 'fc', op: 'Gemm', inputs: ['h3', 'w3', 'b3'], outputs: ['y'], attrs: { transB: 1 } },
    ],
    initializers: new Map([
      ['w1', randomTensor([4, 3, 3, 3], r)],
      ['b1', randomTensor([4], r)],
      ['w2', randomTensor([4, 2, 3, 3], r)],
      ['w3', randomTensor([3, 16], r)],
      ['b3', randomTensor([3], r)],
    ]),
  };
}

/** Two-pass float64 mean and population covariance of the columns of X over all batches. */
function twoPass(blocks: { data: Float64Array; cols: number }[], K: number): { mean: Float64Array; cov: Float64Array; n: number } {
  const mean = new Float64Array(K);
  let n = 0;
  for (const b of blocks) {
    n += b.cols;
    for (let k = 0; k < K; k++) for (let j = 0; j < b.cols; j++) mean[k] += b.data[k * b.cols + j];
  }
  mean.forEach((_, k) => (mean[k] /= n));
  const cov = new Float64Array(K * K);
  for (const b of blocks) {
    for (let p = 0; p < K; p++) for (let q = 0; q < K; q++) for (let j = 0; j < b.cols; j++) cov[p * K + q] += (b.data[p * b.cols + j] - mean[p]) * (b.data[q * b.cols + j] - mean[q]);
  }
  cov.forEach((_, i) => (cov[i] /= n));
  return { mean, cov, n };
}

function assertNear(got: Float64Array, want: Float64Array, tol: number, what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

/** Every layer's input for each batch, from the original graph with the inputs as extra outputs. */
async function layerInputs(graph: Graph, batches: Tensor[]): Promise<Map<string, Tensor>[]> {
  const out: Map<string, Tensor>[] = [];
  for (const x of batches) {
    const g: Graph = { ...graph, inputs: [{ name: 'x', shape: x.shape }], outputs: ['y', 'a1', 'h3'] };
    const r = await new CpuSession(g).run({ x });
    out.push(new Map([['x', x], ['a1', r.a1], ['h3', r.h3]]));
  }
  return out;
}

test('calibrate: μ and C equal a two-pass float64 reference, per layer and group, over uneven batches', async () => {
  const graph = smallNet();
  const r = rng(8);
  const batches = [2, 3, 1].map((n) => randomTensor([n, 3, 6, 6], r, 0, 1));
  const progress: number[] = [];
  const res = await calibrate(graph, batches, { onProgress: (p) => progress.push(p.samples) });
  assert.deepEqual(progress, [2, 5, 6]);
  assert.equal(res.batches, 3);
  assert.equal(res.samples, 6);
  assert.deepEqual([...res.layers.keys()], ['c1', 'c2', 'fc']);
  assert.equal(graph.outputs.length, 1, 'the input graph keeps its outputs');
  const inputs = await layerInputs(graph, batches);
  for (const st of res.layers.values()) {
    assert.equal(st.groups.length, st.spec.groups);
    st.groups.forEach((gs, g) => {
      const ref = twoPass(inputs.map((m) => unroll(st.spec, m.get(st.spec.input)!, g)), st.spec.K);
      assert.equal(gs.sampled, false);
      assert.equal(gs.columnsSeen, ref.n);
      assert.equal(gs.columnsTotal, ref.n);
      assertNear(gs.mean, ref.mean, 1e-12, `${st.spec.node} mean`);
      assertNear(gs.cov, ref.cov, 1e-12, `${st.spec.node} cov`);
    });
  }
  assert.equal(res.layers.get('c2')!.groups[0].K, 18);
  assert.equal(res.layers.get('fc')!.groups[0].columnsSeen, 6);
});

test('calibrate: sampling mode is flagged, and its statistics are those of the sampled columns', async () => {
  const graph = smallNet();
  const r = rng(9);
  const batches = [2, 2].map((n) => randomTensor([n, 3, 6, 6], r, 0, 1));
  const res = await calibrate(graph, batches, { maxColumnsPerBatch: 10, seed: 42 });
  const inputs = await layerInputs(graph, batches);
  // Replay the sampler: batch by batch, layer by layer, group by group.
  const rand = seededRandom(42);
  const specs = [...res.layers.values()].map((s) => s.spec);
  const blocks = new Map<string, { data: Float64Array; cols: number }[][]>(specs.map((s) => [s.node, Array.from({ length: s.groups }, () => [])]));
  for (const m of inputs) {
    for (const s of specs) {
      const x = m.get(s.input)!;
      const total = columnsPerBatch(s, x.shape[0]);
      for (let g = 0; g < s.groups; g++) blocks.get(s.node)![g].push(unroll(s, x, g, total > 10 ? sampleIndices(total, 10, rand) : undefined));
    }
  }
  for (const st of res.layers.values()) {
    st.groups.forEach((gs, g) => {
      const ref = twoPass(blocks.get(st.spec.node)![g], st.spec.K);
      const total = 2 * columnsPerBatch(st.spec, 2);
      assert.equal(gs.columnsTotal, total);
      assert.equal(gs.sampled, total > 20, `${st.spec.node} sampled flag`);
      assert.equal(gs.columnsSeen, Math.min(total, 20));
      assertNear(gs.mean, ref.mean, 1e-12, `${st.spec.node} mean`);
      assertNear(gs.cov, ref.cov, 1e-12, `${st.spec.node} cov`);
    });
  }
  assert.equal(res.layers.get('c1')!.groups[0].sampled, true);
  assert.equal(res.layers.get('fc')!.groups[0].sampled, false);
});

test('calibrate: the memory bound skips a layer whose K×K does not fit and samples columns of the rest', async () => {
  const graph = smallNet();
  const r = rng(10);
  // c1: K = 27, covariance 5832 bytes; c2: K = 18 (2592 bytes); fc: K = 16 (2048 bytes).
  const res = await calibrate(graph, [randomTensor([2, 3, 6, 6], r)], { memoryBytes: 3400 });
  assert.deepEqual([...res.layers.keys()], ['c2', 'fc']);
  assert.match(res.skipped.find((s) => s.node === 'c1')!.reason, /27x27 covariance needs 5832 bytes, over the memory bound of 3400/);
  // c2 may hold floor((3400 - 2592) / (18 * 8)) = 5 columns per batch and group out of 2*2*2 = 8.
  const c2 = res.layers.get('c2')!.groups[0];
  assert.equal(c2.columnsSeen, 5);
  assert.equal(c2.columnsTotal, 8);
  assert.equal(c2.sampled, true);
});

test('calibrate: the accumulator merges batches like one pass, also for a constant row', () => {
  const r = rng(11);
  const K = 3;
  const a = new MomentAccumulator(K);
  const all: number[][] = [[], [], []];
  for (const cols of [1, 4, 2]) {
    const X = new Float64Array(K * cols);
    for (let j = 0; j < cols; j++) {
      const v = [1e4 + r(), 2 * r() - 1, 5];
      v.forEach((x, k) => {
        X[k * cols + j] = x;
        all[k].push(x);
      });
    }
    a.add(X, cols);
  }
  const ref = twoPass([{ data: Float64Array.from(all.flat()), cols: 7 }], K);
  assertNear(a.mean, ref.mean, 1e-12, 'mean');
  assertNear(a.covariance(), ref.cov, 1e-9, 'cov');
  assert.equal(a.covariance()[8], 0);
});

test('calibrate: bad input gets clear errors', async () => {
  const graph = smallNet();
  await assert.rejects(calibrate(graph, []), /calibration set is empty/);
  await assert.rejects(calibrate(graph, [new Tensor([0, 3, 6, 6])]), /calibration set is empty/);
  await assert.rejects(calibrate(graph, [new Tensor([2, 3, 5, 6])]), /calibration batch 0: input 'x' has shape \[2, 3, 5, 6\], expected \[N, 3, 6, 6\]/);
  await assert.rejects(calibrate(graph, [new Tensor([2, 3, 6, 6]), new Tensor([2, 6, 6])]), /calibration batch 1: input 'x' has shape \[2, 6, 6\], expected \[N, 3, 6, 6\]/);
  await assert.rejects(calibrate(graph, [{ y: new Tensor([1, 3, 6, 6]) }]), /no tensor for input 'x'/);
  await assert.rejects(calibrate(graph, [new Tensor([1, 3, 6, 6])], { layers: ['r1'] }), /layer 'r1' cannot be calibrated/);
  async function* gen() {
    yield new Tensor([1, 3, 6, 6]);
  }
  const ok = await calibrate(graph, gen(), { layers: ['fc'] });
  assert.deepEqual([...ok.layers.keys()], ['fc']);
  assert.deepEqual(eligibleLayers(graph).layers.map((l: LayerSpec) => l.node), ['c1', 'c2', 'fc']);
});

test('calibrate: on WebGPU (GpuSession) the statistics match the CPU run', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const graph = smallNet();
  const r = rng(12);
  const batches = [3, 3].map((n) => randomTensor([n, 3, 6, 6], r, 0, 1));
  const cpu = await calibrate(graph, batches);
  const res = await calibrate(graph, batches, { gpu: gpu! });
  for (const [name, st] of cpu.layers) {
    st.groups.forEach((gs, g) => {
      const other = res.layers.get(name)!.groups[g];
      assert.equal(other.columnsSeen, gs.columnsSeen);
      // float32 kernels vs the float32 CPU reference: layer inputs agree to ~1e-5.
      assertNear(other.mean, gs.mean, 1e-4, `${name} mean`);
      assertNear(other.cov, gs.cov, 1e-4, `${name} cov`);
    });
  }
});
