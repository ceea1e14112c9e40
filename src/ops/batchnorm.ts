// BatchNormalization for inference: y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c],
// with the channel on axis 1 of an input of any rank >= 2. Training mode (batch statistics and
// running-mean outputs) is not an inference op and is refused.
//
// x: [N, C, D1, ..., Dk]; scale, B, input_mean, input_var: [C].
// Opset < 9 also had `spatial`; spatial = 0 meant one parameter per element of x's [C, D1, ..., Dk],
// which is the same kernel with the parameters' "channel" spanning all of dims 1.. and inner = 1.

import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, f32, linearGrid, u32 } from '../kernels/wgsl.js';
import { defineOp, floatAttr, intAttr, OpError } from './op.js';

interface BatchNormAttrs {
  readonly epsilon: number;
  /** Number of distinct parameters (C, or prod(x.shape[1:]) when spatial = 0). */
  readonly channels: number;
  /** Elements sharing one parameter consecutively: parameter index = (i / inner) % channels. */
  readonly inner: number;
}

const PARAMS = ['scale', 'B', 'input_mean', 'input_var'];

export const batchNormOp = defineOp<BatchNormAttrs>({
  type: 'BatchNormalization',
  arity: [5, 5],
  attrs: (raw, [x, ...params]) => {
    const training = intAttr(raw, 'training_mode', 0);
    if (training !== 0) {
      throw new OpError(`attribute 'training_mode' = ${training}: only inference (training_mode = 0) is supported`);
    }
    const spatial = intAttr(raw, 'spatial', 1);
    if (spatial !== 0 && spatial !== 1) throw new OpError(`attribute 'spatial' must be 0 or 1, got ${spatial}`);
    const epsilon = floatAttr(raw, 'epsilon', 1e-5);
    if (!(epsilon >= 0)) throw new OpError(`attribute 'epsilon' must be >= 0, got ${epsilon}`);
    if (x.length < 2) throw new OpError(`input X must have rank >= 2 (N, C, ...), got shape ${shapeStr(x)}`);
    const want: Shape = spatial ? [x[1]] : x.slice(1);
    params.forEach((p, i) => {
      const same = p.length === want.length && p.every((d, k) => d === want[k]);
      // Per-element parameters (spatial = 0) may also be given flat.
      const flat = !spatial && p.length === 1 && p[0] === sizeOf(want);
      if (!same && !flat) {
        throw new OpError(`input ${PARAMS[i]} has shape ${shapeStr(p)}, expected ${shapeStr(want)} for X of shape ${shapeStr(x)}`);
      }
    });
    return { epsilon, channels: sizeOf(want), inner: spatial ? sizeOf(x.slice(2)) : 1 };
  },
  shape: ([x]) => [x],
  cpu: ([x, scale, b, mean, variance], { epsilon, channels, inner }) => {
    const y = new Float32Array(x.size);
    for (let i = 0; i < x.size; i++) {
      const c = Math.floor(i / inner) % channels;
      y[i] = ((x.data[i] - mean.data[c]) / Math.sqrt(variance.data[c] + epsilon)) * scale.data[c] + b.data[c];
    }
    return [new Tensor(x.shape, y)];
  },
  gpu: ([x], _out, { epsilon, channels, inner }, ctx) => {
    const n = sizeOf(x);
    if (n === 0) return []; // (WGSL refuses `% 0u`, and there is nothing to do)
    const WG = 256;
    const c = inner === 1 ? `i % ${u32(channels)}` : `(i / ${u32(inner)}) % ${u32(channels)}`;
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> variance: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, WG, `  let c = ${c};
  y[i] = (x[i] - mean[c]) / sqrt(variance[c] + ${f32(epsilon)}) * scale[c] + bias[c];`)}`;
    const bindings = [{ input: 0 }, { input: 1 }, { input: 2 }, { input: 3 }, { input: 4 }, { output: 0 }];
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings }];
  },
});
