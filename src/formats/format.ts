// Custom float formats as data (design.md 4.2): one table entry per format, and the CPU codec and
// word packing that every other piece (WGSL generation in ./wgsl.ts, packed weights, format
// choice) reads from the entry. Nothing outside this table and the small functions fed by it
// knows any particular format.
//
// A format is 1 sign bit, `e` exponent bits and `m` mantissa bits, sign on top:
//   code = S | E (e bits) | F (m bits)
//   E = 0, F = 0:              ±0
//   E = 0, F != 0:             ±2^(1-bias) · F/2^m        (subnormal; read as ±0 when subnormals are off)
//   otherwise, unless special: ±2^(E-bias) · (1 + F/2^m)
// Specials, per `specials`:
//   'ieee': the all-ones exponent is reserved: F = 0 is ±inf, F != 0 is NaN (fp32, bf16, fp16, e5m2).
//   'fn'  : no infinities; only S.11..1.11..1 is NaN, the rest of the all-ones exponent holds
//           finite values (OCP FP8 E4M3, "e4m3fn"): one more binade of range for 8 bits.
// NaN is always kept: every format has a NaN code, and NaN encodes to it (sign kept).
//
// Every value of every format is exactly an f32 (checked by defineFormat), so decoding is exact
// and encoding from f32 is a single rounding.

import { DeftnnError } from '../errors.js';

export class FormatError extends DeftnnError {
  override name = 'FormatError';
}

export type OverflowPolicy = 'saturate' | 'inf';
export type Specials = 'ieee' | 'fn';

export interface FloatFormat {
  /** Also the suffix of the generated WGSL function names, so a WGSL identifier. */
  readonly name: string;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  /** 1 + exponentBits + mantissaBits: 8..16, or 32 for fp32. */
  readonly bits: number;
  readonly bias: number;
  readonly specials: Specials;
  /**
   * Finite values beyond the largest finite value:
   *  'saturate': become ±max finite (like OCP FP8's saturating conversion);
   *  'inf'     : IEEE rounding: at or above max + half an ulp they become ±inf ('ieee' specials only).
   * ±inf inputs stay ±inf where the format has infinities ('ieee' specials, whatever the policy,
   * so that encode(decode(c)) == c for every code), else ('fn') they become ±max finite.
   */
  readonly overflow: OverflowPolicy;
  /**
   * Off: the value is first rounded as if the format had subnormals; a result below the smallest
   * normal becomes ±0 (sign kept). Codes with E = 0, F != 0 then decode to ±0 too.
   */
  readonly subnormals: boolean;
  /** Always true: NaN encodes to a NaN code (see nanCode). Kept as a field so the entry says so. */
  readonly nanKept: true;
  /** Values per 32-bit word: floor(32 / bits). */
  readonly lanes: number;
}

export interface FormatSpec {
  name: string;
  exponentBits: number;
  mantissaBits: number;
  /** Default 2^(e-1) - 1, the IEEE bias. */
  bias?: number;
  /** Default 'ieee'. */
  specials?: Specials;
  /** Default 'saturate'. */
  overflow?: OverflowPolicy;
  /** Default true. */
  subnormals?: boolean;
}

/** The largest all-ones exponent field that still holds finite values. */
function maxFiniteExponentField(e: number, specials: Specials): number {
  return specials === 'ieee' ? 2 ** e - 2 : 2 ** e - 1;
}

