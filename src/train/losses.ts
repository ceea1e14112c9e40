// Training losses over a batch of logits: softmax cross-entropy against class labels, and the
// distillation loss against a teacher's logits. Each is an op (shape rule, CPU reference, WebGPU
// kernels) with a gradient op beside it, so a training graph is forward + loss + autograd.
//
// SoftmaxCrossEntropyLoss follows ONNX (opset 13) for 2-D scores, no weights, no ignore_index:
//   scores: [N, C] logits; labels: [N] class indices (our tensors are float32, so the labels are
//   the indices as floats); reduction 'mean' (default) or 'sum'.
//   output 0: loss, shape [] = -(1/N)·Σ_i log_prob[i, labels[i]] ('sum': without the 1/N);
//   output 1 (optional): log_prob [N, C] = scores - logsumexp(scores) along each row.
//   A label that is not an integer in [0, C) is an error on the CPU; a kernel cannot throw, so
//   on WebGPU that row's loss (and gradient) is NaN, which the training loop's NaN check stops at.
//   (WGSL lets implementations assume that NaN does not occur; lavapipe passes it through.)
//
// DistillationLoss (ours, not ONNX; Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a
// Neural Network"):
//   inputs: student logits [N, C], teacher logits [N, C]; attribute temperature T > 0 (default 4).
//   With p = softmax(teacher/T) and q = softmax(student/T) along each row,
//   output 0: loss, shape [] = T² · (1/N)·Σ_i KL(p_i || q_i) = T² · (1/N)·Σ_i Σ_k p_ik (log p_ik - log q_ik);
//   output 1 (optional): per-example losses [N] = T² · KL(p_i || q_i), whose mean is output 0.
//   The T² keeps the gradient's size independent of T (the gradient of a softened softmax
//   scales as 1/T), as Hinton et al. recommend when mixing it with a hard-label loss.
//
// Gradients: d loss/d scores = (softmax(scores) - onehot(labels))·gy/N, and
// d loss/d student = T·(q - p)·gy/N; the labels and the teacher get none. Both are recomputed
// from the logits by gradient ops (SoftmaxCrossEntropyLossGrad, DistillationLossGrad): one pass
// over the row, cheaper than keeping the softmax alive until the backward pass.
//
// Numerics: every softmax goes through log-sum-exp with the row's maximum subtracted first, so
// logits of any size give finite results.
//
// Kernels. Rows are independent, so the row work (max, log-sum-exp, per-row loss or gradient)
// runs one invocation per row for short rows (C <= 64, e.g. 10 classes) and one workgroup per
// row for long ones (e.g. 1000 classes). The loss over the batch is then one small
// single-workgroup kernel summing N per-row values that the first kernel wrote into the op's
// second output (log_prob, or the per-example losses); N is at most a few hundred.

import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { f32, linearGrid, linearIndexFn, u32 } from '../kernels/wgsl.js';
import { defineOp, floatAttr, OpError, stringAttr, type GradContext, type OpDef, type RawAttrs } from '../ops/op.js';
import { type Binding, type Dispatch, type KernelContext } from '../kernels/context.js';

// ---- shared checks and CPU helpers ----

interface Rows {
  /** Batch size and number of classes. */
  readonly n: number;
  readonly c: number;
}

