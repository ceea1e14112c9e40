// The PaddleOCR pipeline per page and per stage: deftnn (WebGPU when there is an adapter, and the
// CPU reference with --cpu) against Guten OCR (@gutenye/ocr-node: the same models on
// onnxruntime-node, CPU, without the direction classifier), on the OCR fixture pages
// (test/fixtures/ocr/) or the images given. Per page: every engine runs once untimed (session
// builds and kernel compilation for its shapes), then `--warmup` rounds, then `--reps` timed rounds
// interleaved across engines; medians per stage. Guten OCR's stages are not exported, so it has a
// total only.
//
// With --det/--cls/--rec (an optimised model: .deft or .onnx; the others stay PaddleOCR's), deftnn
// also runs with those models, as one more engine. With --pages N, the pages are the first N of
// the rendered evaluation seed --page-seed (default 9002) instead of files, and each engine's
// page CER (src/ocr/metrics.ts pageScores, over all pages) is printed under the table.
//
//   npx tsx bench/ocr.ts [--reps 5] [--warmup 1] [--cpu] [--det F] [--cls F] [--rec F]
//                        [--pages N] [--page-seed S] [--out FILE.md] [IMAGES...]

import Ocr from '@gutenye/ocr-node';
import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { execSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadOcrModels, type OcrModels } from '../src/ocr/models.js';
import { ocr, type OcrTimings } from '../src/ocr/ocr.js';
import { normaliseSpaces, pageScores, type OcrLine } from '../src/ocr/metrics.js';
import { checkSeed, renderPages } from '../src/data/render/index.js';
import type { Image } from '../src/image/image.js';
import { markdownTable, median } from './harness.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reps: { type: 'string', default: '5' }, warmup: { type: 'string', default: '1' }, cpu: { type: 'boolean', default: false }, out: { type: 'string' },
    det: { type: 'string' }, cls: { type: 'string' }, rec: { type: 'string' }, pages: { type: 'string' }, 'page-seed': { type: 'string', default: '9002' },
  },
});
const reps = Number(values.reps);
const warmup = Number(values.warmup);
const fixtures = fileURLToPath(new URL('../test/fixtures/ocr/', import.meta.url));
const rendered = values.pages ? await renderPages(checkSeed(Number(values['page-seed']), 'evaluation'), Number(values.pages)) : undefined;
const images: (string | Image)[] = rendered ? rendered.map((p) => p.image) : positionals.length ? positionals : readdirSync(fixtures).filter((f) => f.endsWith('.png')).sort().map((f) => join(fixtures, f));
const truth = rendered?.map((p) => p.lines.map((l) => ({ text: normaliseSpaces(l.text), box: l.box })));

type Stages = Record<string, number>;
interface Engine {
  readonly name: string;
  run(image: string | Image): Promise<Stages>;
  /** The last reading of each page (by index), for page CER. */
  readonly read?: Map<number, OcrLine[]>;
}

function deftnn(models: OcrModels, name: string): Engine {
  const read = new Map<number, OcrLine[]>();
  return {
    name,
    read,
    async run(image) {
      const r = await ocr(image, models);
      read.set(images.indexOf(image), r.lines.map((l) => ({ text: normaliseSpaces(l.text), box: l.box })));
      const t: OcrTimings = r.timings; // decoding included, as in Guten OCR's total
      return { detect: t.detect, 'boxes + crops': t.boxes + t.crop, classify: t.classify, recognize: t.recognize, total: t.total };
    },
  };
}

async function guten(): Promise<Engine> {
  const engine = await Ocr.create();
  return {
    name: 'Guten OCR 1.4 (onnxruntime-node 1.22, CPU)',
    async run(image) {
      if (typeof image !== 'string') throw new Error('Guten OCR reads files (it is left out with --pages)');
      const t0 = performance.now();
      await engine.detect(image);
      const total = performance.now() - t0;
      return { detect: NaN, 'boxes + crops': NaN, classify: NaN, recognize: NaN, total };
    },
  };
}

const engines: Engine[] = [];
const gpuModels = await loadOcrModels();
engines.push(deftnn(gpuModels, `deftnn ${gpuModels.backend === 'webgpu' ? 'WebGPU' : 'CPU reference'}`));
const cpuModels = values.cpu && gpuModels.backend === 'webgpu' ? await loadOcrModels({ backend: 'cpu' }) : undefined;
if (cpuModels) engines.push(deftnn(cpuModels, 'deftnn CPU reference'));
const optimised = values.det || values.cls || values.rec ? await loadOcrModels({ det: values.det, cls: values.cls, rec: values.rec }) : undefined;
if (optimised) engines.push(deftnn(optimised, `deftnn ${optimised.backend === 'webgpu' ? 'WebGPU' : 'CPU reference'}, optimised (${[values.det, values.cls, values.rec].filter(Boolean).map((f) => f!.split('/').pop()).join(', ')})`));
if (!rendered) engines.push(await guten());

const STAGES = ['detect', 'boxes + crops', 'classify', 'recognize', 'total'];
const rows: (string | number)[][] = [];
for (const image of images) {
  const first = new Map<string, number>();
  for (const e of engines) {
    const t0 = performance.now();
    await e.run(image);
    first.set(e.name, performance.now() - t0);
  }
  for (let i = 0; i < warmup; i++) for (const e of engines) await e.run(image);
  const samples = new Map<string, Stages[]>(engines.map((e) => [e.name, []]));
  for (let r = 0; r < reps; r++) for (const e of engines) samples.get(e.name)!.push(await e.run(image));
  const name = typeof image === 'string' ? image.split('/').pop()! : `page ${images.indexOf(image)} of seed ${values['page-seed']}`;
  for (const e of engines) {
    const s = samples.get(e.name)!;
    const med = STAGES.map((k) => median(s.map((x) => x[k])));
    rows.push([name, e.name, (first.get(e.name)! / 1000).toFixed(1), ...med.map((m) => (Number.isNaN(m) ? '-' : m))]);
  }
  console.error(`${name} done`);
}

const adapter = gpuModels.device ?? 'none (CPU reference backend)';
let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
} catch {}
const table = markdownTable(['page', 'engine', 'first run (s)', ...STAGES.map((s) => `${s} ms`)], rows);
const doc = [
  `- Adapter: ${adapter}`,
  `- Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores`,
  `- Date: ${new Date().toUTCString()}`,
  `- commit: ${commit}`,
  `- ${reps} timed rounds after ${warmup} warm-up, interleaved; medians`,
  '',
  table,
  '',
  ...(truth ? engines.map((e) => `- ${e.name}: page CER ${(100 * pageScores(truth, truth.map((_, i) => e.read!.get(i)!)).cer).toFixed(2)}% over ${truth.length} pages`) : []),
  '',
].join('\n');
console.log(doc);
if (values.out) {
  writeFileSync(values.out + '.tmp', doc);
  renameSync(values.out + '.tmp', values.out);
}
gpuModels.dispose();
cpuModels?.dispose();
optimised?.dispose();
