// The public inference API, shaped like onnxruntime-web's:
//
//   const model = await load('model.onnx');
//   const { y } = await model.run({ x: new Tensor([1, 3, 48, 320], data) });
//   const { y: y2 } = await model.run({ x: new Tensor([1, 3, 48, 480], data2) });  // another width
//   model.dispose();
//
// load() parses the model and checks every op before it touches a GPU. A model runs any input
// shape its declaration allows: the dimensions it fixes are checked, the free ones (ONNX
// dim_param) take any size. Each size gets a session of its own (graph/sized.ts: the graph made
// for that size, its buffers planned), kept for later runs at that size; the sessions of one
// model share their weights on the GPU and their compiled pipelines: kernels take what varies
// with the size from a uniform buffer (kernels/uniforms.ts), so a new size compiles nothing.

import { readDeftGraph, withInputShapes } from './artifact/source.js';
import { Gpu, GpuError } from './device/gpu.js';
import type { Graph, ValueDims, ValueInfo } from './graph/ir.js';
import { optimizeGraph } from './graph/passes.js';
import type { Backend } from './graph/session.js';
import { SizedSessions, type GraphMaker, type SizedOptions, type SizedSession } from './graph/sized.js';
import { declaredInputs, importModel } from './onnx/import.js';
import { readModel, type ModelSource } from './onnx/source.js';
import { shapeStr, type Shape, type Tensor } from './tensor.js';
import { InputError } from './errors.js';

export type { ModelSource } from './onnx/source.js';
export type { Backend } from './graph/session.js';
export type { GraphMaker } from './graph/sized.js';

export interface LoadOptions {
  /** 'webgpu' or 'cpu' (the plain reference); default: WebGPU when an adapter exists, else CPU. */
  readonly backend?: Backend;
  /**
   * Shapes to build for at load, e.g. { x: [1, 3, 48, 192] }: errors in the graph at that size
   * show at load, and the first run finds its session ready. Optional: a model builds for the
   * shapes its runs bring.
   */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** A device to share with other models (default: one device shared by all models loaded without one). */
  readonly gpu?: Gpu;
  /**
   * Run the graph passes (BatchNormalization folded into Conv/Gemm, hard-swish spellings made one
   * op, activations fused into their producer, dead code removed) after import; default true.
   * false runs the graph as imported.
   */
  readonly optimize?: boolean;
  /**
   * Runs at one input size after which that size gets kernels compiled for it alone (default 3;
   * 0 never): see SizedOptions.specialiseAfter in graph/sized.ts.
   */
  readonly specialiseAfter?: number;
}

export class Model {
  private disposed = false;
  private readonly sized: SizedSessions;
  private last?: SizedSession;

  constructor(
    private readonly maker: GraphMaker,
    /** The backend that runs this model. */
    readonly backend: Backend,
    /** The device this model runs on (null on the CPU backend). */
    readonly gpu: Gpu | null,
    opts: SizedOptions = {},
  ) {
    this.sized = new SizedSessions(maker, gpu, opts);
  }

  /** The graph IR of the last size run (or built at load): as imported, then optimised unless `optimize: false`. */
  get graph(): Graph {
    return this.current().graph;
  }

  /**
   * Input names and shapes: those of the last size run (or built at load); before any, the
   * declared shapes with -1 for free dimensions (`dims` names them).
   */
  get inputs(): readonly ValueInfo[] {
    return this.maker.declared.map((v, i) => {
      const free = v.dims.some((d) => typeof d === 'string');
      const shape = this.last ? this.last.session.inputs[i].shape : v.dims.map((d) => (typeof d === 'number' ? d : -1));
      return free ? { name: v.name, shape, dims: v.dims } : { name: v.name, shape };
    });
  }

  /** Output names and shapes, for the last size run (or built at load). */
  get outputs(): readonly ValueInfo[] {
    return this.current().session.outputs;
  }

  /** The input sizes this model holds sessions for, as 'x=1x3x48x320' keys, least recently run first. */
  get sizes(): string[] {
    return this.sized.sizes;
  }

  private current(): SizedSession {
    if (this.last) return this.last;
    const free = this.maker.declared.map((v) => `'${v.name}' [${v.dims.join(', ')}]`).join(', ');
    throw new InputError(`this model has not run yet and its inputs have free dimensions (${free}): run it, or load it with inputShapes, to make its graph`);
  }

