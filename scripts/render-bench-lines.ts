// Writes bench/assets/ppocr-cls-lines.png: the benchmark inputs of PaddleOCR's direction
// classifier, so that the benchmarks (and the GPU bundle, which carries no fonts and no Skia)
// feed it rendered text instead of a synthetic pattern.
// Usage: npx tsx scripts/render-bench-lines.ts
//
// The PNG stacks LINES classifier inputs (lines 0..LINES-1 of seed SEED, from the tests' seed
// range, clean: no blur, noise or JPEG, which only cost bytes here; odd ones turned 180 degrees)
// one under the other, 192 x 48 each: each pixel channel c holds input channel c (B, G, R order,
// as src/data/ocr-sets.ts prepares it) as round((v + 1) / 2 * 255), so a reader gets v back as
// p / 127.5 - 1 (the zero padding comes back as 0.0039). bench/models.ts reads it.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { classifierSet, CLS_SHAPE } from '../src/data/ocr-sets.js';

export const LINES = 32;
export const SEED = 900;
const OUT = fileURLToPath(new URL('../bench/assets/ppocr-cls-lines.png', import.meta.url));

const [, H, W] = CLS_SHAPE;
const ds = await classifierSet(SEED, LINES, 'benchmark lines', { clean: true });
const png = new PNG({ width: W, height: H * LINES });
for (let i = 0; i < LINES; i++) {
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = 4 * ((i * H + y) * W + x);
      for (let c = 0; c < 3; c++) png.data[p + c] = Math.round(((ds.images[((i * 3 + c) * H + y) * W + x] + 1) / 2) * 255);
      png.data[p + 3] = 255;
    }
  }
}
mkdirSync(fileURLToPath(new URL('../bench/assets/', import.meta.url)), { recursive: true });
writeFileSync(`${OUT}.tmp`, PNG.sync.write(png, { colorType: 2 }));
renameSync(`${OUT}.tmp`, OUT);
console.error(`wrote ${OUT}`);
