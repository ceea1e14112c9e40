// Executors. A session is built once per graph and input shapes: shapes are inferred, buffers
// planned, kernels generated and compiled, bind groups made; `run` then only uploads the inputs,
// records every dispatch into one command buffer, submits once and reads the outputs back.

import { GpuError, type Gpu, type Step } from '../device/gpu.js';
import { pack as packWords, quantize, storageBytes, unpack as unpackWords, type FloatFormat } from '../formats/format.js';
import { nodeFormats, valueFormats } from '../formats/values.js';
import type { Dispatch, KernelContext } from '../kernels/context.js';
import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import type { Graph, ValueInfo } from './ir.js';
import { planBuffers } from './planner.js';
import { splitOversizeWeights } from './split.js';
import { inferShapes, type InferredGraph } from './shapes.js';
import { InputError } from '../errors.js';
import type { SizeLifts } from '../kernels/uniforms.js';

export type Backend = 'webgpu' | 'cpu';

export interface Session {
  readonly backend: Backend;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>>;
  /** Current values of initializers (changed by runs when they are session state). */
  read(names: readonly string[]): Promise<Record<string, Tensor>>;
  dispose(): void;
}

/** Per-node GPU time from timestamp queries, for benchmarks and `deftnn bench`. */
export interface NodeTiming {
  readonly node: string;
  readonly op: string;
  readonly ms: number;
}

export interface SessionOptions {
  /**
   * Values carried from one run to the next (training): each pair [initializer, next] makes the
   * value `next` computed by a run the initializer's value for the following run. Parameters and
   * optimiser moments live in the session this way, on the GPU without read-backs.
   */
  readonly state?: readonly (readonly [string, string])[];
  /**
   * WebGPU only: overrides of the device's KernelContext, to build kernel variants this adapter
   * would not pick (tests, benchmarks): e.g. { softwareAdapter: false } for the GEMM's workgroup
   * staging, { fission: 'load' } for data fission's split-at-load variant.
   */
  readonly kernel?: Partial<KernelContext>;
  /**
   * WebGPU only: what of each kernel varies with the input size (kernels/uniforms.ts), shared by
   * the sessions of one model at different sizes so that they share compiled pipelines. The
   * session teaches it its own kernels too.
   */
  readonly lifts?: SizeLifts;
  /** WebGPU only: initializers' GPU copies shared with the model's sessions at other sizes. */
  readonly weights?: SharedWeights;
}

/** The graph as a device runs it: weights larger than one storage binding split into blocks of columns (split.ts). */
function forDevice(graph: Graph, ctx: KernelContext, state: SessionOptions['state'] = []): Graph {
  const keep = new Set([...state.map(([v]) => v), ...(graph.formats?.keys() ?? [])]);
  return splitOversizeWeights(graph, ctx.maxStorageBufferBindingSize, keep);
}

/** Every node's dispatches (or 'view'), generated for the graph's shapes and value formats. */
function nodeDispatches(ig: InferredGraph, ctx: KernelContext, formats: ReadonlyMap<string, FloatFormat>): (Dispatch[] | 'view')[] {
  return ig.nodes.map((r) => r.op.gpu(r.inputShapes, r.outputShapes, r.attrs, ctx, nodeFormats(r, formats)));
}

/** How SizeLifts knows a kernel across sizes: its node and its place among the node's dispatches. */
function kernelKey(node: string, dispatch: number): string {
  return `${node}#${dispatch}`;
}

/**
 * Teach `lifts` the kernels of `graph` (at its input shapes) as a session on `ctx` would generate
 * them, without building anything: how a model with free input dimensions learns which literals
 * depend on them. Returns the ids of the graph's kernels (SizeLifts.learn).
 */
export function learnKernels(lifts: SizeLifts, graph: Graph, ctx: KernelContext): string[] {
  const ig = inferShapes(forDevice(graph, ctx));
  return nodeDispatches(ig, ctx, valueFormats(ig)).flatMap((d, i) => (d === 'view' ? [] : d.map((dispatch, k) => lifts.learn(kernelKey(ig.nodes[i].node.name, k), dispatch.wgsl))));
}

