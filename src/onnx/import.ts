// ONNX model -> graph IR (graph/ir.ts).
//
// One pass over the nodes in file order, with every value's shape known (the input shapes are
// fixed first, from the file or `inputShapes`) and every load-time constant's data at hand:
//  - Constant nodes, initializers, Shape of anything, and integer shape arithmetic on constants
//    fold into constants (fold.ts), so Shape -> Gather -> Concat -> Reshape chains disappear;
//  - Identity, Dropout and float Casts become aliases;
//  - everything else goes through its handler (handlers.ts) to IR nodes of registered ops, whose
//    shape rules give the next shapes; a registered op whose inputs are all constant runs its CPU
//    reference at load time instead.
// Before any of that, every node is checked, and one error lists all unsupported op types.

import { MAX_TENSOR_ELEMENTS } from '../errors.js';
import { checkSizes, OpError } from '../ops/op.js';
import { OPS } from '../ops/registry.js';
import type { Graph, Node, ValueDims, ValueInfo } from '../graph/ir.js';
import type { RawAttrs } from '../ops/op.js';
import type { Tensor } from '../tensor.js';
import { constSize, fromTensor, isFloat, toTensor, type Const } from './constant.js';
import { FOLDS } from './fold.js';
import { generalize } from './generic.js';
import { EMITS, HANDLERS, passthrough } from './handlers.js';
import type { NodeIO, Value } from './node.js';
import { opVersion } from './versions.js';
import { dataTypeName, OnnxError, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from './proto.js';

export const MIN_OPSET = 1;
export const MAX_OPSET = 21;

export interface ImportOptions {
  /** Shapes for inputs whose dimensions are symbolic in the file (batch, height, width ...). */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
  /**
   * Also import at other sizes (every symbolic dimension doubled) and keep the graph valid for
   * both where only folded Reshape targets depend on the size (generic.ts); default false.
   */
  readonly generic?: boolean;
}

export function importModel(model: OnnxModel, opts: ImportOptions = {}): Graph {
  const opset = defaultOpset(model);
  const g = model.graph;
  checkSupported(g, opset);
  const inputs = fixInputShapes(g, opts.inputShapes ?? {});
  const graph = new Importer(g, opset, inputs).run();
  if (!opts.generic || !inputs.some((v) => v.dims)) return graph;
  const doubled = inputs.map((v) => ({ ...v, shape: v.shape.map((d, i) => (typeof v.dims?.[i] === 'string' ? 2 * d : d)) }));
  let other: Graph;
  try {
    other = new Importer(g, opset, doubled).run();
  } catch {
    return graph; // the model refuses the other size: it stays fixed to this one
  }
  return generalize(graph, other);
}

/**
 * What can be checked of a model before any input shape is known: its opset, its ops (one error
 * lists every unsupported one) and its inputs' element types. Returns the inputs as declared:
 * a number where the model fixes a dimension, the dim_param (or '?') where it is free.
 */
export function declaredInputs(model: OnnxModel): ValueDims[] {
  checkSupported(model.graph, defaultOpset(model));
  return model.graph.inputs
    .filter((v) => !model.graph.initializers.has(v.name))
    .map((v) => {
      checkElementType(v);
      if (!v.dims) throw new OnnxError(`input '${v.name}' has no declared shape; deftnn needs at least its rank`);
      return { name: v.name, dims: [...v.dims] };
    });
}

function checkElementType(v: OnnxValueInfo): void {
  if (v.elemType !== 1 && v.elemType !== 0) {
    throw new OnnxError(`input '${v.name}' has element type ${dataTypeName(v.elemType)}; deftnn runs models with float32 inputs`);
  }
}

function defaultOpset(model: OnnxModel): number {
  const v = model.opsets.get('') ?? model.opsets.get('ai.onnx');
  if (v === undefined) throw new OnnxError(`the model imports no opset of the default ONNX domain`);
  if (v < MIN_OPSET || v > MAX_OPSET) throw new OnnxError(`the model uses ONNX opset ${v}; deftnn imports opsets ${MIN_OPSET} to ${MAX_OPSET}`);
  return v;
}

const isDefaultDomain = (n: OnnxNode) => n.domain === '' || n.domain === 'ai.onnx';

/** The registry also holds training ops of our own (gradients, losses, optimisers) that no ONNX file may name. */
export function isOnnxOp(type: string): boolean {
  const op = OPS.get(type);
  return !!op && !op.training;
}

/** Registry ops a node's handler needs when the node is not folded away. */
function emits(opType: string): readonly string[] {
  return EMITS[opType] ?? [opType];
}

function runtimeSupported(opType: string): boolean {
  return (opType in HANDLERS || isOnnxOp(opType)) && emits(opType).every((op) => OPS.has(op));
}

/**
 * Every node that cannot be imported, found before anything is computed: ops with neither a
 * handler nor a registered op, other domains, and handler ops whose IR op is not registered
 * (unless the node only ever sees constants and folds away).
 */
function checkSupported(g: OnnxGraph, opset: number): void {
  const known = new Set(g.initializers.keys());
  const bad = new Map<string, string[]>();
  g.nodes.forEach((node, i) => {
    const allConst = node.inputs.every((v) => !v || known.has(v));
    let ok = isDefaultDomain(node);
    let constant = false;
    if (ok && (node.opType === 'Shape' || node.opType === 'Size')) constant = true;
    else if (ok && allConst && (node.opType in FOLDS || runtimeSupported(node.opType))) constant = true;
    else if (ok) ok = runtimeSupported(node.opType);
    if (!ok) {
      const version = isDefaultDomain(node) ? opVersion(node.opType, opset) : undefined;
      const type = isDefaultDomain(node) ? `${node.opType}${version ? ` (version ${version})` : ''}` : `${node.domain}.${node.opType}`;
      bad.set(type, [...(bad.get(type) ?? []), nodeLabel(node, i)]);
    }
    if (constant) node.outputs.forEach((o) => known.add(o));
  });
  if (bad.size === 0) return;
  const lines = [...bad].map(([type, nodes]) => {
    const shown = nodes.slice(0, 8).join(', ') + (nodes.length > 8 ? `, ... (${nodes.length - 8} more)` : '');
    return `  ${type}: ${nodes.length} node${nodes.length > 1 ? 's' : ''} (${shown})`;
  });
  const supported = [...new Set([...[...OPS.keys()].filter(isOnnxOp), ...Object.keys(HANDLERS).filter(runtimeSupported)])].sort();
  throw new OnnxError(
    `the model uses ${bad.size} ONNX op type${bad.size > 1 ? 's' : ''} that deftnn does not support:\n${lines.join('\n')}\n` +
      `supported op types: ${supported.join(', ')}`,
  );
}

function nodeLabel(node: OnnxNode, i: number): string {
  return node.name ? `'${node.name}'` : `#${i} -> ${node.outputs.filter(Boolean).join(', ')}`;
}

/** Graph inputs (initializers are not inputs) with every dimension fixed. */
function fixInputShapes(g: OnnxGraph, given: Readonly<Record<string, readonly number[]>>): ValueInfo[] {
  const declared = g.inputs.filter((v) => !g.initializers.has(v.name));
  const names = declared.map((v) => v.name);
  for (const k of Object.keys(given)) {
    if (!names.includes(k)) throw new OnnxError(`inputShapes names '${k}', which is not an input of this model (inputs: ${names.join(', ')})`);
  }
  const problems: string[] = [];
  const out = declared.map((v): ValueInfo => {
    checkElementType(v);
    const dims = v.dims?.some((d) => typeof d === 'string') ? { dims: [...v.dims] } : {};
    const shape = given[v.name];
    if (shape) return { name: v.name, shape: checkGivenShape(v, shape), ...dims };
    if (!v.dims) {
      problems.push(`input '${v.name}' has no declared shape`);
      return { name: v.name, shape: [] };
    }
    const symbolic = v.dims.flatMap((d, i) => (typeof d === 'string' ? [`dim ${i} ('${d}')`] : []));
    if (symbolic.length) problems.push(`input '${v.name}' has symbolic dimensions: ${shapeText(v.dims)}, ${symbolic.join(', ')}`);
    return { name: v.name, shape: v.dims as number[], ...dims };
  });
  for (const v of out) {
    if (constSize(v.shape) > MAX_TENSOR_ELEMENTS) {
      throw new OnnxError(`input '${v.name}' has shape [${v.shape.join(', ')}] = ${constSize(v.shape)} elements, more than deftnn's limit of ${MAX_TENSOR_ELEMENTS} per tensor`);
    }
  }
  if (problems.length) {
    const example = declared.filter((v) => problems.some((p) => p.startsWith(`input '${v.name}'`)))[0];
    throw new OnnxError(
      `${problems.join('; ')}. importModel() makes a graph for fixed shapes: give them with the inputShapes option, ` +
        `e.g. importModel(model, { inputShapes: { '${example.name}': ${shapeText(example.dims ?? ['...'])} } }) with numbers for every dimension`,
    );
  }
  return out;
}

function checkGivenShape(v: OnnxValueInfo, shape: readonly number[]): number[] {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new OnnxError(`inputShapes['${v.name}'] must be a list of positive integers, got ${JSON.stringify(shape)}`);
  }
  if (v.dims) {
    if (v.dims.length !== shape.length) {
      throw new OnnxError(`inputShapes['${v.name}'] = [${shape.join(', ')}] has rank ${shape.length}, but the model declares ${shapeText(v.dims)} (rank ${v.dims.length})`);
    }
    v.dims.forEach((d, i) => {
      if (typeof d === 'number' && d !== shape[i]) {
        throw new OnnxError(`inputShapes['${v.name}'] = [${shape.join(', ')}] sets dim ${i} to ${shape[i]}, but the model fixes it at ${d} (${shapeText(v.dims!)})`);
      }
    });
  }
  return [...shape];
}

