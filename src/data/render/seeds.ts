// Seeds of rendered text. Every sample is a pure function of (kind, seed, index): its generator
// is seeded from the three mixed, so sample 7 of seed 3 is the same however many samples come
// before it, and lines and pages drawn from one seed share nothing.
//
// Reserved seed ranges, so that what a model is measured on was never used to adapt it:
//   0 - 999         unit tests and examples
//   1000 - 1999     calibration, fine-tuning and training (SVE, NDF, later issues)
//   2000 - 2999     validation splits that choose budgets, formats and rates
//   9000 - 9999     held-out evaluation: scripts/ocr-metrics.ts and results only
// A script that adapts a model must take its seeds from 1000-2999; one that reports accuracy
// for docs/results.md from 9000-9999.

import { seededRandom } from '../../random.js';

export const SEED_RANGES = {
  tests: [0, 999],
  training: [1000, 1999],
  validation: [2000, 2999],
  evaluation: [9000, 9999],
} as const;

export type SeedUse = keyof typeof SEED_RANGES;

/** Throw unless `seed` lies in the range reserved for `use`. */
export function checkSeed(seed: number, use: SeedUse): number {
  const [lo, hi] = SEED_RANGES[use];
  if (!Number.isInteger(seed) || seed < lo || seed > hi) throw new RangeError(`seed ${seed} is not in the range reserved for ${use} (${lo}-${hi}; see src/data/render/seeds.ts)`);
  return seed;
}

const KINDS = { line: 0x4c494e45, page: 0x50414745 } as const;
export type SampleKind = keyof typeof KINDS;

/** 32-bit mix (murmur3's finaliser) of a running hash with one more word. */
function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The generator of sample `index` of `kind` under `seed`. */
export function sampleRandom(kind: SampleKind, seed: number, index: number): () => number {
  if (!Number.isInteger(seed) || !Number.isInteger(index) || index < 0) throw new RangeError(`a sample is named by an integer seed and index >= 0, got (${seed}, ${index})`);
  return seededRandom(mix(mix(mix(0x6f63722d, KINDS[kind]), seed >>> 0), index >>> 0));
}