/**
 * The GPU copies of initializers, shared by the sessions one model builds for different input
 * sizes: a session asks for each of its initializers and gets the copy already made when one of
 * that name holds the same values in the same format (the weights of a model imported again at
 * another size); otherwise it uploads its own.
 */
export class SharedWeights {
  private readonly held = new Map<string, { tensor: Tensor; format?: FloatFormat; buffer: GPUBuffer }>();

  constructor(private readonly gpu: Gpu) {}

  /** The shared copy of initializer `name` holding `t` in format `f`; undefined: upload your own. */
  buffer(name: string, t: Tensor, f: FloatFormat | undefined): GPUBuffer | undefined {
    const h = this.held.get(name);
    if (!h) {
      const buffer = this.gpu.upload(f ? packWords(t.data, f) : t.data);
      this.held.set(name, { tensor: t, format: f, buffer });
      return buffer;
    }
    return h.format === f && sameValues(h.tensor, t) ? h.buffer : undefined;
  }

  dispose(): void {
    for (const h of this.held.values()) this.gpu.release(h.buffer);
    this.held.clear();
  }
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a === b || a.data === b.data) return shapeStr(a.shape) === shapeStr(b.shape);
  if (shapeStr(a.shape) !== shapeStr(b.shape)) return false;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
  return true;
}

abstract class BaseSession {
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  protected readonly state: readonly (readonly [string, string])[];
  /** Values stored packed (Graph.formats), checked against the ops; empty for a plain graph. */
  protected readonly formats: ReadonlyMap<string, FloatFormat>;

  constructor(
    protected readonly ig: InferredGraph,
    opts: SessionOptions,
  ) {
    this.inputs = ig.graph.inputs;
    this.outputs = ig.graph.outputs.map((name) => ({ name, shape: ig.shapes.get(name)! }));
    this.state = opts.state ?? [];
    this.formats = valueFormats(ig);
    for (const [value, next] of this.state) {
      const init = ig.graph.initializers.get(value);
      if (!init) throw new RangeError(`state value '${value}' must be an initializer of the graph`);
      if (this.formats.has(value) || this.formats.has(next)) throw new RangeError(`state '${value}' (updated from '${next}') cannot be packed: training state stays float32`);
      const s = ig.shapes.get(next);
      if (!s) throw new RangeError(`state '${value}' is updated from '${next}', which the graph does not compute`);
      if (shapeStr(s) !== shapeStr(init.shape)) {
        throw new RangeError(`state '${value}' has shape ${shapeStr(init.shape)} but its update '${next}' has ${shapeStr(s)}`);
      }
    }
  }

  /** Check feeds against the declared inputs; the error names the input and what is wrong. */
  protected checkFeeds(feeds: Readonly<Record<string, Tensor>>): void {
    const names = this.inputs.map((v) => v.name);
    for (const k of Object.keys(feeds)) {
      if (!names.includes(k)) throw new InputError(`unknown input '${k}'; this model's inputs are: ${names.join(', ')}`);
    }
    for (const v of this.inputs) {
      const t = feeds[v.name];
      if (!t) throw new InputError(`missing input '${v.name}' (shape ${shapeStr(v.shape)})`);
      if (!(t.data instanceof Float32Array)) throw new InputError(`input '${v.name}' must hold float32 data`);
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw new InputError(`input '${v.name}' has shape ${shapeStr(t.shape)}, expected ${shapeStr(v.shape)}`);
      }
    }
  }
}

/** The reference executor: every node through its op's CPU reference. */
export class CpuSession extends BaseSession implements Session {
  readonly backend = 'cpu' as const;

  private readonly initializers: Map<string, Tensor>;

  constructor(graph: Graph, opts: SessionOptions = {}) {
    super(inferShapes(graph), opts);
    // Packed values hold exactly their rounded values (Graph.formats): initializers are rounded
    // once here, computed values when they are produced.
    this.initializers = new Map([...graph.initializers].map(([n, t]) => [n, this.rounded(n, t)]));
  }

  private rounded(name: string, t: Tensor): Tensor {
    const f = this.formats.get(name);
    return f ? new Tensor(t.shape, quantize(f, t.data)) : t;
  }

