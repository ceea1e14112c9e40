// The public inference API, shaped like onnxruntime-web's:
//
//   const model = await load('model.onnx');
//   const { y } = await model.run({ x: new Tensor([1, 3, 48, 320], data) });
//   const { y: y2 } = await model.run({ x: new Tensor([1, 3, 48, 480], data2) });  // another width
//   model.dispose();
//
// load() parses the model and checks every op before it touches a GPU. A model runs any input
// shape its declaration allows: the dimensions it fixes are checked, the free ones (ONNX
// dim_param) take any size. Each size gets a session of its own (graph/session.ts: the graph made
// for that size, its buffers planned), kept for later runs at that size; the sessions of one
// model share their weights on the GPU and their compiled pipelines: kernels take what varies
// with the size from a uniform buffer (kernels/uniforms.ts), so a new size compiles nothing.

import { readDeftGraph, withInputShapes } from './artifact/source.js';
import { Gpu, GpuError } from './device/gpu.js';
import type { Graph, ValueDims, ValueInfo } from './graph/ir.js';
import { optimizeGraph } from './graph/passes.js';
import { inferShapes } from './graph/shapes.js';
import { CpuSession, GpuSession, learnKernels, SharedWeights, type Backend, type Session } from './graph/session.js';
import { SizeLifts } from './kernels/uniforms.js';
import { declaredInputs, importModel } from './onnx/import.js';
import { readModel, type ModelSource } from './onnx/source.js';
import { shapeStr, type Shape, type Tensor } from './tensor.js';
import { DeftnnError, InputError } from './errors.js';

export type { ModelSource } from './onnx/source.js';
export type { Backend } from './graph/session.js';

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
}

/** How a model makes its graph for the input shapes of a run. */
export interface GraphMaker {
  /** The inputs as declared: numbers where the model fixes a dimension, names where it is free. */
  readonly declared: readonly ValueDims[];
  graphFor(shapes: Readonly<Record<string, Shape>>): Graph;
}

/**
 * The probes: how much each free dimension grows (or shrinks) in the sizes a model generates its
 * kernels at, besides the size it builds for, to learn which literals vary. A probe teaches the
 * kernels whose structure it keeps, and sizes change structure in two ways: kernels choose vec4
 * loads and stores where a row divides by 4 (+128 keeps that down to 1/32 of the input, the
 * deepest stage of a stride-32 CNN), and some switch form at a length (a plane of more than 256
 * values is pooled by a workgroup tree: small steps either way keep that). Each free dimension is
 * probed alone, step after step, until every kernel has been seen at a size that differs in it.
 */
const PROBE_STEPS = [128, 32, -32, 8, -8, 2, -2];

/** Sessions a model keeps, one per input size, the least recently run dropped first. */
const MAX_SESSIONS = 8;

export class Model {
  private disposed = false;
  /** Sessions by input size, in order of last use. */
  private readonly sessions = new Map<string, { readonly graph: Graph; readonly session: Session }>();
  private last?: { readonly graph: Graph; readonly session: Session };
  private readonly lifts = new SizeLifts();
  private readonly weights?: SharedWeights;

  constructor(
    private readonly maker: GraphMaker,
    /** The backend that runs this model. */
    readonly backend: Backend,
    /** The device this model runs on (null on the CPU backend). */
    readonly gpu: Gpu | null,
  ) {
    if (gpu) this.weights = new SharedWeights(gpu);
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
    return [...this.sessions.keys()];
  }

  private current(): { readonly graph: Graph; readonly session: Session } {
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
   * The session for these input shapes, built on first use. Building teaches the model's
   * SizeLifts the new kernels first, and when a kernel is seen at one size only, probe sizes too
   * (PROBE_STEPS), so that its literals that vary with the size are lifted already: then the
   * next size reuses this one's pipelines.
   */
  private sessionFor(shapes: Readonly<Record<string, Shape>>): { graph: Graph; session: Session } {
    const key = sizeKey(shapes);
    const hit = this.sessions.get(key);
    if (hit) {
      this.sessions.delete(key);
      this.sessions.set(key, hit);
      this.last = hit;
      return hit;
    }
    const graph = this.graphAt(shapes);
    let session: Session;
    if (this.gpu) {
      const ctx = this.gpu.kernelContext;
      const ids = learnKernels(this.lifts, graph, ctx);
      // Each free dimension teaches on its own: a kernel must be seen at a size that differs in
      // that dimension alone and keeps the kernel's structure, for its literals that depend on
      // that dimension to be known.
      for (const dim of this.freeDims(shapes)) {
        let untaught = new Set(ids);
        for (const step of PROBE_STEPS) {
          if (untaught.size === 0) break;
          const probe = dim.at(step);
          if (!probe) continue;
          try {
            for (const id of learnKernels(this.lifts, this.maker.graphFor(probe), ctx)) untaught.delete(id);
          } catch {
            // A size the model refuses teaches nothing.
          }
        }
      }
      // What no probe taught stays specialised to this size (its literals in the text).
      session = new GpuSession(this.gpu, graph, { lifts: this.lifts, weights: this.weights });
    } else session = new CpuSession(graph);
    const entry = { graph, session };
    this.sessions.set(key, entry);
    this.last = entry;
    if (this.sessions.size > MAX_SESSIONS) {
      const [oldest, dropped] = this.sessions.entries().next().value!;
      this.sessions.delete(oldest);
      dropped.session.dispose();
    }
    return entry;
  }

  /** The graph for these shapes, its shapes inferred: a size the model cannot take fails here, named. */
  private graphAt(shapes: Readonly<Record<string, Shape>>): Graph {
    try {
      const graph = this.maker.graphFor(shapes);
      inferShapes(graph);
      return graph;
    } catch (e) {
      if (!(e instanceof DeftnnError) || this.sessions.size === 0) throw e;
      const given = Object.entries(shapes).map(([k, s]) => `'${k}' ${shapeStr(s)}`).join(', ');
      throw new InputError(`inputs of shape ${given} do not fit this model: ${e.message}`);
    }
  }

  /**
   * The free dimensions of these shapes that probes may move, each with the probe that moves it
   * alone by `step` (null when that would leave it below 2). Dimensions of 1 stay: kernels drop
   * unit dimensions, so a batch of 1 and a batch of 33 are different structures, and a probe must
   * keep the structure to teach.
   */
  private freeDims(shapes: Readonly<Record<string, Shape>>): { name: string; at(step: number): Record<string, Shape> | null }[] {
    return this.maker.declared.flatMap((v) =>
      shapes[v.name].flatMap((d, i) =>
        typeof v.dims[i] === 'number' || d === 1
          ? []
          : [{ name: `${v.name}[${i}]`, at: (step: number) => (d + step < 2 ? null : { ...shapes, [v.name]: shapes[v.name].map((e, j) => (j === i ? d + step : e)) }) }],
      ),
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

  /** Free the model's GPU buffers; the model cannot run afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { session } of this.sessions.values()) session.dispose();
    this.sessions.clear();
    this.weights?.dispose(); // `last` stays: graph, inputs and outputs remain readable
  }
}

function sizeKey(shapes: Readonly<Record<string, Shape>>): string {
  return Object.entries(shapes)
    .map(([k, s]) => `${k}=${s.join('x')}`)
    .join(',');
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

export interface FromGraphOptions {
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
  const model = new Model(graphMaker(graph), backend, gpu);
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
  const model = new Model(maker, where.backend, where.gpu);
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
