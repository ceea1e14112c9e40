// How long lavapipe takes to compile our kernels (the cold-cache cost that dominates test time).
// Run with MESA_SHADER_CACHE_DISABLE=true.
import { Gpu } from '../src/device/gpu.js';
import { getOp } from '../src/ops/registry.js';
import type { RawAttrs } from '../src/ops/op.js';
import type { Shape } from '../src/tensor.js';
const gpu = (await Gpu.acquire())!;
const cases: [string, Shape[], RawAttrs][] = (process.env.CASES ? JSON.parse(process.env.CASES) : [
  ['Gemm', [[37, 13], [13, 31]], {}],
  ['Gemm', [[37, 13], [13, 32]], {}],
  ['Gemm', [[37, 16], [16, 31]], {}],
  ['Gemm', [[37, 64], [64, 31]], {}],
  ['Gemm', [[37, 63], [63, 31]], {}],
  ['Gemm', [[3, 13], [13, 31]], {}],
  ['Gemm', [[3, 16], [16, 32]], {}],
]);
for (const soft of process.env.SOFT ? [process.env.SOFT === '1'] : [true, false]) {
  for (const [op, shapes, raw] of cases) {
    const d = getOp(op);
    const at = d.attrs(raw, shapes);
    const ds = d.gpu(shapes, d.shape(shapes, at), at, { ...gpu.kernelContext, softwareAdapter: soft }) as any[];
    const bufs = ds[0].bindings.map(() => gpu.buffer(1 << 16));
    const ts = [];
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      await gpu.execute([{ ...gpu.prepare(ds[0].wgsl + `// ${rep} ${Math.random()}`, bufs), workgroups: ds[0].workgroups }], [{ buffer: bufs[bufs.length - 1], bytes: 16 }]);
      ts.push(performance.now() - t0);
    }
    console.log(soft ? 'registers' : 'workgroup', op, JSON.stringify(shapes), JSON.stringify(raw), Math.min(...ts).toFixed(0), 'ms', ds[0].wgsl.length, 'chars');
  }
}
process.exit(0);
