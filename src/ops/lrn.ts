// LRN: local response normalisation across channels (AlexNet, GoogLeNet v1), as ONNX defines it:
//   square_sum[n, c, ...] = Σ x[n, i, ...]²  over  max(0, c - floor((size-1)/2)) ≤ i ≤ min(C-1, c + ceil((size-1)/2))
//   y[n, c, ...] = x[n, c, ...] / (bias + alpha / size · square_sum[n, c, ...])^beta
// x: [N, C, D1, ..., Dk] (k ≥ 1), y has x's shape. An even size reaches one channel further up
// than down. One invocation per output element sums its window directly: windows are a handful
// of channels, so a running sum would save little.

import { f32, elementwiseMain, linearGrid, u32, unravelWgsl } from '../kernels/wgsl.js';
import { shapeStr, sizeOf, Tensor } from '../tensor.js';
import { defineOp, floatAttr, intAttr, OpError } from './op.js';

export interface LrnAttrs {
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly bias: number;
}

/** Channels below and above c in the window. */
const reach = (size: number) => [Math.floor((size - 1) / 2), Math.ceil((size - 1) / 2)] as const;

const WG = 256;

export const lrnOp = defineOp<LrnAttrs>({
  type: 'LRN',
  arity: [1, 1],
  attrs: (raw, [x]) => {
    if (x.length < 3) throw new OpError(`input X must be [N, C, D1, ...] with at least one spatial dim, got ${shapeStr(x)}`);
    const size = intAttr(raw, 'size');
    if (size < 1) throw new OpError(`attribute 'size' must be >= 1, got ${size}`);
    return { size, alpha: floatAttr(raw, 'alpha', 1e-4), beta: floatAttr(raw, 'beta', 0.75), bias: floatAttr(raw, 'bias', 1) };
  },
  shape: ([x]) => [x],
  cpu: ([x], a) => {
    const [N, C] = x.shape;
    const S = sizeOf(x.shape.slice(2));
    const [down, up] = reach(a.size);
    const y = new Float32Array(x.size);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        for (let s = 0; s < S; s++) {
          let sq = 0;
          for (let i = Math.max(0, c - down); i <= Math.min(C - 1, c + up); i++) sq += x.data[(n * C + i) * S + s] ** 2;
          const at = (n * C + c) * S + s;
          y[at] = x.data[at] / (a.bias + (a.alpha / a.size) * sq) ** a.beta;
        }
      }
    }
    return [new Tensor(x.shape, y)];
  },
  gpu: ([x], _out, a, ctx) => {
    const n = sizeOf(x);
    if (n === 0) return [];
    const [N, C] = x;
    const S = n / (N * C);
    const [down, up] = reach(a.size);
    // Window bounds in i32 so that c - down may go below 0 before the clamp.
    const body = `${unravelWgsl('i', [N, C, S], 'p')}
  let lo = u32(max(i32(p1) - ${down}, 0));
  let hi = min(p1 + ${u32(up)}, ${u32(C - 1)});
  var sq = 0.0;
  for (var k = lo; k <= hi; k++) {
    let v = x[(p0 * ${u32(C)} + k) * ${u32(S)} + p2];
    sq += v * v;
  }
  y[i] = x[i] / pow(${f32(a.bias)} + ${f32(a.alpha / a.size)} * sq, ${f32(a.beta)});`;
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, WG, body)}`;
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
  },
});
