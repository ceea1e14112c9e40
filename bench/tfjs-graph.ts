// A deftnn inference graph (NCHW, after load()'s passes: batch norms folded, activations fused)
// as a @tensorflow/tfjs-core function in tfjs's native NHWC layout, with the same weights, so that
// benchmarks can run the very same model on tfjs-backend-webgpu.
//
// Layout: every rank-4 value lives in NHWC on the tfjs side; other ranks as they are. Weights are
// converted once ([M, C/g, KH, KW] -> [KH, KW, C, M] or, for depthwise convs, [KH, KW, C, 1]);
// rank-3/4 constants of elementwise ops are permuted like the activations they broadcast against;
// the first Gemm after a Flatten of a feature map gets its rows reordered from C·H·W to H·W·C
// order (as a tfjs user's model would have them); other reshapes of feature maps go through NCHW.
// Fused activations become tfjs's fused conv/matMul activations where tfjs has them (relu, relu6,
// sigmoid, leakyrelu); others (hard-sigmoid) follow as separate ops. Ops outside what the
// benchmark models use are refused with the node named.

import type { Tensor as TfTensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import type { Graph, Node } from '../src/graph/ir.js';
import { inferShapes } from '../src/graph/shapes.js';
import type { Tensor } from '../src/tensor.js';
import type { Tfjs } from './peers.js';

type FusedAct = 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'leakyrelu';
interface Activation {
  readonly op: string;
  readonly attrs: Readonly<Record<string, unknown>>;
}
type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

export interface TfjsGraph {
  /** One inference on an NHWC input; resolves to the output read back (in NCHW order if rank 4). */
  run(nhwc: Float32Array): Promise<Float32Array>;
  dispose(): void;
}

/** [N, C, H, W] data -> [N, H, W, C] data. */
export function nchwToNhwc(x: Float32Array, [n, c, h, w]: readonly number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) for (let i = 0; i < w; i++) out[((b * h + y) * w + i) * c + ch] = x[((b * c + ch) * h + y) * w + i];
    }
  }
  return out;
}

