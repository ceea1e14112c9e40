// Elementwise binary ops with ONNX (numpy) broadcasting, as one table: each entry gives the scalar
// function in TypeScript (the CPU reference) and as a WGSL expression. One kernel generator serves
// them all: per output element it finds each operand's element from strides baked into the WGSL,
// with a stride of 0 along every broadcast dim (see coalesceDims/stridedOffsets).
//
// Backward: each entry's `grad` gives the gradients of a and b at the output's (broadcast) shape;
// the op then sums each down to its input's shape (the reverse of broadcasting, GradContext.sumTo).
// PRelu's needs a select on x, so it has a gradient op of its own, PReluGrad, at the end.
//
// A fused chain (ops/epilogue.ts: the `activation` attribute, then `epilogue` steps whose tensor
// operands are inputs 2 and on; graph/fusion.ts) is applied to each result before the store: a
// residual Add + Relu, or a standalone chain of elementwise ops, is one kernel. Like Conv's, it is
// an inference form with no backward. Per-channel operands run along dim 1 of the output.

import { shapeStr, sizeOf, stridesOf, Tensor, type Shape } from '../tensor.js';
import { coalesceDims, elementwiseMain, linearGrid, stridedOffsets, u32 } from '../kernels/wgsl.js';
import { activationAttr, defineOp, MAX_EPILOGUE_INPUTS, OpError, type Activation, type EpilogueStep, type GradContext, type OpDef } from './op.js';
import { checkEpilogue, epilogueBuffer, epilogueCpu, epilogueInputs, epilogueNeeds, epilogueOf, epilogueWgsl } from './epilogue.js';

interface BinaryAttrs {
  readonly activation?: Activation;
  /** The fused chain: the activation, then the `epilogue` steps. */
  readonly epilogue: readonly EpilogueStep[];
}

/** Channels (dim 1) of an output and the elements per channel, for per-channel epilogue operands. */
function channelsOf(out: Shape): { C: number; inner: number } {
  return out.length < 2 ? { C: 1, inner: sizeOf(out) } : { C: out[1], inner: sizeOf(out.slice(2)) };
}

interface BinaryDef {
  cpu: (a: number, b: number) => number;
  /** WGSL expression of the f32 values `a` and `b` (plain identifiers, so they may repeat). */
  wgsl: (a: string, b: string) => string;
  /** WGSL functions the expression calls. */
  helpers?: string;
  /**
   * PRelu broadcasts only its second input (the slope) to the first: the output has x's shape
   * (ONNX "unidirectional broadcasting"). The others broadcast both ways.
   */
  unidirectional?: boolean;
  /**
   * Emit the gradients of a and b, each still at the output's shape (undefined where
   * g.wants says it is not needed); `gy` is the output's gradient.
   */
  grad: (g: GradContext<BinaryAttrs>, gy: string) => [string | undefined, string | undefined];
}

// WGSL's pow(a, b) is exp2(b * log2(a)): undefined for a < 0 and NaN for 0^0. ONNX follows C's
// pow: an integer exponent works on any base (sign from the exponent's parity) and x^0 = 1. A
// negative base with a non-integer exponent is NaN in ONNX; on WebGPU it is left to pow(), whose
// result WGSL does not define.
const POW_HELPER = `fn pow_onnx(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (a >= 0.0 || b != floor(b)) { return pow(a, b); }
  let p = pow(-a, b);
  return select(p, -p, fract(b * 0.5) != 0.0);
}`;

