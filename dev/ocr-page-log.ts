// Sums a page log of scripts/ocr-metrics.ts (--page-log FILE) per system: the detector's precision,
// recall and F-score at IoU 0.5 and the page CER over the pages read so far.
// Usage: npx tsx dev/ocr-page-log.ts FILE
import { readFileSync } from 'node:fs';

interface Entry { system: string; page: number; ms: number; predicted: number; truth: number; matched: number; edits: number; referenceChars: number }
const entries = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
const by = new Map<string, Entry[]>();
for (const e of entries) by.set(e.system, [...(by.get(e.system) ?? []), e]);
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
for (const [system, es] of by) {
  const sum = (k: keyof Entry) => es.reduce((s, e) => s + (e[k] as number), 0);
  const [p, r] = [sum('matched') / sum('predicted'), sum('matched') / sum('truth')];
  console.log(`${system}: ${es.length} pages (${Math.min(...es.map((e) => e.page))}-${Math.max(...es.map((e) => e.page))}), ${sum('truth')} true lines: precision ${pct(p)}, recall ${pct(r)}, F ${pct((2 * p * r) / (p + r))}, page CER ${pct(sum('edits') / sum('referenceChars'))}, ${(sum('ms') / es.length / 1000).toFixed(1)} s per page`);
}
