// Weights larger than one storage binding, split rather than refused.
//
// WebGPU binds a buffer to a kernel only up to maxStorageBufferBindingSize bytes (128 MiB on many
// adapters, lavapipe included), and the fully connected layers of AlexNet (9216x4096 floats,
// 151 MB) and VGG (25088x4096, 411 MB) are larger. A Gemm or MatMul whose constant weight B is
// too large becomes several of the same op, each over a block of B's output columns (N) small
// enough to bind, followed by a Concat of their outputs along N. Each block reads the whole input
// A and writes its own columns, so the work and the result are the same (a fused activation and
// Gemm's bias apply per column and split with them).
//
//   Gemm:   B is [K, N] (transB = 0) or [N, K] (transB = 1); C, when it has N columns, is split too.
//   MatMul: B is a 2-D [K, N] constant.

import type { Graph, Node } from './ir.js';
import { inferShapes } from './shapes.js';
import { Tensor } from '../tensor.js';

const BYTES = 4;

/**
 * `graph` with every Gemm/MatMul whose constant float32 weight exceeds `maxBindingBytes` split
 * along N (unchanged when none does). `keep` names initializers that must stay whole (training
 * state, packed weights): those are left for the session to refuse with its own message.
 */
export function splitOversizeWeights(graph: Graph, maxBindingBytes: number, keep: ReadonlySet<string> = new Set()): Graph {
  const oversize = (name: string) => {
    const t = graph.initializers.get(name);
    return !!t && !keep.has(name) && t.shape.length === 2 && t.size * BYTES > maxBindingBytes;
  };
  if (!graph.nodes.some((n) => (n.op === 'Gemm' || n.op === 'MatMul') && oversize(n.inputs[1]))) return graph;
  const shapes = inferShapes(graph).shapes;
  const initializers = new Map(graph.initializers);
  const nodes: Node[] = [];
  for (const node of graph.nodes) {
    if ((node.op !== 'Gemm' && node.op !== 'MatMul') || !oversize(node.inputs[1])) {
      nodes.push(node);
      continue;
    }
    const b = graph.initializers.get(node.inputs[1])!;
    const transB = node.op === 'Gemm' && node.attrs.transB === 1;
    const [k, n] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    const block = Math.max(1, Math.floor(maxBindingBytes / (k * BYTES)));
    const c = node.op === 'Gemm' && node.inputs[2] ? node.inputs[2] : undefined;
    const cShape = c ? shapes.get(c)! : undefined;
    const cSplits = !!cShape && cShape.length > 0 && cShape[cShape.length - 1] === n && n > 1;
    if (cSplits && !initializers.has(c!)) {
      nodes.push(node); // a run-time bias with N columns: left whole (rare; the session names the limit)
      continue;
    }
    const out = node.outputs[0];
    const axis = shapes.get(out)!.length - 1;
    const parts: string[] = [];
    for (let n0 = 0, p = 0; n0 < n; n0 += block, p++) {
      const n1 = Math.min(n, n0 + block);
      const bName = `${node.inputs[1]}:cols${n0}-${n1}`;
      initializers.set(bName, transB ? rows(b, n0, n1) : columns(b, n0, n1));
      const inputs = [node.inputs[0], bName];
      if (c) {
        if (cSplits) {
          const cName = `${c}:cols${n0}-${n1}`;
          initializers.set(cName, columns(flat2d(initializers.get(c)!), n0, n1, cShape!));
          inputs.push(cName);
        } else inputs.push(c);
      }
      const part = `${out}:cols${n0}-${n1}`;
      nodes.push({ name: `${node.name}:cols${n0}-${n1}`, op: node.op, inputs, outputs: [part], attrs: node.attrs });
      parts.push(part);
    }
    nodes.push({ name: `${node.name}:concat`, op: 'Concat', inputs: parts, outputs: [out], attrs: { axis } });
  }
  for (const name of graph.initializers.keys()) {
    if (oversize(name) && !nodes.some((x) => x.inputs.includes(name))) initializers.delete(name);
  }
  return { ...graph, nodes, initializers };
}

/** Rows r0..r1 of a 2-D tensor (contiguous). */
function rows(t: Tensor, r0: number, r1: number): Tensor {
  const w = t.shape[1];
  return new Tensor([r1 - r0, w], t.data.slice(r0 * w, r1 * w));
}

/** Columns c0..c1 of a 2-D tensor; with `shape`, the result keeps that rank (last dim c1 - c0). */
function columns(t: Tensor, c0: number, c1: number, shape?: readonly number[]): Tensor {
  const [h, w] = t.shape;
  const out = new Float32Array(h * (c1 - c0));
  for (let r = 0; r < h; r++) out.set(t.data.subarray(r * w + c0, r * w + c1), r * (c1 - c0));
  const s = shape ? [...shape.slice(0, -1), c1 - c0] : [h, c1 - c0];
  return new Tensor(s, out);
}

/** A tensor viewed as [rows, last dim]. */
function flat2d(t: Tensor): Tensor {
  const last = t.shape[t.shape.length - 1];
  return new Tensor([t.size / last, last], t.data);
}
