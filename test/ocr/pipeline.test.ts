// The whole pipeline against Guten OCR (@gutenye/ocr-node: the same PaddleOCR models on
// onnxruntime-node, without the direction classifier and with its own pre-processing) on the
// fixture pages (test/fixtures/ocr/, rendered by make-pages.ts), the Liberation Serif page being
// a font no other test uses.
//
// Under Guten OCR's convention (preset 'guten', src/ocr/conventions.ts) deftnn reads exactly the
// text Guten OCR reads, spaces included. The rendered text itself is compared without spaces, under
// both conventions: PP-OCRv4's recogniser (a Chinese model) reads the spaces of small Latin lines on
// a knife's edge. What decides them is how a line is scaled to height 48: these lines are about 20
// pixels high, and enlarged with sharp's bicubic filter (Guten OCR) the recogniser reads 'The quick
// brown fox', with a bilinear one (PaddleOCR's cv2.resize) 'The quickbrownfox'; the pixel scaling
// ([0, 1] or [-1, 1]) and the zeros padded to the right changed no text here. Guten OCR itself reads
// 'Totaldue:128.50EUR'.

import Ocr from '@gutenye/ocr-node';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ocr } from '../../src/ocr/ocr.js';
import { loadOcrModels } from '../../src/ocr/models.js';
import { testGpu } from '../helpers.js';

const FIXTURES = new URL('../fixtures/ocr/', import.meta.url).pathname;
const pages = JSON.parse(readFileSync(FIXTURES + 'pages.json', 'utf8')) as { file: string; font: string; lines: string[] }[];
const gpu = await testGpu();
const backend = gpu ? 'webgpu' : 'cpu';
const noSpaces = (s: string) => s.replace(/\s+/g, '');

test(`the pipeline on ${backend} reads the fixture pages exactly as Guten OCR does under its convention, the held-out font included`, async () => {
  assert.ok(pages.some((p) => p.font === 'Liberation Serif'), 'the held-out font page is among the fixtures');
  const models = await loadOcrModels({ backend, gpu: gpu ?? undefined });
  const guten = await Ocr.create();
  try {
    for (const page of pages) {
      const path = FIXTURES + page.file;
      const theirs = ((await guten.detect(path)) as { text: string }[]).map((l) => l.text);
      const asGuten = await ocr(path, models, { preset: 'guten' });
      const asPaddle = await ocr(path, models);
      console.log(`${page.file}: Guten OCR ${JSON.stringify(theirs)}; deftnn (guten) ${JSON.stringify(asGuten.lines.map((l) => l.text))}; deftnn (paddleocr) ${JSON.stringify(asPaddle.lines.map((l) => l.text))}`);
      assert.deepEqual(asGuten.lines.map((l) => l.text), theirs, `${page.file}: deftnn under Guten OCR's convention reads other text than Guten OCR`);
      for (const [name, r] of [['guten', asGuten], ['paddleocr', asPaddle]] as const) {
        assert.deepEqual(r.lines.map((l) => noSpaces(l.text)), page.lines.map(noSpaces), `${page.file} (${name}): not the rendered text`);
        for (const l of r.lines) {
          assert.ok(l.score > 0.8 && l.angle === 0, `${page.file} (${name}) '${l.text}': score ${l.score}, angle ${l.angle}`);
          // Boxes lie on the page (Guten OCR's may reach one past the last pixel), corners in order.
          assert.ok(l.box.every(([x, y]) => x >= 0 && y >= 0 && x <= r.width && y <= r.height));
          assert.ok(l.box[0][0] < l.box[1][0] && l.box[0][1] < l.box[3][1]);
        }
        assert.ok(Object.values(r.timings).every((t) => t >= 0));
      }
    }
  } finally {
    models.dispose();
  }
});
