// A model file as the commands see it: an ONNX model (imported and optimised as load() does) or a
// .deft artifact (its graph as written), with every input shape fixed. Symbolic dimensions are
// filled from --input-shape, then by the command (from an image, a tensor file, --batch), and
// otherwise refused with a message saying which option to give.

import { readDeftSource } from '../artifact/source.js';
import type { DeftMetadata } from '../artifact/deft.js';
import { Gpu } from '../device/gpu.js';
import type { Graph } from '../graph/ir.js';
import { optimizeGraph } from '../graph/passes.js';
import { CpuSession, GpuSession, type Session } from '../graph/session.js';
import { GraphError, inferShapes } from '../graph/shapes.js';
import { importModel } from '../onnx/import.js';
import { OnnxError } from '../onnx/proto.js';
import { readModel } from '../onnx/source.js';
import { CliError, existingFile, UsageError, type BackendChoice } from './common.js';

export interface ModelFile {
  readonly path: string;
  readonly kind: 'onnx' | 'deft';
  /** The graph as it runs, every input shape fixed. */
  readonly graph: Graph;
  /** The graph inputs as the file declares them (symbolic dimensions as names). */
  readonly declared: readonly { name: string; dims: readonly (number | string)[] }[];
  /** ONNX: the graph as imported, before the passes (inputs fixed as in `graph`). */
  readonly imported?: Graph;
  /** .deft metadata, or { producer, opset } of an ONNX file. */
  readonly metadata: DeftMetadata;
}

export interface ReadOptions {
  /** --input-shape values; the key '' stands for the only input. */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** Batch size: fills a symbolic first dimension, or replaces a fixed one where the graph allows. */
  readonly batch?: number;
  /**
   * Fill the remaining symbolic dimensions of an input (undefined: leave them to the error);
   * `outputs`: the dims the file declares for its outputs, where it does (ONNX; [] for .deft).
   */
  readonly fill?: (name: string, dims: readonly (number | string)[], outputs: readonly (readonly (number | string)[])[]) => readonly (number | string)[] | undefined;
  /** ONNX: run the graph passes (default true), as load() does. */
  readonly optimize?: boolean;
  /**
   * ONNX: import generically (onnx/generic.ts: a second import at other sizes, so that the graph
   * also runs at other batches and widths); for commands that run one graph at several sizes.
   */
  readonly generic?: boolean;
}

export async function readModelFile(path: string, opts: ReadOptions = {}): Promise<ModelFile> {
  existingFile(path, 'model file');
  const artifact = await readDeftSource(path);
  if (artifact) {
    const declared = artifact.graph.inputs.map((v) => ({ name: v.name, dims: v.shape }));
    const shapes = resolveShapes(declared, opts, path);
    const graph = { ...artifact.graph, inputs: artifact.graph.inputs.map((v) => ({ name: v.name, shape: shapes[v.name] })) };
    return { path, kind: 'deft', graph: checked(graph, path, opts.batch), declared, metadata: artifact.metadata };
  }
  const onnx = await readModel(path).catch((e: unknown) => {
    if (e instanceof OnnxError && /not a valid ONNX model|empty/.test(e.message)) throw new OnnxError(`${e.message} — deftnn reads ONNX models (.onnx) and .deft artifacts`);
    throw e;
  });
  const declared = onnx.graph.inputs.filter((v) => !onnx.graph.initializers.has(v.name)).map((v) => ({ name: v.name, dims: v.dims ?? [] }));
  const shapes = resolveShapes(declared, opts, path, onnx.graph.outputs.map((v) => v.dims ?? []));
  // importModel only takes shapes for symbolic inputs; a fixed batch that --batch changes is set afterwards.
  const symbolic = Object.fromEntries(declared.filter((v) => v.dims.some((d) => typeof d === 'string') || !v.dims.length).map((v) => [v.name, shapes[v.name]]));
  const imported = importModel(onnx, { inputShapes: symbolic, generic: opts.generic });
  const optimized = opts.optimize === false ? imported : optimizeGraph(imported);
  const graph = { ...optimized, inputs: optimized.inputs.map((v) => ({ name: v.name, shape: shapes[v.name] ?? v.shape })) };
  const opset = onnx.opsets.get('') ?? onnx.opsets.get('ai.onnx');
  const raw = { ...imported, inputs: graph.inputs };
  return { path, kind: 'onnx', graph: checked(graph, path, opts.batch), imported: raw, declared, metadata: { producer: onnx.producer || undefined, opset } };
}