export const BINARY: Record<string, BinaryDef> = {
  Add: { cpu: (a, b) => a + b, wgsl: (a, b) => `${a} + ${b}`, grad: (_g, gy) => [gy, gy] },
  Sub: {
    cpu: (a, b) => a - b,
    wgsl: (a, b) => `${a} - ${b}`,
    grad: (g, gy) => [gy, g.wants[1] ? g.emit('Neg', [gy]) : undefined],
  },
  Mul: {
    cpu: (a, b) => a * b,
    wgsl: (a, b) => `${a} * ${b}`,
    grad: (g, gy) => {
      const [a, b] = g.inputs;
      return [g.wants[0] ? g.emit('Mul', [gy, b]) : undefined, g.wants[1] ? g.emit('Mul', [gy, a]) : undefined];
    },
  },
  Div: {
    cpu: (a, b) => a / b,
    wgsl: (a, b) => `${a} / ${b}`,
    // d(a/b)/da = 1/b; d(a/b)/db = -a/b² = -(1/b)·y, with y = a/b the output.
    grad: (g, gy) => {
      const t = g.emit('Div', [gy, g.inputs[1]]);
      return [t, g.wants[1] ? g.emit('Neg', [g.emit('Mul', [t, g.outputs[0]])]) : undefined];
    },
  },
  Pow: {
    cpu: (a, b) => Math.pow(a, b),
    wgsl: (a, b) => `pow_onnx(${a}, ${b})`,
    helpers: POW_HELPER,
    // d(a^b)/da = b·a^(b-1), through Pow itself so that negative bases with integer exponents
    // work. The exponent's gradient, a^b·ln(a), exists only for a > 0 and is not offered.
    grad: (g, gy) => {
      const [a, b] = g.inputs;
      if (g.wants[1]) throw new OpError(`Pow: no gradient with respect to the exponent (input 1, '${b}'); make it a constant`);
      const bm1 = g.emit('Sub', [b, g.constant(new Tensor([], [1]))]);
      return [g.emit('Mul', [gy, g.emit('Mul', [b, g.emit('Pow', [a, bm1])])]), undefined];
    },
  },
  PRelu: {
    cpu: (x, s) => (x < 0 ? s * x : x),
    wgsl: (x, s) => `select(${x}, ${s} * ${x}, ${x} < 0.0)`,
    unidirectional: true,
    grad: (g, gy) => {
      const [gx, gs] = g.emitMulti('PReluGrad', [g.inputs[0], g.inputs[1], gy], 2);
      return [gx, gs];
    },
  },
};

/** The numpy broadcast of two shapes; the error names both. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new OpError(`shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together (dim ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * Strides of `shape` walked over `out` (which it broadcasts to, right-aligned): 0 along every
 * dim that `shape` lacks or has as 1.
 */
export function broadcastStrides(shape: Shape, out: Shape): number[] {
  const s = stridesOf(shape);
  const lead = out.length - shape.length;
  return out.map((_, d) => (d < lead || shape[d - lead] === 1 ? 0 : s[d - lead]));
}

function outputShape(def: BinaryDef, [a, b]: readonly Shape[]): number[] {
  const out = broadcastShapes(a, b);
  if (def.unidirectional && (out.length !== a.length || out.some((d, i) => d !== a[i]))) {
    throw new OpError(`slope of shape ${shapeStr(b)} does not broadcast to x of shape ${shapeStr(a)}`);
  }
  return out;
}

const WG = 256;

function binaryOp(type: string): OpDef<BinaryAttrs> {
  const def = BINARY[type];
  return defineOp<BinaryAttrs>({
    type,
    arity: [2, 2 + MAX_EPILOGUE_INPUTS],
    attrs: (raw) => ({ activation: activationAttr(raw), epilogue: epilogueOf(raw) }),
    shape: (inputs, attrs) => {
      const out = outputShape(def, inputs.slice(0, 2));
      checkEpilogue(attrs.epilogue, inputs, 2, channelsOf(out).C, sizeOf(out));
      return [out];
    },
    cpu: (inputs, attrs) => {
      const [a, b] = inputs;
      const out = outputShape(def, [a.shape, b.shape]);
      const { C, inner } = channelsOf(out);
      const ep = epilogueCpu(attrs.epilogue, inputs);
      const act = (x: number, i: number) => ep(x, Math.floor(i / inner) % C, i);
      const sa = broadcastStrides(a.shape, out);
      const sb = broadcastStrides(b.shape, out);
      const n = sizeOf(out);
      const y = new Float32Array(n);
      const coord = new Array<number>(out.length).fill(0);
      for (let i = 0; i < n; i++) {
        let ia = 0;
        let ib = 0;
        for (let d = 0; d < out.length; d++) {
          ia += coord[d] * sa[d];
          ib += coord[d] * sb[d];
        }
        y[i] = act(def.cpu(a.data[ia], b.data[ib]), i); // (the chain rounds to f32 first, as on the GPU)
        // Advance the row-major coordinate (odometer).
        for (let d = out.length - 1; d >= 0 && ++coord[d] === out[d]; d--) coord[d] = 0;
      }
      return [new Tensor(out, y)];
    },
    gpu: ([a, b], [out], attrs, ctx) => {
      const n = sizeOf(out);
      if (n === 0) return []; // (WGSL refuses `% 0u`, and there is nothing to do)
      const walk = coalesceDims(out, [broadcastStrides(a, out), broadcastStrides(b, out)]);
      const operands = epilogueInputs(attrs.epilogue);
      const { C, inner } = channelsOf(out);
      const ch = epilogueNeeds(attrs.epilogue).channel ? `i / ${u32(inner)} % ${u32(C)}` : '0u';
      const wgsl = `@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${operands.map((k, j) => `@group(0) @binding(${3 + j}) var<storage, read> ${epilogueBuffer(k)}: array<f32>;`).join('\n')}
${def.helpers ?? ''}
${epilogueWgsl(attrs.epilogue, () => undefined, def.helpers ? [def.helpers] : [])}
${elementwiseMain(n, WG, `${stridedOffsets('i', walk.dims, walk.strides, ['ia', 'ib'])}
  let va = a[ia];
  let vb = b[ib];
  let v = ${def.wgsl('va', 'vb')};
  y[i] = epilogue1(v, ${ch}, i);`)}`;
      return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ input: 0 }, { input: 1 }, { output: 0 }, ...operands.map((k) => ({ input: k }))] }];
    },
    grad: (g) => {
      if (g.attrs.epilogue.length) throw new OpError(`${type}: cannot differentiate a fused ${g.attrs.activation && g.attrs.epilogue.length === 1 ? 'activation' : 'chain'} (${g.attrs.epilogue.map((s) => s.op).join(', ')}); train the graph before elementwise ops are fused`);
      const gy = g.gradOutputs[0]!;
      const full = def.grad(g, gy);
      const out = g.outputShapes[0];
      return full.map((t, k) => (t !== undefined && g.wants[k] ? g.sumTo(t, out, g.inputShapes[k]) : undefined));
    },
  });
}

