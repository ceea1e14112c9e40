// Compacted graphs for the artifact tests, made by hand from dense ones: every Conv and Gemm keeps
// a seeded random subset of its reduction rows (per group when `perGroup`), in the `kept_rows`
// form of ops/conv.ts and ops/gemm.ts; alongside, the dense graph with the eliminated rows zeroed,
// which computes the same thing (the reference for denseGraph).

import type { Graph, Node } from '../../src/graph/ir.js';
import { inferShapes } from '../../src/graph/shapes.js';
import { Tensor } from '../../src/tensor.js';
import { pickRows } from '../helpers.js';

export function compactByHand(graph: Graph, rand: () => number, opts: { fraction?: number; perGroup?: boolean } = {}): { compacted: Graph; zeroed: Graph } {
  const fraction = opts.fraction ?? 0.6;
  const ig = inferShapes(graph);
  const cInits = new Map(graph.initializers);
  const zInits = new Map(graph.initializers);
  const cNodes: Node[] = [];
  const zNodes: Node[] = [];
  for (const r of ig.nodes) {
    const n = r.node;
    const w = graph.initializers.get(n.inputs[1] ?? '');
    if ((n.op !== 'Conv' && n.op !== 'Gemm') || !w) {
      cNodes.push(n);
      zNodes.push(n);
      continue;
    }
    const zero = new Float32Array(w.data);
    let compact: Tensor;
    let kept: number[];
    if (n.op === 'Conv') {
      // w: [M, C/g, KH, KW] -> [M, K']
      const [M, Cg, KH, KW] = w.shape;
      const K = Cg * KH * KW;
      const group = (n.attrs.group as number | undefined) ?? 1;
      const Kp = Math.max(1, Math.round(fraction * K));
      const lists = Array.from({ length: opts.perGroup && group > 1 ? group : 1 }, () => pickRows(K, Kp, rand));
      const data = new Float32Array(M * Kp);
      for (let oc = 0; oc < M; oc++) {
        const rows = lists.length > 1 ? lists[Math.floor(oc / (M / group))] : lists[0];
        rows.forEach((k, j) => (data[oc * Kp + j] = w.data[oc * K + k]));
        for (let k = 0; k < K; k++) if (!rows.includes(k)) zero[oc * K + k] = 0;
      }
      compact = new Tensor([M, Kp], data);
      kept = lists.flat();
      cNodes.push({ ...n, attrs: { ...n.attrs, kernel_shape: [KH, KW], kept_rows: kept } });
    } else {
      // B: [K, N] -> [K', N], or with transB [N, K] -> [N, K']
      const transB = n.attrs.transB === 1;
      const [K, N] = transB ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
      const Kp = Math.max(1, Math.round(fraction * K));
      kept = pickRows(K, Kp, rand);
      const data = new Float32Array(Kp * N);
      for (let j = 0; j < Kp; j++) for (let c = 0; c < N; c++) data[transB ? c * Kp + j : j * N + c] = w.data[transB ? c * K + kept[j] : kept[j] * N + c];
      for (let k = 0; k < K; k++) if (!kept.includes(k)) for (let c = 0; c < N; c++) zero[transB ? c * K + k : k * N + c] = 0;
      compact = new Tensor(transB ? [N, Kp] : [Kp, N], data);
      cNodes.push({ ...n, attrs: { ...n.attrs, kept_rows: kept } });
    }
    cInits.set(n.inputs[1], compact);
    zInits.set(n.inputs[1], new Tensor(w.shape, zero));
    zNodes.push(n);
  }
  return { compacted: { ...graph, nodes: cNodes, initializers: cInits }, zeroed: { ...graph, nodes: zNodes, initializers: zInits } };
}
