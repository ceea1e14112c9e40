// Graph IR -> a standard ONNX ModelProto that onnxruntime (or any ONNX runtime) loads: the inverse
// of the importer, for one target opset (13 to 21, default 17).
//
// The importer (handlers.ts, node.ts) turns ONNX's load-time inputs into attributes: Reshape's
// shape, Clip's bounds, Squeeze/Unsqueeze/Reduce*'s axes, Slice's starts/ends/axes/steps, Pad's
// pads and value, Resize's scales/sizes, Split's sizes, Gather's indices. Here each of those goes
// back to a constant input of the dtype ONNX wants (int64 or float), or stays an attribute where
// the target opset still has it there. Our other IR conventions are undone too:
//  - a fused `activation: {op, attrs}` (Conv, Gemm, MatMul, ConvTranspose) becomes its own node
//    after the producer;
//  - Softmax `legacy_coerce_2d` (the opset < 13 semantics) becomes Flatten -> Softmax -> Reshape;
//  - Upsample (deprecated since opset 10) becomes the equivalent Resize.
// One small exporter per op form, looked up by op type like the importer's HANDLERS; ops in
// PASS_THROUGH are written as they are. Our training ops (gradients, optimiser updates, losses)
// have no ONNX equivalent: export is for inference graphs, and one error names every such node.
//
// Values are float32; every shape is known (inferShapes), so graph inputs and outputs get fixed
// shapes. Tensors are written as little-endian raw_data.

import protobuf from 'protobufjs';
import type { Graph, Node } from '../graph/ir.js';
import { unfuseEpilogues } from '../graph/fusion.js';
import { inferShapes, type ResolvedNode } from '../graph/shapes.js';
import { floatAttr, intAttr, intsAttr, OpError, stringAttr, type Activation, type AttrValue, type RawAttrs } from '../ops/op.js';
import type { PadAttrs } from '../ops/pad.js';
import type { ReduceAttrs } from '../ops/reduce.js';
import { OPS } from '../ops/registry.js';
import type { GatherAttrs, SplitAttrs } from '../ops/slice.js';
import type { Shape, Tensor } from '../tensor.js';
import { ONNX_PROTO } from './onnx.proto.js';
import { DeftnnError } from '../errors.js';

export const EXPORT_MIN_OPSET = 13;
export const EXPORT_MAX_OPSET = 21;
export const DEFAULT_EXPORT_OPSET = 17;

export interface ExportOptions {
  /** Default-domain opset to write, EXPORT_MIN_OPSET to EXPORT_MAX_OPSET (default 17). */
  readonly opset?: number;
  /** ModelProto.producer_name (default 'deftnn'). */
  readonly producer?: string;
  /** GraphProto.name (default 'deftnn'). */
  readonly modelName?: string;
}

/** The graph cannot be written as ONNX at the asked opset; the message names the node and why. */
export class OnnxExportError extends DeftnnError {
  override name = 'OnnxExportError';
}

/** One IR node as an exporter sees it: raw attributes without `activation`, shapes, resolved attributes. */
export interface ExportNode extends Node {
  /** What the op's `attrs` rule made of the raw attributes (defaults filled, axes normalised). */
  readonly resolved: unknown;
  readonly inputShapes: readonly Shape[];
  readonly outputShapes: readonly Shape[];
}

/** Where an exporter writes the ONNX nodes and constants for one IR node. */
export interface Writer {
  readonly opset: number;
  /** Add an ONNX node (the first one written for an IR node keeps the IR node's name). */
  node(op: string, inputs: readonly string[], outputs: readonly string[], attrs?: RawAttrs): void;
  /** Add an int64 initializer (a scalar when shape is []) and return its name. */
  int64(what: string, values: readonly number[], shape?: Shape): string;
  /** Add a float initializer and return its name. */
  float(what: string, values: readonly number[], shape?: Shape): string;
  /** A fresh name for an intermediate value. */
  value(what: string): string;
  /** Throw an OnnxExportError naming this node. */
  fail(message: string): never;
}

