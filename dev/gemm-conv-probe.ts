// Cost of the implicit-GEMM gather: the conv 3x3 64->64 56x56 kernel beside a plain GEMM of the
// same M x N x K (64 x 3136 x 576), interleaved medians.
import { gpu, median, rand } from './gemm-harness.js';
import { getOp } from '../src/ops/registry.js';
import type { RawAttrs } from '../src/ops/op.js';
import type { Shape } from '../src/tensor.js';
import { sizeOf } from '../src/tensor.js';

const cases: [string, string, Shape[], RawAttrs][] = [
  ['conv3x3', 'Conv', [[1, 64, 56, 56], [64, 64, 3, 3]], { pads: [1, 1, 1, 1] }],
  ['conv3x3 nopad', 'Conv', [[1, 64, 58, 58], [64, 64, 3, 3]], {}],
  ['gemm same dims', 'MatMul', [[64, 576], [576, 3136]], {}],
  ['conv1x1 256', 'Conv', [[1, 256, 56, 56], [64, 256, 1, 1]], {}],
  ['gemm 64x3136x256', 'MatMul', [[64, 256], [256, 3136]], {}],
];
const preps = cases.map(([, op, shapes, raw]) => {
  const d = getOp(op);
  const at = d.attrs(raw, shapes);
  const out = d.shape(shapes, at)[0];
  const ds = d.gpu(shapes, [out], at, gpu.kernelContext) as any[];
  const bufs = ds[0].bindings.map((b: any) => ('input' in b ? gpu.upload(rand(sizeOf(shapes[b.input]))) : 'output' in b ? gpu.buffer(sizeOf(out) * 4) : gpu.upload(b.constant)));
  const outBuf = bufs[ds[0].bindings.findIndex((b: any) => 'output' in b)];
  return { step: { ...gpu.prepare(ds[0].wgsl, bufs), workgroups: ds[0].workgroups }, out: outBuf };
});
const run = async (i: number, iters: number) => {
  const t0 = performance.now();
  await gpu.execute(Array(iters).fill(preps[i].step), [{ buffer: preps[i].out, bytes: 16 }]);
  return (performance.now() - t0) / iters;
};
for (let i = 0; i < cases.length; i++) await run(i, 1);
const t: number[][] = cases.map(() => []);
for (let r = 0; r < 5; r++) for (let i = 0; i < cases.length; i++) t[i].push(await run(i, 4));
cases.forEach(([n], i) => console.log(n.padEnd(20), median(t[i]).toFixed(2).padStart(7), 'ms'));
process.exit(0);
