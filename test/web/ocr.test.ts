// End to end: the browser demo's OCR mode (web/ocr.html), built by esbuild, served over http and
// driven in headless Chromium (WebGPU on SwiftShader). A fixture page picked as a file must be
// read with the same text as deftnn's pipeline on the CPU reference in Node, its boxes drawn and
// its stages timed; a file that is not an image is reported on the page. The page runs without
// the direction classifier (?nocls: the fixture's lines are upright, and SwiftShader compiles
// every kernel of every model on a CPU, so one model fewer keeps the test within minutes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.js';
import { serveWeb, type WebServer } from '../../scripts/serve-web.js';
import { loadOcrModels } from '../../src/ocr/models.js';
import { ocr, type OcrResult } from '../../src/ocr/ocr.js';
import { haveChromium, launchChromium } from './browser.js';

const chromium = haveChromium();
const PAGE = fileURLToPath(new URL('../fixtures/ocr/dejavu-sans-en.png', import.meta.url));

interface OcrDemoState {
  completed: number;
  result: OcrResult | null;
  error: string | null;
  adapter: string | null;
}

const demoState = (page: Page) => page.evaluate(() => (globalThis as unknown as { deftnnOcr: OcrDemoState }).deftnnOcr);

/** Do `action`, then wait until the page has read one more image; return its state. */
async function afterReading(page: Page, action: () => Promise<unknown>): Promise<OcrDemoState> {
  const before = (await demoState(page)).completed;
  await action();
  await page.waitForFunction((n) => (globalThis as unknown as { deftnnOcr: OcrDemoState }).deftnnOcr.completed > n, before, { timeout: 600_000 });
  return demoState(page);
}

test('the OCR mode reads a picked page on WebGPU with the same text as the CPU pipeline', { skip: !chromium && 'no Chromium', timeout: 900_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-web-ocr-'));
  let server: WebServer | undefined;
  let browser: Browser | undefined;
  try {
    const built = await buildWeb({ outDir: join(dir, 'site') });
    server = await serveWeb(built.outDir);
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));

    await page.goto(`${server.url}ocr.html?nocls`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 120_000 });
    assert.equal(await page.getAttribute('body', 'data-state'), 'ready', `page status: ${await page.textContent('#status')}`);
    assert.match((await demoState(page)).adapter ?? '', /\S/, 'the adapter is named');

    const s = await afterReading(page, () => page.setInputFiles('#file', PAGE));
    assert.equal(await page.getAttribute('body', 'data-state'), 'done', `page status: ${await page.textContent('#status')}`);
    const web = s.result!;

    // The same page through deftnn's pipeline on the CPU reference in Node.
    const models = await loadOcrModels({ backend: 'cpu', cls: false });
    const cpu = await ocr(new Uint8Array(readFileSync(PAGE)), models);
    models.dispose();
    assert.ok(cpu.lines.length >= 2, `the fixture page has text: ${JSON.stringify(cpu.lines.map((l) => l.text))}`);
    assert.deepEqual(web.lines.map((l) => l.text), cpu.lines.map((l) => l.text), 'the page reads what the CPU pipeline reads');
    for (const [i, l] of web.lines.entries()) {
      l.box.forEach(([x, y], k) => {
        const [cx, cy] = cpu.lines[i].box[k];
        assert.ok(Math.abs(x - cx) <= 2 && Math.abs(y - cy) <= 2, `line ${i} corner ${k}: (${x}, ${y}) on WebGPU, (${cx}, ${cy}) on the CPU`);
      });
    }
    // What a person sees: the lines listed, and a time for each stage and the total.
    assert.deepEqual(await page.locator('#lines .text').allTextContents(), web.lines.map((l) => l.text));
    assert.equal(await page.locator('#timings tr').count(), 6);
    assert.match((await page.locator('#timings tr').last().textContent())!, /^total\d+\.\d ms$/);
    assert.ok(await page.evaluate(() => (document.getElementById('page') as HTMLCanvasElement).width) > 0, 'the page is drawn');

    const junk = join(dir, 'notes.png');
    writeFileSync(junk, 'these are not the pixels you are looking for');
    const bad = await afterReading(page, () => page.setInputFiles('#file', junk));
    assert.equal(await page.getAttribute('body', 'data-state'), 'error');
    assert.match(bad.error ?? '', /cannot decode 'notes\.png' as an image/);
    assert.deepEqual(errors, [], 'no uncaught errors in the page');
  } finally {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
