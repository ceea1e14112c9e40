// ONNX's backend node tests through deftnn (see test/onnx/nodesuite.ts): prints the pass counts
// per op and per op family a CNN uses (docs/ops.md quotes them) and every case that fails, and
// with --write rewrites the committed list of expected refusals (test/onnx/node-unsupported.json)
// from this run.
//
//   npx tsx scripts/onnx-node-tests.ts [--backend cpu|webgpu|both] [--write] [--only REGEX]

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Gpu } from '../src/device/gpu.js';
import { listCases, listKey, reasonOf, runCase, type Backend, type Outcome } from '../test/onnx/nodesuite.js';

const LIST = 'test/onnx/node-unsupported.json';
const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const which = opt('--backend') ?? 'both';
const only = opt('--only');
const backends: Backend[] = which === 'both' ? ['cpu', 'webgpu'] : [which as Backend];
const gpu = backends.includes('webgpu') ? await Gpu.acquire() : null;
if (backends.includes('webgpu') && !gpu) throw new Error('no WebGPU adapter');

const t0 = performance.now();
const { cases, skipped } = await listCases(undefined, only ? (n) => new RegExp(only).test(n) : undefined);
console.log(`${cases.length} float32 cases, ${skipped.length} others skipped (listing ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
const results = new Map<string, Partial<Record<Backend, Outcome>>>();
for (const b of backends) {
  const t = performance.now();
  for (const c of cases) {
    const o = await runCase(c, b, gpu);
    results.set(c.name, { ...results.get(c.name), [b]: o });
  }
  console.log(`${b}: ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

const ops = new Map<string, { n: number; pass: Record<string, number> }>();
for (const c of cases) {
  const e = ops.get(c.op) ?? { n: 0, pass: {} };
  e.n++;
  for (const b of backends) if (results.get(c.name)![b]!.kind === 'pass') e.pass[b] = (e.pass[b] ?? 0) + 1;
  for (const b of backends) if (results.get(c.name)![b]!.kind === 'pass-const') e.pass[`${b} const`] = (e.pass[`${b} const`] ?? 0) + 1;
  ops.set(c.op, e);
}
const cols = backends.flatMap((b) => [b, `${b} const`]);
console.log(`\n| op | cases | ${cols.join(' | ')} |\n| --- | ---: | ${cols.map(() => '---:').join(' | ')} |`);
for (const [op, e] of [...ops].sort()) console.log(`| ${op} | ${e.n} | ${cols.map((b) => e.pass[b] ?? 0).join(' | ')} |`);
// The op families a CNN uses (issue 14's 90% target), as counted in docs/ops.md.
const CNN_FAMILIES: Record<string, string[]> = {
  convolution: ['Conv', 'ConvTranspose'],
  pooling: ['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool'],
  normalisation: ['BatchNormalization', 'InstanceNormalization', 'LayerNormalization', 'GroupNormalization', 'LRN', 'MeanVarianceNormalization'],
  activations: ['Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'HardSigmoid', 'HardSwish', 'Tanh', 'Softplus', 'Softsign', 'Mish', 'Gelu', 'Erf', 'ThresholdedRelu', 'Clip', 'Shrink'],
  arithmetic: ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sum', 'Mean', 'Max', 'Min', 'Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal'],
  'Gemm/MatMul': ['Gemm', 'MatMul'],
  'shape and layout': ['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'Split', 'Slice', 'Gather', 'Expand', 'Tile', 'DepthToSpace', 'SpaceToDepth', 'Identity'],
  softmax: ['Softmax', 'LogSoftmax'],
  'Pad, Resize, Upsample, Dropout': ['Pad', 'Resize', 'Upsample', 'Dropout'],
};
console.log(`\n| CNN op family | cases | ${cols.join(' | ')} |\n| --- | ---: | ${cols.map(() => '---:').join(' | ')} |`);
for (const [family, names] of [...Object.entries(CNN_FAMILIES), ['all of them', Object.values(CNN_FAMILIES).flat()] as const]) {
  const sum = { n: 0, pass: {} as Record<string, number> };
  for (const op of names) {
    const e = ops.get(op);
    if (!e) continue;
    sum.n += e.n;
    for (const b of cols) sum.pass[b] = (sum.pass[b] ?? 0) + (e.pass[b] ?? 0);
  }
  console.log(`| ${family} | ${sum.n} | ${cols.map((b) => sum.pass[b] ?? 0).join(' | ')} |`);
}
console.log(`| every op | ${cases.length} | ${cols.map((b) => [...ops.values()].reduce((t, e) => t + (e.pass[b] ?? 0), 0)).join(' | ')} |`);
console.log();
for (const c of cases) {
  for (const b of backends) {
    const o = results.get(c.name)![b]!;
    if (o.kind !== 'pass') console.log(`${o.kind.toUpperCase()} ${c.name} [${b}] ${o.kind === 'error' ? `${o.errorName}: ` : ''}${o.message.split('\n')[0].slice(0, 300)}`);
  }
}

if (args.includes('--write')) {
  if (backends.length !== 2 || only) throw new Error('--write needs both backends and every case');
  const list: Record<string, string> = {};
  for (const c of cases) {
    const r = results.get(c.name)!;
    const reasons = backends.map((b) => (r[b]!.kind === 'error' || r[b]!.kind === 'pass-const' ? reasonOf((r[b] as { message: string }).message) : undefined));
    if (reasons[0] !== undefined && reasons[0] === reasons[1]) list[listKey(c.name)] = reasons[0];
    else backends.forEach((b, k) => reasons[k] !== undefined && (list[listKey(c.name, b)] = reasons[k]!));
  }
  const old = (() => { try { return Object.keys(JSON.parse(readFileSync(LIST, 'utf8'))).length; } catch { return 0; } })();
  writeFileSync(`${LIST}.tmp`, JSON.stringify(list, null, 1) + '\n');
  renameSync(`${LIST}.tmp`, LIST);
  console.log(`wrote ${LIST}: ${Object.keys(list).length} entries (was ${old})`);
}

process.exit(0);
