// The roofline of the adapter at hand, and where each layer of each benchmark model sits under it.
// Usage: npm run bench:roofline [-- --models lenet5,vgg,ppocr-cls --batches 1,32 --reps 5
//        --top N --out DIR --quick --shader-cache]
//
// 1. Peaks, measured here by microbenchmarks (never taken from a data sheet):
//    - FMA throughput: every invocation runs ACCUMULATORS independent chains of vec4 fma(), so the
//      hardware has independent work every cycle; enough workgroups to fill any GPU several times
//      over; the chain length grows until one dispatch takes long enough to time well.
//    - Copy bandwidth: a vec4 copy kernel over a buffer far larger than any GPU's last-level cache
//      (bytes moved = read + write), and copyBufferToBuffer of the same buffers (wall clock around
//      a submission of several copies, since timestamps only exist inside passes).
//    Each peak is the best of `reps` runs (interference only slows a run down).
//    The ridge point is peak FLOP/s ÷ peak bytes/s: a layer whose arithmetic intensity (FLOPs per
//    byte moved) is below it is bound by memory, above it by compute.
// 2. Per layer (node of the graph deftnn runs, after its load-time passes): FLOPs and bytes moved
//    from graph/cost.ts (bytes: every input, weights included, and output read or written once at
//    float32: the least traffic the layer can have), GPU time from timestamp queries around each
//    dispatch (GpuSession.profile, median of `reps` profiled runs), achieved GFLOP/s and GB/s, the
//    fraction of the roofline (min(peak FLOP/s, intensity × peak bandwidth)) that it reaches.
// Per-node timestamps put each dispatch in its own compute pass, so tiny layers also carry a
// pass's fixed cost: read their fractions as a lower bound. Dawn rounds timestamps to 65.5 µs
// unless told not to: the scripts start Dawn with PRECISE_TIMESTAMPS (bench/peers.ts); a caller
// that made its own instance gets whatever resolution that one has.
//
// As a library (bench/run.ts and the GPU bundle use it): measurePeaks() and rooflineModels().

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Gpu, type Step } from '../src/device/gpu.js';
import { nodeCost } from '../src/graph/cost.js';
import { GpuSession } from '../src/graph/session.js';
import { inferShapes } from '../src/graph/shapes.js';
import { linearGrid, linearIndexFn, u32 } from '../src/kernels/wgsl.js';
import { load } from '../src/model.js';
import { fmtNum, markdownTable, median } from './harness.js';
import { benchModels, type BenchModel } from './models.js';
import { installDawn, PRECISE_TIMESTAMPS } from './peers.js';

/** Independent vec4 accumulators per invocation (instruction-level parallelism). */
const ACCUMULATORS = 8;
const WORKGROUP = 256;

export interface Peaks {
  readonly adapter: string;
  /** Timestamps (true) or wall clock around submissions (false) timed the kernels. */
  readonly timestamps: boolean;
  readonly fma: { readonly gflops: number; readonly invocations: number; readonly iterations: number; readonly ms: number };
  readonly copyKernel: { readonly gbps: number; readonly bytes: number; readonly ms: number };
  readonly copyBufferToBuffer: { readonly gbps: number; readonly bytes: number; readonly ms: number };
  /** Peak bandwidth used for the roofline: the better of the two copies. */
  readonly gbps: number;
  /** FLOPs per byte where the two roofs meet. */
  readonly ridge: number;
}

function fmaKernel(iterations: number): string {
  const acc = Array.from({ length: ACCUMULATORS }, (_, k) => k);
  return `${linearIndexFn(WORKGROUP)}
@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> coef: array<vec4<f32>>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg);
  // b, c come from memory, so the compiler cannot fold the chains; |b| < 1 keeps them finite.
  let b = coef[0];
  let c = coef[1];
  let x = vec4<f32>(f32(i & 1023u)) * 1e-4;
${acc.map((k) => `  var a${k} = x + vec4<f32>(${k}.0);`).join('\n')}
  for (var it = 0u; it < ${u32(iterations)}; it++) {
${acc.map((k) => `    a${k} = fma(a${k}, b, c);`).join('\n')}
  }
  // Every chain feeds the one store, so none of them is dead code.
  out[i] = ${acc.map((k) => `a${k}`).join(' + ')};
}`;
}