/** Check a format description and build its table entry; impossible formats throw FormatError. */
export function defineFormat(spec: FormatSpec): FloatFormat {
  const { name, exponentBits: e, mantissaBits: m } = spec;
  const specials = spec.specials ?? 'ieee';
  const overflow = spec.overflow ?? 'saturate';
  const subnormals = spec.subnormals ?? true;
  const where = `format '${name}'`;
  if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
    throw new FormatError(`format name '${name}' must be an identifier (letters, digits, _), as it names WGSL functions`);
  }
  if (!Number.isInteger(e) || !Number.isInteger(m)) throw new FormatError(`${where}: exponentBits and mantissaBits must be integers (got ${e}, ${m})`);
  if (e < 1) throw new FormatError(`${where}: exponentBits must be at least 1 (got ${e}); a format without exponent bits is fixed point`);
  if (e < 2) throw new FormatError(`${where}: exponentBits must be at least 2 (got ${e}): one exponent bit leaves no room for normals and specials`);
  if (m < 1) throw new FormatError(`${where}: mantissaBits must be at least 1 (got ${m}), so that NaN and inf (or the max finite value) differ`);
  const bits = 1 + e + m;
  const isFp32 = bits === 32;
  if (isFp32 && (e !== 8 || m !== 23)) throw new FormatError(`${where}: a 32-bit format must be fp32 (1-8-23), got 1-${e}-${m}`);
  if (!isFp32 && (bits < 8 || bits > 16)) {
    throw new FormatError(`${where}: 1 + ${e} + ${m} = ${bits} bits; formats have 8 to 16 bits (or are fp32)`);
  }
  if (e > 8) throw new FormatError(`${where}: exponentBits ${e} > 8 exceeds f32's range`);
  if (specials !== 'ieee' && specials !== 'fn') throw new FormatError(`${where}: specials must be 'ieee' or 'fn' (got ${String(specials)})`);
  if (overflow !== 'saturate' && overflow !== 'inf') throw new FormatError(`${where}: overflow must be 'saturate' or 'inf' (got ${String(overflow)})`);
  if (overflow === 'inf' && specials !== 'ieee') {
    throw new FormatError(`${where}: overflow 'inf' needs an infinity; with specials '${specials}' the format has none (use 'saturate')`);
  }
  const bias = spec.bias ?? 2 ** (e - 1) - 1;
  // Every value must be an f32 and every normal an f32 normal: the largest exponent at most 127,
  // the smallest normal exponent at least -126 (so f32 subnormal inputs land in our subnormals).
  const lo = maxFiniteExponentField(e, specials) - 127;
  if (!Number.isInteger(bias) || bias < lo || bias > 127) {
    throw new FormatError(
      `${where}: bias ${bias} out of range [${lo}, 127]: values must stay within f32 ` +
        `(largest exponent ${maxFiniteExponentField(e, specials)} - bias <= 127, smallest normal exponent 1 - bias >= -126)`,
    );
  }
  if (isFp32 && (bias !== 127 || specials !== 'ieee' || overflow !== 'inf' || !subnormals)) {
    throw new FormatError(`${where}: fp32 is IEEE binary32 (bias 127, ieee specials, overflow 'inf', subnormals)`);
  }
  return Object.freeze({ name, exponentBits: e, mantissaBits: m, bits, bias, specials, overflow, subnormals, nanKept: true, lanes: Math.floor(32 / bits) });
}

/**
 * The presets. Choices (design.md 4.2):
 *  - fp32: the full format, identity.
 *  - bf16 1-8-7: IEEE-style specials, overflow to inf, subnormals (as a truncated fp32 is).
 *  - fp16 1-5-10: IEEE binary16, overflow to inf; for comparison only.
 *  - e6m5 1-6-5 (12 bits, 2 per word): IEEE-style specials but saturating, subnormals on; a
 *    bf16-like range (2^-30..2^31) with 5 mantissa bits.
 *  - e4m3 1-4-3: OCP FP8 E4M3: no inf, NaN only S.1111.111, max 448, saturating.
 *  - e5m2 1-5-2: OCP FP8 E5M2: IEEE-style specials (max 57344); we use OCP's saturating mode,
 *    the one ML inference uses, so an overflowing activation clamps rather than poisons.
 */
export const FORMATS = {
  fp32: defineFormat({ name: 'fp32', exponentBits: 8, mantissaBits: 23, overflow: 'inf' }),
  bf16: defineFormat({ name: 'bf16', exponentBits: 8, mantissaBits: 7, overflow: 'inf' }),
  fp16: defineFormat({ name: 'fp16', exponentBits: 5, mantissaBits: 10, overflow: 'inf' }),
  e6m5: defineFormat({ name: 'e6m5', exponentBits: 6, mantissaBits: 5 }),
  e4m3: defineFormat({ name: 'e4m3', exponentBits: 4, mantissaBits: 3, specials: 'fn' }),
  e5m2: defineFormat({ name: 'e5m2', exponentBits: 5, mantissaBits: 2 }),
} as const satisfies Record<string, FloatFormat>;

export type FormatName = keyof typeof FORMATS;

/** The preset of that name, or a FormatError listing the presets. */
export function getFormat(name: string): FloatFormat {
  const f = (FORMATS as Record<string, FloatFormat>)[name];
  if (!f) throw new FormatError(`unknown format '${name}' (presets: ${Object.keys(FORMATS).join(', ')})`);
  return f;
}

