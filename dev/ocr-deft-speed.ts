// Why the pipeline with the optimised .deft models ran slower than with the ONNX files: each
// model alone, dense ONNX against .deft, on one input size repeated (first run, then warm runs).
import { Gpu } from '../src/device/gpu.js';
import { loadOcrModels } from '../src/ocr/models.js';

const [det, cls, rec] = process.argv.slice(2);
const gpu = (await Gpu.acquire())!;
const dense = await loadOcrModels({ gpu });
const opt = await loadOcrModels({ gpu, det, cls, rec });
const cases: [string, 'det' | 'rec', number[]][] = [
  ['detector 1x3x640x480', 'det', [1, 3, 640, 480]],
  ['recogniser 8x3x48x480', 'rec', [8, 3, 48, 480]],
];
for (const [label, role, shape] of cases) {
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.1);
  for (const [name, m] of [['dense', dense], ['optimised', opt]] as const) {
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      await m[role].run(shape, x);
      times.push(performance.now() - t0);
    }
    console.log(`${label} ${name}: ${times.map((t) => t.toFixed(0)).join(' ')} ms`);
  }
}
dense.dispose();
opt.dispose();
gpu.destroy();
