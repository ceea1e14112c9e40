// Synapse vector elimination (design.md 4.1), part 1: the unrolled input of a layer.
//
// A layer computes O = W · X (+ b) per group g:
//   Conv: W[g] is [Mg, K] (w's rows as they lie: w [M, C/group, KH, KW], oc = g*Mg + m),
//         X[g] is [K, N'] with row k = (c, ky, kx), k = (c*KH + ky)*KW + kx, and column
//         col = (n, oy, ox), col = (n*OH + oy)*OW + ox;
//         X[g][k, col] = x[n, g*Cg + c, oy*sh - padTop + ky*dh, ox*sw - padLeft + kx*dw] (0 outside).
//   Gemm: (transA = 0 only) x [N, K], X [K, N] = x^T, one group; row k = input feature k
//         (reported as c = k, ky = kx = 0).
// A row k of X together with column k of W is one synapse vector.
//
// Depthwise convs (one input channel per group, group > 1) have K = KH*KW per group: removing a
// kernel tap of a 3x3 depthwise filter saves almost nothing, and their kernel is not a GEMM, so
// `eligibleLayers` skips them unless asked (`includeDepthwise`); when included they are treated
// like any grouped conv (per-group statistics and selection).

import { geometry, resolveAttrs, type ConvAttrs, type ConvGeom } from '../ops/conv.js';
import { gemmOp, type GemmAttrs } from '../ops/gemm.js';
import type { Graph, Node } from '../graph/ir.js';
import { inferShapes } from '../graph/shapes.js';
import { shapeStr, type Shape, type Tensor } from '../tensor.js';
import { DeftnnError } from '../errors.js';

export class SveError extends DeftnnError {
  override name = 'SveError';
}

/** Everything the SVE steps need to know about one Conv or Gemm layer. */
export interface LayerSpec {
  readonly node: string;
  readonly op: 'Conv' | 'Gemm';
  /** The value feeding X (the node's first input). */
  readonly input: string;
  /** Its shape in the graph: [N, C, H, W] (Conv) or [N, K] (Gemm). */
  readonly inputShape: Shape;
  readonly weight: string;
  readonly bias?: string;
  readonly groups: number;
  /** Reduction rows per group. */
  readonly K: number;
  /** Output channels (all groups), and per group. */
  readonly M: number;
  readonly Mg: number;
  /** Input channels per group and kernel size (Gemm: Cg = K, KH = KW = 1). */
  readonly Cg: number;
  readonly KH: number;
  readonly KW: number;
  readonly depthwise: boolean;
  readonly conv?: { readonly attrs: ConvAttrs; readonly geom: ConvGeom };
  readonly gemm?: GemmAttrs;
}

export interface KernelPos {
  readonly c: number;
  readonly ky: number;
  readonly kx: number;
}

/** Row k -> (c, ky, kx), c counted within the group. */
export function rowToKernel(spec: LayerSpec, k: number): KernelPos {
  if (!Number.isInteger(k) || k < 0 || k >= spec.K) throw new SveError(`row ${k} is outside 0..${spec.K - 1} of layer '${spec.node}'`);
  const kx = k % spec.KW;
  const ky = Math.floor(k / spec.KW) % spec.KH;
  return { c: Math.floor(k / (spec.KW * spec.KH)), ky, kx };
}

/** (c, ky, kx) -> row k. */
export function kernelToRow(spec: LayerSpec, c: number, ky: number, kx: number): number {
  if (c < 0 || c >= spec.Cg || ky < 0 || ky >= spec.KH || kx < 0 || kx >= spec.KW) {
    throw new SveError(`(c=${c}, ky=${ky}, kx=${kx}) is outside layer '${spec.node}' (${spec.Cg}x${spec.KH}x${spec.KW})`);
  }
  return (c * spec.KH + ky) * spec.KW + kx;
}

/**
 * The spec of every Conv / Gemm node SVE can handle, and for the others why not. A layer needs
 * its weight (and bias, if any) as initializers; Gemm needs transA = 0 and a bias of shape [M] or
 * [1, M].
 */
export function eligibleLayers(graph: Graph, opts: { includeDepthwise?: boolean } = {}): { layers: LayerSpec[]; skipped: { node: string; reason: string }[] } {
  const ig = inferShapes(graph);
  const layers: LayerSpec[] = [];
  const skipped: { node: string; reason: string }[] = [];
  for (const r of ig.nodes) {
    const n = r.node;
    if (n.op !== 'Conv' && n.op !== 'Gemm') continue;
    const why = (reason: string) => skipped.push({ node: n.name, reason });
    if (n.attrs.input_scale !== undefined) {
      why('its input is scaled as it is loaded (a fused squeeze-excite gate), which elimination does not model');
      continue;
    }
    if (!graph.initializers.has(n.inputs[1])) {
      why(`weight '${n.inputs[1]}' is not an initializer`);
      continue;
    }
    if (n.inputs[2] !== undefined && !graph.initializers.has(n.inputs[2])) {
      why(`bias '${n.inputs[2]}' is not an initializer`);
      continue;
    }
    const spec = layerSpec(n, r.inputShapes);
    if (typeof spec === 'string') why(spec);
    else if (spec.depthwise && !opts.includeDepthwise) why(`depthwise conv (K = ${spec.K} per group): skipped by default`);
    else layers.push(spec);
  }
  return { layers, skipped };
}

