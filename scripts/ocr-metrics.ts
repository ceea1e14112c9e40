// OCR on rendered text: the metrics of issue 15 item 4 for every OCR system on one seeded set.
// Usage: npx tsx scripts/ocr-metrics.ts [--lines 500] [--pages 50] [--line-seed 9001]
//        [--page-seed 9002] [--systems deftnn,deftnn-guten,guten,onnxruntime] [--json FILE] [--no-doc]
//        [--page-log FILE]
//
// Renders lines 0..lines-1 of --line-seed and pages 0..pages-1 of --page-seed (src/data/render/;
// both seeds must lie in the evaluation range 9000-9999, which nothing that adapts a model may
// use: see src/data/render/seeds.ts), then, per system (scripts/ocr-systems.ts):
//   recogniser   each upright line, ground truth crop as rendered -> character accuracy (1 - CER,
//                edits and lengths summed over lines) and exact-line accuracy, overall and per
//                script; the system's text with stray spaces normalised (normaliseSpaces)
//   classifier   the same lines, odd ones turned 180 degrees -> accuracy against 0 / 180
//   detector     each page -> precision, recall, F-score at IoU 0.5 (one-to-one greedy matching,
//                counts summed over pages); a non-convex box is replaced by its convex hull
//   end to end   each page -> page CER (lines in reading order joined by newlines, as
//                src/ocr/metrics.ts says; edits and lengths summed over pages)
// and prints one table (a column per system, a row per metric, '-' where a system lacks that
// stage) with the time per line and per page. Unless --no-doc, the table and the set's
// description replace the "## OCR on rendered text" section of docs/results.md. --page-log appends
// each page's counts (detection matches, page edits and characters) as one JSON line as soon as the
// page is read, so a long run's pages can be summed before it ends.

import { appendFileSync, writeFileSync, renameSync } from 'node:fs';
import { cpus } from 'node:os';
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { progressBar } from '../src/cli/common.js';
import { checkSeed, renderLine, renderPage, rotate180, type RenderedLine, type RenderedPage } from '../src/data/render/index.js';
import {
  classifierAccuracy, convexIntersection, detectionScores, isConvex, signedArea, normaliseSpaces, pageScores, sumDetectionScores, textScores,
  type DetectionScores, type Quad, type TextScores,
} from '../src/ocr/metrics.js';
import { writeResultsSection } from './results-doc.js';
import { deftnnPipeline, gutenOcr, onnxruntimeModels, type OcrSystem } from './ocr-systems.js';

const SYSTEMS: Record<string, () => Promise<OcrSystem>> = {
  deftnn: () => deftnnPipeline(),
  'deftnn-guten': () => deftnnPipeline('guten'),
  guten: gutenOcr,
  onnxruntime: onnxruntimeModels,
};

