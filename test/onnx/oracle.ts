// The importer's oracle: the same model and inputs through onnxruntime-node and through deftnn
// (CPU reference and, when there is an adapter, WebGPU), compared output by output.

import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { Gpu } from '../../src/device/gpu.js';
import { load } from '../../src/model.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng } from '../helpers.js';

/** onnxruntime's outputs for `model` (bytes, or a path when it has external data). */
export async function runOrt(model: Uint8Array | string, feeds: Readonly<Record<string, Tensor>>): Promise<Record<string, Tensor>> {
  // One thread: the test machines are shared, and onnxruntime's pool spins between runs.
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
  try {
    const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.data, [...t.shape])]));
    const out = await session.run(ortFeeds);
    return Object.fromEntries(
      Object.entries(out).map(([k, t]) => [k, new Tensor(t.dims, Float32Array.from(t.data as ArrayLike<number>, Number))]),
    );
  } finally {
    await session.release();
  }
}

export interface CheckOptions {
  readonly gpu: Gpu | null;
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
  readonly atol?: number;
  readonly rtol?: number;
  readonly what?: string;
}

/** Run `model` through onnxruntime and deftnn (cpu, and webgpu when `gpu`) and compare every output. */
export async function checkAgainstOrt(model: Uint8Array, feeds: Readonly<Record<string, Tensor>>, opts: CheckOptions): Promise<void> {
  const expected = await runOrt(model, feeds);
  const backends = opts.gpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const);
  for (const backend of backends) {
    const m = await load(model, { backend, gpu: opts.gpu ?? undefined, inputShapes: opts.inputShapes });
    try {
      assert.equal(m.backend, backend);
      const got = await m.run(feeds);
      assert.deepEqual(Object.keys(got).sort(), Object.keys(expected).sort(), `${opts.what ?? ''} output names`);
      for (const [name, e] of Object.entries(expected)) {
        assertClose(got[name], e, { atol: opts.atol ?? 1e-5, rtol: opts.rtol ?? 1e-4 }, `${opts.what ?? ''} [${backend}] output '${name}'`);
      }
    } finally {
      m.dispose();
    }
  }
}

/** Seeded random feeds for the given input shapes, uniform in [lo, hi). */
export function randomFeeds(shapes: Readonly<Record<string, readonly number[]>>, seed: number, lo = -1, hi = 1): Record<string, Tensor> {
  const r = rng(seed);
  return Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, randomTensor(s, r, lo, hi)]));
}

/** Seeded random values, for weights. */
export function randomData(n: number, seed: number, lo = -1, hi = 1): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}
