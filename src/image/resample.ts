// Resampling filters, as separable weights per output sample. OCR pre-processing is sensitive to
// them: PP-OCRv4's recogniser writes the spaces of a small Latin line upscaled 2x by a sharp
// (bicubic) filter and drops some of them after a bilinear one, so each OCR convention names the
// filter of the library it follows (src/ocr/conventions.ts).
//
// - 'triangle': a triangle whose support grows with the reduction: bilinear when enlarging
//   (OpenCV's INTER_LINEAR, which PaddleOCR's cv2.resize uses), an area-like average when shrinking.
// - 'vips': what sharp's resize() does (libvips' vips_resize with its default kernel lanczos3):
//   reducing with a Lanczos-3 window stretched by the reduction, enlarging with the Catmull-Rom
//   cubic (libvips' bicubic interpolator, which vips_resize uses for every upsizing kernel but
//   nearest and linear). Close to sharp's output (test/image/resample.test.ts), not bit-exact: libvips
//   works in fixed point on 8-bit images.
//
// Sample positions: output i reads the source at its pixel centre, (i + 0.5) * n / m - 0.5, except
// when 'vips' enlarges: vips_resize's affine then reads i * n / m - 0.5 (measured against sharp 0.33,
// libvips 8.15: the centre rule is 0.3 grey levels off on average there, this one exact at 2x).
// Indices outside the source are the caller's to clamp (a replicated border).

export type ResizeFilter = 'triangle' | 'vips';

/** Per output sample: the first source index and the weights from there on (summing to 1). */
export interface Taps {
  readonly start: number;
  readonly w: readonly number[];
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const lanczos3 = (x: number) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0);

/** Keys' cubic convolution kernel with parameter a: -0.5 is Catmull-Rom (libvips), -0.75 OpenCV's INTER_CUBIC. */
export function cubic(x: number, a: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

interface Kernel {
  readonly k: (x: number) => number;
  /** Half-width in source samples. */
  readonly support: number;
  /** Source samples per unit of k's argument. */
  readonly stretch: number;
  /** Where output i reads the source. */
  readonly at: (i: number) => number;
}

/** The kernel for n samples to m, scale = n / m (see the header). */
function kernelFor(filter: ResizeFilter, scale: number): Kernel {
  const centre = (i: number) => (i + 0.5) * scale - 0.5;
  if (filter === 'triangle') {
    const stretch = Math.max(1, scale);
    return { k: (x) => Math.max(0, 1 - Math.abs(x)), support: stretch, stretch, at: centre };
  }
  if (scale > 1) return { k: lanczos3, support: 3 * scale, stretch: scale, at: centre };
  return { k: (x) => cubic(x, -0.5), support: 2, stretch: 1, at: (i) => i * scale - 0.5 };
}

/** Weights for resampling n samples to m with `filter` (see the header). */
export function resampleWeights(n: number, m: number, filter: ResizeFilter = 'triangle'): Taps[] {
  const scale = n / m;
  const { k, support, stretch, at } = kernelFor(filter, scale);
  return Array.from({ length: m }, (_, i) => {
    const center = at(i);
    const lo = Math.ceil(center - support);
    const hi = Math.floor(center + support);
    const w: number[] = [];
    for (let j = lo; j <= hi; j++) w.push(k((j - center) / stretch));
    const sum = w.reduce((a, b) => a + b, 0);
    return { start: lo, w: w.map((x) => x / sum) };
  });
}
