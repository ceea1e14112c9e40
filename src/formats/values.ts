// Which values of a graph are stored packed, and in which format (Graph.formats, design notes 4.2),
// checked against what the ops can read and write. One resolution shared by both sessions, the
// planner (buffer sizes), the bytes-moved counts and pack() (src/ndf/pack.ts), so that the CPU
// reference and WebGPU accept exactly the same graphs.

import { GraphError, type InferredGraph, type ResolvedNode } from '../graph/shapes.js';
import { DEFAULT_KERNEL_CONTEXT } from '../kernels/context.js';
import { getFormat, type FloatFormat, type IoFormats } from './format.js';

const views = new WeakMap<ResolvedNode, boolean>();

/** Whether the node's output 0 is a view of its input 0 (the same buffer on WebGPU); cached per node. */
export function isViewNode(r: ResolvedNode): boolean {
  let v = views.get(r);
  if (v === undefined) {
    v = r.inputShapes.length > 0 && r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, DEFAULT_KERNEL_CONTEXT) === 'view';
    views.set(r, v);
  }
  return v;
}

/**
 * The packed values of the graph with their formats (fp32 entries dropped: they are float32),
 * views of a packed value included. Throws FormatError for an unknown format name, GraphError
 * for a name that is not a value of the graph, a packed graph input or output, a view named in
 * another format than its source, or a packed value that its producer cannot pack on store or a
 * consumer cannot read packed (OpDef.packed).
 */
export function valueFormats(ig: InferredGraph): Map<string, FloatFormat> {
  const out = new Map<string, FloatFormat>();
  const spec = ig.graph.formats;
  if (!spec || spec.size === 0) return out;
  const { graph } = ig;
  const produced = new Set(graph.nodes.flatMap((n) => n.outputs));
  const inputs = new Set(graph.inputs.map((v) => v.name));
  const outputs = new Set(graph.outputs);
  for (const [name, fname] of spec) {
    const f = getFormat(fname);
    if (inputs.has(name) && f.bits < 32) throw new GraphError(`formats: graph input '${name}' cannot be packed (${fname}): inputs arrive as float32; pack the values computed from it instead`);
    if (!produced.has(name) && !graph.initializers.has(name) && !inputs.has(name)) throw new GraphError(`formats: '${name}' is not a value or initializer of this graph`);
    if (outputs.has(name) && f.bits < 32) throw new GraphError(`formats: graph output '${name}' cannot be packed (${fname}): outputs are read back as float32`);
    if (f.bits < 32) out.set(name, f);
  }
  for (const r of ig.nodes) {
    const src = out.get(r.node.inputs[0]);
    if (!src || !isViewNode(r)) continue;
    const v = r.node.outputs[0];
    const named = spec.get(v);
    if (named !== undefined && named !== src.name) {
      throw new GraphError(`formats: '${v}' is a view (${r.node.op} '${r.node.name}') of '${r.node.inputs[0]}', which is packed in ${src.name}; it cannot be ${named}`);
    }
    if (outputs.has(v)) throw new GraphError(`formats: graph output '${v}' would be packed in ${src.name}: it is a view (${r.node.op}) of packed '${r.node.inputs[0]}'`);
    out.set(v, src);
  }
  for (const r of ig.nodes) {
    const io = nodeFormats(r, out);
    if (!io || isViewNode(r)) continue; // views move no data: a packed view is its source
    const why = whyNotPacked(r, io);
    if (why) throw new GraphError(why);
  }
  return out;
}

/** The formats of one node's inputs and outputs, or undefined when none is packed. */
export function nodeFormats(r: ResolvedNode, formats: ReadonlyMap<string, FloatFormat>): IoFormats | undefined {
  const inputs = r.node.inputs.map((v) => formats.get(v));
  const outputs = r.node.outputs.map((v) => formats.get(v));
  return inputs.some(Boolean) || outputs.some(Boolean) ? { inputs, outputs } : undefined;
}

/** Why this (non-view) node cannot run with these packed values, or null when it can. */
export function whyNotPacked(r: ResolvedNode, io: IoFormats | undefined): string | null {
  if (!io) return null;
  const { node, op } = r;
  for (let i = 0; i < io.inputs.length; i++) {
    const f = io.inputs[i];
    if (f && !op.packed?.inputs.includes(i)) {
      return `node '${node.name}' (${node.op}) cannot read its input ${i} ('${node.inputs[i]}') packed in ${f.name}: ${node.op}'s kernels read it as float32 only; leave that value fp32`;
    }
  }
  for (let i = 0; i < io.outputs.length; i++) {
    const f = io.outputs[i];
    if (!f) continue;
    const why = i > 0 ? 'only output 0 can be packed' : !op.packed?.output ? `${node.op}'s kernels store float32 only` : op.packed.output(r.inputShapes, r.outputShapes, r.attrs, f);
    if (why) return `node '${node.name}' (${node.op}) cannot pack its output '${node.outputs[i]}' in ${f.name}: ${why}; leave that value fp32`;
  }
  return null;
}
