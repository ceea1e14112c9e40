// The contract each fuzz case is held to, run inside a worker process (pool.ts counts crashes and
// hangs from outside): load() works (then one run() on the CPU reference, and for a sample also on
// WebGPU, compared), or throws a DeftnnError whose message says what is wrong. A deftnn error that
// only relays a JavaScript engine message ("Cannot read properties of undefined") is counted as
// foreign too: it is a bug that got wrapped, not an explanation.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { Gpu } from '../../src/device/gpu.js';
import { isDeftnnError } from '../../src/errors.js';
import { nodeCost } from '../../src/graph/cost.js';
import { inferShapes } from '../../src/graph/shapes.js';
import { decodeImage } from '../../src/image/decode.js';
import { imageToChw } from '../../src/image/image.js';
import { load, type Model } from '../../src/model.js';
import { sizeOf, Tensor } from '../../src/tensor.js';
import type { Case } from './cases.js';
import { seededRandom } from '../../src/random.js';

export type Outcome = 'ok' | 'ok-unrun' | 'clear' | 'foreign' | 'mismatch' | 'device-lost' | 'oversize' | 'crash' | 'hang';
export const OUTCOMES: readonly Outcome[] = ['ok', 'ok-unrun', 'clear', 'foreign', 'mismatch', 'device-lost', 'oversize', 'crash', 'hang'];
/** Outcomes that break the contract. */
export const FAILURES: ReadonlySet<Outcome> = new Set(['foreign', 'mismatch', 'device-lost', 'oversize', 'crash', 'hang']);

/**
 * A case whose worker's peak memory grew by more than this is 'oversize': nothing a fuzz case may
 * do (inputs of under a megabyte, runs within RUN_BUDGET) justifies a gigabyte.
 */
export const OVERSIZE_BYTES = 2 ** 30;

export interface Result {
  readonly outcome: Outcome;
  /** Where it happened (load, run, webgpu, cli info, ...) and the message, for failures and clear errors. */
  readonly stage?: string;
  readonly message?: string;
}

/** Fuzz cases run a model only when it is this small: the budget of one case, not a limit of deftnn. */
export const RUN_BUDGET = { elements: 16e6, flops: 2e9 };

