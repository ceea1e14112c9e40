// Reverse-mode automatic differentiation over the graph IR.
//
// The backward pass is itself a graph: each op's `grad` (in the op's own file) emits ordinary
// nodes — other ops, or gradient ops registered beside it (MaxPoolGrad, ConvGradWeight, ...) —
// that compute its inputs' gradients from its outputs' gradients. The result is one graph holding
// the forward pass, the loss and every gradient, which the same planner and executors run: the
// GPU backward pass reuses the forward kernels' machinery, and every gradient op has a CPU
// reference like any other op.

import { OpError, type GradContext, type RawAttrs } from '../ops/op.js';
import { Tensor, type Shape } from '../tensor.js';
import type { Graph, Node } from './ir.js';
import { inferShapes } from './shapes.js';

export interface BackwardGraph {
  /** Forward nodes, then backward nodes; outputs: the forward outputs, then the gradients. */
  readonly graph: Graph;
  /** Name of the gradient value of each requested value (in `wrt` order). */
  readonly grads: readonly string[];
}

/**
 * Append to `graph` the gradient of the scalar (one-element) value `loss` with respect to each
 * value of `wrt` (initializers or inputs). A value of `wrt` that `loss` does not depend on gets
 * a zero gradient.
 */
export function buildBackward(graph: Graph, loss: string, wrt: readonly string[]): BackwardGraph {
  const ig = inferShapes(graph);
  const lossShape = ig.shapes.get(loss);
  if (!lossShape) throw new Error(`loss value '${loss}' is not in the graph`);
  if (lossShape.reduce((a, b) => a * b, 1) !== 1) throw new Error(`loss '${loss}' must have one element, has shape [${lossShape}]`);
  for (const w of wrt) if (!ig.shapes.has(w)) throw new Error(`cannot differentiate with respect to '${w}': no such value`);

  // Values that depend on something in wrt: only these carry gradients.
  const live = new Set(wrt);
  for (const n of graph.nodes) if (n.inputs.some((v) => live.has(v))) n.outputs.forEach((v) => live.add(v));

  const nodes: Node[] = [...graph.nodes];
  const initializers = new Map(graph.initializers);
  let counter = 0;
  const fresh = (p: string) => `${p}__g${counter++}`;
  const emitMulti = (op: string, inputs: readonly string[], outputs: number, attrs: RawAttrs = {}) => {
    const name = fresh(op.toLowerCase());
    const outs = Array.from({ length: outputs }, (_, i) => `${name}_${i}`);
    nodes.push({ name, op, inputs, outputs: outs, attrs });
    return outs;
  };
  const emit = (op: string, inputs: readonly string[], attrs: RawAttrs = {}) => emitMulti(op, inputs, 1, attrs)[0];
  const constant = (t: Tensor) => {
    const name = fresh('const');
    initializers.set(name, t);
    return name;
  };
  const sumTo = (grad: string, from: Shape, to: Shape) => sumToShape(emit, grad, from, to);

  const gradOf = new Map<string, string>();
  const accumulate = (value: string, g: string) => {
    const prev = gradOf.get(value);
    gradOf.set(value, prev === undefined ? g : emit('Add', [prev, g]));
  };
  gradOf.set(loss, constant(new Tensor(lossShape, [1])));

  for (let i = ig.nodes.length - 1; i >= 0; i--) {
    const r = ig.nodes[i];
    const gradOutputs = r.node.outputs.map((v) => gradOf.get(v));
    if (gradOutputs.every((g) => g === undefined)) continue;
    const wants = r.node.inputs.map((v) => live.has(v));
    if (!wants.some(Boolean)) continue;
    if (!r.op.grad) throw new Error(`node '${r.node.name}': op ${r.node.op} has no gradient, so it cannot be trained through`);
    const ctx: GradContext = {
      inputs: r.node.inputs,
      outputs: r.node.outputs,
      attrs: r.attrs,
      inputShapes: r.inputShapes,
      outputShapes: r.outputShapes,
      gradOutputs,
      wants,
      emit,
      emitMulti,
      constant,
      sumTo,
    };
    let gIn: (string | undefined)[];
    try {
      gIn = r.op.grad(ctx);
    } catch (e) {
      if (e instanceof OpError) throw new Error(`node '${r.node.name}' (${r.node.op}): ${e.message}`);
      throw e;
    }
    r.node.inputs.forEach((v, k) => {
      if (wants[k] && gIn[k] !== undefined) accumulate(v, gIn[k]!);
    });
  }

  const grads = wrt.map((w) => gradOf.get(w) ?? constant(new Tensor(ig.shapes.get(w)!)));
  return {
    graph: { inputs: graph.inputs, outputs: [...graph.outputs, ...grads], nodes, initializers },
    grads,
  };
}

/** ReduceSum over the axes that broadcasting expanded from `to` to `from`, then reshape to `to`. */
export function sumToShape(emit: GradContext['emit'], grad: string, from: Shape, to: Shape): string {
  if (from.length === to.length && from.every((d, i) => d === to[i])) return grad;
  const lead = from.length - to.length;
  const axes: number[] = [];
  for (let i = 0; i < from.length; i++) {
    const t = i < lead ? 1 : to[i - lead];
    if (i < lead || (t === 1 && from[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? emit('ReduceSum', [grad], { axes, keepdims: 1 }) : grad;
  return emit('Reshape', [summed], { shape: [...to] });
}
