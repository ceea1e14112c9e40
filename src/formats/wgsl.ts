// WGSL for the float formats of ./format.ts, generated from the table entry alone: decoding
// (a code or a lane of a packed word into f32), and encoding (f32 into a code, and a word of
// codes, for kernels that pack on store). Only integer shifts, masks, select, firstLeadingBit and
// bitcast: no f16 type, no shader-f16, and no float arithmetic, so the results are bit-exact
// with the CPU codec even where a GPU flushes f32 subnormals (bf16's subnormals are f32
// subnormals, built here as bit patterns).
//
// Per format `<name>` (see formatWgsl):
//   fn decode_<name>(code: u32) -> f32
//   fn unpack_<name>(word: u32, lane: u32) -> f32        lane < lanes, the little end first
//   fn unpack_all_<name>(word: u32) -> vecL<f32>         every lane (f32 when lanes = 1)
//   fn encode_<name>(x: f32) -> u32                      round to nearest, ties to even
//   fn pack_<name>(v: vecL<f32>) -> u32                  every lane (f32 when lanes = 1)
//   fn split_run_<name>(w: runType) -> vec4<f32>         the words of a run of 4 (lanes 1, 2, 4)
// and, for the GEMM core (src/kernels/gemm.ts), packedMatrixOperand (loaders reading packed
// operands) and packedStoreColumns (an epilogue that packs on store).

import { u32 } from '../kernels/wgsl.js';
import { constants, type FloatFormat } from './format.js';

const hex = (x: number) => `0x${(x >>> 0).toString(16)}u`;
const i32lit = (x: number) => (x < 0 ? `(${x}i)` : `${x}i`);

/** The WGSL vector type holding one word's lanes (f32 for one lane). */
export function laneType(f: FloatFormat): string {
  return f.lanes === 1 ? 'f32' : `vec${f.lanes}<f32>`;
}

/** `fn decode_<name>(code: u32) -> f32`. */
export function decodeFn(f: FloatFormat): string {
  if (f.bits === 32) return `fn decode_${f.name}(code: u32) -> f32 { return bitcast<f32>(code); }`;
  const c = constants(f);
  const m = f.mantissaBits;
  const lines = [
    `  let s = (code >> ${u32(c.signShift)}) << 31u;`,
    `  let E = (code >> ${u32(m)}) & ${hex(c.expMask)};`,
    `  let F = code & ${hex(c.mantMask)};`,
    // Normal: rebias the exponent and left-align the mantissa in f32's 23 bits.
    `  var mag = ((E + ${u32(127 - f.bias)}) << 23u) | (F << ${u32(23 - m)});`,
  ];
  if (f.subnormals) {
    // F · 2^(1-bias-m). With leading bit p, the f32 biased exponent is p + 128 - bias - m: when
    // that is >= 1 the value is an f32 normal (drop the leading bit, left-align the rest), else an
    // f32 subnormal, which is F shifted into place (only formats with bias near 127, like bf16).
    const lo = 128 - f.bias - m; // exponent at p = 0
    const hi = lo + m - 1; // exponent at p = m - 1
    const normalised = `(u32(ex) << 23u) | ((F << (23u - p)) & 0x7fffffu)`;
    const shifted = `F << ${u32(150 - f.bias - m)}`;
    let sub: string;
    if (lo >= 1) sub = `  let p = firstLeadingBit(F);\n  let ex = i32(p) + ${i32lit(lo)};\n  let sub = select(${normalised}, 0u, F == 0u);`;
    else if (hi <= 0) sub = `  let sub = ${shifted};`;
    else sub = `  let p = firstLeadingBit(F);\n  let ex = i32(p) + ${i32lit(lo)};\n  let sub = select(${shifted}, ${normalised}, ex >= 1 && F != 0u);`;
    lines.push(sub, `  mag = select(mag, sub, E == 0u);`);
  } else {
    lines.push(`  mag = select(mag, 0u, E == 0u); // subnormals off: read as zero`);
  }
  if (f.specials === 'ieee') {
    lines.push(`  mag = select(mag, select(0x7fc00000u, 0x7f800000u, F == 0u), E == ${hex(c.expMask)}); // inf, NaN`);
  } else {
    lines.push(`  mag = select(mag, 0x7fc00000u, (code & ${hex(c.codeMask >>> 1)}) == ${hex(c.nanMag)}); // the one NaN`);
  }
  return `// ${f.name}: 1-${f.exponentBits}-${m}, bias ${f.bias}, ${f.specials} specials, subnormals ${f.subnormals ? 'on' : 'off'}
fn decode_${f.name}(code: u32) -> f32 {
${lines.join('\n')}
  return bitcast<f32>(s | mag);
}`;
}

