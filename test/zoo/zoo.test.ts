import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuSession, GpuSession } from '../../src/graph/session.js';
import { optimizeGraph } from '../../src/graph/passes.js';
import { lenet5 } from '../../src/zoo/lenet.js';
import { resnetSmall } from '../../src/zoo/resnet.js';
import { vggSmall } from '../../src/zoo/vgg.js';
import { assertClose, randomTensor, rng, testGpu } from '../helpers.js';

const gpu = await testGpu();

const params = (g: ReturnType<typeof lenet5>) => [...g.initializers.values()].reduce((a, t) => a + t.size, 0);

test('LeNet-5 has the classic 61,706 parameters', () => {
  assert.equal(params(lenet5()), 61706);
});

for (const [name, make] of [
  ['LeNet-5', lenet5],
  ['VGG-small', vggSmall],
  ['ResNet-small', resnetSmall],
] as const) {
  test(`${name}: class probabilities for a batch, same on WebGPU, and unchanged by graph optimisation`, async () => {
    const graph = make({ batch: 3 });
    const x = randomTensor([3, 1, 28, 28], rng(4), 0, 1);
    const cpu = (await new CpuSession(graph).run({ input: x }))[graph.outputs[0]];
    assert.deepEqual([...cpu.shape], [3, 10]);
    for (let n = 0; n < 3; n++) {
      const row = cpu.data.subarray(n * 10, n * 10 + 10);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
    const optimized = optimizeGraph(graph);
    const opt = (await new CpuSession(optimized).run({ input: x }))[optimized.outputs[0]];
    assertClose(opt, cpu, { atol: 1e-5, rtol: 1e-4 }, `${name} optimized`);
    if (gpu) {
      const s = new GpuSession(gpu, optimized);
      const out = (await s.run({ input: x }))[optimized.outputs[0]];
      s.dispose();
      assertClose(out, cpu, { atol: 1e-5, rtol: 1e-4 }, `${name} WebGPU`);
    }
  });
}

test('FLOP counts from shapes: LeNet-5 is about 0.84 MFLOP per image in its convs and dense layers', async () => {
  const { graphCost } = await import('../../src/graph/cost.js');
  const { inferShapes } = await import('../../src/graph/shapes.js');
  const cost = graphCost(inferShapes(lenet5({ batch: 2 })));
  const gemmLike = cost.nodes.filter((n) => n.op === 'Conv' || n.op === 'Gemm').reduce((s, n) => s + n.flops, 0);
  // conv1 28·28·6·25 + conv2 10·10·16·150 + fc 400·120 + 120·84 + 84·10 multiply-adds, ×2, ×batch 2
  const macs = 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10;
  assert.equal(gemmLike, 2 * 2 * macs);
  assert.equal(cost.nodes.find((n) => n.op === 'Flatten')!.bytes, 0);
});
