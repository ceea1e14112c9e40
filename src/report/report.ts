// The HTML report of an optimisation run: one self-contained page (no network: Chart.js's UMD
// build and the data are inlined) with three plots and plain tables:
//
//   1. accuracy against speed-up, one point per variant, the Pareto front drawn as a line;
//   2. per-layer elimination rate, bars coloured by the layer's weight format;
//   3. per-layer time before and after (grouped bars), only when some layer has times.
//
// The page is built from a ReportData value, so whoever measured (the CLI, a benchmark) only
// fills in numbers. Every text from the data reaches the page either HTML-escaped or inside a
// JSON block that Chart.js reads (and draws as canvas text, never as HTML).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DeftnnError } from '../errors.js';

/** One model variant measured by the run (the dense baseline is one of them). */
export interface ReportVariant {
  /** E.g. 'dense fp32', 'SVE 40%', 'SVE 40% + e6m5'. */
  readonly name: string;
  /** Top-1 accuracy (or agreement with the original) as a fraction in [0, 1]. */
  readonly accuracy: number;
  /** Median end-to-end latency in milliseconds, when measured. */
  readonly latencyMs?: number;
  /**
   * Speed-up over the dense baseline (baseline latency / this latency). When absent it is computed
   * from latencyMs and the baseline's latencyMs, if both exist.
   */
  readonly speedup?: number;
  /** True for the dense, unoptimised model the speed-ups are relative to. */
  readonly baseline?: boolean;
  /** Synapse vector elimination applied. */
  readonly eliminated?: boolean;
  /** Near-compute data fission (packed formats) applied. */
  readonly packed?: boolean;
  /** Fine-tuned after optimisation. */
  readonly fineTuned?: boolean;
}

/** One Conv/Gemm layer of the optimised model. */
export interface ReportLayer {
  /** The graph node's name. */
  readonly node: string;
  /** Its op type, e.g. 'Conv' or 'Gemm'. */
  readonly op: string;
  /** Rows of the reduction dimension before elimination (K). */
  readonly k: number;
  /** Rows kept (K'); defaults to k (nothing eliminated). */
  readonly kept?: number;
  /** Storage format of the weights, e.g. 'fp32' or 'e6m5'. */
  readonly weightFormat?: string;
  /** Storage format of the layer's output activations. */
  readonly activationFormat?: string;
  /** Time of the layer in the original model, milliseconds. */
  readonly timeBeforeMs?: number;
  /** Time of the layer in the optimised model, milliseconds. */
  readonly timeAfterMs?: number;
}

export interface ReportData {
  /** The model's name or file. */
  readonly model: string;
  /** 'webgpu' or 'cpu'. */
  readonly backend: string;
  /** The adapter's name, when the backend is WebGPU. */
  readonly adapter?: string;
  /** When the run happened (a Date, or a string shown as given). */
  readonly date: Date | string;
  /** What `accuracy` measures, e.g. 'top-1 accuracy, mnist test (2,000)'. */
  readonly metric?: string;
  readonly variants: readonly ReportVariant[];
  readonly layers?: readonly ReportLayer[];
  /** Free-text remarks shown under the header (e.g. 'lavapipe: timings are ratios only'). */
  readonly notes?: readonly string[];
}

export class ReportError extends DeftnnError {
  override name = 'ReportError';
}