export type Exporter = (n: ExportNode, w: Writer) => void;

// ---- which ops export, and which never do ----

/** Ops whose IR form is already their ONNX form at every target opset: written as they are. */
export const PASS_THROUGH: ReadonlySet<string> = new Set([
  'Relu', 'LeakyRelu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Sqrt', 'Exp', 'Tanh', 'Neg', 'Abs', 'Reciprocal', 'Log',
  'MaxPool', 'GlobalAveragePool', 'GlobalMaxPool',
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'PRelu',
  'Flatten', 'Transpose', 'Concat',
  'Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'LRN',
  // ops/activations.ts and ops/variadic.ts
  'Elu', 'Selu', 'Celu', 'ThresholdedRelu', 'Shrink', 'Softplus', 'Softsign', 'Mish', 'Erf', 'Gelu',
  'Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh', 'Floor', 'Ceil', 'Round', 'Sign',
  'Sum', 'Mean', 'Max', 'Min',
  'LayerNormalization', 'InstanceNormalization',
]);

/**
 * Whether export refuses `op` on purpose: a training op (gradients, optimisers, losses). ONNX does
 * have a SoftmaxCrossEntropyLoss, but with int64 labels (ours are float32 graph values), and a
 * loss has no place in an inference graph.
 */
export function refusesExport(op: string): boolean {
  return !!OPS.get(op)?.training;
}

/** Ops that only exist from some opset on (checked for every exported node, passed through or not). */
const SINCE: Readonly<Record<string, number>> = { HardSwish: 14, Mish: 18, Gelu: 20, LayerNormalization: 17, GroupNormalization: 18, GridSample: 16 };

/** Attributes ONNX types as FLOAT even when the value is whole (Gemm's beta = 1, LRN's bias = 2 ...). */
const FLOAT_ATTRS: ReadonlySet<string> = new Set(['alpha', 'beta', 'bias', 'gamma', 'epsilon', 'momentum', 'cubic_coeff_a', 'extrapolation_value']);

// ---- exporters ----

/** The node as it is, every attribute passed through. */
function passThrough(n: ExportNode, w: Writer): void {
  w.node(n.op, n.inputs, n.outputs, n.attrs);
}

function without(attrs: RawAttrs, ...names: string[]): RawAttrs {
  return Object.fromEntries(Object.entries(attrs).filter(([k]) => !names.includes(k)));
}

/** Drop trailing absent ('') optional inputs. */
function trim(inputs: string[]): string[] {
  while (inputs.length > 0 && inputs[inputs.length - 1] === '') inputs.pop();
  return inputs;
}

/** shape: attribute -> int64 input. allowzero only exists from opset 14. */
function Reshape(n: ExportNode, w: Writer): void {
  const allowzero = intAttr(n.attrs, 'allowzero', 0);
  let shape = intsAttr(n.attrs, 'shape');
  const attrs: Record<string, AttrValue> = {};
  if (allowzero && w.opset >= 14) attrs.allowzero = 1;
  else if (allowzero) {
    // Opset 13 reads a 0 as "copy"; the inferred shape says the same when it has no zeros.
    const out = n.outputShapes[0];
    if (out.includes(0)) w.fail(`allowzero = 1 with a 0 in the output shape [${out.join(', ')}] needs opset >= 14`);
    shape = [...out];
  }
  w.node('Reshape', [n.inputs[0], w.int64('shape', shape)], n.outputs, attrs);
}

/** axes: attribute -> optional int64 input (absent: every size-1 axis). */
function Squeeze(n: ExportNode, w: Writer): void {
  const inputs = [n.inputs[0]];
  if (n.attrs.axes !== undefined) inputs.push(w.int64('axes', intsAttr(n.attrs, 'axes')));
  w.node('Squeeze', inputs, n.outputs);
}

