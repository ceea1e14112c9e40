// From a drawing or a photo to an MNIST-like 28x28 input, the way MNIST itself was made: the digit
// is cropped to its bounding box, scaled (keeping its aspect) to fit a 20x20 box with area
// averaging, and placed in a 28x28 field so that its centre of mass sits at the centre. Without
// this a digit drawn small or off-centre is misread by any MNIST model. Pure functions (no DOM), so
// Node tests use them too.

/** MNIST's side and the box the digit is scaled into. */
export const SIDE = 28;
const BOX = 20;
/** Pixels at or below this intensity count as background when cropping. */
const INK = 0.1;

/**
 * Luminance in [0, 1] of RGBA pixels, as white ink on black. When the picture's border is mostly
 * light (dark ink on paper, the usual photo or scan), it is inverted. Transparent pixels count as
 * background.
 */
export function inkFromRgba(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Float32Array {
  if (rgba.length !== width * height * 4) throw new RangeError(`inkFromRgba: ${rgba.length} bytes for a ${width}x${height} RGBA image`);
  const gray = new Float32Array(width * height);
  let border = 0;
  let borderN = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const a = rgba[4 * i + 3] / 255;
      // Transparent pixels over black: luminance times alpha.
      const v = ((0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255) * a;
      gray[i] = v;
      if (x === 0 || y === 0 || x === width - 1 || y === height - 1) {
        border += v;
        borderN++;
      }
    }
  }
  if (borderN && border / borderN > 0.5) for (let i = 0; i < gray.length; i++) gray[i] = 1 - gray[i];
  return gray;
}

/**
 * The MNIST-normalised 28x28 image (row-major, values in [0, 1]) of a white-on-black ink image,
 * or null when there is no ink.
 */
export function toMnist(ink: Float32Array, width: number, height: number): Float32Array | null {
  if (ink.length !== width * height) throw new RangeError(`toMnist: ${ink.length} values for a ${width}x${height} image`);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > INK) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const cw = x1 - x0 + 1;
  const ch = y1 - y0 + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) crop.set(ink.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + cw), y * cw);

  const scale = BOX / Math.max(cw, ch);
  const dw = Math.max(1, Math.round(cw * scale));
  const dh = Math.max(1, Math.round(ch * scale));
  const digit = resizeArea(crop, cw, ch, dw, dh);

  // Centre of mass to the centre of the field, kept inside it.
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      const v = digit[y * dw + x];
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const ox = clamp(Math.round(SIDE / 2 - mx / m), SIDE - dw);
  const oy = clamp(Math.round(SIDE / 2 - my / m), SIDE - dh);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < dh; y++) out.set(digit.subarray(y * dw, (y + 1) * dw), (oy + y) * SIDE + ox);
  return out;
}

/** Resample by area averaging (a box filter with fractional coverage), rows then columns. */
export function resizeArea(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const rows = new Float32Array(dw * sh);
  for (let y = 0; y < sh; y++) resample1d(src, y * sw, 1, sw, rows, y * dw, 1, dw);
  const out = new Float32Array(dw * dh);
  for (let x = 0; x < dw; x++) resample1d(rows, x, dw, sh, out, x, dw, dh);
  return out;
}

/** One line of n samples (stride s) to m samples (stride t): each output averages the inputs it covers. */
function resample1d(src: Float32Array, so: number, s: number, n: number, dst: Float32Array, to: number, t: number, m: number): void {
  const step = n / m; // input samples per output sample
  for (let j = 0; j < m; j++) {
    const a = j * step;
    const b = a + step;
    let sum = 0;
    for (let i = Math.floor(a); i < Math.min(Math.ceil(b), n); i++) sum += src[so + i * s] * (Math.min(b, i + 1) - Math.max(a, i));
    dst[to + j * t] = sum / step;
  }
}