const { values: a } = parseArgs({
  options: {
    lines: { type: 'string', default: '500' },
    pages: { type: 'string', default: '50' },
    'line-seed': { type: 'string', default: '9001' },
    'page-seed': { type: 'string', default: '9002' },
    systems: { type: 'string', default: Object.keys(SYSTEMS).join(',') },
    json: { type: 'string' },
    'no-doc': { type: 'boolean', default: false },
    'page-log': { type: 'string' },
  },
});
const count = (v: string, what: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${what} must be a whole number >= 0, got '${v}'`);
  return n;
};
const N_LINES = count(a.lines!, 'lines');
const N_PAGES = count(a.pages!, 'pages');
const LINE_SEED = checkSeed(Number(a['line-seed']), 'evaluation');
const PAGE_SEED = checkSeed(Number(a['page-seed']), 'evaluation');
const names = a.systems!.split(',').map((s) => s.trim()).filter(Boolean);
for (const n of names) if (!SYSTEMS[n]) throw new Error(`unknown system '${n}'; have: ${Object.keys(SYSTEMS).join(', ')}`);

// What is measured is the code as it is when the run starts.
const commit = execSync('git rev-parse --short HEAD').toString().trim();
const dirty = execSync('git status --porcelain -- src scripts').toString().trim() ? ' (with uncommitted changes)' : '';
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

/** A bar on a terminal, a line per tenth in logs. */
function progress(label: string, total: number): { tick(): void; stop(): void } {
  const bar = progressBar(label, total);
  let done = 0;
  return {
    tick() {
      bar.tick();
      done++;
      if (!process.stderr.isTTY && total >= 10 && done % Math.ceil(total / 10) === 0) console.error(`[${elapsed()}] ${label} ${done}/${total}`);
    },
    stop: () => bar.stop(),
  };
}

async function each<T, R>(label: string, xs: readonly T[], f: (x: T, i: number) => Promise<R>): Promise<{ out: R[]; ms: number }> {
  const p = progress(label, xs.length);
  const out: R[] = [];
  const start = performance.now();
  for (let i = 0; i < xs.length; i++) {
    out.push(await f(xs[i], i));
    p.tick();
  }
  p.stop();
  return { out, ms: performance.now() - start };
}

const renderStart = performance.now();
const lines = (await each('render lines', Array.from({ length: N_LINES }, (_, i) => i), (i) => renderLine(LINE_SEED, i))).out;
const pages = (await each('render pages', Array.from({ length: N_PAGES }, (_, i) => i), (i) => renderPage(PAGE_SEED, i))).out;
const renderMs = performance.now() - renderStart;
console.error(`[${elapsed()}] rendered ${N_LINES} lines and ${N_PAGES} pages`);

/** Convex hull (monotone chain) of a box's corners, for systems that return a non-convex quadrilateral. */
function hull(q: Quad): Quad {
  const pts = [...q].sort((p, r) => p[0] - r[0] || p[1] - r[1]);
  const cross = (o: readonly number[], p: readonly number[], r: readonly number[]) => (p[0] - o[0]) * (r[1] - o[1]) - (p[1] - o[1]) * (r[0] - o[0]);
  const half = (ps: typeof pts) => ps.reduce<(typeof pts)[number][]>((h, p) => {
    while (h.length >= 2 && cross(h[h.length - 2], h[h.length - 1], p) <= 0) h.pop();
    h.push(p);
    return h;
  }, []);
  const lower = half(pts);
  const upper = half([...pts].reverse());
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

/** How many true boxes a predicted box covers for the most part (over half of each one's area): 2 or more is a merge. */
function spans(box: Quad, truth: readonly Quad[]): number {
  return truth.filter((t) => Math.abs(signedArea(convexIntersection(box, t))) > 0.5 * Math.abs(signedArea(t))).length;
}

interface SystemResult {
  name: string;
  describe: string;
  rec?: { all: TextScores; latin: TextScores; cjk: TextScores; msPerLine: number; hypotheses: string[] };
  cls?: { accuracy: number; msPerLine: number };
  det?: { scores: DetectionScores; pageText: TextScores; msPerPage: number; hulled: number; merged: number };
}

function recScores(ls: readonly RenderedLine[], hyps: readonly string[], script?: string): TextScores {
  const idx = ls.map((l, i) => (script === undefined || l.script === script ? i : -1)).filter((i) => i >= 0);
  return textScores(idx.map((i) => ls[i].text), idx.map((i) => hyps[i]));
}

async function measure(sys: OcrSystem, ls: readonly RenderedLine[], ps: readonly RenderedPage[]): Promise<SystemResult> {
  const r: SystemResult = { name: sys.name, describe: sys.describe };
  if (sys.recognise && ls.length) {
    const { out, ms } = await each(`${sys.name}: recognise`, ls, async (l) => normaliseSpaces(await sys.recognise!(l.image)));
    r.rec = { all: recScores(ls, out), latin: recScores(ls, out, 'latin'), cjk: recScores(ls, out, 'cjk'), msPerLine: ms / ls.length, hypotheses: out };
  }
  if (sys.classify && ls.length) {
    const { out, ms } = await each(`${sys.name}: classify`, ls, (l, i) => sys.classify!(i % 2 ? rotate180(l.image) : l.image));
    r.cls = { accuracy: classifierAccuracy(out, ls.map((_, i) => i % 2)), msPerLine: ms / ls.length };
  }
  if (sys.read && ps.length) {
    let hulled = 0;
    const { out, ms } = await each(`${sys.name}: read pages`, ps, async (p, i) => {
      const start = performance.now();
      const reading = await sys.read!(p.image);
      const lines = reading.lines.map((l) => {
        if (isConvex(l.box)) return { text: normaliseSpaces(l.text), box: l.box };
        hulled++;
        return { text: normaliseSpaces(l.text), box: hull(l.box) };
      });
      if (a['page-log']) {
        const { predicted, truth, matched } = detectionScores(lines.map((l) => l.box), p.lines.map((t) => t.box));
        const { edits, referenceChars } = pageScores([p.lines], [lines]);
        const entry = { system: sys.name, page: i, ms: Math.round(performance.now() - start), predicted, truth, matched, edits, referenceChars };
        appendFileSync(a['page-log'], JSON.stringify(entry) + '\n');
      }
      return lines;
    });
    r.det = {
      merged: ps.reduce((n, p, i) => n + out[i].filter((l) => spans(l.box, p.lines.map((t) => t.box)) >= 2).length, 0),
      scores: sumDetectionScores(ps.map((p, i) => detectionScores(out[i].map((l) => l.box), p.lines.map((l) => l.box)))),
      pageText: pageScores(ps.map((p) => p.lines), out),
      msPerPage: ms / ps.length,
      hulled,
    };
  }
  return r;
}

const results: SystemResult[] = [];
for (const n of names) {
  const sys = await SYSTEMS[n]();
  try {
    results.push(await measure(sys, lines, pages));
  } finally {
    await sys.dispose?.();
  }
  console.error(`[${elapsed()}] ${sys.name} done`);
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
const ms = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(0)} ms`);
const rows: [string, (r: SystemResult) => string][] = [
  ['recogniser: character accuracy (1 - CER), all lines', (r) => pct(r.rec?.all.characterAccuracy)],
  ['recogniser: character accuracy, English lines', (r) => pct(r.rec?.latin.characterAccuracy)],
  ['recogniser: character accuracy, Chinese lines', (r) => pct(r.rec?.cjk.characterAccuracy)],
  ['recogniser: exact lines', (r) => pct(r.rec?.all.exactLineAccuracy)],
  ['classifier: accuracy (0 / 180)', (r) => pct(r.cls?.accuracy)],
  ['detector: precision at IoU 0.5', (r) => pct(r.det?.scores.precision)],
  ['detector: recall at IoU 0.5', (r) => pct(r.det?.scores.recall)],
  ['detector: F-score at IoU 0.5', (r) => pct(r.det?.scores.fScore)],
  ['detector: boxes spanning 2+ true lines', (r) => (r.det ? String(r.det.merged) : '-')],
  ['end to end: page CER', (r) => pct(r.det?.pageText.cer)],
  ['time per line (recogniser)', (r) => ms(r.rec?.msPerLine)],
  ['time per line (classifier)', (r) => ms(r.cls?.msPerLine)],
  ['time per page (whole system)', (r) => ms(r.det?.msPerPage)],
];
const table = [
  `| metric | ${results.map((r) => r.name).join(' | ')} |`,
  `| --- | ${results.map(() => '---:').join(' | ')} |`,
  ...rows.map(([label, f]) => `| ${label} | ${results.map(f).join(' | ')} |`),
].join('\n');
console.log(table);

