// Shape-generic kernels (kernels/uniforms.ts): which literals of generated WGSL are candidates, how
// a kernel is split into a skeleton and the values of its lifted literals, and how SizeLifts learns
// from kernels generated at two sizes which literals vary.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liftLiterals, parseKernel, SizeLifts } from '../../src/kernels/uniforms.js';
import { elementwiseMain, f32, i32, u32 } from '../../src/kernels/wgsl.js';

const kernel = (n: number, scale: number, shift: number) => `// scale ${n} values by ${scale}
const TILE = ${u32(64)};
var<workgroup> tile: array<f32, 64u>;
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, 64, `  y[i] = x[i] * ${f32(scale)} + f32(${i32(shift)}) + f32(TILE) * 0.0;`)}`;

test('parseKernel: typed literals outside constant positions, comments dropped, a structure that ignores the values', () => {
  const k = parseKernel(kernel(100, 0.5, -3));
  assert.ok(!k.code.includes('//'));
  assert.deepEqual(
    k.literals.map((l) => [l.type, l.value]),
    [
      ['u32', 64], // linearIndex's gid.y * nwg.x * 64u
      ['u32', 100],
      ['f32', 0.5],
      ['i32', -3], // (-3i): the sign is the literal's
    ],
  );
  // @workgroup_size(64), array<f32, 64u>, the const and the untyped 0.0 are not candidates.
  assert.equal(k.structure, parseKernel(kernel(7, -2, 5)).structure);
  assert.deepEqual(parseKernel('let a = x-1u; let b = y - 2i; let c = f(-0.25f, 1e-7f);').literals.map((l) => l.value), [1, 2, -0.25, 1e-7]);
  assert.notEqual(k.structure, parseKernel(kernel(7, 2, 5).replace('x[i] *', 'x[i] +')).structure);
});

test('liftLiterals: the chosen literals read a uniform bound after the kernel\'s own bindings, with their bits', () => {
  const k = parseKernel(kernel(100, 0.5, -3));
  const lifted = liftLiterals(k, (i) => i > 0);
  assert.equal(lifted.binding, 2);
  assert.match(lifted.wgsl, /^@group\(0\) @binding\(2\) var<uniform> sizes: array<vec4<u32>, 1>;/);
  assert.match(lifted.wgsl, /if \(i >= sizes\[0\]\.x\)/);
  assert.match(lifted.wgsl, /x\[i\] \* bitcast<f32>\(sizes\[0\]\.y\) \+ f32\(\(bitcast<i32>\(sizes\[0\]\.z\)\)\)/);
  assert.match(lifted.wgsl, /nwg\.x \* 64u/);
  assert.deepEqual([...lifted.values], [100, new Uint32Array(Float32Array.of(0.5).buffer)[0], -3 >>> 0, 0]);
  const none = liftLiterals(k, () => false);
  assert.equal(none.values.length, 0);
});

test('SizeLifts: a literal is lifted once two sizes of the same kernel gave it different values; other structures stay apart', () => {
  const lifts = new SizeLifts();
  const id = lifts.learn('conv#0', kernel(100, 0.5, 1));
  assert.equal(lifts.lift('conv#0', kernel(100, 0.5, 1)).values.length, 0, 'one size teaches nothing');
  assert.equal(lifts.learn('conv#0', kernel(180, 0.5, 1)), id);
  const a = lifts.lift('conv#0', kernel(100, 0.5, 1));
  const b = lifts.lift('conv#0', kernel(4000, 0.5, 1));
  assert.equal(a.wgsl, b.wgsl, 'one skeleton for every size');
  assert.deepEqual([...a.values], [100, 0, 0, 0]);
  assert.deepEqual([...b.values], [4000, 0, 0, 0]);
  assert.match(a.wgsl, /0\.5f/, 'the scale did not vary: it stays a constant');
  // Another key, or the same key with another structure, learns on its own.
  assert.equal(lifts.lift('conv#1', kernel(100, 0.5, 1)).values.length, 0);
  const other = kernel(100, 0.5, 1).replace('x[i] *', 'x[i] +');
  assert.notEqual(lifts.learn('conv#0', other), id);
  assert.equal(lifts.lift('conv#0', other).values.length, 0);
  assert.deepEqual(lifts.stats, { kernels: 2, lifted: 1 });
});
