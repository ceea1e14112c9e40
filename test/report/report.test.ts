import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { paretoFront, renderReport, ReportError, type ReportData } from '../../src/report/report.js';
import { haveChromium, launchChromium } from '../web/browser.js';

const chromium = haveChromium();

const sample: ReportData = {
  model: 'lenet5 <zoo>', // markup in names must come out as text
  backend: 'webgpu',
  adapter: 'mesa / llvmpipe',
  date: new Date('2026-11-26T12:00:00Z'),
  metric: 'top-1 accuracy, mnist test',
  notes: ['lavapipe: timings are ratios only'],
  variants: [
    { name: 'dense fp32', accuracy: 0.9835, latencyMs: 2.0, baseline: true },
    { name: 'SVE 30%', accuracy: 0.981, latencyMs: 1.6, eliminated: true, fineTuned: true },
    { name: 'SVE 50%', accuracy: 0.97, speedup: 1.6, eliminated: true },
    { name: 'e6m5', accuracy: 0.983, latencyMs: 1.5, packed: true },
    { name: 'SVE 30% + e6m5', accuracy: 0.9795, latencyMs: 1.1, eliminated: true, packed: true, fineTuned: true },
    { name: 'SVE 60% (worse)', accuracy: 0.95, speedup: 1.5, eliminated: true },
    { name: 'no timing', accuracy: 0.9 },
  ],
  layers: [
    { node: 'conv0', op: 'Conv', k: 25, kept: 20, weightFormat: 'e6m5', activationFormat: 'e6m5', timeBeforeMs: 0.5, timeAfterMs: 0.3 },
    { node: 'conv1', op: 'Conv', k: 150, kept: 90, weightFormat: 'e6m5', activationFormat: 'fp32', timeBeforeMs: 0.9, timeAfterMs: 0.5 },
    { node: 'fc0', op: 'Gemm', k: 400, kept: 240, weightFormat: 'bf16', timeBeforeMs: 0.3 }, // no time after: shown as a gap
    { node: 'fc1', op: 'Gemm', k: 120, weightFormat: 'fp32', activationFormat: 'fp32', timeBeforeMs: 0.1, timeAfterMs: 0.1 },
  ],
};

test('paretoFront keeps exactly the points nothing else beats', () => {
  const pts = [
    { x: 1, y: 0.98 },
    { x: 1.2, y: 0.98 }, // beats the first (faster, as accurate)
    { x: 1.5, y: 0.97 },
    { x: 1.4, y: 0.96 }, // beaten by the third
    { x: 2, y: 0.9 },
    { x: null, y: 0.99 }, // no speed-up: never on the front
  ];
  assert.deepEqual([...paretoFront(pts)].sort(), [1, 2, 4]);
});

test('renderReport: self-contained, escaped, tables complete', () => {
  const html = renderReport(sample);
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|<img[^>]+src=/i, 'no external scripts, styles or images');
  assert.ok(html.includes('lenet5 &lt;zoo&gt;'), 'model name escaped');
  assert.ok(!html.includes('lenet5 <zoo>'), 'raw markup never reaches the page');
  assert.match(html, /Chart\.js v?4\./, 'Chart.js inlined');
  // Summary: one row per variant; the speed-up of 'SVE 30%' comes from the latencies (2.0 / 1.6).
  const summary = html.slice(html.indexOf('<table id="summary">'), html.indexOf('</table>', html.indexOf('<table id="summary">')));
  assert.equal(summary.match(/<tr/g)!.length, 1 + sample.variants.length);
  assert.match(summary, /SVE 30%<\/td><td class="num">98\.10%<\/td><td class="num">1\.600<\/td><td class="num">1\.25×/);
  assert.match(summary, /no timing<\/td><td class="num">90\.00%<\/td><td class="num">—<\/td><td class="num">—/);
  assert.match(html, /Not plotted \(no speed-up measured\): no timing\./);
  // Layers: elimination rate from K and K'; a missing time is a dash.
  assert.match(html, /<td>conv1<\/td><td>Conv<\/td><td class="num">150<\/td><td class="num">90<\/td><td class="num">40\.00%<\/td><td>e6m5<\/td><td>fp32<\/td>/);
  assert.match(html, /<td>fc0<\/td>.*<td>—<\/td><td class="num">0\.300<\/td><td class="num">—<\/td><\/tr>/);
});

test('renderReport: a script-ending name in the data cannot break out of the JSON block', () => {
  const html = renderReport({ ...sample, variants: [{ name: '</script><script>alert(1)</script>', accuracy: 0.5, speedup: 1, baseline: true }], layers: [] });
  assert.equal(html.match(/<script/g)!.length, 3, 'only the report\'s own three scripts');
  assert.ok(html.includes('\\u003c/script>'));
});

