// LeNet-5 (LeCun et al. 1998) in its common modern form, for 28x28 single-channel digits:
// conv5x5(6, pad 2) relu maxpool2 conv5x5(16) relu maxpool2 fc120 relu fc84 relu fc10 softmax.

import { GraphBuilder } from '../graph/builder.js';
import type { Graph } from '../graph/ir.js';
import { seededRandom } from '../random.js';
import { Tensor } from '../tensor.js';

/** He-uniform initialisation for a weight with `fanIn` inputs per output. */
export function heUniform(shape: number[], fanIn: number, rand: () => number): Tensor {
  const t = new Tensor(shape);
  const limit = Math.sqrt(6 / fanIn);
  for (let i = 0; i < t.size; i++) t.data[i] = (2 * rand() - 1) * limit;
  return t;
}

export function lenet5(opts: { batch?: number; seed?: number } = {}): Graph {
  const batch = opts.batch ?? 1;
  const rand = seededRandom(opts.seed ?? 1);
  const b = new GraphBuilder();
  const conv = (x: string, cin: number, cout: number, k: number, pads: number) =>
    b.node('Conv', [x, b.constant(heUniform([cout, cin, k, k], cin * k * k, rand)), b.constant(new Tensor([cout]))], {
      kernel_shape: [k, k],
      pads: [pads, pads, pads, pads],
    });
  const fc = (x: string, nin: number, nout: number) =>
    b.node('Gemm', [x, b.constant(heUniform([nout, nin], nin, rand)), b.constant(new Tensor([nout]))], { transB: 1 });
  const pool = (x: string) => b.node('MaxPool', [x], { kernel_shape: [2, 2], strides: [2, 2] });

  let x = b.input('input', [batch, 1, 28, 28]);
  x = pool(b.node('Relu', [conv(x, 1, 6, 5, 2)]));
  x = pool(b.node('Relu', [conv(x, 6, 16, 5, 0)]));
  x = b.node('Flatten', [x], { axis: 1 });
  x = b.node('Relu', [fc(x, 400, 120)]);
  x = b.node('Relu', [fc(x, 120, 84)]);
  x = b.node('Softmax', [fc(x, 84, 10)], { axis: 1 });
  return b.output(x).build();
}
