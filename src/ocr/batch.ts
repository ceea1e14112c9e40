// Lines go to the classifier and (under PaddleOCR's convention) the recogniser in batches of at
// most MAX_BATCH, as PaddleOCR's cls_batch_num and rec_batch_num do; theirs are 6, ours 8: a batch
// reads every line at its own width within zeros to the widest, so the size changes no text, and
// fewer batches run. Each batch runs at its own size.

export const MAX_BATCH = 8;

/** Consecutive chunks of at most `max` items. */
export function chunks<T>(items: readonly T[], max = MAX_BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += max) out.push(items.slice(i, i + max));
  return out;
}
