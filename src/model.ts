// The public inference API, shaped like onnxruntime-web's:
//
//   const model = await load('model.onnx', { backend: 'webgpu', inputShapes: { x: [1, 3, 48, 192] } });
//   const { y } = await model.run({ x: new Tensor([1, 3, 48, 192], data) });
//   model.dispose();
//
// load() parses and imports the whole model (and reports every unsupported op) before it touches
// a GPU; the session it builds is compiled for the model's fixed input shapes.

import { readDeftGraph } from './artifact/source.js';
import { Gpu, GpuError } from './device/gpu.js';
import type { Graph, ValueInfo } from './graph/ir.js';
import { optimizeGraph } from './graph/passes.js';
import { CpuSession, GpuSession, type Backend, type Session } from './graph/session.js';
import { importModel } from './onnx/import.js';
import { readModel, type ModelSource } from './onnx/source.js';
import type { Tensor } from './tensor.js';
import { InputError } from './errors.js';

export type { ModelSource } from './onnx/source.js';
export type { Backend } from './graph/session.js';

export interface LoadOptions {
  /** 'webgpu' or 'cpu' (the plain reference); default: WebGPU when an adapter exists, else CPU. */
  readonly backend?: Backend;
  /** Shapes for inputs with symbolic dimensions, e.g. { x: [1, 3, 48, 192] }. */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** A device to share with other models (default: one device shared by all models loaded without one). */
  readonly gpu?: Gpu;
  /**
   * Run the graph passes (BatchNormalization folded into Conv/Gemm, hard-swish spellings made one
   * op, activations fused into their producer, dead code removed) after import; default true.
   * false runs the graph as imported.
   */
  readonly optimize?: boolean;
}

export class Model {
  private disposed = false;

  constructor(
    /** The graph IR this model runs: as imported, then optimised unless `optimize: false`. */
    readonly graph: Graph,
    private readonly session: Session,
  ) {}

  /** The device this model runs on (null on the CPU backend). */
  get gpu(): Gpu | null {
    return this.session instanceof GpuSession ? this.session.device : null;
  }

  /** The backend that runs this model. */
  get backend(): Backend {
    return this.session.backend;
  }

  /** Input names and their (fixed) shapes. */
  get inputs(): readonly ValueInfo[] {
    return this.session.inputs;
  }

  /** Output names and shapes. */
  get outputs(): readonly ValueInfo[] {
    return this.session.outputs;
  }

  /** One inference: float32 tensors by input name in, tensors by output name out. */
  async run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new InputError('this model was disposed; load it again to run it');
    if (feeds === null || typeof feeds !== 'object') throw new InputError(`run() takes an object of tensors by input name`);
    return this.session.run(feeds);
  }

  /** Free the model's GPU buffers; the model cannot run afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.session.dispose();
  }
}

let sharedGpu: Promise<Gpu | null> | undefined;

/** The device shared by models loaded without a `gpu` option (kept for the process's lifetime). */
export async function defaultGpu(): Promise<Gpu | null> {
  // A lost device is replaced: models loaded on it fail with a GpuError, the next load() works.
  if (sharedGpu && (await sharedGpu.catch(() => null))?.lost) sharedGpu = undefined;
  // A failed acquisition is not cached, so a later load() can try again.
  sharedGpu ??= Gpu.acquire().catch((e: unknown) => {
    sharedGpu = undefined;
    throw e;
  });
  return sharedGpu;
}

export interface FromGraphOptions {
  readonly backend?: Backend;
  readonly gpu?: Gpu;
}

/**
 * A model that runs a graph IR as it is (no passes): what the optimisers (eliminate, pack) return,
 * on the backend asked for, else WebGPU when an adapter exists, else the CPU reference.
 */
export async function fromGraph(graph: Graph, opts: FromGraphOptions = {}): Promise<Model> {
  if (opts.backend !== undefined && opts.backend !== 'webgpu' && opts.backend !== 'cpu') {
    throw new InputError(`backend must be 'webgpu' or 'cpu', got ${JSON.stringify(opts.backend)}`);
  }
  if (opts.backend === 'cpu') return new Model(graph, new CpuSession(graph));
  const gpu = opts.gpu ?? (await defaultGpu());
  if (!gpu) {
    if (opts.backend === 'webgpu') throw new GpuError(`backend 'webgpu' was asked for, but this environment has no WebGPU adapter`);
    return new Model(graph, new CpuSession(graph));
  }
  return new Model(graph, new GpuSession(gpu, graph));
}

/** Load an ONNX model or a .deft artifact from a file path, a URL, or bytes. */
export async function load(source: ModelSource, opts: LoadOptions = {}): Promise<Model> {
  if (opts.backend !== undefined && opts.backend !== 'webgpu' && opts.backend !== 'cpu') {
    throw new InputError(`backend must be 'webgpu' or 'cpu', got ${JSON.stringify(opts.backend)}`);
  }
  // A .deft artifact (artifact/deft.ts) holds its graph as optimised when written: it runs as it is.
  const deft = await readDeftGraph(source, opts.inputShapes);
  if (deft) return fromGraph(deft, opts);
  const onnx = await readModel(source);
  const imported = importModel(onnx, { inputShapes: opts.inputShapes });
  return fromGraph(opts.optimize === false ? imported : optimizeGraph(imported), opts);
}
