// `npm run bench`: every benchmark model (zoo/*.onnx and PaddleOCR's text-direction classifier)
// at batch 1 and 32, end to end (input upload to output read back), through deftnn's variants and
// the peer engines on the same adapter, plus onnxruntime-node on the CPU for reference.
// Usage: npm run bench [-- --models lenet5,vgg,ppocr-cls --batches 1,32 --reps 7 --warmup 2
//        --engines REGEX --ort-threads N --out DIR --quick --roofline --roofline-top N
//        --time-limit SECONDS --rate R --format F --shader-cache]
//
// Per model and batch, every engine is built and run once ("load + first run": parse, import,
// session build and pipeline compiles), then `warmup` untimed and `reps` timed rounds interleaved
// (A B C A B C ...), so that drift in machine load hits every engine alike; medians, and ratios to
// deftnn dense. Every engine's first output is compared with onnxruntime-node's (largest |diff|,
// top-1 agreement), so we know each one ran the same model.
//
// The engines are two lists: DEFTNN_VARIANTS (ways of turning the loaded dense model into the
// model to run: dense, synapse vector elimination at one rate (--rate, default 0.5), data fission
// in one packed format (--format, default bf16), both) and PEERS. Adding one is an entry in a
// list; nothing else changes. A variant's "load" includes its calibration or packing.
//
// --quick: batch 1, 1 warm-up and 3 timed rounds (the GPU bundle's self-test on lavapipe).
// --roofline: afterwards, bench/roofline.ts's peaks and per-layer roofline on the same device.
// --time-limit: stop starting new (model, batch) cases after this many seconds (the roofline's:
// 100 s later); what ran is kept.
// --out DIR: bench.md and bench.json (rewritten after every case, so a killed run keeps its
// tables), and roofline.md / roofline.json with --roofline.
// Mesa's on-disk shader cache is switched off unless --shader-cache (cold compiles, repeatable).

import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Gpu } from '../src/device/gpu.js';
import { load, type Model } from '../src/model.js';
import { pack } from '../src/ndf/pack.js';
import { eliminate } from '../src/sve/api.js';
import { Tensor } from '../src/tensor.js';
import { markdownTable, timeInterleaved } from './harness.js';
import { assetDir, benchModels, maxAbsDiff, top1Agreement, type BenchModel } from './models.js';
import { installDawn, PRECISE_TIMESTAMPS, tfjsWebgpu } from './peers.js';
import { nchwToNhwc, tfjsGraph } from './tfjs-graph.js';
import { runRoofline } from './roofline.js';

// ---- the engines ----

/** What a builder gets: the model, the batch, and the shared device. */
export interface BuildContext {
  readonly model: BenchModel;
  readonly batch: number;
  readonly gpu: Gpu;
  /** The ONNX bytes at this batch (fixed-batch zoo files rewritten to a symbolic batch). */
  readonly bytes: Uint8Array;
  /** Seeded inputs at batch n, other than the timed one (for variants that calibrate). */
  readonly sampleInput: (n: number, seed: number) => Tensor;
}

/** One built engine: a timed repetition returns the output read back to the CPU. */
export interface Runner {
  readonly run: (input: Float32Array) => Promise<Float32Array>;
  readonly dispose: () => Promise<void> | void;
}

/**
 * A deftnn variant: the model to run, made from the dense model loaded as every deftnn variant
 * loads it (load(), with its graph passes). `name` is shown after "deftnn ".
 */
export interface DeftnnVariant {
  readonly name: () => string;
  readonly build: (dense: Model, ctx: BuildContext) => Promise<Model>;
}

/**
 * The variants' settings (--rate, --formats). These are speed settings, not the accuracy-budgeted
 * choices of docs/results.md: one elimination rate for every eligible Conv and Gemm, calibrated
 * on 64 of the benchmark's own seeded inputs (the bundle carries no data set), no fine-tuning;
 * one packed format for every weight and activation that can take it. What they cost in accuracy
 * shows in the agreement columns.
 */
export const variantSettings = { rate: 0.5, format: 'bf16' };

