// Looking into shape-generic kernels (kernels/uniforms.ts, graph/sized.ts) on one ONNX model:
//   npx tsx dev/lifts.ts MODEL.onnx 1,3,48,192 profile [reps]  per-op GPU time, literals baked vs lifted
//   npx tsx dev/lifts.ts MODEL.onnx 1,3,48,192 show NODE        one node's kernel as a size family runs it
//   npx tsx dev/lifts.ts MODEL.onnx 1,3,48,320 misses 1,3,48,480
//       the pipelines a second size still compiles, and where its skeletons differ from the first's
import { defaultGpu } from '../src/model.js';
import { declaredInputs, importModel } from '../src/onnx/import.js';
import { readModel } from '../src/onnx/source.js';
import { optimizeGraph } from '../src/graph/passes.js';
import { GpuSession } from '../src/graph/session.js';
import { SizedSessions } from '../src/graph/sized.js';
import { inferShapes } from '../src/graph/shapes.js';
import type { SizeLifts } from '../src/kernels/uniforms.js';
import { Tensor } from '../src/tensor.js';

const [path, shapeArg, mode, arg] = process.argv.slice(2);
const gpu = (await defaultGpu())!;
const onnx = await readModel(path);
const declared = declaredInputs(onnx);
const name = declared[0].name;
const at = (s: string) => ({ [name]: s.split(',').map(Number) });
const graphFor = (s: Record<string, readonly number[]>) => optimizeGraph(importModel(onnx, { inputShapes: s }));
const sized = new SizedSessions({ declared, graphFor }, gpu);
const lifted = sized.get(at(shapeArg)).session as GpuSession;
const lifts = (sized as unknown as { lifts: SizeLifts }).lifts;
const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

/** Every kernel of the model at size `s` as the size family would build it now. */
function skeletons(s: string): Map<string, string> {
  const ig = inferShapes(graphFor(at(s)));
  const m = new Map<string, string>();
  for (const r of ig.nodes) {
    const d = r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, gpu.kernelContext);
    if (d !== 'view') d.forEach((x, k) => m.set(`${r.node.name}#${k}`, lifts.lift(`${r.node.name}#${k}`, x.wgsl).wgsl));
  }
  return m;
}

if (mode === 'profile') {
  const reps = Number(arg ?? 7);
  const shape = at(shapeArg)[name];
  const baked = new GpuSession(gpu, graphFor(at(shapeArg)));
  const x = { [name]: new Tensor(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i))) };
  const B = new Map<string, number[]>();
  const L = new Map<string, number[]>();
  const byOp = (nodes: { op: string; ms: number }[], into: Map<string, number[]>) => {
    const sums = new Map<string, number>();
    for (const n of nodes) sums.set(n.op, (sums.get(n.op) ?? 0) + n.ms);
    for (const [op, ms] of sums) into.set(op, [...(into.get(op) ?? []), ms]);
  };
  await lifted.profile(x);
  await baked.profile(x);
  for (let i = 0; i < reps; i++) {
    byOp((await baked.profile(x)).nodes, B);
    byOp((await lifted.profile(x)).nodes, L);
  }
  let tb = 0;
  let tl = 0;
  for (const [op, v] of B) {
    const [b, l] = [med(v), med(L.get(op)!)];
    tb += b;
    tl += l;
    console.log(`${op.padEnd(22)} baked ${b.toFixed(2)} ms  lifted ${l.toFixed(2)} ms  ${(l / b).toFixed(2)}x`);
  }
  console.log(`total baked ${tb.toFixed(1)} lifted ${tl.toFixed(1)} ${(tl / tb).toFixed(2)}x`);
} else if (mode === 'show') {
  console.log(skeletons(shapeArg).get(`${arg}#0`) ?? `no kernel of node '${arg}'`);
} else if (mode === 'misses') {
  const A = skeletons(shapeArg);
  const before = gpu.pipelineCount;
  sized.get(at(arg));
  console.log(`pipelines compiled at ${arg}: ${gpu.pipelineCount - before}`);
  for (const [k, w] of skeletons(arg)) {
    const v = A.get(k);
    if (v === w) continue;
    const [la, lb] = [(v ?? '').split('\n'), w.split('\n')];
    const i = lb.findIndex((l, j) => l !== la[j]);
    console.log(k, '\n  A:', la[i], '\n  B:', lb[i]);
  }
} else throw new Error('mode: profile, show or misses (see the header)');
process.exit(0);
