// BatchNormalization: y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c], with the
// channel on axis 1 of an input of any rank >= 2.
//
// x: [N, C, D1, ..., Dk]; scale, B, input_mean, input_var: [C].
// Opset < 9 also had `spatial`; spatial = 0 meant one parameter per element of x's [C, D1, ..., Dk],
// which is the same kernel with the parameters' "channel" spanning all of dims 1.. and inner = 1.
//
// Inference (training_mode = 0, the default): mean and var are the inputs input_mean, input_var.
//
// Training (training_mode = 1), ONNX opset 15: mean and var are the batch statistics of each
// channel over all its elements (N and the spatial dims), var being the biased (population)
// variance Σ(x - mean)² / M, and the op has two more outputs, the updated running statistics:
//   running_mean = input_mean · momentum + mean · (1 - momentum)
//   running_var  = input_var  · momentum + var  · (1 - momentum)
// with momentum defaulting to 0.9 (so ONNX's momentum is 1 minus PyTorch's). The ONNX spec and
// its reference implementation use the same biased var in running_var; PyTorch would use the
// unbiased M/(M-1)·var there. We follow ONNX, as the op is ONNX's: with M = N·H·W in the
// hundreds or more the two differ by well under 1%.
//
// On WebGPU training mode runs one workgroup per channel: it reduces the channel for its mean,
// then for its variance (two passes, for accuracy), then writes y and the running statistics.
//
// Backward: BatchNormGrad (below) computes the gradients of X, scale and B (and, in inference
// mode, of input_mean and input_var) in the same one-workgroup-per-channel shape. With
// x̂ = (x - mean)·inv, inv = 1/sqrt(var + eps), and M elements per channel:
//   gB = Σ gy,  gscale = Σ gy·x̂
//   training:  gx = scale·inv·(gy - gB/M - x̂·gscale/M)   (mean and var depend on x)
//   inference: gx = scale·inv·gy,  gmean = -scale·inv·gB,  gvar = -scale·inv³·Σ gy·(x - mean) / 2
// The running statistics are state, not differentiable outputs.

import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, f32, linearGrid, u32 } from '../kernels/wgsl.js';
import { defineOp, floatAttr, intAttr, OpError, type RawAttrs } from './op.js';
import { type Binding, type KernelContext } from '../kernels/context.js';

interface BatchNormAttrs {
  readonly epsilon: number;
  /** Number of distinct parameters (C, or prod(x.shape[1:]) when spatial = 0). */
  readonly channels: number;
  /** Elements sharing one parameter consecutively: parameter index = (i / inner) % channels. */
  readonly inner: number;
  readonly spatial: boolean;
  readonly training: boolean;
  readonly momentum: number;
}

/** Resolve the attributes against X and the parameter inputs (named for errors). */
function resolve(raw: RawAttrs, x: Shape, params: readonly Shape[], names: readonly string[]): BatchNormAttrs {
  const training = intAttr(raw, 'training_mode', 0);
  if (training !== 0 && training !== 1) throw new OpError(`attribute 'training_mode' must be 0 or 1, got ${training}`);
  const spatial = intAttr(raw, 'spatial', 1);
  if (spatial !== 0 && spatial !== 1) throw new OpError(`attribute 'spatial' must be 0 or 1, got ${spatial}`);
  const epsilon = floatAttr(raw, 'epsilon', 1e-5);
  if (!(epsilon >= 0)) throw new OpError(`attribute 'epsilon' must be >= 0, got ${epsilon}`);
  const momentum = floatAttr(raw, 'momentum', 0.9);
  if (x.length < 2) throw new OpError(`input X must have rank >= 2 (N, C, ...), got shape ${shapeStr(x)}`);
  const want: Shape = spatial ? [x[1]] : x.slice(1);
  params.forEach((p, i) => {
    const same = p.length === want.length && p.every((d, k) => d === want[k]);
    // Per-element parameters (spatial = 0) may also be given flat.
    const flat = !spatial && p.length === 1 && p[0] === sizeOf(want);
    if (!same && !flat) {
      throw new OpError(`input ${names[i]} has shape ${shapeStr(p)}, expected ${shapeStr(want)} for X of shape ${shapeStr(x)}`);
    }
  });
  return { epsilon, channels: sizeOf(want), inner: spatial ? sizeOf(x.slice(2)) : 1, spatial: spatial === 1, training: training === 1, momentum };
}

/** The flat indices of channel c's elements, in order: (n·channels + c)·inner + j. */
function channelIndices(size: number, c: number, channels: number, inner: number): number[] {
  const outer = size / (channels * inner);
  const idx: number[] = [];
  for (let n = 0; n < outer; n++) for (let j = 0; j < inner; j++) idx.push((n * channels + c) * inner + j);
  return idx;
}

