// `npm run demo`: a small built-in CNN (LeNet-5 with seeded random weights) on WebGPU and on the
// CPU reference backend; prints latency per backend and the largest difference between them.

import { Gpu } from '../src/device/gpu.js';
import { optimizeGraph } from '../src/graph/passes.js';
import { CpuSession, GpuSession, type Session } from '../src/graph/session.js';
import { seededRandom } from '../src/random.js';
import { Tensor } from '../src/tensor.js';
import { lenet5 } from '../src/zoo/lenet.js';
import { markdownTable, timeInterleaved } from './harness.js';

const gpu = await Gpu.acquire();
console.log(`WebGPU adapter: ${gpu ? gpu.name : 'none found (CPU backend only)'}`);

const rows: (string | number)[][] = [];
for (const batch of [1, 16]) {
  const graph = optimizeGraph(lenet5({ batch, seed: 1 })); // bias and ReLU fused into Conv/Gemm
  const rand = seededRandom(batch);
  const input = new Tensor([batch, 1, 28, 28], Array.from({ length: batch * 784 }, rand));
  const sessions: Session[] = [new CpuSession(graph)];
  if (gpu) sessions.push(new GpuSession(gpu, graph));
  const outs = await Promise.all(sessions.map((s) => s.run({ input })));
  const out = graph.outputs[0];
  const maxDiff = outs.length > 1 ? Math.max(...outs[0][out].data.map((v, i) => Math.abs(v - outs[1][out].data[i]))) : NaN;
  const timings = await timeInterleaved(
    sessions.map((s) => ({ name: s.backend, run: () => s.run({ input }) })),
    { warmup: 3, reps: 15 },
  );
  for (const t of timings) {
    rows.push([`LeNet-5, batch ${batch}`, t.name, t.medianMs, (batch * 1000) / t.medianMs, t.name === 'webgpu' ? maxDiff.toExponential(2) : '']);
  }
  sessions.forEach((s) => s.dispose());
}
console.log(markdownTable(['model', 'backend', 'median ms', 'images/s', 'max |webgpu - cpu|'], rows));
gpu?.destroy();
