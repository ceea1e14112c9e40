// Benchmark plumbing shared by every bench script: interleaved timing with warm-up and medians
// (src/timing.ts, also used by the optimiser's report), and markdown tables. Speed is only ever measured here, never asserted in tests.

import { parseArgs } from 'node:util';

export { median, timeInterleaved, type Timing, type Variant } from '../src/timing.js';

/** A markdown table from a header row and data rows. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (c: string | number) => (typeof c === 'number' ? fmtNum(c) : c);
  const lines = [header, header.map(() => '---'), ...rows.map((r) => r.map(cell))];
  return lines.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
}

/**
 * The options of a benchmark that measures this tree against an older checkout of it (bench/
 * fusion.ts, bench/shapes.ts): --before DIR (required), --models a,b, --reps, --warmup, --out
 * FILE.md, --torchvision DIR (scripts/export-torchvision.py's output).
 */
export function beforeAfterOptions(): { before: string; models?: Set<string>; reps: number; warmup: number; out?: string; torchvision: string } {
  const { values: a } = parseArgs({
    options: {
      before: { type: 'string' },
      models: { type: 'string', default: '' },
      reps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      out: { type: 'string' },
      torchvision: { type: 'string', default: '/work/cache/torchvision' },
    },
  });
  if (!a.before) throw new Error('--before DIR: a checkout to measure against (its src/model.ts is imported)');
  return { before: a.before, models: a.models ? new Set(a.models.split(',')) : undefined, reps: Number(a.reps), warmup: Number(a.warmup), out: a.out, torchvision: a.torchvision! };
}
