// Text boxes cut out of the page as upright line images, as PaddleOCR's get_rotate_crop_image (and
// Guten OCR's copy of it) does it: the quad warped onto a rectangle as wide as its longer
// horizontal side and as tall as its longer vertical side (perspective transform, bicubic by
// default as both do, replicated border), then turned a quarter counter-clockwise when it is at
// least 1.5 times taller than wide (a vertical line of text).

import { distance, rotateImage, warpQuad, type Interpolation, type Quad } from '../image/geometry.js';
import type { Image } from '../image/image.js';

export function cropBox(page: Image, box: Quad, interpolation: Interpolation = 'bicubic'): Image {
  const width = Math.max(1, Math.trunc(Math.max(distance(box[0], box[1]), distance(box[2], box[3]))));
  const height = Math.max(1, Math.trunc(Math.max(distance(box[0], box[3]), distance(box[1], box[2]))));
  const crop = warpQuad(page, box, width, height, interpolation);
  return height / width >= 1.5 ? rotateImage(crop, 90) : crop;
}