  async run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    this.checkFeeds(feeds);
    const values = new Map<string, Tensor>(this.initializers);
    for (const v of this.inputs) values.set(v.name, feeds[v.name]);
    for (const r of this.ig.nodes) {
      const outs = r.op.cpu(
        r.node.inputs.map((v) => values.get(v)!),
        r.attrs,
      );
      r.node.outputs.forEach((v, i) => values.set(v, this.rounded(v, outs[i])));
    }
    for (const [value, next] of this.state) this.initializers.set(value, values.get(next)!);
    return Object.fromEntries(this.ig.graph.outputs.map((o) => [o, values.get(o)!]));
  }

  /** Current values of initializers (after the state updates of the runs so far). */
  async read(names: readonly string[]): Promise<Record<string, Tensor>> {
    return Object.fromEntries(names.map((n) => [n, this.initializerOrThrow(n)]));
  }

  private initializerOrThrow(n: string): Tensor {
    const t = this.initializers.get(n);
    if (!t) throw new RangeError(`'${n}' is not an initializer of this graph`);
    return t;
  }

  dispose(): void {}
}

/** The WebGPU executor. */
export class GpuSession extends BaseSession implements Session {
  readonly backend = 'webgpu' as const;
  private readonly steps: Step[] = [];
  /** Node name of each step, for profiles. */
  private readonly stepNodes: { node: string; op: string }[] = [];
  private readonly owned: GPUBuffer[] = [];
  private readonly uniforms: GPUBuffer[] = [];
  private readonly valueBuffers = new Map<string, GPUBuffer>();
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private readonly kernel: Partial<KernelContext>;
  private readonly lifts?: SizeLifts;
  private readonly weights?: SharedWeights;

  constructor(
    readonly device: Gpu,
    graph: Graph,
    opts: SessionOptions = {},
  ) {
    graph = forDevice(graph, { ...device.kernelContext, ...opts.kernel }, opts.state);
    super(inferShapes(graph), opts);
    this.kernel = opts.kernel ?? {};
    this.lifts = opts.lifts;
    this.weights = opts.weights;
    try {
      this.build(graph);
    } catch (e) {
      this.dispose(); // return whatever was allocated before the failure
      throw e;
    }
  }

  private build(graph: Graph): void {
    const gpu = this.device;
    const ig = this.ig;
    const ctx = { ...gpu.kernelContext, ...this.kernel };
    const views = nodeDispatches(ig, ctx, this.formats);
    const plan = planBuffers(
      ig,
      (i) => views[i] === 'view',
      this.state.map(([, next]) => next),
      this.formats,
    );
    const slots = plan.slotBytes.map((b) => this.own(gpu.buffer(b)));
    for (const [name, slot] of plan.slotOf) this.valueBuffers.set(name, slots[slot]);
    // Packed initializers go up as their packed words (weights packed offline). Training state
    // changes in place, so it is never shared with the model's sessions at other sizes.
    const state = new Set(this.state.map(([v]) => v));
    for (const [name, t] of graph.initializers) {
      const f = this.formats.get(name);
      const shared = state.has(name) ? undefined : this.weights?.buffer(name, t, f);
      this.valueBuffers.set(name, shared ?? this.own(gpu.upload(f ? packWords(t.data, f) : t.data)));
    }
    ig.nodes.forEach((r, i) => {
      const d = views[i];
      if (d === 'view') {
        this.valueBuffers.set(r.node.outputs[0], this.valueBuffers.get(r.node.inputs[0])!);
        return;
      }
      // Scratch buffers of unnamed outputs, shared by the node's dispatches (a later one may read
      // what an earlier one wrote there, e.g. a loss's per-row values).
      const scratch = new Map<number, GPUBuffer>();
      for (const [k, dispatch] of d.entries()) {
        const buffers = dispatch.bindings.map((b) => this.bindingBuffer(b, r.node.inputs, r.node.outputs, r.outputShapes, scratch));
        const key = kernelKey(r.node.name, k);
        const lifted = this.lifts ? this.lifts.lift(key, dispatch.wgsl) : { wgsl: dispatch.wgsl, values: new Uint32Array(0), binding: -1 };
        if (lifted.values.length > 0) {
          const u = gpu.uniform(lifted.values);
          this.uniforms.push(u);
          buffers[lifted.binding] = u;
        }
        this.steps.push({ ...gpu.prepare(lifted.wgsl, buffers), workgroups: dispatch.workgroups });
        this.stepNodes.push({ node: r.node.name, op: r.node.op });
      }
    });
  }

