// How close resizeImage(..., 'vips') is to sharp's resize on text-like images (a rendered line).
import sharp from 'sharp';
import { resizeImage, type Image } from '../src/image/image.js';
import { renderLine } from '../src/data/render/index.js';

async function viaSharp(img: Image, w: number, h: number): Promise<Image> {
  const r = await sharp(Buffer.from(img.rgba), { raw: { width: img.width, height: img.height, channels: 4 } }).resize({ width: w, height: h, fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return { width: r.info.width, height: r.info.height, rgba: new Uint8Array(r.data) };
}
for (const i of [0, 1, 2, 3]) {
  const line = (await renderLine(9500, i)).image;
  for (const h of [20, 31, 48, 60, 100]) {
    const w = Math.round((line.width * h) / line.height);
    const a = await viaSharp(line, w, h);
    for (const f of ['vips', 'triangle'] as const) {
      const b = resizeImage(line, w, h, f);
      let sum = 0, max = 0;
      for (let k = 0; k < a.rgba.length; k++) { const d = Math.abs(a.rgba[k] - b.rgba[k]); sum += d; max = Math.max(max, d); }
      console.log(`line ${i} ${line.width}x${line.height} -> ${w}x${h} ${f}: mean |d| ${(sum / a.rgba.length).toFixed(3)}, max ${max}`);
    }
  }
}