/** Mean and biased variance of channel c (two passes, in f64). */
function batchStats(x: Tensor, idx: readonly number[]): [number, number] {
  let s = 0;
  for (const i of idx) s += x.data[i];
  const mean = s / idx.length;
  let v = 0;
  for (const i of idx) v += (x.data[i] - mean) ** 2;
  return [mean, v / idx.length];
}

function trainingCpu([x, scale, b, inMean, inVar]: readonly Tensor[], a: BatchNormAttrs): Tensor[] {
  const y = new Float32Array(x.size);
  const runMean = new Float32Array(a.channels);
  const runVar = new Float32Array(a.channels);
  for (let c = 0; c < a.channels; c++) {
    const idx = channelIndices(x.size, c, a.channels, a.inner);
    const [mean, variance] = batchStats(x, idx);
    for (const i of idx) y[i] = ((x.data[i] - mean) / Math.sqrt(variance + a.epsilon)) * scale.data[c] + b.data[c];
    runMean[c] = inMean.data[c] * a.momentum + mean * (1 - a.momentum);
    runVar[c] = inVar.data[c] * a.momentum + variance * (1 - a.momentum);
  }
  return [new Tensor(x.shape, y), new Tensor(inMean.shape, runMean), new Tensor(inVar.shape, runVar)];
}

// ---- one workgroup per channel (training forward, and the gradient) ----

const CWG = 64;

/**
 * A kernel whose workgroup `c` walks the M elements of channel c, strided over its CWG
 * invocations; `body` uses `at(e)` for the offset of the channel's element e and `sum4(acc)` to
 * add up a vec4 across the workgroup (every invocation gets the total).
 */
function channelKernel(decls: string, channels: number, inner: number, M: number, body: string): string {
  const at = inner === 1 ? `e * ${u32(channels)} + c` : `((e / ${u32(inner)}) * ${u32(channels)} + c) * ${u32(inner)} + e % ${u32(inner)}`;
  return `${decls}
var<workgroup> part: array<vec4<f32>, ${CWG}>;
// Channel c's element e (of M = ${M}) sits at ((e / inner) · channels + c) · inner + e % inner.
fn at(c: u32, e: u32) -> u32 { return ${at}; }
const M = ${u32(M)};
@compute @workgroup_size(${CWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  // The channel depends only on workgroup_id, so the return and the barriers stay uniform.
  let c = wid.x + wid.y * nwg.x;
  if (c >= ${u32(channels)}) { return; }
${body}
}`;
}

/**
 * WGSL statements adding up `acc` (a vec4 var) over the workgroup into `let ${name}`. One
 * invocation adds the CWG partial sums: that costs nothing next to the channel's pass over
 * memory, and needs two barriers where a tree needs log2(CWG) (barriers are what software
 * adapters pay for, in compile time and run time).
 */
function sum4(acc: string, name: string): string {
  return `  part[t] = ${acc};
  workgroupBarrier();
  if (t == 0u) {
    var s = part[0];
    for (var k = 1u; k < ${u32(CWG)}; k++) { s += part[k]; }
    part[0] = s;
  }
  workgroupBarrier();
  let ${name} = part[0];
  workgroupBarrier(); // everyone has read part[0] before it is reused`;
}

/** The loop over this invocation's share of the channel's elements. */
const LOOP = `for (var e = t; e < M; e += ${u32(CWG)})`;

