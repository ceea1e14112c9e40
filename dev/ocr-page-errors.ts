// What deftnn gets wrong on a few rendered metric pages (seed 9002) under PaddleOCR's convention,
// and the same with the recogniser's lines scaled by sharp's filter ('vips') instead of bilinearly:
// page edits per variant, and the lines that differ from the truth.
// Usage: npx tsx dev/ocr-page-errors.ts [pages=3]
import { renderPage } from '../src/data/render/index.js';
import { CONVENTIONS } from '../src/ocr/conventions.js';
import { normaliseSpaces, pageScores } from '../src/ocr/metrics.js';
import { loadOcrModels } from '../src/ocr/models.js';
import { ocr } from '../src/ocr/ocr.js';

const n = Number(process.argv[2] ?? 3);
const models = await loadOcrModels({ backend: 'webgpu' });
const paddleRec = CONVENTIONS.paddleocr.recogniser;
for (let i = 0; i < n; i++) {
  const page = await renderPage(9002, i);
  for (const filter of ['triangle', 'vips'] as const) {
    // A dev-only swap of the convention's filter (the conventions are plain objects).
    (CONVENTIONS.paddleocr as { recogniser: unknown }).recogniser = { ...paddleRec, filter };
    const r = await ocr(page.image, models);
    const lines = r.lines.map((l) => ({ text: normaliseSpaces(l.text), box: l.box }));
    const s = pageScores([page.lines], [lines]);
    console.log(`page ${i} ${filter}: ${s.edits} edits of ${s.referenceChars}`);
    if (filter === 'triangle') {
      const truth = new Set(page.lines.map((l) => l.text));
      for (const l of lines) if (!truth.has(l.text)) console.log(`   read ${JSON.stringify(l.text)}`);
    }
  }
}
models.dispose();
