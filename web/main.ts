// The browser demo: two models side by side on WebGPU, the original and the optimised one, read
// by deftnn's own load() (ONNX or .deft, fetched by URL). The user draws a digit (mouse, pen or
// touch) or picks an image; it is turned into an MNIST-like 28x28 input (digit.ts) and both models
// run on it, showing their answer, class probabilities and median latency.
//
// Query parameters: ?original=URL&optimized=URL (defaults: models/models.json, written by
// scripts/build-web.ts: the zoo LeNet-5 against its optimised file when one was built, else
// against itself), &runs=N timed runs per model (default 5).

import { load, type Model } from '../src/model.js';
import { Tensor } from '../src/tensor.js';
import { inkFromRgba, SIDE, toMnist } from './digit.js';

const FALLBACK_MODEL = 'models/lenet5.onnx';

/** The models to compare: query parameters first, then models/models.json, then the zoo LeNet-5. */
async function modelUrls(): Promise<Record<Panel['key'], string>> {
  let defaults: Partial<Record<Panel['key'], string>> = {};
  try {
    const res = await fetch('models/models.json');
    if (res.ok) defaults = (await res.json()) as typeof defaults;
  } catch {
    // No list next to the page: the fallback below.
  }
  const pick = (key: Panel['key']) => params.get(key) || (typeof defaults[key] === 'string' ? defaults[key] : '') || FALLBACK_MODEL;
  return { original: pick('original'), optimized: pick('optimized') };
}

interface Panel {
  readonly key: 'original' | 'optimized';
  readonly root: HTMLElement;
  model?: Model;
}

interface Answer {
  readonly top: number;
  readonly probs: number[];
  readonly medianMs: number;
  readonly runs: number;
}

/** What the page last did, for people poking at it in the console and for the end-to-end test. */
interface DemoState {
  input: number[] | null;
  /** Classifications finished (or failed) so far. */
  completed: number;
  answers: Partial<Record<Panel['key'], Answer>>;
  adapter: string | null;
}
const state: DemoState = { input: null, completed: 0, answers: {}, adapter: null };
(globalThis as { deftnnDemo?: DemoState }).deftnnDemo = state;

const $ = <T extends HTMLElement>(sel: string) => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`the page lacks ${sel}`);
  return el;
};

const params = new URLSearchParams(location.search);
const runs = Math.max(1, Math.min(50, Number(params.get('runs')) || 5));
const pad = $<HTMLCanvasElement>('#pad');
const preview = $<HTMLCanvasElement>('#preview');
const status = $<HTMLElement>('#status');
const panels: Panel[] = [
  { key: 'original', root: $('#original') },
  { key: 'optimized', root: $('#optimized') },
];
const padCtx = pad.getContext('2d', { willReadFrequently: true })!;

function setState(s: 'loading' | 'ready' | 'busy' | 'done' | 'error', text: string): void {
  document.body.dataset.state = s;
  status.textContent = text;
}

function clearPad(): void {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
}

// Drawing: pointer events cover mouse, pen and touch alike; white ink on black, like MNIST.
function setUpDrawing(): void {
  clearPad();
  let last: { x: number; y: number } | null = null;
  const at = (e: PointerEvent) => {
    const r = pad.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
  };
  const stroke = (from: { x: number; y: number }, to: { x: number; y: number }) => {
    padCtx.strokeStyle = '#fff';
    padCtx.lineWidth = pad.width / 12;
    padCtx.lineCap = 'round';
    padCtx.lineJoin = 'round';
    padCtx.beginPath();
    padCtx.moveTo(from.x, from.y);
    padCtx.lineTo(to.x, to.y);
    padCtx.stroke();
  };
  pad.addEventListener('pointerdown', (e) => {
    pad.setPointerCapture(e.pointerId);
    last = at(e);
    stroke(last, last);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    stroke(last, p);
    last = p;
  });
  const end = () => {
    if (!last) return;
    last = null;
    void classify();
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
}

/** Draw a picked image onto the pad, fitted and centred, on its own background. */
async function showImage(file: File): Promise<void> {
  const bitmap = await createImageBitmap(file);
  try {
    const s = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * s;
    const h = bitmap.height * s;
    // The pad's border must read as the image's background, so inkFromRgba can tell dark ink on
    // paper from light ink: extend the image's corner colour to the whole pad first.
    const probe = new OffscreenCanvas(1, 1).getContext('2d')!;
    probe.drawImage(bitmap, 0, 0, 1, 1, 0, 0, 1, 1);
    const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
    padCtx.fillStyle = `rgb(${r}, ${g}, ${b})`;
    padCtx.fillRect(0, 0, pad.width, pad.height);
    padCtx.imageSmoothingQuality = 'high';
    padCtx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } finally {
    bitmap.close();
  }
}

/** The pad as the models' 28x28 input, also shown in the preview; null when the pad is empty. */
function padInput(): Float32Array | null {
  const img = padCtx.getImageData(0, 0, pad.width, pad.height);
  const x = toMnist(inkFromRgba(img.data, img.width, img.height), img.width, img.height);
  const pctx = preview.getContext('2d')!;
  const out = pctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(255 * (x ? x[i] : 0));
    out.data.set([v, v, v, 255], 4 * i);
  }
  pctx.putImageData(out, 0, 0);
  return x;
}

