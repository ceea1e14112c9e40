// The data sets a command can name: 'mnist', 'fashion-mnist', or a directory of class folders.

import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { Dataset } from '../data/dataset.js';
import { FASHION_MNIST_DIR, loadFashionMnist } from '../data/idx.js';
import { loadMnist } from '../data/mnist.js';
import { numberList, UsageError } from './common.js';

/** The options of commands that take --dataset: where Fashion-MNIST is, how image folders are read. */
export function datasetOptions(cmd: Command): Command {
  return cmd
    .option('--fashion-dir <dir>', 'where the Fashion-MNIST IDX files are', FASHION_MNIST_DIR)
    .option('--mean <m>', 'image folders: normalisation mean (per channel)', numberList)
    .option('--std <s>', 'image folders: normalisation std (per channel)', numberList)
    .option('--invert', 'image folders: use 255 - pixel');
}

/** A built-in data set's splits, or undefined when `name` is a directory (the caller reads it). */
export function builtInDataset(name: string, fashionDir: string): { train: Dataset; test: Dataset } | undefined {
  if (name === 'mnist') return loadMnist();
  if (name === 'fashion-mnist') {
    try {
      return loadFashionMnist(fashionDir);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  if (!existsSync(name) || !statSync(name).isDirectory()) {
    throw new UsageError(`--dataset must be 'mnist', 'fashion-mnist' or a directory of class folders; '${name}' is none of these`);
  }
  return undefined;
}
