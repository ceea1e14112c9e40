// IDX files (the MNIST / Fashion-MNIST format), optionally gzipped, and Fashion-MNIST from them.
// Debian's `dataset-fashion-mnist` installs the files under /usr/share/datasets/fashion-mnist/.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Dataset } from './dataset.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Parse an IDX file of unsigned bytes: its dimensions and data. */
export function parseIdx(bytes: Uint8Array, what = 'IDX file'): { dims: number[]; data: Uint8Array } {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`${what}: not an IDX file (bad magic number)`);
  if (bytes[2] !== 0x08) throw new Error(`${what}: only unsigned-byte IDX data is supported (type 0x${bytes[2].toString(16)})`);
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank) throw new Error(`${what}: truncated header`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const n = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (bytes.length - start < n) throw new Error(`${what}: truncated: ${bytes.length - start} data bytes, header says ${n}`);
  return { dims, data: bytes.subarray(start, start + n) };
}

function readIdx(dir: string, base: string): { dims: number[]; data: Uint8Array } {
  for (const name of [`${base}.gz`, base]) {
    const p = join(dir, name);
    if (existsSync(p)) return parseIdx(readFileSync(p), p);
  }
  throw new Error(
    `Fashion-MNIST file ${base}(.gz) not found in ${dir}; install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass the directory that holds the IDX files`,
  );
}

/** Fashion-MNIST's standard 60,000 training and 10,000 test images. */
export function loadFashionMnist(dir = FASHION_MNIST_DIR): { train: Dataset; test: Dataset } {
  const make = (split: 'train' | 't10k', name: string): Dataset => {
    const img = readIdx(dir, `${split}-images-idx3-ubyte`);
    const lab = readIdx(dir, `${split}-labels-idx1-ubyte`);
    if (img.dims.length !== 3 || img.dims[1] !== 28 || img.dims[2] !== 28) throw new Error(`${split} images: expected [N, 28, 28], got [${img.dims}]`);
    if (lab.dims[0] !== img.dims[0]) throw new Error(`${split}: ${img.dims[0]} images but ${lab.dims[0]} labels`);
    const images = new Float32Array(img.data.length);
    for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
    return { name, images, labels: Uint8Array.from(lab.data), imageShape: [1, 28, 28], classes: 10 };
  };
  return { train: make('train', 'fashion-mnist-train'), test: make('t10k', 'fashion-mnist-test') };
}
