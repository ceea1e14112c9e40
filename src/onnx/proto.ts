// Decoding an ONNX ModelProto (protobufjs with the schema in onnx.proto.ts) into plain objects the
// importer walks: numbers instead of Longs, attributes by name, tensors as int-capable constants.
// Everything here is about the file; what the graph means is import.ts's business.

import protobuf from 'protobufjs';
import type { AttrValue } from '../ops/op.js';
import { type Const, type DType, constSize } from './constant.js';
import { ONNX_PROTO } from './onnx.proto.js';
import { DeftnnError, MAX_TENSOR_ELEMENTS } from '../errors.js';

/** A problem with the model itself (file, graph, dtypes, shapes); the message names it. */
export class OnnxError extends DeftnnError {
  override name = 'OnnxError';
}

export interface OnnxValueInfo {
  readonly name: string;
  /** TensorProto.DataType number (1 = float); 0 when the file does not say. */
  readonly elemType: number;
  /** A number per fixed dimension, a string (or '?') per symbolic one; null when the rank is unknown. */
  readonly dims: readonly (number | string)[] | null;
}

export interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Scalar and list attributes; tensor attributes are in `tensors`. */
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly tensors: Readonly<Record<string, Const>>;
  /** Attributes this importer cannot represent (graphs, sparse tensors, ...), by name: type. */
  readonly unreadable: Readonly<Record<string, string>>;
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: ReadonlyMap<string, Const>;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  readonly irVersion: number;
  /** Opset version per domain; the default ONNX domain is ''. */
  readonly opsets: ReadonlyMap<string, number>;
  readonly producer: string;
  readonly graph: OnnxGraph;
}

/**
 * Reads `length` bytes (all when undefined) at `offset` of an external data file named by a
 * tensor's `location`, relative to the model, or fewer when the file ends first (never more than
 * it holds); absent when the model came from bytes.
 */
export type ExternalReader = (location: string, offset: number, length: number | undefined) => Promise<Uint8Array>;

/**
 * The newest IR version deftnn accepts: 10 came with opset 21 (ONNX 1.16), 11 and 12 with the
 * releases after it. Like onnxruntime, a larger number is refused rather than guessed at; the
 * opset_import decides which op versions are read.
 */
export const MAX_IR_VERSION = 12;

let modelType: protobuf.Type | undefined;

/** The ModelProto type of the schema this importer reads (tests and the fuzzer encode with it too). */
export function ModelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** Decode and convert a model; throws OnnxError naming what is wrong with the file. */
export async function decodeModel(bytes: Uint8Array, external?: ExternalReader): Promise<OnnxModel> {
  if (bytes.byteLength === 0) throw new OnnxError('not an ONNX model: the file is empty');
  let m: any;
  try {
    m = ModelProto().decode(bytes);
  } catch (e) {
    throw new OnnxError(`not a valid ONNX model (truncated or corrupt protobuf, ${bytes.byteLength} bytes): ${(e as Error).message}`);
  }
  if (!m.graph) throw new OnnxError('not a valid ONNX model: it has no graph (truncated or not an ONNX file)');
  if (!has(m, 'ir_version')) throw new OnnxError('not a valid ONNX model: ir_version is missing (truncated or not an ONNX file)');
  const ir = num(m.ir_version);
  if (!(ir >= 1 && ir <= MAX_IR_VERSION)) throw new OnnxError(`not a valid ONNX model: ir_version ${ir} (ONNX releases so far write 1 to ${MAX_IR_VERSION}; corrupt file?)`);
  const opsets = new Map<string, number>();
  for (const o of m.opset_import) opsets.set(o.domain ?? '', num(o.version));
  if (opsets.size === 0) throw new OnnxError('not a valid ONNX model: opset_import is missing (truncated file?)');
  return { irVersion: ir, opsets, producer: [m.producer_name, m.producer_version].filter(Boolean).join(' '), graph: await graphOf(m.graph, external) };
}

let tensorType: protobuf.Type | undefined;

/**
 * Decode one serialized TensorProto (a `.pb` file of ONNX's backend test data) into a constant;
 * external data is not followed.
 */
export async function decodeTensor(bytes: Uint8Array, what = 'tensor'): Promise<Const & { readonly name: string }> {
  tensorType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.TensorProto');
  let t: any;
  try {
    t = tensorType.decode(bytes);
  } catch (e) {
    throw new OnnxError(`${what}: not a valid TensorProto (${bytes.byteLength} bytes): ${(e as Error).message}`);
  }
  return { ...(await tensorOf(t, undefined, what)), name: t.name ?? '' };
}

