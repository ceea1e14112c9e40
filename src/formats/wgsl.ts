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
//   fn decode4_<name>(codes: vec4<u32>) -> vec4<f32>     4 unpacked codes
//   fn run_<name>(codes: vec4<u32>) -> runType           4 codes packed into the words of a run
//   fn mask_run_<name>(w: runType, valid: u32) -> runType the first `valid` values kept, the rest +0
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

/**
 * `fn decode4_<name>(codes) -> vec4<f32>`, and where runType is not null `fn run_<name>(codes) ->
 * runType` (4 codes into the words of a run: what a gathered operand stores in workgroup memory,
 * still packed) and `fn mask_run_<name>(w, valid) -> runType` (lanes from `valid` on set to code 0,
 * which is +0 in every format: the GEMM core zeroes A past K this way).
 */
export function runFns(f: FloatFormat): string {
  const n = f.name;
  const dec = `fn decode4_${n}(q: vec4<u32>) -> vec4<f32> { return vec4(decode_${n}(q.x), decode_${n}(q.y), decode_${n}(q.z), decode_${n}(q.w)); }`;
  const t = runType(f);
  if (t === null) return dec;
  const b = u32(f.bits);
  const run =
    f.lanes === 4
      ? `q.x | (q.y << ${b}) | (q.z << ${u32(2 * f.bits)}) | (q.w << ${u32(3 * f.bits)})`
      : f.lanes === 2
        ? `vec2<u32>(q.x | (q.y << ${b}), q.z | (q.w << ${b}))`
        : 'q';
  // Word j keeps clamp(valid - j*lanes, 0, lanes) values: below `lanes`, a mask of that many codes.
  const keep = (j: number) => {
    const kept = j === 0 ? `min(valid, ${u32(f.lanes)})` : `min(max(valid, ${u32(j * f.lanes)}) - ${u32(j * f.lanes)}, ${u32(f.lanes)})`;
    return f.lanes === 1 ? `select(0u, 0xffffffffu, ${kept} == 1u)` : `select((1u << (${kept} * ${b})) - 1u, 0xffffffffu, ${kept} == ${u32(f.lanes)})`;
  };
  const words = 4 / f.lanes;
  const mask = words === 1 ? `w & ${keep(0)}` : `w & ${t}(${Array.from({ length: words }, (_, j) => keep(j)).join(', ')})`;
  return `${dec}
fn run_${n}(q: vec4<u32>) -> ${t} { return ${run}; }
fn mask_run_${n}(w: ${t}, valid: u32) -> ${t} { return ${mask}; }`;
}

/** Every function of one format, for inclusion in a kernel. */
export function formatWgsl(f: FloatFormat): string {
  return [decodeFn(f), unpackFns(f), splitRunFn(f), runFns(f), encodeFn(f), packFn(f)].filter(Boolean).join('\n');
}

/** The WGSL functions of several formats (each once), for a kernel reading or writing them. */
export function formatsWgsl(fs: readonly (FloatFormat | undefined)[]): string {
  const byName = new Map<string, FloatFormat>();
  for (const f of fs) if (f) byName.set(f.name, f);
  return [...byName.values()].map(formatWgsl).join('\n');
}

/** WGSL expression: the code of flat element `i` of the packed `array<u32>` `buf` (lane i % lanes of word i / lanes). */
export function codeAt(buf: string, f: FloatFormat, i: string): string {
  if (f.lanes === 1) return `${buf}[${i}]`;
  return `((${buf}[(${i}) / ${u32(f.lanes)}] >> ((${i}) % ${u32(f.lanes)} * ${u32(f.bits)})) & ${hex(constants(f).codeMask)})`;
}

/** WGSL expression: the f32 value of flat element `i` of `buf`, packed in `f`, or a plain array<f32> when `f` is undefined. */
export function valueAt(buf: string, f: FloatFormat | undefined, i: string): string {
  if (!f) return `${buf}[${i}]`;
  return f.lanes === 1 ? `decode_${f.name}(${buf}[${i}])` : `unpack_${f.name}(${buf}[(${i}) / ${u32(f.lanes)}], (${i}) % ${u32(f.lanes)})`;
}

