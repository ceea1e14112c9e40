// LayerNormalization, InstanceNormalization and GroupNormalization: one row normaliser.
//
// Each op views X as `rows` rows of `n` contiguous elements, normalises every row to zero mean
// and unit variance (biased variance, epsilon inside the square root), then applies a scale and
// bias picked per element by a rule of the op:
//   LayerNormalization(axis): rows = prod(X[:axis]), n = prod(X[axis:]); scale[j] for element j
//     of the row (Scale has n values, or one);
//   InstanceNormalization: X [N, C, ...]; rows = N·C, n = prod(spatial); scale[r % C];
//   GroupNormalization(num_groups G): rows = N·G, n = C/G·prod(spatial); opset 18 takes one scale
//     per group, scale[r % G]; opset 21 one per channel, scale[(r % G)·C/G + j / prod(spatial)].
// LayerNormalization may also return each row's Mean and InvStdDev (shape X[:axis] + 1s).
//
// The kernel: one workgroup per row; each invocation sums its strided share, a tree reduction in
// workgroup memory gives the mean and then the variance (two passes over the row: no
// cancellation), then every invocation writes its share.
//
// Backward: a chain of ops that have kernels (Reshape, ReduceMean, Sub, Mul, ...), in a view V of X
// whose trailing axes make up one row and in which the scale broadcasts from a shape P:
//   LayerNormalization  V = [rows, n],             P = [1, n]
//   per row (Instance, Group-18)  V = [rows/count, count, n],  P = [1, count, 1]
//   per channel (Group-21)        V = [N, G, C/G, spatial],    P = [1, G, C/G, 1]
// (P all 1s when Scale holds one value). With x̂ = (x - mean)·inv and g = gy·scale:
//   gx = inv·(g - mean_row(g) - x̂·mean_row(g·x̂)),  gScale = Σ gy·x̂,  gB = Σ gy,
// the sums over everything that shares a parameter (sumTo from V to P). LayerNormalization's Mean
// and InvStdDev outputs have no gradient.

import { sizeOf, Tensor, type Shape } from '../tensor.js';
import { f32, linearGrid, u32 } from '../kernels/wgsl.js';
import type { KernelContext } from '../kernels/context.js';
import { defineOp, floatAttr, intAttr, OpError, type GradContext, type OpDef, type RawAttrs } from './op.js';

/** How a row element picks its scale/bias index. */
type ScaleRule = { kind: 'element' } | { kind: 'row'; count: number } | { kind: 'channel'; groups: number; perGroup: number; spatial: number };

interface NormAttrs {
  readonly rows: number;
  readonly n: number;
  readonly epsilon: number;
  readonly rule: ScaleRule;
  /** Shape of the Mean/InvStdDev outputs (LayerNormalization only). */
  readonly statShape?: readonly number[];
}

function scaleIndex(rule: ScaleRule, r: number, j: number): number {
  if (rule.kind === 'element') return j;
  if (rule.kind === 'row') return r % rule.count;
  return (r % rule.groups) * rule.perGroup + Math.floor(j / rule.spatial);
}

function scaleIndexWgsl(rule: ScaleRule, r: string, j: string): string {
  if (rule.kind === 'element') return j;
  if (rule.kind === 'row') return `${r} % ${u32(rule.count)}`;
  return `(${r} % ${u32(rule.groups)}) * ${u32(rule.perGroup)} + ${j} / ${u32(rule.spatial)}`;
}

function checkParam(shape: Shape | undefined, count: number, what: string): void {
  if (shape && sizeOf(shape) !== count && sizeOf(shape) !== 1) throw new OpError(`${what} has shape [${shape.join(', ')}] (${sizeOf(shape)} values); expected ${count} values (or one)`);
}

function cpu(a: NormAttrs, [x, scale, bias]: readonly Tensor[], outputs: number): Tensor[] {
  const y = new Float32Array(x.size);
  const means = new Float32Array(a.rows);
  const inv = new Float32Array(a.rows);
  const pick = (t: Tensor | undefined, r: number, j: number, dflt: number) => (!t ? dflt : t.size === 1 ? t.data[0] : t.data[scaleIndex(a.rule, r, j)]);
  for (let r = 0; r < a.rows; r++) {
    let mean = 0;
    for (let j = 0; j < a.n; j++) mean += x.data[r * a.n + j];
    mean /= a.n;
    let v = 0;
    for (let j = 0; j < a.n; j++) v += (x.data[r * a.n + j] - mean) ** 2;
    const is = 1 / Math.sqrt(v / a.n + a.epsilon);
    means[r] = mean;
    inv[r] = is;
    for (let j = 0; j < a.n; j++) y[r * a.n + j] = (x.data[r * a.n + j] - mean) * is * pick(scale, r, j, 1) + pick(bias, r, j, 0);
  }
  const out = [new Tensor(x.shape, y)];
  if (outputs > 1) out.push(new Tensor(a.statShape!, means), new Tensor(a.statShape!, inv));
  return out;
}

