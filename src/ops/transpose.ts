// Transpose: output dim d is input dim perm[d] (perm defaults to reversing the dims). Any rank.
//
// The kernel walks the output in order and reads the input through permuted strides; output
// dims that stay neighbours in the input (perm[d + 1] = perm[d] + 1) merge first, so e.g.
// NCHW -> NHWC becomes a 3-D walk [N, HW, C] and a pure reshape-like perm becomes a copy.

import { shapeStr, sizeOf, stridesOf, Tensor } from '../tensor.js';
import { coalesceDims, elementwiseMain, linearGrid, stridedOffsets } from '../kernels/wgsl.js';
import { defineOp, intsAttr, OpError } from './op.js';

interface TransposeAttrs {
  readonly perm: readonly number[];
}

const WG = 256;

export const transposeOp = defineOp<TransposeAttrs>({
  type: 'Transpose',
  arity: [1, 1],
  attrs: (raw, [x]) => {
    const r = x.length;
    const perm = intsAttr(raw, 'perm', x.map((_, i) => r - 1 - i));
    const isPermutation = perm.length === r && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
    if (!isPermutation) {
      throw new OpError(`attribute 'perm' ${shapeStr(perm)} is not a permutation of the ${r} axes of input ${shapeStr(x)}`);
    }
    return { perm };
  },
  shape: ([x], { perm }) => [perm.map((p) => x[p])],
  cpu: ([x], { perm }) => {
    const out = perm.map((p) => x.shape[p]);
    const inStrides = stridesOf(x.shape);
    const stride = perm.map((p) => inStrides[p]);
    const y = new Float32Array(x.size);
    const coord = new Array<number>(out.length).fill(0);
    for (let i = 0; i < y.length; i++) {
      let src = 0;
      for (let d = 0; d < out.length; d++) src += coord[d] * stride[d];
      y[i] = x.data[src];
      for (let d = out.length - 1; d >= 0 && ++coord[d] === out[d]; d--) coord[d] = 0;
    }
    return [new Tensor(out, y)];
  },
  gpu: ([x], [out], { perm }, ctx) => {
    const n = sizeOf(out);
    if (n === 0) return []; // (WGSL refuses `% 0u`, and there is nothing to do)
    const inStrides = stridesOf(x);
    const walk = coalesceDims(out, [perm.map((p) => inStrides[p])]);
    const wgsl = `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${elementwiseMain(n, WG, `${stridedOffsets('i', walk.dims, walk.strides, ['src'])}
  y[i] = x[src];`)}`;
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings: [{ input: 0 }, { output: 0 }] }];
  },
  // Output dim d came from input dim perm[d], so the inverse permutation sends it back.
  grad: (g) => {
    const inverse = new Array<number>(g.attrs.perm.length);
    g.attrs.perm.forEach((p, d) => (inverse[p] = d));
    return [g.emit('Transpose', [g.gradOutputs[0]!], { perm: inverse })];
  },
});
