// Where load() finds a .deft artifact: bytes that start with the .deft magic, a file path (Node)
// that ends in .deft or whose first bytes are the magic, or a URL whose path ends in .deft.
// Anything else is left to the ONNX reader (undefined).

import type { Graph } from '../graph/ir.js';
import type { ModelSource } from '../onnx/source.js';
import { decodeDeft, DEFT_EXTENSION, DEFT_MAGIC, DeftError, isDeft, type DeftArtifact } from './deft.js';
import { InputError } from '../errors.js';

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** The artifact when `source` is a .deft file, else undefined (an ONNX model, presumably). */
export async function readDeftSource(source: ModelSource): Promise<DeftArtifact | undefined> {
  if (source instanceof Uint8Array) return isDeft(source) ? decodeDeft(source) : undefined;
  if (source instanceof ArrayBuffer) return isDeft(new Uint8Array(source)) ? decodeDeft(source) : undefined;
  const remote = source instanceof URL || (typeof source === 'string' && (!isNode || /^(https?|blob|data):/i.test(source)));
  if (remote) {
    const url = new URL(String(source), (globalThis as { location?: { href: string } }).location?.href);
    if (!url.pathname.toLowerCase().endsWith(DEFT_EXTENSION)) return undefined;
    const res = await fetch(url);
    if (!res.ok) throw new DeftError(`cannot fetch '${url}': HTTP ${res.status} ${res.statusText}`, 'invalid');
    return decodeDeft(new Uint8Array(await res.arrayBuffer()));
  }
  if (typeof source !== 'string') return undefined;
  const fsName = 'node:fs/promises'; // a variable, so browser bundlers leave Node's fs alone
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  if (!source.toLowerCase().endsWith(DEFT_EXTENSION) && !(await startsWithMagic(fs, source))) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(source);
  } catch (e) {
    throw new DeftError(`cannot read .deft file '${source}': ${(e as Error).message}`, 'invalid');
  }
  return decodeDeft(bytes);
}

/** Whether the file's first bytes are the .deft magic (false when it cannot be read: the ONNX reader reports that). */
async function startsWithMagic(fs: typeof import('node:fs/promises'), path: string): Promise<boolean> {
  let fh: import('node:fs/promises').FileHandle | undefined;
  try {
    fh = await fs.open(path, 'r');
    const buf = new Uint8Array(DEFT_MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return bytesRead === buf.length && isDeft(buf);
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}

/**
 * The graph of a .deft `source` with `inputShapes` applied (another batch size, say; shape
 * inference then checks that the graph takes it), or undefined when `source` is not a .deft file.
 */
export async function readDeftGraph(source: ModelSource, inputShapes: Readonly<Record<string, readonly number[]>> = {}): Promise<Graph | undefined> {
  const artifact = await readDeftSource(source);
  return artifact && withInputShapes(artifact.graph, inputShapes);
}

/** The graph with the given inputs' shapes replaced; the error names an unknown input or a bad shape. */
export function withInputShapes(graph: Graph, inputShapes: Readonly<Record<string, readonly number[]>>): Graph {
  const names = graph.inputs.map((v) => v.name);
  for (const [k, shape] of Object.entries(inputShapes)) {
    if (!names.includes(k)) throw new InputError(`inputShapes names '${k}', which is not an input of this model (inputs: ${names.join(', ')})`);
    const declared = graph.inputs.find((v) => v.name === k)!.shape;
    if (!Array.isArray(shape) || shape.length !== declared.length || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new InputError(`inputShapes['${k}'] must be ${declared.length} positive integers like the model's [${declared.join(', ')}], got ${JSON.stringify(shape)}`);
    }
  }
  if (!Object.keys(inputShapes).length) return graph;
  return { ...graph, inputs: graph.inputs.map((v) => ({ ...v, shape: inputShapes[v.name] ? [...inputShapes[v.name]] : v.shape })) };
}
