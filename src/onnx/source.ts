// Where a model comes from: bytes, a file path (Node), or a URL (fetch; browsers, or Node with a
// URL object or an http(s) string). External tensor data is read next to the model file (path) or
// resolved against the model's URL.

import { decodeModel, OnnxError, type ExternalReader, type OnnxModel } from './proto.js';
import { InputError } from '../errors.js';

export type ModelSource = string | URL | Uint8Array | ArrayBuffer;

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

export async function readModel(source: ModelSource): Promise<OnnxModel> {
  if (source instanceof Uint8Array) return decodeModel(source);
  if (source instanceof ArrayBuffer) return decodeModel(new Uint8Array(source));
  if (source instanceof URL || (typeof source === 'string' && (!isNode || /^(https?|blob|data):/i.test(source)))) {
    return readUrl(new URL(String(source), (globalThis as { location?: { href: string } }).location?.href));
  }
  if (typeof source === 'string') return readPath(source);
  throw new InputError(`load() takes a file path, a URL, a Uint8Array or an ArrayBuffer, got ${Object.prototype.toString.call(source)}`);
}

async function readPath(path: string): Promise<OnnxModel> {
  // Module names in variables, so browser bundlers leave Node's fs alone.
  const fsName = 'node:fs/promises';
  const pathName = 'node:path';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  const { dirname, join } = (await import(/* @vite-ignore */ pathName)) as typeof import('node:path');
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw new OnnxError(`cannot read ONNX model '${path}': ${(e as Error).message}`);
  }
  const external: ExternalReader = async (location, offset, length) => {
    const file = join(dirname(path), location);
    const fh = await fs.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      // Never more than the file holds: a short file gives short data, which the caller reports
      // with the tensor's name and needed size (and a huge declared length allocates nothing).
      const n = Math.max(0, Math.min(length ?? size - offset, size - offset));
      const buf = new Uint8Array(n);
      const { bytesRead } = await fh.read(buf, 0, n, offset);
      if (bytesRead !== n) throw new OnnxError(`external data file '${location}': read ${bytesRead} of ${n} bytes`);
      return buf;
    } finally {
      await fh.close();
    }
  };
  return decodeModel(bytes, external);
}

async function readUrl(url: URL): Promise<OnnxModel> {
  const get = async (u: URL) => {
    const res = await fetch(u);
    if (!res.ok) throw new OnnxError(`cannot fetch '${u}': HTTP ${res.status} ${res.statusText}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const files = new Map<string, Promise<Uint8Array>>();
  const external: ExternalReader = async (location, offset, length) => {
    const u = new URL(location, url);
    let p = files.get(u.href);
    if (!p) files.set(u.href, (p = get(u)));
    const all = await p;
    const n = Math.max(0, Math.min(length ?? all.byteLength - offset, all.byteLength - offset));
    return all.subarray(offset, offset + n);
  };
  return decodeModel(await get(url), external);
}