function trainingGpu(x: Shape, a: BatchNormAttrs, ctx: KernelContext) {
  const M = sizeOf(x) / a.channels;
  const decls = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> in_mean: array<f32>;
@group(0) @binding(4) var<storage, read> in_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(7) var<storage, read_write> run_var: array<f32>;`;
  const body = `  var acc = vec4<f32>();
  ${LOOP} { acc.x += x[at(c, e)]; }
${sum4('acc', 'total')}
  let mean = total.x / f32(M);
  acc = vec4<f32>();
  ${LOOP} { let d = x[at(c, e)] - mean; acc.x += d * d; }
${sum4('acc', 'sq')}
  let variance = sq.x / f32(M);
  let inv = 1.0 / sqrt(variance + ${f32(a.epsilon)});
  let k = scale[c] * inv;
  ${LOOP} { let i = at(c, e); y[i] = (x[i] - mean) * k + bias[c]; }
  if (t == 0u) {
    run_mean[c] = in_mean[c] * ${f32(a.momentum)} + mean * ${f32(1 - a.momentum)};
    run_var[c] = in_var[c] * ${f32(a.momentum)} + variance * ${f32(1 - a.momentum)};
  }`;
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { input: 2 }, { input: 3 }, { input: 4 }, { output: 0 }, { output: 1 }, { output: 2 }];
  return [{ wgsl: channelKernel(decls, a.channels, a.inner, M, body), workgroups: linearGrid(a.channels, 1, ctx), bindings }];
}

const PARAMS = ['scale', 'B', 'input_mean', 'input_var'];

export const batchNormOp = defineOp<BatchNormAttrs>({
  type: 'BatchNormalization',
  arity: [5, 5],
  attrs: (raw, [x, ...params]) => resolve(raw, x, params, PARAMS),
  // Training mode adds running_mean and running_var, shaped like input_mean and input_var.
  shape: ([x, , , mean, variance], a) => (a.training ? [x, mean, variance] : [x]),
  cpu: (inputs, a) => {
    if (a.training) return trainingCpu(inputs, a);
    const [x, scale, b, mean, variance] = inputs;
    const { epsilon, channels, inner } = a;
    const y = new Float32Array(x.size);
    for (let i = 0; i < x.size; i++) {
      const c = Math.floor(i / inner) % channels;
      y[i] = ((x.data[i] - mean.data[c]) / Math.sqrt(variance.data[c] + epsilon)) * scale.data[c] + b.data[c];
    }
    return [new Tensor(x.shape, y)];
  },
  gpu: ([x], _out, a, ctx) => {
    const n = sizeOf(x);
    if (n === 0) return []; // (WGSL refuses `% 0u`, and there is nothing to do)
    if (a.training) return trainingGpu(x, a, ctx);
    const { epsilon, channels, inner } = a;
    const WG = 256;
    const c = inner === 1 ? `i % ${u32(channels)}` : `(i / ${u32(inner)}) % ${u32(channels)}`;
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> mean: array<f32>;
@group(0) @binding(4) var<storage, read> variance: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, WG, `  let c = ${c};
  y[i] = (x[i] - mean[c]) / sqrt(variance[c] + ${f32(epsilon)}) * scale[c] + bias[c];`)}`;
    const bindings = [{ input: 0 }, { input: 1 }, { input: 2 }, { input: 3 }, { input: 4 }, { output: 0 }];
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings }];
  },
  grad: (g) => {
    if (g.gradOutputs.slice(1).some((v) => v !== undefined)) {
      throw new OpError('running_mean and running_var are running statistics (state updates), not differentiable outputs');
    }
    const a = g.attrs;
    const [x, scale, , mean, variance] = g.inputs;
    const attrs = { epsilon: a.epsilon, training_mode: a.training ? 1 : 0, spatial: a.spatial ? 1 : 0 };
    const outs = g.emitMulti('BatchNormGrad', [x, scale, mean, variance, g.gradOutputs[0]!], a.training ? 3 : 5, attrs);
    // BatchNormGrad gives parameter gradients flat, [channels]; each goes back to its input's shape.
    const param = (k: number) => {
      if (!g.wants[k] || (a.training && k >= 3)) return undefined; // Y does not depend on the inputs' statistics in training
      const s = g.inputShapes[k];
      return s.length === 1 ? outs[k] : g.emit('Reshape', [outs[k]], { shape: [...s] });
    };
    return [outs[0], param(1), param(2), param(3), param(4)];
  },
});

// ---- BatchNormGrad ----

/**
 * BatchNormGrad(X, scale, input_mean, input_var, gY) with BatchNormalization's epsilon,
 * training_mode and spatial -> (gX, gscale, gB) in training mode, plus (ginput_mean, ginput_var)
 * in inference mode; parameter gradients are flat [channels]. Training mode recomputes the batch
 * statistics from X (and ignores input_mean and input_var) rather than keeping them from the
 * forward pass: one more read of X, no extra outputs on the forward op.
 */
