// Compile time (cold, first dispatch) and run time of the registers staging for rm = 4 vs 8.
// Run with MESA_SHADER_CACHE_DISABLE=true.
import { Gpu } from '../src/device/gpu.js';
import { gemmKernel, matrixOperand, storeColumns, type GemmTiling } from '../src/kernels/gemm.js';
import { bindingDecls } from '../src/kernels/wgsl.js';
const gpu = (await Gpu.acquire())!;
function kernel(M: number, N: number, K: number, t: GemmTiling) {
  const vecA = K % 4 === 0, vecB = N % 4 === 0;
  const bindings = [{ input: 0 }, { input: 1 }, { output: 0 }] as const;
  const vt = (v: boolean) => (v ? 'vec4<f32>' : 'f32');
  const functions = `${bindingDecls(bindings, ['a', 'b', 'y'], [vt(vecA), vt(vecB), vt(vecB)])}
${matrixOperand('A', 'a', { rowStride: K, colStride: 1, vec4: vecA })}
${matrixOperand('B', 'b', { rowStride: N, colStride: 1, vec4: vecB })}
fn store(batch: u32, m: u32, n: u32, v: vec4<f32>) {
${storeColumns('y', 'v', 'n', N, (c) => `m * ${N}u + ${c}`, vecB)}
}`;
  return gemmKernel({ M, N, K, functions }, gpu.kernelContext, t);
}
const shapes = JSON.parse(process.env.SHAPES ?? '[[9,6,12],[37,31,13],[37,31,63],[64,64,64],[512,512,512]]');
for (const rm of [8, 4]) {
  for (const [M, N, K] of shapes) {
    const t: GemmTiling = { staging: 'registers', wx: 8, wy: 8, rm: Math.min(rm, 2 ** Math.ceil(Math.log2(M))), tk: 0 };
    const k = kernel(M, N, K, t);
    const bufs = [gpu.buffer(M * K * 4), gpu.buffer(K * N * 4), gpu.buffer(M * N * 4)];
    const step = { ...gpu.prepare(k.wgsl + `// ${Math.random()}`, bufs), workgroups: k.workgroups };
    let t0 = performance.now();
    await gpu.execute([step], [{ buffer: bufs[2], bytes: 16 }]);
    const compile = performance.now() - t0;
    t0 = performance.now();
    const iters = M >= 512 ? 3 : 20;
    await gpu.execute(Array(iters).fill(step), [{ buffer: bufs[2], bytes: 16 }]);
    const run = (performance.now() - t0) / iters;
    console.log(`rm ${rm} ${M}x${N}x${K}: compile ${compile.toFixed(0)} ms, run ${run.toFixed(2)} ms`);
  }
}
process.exit(0);
