// Sum, Mean, Max, Min over 1 to 7 broadcast inputs: WebGPU against the CPU reference (odd sizes),
// the CPU reference against values computed here, and Sum/Mean gradients against finite differences.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor.js';
import { checkOp } from '../autograd/check.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();

const SHAPES: number[][][] = [
  [[7]],
  [[3, 5], [3, 5]],
  [[2, 3, 5], [5], [3, 1]],
  [[1, 3, 17, 19], [3, 1, 1], [1, 19], [17, 1], [1], [1, 3, 17, 19], [19]],
];

for (const op of ['Sum', 'Mean', 'Max', 'Min']) {
  test(`${op}: WebGPU matches the CPU reference over broadcast inputs`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const r = rng(op.length * 71);
    for (const shapes of SHAPES) {
      const xs = shapes.map((s) => randomTensor(s, r, -3, 3));
      const { cpu, gpu: g } = await runBoth(gpu, op, xs);
      assertClose(g![0], cpu[0], { atol: 1e-6, rtol: 1e-6 }, `${op} ${JSON.stringify(shapes)}`);
    }
  });
}

test('CPU references: Sum, Mean, Max, Min of broadcast inputs', async () => {
  const a = new Tensor([2, 2], [1, -2, 3, 4]);
  const b = new Tensor([2], [10, -10]);
  const c = new Tensor([2, 1], [0.5, 5]);
  const at = async (op: string) => [...(await runBoth(null, op, [a, b, c])).cpu[0].data];
  assert.deepEqual(await at('Sum'), [11.5, -11.5, 18, -1]);
  assert.deepEqual(await at('Mean'), [11.5 / 3, -11.5 / 3, 6, -1 / 3].map(Math.fround));
  assert.deepEqual(await at('Max'), [10, 0.5, 10, 5]);
  assert.deepEqual(await at('Min'), [0.5, -10, 3, -10]);
  assert.deepEqual([...(await runBoth(null, 'Max', [a])).cpu[0].data], [1, -2, 3, 4]);
  const eight = Array.from({ length: 8 }, () => new Tensor([1], [0]));
  await assert.rejects(runBoth(null, 'Sum', eight), /takes 1 to 7 inputs, got 8/);
  await assert.rejects(runBoth(null, 'Sum', [a, new Tensor([3], [1, 2, 3])]), /cannot be broadcast together/);
});

for (const op of ['Sum', 'Mean']) {
  test(`${op}: gradient matches finite differences (broadcast inputs summed back)`, async () => {
    const r = rng(op.length * 5);
    const xs = [[2, 3, 5], [5], [3, 1]].map((s) => randomTensor(s, r));
    await checkOp(gpu, op, xs, {}, { samples: 30 });
  });
}
