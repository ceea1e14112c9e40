// A small fluent builder for graphs written in code: the model zoo, tests and the demo.

import type { RawAttrs } from '../ops/op.js';
import type { Shape, Tensor } from '../tensor.js';
import type { Graph, Node, ValueInfo } from './ir.js';

export class GraphBuilder {
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: string[] = [];
  private readonly nodes: Node[] = [];
  private readonly initializers = new Map<string, Tensor>();
  private readonly counts = new Map<string, number>();

  /** A fresh name with this prefix: conv0, conv1, ... */
  private fresh(prefix: string): string {
    const n = this.counts.get(prefix) ?? 0;
    this.counts.set(prefix, n + 1);
    return `${prefix}${n}`;
  }

  input(name: string, shape: Shape): string {
    this.inputs.push({ name, shape });
    return name;
  }

  /** A constant (weights, biases); `name` defaults to a fresh one. */
  constant(t: Tensor, name = this.fresh('w')): string {
    this.initializers.set(name, t);
    return name;
  }

  /** Add a node and return the name of its (first) output. */
  node(op: string, inputs: readonly string[], attrs: RawAttrs = {}, name = this.fresh(op.toLowerCase())): string {
    const out = `${name}_out`;
    this.nodes.push({ name, op, inputs, outputs: [out], attrs });
    return out;
  }

  output(value: string): this {
    this.outputs.push(value);
    return this;
  }

  build(): Graph {
    return { inputs: [...this.inputs], outputs: [...this.outputs], nodes: [...this.nodes], initializers: new Map(this.initializers) };
  }
}
