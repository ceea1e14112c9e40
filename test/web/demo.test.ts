// End to end: the browser demo built by esbuild, served over http, driven in headless Chromium
// (WebGPU on SwiftShader). A digit drawn with the mouse, an MNIST test digit painted on the pad,
// and a dark-on-light PNG picked as a file must each get the right answer from both models; the
// page's WebGPU probabilities must match deftnn's CPU reference run in Node on the same 28x28 input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'playwright-core';
import { buildWeb } from '../../scripts/build-web.js';
import { serveWeb, type WebServer } from '../../scripts/serve-web.js';
import { loadMnist } from '../../src/data/mnist.js';
import { load, type Model } from '../../src/model.js';
import { Tensor } from '../../src/tensor.js';
import { inkFromRgba, resizeArea, SIDE, toMnist } from '../../web/digit.js';
import { haveChromium, launchChromium } from './browser.js';

const chromium = haveChromium();
const LENET = fileURLToPath(new URL('../../zoo/lenet5.onnx', import.meta.url));

interface Answer {
  top: number;
  probs: number[];
  medianMs: number;
  runs: number;
}
interface DemoState {
  input: number[] | null;
  completed: number;
  answers: { original?: Answer; optimized?: Answer };
  adapter: string | null;
}

const demoState = (page: Page) => page.evaluate(() => (globalThis as unknown as { deftnnDemo: DemoState }).deftnnDemo);

/** Do `action`, then wait until the page has finished one more classification; return its state. */
async function afterClassification(page: Page, action: () => Promise<unknown>): Promise<DemoState> {
  const before = (await demoState(page)).completed;
  await action();
  await page.waitForFunction((n) => (globalThis as unknown as { deftnnDemo: DemoState }).deftnnDemo.completed > n, before, { timeout: 30_000 });
  const s = await demoState(page);
  assert.equal(await page.getAttribute('body', 'data-state'), 'done', `page status: ${await page.textContent('#status')}`);
  return s;
}

/** Both panels show `digit` with a latency, in the DOM and in the page's state. */
async function assertBothAnswer(page: Page, s: DemoState, digit: number, what: string): Promise<void> {
  for (const key of ['original', 'optimized'] as const) {
    const a = s.answers[key];
    assert.ok(a, `${what}: ${key} answered`);
    assert.equal(a.top, digit, `${what}: ${key} says ${a.top} (probabilities ${a.probs.map((p) => p.toFixed(3)).join(' ')})`);
    assert.equal(await page.textContent(`#${key} .top`), String(digit));
    assert.ok(a.medianMs > 0 && Number.isFinite(a.medianMs), `${what}: ${key} latency ${a.medianMs}`);
    assert.match((await page.textContent(`#${key} .latency`))!, /^\d+\.\d\d ms \(median of 5 runs\)$/);
    assert.equal(await page.locator(`#${key} .probs li`).count(), 10);
  }
}

