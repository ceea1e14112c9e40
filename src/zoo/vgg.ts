// A VGG-style CNN for 28x28 single-channel images (Fashion-MNIST): two stages of two 3x3
// conv-BN-ReLU layers, each stage ending in a 2x2 max pool, then two fully connected layers.
// `width` sets the first stage's channels (the second has twice as many).

import type { Graph } from '../graph/ir.js';
import { seededRandom } from '../random.js';
import { CnnBuilder } from './layers.js';

export function vggSmall(opts: { batch?: number; seed?: number; width?: number; hidden?: number } = {}): Graph {
  const w = opts.width ?? 16;
  const hidden = opts.hidden ?? 128;
  const b = new CnnBuilder(seededRandom(opts.seed ?? 2));
  let x = b.input('input', [opts.batch ?? 1, 1, 28, 28]);
  x = b.convBnRelu(x, 1, w, 3, { pad: 1 });
  x = b.maxPool(b.convBnRelu(x, w, w, 3, { pad: 1 }));
  x = b.convBnRelu(x, w, 2 * w, 3, { pad: 1 });
  x = b.maxPool(b.convBnRelu(x, 2 * w, 2 * w, 3, { pad: 1 }));
  x = b.flatten(x);
  x = b.relu(b.dense(x, 2 * w * 7 * 7, hidden));
  x = b.node('Softmax', [b.dense(x, hidden, 10)], { axis: 1 });
  return b.output(x).build();
}