function copyKernel(): string {
  return `${linearIndexFn(WORKGROUP)}
@group(0) @binding(0) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg);
  if (i < arrayLength(&src)) { dst[i] = src[i]; }
}`;
}

/**
 * Shortest GPU time of one step run `reps` times in one submission (timestamps, else wall clock).
 * A peak is the best the device does, so the minimum, not the median: on a shared machine (or a
 * CPU-emulated adapter competing with other processes) slow samples are interference.
 */
async function timeStep(gpu: Gpu, step: Step, reps: number): Promise<number> {
  if (gpu.adapter.features.timestampQuery) {
    const { stepMs } = await gpu.execute(Array(reps).fill(step), [], { profile: true });
    return Math.min(...stepMs!);
  }
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await gpu.execute([step], []);
    samples.push(performance.now() - t);
  }
  return Math.min(...samples);
}

export interface PeakOptions {
  /** Grow the FMA chains until one dispatch takes at least this long (ms). */
  readonly targetMs?: number;
  readonly reps?: number;
}

/** Measure the adapter's FMA throughput and copy bandwidth. */
export async function measurePeaks(gpu: Gpu, opts: PeakOptions = {}): Promise<Peaks> {
  const software = !!gpu.kernelContext.softwareAdapter;
  const targetMs = opts.targetMs ?? (software ? 50 : 20);
  const reps = opts.reps ?? 5;
  const ctx = gpu.kernelContext;

  // ---- FMA ----
  // A GPU needs ~10^5-10^6 invocations in flight to fill; a CPU-emulated one only a few per core.
  const invocations = software ? WORKGROUP * 64 : WORKGROUP * 16384;
  const out = gpu.buffer(invocations * 16);
  const coef = gpu.upload(new Float32Array([0.999, 0.9991, 0.9992, 0.9993, 1e-4, 2e-4, 3e-4, 4e-4]));
  let iterations = 16;
  let fmaMs = 0;
  for (;;) {
    const step: Step = { ...gpu.prepare(fmaKernel(iterations), [out, coef]), workgroups: linearGrid(invocations, WORKGROUP, ctx) };
    await timeStep(gpu, step, 1); // compile and first touch, untimed
    fmaMs = await timeStep(gpu, step, reps);
    if (fmaMs >= targetMs || iterations >= 1 << 16) break;
    // Jump most of the way at once (time is linear in the chain length), at most 16x per step.
    iterations *= Math.min(16, Math.max(2, 2 ** Math.floor(Math.log2(targetMs / Math.max(fmaMs, 1e-3)))));
  }
  const fmaFlops = invocations * iterations * ACCUMULATORS * 4 * 2;
  gpu.release(out);
  gpu.release(coef);

  // ---- copy ----
  // Far beyond any last-level cache (H100: 50 MB) on a GPU; modest on a CPU-emulated adapter.
  const l = gpu.adapter.limits;
  const cap = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
  const bytes = [512, 256, 128, 64, 32, 16].map((m) => m * 2 ** 20).find((b) => b <= cap && (!software || b <= 32 * 2 ** 20)) ?? 2 ** 20 * 4;
  const src = gpu.buffer(bytes);
  const dst = gpu.buffer(bytes);
  const copy: Step = { ...gpu.prepare(copyKernel(), [dst, src]), workgroups: linearGrid(bytes / 16, WORKGROUP, ctx) };
  await timeStep(gpu, copy, 1);
  const copyMs = await timeStep(gpu, copy, reps);

  // copyBufferToBuffer: `k` copies in one submission minus an empty submission, per copy.
  const dev = gpu.device;
  const submitCopies = async (k: number) => {
    const enc = dev.createCommandEncoder();
    for (let i = 0; i < k; i++) enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
    const t = performance.now();
    gpu.submit([enc.finish()]);
    await gpu.race(dev.queue.onSubmittedWorkDone());
    return performance.now() - t;
  };
  const k = 8;
  await submitCopies(1);
  const full: number[] = [];
  const empty: number[] = [];
  for (let r = 0; r < reps; r++) {
    full.push(await submitCopies(k));
    empty.push(await submitCopies(0));
  }
  const b2bMs = Math.max(1e-6, (Math.min(...full) - median(empty)) / k);
  gpu.release(src);
  gpu.release(dst);
  gpu.trim();

  const gflops = fmaFlops / fmaMs / 1e6;
  const kernelGbps = (2 * bytes) / copyMs / 1e6;
  const b2bGbps = (2 * bytes) / b2bMs / 1e6;
  const gbps = Math.max(kernelGbps, b2bGbps);
  return {
    adapter: gpu.name,
    timestamps: gpu.adapter.features.timestampQuery,
    fma: { gflops, invocations, iterations, ms: fmaMs },
    copyKernel: { gbps: kernelGbps, bytes, ms: copyMs },
    copyBufferToBuffer: { gbps: b2bGbps, bytes, ms: b2bMs },
    gbps,
    ridge: gflops / gbps,
  };
}

