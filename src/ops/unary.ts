// Elementwise unary ops as one table: each entry gives the scalar function twice, once in
// TypeScript (the CPU reference) and once as a WGSL expression, and its derivative the same two
// ways. The same WGSL expression is what Conv and Gemm splice into their epilogue when the graph
// fuses an activation into them; the derivative is what UnaryGrad (below) applies in training.
//
// Derivatives are functions of the input x. At kinks they follow PyTorch's autograd, so that a
// model trains here as it would there:
//   Relu'(0) = 0; LeakyRelu'(0) = alpha (PyTorch: self > 0 ? 1 : slope);
//   Clip passes the gradient on the closed range min <= x <= max (torch.clamp; onnxruntime's
//     training Clip gradient does the same);
//   HardSigmoid passes it only strictly inside 0 < alpha·x + beta < 1 (PyTorch hardsigmoid);
//   HardSwish: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above 3 (PyTorch hardswish);
//   Abs'(0) = 0 (sign).

import { sizeOf, Tensor } from '../tensor.js';
import { elementwiseMain, f32, linearGrid } from '../kernels/wgsl.js';
import { ACTIVATIONS } from './activations.js';
import { activationAttr, defineOp, floatAttr, OpError, setActivationCheck, type Activation, type OpDef, type RawAttrs } from './op.js';

export interface UnaryDef {
  /** Resolve attributes (with ONNX defaults) to numbers. */
  attrs?: (raw: RawAttrs) => Record<string, number>;
  cpu: (x: number, a: Record<string, number>) => number;
  /** WGSL expression of the f32 expression `x`, which may be evaluated more than once. */
  wgsl: (x: string, a: Record<string, number>) => string;
  /** The derivative f'(x), in TypeScript and as WGSL (same rules as cpu and wgsl). */
  grad: {
    cpu: (x: number, a: Record<string, number>) => number;
    wgsl: (x: string, a: Record<string, number>) => string;
  };
}

const hardSigmoidAttrs = (raw: RawAttrs) => ({ alpha: floatAttr(raw, 'alpha', 0.2), beta: floatAttr(raw, 'beta', 0.5) });

