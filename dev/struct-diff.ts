// Which kernels of a graph change structure between two input sizes (dev aid for kernels/uniforms.ts).
import type { Graph } from '../src/graph/ir.js';
import { inferShapes } from '../src/graph/shapes.js';
import { withInputShapes } from '../src/artifact/source.js';
import { parseKernel } from '../src/kernels/uniforms.js';
import { DEFAULT_KERNEL_CONTEXT } from '../src/kernels/context.js';
export function structureDiff(graph: Graph, a: number[], b: number[]): void {
  const gen = (s: number[]) => {
    const ig = inferShapes(withInputShapes(graph, { [graph.inputs[0].name]: s }));
    const m = new Map<string, string>();
    for (const r of ig.nodes) { const d = r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, { ...DEFAULT_KERNEL_CONTEXT, softwareAdapter: true }); if (d !== 'view') d.forEach((x, k) => m.set(`${r.node.name}#${k}`, x.wgsl)); }
    return m;
  };
  const A = gen(a), B = gen(b);
  for (const [k, w] of A) {
    const v = B.get(k)!;
    const sa = parseKernel(w).structure.split('\n'), sb = parseKernel(v).structure.split('\n');
    const i = sa.findIndex((l, j) => l !== sb[j]);
    if (i >= 0) console.log(k, '\n  A:', sa[i], '\n  B:', sb[i]);
  }
}