export interface LayerPoint {
  readonly node: string;
  readonly op: string;
  readonly shapes: string;
  readonly flops: number;
  readonly bytes: number;
  /** FLOPs per byte. */
  readonly intensity: number;
  readonly ms: number;
  readonly gflops: number;
  readonly gbps: number;
  readonly fracPeakFlops: number;
  readonly fracPeakBw: number;
  readonly bound: 'compute' | 'memory';
  /** Achieved FLOP/s ÷ the roofline at this intensity (for FLOP-free layers: achieved ÷ peak bandwidth). */
  readonly fracRoofline: number;
}

export interface ModelRoofline {
  readonly model: string;
  readonly batch: number;
  readonly nodes: number;
  readonly dispatches: number;
  /** Sum of per-node GPU times and end-to-end wall time of a plain (unprofiled) run. */
  readonly gpuMs: number;
  readonly wallMs: number;
  readonly flops: number;
  readonly bytes: number;
  readonly layers: LayerPoint[];
}

export function layerPoint(peaks: Peaks, node: string, op: string, shapes: string, flops: number, bytes: number, ms: number): LayerPoint {
  const intensity = bytes > 0 ? flops / bytes : Infinity;
  // A layer shorter than the timer's tick reads 0 ms: no rate can be given for it.
  const gflops = ms > 0 ? flops / ms / 1e6 : NaN;
  const gbps = ms > 0 ? bytes / ms / 1e6 : NaN;
  const bound = intensity < peaks.ridge ? 'memory' : 'compute';
  const roof = Math.min(peaks.fma.gflops, intensity * peaks.gbps);
  return {
    node,
    op,
    shapes,
    flops,
    bytes,
    intensity,
    ms,
    gflops,
    gbps,
    fracPeakFlops: gflops / peaks.fma.gflops,
    fracPeakBw: gbps / peaks.gbps,
    bound,
    fracRoofline: flops > 0 ? gflops / roof : gbps / peaks.gbps,
  };
}

export interface RooflineOptions {
  readonly batches: readonly number[];
  readonly reps: number;
  readonly models?: readonly string[];
  readonly log?: (s: string) => void;
  /** performance.now() after which no further (model, batch) starts. */
  readonly deadlineMs?: number;
}

/** Per-layer roofline points of every benchmark model at every batch. */
export async function rooflineModels(gpu: Gpu, peaks: Peaks, opts: RooflineOptions): Promise<ModelRoofline[]> {
  const log = opts.log ?? ((s: string) => console.error(s));
  const out: ModelRoofline[] = [];
  for (const m of benchModels(opts.models)) {
    for (const batch of opts.batches) {
      if (opts.deadlineMs !== undefined && performance.now() > opts.deadlineMs) {
        log(`  roofline ${m.name} batch ${batch}: skipped, time limit reached`);
        continue;
      }
      out.push(await rooflineModel(gpu, peaks, m, batch, opts.reps));
      const r = out[out.length - 1];
      log(`  roofline ${m.name} batch ${batch}: ${r.layers.length} timed layers, GPU ${fmtNum(r.gpuMs)} ms, wall ${fmtNum(r.wallMs)} ms`);
    }
  }
  return out;
}

