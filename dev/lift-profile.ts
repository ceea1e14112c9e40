// Per-op GPU time of a model's kernels built for one size (literals baked) against the same
// kernels with the literals that vary with the size lifted into a uniform (kernels/uniforms.ts).
//   npx tsx dev/lift-profile.ts MODEL.onnx 1,3,48,192 [reps]
import { defaultGpu } from '../src/model.js';
import { importModel } from '../src/onnx/import.js';
import { readModel } from '../src/onnx/source.js';
import { optimizeGraph } from '../src/graph/passes.js';
import { GpuSession } from '../src/graph/session.js';
import { SizedSessions } from '../src/graph/sized.js';
import { declaredInputs } from '../src/onnx/import.js';
import { Tensor } from '../src/tensor.js';
const [path, shapeArg, repsArg] = process.argv.slice(2);
const shape = shapeArg.split(',').map(Number);
const reps = Number(repsArg ?? 7);
const gpu = (await defaultGpu())!;
const onnx = await readModel(path);
const declared = declaredInputs(onnx);
const name = declared[0].name;
const graphFor = (s: Record<string, readonly number[]>) => optimizeGraph(importModel(onnx, { inputShapes: s }));
const sized = new SizedSessions({ declared, graphFor }, gpu);
const lifted = sized.get({ [name]: shape }).session as GpuSession;
const baked = new GpuSession(gpu, graphFor({ [name]: shape }));
const x = { [name]: new Tensor(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i))) };
const byOp = (nodes: { op: string; ms: number }[], into: Map<string, number[]>) => {
  const sums = new Map<string, number>();
  for (const n of nodes) sums.set(n.op, (sums.get(n.op) ?? 0) + n.ms);
  for (const [op, ms] of sums) into.set(op, [...(into.get(op) ?? []), ms]);
};
const L = new Map<string, number[]>(), B = new Map<string, number[]>();
await lifted.profile(x); await baked.profile(x);
for (let i = 0; i < reps; i++) {
  byOp((await baked.profile(x)).nodes, B);
  byOp((await lifted.profile(x)).nodes, L);
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
let tb = 0, tl = 0;
for (const [op, v] of B) { const b = med(v), l = med(L.get(op)!); tb += b; tl += l; console.log(`${op.padEnd(22)} baked ${b.toFixed(2)} ms  lifted ${l.toFixed(2)} ms  ${(l / b).toFixed(2)}x`); }
console.log(`total baked ${tb.toFixed(1)} lifted ${tl.toFixed(1)} ${(tl / tb).toFixed(2)}x`);
if (process.env.PER_NODE) {
  const nb = new Map<string, number[]>(), nl = new Map<string, number[]>();
  for (let i = 0; i < reps; i++) {
    for (const n of (await baked.profile(x)).nodes) nb.set(n.node, [...(nb.get(n.node) ?? []), n.ms]);
    for (const n of (await lifted.profile(x)).nodes) nl.set(n.node, [...(nl.get(n.node) ?? []), n.ms]);
  }
  const rows = [...nb].map(([node, v]) => ({ node, b: med(v), l: med(nl.get(node)!) })).sort((p, q) => q.l - q.b - (p.l - p.b));
  for (const r of rows.slice(0, 12)) console.log(`${r.node.padEnd(28)} baked ${r.b.toFixed(2)} lifted ${r.l.toFixed(2)}`);
}
process.exit(0);
