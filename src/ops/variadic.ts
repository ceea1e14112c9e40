// Variadic elementwise ops with numpy broadcasting over all inputs: Sum, Mean, Max, Min (ONNX
// takes 1 or more inputs). One kernel per node reads every input at its broadcast offset (strides
// baked into the WGSL, 0 along broadcast dims, as binary.ts does for two) and folds them left to
// right. Inputs are capped at 7 so that inputs and output fit WebGPU's default of 8 storage
// buffers per shader stage.
//
// Backward: Sum and Mean pass the output gradient (scaled by 1/n for Mean) to every input, summed
// down to its shape. Max and Min pass it to the inputs equal to the output, shared evenly between
// ties (PyTorch's rule for maximum/minimum), as a chain of ops with kernels: for each input,
// hit_k = 1 + sign(x_k - y) for Max (1 - sign for Min) is 1 where x_k is the extreme and 0 where it
// is not; gx_k = gy · hit_k / Σ_j hit_j, summed down to x_k's shape.

import { sizeOf, Tensor, type Shape } from '../tensor.js';
import { coalesceDims, elementwiseMain, linearGrid, stridedOffsets } from '../kernels/wgsl.js';
import { broadcastShapes, broadcastStrides } from './binary.js';
import { defineOp, OpError, type GradContext, type OpDef } from './op.js';

interface VariadicDef {
  /** Fold step in TypeScript and WGSL. */
  cpu: (acc: number, v: number) => number;
  wgsl: (acc: string, v: string) => string;
  /** Applied to the folded value given the input count (Mean divides). */
  finish?: (acc: number, n: number) => number;
  finishWgsl?: (acc: string, n: number) => string;
  grad?: (g: GradContext<null>) => (string | undefined)[];
}

const MAX_INPUTS = 7;

// NaN propagates through Max/Min as in numpy's maximum/minimum (onnxruntime does the same).
const DEFS: Record<string, VariadicDef> = {
  Sum: { cpu: (a, v) => a + v, wgsl: (a, v) => `${a} + ${v}`, grad: (g) => passDown(g, g.gradOutputs[0]!) },
  Mean: {
    cpu: (a, v) => a + v,
    wgsl: (a, v) => `${a} + ${v}`,
    finish: (a, n) => a / n,
    finishWgsl: (a, n) => `${a} / ${n}.0`,
    grad: (g) => passDown(g, g.emit('Mul', [g.gradOutputs[0]!, g.constant(new Tensor([], [1 / g.inputs.length]))])),
  },
  Max: {
    cpu: (a, v) => (Number.isNaN(a) || Number.isNaN(v) ? NaN : Math.max(a, v)),
    wgsl: (a, v) => `select(max(${a}, ${v}), ${a} + ${v}, ${a} != ${a} || ${v} != ${v})`,
    grad: (g) => extremeGrad(g, 'Add'),
  },
  Min: {
    cpu: (a, v) => (Number.isNaN(a) || Number.isNaN(v) ? NaN : Math.min(a, v)),
    wgsl: (a, v) => `select(min(${a}, ${v}), ${a} + ${v}, ${a} != ${a} || ${v} != ${v})`,
    grad: (g) => extremeGrad(g, 'Sub'),
  },
};

/** Max (`toOne` Add: 1 + sign(x - y), as x <= y) or Min (Sub: 1 - sign(x - y), as x >= y). */
function extremeGrad(g: GradContext<null>, toOne: 'Add' | 'Sub'): (string | undefined)[] {
  const one = g.constant(new Tensor([], [1]));
  const hits = g.inputs.map((x) => g.emit(toOne, [one, g.emit('Sign', [g.emit('Sub', [x, g.outputs[0]])])]));
  const share = g.emit('Div', [g.gradOutputs[0]!, hits.length > 1 ? g.emit('Sum', hits) : hits[0]]);
  return g.inputs.map((_, k) => (g.wants[k] ? g.sumTo(g.emit('Mul', [share, hits[k]]), g.outputShapes[0], g.inputShapes[k]) : undefined));
}

function passDown(g: GradContext<null>, gy: string): (string | undefined)[] {
  return g.inputs.map((_, k) => (g.wants[k] ? g.sumTo(gy, g.outputShapes[0], g.inputShapes[k]) : undefined));
}

function outputShape(inputs: readonly Shape[]): number[] {
  if (inputs.length > MAX_INPUTS) throw new OpError(`takes at most ${MAX_INPUTS} inputs on deftnn, got ${inputs.length}; split the node into several`);
  return inputs.slice(1).reduce<number[]>((acc, s) => broadcastShapes(acc, s), [...inputs[0]]);
}

function variadicOp(type: string): OpDef<null> {
  const def = DEFS[type];
  return defineOp<null>({
    type,
    arity: [1, MAX_INPUTS],
    attrs: (_raw, inputs) => {
      outputShape(inputs);
      return null;
    },
    shape: (inputs) => [outputShape(inputs)],
    cpu: (xs) => {
      const out = outputShape(xs.map((x) => x.shape));
      const strides = xs.map((x) => broadcastStrides(x.shape, out));
      const n = sizeOf(out);
      const y = new Float32Array(n);
      const coord = new Array<number>(out.length).fill(0);
      for (let i = 0; i < n; i++) {
        let acc = 0;
        xs.forEach((x, k) => {
          let at = 0;
          for (let d = 0; d < out.length; d++) at += coord[d] * strides[k][d];
          acc = k === 0 ? x.data[at] : Math.fround(def.cpu(acc, x.data[at]));
        });
        y[i] = def.finish ? def.finish(acc, xs.length) : acc;
        for (let d = out.length - 1; d >= 0 && ++coord[d] === out[d]; d--) coord[d] = 0;
      }
      return [new Tensor(out, y)];
    },
    gpu: (ins, [out], _a, ctx) => {
      const n = sizeOf(out);
      if (n === 0) return [];
      const walk = coalesceDims(out, ins.map((s) => broadcastStrides(s, out)));
      const names = ins.map((_, k) => `o${k}`);
      const steps = ins.slice(1).map((_, k) => `  acc = ${def.wgsl('acc', `x${k + 1}[o${k + 1}]`)};`);
      const body = `${stridedOffsets('i', walk.dims, walk.strides, names)}
  var acc = x0[o0];
${steps.join('\n')}
  y[i] = ${def.finishWgsl ? def.finishWgsl('acc', ins.length) : 'acc'};`;
      const decls = ins.map((_, k) => `@group(0) @binding(${k}) var<storage, read> x${k}: array<f32>;`);
      const wgsl = `${decls.join('\n')}
@group(0) @binding(${ins.length}) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, WG, body)}`;
      return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [...ins.map((_, k) => ({ input: k })), { output: 0 }] }];
    },
    grad: def.grad,
  });
}

const WG = 256;

export const variadicOps: OpDef<null>[] = Object.keys(DEFS).map(variadicOp);
