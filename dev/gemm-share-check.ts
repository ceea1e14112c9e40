// Correctness of the shareA variant (subgroup broadcast of A) on a few shapes.
import { gpu, rand } from './gemm-harness.js';
import { gemmKernel, matrixLoader, storeColumns } from '../src/kernels/gemm.js';
import { bindingDecls } from '../src/kernels/wgsl.js';
for (const [M, N, K] of [[64, 64, 64], [37, 29, 45], [8, 32, 100]]) {
  for (const S of [2, 4, 8]) {
    const bindings = [{ input: 0 }, { input: 1 }, { output: 0 }] as const;
    const functions = `${bindingDecls(bindings, ['a', 'b', 'y'])}
${matrixLoader('loadA', 'a', { rowStride: K, colStride: 1 })}
${matrixLoader('loadB', 'b', { rowStride: N, colStride: 1 })}
fn store(batch: u32, m: u32, n: u32, v: vec4<f32>) {
${storeColumns('y', 'v', 'n', N, (c) => `m * ${N}u + ${c}`, false)}
}`;
    const k = gemmKernel({ M, N, K, functions }, gpu.kernelContext, { staging: 'registers', wx: 8, wy: 8, rm: 8, tk: 0, shareA: S });
    await gpu.validate(k.wgsl);
    const a = rand(M * K), b = rand(K * N);
    const bufs = [gpu.upload(a), gpu.upload(b), gpu.buffer(M * N * 4)];
    const { data } = await gpu.execute([{ ...gpu.prepare(k.wgsl, bufs), workgroups: k.workgroups }], [{ buffer: bufs[2], bytes: M * N * 4 }]);
    let worst = 0;
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let s = 0; for (let q = 0; q < K; q++) s += a[m * K + q] * b[q * N + n];
      worst = Math.max(worst, Math.abs(s - data[0][m * N + n]));
    }
    console.log(M, N, K, 'S', S, worst.toExponential(2));
  }
}
process.exit(0);
