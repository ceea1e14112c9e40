// Gradient checking: analytic gradients from graph/autograd.ts against central finite
// differences of the CPU reference, and the WebGPU backward pass against the CPU one.

import assert from 'node:assert/strict';
import type { Gpu } from '../src/device/gpu.js';
import { buildBackward } from '../src/graph/autograd.js';
import type { Graph } from '../src/graph/ir.js';
import { CpuSession, GpuSession } from '../src/graph/session.js';
import { Tensor } from '../src/tensor.js';
import { assertClose, randomTensor, rng } from './helpers.js';

/**
 * Check d(loss)/d(value) for each value in `wrt` (graph inputs or initializers), where
 * loss = sum(output0 · R) for a fixed random R, so every output element matters with its own weight.
 * At most `samples` elements of each value are perturbed (by ±eps).
 */
export async function checkGradients(
  graph: Graph,
  feeds: Record<string, Tensor>,
  wrt: readonly string[],
  opts: { gpu?: Gpu | null; eps?: number; atol?: number; rtol?: number; samples?: number; seed?: number } = {},
): Promise<void> {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;
  const rand = rng(opts.seed ?? 5);
  const y = graph.outputs[0];
  const yShape = new CpuSession(graph).outputs[0].shape;
  const weights = randomTensor(yShape, rand);
  const lossGraph: Graph = {
    ...graph,
    outputs: ['__loss'],
    nodes: [
      ...graph.nodes,
      { name: '__weigh', op: 'Mul', inputs: [y, '__R'], outputs: ['__weighted'], attrs: {} },
      { name: '__sum', op: 'ReduceSum', inputs: ['__weighted'], outputs: ['__loss'], attrs: { keepdims: 0 } },
    ],
    initializers: new Map([...graph.initializers, ['__R', weights]]),
  };
  const back = buildBackward(lossGraph, '__loss', wrt);
  const analytic = await new CpuSession(back.graph).run(feeds);

  // The loss as a function of one perturbed value, on the CPU reference.
  const lossAt = async (name: string, t: Tensor): Promise<number> => {
    const isInit = graph.initializers.has(name);
    const g: Graph = isInit ? { ...lossGraph, initializers: new Map([...lossGraph.initializers, [name, t]]) } : lossGraph;
    const out = await new CpuSession(g).run(isInit ? feeds : { ...feeds, [name]: t });
    return out.__loss.data[0];
  };

  for (let w = 0; w < wrt.length; w++) {
    const name = wrt[w];
    const base = graph.initializers.get(name) ?? feeds[name];
    const grad = analytic[back.grads[w]];
    assert.deepEqual([...grad.shape], [...base.shape], `gradient of ${name} has the value's shape`);
    const n = base.size;
    const count = Math.min(n, opts.samples ?? 12);
    const picks = count === n ? [...Array(n).keys()] : Array.from({ length: count }, () => Math.floor(rand() * n));
    for (const i of picks) {
      const plus = new Tensor(base.shape, base.data.slice());
      const minus = new Tensor(base.shape, base.data.slice());
      plus.data[i] += eps;
      minus.data[i] -= eps;
      const numeric = ((await lossAt(name, plus)) - (await lossAt(name, minus))) / (2 * eps);
      const got = grad.data[i];
      assert.ok(
        Math.abs(got - numeric) <= atol + rtol * Math.abs(numeric),
        `d loss / d ${name}[${i}]: analytic ${got}, finite difference ${numeric}`,
      );
    }
  }

  if (opts.gpu) {
    const s = new GpuSession(opts.gpu, back.graph);
    try {
      const onGpu = await s.run(feeds);
      for (const g of back.grads) assertClose(onGpu[g], analytic[g], { atol: 1e-4, rtol: 1e-3 }, `WebGPU gradient ${g}`);
    } finally {
      s.dispose();
    }
  }
}