function logitsRows(shape: Shape, what: string): Rows {
  if (shape.length !== 2) throw new OpError(`${what} must be [N, C], got ${shapeStr(shape)}`);
  const [n, c] = shape;
  if (n === 0 || c === 0) throw new OpError(`${what} must have at least one row and one class, got ${shapeStr(shape)}`);
  return { n, c };
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The class index that row i's label holds; an error naming the row when it is not one. */
function classOf(labels: Tensor, i: number, c: number): number {
  const l = labels.data[i];
  if (!Number.isInteger(l) || l < 0 || l >= c) throw new OpError(`labels[${i}] = ${l} is not a class index in [0, ${c})`);
  return l;
}

/** log softmax of `row` scaled by `inv` (1/T), in float64: x·inv - logsumexp(x·inv). */
function logSoftmax(row: Float32Array, inv = 1): Float64Array {
  let m = -Infinity;
  for (const v of row) m = Math.max(m, v * inv);
  let z = 0;
  for (const v of row) z += Math.exp(v * inv - m);
  const lse = m + Math.log(z);
  return Float64Array.from(row, (v) => v * inv - lse);
}

/** Check a gradient input: one element (the gradient of the loss), or [N] when `perRow` allows. */
function gradScale(gy: Shape, n: number, perRow: boolean): 'loss' | 'rows' {
  if (perRow && sameShape(gy, [n])) return 'rows';
  if (sizeOf(gy) === 1) return 'loss';
  throw new OpError(`gradient must have one element${perRow ? ` (the loss's) or shape [${n}] (the per-example losses')` : ''}, got ${shapeStr(gy)}`);
}

// ---- WGSL building blocks ----

/** Rows up to this long get one invocation each; longer ones a workgroup of ROW_WG each. */
const SHORT_ROW = 64;
const ROW_WG = 64;
/** Invocations of the single workgroup that adds up the per-row values. */
const SUM_WG = 64;

/** A NaN that the compiler cannot fold into a constant (NaN constants are WGSL errors). */
const NAN = `var<private> NAN_BITS: u32 = 0x7fc00000u;
fn nan() -> f32 { return bitcast<f32>(NAN_BITS); }`;

interface RowCode {
  /**
   * Statements declaring `var ${name}: vec2<f32>`, the componentwise max or sum of `term(k)`
   * over the row's k in [0, C); every invocation of the row ends up with the same value.
   * (vec2, so that the student's and teacher's reductions go together; one-value reductions
   * leave y at 0.)
   */
  reduce(name: string, op: 'max' | 'sum', term: (k: string) => string): string;
  /** Statements running `stmt(k)` for every k of the row (spread over the row's invocations). */
  each(stmt: (k: string) => string): string;
  /** Statements run once per row. */
  once(stmt: string): string;
}

const combine = (op: 'max' | 'sum', a: string, b: string) => (op === 'max' ? `max(${a}, ${b})` : `${a} + ${b}`);

/**
 * A kernel running `body` for each of `rows` rows of length c; the body sees `row` (u32) and
 * `base` (= row·C, the offset of the row's first element in a row-major [rows, C] tensor).
 */
function rowKernel(decls: string, rows: number, c: number, ctx: KernelContext, body: (r: RowCode) => string): { wgsl: string; workgroups: [number, number, number] } {
  if (c <= SHORT_ROW) {
    // One invocation walks the whole row: loops start at element 0, so no -Inf identity is needed.
    const code: RowCode = {
      reduce: (name, op, term) =>
        `  var ${name}: vec2<f32> = ${term('0u')};
  for (var k = 1u; k < ${u32(c)}; k++) { ${name} = ${combine(op, name, term('k'))}; }`,
      each: (stmt) => `  for (var k = 0u; k < ${u32(c)}; k++) { ${stmt('k')} }`,
      once: (stmt) => `  ${stmt}`,
    };
    const wgsl = `${decls}
${linearIndexFn(ROW_WG)}
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = linearIndex(gid, nwg);
  if (row >= ${u32(rows)}) { return; }
  let base = row * ${u32(c)};
${body(code)}
}`;
    return { wgsl, workgroups: linearGrid(rows, ROW_WG, ctx) };
  }
  // A workgroup per row: each invocation folds its strided share (C > ROW_WG, so every one has
  // an element to start from), then invocation 0 folds the ROW_WG partials. Two barriers per
  // reduction rather than a tree's log2(ROW_WG): barriers are what software adapters pay for.
  const code: RowCode = {
    reduce: (name, op, term) => `  var ${name}: vec2<f32> = ${term('lid')};
  for (var k = lid + ${u32(ROW_WG)}; k < ${u32(c)}; k += ${u32(ROW_WG)}) { ${name} = ${combine(op, name, term('k'))}; }
  part[lid] = ${name};
  workgroupBarrier();
  if (lid == 0u) {
    var s = part[0];
    for (var j = 1u; j < ${u32(ROW_WG)}; j++) { s = ${combine(op, 's', 'part[j]')}; }
    part[0] = s;
  }
  workgroupBarrier();
  ${name} = part[0];
  workgroupBarrier(); // everyone has read part[0] before the next reduction reuses it`,
    each: (stmt) => `  for (var k = lid; k < ${u32(c)}; k += ${u32(ROW_WG)}) { ${stmt('k')} }`,
    once: (stmt) => `  if (lid == 0u) { ${stmt} }`,
  };
  const wgsl = `${decls}
var<workgroup> part: array<vec2<f32>, ${ROW_WG}>;
@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  // The row depends only on workgroup_id, so the return and the barriers stay uniform.
  let row = wid.x + wid.y * nwg.x;
  if (row >= ${u32(rows)}) { return; }
  let base = row * ${u32(c)};
${body(code)}
}`;
  return { wgsl, workgroups: linearGrid(rows, 1, ctx) };
}

/**
 * One workgroup adding up `term(i)` (an f32 expression) over the batch's n rows and storing
 * `finish(sum)` with statements; `helpers` are module-scope WGSL the term may call.
 */
function batchSumKernel(decls: string, helpers: string, n: number, term: (i: string) => string, finish: (sum: string) => string): string {
  return `${decls}
${helpers}
var<workgroup> part: array<f32, ${SUM_WG}>;
@compute @workgroup_size(${SUM_WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < ${u32(n)}; i += ${u32(SUM_WG)}) { acc += ${term('i')}; }
  part[lid] = acc;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0.0;
    for (var j = 0u; j < ${u32(SUM_WG)}; j++) { s += part[j]; }
    ${finish('s')}
  }
}`;
}

/** WGSL: the class index held by labels[i], or C (out of range) when it holds none. */
function classOfWgsl(c: number): string {
  return `fn class_of(i: u32) -> u32 {
  let l = labels[i];
  if (l >= 0.0 && l < ${f32(c)} && l == floor(l)) { return u32(l); }
  return ${u32(c)};
}`;
}

// ---- SoftmaxCrossEntropyLoss ----

interface SceAttrs extends Rows {
  readonly reduction: 'mean' | 'sum';
}

function sceAttrs(raw: RawAttrs, [scores, labels]: readonly Shape[]): SceAttrs {
  const rows = logitsRows(scores, 'scores (input 0)');
  if (!sameShape(labels, [rows.n])) throw new OpError(`labels (input 1) must be [${rows.n}] for scores ${shapeStr(scores)}, got ${shapeStr(labels)}`);
  const reduction = stringAttr(raw, 'reduction', 'mean');
  if (reduction !== 'mean' && reduction !== 'sum') throw new OpError(`attribute 'reduction' must be 'mean' or 'sum' (only those are supported), got '${reduction}'`);
  if (raw.ignore_index !== undefined) throw new OpError(`attribute 'ignore_index' is not supported`);
  return { ...rows, reduction };
}

/** Raw attributes that resolve to the same SceAttrs again (for the gradient op). */
const sceRaw = (a: SceAttrs): RawAttrs => ({ reduction: a.reduction });

const sceScale = (a: SceAttrs) => (a.reduction === 'mean' ? 1 / a.n : 1);

function sceCpu(scores: Tensor, labels: Tensor, a: SceAttrs): Tensor[] {
  const { n, c } = a;
  const logProb = new Float32Array(n * c);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const lp = logSoftmax(scores.data.subarray(i * c, (i + 1) * c));
    logProb.set(lp, i * c);
    total -= lp[classOf(labels, i, c)];
  }
  return [new Tensor([], [total * sceScale(a)]), new Tensor([n, c], logProb)];
}

