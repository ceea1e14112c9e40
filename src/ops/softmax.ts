// Softmax, numerically stable: y = exp(x - max) / sum(exp(x - max)) along each row; LogSoftmax,
// its logarithm computed directly: y = x - max - log(sum(exp(x - max))). Same rows, same kernels
// but for the final store. Hardmax on the same rows: 1 at the row's first maximum, 0 elsewhere
// (a NaN counts as the maximum, as numpy's argmax has it); it has no gradient.
//
// Opset 13 semantics by default: the row runs along one `axis` (default -1, any axis). Models of
// opset < 13 defined Softmax differently: the input is coerced to 2-D at `axis` (default 1) and
// each row is everything from `axis` on. The ONNX importer asks for that with the attribute
// `legacy_coerce_2d: 1` (not an ONNX attribute; our IR's way to carry the opset difference).
//
// Both become the same 3-D view [outer, n, inner]: element (o, k, j) is at (o * n + k) * inner + j,
// and a row is the n elements of one (o, j). Opset 13: n = dims[axis], inner = dims after axis.
// Legacy: n = everything from axis on, inner = 1.

import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, f32, linearGrid, u32 } from '../kernels/wgsl.js';
import { defineOp, intAttr, OpError } from './op.js';
import { type KernelContext } from '../kernels/context.js';

interface SoftmaxAttrs {
  /** Rows of the 3-D view, n (the row length) and inner (the stride between a row's elements). */
  readonly outer: number;
  readonly n: number;
  readonly inner: number;
}

function resolve(raw: Parameters<typeof intAttr>[0], shape: Shape): SoftmaxAttrs {
  const legacy = intAttr(raw, 'legacy_coerce_2d', 0);
  if (legacy !== 0 && legacy !== 1) throw new OpError(`attribute 'legacy_coerce_2d' must be 0 or 1, got ${legacy}`);
  const r = shape.length;
  if (r === 0) throw new OpError('input must have rank >= 1, got a scalar');
  const axis = intAttr(raw, 'axis', legacy ? 1 : -1);
  if (axis < -r || axis >= r) throw new OpError(`attribute 'axis' = ${axis} is out of range for rank ${r} (shape ${shapeStr(shape)})`);
  const a = axis < 0 ? axis + r : axis;
  const outer = sizeOf(shape.slice(0, a));
  return legacy
    ? { outer, n: sizeOf(shape.slice(a)), inner: 1 }
    : { outer, n: shape[a], inner: sizeOf(shape.slice(a + 1)) };
}

function cpu(x: Tensor, { outer, n, inner }: SoftmaxAttrs, log: boolean): Tensor {
  const y = new Float32Array(x.size);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const at = (k: number) => (o * n + k) * inner + j;
      let max = -Infinity;
      for (let k = 0; k < n; k++) max = Math.max(max, x.data[at(k)]);
      let sum = 0;
      for (let k = 0; k < n; k++) sum += Math.exp(x.data[at(k)] - max);
      for (let k = 0; k < n; k++) y[at(k)] = log ? x.data[at(k)] - max - Math.log(sum) : Math.exp(x.data[at(k)] - max) / sum;
    }
  }
  return new Tensor(x.shape, y);
}

/** Rows up to this long get one invocation each; longer ones one workgroup each. */
const SHORT_ROW = 64;
const WG_SHORT = 64;

const BINDINGS = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;`;

function gpu({ outer, n, inner }: SoftmaxAttrs, ctx: KernelContext, log: boolean) {
  // The value stored for element xk given the row's max m and sum of exponentials s.
  const store = (xk: string, m: string, s: string) => (log ? `${xk} - ${m} - log(${s})` : `exp(${xk} - ${m}) * (1.0 / ${s})`);
  const rows = outer * inner;
  if (rows === 0 || n === 0) return [];
  // Offset of row `row`'s first element; its k-th element is `inner` further on per step.
  const base = inner === 1 ? `row * ${u32(n)}` : `(row / ${u32(inner)}) * ${u32(n * inner)} + row % ${u32(inner)}`;
  const at = (k: string) => (inner === 1 ? `base + ${k}` : `base + ${k} * ${u32(inner)}`);
  const bindings = [{ input: 0 }, { output: 0 }];

  if (n <= SHORT_ROW) {
    // Many short rows (e.g. softmax over 21 classes at every pixel): one invocation per row.
    const body = `  let row = i;
  let base = ${base};
  var m = ${f32(-Infinity)};
  for (var k = 0u; k < ${u32(n)}; k++) { m = max(m, x[${at('k')}]); }
  var s = 0.0;
  for (var k = 0u; k < ${u32(n)}; k++) { s += exp(x[${at('k')}] - m); }
  for (var k = 0u; k < ${u32(n)}; k++) { y[${at('k')}] = ${store(`x[${at('k')}]`, 'm', 's')}; }`;
    const wgsl = `${BINDINGS}\n${elementwiseMain(rows, WG_SHORT, body)}`;
    return [{ wgsl, workgroups: linearGrid(rows, WG_SHORT, ctx), bindings }];
  }

  // Long rows (e.g. 1000 classes): one workgroup per row, each invocation striding over the row,
  // then a tree reduction in workgroup memory for the max and again for the sum.
  const wg = Math.min(n <= 1024 ? 64 : 256, ctx.maxComputeInvocationsPerWorkgroup);
  const reduce = (op: (a: string, b: string) => string) => {
    const steps: string[] = [];
    for (let s = wg / 2; s >= 1; s /= 2) {
      steps.push(`  if (t < ${u32(s)}) { red[t] = ${op('red[t]', `red[t + ${u32(s)}]`)}; }\n  workgroupBarrier();`);
    }
    return steps.join('\n');
  };
  const wgsl = `${BINDINGS}