export function tfjsGraph(tf: Tfjs, g: Graph): TfjsGraph {
  if (g.inputs.length !== 1 || g.outputs.length !== 1) throw new Error('tfjsGraph: one input and one output expected');
  if (g.formats && g.formats.size) throw new Error('tfjsGraph: packed (fission) graphs are not translated');
  const ig = inferShapes(g);
  const shape = (v: string) => ig.shapes.get(v)!;
  const owned: TfTensor[] = [];
  const keep = <T extends TfTensor>(t: T): T => {
    owned.push(t);
    return t;
  };
  const init = (n: Node, i: number): Tensor => {
    const t = g.initializers.get(n.inputs[i]);
    if (!t) throw new Error(`${n.name} (${n.op}): input ${i} must be a constant for the tfjs translation`);
    return t;
  };
  /** A constant as tfjs sees it next to NHWC activations. */
  const constant = (t: Tensor): TfTensor => {
    const s = t.shape;
    if (s.length === 4) return keep(tf.tensor(nchwToNhwc(t.data, s), [s[0], s[2], s[3], s[1]]));
    if (s.length === 3) return keep(tf.tensor(nchwToNhwc(t.data, [1, ...s]), [s[1], s[2], s[0]]));
    return keep(tf.tensor(t.data, [...s]));
  };
  // Explicit per-side pads even when symmetric: tfjs 4.22 sizes a numeric pad's output wrongly
  // when the two strides differ (3x3, pad 1, strides [2, 1] on 24x96 gave 12x48, not 12x96).
  const pads = (n: Node): 'valid' | ExplicitPad => {
    const p = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
    if (n.attrs.auto_pad && n.attrs.auto_pad !== 'NOTSET') throw new Error(`${n.name}: auto_pad is not translated`);
    if (p.every((v) => v === 0)) return 'valid';
    return [[0, 0], [p[0], p[2]], [p[1], p[3]], [0, 0]];
  };
  /** tfjs's fused activation for ours, and what must follow as separate ops. */
  const fusedAct = (act: Activation | undefined): { fused: FusedAct; alpha?: number; after?: (t: TfTensor) => TfTensor } => {
    if (!act) return { fused: 'linear' };
    switch (act.op) {
      case 'Relu':
        return { fused: 'relu' };
      case 'Sigmoid':
        return { fused: 'sigmoid' };
      case 'LeakyRelu':
        return { fused: 'leakyrelu', alpha: Number(act.attrs.alpha ?? 0.01) };
      case 'Clip':
        if (Number(act.attrs.min) === 0 && Number(act.attrs.max) === 6) return { fused: 'relu6' };
        return { fused: 'linear', after: (t) => unary(act, t) };
      default:
        return { fused: 'linear', after: (t) => unary(act, t) };
    }
  };
  const unary = (act: Activation, t: TfTensor): TfTensor => {
    switch (act.op) {
      case 'Relu':
        return tf.relu(t);
      case 'Sigmoid':
        return tf.sigmoid(t);
      case 'Tanh':
        return tf.tanh(t);
      case 'LeakyRelu':
        return tf.leakyRelu(t, Number(act.attrs.alpha ?? 0.01));
      case 'Clip':
        return tf.clipByValue(t, Number(act.attrs.min ?? -3.4e38), Number(act.attrs.max ?? 3.4e38));
      case 'HardSigmoid': // max(0, min(1, alpha·x + beta))
        return tf.clipByValue(tf.add(tf.mul(t, Number(act.attrs.alpha ?? 0.2)), Number(act.attrs.beta ?? 0.5)), 0, 1);
      case 'HardSwish': // x · HardSigmoid(x) with alpha 1/6, beta 1/2 (tfjs has no fused form)
        return tf.mul(t, tf.clipByValue(tf.add(tf.mul(t, 1 / 6), 0.5), 0, 1));
      default:
        throw new Error(`activation ${act.op} is not translated to tfjs`);
    }
  };

  type Layer = (env: Map<string, TfTensor>) => void;
  const layers: Layer[] = [];
  // Values that are a Flatten of a [N, C, H, W] map: the next Gemm's rows must follow H·W·C order.
  const flattened = new Map<string, { c: number; h: number; w: number }>();
  const isConst = (v: string) => g.initializers.has(v);

  for (const n of g.nodes) {
    const out = n.outputs[0];
    const act = n.attrs.activation as Activation | undefined;
    const x = (env: Map<string, TfTensor>, i = 0) => env.get(n.inputs[i])!;
    switch (n.op) {
      case 'Conv': {
        const w = init(n, 1);
        const [m, cg, kh, kw] = w.shape;
        const group = Number(n.attrs.group ?? 1);
        const c = cg * group;
        const strides = ((n.attrs.strides as number[] | undefined) ?? [1, 1]) as [number, number];
        const dilations = ((n.attrs.dilations as number[] | undefined) ?? [1, 1]) as [number, number];
        const bias = n.inputs[2] ? keep(tf.tensor1d(init(n, 2).data)) : undefined;
        const { fused, alpha, after } = fusedAct(act);
        const pad = pads(n);
        if (group === 1) {
          const hwcm = new Float32Array(w.size); // [M, C, KH, KW] -> [KH, KW, C, M]
          for (let o = 0; o < m; o++) {
            for (let i = 0; i < c; i++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) hwcm[((y * kw + z) * c + i) * m + o] = w.data[((o * c + i) * kh + y) * kw + z];
          }
          const filter = keep(tf.tensor4d(hwcm, [kh, kw, c, m]));
          layers.push((env) => {
            const y = tf.fused.conv2d({ x: x(env) as Tensor4D, filter, strides, pad, dilations, bias, activation: fused, leakyreluAlpha: alpha });
            env.set(out, after ? after(y) : y);
          });
        } else if (group === c && m === c) {
          const hwc1 = new Float32Array(w.size); // [C, 1, KH, KW] -> [KH, KW, C, 1]
          for (let i = 0; i < c; i++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) hwc1[(y * kw + z) * c + i] = w.data[(i * kh + y) * kw + z];
          const filter = keep(tf.tensor4d(hwc1, [kh, kw, c, 1]));
          layers.push((env) => {
            // Typed as numeric-only, but tfjs 4.22's depthwise conv takes explicit pads too.
            const y = tf.fused.depthwiseConv2d({ x: x(env) as Tensor4D, filter, strides, pad: pad as 'valid', dilations, bias, activation: fused, leakyreluAlpha: alpha });
            env.set(out, after ? after(y) : y);
          });
        } else throw new Error(`${n.name}: grouped conv (group ${group}, ${c} -> ${m} channels) is not translated`);
        break;
      }
      case 'Gemm': {
        if (Number(n.attrs.transA ?? 0) !== 0 || Number(n.attrs.alpha ?? 1) !== 1 || Number(n.attrs.beta ?? 1) !== 1) throw new Error(`${n.name}: Gemm with transA/alpha/beta is not translated`);
        const w = init(n, 1);
        const transB = Number(n.attrs.transB ?? 0) === 1;
        const [k, o] = transB ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
        const f = flattened.get(n.inputs[0]);
        // Row of our C·H·W feature that tfjs's H·W·C feature j is.
        const src = (j: number) => (f ? (j % f.c) * f.h * f.w + Math.floor(j / f.c) : j);
        const kernel = new Float32Array(k * o); // [K, N]
        for (let j = 0; j < k; j++) for (let q = 0; q < o; q++) kernel[j * o + q] = transB ? w.data[q * k + src(j)] : w.data[src(j) * o + q];
        const b = keep(tf.tensor2d(kernel, [k, o]));
        const bias = n.inputs[2] ? keep(tf.tensor(init(n, 2).data, [o])) : undefined;
        const { fused, alpha, after } = fusedAct(act);
        layers.push((env) => {
          const y = tf.fused.matMul({ a: x(env) as Tensor2D, b, bias, activation: fused, leakyreluAlpha: alpha });
          env.set(out, after ? after(y) : y);
        });
        break;
      }
      case 'MatMul': {
        if (shape(n.inputs[0]).length !== 2 || shape(n.inputs[1]).length !== 2) throw new Error(`${n.name}: only 2-D MatMul is translated`);
        const b = isConst(n.inputs[1]) ? keep(tf.tensor2d(init(n, 1).data, [...init(n, 1).shape] as [number, number])) : undefined;
        layers.push((env) => env.set(out, tf.matMul(x(env) as Tensor2D, (b ?? x(env, 1)) as Tensor2D)));
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const k = n.attrs.kernel_shape as number[];
        const s = (n.attrs.strides as number[] | undefined) ?? [1, 1];
        if (n.attrs.ceil_mode) throw new Error(`${n.name}: ceil_mode is not translated`);
        const p = pads(n);
        // Pools take a numeric pad only, which is right for equal pads and strides (see pads()).
        if (Array.isArray(p) && ([p[1][1], p[2][0], p[2][1]].some((v) => v !== p[1][0]) || s[0] !== s[1])) throw new Error(`${n.name}: this pool padding is not translated`);
        const pad = Array.isArray(p) ? p[1][0] : p;
        if (n.op === 'AveragePool' && pad !== 'valid' && !n.attrs.count_include_pad) throw new Error(`${n.name}: padded AveragePool is not translated`);
        const pool = n.op === 'MaxPool' ? tf.maxPool : tf.avgPool;
        layers.push((env) => env.set(out, pool(x(env) as Tensor4D, [k[0], k[1]], [s[0], s[1]], pad)));
        break;
      }
      case 'GlobalAveragePool':
        layers.push((env) => env.set(out, tf.mean(x(env), [1, 2], true)));
        break;
      case 'Flatten': {
        const s = shape(n.inputs[0]);
        if (Number(n.attrs.axis ?? 1) !== 1) throw new Error(`${n.name}: only Flatten(axis 1) is translated`);
        if (s.length === 4) flattened.set(out, { c: s[1], h: s[2], w: s[3] });
        const size = s.slice(1).reduce((a, b) => a * b, 1);
        layers.push((env) => env.set(out, tf.reshape(x(env), [s[0], size])));
        break;
      }
      case 'Reshape': {
        const from = shape(n.inputs[0]);
        const to = [...shape(out)];
        const spatial = from.length === 4 && (from[2] !== 1 || from[3] !== 1);
        layers.push((env) => {
          // Through NCHW unless the map is 1x1 (where NHWC and NCHW orders agree).
          let t = spatial ? tf.transpose(x(env), [0, 3, 1, 2]) : x(env);
          t = tf.reshape(t, to);
          env.set(out, to.length === 4 ? tf.transpose(t, [0, 2, 3, 1]) : t);
        });
        break;
      }
      case 'Softmax': {
        const r = shape(n.inputs[0]).length;
        const axis = Number(n.attrs.axis ?? -1);
        if (r === 4 || (axis !== -1 && axis !== r - 1)) throw new Error(`${n.name}: only Softmax over the last axis of a non-map is translated`);
        layers.push((env) => env.set(out, tf.softmax(x(env))));
        break;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const f = { Add: tf.add, Sub: tf.sub, Mul: tf.mul, Div: tf.div }[n.op];
        const operand = (i: number): ((env: Map<string, TfTensor>) => TfTensor) => {
          const v = n.inputs[i];
          if (!isConst(v)) return (env) => env.get(v)!;
          const t = g.initializers.get(v)!;
          const other = shape(n.inputs[1 - i]);
          if (other.length === 4 && t.shape.length > 0 && t.shape.length < 3 && t.size !== 1) throw new Error(`${n.name}: a rank-${t.shape.length} constant against a feature map is not translated`);
          const c = constant(t);
          return () => c;
        };
        const [a, b] = [operand(0), operand(1)];
        const after = act ? (t: TfTensor) => unary(act, t) : undefined;
        layers.push((env) => {
          const y = f(a(env), b(env));
          env.set(out, after ? after(y) : y);
        });
        break;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'LeakyRelu':
      case 'Clip':
      case 'HardSigmoid':
      case 'HardSwish': {
        if (n.inputs.length > 1) throw new Error(`${n.name}: ${n.op} with min/max inputs is not translated`);
        const a: Activation = { op: n.op, attrs: n.attrs as Record<string, unknown> };
        layers.push((env) => env.set(out, unary(a, x(env))));
        break;
      }
      default:
        throw new Error(`${n.name}: op ${n.op} is not translated to tfjs`);
    }
  }

  const input = g.inputs[0];
  const output = g.outputs[0];
  const inShape = input.shape.length === 4 ? [input.shape[0], input.shape[2], input.shape[3], input.shape[1]] : [...input.shape];
  const outRank = shape(output).length;
  return {
    async run(nhwc) {
      const y = tf.tidy(() => {
        const env = new Map<string, TfTensor>([[input.name, tf.tensor(nhwc, inShape)]]);
        for (const layer of layers) layer(env);
        const o = env.get(output)!;
        return outRank === 4 ? tf.transpose(o, [0, 3, 1, 2]) : o;
      });
      // tfjs-backend-webgpu has no dataSync in Node: data() maps the result back.
      const data = (await y.data()) as Float32Array;
      y.dispose();
      return data;
    },
    dispose() {
      for (const t of owned) t.dispose();
      owned.length = 0;
    },
  };
}