/** Every input's shape: --input-shape, else declared numbers with --batch and `fill` for the names. */
function resolveShapes(declared: ModelFile['declared'], opts: ReadOptions, path: string, outputs: readonly (readonly (number | string)[])[] = []): Record<string, number[]> {
  const given = { ...(opts.inputShapes ?? {}) };
  if ('' in given) {
    if (declared.length !== 1) throw new UsageError(`--input-shape needs the input's name (NAME=D1,D2,...): '${path}' has inputs ${declared.map((v) => v.name).join(', ')}`);
    given[declared[0].name] = given[''];
    delete given[''];
  }
  for (const k of Object.keys(given)) {
    if (!declared.some((v) => v.name === k)) throw new UsageError(`--input-shape names '${k}', which is not an input of '${path}' (inputs: ${declared.map((v) => v.name).join(', ')})`);
  }
  const out: Record<string, number[]> = {};
  for (const v of declared) {
    const g = given[v.name];
    if (g) {
      if (v.dims.length && g.length !== v.dims.length) throw new UsageError(`--input-shape ${v.name}=${g.join(',')} has ${g.length} dimensions; the model declares [${v.dims.join(', ')}]`);
      out[v.name] = [...g];
      continue;
    }
    let dims: readonly (number | string)[] = v.dims.map((d, i) => (i === 0 && opts.batch !== undefined && v.dims.length > 1 ? opts.batch : d));
    if (dims.some((d) => typeof d === 'string')) dims = opts.fill?.(v.name, dims, outputs) ?? dims;
    const open = dims.flatMap((d, i) => (typeof d === 'string' ? [i] : []));
    if (open.length || !dims.length) {
      const example = dims.map((d) => (typeof d === 'string' ? '?' : d)).join(',');
      throw new UsageError(
        `input '${v.name}' of '${path}' has ${dims.length ? `symbolic dimensions [${v.dims.join(', ')}]` : 'no declared shape'}: ` +
          `give its shape with --input-shape ${v.name}=${example || 'D1,D2,...'} (numbers for every '?')`,
      );
    }
    out[v.name] = dims as number[];
  }
  return out;
}

/** The graph after shape inference; a batch it cannot take is the user's to change. */
function checked(graph: Graph, path: string, batch: number | undefined): Graph {
  try {
    inferShapes(graph);
  } catch (e) {
    if (e instanceof GraphError && batch !== undefined && batch !== 1) {
      throw new CliError(`'${path}' does not run at batch ${batch} (its graph fixes the batch size: ${e.message}); use --batch 1`);
    }
    throw e;
  }
  return graph;
}

let sharedGpu: Promise<Gpu | null> | undefined;

/** The one device of this process (kept for its lifetime), or null without an adapter. */
export function cliGpu(): Promise<Gpu | null> {
  sharedGpu ??= Gpu.acquire();
  return sharedGpu;
}

/** The backend to use: the one asked for, else WebGPU when there is an adapter, else the CPU. */
export async function pickBackend(asked: BackendChoice | undefined): Promise<{ backend: BackendChoice; gpu: Gpu | null }> {
  if (asked === 'cpu') return { backend: 'cpu', gpu: null };
  const gpu = await cliGpu();
  if (gpu) return { backend: 'webgpu', gpu };
  if (asked === 'webgpu') throw new CliError(`--backend webgpu: this machine has no WebGPU adapter (install Mesa's lavapipe, see the README) — or use --backend cpu`);
  return { backend: 'cpu', gpu: null };
}

/** A session for the graph on the backend. */
export function makeSession(graph: Graph, backend: BackendChoice, gpu: Gpu | null): Session {
  return backend === 'webgpu' ? new GpuSession(gpu!, graph) : new CpuSession(graph);
}