async function rooflineModel(gpu: Gpu, peaks: Peaks, m: BenchModel, batch: number, reps: number): Promise<ModelRoofline> {
  // load() runs the same passes as every deftnn benchmark; the session is built on its graph
  // directly, since Model does not expose profiling.
  const model = await load(m.bytes(batch), { backend: 'webgpu', gpu, inputShapes: { [m.input]: m.shape(batch) } });
  model.dispose();
  const session = new GpuSession(gpu, model.graph);
  try {
    const feeds = { [m.input]: m.makeInput(batch, 7 + batch) };
    await session.run(feeds); // compile + first run
    const walls: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      await session.run(feeds);
      walls.push(performance.now() - t);
    }
    const runs: { node: string; op: string; ms: number }[][] = [];
    for (let r = 0; r < reps; r++) runs.push((await session.profile(feeds)).nodes);
    const ig = inferShapes(model.graph);
    const byName = new Map(ig.nodes.map((r) => [r.node.name, r]));
    const layers: LayerPoint[] = [];
    let flops = 0;
    let bytes = 0;
    for (const [i, n] of (runs[0] ?? []).entries()) {
      const r = byName.get(n.node);
      if (!r) continue;
      const c = nodeCost(r);
      const ms = median(runs.map((run) => run[i]?.ms ?? NaN));
      const shapes = `${r.inputShapes.map((s) => s.join('x')).join(', ')} -> ${r.outputShapes.map((s) => s.join('x')).join(', ')}`;
      layers.push(layerPoint(peaks, n.node, n.op, shapes, c.flops, c.bytes, ms));
      flops += c.flops;
      bytes += c.bytes;
    }
    return {
      model: m.name,
      batch,
      nodes: ig.nodes.length,
      dispatches: session.dispatchCount,
      gpuMs: layers.reduce((s, l) => s + l.ms, 0),
      wallMs: median(walls),
      flops,
      bytes,
      layers,
    };
  } finally {
    session.dispose();
  }
}

const pct = (x: number) => (Number.isFinite(x) ? `${100 * x >= 10 ? (100 * x).toFixed(0) : (100 * x).toPrecision(2)}%` : '-');

export function peaksTable(p: Peaks): string {
  return markdownTable(
    ['microbenchmark', 'size', 'ms', 'peak'],
    [
      ['FMA (vec4 fma chains)', `${p.fma.invocations} invocations x ${p.fma.iterations} x ${ACCUMULATORS} vec4`, p.fma.ms, `${fmtNum(p.fma.gflops)} GFLOP/s`],
      ['copy kernel (vec4, read + write)', `${p.copyKernel.bytes / 2 ** 20} MiB`, p.copyKernel.ms, `${fmtNum(p.copyKernel.gbps)} GB/s`],
      ['copyBufferToBuffer (read + write)', `${p.copyBufferToBuffer.bytes / 2 ** 20} MiB`, p.copyBufferToBuffer.ms, `${fmtNum(p.copyBufferToBuffer.gbps)} GB/s`],
      ['ridge point', '', '', `${fmtNum(p.ridge)} FLOP/byte`],
    ],
  );
}

/** Per-layer table of one model at one batch; `top` keeps the slowest layers (all when 0). */
export function layerTable(r: ModelRoofline, top = 0): string {
  const rows = top > 0 ? [...r.layers].sort((a, b) => b.ms - a.ms).slice(0, top) : r.layers;
  const total = r.gpuMs;
  return markdownTable(
    ['layer', 'op', 'shapes', 'MFLOP', 'MB', 'FLOP/B', 'ms', 'share', 'GFLOP/s', 'GB/s', '% peak FLOP/s', '% peak BW', 'bound', '% of roof'],
    rows.map((l) => [
      l.node,
      l.op,
      l.shapes,
      l.flops / 1e6,
      l.bytes / 1e6,
      Number.isFinite(l.intensity) ? l.intensity : '-',
      l.ms,
      pct(l.ms / total),
      Number.isFinite(l.gflops) ? l.gflops : '-',
      Number.isFinite(l.gbps) ? l.gbps : '-',
      pct(l.fracPeakFlops),
      pct(l.fracPeakBw),
      l.bound,
      pct(l.fracRoofline),
    ]),
  );
}

