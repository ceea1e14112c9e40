// Which kernels of a model get a skeleton at size B that size A's session did not compile (the
// pipelines a second size still costs), and the first line where the two skeletons differ.
//   npx tsx dev/lift-misses.ts MODEL.onnx 1,3,48,320 1,3,48,480
import { defaultGpu } from '../src/model.js';
import { declaredInputs, importModel } from '../src/onnx/import.js';
import { readModel } from '../src/onnx/source.js';
import { optimizeGraph } from '../src/graph/passes.js';
import { SizedSessions } from '../src/graph/sized.js';
import { inferShapes } from '../src/graph/shapes.js';
import type { SizeLifts } from '../src/kernels/uniforms.js';
const [path, a, b] = process.argv.slice(2);
const gpu = (await defaultGpu())!;
const onnx = await readModel(path);
const declared = declaredInputs(onnx);
const name = declared[0].name;
const graphFor = (s: Record<string, readonly number[]>) => optimizeGraph(importModel(onnx, { inputShapes: s }));
const sized = new SizedSessions({ declared, graphFor }, gpu);
const at = (s: string) => ({ [name]: s.split(',').map(Number) });
sized.get(at(a));
const lifts = (sized as unknown as { lifts: SizeLifts }).lifts;
const skeletons = (s: string) => {
  const ig = inferShapes(graphFor(at(s)));
  const m = new Map<string, string>();
  for (const r of ig.nodes) {
    const d = r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, gpu.kernelContext);
    if (d !== 'view') d.forEach((x, k) => m.set(`${r.node.name}#${k}`, lifts.lift(`${r.node.name}#${k}`, x.wgsl).wgsl));
  }
  return m;
};
const A = skeletons(a);
const before = gpu.pipelineCount;
sized.get(at(b));
console.log(`pipelines compiled at ${b}: ${gpu.pipelineCount - before}`);
const B = skeletons(b);
for (const [k, w] of B) {
  const v = A.get(k);
  if (v === w) continue;
  const la = (v ?? '').split('\n'), lb = w.split('\n');
  const i = lb.findIndex((l, j) => l !== la[j]);
  console.log(k, '\n  A:', la[i], '\n  B:', lb[i]);
}
process.exit(0);
