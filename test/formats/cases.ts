// Formats the format tests run over, and a float64 reference built from the definition alone
// (sign · 2^(E-bias) · (1 + F/2^m), subnormals, specials) that the codec is checked against.

import { defineFormat, FORMATS, type FloatFormat } from '../../src/formats/format.js';

/** Every preset below 32 bits, plus formats that exercise the other corners of the generator. */
export const TESTED: FloatFormat[] = [
  ...Object.values(FORMATS).filter((f) => f.bits < 32),
  defineFormat({ name: 'e4m3_ftz', exponentBits: 4, mantissaBits: 3, specials: 'fn', subnormals: false }),
  defineFormat({ name: 'e5m2_inf', exponentBits: 5, mantissaBits: 2, overflow: 'inf' }),
  defineFormat({ name: 'bf16_ftz', exponentBits: 8, mantissaBits: 7, overflow: 'inf', subnormals: false }),
  defineFormat({ name: 'e5m4', exponentBits: 5, mantissaBits: 4, bias: 12 }), // 10 bits: 3 per word
  defineFormat({ name: 'e3m4', exponentBits: 3, mantissaBits: 4, bias: 2, specials: 'fn' }),
  // Subnormals that are partly f32 normals, partly f32 subnormals: the decoder's mixed case.
  defineFormat({ name: 'e7m8', exponentBits: 7, mantissaBits: 8, bias: 125, overflow: 'inf' }),
  defineFormat({ name: 'e8m5', exponentBits: 8, mantissaBits: 5 }), // 14 bits, 2 per word
];

/** The value of `code` from the definition, in float64. */
export function refDecode(f: FloatFormat, code: number): number {
  const e = f.exponentBits;
  const m = f.mantissaBits;
  const sign = Math.floor(code / 2 ** (f.bits - 1)) % 2 ? -1 : 1;
  const E = Math.floor(code / 2 ** m) % 2 ** e;
  const F = code % 2 ** m;
  const allOnes = E === 2 ** e - 1;
  if (f.specials === 'ieee' && allOnes) return F === 0 ? sign * Infinity : NaN;
  if (f.specials === 'fn' && allOnes && F === 2 ** m - 1) return NaN;
  if (E === 0) return f.subnormals ? sign * 2 ** (1 - f.bias) * (F / 2 ** m) : sign * 0;
  return sign * 2 ** (E - f.bias) * (1 + F / 2 ** m);
}

/** Canonical codes: every code except the subnormal ones of a format with subnormals off. */
export function canonical(f: FloatFormat, code: number): boolean {
  const m = f.mantissaBits;
  const E = Math.floor(code / 2 ** m) % 2 ** f.exponentBits;
  return f.subnormals || E !== 0 || code % 2 ** m === 0;
}

/** The non-negative finite values with their codes, ascending (from the reference decoder). */
export function positiveGrid(f: FloatFormat): { v: number; code: number }[] {
  const out: { v: number; code: number }[] = [];
  for (let code = 0; code < 2 ** (f.bits - 1); code++) {
    const v = refDecode(f, code);
    if (Number.isFinite(v) && canonical(f, code)) out.push({ v, code });
  }
  return out.sort((a, b) => a.v - b.v);
}

/**
 * The code encode() must give for x (a float64 holding an f32), by brute force over the grid:
 * the nearest value, ties to the even code; beyond max + half an ulp (or ±inf) per the overflow
 * policy (±inf stays ±inf where the format has one); with subnormals off, a result below the smallest normal flushes to ±0.
 */
export function refEncode(f: FloatFormat, grid: { v: number; code: number }[], x: number): number | 'nan' {
  if (Number.isNaN(x)) return 'nan';
  const signBit = x < 0 || Object.is(x, -0) ? 2 ** (f.bits - 1) : 0;
  const a = Math.abs(x);
  const top = grid[grid.length - 1];
  const ulpTop = 2 ** (Math.floor(Math.log2(top.v)) - f.mantissaBits);
  const infMag = f.specials === 'ieee' ? (2 ** f.exponentBits - 1) * 2 ** f.mantissaBits : -1;
  if (a === Infinity) return signBit + (f.specials === 'ieee' ? infMag : top.code);
  if (a >= top.v + ulpTop / 2) return signBit + (f.overflow === 'inf' ? infMag : top.code);
  // Subnormals are rounded to as usual, then flushed: so search the grid with them.
  const g = f.subnormals ? grid : subnormalGrid(f);
  let lo = 0;
  let hi = g.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (g[mid].v <= a) lo = mid;
    else hi = mid;
  }
  let pick = g[lo];
  if (a >= g[hi].v) pick = g[hi];
  else if (a > g[lo].v) {
    const dl = a - g[lo].v;
    const dh = g[hi].v - a;
    pick = dl < dh ? g[lo] : dh < dl ? g[hi] : g[lo].code % 2 === 0 ? g[lo] : g[hi];
  }
  let code = pick.code;
  if (!f.subnormals && code < 2 ** f.mantissaBits) code = 0;
  return signBit + code;
}

const subGrids = new Map<FloatFormat, { v: number; code: number }[]>();
function subnormalGrid(f: FloatFormat) {
  let g = subGrids.get(f);
  if (!g) {
    g = positiveGrid(defineFormat({ name: f.name, exponentBits: f.exponentBits, mantissaBits: f.mantissaBits, bias: f.bias, specials: f.specials, overflow: f.overflow, subnormals: true }));
    subGrids.set(f, g);
  }
  return g;
}

/** Inputs that probe rounding: every value, every midpoint and its f32 neighbours, the overflow edge, specials. */
export function probeInputs(f: FloatFormat, grid: { v: number; code: number }[], rand: () => number, randomCount: number): Float32Array {
  const xs: number[] = [0, -0, Infinity, -Infinity, NaN, 2 ** -149, -(2 ** -149), 2 ** -126, 3.4028234663852886e38];
  const bits = new Uint32Array(1);
  const fl = new Float32Array(bits.buffer);
  const around = (v: number) => {
    fl[0] = v;
    const b = bits[0];
    for (const d of [-1, 0, 1]) {
      bits[0] = b + d;
      xs.push(fl[0], -fl[0]);
    }
  };
  for (let i = 0; i < grid.length; i++) {
    xs.push(grid[i].v, -grid[i].v);
    if (i + 1 < grid.length) around((grid[i].v + grid[i + 1].v) / 2);
  }
  const top = grid[grid.length - 1].v;
  around(top + 2 ** (Math.floor(Math.log2(top)) - f.mantissaBits) / 2);
  for (let i = 0; i < randomCount; i++) {
    bits[0] = Math.floor(rand() * 2 ** 32);
    xs.push(fl[0]);
  }
  return new Float32Array(xs);
}