/** `fn encode_<name>(x: f32) -> u32`: round to nearest, ties to even; overflow, NaN, subnormals per the entry. */
export function encodeFn(f: FloatFormat): string {
  if (f.bits === 32) return `fn encode_${f.name}(x: f32) -> u32 { return bitcast<u32>(x); }`;
  const c = constants(f);
  const m = f.mantissaBits;
  const overflowMag = f.overflow === 'inf' ? c.infMag : c.maxFiniteMag;
  const infResult = f.specials === 'ieee' ? c.infMag : c.maxFiniteMag;
  return `// ${f.name}: f32 -> code, round to nearest even, overflow ${f.overflow}
fn encode_${f.name}(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let a = b & 0x7fffffffu;
  let E32 = a >> 23u;
  // value = sig * 2^(max(E32, 1) - 150): f32 subnormals have no hidden bit.
  let sig = select((a & 0x7fffffu) | 0x800000u, a, E32 == 0u);
  let Et = i32(max(E32, 1u)) + ${i32lit(f.bias - 127)}; // biased exponent in ${f.name}
  let q = max(Et, 1i); // the quantum is 2^(q - bias - m): subnormals share the smallest exponent
  let r = u32(min(q - Et + ${i32lit(23 - m)}, 25i)); // bits to drop; 25 drops everything to below half
  let kept = sig >> r;
  let rem = sig & ((1u << r) - 1u);
  let half = 1u << (r - 1u);
  let up = rem > half || (rem == half && (kept & 1u) == 1u);
  // A carry out of the mantissa bumps the exponent by itself.
  var mag = (u32(q - 1i) << ${u32(m)}) + kept + select(0u, 1u, up);
  mag = select(mag, ${hex(overflowMag)}, mag > ${hex(c.maxFiniteMag)});${
    f.subnormals ? '' : `\n  mag = select(mag, 0u, mag < ${hex(2 ** m)}); // subnormals off: flush`
  }
  mag = select(mag, ${hex(infResult)}, a == 0x7f800000u); // +-inf
  mag = select(mag, ${hex(c.nanMag)}, a > 0x7f800000u); // NaN
  return ((b >> 31u) << ${u32(c.signShift)}) | mag;
}`;
}

/** `fn unpack_<name>(word, lane) -> f32` and `fn unpack_all_<name>(word) -> vecL<f32>`. */
export function unpackFns(f: FloatFormat): string {
  const n = f.name;
  if (f.lanes === 1) {
    return `fn unpack_${n}(word: u32, lane: u32) -> f32 { return decode_${n}(word); }
fn unpack_all_${n}(word: u32) -> f32 { return decode_${n}(word); }`;
  }
  const mask = hex(constants(f).codeMask);
  const lanes = Array.from({ length: f.lanes }, (_, l) => `decode_${n}(${l ? `(word >> ${u32(l * f.bits)})` : 'word'} & ${mask})`);
  return `fn unpack_${n}(word: u32, lane: u32) -> f32 { return decode_${n}((word >> (lane * ${u32(f.bits)})) & ${mask}); }
