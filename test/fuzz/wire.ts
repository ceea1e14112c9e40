// Mutations of the protobuf wire format itself, below any schema: a field of some nested message
// dropped or written twice, with every enclosing length prefix rewritten so the file still parses
// (a byte flip rarely gets that far). Layout of a field: varint tag (number << 3 | wire type), then
// a varint (type 0), 8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5).

import type { Rand } from './random.js';
import { pick } from './random.js';

interface Field {
  /** Where the tag starts and the field ends (the whole field). */
  readonly start: number;
  readonly end: number;
  /** Length-delimited fields: the payload (a nested message, bytes or a string). */
  readonly body?: readonly [number, number];
  /** Length-delimited fields: the tag's bytes end here (the length varint follows). */
  readonly tagEnd: number;
}

function varint(b: Uint8Array, i: number, end: number): [number, number] | null {
  let v = 0;
  for (let shift = 0; shift < 64 && i < end; shift += 7) {
    const byte = b[i++];
    v += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return [v, i];
  }
  return null;
}

function encodeVarint(v: number): Uint8Array {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** The fields of the message in b[start, end), or null when those bytes are not one. */
export function parseFields(b: Uint8Array, start: number, end: number): Field[] | null {
  const fields: Field[] = [];
  let i = start;
  while (i < end) {
    const tag = varint(b, i, end);
    if (!tag || tag[0] < 8) return null;
    const [key, afterTag] = tag;
    const type = key % 8;
    if (type === 0) {
      const v = varint(b, afterTag, end);
      if (!v) return null;
      fields.push({ start: i, end: v[1], tagEnd: afterTag });
      i = v[1];
    } else if (type === 1 || type === 5) {
      const n = type === 1 ? 8 : 4;
      if (afterTag + n > end) return null;
      fields.push({ start: i, end: afterTag + n, tagEnd: afterTag });
      i = afterTag + n;
    } else if (type === 2) {
      const len = varint(b, afterTag, end);
      if (!len || len[1] + len[0] > end) return null;
      fields.push({ start: i, end: len[1] + len[0], tagEnd: afterTag, body: [len[1], len[1] + len[0]] });
      i = len[1] + len[0];
    } else return null;
  }
  return fields;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Drop or duplicate one field of a message nested up to 5 deep; returns the new bytes and what was done. */
export function mutateField(bytes: Uint8Array, rand: Rand): { bytes: Uint8Array; what: string } {
  const path: number[] = [];
  let action = '';
  const region = (start: number, end: number, depth: number): Uint8Array => {
    const fields = parseFields(bytes, start, end);
    if (!fields || !fields.length) return bytes.slice(start, end);
    const nested = fields.filter((f) => f.body && f.body[1] > f.body[0] && (parseFields(bytes, f.body[0], f.body[1])?.length ?? 0) > 0);
    if (depth < 5 && nested.length && rand() < 0.65) {
      const f = pick(rand, nested);
      path.push(fields.indexOf(f));
      const inner = region(f.body![0], f.body![1], depth + 1);
      return concat(bytes.slice(start, f.start), bytes.slice(f.start, f.tagEnd), encodeVarint(inner.length), inner, bytes.slice(f.end, end));
    }
    const k = Math.floor(rand() * fields.length);
    const f = fields[k];
    path.push(k);
    if (rand() < 0.5) {
      action = 'drop';
      return concat(bytes.slice(start, f.start), bytes.slice(f.end, end));
    }
    action = 'duplicate';
    return concat(bytes.slice(start, f.end), bytes.slice(f.start, f.end), bytes.slice(f.end, end));
  };
  const out = region(0, bytes.length, 0);
  return { bytes: out, what: `${action} protobuf field at path ${path.join('.')}` };
}

/** Byte-level damage: flips, a cut, random bytes spliced in. */
export function mutateBytes(bytes: Uint8Array, rand: Rand): { bytes: Uint8Array; what: string } {
  const r = rand();
  if (r < 0.45) {
    const out = bytes.slice();
    const n = 1 + Math.floor(rand() * 16);
    for (let k = 0; k < n; k++) out[Math.floor(rand() * out.length)] ^= 1 << Math.floor(rand() * 8);
    return { bytes: out, what: `${n} bit flips` };
  }
  if (r < 0.7) {
    const at = Math.floor(rand() * bytes.length);
    return { bytes: bytes.slice(0, at), what: `truncated to ${at} of ${bytes.length} bytes` };
  }
  if (r < 0.85) {
    const at = Math.floor(rand() * bytes.length);
    const junk = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
    return { bytes: concat(bytes.slice(0, at), junk, bytes.slice(at)), what: `${junk.length} random bytes inserted at ${at}` };
  }
  const out = bytes.slice();
  const at = Math.floor(rand() * out.length);
  const n = Math.min(out.length - at, 1 + Math.floor(rand() * 256));
  for (let k = 0; k < n; k++) out[at + k] = rand() < 0.5 ? 0xff : 0;
  return { bytes: out, what: `${n} bytes at ${at} set to 0x00/0xff` };
}
