// torchvision classifiers as PyTorch exports them, through deftnn on WebGPU, against
// onnxruntime-node: exports each model at each opset (scripts/export-torchvision.py, random
// weights, Debian's /usr/bin/python3 with python3-torch), loads it, runs one seeded 224x224 input
// and compares the logits (relative: max |deftnn - ort| / max |ort| <= 1e-3). With --bench it also
// times warm inference beside onnxruntime-web 1.22's WebGPU provider on the same adapter
// (interleaved, medians). Prints a markdown table; --out FILE writes it there too.
//
//   npx tsx scripts/check-torchvision.ts [--models resnet50,alexnet] [--opsets 7,13,17]
//        [--cache /work/cache/torchvision] [--bench] [--reps 3] [--out FILE]
//
// The exports are large (AlexNet 244 MB, VGG-11 531 MB): keep them out of git.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ortNode from 'onnxruntime-node';
import { installDawn, PRECISE_TIMESTAMPS } from '../bench/peers.js';
import { markdownTable } from '../bench/harness.js';
import { Gpu } from '../src/device/gpu.js';
import { load } from '../src/model.js';
import { seededRandom } from '../src/random.js';
import { Tensor } from '../src/tensor.js';
import { timeInterleaved } from '../src/timing.js';

const MODELS = ['resnet50', 'mobilenet_v2', 'efficientnet_b0', 'densenet121', 'squeezenet1_0', 'shufflenet_v2_x1_0', 'alexnet', 'vgg11', 'convnext_tiny'];
const { values: a } = parseArgs({
  options: {
    models: { type: 'string', default: MODELS.join(',') },
    opsets: { type: 'string', default: '13' },
    cache: { type: 'string', default: '/work/cache/torchvision' },
    bench: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const SHAPE = [1, 3, 224, 224];
const TOL = 1e-3;

installDawn([PRECISE_TIMESTAMPS]); // one Dawn instance, so onnxruntime-web gets deftnn's adapter
const gpu = await Gpu.acquire();
if (!gpu) throw new Error('no WebGPU adapter');

/** Seeded standard-normal-ish input (sum of uniforms), as an image after normalisation. */
function input(): Tensor {
  const r = seededRandom(7);
  const d = new Float32Array(SHAPE.reduce((x, y) => x * y, 1));
  for (let i = 0; i < d.length; i++) d[i] = r() + r() + r() - 1.5;
  return new Tensor(SHAPE, d);
}

function exportModel(model: string, opset: number): string | { error: string } {
  const path = join(a.cache!, `${model}-opset${opset}.onnx`);
  if (existsSync(path)) return path;
  const p = spawnSync('/usr/bin/python3', ['scripts/export-torchvision.py', '--opset', String(opset), '--out', a.cache!, model], { encoding: 'utf8' });
  if (p.status !== 0 || !existsSync(path)) {
    const lines = `${p.stderr}`.trim().split('\n');
    return { error: lines.filter((l) => /Error|error|Unsupported|unsupported/.test(l)).at(-1) ?? lines.at(-1) ?? `exit ${p.status}` };
  }
  return path;
}

type OrtWeb = typeof import('onnxruntime-web/webgpu');
let ortWeb: OrtWeb | undefined;
async function ortWebSession(bytes: Uint8Array) {
  if (!ortWeb) {
    ortWeb = await import('onnxruntime-web/webgpu');
    ortWeb.env.wasm.wasmPaths = new URL('../node_modules/onnxruntime-web/dist/', import.meta.url).pathname;
    ortWeb.env.wasm.numThreads = 1;
  }
  return ortWeb.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
}

const x = input();
const rows: (string | number)[][] = [];
const header = ['model', 'opset', 'result', 'max rel. diff', 'top-1 same', 'load + first run (s)', ...(a.bench ? ['deftnn warm (ms)', 'ort-web warm (ms)', 'ort-web / deftnn'] : [])];
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

for (const model of a.models!.split(',')) {
  for (const opset of a.opsets!.split(',').map(Number)) {
    const row: (string | number)[] = [model, String(opset)];
    const path = exportModel(model, opset);
    if (typeof path !== 'string') {
      rows.push([...row, `PyTorch cannot export: ${path.error.slice(0, 120)}`]);
      console.log(rows.at(-1)!.join(' | '));
      continue;
    }
    const bytes = new Uint8Array(readFileSync(path));
    const ort = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 2, interOpNumThreads: 1 });
    const want = (await ort.run({ input: new ortNode.Tensor('float32', x.data, SHAPE) })).logits.data as Float32Array;
    await ort.release();
    let m;
    const t0 = performance.now();
    try {
      m = await load(path, { backend: 'webgpu', gpu, inputShapes: { input: SHAPE } });
      const got = (await m.run({ input: x })).logits.data;
      const firstS = (performance.now() - t0) / 1000;
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < want.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
        maxRef = Math.max(maxRef, Math.abs(want[i]));
      }
      const rel = maxDiff / maxRef;
      const argmax = (v: ArrayLike<number>) => {
        let best = 0;
        for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
      };
      row.push(rel <= TOL ? 'agrees' : 'DIFFERS', rel.toExponential(1), argmax(got) === argmax(want) ? 'yes' : 'no', firstS.toFixed(1));
      if (a.bench) {
        const model_ = m;
        const variants: { name: string; run: () => Promise<unknown> }[] = [{ name: 'deftnn', run: () => model_.run({ input: x }) }];
        let web: Awaited<ReturnType<typeof ortWebSession>> | undefined;
        let webError = '';
        try {
          web = await ortWebSession(bytes);
          const feeds = { input: new ortWeb!.Tensor('float32', x.data, SHAPE) };
          // Its first run (compiles), outside the timing; a wrong answer (e.g. a weight over the
          // binding limit fails validation and leaves zeros) is reported instead of a time.
          const first = (await web.run(feeds)).logits.data as Float32Array;
          let webDiff = 0;
          for (let i = 0; i < want.length; i++) webDiff = Math.max(webDiff, Math.abs(first[i] - want[i]));
          if (!(webDiff / maxRef <= TOL)) throw new Error(`wrong result (max rel. diff ${(webDiff / maxRef).toExponential(1)})`);
          variants.push({ name: 'ort-web', run: async () => (await web!.run(feeds)).logits.getData() });
        } catch (e) {
          webError = `fails: ${(e as Error).message.split('\n')[0].slice(0, 80)}`;
        }
        const [d, o] = await timeInterleaved(variants, { warmup: 1, reps: Number(a.reps) });
        await web?.release();
        row.push(fmt(d.medianMs), o ? fmt(o.medianMs) : webError, o ? (o.medianMs / d.medianMs).toFixed(2) : '');
      }
    } catch (e) {
      row.push(`refused: ${(e as Error).message.split('\n').slice(0, 2).join(' ').slice(0, 200)}`);
    } finally {
      m?.dispose();
    }
    rows.push(row);
    console.log(row.join(' | '));
  }
}

const table = markdownTable(header, rows.map((r) => [...r, ...new Array(Math.max(0, header.length - r.length)).fill('')]));
const text = `Adapter: ${gpu.name}; batch 1, 224x224, random weights and a seeded input; onnxruntime-node 1.22 (CPU) as the reference.\n\n${table}\n`;
console.log(`\n${text}`);
if (a.out) {
  writeFileSync(`${a.out}.tmp`, text);
  renameSync(`${a.out}.tmp`, a.out);
}
gpu.destroy();
process.exit(0);
