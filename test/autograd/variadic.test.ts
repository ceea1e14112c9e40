// Gradients of the variadic ops Sum, Mean, Max and Min (ops/variadic.ts) against finite
// differences of the CPU reference, with broadcasting between the inputs, and the WebGPU backward
// pass against the CPU's; Max/Min ties against known values (the gradient shared evenly).

import { test } from 'node:test';
import { buildBackward } from '../../src/graph/autograd.js';
import type { Graph } from '../../src/graph/ir.js';
import { CpuSession } from '../../src/graph/session.js';
import { sizeOf, Tensor, type Shape } from '../../src/tensor.js';
import { assertClose, oneNodeGraph, randomTensor, rng, testGpu } from '../helpers.js';
import { checkOp, distinct } from './check.js';

const gpu = await testGpu();

// Input shapes per case: equal, a broadcast vector and a scalar, three broadcast ways, seven inputs.
const SHAPES: Shape[][] = [
  [[2, 3, 5], [2, 3, 5]],
  [[3, 5], [5], []],
  [[2, 1, 5], [3, 1], [1, 3, 5]],
  [[3, 4], [3, 4], [1, 4], [3, 1], [4], [1], [3, 4]],
];

/** Inputs of the given shapes whose values are all distinct, 0.05 apart: no ties under ±eps. */
function distinctInputs(shapes: Shape[], r: () => number): Tensor[] {
  const all = distinct([shapes.reduce((n, s) => n + sizeOf(s), 0)], r);
  let at = 0;
  return shapes.map((s) => new Tensor(s, all.data.slice(at, (at += sizeOf(s)))));
}

for (const op of ['Sum', 'Mean', 'Max', 'Min']) {
  test(`${op}: gradient of every input under broadcasting`, async () => {
    const r = rng(op.charCodeAt(1) * 5);
    for (const [k, shapes] of SHAPES.entries()) {
      const inputs = op === 'Max' || op === 'Min' ? distinctInputs(shapes, r) : shapes.map((s) => randomTensor(s, r));
      await checkOp(k < 3 ? gpu : null, op, inputs, {}, { samples: 20 });
    }
  });
}

test('Max and Min: tied inputs share the gradient evenly', async () => {
  // Max(a, b, c) with a = b = 2 > c at element 0, b alone largest at element 1, all equal at 2.
  const a = new Tensor([3], [2, 0, 1]);
  const b = new Tensor([3], [2, 5, 1]);
  const c = new Tensor([3], [-1, 4, 1]);
  for (const [op, want] of [
    ['Max', [[0.5, 0, 1 / 3], [0.5, 1, 1 / 3], [0, 0, 1 / 3]]],
    ['Min', [[0, 1, 1 / 3], [0, 0, 1 / 3], [1, 0, 1 / 3]]],
  ] as const) {
    const g = oneNodeGraph(op, [a, b, c], {}, 1, []);
    const loss: Graph = { ...g, outputs: ['loss'], nodes: [...g.nodes, { name: 'sum', op: 'ReduceSum', inputs: [g.outputs[0]], outputs: ['loss'], attrs: { keepdims: 0 } }] };
    const back = buildBackward(loss, 'loss', ['in0', 'in1', 'in2']);
    const out = await new CpuSession(back.graph).run({ in0: a, in1: b, in2: c });
    back.grads.forEach((name, k) => assertClose(out[name], new Tensor([3], want[k]), { atol: 1e-7, rtol: 0 }, `${op} gradient of input ${k}`));
  }
});
