// Labelled image sets in memory, and the batches training and evaluation read from them.
// images: [N, C, H, W] float32 in [0, 1]; labels: [N] class indices.

import { Tensor } from '../tensor.js';

export interface Dataset {
  readonly name: string;
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  /** [C, H, W] of one image. */
  readonly imageShape: readonly [number, number, number];
  readonly classes: number;
}

export function datasetSize(ds: Dataset): number {
  return ds.labels.length;
}

/** The images at `indices` as one [n, C, H, W] tensor, with their labels. */
export function gather(ds: Dataset, indices: ArrayLike<number>): { x: Tensor; y: Uint8Array } {
  const [c, h, w] = ds.imageShape;
  const per = c * h * w;
  const x = new Float32Array(indices.length * per);
  const y = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    x.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
    y[i] = ds.labels[j];
  }
  return { x: new Tensor([indices.length, c, h, w], x), y };
}

/** A subset (by index list) as a dataset of its own; shares nothing mutable with `ds`. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = `${ds.name}[subset]`): Dataset {
  const { x, y } = gather(ds, indices);
  return { ...ds, name, images: x.data, labels: y };
}

/** Fisher-Yates permutation of 0..n-1 from a seeded generator. */
export function permutation(n: number, rand: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export interface BatchOptions {
  readonly batchSize: number;
  /** Shuffle with this generator; in order when absent. */
  readonly shuffle?: () => number;
  /** Drop the last batch when it is smaller than batchSize (keeps shapes fixed for one session). */
  readonly dropLast?: boolean;
  /** Random translation by up to this many pixels, zero-filled (light augmentation). */
  readonly maxShift?: number;
  /** Generator for augmentation; required with maxShift. */
  readonly augment?: () => number;
}

/** One pass over the data set in batches. */
export function* batches(ds: Dataset, opts: BatchOptions): Generator<{ x: Tensor; y: Uint8Array }> {
  const n = datasetSize(ds);
  const order = opts.shuffle ? permutation(n, opts.shuffle) : Uint32Array.from({ length: n }, (_, i) => i);
  for (let start = 0; start < n; start += opts.batchSize) {
    const end = Math.min(n, start + opts.batchSize);
    if (opts.dropLast && end - start < opts.batchSize) break;
    const b = gather(ds, order.subarray(start, end));
    if (opts.maxShift) {
      if (!opts.augment) throw new Error('maxShift needs an augment generator');
      shiftImages(b.x, opts.maxShift, opts.augment);
    }
    yield b;
  }
}

/** Translate each image of x [N, C, H, W] in place by a random offset in [-max, max]², zero-filled. */
export function shiftImages(x: Tensor, max: number, rand: () => number): void {
  const [n, c, h, w] = x.shape;
  const plane = h * w;
  const tmp = new Float32Array(plane);
  for (let i = 0; i < n; i++) {
    const dy = Math.floor(rand() * (2 * max + 1)) - max;
    const dx = Math.floor(rand() * (2 * max + 1)) - max;
    if (dx === 0 && dy === 0) continue;
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * plane;
      tmp.fill(0);
      for (let y = 0; y < h; y++) {
        const sy = y - dy;
        if (sy < 0 || sy >= h) continue;
        for (let xx = 0; xx < w; xx++) {
          const sx = xx - dx;
          if (sx >= 0 && sx < w) tmp[y * w + xx] = x.data[base + sy * w + sx];
        }
      }
      x.data.set(tmp, base);
    }
  }
}
