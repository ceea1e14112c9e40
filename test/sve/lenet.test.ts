import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { gather, permutation } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { load } from '../../src/model.js';
import { seededRandom } from '../../src/random.js';
import type { Tensor } from '../../src/tensor.js';
import { calibrate } from '../../src/sve/calibrate.js';
import { applyAsZeroRows, planElimination, type EliminateOptions } from '../../src/sve/eliminate.js';

const modelPath = fileURLToPath(new URL('../../zoo/lenet5.onnx', import.meta.url));
const BATCH = 100;

/** Top-1 accuracy of a graph on the given batches (CPU reference). */
async function accuracy(graph: Graph, batches: { x: Tensor; y: Uint8Array }[]): Promise<number> {
  const s = new CpuSession({ ...graph, inputs: [{ name: graph.inputs[0].name, shape: [BATCH, 1, 28, 28] }] });
  let right = 0;
  let total = 0;
  for (const b of batches) {
    const out = (await s.run({ [graph.inputs[0].name]: b.x }))[graph.outputs[0]];
    for (let i = 0; i < b.y.length; i++) {
      const row = out.data.subarray(i * 10, i * 10 + 10);
      if (row.indexOf(Math.max(...row)) === b.y[i]) right++;
      total++;
    }
  }
  return right / total;
}

test('eliminate on trained LeNet-5: accuracy at 25% and 50% of each conv layer\'s rows; correlation vs random', async () => {
  const model = await load(modelPath, { backend: 'cpu', optimize: false });
  const graph = model.graph;
  const { train, test: testSet } = loadMnist();
  const calib = permutation(train.labels.length, seededRandom(1)).slice(0, 256);
  const calibration = [0, 1, 2, 3].map((i) => gather(train, calib.subarray(i * 64, (i + 1) * 64)).x);
  const evalIdx = permutation(testSet.labels.length, seededRandom(2)).slice(0, 500);
  const evalBatches = [0, 1, 2, 3, 4].map((i) => gather(testSet, evalIdx.subarray(i * BATCH, (i + 1) * BATCH)));
  const convs = graph.nodes.filter((n) => n.op === 'Conv').map((n) => n.name);
  assert.equal(convs.length, 2);
  const stats = await calibrate(graph, calibration, { layers: convs });
  const at = (rate: number, opts: Omit<EliminateOptions, 'rate' | 'keep'>) => applyAsZeroRows(graph, planElimination(graph, stats, Object.fromEntries(convs.map((c) => [c, rate])), opts));
  const base = await accuracy(graph, evalBatches);
  const corr25 = await accuracy(at(0.25, { method: 'correlation' }), evalBatches);
  const corr50 = await accuracy(at(0.5, { method: 'correlation' }), evalBatches);
  const rand50 = [1, 2];
  for (const [i, seed] of rand50.entries()) rand50[i] = await accuracy(at(0.5, { method: 'random', seed }), evalBatches);
  const wn50 = await accuracy(at(0.5, { method: 'weight-norm' }), evalBatches);
  const refit50 = await accuracy(at(0.5, { method: 'correlation', refit: true }), evalBatches);
  const seen = convs.map((c) => {
    const g = stats.layers.get(c)!.groups[0];
    return `${c}: K ${g.K}, ${g.sampled ? 'sampled' : 'all'} ${g.columnsSeen}/${g.columnsTotal} columns`;
  });
  console.log(`calibration (256 training digits): ${seen.join('; ')}`);
  const pct = (a: number) => `${(100 * a).toFixed(1)}%`;
  console.log(`LeNet-5, 500 MNIST test digits, top-1: dense ${pct(base)}; correlation 25% ${pct(corr25)}, 50% ${pct(corr50)}; ` +
    `random 50% (seeds 1, 2) ${rand50.map(pct).join(', ')}; weight-norm 50% ${pct(wn50)}; correlation+refit 50% ${pct(refit50)}`);
  assert.ok(base > 0.95, `the trained model scores ${pct(base)}`);
  assert.ok(corr25 >= base - 0.04, `25%: ${pct(corr25)} vs dense ${pct(base)}`);
  assert.ok(corr50 > Math.max(...rand50), `50%: correlation ${pct(corr50)} vs random ${rand50.map(pct)}`);
});