function shapeText(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

class Importer {
  private readonly values = new Map<string, Value>();
  private readonly nodes: Node[] = [];
  private readonly initializers = new Map<string, Tensor>();
  private readonly nodeNames = new Set<string>();

  constructor(
    private readonly g: OnnxGraph,
    private readonly opset: number,
    private readonly inputs: readonly ValueInfo[],
  ) {
    for (const [name, c] of g.initializers) this.values.set(name, { name, shape: c.shape, constant: c });
    for (const v of inputs) this.values.set(v.name, { name: v.name, shape: v.shape });
  }

  run(): Graph {
    this.g.nodes.forEach((node, i) => {
      const io = this.nodeIO(node, i);
      try {
        const allConst = node.inputs.some(Boolean) && node.inputs.every((v) => !v || this.values.get(v)?.constant);
        const fold = FOLDS[node.opType];
        if (fold && allConst) fold(io).forEach((c, k) => io.setConst(k, c));
        else (HANDLERS[node.opType] ?? passthrough)(io);
      } catch (e) {
        if (e instanceof OnnxError) throw e;
        io.fail((e as Error).message);
      }
    });
    return this.finish();
  }

  /** Graph outputs under their ONNX names, then only the nodes and initializers they need. */
  private finish(): Graph {
    const rename = new Map<string, string>();
    const copies: Node[] = [];
    const inputNames = new Set(this.inputs.map((v) => v.name));
    for (const o of this.g.outputs) {
      const v = this.values.get(o.name);
      if (!v) throw new OnnxError(`graph output '${o.name}' is not produced by any node`);
      if (v.constant) {
        // An output known at load time (it depends on no input): a view of the constant, which
        // becomes an initializer under its own name.
        if (!isFloat(v.constant.dtype)) throw new OnnxError(`graph output '${o.name}' is a constant of type ${v.constant.dtype}; deftnn returns float32 only`);
        const c = `${o.name}:constant`;
        this.initializers.set(c, toTensor(v.constant));
        copies.push({ name: this.uniqueNodeName(`${o.name}:copy`), op: 'Reshape', inputs: [c], outputs: [o.name], attrs: { shape: [...v.shape] } });
        continue;
      }
      if (v.name === o.name) continue;
      if (inputNames.has(v.name) || rename.has(v.name) || this.g.outputs.some((p) => p.name === v.name)) {
        // An input passed through (Identity, a no-op reduction) or one value under two output
        // names: a Reshape to the same shape gives it the output's name (a view, no copy on WebGPU).
        if (!OPS.has('Reshape')) throw new OnnxError(`graph output '${o.name}' repeats the value '${v.name}', which needs the Reshape op`);
        copies.push({ name: this.uniqueNodeName(`${o.name}:copy`), op: 'Reshape', inputs: [v.name], outputs: [o.name], attrs: { shape: [...v.shape] } });
      } else rename.set(v.name, o.name);
    }
    const r = (name: string) => rename.get(name) ?? name;
    let nodes: Node[] = [...this.nodes, ...copies].map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }));
    const live = new Set(this.g.outputs.map((o) => o.name));
    nodes = nodes
      .reverse()
      .filter((n) => {
        if (!n.outputs.some((o) => live.has(o))) return false;
        n.inputs.forEach((v) => live.add(v));
        return true;
      })
      .reverse();
    const initializers = new Map([...this.initializers].filter(([name]) => live.has(name)));
    return { inputs: this.inputs, outputs: this.g.outputs.map((o) => o.name), nodes, initializers };
  }

  private uniqueNodeName(base: string): string {
    let name = base;
    for (let k = 1; this.nodeNames.has(name); k++) name = `${base}#${k}`;
    this.nodeNames.add(name);
    return name;
  }

  private nodeIO(node: OnnxNode, index: number): NodeIO {
    const self = this;
    const name = node.name || `${node.opType}_${index}`;
    const nodeName = name;
    const version = opVersion(node.opType, this.opset);
    const fail = (message: string): never => {
      throw new OnnxError(`node '${name}' (${node.opType}, ${version ? `version ${version}` : `opset ${this.opset}`}): ${message}`);
    };
    // An input a handler replaced by a constant of its own (an old broadcast's reshaped operand).
    const replaced = new Map<number, Value>();
    const value = (i: number): Value => {
      const r = replaced.get(i);
      if (r) return r;
      const v = node.inputs[i];
      if (!v) fail(`input ${i} is required`);
      return self.values.get(v) ?? fail(`reads '${v}', which no earlier node produces (the graph is not in topological order, or it is an output deftnn does not compute)`);
    };
    const constant = (i: number): Const | undefined => (node.inputs[i] ? value(i).constant : undefined);
    const known = (i: number, what: string): Const => {
      if (!node.inputs[i]) fail(`input '${what}' is required`);
      return constant(i) ?? fail(`input '${what}' ('${node.inputs[i]}') must be known at load time; it is computed from the model's inputs`);
    };
    const out = (k: number) => node.outputs[k] || `${name}:unused${k}`;
    // An IR node (or, when every input is known, its result computed now) reading inputs of this
    // node by index or values named by earlier steps, writing the given output names.
    let steps = 0;
    const valueOf = (i: number | string): Value => (typeof i === 'number' ? value(i) : (self.values.get(i) ?? fail(`reads '${i}', which no earlier step produced`)));
    const add = (op: string, inputs: readonly (number | string)[], attrs: RawAttrs, outs: { name: string; kept: boolean }[]): void => {
      const def = OPS.get(op) ?? fail(`needs the op '${op}', which is not registered`);
      const ins = inputs.map(valueOf);
      const count = outs.length;
      const shapes = ins.map((v) => v.shape);
      let resolved: unknown;
      let outShapes: readonly (readonly number[])[];
      try {
        const [min, max] = def.arity;
        if (ins.length < min || ins.length > max) throw new OpError(`takes ${min === max ? min : `${min} to ${max}`} inputs, got ${ins.length}`);
        resolved = def.attrs(attrs, shapes);
        outShapes = def.shape(shapes, resolved);
        if (outShapes.length < count) throw new OpError(`produces ${outShapes.length} outputs, the node names ${count}`);
        checkSizes(outShapes);
      } catch (e) {
        if (e instanceof OpError) fail(`${e.message} (inputs ${shapes.map((s) => `[${s.join(', ')}]`).join(', ')})`);
        throw e;
      }
      if (ins.every((v) => v.constant)) {
        // Everything known: run the CPU reference now instead of at every inference.
        const results = def.cpu(ins.map((v) => toTensor(v.constant!)), resolved);
        outs.forEach((o, k) => {
          if (o.kept) self.values.set(o.name, { name: o.name, shape: results[k].shape, constant: fromTensor(results[k]) });
        });
        return;
      }
      for (const v of ins) if (v.constant && !self.initializers.has(v.name)) self.initializers.set(v.name, toTensor(v.constant));
      self.nodes.push({ name: self.uniqueNodeName(nodeName), op, inputs: ins.map((v) => v.name), outputs: outs.map((o) => o.name), attrs: attrs as RawAttrs });
      outs.forEach((o, k) => self.values.set(o.name, { name: o.name, shape: outShapes[k] }));
    };
    const io: NodeIO = {
      node,
      name,
      opset: this.opset,
      version,
      attrs: node.attrs,
      has: (i) => !!node.inputs[i],
      value,
      constant,
      ints(i, what) {
        const c = known(i, what);
        const v = [...c.data];
        if (v.some((x) => !Number.isInteger(x))) fail(`input '${what}' must hold integers, got [${v.join(', ')}]`);
        return v;
      },
      scalar(i, what) {
        const c = known(i, what);
        if (constSize(c.shape) !== 1) fail(`input '${what}' must hold one value, got shape [${c.shape.join(', ')}]`);
        return c.data[0];
      },
      emit(op, inputs, attrs, outputs) {
        const count = outputs ? Math.max(...outputs, -1) + 1 : 1;
        add(op, inputs, attrs, Array.from({ length: count }, (_, k) => ({ name: out(k), kept: !!node.outputs[k] })));
      },
      step(op, inputs, attrs) {
        const name = `${node.outputs[0] || self.uniqueNodeName(nodeName)}:${op}${steps++}`;
        add(op, inputs, attrs, [{ name, kept: true }]);
        return name;
      },
      literal(c) {
        const v = `${name}:literal${steps++}`;
        self.values.set(v, { name: v, shape: c.shape, constant: c });
        return v;
      },
      setConst(k, c) {
        if (node.outputs[k]) self.values.set(node.outputs[k], { name: node.outputs[k], shape: c.shape, constant: c });
      },
      replaceInput(i, c) {
        const v = `${node.inputs[i]}:${name}`;
        replaced.set(i, { name: v, shape: c.shape, constant: c });
      },
      alias(k, i) {
        if (node.outputs[k]) self.values.set(node.outputs[k], valueOf(i));
      },
      fail,
    };
    return io;
  }
}