async function graphOf(g: any, external: ExternalReader | undefined): Promise<OnnxGraph> {
  const initializers = new Map<string, Const>();
  for (const t of g.initializer) initializers.set(t.name, await tensorOf(t, external, `initializer '${t.name}'`));
  const nodes: OnnxNode[] = [];
  for (const n of g.node) nodes.push(await nodeOf(n, external));
  return { name: g.name ?? '', nodes, initializers, inputs: g.input.map(valueInfoOf), outputs: g.output.map(valueInfoOf) };
}

function valueInfoOf(v: any): OnnxValueInfo {
  const tt = v.type?.tensor_type;
  const shape = tt?.shape;
  const dims = shape
    ? shape.dim.map((d: any) => (has(d, 'dim_value') && num(d.dim_value) > 0 ? num(d.dim_value) : has(d, 'dim_param') && d.dim_param ? d.dim_param : '?'))
    : null;
  return { name: v.name ?? '', elemType: tt?.elem_type ?? 0, dims };
}

// AttributeProto.AttributeType numbers.
const A = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10, SPARSE_TENSOR: 11 } as const;

async function nodeOf(n: any, external: ExternalReader | undefined): Promise<OnnxNode> {
  const attrs: Record<string, AttrValue> = {};
  const tensors: Record<string, Const> = {};
  const unreadable: Record<string, string> = {};
  const where = `node '${n.name ?? ''}' (${n.op_type})`;
  for (const a of n.attribute) {
    const type: number = a.type || inferAttrType(a);
    switch (type) {
      case A.FLOAT:
        attrs[a.name] = a.f;
        break;
      case A.INT:
        attrs[a.name] = num(a.i);
        break;
      case A.STRING:
        attrs[a.name] = utf8(a.s);
        break;
      case A.FLOATS:
        attrs[a.name] = [...a.floats];
        break;
      case A.INTS:
        attrs[a.name] = a.ints.map(num);
        break;
      case A.STRINGS:
        attrs[a.name] = a.strings.map(utf8);
        break;
      case A.TENSOR:
        if (!a.t) throw new OnnxError(`${where} attribute '${a.name}' has type TENSOR but holds no tensor (corrupt attribute)`);
        tensors[a.name] = await tensorOf(a.t, external, `${where} attribute '${a.name}'`);
        break;
      default:
        unreadable[a.name] = Object.entries(A).find(([, v]) => v === type)?.[0] ?? `type ${type}`;
    }
  }
  return { name: n.name ?? '', opType: n.op_type ?? '', domain: n.domain ?? '', inputs: [...n.input], outputs: [...n.output], attrs, tensors, unreadable };
}

/** IR version 1 files may leave AttributeProto.type unset; the field that is present says it. */
function inferAttrType(a: any): number {
  if (has(a, 'f')) return A.FLOAT;
  if (has(a, 'i')) return A.INT;
  if (has(a, 's')) return A.STRING;
  if (has(a, 't')) return A.TENSOR;
  if (has(a, 'g')) return A.GRAPH;
  if (a.floats.length) return A.FLOATS;
  if (a.ints.length) return A.INTS;
  if (a.strings.length) return A.STRINGS;
  return 0;
}

