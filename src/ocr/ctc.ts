// CTC greedy decoding, as PaddleOCR's CTCLabelDecode: per column the most probable class; repeats
// merged, blanks (class 0) dropped; class k >= 1 is characters[k - 1]. The line's score is the
// mean probability of the columns kept (0 when none is).
//
// Layout: probs[t * classes + k], one row per column t.

export interface Decoded {
  readonly text: string;
  readonly score: number;
}

export function ctcGreedy(probs: Float32Array, columns: number, classes: number, characters: readonly string[]): Decoded {
  if (probs.length < columns * classes) throw new RangeError(`${probs.length} scores do not make ${columns} columns of ${classes} classes`);
  let text = '';
  let sum = 0;
  let kept = 0;
  let prev = -1;
  for (let t = 0; t < columns; t++) {
    let best = 0;
    let p = probs[t * classes];
    for (let k = 1; k < classes; k++) {
      const v = probs[t * classes + k];
      if (v > p) {
        p = v;
        best = k;
      }
    }
    if (best !== 0 && best !== prev) {
      text += characters[best - 1] ?? '';
      sum += p;
      kept++;
    }
    prev = best;
  }
  return { text, score: kept ? sum / kept : 0 };
}