const langs = { latin: lines.filter((l) => l.script === 'latin').length, cjk: lines.filter((l) => l.script === 'cjk').length };
const truthBoxes = pages.reduce((s, p) => s + p.lines.length, 0);
const date = new Date().toISOString().slice(0, 10);
const totalS = ((performance.now() - t0) / 1000).toFixed(0);
const notes = results.flatMap((r) => (r.det?.hulled ? [`${r.name}: ${r.det.hulled} non-convex boxes replaced by their convex hull.`] : []));

/** A paragraph wrapped at 100 columns. */
const wrap = (text: string) =>
  text.split(/\s+/).reduce((out, word) => {
    const last = out.length - 1;
    if (last >= 0 && out[last].length + 1 + word.length <= 100) out[last] += ` ${word}`;
    else out.push(word);
    return out;
  }, [] as string[]).join('\n');

const section = [
  '## OCR on rendered text',
  wrap(`Written by \`npx tsx scripts/ocr-metrics.ts\` on ${date} at commit ${commit}${dirty}; ${totalS} s in all
(rendering ${(renderMs / 1000).toFixed(0)} s), on ${cpus()[0]?.model ?? 'an unknown CPU'} (${cpus().length} cores, shared with other jobs: read
the times as rough). ${
    results.some((r) => r.name.startsWith('deftnn'))
      ? 'deftnn runs on the adapter its column names; Guten OCR and onnxruntime run onnxruntime-node on the CPU.'
      : 'No WebGPU adapter is involved: these systems run onnxruntime-node on the CPU.'
  }`),
  wrap(`Set: ${N_LINES} lines (seed ${LINE_SEED}: ${langs.latin} English, ${langs.cjk} Chinese) and ${N_PAGES} pages (seed ${PAGE_SEED}: ${truthBoxes}
ground-truth lines), rendered by src/data/render/ with Debian's fonts (the held-out family excluded), blur,
noise and JPEG; seeds from the evaluation range 9000-9999, which nothing that adapts a model uses
(src/data/render/seeds.ts). The recogniser reads each line as rendered (the ground-truth crop); the
classifier sees the same lines, odd ones turned 180 degrees; the detector and the end-to-end rows read
whole pages. Metrics as src/ocr/metrics.ts defines them: character accuracy is 1 - CER with edits and
lengths summed over lines (stray spaces normalised), detector boxes match one-to-one at IoU 0.5, page
CER compares the lines in reading order joined by newlines.`),
  wrap(`Systems: ${results.map((r) => `**${r.name}**: ${r.describe}`).join('; ')}. Guten OCR has no direction
classifier, and joins the boxes it finds on one row into one line: a row of two segments (one row in
five on these pages) becomes one box that matches neither true line at IoU 0.5, which is most of its
missed recall (the "spanning" row counts such boxes), and its two texts are joined by a space, one edit
against the newline of the true page text. onnxruntime runs no detector.`),
  table,
  ...notes,
].join('\n\n') + '\n';

if (!a['no-doc']) {
  writeResultsSection('## OCR on rendered text', section);
  console.error(`docs/results.md: section "OCR on rendered text" written`);
}
if (a.json) {
  const tmp = `${a.json}.tmp`;
  writeFileSync(tmp, JSON.stringify({ date, commit, lineSeed: LINE_SEED, pageSeed: PAGE_SEED, lines: lines.map((l) => ({ text: l.text, script: l.script, family: l.style.family })), results }, null, 1));
  renameSync(tmp, a.json);
}
console.error(`[${elapsed()}] done`);
