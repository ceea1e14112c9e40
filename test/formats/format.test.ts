import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  constants,
  decode,
  decodeArray,
  decodeBits,
  defineFormat,
  encode,
  encodeArray,
  encodeBits,
  f32Bits,
  FORMATS,
  FormatError,
  getFormat,
  isNanCode,
  maxFinite,
  minNormal,
  pack,
  packCodes,
  packedWords,
  unpack,
  unpackCodes,
} from '../../src/formats/format.js';
import { rng } from '../helpers.js';
import { canonical, positiveGrid, probeInputs, refDecode, refEncode, TESTED } from './cases.js';

const hex = (x: number) => `0x${(x >>> 0).toString(16)}`;

test('presets have the documented geometry and special values', () => {
  const geo = Object.fromEntries(Object.values(FORMATS).map((f) => [f.name, [f.exponentBits, f.mantissaBits, f.bias, f.bits, f.lanes]]));
  assert.deepEqual(geo, {
    fp32: [8, 23, 127, 32, 1],
    bf16: [8, 7, 127, 16, 2],
    fp16: [5, 10, 15, 16, 2],
    e6m5: [6, 5, 31, 12, 2],
    e4m3: [4, 3, 7, 8, 4],
    e5m2: [5, 2, 15, 8, 4],
  });
  // Known values: OCP FP8 maxima, IEEE fp16 max, bf16 max, smallest subnormals.
  assert.equal(maxFinite(FORMATS.e4m3), 448);
  assert.equal(maxFinite(FORMATS.e5m2), 57344);
  assert.equal(maxFinite(FORMATS.fp16), 65504);
  assert.equal(maxFinite(FORMATS.bf16), Math.fround(3.3895313892515355e38));
  assert.equal(decode(FORMATS.e4m3, 0x01), 2 ** -9);
  assert.equal(decode(FORMATS.fp16, 0x0001), 2 ** -24);
  assert.equal(decode(FORMATS.bf16, 0x0001), 2 ** -133);
  assert.equal(minNormal(FORMATS.e6m5), 2 ** -30);
  assert.equal(decode(FORMATS.fp16, 0x3c00), 1);
  assert.equal(decode(FORMATS.bf16, 0xc040), -3);
  assert.equal(decode(FORMATS.e4m3, 0x7f), NaN);
  assert.equal(decode(FORMATS.e4m3, 0x78), 256); // S.1111.000 is finite in OCP E4M3
  assert.equal(decode(FORMATS.e5m2, 0x7c), Infinity);
  assert.ok(Object.is(decode(FORMATS.e5m2, 0x80), -0));
  assert.equal(getFormat('bf16'), FORMATS.bf16);
  assert.throws(() => getFormat('fp8'), /unknown format 'fp8' \(presets: fp32, bf16/);
});

test('every code of every 8- to 16-bit format decodes to the float64 reference value', () => {
  for (const f of TESTED) {
    const { nanMag } = constants(f);
    for (let code = 0; code < 2 ** f.bits; code++) {
      const want = refDecode(f, code);
      const got = decode(f, code);
      if (Number.isNaN(want)) {
        assert.ok(Number.isNaN(got) && isNanCode(f, code), `${f.name} ${hex(code)}: expected NaN, got ${got}`);
        assert.equal(decodeBits(f, code) >>> 31, code >>> (f.bits - 1), `${f.name} ${hex(code)}: NaN keeps its sign`);
      } else {
        assert.ok(Object.is(got, want), `${f.name} ${hex(code)}: got ${got}, reference ${want}`);
        assert.ok(!isNanCode(f, code), `${f.name} ${hex(code)} is not NaN`);
      }
    }
    assert.ok(isNanCode(f, nanMag), `${f.name}: the encoder's NaN is a NaN code`);
  }
});

test('encode(decode(c)) == c for every canonical non-NaN code; NaN codes stay NaN', () => {
  for (const f of TESTED) {
    for (let code = 0; code < 2 ** f.bits; code++) {
      const v = decode(f, code);
      const back = encode(f, v);
      if (isNanCode(f, code)) {
        assert.ok(isNanCode(f, back) && back >>> (f.bits - 1) === code >>> (f.bits - 1), `${f.name} NaN ${hex(code)} -> ${hex(back)}`);
      } else if (canonical(f, code)) {
        assert.equal(back, code, `${f.name}: ${hex(code)} = ${v} re-encodes to ${hex(back)}`);
      } else {
        // Subnormal codes of a format without subnormals read as ±0 and re-encode as ±0.
        assert.equal(back, code & (1 << (f.bits - 1)), `${f.name}: non-canonical ${hex(code)}`);
      }
    }
  }
});

test('encode rounds to nearest, ties to even, with overflow, subnormals and NaN per the entry (brute-force reference)', () => {
  const r = rng(4242);
  for (const f of TESTED) {
    const grid = positiveGrid(f);
    const xs = probeInputs(f, grid, r, 20000);
    const codes = encodeArray(f, xs);
    for (let i = 0; i < xs.length; i++) {
      const want = refEncode(f, grid, xs[i]);
      if (want === 'nan') {
        assert.ok(isNanCode(f, codes[i]), `${f.name}: NaN -> ${hex(codes[i])}`);
        assert.equal(codes[i] >>> (f.bits - 1), f32Bits(xs[i]) >>> 31, `${f.name}: NaN keeps its sign`);
      } else assert.equal(codes[i], want, `${f.name}: encode(${xs[i]}) = ${hex(codes[i])}, reference ${hex(want)}`);
    }
  }
});

test('hand-made ties, overflow and flushing', () => {
  const { fp16, bf16, e4m3, e5m2 } = FORMATS;
  // fp16 around 1: ulp 2^-10. 1 + 2^-11 ties between 0x3c00 (even) and 0x3c01: to 0x3c00;
  // 1 + 3·2^-11 ties between 0x3c01 and 0x3c02 (even): up.
  assert.equal(encode(fp16, 1 + 2 ** -11), 0x3c00);
  assert.equal(encode(fp16, 1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(encode(fp16, 1 + 2 ** -11 + 2 ** -20), 0x3c01);
  // bf16 is fp32 with 16 bits rounded off: 0x3f808000 is a tie to even (down), 0x3f818000 up.
  assert.equal(encode(bf16, new Float32Array(new Uint32Array([0x3f808000]).buffer)[0]), 0x3f80);
  assert.equal(encode(bf16, new Float32Array(new Uint32Array([0x3f818000]).buffer)[0]), 0x3f82);
  // Subnormal ties: e4m3's smallest subnormal is 2^-9; half of it ties to 0 (even), 1.5x to 2.
  assert.equal(encode(e4m3, 2 ** -10), 0x00);
  assert.equal(encode(e4m3, 3 * 2 ** -10), 0x02);
  assert.equal(encode(e4m3, -(2 ** -10)), 0x80);
  // Carry from the largest subnormal into the smallest normal.
  assert.equal(encode(e4m3, 7.75 * 2 ** -9), 0x08);
  // Overflow: fp16 rounds to inf at 65520 (max + half ulp) and not below; e4m3 saturates to 448.
  assert.equal(encode(fp16, 65519), 0x7bff);
  assert.equal(encode(fp16, 65520), 0x7c00);
  assert.equal(encode(fp16, -1e30), 0xfc00);
  assert.equal(encode(e4m3, 464), 0x7e);
  assert.equal(encode(e4m3, 1e30), 0x7e);
  assert.equal(encode(e4m3, -Infinity), 0xfe);
  assert.equal(encode(e5m2, 1e30), 0x7b); // saturating preset: finite overflow -> max,
  assert.equal(encode(e5m2, Infinity), 0x7c); // but an infinity stays one
  assert.equal(encode(fp16, Infinity), 0x7c00);
  assert.equal(encode(bf16, -Infinity), 0xff80);
  // NaN: a quiet NaN code, sign kept.
  assert.equal(encode(fp16, NaN), 0x7e00);
  assert.equal(encode(e4m3, NaN), 0x7f);
  assert.equal(encode(e5m2, -NaN) & 0x7f, 0x7e);
  assert.equal(encode(FORMATS.fp32, -0), 0x80000000);
  assert.equal(encode(fp16, -0), 0x8000);
  // Subnormals off: rounded as if subnormals existed, then anything below the smallest normal is ±0.
  const ftz = defineFormat({ name: 'fp16_ftz', exponentBits: 5, mantissaBits: 10, subnormals: false });
  assert.equal(encode(ftz, 2 ** -15), 0x0000);
  assert.equal(encode(ftz, -(2 ** -15)), 0x8000);
  assert.equal(encode(ftz, 2 ** -14 * (1 - 2 ** -12)), 0x0400); // rounds up to the smallest normal
  assert.equal(encode(ftz, 2 ** -14), 0x0400);
  assert.ok(Object.is(decode(ftz, 0x8001), -0)); // subnormal codes read as zero
});

test('decodeArray / encodeArray are the scalar codec over arrays', () => {
  const f = FORMATS.e6m5;
  const x = new Float32Array([0, -0, 1.5, -3.25, 1e-12, 1e12, NaN, -Infinity, 7e9]);
  const codes = encodeArray(f, x);
  assert.deepEqual([...codes], [...x].map((v) => encode(f, v)));
  assert.deepEqual([...decodeArray(f, codes)], [...codes].map((c) => decode(f, c)));
});

test('pack/unpack round-trip for every lane position and odd lengths, little end first', () => {
  const r = rng(7);
  for (const f of [...TESTED, FORMATS.fp32]) {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 13, 31, 97]) {
      const codes = new Uint32Array(n);
      for (let i = 0; i < n; i++) codes[i] = Math.floor(r() * 2 ** f.bits) >>> 0;
      const words = packCodes(f, codes);
      assert.equal(words.length, packedWords(f, n), `${f.name} n=${n}: word count`);
      assert.equal(words.length, Math.ceil(n / Math.floor(32 / f.bits)));
      assert.deepEqual([...unpackCodes(f, words, n)], [...codes], `${f.name} n=${n}: codes`);
      // Layout: value i at bits [(i % lanes)·bits, ...) of word floor(i / lanes); the rest zero.
      for (let i = 0; i < n; i++) {
        const w = words[Math.floor(i / f.lanes)];
        const lane = i % f.lanes;
        assert.equal(f.bits === 32 ? w : (w >>> (lane * f.bits)) & (2 ** f.bits - 1), codes[i]);
      }
      const used = f.bits * f.lanes;
      if (used < 32) for (const w of words) assert.equal(w >>> used, 0, `${f.name}: unused high bits are zero`);
      if (n % f.lanes) assert.equal(words[words.length - 1] >>> ((n % f.lanes) * f.bits), 0, `${f.name}: lanes past the end are zero`);
      // Values: pack/unpack is encode/decode.
      const x = new Float32Array(n).map(() => (r() - 0.5) * 100);
      const y = unpack(pack(x, f), f, n);
      assert.deepEqual([...y], [...x].map((v) => decode(f, encode(f, v))), `${f.name} n=${n}: values`);
    }
  }
  assert.throws(() => unpackCodes(FORMATS.e4m3, new Uint32Array(2), 9), /cannot unpack 9 e4m3 values from 2 words/);
});

test('impossible formats are refused with clear errors', () => {
  const bad: [Parameters<typeof defineFormat>[0], RegExp][] = [
    [{ name: 'x', exponentBits: 8, mantissaBits: 10 }, /19 bits; formats have 8 to 16 bits/],
    [{ name: 'x', exponentBits: 3, mantissaBits: 2 }, /6 bits; formats have 8 to 16 bits/],
    [{ name: 'x', exponentBits: 0, mantissaBits: 10 }, /exponentBits must be at least 1 \(got 0\)/],
    [{ name: 'x', exponentBits: 1, mantissaBits: 10 }, /exponentBits must be at least 2/],
    [{ name: 'x', exponentBits: 7, mantissaBits: 0 }, /mantissaBits must be at least 1/],
    [{ name: 'x', exponentBits: 9, mantissaBits: 4 }, /exponentBits 9 > 8/],
    [{ name: 'x', exponentBits: 4.5, mantissaBits: 3 }, /must be integers/],
    [{ name: 'x', exponentBits: 10, mantissaBits: 21 }, /a 32-bit format must be fp32/],
    [{ name: 'x', exponentBits: 5, mantissaBits: 2, bias: 200 }, /bias 200 out of range \[-97, 127\]/],
    [{ name: 'x', exponentBits: 8, mantissaBits: 7, bias: 100 }, /bias 100 out of range \[127, 127\]/],
    [{ name: 'x', exponentBits: 8, mantissaBits: 7, specials: 'fn' }, /bias 127 out of range \[128, 127\]/],
    [{ name: 'x', exponentBits: 5, mantissaBits: 2, bias: 1.5 }, /bias 1.5 out of range/],
    [{ name: 'x', exponentBits: 4, mantissaBits: 3, specials: 'fn', overflow: 'inf' }, /overflow 'inf' needs an infinity/],
    [{ name: 'x-y', exponentBits: 4, mantissaBits: 3 }, /must be an identifier/],
    [{ name: 'x', exponentBits: 8, mantissaBits: 23, subnormals: false }, /fp32 is IEEE binary32/],
  ];
  for (const [spec, re] of bad) assert.throws(() => defineFormat(spec), (e: unknown) => e instanceof FormatError && re.test(e.message), JSON.stringify(spec));
  // The edges of the ranges are accepted.
  assert.equal(defineFormat({ name: 'lo', exponentBits: 5, mantissaBits: 2, bias: -97 }).bias, -97);
  assert.equal(defineFormat({ name: 'hi', exponentBits: 2, mantissaBits: 13 }).bits, 16);
  assert.equal(defineFormat({ name: 'e7', exponentBits: 7, mantissaBits: 1 }).lanes, 3);
});

test('fp32 is the identity', () => {
  const f = FORMATS.fp32;
  for (const b of [0, 0x80000000, 1, 0x7f7fffff, 0x7f800000, 0xff800000, 0x3f800000, 0x7fc00001]) {
    assert.equal(encodeBits(f, b), b);
    assert.equal(decodeBits(f, b), b);
  }
});
