// Benchmark plumbing shared by every bench script: interleaved timing with warm-up and medians,
// and markdown tables. Speed is only ever measured here, never asserted in tests.

export interface Variant {
  readonly name: string;
  /** One timed repetition; must wait for the GPU (read-back or onSubmittedWorkDone). */
  readonly run: () => Promise<unknown>;
}

export interface Timing {
  readonly name: string;
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Time variants interleaved (A B C A B C ...) so that drift in machine load hits all of them
 * alike, after `warmup` untimed rounds. Returns each variant's median and minimum.
 */
export async function timeInterleaved(variants: readonly Variant[], opts: { warmup?: number; reps?: number } = {}): Promise<Timing[]> {
  const warmup = opts.warmup ?? 2;
  const reps = opts.reps ?? 7;
  for (let i = 0; i < warmup; i++) for (const v of variants) await v.run();
  const samples = variants.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < variants.length; i++) {
      const t0 = performance.now();
      await variants[i].run();
      samples[i].push(performance.now() - t0);
    }
  }
  return variants.map((v, i) => ({ name: v.name, medianMs: median(samples[i]), minMs: Math.min(...samples[i]), runs: reps }));
}

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
