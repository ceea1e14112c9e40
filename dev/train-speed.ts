// Training throughput of a zoo model for a few steps (images/s), to size train:zoo's epochs.
import { loadFashionMnist } from '../src/data/idx.js';
import { subset } from '../src/data/dataset.js';
import { Gpu } from '../src/device/gpu.js';
import { train } from '../src/train/trainer.js';
import { resnetSmall } from '../src/zoo/resnet.js';
import { vggSmall } from '../src/zoo/vgg.js';
const gpu = await Gpu.acquire();
const { train: tr } = loadFashionMnist();
const small = subset(tr, Array.from({ length: 640 }, (_, i) => i));
for (const [name, g] of [['vgg', vggSmall()], ['resnet', resnetSmall()]] as const) {
  const t0 = performance.now();
  const r = await train(g, { train: small }, { epochs: 1, batchSize: 32, optimizer: { kind: 'adamw', lr: 2e-3 } }, gpu);
  console.log(name, `${r.history[0].imagesPerSecond.toFixed(0)} img/s (incl. compile), total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
