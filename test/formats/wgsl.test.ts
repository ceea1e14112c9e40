// The generated WGSL against the CPU codec, bit for bit: every code of every tested format
// decoded and unpacked (each lane, and the whole-word variant), encoded from probing inputs, and
// packed on store.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Gpu } from '../../src/device/gpu.js';
import { decodeBits, encodeBits, FORMATS, packCodes, type FloatFormat } from '../../src/formats/format.js';
import { formatWgsl, laneType, runType } from '../../src/formats/wgsl.js';
import { linearGrid, linearIndexFn, u32 } from '../../src/kernels/wgsl.js';
import { rng, testGpu } from '../helpers.js';
import { positiveGrid, probeInputs, TESTED } from './cases.js';

const gpu = await testGpu();
const WG = 64;

/** One dispatch of `count` invocations over a u32 input and a u32 output of `outWords`; `body` uses index `i`. */
async function run(g: Gpu, f: FloatFormat, input: Uint32Array, outWords: number, count: number, body: string): Promise<Uint32Array> {
  const wgsl = `@group(0) @binding(0) var<storage, read> inp: array<u32>;
@group(0) @binding(1) var<storage, read_write> outp: array<u32>;
${formatWgsl(f)}
${linearIndexFn(WG)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linearIndex(gid, nwg);
  if (i >= ${u32(count)}) { return; }
${body}
}`;
  await g.validate(wgsl);
  const inBuf = g.upload(input);
  const outBuf = g.buffer(outWords * 4);
  try {
    const step = { ...g.prepare(wgsl, [inBuf, outBuf]), workgroups: linearGrid(count, WG, g.kernelContext) };
    const { data } = await g.execute([step], [{ buffer: outBuf, bytes: outWords * 4 }]);
    return new Uint32Array(data[0].buffer, data[0].byteOffset, outWords);
  } finally {
    g.release(inBuf);
    g.release(outBuf);
  }
}

function firstMismatch(got: Uint32Array, want: Uint32Array): number {
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return i;
  return -1;
}

const hex = (x: number) => `0x${(x >>> 0).toString(16)}`;
const ALL = [...TESTED, FORMATS.fp32];

for (const f of ALL) {
  test(`${f.name}: WGSL decode and unpack agree bit-exactly with the CPU for every code`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    // fp32: a sample of bit patterns (every 2^32 code would be too slow on lavapipe).
    const r = rng(11);
    const codes = f.bits === 32 ? new Uint32Array(4096).map(() => Math.floor(r() * 2 ** 32)) : new Uint32Array(2 ** f.bits).map((_, i) => i);
    const want = codes.map((c) => decodeBits(f, c));
    const got = await run(gpu!, f, codes, codes.length, codes.length, '  outp[i] = bitcast<u32>(decode_' + f.name + '(inp[i]));');
    const at = firstMismatch(got, want);
    assert.equal(at, -1, at < 0 ? '' : `decode_${f.name}(${hex(codes[at])}) = ${hex(got[at])}, CPU ${hex(want[at])}`);

    // Pack the codes (rotated, so each code visits a different lane across the two halves), then
    // unpack each lane and the whole word: 2·lanes outputs per word.
    const L = f.lanes;
    const rotated = new Uint32Array(codes.length + 1);
    rotated.set(codes, 1);
    const words = packCodes(f, rotated);
    const n = words.length;
    const body = [
      ...Array.from({ length: L }, (_, l) => `  outp[i * ${u32(2 * L)} + ${u32(l)}] = bitcast<u32>(unpack_${f.name}(inp[i], ${u32(l)}));`),
      `  let all = unpack_all_${f.name}(inp[i]);`,
      ...Array.from({ length: L }, (_, l) => `  outp[i * ${u32(2 * L)} + ${u32(L + l)}] = bitcast<u32>(all${L === 1 ? '' : `[${l}]`});`),
    ].join('\n');
    const got2 = await run(gpu!, f, words, n * 2 * L, n, body);
    for (let w = 0; w < n; w++) {
      for (let l = 0; l < L; l++) {
        const k = w * L + l;
        const expect = decodeBits(f, k < rotated.length ? rotated[k] : 0);
        assert.equal(got2[w * 2 * L + l], expect, `unpack_${f.name}(word ${w}, lane ${l})`);
        assert.equal(got2[w * 2 * L + L + l], expect, `unpack_all_${f.name}(word ${w})[${l}]`);
      }
    }
  });

  test(`${f.name}: WGSL encode and pack agree bit-exactly with the CPU`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(f.bits * 31 + f.exponentBits);
    const xs =
      f.bits === 32
        ? new Float32Array([0, -0, 1, -2.5, NaN, Infinity, -Infinity, 2 ** -149, 3.4e38, ...Array.from({ length: 4096 }, () => (r() - 0.5) * 1e6)])
        : probeInputs(f, positiveGrid(f), r, 20000);
    const bits = new Uint32Array(xs.buffer, xs.byteOffset, xs.length);
    const want = bits.map((b) => encodeBits(f, b));
    const got = await run(gpu!, f, bits, bits.length, bits.length, `  outp[i] = encode_${f.name}(bitcast<f32>(inp[i]));`);
    const at = firstMismatch(got, want);
    assert.equal(at, -1, at < 0 ? '' : `encode_${f.name}(${xs[at]} = ${hex(bits[at])}) = ${hex(got[at])}, CPU ${hex(want[at])}`);

    // Pack on store: one word per invocation from `lanes` consecutive inputs (the tail padded with +0).
    const L = f.lanes;
    const n = Math.ceil(bits.length / L);
    const padded = new Uint32Array(n * L);
    padded.set(bits);
    const arg = L === 1 ? 'bitcast<f32>(inp[i])' : `${laneType(f)}(${Array.from({ length: L }, (_, l) => `bitcast<f32>(inp[i * ${u32(L)} + ${u32(l)}])`).join(', ')})`;
    const words = await run(gpu!, f, padded, n, n, `  outp[i] = pack_${f.name}(${arg});`);
    const wantWords = packCodes(f, padded.map((b) => encodeBits(f, b)));
    const wat = firstMismatch(words, wantWords);
    assert.equal(wat, -1, wat < 0 ? '' : `pack_${f.name} word ${wat}: ${hex(words[wat])}, CPU ${hex(wantWords[wat])}`);
  });
}

