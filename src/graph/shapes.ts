// Shape inference: every value's shape and every node's resolved attributes, or one error that
// names the node, its op and what did not fit.

import { getOp } from '../ops/registry.js';
import { checkSizes, OpError, type OpDef } from '../ops/op.js';
import { shapeStr, type Shape } from '../tensor.js';
import type { Graph, Node } from './ir.js';
import { DeftnnError } from '../errors.js';

export interface ResolvedNode {
  readonly node: Node;
  readonly op: OpDef<any>;
  readonly attrs: unknown;
  readonly inputShapes: readonly Shape[];
  readonly outputShapes: readonly Shape[];
}

export interface InferredGraph {
  readonly graph: Graph;
  readonly shapes: ReadonlyMap<string, Shape>;
  readonly nodes: readonly ResolvedNode[];
}

export class GraphError extends DeftnnError {
  override name = 'GraphError';
}

export function inferShapes(graph: Graph): InferredGraph {
  // A model without outputs would load as nothing at all (every node unused): refuse it.
  if (graph.outputs.length === 0) throw new GraphError('the graph declares no outputs: there is nothing to compute (corrupt file?)');
  const shapes = new Map<string, Shape>();
  for (const v of graph.inputs) shapes.set(v.name, v.shape);
  for (const [name, t] of graph.initializers) shapes.set(name, t.shape);
  const nodes: ResolvedNode[] = [];
  for (const node of graph.nodes) {
    let op: OpDef<any>;
    try {
      op = getOp(node.op);
    } catch (e) {
      if (e instanceof OpError) throw new GraphError(`node '${node.name}': ${e.message}`);
      throw e;
    }
    const inputShapes = node.inputs.map((v) => {
      const s = shapes.get(v);
      if (!s) throw new GraphError(`node '${node.name}' (${node.op}) reads '${v}', which no earlier node produces`);
      return s;
    });
    try {
      const [min, max] = op.arity;
      if (inputShapes.length < min || inputShapes.length > max) {
        throw new OpError(`takes ${min === max ? min : `${min} to ${max}`} inputs, got ${inputShapes.length}`);
      }
      const attrs = op.attrs(node.attrs, inputShapes);
      const outputShapes = op.shape(inputShapes, attrs);
      if (outputShapes.length < node.outputs.length) {
        throw new OpError(`produces ${outputShapes.length} outputs, the node names ${node.outputs.length}`);
      }
      checkSizes(outputShapes);
      node.outputs.forEach((v, i) => shapes.set(v, outputShapes[i]));
      nodes.push({ node, op, attrs, inputShapes, outputShapes });
    } catch (e) {
      if (e instanceof OpError) {
        const ins = inputShapes.map(shapeStr).join(', ');
        throw new GraphError(`node '${node.name}' (${node.op}, inputs ${ins}): ${e.message}`);
      }
      throw e;
    }
  }
  for (const o of graph.outputs) {
    if (!shapes.has(o)) throw new GraphError(`graph output '${o}' is not produced by any node`);
  }
  return { graph, shapes, nodes };
}
