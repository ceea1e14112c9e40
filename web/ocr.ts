// The browser demo's OCR mode: PaddleOCR's three models (detector, direction classifier,
// recogniser) loaded by deftnn's loadOcrModels from URLs next to the page, and deftnn's ocr()
// pipeline run on an image the user drops or picks. The page draws the detected boxes over the
// image, lists the text read (turned lines marked) and the time per stage.
//
// Query parameters: ?models=URL-prefix (default models/ocr/, written by scripts/build-web.ts),
// &nocls to skip the direction classifier.

import type { Image } from '../src/image/image.js';
import { loadOcrModels, type OcrModels } from '../src/ocr/models.js';
import { ocr, type OcrResult } from '../src/ocr/ocr.js';

/** What the page last did, for people poking at it in the console and for the end-to-end test. */
interface OcrDemoState {
  /** Pages read (or failed) so far. */
  completed: number;
  result: OcrResult | null;
  error: string | null;
  adapter: string | null;
}
const state: OcrDemoState = { completed: 0, result: null, error: null, adapter: null };
(globalThis as { deftnnOcr?: OcrDemoState }).deftnnOcr = state;

const $ = <T extends HTMLElement>(sel: string) => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`the page lacks ${sel}`);
  return el;
};

const params = new URLSearchParams(location.search);
const prefix = params.get('models') ?? 'models/ocr/';
const status = $<HTMLElement>('#status');
const canvas = $<HTMLCanvasElement>('#page');
let models: OcrModels | undefined;
let busy = false;

function setState(s: 'loading' | 'ready' | 'busy' | 'done' | 'error', text: string): void {
  document.body.dataset.state = s;
  status.textContent = text;
}

/** The picked file as RGBA pixels, through the browser's own decoder. */
async function decode(file: Blob): Promise<Image> {
  const bitmap = await createImageBitmap(file);
  try {
    const c = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d')!;
    c.drawImage(bitmap, 0, 0);
    const { data, width, height } = c.getImageData(0, 0, bitmap.width, bitmap.height);
    return { width, height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } finally {
    bitmap.close();
  }
}

function drawPage(page: Image, result: OcrResult | null): void {
  canvas.width = page.width;
  canvas.height = page.height;
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(new ImageData(new Uint8ClampedArray(page.rgba), page.width, page.height), 0, 0);
  document.body.dataset.hasImage = '';
  if (!result) return;
  ctx.lineWidth = Math.max(2, page.width / 400);
  ctx.font = `${Math.max(12, page.width / 60)}px system-ui, sans-serif`;
  result.lines.forEach((line, i) => {
    ctx.strokeStyle = line.angle === 180 ? '#e15759' : '#4e79a7';
    ctx.beginPath();
    line.box.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fillText(String(i + 1), line.box[0][0], line.box[0][1] - 3);
  });
}

function showResult(result: OcrResult | null): void {
  $<HTMLOListElement>('#lines').replaceChildren(
    ...(result?.lines ?? []).map((line) => {
      const li = document.createElement('li');
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = line.text;
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = line.score.toFixed(3);
      li.append(text, score);
      if (line.angle === 180) {
        const turned = document.createElement('span');
        turned.className = 'turned';
        turned.textContent = 'turned 180°';
        li.append(turned);
      }
      return li;
    }),
  );
  const stages: [string, number][] = result
    ? [
        ['detector', result.timings.detect],
        ['boxes (DB post-processing)', result.timings.boxes],
        ['crops', result.timings.crop],
        ['direction classifier', result.timings.classify],
        ['recogniser', result.timings.recognize],
        ['total', result.timings.total],
      ]
    : [];
  $<HTMLTableElement>('#timings').tBodies[0].replaceChildren(
    ...stages.map(([name, ms]) => {
      const tr = document.createElement('tr');
      const a = document.createElement('td');
      a.textContent = name;
      const b = document.createElement('td');
      b.className = 'ms';
      b.textContent = `${ms.toFixed(1)} ms`;
      tr.append(a, b);
      return tr;
    }),
  );
}

async function read(file: File): Promise<void> {
  if (!models || busy) return;
  busy = true;
  try {
    setState('busy', `Reading ${file.name}…`);
    const page = await decode(file).catch((e: Error) => {
      throw new Error(`cannot decode '${file.name}' as an image (${e.message})`);
    });
    drawPage(page, null);
    showResult(null);
    // The first read compiles the models' kernels; later pages and line widths reuse them (kernels
    // are shape-generic), but a person should know why the first one is slow.
    setState('busy', `Reading ${file.name}… (the first page compiles the models' kernels, so it is slow)`);
    const result = await ocr(page, models, { classify: !params.has('nocls') });
    state.result = result;
    state.error = null;
    drawPage(page, result);
    showResult(result);
    setState('done', result.lines.length ? `Read ${result.lines.length} line(s) in ${result.timings.total.toFixed(0)} ms.` : 'No text found on this image.');
  } catch (e) {
    state.result = null;
    state.error = (e as Error).message;
    setState('error', `Error: ${(e as Error).message}`);
    console.error(e);
  } finally {
    busy = false;
    state.completed++;
  }
}

async function main(): Promise<void> {
  const drop = $<HTMLElement>('#drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void read(file);
  });
  $<HTMLInputElement>('#file').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) void read(file);
  });

  if (!('gpu' in navigator)) {
    setState('error', 'This browser has no WebGPU (navigator.gpu). Try a recent Chrome or Edge, or Firefox/Safari with WebGPU enabled.');
    return;
  }
  setState('loading', 'Loading the three models (about 16 MB)…');
  try {
    const t0 = performance.now();
    models = await loadOcrModels({
      det: `${prefix}ch_PP-OCRv4_det_infer.onnx`,
      cls: params.has('nocls') ? false : `${prefix}ch_ppocr_mobile_v2.0_cls_infer.onnx`,
      rec: `${prefix}ch_PP-OCRv4_rec_infer.onnx`,
      keys: `${prefix}ppocr_keys_v1.txt`,
      backend: 'webgpu',
    });
    state.adapter = models.device;
    $<HTMLElement>('#adapter').textContent = `${models.device ?? ''}; models loaded in ${(performance.now() - t0).toFixed(0)} ms`;
  } catch (e) {
    state.error = (e as Error).message;
    setState('error', `Error: ${(e as Error).message}`);
    console.error(e);
    return;
  }
  setState('ready', 'Drop an image of text (or pick one).');
}

void main();
