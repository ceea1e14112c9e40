// Benchmark plumbing shared by every bench script: interleaved timing with warm-up and medians
// (src/timing.ts, also used by the optimiser's report), and markdown tables. Speed is only ever measured here, never asserted in tests.

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
