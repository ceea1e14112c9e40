// The `.deft` artifact: one versioned, checksummed file holding a graph IR (nodes and their
// attributes, including the `kept_rows` tables of compacted Conv/Gemm layers, and every
// initializer) plus optional metadata. It is what `deftnn optimize` writes and `load()` reads, in
// Node and in browsers alike, so this codec touches no file system: bytes in, bytes out (the
// file I/O is in artifact/source.ts and the CLI).
//
// Layout (all integers little-endian):
//   [0, 8)      magic  89 'D' 'E' 'F' 'T' 0D 0A 1A   (PNG-style: a high byte and CR LF ^Z catch
//                                                     text-mode and 7-bit transfers)
//   [8, 12)     u32 format version (DEFT_VERSION)
//   [12, 16)    u32 header length H, a multiple of 16 (the JSON is padded with spaces)
//   [16, 24)    u64 data length D, a multiple of 16
//   [24, 32)    reserved, zero
//   [32, 32+H)  JSON header: { graph, tensors: [{ name, dtype, shape, offset }], metadata }
//   [32+H, 32+H+D)  tensor data at `offset` from the data start, every offset a multiple of 16
//                   from the file's start (a reader may view it in place): dtype 'float32', or
//                   (version 2) the name of the storage format the graph gives the weight (e4m3,
//                   bf16, ...: formats/format.ts), as the packed 32-bit words the GPU reads, so a
//                   packed model's file is as small as its weights in memory
//   [32+H+D, +32)   SHA-256 of every byte before it
// The fixed prefix gives the total length before the checksum is verified, so a file cut short
// is reported as truncated rather than as corrupt. The version is read before anything else that
// could change between versions; a newer version is refused with a message saying so.
//
// JSON cannot hold NaN or ±Infinity, which attributes may (an unbounded Clip, say); such numbers
// are written as { "$number": "Infinity" } and restored on decode.

import type { Graph, Node, ValueInfo } from '../graph/ir.js';
import { FORMATS, getFormat, pack, packedWords, unpack, type FloatFormat } from '../formats/format.js';
import type { RawAttrs } from '../ops/op.js';
import { sizeOf, Tensor } from '../tensor.js';
import { DeftnnError, MAX_TENSOR_ELEMENTS } from '../errors.js';

export const DEFT_MAGIC = Uint8Array.of(0x89, 0x44, 0x45, 0x46, 0x54, 0x0d, 0x0a, 0x1a);
/** The format version this build writes, and the newest it reads (1: float32 tensors only; 2: packed tensors). */
export const DEFT_VERSION = 2;
export const DEFT_EXTENSION = '.deft';

const PREFIX = 32;
const DIGEST = 32;
const ALIGN = 16;

/** What the file says about itself beside the graph; every field optional, unknown fields kept. */
export interface DeftMetadata {
  /** The program that wrote the file, e.g. 'deftnn 0.1.0 optimize'. */
  producer?: string;
  /** The model it was made from (a file name or URL). */
  source?: string;
  /** Per-layer results of the optimisation (elimination rates, formats, accuracy ...). */
  layers?: unknown[];
  /** Storage format per value name as reported (the graph's own Graph.formats is what runs), e.g. { "conv1.W": "e6m5" }. */
  formats?: Record<string, string>;
  [key: string]: unknown;
}

export interface DeftArtifact {
  readonly graph: Graph;
  readonly metadata: DeftMetadata;
  /** The format version the file was written in. */
  readonly version: number;
}

/** The bytes are not a readable .deft file; the message says why and what to do. */
export class DeftError extends DeftnnError {
  override name = 'DeftError';
  constructor(
    message: string,
    /** What is wrong: 'version' is a file newer than this build; 'invalid' a well-formed file with a bad header. */
    readonly reason: 'not-deft' | 'truncated' | 'corrupt' | 'version' | 'invalid',
  ) {
    super(message);
  }
}

interface TensorEntry {
  name: string;
  /** 'float32', or a storage format of formats/format.ts whose packed words are stored. */
  dtype: string;
  shape: number[];
  /** Byte offset from the start of the data section. */
  offset: number;
}

