// Why is the compacted LeNet not faster end to end? Times dense vs 50% compacted at batch 32,
// wall clock and the sum of per-node GPU timestamps.
import { Gpu } from '../src/device/gpu.js';
import { GpuSession } from '../src/graph/session.js';
import { load } from '../src/model.js';
import { loadMnist } from '../src/data/mnist.js';
import { subset } from '../src/data/dataset.js';
import { eliminate } from '../src/sve/api.js';
import { Tensor } from '../src/tensor.js';
import { timeInterleaved } from '../bench/harness.js';

const gpu = (await Gpu.acquire())!;
const model = await load(process.argv[2] ?? 'zoo/lenet5.onnx', { gpu });
const m = loadMnist();
const fast = await eliminate(model, { calibration: subset(m.train, Array.from({ length: 256 }, (_, i) => i)), rate: Number(process.argv[3] ?? 0.5) });
const batch = Number(process.argv[4] ?? 32);
const shape = [batch, 1, 28, 28];
const x = new Tensor(shape, m.test.images.slice(0, batch * 784));
const ss = [model.graph, fast.graph].map((g) => new GpuSession(gpu, { ...g, inputs: [{ name: g.inputs[0].name, shape }] }));
const t = await timeInterleaved(ss.map((s, i) => ({ name: i ? 'compact' : 'dense', run: () => s.run({ input: x }) })), { warmup: 3, reps: 21 });
console.log(t.map((v) => `${v.name} ${v.medianMs.toFixed(2)} ms (min ${v.minMs.toFixed(2)})`).join(', '));
for (const [i, s] of ss.entries()) {
  const p = await s.profile({ input: x });
  console.log(i ? 'compact' : 'dense', p.nodes.map((n) => `${n.node}:${n.ms.toFixed(2)}`).join(' '), 'sum', p.nodes.reduce((a, n) => a + n.ms, 0).toFixed(2));
}
gpu.destroy();