/** A variant with its speed-up resolved (null when it cannot be known). */
interface ResolvedVariant extends ReportVariant {
  readonly speedupResolved: number | null;
  readonly pareto: boolean;
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Render the report as one HTML page (a string; write it where you like). */
export function renderReport(data: ReportData): string {
  validate(data);
  const variants = resolveVariants(data.variants);
  const layers = data.layers ?? [];
  const hasTimes = layers.some((l) => finite(l.timeBeforeMs) || finite(l.timeAfterMs));
  const date = data.date instanceof Date ? data.date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : data.date;
  const metric = data.metric ?? 'accuracy';
  const unplotted = variants.filter((v) => v.speedupResolved === null).map((v) => v.name);

  const chartData = {
    metric,
    variants: variants.map((v) => ({ name: v.name, accuracy: v.accuracy, speedup: v.speedupResolved, pareto: v.pareto, baseline: !!v.baseline })),
    layers: layers.map((l) => ({
      node: l.node,
      op: l.op,
      k: l.k,
      kept: l.kept ?? l.k,
      rate: eliminationRate(l),
      weightFormat: l.weightFormat ?? null,
      activationFormat: l.activationFormat ?? null,
      before: finite(l.timeBeforeMs) ? l.timeBeforeMs : null,
      after: finite(l.timeAfterMs) ? l.timeAfterMs : null,
    })),
    hasTimes,
  };

  const head = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>deftnn report: ${esc(data.model)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>deftnn report: ${esc(data.model)}</h1>
<p class="meta">Backend <b>${esc(data.backend)}</b>${data.adapter ? ` on <b>${esc(data.adapter)}</b>` : ''} · ${esc(date)} · ${esc(metric)}</p>
${data.notes?.length ? `<ul class="notes">${data.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
</header>`;

  const scatter = `<section>
<h2>Accuracy against speed-up</h2>
<div class="chart"><canvas id="chart-pareto" role="img" aria-label="accuracy against speed-up, Pareto front as a line"></canvas></div>
${unplotted.length ? `<p class="note">Not plotted (no speed-up measured): ${unplotted.map(esc).join(', ')}.</p>` : ''}
</section>`;

  const layerCharts = layers.length
    ? `<section>
<h2>Per-layer elimination rate and formats</h2>
<div class="chart"><canvas id="chart-layers" role="img" aria-label="per-layer elimination rate, coloured by weight format"></canvas></div>
</section>
<section>
<h2>Per-layer time, before and after</h2>
${hasTimes ? `<div class="chart"><canvas id="chart-times" role="img" aria-label="per-layer time before and after"></canvas></div>` : `<p class="note">No per-layer times were measured (the adapter may lack timestamp queries).</p>`}
</section>`
    : `<section><h2>Layers</h2><p class="note">No per-layer data in this report.</p></section>`;

  const tables = `<section>
<h2>Summary</h2>
${summaryTable(variants, metric)}
</section>
${layers.length ? `<section>\n<h2>Layers</h2>\n${layerTable(layers, hasTimes)}\n</section>` : ''}`;

  return `${head}
<main>
${scatter}
${layerCharts}
${tables}
</main>
<footer>Made by deftnn · plots by Chart.js ${esc(CHART_VERSION())} (MIT licence, inlined)</footer>
<script type="application/json" id="report-data">${jsonForScript(chartData)}</script>
<script>${inlineScript(chartJsSource())}</script>
<script>${inlineScript(PAGE_SCRIPT)}</script>
</body>
</html>
`;
}

function validate(data: ReportData): void {
  if (!data || typeof data !== 'object') throw new ReportError('renderReport() takes a ReportData object');
  if (typeof data.model !== 'string' || !data.model) throw new ReportError('ReportData.model must be a non-empty string');
  if (typeof data.backend !== 'string') throw new ReportError('ReportData.backend must be a string');
  if (!(data.date instanceof Date) && typeof data.date !== 'string') throw new ReportError('ReportData.date must be a Date or a string');
  if (!Array.isArray(data.variants)) throw new ReportError('ReportData.variants must be an array');
  for (const [i, v] of data.variants.entries()) {
    if (typeof v?.name !== 'string') throw new ReportError(`variants[${i}].name must be a string`);
    if (!finite(v.accuracy) || v.accuracy < 0 || v.accuracy > 1) {
      throw new ReportError(`variants[${i}] ('${v.name}'): accuracy must be a fraction in [0, 1], got ${v.accuracy}`);
    }
    for (const key of ['latencyMs', 'speedup'] as const) {
      const x = v[key];
      if (x !== undefined && (!finite(x) || x <= 0)) throw new ReportError(`variants[${i}] ('${v.name}'): ${key} must be a positive number, got ${x}`);
    }
  }
  if (data.variants.filter((v) => v.baseline).length > 1) throw new ReportError('at most one variant may be the baseline');
  for (const [i, l] of (data.layers ?? []).entries()) {
    if (typeof l?.node !== 'string' || typeof l.op !== 'string') throw new ReportError(`layers[${i}]: node and op must be strings`);
    if (!Number.isInteger(l.k) || l.k <= 0) throw new ReportError(`layers[${i}] ('${l.node}'): k must be a positive integer, got ${l.k}`);
    if (l.kept !== undefined && (!Number.isInteger(l.kept) || l.kept < 0 || l.kept > l.k)) {
      throw new ReportError(`layers[${i}] ('${l.node}'): kept must be an integer in [0, k=${l.k}], got ${l.kept}`);
    }
    for (const key of ['timeBeforeMs', 'timeAfterMs'] as const) {
      const x = l[key];
      if (x !== undefined && (!finite(x) || x < 0)) throw new ReportError(`layers[${i}] ('${l.node}'): ${key} must be a non-negative number, got ${x}`);
    }
  }
}

/** Fraction of the layer's K rows eliminated. */
export function eliminationRate(l: ReportLayer): number {
  return 1 - (l.kept ?? l.k) / l.k;
}

function resolveVariants(variants: readonly ReportVariant[]): ResolvedVariant[] {
  const base = variants.find((v) => v.baseline);
  const speedups = variants.map((v) => {
    if (finite(v.speedup)) return v.speedup;
    if (v.baseline) return 1;
    if (base && finite(base.latencyMs) && finite(v.latencyMs)) return base.latencyMs / v.latencyMs;
    return null;
  });
  const front = paretoFront(variants.map((v, i) => ({ x: speedups[i], y: v.accuracy })));
  return variants.map((v, i) => ({ ...v, speedupResolved: speedups[i], pareto: front.has(i) }));
}

/**
 * Indices of the points no other point beats: none has at least the speed-up and the accuracy
 * of it and more of one. Points without a speed-up are never on the front.
 */
export function paretoFront(points: readonly { x: number | null; y: number }[]): Set<number> {
  const front = new Set<number>();
  points.forEach((p, i) => {
    if (p.x === null) return;
    const dominated = points.some((q, j) => j !== i && q.x !== null && q.x >= p.x! && q.y >= p.y && (q.x > p.x! || q.y > p.y));
    if (!dominated) front.add(i);
  });
  return front;
}

function summaryTable(variants: readonly ResolvedVariant[], metric: string): string {
  const flags = (v: ReportVariant) =>
    [v.baseline && 'baseline', v.eliminated && 'eliminated', v.packed && 'packed', v.fineTuned && 'fine-tuned'].filter(Boolean).join(', ') || '—';
  const rows = variants.map(
    (v) =>
      `<tr${v.pareto ? ' class="pareto"' : ''}><td>${esc(v.name)}</td><td class="num">${pct(v.accuracy)}</td><td class="num">${finite(v.latencyMs) ? fixed(v.latencyMs, 3) : '—'}</td>` +
      `<td class="num">${v.speedupResolved === null ? '—' : `${fixed(v.speedupResolved, 2)}×`}</td><td>${esc(flags(v))}</td><td>${v.pareto ? 'yes' : ''}</td></tr>`,
  );
  return `<table id="summary">
<thead><tr><th>Variant</th><th>${esc(metric)}</th><th>Latency (ms)</th><th>Speed-up</th><th>Methods</th><th>Pareto</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function layerTable(layers: readonly ReportLayer[], hasTimes: boolean): string {
  const t = (x: number | undefined) => (finite(x) ? fixed(x, 3) : '—');
  const rows = layers.map(
    (l) =>
      `<tr><td>${esc(l.node)}</td><td>${esc(l.op)}</td><td class="num">${l.k}</td><td class="num">${l.kept ?? l.k}</td><td class="num">${pct(eliminationRate(l))}</td>` +
      `<td>${esc(l.weightFormat ?? '—')}</td><td>${esc(l.activationFormat ?? '—')}</td>` +
      (hasTimes ? `<td class="num">${t(l.timeBeforeMs)}</td><td class="num">${t(l.timeAfterMs)}</td>` : '') +
      `</tr>`,
  );
  return `<table id="layers">
<thead><tr><th>Node</th><th>Op</th><th>K</th><th>K′ kept</th><th>Eliminated</th><th>Weights</th><th>Activations</th>${hasTimes ? '<th>Before (ms)</th><th>After (ms)</th>' : ''}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const fixed = (x: number, d: number) => x.toFixed(d);

/** HTML-escape text for element content and quoted attribute values. */
export function esc(s: string): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that cannot end its <script> element early (no '<' survives) nor break on U+2028/9. */
function jsonForScript(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Script text for an inline <script>: only '</script' could end it early. */
function inlineScript(js: string): string {
  if (/<\/script/i.test(js)) throw new ReportError("inline script contains '</script', which would end the element early");
  return js;
}

let chartJs: string | undefined;
let chartVersion: string | undefined;

/** Chart.js's UMD build, read from the installed package (its exports hide dist/, so resolve the main file). */
function chartJsSource(): string {
  if (chartJs === undefined) {
    const main = createRequire(import.meta.url).resolve('chart.js'); // .../chart.js/dist/chart.cjs
    chartJs = readFileSync(join(dirname(main), 'chart.umd.js'), 'utf8');
  }
  return chartJs;
}

function CHART_VERSION(): string {
  if (chartVersion === undefined) {
    const pkg = join(dirname(createRequire(import.meta.url).resolve('chart.js')), '..', 'package.json');
    chartVersion = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  }
  return chartVersion;
}

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1000px; padding: 1em 1.5em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
.meta { color: #555; margin-top: 0; } .note, .notes { color: #666; }
.chart { position: relative; height: 340px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ddd; padding: .3em .6em; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; }
tr.pareto td:first-child { font-weight: 600; }
footer { margin-top: 2em; color: #888; font-size: .85em; }
`;

// Runs in the page: reads the JSON block and draws the charts. Animation is off, so the canvases
// are fully drawn when the script ends (printing and headless checks see the final picture).
const PAGE_SCRIPT = `
(function () {
  'use strict';
  var d = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  // Writes a text beside each mark of datasets that carry \`labels\` (variant names beside the
  // points, formats above the bars), so the plots read without hovering and in print.
  var markLabels = {
    id: 'markLabels',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      chart.data.datasets.forEach(function (ds, i) {
        if (!ds.labels) return;
        chart.getDatasetMeta(i).data.forEach(function (el, j) {
          if (!ds.labels[j] || ds.data[j] === null) return;
          ctx.save(); ctx.fillStyle = '#333'; ctx.font = '11px system-ui, sans-serif';
          if (chart.config.type === 'bar') { ctx.textAlign = 'center'; ctx.fillText(ds.labels[j], el.x, el.y - 5); }
          else ctx.fillText(ds.labels[j], el.x + 6, el.y - 6);
          ctx.restore();
        });
      });
    }
  };

  var plotted = d.variants.filter(function (v) { return v.speedup !== null; });
  var front = plotted.filter(function (v) { return v.pareto; }).sort(function (a, b) { return a.speedup - b.speedup; });
  new Chart(document.getElementById('chart-pareto'), {
    type: 'scatter',
    data: { datasets: [
      { type: 'line', label: 'Pareto front', data: front.map(function (v) { return { x: v.speedup, y: 100 * v.accuracy }; }),
        borderColor: '#e15759', backgroundColor: '#e15759', borderWidth: 2, pointRadius: 0, fill: false, tension: 0 },
      { label: 'variants', data: plotted.map(function (v) { return { x: v.speedup, y: 100 * v.accuracy }; }),
        labels: plotted.map(function (v) { return v.name; }),
        backgroundColor: '#4e79a7', borderColor: '#4e79a7',
        pointStyle: plotted.map(function (v) { return v.baseline ? 'rectRot' : 'circle'; }),
        pointRadius: plotted.map(function (v) { return v.baseline ? 7 : 5; }) }
    ] },
    options: {
      layout: { padding: { right: 110, top: 10 } },
      scales: { x: { title: { display: true, text: 'speed-up over the dense baseline (×) ◆ = baseline' } },
                y: { title: { display: true, text: d.metric + ' (%)' } } },
      plugins: { tooltip: { callbacks: { label: function (c) {
        var name = c.dataset.labels ? c.dataset.labels[c.dataIndex] : c.dataset.label;
        return name + ': ' + c.parsed.x.toFixed(2) + '×, ' + c.parsed.y.toFixed(2) + '%';
      } } } }
    },
    plugins: [markLabels]
  });

  if (!d.layers.length) return;
  var names = d.layers.map(function (l) { return l.node; });
  var formats = [];
  d.layers.forEach(function (l) { var f = l.weightFormat || 'unknown'; if (formats.indexOf(f) < 0) formats.push(f); });
  new Chart(document.getElementById('chart-layers'), {
    type: 'bar',
    data: { labels: names, datasets: formats.map(function (f, i) {
      var mine = function (l) { return (l.weightFormat || 'unknown') === f; };
      return { label: 'weights ' + f, backgroundColor: palette[i % palette.length], skipNull: true,
        data: d.layers.map(function (l) { return mine(l) ? 100 * l.rate : null; }),
        labels: d.layers.map(function (l) { return mine(l) ? 'w ' + (l.weightFormat || '?') + ' · a ' + (l.activationFormat || '?') : null; }) };
    }) },
    plugins: [markLabels],
    options: {
      layout: { padding: { top: 16 } },
      datasets: { bar: { grouped: false } },
      scales: { y: { min: 0, max: 100, title: { display: true, text: 'rows of K eliminated (%)' } } },
      plugins: { tooltip: { callbacks: { afterLabel: function (c) {
        var l = d.layers[c.dataIndex];
        return l.op + ": K " + l.k + " → K' " + l.kept + ', activations ' + (l.activationFormat || 'unknown');
      } } } }
    }
  });

  if (!d.hasTimes) return;
  new Chart(document.getElementById('chart-times'), {
    type: 'bar',
    data: { labels: names, datasets: [
      { label: 'before', backgroundColor: '#bab0ac', data: d.layers.map(function (l) { return l.before; }) },
      { label: 'after', backgroundColor: '#59a14f', data: d.layers.map(function (l) { return l.after; }) }
    ] },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'time (ms)' } } } }
  });
})();
`;