interface Header {
  graph: {
    inputs: { name: string; shape: number[]; dims?: (number | string)[] }[];
    outputs: string[];
    nodes: { name: string; op: string; inputs: string[]; outputs: string[]; attrs: RawAttrs }[];
    formats?: Record<string, string>;
  };
  tensors: TensorEntry[];
  metadata: DeftMetadata;
}

/** Whether the bytes start like a .deft file (the magic alone, nothing verified). */
export function isDeft(bytes: Uint8Array): boolean {
  return bytes.length >= DEFT_MAGIC.length && DEFT_MAGIC.every((b, i) => bytes[i] === b);
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** Encode a graph (and metadata) as a .deft file. The graph is not modified. */
export async function encodeDeft(graph: Graph, metadata: DeftMetadata = {}): Promise<Uint8Array> {
  const tensors: TensorEntry[] = [];
  const words: Uint32Array[] = [];
  let dataLength = 0;
  const formats = graph.formats;
  for (const [name, t] of graph.initializers) {
    if (!(t.data instanceof Float32Array)) throw new DeftError(`initializer '${name}' does not hold float32 data`, 'invalid');
    // A weight the graph stores in a format is stored so here: the same rounding the sessions apply.
    const format = formats?.get(name);
    const stored = format === undefined || format === 'fp32' ? new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length) : pack(t.data, getFormat(format));
    tensors.push({ name, dtype: format === undefined || format === 'fp32' ? 'float32' : format, shape: [...t.shape], offset: dataLength });
    words.push(stored);
    dataLength = align(dataLength + stored.byteLength);
  }
  const header: Header = {
    graph: {
      inputs: graph.inputs.map((v) => ({ name: v.name, shape: [...v.shape], ...(v.dims ? { dims: [...v.dims] } : {}) })),
      outputs: [...graph.outputs],
      nodes: graph.nodes.map((n) => ({ name: n.name, op: n.op, inputs: [...n.inputs], outputs: [...n.outputs], attrs: n.attrs })),
      ...(formats && formats.size ? { formats: Object.fromEntries(formats) } : {}),
    },
    tensors,
    metadata,
  };
  const json = new TextEncoder().encode(JSON.stringify(header, jsonNumbers));
  const H = align(json.length);
  const out = new Uint8Array(PREFIX + H + dataLength + DIGEST);
  const view = new DataView(out.buffer);
  out.set(DEFT_MAGIC, 0);
  view.setUint32(8, DEFT_VERSION, true);
  view.setUint32(12, H, true);
  view.setBigUint64(16, BigInt(dataLength), true);
  out.set(json, PREFIX);
  out.fill(0x20, PREFIX + json.length, PREFIX + H); // JSON allows trailing spaces
  const dataStart = PREFIX + H;
  tensors.forEach((e, i) => writeWords(out, dataStart + e.offset, words[i]));
  out.set(await sha256(out.subarray(0, out.length - DIGEST)), out.length - DIGEST);
  return out;
}