/** The storage element type of a binding holding a value in `f` (plain f32, or the f32 type given, when unpacked). */
export function storageType(f: FloatFormat | undefined, plain = 'f32'): string {
  return f ? 'u32' : plain;
}

/**
 * A GEMM loader from a gather (see src/kernels/gemm.ts): given `body`, WGSL statements that set
 * `at: vec4<u32>` (the flat indices of the run's 4 elements) and optionally a `vec4<bool>` named
 * by `ok` (false: the element is +0, e.g. conv padding), the functions
 *   fn load<side>(k, arg: T) -> vec4<f32>
 * reading `buf`, packed in `f` or plain f32 (`f` undefined); when packed, also
 *   fn codes<side>(k, arg: T) -> vec4<u32>, and where runType(f) exists fn loadWords<side>(k, arg: T) -> runType
 * so that a GEMM core keeping the operand packed in workgroup memory gets the codes repacked
 * into whole words (integer operations only; the split into f32 happens next to the math).
 */
export function gatherOperand(side: 'A' | 'B', buf: string, f: FloatFormat | undefined, argType: string, body: string, ok?: string): string {
  const arg = side === 'A' ? 'r' : 'c';
  const sig = (name: string, ret: string) => `fn ${name}${side}(k: u32, ${arg}: ${argType}) -> ${ret}`;
  if (!f) {
    const v = `vec4(${buf}[at.x], ${buf}[at.y], ${buf}[at.z], ${buf}[at.w])`;
    return `${sig('load', 'vec4<f32>')} {
${body}
  let v = ${v};
  return ${ok ? `select(vec4<f32>(), v, ${ok})` : 'v'};
}`;
  }
  const q = `vec4<u32>(${['x', 'y', 'z', 'w'].map((c) => codeAt(buf, f, `at.${c}`)).join(', ')})`;
  const t = runType(f);
  return `${sig('codes', 'vec4<u32>')} {
${body}
  let q = ${q};
  return ${ok ? `select(vec4<u32>(), q, ${ok})` : 'q'};
}
${sig('load', 'vec4<f32>')} { return decode4_${f.name}(codes${side}(k, ${arg})); }${
    t ? `
${sig('loadWords', t)} { return run_${f.name}(codes${side}(k, ${arg})); }` : ''
  }`;
}

/**
 * A GEMM loader of aligned runs: `at` (a WGSL expression, a multiple of 4) is the flat index of the
 * run's first element, the next three following it. For `buf` packed in `f` with lanes dividing
 * 4: fn loadWords<side> (the run's whole words) and fn load<side> (split_run of them); plain f32
 * (`f` undefined, `buf` an array<vec4<f32>>): one vec4 load.
 */
export function alignedOperand(side: 'A' | 'B', buf: string, f: FloatFormat | undefined, argType: string, at: string): string {
  const arg = side === 'A' ? 'r' : 'c';
  const sig = (name: string, ret: string) => `fn ${name}${side}(k: u32, ${arg}: ${argType}) -> ${ret}`;
  if (!f) return `${sig('load', 'vec4<f32>')} { return ${buf}[(${at}) / 4u]; }`;
  const L = f.lanes;
  if (4 % L) throw new RangeError(`alignedOperand: ${f.name}'s ${L} lanes do not divide a run of 4`);
  // `run0`, not a short name like `w`, which may be the buffer's.
  const words = L === 4 ? `${buf}[run0]` : `${runType(f)}(${Array.from({ length: 4 / L }, (_, q) => `${buf}[run0${q ? ` + ${u32(q)}` : ''}]`).join(', ')})`;
  return `${sig('loadWords', runType(f)!)} { let run0 = (${at}) / ${u32(L)}; return ${words}; }
${sig('load', 'vec4<f32>')} { return split_run_${f.name}(loadWords${side}(k, ${arg})); }`;
}

