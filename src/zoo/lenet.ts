// LeNet-5 (LeCun et al. 1998) in its common modern form, for 28x28 single-channel digits:
// conv5x5(6, pad 2) relu maxpool2 conv5x5(16) relu maxpool2 fc120 relu fc84 relu fc10 softmax.

import type { Graph } from '../graph/ir.js';
import { seededRandom } from '../random.js';
import { CnnBuilder } from './layers.js';

export function lenet5(opts: { batch?: number; seed?: number } = {}): Graph {
  const b = new CnnBuilder(seededRandom(opts.seed ?? 1));
  let x = b.input('input', [opts.batch ?? 1, 1, 28, 28]);
  x = b.maxPool(b.relu(b.conv(x, 1, 6, 5, { pad: 2 })));
  x = b.maxPool(b.relu(b.conv(x, 6, 16, 5)));
  x = b.flatten(x);
  x = b.relu(b.dense(x, 400, 120));
  x = b.relu(b.dense(x, 120, 84));
  x = b.node('Softmax', [b.dense(x, 84, 10)], { axis: 1 });
  return b.output(x).build();
}