function sceGpu(a: SceAttrs, ctx: KernelContext): Dispatch[] {
  const { n, c } = a;
  // 1. log_prob = scores - logsumexp(scores), row by row.
  const rowDecls = `@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read_write> log_prob: array<f32>;`;
  const rows = rowKernel(rowDecls, n, c, ctx, (r) =>
    [
      r.reduce('mx', 'max', (k) => `vec2<f32>(scores[base + ${k}], 0.0)`),
      r.reduce('z', 'sum', (k) => `vec2<f32>(exp(scores[base + ${k}] - mx.x), 0.0)`),
      // (s - max) first: exact, so large logits keep their precision (s - lse would round at lse's size).
      `  let lz = log(z.x);`,
      r.each((k) => `log_prob[base + ${k}] = (scores[base + ${k}] - mx.x) - lz;`),
    ].join('\n'),
  );
  // 2. loss = -scale · Σ_i log_prob[i, labels[i]].
  const sumDecls = `@group(0) @binding(0) var<storage, read> log_prob: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;`;
  const helpers = `${NAN}
${classOfWgsl(c)}
fn row_loss(i: u32) -> f32 {
  let k = class_of(i);
  if (k >= ${u32(c)}) { return nan(); }
  return -log_prob[i * ${u32(c)} + k];
}`;
  const sum = batchSumKernel(sumDecls, helpers, n, (i) => `row_loss(${i})`, (s) => `loss[0] = ${s} * ${f32(sceScale(a))};`);
  return [
    { ...rows, bindings: [{ input: 0 }, { output: 1 }] },
    { wgsl: sum, workgroups: [1, 1, 1], bindings: [{ output: 1 }, { input: 1 }, { output: 0 }] },
  ];
}

