// Mutations of .deft artifacts. A flipped byte anywhere is caught by the SHA-256 checksum, so
// most mutations here change the JSON header or the prefix and then re-seal the file (new header
// length, new checksum): they reach the graph reader and the sessions, as a file written by a
// buggy or hostile producer would.

import { createHash } from 'node:crypto';
import { mutateBytes } from './wire.js';
import { int, pick, type Rand } from './random.js';

const PREFIX = 32;
const DIGEST = 32;

/** Header JSON and data section of a well-formed .deft file. */
export function openDeft(bytes: Uint8Array): { header: any; data: Uint8Array; version: number } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const H = v.getUint32(12, true);
  const D = Number(v.getBigUint64(16, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX, PREFIX + H)));
  return { header, data: bytes.subarray(PREFIX + H, PREFIX + H + D), version: v.getUint32(8, true) };
}

/** A .deft file with this header text and data, its lengths and checksum consistent. */
export function sealDeft(headerText: Uint8Array, data: Uint8Array, version = 2, dataLength = data.length): Uint8Array {
  const H = Math.ceil(headerText.length / 16) * 16;
  const out = new Uint8Array(PREFIX + H + data.length + DIGEST);
  const v = new DataView(out.buffer);
  out.set([0x89, 0x44, 0x45, 0x46, 0x54, 0x0d, 0x0a, 0x1a]);
  v.setUint32(8, version, true);
  v.setUint32(12, H, true);
  v.setBigUint64(16, BigInt(dataLength), true);
  out.set(headerText, PREFIX);
  out.fill(0x20, PREFIX + headerText.length, PREFIX + H);
  out.set(data, PREFIX + H);
  out.set(createHash('sha256').update(out.subarray(0, out.length - DIGEST)).digest(), out.length - DIGEST);
  return out;
}

const WEIRD = [null, 0, -1, 1.5, 2 ** 40, 'x', [], {}, [0], [-1, 2], [2 ** 20, 2 ** 20], true];

const HEADER_MUTATIONS: Record<string, (h: any, rand: Rand) => string | null> = {
  nodeOp(h, rand) {
    const n = pick(rand, h.graph.nodes) as any;
    if (!n) return null;
    n.op = pick(rand, ['Conv', 'Gemm', 'Relu', 'Reshape', 'Softmax', 'Foo', '', 'Add', 'MaxPool', 'SGD', 'SoftmaxCrossEntropy', 'ConvGradW', 'Concat']);
    return `node '${n.name}' op ${n.op}`;
  },
  nodeWiring(h, rand) {
    const k = int(rand, 0, h.graph.nodes.length - 1);
    const n = h.graph.nodes[k];
    if (!n) return null;
    const later = h.graph.nodes.slice(k).flatMap((m: any) => m.outputs);
    const r = rand();
    if (r < 0.3 && n.inputs.length) n.inputs[int(rand, 0, n.inputs.length - 1)] = pick(rand, later);
    else if (r < 0.5 && n.inputs.length) n.inputs[0] = 'nowhere';
    else if (r < 0.65) n.inputs.pop();
    else if (r < 0.8) n.outputs = pick(rand, [[], ['a', 'b', 'c'], [n.outputs[0], n.outputs[0]]]);
    else h.graph.nodes.splice(k, 1);
    return `node '${n.name}' inputs [${n.inputs}] outputs [${n.outputs}] (or removed)`;
  },
  nodeAttr(h, rand) {
    const n = pick(rand, h.graph.nodes.filter((n: any) => n.attrs && Object.keys(n.attrs).length)) as any;
    if (!n) return null;
    const key = pick(rand, Object.keys(n.attrs));
    const v = n.attrs[key];
    n.attrs[key] = Array.isArray(v) && v.length && rand() < 0.6 ? v.map((x: unknown) => (rand() < 0.5 ? pick(rand, [0, -1, 99999, 2 ** 40, 'x', null]) : x)) : pick(rand, WEIRD);
    return `node '${n.name}' (${n.op}) attr ${key} = ${JSON.stringify(n.attrs[key])?.slice(0, 60)}`;
  },
  nodeAttrAdd(h, rand) {
    const n = pick(rand, h.graph.nodes) as any;
    if (!n) return null;
    const key = pick(rand, ['strides', 'pads', 'group', 'kernel_shape', 'kept_rows', 'axis', 'perm', 'transB', 'activation', 'dilations', 'alpha']);
    n.attrs = { ...(n.attrs ?? {}), [key]: pick(rand, WEIRD) };
    return `node '${n.name}' (${n.op}) attr ${key} = ${JSON.stringify(n.attrs[key])}`;
  },
  tensorEntry(h, rand) {
    const e = pick(rand, h.tensors) as any;
    if (!e) return null;
    const field = pick(rand, ['shape', 'offset', 'dtype', 'name']);
    e[field] = field === 'dtype' ? pick(rand, ['float16', 'e4m3', 'bf16', 'fp32', 'int8', 7, null]) : field === 'shape' ? pick(rand, [...WEIRD, [2 ** 38], [e.shape?.[0] ?? 1]]) : pick(rand, WEIRD);
    return `tensor entry ${field} = ${JSON.stringify(e[field])}`;
  },
  tensorDrop(h, rand) {
    if (!h.tensors.length) return null;
    const [e] = h.tensors.splice(int(rand, 0, h.tensors.length - 1), 1);
    return `tensor '${e.name}' removed from the table`;
  },
  graphInputs(h, rand) {
    const v = h.graph.inputs[0];
    const r = rand();
    if (r < 0.5 && v) v.shape = pick(rand, [...WEIRD, [1, 1, 100000, 100000], [2, 1, 28, 28], [1, 3, 28, 28], [1, 1, 5, 5], [1, 1, 0, 28]]);
    else if (r < 0.7 && v) v.name = pick(rand, WEIRD);
    else h.graph.inputs = pick(rand, WEIRD);
    return `graph inputs ${JSON.stringify(h.graph.inputs)?.slice(0, 80)}`;
  },
  graphOutputs(h, rand) {
    h.graph.outputs = pick(rand, [[], ['nowhere'], [h.graph.inputs?.[0]?.name], [1], null, [h.graph.nodes[0]?.outputs?.[0]]]);
    return `graph outputs ${JSON.stringify(h.graph.outputs)}`;
  },
  formats(h, rand) {
    const names: string[] = h.tensors.map((e: any) => e.name);
    h.graph.formats = pick(rand, [{ [pick(rand, names)]: pick(rand, ['e4m3', 'nope', 'fp32', 'bf16']) }, { x: 'e5m2' }, null, 'e4m3', { [h.graph.nodes[0]?.outputs?.[0]]: 'e3m4' }]);
    return `graph formats ${JSON.stringify(h.graph.formats)}`;
  },
  structure(h, rand) {
    const r = rand();
    if (r < 0.25) h.graph = pick(rand, WEIRD);
    else if (r < 0.5) h.tensors = pick(rand, WEIRD);
    else if (r < 0.75) h.graph.nodes = pick(rand, WEIRD);
    else return 'whole header replaced by ' + JSON.stringify((h.__replace = pick(rand, WEIRD)));
    return 'a top-level part replaced';
  },
};