  private own(b: GPUBuffer): GPUBuffer {
    this.owned.push(b);
    return b;
  }

  private bindingBuffer(
    b: Dispatch['bindings'][number],
    inputs: readonly string[],
    outputs: readonly string[],
    outputShapes: readonly Shape[],
    scratch: Map<number, GPUBuffer>,
  ): GPUBuffer {
    if ('input' in b) return this.valueBuffers.get(inputs[b.input])!;
    // An optional output that the node does not name (BatchNormalization's running statistics,
    // say) is still written by the kernel: it gets a scratch buffer of its own.
    if ('output' in b) {
      const named = this.valueBuffers.get(outputs[b.output]);
      if (named) return named;
      if (!scratch.has(b.output)) scratch.set(b.output, this.own(this.device.buffer(sizeOf(outputShapes[b.output]) * 4)));
      return scratch.get(b.output)!;
    }
    return this.own(this.device.upload(b.constant));
  }

  /** Number of dispatches one inference records. */
  get dispatchCount(): number {
    return this.steps.length;
  }

  run(feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
    return this.enqueue(async () => (await this.execute(feeds, false)).outputs);
  }

  /** One inference with per-node GPU timestamps (adapters without timestamp-query give []). */
  profile(feeds: Readonly<Record<string, Tensor>>): Promise<{ outputs: Record<string, Tensor>; nodes: NodeTiming[] }> {
    return this.enqueue(() => this.execute(feeds, true));
  }

  // Runs are serialised: they share staging buffers and intermediate slots.
  private enqueue<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async execute(feeds: Readonly<Record<string, Tensor>>, profile: boolean) {
    if (this.disposed) throw new GpuError('session was disposed');
    this.checkFeeds(feeds);
    for (const v of this.inputs) this.device.upload(feeds[v.name].data, this.valueBuffers.get(v.name));
    const outs = this.outputs.map((o) => ({ buffer: this.valueBuffers.get(o.name)!, bytes: sizeOf(o.shape) * 4 }));
    const copies = this.state.map(([value, next]) => ({
      from: this.valueBuffers.get(next)!,
      to: this.valueBuffers.get(value)!,
      bytes: this.ig.graph.initializers.get(value)!.size * 4,
    }));
    const { data, stepMs } = await this.device.execute(this.steps, outs, { profile, copies });
    const outputs = Object.fromEntries(this.outputs.map((o, i) => [o.name, new Tensor(o.shape as Shape, data[i])]));
    const nodes: NodeTiming[] = [];
    stepMs?.forEach((ms, i) => {
      const prev = nodes[nodes.length - 1];
      const s = this.stepNodes[i];
      if (prev && prev.node === s.node) nodes[nodes.length - 1] = { ...prev, ms: prev.ms + ms };
      else nodes.push({ ...s, ms });
    });
    return { outputs, nodes };
  }

  /** Current values of initializers (after the state updates of the runs so far). */
  read(names: readonly string[]): Promise<Record<string, Tensor>> {
    return this.enqueue(async () => {
      const inits = names.map((n) => {
        const t = this.ig.graph.initializers.get(n);
        if (!t) throw new RangeError(`'${n}' is not an initializer of this graph`);
        return t;
      });
      const reads = names.map((n, i) => ({ buffer: this.valueBuffers.get(n)!, bytes: storageBytes(this.formats.get(n), inits[i].size) }));
      const { data } = await this.device.execute([], reads);
      return Object.fromEntries(
        names.map((n, i) => {
          const f = this.formats.get(n);
          const d = f ? unpackWords(new Uint32Array(data[i].buffer, data[i].byteOffset, data[i].length), f, inits[i].size) : data[i];
          return [n, new Tensor(inits[i].shape, d)];
        }),
      );
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.owned) this.device.release(b);
    for (const b of this.uniforms) b.destroy();
    this.uniforms.length = 0;
    this.owned.length = 0;
  }
}
