// Render OCR data sets to a folder that deftnn's CLI and the tests can read.
// Usage: npx tsx scripts/render-ocr.ts --out DIR [--lines 1000] [--pages 50] [--seed 1000]
//        [--page-seed SEED] [--font FAMILY] [--force]
//
// Writes (src/data/ocr-folder.ts writeOcrFolder; its readers load the folder back):
//   DIR/cls/0/NNNNNN.png, DIR/cls/180/NNNNNN.png   lines 0..lines-1 of --seed, odd ones turned
//                                                  180 degrees, as 192x48 pictures in the
//                                                  classifier's geometry (classifierPicture: the
//                                                  layout `deftnn eval/optimize --dataset DIR/cls
//                                                  --mean 0.5 --std 0.5` reads); file = line index
//   DIR/rec/NNNNNN.png, DIR/rec/labels.tsv         the same lines upright, at their natural width;
//                                                  "file<TAB>text" rows, UTF-8, no header
//   DIR/det/NNNNNN.png, DIR/det/boxes.json         pages 0..pages-1 of --page-seed (default: --seed)
//                                                  {"pages": [{"file", "width", "height",
//                                                  "lines": [{"text", "box": [[x, y] x 4]}]}]},
//                                                  corners top-left, top-right, bottom-right,
//                                                  bottom-left of the upright text
//   DIR/README.txt                                 seeds, counts, font, commit: how to make it again
// Lines and pages are the renderer's samples (seed, index) of src/data/render/: the same command
// writes the same pixels. Seeds: see src/data/render/seeds.ts (training 1000-1999, validation
// 2000-2999, evaluation 9000-9999). Nothing is written half: the folder is built next to DIR
// under a temporary name and renamed into place at the end; an existing DIR is replaced only with
// --force. A progress bar on a terminal; a line per tenth in logs.

import { execSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { progressBar } from '../src/cli/common.js';
import { writeOcrFolder } from '../src/data/ocr-folder.js';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string' },
    lines: { type: 'string', default: '1000' },
    pages: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1000' },
    'page-seed': { type: 'string' },
    font: { type: 'string' },
    force: { type: 'boolean', default: false },
  },
});
const fail = (msg: string): never => {
  console.error(`render-ocr: ${msg}`);
  process.exit(2);
};
const int = (v: string, what: string, min = 0) => {
  const n = Number(v);
  return Number.isInteger(n) && n >= min ? n : fail(`--${what} must be a whole number >= ${min}, got '${v}'`);
};
if (!a.out) fail('--out DIR is required');
const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return '?';
  }
})();
const t0 = performance.now();
const bars: Record<string, ReturnType<typeof progressBar>> = {};
const opts = {
  out: resolve(a.out!),
  lines: int(a.lines!, 'lines'),
  pages: int(a.pages!, 'pages'),
  seed: int(a.seed!, 'seed'),
  pageSeed: a['page-seed'] === undefined ? undefined : int(a['page-seed'], 'page-seed'),
  font: a.font,
  force: a.force,
  commit,
  onProgress: (stage: 'lines' | 'pages', done: number, total: number) => {
    bars[stage] ??= progressBar(stage, total);
    bars[stage].tick();
    if (done === total) bars[stage].stop();
    if (!process.stderr.isTTY && total >= 10 && done % Math.ceil(total / 10) === 0) console.error(`render-ocr: ${stage} ${done}/${total}`);
  },
};
try {
  await writeOcrFolder(opts);
} catch (e) {
  fail((e as Error).message);
}
console.error(`render-ocr: ${opts.lines} lines and ${opts.pages} pages in ${opts.out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
