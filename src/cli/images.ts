// Inputs from files for the CLI: images (decoded and resized by src/image/) with the CLI's
// options and errors, tensor JSON files, and directories of class-named subfolders of images.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { decodeImage } from '../image/decode.js';
import { ImageError, imageToChw as toChw, type Image, type Normalization } from '../image/image.js';
import { sizeOf, Tensor, type Shape } from '../tensor.js';
import { CliError, perChannel, progressBar, UsageError } from './common.js';

export type { Image, Normalization };

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(path).toLowerCase());
}

/** Decode a PNG or JPEG file (by its first bytes). */
export function readImage(path: string): Image {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read image '${path}': ${(e as Error).message}`);
  }
  try {
    return decodeImage(bytes, `'${path}'`);
  } catch (e) {
    if (e instanceof ImageError) throw new CliError(`${e.message} (give a .png or .jpg file, or a tensor .json)`);
    throw e;
  }
}

/** One image as a model input [C, H, W], with the CLI's per-channel --mean/--std (one value or C). */
export function imageToChw(img: Image, shape: readonly [number, number, number], norm: Normalization = {}): Float32Array {
  const C = shape[0];
  if (C !== 1 && C !== 3) throw new UsageError(`the model's input has ${C} channels; images can feed 1 (grayscale) or 3 (RGB) channels — give a tensor .json instead`);
  return toChw(img, shape, { mean: perChannel(norm.mean ?? [0], C, '--mean'), std: perChannel(norm.std ?? [1], C, '--std'), invert: norm.invert });
}

export interface JsonTensor {
  readonly shape?: number[];
  readonly data: number[];
}

/**
 * Tensors from a JSON file: { "shape": [...], "data": [...] } or a nested array (for a model with
 * one input: key ''), or an object of those by input name. A flat data list without a shape takes
 * the model's input shape; a shape fills the model's symbolic dimensions.
 */
export function readTensorJson(path: string): Record<string, JsonTensor> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read tensor file '${path}': ${(e as Error).message}`);
  }
  const one = (v: unknown, what: string): JsonTensor => {
    if (Array.isArray(v)) {
      const shape: number[] = [];
      for (let a: unknown = v; Array.isArray(a); a = a[0]) shape.push(a.length);
      const data = (v as unknown[]).flat(Infinity) as number[];
      if (data.length !== sizeOf(shape) || data.some((x) => typeof x !== 'number')) throw new UsageError(`${what} in '${path}' is not a rectangular array of numbers`);
      return { shape: shape.length > 1 ? shape : undefined, data };
    }
    if (v && typeof v === 'object' && 'data' in v) {
      const { shape, data } = v as { shape?: unknown; data: unknown };
      const inner = one(data, what);
      if (shape !== undefined && (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0))) throw new UsageError(`${what} in '${path}': "shape" must be a list of integers`);
      return { shape: (shape as number[] | undefined) ?? inner.shape, data: inner.data };
    }
    throw new UsageError(`${what} in '${path}' must be {"shape": [...], "data": [...]} or a nested array of numbers`);
  };
  if (Array.isArray(doc) || (doc && typeof doc === 'object' && 'data' in doc)) return { '': one(doc, 'the tensor') };
  if (!doc || typeof doc !== 'object') throw new UsageError(`'${path}' must hold a tensor or an object of tensors by input name`);
  return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, one(v, `tensor '${k}'`)]));
}

/** The JSON tensors matched to the model's inputs by name ('' for the only input); errors name what is missing. */
export function matchTensors(tensors: Record<string, JsonTensor>, inputNames: readonly string[], path: string): Record<string, JsonTensor> {
  if ('' in tensors) {
    if (inputNames.length !== 1) throw new UsageError(`'${path}' holds one tensor, but the model has inputs ${inputNames.join(', ')}: give an object of tensors by input name`);
    return { [inputNames[0]]: tensors[''] };
  }
  for (const k of Object.keys(tensors)) {
    if (!inputNames.includes(k)) throw new UsageError(`'${path}' has a tensor '${k}', which is not an input of the model (inputs: ${inputNames.join(', ')})`);
  }
  for (const k of inputNames) if (!tensors[k]) throw new UsageError(`'${path}' has no tensor for the model's input '${k}'`);
  return tensors;
}

/** The tensor for an input of `shape` from a JSON entry (its data must have that many values). */
export function jsonTensor(entry: JsonTensor, shape: Shape, name: string): Tensor {
  if (entry.data.length !== sizeOf(shape)) {
    throw new UsageError(`tensor '${name}' has ${entry.data.length} values${entry.shape ? ` (shape [${entry.shape.join(', ')}])` : ''}; the model's input is [${shape.join(', ')}] (${sizeOf(shape)} values)`);
  }
  return new Tensor(shape, Float32Array.from(entry.data));
}

/**
 * A labelled data set from a directory of class-named subfolders of images. Labels: the folder
 * names when all are integers below `classes` (the model's output size: 0/, 3/, 7/ ...), else
 * the folders' index in sorted order (numbers in numeric order: 0/ and 180/ are classes 0 and 1).
 */
export function readImageDir(dir: string, imageShape: readonly [number, number, number], norm: Normalization, classes: number): Dataset & { classNames: string[] } {
  const folders = readdirSync(dir)
    .filter((f) => statSync(join(dir, f)).isDirectory())
    .sort((a, b) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0));
  if (!folders.length) throw new UsageError(`'${dir}' has no subfolders: a data set directory holds one folder of images per class (e.g. 0/, 1/, ... or cat/, dog/)`);
  const numeric = folders.every((f) => /^\d+$/.test(f) && Number(f) < classes);
  const files: { path: string; label: number }[] = [];
  folders.forEach((f, i) => {
    for (const name of readdirSync(join(dir, f)).sort()) if (isImagePath(name)) files.push({ path: join(dir, f, name), label: numeric ? Number(f) : i });
  });
  if (!files.length) throw new UsageError(`'${dir}' has no .png or .jpg images in its class folders`);
  if (!numeric && folders.length > 256) throw new UsageError(`'${dir}' has ${folders.length} class folders; at most 256 are supported`);
  const per = sizeOf(imageShape);
  const images = new Float32Array(files.length * per);
  const labels = new Uint8Array(files.length);
  const bar = progressBar('decoding', files.length);
  files.forEach((f, i) => {
    images.set(imageToChw(readImage(f.path), imageShape, norm), i * per);
    labels[i] = f.label;
    bar.tick();
  });
  bar.stop();
  const classNames = numeric ? Array.from({ length: classes }, (_, i) => String(i)) : folders;
  return { name: dir, images, labels, imageShape: [...imageShape] as [number, number, number], classes: classNames.length, classNames };
}