function gpu(a: NormAttrs, inputs: readonly Shape[], outputs: number, ctx: KernelContext) {
  if (a.rows === 0 || a.n === 0) return [];
  const wg = Math.min(a.n >= 1024 ? 256 : 64, ctx.maxComputeInvocationsPerWorkgroup);
  const hasBias = inputs.length > 2;
  const param = (name: string, shape: Shape) => (sizeOf(shape) === 1 ? `${name}[0]` : `${name}[${scaleIndexWgsl(a.rule, 'row', 'j')}]`);
  const reduce = () => {
    const steps: string[] = [];
    for (let s = wg / 2; s >= 1; s /= 2) steps.push(`  if (t < ${u32(s)}) { red[t] = red[t] + red[t + ${u32(s)}]; }\n  workgroupBarrier();`);
    return steps.join('\n');
  };
  const stats = outputs > 1;
  const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
${hasBias ? '@group(0) @binding(2) var<storage, read> bias: array<f32>;' : ''}
@group(0) @binding(${hasBias ? 3 : 2}) var<storage, read_write> y: array<f32>;
${stats ? `@group(0) @binding(${hasBias ? 4 : 3}) var<storage, read_write> mean_out: array<f32>;\n@group(0) @binding(${hasBias ? 5 : 4}) var<storage, read_write> inv_out: array<f32>;` : ''}
var<workgroup> red: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  // The row is uniform across the workgroup, so this early return keeps barriers uniform.
  let row = wid.x + wid.y * nwg.x;
  if (row >= ${u32(a.rows)}) { return; }
  let base = row * ${u32(a.n)};
  var s = 0.0;
  for (var j = t; j < ${u32(a.n)}; j += ${u32(wg)}) { s += x[base + j]; }
  red[t] = s;
  workgroupBarrier();
${reduce()}
  let mean = red[0] / ${f32(a.n)};
  workgroupBarrier();
  var q = 0.0;
  for (var j = t; j < ${u32(a.n)}; j += ${u32(wg)}) { let d = x[base + j] - mean; q += d * d; }
  red[t] = q;
  workgroupBarrier();
${reduce()}
  let inv = 1.0 / sqrt(red[0] / ${f32(a.n)} + ${f32(a.epsilon)});
  for (var j = t; j < ${u32(a.n)}; j += ${u32(wg)}) {
    y[base + j] = (x[base + j] - mean) * inv * ${param('scale', inputs[1])}${hasBias ? ` + ${param('bias', inputs[2])}` : ''};
  }
${stats ? '  if (t == 0u) { mean_out[row] = mean; inv_out[row] = inv; }' : ''}
}`;
  const bindings = [{ input: 0 }, { input: 1 }, ...(hasBias ? [{ input: 2 }] : []), { output: 0 }, ...(stats ? [{ output: 1 }, { output: 2 }] : [])];
  return [{ wgsl, workgroups: linearGrid(a.rows, 1, ctx), bindings }];
}

/** The view V of X (rows in the trailing `rowAxes`) and the shape P a parameter broadcasts from. */
function rowView(a: NormAttrs, param: Shape): { V: number[]; P: number[]; rowAxes: number[] } {
  const one = sizeOf(param) === 1;
  const r = a.rule;
  if (r.kind === 'element') return { V: [a.rows, a.n], P: [1, one ? 1 : a.n], rowAxes: [1] };
  if (r.kind === 'row') return { V: [a.rows / r.count, r.count, a.n], P: [1, one ? 1 : r.count, 1], rowAxes: [2] };
  return { V: [a.rows / r.groups, r.groups, r.perGroup, r.spatial], P: one ? [1, 1, 1, 1] : [1, r.groups, r.perGroup, 1], rowAxes: [2, 3] };
}

function normGrad(g: GradContext<NormAttrs>): (string | undefined)[] {
  if (g.gradOutputs.slice(1).some((v) => v !== undefined)) throw new OpError(`LayerNormalization: no gradient through the Mean and InvStdDev outputs`);
  const a = g.attrs;
  const [x, scale] = g.inputs;
  const { V, P, rowAxes } = rowView(a, g.inputShapes[1]);
  const mean = (v: string) => g.emit('ReduceMean', [v], { axes: rowAxes, keepdims: 1 });
  const mul = (u: string, v: string) => g.emit('Mul', [u, v]);
  const view = (v: string, shape: readonly number[]) => g.emit('Reshape', [v], { shape: [...shape] });
  const xv = view(x, V);
  const d = g.emit('Sub', [xv, mean(xv)]);
  const variance = g.emit('Add', [mean(mul(d, d)), g.constant(new Tensor([], [a.epsilon]))]);
  const inv = g.emit('Reciprocal', [g.emit('Sqrt', [variance])]);
  const xhat = mul(d, inv);
  const gy = view(g.gradOutputs[0]!, V);
  const out: (string | undefined)[] = g.inputs.map(() => undefined);
  if (g.wants[0]) {
    const gs = mul(gy, view(scale, P));
    const centred = g.emit('Sub', [g.emit('Sub', [gs, mean(gs)]), mul(xhat, mean(mul(gs, xhat)))]);
    out[0] = view(mul(inv, centred), g.inputShapes[0]);
  }
  if (g.wants[1]) out[1] = view(g.sumTo(mul(gy, xhat), V, P), g.inputShapes[1]);
  if (g.inputs.length > 2 && g.wants[2]) out[2] = view(g.sumTo(gy, V, P), g.inputShapes[2]);
  return out;
}

function normOp(type: string, arity: [number, number], resolve: (raw: RawAttrs, inputs: readonly Shape[]) => NormAttrs, maxOutputs = 1): OpDef<NormAttrs> {
  return defineOp<NormAttrs>({
    type,
    arity,
    attrs: resolve,
    shape: ([x], a) => (maxOutputs > 1 ? [x, a.statShape!, a.statShape!] : [x]),
    cpu: (xs, a) => cpu(a, xs, maxOutputs),
    gpu: (ins, outs, a, ctx) => gpu(a, ins, outs.length, ctx),
    grad: normGrad,
  });
}

export const layerNormOp = normOp(
  'LayerNormalization',
  [2, 3],
  (raw, [x, scale, bias]) => {
    const r = x.length;
    const axis = intAttr(raw, 'axis', -1);
    if (axis < -r || axis >= r) throw new OpError(`attribute 'axis' = ${axis} is out of range for rank ${r}`);
    const a = axis < 0 ? axis + r : axis;
    const n = sizeOf(x.slice(a));
    checkParam(scale, n, 'Scale');
    checkParam(bias, n, 'B');
    const stash = intAttr(raw, 'stash_type', 1);
    if (stash !== 1) throw new OpError(`stash_type ${stash} is not supported (deftnn computes in float32: 1)`);
    return { rows: sizeOf(x.slice(0, a)), n, epsilon: floatAttr(raw, 'epsilon', 1e-5), rule: { kind: 'element' }, statShape: [...x.slice(0, a), ...x.slice(a).map(() => 1)] };
  },
  3,
);

export const instanceNormOp = normOp('InstanceNormalization', [3, 3], (raw, [x, scale, bias]) => {
  if (x.length < 3) throw new OpError(`input must be [N, C, D1, ...] (rank >= 3), got [${x.join(', ')}]`);
  const c = x[1];
  checkParam(scale, c, 'scale');
  checkParam(bias, c, 'B');
  return { rows: x[0] * c, n: sizeOf(x.slice(2)), epsilon: floatAttr(raw, 'epsilon', 1e-5), rule: { kind: 'row', count: c } };
});

export const groupNormOp = normOp('GroupNormalization', [3, 3], (raw, [x, scale, bias]) => {
  if (x.length < 3) throw new OpError(`input must be [N, C, D1, ...] (rank >= 3), got [${x.join(', ')}]`);
  const c = x[1];
  const g = intAttr(raw, 'num_groups');
  if (g <= 0 || c % g !== 0) throw new OpError(`num_groups ${g} must divide the ${c} channels`);
  const spatial = sizeOf(x.slice(2));
  // Opset 18: one scale per group; 21: one per channel (the importer says which by the shape).
  const perChannel = sizeOf(scale) === c && c !== g;
  checkParam(scale, perChannel ? c : g, 'scale');
  checkParam(bias, perChannel ? c : g, 'bias');
  const rule: ScaleRule = perChannel ? { kind: 'channel', groups: g, perGroup: c / g, spatial } : { kind: 'row', count: g };
  return { rows: x[0] * g, n: (c / g) * spatial, epsilon: floatAttr(raw, 'epsilon', 1e-5), rule };
});

export const normalizationOps: OpDef<NormAttrs>[] = [layerNormOp, instanceNormOp, groupNormOp];