function Unsqueeze(n: ExportNode, w: Writer): void {
  w.node('Unsqueeze', [n.inputs[0], w.int64('axes', intsAttr(n.attrs, 'axes'))], n.outputs);
}

/** min/max: attributes -> optional float scalar inputs (absent = unbounded). */
function Clip(n: ExportNode, w: Writer): void {
  const bound = (k: 'min' | 'max') => (n.attrs[k] === undefined ? '' : w.float(k, [floatAttr(n.attrs, k)], []));
  w.node('Clip', trim([n.inputs[0], bound('min'), bound('max')]), n.outputs);
}

/**
 * legacy_coerce_2d (opset < 13: normalise over everything from `axis` on) is Softmax over the last
 * axis of the input flattened at `axis`, reshaped back; the same as plain Softmax when `axis` is
 * the last axis.
 */
function Softmax(n: ExportNode, w: Writer, op = 'Softmax'): void {
  const legacy = intAttr(n.attrs, 'legacy_coerce_2d', 0);
  if (!legacy) return w.node(op, n.inputs, n.outputs, without(n.attrs, 'legacy_coerce_2d'));
  const shape = n.inputShapes[0];
  const r = shape.length;
  const given = intAttr(n.attrs, 'axis', 1);
  const axis = given < 0 ? given + r : given;
  if (axis === r - 1) return w.node(op, n.inputs, n.outputs, { axis });
  const flat = w.value('flat');
  const soft = w.value('softmax');
  w.node('Flatten', [n.inputs[0]], [flat], { axis });
  w.node(op, [flat], [soft], { axis: 1 });
  w.node('Reshape', [soft, w.int64('shape', shape)], n.outputs);
}

/** BatchNormalization: inference only; opset 9 removed `spatial` (1 is the only form left). */
function BatchNormalization(n: ExportNode, w: Writer): void {
  if (intAttr(n.attrs, 'training_mode', 0) !== 0) w.fail(`training_mode = 1; export is for inference graphs`);
  if (intAttr(n.attrs, 'spatial', 1) !== 1) w.fail(`spatial = 0 (per-element statistics) has no ONNX form since opset 9`);
  w.node('BatchNormalization', n.inputs, n.outputs, without(n.attrs, 'training_mode', 'spatial'));
}

/** GroupNormalization took one scale per group in opset 18 and one per channel from 21. */
function GroupNormalization(n: ExportNode, w: Writer): void {
  const c = n.inputShapes[0][1];
  const perChannel = n.inputShapes[1].reduce((x, y) => x * y, 1) === c && c !== intAttr(n.attrs, 'num_groups', 0);
  if (perChannel !== w.opset >= 21) w.fail(`a scale per ${perChannel ? 'channel needs opset >= 21' : 'group needs opset 18 to 20'}`);
  w.node('GroupNormalization', n.inputs, n.outputs, n.attrs);
}

/** GridSample's modes were renamed in opset 20 (bilinear -> linear, bicubic -> cubic). */
function GridSample(n: ExportNode, w: Writer): void {
  const names: Record<string, string> = w.opset >= 20 ? { bilinear: 'linear', bicubic: 'cubic' } : { linear: 'bilinear', cubic: 'bicubic' };
  const mode = stringAttr(n.attrs, 'mode', 'bilinear');
  w.node('GridSample', n.inputs, n.outputs, { ...n.attrs, mode: names[mode] ?? mode });
}

/** dilations on AveragePool came with opset 19; all-ones dilations are the default anyway. */
function AveragePool(n: ExportNode, w: Writer): void {
  const dil = n.attrs.dilations === undefined ? [] : intsAttr(n.attrs, 'dilations');
  if (dil.every((d) => d === 1)) return w.node('AveragePool', n.inputs, n.outputs, without(n.attrs, 'dilations'));
  if (w.opset < 19) w.fail(`dilations [${dil.join(', ')}] need opset >= 19`);
  passThrough(n, w);
}