export const UNARY: Record<string, UnaryDef> = {
  Relu: {
    cpu: (x) => Math.max(x, 0),
    wgsl: (x) => `max(${x}, 0.0)`,
    grad: { cpu: (x) => (x > 0 ? 1 : 0), wgsl: (x) => `select(0.0, 1.0, ${x} > 0.0)` },
  },
  LeakyRelu: {
    attrs: (raw) => ({ alpha: floatAttr(raw, 'alpha', 0.01) }),
    cpu: (x, a) => (x >= 0 ? x : a.alpha * x),
    wgsl: (x, a) => `select(${f32(a.alpha)} * ${x}, ${x}, ${x} >= 0.0)`,
    grad: { cpu: (x, a) => (x > 0 ? 1 : a.alpha), wgsl: (x, a) => `select(${f32(a.alpha)}, 1.0, ${x} > 0.0)` },
  },
  Clip: {
    attrs: (raw) => {
      const min = floatAttr(raw, 'min', -Infinity);
      const max = floatAttr(raw, 'max', Infinity);
      if (min > max) throw new OpError(`Clip: min (${min}) is greater than max (${max})`);
      return { min, max };
    },
    cpu: (x, a) => Math.min(Math.max(x, a.min), a.max),
    wgsl: (x, a) => `clamp(${x}, ${f32(a.min)}, ${f32(a.max)})`,
    grad: {
      cpu: (x, a) => (x >= a.min && x <= a.max ? 1 : 0),
      wgsl: (x, a) => `select(0.0, 1.0, ${x} >= ${f32(a.min)} && ${x} <= ${f32(a.max)})`,
    },
  },
  Sigmoid: {
    cpu: (x) => 1 / (1 + Math.exp(-x)),
    wgsl: (x) => `(1.0 / (1.0 + exp(-(${x}))))`,
    grad: {
      cpu: (x) => {
        const s = 1 / (1 + Math.exp(-x));
        return s * (1 - s);
      },
      wgsl: (x) => `(1.0 / (1.0 + exp(-(${x})))) * (1.0 - 1.0 / (1.0 + exp(-(${x}))))`,
    },
  },
  HardSigmoid: {
    attrs: hardSigmoidAttrs,
    cpu: (x, a) => Math.min(Math.max(a.alpha * x + a.beta, 0), 1),
    wgsl: (x, a) => `clamp(${f32(a.alpha)} * ${x} + ${f32(a.beta)}, 0.0, 1.0)`,
    grad: {
      cpu: (x, a) => {
        const t = a.alpha * x + a.beta;
        return t > 0 && t < 1 ? a.alpha : 0;
      },
      wgsl: (x, a) => {
        const t = `(${f32(a.alpha)} * ${x} + ${f32(a.beta)})`;
        return `select(0.0, ${f32(a.alpha)}, ${t} > 0.0 && ${t} < 1.0)`;
      },
    },
  },
  HardSwish: {
    // ONNX HardSwish is x * HardSigmoid(x) with alpha = 1/6, beta = 0.5.
    cpu: (x) => x * Math.min(Math.max(x / 6 + 0.5, 0), 1),
    wgsl: (x) => `(${x} * clamp(${x} * ${f32(1 / 6)} + 0.5, 0.0, 1.0))`,
    grad: {
      cpu: (x) => (x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1),
      wgsl: (x) => `select(select(1.0, ${x} * ${f32(1 / 3)} + 0.5, ${x} <= 3.0), 0.0, ${x} < -3.0)`,
    },
  },
  // Plain math functions. Outside their domain (Sqrt/Log of negatives, Log(0), Reciprocal(0)) the
  // CPU gives NaN/±Inf as IEEE says; WGSL leaves those results to the implementation.
  Sqrt: {
    cpu: (x) => Math.sqrt(x),
    wgsl: (x) => `sqrt(${x})`,
    grad: { cpu: (x) => 0.5 / Math.sqrt(x), wgsl: (x) => `(0.5 / sqrt(${x}))` },
  },
  Exp: { cpu: (x) => Math.exp(x), wgsl: (x) => `exp(${x})`, grad: { cpu: (x) => Math.exp(x), wgsl: (x) => `exp(${x})` } },
  // f32 tanh is exactly ±1 beyond |x| ≈ 9.01; clamping first keeps drivers that evaluate tanh
  // through exp from returning inf/inf = NaN for large |x|, and changes no result.
  Tanh: {
    cpu: (x) => Math.tanh(x),
    wgsl: (x) => `tanh(clamp(${x}, -10.0, 10.0))`,
    grad: { cpu: (x) => 1 - Math.tanh(x) ** 2, wgsl: (x) => `(1.0 - tanh(clamp(${x}, -10.0, 10.0)) * tanh(clamp(${x}, -10.0, 10.0)))` },
  },
  Neg: { cpu: (x) => -x, wgsl: (x) => `(-(${x}))`, grad: { cpu: () => -1, wgsl: () => '-1.0' } },
  Abs: { cpu: (x) => Math.abs(x), wgsl: (x) => `abs(${x})`, grad: { cpu: (x) => Math.sign(x), wgsl: (x) => `sign(${x})` } },
  Reciprocal: {
    cpu: (x) => 1 / x,
    wgsl: (x) => `(1.0 / (${x}))`,
    grad: { cpu: (x) => -1 / (x * x), wgsl: (x) => `(-1.0 / (${x} * ${x}))` },
  },
  Log: { cpu: (x) => Math.log(x), wgsl: (x) => `log(${x})`, grad: { cpu: (x) => 1 / x, wgsl: (x) => `(1.0 / (${x}))` } },
  ...ACTIVATIONS,
};

