// A small residual network (He et al. 2016) for 28x28 single-channel images: a 3x3 stem, three
// stages of basic blocks (two 3x3 conv-BN layers plus a shortcut; a strided 1x1 conv-BN shortcut
// where the shape changes), global average pooling and one fully connected layer.

import type { Graph } from '../graph/ir.js';
import { seededRandom } from '../random.js';
import { CnnBuilder } from './layers.js';

function basicBlock(b: CnnBuilder, x: string, cin: number, cout: number, stride: number): string {
  const y = b.convBnRelu(x, cin, cout, 3, { stride, pad: 1 });
  const z = b.batchNorm(b.conv(y, cout, cout, 3, { pad: 1, bias: false }), cout);
  const shortcut = stride === 1 && cin === cout ? x : b.batchNorm(b.conv(x, cin, cout, 1, { stride, bias: false }), cout);
  return b.relu(b.node('Add', [z, shortcut]));
}

export function resnetSmall(opts: { batch?: number; seed?: number; width?: number; blocks?: number } = {}): Graph {
  const w = opts.width ?? 16;
  const blocks = opts.blocks ?? 1;
  const b = new CnnBuilder(seededRandom(opts.seed ?? 3));
  let x = b.input('input', [opts.batch ?? 1, 1, 28, 28]);
  x = b.convBnRelu(x, 1, w, 3, { pad: 1 });
  let c = w;
  for (const [stage, cout] of [w, 2 * w, 4 * w].entries()) {
    for (let i = 0; i < blocks; i++) {
      x = basicBlock(b, x, c, cout, stage > 0 && i === 0 ? 2 : 1);
      c = cout;
    }
  }
  x = b.flatten(b.node('GlobalAveragePool', [x]));
  x = b.node('Softmax', [b.dense(x, c, 10)], { axis: 1 });
  return b.output(x).build();
}