/** starts/ends/axes/steps: attributes -> int64 inputs. */
function Slice(n: ExportNode, w: Writer): void {
  const starts = intsAttr(n.attrs, 'starts');
  const axes = intsAttr(n.attrs, 'axes', starts.map((_, i) => i));
  const steps = intsAttr(n.attrs, 'steps', starts.map(() => 1));
  const inputs = [n.inputs[0], w.int64('starts', starts), w.int64('ends', intsAttr(n.attrs, 'ends')), w.int64('axes', axes), w.int64('steps', steps)];
  w.node('Slice', inputs, n.outputs);
}

/** indices (flat) with indicesShape -> an int64 input of that shape. */
function Gather(n: ExportNode, w: Writer): void {
  const a = n.resolved as GatherAttrs;
  w.node('Gather', [n.inputs[0], w.int64('indices', a.indices, a.indicesShape)], n.outputs, { axis: a.axis });
}

/** The sizes (given, or from num_outputs) -> an int64 `split` input, which every target opset reads. */
function Split(n: ExportNode, w: Writer): void {
  const a = n.resolved as SplitAttrs;
  w.node('Split', [n.inputs[0], w.int64('split', a.sizes)], n.outputs, { axis: a.axis });
}

/**
 * Axes as an attribute before `inputSince` (ReduceSum 13, the others 18), an int64 input from
 * then on; no axes at all (noop_with_empty_axes) is Identity at every opset.
 */
function reduce(inputSince: number): Exporter {
  return (n, w) => {
    const { axes, keepdims } = n.resolved as ReduceAttrs;
    if (axes.length === 0) {
      // Our reduction over no axis maps each element (x², |x|, log x); ONNX's noop form is
      // ambiguous for those (see handlers.ts) and the identity for the others.
      if (['ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum'].includes(n.op)) w.fail(`${n.op} over no axis has no unambiguous ONNX form`);
      return w.node('Identity', [n.inputs[0]], n.outputs);
    }
    const k = keepdims ? 1 : 0;
    if (w.opset >= inputSince) w.node(n.op, [n.inputs[0], w.int64('axes', axes)], n.outputs, { keepdims: k });
    else w.node(n.op, [n.inputs[0]], n.outputs, { axes, keepdims: k });
  };
}

/** pads (full rank, so no `axes` input) -> int64 input, value -> float scalar input; wrap is opset 19. */
function Pad(n: ExportNode, w: Writer): void {
  const a = n.resolved as PadAttrs;
  if (a.mode === 'wrap' && w.opset < 19) w.fail(`mode 'wrap' needs opset >= 19`);
  const inputs = [n.inputs[0], w.int64('pads', a.pads)];
  if (a.mode === 'constant' && a.value !== 0) inputs.push(w.float('value', [a.value], []));
  w.node('Pad', inputs, n.outputs, { mode: a.mode });
}

/**
 * scales (floats) or sizes (ints) -> input 2 or 3, at full rank so that opset 18's `axes` is not
 * needed; antialias and keep_aspect_ratio_policy (opset 18) are dropped at their defaults.
 */