/** Probabilities from a model's output: softmax unless it already is a distribution. */
function probabilities(y: Float32Array): number[] {
  const v = Array.from(y);
  const sum = v.reduce((a, b) => a + b, 0);
  if (v.every((p) => p >= 0) && Math.abs(sum - 1) < 1e-3) return v;
  const m = Math.max(...v);
  const e = v.map((z) => Math.exp(z - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((z) => z / s);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

let busy = false;
let again = false;

async function classify(): Promise<void> {
  if (panels.some((p) => !p.model)) return;
  if (busy) {
    again = true; // a stroke ended mid-run: run once more afterwards, on the latest drawing
    return;
  }
  busy = true;
  try {
    const x = padInput();
    state.input = x && Array.from(x);
    if (!x) {
      state.answers = {};
      for (const p of panels) showAnswer(p, null);
      setState('ready', 'Draw a digit (or pick an image).');
      return;
    }
    setState('busy', 'Running…');
    const feeds = panels.map((p) => ({ [p.model!.inputs[0].name]: new Tensor(p.model!.inputs[0].shape, x) }));
    // Warm-up, then timed runs interleaved between the models so that both see the same conditions.
    const outs = await Promise.all(panels.map((p, i) => p.model!.run(feeds[i])));
    const times: number[][] = panels.map(() => []);
    for (let r = 0; r < runs; r++) {
      for (const [i, p] of panels.entries()) {
        const t0 = performance.now();
        outs[i] = await p.model!.run(feeds[i]);
        times[i].push(performance.now() - t0);
      }
    }
    state.answers = {};
    for (const [i, p] of panels.entries()) {
      const probs = probabilities(outs[i][p.model!.outputs[0].name].data);
      const answer: Answer = { top: probs.indexOf(Math.max(...probs)), probs, medianMs: median(times[i]), runs };
      state.answers[p.key] = answer;
      showAnswer(p, answer);
    }
    setState('done', `Done: both models ran on ${state.adapter ?? 'WebGPU'}.`);
  } catch (e) {
    setState('error', `Error: ${(e as Error).message}`);
    console.error(e);
  } finally {
    busy = false;
    state.completed++;
    if (again) {
      again = false;
      void classify();
    }
  }
}

function showAnswer(p: Panel, a: Answer | null): void {
  const top = p.root.querySelector<HTMLElement>('.top')!;
  const latency = p.root.querySelector<HTMLElement>('.latency')!;
  const list = p.root.querySelector<HTMLOListElement>('.probs')!;
  top.textContent = a ? String(a.top) : '–';
  latency.textContent = a ? `${a.medianMs.toFixed(2)} ms (median of ${a.runs} runs)` : '';
  p.root.dataset.top = a ? String(a.top) : '';
  p.root.dataset.latencyMs = a ? a.medianMs.toFixed(4) : '';
  list.replaceChildren(
    ...(a?.probs ?? []).map((q, k) => {
      const li = document.createElement('li');
      li.className = k === a!.top ? 'best' : '';
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${(100 * q).toFixed(1)}%`;
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = `${k}: ${(100 * q).toFixed(1)}%`;
      li.append(bar, label);
      return li;
    }),
  );
}

async function main(): Promise<void> {
  setUpDrawing();
  $<HTMLButtonElement>('#clear').addEventListener('click', () => {
    clearPad();
    void classify();
  });
  $<HTMLButtonElement>('#run').addEventListener('click', () => void classify());
  $<HTMLInputElement>('#file').addEventListener('change', async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    try {
      await showImage(file);
    } catch (err) {
      setState('error', `Error: cannot read the image '${file.name}': ${(err as Error).message}`);
      return;
    }
    await classify();
  });

  if (!('gpu' in navigator)) {
    setState('error', 'This browser has no WebGPU (navigator.gpu). Try a recent Chrome or Edge, or Firefox/Safari with WebGPU enabled.');
    return;
  }
  setState('loading', 'Loading the models…');
  try {
    const urls = await modelUrls();
    await Promise.all(
      panels.map(async (p) => {
        const url = urls[p.key];
        p.root.querySelector<HTMLElement>('.source')!.textContent = url;
        const t0 = performance.now();
        const model = await load(url, { backend: 'webgpu' });
        const input = model.inputs[0];
        if (model.inputs.length !== 1 || input.shape.join(',') !== `1,1,${SIDE},${SIDE}`) {
          model.dispose();
          throw new Error(`${url}: this demo needs one input of shape [1, 1, ${SIDE}, ${SIDE}], the model has ${model.inputs.map((v) => `${v.name} [${v.shape.join(', ')}]`).join(', ')}`);
        }
        p.model = model;
        state.adapter = model.gpu?.name ?? null;
        p.root.querySelector<HTMLElement>('.loaded')!.textContent = `loaded in ${(performance.now() - t0).toFixed(0)} ms`;
      }),
    );
  } catch (e) {
    setState('error', `Error: ${(e as Error).message}`);
    console.error(e);
    return;
  }
  $<HTMLElement>('#adapter').textContent = state.adapter ?? '';
  setState('ready', 'Draw a digit (or pick an image).');
}

void main();
