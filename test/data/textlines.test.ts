import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/data/dataset.js';
import { drawTextLine, LINE_HEIGHT as H, LINE_WIDTH as W, makeTextLines, pseudoLabelled } from '../../src/data/textlines.js';
import type { Graph } from '../../src/graph/ir.js';
import { rng, testGpu } from '../helpers.js';

const gpu = await testGpu();
const at = (img: Float32Array, c: number, y: number, x: number) => img[(c * H + y) * W + x];

test('drawTextLine: one inked pixel lands where the 48/28 scaling puts it, and 180° away when flipped', () => {
  // Pixel (row 0, column 27) of the first digit: rows 0-1 (floor(y*28/48) = 0) and column 47 only
  // (floor(47*28/48) = 27, floor(46*28/48) = 26) of the line.
  const ink = new Float32Array(784);
  ink[27] = 1;
  const blank = new Float32Array(784);
  for (const flip of [false, true]) {
    const out = new Float32Array(3 * H * W).fill(NaN);
    drawTextLine([ink, blank, blank, blank], flip, out);
    const inked = new Set(flip ? ['46,144', '47,144'] : ['0,47', '1,47']);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) assert.equal(at(out, c, y, x), inked.has(`${y},${x}`) ? -1 : 1, `flip ${flip}, channel ${c}, (${y}, ${x})`);
      }
    }
  }
  // Grey 0.25 maps to (1 - 0.25 - 0.5) / 0.5 = 0.5.
  const grey = new Float32Array(784).fill(0.25);
  const out = new Float32Array(3 * H * W);
  drawTextLine([grey, grey, grey, grey], false, out);
  assert.ok(out.every((v) => v === 0.5));
});

test('drawTextLine: wrong digit count or sizes are refused', () => {
  const d = new Float32Array(784);
  assert.throws(() => drawTextLine([d, d, d], false, new Float32Array(3 * H * W)), /4 digits, got 3/);
  assert.throws(() => drawTextLine([d, d, d, d], false, new Float32Array(10)), /\[3, 48, 192\]/);
  assert.throws(() => drawTextLine([d, d, d, new Float32Array(100)], false, new Float32Array(3 * H * W)), /digit 3 must be 28x28/);
});

test('makeTextLines: seeded, odd lines are the even ones turned 180° (one-digit source), values in [-1, 1]', () => {
  const rand = rng(5);
  const digit = Float32Array.from({ length: 784 }, () => rand());
  const one: Dataset = { name: 'one digit', images: digit, labels: new Uint8Array(1), imageShape: [1, 28, 28], classes: 10 };
  const lines = makeTextLines(one, 3, 1, 'lines');
  assert.deepEqual(lines.imageShape, [3, H, W]);
  assert.equal(lines.images.length, 3 * 3 * H * W);
  assert.equal(lines.classes, 2);
  const per = 3 * H * W;
  const [l0, l1, l2] = [0, 1, 2].map((i) => lines.images.subarray(i * per, (i + 1) * per));
  assert.deepEqual(l2, l0); // same digits, not flipped
  for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) assert.equal(at(l1, c, H - 1 - y, W - 1 - x), at(l0, c, y, x));
  assert.ok(lines.images.every((v) => v >= -1 && v <= 1));
  assert.notDeepEqual(l0, l1); // a random digit is not symmetric under 180°

  // Several source digits: the seed decides which are drawn.
  const many: Dataset = { ...one, images: Float32Array.from({ length: 784 * 5 }, () => rand()), labels: new Uint8Array(5) };
  assert.deepEqual(makeTextLines(many, 2, 9, 'a').images, makeTextLines(many, 2, 9, 'b').images);
  assert.notDeepEqual(makeTextLines(many, 2, 9, 'a').images, makeTextLines(many, 2, 10, 'a').images);
  assert.throws(() => makeTextLines({ ...one, imageShape: [3, 28, 28] }, 1, 1, 'x'), /1x28x28/);
});

test('pseudoLabelled: labels are the model’s own top-1 answers', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  // Flatten then Neg: the answer is the index of the smallest input value.
  const graph: Graph = {
    inputs: [{ name: 'x', shape: [1, 3, 1, 1] }],
    outputs: ['y'],
    nodes: [
      { name: 'flatten0', op: 'Flatten', inputs: ['x'], outputs: ['f'], attrs: {} },
      { name: 'neg0', op: 'Neg', inputs: ['f'], outputs: ['y'], attrs: {} },
    ],
    initializers: new Map(),
  };
  const images = Float32Array.from([0.5, 0.1, 0.9, 0.2, 0.7, 0.3, -1, 0, 1, 4, 5, 3]);
  const ds: Dataset = { name: 'tiny', images, labels: new Uint8Array(4).fill(9), imageShape: [3, 1, 1], classes: 3 };
  const labelled = await pseudoLabelled(graph, ds, gpu!);
  assert.deepEqual([...labelled.labels], [1, 0, 0, 2]);
  assert.equal(labelled.images, ds.images);
  assert.deepEqual([...ds.labels], [9, 9, 9, 9]); // the input set is left as it is
});
