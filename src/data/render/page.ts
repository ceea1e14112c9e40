// Pages for the detector and the whole pipeline: a sheet of paper (640x480 up to 960x1280, both
// sides multiples of 32) with rows of text, each row one line or, one time in five, two segments
// with a wide gap (two columns), Chinese or English, 16-40 px, the whole page turned by up to
// 2.5 degrees (70% of pages) and degraded like a photo or scan (blur, noise, JPEG).
//
// Ground truth per line: its text and a quadrilateral, the ink's bounds from Skia's text metrics
// grown by BOX_MARGIN pixels on every side, in the line's own frame and then turned with it;
// corners in the order top-left, top-right, bottom-right, bottom-left of the upright text.
// Rows never overlap: each starts below the previous row's axis-aligned bounds.

import type { Image } from '../../image/image.js';
import { cssColor, inkColor, paperColor } from './effects.js';
import { fontString, renderer } from './fonts.js';
import { degrade, sampleFont, type RenderOptions, type TextStyle } from './line.js';
import { sampleRandom } from './seeds.js';
import { chineseText, englishText } from './text.js';

export type Point = readonly [number, number];
/** Corners: top-left, top-right, bottom-right, bottom-left (of the text, before any turn). */
export type Quad = readonly [Point, Point, Point, Point];

export interface PageLine {
  readonly text: string;
  readonly box: Quad;
  readonly family: string;
  readonly sizePx: number;
}

export interface RenderedPage {
  readonly image: Image;
  readonly lines: readonly PageLine[];
  /** The page's style; family and size vary per line (see lines). */
  readonly style: TextStyle;
}

export const PAGE_SIZES: readonly (readonly [number, number])[] = [
  [640, 480], [800, 608], [864, 640], [960, 736], [640, 864], [736, 960], [768, 1024], [960, 1280],
];
export const BOX_MARGIN = 1;

const between = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const uniform = (rand: () => number, lo: number, hi: number) => lo + (hi - lo) * rand();

interface Segment {
  text: string;
  family: string;
  weight: 400 | 700;
  sizePx: number;
  /** Ink metrics of `text` at that font. */
  left: number;
  right: number;
  ascent: number;
  descent: number;
}

