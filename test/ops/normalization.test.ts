// LayerNormalization, InstanceNormalization, GroupNormalization (src/ops/normalization.ts):
// WebGPU against the CPU reference on odd shapes, and the CPU reference against a direct
// computation of each op's definition.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawAttrs } from '../../src/ops/op.js';
import { Tensor } from '../../src/tensor.js';
import { assertClose, randomTensor, rng, runBoth, testGpu } from '../helpers.js';

const gpu = await testGpu();
const r = rng(9001);

// [op, input shapes, attrs, outputs]
const CASES: [string, number[][], RawAttrs, number][] = [
  ['LayerNormalization', [[3, 5, 7], [7], [7]], {}, 3],
  ['LayerNormalization', [[2, 3, 5, 7], [5, 7], [5, 7]], { axis: 2, epsilon: 1e-3 }, 3],
  ['LayerNormalization', [[2, 3, 5], [2, 3, 5]], { axis: 0 }, 1],
  ['LayerNormalization', [[3, 1300], [1300], [1300]], {}, 1], // long rows: 256-wide workgroups
  ['LayerNormalization', [[3136, 96], [96], [96]], {}, 1], // ConvNeXt-T's first stage
  ['InstanceNormalization', [[2, 3, 5, 7], [3], [3]], { epsilon: 1e-3 }, 1],
  ['InstanceNormalization', [[1, 5, 11], [5], [5]], {}, 1],
  ['GroupNormalization', [[2, 6, 5, 3], [3], [3]], { num_groups: 3 }, 1],
  ['GroupNormalization', [[2, 6, 5, 3], [6], [6]], { num_groups: 2, epsilon: 1e-3 }, 1],
  ['GroupNormalization', [[1, 4, 7], [4], [4]], { num_groups: 4 }, 1],
];

for (const [op, shapes, attrs, outputs] of CASES) {
  test(`${op} ${JSON.stringify(shapes)} ${JSON.stringify(attrs)}: WebGPU matches the CPU reference`, { skip: !gpu && 'no WebGPU adapter' }, async () => {
    const xs = shapes.map((s, i) => randomTensor(s, r, i === 0 ? -3 : -1, i === 0 ? 5 : 1));
    const { cpu, gpu: g } = await runBoth(gpu, op, xs, attrs, outputs);
    for (let k = 0; k < outputs; k++) assertClose(g![k], cpu[k], { atol: 1e-5, rtol: 1e-4 }, `${op} output ${k}`);
  });
}

/** (x - mean) / sqrt(var + eps) over the given flat groups of indices. */
function normalise(x: Tensor, groups: number[][], eps: number): Float64Array {
  const out = new Float64Array(x.size);
  for (const g of groups) {
    const mean = g.reduce((s, i) => s + x.data[i], 0) / g.length;
    const v = g.reduce((s, i) => s + (x.data[i] - mean) ** 2, 0) / g.length;
    for (const i of g) out[i] = (x.data[i] - mean) / Math.sqrt(v + eps);
  }
  return out;
}

test('CPU references follow the definitions (groups of channels, per-group and per-channel scales)', async () => {
  const x = randomTensor([2, 6, 2, 2], r, -2, 2);
  const chan = (i: number) => Math.floor(i / 4) % 6;
  const batch = (i: number) => Math.floor(i / 24);
  const idx = Array.from({ length: 48 }, (_, i) => i);
  // GroupNormalization, 3 groups of 2 channels, per-group scale (opset 18) and per-channel (21).
  const gGroups = Array.from({ length: 6 }, (_, k) => idx.filter((i) => batch(i) * 3 + Math.floor(chan(i) / 2) === k));
  const n = normalise(x, gGroups, 1e-5);
  const sg = new Tensor([3], [1, 2, 3]);
  const bg = new Tensor([3], [0.5, 0, -0.5]);
  const got = (await runBoth(null, 'GroupNormalization', [x, sg, bg], { num_groups: 3 })).cpu[0];
  assertClose(got, new Tensor(x.shape, idx.map((i) => n[i] * sg.data[Math.floor(chan(i) / 2)] + bg.data[Math.floor(chan(i) / 2)])), { atol: 1e-6, rtol: 1e-6 }, 'GroupNormalization per group');
  const sc = new Tensor([6], [1, 2, 3, 4, 5, 6]);
  const bc = new Tensor([6], [0, 1, 0, 1, 0, 1]);
  const gotC = (await runBoth(null, 'GroupNormalization', [x, sc, bc], { num_groups: 3 })).cpu[0];
  assertClose(gotC, new Tensor(x.shape, idx.map((i) => n[i] * sc.data[chan(i)] + bc.data[chan(i)])), { atol: 1e-6, rtol: 1e-6 }, 'GroupNormalization per channel');
  // InstanceNormalization: per (batch, channel).
  const iGroups = Array.from({ length: 12 }, (_, k) => idx.filter((i) => batch(i) * 6 + chan(i) === k));
  const ni = normalise(x, iGroups, 1e-5);
  const gotI = (await runBoth(null, 'InstanceNormalization', [x, sc, bc])).cpu[0];
  assertClose(gotI, new Tensor(x.shape, idx.map((i) => ni[i] * sc.data[chan(i)] + bc.data[chan(i)])), { atol: 1e-6, rtol: 1e-6 }, 'InstanceNormalization');
  // LayerNormalization over the last two axes, with Mean and InvStdDev.
  const lGroups = Array.from({ length: 12 }, (_, k) => idx.slice(k * 4, k * 4 + 4));
  const nl = normalise(x, lGroups, 1e-5);
  const s4 = new Tensor([2, 2], [1, -1, 2, 0.5]);
  const [y, mean, inv] = (await runBoth(null, 'LayerNormalization', [x, s4], { axis: 2 }, 3)).cpu;
  assertClose(y, new Tensor(x.shape, idx.map((i) => nl[i] * s4.data[i % 4])), { atol: 1e-6, rtol: 1e-6 }, 'LayerNormalization');
  assert.deepEqual([...mean.shape], [2, 6, 1, 1]);
  assert.deepEqual([...inv.shape], [2, 6, 1, 1]);
  assert.ok(Math.abs(mean.data[0] - (x.data[0] + x.data[1] + x.data[2] + x.data[3]) / 4) < 1e-6);
  await assert.rejects(runBoth(null, 'GroupNormalization', [x, sg, bg], { num_groups: 4 }), /num_groups 4 must divide the 6 channels/);
  await assert.rejects(runBoth(null, 'LayerNormalization', [x, new Tensor([3], [1, 1, 1])], { axis: 2 }), /Scale has shape \[3\]/);
});
