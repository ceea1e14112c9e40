// Which of Guten OCR's recogniser inputs decide its spaces: its own line crops (Detection.run) fed to
// deftnn's recogniser with sharp's resize or deftnn's, [0, 1] or [-1, 1], own width or padded to 320.
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { resizeImage, type Image } from '../src/image/image.js';
import { loadOcrModels } from '../src/ocr/models.js';
import { ctcGreedy } from '../src/ocr/ctc.js';
import { HALF_NORM } from '../src/ocr/conventions.js';
import { writeBgrPlanes, type PixelNorm } from '../src/ocr/pixels.js';

const NM = '/work/main/node_modules/@gutenye/';
await import('@gutenye/ocr-node'); // registers the backend
const { Detection } = await import(pathToFileURL(NM + 'ocr-common/build/models/Detection.js').href);
const det = await Detection.create({});
const models = await loadOcrModels({ backend: 'webgpu', cls: false });
const UNIT: PixelNorm = { mean: [0, 0, 0], std: [1, 1, 1] };
const FIX = new URL('../test/fixtures/ocr/', import.meta.url).pathname;
const pages = JSON.parse(readFileSync(FIX + 'pages.json', 'utf8')) as { file: string }[];
async function read(img: Image, norm: PixelNorm, W: number): Promise<string> {
  const data = new Float32Array(3 * 48 * W);
  writeBgrPlanes(img, norm, data, 0, 48, W);
  const r = await models.rec.run([1, 3, 48, W], data);
  return ctcGreedy(r.data, r.shape[1], r.shape[2], models.characters).text;
}
for (const p of pages) {
  const lines = await det.run(FIX + p.file);
  for (const l of lines) {
    const src = { width: l.image.width, height: l.image.height, rgba: new Uint8Array(l.image.data) };
    const w = Math.round((48 * src.width) / src.height);
    const sh = await sharp(Buffer.from(src.rgba), { raw: { width: src.width, height: src.height, channels: 4 } }).resize({ height: 48, fit: 'contain' }).raw().toBuffer({ resolveWithObject: true });
    const viaSharp = { width: sh.info.width, height: 48, rgba: new Uint8Array(sh.data) };
    const ours = resizeImage(src, w, 48);
    const out = [
      await read(viaSharp, UNIT, w), await read(ours, UNIT, w), await read(viaSharp, HALF_NORM, w), await read(viaSharp, UNIT, Math.max(320, w)), await read(ours, HALF_NORM, Math.max(320, w)),
    ];
    console.log(`${src.width}x${src.height} -> ${w}: sharp/unit ${JSON.stringify(out[0])} | ours/unit ${JSON.stringify(out[1])} | sharp/half ${JSON.stringify(out[2])} | sharp/unit/pad ${JSON.stringify(out[3])} | ours/half/pad ${JSON.stringify(out[4])}`);
  }
}
models.dispose();