/** One .deft mutation: re-sealed header changes (most), prefix fields, data or raw bytes. */
export function mutateDeft(bytes: Uint8Array, rand: Rand): { bytes: Uint8Array; what: string } {
  const r = rand();
  if (r < 0.15) return mutateBytes(bytes, rand);
  const { header, data, version } = openDeft(bytes);
  if (r < 0.25) {
    // Prefix fields that disagree with the file, re-sealed so the checksum passes.
    const which = pick(rand, ['version', 'dataLength']);
    if (which === 'version') {
      const v = pick(rand, [0, 1, 3, 2 ** 32 - 1]);
      return { bytes: sealDeft(new TextEncoder().encode(JSON.stringify(header)), data, v), what: `re-sealed with version ${v}` };
    }
    const d = pick(rand, [0, 16, 2 ** 40, 2 ** 53, data.length + 16]);
    return { bytes: sealDeft(new TextEncoder().encode(JSON.stringify(header)), data, version, d), what: `re-sealed with data length ${d}` };
  }
  if (r < 0.35) {
    const out = data.slice();
    const n = 1 + int(rand, 0, 31);
    for (let k = 0; k < n; k++) out[int(rand, 0, out.length - 1)] = int(rand, 0, 255);
    return { bytes: sealDeft(new TextEncoder().encode(JSON.stringify(header)), out, version), what: `${n} data bytes changed, re-sealed` };
  }
  if (r < 0.45) {
    const text = new TextEncoder().encode(JSON.stringify(header));
    const { bytes: damaged, what } = mutateBytes(text, rand);
    return { bytes: sealDeft(damaged, data, version), what: `header text: ${what}, re-sealed` };
  }
  const name = pick(rand, Object.keys(HEADER_MUTATIONS));
  const what = HEADER_MUTATIONS[name](header, rand) ?? 'no change';
  const json = header.__replace !== undefined ? JSON.stringify(header.__replace) : JSON.stringify(header);
  return { bytes: sealDeft(new TextEncoder().encode(json ?? 'null'), data, version), what: `${name}: ${what}, re-sealed` };
}