export const softmaxCrossEntropyLossOp = defineOp<SceAttrs>({
  type: 'SoftmaxCrossEntropyLoss',
  training: true,
  arity: [2, 2],
  attrs: sceAttrs,
  shape: ([scores]) => [[], scores],
  cpu: ([scores, labels], a) => sceCpu(scores, labels, a),
  gpu: (_in, _out, a, ctx) => sceGpu(a, ctx),
  grad: (g) => {
    const [scores, labels] = g.inputs;
    if (!g.wants[0]) return [undefined, undefined];
    const parts: string[] = [];
    if (g.gradOutputs[0]) parts.push(g.emit('SoftmaxCrossEntropyLossGrad', [scores, labels, g.gradOutputs[0]], sceRaw(g.attrs)));
    if (g.gradOutputs[1]) parts.push(logSoftmaxGrad(g, g.outputs[1], g.gradOutputs[1]));
    return [parts.reduce((x, y) => g.emit('Add', [x, y])), undefined];
  },
});

/** Gradient through log_prob = s - logsumexp(s): gs = g - softmax(s)·Σ_k g_k, per row. */
function logSoftmaxGrad(g: GradContext<SceAttrs>, logProb: string, gLogProb: string): string {
  const rowSum = g.emit('ReduceSum', [gLogProb], { axes: [1], keepdims: 1 });
  return g.emit('Sub', [gLogProb, g.emit('Mul', [g.emit('Exp', [logProb]), rowSum])]);
}

/**
 * SoftmaxCrossEntropyLossGrad(scores [N, C], labels [N], gy [one element]) -> gscores [N, C]
 * = (softmax(scores) - onehot(labels))·gy·scale, scale = 1/N for reduction 'mean', 1 for 'sum'.
 */
