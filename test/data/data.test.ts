import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { batches, datasetSize, shiftImages } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist.js';
import { FASHION_MNIST_DIR, loadFashionMnist, parseIdx } from '../../src/data/idx.js';
import { existsSync } from 'node:fs';
import { Tensor } from '../../src/tensor.js';
import { rng } from '../helpers.js';

test('MNIST: fixed 80/20 split per class, every class in both, pixels in [0, 1]', () => {
  const { train, test: held } = loadMnist();
  assert.equal(datasetSize(train) + datasetSize(held), 10000);
  assert.ok(datasetSize(train) >= 7900 && datasetSize(train) <= 8100, `train size ${datasetSize(train)}`);
  for (const ds of [train, held]) {
    const counts = new Array(10).fill(0);
    for (const l of ds.labels) counts[l]++;
    assert.ok(counts.every((c) => c > 100), `class counts ${counts}`);
    assert.equal(ds.images.length, datasetSize(ds) * 784);
    let lo = Infinity, hi = -Infinity;
    for (const v of ds.images) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    assert.ok(lo >= 0 && hi <= 1 && hi > 0.9, `range ${lo}..${hi}`);
  }
  // The split is fixed: loading twice gives the same data.
  assert.deepEqual(loadMnist().test.labels, held.labels);
});

test('IDX parsing: plain and gzipped, with errors for bad magic and truncation', () => {
  const header = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
  const bytes = Uint8Array.from([...header, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  for (const b of [bytes, gzipSync(bytes)]) {
    const { dims, data } = parseIdx(b);
    assert.deepEqual(dims, [2, 2, 3]);
    assert.deepEqual([...data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  }
  assert.throws(() => parseIdx(Uint8Array.from([1, 2, 3, 4])), /bad magic number/);
  assert.throws(() => parseIdx(bytes.subarray(0, 20)), /truncated: 4 data bytes, header says 12/);
});

test('Fashion-MNIST loads from the Debian package (required in CI)', { skip: !existsSync(FASHION_MNIST_DIR) && process.env.CI !== 'true' && 'dataset-fashion-mnist not installed' }, () => {
  const { train, test: held } = loadFashionMnist();
  assert.equal(datasetSize(train), 60000);
  assert.equal(datasetSize(held), 10000);
  assert.equal(held.labels[0], 9); // the first test image is an ankle boot
});

test('a missing Fashion-MNIST directory gets an error that says what to install', () => {
  assert.throws(() => loadFashionMnist('/nonexistent'), /install Debian's dataset-fashion-mnist/);
});

test('batches: every sample exactly once per epoch, shuffled reproducibly, dropLast keeps shapes', () => {
  const { test: ds } = loadMnist();
  const n = datasetSize(ds);
  const seen = new Array(10).fill(0);
  let count = 0;
  for (const b of batches(ds, { batchSize: 64, shuffle: rng(1) })) {
    count += b.y.length;
    for (const l of b.y) seen[l]++;
    assert.equal(b.x.shape[0], b.y.length);
  }
  assert.equal(count, n);
  const expected = new Array(10).fill(0);
  for (const l of ds.labels) expected[l]++;
  assert.deepEqual(seen, expected);
  const a = [...batches(ds, { batchSize: 64, shuffle: rng(7) })][0].y;
  const b = [...batches(ds, { batchSize: 64, shuffle: rng(7) })][0].y;
  assert.deepEqual(a, b);
  const dropped = [...batches(ds, { batchSize: 64, dropLast: true })];
  assert.ok(dropped.every((b) => b.y.length === 64));
  assert.equal(dropped.length, Math.floor(n / 64));
});

test('shiftImages translates with zero fill', () => {
  const x = new Tensor([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // rand() = 1 - eps gives the largest shift (+1, +1) for max 1.
  shiftImages(x, 1, () => 0.999);
  assert.deepEqual([...x.data], [0, 0, 0, 0, 1, 2, 0, 4, 5]);
});
