// Compacted layers back to ordinary ones, so that any ONNX runtime can read an optimised model.
//
// A compacted Conv (ops/conv.ts, attribute `kept_rows`) holds w as [M, K'], column j of row oc
// being the weight of its group's j-th kept reduction row k = (c*KH + ky)*KW + kx; the dense
// equivalent is w [M, C/group, KH, KW] with those weights at their k and zeros in every eliminated
// row. A compacted Gemm holds B as [K', N] ([N, K'] with transB), row j for A's column
// kept_rows[j]; the dense B is [K, N] ([N, K]) with zero rows elsewhere. Both dense forms compute
// exactly what the compacted ones do (the zero rows add nothing), at the full layer's cost.
//
// Storage formats go too (the result is plain float32): initializers stored in a format are
// written with their rounded values. The result is a new graph; the input graph and its tensors
// are never modified. A rewritten
// weight keeps its initializer name when no other node reads it, else it gets a fresh one.

import type { Graph, Node } from '../graph/ir.js';
import { inferShapes } from '../graph/shapes.js';
import { exportOnnx, type ExportOptions } from '../onnx/export.js';
import type { RawAttrs } from '../ops/op.js';
import { keptRowsOf, type ConvAttrs } from '../ops/conv.js';
import type { GemmAttrs } from '../ops/gemm.js';
import { getFormat, quantize } from '../formats/format.js';
import { Tensor } from '../tensor.js';
import { DeftnnError } from '../errors.js';

export class DenseError extends DeftnnError {
  override name = 'DenseError';
}

/** The graph with every compacted Conv/Gemm expanded to its dense zero-row form, all float32. */
export function denseGraph(graph: Graph): Graph {
  if (!graph.nodes.some((n) => n.attrs.kept_rows !== undefined) && !graph.formats?.size) return graph;
  const ig = inferShapes(graph);
  const readers = new Map<string, number>();
  for (const n of graph.nodes) for (const v of n.inputs) readers.set(v, (readers.get(v) ?? 0) + 1);
  // Storage formats (data fission) become float32: an initializer in format f holds quantize(f, w)
  // wherever the graph runs, so that is what the dense graph gets. (Packed activations are rounded
  // at run time, which a float32 graph cannot say; those values are computed unrounded.)
  const inits = new Map(graph.initializers);
  for (const [name, f] of graph.formats ?? []) {
    const t = inits.get(name);
    if (t) inits.set(name, new Tensor(t.shape, quantize(getFormat(f), t.data)));
  }
  const nodes: Node[] = ig.nodes.map((r) => {
    const n = r.node;
    if (n.attrs.kept_rows === undefined) return n;
    const wName = n.inputs[1];
    const w = inits.get(wName);
    if (!w) throw new DenseError(`node '${n.name}' (${n.op}): its compacted weight '${wName}' is not an initializer, so it cannot be expanded`);
    let dense: Tensor;
    if (n.op === 'Conv') dense = denseConvWeight(w, r.inputShapes[0][1], r.attrs as ConvAttrs);
    else if (n.op === 'Gemm') dense = denseGemmWeight(w, r.attrs as GemmAttrs, r.inputShapes[0]);
    else throw new DenseError(`node '${n.name}' (${n.op}) has 'kept_rows', which only Conv and Gemm define`);
    let name = wName;
    if ((readers.get(wName) ?? 0) > 1 || graph.outputs.includes(wName)) {
      name = `${n.name}.dense.W`;
      for (let k = 1; inits.has(name) || readers.has(name); k++) name = `${n.name}.dense.W_${k}`;
    }
    inits.set(name, dense);
    const attrs: Record<string, RawAttrs[string]> = { ...n.attrs };
    delete attrs.kept_rows;
    return { ...n, inputs: [n.inputs[0], name, ...n.inputs.slice(2)], attrs };
  });
  const { formats: _formats, ...rest } = graph;
  return { ...rest, nodes, initializers: inits };
}

/** Standard ONNX (fp32) of a graph that may hold compacted layers: denseGraph, then exportOnnx. */
export function exportDenseOnnx(graph: Graph, opts: ExportOptions = {}): Uint8Array {
  return exportOnnx(denseGraph(graph), opts);
}

// w: [M, K'] -> [M, C/group, KH, KW]; row oc belongs to group floor(oc / (M/group)).
function denseConvWeight(w: Tensor, C: number, a: ConvAttrs): Tensor {
  const [M, Kp] = w.shape;
  const [KH, KW] = a.kernel;
  const Cg = C / a.group;
  const K = Cg * KH * KW;
  const Mg = M / a.group;
  const out = new Float32Array(M * K);
  for (let oc = 0; oc < M; oc++) {
    const rows = keptRowsOf(a, Math.floor(oc / Mg));
    for (let j = 0; j < Kp; j++) out[oc * K + rows[j]] = w.data[oc * Kp + j];
  }
  return new Tensor([M, Cg, KH, KW], out);
}

// b: [K', N] -> [K, N], or with transB [N, K'] -> [N, K]; K = A's reduction length.
function denseGemmWeight(b: Tensor, a: GemmAttrs, aShape: readonly number[]): Tensor {
  const kept = a.kept!;
  const K = a.transA ? aShape[0] : aShape[1];
  if (a.transB) {
    const [N, Kp] = b.shape;
    const out = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (let j = 0; j < Kp; j++) out[n * K + kept[j]] = b.data[n * Kp + j];
    return new Tensor([N, K], out);
  }
  const [Kp, N] = b.shape;
  const out = new Float32Array(K * N);
  for (let j = 0; j < Kp; j++) out.set(b.data.subarray(j * N, (j + 1) * N), kept[j] * N);
  return new Tensor([K, N], out);
}
