// Small seeded PNG and JPEG images (pngjs, jpeg-js) and their mutations: byte damage, and headers
// that declare absurd sizes or formats with their checksums fixed, so the decoders believe them.

import { crc32 } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { mutateBytes } from './wire.js';
import { int, pick, type Rand } from './random.js';

/** A random small image as PNG (any color type, 8 or 16 bits) or JPEG. */
export function makeImage(rand: Rand): { bytes: Uint8Array; what: string } {
  const width = int(rand, 1, 40);
  const height = int(rand, 1, 40);
  const data = Buffer.from(Array.from({ length: width * height * 4 }, () => int(rand, 0, 255)));
  if (rand() < 0.6) {
    const png = new PNG({ width, height });
    data.copy(png.data);
    const colorType = pick(rand, [0, 2, 4, 6] as const);
    const bitDepth = pick(rand, [8, 16] as const);
    const bytes = PNG.sync.write(png, { colorType, bitDepth, inputHasAlpha: true });
    return { bytes: new Uint8Array(bytes), what: `PNG ${width}x${height} color type ${colorType}, ${bitDepth} bits` };
  }
  const quality = int(rand, 10, 95);
  const bytes = jpeg.encode({ width, height, data }, quality).data;
  return { bytes: new Uint8Array(bytes), what: `JPEG ${width}x${height} quality ${quality}` };
}

const be32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0);
const be16 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint16(at, v & 0xffff);

/** PNG IHDR fields changed, the chunk's CRC recomputed (or, sometimes, left stale). */
function pngHeader(src: Uint8Array, rand: Rand): { bytes: Uint8Array; what: string } {
  const b = src.slice();
  // IHDR data at 16: width(4) height(4) bit depth(1) color type(1) compression(1) filter(1) interlace(1)
  const field = pick(rand, ['size', 'size', 'depth', 'color', 'interlace', 'length']);
  let what: string;
  if (field === 'size') {
    const [w, h] = pick(rand, [[100000, 100000], [0, 10], [10, 0], [2 ** 31 - 1, 1], [1, 2 ** 31 - 1], [20000, 20000], [2 ** 32 - 1, 2 ** 32 - 1], [10001, 10000]]);
    be32(b, 16, w);
    be32(b, 20, h);
    what = `IHDR declares ${w} x ${h}`;
  } else if (field === 'depth') {
    b[24] = pick(rand, [0, 1, 2, 3, 4, 7, 32, 255]);
    what = `IHDR bit depth ${b[24]}`;
  } else if (field === 'color') {
    b[25] = pick(rand, [1, 3, 5, 7, 255]);
    what = `IHDR color type ${b[25]}`;
  } else if (field === 'interlace') {
    b[28] = pick(rand, [1, 2, 255]);
    what = `IHDR interlace ${b[28]}`;
  } else {
    be32(b, 8, pick(rand, [0, 12, 2 ** 31 - 1]));
    return { bytes: b, what: 'IHDR chunk length changed' };
  }
  if (rand() < 0.85) be32(b, 29, crc32(b.subarray(12, 29)));
  else what += ' (CRC stale)';
  return { bytes: b, what };
}

/** The first JPEG start-of-frame's height and width changed. */
function jpegHeader(src: Uint8Array, rand: Rand): { bytes: Uint8Array; what: string } | null {
  const b = src.slice();
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const [w, h] = pick(rand, [[65535, 65535], [0, 8], [8, 0], [20000, 20000], [1, 65535], [12000, 9000]]);
      be16(b, i + 5, h);
      be16(b, i + 7, w);
      if (rand() < 0.2) b[i + 9] = pick(rand, [0, 2, 5, 255]); // component count
      return { bytes: b, what: `SOF declares ${w} x ${h}` };
    }
    i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  return null;
}

export function mutateImage(rand: Rand): { bytes: Uint8Array; what: string } {
  const base = makeImage(rand);
  const r = rand();
  const png = base.bytes[0] === 0x89;
  if (r < 0.4) {
    const m = png ? pngHeader(base.bytes, rand) : jpegHeader(base.bytes, rand);
    if (m) return { bytes: m.bytes, what: `${base.what}; ${m.what}` };
  }
  if (r < 0.5) return { bytes: base.bytes, what: `${base.what}; unchanged` };
  const m = mutateBytes(base.bytes, rand);
  return { bytes: m.bytes, what: `${base.what}; ${m.what}` };
}