// TensorProto.DataType -> our dtype and how the values sit in raw_data.
const DTYPES: Record<number, { dtype: DType; bytes: number; read: (v: DataView, o: number) => number }> = {
  1: { dtype: 'float32', bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  2: { dtype: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o) },
  3: { dtype: 'int8', bytes: 1, read: (v, o) => v.getInt8(o) },
  4: { dtype: 'uint16', bytes: 2, read: (v, o) => v.getUint16(o, true) },
  5: { dtype: 'int16', bytes: 2, read: (v, o) => v.getInt16(o, true) },
  6: { dtype: 'int32', bytes: 4, read: (v, o) => v.getInt32(o, true) },
  7: { dtype: 'int64', bytes: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  9: { dtype: 'bool', bytes: 1, read: (v, o) => (v.getUint8(o) ? 1 : 0) },
  11: { dtype: 'float64', bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  12: { dtype: 'uint32', bytes: 4, read: (v, o) => v.getUint32(o, true) },
  13: { dtype: 'uint64', bytes: 8, read: (v, o) => Number(v.getBigUint64(o, true)) },
};

const DTYPE_NAMES: Record<number, string> = { 0: 'undefined', 8: 'string', 10: 'float16', 14: 'complex64', 15: 'complex128', 16: 'bfloat16' };

/** The ONNX name of a TensorProto.DataType number, for messages. */
export function dataTypeName(t: number): string {
  return DTYPES[t]?.dtype ?? DTYPE_NAMES[t] ?? `data type ${t}`;
}

async function tensorOf(t: any, external: ExternalReader | undefined, what: string): Promise<Const> {
  const info = DTYPES[t.data_type];
  if (!info) throw new OnnxError(`${what} has element type ${dataTypeName(t.data_type)}, which deftnn does not support (float32, float64, int8/16/32/64, uint8/16/32/64, bool)`);
  const shape: number[] = t.dims.map(num);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new OnnxError(`${what} has invalid dims [${shape.join(', ')}]`);
  const n = constSize(shape);
  // Sizes first, allocation after: the declared shape must fit the limit and the bytes present.
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new OnnxError(`${what} declares shape [${shape.join(', ')}] = ${n} elements, more than deftnn's limit of ${MAX_TENSOR_ELEMENTS} elements per tensor (corrupt dims?)`);
  }
  let raw: Uint8Array | undefined;
  if (t.data_location === 1) raw = await externalBytes(t, external, what, n * info.bytes);
  else if (has(t, 'raw_data')) raw = t.raw_data;
  if (raw) {
    if (raw.byteLength !== n * info.bytes) {
      throw new OnnxError(`${what}: its data has ${raw.byteLength} bytes, but shape [${shape.join(', ')}] of ${info.dtype} needs ${n * info.bytes} (truncated or corrupt)`);
    }
    const data = info.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < n; i++) data[i] = info.read(view, i * info.bytes);
    return { dtype: info.dtype, shape, data };
  }
  // Typed fields: ONNX stores small ints in int32_data, uint32/uint64 in uint64_data.
  const field =
    info.dtype === 'float32' ? t.float_data
    : info.dtype === 'float64' ? t.double_data
    : info.dtype === 'int64' ? t.int64_data
    : info.dtype === 'uint32' || info.dtype === 'uint64' ? t.uint64_data
    : t.int32_data;
  if (field.length !== n) {
    throw new OnnxError(`${what} holds ${field.length} values, but its shape [${shape.join(', ')}] needs ${n} (truncated or corrupt)`);
  }
  const data = info.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = num(field[i]);
  if (info.dtype === 'bool') for (let i = 0; i < n; i++) data[i] = data[i] ? 1 : 0;
  return { dtype: info.dtype, shape, data };
}

/** The `needed` bytes of a tensor in external data (fewer when the file ends first: the reader never reads past it). */
async function externalBytes(t: any, external: ExternalReader | undefined, what: string, needed: number): Promise<Uint8Array> {
  const kv = new Map<string, string>(t.external_data.map((e: any) => [e.key, e.value]));
  const location = kv.get('location');
  if (!location) throw new OnnxError(`${what} says its data is external but names no 'location'`);
  if (!external) {
    throw new OnnxError(`${what} keeps its data in the external file '${location}'; load the model from a file path (or URL) so deftnn can read it next to the model`);
  }
  // Like onnxruntime: the location must stay inside the model's directory.
  if (location.startsWith('/') || location.startsWith('\\') || /^[a-zA-Z]:/.test(location) || location.split(/[\\/]/).includes('..')) {
    throw new OnnxError(`${what}: external data location '${location}' must be a relative path inside the model's directory`);
  }
  const offset = kv.has('offset') ? Number(kv.get('offset')) : 0;
  const length = kv.has('length') ? Number(kv.get('length')) : undefined;
  if (!Number.isInteger(offset) || offset < 0 || (length !== undefined && (!Number.isInteger(length) || length < 0))) {
    throw new OnnxError(`${what}: invalid external data offset/length '${kv.get('offset')}'/'${kv.get('length')}'`);
  }
  if (length !== undefined && length !== needed) {
    throw new OnnxError(`${what}: its external data is ${length} bytes long ('${location}'), but its shape and element type need ${needed} (truncated or corrupt)`);
  }
  try {
    return await external(location, offset, needed);
  } catch (e) {
    if (e instanceof OnnxError) throw e;
    throw new OnnxError(`${what}: cannot read external data file '${location}': ${(e as Error).message}`);
  }
}

/** int64 fields arrive as Long objects (protobufjs uses the `long` package); values past 2^53 round. */
function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

/** Whether a proto2 optional field was present in the bytes (defaults live on the prototype). */
function has(msg: object, field: string): boolean {
  return Object.prototype.hasOwnProperty.call(msg, field);
}

/** Bytes as UTF-8 text; an absent field (protobufjs gives [] for a bytes field never set) is ''. */
function utf8(b: Uint8Array | undefined): string {
  return b instanceof Uint8Array ? new TextDecoder().decode(b) : '';
}
