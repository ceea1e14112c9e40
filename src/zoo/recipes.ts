// The model zoo's training recipes, shared by `npm run train:zoo` (which trains and tables them)
// and `deftnn train`: LeNet-5 on MNIST with SGD + momentum, the VGG-style CNN and the small ResNet
// on Fashion-MNIST with AdamW; cosine decay after a warm-up of one epoch (at most a fifth of the
// run), light random shifts.

import type { Graph } from '../graph/ir.js';
import type { TrainConfig } from '../train/trainer.js';
import { lenet5 } from './lenet.js';
import { resnetSmall } from './resnet.js';
import { vggSmall } from './vgg.js';

export type Recipe = Omit<TrainConfig, 'onProgress' | 'checkpoint'>;

export interface ZooModel {
  readonly name: string;
  readonly dataset: 'mnist' | 'fashion-mnist';
  /** Test accuracy the trained model must reach. */
  readonly target: number;
  /** The seed the zoo's file was trained with (initial weights, shuffling, augmentation). */
  readonly seed: number;
  readonly epochs: number;
  readonly build: (seed: number) => Graph;
  readonly recipe: (epochs: number, stepsPerEpoch: number, batch: number, seed: number) => Recipe;
}

export const ZOO_BATCH = 32;

const cosine = (lr: number, epochs: number, steps: number) => ({ kind: 'cosine' as const, totalSteps: epochs * steps, warmupSteps: Math.min(steps, Math.floor((epochs * steps) / 5)), minLr: lr * 0.01 });

/** AdamW at 2e-3 with cosine decay, 1-pixel shifts: the Fashion-MNIST recipe. */
const adamw = (epochs: number, steps: number, batch: number, seed: number): Recipe => ({
  epochs,
  batchSize: batch,
  optimizer: { kind: 'adamw', lr: 2e-3, weightDecay: 5e-4 },
  schedule: cosine(2e-3, epochs, steps),
  maxShift: 1,
  seed,
});

export const ZOO: readonly ZooModel[] = [
  {
    name: 'lenet5',
    dataset: 'mnist',
    target: 0.98,
    seed: 1,
    epochs: 12,
    build: (seed) => lenet5({ seed }),
    recipe: (epochs, steps, batch, seed) => ({
      epochs,
      batchSize: batch,
      optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
      schedule: cosine(0.05, epochs, steps),
      maxShift: 2,
      seed,
    }),
  },
  { name: 'vgg', dataset: 'fashion-mnist', target: 0.92, seed: 2, epochs: 4, build: (seed) => vggSmall({ seed }), recipe: adamw },
  { name: 'resnet', dataset: 'fashion-mnist', target: 0.925, seed: 3, epochs: 8, build: (seed) => resnetSmall({ seed }), recipe: adamw },
];

export function zooModel(name: string): ZooModel | undefined {
  return ZOO.find((z) => z.name === name);
}