fn unpack_all_${n}(word: u32) -> ${laneType(f)} {
  return ${laneType(f)}(${lanes.join(', ')});
}`;
}

/** `fn pack_<name>(v: vecL<f32>) -> u32`: encode every lane into one word (pack on store). */
export function packFn(f: FloatFormat): string {
  const n = f.name;
  if (f.lanes === 1) return `fn pack_${n}(v: f32) -> u32 { return encode_${n}(v); }`;
  const parts = Array.from({ length: f.lanes }, (_, l) => `(encode_${n}(v[${l}]) << ${u32(l * f.bits)})`);
  return `fn pack_${n}(v: ${laneType(f)}) -> u32 {
  return ${parts.join(' | ')};
}`;
}

/**
 * The packed words holding a run of 4 values (4/lanes words: u32, vec2<u32> or vec4<u32>), or
 * null when the lanes do not divide 4 (10-bit formats). A GEMM tile of these in workgroup memory
 * keeps an operand packed there; split_run_<name> turns one into vec4<f32> in registers.
 */
export function runType(f: FloatFormat): string | null {
  return f.lanes === 4 ? 'u32' : f.lanes === 2 ? 'vec2<u32>' : f.lanes === 1 ? 'vec4<u32>' : null;
}

/** `fn split_run_<name>(w: runType) -> vec4<f32>`: 4 values from the words of one run (empty when runType is null). */
export function splitRunFn(f: FloatFormat): string {
  const t = runType(f);
  const n = f.name;
  if (t === null) return '';
  const body =
    f.lanes === 4
      ? `unpack_all_${n}(w)`
      : f.lanes === 2
        ? `vec4(unpack_all_${n}(w.x), unpack_all_${n}(w.y))`
        : `vec4(decode_${n}(w.x), decode_${n}(w.y), decode_${n}(w.z), decode_${n}(w.w))`;
  return `fn split_run_${n}(w: ${t}) -> vec4<f32> { return ${body}; }`;
}

/** Every function of one format, for inclusion in a kernel. */
export function formatWgsl(f: FloatFormat): string {
  return [decodeFn(f), unpackFns(f), splitRunFn(f), encodeFn(f), packFn(f)].filter(Boolean).join('\n');
}

// ---- GEMM operands and epilogue stores on packed data (the GEMM core's loader contract, see
// src/kernels/gemm.ts) ----

/**
 * Like matrixOperand (src/kernels/gemm.ts), for a matrix stored packed in format `f`: `buf` is
 * declared `array<u32>` and holds the element at flat index i in lane i % lanes of word
 * i / lanes (the layout of pack()). The kernel must include formatWgsl(f). As A (rowA, loadA),
 * element (m, k) of batch b is at flat index batchOffset(b) + m*rowStride + k*colStride; as B
 * (colB, loadB), element (k, n) at batchOffset(b) + k*rowStride + n*colStride. loadA/loadB split
 * the words into f32 in registers right before the multiply-add ('registers' staging) or at the
 * copy into workgroup memory ('workgroup' staging): this is the split-at-load variant.
 *
 * With `aligned` (colStride 1, 4 | rowStride, 4 | every batch offset, and lanes dividing 4), a
 * run of 4 is 4/lanes whole words, and the text also has the raw word loads for a kernel that
 * keeps the operand packed in workgroup memory (split only in registers, next to the math):
 *   fn loadWordsA(k: u32, r: TA) -> runType(f)     / fn loadWordsB(k: u32, c: TB) -> runType(f)
 * with loadA(k, r) == split_run_<name>(loadWordsA(k, r)) (likewise B). Otherwise each of the 4
 * elements finds its own word and lane.
 */
export function packedMatrixOperand(
  side: 'A' | 'B',
  buf: string,
  f: FloatFormat,
  o: { rowStride: number; colStride: number; batchOffset?: (b: string) => string; aligned?: boolean },
): string {
  const L = f.lanes;
  if (o.aligned && (o.colStride !== 1 || o.rowStride % 4 || 4 % L)) {
    throw new RangeError(`packedMatrixOperand: an aligned run needs colStride 1, 4 | rowStride and ${f.name}'s ${L} lanes dividing 4`);
  }
  const terms = (...t: string[]) => t.filter(Boolean).join(' + ') || '0u';
  const batch = o.batchOffset?.('batch') ?? '';
  const step = (x: string, s: number) => (s === 1 ? x : `${x} * ${u32(s)}`);
  const one = (idx: string) => (L === 1 ? `decode_${f.name}(${buf}[${idx}])` : `unpack_${f.name}(${buf}[(${idx}) / ${u32(L)}], (${idx}) % ${u32(L)})`);
  const [first, arg, kStride] = side === 'A' ? ['rowA', 'r', o.colStride] : ['colB', 'c', o.rowStride];
  const [outer, outerStride] = side === 'A' ? ['m', o.rowStride] : ['n', o.colStride];
  const at = `let at = ${arg} + ${step('k', kStride)};`;
  const head = `fn ${first}(batch: u32, ${outer}: u32) -> u32 { return ${terms(batch, step(outer, outerStride))}; }`;
  if (o.aligned) {
    // The run's words: at is a multiple of 4, so they are words at/L .. at/L + 4/L - 1.
    const w = `at / ${u32(L)}`;
    const words = L === 4 ? `${buf}[${w}]` : `${runType(f)}(${Array.from({ length: 4 / L }, (_, q) => `${buf}[${w}${q ? ` + ${u32(q)}` : ''}]`).join(', ')})`;
    return `${head}
fn loadWords${side}(k: u32, ${arg}: u32) -> ${runType(f)} { ${at} return ${words}; }
fn load${side}(k: u32, ${arg}: u32) -> vec4<f32> { return split_run_${f.name}(loadWords${side}(k, ${arg})); }`;
  }
  const run = `vec4(${[0, 1, 2, 3].map((q) => one(q ? `at + ${u32(q * o.colStride)}` : 'at')).join(', ')})`;
  return `${head}
fn load${side}(k: u32, ${arg}: u32) -> vec4<f32> { ${at} return ${run}; }`;
}

/**
 * Pack on store: statements writing the vec4 `v` of columns n..n+3 (n % 4 == 0) to the packed
 * `array<u32>` `buf` in format `f`, where column n of the current row has flat index `index(n)`,
 * a multiple of 4 with the next three contiguous. Each invocation then owns 4/lanes whole
 * words, so no two invocations write one word (which would need atomics). Lanes for columns
 * >= N are written too (with whatever the accumulators hold there), so the row's storage must
 * reach a multiple of 4 (N % 4 == 0, or a padded row stride): the caller checks.
 */
export function packedStoreColumns(buf: string, v: string, n: string, index: (c: string) => string, f: FloatFormat): string {
  const L = f.lanes;
  if (4 % L) throw new RangeError(`packedStoreColumns: ${f.name} has ${L} lanes per word, which does not divide a run of 4`);
  const w = `(${index(n)}) / ${u32(L)}`;
  if (L === 4) return `  ${buf}[${w}] = pack_${f.name}(${v});`;
  if (L === 2) return `  { let w = ${w}; ${buf}[w] = pack_${f.name}(${v}.xy); ${buf}[w + 1u] = pack_${f.name}(${v}.zw); }`;
  return `  { let w = ${w};${[0, 1, 2, 3].map((q) => ` ${buf}[w${q ? ` + ${u32(q)}` : ''}] = pack_${f.name}(${v}.${'xyzw'[q]});`).join('')} }`;
}