// ---- derived constants (shared by the CPU codec and the WGSL generator) ----

export interface FormatConstants {
  /** All-ones of `bits` bits. */
  codeMask: number;
  signShift: number;
  expMask: number;
  mantMask: number;
  /** Magnitude (code without sign) of the largest finite value. */
  maxFiniteMag: number;
  /** Magnitude of +inf ('ieee' only), else -1. */
  infMag: number;
  /** Magnitude of the NaN that encoding produces (quiet: top mantissa bit set). */
  nanMag: number;
}

export function constants(f: FloatFormat): FormatConstants {
  const { exponentBits: e, mantissaBits: m } = f;
  const expMask = 2 ** e - 1;
  const mantMask = 2 ** m - 1;
  const allOnes = expMask * 2 ** m;
  return {
    codeMask: f.bits === 32 ? 0xffffffff : 2 ** f.bits - 1,
    signShift: f.bits - 1,
    expMask,
    mantMask,
    maxFiniteMag: f.specials === 'ieee' ? allOnes - 1 : allOnes + mantMask - 1,
    infMag: f.specials === 'ieee' ? allOnes : -1,
    nanMag: f.specials === 'ieee' ? allOnes + 2 ** (m - 1) : allOnes + mantMask,
  };
}

/** Whether `code` is a NaN of format `f`. */
export function isNanCode(f: FloatFormat, code: number): boolean {
  const c = constants(f);
  const mag = code & (c.codeMask >>> 1);
  return f.specials === 'ieee' ? mag > c.infMag : mag === c.nanMag;
}

/** The largest finite value. */
export function maxFinite(f: FloatFormat): number {
  return decode(f, constants(f).maxFiniteMag);
}

/** The smallest positive normal value. */
export function minNormal(f: FloatFormat): number {
  return 2 ** (1 - f.bias);
}

// ---- CPU codec: integer operations on f32 bits, the same steps as the generated WGSL ----

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

export function f32Bits(x: number): number {
  f32Buf[0] = x;
  return u32Buf[0];
}

export function bitsF32(b: number): number {
  u32Buf[0] = b;
  return f32Buf[0];
}

/** The f32 bit pattern of code's value (NaN: sign | 0x7fc00000). */
export function decodeBits(f: FloatFormat, code: number): number {
  if (f.bits === 32) return code >>> 0;
  const c = constants(f);
  const m = f.mantissaBits;
  const sign = ((code >>> c.signShift) & 1) << 31;
  const E = (code >>> m) & c.expMask;
  const F = code & c.mantMask;
  let mag: number;
  if (f.specials === 'ieee' && E === c.expMask) mag = F === 0 ? 0x7f800000 : 0x7fc00000;
  else if (f.specials === 'fn' && E === c.expMask && F === c.mantMask) mag = 0x7fc00000;
  else if (E !== 0) mag = ((E + 127 - f.bias) << 23) | (F << (23 - m));
  else if (F === 0 || !f.subnormals) mag = 0;
  else {
    // F · 2^(1-bias-m): normalise on the leading bit p; defineFormat keeps it an f32 normal or
    // (bf16 only) an f32 subnormal, which is F shifted into place.
    const p = 31 - Math.clz32(F);
    const ex = p + 128 - f.bias - m;
    mag = ex >= 1 ? (ex << 23) | ((F << (23 - p)) & 0x7fffff) : F << (150 - f.bias - m);
  }
  return (sign | mag) >>> 0;
}

/** The value of `code`. */
export function decode(f: FloatFormat, code: number): number {
  return bitsF32(decodeBits(f, code));
}

/** The code of f32 bit pattern `b`: round to nearest, ties to even; overflow, NaN and subnormals per the entry. */
export function encodeBits(f: FloatFormat, b: number): number {
  b >>>= 0;
  if (f.bits === 32) return b;
  const c = constants(f);
  const m = f.mantissaBits;
  const sign = (b >>> 31) << c.signShift;
  const a = b & 0x7fffffff;
  if (a > 0x7f800000) return sign | c.nanMag;
  if (a === 0x7f800000) return sign | (f.specials === 'ieee' ? c.infMag : c.maxFiniteMag);
  // value = sig · 2^(E' - 150), E' = max(E32, 1) (f32 subnormals have no hidden bit).
  const E32 = a >>> 23;
  const sig = E32 === 0 ? a : (a & 0x7fffff) | 0x800000;
  const Ep = Math.max(E32, 1);
  const Et = Ep - 127 + f.bias; // target biased exponent
  const q = Math.max(Et, 1); // the target's quantum is 2^(q - bias - m)
  const r = Math.min(q - Et + 23 - m, 25); // right shift; 25 leaves < half of the smallest subnormal
  const kept = sig >>> r;
  const rem = sig & ((1 << r) - 1);
  const half = 1 << (r - 1);
  const rounded = kept + (rem > half || (rem === half && (kept & 1) === 1) ? 1 : 0);
  // A carry out of the mantissa bumps the exponent by itself: (q - 1) << m + (1 << m) = q << m.
  let mag = (q - 1) * 2 ** m + rounded;
  if (mag > c.maxFiniteMag) mag = f.overflow === 'inf' ? c.infMag : c.maxFiniteMag;
  if (!f.subnormals && mag < 2 ** m) mag = 0;
  return (sign | mag) >>> 0;
}

