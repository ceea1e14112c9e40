// More elementwise unary ops, in the form of unary.ts's table (which spreads them into UNARY, so
// each one is also an activation Conv/Gemm can fuse, and has its backward through UnaryGrad):
// the ELU family, Softplus/Softsign/Mish, Erf and Gelu, ThresholdedRelu and Shrink, the
// trigonometric and hyperbolic functions, and the rounding ones (zero gradient almost everywhere).
//
// Kinks follow PyTorch's autograd as unary.ts's do: Elu'(0) and Celu'(0) take the negative side
// (x > 0 ? 1 : ...), ThresholdedRelu'(alpha) = 0, Shrink'(±lambd) = 0; Floor/Ceil/Round/Sign' = 0.
// Asin and Acos go through atan2: lavapipe's asin/acos were off by 1e-4 relative.

import { f32 } from '../kernels/wgsl.js';
import { floatAttr, OpError, stringAttr, type RawAttrs } from './op.js';
import type { UnaryDef } from './unary.js';

const SELU_ALPHA = 1.67326319217681884765625;
const SELU_GAMMA = 1.05070102214813232421875;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf for the CPU reference (JavaScript has none): its Maclaurin series, exact to ~1e-12 for
 * |x| < 4 (the terms peak near 1e5 at x = 4, leaving 11 of double's 16 digits); beyond 4 erf is
 * ±1 within 2e-8, which float32 rounds to ±1.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) >= 4) return Math.sign(x);
  let term = x;
  let sum = x;
  const x2 = x * x;
  for (let n = 1; n < 100; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * sum;
}

// WGSL has no erf. Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) on |x|; below 0.5 the first
// terms of the series instead, so small arguments keep their relative precision. Written as one
// expression (no helper function), because Conv and Gemm splice activations into their epilogues.
function erfW(x: string): string {
  const x2 = `(${x} * ${x})`;
  const series = `(${f32(TWO_OVER_SQRT_PI)} * ${x} * (1.0 - ${x2} * (${f32(1 / 3)} - ${x2} * (0.1 - ${x2} * (${f32(1 / 42)} - ${x2} * (${f32(1 / 216)} - ${x2} * ${f32(1 / 1320)}))))))`;
  const t = `(1.0 / (1.0 + 0.3275911 * abs(${x})))`;
  const p = `(${t} * (0.254829592 + ${t} * (-0.284496736 + ${t} * (1.421413741 + ${t} * (-1.453152027 + ${t} * 1.061405429)))))`;
  return `select(sign(${x}) * (1.0 - ${p} * exp(-${x2})), ${series}, abs(${x}) < 0.5)`;
}

/** log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)), log1p by its series when small. */
function softplusW(x: string): string {
  const e = `exp(-abs(${x}))`;
  return `(max(${x}, 0.0) + select(log(1.0 + ${e}), ${e} * (1.0 - 0.5 * ${e}), ${e} < 1e-3))`;
}
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

const alpha = (dflt: number) => (raw: RawAttrs) => ({ alpha: floatAttr(raw, 'alpha', dflt) });

