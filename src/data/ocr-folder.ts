// Folders of rendered OCR data on disk, as scripts/render-ocr.ts writes them:
//   DIR/cls/0/*.png, DIR/cls/180/*.png   direction-classifier lines by label, 192x48 in the
//                                        classifier's geometry (ocr-sets.ts classifierPicture; the
//                                        layout `deftnn eval/optimize --dataset DIR/cls` reads)
//   DIR/rec/*.png, DIR/rec/labels.tsv    recogniser lines; labels.tsv: one "file<TAB>text" per line,
//                                        UTF-8, no header (texts never hold tabs or newlines)
//   DIR/det/*.png, DIR/det/boxes.json    pages; boxes.json: {"pages": [{"file", "width", "height",
//                                        "lines": [{"text", "box": [[x, y] x 4]}]}]}, corners
//                                        top-left, top-right, bottom-right, bottom-left
//   DIR/README.txt                       seeds, counts, font, commit: how to make it again
// writeOcrFolder renders and writes one (scripts/render-ocr.ts is its command line); the readers
// load rec/ and det/ (images decoded) and say what is wrong with a folder.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { DeftnnError } from '../errors.js';
import { decodeImage } from '../image/decode.js';
import type { Image } from '../image/image.js';
import { classifierPicture } from './ocr-sets.js';
import { fontFamily, renderLine, renderPage, rotate180, type Quad } from './render/index.js';

export class OcrFolderError extends DeftnnError {
  override name = 'OcrFolderError';
}

export interface RecSample {
  readonly file: string;
  readonly image: Image;
  readonly text: string;
}

export interface DetSample {
  readonly file: string;
  readonly image: Image;
  readonly lines: readonly { readonly text: string; readonly box: Quad }[];
}

function need(path: string, what: string): void {
  if (!existsSync(path)) throw new OcrFolderError(`${path} is missing: ${what} (scripts/render-ocr.ts writes this layout)`);
}

function image(dir: string, file: string, where: string): Image {
  if (file.includes('/') || file.includes('\\') || file.startsWith('.')) throw new OcrFolderError(`${where}: '${file}' must be a plain file name inside ${dir}`);
  const path = join(dir, file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new OcrFolderError(`${where} names ${file}, which is not in ${dir}`);
  return decodeImage(new Uint8Array(readFileSync(path)), path);
}

/** Lines and their texts from DIR/rec (or from a rec folder itself). */
export function readRecFolder(dir: string): RecSample[] {
  const rec = existsSync(join(dir, 'rec', 'labels.tsv')) ? join(dir, 'rec') : dir;
  const labels = join(rec, 'labels.tsv');
  need(labels, 'the recogniser labels, one "file<TAB>text" per line');
  const out: RecSample[] = [];
  readFileSync(labels, 'utf8').split('\n').forEach((row, i) => {
    if (row === '') return;
    const tab = row.indexOf('\t');
    if (tab <= 0) throw new OcrFolderError(`${labels} line ${i + 1}: expected "file<TAB>text", got ${JSON.stringify(row.slice(0, 80))}`);
    const file = row.slice(0, tab);
    out.push({ file, image: image(rec, file, `${labels} line ${i + 1}`), text: row.slice(tab + 1) });
  });
  if (!out.length) throw new OcrFolderError(`${labels} lists no lines`);
  return out;
}

const isPoint = (p: unknown): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number' && Number.isFinite(v));

/** Pages, their lines' texts and boxes from DIR/det (or from a det folder itself). */
export function readDetFolder(dir: string): DetSample[] {
  const det = existsSync(join(dir, 'det', 'boxes.json')) ? join(dir, 'det') : dir;
  const boxes = join(det, 'boxes.json');
  need(boxes, 'the pages\' ground truth');
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(boxes, 'utf8'));
  } catch (e) {
    throw new OcrFolderError(`${boxes} is not valid JSON: ${(e as Error).message}`);
  }
  const pages = (doc as { pages?: unknown }).pages;
  if (!Array.isArray(pages)) throw new OcrFolderError(`${boxes} must hold {"pages": [...]}`);
  return pages.map((p, i) => {
    const where = `${boxes} page ${i}`;
    const { file, lines } = p as { file?: unknown; lines?: unknown };
    if (typeof file !== 'string') throw new OcrFolderError(`${where}: "file" must be a string`);
    if (!Array.isArray(lines)) throw new OcrFolderError(`${where} (${file}): "lines" must be a list`);
    const img = image(det, file, where);
    const parsed = lines.map((l, k) => {
      const { text, box } = l as { text?: unknown; box?: unknown };
      if (typeof text !== 'string') throw new OcrFolderError(`${where} (${file}) line ${k}: "text" must be a string`);
      if (!Array.isArray(box) || box.length !== 4 || !box.every(isPoint)) throw new OcrFolderError(`${where} (${file}) line ${k}: "box" must be 4 [x, y] points`);
      return { text, box: box as unknown as Quad };
    });
    const { width, height } = p as { width?: unknown; height?: unknown };
    if ((width !== undefined && width !== img.width) || (height !== undefined && height !== img.height)) {
      throw new OcrFolderError(`${where}: ${file} is ${img.width}x${img.height}, boxes.json says ${width}x${height}`);
    }
    return { file, image: img, lines: parsed };
  });
}

