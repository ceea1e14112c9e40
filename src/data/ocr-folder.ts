// Folders of rendered OCR data on disk, as scripts/render-ocr.ts writes them:
//   DIR/cls/0/*.png, DIR/cls/180/*.png   direction-classifier lines by label, 192x48 in the
//                                        classifier's geometry (ocr-sets.ts classifierPicture; the
//                                        layout `deftnn eval/optimize --dataset DIR/cls` reads)
//   DIR/rec/*.png, DIR/rec/labels.tsv    recogniser lines; labels.tsv: one "file<TAB>text" per line,
//                                        UTF-8, no header (texts never hold tabs or newlines)
//   DIR/det/*.png, DIR/det/boxes.json    pages; boxes.json: {"pages": [{"file", "width", "height",
//                                        "lines": [{"text", "box": [[x, y] x 4]}]}]}, corners
//                                        top-left, top-right, bottom-right, bottom-left
// The readers below load rec/ and det/ (images decoded) and say what is wrong with a folder.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage } from '../image/decode.js';
import type { Image } from '../image/image.js';
import { DeftnnError } from '../errors.js';
import type { Quad } from './render/index.js';

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