/** The spec of one node from its input shapes, or why it is not eligible. */
export function layerSpec(n: Node, inputShapes: readonly Shape[]): LayerSpec | string {
  if (n.op === 'Conv') {
    const attrs = resolveAttrs(n.attrs, inputShapes);
    const geom = geometry(inputShapes, attrs);
    return {
      node: n.name, op: 'Conv', input: n.inputs[0], inputShape: inputShapes[0], weight: n.inputs[1], bias: n.inputs[2],
      groups: attrs.group, K: geom.Cg * geom.KH * geom.KW, M: geom.M, Mg: geom.Mg, Cg: geom.Cg, KH: geom.KH, KW: geom.KW,
      depthwise: attrs.group > 1 && geom.Cg === 1, conv: { attrs, geom },
    };
  }
  if (n.op === 'Gemm') {
    const at = gemmOp.attrs(n.attrs, inputShapes);
    if (at.transA) return 'Gemm with transA = 1';
    const [a, b, c] = inputShapes;
    const K = a[1];
    const M = at.transB ? b[0] : b[1];
    if (c && !((c.length === 1 && c[0] === M) || (c.length === 2 && c[0] === 1 && c[1] === M))) return `Gemm bias of shape ${shapeStr(c)} (needs [${M}] or [1, ${M}])`;
    return {
      node: n.name, op: 'Gemm', input: n.inputs[0], inputShape: a, weight: n.inputs[1], bias: n.inputs[2],
      groups: 1, K, M, Mg: M, Cg: K, KH: 1, KW: 1, depthwise: false, gemm: at,
    };
  }
  return `op ${n.op} is not a Conv or Gemm`;
}

/** Columns N' of X for a batch of n inputs. */
export function columnsPerBatch(spec: LayerSpec, n: number): number {
  return spec.conv ? n * spec.conv.geom.OH * spec.conv.geom.OW : n;
}

/** Check a layer input (any batch size) against the spec; the error names expected vs given. */
export function checkLayerInput(spec: LayerSpec, x: Tensor): void {
  const want = spec.inputShape;
  if (x.shape.length !== want.length || x.shape.some((d, i) => i > 0 && d !== want[i])) {
    throw new SveError(`layer '${spec.node}': input '${spec.input}' has shape ${shapeStr(x.shape)}, expected [N, ${want.slice(1).join(', ')}]`);
  }
}

/**
 * X[g] for a batch x (its own batch size N): a K × cols matrix, row-major, float64, where the
 * columns are `columns` (indices into 0..N'-1, in that order) or all N' of them.
 */
export function unroll(spec: LayerSpec, x: Tensor, group: number, columns?: ArrayLike<number>): { K: number; cols: number; data: Float64Array } {
  checkLayerInput(spec, x);
  if (!Number.isInteger(group) || group < 0 || group >= spec.groups) throw new SveError(`group ${group} is outside 0..${spec.groups - 1} of layer '${spec.node}'`);
  const N = x.shape[0];
  const total = columnsPerBatch(spec, N);
  const cols = columns ? columns.length : total;
  const K = spec.K;
  const out = new Float64Array(K * cols);
  const xd = x.data;
  if (!spec.conv) {
    for (let j = 0; j < cols; j++) {
      const n = columns ? columns[j] : j;
      for (let k = 0; k < K; k++) out[k * cols + j] = xd[n * K + k];
    }
    return { K, cols, data: out };
  }
  const { attrs: a, geom: g } = spec.conv;
  const [sh, sw] = a.strides;
  const [dh, dw] = a.dilations;
  const per = g.OH * g.OW;
  for (let j = 0; j < cols; j++) {
    const col = columns ? columns[j] : j;
    if (col < 0 || col >= total) throw new SveError(`column ${col} is outside 0..${total - 1}`);
    const n = Math.floor(col / per);
    const oy = Math.floor((col % per) / g.OW);
    const ox = col % g.OW;
    for (let c = 0; c < g.Cg; c++) {
      const plane = (n * g.C + group * g.Cg + c) * g.H;
      for (let ky = 0; ky < g.KH; ky++) {
        const iy = oy * sh - a.pads[0] + ky * dh;
        for (let kx = 0; kx < g.KW; kx++) {
          const ix = ox * sw - a.pads[1] + kx * dw;
          const k = (c * g.KH + ky) * g.KW + kx;
          out[k * cols + j] = iy < 0 || iy >= g.H || ix < 0 || ix >= g.W ? 0 : xd[(plane + iy) * g.W + ix];
        }
      }
    }
  }
  return { K, cols, data: out };
}

/**
 * The layer's effective weights W [M, K] (float64, alpha folded in for Gemm) and bias b [M]
 * (beta folded in; zeros when the layer has none), from the graph's initializers.
 */
export function layerWeights(graph: Graph, spec: LayerSpec): { W: Float64Array; b: Float64Array } {
  const w = graph.initializers.get(spec.weight);
  if (!w) throw new SveError(`layer '${spec.node}': weight '${spec.weight}' is not an initializer`);
  const { M, K } = spec;
  const W = new Float64Array(M * K);
  const b = new Float64Array(M);
  if (spec.gemm) {
    const { alpha, beta, transB } = spec.gemm;
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) W[m * K + k] = alpha * w.data[transB ? m * K + k : k * M + m];
    const bt = spec.bias !== undefined ? graph.initializers.get(spec.bias) : undefined;
    if (bt && beta !== 0) for (let m = 0; m < M; m++) b[m] = beta * bt.data[m];
  } else {
    for (let i = 0; i < M * K; i++) W[i] = w.data[i];
    const bt = spec.bias !== undefined ? graph.initializers.get(spec.bias) : undefined;
    if (bt) for (let m = 0; m < M; m++) b[m] = bt.data[m];
  }
  return { W, b };
}