/** The first test digit of class `digit` that the model itself gets right, as drawn: 28x28 in [0, 1]. */
async function mnistDigit(cpu: Model, test: ReturnType<typeof loadMnist>['test'], digit: number): Promise<Float32Array> {
  for (let i = 0; i < test.labels.length; i++) {
    if (test.labels[i] !== digit) continue;
    const img = test.images.slice(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    const y = (await cpu.run({ [cpu.inputs[0].name]: new Tensor([1, 1, SIDE, SIDE], img) }))[cpu.outputs[0].name].data;
    if (y.indexOf(Math.max(...y)) === digit) return img;
  }
  throw new Error(`the model gets no test digit ${digit} right`);
}

test('digit preprocessing: crops, scales into 20x20 and centres by mass like MNIST', () => {
  // A 6x30 bar in the corner of a 100x100 picture becomes a centred 4x20 bar (aspect kept).
  const w = 100;
  const ink = new Float32Array(w * w);
  for (let y = 2; y < 32; y++) for (let x = 3; x < 9; x++) ink[y * w + x] = 1;
  const out = toMnist(ink, w, w)!;
  const rows = [...Array(SIDE).keys()].filter((y) => out.slice(y * SIDE, (y + 1) * SIDE).some((v) => v > 0.5));
  const cols = [...Array(SIDE).keys()].filter((x) => rows.some((y) => out[y * SIDE + x] > 0.5));
  assert.deepEqual([rows[0], rows.at(-1)], [4, 23]);
  assert.deepEqual([cols[0], cols.at(-1)], [12, 15]);
  assert.equal(toMnist(new Float32Array(w * w), w, w), null, 'no ink, no digit');
  // Area averaging keeps the mean; dark ink on a light page is inverted.
  const src = Float32Array.from({ length: 7 * 5 }, (_, i) => (i * 37) % 11);
  const small = resizeArea(src, 7, 5, 3, 2);
  assert.ok(Math.abs(small.reduce((a, b) => a + b) / 6 - src.reduce((a, b) => a + b) / 35) < 1e-5);
  const paper = new Uint8ClampedArray(4 * 9).fill(255);
  paper.set([0, 0, 0, 255], 4 * 4); // one black pixel in the middle of white
  assert.deepEqual([...inkFromRgba(paper, 3, 3)].map((v) => Math.round(v)), [0, 0, 0, 0, 1, 0, 0, 0, 0]);
});

test('the web demo answers drawn, painted and picked digits with both models on WebGPU', { skip: !chromium && 'no Chromium', timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-web-'));
  let server: WebServer | undefined;
  let browser: Browser | undefined;
  try {
    const built = await buildWeb({ outDir: join(dir, 'site') });
    assert.ok(built.bundleBytes > 10_000 && built.models.includes('lenet5.onnx'));
    server = await serveWeb(built.outDir);
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));

    // The build's defaults: the zoo LeNet-5 against its optimised file when one exists, else itself.
    await page.goto(server.url);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 30_000 });
    assert.equal(await page.getAttribute('body', 'data-state'), 'ready', `page status: ${await page.textContent('#status')}`);
    assert.match((await demoState(page)).adapter ?? '', /\S/, 'the adapter is named');
    assert.equal(await page.textContent('#original .source'), built.defaults.original);
    assert.equal(await page.textContent('#optimized .source'), built.defaults.optimized);

    await t.test('a "1" drawn with the mouse', async () => {
      const box = (await page.locator('#pad').boundingBox())!;
      const s = await afterClassification(page, async () => {
        await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.15);
        await page.mouse.down();
        for (let i = 1; i <= 12; i++) await page.mouse.move(box.x + box.width / 2 + i / 4, box.y + box.height * (0.15 + (0.7 * i) / 12));
        await page.mouse.up();
      });
      await assertBothAnswer(page, s, 1, 'drawn 1');
    });

    const mnist = loadMnist().test;
    const cpu = await load(LENET, { backend: 'cpu' });

    await t.test('an MNIST test digit painted on the pad; WebGPU matches the CPU reference', async () => {
      const seven = await mnistDigit(cpu, mnist, 7);
      await page.click('#clear');
      const s = await afterClassification(page, async () => {
        // Each MNIST pixel as a 10x10 block of the 280x280 pad, then the page's own "Run again".
        await page.evaluate((px) => {
          const pad = document.getElementById('pad') as HTMLCanvasElement;
          const ctx = pad.getContext('2d')!;
          const k = pad.width / 28;
          for (let i = 0; i < 28 * 28; i++) {
            const v = Math.round(255 * px[i]);
            ctx.fillStyle = `rgb(${v}, ${v}, ${v})`;
            ctx.fillRect((i % 28) * k, Math.floor(i / 28) * k, k, k);
          }
        }, Array.from(seven));
        await page.click('#run');
      });
      await assertBothAnswer(page, s, 7, 'painted MNIST 7');
      // The page's WebGPU run of the original against deftnn's CPU reference on exactly the page's
      // input (the optimised model may differ by design; its answer was checked above).
      assert.equal(s.input?.length, SIDE * SIDE);
      const ref = (await cpu.run({ [cpu.inputs[0].name]: new Tensor([1, 1, SIDE, SIDE], s.input!) }))[cpu.outputs[0].name].data;
      const worst = Math.max(...s.answers.original!.probs.map((p, k) => Math.abs(p - ref[k])));
      assert.ok(worst < 1e-4, `original: WebGPU probabilities differ from the CPU reference by ${worst}`);
    });

    await t.test('a dark-on-light PNG picked as a file', async () => {
      const three = await mnistDigit(cpu, mnist, 3);
      // 56x56, ink black on white, as a scan would be.
      const png = new PNG({ width: 56, height: 56 });
      for (let y = 0; y < 56; y++) {
        for (let x = 0; x < 56; x++) {
          const v = Math.round(255 * (1 - three[(y >> 1) * 28 + (x >> 1)]));
          png.data.set([v, v, v, 255], 4 * (y * 56 + x));
        }
      }
      const file = join(dir, 'three.png');
      writeFileSync(file, PNG.sync.write(png));
      const s = await afterClassification(page, () => page.setInputFiles('#file', file));
      await assertBothAnswer(page, s, 3, 'picked PNG of a 3');
    });

    cpu.dispose();
    assert.deepEqual(errors, [], 'no errors in the page');

    await t.test('query parameters choose the models; one that does not exist is reported on the page', async () => {
      const bad = await browser!.newPage();
      await bad.goto(`${server!.url}?original=models/lenet5.onnx&optimized=models/missing.onnx`);
      await bad.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 30_000 });
      assert.equal(await bad.getAttribute('body', 'data-state'), 'error');
      assert.match((await bad.textContent('#status'))!, /models\/missing\.onnx.*404/);
      assert.equal(await bad.textContent('#optimized .source'), 'models/missing.onnx');
      await bad.close();
    });
  } finally {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