async function eliminated(dense: Model, ctx: BuildContext): Promise<Model> {
  // Calibration batches at the benchmark's batch size, so its sessions reuse the compiled kernels.
  const n = Math.ceil(64 / ctx.batch);
  const calibration = Array.from({ length: n }, (_, i) => ctx.sampleInput(ctx.batch, 5000 + i));
  return eliminate(dense, { calibration, rate: variantSettings.rate, finetune: false, seed: 1 });
}

const packed = (m: Model): Promise<Model> => pack(m, { formats: { weights: variantSettings.format, activations: variantSettings.format } });

export const DEFTNN_VARIANTS: DeftnnVariant[] = [
  { name: () => 'dense fp32', build: async (dense) => dense },
  { name: () => `elimination ${variantSettings.rate}`, build: eliminated },
  { name: () => `fission ${variantSettings.format}`, build: packed },
  {
    name: () => `elimination ${variantSettings.rate} + fission ${variantSettings.format}`,
    build: async (dense, ctx) => {
      const e = await eliminated(dense, ctx);
      try {
        return await packed(e);
      } finally {
        e.dispose();
      }
    },
  },
];

/** A peer engine; `unavailable` says why it cannot run here (then it is listed as skipped). */
export interface Peer {
  readonly name: string;
  readonly device: (gpu: Gpu) => string;
  readonly unavailable?: () => Promise<string | null>;
  readonly build: (ctx: BuildContext) => Promise<Runner>;
}

let ortThreads = availableParallelism();
let ortWebAdapter = '';

type OrtWeb = typeof import('onnxruntime-web/webgpu');
let ortWebModule: Promise<OrtWeb> | undefined;
function ortWeb(): Promise<OrtWeb> {
  ortWebModule ??= import('onnxruntime-web/webgpu').then((ort) => {
    // In the repository its wasm files are in node_modules; in the bundle, in assets/ort-web/.
    const assets = assetDir();
    ort.env.wasm.wasmPaths = assets ? join(assets, 'ort-web') + '/' : new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).pathname;
    // One wasm thread: the WebGPU provider runs the ops on the GPU, and wasm threads in Node
    // would need worker plumbing that buys nothing here.
    ort.env.wasm.numThreads = 1;
    return ort;
  });
  return ortWebModule;
}

type OrtNode = typeof import('onnxruntime-node');
let ortNodeModule: Promise<OrtNode> | undefined;
const ortNode = (): Promise<OrtNode> => (ortNodeModule ??= import('onnxruntime-node'));

/** Whether importing a module works here (the bundle may leave a peer out); the error if not. */
async function importError(f: () => Promise<unknown>): Promise<string | null> {
  try {
    await f();
    return null;
  } catch (e) {
    return `not loadable here: ${(e as Error).message.split('\n')[0]}`;
  }
}

export const PEERS: Peer[] = [
  {
    name: 'onnxruntime-web 1.22 WebGPU (JSEP)',
    device: (gpu) => ortWebAdapter || gpu.name,
    unavailable: () => importError(ortWeb),
    build: async ({ bytes, model, batch, gpu }) => {
      const ort = await ortWeb();
      // Bytes, not a path: onnxruntime-web fetch()es a path as a URL, which fails in Node.
      const s = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
      const info = (ort.env.webgpu.adapter as GPUAdapter | undefined)?.info;
      ortWebAdapter = info ? [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' / ') : '?';
      if (ortWebAdapter !== gpu.name) console.error(`  warning: onnxruntime-web is on adapter '${ortWebAdapter}', deftnn on '${gpu.name}'`);
      const shape = model.shape(batch);
      return {
        run: async (x) => (await s.run({ [model.input]: new ort.Tensor('float32', x, shape) }))[model.output].data as Float32Array,
        dispose: () => s.release(),
      };
    },
  },
  {
    // The graph deftnn runs (after load()'s passes: batch norms folded, activations fused) in
    // tfjs ops, NHWC, same weights (bench/tfjs-graph.ts). tfjs is fed its native NHWC layout:
    // the input is transposed once, outside the timed runs.
    name: 'tfjs-backend-webgpu 4.22',
    device: (gpu) => gpu.name,
    unavailable: () => importError(tfjsWebgpu),
    build: async ({ bytes, model, batch }) => {
      const tf = await tfjsWebgpu();
      const { graph } = await load(bytes, { backend: 'cpu', inputShapes: { [model.input]: model.shape(batch) } });
      const net = tfjsGraph(tf, graph);
      const nhwc = new WeakMap<Float32Array, Float32Array>();
      const shape = model.shape(batch);
      return {
        run: async (x) => {
          let t = nhwc.get(x);
          if (!t) nhwc.set(x, (t = shape.length === 4 ? nchwToNhwc(x, shape) : x));
          return net.run(t);
        },
        dispose: () => net.dispose(),
      };
    },
  },
  {
    name: 'onnxruntime-node 1.22 CPU',
    device: () => `CPU (${cpus()[0]?.model ?? '?'}), ${ortThreads} threads; not the same device`,
    unavailable: () => importError(ortNode),
    build: async ({ bytes, model, batch }) => {
      const ort = await ortNode();
      const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: ortThreads, interOpNumThreads: 1 });
      const shape = model.shape(batch);
      return {
        run: async (x) => (await s.run({ [model.input]: new ort.Tensor('float32', x, shape) }))[model.output].data as Float32Array,
        dispose: () => s.release(),
      };
    },
  },
];

