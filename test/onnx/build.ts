// Test helper: small ONNX models written in code and encoded with protobufjs from the same schema
// the importer decodes (src/onnx/onnx.proto.ts carries ONNX's own field numbers, so onnxruntime
// reads these files too). Attribute types follow the value: integers are INT, other numbers FLOAT,
// except for the attributes ONNX declares as floats (FLOAT_ATTRS), which stay FLOAT when whole.

import protobuf from 'protobufjs';
import { ONNX_PROTO } from '../../src/onnx/onnx.proto.js';
import type { DType } from '../../src/onnx/constant.js';

const ELEM: Record<DType, number> = {
  float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, bool: 9, float64: 11, uint32: 12, uint64: 13,
};

export interface TensorSpec {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data?: ArrayLike<number>;
  /** 'typed' (float_data, int64_data, ...; the default) or 'raw' (little-endian raw_data). */
  readonly encoding?: 'typed' | 'raw';
  /** Data in an external file instead: location and offset/length as ONNX's external_data keys. */
  readonly external?: { readonly location: string; readonly offset?: number; readonly length?: number };
}

export const tensor = (dtype: DType, dims: readonly number[], data: ArrayLike<number>, encoding: 'typed' | 'raw' = 'typed'): TensorSpec => ({ dtype, dims, data, encoding });
export const f32 = (dims: readonly number[], data: ArrayLike<number>, encoding: 'typed' | 'raw' = 'raw'): TensorSpec => tensor('float32', dims, data, encoding);
export const i64 = (data: readonly number[], dims: readonly number[] = [data.length]): TensorSpec => tensor('int64', dims, data);

/** Force an attribute's ONNX type. */
export const asFloat = (v: number) => ({ float: v });
export const asFloats = (v: readonly number[]) => ({ floats: v });

export type AttrSpec = number | string | readonly number[] | readonly string[] | TensorSpec | { float: number } | { floats: readonly number[] };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, AttrSpec>>;
  readonly name?: string;
  readonly domain?: string;
}

export interface ModelSpec {
  /** Default-domain opset (default 13). */
  readonly opset?: number;
  readonly irVersion?: number;
  /** dims: numbers, or strings for symbolic dims (dim_param); elemType defaults to float. */
  readonly inputs: readonly { name: string; dims?: readonly (number | string)[]; elemType?: number }[];
  readonly outputs: readonly string[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: Readonly<Record<string, TensorSpec>>;
}

const FLOAT_ATTRS = new Set(['alpha', 'beta', 'gamma', 'epsilon', 'min', 'max', 'value', 'ratio', 'momentum', 'bias', 'extrapolation_value', 'cubic_coeff_a', 'value_float']);
const FLOATS_ATTRS = new Set(['scales', 'value_floats']);

// AttributeProto.AttributeType
const AT = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 };

// Long-like {low, high} words, which protobufjs encodes exactly.
const INT64_MAX = { low: -1, high: 0x7fffffff, unsigned: false };
const INT64_MIN = { low: 0, high: -0x80000000, unsigned: false };

let modelType: protobuf.Type | undefined;
function ModelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export function tensorProto(name: string, t: TensorSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { name, dims: [...t.dims], data_type: ELEM[t.dtype] };
  if (t.external) {
    out.data_location = 1;
    out.external_data = Object.entries(t.external).map(([key, value]) => ({ key, value: String(value) }));
    return out;
  }
  const data = Array.from(t.data ?? []);
  if (t.encoding === 'raw') {
    out.raw_data = rawBytes(t.dtype, data);
    return out;
  }
  switch (t.dtype) {
    case 'float32':
      out.float_data = data;
      break;
    case 'float64':
      out.double_data = data;
      break;
    case 'int64':
      // Numbers at or past ±2^63 stand for INT64_MAX / INT64_MIN (sentinels exporters use).
      out.int64_data = data.map((x) => (x >= 2 ** 63 ? INT64_MAX : x <= -(2 ** 63) ? INT64_MIN : x));
      break;
    case 'uint32':
    case 'uint64':
      out.uint64_data = data;
      break;
    default:
      out.int32_data = data;
  }
  return out;
}

