// Work and traffic per node, computed from shapes alone: floating-point operations (a
// multiply-add counts 2) and bytes read and written at float32. Used for FLOP counts in the zoo
// table, `deftnn info`, and the roofline.

import { DEFAULT_KERNEL_CONTEXT } from '../kernels/context.js';
import { sizeOf } from '../tensor.js';
import type { InferredGraph, ResolvedNode } from './shapes.js';

export interface NodeCost {
  readonly node: string;
  readonly op: string;
  readonly flops: number;
  readonly bytes: number;
}

/** Multiply-adds of the GEMM-like ops (undefined for the others). */
function multiplyAdds(r: ResolvedNode): number | undefined {
  const [a, w] = r.inputShapes;
  const out = sizeOf(r.outputShapes[0]);
  switch (r.node.op) {
    case 'Conv': // w: [M, C/group, KH, KW]: each output sums C/group·KH·KW products
      return out * (sizeOf(w) / w[0]);
    case 'ConvTranspose': // w: [C, M/group, KH, KW]: each input element feeds M/group·KH·KW outputs
      return sizeOf(a) * (sizeOf(w) / w[0]);
    case 'Gemm':
      return out * ((r.attrs as { kept?: readonly number[] }).kept?.length ?? ((r.attrs as { transA: boolean }).transA ? a[0] : a[1])); // compacted: K'
    case 'MatMul':
      return out * a[a.length - 1];
    default:
      return undefined;
  }
}

export function nodeCost(r: ResolvedNode): NodeCost {
  const isView = r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, DEFAULT_KERNEL_CONTEXT) === 'view';
  const out = r.outputShapes.reduce((s, o) => s + sizeOf(o), 0);
  const macs = multiplyAdds(r);
  const flops = macs !== undefined ? 2 * macs : isView ? 0 : out;
  const bytes = isView ? 0 : 4 * (out + r.inputShapes.reduce((s, i) => s + sizeOf(i), 0));
  return { node: r.node.name, op: r.node.op, flops, bytes };
}

/** Costs of every node and their totals. Views (Reshape, Flatten, ...) move no data. */
export function graphCost(ig: InferredGraph): { nodes: NodeCost[]; flops: number; bytes: number } {
  const nodes = ig.nodes.map(nodeCost);
  return { nodes, flops: nodes.reduce((s, n) => s + n.flops, 0), bytes: nodes.reduce((s, n) => s + n.bytes, 0) };
}