// Messages of the JavaScript engine and of libraries' internals: never an explanation for a user.
const INTERNAL = /Cannot (read|set) propert|is not a function|is not iterable|is not defined|Invalid (typed )?array length|Array buffer allocation failed|Maximum call stack|out of memory|Offset is outside the bounds|Invalid string length|Cannot convert|is not a constructor|undefined \(reading/i;

export function classify(e: unknown, stage: string): Result {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (!isDeftnnError(e) || INTERNAL.test((e as Error).message) || (e as Error).message.length < 10) return { outcome: 'foreign', stage, message };
  return { outcome: 'clear', stage, message };
}

export interface CheckOptions {
  /** A device for the WebGPU comparison (null: CPU only). */
  readonly gpu: Gpu | null;
  /** Whether this case also runs on WebGPU, and through the CLI. */
  readonly onGpu: boolean;
  readonly cli: boolean;
  /** A small PNG for `deftnn run --input`. */
  readonly inputImage: string;
}

export async function checkCase(c: Case, o: CheckOptions): Promise<Result> {
  if (c.kind === 'image') return checkImage(c, o);
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-fuzz-'));
  try {
    const path = join(dir, c.kind === 'artifact' ? 'case.deft' : 'case.onnx');
    writeFileSync(path, c.bytes);
    for (const [name, bytes] of Object.entries(c.files)) writeFileSync(join(dir, name), bytes);
    // From bytes unless the case has files beside it (external data needs a path).
    const source = Object.keys(c.files).length ? path : c.bytes;
    const r = await checkModel(source, c, o);
    if (o.cli && r.outcome !== 'foreign') {
      const cli = await checkCli(path, c, o);
      if (cli) return cli;
    }
    return r;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkModel(source: string | Uint8Array, c: Case, o: CheckOptions): Promise<Result> {
  let model: Model;
  try {
    model = await load(source, { backend: 'cpu', inputShapes: c.inputShapes });
  } catch (e) {
    return classify(e, 'load');
  }
  let feeds: Record<string, Tensor>;
  try {
    const ig = inferShapes(model.graph);
    const elements = [...ig.shapes.values()].reduce((s, x) => s + sizeOf(x), 0);
    const flops = ig.nodes.reduce((s, r) => s + nodeCost(r).flops, 0);
    if (elements > RUN_BUDGET.elements || flops > RUN_BUDGET.flops) return { outcome: 'ok-unrun', stage: 'load', message: `${elements} elements, ${flops} flops` };
    const rand = seededRandom(c.index);
    feeds = Object.fromEntries(model.inputs.map((v) => [v.name, new Tensor(v.shape, Float32Array.from({ length: sizeOf(v.shape) }, () => rand() * 2 - 1))]));
  } catch (e) {
    return classify(e, 'shapes');
  }
  let cpu: Record<string, Tensor>;
  try {
    cpu = await model.run(feeds);
  } catch (e) {
    return classify(e, 'run');
  }
  for (const v of model.outputs) {
    const t = cpu[v.name];
    if (!t || t.shape.join() !== v.shape.join()) return { outcome: 'mismatch', stage: 'run', message: `output '${v.name}' has shape [${t?.shape}], declared [${v.shape}]` };
  }
  // WebGPU only for LeNet-5-based cases: on lavapipe (a CPU) compiling a ResNet's or the
  // classifier's kernels takes tens of seconds per case.
  if (o.onGpu && o.gpu && c.base.includes('lenet5')) return checkGpu(source, c, o.gpu, feeds, cpu);
  return { outcome: 'ok' };
}

/** The same model on WebGPU: it runs and agrees with the CPU reference, or fails with a clear error; the device survives. */
async function checkGpu(source: string | Uint8Array, c: Case, gpu: Gpu, feeds: Record<string, Tensor>, cpu: Record<string, Tensor>): Promise<Result> {
  let model: Model | undefined;
  try {
    model = await load(source, { backend: 'webgpu', gpu, inputShapes: c.inputShapes });
    const out = await model.run(feeds);
    for (const [name, expected] of Object.entries(cpu)) {
      const actual = out[name];
      const scale = expected.data.reduce((m, x) => (Number.isFinite(x) ? Math.max(m, Math.abs(x)) : m), 1);
      for (let i = 0; i < expected.data.length; i++) {
        const [a, b] = [actual.data[i], expected.data[i]];
        if (!Number.isFinite(b) || Math.abs(a - b) <= 1e-3 * scale) continue;
        return { outcome: 'mismatch', stage: 'webgpu', message: `output '${name}'[${i}]: webgpu ${a}, cpu ${b}` };
      }
    }
  } catch (e) {
    const r = classify(e, 'webgpu');
    if (/device lost/i.test(r.message ?? '')) return { outcome: 'device-lost', stage: 'webgpu', message: r.message };
    return r;
  } finally {
    model?.dispose();
  }
  return { outcome: 'ok' };
}

function checkImage(c: Case, o: CheckOptions): Promise<Result> | Result {
  try {
    const img = decodeImage(c.bytes, 'fuzz case');
    if (img.rgba.length !== img.width * img.height * 4) return { outcome: 'mismatch', stage: 'decode', message: `${img.width}x${img.height} image with ${img.rgba.length} bytes of RGBA` };
    imageToChw(img, [3, 16, 16]);
  } catch (e) {
    return classify(e, 'decode');
  }
  return o.cli ? cliImage(c, o).then((r) => r ?? { outcome: 'ok' }) : { outcome: 'ok' };
}

async function cliImage(c: Case, o: CheckOptions): Promise<Result | null> {
  const dir = mkdtempSync(join(tmpdir(), 'deftnn-fuzz-'));
  try {
    const path = join(dir, c.bytes[0] === 0x89 ? 'case.png' : 'case.jpg');
    writeFileSync(path, c.bytes);
    // `deftnn ocr` reads the image as a page: PaddleOCR's detector, classifier and recogniser
    // (on the CPU: a fuzzed image is at most a few detector tiles), so the pipeline's own
    // geometry (empty maps, one-pixel pages, boxes at the border) is held to the contract too.
    return (await cli(['run', 'zoo/lenet5.onnx', '--input', path, '--backend', 'cpu'])) ?? (await cli(['ocr', path, '--backend', 'cpu']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function checkCli(path: string, c: Case, o: CheckOptions): Promise<Result | null> {
  const shapes = Object.entries(c.inputShapes ?? {}).flatMap(([k, v]) => ['--input-shape', `${k}=${v.join(',')}`]);
  return (await cli(['info', path, ...shapes])) ?? (await cli(['run', path, '--input', o.inputImage, '--backend', 'cpu', ...shapes]));
}

/**
 * One CLI command in this process, its stdout and stderr captured: the exit code must be 0, 1 or
 * 2, and a failure is one "deftnn <cmd>: error:" line without a stack trace. Null when it holds.
 */
async function cli(argv: string[]): Promise<Result | null> {
  const stage = `cli ${argv[0]}`;
  let err = '';
  const [out, errw] = [process.stdout.write, process.stderr.write];
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    return { outcome: 'foreign', stage, message: `main() threw: ${(e as Error).message}` };
  } finally {
    process.stdout.write = out;
    process.stderr.write = errw;
  }
  if (code === 0) return null;
  if (![1, 2].includes(code) || !/error:/.test(err) || /\n\s+at /.test(err)) return { outcome: 'foreign', stage, message: `exit ${code}: ${err.slice(0, 300)}` };
  if (INTERNAL.test(err)) return { outcome: 'foreign', stage, message: err.trim().slice(0, 300) };
  return null;
}