var<workgroup> red: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  // The row is uniform across the workgroup, so this early return keeps barriers uniform.
  let row = wid.x + wid.y * nwg.x;
  if (row >= ${u32(rows)}) { return; }
  let base = ${base};
  var m = ${f32(-Infinity)};
  for (var k = t; k < ${u32(n)}; k += ${u32(wg)}) { m = max(m, x[${at('k')}]); }
  red[t] = m;
  workgroupBarrier();
${reduce((a, b) => `max(${a}, ${b})`)}
  let mx = red[0];
  workgroupBarrier();
  var s = 0.0;
  for (var k = t; k < ${u32(n)}; k += ${u32(wg)}) { s += exp(x[${at('k')}] - mx); }
  red[t] = s;
  workgroupBarrier();
${reduce((a, b) => `${a} + ${b}`)}
  let total = red[0];
  for (var k = t; k < ${u32(n)}; k += ${u32(wg)}) { y[${at('k')}] = ${store(`x[${at('k')}]`, 'mx', 'total')}; }
}`;
  return [{ wgsl, workgroups: linearGrid(rows, 1, ctx), bindings }];
}

export const softmaxOp = defineOp<SoftmaxAttrs>({
  type: 'Softmax',
  arity: [1, 1],
  attrs: (raw, [shape]) => resolve(raw, shape),
  shape: ([x]) => [x],
  cpu: ([x], a) => [cpu(x, a, false)],
  gpu: (_in, _out, a, ctx) => gpu(a, ctx, false),
  // dy_k/dx_j = y_k(δ_kj - y_j) along a row, so gx = y · (gy - Σ_row gy·y). Built from existing
  // ops on the same [outer, n, inner] view as the forward pass (the reshapes are free views),
  // which serves both the opset-13 and the legacy 2-D row.
  grad: (g) => {
    const { outer, n, inner } = g.attrs;
    const view = (v: string) => g.emit('Reshape', [v], { shape: [outer, n, inner], allowzero: 1 });
    const y = view(g.outputs[0]);
    const gy = view(g.gradOutputs[0]!);
    const dot = g.emit('ReduceSum', [g.emit('Mul', [gy, y])], { axes: [1], keepdims: 1 });
    const gx = g.emit('Mul', [y, g.emit('Sub', [gy, dot])]);
    return [g.emit('Reshape', [gx], { shape: [...g.inputShapes[0]], allowzero: 1 })];
  },
});

export const logSoftmaxOp = defineOp<SoftmaxAttrs>({
  type: 'LogSoftmax',
  arity: [1, 1],
  attrs: (raw, [shape]) => resolve(raw, shape),
  shape: ([x]) => [x],
  cpu: ([x], a) => [cpu(x, a, true)],
  gpu: (_in, _out, a, ctx) => gpu(a, ctx, true),
  // dy_k/dx_j = δ_kj - softmax_j along a row, so gx = gy - exp(y) · Σ_row gy.
  grad: (g) => {
    const { outer, n, inner } = g.attrs;
    const view = (v: string) => g.emit('Reshape', [v], { shape: [outer, n, inner], allowzero: 1 });
    const gy = view(g.gradOutputs[0]!);
    const total = g.emit('ReduceSum', [gy], { axes: [1], keepdims: 1 });
    const gx = g.emit('Sub', [gy, g.emit('Mul', [g.emit('Exp', [view(g.outputs[0])]), total])]);
    return [g.emit('Reshape', [gx], { shape: [...g.inputShapes[0]], allowzero: 1 })];
  },
});

function hardmaxCpu(x: Tensor, { outer, n, inner }: SoftmaxAttrs): Tensor {
  const y = new Float32Array(x.size);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const at = (k: number) => (o * n + k) * inner + j;
      let best = 0;
      for (let k = 1; k < n; k++) {
        const [v, m] = [x.data[at(k)], x.data[at(best)]];
        if (v > m || (Number.isNaN(v) && !Number.isNaN(m))) best = k;
      }
      if (n > 0) y[at(best)] = 1;
    }
  }
  return new Tensor(x.shape, y);
}

/** One invocation per row: find the first maximum, then write the row's 0s and its 1. */
function hardmaxGpu({ outer, n, inner }: SoftmaxAttrs, ctx: KernelContext) {
  const rows = outer * inner;
  if (rows === 0 || n === 0) return [];
  const base = inner === 1 ? `row * ${u32(n)}` : `(row / ${u32(inner)}) * ${u32(n * inner)} + row % ${u32(inner)}`;
  const at = (k: string) => (inner === 1 ? `base + ${k}` : `base + ${k} * ${u32(inner)}`);
  const body = `  let row = i;
  let base = ${base};
  var best = 0u;
  var m = x[base];
  for (var k = 1u; k < ${u32(n)}; k++) {
    let v = x[${at('k')}];
    if (v > m || (v != v && m == m)) { best = k; m = v; }
  }
  for (var k = 0u; k < ${u32(n)}; k++) { y[${at('k')}] = select(0.0, 1.0, k == best); }`;
  return [{ wgsl: `${BINDINGS}\n${elementwiseMain(rows, WG_SHORT, body)}`, workgroups: linearGrid(rows, WG_SHORT, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
}

export const hardmaxOp = defineOp<SoftmaxAttrs>({
  type: 'Hardmax',
  arity: [1, 1],
  attrs: (raw, [shape]) => resolve(raw, shape),
  shape: ([x]) => [x],
  cpu: ([x], a) => [hardmaxCpu(x, a)],
  gpu: (_in, _out, a, ctx) => hardmaxGpu(a, ctx),
});
