// Seeded choices for the fuzzer: every case is a function of (seed, kind, index) alone, so a
// failing case is reproduced by its three numbers.

import { seededRandom } from '../../src/random.js';

export type Rand = () => number;

/** The generator of one case: the run's seed, the input kind and the case's index mixed (FNV-1a). */
export function caseRandom(seed: number, kind: string, index: number): Rand {
  let h = 0x811c9dc5;
  for (const ch of `${seed}/${kind}/${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return seededRandom(h >>> 0);
}

export function pick<T>(rand: Rand, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)];
}

export function int(rand: Rand, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}
