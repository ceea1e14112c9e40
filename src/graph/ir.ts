// The graph IR: named values, nodes in topological order, constant initializers.
// Values are NCHW float32; a node's `op` is an ONNX op_type found in ops/registry.ts.

import type { RawAttrs } from '../ops/op.js';
import type { Shape, Tensor } from '../tensor.js';

export interface Node {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: RawAttrs;
}

export interface ValueInfo {
  readonly name: string;
  readonly shape: Shape;
  /**
   * Graph inputs: the dimensions as the model declares them, a number where it fixes one, a name
   * where it is free (ONNX dim_param, '?' when unnamed). `shape` is the size this graph was made
   * for; absent: every dimension is fixed at `shape`.
   */
  readonly dims?: readonly (number | string)[];
}

/** An input's name and declared dimensions (see ValueInfo.dims). */
export interface ValueDims {
  readonly name: string;
  readonly dims: readonly (number | string)[];
}

export interface Graph {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly string[];
  readonly nodes: readonly Node[];
  readonly initializers: ReadonlyMap<string, Tensor>;
  /**
   * Near-compute data fission (src/formats, design notes 4.2): value or initializer name -> the
   * name of a format of FORMATS it is stored packed in; absent (or 'fp32'): float32. A value with
   * format f holds exactly quantize(f, x) on every backend. Views (Reshape, Flatten, ...) of a
   * packed value are packed in its format too. Graph inputs and outputs stay float32, and only
   * ops that declare it (OpDef.packed) may read or write packed values: sessions refuse other
   * graphs (src/formats/values.ts).
   */
  readonly formats?: ReadonlyMap<string, string>;
}

/** The index of the last node reading each value (graph outputs live to the end). */
export function lastUses(graph: Graph): Map<string, number> {
  const last = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.inputs.forEach((v) => last.set(v, i)));
  for (const o of graph.outputs) last.set(o, graph.nodes.length);
  return last;
}
