// Why does Guten OCR miss ground-truth lines on rendered pages? Per unmatched true line of the first
// pages of the evaluation seed: its best IoU and the predicted box giving it (all misses seen were
// two-segment rows that Guten joins into one box). Usage: npx tsx dev/det-probe.ts
import { renderPage } from '../src/data/render/index.js';
import { gutenOcr } from '../scripts/ocr-systems.js';
import { matchBoxes, quadIou, isConvex } from '../src/ocr/metrics.js';
const g = await gutenOcr();
for (let i = 0; i < 6; i++) {
  const p = await renderPage(9002, i);
  const r = await g.read!(p.image);
  const pred = r.lines.filter((l) => isConvex(l.box));
  const m = matchBoxes(pred.map((l) => l.box), p.lines.map((l) => l.box));
  const matchedT = new Set(m.map((x) => x[1]));
  console.log(`page ${i}: ${p.lines.length} true, ${r.lines.length} read, ${m.length} matched, angle ${p.style.angleDeg.toFixed(1)}`);
  p.lines.forEach((t, j) => {
    if (matchedT.has(j)) return;
    let best = -1, bi = -1;
    pred.forEach((l, k) => { const v = quadIou(l.box, t.box); if (v > best) { best = v; bi = k; } });
    const r2 = (q: readonly (readonly number[])[]) => JSON.stringify(q.map((pt) => pt.map(Math.round)));
    console.log(`  miss ${JSON.stringify(t.text)} ${r2(t.box)} best ${best.toFixed(2)} ${bi >= 0 ? JSON.stringify(pred[bi].text) + ' ' + r2(pred[bi].box) : ''}`);
  });
}