export const softmaxCrossEntropyLossGradOp = defineOp<SceAttrs>({
  type: 'SoftmaxCrossEntropyLossGrad',
  training: true,
  arity: [3, 3],
  attrs: (raw, shapes) => {
    const a = sceAttrs(raw, shapes);
    gradScale(shapes[2], a.n, false);
    return a;
  },
  shape: ([scores]) => [scores],
  cpu: ([scores, labels, gy], a) => {
    const { n, c } = a;
    const gs = new Float32Array(n * c);
    const k = gy.data[0] * sceScale(a);
    for (let i = 0; i < n; i++) {
      const lp = logSoftmax(scores.data.subarray(i * c, (i + 1) * c));
      const label = classOf(labels, i, c);
      for (let j = 0; j < c; j++) gs[i * c + j] = (Math.exp(lp[j]) - (j === label ? 1 : 0)) * k;
    }
    return [new Tensor([n, c], gs)];
  },
  gpu: (_in, _out, a, ctx) => {
    const { n, c } = a;
    const decls = `@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> gscores: array<f32>;
${NAN}
${classOfWgsl(c)}`;
    const { wgsl, workgroups } = rowKernel(decls, n, c, ctx, (r) =>
      [
        r.reduce('mx', 'max', (k) => `vec2<f32>(scores[base + ${k}], 0.0)`),
        r.reduce('z', 'sum', (k) => `vec2<f32>(exp(scores[base + ${k}] - mx.x), 0.0)`),
        `  let label = class_of(row);`,
        // A bad label makes the whole row NaN, as it makes the row's loss NaN.
        `  let scale = select(gy[0] * ${f32(sceScale(a))}, nan(), label >= ${u32(c)});`,
        `  let inv = 1.0 / z.x;`,
        r.each((k) => `gscores[base + ${k}] = (exp(scores[base + ${k}] - mx.x) * inv - select(0.0, 1.0, ${k} == label)) * scale;`),
      ].join('\n'),
    );
    return [{ wgsl, workgroups, bindings: [{ input: 0 }, { input: 1 }, { input: 2 }, { output: 0 }] }];
  },
});

// ---- DistillationLoss ----

interface DistillAttrs extends Rows {
  readonly temperature: number;
}

function distillAttrs(raw: RawAttrs, [student, teacher]: readonly Shape[]): DistillAttrs {
  const rows = logitsRows(student, 'student logits (input 0)');
  if (!sameShape(teacher, student)) throw new OpError(`teacher logits (input 1) must have the student's shape ${shapeStr(student)}, got ${shapeStr(teacher)}`);
  const temperature = floatAttr(raw, 'temperature', 4);
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new OpError(`attribute 'temperature' must be a positive number, got ${temperature}`);
  return { ...rows, temperature };
}

/** T²·KL(softmax(t/T) || softmax(s/T)) of one row, in float64. */
function rowDistillation(s: Float32Array, t: Float32Array, T: number): number {
  const lq = logSoftmax(s, 1 / T);
  const lp = logSoftmax(t, 1 / T);
  let kl = 0;
  for (let k = 0; k < s.length; k++) kl += Math.exp(lp[k]) * (lp[k] - lq[k]);
  return T * T * kl;
}

/**
 * WGSL statements for a row of student and teacher: `mx` (their maxima) and `lse`, the
 * log-sum-exp of (x - max)/T for each, so that (x_k - mx)/T - lse is log q_k (x) and log p_k (y).
 */
function distillRowStats(r: RowCode, T: number): string {
  const pair = (k: string) => `vec2<f32>(student[base + ${k}], teacher[base + ${k}])`;
  return [
    // Dividing by T > 0 keeps the order, so the maxima of the raw logits serve.
    r.reduce('mx', 'max', pair),
    r.reduce('z', 'sum', (k) => `exp((${pair(k)} - mx) * ${f32(1 / T)})`),
    `  let lse = log(z);`,
    `  let T = ${f32(T)};`,
  ].join('\n');
}

/** WGSL for (log q_k, log p_k) of element k of the row. */
const distillLogProbs = (T: number, k: string) => `((vec2<f32>(student[base + ${k}], teacher[base + ${k}]) - mx) * ${f32(1 / T)} - lse)`;