/** Peers not run yet, and why; printed with every table so that the gap is visible. */
export const PENDING_PEERS: { name: string; why: string }[] = [];

// ---- the run ----

/** With --time-limit T, the roofline may still start (model, batch) cases until T + this. */
const ROOFLINE_EXTRA_S = 100;

export interface Row {
  model: string;
  batch: number;
  engine: string;
  device: string;
  loadS: number;
  firstRunS: number;
  medianMs: number;
  minMs: number;
  runs: number;
  imagesPerS: number;
  /** This engine's median ÷ deftnn dense's (> 1: slower than deftnn dense). */
  ratioVsDeftnnDense: number;
  maxAbsDiffVsOracle: number;
  top1AgreementVsOracle: number;
}

interface Contender {
  readonly name: string;
  readonly device: string;
  readonly loadS: number;
  readonly firstRunS: number;
  readonly firstOut: Float32Array;
  readonly runner: Runner;
}

async function build(name: string, device: string, input: Float32Array, make: () => Promise<Runner>): Promise<Contender> {
  const t0 = performance.now();
  const runner = await make();
  const t1 = performance.now();
  const firstOut = await runner.run(input);
  const t2 = performance.now();
  console.error(`  ${name}: load ${((t1 - t0) / 1000).toFixed(1)} s + first run ${((t2 - t1) / 1000).toFixed(1)} s`);
  return { name, device, loadS: (t1 - t0) / 1000, firstRunS: (t2 - t1) / 1000, firstOut, runner };
}

function commit(): string {
  if (process.env.DEFTNN_COMMIT) return process.env.DEFTNN_COMMIT;
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return '?';
  }
}

export interface BenchReport {
  date: string;
  commit: string;
  adapter: string;
  ortWebAdapter: string;
  cpu: string;
  node: string;
  warmup: number;
  reps: number;
  mesaShaderCache: boolean;
  skipped: string[];
  rows: Row[];
}