test('renderReport: without layers or times, the time chart is left out with a note', () => {
  const noTimes = renderReport({ ...sample, layers: sample.layers!.map(({ timeBeforeMs: _b, timeAfterMs: _a, ...l }) => l) });
  assert.ok(noTimes.includes('id="chart-layers"'));
  assert.ok(!noTimes.includes('id="chart-times"'));
  assert.match(noTimes, /No per-layer times were measured/);
  const noLayers = renderReport({ model: 'm', backend: 'cpu', date: '2026-11-26', variants: [{ name: 'dense', accuracy: 1, baseline: true }] });
  assert.ok(!noLayers.includes('id="chart-layers"') && !noLayers.includes('<table id="layers"'));
  assert.match(noLayers, /No per-layer data/);
});

test('renderReport: bad data gets errors that name the field', () => {
  const bad = (patch: Partial<ReportData>, re: RegExp) => assert.throws(() => renderReport({ ...sample, ...patch }), (e: unknown) => e instanceof ReportError && re.test(e.message));
  bad({ model: '' }, /model must be a non-empty string/);
  bad({ variants: [{ name: 'x', accuracy: 98 }] }, /variants\[0\] \('x'\): accuracy must be a fraction in \[0, 1\], got 98/);
  bad({ variants: [{ name: 'x', accuracy: 0.9, latencyMs: -1 }] }, /latencyMs must be a positive number/);
  bad({ variants: [{ name: 'a', accuracy: 0.9, baseline: true }, { name: 'b', accuracy: 0.9, baseline: true }] }, /at most one variant may be the baseline/);
  bad({ layers: [{ node: 'c', op: 'Conv', k: 10, kept: 11 }] }, /layers\[0\] \('c'\): kept must be an integer in \[0, k=10\], got 11/);
  bad({ layers: [{ node: 'c', op: 'Conv', k: 0 }] }, /k must be a positive integer/);
});

/** Non-transparent pixels in a canvas, counted in the page. */
function paintedPixels(page: Page, id: string): Promise<number> {
  return page.evaluate((canvasId) => {
    const c = document.getElementById(canvasId) as HTMLCanvasElement | null;
    if (!c) return -1;
    const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
    return n;
  }, id);
}

/**
 * Pixels of one exact colour inside the plot area (legend boxes excluded), to see that the data
 * marks themselves were drawn.
 */
function pixelsOfColour(page: Page, id: string, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    ([canvasId, [r, g, b]]) => {
      type Area = { left: number; right: number; top: number; bottom: number };
      const c = document.getElementById(canvasId) as HTMLCanvasElement;
      const chart = (globalThis as unknown as { Chart: { getChart(c: HTMLCanvasElement): { chartArea: Area } } }).Chart.getChart(c);
      const s = c.width / c.clientWidth; // chartArea is in CSS pixels
      const a = chart.chartArea;
      const x0 = Math.floor(a.left * s);
      const y0 = Math.floor(a.top * s);
      const px = c.getContext('2d')!.getImageData(x0, y0, Math.ceil((a.right - a.left) * s), Math.ceil((a.bottom - a.top) * s)).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i] === r && px[i + 1] === g && px[i + 2] === b && px[i + 3] === 255) n++;
      return n;
    },
    [id, rgb] as const,
  );
}

test('the report draws its three plots in headless Chromium, offline', { skip: !chromium && 'no Chromium', timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-report-'));
  const browser = await launchChromium();
  try {
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(sample));
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    assert.deepEqual(errors, [], 'no script errors');
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'no network requests');

    for (const id of ['chart-pareto', 'chart-layers', 'chart-times']) {
      const n = await paintedPixels(page, id);
      assert.ok(n > 2000, `canvas #${id} was drawn (${n} painted pixels)`);
    }
    // The data marks themselves: the Pareto line's red, the e6m5 bars' blue, the 'after' bars' green.
    assert.ok((await pixelsOfColour(page, 'chart-pareto', [0xe1, 0x57, 0x59])) > 50, 'Pareto front line drawn');
    assert.ok((await pixelsOfColour(page, 'chart-layers', [0x4e, 0x79, 0xa7])) > 200, 'elimination-rate bars drawn');
    assert.ok((await pixelsOfColour(page, 'chart-times', [0x59, 0xa1, 0x4f])) > 200, "'after' time bars drawn");

    const rows = await page.$$eval('#summary tbody tr', (trs) => trs.map((tr) => (tr.firstElementChild as HTMLElement).innerText));
    assert.deepEqual(rows, sample.variants.map((v) => v.name));
    assert.equal(await page.locator('#layers tbody tr').count(), sample.layers!.length);
    assert.equal(await page.title(), 'deftnn report: lenet5 <zoo>');

    // The charts read the same data Chart.js was given: 6 plotted points and a 4-point front.
    const counts = await page.evaluate(() => {
      const chart = (globalThis as unknown as { Chart: { getChart(id: string): { data: { datasets: { data: unknown[] }[] } } } }).Chart.getChart('chart-pareto');
      return chart.data.datasets.map((d) => d.data.length);
    });
    // front: dense (1.0, 98.35), e6m5 (1.33, 98.3), SVE 30% + e6m5 (1.82, 97.95); SVE 30% (1.25, 98.1) is beaten by e6m5.
    assert.deepEqual(counts, [3, 6]);
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