/** One row per model and batch: totals over its layers. */
export function summaryTable(rs: readonly ModelRoofline[], peaks: Peaks): string {
  return markdownTable(
    ['model', 'batch', 'layers timed', 'GFLOP', 'MB moved', 'GPU ms (sum of layers)', 'wall ms', 'GFLOP/s (GPU time)', '% peak FLOP/s', 'GB/s', '% peak BW', 'time in memory-bound layers'],
    rs.map((r) => {
      const gf = r.flops / r.gpuMs / 1e6;
      const gb = r.bytes / r.gpuMs / 1e6;
      const memMs = r.layers.filter((l) => l.bound === 'memory').reduce((s, l) => s + l.ms, 0);
      return [r.model, String(r.batch), String(r.layers.length), r.flops / 1e9, r.bytes / 1e6, r.gpuMs, r.wallMs, gf, pct(gf / peaks.fma.gflops), gb, pct(gb / peaks.gbps), pct(memMs / r.gpuMs)];
    }),
  );
}

export function rooflineMarkdown(peaks: Peaks, rs: readonly ModelRoofline[], top: number): string {
  const parts = [
    `### Peaks (adapter: ${peaks.adapter}; kernels timed by ${peaks.timestamps ? 'timestamp queries' : 'wall clock'})`,
    peaksTable(peaks),
    '### Models',
    summaryTable(rs, peaks),
  ];
  for (const r of rs) {
    const slice = top > 0 && r.layers.length > top ? ` (the ${top} slowest of ${r.layers.length} layers)` : '';
    parts.push(`### ${r.model}, batch ${r.batch}${slice}`, layerTable(r, top));
  }
  return parts.join('\n\n') + '\n';
}

export interface RooflineReport {
  readonly date: string;
  readonly adapter: string;
  readonly peaks: Peaks;
  readonly models: ModelRoofline[];
}

/** Peaks and every model's layers; markdown to stdout, roofline.md and roofline.json to `out`. */
export async function runRoofline(gpu: Gpu, o: RooflineOptions & { out?: string; top: number; quick?: boolean }): Promise<RooflineReport> {
  const date = new Date().toISOString();
  console.error(`roofline: measuring peaks on ${gpu.name}`);
  const peaks = await measurePeaks(gpu, o.quick ? { reps: 3 } : {});
  console.error(`  FMA ${fmtNum(peaks.fma.gflops)} GFLOP/s, copy ${fmtNum(peaks.gbps)} GB/s, ridge ${fmtNum(peaks.ridge)} FLOP/byte`);
  const models = await rooflineModels(gpu, peaks, o);
  const md = `## Roofline\n\nadapter: ${gpu.name}\ndate: ${date}\n\n${rooflineMarkdown(peaks, models, o.top)}`;
  console.log(md);
  const report: RooflineReport = { date, adapter: gpu.name, peaks, models };
  if (o.out) {
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'roofline.md'), md);
    writeFileSync(join(o.out, 'roofline.json'), JSON.stringify(report, (_, v) => (v === Infinity ? null : v), 2) + '\n');
    console.error(`wrote ${join(o.out, 'roofline.md')} and roofline.json`);
  }
  return report;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      models: { type: 'string', default: '' },
      batches: { type: 'string', default: '1,32' },
      reps: { type: 'string', default: '5' },
      top: { type: 'string', default: '0' },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'shader-cache': { type: 'boolean', default: false },
    },
  });
  // Mesa reads this when the Vulkan device is created (lavapipe's on-disk shader cache).
  if (!a['shader-cache']) process.env.MESA_SHADER_CACHE_DISABLE = 'true';
  installDawn([PRECISE_TIMESTAMPS]); // Gpu.acquire takes navigator.gpu
  const gpu = await Gpu.acquire();
  if (!gpu) {
    console.error('no WebGPU adapter');
    process.exit(1);
  }
  await runRoofline(gpu, {
    models: a.models ? a.models.split(',') : undefined,
    batches: a.quick ? [1] : a.batches!.split(',').map(Number),
    reps: a.quick ? 3 : Number(a.reps),
    top: Number(a.top),
    out: a.out,
    quick: a.quick,
  });
  gpu.destroy();
}

// Run as a script (npm run bench:roofline), not when imported (bench/run.ts, the GPU bundle, where
// every module shares the bundle's URL and DEFTNN_BENCH_BUNDLED is defined at build time).
if (process.env.DEFTNN_BENCH_BUNDLED !== '1' && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
  process.exit(0);
}