// ---- PReluGrad ----

/**
 * PReluGrad(x, slope, gy) -> (gx, gslope): gx = gy where x > 0, gy·slope elsewhere; gslope =
 * gy·x where x <= 0, else 0, at x's shape (PRelu's grad sums it down to the slope's shape).
 * At x = 0 this is PyTorch's choice (slope's side for x, 0 for the slope).
 */
export const preluGradOp = defineOp<null>({
  type: 'PReluGrad',
  training: true,
  arity: [3, 3],
  attrs: (_raw, [x, s, gy]) => {
    outputShape(BINARY.PRelu, [x, s]);
    if (gy.length !== x.length || gy.some((d, i) => d !== x[i])) {
      throw new OpError(`gradient of shape ${shapeStr(gy)} does not match x of shape ${shapeStr(x)}`);
    }
    return null;
  },
  shape: ([x]) => [x, x],
  cpu: ([x, s, gy]) => {
    const ss = broadcastStrides(s.shape, x.shape);
    const gx = new Float32Array(x.size);
    const gs = new Float32Array(x.size);
    const coord = new Array<number>(x.rank).fill(0);
    for (let i = 0; i < x.size; i++) {
      let is = 0;
      for (let d = 0; d < x.rank; d++) is += coord[d] * ss[d];
      const v = x.data[i];
      gx[i] = v > 0 ? gy.data[i] : gy.data[i] * s.data[is];
      gs[i] = v > 0 ? 0 : gy.data[i] * v;
      for (let d = x.rank - 1; d >= 0 && ++coord[d] === x.shape[d]; d--) coord[d] = 0;
    }
    return [new Tensor(x.shape, gx), new Tensor(x.shape, gs)];
  },
  gpu: ([x, s], _out, _attrs, ctx) => {
    const n = sizeOf(x);
    if (n === 0) return [];
    const walk = coalesceDims(x, [broadcastStrides(s, x)]);
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> slope: array<f32>;
@group(0) @binding(2) var<storage, read> gy: array<f32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;
@group(0) @binding(4) var<storage, read_write> gs: array<f32>;
${elementwiseMain(n, WG, `${stridedOffsets('i', walk.dims, walk.strides, ['is'])}
  let v = x[i];
  let g = gy[i];
  gx[i] = select(g * slope[is], g, v > 0.0);
  gs[i] = select(g * v, 0.0, v > 0.0);`)}`;
    const bindings = [{ input: 0 }, { input: 1 }, { input: 2 }, { output: 0 }, { output: 1 }] as const;
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [...bindings] }];
  },
});

export const binaryOps: OpDef<BinaryAttrs | null>[] = [...Object.keys(BINARY).map(binaryOp), preluGradOp];