// ---- GEMM operands and epilogue stores on packed data (the GEMM core's loader contract, see
// src/kernels/gemm.ts) ----

/**
 * Like matrixOperand (src/kernels/gemm.ts), for a matrix stored packed in format `f`: `buf` is
 * declared `array<u32>` and holds the element at flat index i in lane i % lanes of word i / lanes
 * (the layout of pack()). The kernel must include formatWgsl(f). As A (rowA, loadA), element
 * (m, k) of batch b is at flat index batchOffset(b) + m*rowStride + k*colStride; as B (colB,
 * loadB), element (k, n) at batchOffset(b) + k*rowStride + n*colStride.
 *
 * Where runType(f) exists, the text also has the word loads for a kernel that keeps the operand
 * packed in workgroup memory and splits only in registers, next to the math:
 *   fn loadWordsA(k: u32, r: TA) -> runType(f)     / fn loadWordsB(k: u32, c: TB) -> runType(f)
 * with loadA(k, r) == split_run_<name>(loadWordsA(k, r)) (likewise B). With `aligned` (colStride 1,
 * 4 | rowStride, 4 | every batch offset, and lanes dividing 4) a run of 4 is 4/lanes whole words
 * loaded as they are; otherwise each of the 4 elements finds its own word and lane, and the
 * words of a run are rebuilt from the 4 codes (gatherOperand).
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
  const [first, arg, kStride] = side === 'A' ? ['rowA', 'r', o.colStride] : ['colB', 'c', o.rowStride];
  const [outer, outerStride] = side === 'A' ? ['m', o.rowStride] : ['n', o.colStride];
  const at = `${arg} + ${step('k', kStride)}`;
  const head = `fn ${first}(batch: u32, ${outer}: u32) -> u32 { return ${terms(batch, step(outer, outerStride))}; }`;
  if (o.aligned) return `${head}\n${alignedOperand(side, buf, f, 'u32', at)}`;
  const idx = [0, 1, 2, 3].map((q) => (q ? `a0 + ${u32(q * o.colStride)}` : 'a0'));
  return `${head}\n${gatherOperand(side, buf, f, 'u32', `  let a0 = ${at};\n  let at = vec4<u32>(${idx.join(', ')});`)}`;
}

/**
 * Pack on store: statements writing the vec4 `v` of columns n..n+3 (n % 4 == 0, n < N) to the
 * packed `array<u32>` `buf` in format `f`, where column c of the current row has flat index
 * `index(c)`. Word by word: the columns n + j*lanes .. n + j*lanes + lanes - 1 must be contiguous
 * and index(n + j*lanes) a multiple of lanes (the caller checks that the row length is a multiple
 * of lanes), so each invocation owns whole words and no two invocations write one word (which
 * would need atomics). Words whose columns are all >= N are skipped; with N a multiple of lanes
 * no word straddles N.
 */
export function packedStoreColumns(buf: string, v: string, n: string, index: (c: string) => string, f: FloatFormat, N?: number): string {
  const L = f.lanes;
  if (4 % L) throw new RangeError(`packedStoreColumns: ${f.name} has ${L} lanes per word, which does not divide a run of 4`);
  if (N !== undefined && N % L) throw new RangeError(`packedStoreColumns: ${N} columns are not a whole number of ${f.name} words (${L} lanes)`);
  const lanesOf = (j: number) => (L === 4 ? v : L === 2 ? `${v}.${j ? 'zw' : 'xy'}` : `${v}.${'xyzw'[j]}`);
  return Array.from({ length: 4 / L }, (_, j) => {
    const c = j ? `${n} + ${u32(j * L)}` : n;
    const st = `${buf}[(${index(`(${c})`)}) / ${u32(L)}] = pack_${f.name}(${lanesOf(j)});`;
    return j === 0 || N === undefined || N % 4 === 0 ? `  ${st}` : `  if (${c} < ${u32(N)}) { ${st} }`;
  }).join('\n');
}