/** Decode a .deft file; throws DeftError saying whether it is not one, truncated, corrupt or too new. */
export async function decodeDeft(input: Uint8Array | ArrayBuffer): Promise<DeftArtifact> {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (!isDeft(bytes)) {
    if (bytes.length < DEFT_MAGIC.length && bytes.length > 0 && bytes.every((b, i) => b === DEFT_MAGIC[i])) {
      throw new DeftError(`truncated .deft file: only ${bytes.length} bytes; copy or download the file again`, 'truncated');
    }
    throw new DeftError(`not a .deft file (it does not start with the .deft magic bytes); ONNX models are loaded from .onnx files`, 'not-deft');
  }
  if (bytes.length < PREFIX) throw new DeftError(`truncated .deft file: ${bytes.length} bytes, shorter than the ${PREFIX}-byte prefix; copy or download the file again`, 'truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version > DEFT_VERSION) {
    throw new DeftError(`this .deft file has format version ${version}, but this build of deftnn reads versions up to ${DEFT_VERSION}: upgrade deftnn to load it`, 'version');
  }
  if (version === 0) throw new DeftError(`corrupt .deft file: format version 0 does not exist; re-create the file`, 'corrupt');
  const H = view.getUint32(12, true);
  const D = Number(view.getBigUint64(16, true));
  const total = PREFIX + H + D + DIGEST;
  if (H % ALIGN || D % ALIGN || !Number.isSafeInteger(total)) {
    throw new DeftError(`corrupt .deft file: impossible section lengths (header ${H}, data ${D}); re-create the file`, 'corrupt');
  }
  if (bytes.length < total) {
    throw new DeftError(`truncated .deft file: ${bytes.length} bytes, but its prefix says ${total}; the file was cut short, copy or download it again`, 'truncated');
  }
  if (bytes.length > total) {
    throw new DeftError(`corrupt .deft file: ${bytes.length - total} unexpected bytes after its end (${total} bytes); re-create or download the file again`, 'corrupt');
  }
  const stored = bytes.subarray(total - DIGEST);
  const actual = await sha256(bytes.subarray(0, total - DIGEST));
  if (!actual.every((b, i) => b === stored[i])) {
    throw new DeftError(`corrupt .deft file: its SHA-256 checksum does not match its contents (damaged in storage or transfer); re-create or download the file again`, 'corrupt');
  }
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX, PREFIX + H)), restoreNumbers) as Header;
  } catch (e) {
    throw new DeftError(`invalid .deft file: its header is not valid JSON (${(e as Error).message})`, 'invalid');
  }
  return { graph: graphFromHeader(header, bytes.subarray(PREFIX + H, PREFIX + H + D)), metadata: header.metadata ?? {}, version };
}

/** The graph of a checked header; the data section holds the tensors. */
function graphFromHeader(h: Header, data: Uint8Array): Graph {
  const bad = (what: string): never => {
    throw new DeftError(`invalid .deft file: ${what}`, 'invalid');
  };
  const g = h?.graph;
  if (!g || !Array.isArray(g.inputs) || !Array.isArray(g.outputs) || !Array.isArray(g.nodes) || !Array.isArray(h.tensors)) bad('the header lacks the graph or the tensor table');
  checkGraphShape(g, bad);
  const initializers = new Map<string, Tensor>();
  for (const e of h.tensors) {
    if (!e || typeof e !== 'object' || typeof e.name !== 'string') bad(`the tensor table holds ${JSON.stringify(e)?.slice(0, 80)}, not { name, dtype, shape, offset }`);
    const format: FloatFormat | undefined = e.dtype === 'float32' ? undefined : Object.hasOwn(FORMATS, e.dtype) ? getFormat(e.dtype) : undefined;
    if (e.dtype !== 'float32' && !format) bad(`tensor '${e.name}' has dtype ${JSON.stringify(e.dtype)}; this build reads float32 and ${Object.keys(FORMATS).join(', ')}`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) bad(`tensor '${e.name}' has shape ${JSON.stringify(e.shape)}`);
    const n = sizeOf(e.shape);
    if (n > MAX_TENSOR_ELEMENTS) bad(`tensor '${e.name}' has shape [${e.shape.join(', ')}] = ${n} elements, more than deftnn's limit of ${MAX_TENSOR_ELEMENTS}`);
    const bytes = 4 * (format ? packedWords(format, n) : n);
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset % ALIGN || e.offset + bytes > data.length) {
      bad(`tensor '${e.name}' lies at bytes ${e.offset}..${e.offset + bytes}, outside the ${data.length}-byte data section`);
    }
    const stored = readWords(data, e.offset, bytes / 4);
    initializers.set(e.name, new Tensor(e.shape, format ? unpack(stored, format, n) : new Float32Array(stored.buffer)));
  }
  const inputs: ValueInfo[] = g.inputs.map((v) => ({ name: v.name, shape: [...v.shape], ...(v.dims ? { dims: [...v.dims] } : {}) }));
  const nodes: Node[] = g.nodes.map((n) => ({ name: n.name, op: n.op, inputs: [...n.inputs], outputs: [...n.outputs], attrs: n.attrs ?? {} }));
  const graph: Graph = { inputs, outputs: [...g.outputs], nodes, initializers };
  return g.formats ? { ...graph, formats: new Map(Object.entries(g.formats)) } : graph;
}

