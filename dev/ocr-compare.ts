// Compare deftnn's pipeline with Guten OCR on the fixture pages: texts, scores and boxes.
// Usage: npx tsx dev/ocr-compare.ts [--preset guten|paddleocr] [--backend cpu|webgpu] [files...]
import Ocr from '@gutenye/ocr-node';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ocr } from '../src/ocr/ocr.js';
import { loadOcrModels } from '../src/ocr/models.js';
import { convention } from '../src/ocr/conventions.js';

const { values: a, positionals } = parseArgs({ options: { preset: { type: 'string' }, backend: { type: 'string' } }, allowPositionals: true });
const FIX = new URL('../test/fixtures/ocr/', import.meta.url).pathname;
const files = positionals.length ? positionals : (JSON.parse(readFileSync(FIX + 'pages.json', 'utf8')) as { file: string }[]).map((p) => FIX + p.file);
const preset = convention(a.preset).preset;
const models = await loadOcrModels({ backend: (a.backend ?? 'webgpu') as 'webgpu' | 'cpu' });
const guten = await Ocr.create();
const fmt = (b: readonly (readonly number[])[]) => b.map((p) => p.map((v) => Math.round(v * 10) / 10).join(',')).join(' ');
for (const f of files) {
  const t0 = performance.now();
  const ours = await ocr(f, models, { preset });
  const t1 = performance.now();
  const theirs = (await guten.detect(f)) as { text: string; mean: number; box: number[][] }[];
  console.log(`${f} (deftnn ${(t1 - t0).toFixed(0)} ms)`);
  const n = Math.max(ours.lines.length, theirs.length);
  for (let i = 0; i < n; i++) {
    const o = ours.lines[i];
    const t = theirs[i];
    const same = o && t && o.text === t.text ? '=' : '!';
    console.log(` ${same} deftnn ${o ? `${JSON.stringify(o.text)} ${o.score.toFixed(3)} [${fmt(o.box)}]` : '-'}`);
    console.log(`   guten  ${t ? `${JSON.stringify(t.text)} ${t.mean.toFixed(3)} [${fmt(t.box)}]` : '-'}`);
  }
}
models.dispose();