export function benchMarkdown(r: BenchReport): string {
  const head = [
    `adapter: ${r.adapter}` + (r.ortWebAdapter && r.ortWebAdapter !== r.adapter ? ` (onnxruntime-web: ${r.ortWebAdapter})` : ''),
    `CPU: ${r.cpu}; node ${r.node}; commit ${r.commit}; date ${r.date}`,
    `${r.warmup} warm-up + ${r.reps} timed interleaved rounds per case, medians; ratio = engine ms ÷ deftnn dense ms (> 1: slower than deftnn)`,
  ];
  const table = markdownTable(
    ['model', 'batch', 'engine', 'load + first run (s)', 'median ms', 'min ms', 'images/s', 'ms ÷ deftnn dense', 'max \\|diff\\| vs oracle', 'top-1 agreement'],
    r.rows.map((x) => [
      x.model,
      String(x.batch),
      x.engine,
      x.loadS + x.firstRunS,
      x.medianMs,
      x.minMs,
      x.imagesPerS,
      x.ratioVsDeftnnDense,
      x.engine.startsWith('onnxruntime-node') ? '(oracle)' : Number.isNaN(x.maxAbsDiffVsOracle) ? '-' : x.maxAbsDiffVsOracle.toExponential(1),
      Number.isNaN(x.top1AgreementVsOracle) ? '-' : `${(100 * x.top1AgreementVsOracle).toFixed(0)}%`,
    ]),
  );
  const notes = r.skipped.map((s) => `- ${s}`);
  return [...head.map((h) => h + '  '), '', table, '', ...(notes.length ? ['Not run:', '', ...notes, ''] : [])].join('\n');
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      models: { type: 'string', default: '' },
      batches: { type: 'string', default: '1,32' },
      reps: { type: 'string', default: '7' },
      warmup: { type: 'string', default: '2' },
      engines: { type: 'string', default: '' },
      'ort-threads': { type: 'string', default: String(availableParallelism()) },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      roofline: { type: 'boolean', default: false },
      'roofline-top': { type: 'string', default: '0' },
      'time-limit': { type: 'string', default: '0' },
      rate: { type: 'string', default: String(variantSettings.rate) },
      format: { type: 'string', default: variantSettings.format },
      'shader-cache': { type: 'boolean', default: false },
    },
  });
  const started = performance.now();
  const limitS = Number(a['time-limit']);
  const overTime = () => limitS > 0 && (performance.now() - started) / 1000 > limitS;
  const batches = a.quick ? [1] : a.batches!.split(',').map(Number);
  const reps = a.quick ? 3 : Number(a.reps);
  const warmup = a.quick ? 1 : Number(a.warmup);
  const engineFilter = a.engines ? new RegExp(a.engines, 'i') : null;
  ortThreads = Number(a['ort-threads']);
  variantSettings.rate = Number(a.rate);
  variantSettings.format = a.format!;
  if (!a['shader-cache']) process.env.MESA_SHADER_CACHE_DISABLE = 'true';

  // One Dawn instance for deftnn and the WebGPU peers (Gpu.acquire takes navigator.gpu), so one adapter.
  installDawn([PRECISE_TIMESTAMPS]);
  const gpu = await Gpu.acquire();
  if (!gpu) {
    // Said in $OUT too: on a GPU machine this is the line that tells a missing Vulkan driver.
    if (a.out) {
      mkdirSync(a.out, { recursive: true });
      writeFileSync(join(a.out, 'bench.md'), '## Benchmark\n\nno WebGPU adapter: Dawn found no Vulkan device (see run.log)\n');
    }
    console.error('no WebGPU adapter');
    process.exit(1);
  }
  const models = benchModels(a.models ? a.models.split(',') : undefined);
  const report: BenchReport = {
    date: new Date().toISOString(),
    commit: commit(),
    adapter: gpu.name,
    ortWebAdapter: '',
    cpu: `${cpus()[0]?.model ?? '?'} x ${availableParallelism()}`,
    node: process.version,
    warmup,
    reps,
    mesaShaderCache: !!a['shader-cache'],
    skipped: [],
    rows: [],
  };
  console.error(`adapter: ${gpu.name}; models: ${models.map((m) => m.name).join(', ')}; batches ${batches.join(', ')}`);

  const peers: Peer[] = [];
  for (const p of PEERS) {
    if (engineFilter && !engineFilter.test(p.name)) continue;
    const why = (await p.unavailable?.()) ?? null;
    if (why) report.skipped.push(`${p.name}: ${why}`);
    else peers.push(p);
  }
  for (const p of PENDING_PEERS) report.skipped.push(`${p.name}: ${p.why}`);
  const variants = DEFTNN_VARIANTS.filter((v) => !engineFilter || engineFilter.test(`deftnn ${v.name()}`));

  const write = () => {
    report.ortWebAdapter = ortWebAdapter;
    if (!a.out) return;
    mkdirSync(a.out, { recursive: true });
    writeFileSync(join(a.out, 'bench.md'), `## Benchmark\n\n${benchMarkdown(report)}`);
    writeFileSync(join(a.out, 'bench.json'), JSON.stringify(report, null, 2) + '\n');
  };

  for (const m of models) {
    for (const batch of batches) {
      if (overTime()) {
        report.skipped.push(`${m.name} batch ${batch}: time limit (${limitS} s) reached`);
        continue;
      }
      console.error(`${m.name} batch ${batch}:`);
      const input = m.makeInput(batch, 1000 + batch);
      const ctx: BuildContext = {
        model: m,
        batch,
        gpu,
        bytes: m.bytes(batch),
        sampleInput: (n, seed) => m.makeInput(n, seed),
      };
      const shape = m.shape(batch);
      const contenders: Contender[] = [];
      let dense: Model | undefined;
      try {
        // One engine that fails to build or run is reported and left out; the others still run.
        const add = async (name: string, device: string, make: () => Promise<Runner>) => {
          try {
            contenders.push(await build(name, device, input.data, make));
          } catch (e) {
            const msg = `${m.name} batch ${batch}: ${name} failed: ${(e as Error).message.split('\n')[0]}`;
            console.error(`  ${msg}`);
            report.skipped.push(msg);
          }
        };
        for (const v of variants) {
          await add(`deftnn ${v.name()}`, gpu.name, async () => {
            dense ??= await load(ctx.bytes, { backend: 'webgpu', gpu, inputShapes: { [m.input]: shape } });
            const model = await v.build(dense, ctx);
            return {
              run: async (x) => (await model.run({ [m.input]: new Tensor(shape, x) }))[m.output].data,
              dispose: () => (model === dense ? undefined : model.dispose()),
            };
          });
        }
        for (const p of peers) await add(p.name, p.device(gpu), () => p.build(ctx));
        if (contenders.length === 0) throw new Error('no engine could be built');
        const timings = await timeInterleaved(
          contenders.map((c) => ({ name: c.name, run: () => c.runner.run(input.data) })),
          { warmup, reps },
        );
        const oracle = contenders.find((c) => c.name.startsWith('onnxruntime-node'))?.firstOut;
        const base = timings.find((t) => t.name === 'deftnn dense fp32')?.medianMs ?? NaN;
        const classes = contenders[0].firstOut.length / batch;
        contenders.forEach((c, i) => {
          const t = timings[i];
          report.rows.push({
            model: m.name,
            batch,
            engine: c.name,
            device: c.name.startsWith('onnxruntime-node') ? c.device : gpu.name,
            loadS: c.loadS,
            firstRunS: c.firstRunS,
            medianMs: t.medianMs,
            minMs: t.minMs,
            runs: t.runs,
            imagesPerS: (batch * 1000) / t.medianMs,
            ratioVsDeftnnDense: t.medianMs / base,
            maxAbsDiffVsOracle: oracle ? maxAbsDiff(c.firstOut, oracle) : NaN,
            top1AgreementVsOracle: oracle ? top1Agreement(c.firstOut, oracle, classes) : NaN,
          });
          console.error(`  ${c.name}: median ${t.medianMs.toFixed(2)} ms`);
        });
      } catch (e) {
        const msg = `${m.name} batch ${batch}: failed: ${(e as Error).message.split('\n')[0]}`;
        console.error(`  ${msg}`);
        report.skipped.push(msg);
      } finally {
        for (const c of contenders) await c.runner.dispose();
        dense?.dispose();
        gpu.trim();
      }
      write();
    }
  }
  write();
  console.log(`## Benchmark\n\n${benchMarkdown(report)}`);

  if (a.roofline) {
    {
      await runRoofline(gpu, {
        models: a.models ? a.models.split(',') : undefined,
        batches,
        reps: a.quick ? 3 : 5,
        top: Number(a['roofline-top']),
        out: a.out,
        quick: a.quick,
        deadlineMs: limitS > 0 ? started + 1000 * (limitS + ROOFLINE_EXTRA_S) : undefined,
      });
    }
  }
  console.error(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  gpu.destroy();
}

// Run as a script (npm run bench) or as the GPU bundle's entry point; importing runs nothing.
if (process.env.DEFTNN_BENCH_BUNDLED === '1' || (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))) {
  await main();
  process.exit(0);
}