/** Page `index` of `seed` (see seeds.ts for the ranges). */
export async function renderPage(seed: number, index: number, opts: RenderOptions = {}): Promise<RenderedPage> {
  const { createCanvas } = await renderer();
  const rand = sampleRandom('page', seed, index);
  const [W, H] = PAGE_SIZES[Math.floor(rand() * PAGE_SIZES.length)];
  const paper = paperColor(rand);
  const ink = inkColor(rand, paper);
  const clean = opts.clean ?? false;
  const angleDeg = clean || rand() < 0.3 ? 0 : uniform(rand, -2.5, 2.5);
  const style: TextStyle = {
    family: opts.font ?? 'mixed',
    weight: 400,
    sizePx: between(rand, 18, 32),
    ink,
    paper,
    angleDeg,
    blur: clean || rand() < 0.6 ? 0 : uniform(rand, 0.3, 1),
    noise: clean ? 0 : uniform(rand, 0, 5),
    jpegQuality: clean || rand() < 0.6 ? null : between(rand, 50, 95),
  };
  const canvas = createCanvas(W, H);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = cssColor(paper);
  ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = cssColor(ink);
  const cos = Math.cos((angleDeg * Math.PI) / 180);
  const sin = Math.sin((angleDeg * Math.PI) / 180);
  /** A point of a segment's frame (origin: left end of the ink on the baseline) on the page. */
  const turn = (ox: number, oy: number, x: number, y: number): Point => [ox + cos * x - sin * y, oy + sin * x + cos * y];

  /** Text for one segment that fits `maxWidth`: drop tokens (or characters) from the end until it does. */
  const fit = (maxWidth: number): Segment | null => {
    const { script, family } = sampleFont(rand, opts);
    const weight: 400 | 700 = rand() < 0.2 ? 700 : 400;
    const sizePx = Math.max(16, Math.min(40, style.sizePx + between(rand, -4, 4) + (rand() < 0.1 ? 10 : 0)));
    let text = script === 'latin' ? englishText(rand, between(rand, 2, 12)) : chineseText(rand, between(rand, 3, 30));
    ctx.font = fontString(family, weight, sizePx);
    for (;;) {
      const m = ctx.measureText(text);
      if (m.actualBoundingBoxLeft + m.actualBoundingBoxRight <= maxWidth) {
        return { text, family, weight, sizePx, left: m.actualBoundingBoxLeft, right: m.actualBoundingBoxRight, ascent: m.actualBoundingBoxAscent, descent: m.actualBoundingBoxDescent };
      }
      const cut = script === 'latin' ? text.lastIndexOf(' ') : [...text].length - 1;
      if (cut <= 0) return null;
      text = script === 'latin' ? text.slice(0, cut) : [...text].slice(0, cut).join('');
      text = text.replace(/ [-(]?$/, '').trimEnd();
    }
  };

  const margin = between(rand, 24, 56);
  const lines: PageLine[] = [];
  let top = margin + between(rand, 0, 24);
  for (let row = 0; row < 64; row++) {
    const indent = rand() < 0.3 ? between(rand, 0, Math.floor(W / 4)) : 0;
    const avail = W - 2 * margin - indent;
    const twoColumns = rand() < 0.2;
    const first = fit(twoColumns ? avail * 0.45 : avail * uniform(rand, 0.4, 1));
    if (!first) continue;
    const segs: { seg: Segment; x: number }[] = [{ seg: first, x: margin + indent }];
    if (twoColumns) {
      const x = margin + indent + first.left + first.right + Math.max(3 * first.sizePx, 40);
      const second = fit(W - margin - x);
      if (second) segs.push({ seg: second, x });
    }
    // One baseline for the row, placed so that the row's turned bounds start at `top`.
    const quads = segs.map(({ seg, x }) => {
      const m = BOX_MARGIN;
      const corners: [number, number][] = [[-m, -seg.ascent - m], [seg.left + seg.right + m, -seg.ascent - m], [seg.left + seg.right + m, seg.descent + m], [-m, seg.descent + m]];
      return corners.map(([cx, cy]) => turn(x, 0, cx, cy));
    });
    const ys = quads.flat().map((p) => p[1]);
    const xs = quads.flat().map((p) => p[0]);
    const baseline = top - Math.min(...ys);
    if (baseline + Math.max(...ys) > H - margin || Math.min(...xs) < 1 || Math.max(...xs) > W - 1) break;
    segs.forEach(({ seg, x }, k) => {
      ctx.setTransform(cos, sin, -sin, cos, x, baseline);
      ctx.font = fontString(seg.family, seg.weight, seg.sizePx);
      ctx.fillText(seg.text, seg.left, 0);
      const box = quads[k].map(([px, py]) => [px, py + baseline] as Point) as unknown as Quad;
      lines.push({ text: seg.text, box, family: seg.family, sizePx: seg.sizePx });
    });
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    const rowHeight = Math.max(...ys) - Math.min(...ys);
    top += rowHeight + Math.max(...segs.map((s) => s.seg.sizePx)) * uniform(rand, 0.35, rand() < 0.15 ? 2.5 : 1.1);
  }
  const data = ctx.getImageData(0, 0, W, H).data;
  const image = degrade({ width: W, height: H, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }, style, rand);
  return { image, lines, style };
}

/** Pages 0..n-1 of `seed`. */
export async function renderPages(seed: number, n: number, opts: RenderOptions = {}): Promise<RenderedPage[]> {
  const out: RenderedPage[] = [];
  for (let i = 0; i < n; i++) out.push(await renderPage(seed, i, opts));
  return out;
}
