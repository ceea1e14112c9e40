// One text line for the recogniser: 48 pixels high at its natural width, the label is the exact
// string drawn. Layout: the ink starts `padLeft` pixels in and ends `padRight` pixels before the
// right edge; the baseline sits so the font's ascent and descent are centred (jittered by up to
// 2 px, never cutting the ink); the line may be turned by up to 1 degree about its centre.
// Then blur, noise and a JPEG round trip, each drawn per sample (see sampleLineStyle).

import type { Image } from '../../image/image.js';
import { addNoise, cssColor, gaussianBlur, inkColor, jpegRoundTrip, paperColor, type Rgb } from './effects.js';
import { fontFamily, fontString, renderer, samplerFamilies, type Script } from './fonts.js';
import { sampleRandom } from './seeds.js';
import { chineseText, englishText } from './text.js';

export const LINE_HEIGHT = 48;

export interface TextStyle {
  readonly family: string;
  readonly weight: 400 | 700;
  readonly sizePx: number;
  readonly ink: Rgb;
  readonly paper: Rgb;
  readonly angleDeg: number;
  /** Gaussian blur sigma in pixels (0: none). */
  readonly blur: number;
  /** Standard deviation of the added noise, in levels of 255 (0: none). */
  readonly noise: number;
  /** JPEG quality of the round trip, or null for none. */
  readonly jpegQuality: number | null;
}

export interface RenderedLine {
  readonly image: Image;
  readonly text: string;
  readonly script: Script;
  readonly style: TextStyle;
}

export interface RenderOptions {
  /** Render in this family (any of FONT_FAMILIES, HELD_OUT_FONT included) instead of a sampled one. */
  readonly font?: string;
  /** No blur, noise, JPEG nor turn: the ink exactly as Skia draws it. */
  readonly clean?: boolean;
}

const between = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const uniform = (rand: () => number, lo: number, hi: number) => lo + (hi - lo) * rand();

/** Script and family of a sample: 60% English in a Latin family, 40% Chinese in a CJK one; a forced family fixes both where it must. */
export function sampleFont(rand: () => number, opts: RenderOptions): { script: Script; family: string } {
  if (opts.font) {
    const f = fontFamily(opts.font);
    // A CJK family has Latin glyphs too; a Latin one cannot draw Chinese.
    const script: Script = f.script === 'latin' ? 'latin' : rand() < 0.6 ? 'latin' : 'cjk';
    return { script, family: f.family };
  }
  const script: Script = rand() < 0.6 ? 'latin' : 'cjk';
  const families = samplerFamilies(script);
  return { script, family: families[Math.floor(rand() * families.length)].family };
}

/** Text of a sample: 1-6 English tokens or 2-16 Chinese characters. */
export function sampleText(rand: () => number, script: Script): string {
  return script === 'latin' ? englishText(rand, between(rand, 1, 6)) : chineseText(rand, between(rand, 2, 16));
}

function sampleLineStyle(rand: () => number, family: string, clean: boolean): TextStyle {
  const paper = paperColor(rand);
  const ink = inkColor(rand, paper);
  const weight: 400 | 700 = rand() < 0.3 ? 700 : 400;
  const sizePx = between(rand, 26, 34);
  const angleDeg = uniform(rand, -1, 1);
  const blur = rand() < 0.5 ? 0 : uniform(rand, 0.3, 1.2);
  const noise = uniform(rand, 0, 8);
  const jpegQuality = rand() < 0.4 ? between(rand, 30, 90) : null;
  return clean ? { family, weight, sizePx, ink, paper, angleDeg: 0, blur: 0, noise: 0, jpegQuality: null } : { family, weight, sizePx, ink, paper, angleDeg, blur, noise, jpegQuality };
}

/** Apply a style's blur, noise and JPEG round trip (in that order) to a rendered image. */
export function degrade(img: Image, style: TextStyle, rand: () => number): Image {
  let out = gaussianBlur(img, style.blur);
  out = addNoise(out, style.noise, rand);
  return style.jpegQuality === null ? out : jpegRoundTrip(out, style.jpegQuality);
}

/** Line `index` of `seed` (see seeds.ts for the ranges): the same pixels and text every time. */
export async function renderLine(seed: number, index: number, opts: RenderOptions = {}): Promise<RenderedLine> {
  const { createCanvas } = await renderer();
  const rand = sampleRandom('line', seed, index);
  const { script, family } = sampleFont(rand, opts);
  const text = sampleText(rand, script);
  let style = sampleLineStyle(rand, family, opts.clean ?? false);
  const measureCtx = createCanvas(1, 1).getContext('2d');
  // Shrink the font until ascent + descent fit the line with 2 px to spare.
  let m: TextMetrics;
  for (;;) {
    measureCtx.font = fontString(family, style.weight, style.sizePx);
    m = measureCtx.measureText(text) as unknown as TextMetrics;
    if (m.actualBoundingBoxAscent + m.actualBoundingBoxDescent <= LINE_HEIGHT - 4 || style.sizePx <= 12) break;
    style = { ...style, sizePx: style.sizePx - 1 };
  }
  const padLeft = between(rand, 2, 12);
  const padRight = between(rand, 2, 12);
  const inkWidth = m.actualBoundingBoxLeft + m.actualBoundingBoxRight;
  const width = Math.max(LINE_HEIGHT / 2, Math.ceil(padLeft + inkWidth + padRight));
  const asc = m.actualBoundingBoxAscent;
  const desc = m.actualBoundingBoxDescent;
  const centred = (LINE_HEIGHT - (m.fontBoundingBoxAscent + m.fontBoundingBoxDescent)) / 2 + m.fontBoundingBoxAscent;
  const baseline = Math.min(LINE_HEIGHT - 1 - desc, Math.max(asc + 1, centred + between(rand, -2, 2)));
  const canvas = createCanvas(width, LINE_HEIGHT);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = cssColor(style.paper);
  ctx.fillRect(0, 0, width, LINE_HEIGHT);
  ctx.translate(width / 2, LINE_HEIGHT / 2);
  ctx.rotate((style.angleDeg * Math.PI) / 180);
  ctx.translate(-width / 2, -LINE_HEIGHT / 2);
  ctx.font = fontString(family, style.weight, style.sizePx);
  ctx.fillStyle = cssColor(style.ink);
  ctx.fillText(text, padLeft + m.actualBoundingBoxLeft, baseline);
  const data = ctx.getImageData(0, 0, width, LINE_HEIGHT).data;
  const image = degrade({ width, height: LINE_HEIGHT, rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }, style, rand);
  return { image, text, script, style };
}

/** Lines 0..n-1 of `seed`. */
export async function renderLines(seed: number, n: number, opts: RenderOptions = {}): Promise<RenderedLine[]> {
  const out: RenderedLine[] = [];
  for (let i = 0; i < n; i++) out.push(await renderLine(seed, i, opts));
  return out;
}
