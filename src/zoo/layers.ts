// Layer helpers for writing CNNs as graphs: conv (+ BN) (+ activation), fully connected,
// pooling, with He-initialised weights from a seeded generator. Used by the model zoo.

import { GraphBuilder } from '../graph/builder.js';
import { Tensor } from '../tensor.js';

/** He-uniform initialisation for a weight with `fanIn` inputs per output (suits ReLU nets). */
export function heUniform(shape: number[], fanIn: number, rand: () => number): Tensor {
  const t = new Tensor(shape);
  const limit = Math.sqrt(6 / fanIn);
  for (let i = 0; i < t.size; i++) t.data[i] = (2 * rand() - 1) * limit;
  return t;
}

const filled = (n: number, v: number) => new Tensor([n], new Float32Array(n).fill(v));

/** A GraphBuilder with the layers CNNs are made of. */
export class CnnBuilder extends GraphBuilder {
  constructor(private readonly rand: () => number) {
    super();
  }

  /** Conv2d k×k (square), bias unless followed by batch norm. x: [N, cin, H, W]. */
  conv(x: string, cin: number, cout: number, k: number, opts: { stride?: number; pad?: number; group?: number; bias?: boolean } = {}): string {
    const group = opts.group ?? 1;
    const pad = opts.pad ?? 0;
    const stride = opts.stride ?? 1;
    const fanIn = (cin / group) * k * k;
    const inputs = [x, this.constant(heUniform([cout, cin / group, k, k], fanIn, this.rand))];
    if (opts.bias ?? true) inputs.push(this.constant(new Tensor([cout])));
    return this.node('Conv', inputs, { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride], group });
  }

  /** BatchNormalization (inference form: scale 1, bias 0, mean 0, var 1 to start). */
  batchNorm(x: string, c: number): string {
    const params = [filled(c, 1), filled(c, 0), filled(c, 0), filled(c, 1)].map((t) => this.constant(t));
    return this.node('BatchNormalization', [x, ...params], { epsilon: 1e-5, momentum: 0.9 });
  }

  /** Conv without bias, batch norm, ReLU: the usual block. */
  convBnRelu(x: string, cin: number, cout: number, k: number, opts: { stride?: number; pad?: number } = {}): string {
    return this.relu(this.batchNorm(this.conv(x, cin, cout, k, { ...opts, bias: false }), cout));
  }

  relu(x: string): string {
    return this.node('Relu', [x]);
  }

  maxPool(x: string, k = 2): string {
    return this.node('MaxPool', [x], { kernel_shape: [k, k], strides: [k, k] });
  }

  /** Fully connected: x [N, nin] -> [N, nout] (Gemm with weight [nout, nin], transB). */
  dense(x: string, nin: number, nout: number): string {
    return this.node('Gemm', [x, this.constant(heUniform([nout, nin], nin, this.rand)), this.constant(new Tensor([nout]))], { transB: 1 });
  }

  flatten(x: string): string {
    return this.node('Flatten', [x], { axis: 1 });
  }
}