function Resize(n: ExportNode, w: Writer): void {
  const x = n.inputShapes[0];
  const axes = intsAttr(n.attrs, 'axes', x.map((_, i) => i)).map((a) => (a < 0 ? a + x.length : a));
  const attrs: Record<string, AttrValue> = { ...without(n.attrs, 'scales', 'sizes', 'axes', 'roi') };
  if (intAttr(n.attrs, 'antialias', 0) === 0) delete attrs.antialias;
  if (stringAttr(n.attrs, 'keep_aspect_ratio_policy', 'stretch') === 'stretch') delete attrs.keep_aspect_ratio_policy;
  if ((attrs.antialias !== undefined || attrs.keep_aspect_ratio_policy !== undefined) && w.opset < 18) {
    w.fail(`antialias / keep_aspect_ratio_policy need opset >= 18`);
  }
  const symmetric = stringAttr(n.attrs, 'coordinate_transformation_mode', 'half_pixel') === 'half_pixel_symmetric';
  if (symmetric && w.opset < 19) w.fail(`coordinate_transformation_mode 'half_pixel_symmetric' needs opset >= 19`);
  if (n.attrs.scales !== undefined) {
    const full = x.map(() => 1);
    axes.forEach((a, k) => (full[a] = (n.attrs.scales as number[])[k]));
    w.node('Resize', [n.inputs[0], '', w.float('scales', full, [full.length])], n.outputs, attrs);
  } else {
    const full = [...x];
    axes.forEach((a, k) => (full[a] = intsAttr(n.attrs, 'sizes')[k]));
    // tf_crop_and_resize's roi: starts then ends at full rank, [0, 1] on axes it does not crop.
    const roi = n.attrs.roi as number[] | undefined;
    const crop = roi && [...x.map((_, a) => (axes.includes(a) ? roi[axes.indexOf(a)] : 0)), ...x.map((_, a) => (axes.includes(a) ? roi[axes.indexOf(a) + axes.length] : 1))];
    w.node('Resize', [n.inputs[0], crop ? w.float('roi', crop, [crop.length]) : '', '', w.int64('sizes', full)], n.outputs, attrs);
  }
}

