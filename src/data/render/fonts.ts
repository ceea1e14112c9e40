// Fonts for rendering text: Debian's fonts-noto-cjk, fonts-dejavu-core and fonts-liberation2,
// found by walking the font folders and registered with @napi-rs/canvas (Skia), which is loaded
// only when something is rendered, so the library does not need it otherwise.
//
// Each face is registered under its own alias (`render:<family>`) with its weight, so a font
// string names exactly the file we chose, never a system fallback. Noto CJK ships as .ttc
// collections whose first face is the Japanese one; Skia registers only that face, so the face
// whose family is "<family>" is cut out of the collection in memory (its tables copied into a
// plain sfnt) and registered from the buffer.
//
// HELD_OUT_FONT is used by nothing that renders by default: samplers never pick it, so a page
// rendered in it is a font the tests, calibration and fine-tuning never saw. It is a CJK family
// because those fonts carry Latin glyphs too, so one page in it can hold Chinese and English.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type Script = 'latin' | 'cjk';

export interface FontFamily {
  /** The family name, as in the font files. */
  readonly family: string;
  readonly script: Script;
  /** Font files by weight: 400 regular, 700 bold (file names, found under FONT_DIRS). */
  readonly faces: Readonly<Partial<Record<400 | 700, string>>>;
}

/** The family kept out of every sampler (see the header). */
export const HELD_OUT_FONT = 'Noto Serif CJK SC';

export const FONT_DIRS = ['/usr/share/fonts'];

/** Every family the renderer knows; the samplers draw from all but HELD_OUT_FONT. */
export const FONT_FAMILIES: readonly FontFamily[] = [
  { family: 'DejaVu Sans', script: 'latin', faces: { 400: 'DejaVuSans.ttf', 700: 'DejaVuSans-Bold.ttf' } },
  { family: 'DejaVu Serif', script: 'latin', faces: { 400: 'DejaVuSerif.ttf', 700: 'DejaVuSerif-Bold.ttf' } },
  { family: 'DejaVu Sans Mono', script: 'latin', faces: { 400: 'DejaVuSansMono.ttf', 700: 'DejaVuSansMono-Bold.ttf' } },
  { family: 'Liberation Sans', script: 'latin', faces: { 400: 'LiberationSans-Regular.ttf', 700: 'LiberationSans-Bold.ttf' } },
  { family: 'Liberation Serif', script: 'latin', faces: { 400: 'LiberationSerif-Regular.ttf', 700: 'LiberationSerif-Bold.ttf' } },
  { family: 'Liberation Mono', script: 'latin', faces: { 400: 'LiberationMono-Regular.ttf', 700: 'LiberationMono-Bold.ttf' } },
  { family: 'Liberation Sans Narrow', script: 'latin', faces: { 400: 'LiberationSansNarrow-Regular.ttf', 700: 'LiberationSansNarrow-Bold.ttf' } },
  { family: 'Noto Sans CJK SC', script: 'cjk', faces: { 400: 'NotoSansCJK-Regular.ttc', 700: 'NotoSansCJK-Bold.ttc' } },
  { family: 'Noto Sans Mono CJK SC', script: 'cjk', faces: { 400: 'NotoSansCJK-Regular.ttc', 700: 'NotoSansCJK-Bold.ttc' } },
  { family: 'Noto Serif CJK SC', script: 'cjk', faces: { 400: 'NotoSerifCJK-Regular.ttc', 700: 'NotoSerifCJK-Bold.ttc' } },
];

/** The families a sampler may pick for a script (HELD_OUT_FONT excluded). */
export function samplerFamilies(script: Script): FontFamily[] {
  return FONT_FAMILIES.filter((f) => f.family !== HELD_OUT_FONT && f.script === script);
}

export function fontFamily(name: string): FontFamily {
  const f = FONT_FAMILIES.find((x) => x.family === name);
  if (!f) throw new Error(`unknown font family '${name}'; the renderer knows: ${FONT_FAMILIES.map((x) => x.family).join(', ')}`);
  return f;
}

/** The CSS font string that selects exactly this family and weight once registered. */
export function fontString(family: string, weight: 400 | 700, sizePx: number): string {
  return `${weight === 700 ? 'bold ' : ''}${sizePx}px "render:${family}"`;
}

type Canvas = typeof import('@napi-rs/canvas');
let canvasModule: Promise<Canvas> | undefined;

