// Batch sizes as the shape buckets see them (models.ts): a batch of n images runs padded to the
// next power of two, at most `max`, so that the classifier and the recogniser meet only a few
// batch sizes (1, 2, 4, 8 by default). Padded slots hold zeros (mid-grey after normalisation),
// and their outputs are ignored.

export const MAX_BATCH = 8;

export function batchBucket(n: number, max = MAX_BATCH): number {
  let b = 1;
  while (b < n && b < max) b *= 2;
  return b;
}

/** Consecutive chunks of at most `max` items. */
export function chunks<T>(items: readonly T[], max = MAX_BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += max) out.push(items.slice(i, i + max));
  return out;
}