/** Upsample (opsets 7-9) is Resize with asymmetric coordinates and nearest rounding down. */
function Upsample(n: ExportNode, w: Writer): void {
  const mode = stringAttr(n.attrs, 'mode', 'nearest');
  const attrs = { mode: mode === 'bilinear' ? 'linear' : mode, coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  const scales = n.attrs.scales as number[];
  w.node('Resize', [n.inputs[0], '', w.float('scales', scales, [scales.length])], n.outputs, attrs);
}

/** Exporters by IR op type; ops in PASS_THROUGH need none. */
export const EXPORTERS: Readonly<Record<string, Exporter>> = {
  Reshape,
  Squeeze,
  Unsqueeze,
  Clip,
  Softmax,
  LogSoftmax: (n, w) => Softmax(n, w, 'LogSoftmax'),
  Hardmax: (n, w) => Softmax(n, w, 'Hardmax'),
  GroupNormalization,
  GridSample,
  BatchNormalization,
  AveragePool,
  Slice,
  Gather,
  Split,
  ReduceSum: reduce(13),
  ReduceMean: reduce(18),
  ReduceMax: reduce(18),
  ReduceMin: reduce(18),
  ReduceProd: reduce(18),
  ReduceSumSquare: reduce(18),
  ReduceL1: reduce(18),
  ReduceL2: reduce(18),
  ReduceLogSum: reduce(18),
  Pad,
  Resize,
  Upsample,
};

/** Whether export writes `op` (passed through or by its exporter). */
export function exportsOp(op: string): boolean {
  return PASS_THROUGH.has(op) || op in EXPORTERS;
}

// ---- the model ----

let modelType: protobuf.Type | undefined;

function ModelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** IR version of the ONNX release that introduced each opset (8: opsets 15-18, 9: 19-20, 10: 21). */
function irVersionFor(opset: number): number {
  return opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

/** Write `graph` as an ONNX model; throws OnnxExportError naming what cannot be exported. */
export function exportOnnx(graph: Graph, opts: ExportOptions = {}): Uint8Array {
  const opset = opts.opset ?? DEFAULT_EXPORT_OPSET;
  if (!Number.isInteger(opset) || opset < EXPORT_MIN_OPSET || opset > EXPORT_MAX_OPSET) {
    throw new OnnxExportError(`opset must be an integer from ${EXPORT_MIN_OPSET} to ${EXPORT_MAX_OPSET}, got ${opset}`);
  }
  // Fused chains go back to one node per op (a fused activation alone is written below, as before).
  graph = unfuseEpilogues(graph, false);
  checkExportable(graph);
  const ig = inferShapes(graph);
  const out = new GraphWriter(graph, opset);
  for (const r of ig.nodes) out.write(r);
  const model = {
    ir_version: irVersionFor(opset),
    producer_name: opts.producer ?? 'deftnn',
    opset_import: [{ domain: '', version: opset }],
    graph: {
      name: opts.modelName ?? 'deftnn',
      node: out.nodes,
      initializer: [...[...graph.initializers].map(([name, t]) => floatTensor(name, t)), ...out.constants],
      input: graph.inputs.map((v) => valueInfo(v.name, v.shape)),
      output: graph.outputs.map((o) => valueInfo(o, ig.shapes.get(o)!)),
    },
  };
  const M = ModelProto();
  return M.encode(M.fromObject(model)).finish();
}

/** One error for every node that cannot be exported, before anything is written. */
function checkExportable(graph: Graph): void {
  const refused = new Map<string, string[]>();
  const unknown = new Map<string, string[]>();
  const compacted = new Map<string, string[]>();
  for (const n of graph.nodes) {
    // A layer compacted by synapse vector elimination has weights no ONNX op can read.
    const into = refusesExport(n.op) ? refused : n.attrs.kept_rows !== undefined ? compacted : exportsOp(n.op) ? undefined : unknown;
    into?.set(n.op, [...(into.get(n.op) ?? []), `'${n.name}'`]);
  }
  const list = (m: Map<string, string[]>) =>
    [...m].map(([op, names]) => `  ${op}: ${names.slice(0, 8).join(', ')}${names.length > 8 ? `, ... (${names.length - 8} more)` : ''}`).join('\n');
  const parts: string[] = [];
  if (refused.size) parts.push(`these ops are for training and have no ONNX equivalent (export is for inference graphs):\n${list(refused)}`);
  if (unknown.size) parts.push(`these ops have no ONNX exporter:\n${list(unknown)}`);
  if (compacted.size) parts.push(`these layers are compacted (kept_rows); export the dense zero-row form instead (applyAsZeroRows):\n${list(compacted)}`);
  if (parts.length) throw new OnnxExportError(`cannot export the graph to ONNX: ${parts.join('\n')}`);
}

class GraphWriter {
  readonly nodes: object[] = [];
  readonly constants: object[] = [];
  private readonly names = new Set<string>();
  private readonly nodeNames = new Set<string>();

  constructor(
    graph: Graph,
    readonly opset: number,
  ) {
    for (const v of graph.inputs) this.names.add(v.name);
    for (const k of graph.initializers.keys()) this.names.add(k);
    for (const n of graph.nodes) [...n.inputs, ...n.outputs].forEach((v) => this.names.add(v));
    for (const n of graph.nodes) this.nodeNames.add(n.name);
  }

  /** One IR node, and its fused activation as a node of its own after it. */
  write(r: ResolvedNode): void {
    const { node } = r;
    const act = node.attrs.activation as Activation | undefined;
    const attrs = without(node.attrs, 'activation');
    const first: ExportNode = { name: node.name, op: node.op, inputs: node.inputs, outputs: node.outputs, attrs, resolved: r.attrs, inputShapes: r.inputShapes, outputShapes: r.outputShapes };
    if (!act) return this.exportNode(first, true);
    const y = node.outputs[0];
    const pre = this.fresh(`${y}_pre_${act.op.toLowerCase()}`, this.names);
    this.exportNode({ ...first, outputs: [pre, ...node.outputs.slice(1)] }, true);
    const shape = r.outputShapes[0];
    const def = OPS.get(act.op);
    if (!def || !exportsOp(act.op)) this.failAt(node, `its fused activation '${act.op}' cannot be exported`);
    let resolved: unknown;
    try {
      resolved = def.attrs(act.attrs, [shape]);
    } catch (e) {
      this.failAt(node, `fused activation ${act.op}: ${(e as Error).message}`);
    }
    const name = this.fresh(`${node.name}/${act.op}`, this.nodeNames);
    this.exportNode({ name, op: act.op, inputs: [pre], outputs: [y], attrs: act.attrs, resolved, inputShapes: [shape], outputShapes: [shape] }, false);
  }

  private exportNode(n: ExportNode, keepsName: boolean): void {
    const since = SINCE[n.op];
    if (since !== undefined && this.opset < since) this.failAt(n, `${n.op} needs opset >= ${since}, exporting to ${this.opset}`);
    let named = !keepsName;
    const self = this;
    const w: Writer = {
      opset: this.opset,
      node(op, inputs, outputs, attrs = {}) {
        const name = named ? self.fresh(`${n.name}/${op}`, self.nodeNames) : n.name;
        named = true;
        const attribute = Object.entries(attrs).flatMap(([k, v]) => (v === undefined ? [] : [attrProto(k, v, (m) => self.failAt(n, m))]));
        self.nodes.push({ name, op_type: op, domain: '', input: [...inputs], output: [...outputs], attribute });
      },
      int64: (what, values, shape = [values.length]) => this.constant(n, what, 7, values, shape),
      float: (what, values, shape = [values.length]) => this.constant(n, what, 1, values, shape),
      value: (what) => this.fresh(`${n.name}/${what}`, this.names),
      fail: (message) => this.failAt(n, message),
    };
    try {
      (EXPORTERS[n.op] ?? passThrough)(n, w);
    } catch (e) {
      if (e instanceof OpError) this.failAt(n, e.message);
      throw e;
    }
  }

  private constant(n: ExportNode, what: string, dataType: 1 | 7, values: readonly number[], shape: Shape): string {
    const bad = values.find((x) => dataType === 7 && !Number.isInteger(x));
    if (bad !== undefined) this.failAt(n, `${what} must hold integers, got ${bad}`);
    const name = this.fresh(`${n.name}/${what}`, this.names);
    this.constants.push({ name, dims: [...shape], data_type: dataType, raw_data: dataType === 1 ? float32Bytes(values) : int64Bytes(values) });
    return name;
  }

  private fresh(base: string, taken: Set<string>): string {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  }

  private failAt(n: { name: string; op: string }, message: string): never {
    throw new OnnxExportError(`node '${n.name}' (${n.op}): ${message}`);
  }
}

// AttributeProto.AttributeType numbers, as proto.ts reads them.
const A = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/** The inverse of proto.ts's attribute reading: the ONNX type from the value (and FLOAT_ATTRS). */
function attrProto(name: string, v: AttrValue, fail: (m: string) => never): object {
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return Number.isInteger(v) && !FLOAT_ATTRS.has(name) ? { name, type: A.INT, i: v } : { name, type: A.FLOAT, f: v };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) {
      if (v.length > 0) return { name, type: A.STRINGS, strings: v.map((s) => new TextEncoder().encode(s as string)) };
    }
    if (v.every((x) => typeof x === 'number')) {
      const nums = v as number[];
      return nums.every(Number.isInteger) && !FLOAT_ATTRS.has(name) ? { name, type: A.INTS, ints: [...nums] } : { name, type: A.FLOATS, floats: [...nums] };
    }
  }
  return fail(`attribute '${name}' = ${JSON.stringify(v)} is not an ONNX attribute value`);
}

function valueInfo(name: string, shape: Shape): object {
  return { name, type: { tensor_type: { elem_type: 1, shape: { dim: shape.map((d) => ({ dim_value: d })) } } } };
}

function floatTensor(name: string, t: Tensor): object {
  return { name, dims: [...t.shape], data_type: 1, raw_data: float32Bytes(t.data) };
}

/** Little-endian float32 bytes, whatever the platform's byte order. */
function float32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) v.setFloat32(i * 4, values[i], true);
  return out;
}

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** Little-endian int64 bytes; values beyond int64 saturate (INT64_MAX-style slice ends stay ends). */
function int64Bytes(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    const b = BigInt(x);
    v.setBigInt64(i * 8, b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b, true);
  });
  return out;
}
