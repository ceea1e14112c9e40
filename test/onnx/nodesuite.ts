// ONNX's backend node tests (Debian's libonnx-testdata: ONNX 1.12's `onnx/backend/test/data/node`)
// run through deftnn. Each case is a directory with `model.onnx` (usually one node) and
// `test_data_set_N/{input,output}_K.pb` (serialized TensorProtos).
//
// Which cases run: every case whose outputs are all float32 and whose inputs are float32, or
// integers/bools that a real model would carry as constants (Reshape's shape, Slice's starts,
// Where's condition ...): those are baked into the model as initializers from the test data, since
// deftnn computes in float32 and reads such values at load time. Cases with float16/float64/string
// values are not float32 cases and are skipped.
//
// The comparison is ONNX's own runner's (onnx/backend/test/runner: numpy assert_allclose with
// rtol 1e-3, atol 1e-7): |got - expected| <= 1e-7 + 1e-3·|expected|, NaN where NaN is expected.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gpu } from '../../src/device/gpu.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { fromGraph } from '../../src/model.js';
import type { Const } from '../../src/onnx/constant.js';
import { importModel } from '../../src/onnx/import.js';
import { decodeModel, decodeTensor, type OnnxModel } from '../../src/onnx/proto.js';
import { Tensor } from '../../src/tensor.js';

export const NODE_TEST_DIR = '/usr/share/libonnx-testdata/data/node';
export const RTOL = 1e-3;
export const ATOL = 1e-7;

export type Backend = 'cpu' | 'webgpu';

export interface DataSet {
  readonly inputs: readonly Const[];
  readonly outputs: readonly Const[];
}

export interface NodeCase {
  readonly name: string;
  /** The ONNX op the case tests (for `_expanded` cases: the op of the case they expand). */
  readonly op: string;
  readonly model: OnnxModel;
  readonly sets: readonly DataSet[];
}

/** Element types a case may take as load-time constants: the integers and bool. */
const CONSTANT_TYPES = new Set([2, 3, 4, 5, 6, 7, 9, 12, 13]);

export interface Listing {
  readonly cases: NodeCase[];
  /** Cases that are not float32 cases, with why. */
  readonly skipped: { name: string; why: string }[];
}

/** Every float32 case of the suite, in name order (empty when libonnx-testdata is not installed). */
export async function listCases(dir = NODE_TEST_DIR, filter?: (name: string) => boolean): Promise<Listing> {
  const cases: NodeCase[] = [];
  const skipped: { name: string; why: string }[] = [];
  if (!existsSync(dir)) return { cases, skipped };
  const names = readdirSync(dir).sort().filter((n) => !filter || filter(n));
  const opOf = new Map<string, string>();
  for (const name of names) {
    const model = await decodeModel(readFileSync(join(dir, name, 'model.onnx')));
    const g = model.graph;
    const graphInputs = g.inputs.filter((v) => !g.initializers.has(v.name));
    const badOut = g.outputs.find((v) => v.elemType !== 1);
    const badIn = graphInputs.find((v) => v.elemType !== 1 && !CONSTANT_TYPES.has(v.elemType));
    if (badOut || badIn) {
      skipped.push({ name, why: badOut ? `output '${badOut.name}' has element type ${badOut.elemType}` : `input '${badIn!.name}' has element type ${badIn!.elemType}` });
      continue;
    }
    const sets: DataSet[] = [];
    for (const s of readdirSync(join(dir, name)).filter((d) => d.startsWith('test_data_set_')).sort()) {
      const read = (kind: string, count: number) =>
        Promise.all(Array.from({ length: count }, (_, k) => decodeTensor(readFileSync(join(dir, name, s, `${kind}_${k}.pb`)), `${name}/${s}/${kind}_${k}.pb`)));
      sets.push({ inputs: await read('input', graphInputs.length), outputs: await read('output', g.outputs.length) });
    }
    const base = name.replace(/_expanded$/, '');
    const op = opOf.get(base) ?? g.nodes[0]?.opType ?? '?';
    opOf.set(name, op);
    cases.push({ name, op, model, sets });
  }
  return { cases, skipped };
}

export type Outcome =
  | { readonly kind: 'pass' }
  /**
   * deftnn refused the case as given because an input the test feeds at run time (Resize's scales,
   * Pad's constant_value ...) must be known at load time, and computed the right answer once those
   * inputs were constants, as models carry them.
   */
  | { readonly kind: 'pass-const'; readonly message: string }
  /** deftnn refused the case (at load or run); `message` is what it said. */
  | { readonly kind: 'error'; readonly message: string; readonly errorName: string }
  /** deftnn computed something else. */
  | { readonly kind: 'wrong'; readonly message: string };