  /** One inference: float32 tensors by input name in, tensors by output name out. Any size the model allows. */
  async run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new InputError('this model was disposed; load it again to run it');
    if (feeds === null || typeof feeds !== 'object') throw new InputError(`run() takes an object of tensors by input name`);
    return this.sessionFor(this.feedShapes(feeds)).session.run(feeds);
  }

  /** The feeds' shapes, checked against the declared inputs: the error names the input and the dimension. */
  private feedShapes(feeds: Readonly<Record<string, Tensor>>): Record<string, Shape> {
    const names = this.maker.declared.map((v) => v.name);
    for (const k of Object.keys(feeds)) {
      if (!names.includes(k)) throw new InputError(`unknown input '${k}'; this model's inputs are: ${names.join(', ')}`);
    }
    return Object.fromEntries(
      this.maker.declared.map((v) => {
        const t = feeds[v.name];
        if (!t || !Array.isArray(t.shape)) throw new InputError(`missing input '${v.name}' (shape [${v.dims.join(', ')}])`);
        checkDims(v, t.shape, 'has');
        return [v.name, t.shape];
      }),
    );
  }

  /**
   * Build the session for these shapes now (load() does, for its inputShapes; inputs whose
   * dimensions are all fixed may be left out). The graph maker checks them.
   */
  prepare(shapes: Readonly<Record<string, readonly number[]>>): void {
    const names = this.maker.declared.map((v) => v.name);
    for (const k of Object.keys(shapes)) {
      if (!names.includes(k)) throw new InputError(`inputShapes names '${k}', which is not an input of this model (inputs: ${names.join(', ')})`);
    }
    const full: Record<string, Shape> = {};
    for (const v of this.maker.declared) {
      const s = shapes[v.name] ?? (v.dims.every((d) => typeof d === 'number') ? (v.dims as number[]) : undefined);
      if (s) full[v.name] = s;
    }
    this.sessionFor(full);
  }

  private sessionFor(shapes: Readonly<Record<string, Shape>>): SizedSession {
    this.last = this.sized.get(shapes);
    return this.last;
  }

  /** Free the model's GPU buffers; the model cannot run afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.sized.dispose(); // `last` stays: graph, inputs and outputs remain readable
  }
}

/** `shape` against the input's declaration: the rank, and every dimension the model fixes. */
function checkDims(v: ValueDims, shape: readonly number[], verb: string): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new InputError(`input '${v.name}' ${verb} shape ${JSON.stringify(shape)}; a shape is a list of positive integers`);
  }
  if (shape.length !== v.dims.length) {
    throw new InputError(`input '${v.name}' ${verb} shape ${shapeStr(shape)} of rank ${shape.length}, but the model declares [${v.dims.join(', ')}] (rank ${v.dims.length})`);
  }
  v.dims.forEach((d, i) => {
    if (typeof d === 'number' && d !== shape[i]) {
      throw new InputError(`input '${v.name}' ${verb} shape ${shapeStr(shape)}: dim ${i} is ${shape[i]}, but the model fixes it at ${d} ([${v.dims.join(', ')}])`);
    }
  });
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

export interface FromGraphOptions extends SizedOptions {
  readonly backend?: Backend;
  readonly gpu?: Gpu;
}

/** The backend and device a model runs on: the one asked for, else WebGPU when an adapter exists, else the CPU. */
async function placement(opts: FromGraphOptions): Promise<{ backend: Backend; gpu: Gpu | null }> {
  if (opts.backend !== undefined && opts.backend !== 'webgpu' && opts.backend !== 'cpu') {
    throw new InputError(`backend must be 'webgpu' or 'cpu', got ${JSON.stringify(opts.backend)}`);
  }
  if (opts.backend === 'cpu') return { backend: 'cpu', gpu: null };
  const gpu = opts.gpu ?? (await defaultGpu());
  if (gpu) return { backend: 'webgpu', gpu };
  if (opts.backend === 'webgpu') throw new GpuError(`backend 'webgpu' was asked for, but this environment has no WebGPU adapter`);
  return { backend: 'cpu', gpu: null };
}

/** A graph as a GraphMaker: other sizes by replacing its input shapes (shape inference checks them). */
function graphMaker(graph: Graph): GraphMaker {
  return {
    declared: graph.inputs.map((v) => ({ name: v.name, dims: v.dims ?? v.shape })),
    graphFor: (shapes) => withInputShapes(graph, shapes),
  };
}

/**
 * A model that runs a graph IR as it is (no passes): what the optimisers (eliminate, pack) return,
 * on the backend asked for, else WebGPU when an adapter exists, else the CPU reference. Other
 * sizes of its free inputs (ValueInfo.dims) run the same graph with the new input shapes.
 */
export async function fromGraph(graph: Graph, opts: FromGraphOptions = {}): Promise<Model> {
  const { backend, gpu } = await placement(opts);
  const model = new Model(graphMaker(graph), backend, gpu, opts);
  model.prepare(Object.fromEntries(graph.inputs.map((v) => [v.name, v.shape])));
  return model;
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
  const maker: GraphMaker = {
    declared: declaredInputs(onnx),
    graphFor: (shapes) => {
      const imported = importModel(onnx, { inputShapes: shapes });
      return opts.optimize === false ? imported : optimizeGraph(imported);
    },
  };
  const where = await placement(opts);
  const model = new Model(maker, where.backend, where.gpu, opts);
  const fixed = maker.declared.every((v) => v.dims.every((d) => typeof d === 'number'));
  if (opts.inputShapes || fixed) {
    try {
      model.prepare(opts.inputShapes ?? {});
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}
