// Rendered text with ground truth for the OCR models: lines (recogniser, direction classifier) and
// pages (detector, whole pipeline). See each file's header; seeds.ts reserves the seed ranges.
export { FONT_FAMILIES, fontFamily, HELD_OUT_FONT, samplerFamilies, type FontFamily, type Script } from './fonts.js';
export { CJK_WEIGHTS, ocrModelsDir, recogniserCharacters, unknownCharacters } from './text.js';
export { LINE_HEIGHT, renderLine, renderLines, type RenderedLine, type RenderOptions, type TextStyle } from './line.js';
export { BOX_MARGIN, PAGE_SIZES, renderPage, renderPages, type PageLine, type Point, type Quad, type RenderedPage } from './page.js';
export { checkSeed, sampleRandom, SEED_RANGES, type SeedUse } from './seeds.js';
export { rotate180 } from './effects.js';
