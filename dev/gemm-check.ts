// Quick correctness check of Conv/Gemm/MatMul on both stagings (the real tests are in test/ops).
import { Gpu } from '../src/device/gpu.js';
import { getOp } from '../src/ops/registry.js';
import type { RawAttrs } from '../src/ops/op.js';
import type { KernelContext } from '../src/kernels/context.js';
import { sizeOf, Tensor } from '../src/tensor.js';

const gpu = (await Gpu.acquire())!;
async function runOp(op: string, inputs: Tensor[], raw: RawAttrs, ctx: KernelContext) {
  const def = getOp(op);
  const shapes = inputs.map((t) => t.shape);
  const at = def.attrs(raw, shapes);
  const outs = def.shape(shapes, at);
  const ds = def.gpu(shapes, outs, at, ctx);
  if (ds === 'view') throw new Error('view');
  const inBufs = inputs.map((t) => gpu.upload(t.data));
  const outBufs = outs.map((s) => gpu.buffer(sizeOf(s) * 4));
  const steps = [];
  for (const d of ds) {
    await gpu.validate(d.wgsl);
    const bufs = d.bindings.map((b) => ('input' in b ? inBufs[b.input] : 'output' in b ? outBufs[b.output] : gpu.upload(b.constant)));
    steps.push({ ...gpu.prepare(d.wgsl, bufs), workgroups: d.workgroups });
  }
  const { data } = await gpu.execute(steps, outBufs.map((b, i) => ({ buffer: b, bytes: sizeOf(outs[i]) * 4 })));
  return { gpu: data[0], cpu: def.cpu(inputs, at)[0].data };
}
const r = (s: number[]) => new Tensor(s, Float32Array.from({ length: sizeOf(s) }, () => Math.random() * 2 - 1));
const cases: [string, Tensor[], RawAttrs][] = [
  ['Gemm', [r([5, 7]), r([7, 3])], {}],
  ['Gemm', [r([64, 64]), r([64, 64])], {}],
  ['Gemm', [r([13, 29]), r([31, 13])], { transA: 1, transB: 1, alpha: 0.5, beta: 2 }].map((v, i) => (i === 1 ? [r([29, 13]), r([31, 29]), r([31])] : v)) as any,
  ['Gemm', [r([33, 20]), r([20, 36]), r([33, 1])], { activation: { op: 'Relu', attrs: {} } }],
  ['MatMul', [r([3, 1, 9, 5]), r([4, 5, 11])], {}],
  ['MatMul', [r([2, 9, 8]), r([8, 12])], {}],
  ['MatMul', [r([8]), r([2, 8, 3])], {}],
  ['Conv', [r([1, 3, 9, 9]), r([8, 3, 3, 3])], { pads: [1, 1, 1, 1] }],
  ['Conv', [r([2, 6, 11, 10]), r([9, 2, 3, 2]), r([9])], { group: 3, strides: [2, 1], pads: [1, 0, 2, 1], dilations: [1, 2] }],
  ['Conv', [r([2, 8, 8, 8]), r([16, 8, 1, 1]), r([16])], { activation: { op: 'Relu', attrs: {} } }],
  ['Conv', [r([1, 8, 7, 7]), r([16, 4, 1, 1])], { group: 2 }],
  ['Conv', [r([1, 8, 12, 12]), r([8, 1, 3, 3])], { group: 8, auto_pad: 'SAME_UPPER', strides: [2, 2] }],
];
for (const soft of [true, false]) {
  const ctx = { ...gpu.kernelContext, softwareAdapter: soft };
  for (const [op, ins, at] of cases) {
    const { gpu: g, cpu: c } = await runOp(op, ins, at, ctx);
    let worst = 0;
    for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(g[i] - c[i]));
    console.log(soft ? 'registers' : 'workgroup', op, ins.map((t) => t.shape.join('x')).join(' '), JSON.stringify(at), worst < 1e-4 ? 'ok' : 'FAIL', worst.toExponential(2));
  }
}
process.exit(0);