function gradCpu([x, scale, inMean, inVar, gy]: readonly Tensor[], a: BatchNormAttrs): Tensor[] {
  const C = a.channels;
  const gx = new Float32Array(x.size);
  const [gScale, gB, gMean, gVar] = [0, 1, 2, 3].map(() => new Float32Array(C));
  for (let c = 0; c < C; c++) {
    const idx = channelIndices(x.size, c, C, a.inner);
    const M = idx.length;
    const [mean, variance] = a.training ? batchStats(x, idx) : [inMean.data[c], inVar.data[c]];
    const inv = 1 / Math.sqrt(variance + a.epsilon);
    let sg = 0;
    let sgd = 0; // Σ gy·(x - mean)
    for (const i of idx) {
      sg += gy.data[i];
      sgd += gy.data[i] * (x.data[i] - mean);
    }
    const k = scale.data[c] * inv;
    for (const i of idx) {
      gx[i] = a.training ? k * (gy.data[i] - sg / M - (x.data[i] - mean) * inv * inv * (sgd / M)) : k * gy.data[i];
    }
    gScale[c] = sgd * inv;
    gB[c] = sg;
    gMean[c] = -k * sg;
    gVar[c] = -0.5 * k * inv * inv * sgd;
  }
  const flat = (d: Float32Array) => new Tensor([C], d);
  const out = [new Tensor(x.shape, gx), flat(gScale), flat(gB)];
  return a.training ? out : [...out, flat(gMean), flat(gVar)];
}

function gradGpu(x: Shape, a: BatchNormAttrs, ctx: KernelContext) {
  const M = sizeOf(x) / a.channels;
  const inference = !a.training;
  const decls = [
    '@group(0) @binding(0) var<storage, read> x: array<f32>;',
    '@group(0) @binding(1) var<storage, read> scale: array<f32>;',
    '@group(0) @binding(2) var<storage, read> gy: array<f32>;',
    '@group(0) @binding(3) var<storage, read_write> gx: array<f32>;',
    '@group(0) @binding(4) var<storage, read_write> gscale: array<f32>;',
    '@group(0) @binding(5) var<storage, read_write> gb: array<f32>;',
  ];
  const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { input: 4 }, { output: 0 }, { output: 1 }, { output: 2 }];
  if (inference) {
    decls.push(
      '@group(0) @binding(6) var<storage, read> in_mean: array<f32>;',
      '@group(0) @binding(7) var<storage, read> in_var: array<f32>;',
      '@group(0) @binding(8) var<storage, read_write> gmean: array<f32>;',
      '@group(0) @binding(9) var<storage, read_write> gvar: array<f32>;',
    );
    bindings.push({ input: 2 }, { input: 3 }, { output: 3 }, { output: 4 });
  }
  const stats = inference
    ? `  let mean = in_mean[c];
  let variance = in_var[c];`
    : `  acc = vec4<f32>();
  ${LOOP} { acc.x += x[at(c, e)]; }
${sum4('acc', 'total')}
  let mean = total.x / f32(M);`;
  const body = `  var acc = vec4<f32>();
${stats}
  // (Σ (x - mean)², Σ gy, Σ gy·(x - mean))
  acc = vec4<f32>();
  ${LOOP} {
    let i = at(c, e);
    let d = x[i] - mean;
    acc += vec4<f32>(d * d, gy[i], gy[i] * d, 0.0);
  }
${sum4('acc', 'sums')}
  ${inference ? '' : 'let variance = sums.x / f32(M);'}
  let inv = 1.0 / sqrt(variance + ${f32(a.epsilon)});
  let k = scale[c] * inv;
  ${
    inference
      ? `${LOOP} { let i = at(c, e); gx[i] = k * gy[i]; }`
      : `let sg = sums.y / f32(M);
  let sgd = sums.z * inv * inv / f32(M);
  ${LOOP} { let i = at(c, e); gx[i] = k * (gy[i] - sg - (x[i] - mean) * sgd); }`
  }
  if (t == 0u) {
    gscale[c] = sums.z * inv;
    gb[c] = sums.y;${
      inference
        ? `
    gmean[c] = -k * sums.y;
    gvar[c] = -0.5 * k * inv * inv * sums.z;`
        : ''
    }
  }`;
  return [{ wgsl: channelKernel(decls.join('\n'), a.channels, a.inner, M, body), workgroups: linearGrid(a.channels, 1, ctx), bindings }];
}

export const batchNormGradOp = defineOp<BatchNormAttrs>({
  type: 'BatchNormGrad',
  training: true,
  arity: [5, 5],
  attrs: (raw, [x, scale, mean, variance, gy]) => {
    const a = resolve(raw, x, [scale, mean, variance], ['scale', 'input_mean', 'input_var']);
    if (gy.length !== x.length || gy.some((d, i) => d !== x[i])) {
      throw new OpError(`gradient of shape ${shapeStr(gy)} does not match X of shape ${shapeStr(x)}`);
    }
    return a;
  },
  shape: ([x], a) => {
    const p = [a.channels];
    return a.training ? [x, p, p] : [x, p, p, p, p];
  },
  cpu: (inputs, a) => gradCpu(inputs, a),
  gpu: ([x], _out, a, ctx) => (sizeOf(x) === 0 ? [] : gradGpu(x, a, ctx)),
});