/** Little-endian bytes of `data` as `dtype` (what raw_data and external files hold). */
export function rawBytes(dtype: DType, data: readonly number[]): Uint8Array {
  const size = { float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1 }[dtype];
  const buf = new Uint8Array(data.length * size);
  const v = new DataView(buf.buffer);
  data.forEach((x, i) => {
    const o = i * size;
    if (dtype === 'float32') v.setFloat32(o, x, true);
    else if (dtype === 'float64') v.setFloat64(o, x, true);
    else if (dtype === 'int8') v.setInt8(o, x);
    else if (dtype === 'uint8' || dtype === 'bool') v.setUint8(o, x);
    else if (dtype === 'int16') v.setInt16(o, x, true);
    else if (dtype === 'uint16') v.setUint16(o, x, true);
    else if (dtype === 'int32') v.setInt32(o, x, true);
    else if (dtype === 'uint32') v.setUint32(o, x, true);
    else if (dtype === 'int64') v.setBigInt64(o, BigInt(x), true);
    else v.setBigUint64(o, BigInt(x), true);
  });
  return buf;
}

function isTensor(v: unknown): v is TensorSpec {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'dims' in v;
}

function attrProto(name: string, v: AttrSpec): Record<string, unknown> {
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    return Number.isInteger(v) && !FLOAT_ATTRS.has(name) ? { name, type: AT.INT, i: v } : { name, type: AT.FLOAT, f: v };
  }
  if (isTensor(v)) return { name, type: AT.TENSOR, t: tensorProto('', v) };
  if ('float' in v) return { name, type: AT.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: AT.FLOATS, floats: [...v.floats] };
  const list = v as readonly (number | string)[];
  if (list.length > 0 && typeof list[0] === 'string') return { name, type: AT.STRINGS, strings: list.map((s) => new TextEncoder().encode(s as string)) };
  const nums = list as readonly number[];
  return FLOATS_ATTRS.has(name) || nums.some((x) => !Number.isInteger(x)) ? { name, type: AT.FLOATS, floats: [...nums] } : { name, type: AT.INTS, ints: [...nums] };
}

function valueInfo(name: string, dims?: readonly (number | string)[], elemType = 1): Record<string, unknown> {
  const tensorType: Record<string, unknown> = { elem_type: elemType };
  if (dims) tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  return { name, type: { tensor_type: tensorType } };
}

/** The ModelProto as a plain object (before encoding), for tests that corrupt parts of it. */
export function modelObject(spec: ModelSpec): Record<string, unknown> {
  return {
    ir_version: spec.irVersion ?? 8,
    producer_name: 'deftnn-tests',
    opset_import: [{ domain: '', version: spec.opset ?? 13 }],
    graph: {
      name: 'test',
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op.toLowerCase()}_${i}`,
        op_type: n.op,
        domain: n.domain ?? '',
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attrProto(k, v)),
      })),
      initializer: Object.entries(spec.initializers ?? {}).map(([k, t]) => tensorProto(k, t)),
      input: spec.inputs.map((v) => valueInfo(v.name, v.dims, v.elemType)),
      output: spec.outputs.map((o) => valueInfo(o)),
    },
  };
}

export function encodeModel(obj: Record<string, unknown>): Uint8Array {
  const M = ModelProto();
  const err = M.verify(obj);
  if (err) throw new Error(`test model does not fit onnx.ModelProto: ${err}`);
  return M.encode(M.fromObject(obj)).finish();
}

export function buildModel(spec: ModelSpec): Uint8Array {
  return encodeModel(modelObject(spec));
}

/** A model of one node: inputs named by `inputs` (data given as initializers when in `consts`). */
export function oneNodeModel(
  op: string,
  inputs: Readonly<Record<string, readonly number[]>>,
  attrs: Readonly<Record<string, AttrSpec>> = {},
  opts: { opset?: number; consts?: Readonly<Record<string, TensorSpec>>; outputs?: number; inputOrder?: readonly string[] } = {},
): Uint8Array {
  const consts = opts.consts ?? {};
  const order = opts.inputOrder ?? [...Object.keys(inputs), ...Object.keys(consts)];
  const outputs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => `y${i}`);
  return buildModel({
    opset: opts.opset,
    inputs: Object.entries(inputs).map(([name, dims]) => ({ name, dims })),
    outputs,
    nodes: [{ op, inputs: order, outputs, attrs }],
    initializers: consts,
  });
}