/** Gelu's `approximate` ('none' or 'tanh'; resolved attributes carry it as 0/1). */
function geluAttrs(raw: RawAttrs): Record<string, number> {
  if (typeof raw.approximate === 'number') return { tanh: raw.approximate ? 1 : 0 };
  const a = stringAttr(raw, 'approximate', 'none');
  if (a !== 'none' && a !== 'tanh') throw new OpError(`Gelu: approximate must be 'none' or 'tanh', got '${a}'`);
  return { tanh: a === 'tanh' ? 1 : 0 };
}
const GELU_K = Math.sqrt(2 / Math.PI);
const gelu = (x: number, tanh: boolean) => (tanh ? 0.5 * x * (1 + Math.tanh(GELU_K * (x + 0.044715 * x ** 3))) : 0.5 * x * (1 + erf(x / Math.SQRT2)));
const geluGrad = (x: number, tanh: boolean) => {
  if (!tanh) return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
  const u = GELU_K * (x + 0.044715 * x ** 3);
  const t = Math.tanh(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_K * (1 + 3 * 0.044715 * x * x);
};
// tanh clamped as in unary.ts (drivers that evaluate it through exp give NaN for large |x|).
const tanhW = (x: string) => `tanh(clamp(${x}, -10.0, 10.0))`;
const geluWgsl = (x: string, tanh: boolean) =>
  tanh ? `(0.5 * ${x} * (1.0 + ${tanhW(`${f32(GELU_K)} * (${x} + 0.044715 * ${x} * ${x} * ${x})`)}))` : `(0.5 * ${x} * (1.0 + ${erfW(`(${x} * ${f32(Math.SQRT1_2)})`)}))`;

const zero = { cpu: () => 0, wgsl: () => '0.0' };

/** Round half to even, as ONNX (and WGSL's round) do. */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export const ACTIVATIONS: Record<string, UnaryDef> = {
  Elu: {
    attrs: alpha(1),
    cpu: (x, a) => (x > 0 ? x : a.alpha * Math.expm1(x)),
    wgsl: (x, a) => `select(${f32(a.alpha)} * (exp(${x}) - 1.0), ${x}, ${x} > 0.0)`,
    grad: { cpu: (x, a) => (x > 0 ? 1 : a.alpha * Math.exp(x)), wgsl: (x, a) => `select(${f32(a.alpha)} * exp(${x}), 1.0, ${x} > 0.0)` },
  },
  Selu: {
    attrs: (raw) => ({ alpha: floatAttr(raw, 'alpha', SELU_ALPHA), gamma: floatAttr(raw, 'gamma', SELU_GAMMA) }),
    cpu: (x, a) => a.gamma * (x > 0 ? x : a.alpha * Math.expm1(x)),
    wgsl: (x, a) => `${f32(a.gamma)} * select(${f32(a.alpha)} * (exp(${x}) - 1.0), ${x}, ${x} > 0.0)`,
    grad: {
      cpu: (x, a) => a.gamma * (x > 0 ? 1 : a.alpha * Math.exp(x)),
      wgsl: (x, a) => `${f32(a.gamma)} * select(${f32(a.alpha)} * exp(${x}), 1.0, ${x} > 0.0)`,
    },
  },
  Celu: {
    attrs: (raw) => {
      const a = floatAttr(raw, 'alpha', 1);
      if (a === 0) throw new OpError(`Celu: alpha must not be 0`);
      return { alpha: a };
    },
    cpu: (x, a) => Math.max(0, x) + Math.min(0, a.alpha * Math.expm1(x / a.alpha)),
    wgsl: (x, a) => `(max(0.0, ${x}) + min(0.0, ${f32(a.alpha)} * (exp(${x} / ${f32(a.alpha)}) - 1.0)))`,
    grad: { cpu: (x, a) => (x > 0 ? 1 : Math.exp(x / a.alpha)), wgsl: (x, a) => `select(exp(${x} / ${f32(a.alpha)}), 1.0, ${x} > 0.0)` },
  },
  ThresholdedRelu: {
    attrs: alpha(1),
    cpu: (x, a) => (x > a.alpha ? x : 0),
    wgsl: (x, a) => `select(0.0, ${x}, ${x} > ${f32(a.alpha)})`,
    grad: { cpu: (x, a) => (x > a.alpha ? 1 : 0), wgsl: (x, a) => `select(0.0, 1.0, ${x} > ${f32(a.alpha)})` },
  },
  Shrink: {
    attrs: (raw) => ({ bias: floatAttr(raw, 'bias', 0), lambd: floatAttr(raw, 'lambd', 0.5) }),
    cpu: (x, a) => (x < -a.lambd ? x + a.bias : x > a.lambd ? x - a.bias : 0),
    wgsl: (x, a) => `select(select(0.0, ${x} - ${f32(a.bias)}, ${x} > ${f32(a.lambd)}), ${x} + ${f32(a.bias)}, ${x} < ${f32(-a.lambd)})`,
    grad: { cpu: (x, a) => (Math.abs(x) > a.lambd ? 1 : 0), wgsl: (x, a) => `select(0.0, 1.0, abs(${x}) > ${f32(a.lambd)})` },
  },
  Softplus: {
    cpu: softplus,
    wgsl: (x) => softplusW(x),
    grad: { cpu: sigmoid, wgsl: (x) => `(1.0 / (1.0 + exp(-(${x}))))` },
  },
  Softsign: {
    cpu: (x) => x / (1 + Math.abs(x)),
    wgsl: (x) => `(${x} / (1.0 + abs(${x})))`,
    grad: { cpu: (x) => 1 / (1 + Math.abs(x)) ** 2, wgsl: (x) => `(1.0 / ((1.0 + abs(${x})) * (1.0 + abs(${x}))))` },
  },
  Mish: {
    cpu: (x) => x * Math.tanh(softplus(x)),
    wgsl: (x) => `(${x} * ${tanhW(softplusW(x))})`,
    grad: {
      cpu: (x) => {
        const t = Math.tanh(softplus(x));
        return t + x * (1 - t * t) * sigmoid(x);
      },
      wgsl: (x) => `(${tanhW(softplusW(x))} + ${x} * (1.0 - ${tanhW(softplusW(x))} * ${tanhW(softplusW(x))}) / (1.0 + exp(-(${x}))))`,
    },
  },
  Erf: {
    cpu: erf,
    wgsl: erfW,
    grad: { cpu: (x) => TWO_OVER_SQRT_PI * Math.exp(-x * x), wgsl: (x) => `(${f32(TWO_OVER_SQRT_PI)} * exp(-(${x}) * (${x})))` },
  },
  Gelu: {
    attrs: geluAttrs,
    cpu: (x, a) => gelu(x, a.tanh === 1),
    wgsl: (x, a) => geluWgsl(x, a.tanh === 1),
    grad: {
      cpu: (x, a) => geluGrad(x, a.tanh === 1),
      wgsl: (x, a) =>
        a.tanh === 1
          ? `(0.5 * (1.0 + ${tanhW(`${f32(GELU_K)} * (${x} + 0.044715 * ${x} * ${x} * ${x})`)}) + 0.5 * ${x} * (1.0 - ${tanhW(`${f32(GELU_K)} * (${x} + 0.044715 * ${x} * ${x} * ${x})`)} * ${tanhW(`${f32(GELU_K)} * (${x} + 0.044715 * ${x} * ${x} * ${x})`)}) * ${f32(GELU_K)} * (1.0 + ${f32(3 * 0.044715)} * ${x} * ${x}))`
          : `(0.5 * (1.0 + ${erfW(`(${x} * ${f32(Math.SQRT1_2)})`)}) + ${x} * exp(-0.5 * ${x} * ${x}) * ${f32(1 / Math.sqrt(2 * Math.PI))})`,
    },
  },
  Sin: { cpu: Math.sin, wgsl: (x) => `sin(${x})`, grad: { cpu: Math.cos, wgsl: (x) => `cos(${x})` } },
  Cos: { cpu: Math.cos, wgsl: (x) => `cos(${x})`, grad: { cpu: (x) => -Math.sin(x), wgsl: (x) => `(-sin(${x}))` } },
  Tan: { cpu: Math.tan, wgsl: (x) => `tan(${x})`, grad: { cpu: (x) => 1 / Math.cos(x) ** 2, wgsl: (x) => `(1.0 / (cos(${x}) * cos(${x})))` } },
  Asin: { cpu: Math.asin, wgsl: (x) => `atan2(${x}, sqrt((1.0 - ${x}) * (1.0 + ${x})))`, grad: { cpu: (x) => 1 / Math.sqrt(1 - x * x), wgsl: (x) => `(1.0 / sqrt(1.0 - ${x} * ${x}))` } },
  Acos: { cpu: Math.acos, wgsl: (x) => `atan2(sqrt((1.0 - ${x}) * (1.0 + ${x})), ${x})`, grad: { cpu: (x) => -1 / Math.sqrt(1 - x * x), wgsl: (x) => `(-1.0 / sqrt(1.0 - ${x} * ${x}))` } },
  Atan: { cpu: Math.atan, wgsl: (x) => `atan(${x})`, grad: { cpu: (x) => 1 / (1 + x * x), wgsl: (x) => `(1.0 / (1.0 + ${x} * ${x}))` } },
  Sinh: { cpu: Math.sinh, wgsl: (x) => `sinh(${x})`, grad: { cpu: Math.cosh, wgsl: (x) => `cosh(${x})` } },
  Cosh: { cpu: Math.cosh, wgsl: (x) => `cosh(${x})`, grad: { cpu: Math.sinh, wgsl: (x) => `sinh(${x})` } },
  Asinh: { cpu: Math.asinh, wgsl: (x) => `asinh(${x})`, grad: { cpu: (x) => 1 / Math.sqrt(x * x + 1), wgsl: (x) => `(1.0 / sqrt(${x} * ${x} + 1.0))` } },
  Acosh: { cpu: Math.acosh, wgsl: (x) => `acosh(${x})`, grad: { cpu: (x) => 1 / Math.sqrt(x * x - 1), wgsl: (x) => `(1.0 / sqrt(${x} * ${x} - 1.0))` } },
  Atanh: { cpu: Math.atanh, wgsl: (x) => `atanh(${x})`, grad: { cpu: (x) => 1 / (1 - x * x), wgsl: (x) => `(1.0 / (1.0 - ${x} * ${x}))` } },
  Floor: { cpu: Math.floor, wgsl: (x) => `floor(${x})`, grad: zero },
  Ceil: { cpu: Math.ceil, wgsl: (x) => `ceil(${x})`, grad: zero },
  Round: { cpu: roundEven, wgsl: (x) => `round(${x})`, grad: zero },
  Sign: { cpu: Math.sign, wgsl: (x) => `sign(${x})`, grad: zero },
};
