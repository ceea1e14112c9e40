// Decoding PNG and JPEG bytes (pngjs, jpeg-js) into RGBA images, after the header's size is
// checked. Its own module because the decoders are Node code (zlib, streams): browser pages decode
// with the browser's own createImageBitmap and never load this file (src/ocr/ocr.ts imports it only
// when given bytes or a path).

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { declaredSize, ImageError, isJpeg, isPng, MAX_IMAGE_PIXELS, type Image } from './image.js';

/**
 * Decode PNG or JPEG bytes (told apart by their first bytes); `what` names them in errors. The
 * size the header declares is checked (at most MAX_IMAGE_PIXELS, no empty side) before decoding.
 */
export function decodeImage(bytes: Uint8Array, what: string): Image {
  const size = declaredSize(bytes);
  if (size) {
    const { width, height } = size;
    if (width === 0 || height === 0) throw new ImageError(`image ${what} declares ${width} x ${height} pixels: it is empty or its header is corrupt`);
    if (width * height > MAX_IMAGE_PIXELS) {
      throw new ImageError(`image ${what} declares ${width} x ${height} pixels, more than deftnn decodes (${MAX_IMAGE_PIXELS / 1e6} megapixels); scale it down first, or its header is corrupt`);
    }
  }
  try {
    if (isPng(bytes)) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    if (isJpeg(bytes)) {
      // jpeg-js's own limits too, for frames our header walk did not find.
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, rgba: img.data };
    }
  } catch (e) {
    // The decoders throw Error with a message for what they check (a bad signature, a missing
    // marker); a TypeError or RangeError is one tripping over damaged data it did not check. Both
    // mean a corrupt file, said plainly; the decoder's own error stays in `cause`.
    const format = isPng(bytes) ? 'PNG' : 'JPEG';
    const detail = e instanceof TypeError || e instanceof RangeError ? 'the decoder stopped at data that does not fit the format' : (e as Error).message;
    throw new ImageError(`cannot decode image ${what}: its ${format} data is corrupt or truncated (${detail})`, { cause: e });
  }
  throw new ImageError(`${what} is neither a PNG nor a JPEG image`);
}
