// One graph family at many input sizes: the sessions a model (model.ts) or an evaluation runs, one
// per size, built on first use from a GraphMaker. On WebGPU they share the GPU copies of their
// weights (SharedWeights) and their compiled pipelines: every kernel reads the literals that vary
// with the size from a uniform buffer (kernels/uniforms.ts), and which literals those are is
// learnt here, by generating the kernels at probe sizes before a session is built (JavaScript
// only: no GPU work, no compile).

import type { Gpu } from '../device/gpu.js';
import { DeftnnError, InputError } from '../errors.js';
import { SizeLifts } from '../kernels/uniforms.js';
import { shapeStr, type Shape } from '../tensor.js';
import type { Graph, ValueDims } from './ir.js';
import { CpuSession, GpuSession, learnKernels, SharedWeights, type Session } from './session.js';
import { inferShapes } from './shapes.js';

/** How a model makes its graph for the input shapes of a run. */
export interface GraphMaker {
  /** The inputs as declared: numbers where the model fixes a dimension, names where it is free. */
  readonly declared: readonly ValueDims[];
  graphFor(shapes: Readonly<Record<string, Shape>>): Graph;
}

/**
 * The probes: the sizes, besides the one it builds for, at which a model generates its kernels to
 * learn which literals vary, each moving one free dimension d. A probe teaches the kernels whose
 * structure it keeps, and sizes change structure in two ways: kernels choose vec4 loads and
 * stores where a row divides by 4 (2d and d + 128 keep that down to 1/32 of the input, the
 * deepest stage of a stride-32 CNN), and some switch form at a length (a plane of more than 256
 * values is pooled by a workgroup tree: small steps either way keep that). Some literals move in
 * large steps only (the number of 32-column tiles of a narrow late layer), so the first ALWAYS
 * probes run for every dimension; the others while some kernel has not yet been seen at a size
 * that differs in that dimension. A literal that every probe leaves unchanged stays in the text:
 * a size that changes it compiles that kernel once more, and teaches it.
 */
const PROBES: readonly ((d: number) => number)[] = [(d) => 2 * d, (d) => d + 128, (d) => d + 32, (d) => d - 32, (d) => d + 8, (d) => d - 8, (d) => d + 2, (d) => d - 2];
const ALWAYS = 2;

/** Sessions kept, one per input size, the least recently run dropped first. */
const MAX_SESSIONS = 8;

/** A session and the graph it runs, for one input size. */
export interface SizedSession {
  readonly graph: Graph;
  readonly session: Session;
}

export interface SizedOptions {
  /**
   * Runs at one size after which that size gets kernels of its own (WebGPU): its session is built
   * again with every literal in the text, compiled then. Shape-generic kernels cost some warm
   * latency where their index arithmetic divides by sizes the compiler no longer sees (PP-OCRv4's
   * detector: Resize, Concat, broadcast Mul, ConvTranspose; docs/benchmarks.md), so a size that
   * keeps coming back is worth one compile. Default 3; 0 never.
   */
  readonly specialiseAfter?: number;
}

const SPECIALISE_AFTER = 3;

export class SizedSessions {
  /** Sessions by input size, in order of last use, with the runs each had. */
  private readonly sessions = new Map<string, { graph: Graph; session: Session; runs: number }>();
  private readonly lifts = new SizeLifts();
  private readonly weights?: SharedWeights;

  constructor(
    private readonly maker: GraphMaker,
    /** The device; null runs every size on the CPU reference. */
    private readonly gpu: Gpu | null,
    private readonly opts: SizedOptions = {},
  ) {
    if (gpu) this.weights = new SharedWeights(gpu);
  }

  /** The input sizes held, as 'x=1x3x48x320' keys, least recently run first. */
  get sizes(): string[] {
    return [...this.sessions.keys()];
  }

  /**
   * The session for these input shapes, built on first use. Building teaches the SizeLifts the
   * new kernels first, and probe sizes too (PROBES), so that the literals that vary with the
   * size are lifted already: then the next size reuses this one's pipelines. Each call counts
   * as a run at that size (SizedOptions.specialiseAfter).
   */
  get(shapes: Readonly<Record<string, Shape>>): SizedSession {
    const key = sizeKey(shapes);
    const hit = this.sessions.get(key);
    if (hit) {
      this.sessions.delete(key);
      this.sessions.set(key, hit);
      if (++hit.runs === (this.opts.specialiseAfter ?? SPECIALISE_AFTER) && this.gpu) this.specialise(hit);
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
        for (const [k, size] of PROBES.entries()) {
          if (untaught.size === 0 && k >= ALWAYS) break;
          const probe = dim.at(size);
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
    const entry = { graph, session, runs: 1 };
    this.sessions.set(key, entry);
    if (this.sessions.size > MAX_SESSIONS) {
      const [oldest, dropped] = this.sessions.entries().next().value!;
      this.sessions.delete(oldest);
      disposeWhenIdle(dropped.session);
    }
    return entry;
  }

  /**
   * Give a size that keeps coming back kernels of its own: a session without lifts (same weights).
   * The generic session is disposed once the runs already queued on it are done.
   */
  private specialise(entry: { graph: Graph; session: Session }): void {
    const generic = entry.session;
    entry.session = new GpuSession(this.gpu!, entry.graph, { weights: this.weights });
    disposeWhenIdle(generic);
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
   * The free dimensions of these shapes that probes may move, each with the probe that sets it
   * alone to `size(d)` (null when that would be below 2). Dimensions of 1 stay: kernels drop
   * unit dimensions, so a batch of 1 and a batch of 33 are different structures, and a probe must
   * keep the structure to teach.
   */
  private freeDims(shapes: Readonly<Record<string, Shape>>): { name: string; at(size: (d: number) => number): Record<string, Shape> | null }[] {
    return this.maker.declared.flatMap((v) =>
      shapes[v.name].flatMap((d, i) =>
        typeof v.dims[i] === 'number' || d === 1
          ? []
          : [{ name: `${v.name}[${i}]`, at: (size: (d: number) => number) => (size(d) < 2 ? null : { ...shapes, [v.name]: shapes[v.name].map((e, j) => (j === i ? size(d) : e)) }) }],
      ),
    );
  }

  dispose(): void {
    for (const { session } of this.sessions.values()) session.dispose();
    this.sessions.clear();
    this.weights?.dispose();
  }
}

/** Dispose a session once the runs already queued on it are done (a read of nothing queues behind them). */
function disposeWhenIdle(session: Session): void {
  void session
    .read([])
    .catch(() => undefined)
    .finally(() => session.dispose());
}

function sizeKey(shapes: Readonly<Record<string, Shape>>): string {
  return Object.entries(shapes)
    .map(([k, s]) => `${k}=${s.join('x')}`)
    .join(',');
}
