// Where does the time of the registers-staged GEMM go on llvmpipe? Swap each loader for a cheap
// fake (same value for every lane / no memory access) and compare, 512^3, interleaved medians.
import { gpu, median, rand } from './gemm-harness.js';
import { gemmKernel, matrixOperand, storeColumns, type GemmTiling } from '../src/kernels/gemm.js';
import { bindingDecls } from '../src/kernels/wgsl.js';

const M = +(process.env.M ?? 512), N = M, K = M;
const bindings = [{ input: 0 }, { input: 1 }, { output: 0 }] as const;
const decls = bindingDecls(bindings, ['a', 'b', 'y'], ['vec4<f32>', 'vec4<f32>', 'vec4<f32>']);
const store = `fn store(batch: u32, m: u32, n: u32, v: vec4<f32>) {\n${storeColumns('y', 'v', 'n', N, (c) => `m * ${N}u + ${c}`, true)}\n}`;
const realA = matrixOperand('A', 'a', { rowStride: K, colStride: 1, vec4: true });
const realB = matrixOperand('B', 'b', { rowStride: N, colStride: 1, vec4: true });
const fakeA = `fn rowA(batch: u32, m: u32) -> u32 { return m; }\nfn loadA(k: u32, r: u32) -> vec4<f32> { return vec4(f32(r), f32(k), 1.0, 2.0) + a[0]; }`;
const fakeB = `fn colB(batch: u32, n: u32) -> u32 { return n; }\nfn loadB(k: u32, c: u32) -> vec4<f32> { return vec4(f32(c), f32(k), 1.0, 2.0) + b[0]; }`;
const tilings: Record<string, GemmTiling> = {
  r8: { staging: 'registers', wx: 8, wy: 8, rm: 8, tk: 0 },
  r4: { staging: 'registers', wx: 8, wy: 8, rm: 4, tk: 0 },
  r2: { staging: 'registers', wx: 8, wy: 8, rm: 2, tk: 0 },
  r4w16: { staging: 'registers', wx: 16, wy: 4, rm: 4, tk: 0 },
};
const variants: [string, string, GemmTiling][] = [];
for (const [tn, t] of Object.entries(tilings)) {
  variants.push([`${tn} real`, realA + realB, t]);
  if (process.env.FAKES) {
    variants.push([`${tn} fakeA`, fakeA + realB, t]);
    variants.push([`${tn} fakeB`, realA + fakeB, t]);
    variants.push([`${tn} fake both`, fakeA + fakeB, t]);
  }
}
const bufs = [gpu.upload(rand(M * K)), gpu.upload(rand(K * N)), gpu.buffer(M * N * 4)];
const ks = variants.map(([, f, t]) => gemmKernel({ M, N, K, functions: `${decls}\n${f}\n${store}` }, gpu.kernelContext, t));
const prep = ks.map((k) => ({ ...gpu.prepare(k.wgsl, bufs), workgroups: k.workgroups }));
const run = async (i: number, iters: number) => {
  const t0 = performance.now();
  await gpu.execute(Array(iters).fill(prep[i]), [{ buffer: bufs[2], bytes: 16 }]);
  return (performance.now() - t0) / iters;
};
for (let i = 0; i < ks.length; i++) await run(i, 1);
const t: number[][] = ks.map(() => []);
for (let r = 0; r < 5; r++) for (let i = 0; i < ks.length; i++) t[i].push(await run(i, 3));
variants.forEach(([n], i) => console.log(n.padEnd(24), median(t[i]).toFixed(1).padStart(7), 'ms', ((2 * M * N * K) / median(t[i]) / 1e6).toFixed(2).padStart(7), 'GFLOP/s'));
process.exit(0);