/** The code of `x` (first rounded to f32, as the GPU sees it). */
export function encode(f: FloatFormat, x: number): number {
  return encodeBits(f, f32Bits(x));
}

/** encode() over an array: one code per value (Uint32Array, one code per element, unpacked). */
export function encodeArray(f: FloatFormat, x: Float32Array): Uint32Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = encodeBits(f, bits[i]);
  return out;
}

/** decode() over an array of codes. */
export function decodeArray(f: FloatFormat, codes: Uint32Array): Float32Array {
  const out = new Uint32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = decodeBits(f, codes[i]);
  return new Float32Array(out.buffer);
}

/** Round every value to the nearest value of the format (encode then decode), as f32. */
export function quantize(f: FloatFormat, x: Float32Array): Float32Array {
  return decodeArray(f, encodeArray(f, x));
}

// ---- packing ----
//
// Layout: value k lives in word floor(k / lanes), lane k % lanes, at bits
// [lane·bits, lane·bits + bits) — the little end first, so lane 0 is the low bits. Bits above
// lanes·bits (8 for 12-bit formats, 2 for 10-bit ones) and the lanes past the last value in the
// last word are zero (code 0 is +0 in every format).

/** Words needed for `count` values. */
export function packedWords(f: FloatFormat, count: number): number {
  return Math.ceil(count / f.lanes);
}

/**
 * Bytes that `count` values occupy in memory: 4 per value as float32 (no format, or fp32), else
 * the packed words. The one place that decides a buffer's size from its shape and format (the
 * planner, the sessions and the bytes-moved counts all use it).
 */
export function storageBytes(f: FloatFormat | undefined, count: number): number {
  return 4 * (f ? packedWords(f, count) : count);
}

/** Pack codes (one per element) into words. */
export function packCodes(f: FloatFormat, codes: Uint32Array): Uint32Array {
  const L = f.lanes;
  const out = new Uint32Array(packedWords(f, codes.length));
  if (f.bits === 32) {
    out.set(codes);
    return out;
  }
  for (let i = 0; i < codes.length; i++) {
    const w = Math.floor(i / L);
    out[w] = (out[w] | (codes[i] << ((i % L) * f.bits))) >>> 0;
  }
  return out;
}

/** Unpack `count` codes from words. */
export function unpackCodes(f: FloatFormat, words: Uint32Array, count: number): Uint32Array {
  if (count > words.length * f.lanes) throw new FormatError(`cannot unpack ${count} ${f.name} values from ${words.length} words`);
  const out = new Uint32Array(count);
  if (f.bits === 32) {
    out.set(words.subarray(0, count));
    return out;
  }
  const mask = constants(f).codeMask;
  for (let i = 0; i < count; i++) out[i] = (words[Math.floor(i / f.lanes)] >>> ((i % f.lanes) * f.bits)) & mask;
  return out;
}

/** Encode and pack f32 values. */
export function pack(x: Float32Array, f: FloatFormat): Uint32Array {
  return packCodes(f, encodeArray(f, x));
}

/** Unpack and decode `count` values. */
export function unpack(words: Uint32Array, f: FloatFormat, count: number): Float32Array {
  return decodeArray(f, unpackCodes(f, words, count));
}

/**
 * Formats of a node's values stored packed (src/formats; design notes 4.2), by input and output
 * index; undefined: plain float32. Given to `gpu` only when one of them is packed.
 */
export interface IoFormats {
  readonly inputs: readonly (FloatFormat | undefined)[];
  readonly outputs: readonly (FloatFormat | undefined)[];
}