const isName = (x: unknown): x is string => typeof x === 'string';
const isShape = (x: unknown): x is number[] => Array.isArray(x) && x.every((d) => Number.isInteger(d) && d > 0);

/** The header's graph has the types the decoder reads: names are strings, shapes positive integers, attrs objects. */
function checkGraphShape(g: Header['graph'], bad: (what: string) => never): void {
  for (const v of g.inputs) {
    if (!v || !isName(v.name) || !isShape(v.shape)) bad(`graph input ${JSON.stringify(v)?.slice(0, 80)} is not { name, shape: positive integers }`);
    if (sizeOf(v.shape) > MAX_TENSOR_ELEMENTS) bad(`graph input '${v.name}' has shape [${v.shape.join(', ')}], more than deftnn's limit of ${MAX_TENSOR_ELEMENTS} elements`);
    const dimsOk = (d: unknown[]) => d.length === v.shape.length && d.every((x, i) => (isName(x) && x.length > 0) || x === v.shape[i]);
    if (v.dims !== undefined && !(Array.isArray(v.dims) && dimsOk(v.dims))) bad(`graph input '${v.name}' declares dims ${JSON.stringify(v.dims)?.slice(0, 80)}, not one name or its size per dimension of [${v.shape.join(', ')}]`);
  }
  if (!g.outputs.every(isName)) bad(`graph outputs ${JSON.stringify(g.outputs).slice(0, 80)} are not all names`);
  for (const n of g.nodes) {
    const ok = n && isName(n.name) && isName(n.op) && Array.isArray(n.inputs) && n.inputs.every(isName) && Array.isArray(n.outputs) && n.outputs.every(isName);
    if (!ok) bad(`node ${JSON.stringify(n)?.slice(0, 80)} is not { name, op, inputs, outputs, attrs }`);
    if (n.attrs !== undefined && (n.attrs === null || typeof n.attrs !== 'object' || Array.isArray(n.attrs))) bad(`node '${n.name}' has attrs ${JSON.stringify(n.attrs)}, not an object`);
  }
  if (g.formats !== undefined && (g.formats === null || typeof g.formats !== 'object' || !Object.values(g.formats).every(isName))) bad(`the graph's formats are not an object of format names`);
}

const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** 32-bit words (float32 bits or packed codes), little-endian. */
function writeWords(out: Uint8Array, at: number, words: Uint32Array): void {
  if (littleEndian) {
    out.set(new Uint8Array(words.buffer, words.byteOffset, words.byteLength), at);
    return;
  }
  const v = new DataView(out.buffer, out.byteOffset);
  for (let i = 0; i < words.length; i++) v.setUint32(at + 4 * i, words[i], true);
}

/** A copy (the tensors must not alias the file's bytes, which the caller may reuse). */
function readWords(data: Uint8Array, at: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  if (littleEndian) {
    new Uint8Array(out.buffer).set(data.subarray(at, at + 4 * n));
    return out;
  }
  const v = new DataView(data.buffer, data.byteOffset);
  for (let i = 0; i < n; i++) out[i] = v.getUint32(at + 4 * i, true);
  return out;
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new DeftError('.deft files need Web Crypto (crypto.subtle) for their checksum; browsers offer it only on https:// or localhost pages', 'invalid');
  // digest() copies its input, so a view into a larger buffer is fine.
  return new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** JSON.stringify replacer: non-finite numbers (NaN, ±Infinity) as tagged objects. */
function jsonNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v;
}

/** JSON.parse reviver: the inverse of jsonNumbers. */
function restoreNumbers(_key: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    const tag = (v as { $number?: unknown }).$number;
    if (keys.length === 1 && typeof tag === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(tag)) return Number(tag);
  }
  return v;
}
