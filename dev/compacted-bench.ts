// Compacted conv (kept_rows) against the dense conv of the same layer, on this adapter: the
// speed-up should approach K/K'. For each layer: the dense conv, then the compacted one at kept
// fractions 100/75/50/25% (random kept rows, as elimination leaves them), with the kept-row table
// as a constant storage binding and as a WGSL constant array. Interleaved rounds; medians, and
// minima (the machine is shared: the minimum is the least disturbed run). 100% kept runs the
// dense kernel (the compacted w is then the dense layout), so those rows measure noise. Last, a
// compacted Gemm (a fully connected layer) likewise.
//   npx tsx dev/compacted-bench.ts [rounds=5]
import { gpu, median, rand } from './gemm-harness.js';
import { keptTableOptions } from '../src/ops/conv.js';
import { getOp } from '../src/ops/registry.js';
import type { RawAttrs } from '../src/ops/op.js';
import { sizeOf, type Shape } from '../src/tensor.js';

const rounds = Number(process.argv[2] ?? 5);
const layers: [string, Shape, number, number, RawAttrs][] = [
  ['3x3 64->64 56x56', [1, 64, 56, 56], 64, 3, { pads: [1, 1, 1, 1] }],
  ['3x3 32->64 28x28', [1, 32, 28, 28], 64, 3, { pads: [1, 1, 1, 1] }],
  ['1x1 256->64 56x56', [1, 256, 56, 56], 64, 1, {}],
];
const fractions = [1, 0.75, 0.5, 0.25];

function pick(K: number, count: number): number[] {
  const all = Array.from({ length: K }, (_, i) => i);
  for (let i = K - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

interface Case {
  layer: string;
  what: string;
  K: number;
  Kp: number;
  run: (iters: number) => Promise<number>;
}

function prepare(x: Shape, w: Shape, raw: RawAttrs, op = 'Conv'): (iters: number) => Promise<number> {
  const d = getOp(op);
  const shapes = [x, w];
  const at = d.attrs(raw, shapes);
  const out = d.shape(shapes, at)[0];
  const ds = d.gpu(shapes, [out], at, gpu.kernelContext) as any[];
  const bufs = ds[0].bindings.map((b: any) => ('input' in b ? gpu.upload(rand(sizeOf(shapes[b.input]))) : 'output' in b ? gpu.buffer(sizeOf(out) * 4) : gpu.upload(b.constant)));
  const outBuf = bufs[ds[0].bindings.findIndex((b: any) => 'output' in b)];
  const step = { ...gpu.prepare(ds[0].wgsl, bufs), workgroups: ds[0].workgroups };
  return async (iters) => {
    const t0 = performance.now();
    await gpu.execute(Array(iters).fill(step), [{ buffer: outBuf, bytes: 16 }]);
    return (performance.now() - t0) / iters;
  };
}

const cases: Case[] = [];
for (const [layer, x, M, k, raw] of layers) {
  const K = x[1] * k * k;
  cases.push({ layer, what: 'dense', K, Kp: K, run: prepare(x, [M, x[1], k, k], raw) });
  for (const f of fractions) {
    const kept = pick(K, Math.round(K * f));
    for (const where of ['binding', 'const'] as const) {
      keptTableOptions.where = where;
      cases.push({ layer, what: `${Math.round(f * 100)}% ${where}`, K, Kp: kept.length, run: prepare(x, [M, kept.length], { ...raw, kernel_shape: [k, k], kept_rows: kept }) });
    }
  }
}
// A fully connected layer, Gemm [64, 1024] x [1024, 256]^T (transB, as ONNX exports Linear).
{
  const [B, K, N] = [64, 1024, 256];
  const layer = `Gemm ${B}x${K}->${N}`;
  cases.push({ layer, what: 'dense', K, Kp: K, run: prepare([B, K], [N, K], { transB: 1 }, 'Gemm') });
  for (const f of fractions.slice(1)) {
    const kept = pick(K, Math.round(K * f));
    for (const where of ['binding', 'const'] as const) {
      keptTableOptions.where = where;
      cases.push({ layer, what: `${Math.round(f * 100)}% ${where}`, K, Kp: kept.length, run: prepare([B, K], [N, kept.length], { transB: 1, kept_rows: kept }, 'Gemm') });
    }
  }
}
keptTableOptions.where = 'auto';
for (const c of cases) await c.run(1); // compile, warm
const t: number[][] = cases.map(() => []);
for (let r = 0; r < rounds; r++) for (let i = 0; i < cases.length; i++) t[i].push(await cases[i].run(2));
console.log(`adapter: ${gpu.kernelContext.softwareAdapter ? 'software' : 'hardware'}; ${rounds} rounds`);
console.log('layer'.padEnd(20), 'variant'.padEnd(14), "K'/K".padStart(8), 'median ms'.padStart(10), 'speed-up'.padStart(9), 'min ms'.padStart(8), 'speed-up'.padStart(9), "K/K'".padStart(6));
let dense = [0, 0];
cases.forEach((c, i) => {
  const ms = [median(t[i]), Math.min(...t[i])];
  if (c.what === 'dense') dense = ms;
  const col = (j: number, w: number) => `${ms[j].toFixed(2).padStart(w)} ${(dense[j] / ms[j]).toFixed(2).padStart(9)}`;
  console.log(c.layer.padEnd(20), c.what.padEnd(14), `${c.Kp}/${c.K}`.padStart(8), col(0, 10), col(1, 8), (c.K / c.Kp).toFixed(2).padStart(6));
});
process.exit(0);
