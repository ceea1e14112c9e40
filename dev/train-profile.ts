// Per-node GPU profile of one training step (forward, loss, backward, AdamW) of a zoo model:
// `npx tsx dev/train-profile.ts [vgg|resnet|lenet] [batch] [reps]`. Prints per-op-type and
// per-node tables (median ms over reps, share of the step, GFLOP/s from graph/cost.ts).
import { Gpu } from '../src/device/gpu.js';
import { nodeCost } from '../src/graph/cost.js';
import { GpuSession } from '../src/graph/session.js';
import { inferShapes } from '../src/graph/shapes.js';
import { Tensor } from '../src/tensor.js';
import { trainingGraph } from '../src/train/trainer.js';
import { lenet5 } from '../src/zoo/lenet.js';
import { resnetSmall } from '../src/zoo/resnet.js';
import { vggSmall } from '../src/zoo/vgg.js';

const model = process.argv[2] ?? 'vgg';
const batch = Number(process.argv[3] ?? 32);
const reps = Number(process.argv[4] ?? 5);
const g = model === 'vgg' ? vggSmall() : model === 'resnet' ? resnetSmall() : lenet5();
const tg = trainingGraph(g, batch, { kind: 'adamw', lr: 2e-3 });
const gpu = (await Gpu.acquire())!;
let t = performance.now();
const s = new GpuSession(gpu, tg.graph, { state: tg.state });
const buildMs = performance.now() - t;
const x = new Tensor([batch, 1, 28, 28]);
for (let i = 0; i < x.size; i++) x.data[i] = Math.random();
const y = new Tensor([batch], Float32Array.from({ length: batch }, (_, i) => i % 10));
const feeds = (i: number) => ({ [tg.input]: x, [tg.labels]: y, ...tg.feeds(i, 2e-3) });
t = performance.now();
await s.run(feeds(0));
const firstMs = performance.now() - t;
const walls: number[] = [];
for (let i = 1; i <= 3; i++) {
  t = performance.now();
  await s.run(feeds(i));
  walls.push(performance.now() - t);
}
const runs: { node: string; op: string; ms: number }[][] = [];
for (let i = 0; i < reps; i++) runs.push((await s.profile(feeds(10 + i))).nodes);
s.dispose();

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const ig = inferShapes(tg.graph);
// graph/cost.ts counts only forward GEMM-like ops; count each conv gradient as the useful
// multiply-adds of its forward conv (what the dense-equivalent rate of the layer is).
const size = (q: readonly number[]) => q.reduce((a, b) => a * b, 1);
const gradFlops = (op: string, ins: readonly (readonly number[])[], outs: readonly (readonly number[])[]) =>
  op === 'ConvInputGrad' ? (2 * size(ins[0]) * size(ins[1])) / ins[0][1] : op === 'ConvWeightGrad' ? (2 * size(ins[1]) * size(outs[0])) / outs[0][0] : undefined;
const costs = new Map(
  ig.nodes.map((r) => {
    const c = nodeCost(r);
    return [r.node.name, { c: { ...c, flops: gradFlops(r.node.op, r.inputShapes, r.outputShapes) ?? c.flops }, r }];
  }),
);
const nodes = runs[0].map((n, i) => ({ ...n, ms: median(runs.map((r) => r[i].ms)) }));
const total = nodes.reduce((a, n) => a + n.ms, 0);
const wall = median(walls);
console.log(`# ${model} batch ${batch}: adapter ${gpu.name}`);
console.log(`build ${buildMs.toFixed(0)} ms, first run (compile) ${firstMs.toFixed(0)} ms, run wall ${wall.toFixed(1)} ms (${((batch * 1000) / wall).toFixed(0)} img/s), sum of node GPU times ${total.toFixed(1)} ms, ${nodes.length} nodes`);
const byOp = new Map<string, { ms: number; n: number; flops: number }>();
for (const n of nodes) {
  const e = byOp.get(n.op) ?? { ms: 0, n: 0, flops: 0 };
  e.ms += n.ms;
  e.n++;
  e.flops += costs.get(n.node)?.c.flops ?? 0;
  byOp.set(n.op, e);
}
console.log('\n| op | nodes | ms | share | GFLOP/s |\n|---|---:|---:|---:|---:|');
for (const [op, e] of [...byOp].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`| ${op} | ${e.n} | ${e.ms.toFixed(2)} | ${((100 * e.ms) / total).toFixed(1)}% | ${(e.flops / e.ms / 1e6).toFixed(2)} |`);
}
const top = Number(process.env.TOP ?? 30);
console.log(`\n| node | op | shapes in -> out | ms | share | MFLOP | GFLOP/s |\n|---|---|---|---:|---:|---:|---:|`);
for (const n of [...nodes].sort((a, b) => b.ms - a.ms).slice(0, top)) {
  const e = costs.get(n.node)!;
  const sh = `${e.r.inputShapes.map((q) => q.join('x')).join(', ')} -> ${e.r.outputShapes.map((q) => q.join('x')).join(', ')}`;
  console.log(`| ${n.node} | ${n.op} | ${sh} | ${n.ms.toFixed(2)} | ${((100 * n.ms) / total).toFixed(1)}% | ${(e.c.flops / 1e6).toFixed(1)} | ${(e.c.flops / n.ms / 1e6).toFixed(2)} |`);
}
