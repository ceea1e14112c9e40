// Interleaved timing with warm-up, medians and minima: how every benchmark and report measures
// speed (tests never assert on it).

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
