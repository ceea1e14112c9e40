// The data sets a command can name: 'mnist', 'fashion-mnist', or a directory of class folders.

import { existsSync, statSync } from 'node:fs';
import type { Dataset } from '../data/dataset.js';
import { loadFashionMnist } from '../data/idx.js';
import { loadMnist } from '../data/mnist.js';
import { UsageError } from './common.js';

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
