// Render OCR data sets to a folder that deftnn's CLI and the tests can read.
// Usage: npx tsx scripts/render-ocr.ts --out DIR [--lines 1000] [--pages 50] [--seed 1000]
//        [--page-seed SEED] [--font FAMILY] [--force]
//
// Writes (layout read back by src/data/ocr-folder.ts):
//   DIR/cls/0/NNNNNN.png, DIR/cls/180/NNNNNN.png   lines 0..lines-1 of --seed, odd ones turned
//                                                  180 degrees, as 192x48 pictures in the
//                                                  classifier's geometry (classifierPicture: the
//                                                  layout `deftnn eval/optimize --dataset DIR/cls
//                                                  --mean 0.5 --std 0.5` reads); file = line index
//   DIR/rec/NNNNNN.png, DIR/rec/labels.tsv         the same lines upright; "file<TAB>text" rows
//   DIR/det/NNNNNN.png, DIR/det/boxes.json         pages 0..pages-1 of --page-seed (default: --seed)
//                                                  {"pages": [{"file", "width", "height",
//                                                  "lines": [{"text", "box": [[x, y] x 4]}]}]}
//   DIR/README.txt                                 seeds, counts, font, commit: how to make it again
// Lines and pages are the renderer's samples (seed, index) of src/data/render/: the same command
// writes the same pixels. Seeds: see src/data/render/seeds.ts (training 1000-1999, validation
// 2000-2999, evaluation 9000-9999). Nothing is written half: the folder is built next to DIR
// under a temporary name and renamed into place at the end; an existing DIR is replaced only with
// --force.

import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { progressBar } from '../src/cli/common.js';
import { fontFamily, renderLine, renderPage, rotate180 } from '../src/data/render/index.js';
import { classifierPicture } from '../src/data/ocr-sets.js';
import { encodePng } from './ocr-systems.js';

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
const OUT = resolve(a.out!);
const N_LINES = int(a.lines!, 'lines');
const N_PAGES = int(a.pages!, 'pages');
const SEED = int(a.seed!, 'seed');
const PAGE_SEED = a['page-seed'] === undefined ? SEED : int(a['page-seed'], 'page-seed');
if (a.font) {
  try {
    fontFamily(a.font);
  } catch (e) {
    fail((e as Error).message);
  }
}
if (existsSync(OUT) && !a.force) fail(`${OUT} exists; pass --force to replace it`);

const tmp = join(dirname(OUT), `.${basename(OUT)}.tmp-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
for (const d of ['cls/0', 'cls/180', 'rec', 'det']) mkdirSync(join(tmp, d), { recursive: true });
const opts = a.font ? { font: a.font } : {};
const name = (i: number) => `${String(i).padStart(6, '0')}.png`;
const t0 = performance.now();
try {
  const labels: string[] = [];
  let bar = progressBar('lines', N_LINES);
  for (let i = 0; i < N_LINES; i++) {
    const line = await renderLine(SEED, i, opts);
    if (/[\t\n]/.test(line.text)) throw new Error(`line ${i}'s text holds a tab or newline, which labels.tsv cannot store`);
    writeFileSync(join(tmp, 'rec', name(i)), encodePng(line.image));
    labels.push(`${name(i)}\t${line.text}\n`);
    writeFileSync(join(tmp, 'cls', i % 2 ? '180' : '0', name(i)), encodePng(classifierPicture(i % 2 ? rotate180(line.image) : line.image)));
    bar.tick();
  }
  bar.stop();
  writeFileSync(join(tmp, 'rec', 'labels.tsv'), labels.join(''));
  const pages = [];
  bar = progressBar('pages', N_PAGES);
  for (let i = 0; i < N_PAGES; i++) {
    const page = await renderPage(PAGE_SEED, i, opts);
    writeFileSync(join(tmp, 'det', name(i)), encodePng(page.image));
    pages.push({ file: name(i), width: page.image.width, height: page.image.height, lines: page.lines.map((l) => ({ text: l.text, box: l.box.map(([x, y]) => [+x.toFixed(2), +y.toFixed(2)]) })) });
    bar.tick();
  }
  bar.stop();
  writeFileSync(join(tmp, 'det', 'boxes.json'), `${JSON.stringify({ pages })}\n`);
  const commit = (() => {
    try {
      return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return '?';
    }
  })();
  writeFileSync(
    join(tmp, 'README.txt'),
    `Rendered by scripts/render-ocr.ts at commit ${commit} on ${new Date().toISOString()}\n` +
      `lines: ${N_LINES} of seed ${SEED} (cls/0: even, cls/180: odd, turned; rec: all upright)\n` +
      `pages: ${N_PAGES} of seed ${PAGE_SEED}\nfont: ${a.font ?? 'sampled (held-out family excluded)'}\n` +
      `again: npx tsx scripts/render-ocr.ts --out DIR --lines ${N_LINES} --pages ${N_PAGES} --seed ${SEED} --page-seed ${PAGE_SEED}${a.font ? ` --font '${a.font}'` : ''}\n`,
  );
  if (existsSync(OUT)) {
    const old = `${tmp}.old`;
    renameSync(OUT, old);
    renameSync(tmp, OUT);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, OUT);
  }
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  throw e;
}
console.error(`render-ocr: ${N_LINES} lines and ${N_PAGES} pages in ${OUT} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