/**
 * The model of `c` with its integer/bool inputs (and, with `allConstant`, every input after the
 * first) baked in as initializers from data set `set`, and the feeds for the rest.
 */
function withConstantInputs(c: NodeCase, set: DataSet, allConstant: boolean): { model: OnnxModel; feeds: Record<string, Tensor> } {
  const g = c.model.graph;
  const graphInputs = g.inputs.filter((v) => !g.initializers.has(v.name));
  const initializers = new Map(g.initializers);
  const feeds: Record<string, Tensor> = {};
  graphInputs.forEach((v, k) => {
    const t = set.inputs[k];
    if (v.elemType === 1 && (k === 0 || !allConstant)) feeds[v.name] = new Tensor(t.shape, Float32Array.from(t.data));
    else initializers.set(v.name, { dtype: t.dtype, shape: t.shape, data: t.data });
  });
  return { model: { ...c.model, graph: { ...g, initializers } }, feeds };
}

const LOAD_TIME = /must be known at load time/;

/**
 * Run every data set of `c` on `backend` as a user's load() would (import with the data's input
 * shapes, graph passes, session) and compare with the expected outputs.
 */
export async function runCase(c: NodeCase, backend: Backend, gpu: Gpu | null): Promise<Outcome> {
  const first = await runSets(c, backend, gpu, false);
  if (first.kind !== 'error' || !LOAD_TIME.test(first.message)) return first;
  const again = await runSets(c, backend, gpu, true);
  return again.kind === 'pass' ? { kind: 'pass-const', message: first.message } : first;
}

async function runSets(c: NodeCase, backend: Backend, gpu: Gpu | null, allConstant: boolean): Promise<Outcome> {
  for (const set of c.sets) {
    let got: Record<string, Tensor>;
    try {
      const { model, feeds } = withConstantInputs(c, set, allConstant);
      const inputShapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.shape]]));
      const m = await fromGraph(optimizeGraph(importModel(model, { inputShapes })), { backend, gpu: gpu ?? undefined });
      try {
        got = await m.run(feeds);
      } finally {
        m.dispose();
      }
    } catch (e) {
      const err = e as Error;
      return { kind: 'error', message: String(err?.message ?? err), errorName: err?.name ?? typeof e };
    }
    const problem = compareOutputs(c, set, got);
    if (problem) return { kind: 'wrong', message: problem };
  }
  return { kind: 'pass' };
}

/** Whether a refusal is one of deftnn's own errors about the model (not a crash inside it). */
export function isClearRefusal(o: Outcome): boolean {
  return o.kind === 'error' && (o.errorName === 'OnnxError' || o.message.startsWith(`node '`));
}

function compareOutputs(c: NodeCase, set: DataSet, got: Record<string, Tensor>): string | null {
  for (const [k, o] of c.model.graph.outputs.entries()) {
    const e = set.outputs[k];
    const a = got[o.name];
    if (!a) return `output '${o.name}' is missing`;
    if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i])) {
      return `output '${o.name}' has shape [${a.shape.join(', ')}], expected [${e.shape.join(', ')}]`;
    }
    for (let i = 0; i < e.data.length; i++) {
      const x = a.data[i];
      const y = Math.fround(e.data[i]);
      if (Number.isNaN(y) ? Number.isNaN(x) : x === y || Math.abs(x - y) <= ATOL + RTOL * Math.abs(y)) continue;
      return `output '${o.name}' differs at flat index ${i}: got ${x}, expected ${y} (rtol ${RTOL}, atol ${ATOL})`;
    }
  }
  return null;
}

/** Key of a case in the list of expected refusals: the name, or name@backend for one backend only. */
export function listKey(name: string, backend?: Backend): string {
  return backend ? `${name}@${backend}` : name;
}

/** The reason listed for `name` on `backend`, if any. */
export function listedReason(list: Readonly<Record<string, string>>, name: string, backend: Backend): string | undefined {
  return list[listKey(name, backend)] ?? list[name];
}

/**
 * The part of a refusal's message kept in the list: the first line, without what is specific to
 * the test file (node names are generated, shapes vary between cases of one op).
 */
export function reasonOf(message: string): string {
  const types = [...message.matchAll(/^ {2}(\S+)(?: \(version \d+\))?: \d+ nodes? \(/gm)].map((m) => m[1]);
  if (types.length) return `unsupported op type${types.length > 1 ? 's' : ''}: ${types.join(', ')}`;
  const line = message.split('\n')[0];
  return line.replace(/^node '[^']*' \(([^)]*)\): /, '$1: ').slice(0, 200);
}