export function encodePng(img: Image): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.rgba.buffer, img.rgba.byteOffset, img.rgba.byteLength);
  return PNG.sync.write(png);
}

export interface WriteOptions {
  readonly out: string;
  /** Lines 0..lines-1 of `seed` (cls/ and rec/). */
  readonly lines: number;
  /** Pages 0..pages-1 of `pageSeed` (det/). */
  readonly pages: number;
  readonly seed: number;
  readonly pageSeed?: number;
  /** Render every sample in this family (e.g. HELD_OUT_FONT). */
  readonly font?: string;
  /** Replace an existing folder. */
  readonly force?: boolean;
  /** For README.txt. */
  readonly commit?: string;
  readonly onProgress?: (stage: 'lines' | 'pages', done: number, total: number) => void;
}

/**
 * Render a set and write it in the layout above. Nothing is written half: the folder is built
 * next to `out` under a temporary name and renamed into place at the end (an existing folder is
 * replaced only with `force`, after the new one is complete).
 */
export async function writeOcrFolder(o: WriteOptions): Promise<void> {
  const out = resolve(o.out);
  const pageSeed = o.pageSeed ?? o.seed;
  if (o.font) fontFamily(o.font);
  if (existsSync(out) && !o.force) throw new OcrFolderError(`${out} exists; pass --force to replace it`);
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  for (const d of ['cls/0', 'cls/180', 'rec', 'det']) mkdirSync(join(tmp, d), { recursive: true });
  const opts = o.font ? { font: o.font } : {};
  const name = (i: number) => `${String(i).padStart(6, '0')}.png`;
  try {
    const labels: string[] = [];
    for (let i = 0; i < o.lines; i++) {
      const line = await renderLine(o.seed, i, opts);
      if (/[\t\n]/.test(line.text)) throw new OcrFolderError(`line ${i}'s text holds a tab or newline, which labels.tsv cannot store`);
      writeFileSync(join(tmp, 'rec', name(i)), encodePng(line.image));
      labels.push(`${name(i)}\t${line.text}\n`);
      writeFileSync(join(tmp, 'cls', i % 2 ? '180' : '0', name(i)), encodePng(classifierPicture(i % 2 ? rotate180(line.image) : line.image)));
      o.onProgress?.('lines', i + 1, o.lines);
    }
    writeFileSync(join(tmp, 'rec', 'labels.tsv'), labels.join(''));
    const pages = [];
    for (let i = 0; i < o.pages; i++) {
      const page = await renderPage(pageSeed, i, opts);
      writeFileSync(join(tmp, 'det', name(i)), encodePng(page.image));
      const box = (q: Quad) => q.map(([x, y]) => [+x.toFixed(2), +y.toFixed(2)]);
      pages.push({ file: name(i), width: page.image.width, height: page.image.height, lines: page.lines.map((l) => ({ text: l.text, box: box(l.box) })) });
      o.onProgress?.('pages', i + 1, o.pages);
    }
    writeFileSync(join(tmp, 'det', 'boxes.json'), `${JSON.stringify({ pages })}\n`);
    writeFileSync(
      join(tmp, 'README.txt'),
      `Rendered by deftnn's writeOcrFolder (scripts/render-ocr.ts) at commit ${o.commit ?? '?'} on ${new Date().toISOString()}\n` +
        `lines: ${o.lines} of seed ${o.seed} (cls/0: even, cls/180: odd, turned, both as 192x48 classifier pictures; rec: all upright)\n` +
        `pages: ${o.pages} of seed ${pageSeed}\nfont: ${o.font ?? 'sampled (held-out family excluded)'}\n` +
        `again: npx tsx scripts/render-ocr.ts --out DIR --lines ${o.lines} --pages ${o.pages} --seed ${o.seed} --page-seed ${pageSeed}${o.font ? ` --font '${o.font}'` : ''}\n`,
    );
    if (existsSync(out)) {
      const old = `${tmp}.old`;
      renameSync(out, old);
      renameSync(tmp, out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, out);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
