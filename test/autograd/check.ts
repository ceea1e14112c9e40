// Helpers for the gradient tests: one-node graphs through checkGradients, and inputs kept away
// from the points where an op is not differentiable (finite differences straddling a kink
// measure the average of two slopes, not either derivative).

import type { Gpu } from '../../src/device/gpu.js';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor, type Shape } from '../../src/tensor.js';
import { checkGradients } from '../gradcheck.js';
import { oneNodeGraph } from '../helpers.js';

export interface CheckOpts {
  /** Indices of the inputs to differentiate (default: all). */
  wrt?: readonly number[];
  /** Inputs that are initializers rather than graph inputs (default: none). */
  constant?: readonly boolean[];
  outputs?: number;
  eps?: number;
  atol?: number;
  rtol?: number;
  samples?: number;
}

/**
 * checkGradients on a graph of one node `op` over `inputs` (named in0, in1, ...): finite
 * differences on the CPU reference, and, with a GPU, the WebGPU backward pass against the CPU's.
 */
export async function checkOp(gpu: Gpu | null, op: string, inputs: readonly Tensor[], attrs: RawAttrs = {}, opts: CheckOpts = {}): Promise<void> {
  const graph = oneNodeGraph(op, inputs, attrs, opts.outputs ?? 1, opts.constant ?? []);
  const feeds = Object.fromEntries(inputs.flatMap((t, i) => (opts.constant?.[i] ? [] : [[`in${i}`, t] as const])));
  const wrt = (opts.wrt ?? inputs.map((_, i) => i)).map((i) => `in${i}`);
  await checkGradients(graph, feeds, wrt, { gpu, eps: opts.eps, atol: opts.atol, rtol: opts.rtol, samples: opts.samples });
}

/** Values in [lo, hi) at least `margin` away from every kink (pushed outwards from the nearest). */
export function awayFrom(t: Tensor, kinks: readonly number[], margin = 0.05): Tensor {
  const d = t.data.map((v) => {
    for (const k of kinks) if (Math.abs(v - k) < margin) return v >= k ? k + margin + (v - k) : k - margin + (v - k);
    return v;
  });
  return new Tensor(t.shape, d);
}

/** Distinct values spaced `gap` apart in a seeded random order: no ties, no near-ties. */
export function distinct(shape: Shape, rand: () => number, gap = 0.05): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * gap);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [v[i], v[j]] = [v[j], v[i]];
  }
  return new Tensor(shape, v);
}
