// The whole pipeline against Guten OCR (@gutenye/ocr-node: the same PaddleOCR models on
// onnxruntime-node, without the direction classifier and with its own pre-processing) on the
// fixture pages (test/fixtures/ocr/, rendered by make-pages.ts), the Liberation Serif page being
// a font no other test uses: the same text, line by line, and the rendered text itself, compared
// without spaces. PP-OCRv4's recogniser (a Chinese model) reads the spaces of Latin lines on a
// knife's edge: whether it writes one changes with the zeros padded to the right of a line
// (PaddleOCR's own batches pad every line but the widest) and with the input scaling (Guten OCR
// feeds [0, 1], PaddleOCR [-1, 1]); onnxruntime itself reads 'jumps over the lazy dog' at the line's
// own width and 'jumpsover thelazydog' at 640. Every other character must match.

import Ocr from '@gutenye/ocr-node';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readPage, ocr } from '../../src/ocr/ocr.js';
import { loadOcrModels } from '../../src/ocr/models.js';
import { testGpu } from '../helpers.js';

const FIXTURES = new URL('../fixtures/ocr/', import.meta.url).pathname;
const pages = JSON.parse(readFileSync(FIXTURES + 'pages.json', 'utf8')) as { file: string; font: string; lines: string[] }[];
const gpu = await testGpu();
const backend = gpu ? 'webgpu' : 'cpu';
const noSpaces = (s: string) => s.replace(/\s+/g, '');

test(`the pipeline on ${backend} reads the fixture pages as Guten OCR does, the held-out font included`, async () => {
  assert.ok(pages.some((p) => p.font === 'Liberation Serif'), 'the held-out font page is among the fixtures');
  const models = await loadOcrModels({ backend, gpu: gpu ?? undefined });
  const guten = await Ocr.create();
  try {
    for (const page of pages) {
      const path = FIXTURES + page.file;
      const ours = await ocr(path, models);
      const theirs = await guten.detect(path);
      const texts = ours.lines.map((l) => l.text);
      console.log(`${page.file}: deftnn ${JSON.stringify(texts)}, Guten OCR ${JSON.stringify(theirs.map((l: { text: string }) => l.text))}`);
      assert.deepEqual(texts.map(noSpaces), theirs.map((l: { text: string }) => noSpaces(l.text)), `${page.file}: deftnn and Guten OCR read different text`);
      assert.deepEqual(texts.map(noSpaces), page.lines.map(noSpaces), `${page.file}: not the rendered text`);
      for (const l of ours.lines) {
        assert.ok(l.score > 0.8 && l.angle === 0, `${page.file} '${l.text}': score ${l.score}, angle ${l.angle}`);
        // Boxes lie on the page, corners in order.
        assert.ok(l.box.every(([x, y]) => x >= 0 && y >= 0 && x < ours.width && y < ours.height));
        assert.ok(l.box[0][0] < l.box[1][0] && l.box[0][1] < l.box[3][1]);
      }
      assert.ok(Object.values(ours.timings).every((t) => t >= 0));
    }
  } finally {
    models.dispose();
  }
});
