// Conv backward kernels on a typical training shape (batch 32, 3x3, pad 1): the input gradient as
// ConvInputGrad (implicit GEMM on the core) beside ConvTranspose (direct gather kernel) computing
// the same gx, and the weight gradient (ConvWeightGrad) beside the forward conv of the same
// layer for scale. Interleaved medians; `npx tsx dev/convgrad-bench.ts`.
import { gpu, median, rand } from './gemm-harness.js';
import { getOp } from '../src/ops/registry.js';
import type { RawAttrs } from '../src/ops/op.js';
import type { Shape } from '../src/tensor.js';
import { sizeOf } from '../src/tensor.js';

const B = Number(process.env.BATCH ?? 32);
type Case = [string, string, Shape[], RawAttrs, number];
const cases: Case[] = [];
for (const [hw, s] of [[28, 1], [14, 1], [28, 2]] as const) {
  const o = Math.floor((hw + 2 - 3) / s) + 1;
  const k = { kernel_shape: [3, 3], strides: [s, s], pads: [1, 1, 1, 1] };
  const flops = 2 * B * 32 * o * o * 16 * 9;
  const tag = `${hw}x${hw} s${s}`;
  cases.push([`fwd Conv ${tag}`, 'Conv', [[B, 16, hw, hw], [32, 16, 3, 3]], k, flops]);
  cases.push([`gx ConvInputGrad ${tag}`, 'ConvInputGrad', [[B, 32, o, o], [16, 32, 3, 3]], { ...k, input_size: [hw, hw] }, flops]);
  const op = (hw + 2 - 3) % s;
  cases.push([`gx ConvTranspose ${tag}`, 'ConvTranspose', [[B, 32, o, o], [32, 16, 3, 3]], { strides: [s, s], pads: [1, 1, 1, 1], output_padding: [op, op] }, flops]);
  cases.push([`gw ConvWeightGrad ${tag}`, 'ConvWeightGrad', [[B, 16, hw, hw], [B, 32, o, o]], k, flops]);
}
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
for (let r = 0; r < Number(process.env.REPS ?? 5); r++) for (let i = 0; i < cases.length; i++) t[i].push(await run(i, 2));
console.log(`adapter: ${gpu.name}, batch ${B}`);
cases.forEach(([n, , , , f], i) => console.log(n.padEnd(28), median(t[i]).toFixed(1).padStart(8), 'ms', (f / median(t[i]) / 1e6).toFixed(2).padStart(7), 'GFLOP/s'));
process.exit(0);