export const distillationLossOp = defineOp<DistillAttrs>({
  type: 'DistillationLoss',
  training: true,
  arity: [2, 2],
  attrs: distillAttrs,
  shape: ([student], a) => [[], [a.n]],
  cpu: ([student, teacher], a) => {
    const { n, c, temperature } = a;
    const rows = new Float32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const v = rowDistillation(student.data.subarray(i * c, (i + 1) * c), teacher.data.subarray(i * c, (i + 1) * c), temperature);
      rows[i] = v;
      total += v;
    }
    return [new Tensor([], [total / n]), new Tensor([n], rows)];
  },
  gpu: (_in, _out, a, ctx) => {
    const { n, c, temperature: T } = a;
    // 1. Per-example losses into output 1.
    const decls = `@group(0) @binding(0) var<storage, read> student: array<f32>;
@group(0) @binding(1) var<storage, read> teacher: array<f32>;
@group(0) @binding(2) var<storage, read_write> rows: array<f32>;
// p·(log p - log q) from l = (log q, log p): 0 where p underflows, and log p stays finite.
fn kl_term(l: vec2<f32>) -> vec2<f32> { return vec2<f32>(exp(l.y) * (l.y - l.x), 0.0); }`;
    const perRow = rowKernel(decls, n, c, ctx, (r) =>
      [
        distillRowStats(r, T),
        r.reduce('kl', 'sum', (k) => `kl_term(${distillLogProbs(T, k)})`),
        r.once(`rows[row] = T * T * kl.x;`),
      ].join('\n'),
    );
    // 2. Their mean.
    const sumDecls = `@group(0) @binding(0) var<storage, read> rows: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;`;
    const sum = batchSumKernel(sumDecls, '', n, (i) => `rows[${i}]`, (s) => `loss[0] = ${s} * ${f32(1 / n)};`);
    return [
      { ...perRow, bindings: [{ input: 0 }, { input: 1 }, { output: 1 }] },
      { wgsl: sum, workgroups: [1, 1, 1], bindings: [{ output: 1 }, { output: 0 }] },
    ];
  },
  grad: (g) => {
    const [student, teacher] = g.inputs;
    if (!g.wants[0]) return [undefined, undefined];
    const raw = { temperature: g.attrs.temperature };
    const parts = g.gradOutputs.flatMap((gy) => (gy ? [g.emit('DistillationLossGrad', [student, teacher, gy], raw)] : []));
    return [parts.reduce((x, y) => g.emit('Add', [x, y])), undefined];
  },
});

/**
 * DistillationLossGrad(student [N, C], teacher [N, C], gy) -> gstudent [N, C]
 * = T·(softmax(student/T) - softmax(teacher/T))·w_i, where w_i = gy/N when gy has one element
 * (the gradient of the mean loss) and w_i = gy[i] when gy is [N] (of the per-example losses).
 */
export const distillationLossGradOp = defineOp<DistillAttrs & { readonly perRow: boolean }>({
  type: 'DistillationLossGrad',
  training: true,
  arity: [3, 3],
  attrs: (raw, shapes) => {
    const a = distillAttrs(raw, shapes);
    return { ...a, perRow: gradScale(shapes[2], a.n, true) === 'rows' };
  },
  shape: ([student]) => [student],
  cpu: ([student, teacher, gy], a) => {
    const { n, c, temperature: T, perRow } = a;
    const gs = new Float32Array(n * c);
    for (let i = 0; i < n; i++) {
      const lq = logSoftmax(student.data.subarray(i * c, (i + 1) * c), 1 / T);
      const lp = logSoftmax(teacher.data.subarray(i * c, (i + 1) * c), 1 / T);
      const w = perRow ? gy.data[i] : gy.data[0] / n;
      for (let k = 0; k < c; k++) gs[i * c + k] = T * (Math.exp(lq[k]) - Math.exp(lp[k])) * w;
    }
    return [new Tensor([n, c], gs)];
  },
  gpu: (_in, _out, a, ctx) => {
    const { n, c, temperature: T, perRow } = a;
    const decls = `@group(0) @binding(0) var<storage, read> student: array<f32>;
@group(0) @binding(1) var<storage, read> teacher: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> gstudent: array<f32>;`;
    const { wgsl, workgroups } = rowKernel(decls, n, c, ctx, (r) =>
      [
        distillRowStats(r, T),
        `  let w = T * ${perRow ? 'gy[row]' : `gy[0] * ${f32(1 / n)}`};`,
        r.each((k) => `let p = exp(${distillLogProbs(T, k)}); gstudent[base + ${k}] = (p.x - p.y) * w;`),
      ].join('\n'),
    );
    const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { input: 2 }, { output: 0 }];
    return [{ wgsl, workgroups, bindings }];
  },
});

export const lossOps: OpDef<any>[] = [softmaxCrossEntropyLossOp, softmaxCrossEntropyLossGradOp, distillationLossOp, distillationLossGradOp];