/** @napi-rs/canvas with every family registered (once per process). */
export function renderer(): Promise<Canvas> {
  canvasModule ??= (async () => {
    let mod: Canvas;
    try {
      mod = await import('@napi-rs/canvas');
    } catch (e) {
      throw new Error(`rendering text needs the npm package @napi-rs/canvas (a devDependency of deftnn): npm install @napi-rs/canvas (${(e as Error).message})`);
    }
    const files = fontFiles();
    const read = new Map<string, Buffer>(); // two CJK families share their collections
    for (const f of FONT_FAMILIES) {
      for (const [w, file] of Object.entries(f.faces) as [string, string][]) {
        const path = files.get(file);
        if (!path) throw new Error(`font file ${file} (${f.family}) is not under ${FONT_DIRS.join(', ')}: apt-get install fonts-noto-cjk fonts-dejavu-core fonts-liberation2 (scripts/setup.sh does)`);
        const weight = Number(w) === 700 ? 'bold' : 'normal';
        const bytes = read.get(path) ?? readFileSync(path);
        read.set(path, bytes);
        const face = path.endsWith('.ttc') ? faceFromCollection(bytes, f.family, path) : bytes;
        if (!mod.GlobalFonts.register(face, `render:${f.family}`, { weight })) throw new Error(`Skia could not load the font ${path}`);
      }
    }
    return mod;
  })();
  return canvasModule;
}

/** File name -> path, for every font file under FONT_DIRS (the first one found of each name). */
function fontFiles(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!out.has(name)) out.set(name, p);
    }
  };
  for (const d of FONT_DIRS) if (existsSync(d)) walk(d);
  return out;
}

/**
 * The face of a TrueType/OpenType collection whose name table gives `family` (name id 1 or 16),
 * as a standalone sfnt: its offset table and table records rewritten, each table copied and
 * padded to 4 bytes. Checksums are kept as they were (the tables are unchanged).
 */
export function faceFromCollection(ttc: Buffer, family: string, what: string): Buffer {
  if (ttc.toString('latin1', 0, 4) !== 'ttcf') throw new Error(`${what} is not a font collection`);
  const n = ttc.readUInt32BE(8);
  const found: string[] = [];
  for (let i = 0; i < n; i++) {
    const off = ttc.readUInt32BE(12 + 4 * i);
    const numTables = ttc.readUInt16BE(off + 4);
    const tables = Array.from({ length: numTables }, (_, t) => {
      const r = off + 12 + 16 * t;
      return { tag: ttc.toString('latin1', r, r + 4), checksum: ttc.readUInt32BE(r + 4), offset: ttc.readUInt32BE(r + 8), length: ttc.readUInt32BE(r + 12) };
    });
    const name = tables.find((t) => t.tag === 'name');
    const names = name ? familyNames(ttc.subarray(name.offset, name.offset + name.length)) : [];
    found.push(names[0] ?? '?');
    if (!names.includes(family)) continue;
    const header = 12 + 16 * numTables;
    let size = header;
    for (const t of tables) size += (t.length + 3) & ~3;
    const out = Buffer.alloc(size);
    ttc.copy(out, 0, off, off + 12);
    let at = header;
    tables.forEach((t, k) => {
      const r = 12 + 16 * k;
      out.write(t.tag, r, 'latin1');
      out.writeUInt32BE(t.checksum, r + 4);
      out.writeUInt32BE(at, r + 8);
      out.writeUInt32BE(t.length, r + 12);
      ttc.copy(out, at, t.offset, t.offset + t.length);
      at += (t.length + 3) & ~3;
    });
    return out;
  }
  throw new Error(`${what} has no face of family '${family}' (faces: ${found.join(', ')})`);
}

/** Family names (ids 1 and 16) of a 'name' table, from its Windows Unicode (UTF-16BE) records. */
function familyNames(t: Buffer): string[] {
  const count = t.readUInt16BE(2);
  const strings = t.readUInt16BE(4);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = 6 + 12 * i;
    const [platform, , , nameId, length, offset] = [0, 2, 4, 6, 8, 10].map((k) => t.readUInt16BE(r + k));
    if (platform !== 3 || (nameId !== 1 && nameId !== 16)) continue;
    const raw = t.subarray(strings + offset, strings + offset + length);
    let s = '';
    for (let k = 0; k + 1 < raw.length; k += 2) s += String.fromCharCode(raw.readUInt16BE(k));
    if (!out.includes(s)) out.push(s);
  }
  return out;
}