/** The attributes of unary op `op` resolved to numbers (ONNX defaults filled in). */
export function unaryAttrs(op: string, raw: RawAttrs): Record<string, number> {
  return resolve(op, raw);
}

function resolve(op: string, raw: RawAttrs): Record<string, number> {
  const def = Object.hasOwn(UNARY, op) ? UNARY[op] : undefined;
  if (!def) throw new OpError(`${op} is not an elementwise unary op`);
  return def.attrs ? def.attrs(raw) : {};
}

setActivationCheck((a) => {
  try {
    resolve(a.op, a.attrs);
  } catch (e) {
    if (e instanceof OpError) throw new OpError(`fused activation ${JSON.stringify(a.op)}: ${e.message}`);
    throw e;
  }
});

/** The WGSL expression applying a fused activation to `x` (identity when none). */
export function activationWgsl(act: Activation | undefined, x: string): string {
  if (!act) return x;
  return UNARY[act.op].wgsl(x, resolve(act.op, act.attrs));
}

/** The scalar CPU function of a fused activation (identity when none). */
export function activationCpu(act: Activation | undefined): (x: number) => number {
  if (!act) return (x) => x;
  const a = resolve(act.op, act.attrs);
  const f = UNARY[act.op].cpu;
  return (x) => f(x, a);
}

/** Whether `op` can be fused into a producer's epilogue. */
export function isActivation(op: string): boolean {
  return op in UNARY;
}

const WG = 256;

function unaryOp(type: string): OpDef<Record<string, number>> {
  const def = UNARY[type];
  return defineOp({
    type,
    arity: [1, 1],
    attrs: (raw) => resolve(type, raw),
    shape: (inputs) => [inputs[0]],
    cpu: ([x], a) => [new Tensor(x.shape, x.data.map((v) => def.cpu(v, a)))],
    gpu: ([shape], _out, a, ctx) => {
      const n = sizeOf(shape);
      const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, WG, `  let v = x[i];\n  y[i] = ${def.wgsl('v', a)};`)}`;
      return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
    },
    // The resolved attributes are plain numbers that resolve to themselves again.
    grad: (g) => [g.emit('UnaryGrad', [g.inputs[0], g.gradOutputs[0]!], { activation: { op: type, attrs: g.attrs } })],
  });
}

interface UnaryGradAttrs {
  readonly op: string;
  readonly a: Record<string, number>;
}

/**
 * UnaryGrad(x, gy) = gy · f'(x) for the unary op named by the attribute `activation`
 * ({op, attrs}, the same form as a fused activation): the backward of every op in UNARY.
 */
export const unaryGradOp = defineOp<UnaryGradAttrs>({
  type: 'UnaryGrad',
  training: true,
  arity: [2, 2],
  attrs: (raw, [x, gy]) => {
    const act = activationAttr(raw);
    if (!act) throw new OpError(`attribute 'activation' is required: the unary op to differentiate, as {op, attrs}`);
    if (x.length !== gy.length || x.some((d, i) => d !== gy[i])) {
      throw new OpError(`gradient of shape [${gy.join(', ')}] does not match x of shape [${x.join(', ')}]`);
    }
    return { op: act.op, a: resolve(act.op, act.attrs) };
  },
  shape: ([x]) => [x],
  cpu: ([x, gy], { op, a }) => {
    const d = UNARY[op].grad.cpu;
    return [new Tensor(x.shape, x.data.map((v, i) => gy.data[i] * d(v, a)))];
  },
  gpu: ([shape], _out, { op, a }, ctx) => {
    const n = sizeOf(shape);
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
${elementwiseMain(n, WG, `  let v = x[i];\n  gx[i] = gy[i] * ${UNARY[op].grad.wgsl('v', a)};`)}`;
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ input: 0 }, { input: 1 }, { output: 0 }] }];
  },
});

export const unaryOps: OpDef<any>[] = [...Object.keys(UNARY).map(unaryOp), unaryGradOp];