test('generated WGSL uses no f16 and no float arithmetic in the codec', () => {
  for (const f of ALL) {
    const src = formatWgsl(f);
    assert.ok(!/\bf16\b/.test(src), `${f.name}: no f16`);
    assert.ok(!/enable/.test(src), `${f.name}: no extensions`);
    // Every f32 value is built by bitcast: no f32 literal or float multiply appears.
    assert.ok(!/\d\.\d|\d+f\b|\bexp2\b|\bldexp\b/.test(src), `${f.name}: no float constants`);
    for (const fn of ['decode', 'unpack', 'unpack_all', 'encode', 'pack']) assert.ok(src.includes(`fn ${fn}_${f.name}(`), `${f.name}: ${fn}`);
    // A run of 4 is whole words unless the lanes do not divide 4 (3 x 10 bits).
    assert.equal(src.includes(`fn split_run_${f.name}(w: ${runType(f)})`), f.lanes !== 3, `${f.name}: split_run`);
  }
});

for (const f of [FORMATS.bf16, FORMATS.e6m5, FORMATS.e4m3, FORMATS.fp32]) {
  test(`${f.name}: run_ packs 4 codes into a run's words and mask_run_ keeps the first 0..4 of them`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(13);
    const runs = 64;
    const mask = f.bits === 32 ? 0xffffffff : 2 ** f.bits - 1;
    const codes = new Uint32Array(4 * runs).map(() => Math.floor(r() * 2 ** 32) & mask);
    const words = 4 / f.lanes;
    // Per run: the words of mask_run(run(q), valid) for valid = 0..4, one after the other.
    const t = runType(f)!;
    const comp = (w: string, j: number) => (words === 1 ? w : `${w}[${j}]`);
    const body = `  let q = vec4(inp[4u * i], inp[4u * i + 1u], inp[4u * i + 2u], inp[4u * i + 3u]);
  let w: ${t} = run_${f.name}(q);
  for (var v = 0u; v <= 4u; v++) {
    let m = mask_run_${f.name}(w, v);
${Array.from({ length: words }, (_, j) => `    outp[(i * 5u + v) * ${u32(words)} + ${u32(j)}] = ${comp('m', j)};`).join('\n')}
  }`;
    const got = await run(gpu!, f, codes, runs * 5 * words, runs, body);
    const want = new Uint32Array(runs * 5 * words);
    for (let i = 0; i < runs; i++) {
      for (let v = 0; v <= 4; v++) want.set(packCodes(f, codes.slice(4 * i, 4 * i + 4).map((c, j) => (j < v ? c : 0))), (i * 5 + v) * words);
    }
    const at = firstMismatch(got, want);
    assert.equal(at, -1, at < 0 ? '' : `word ${at}: ${hex(got[at])}, CPU ${hex(want[at])}`);
  });
}
