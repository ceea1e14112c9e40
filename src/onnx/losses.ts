// ONNX's loss ops with targets known at load time (labels are data, but a model that carries its
// loss carries them as inputs; ONNX's node tests bake them in, as real models bake class weights),
// imported as chains of ops deftnn has, so they run on WebGPU and train through those ops:
//
//   NegativeLogLikelihoodLoss(input [N, C, d...], target [N, d...], weight [C]?):
//     loss[n, d] = -input[n, target[n, d], d] · w[target[n, d]], 0 where target = ignore_index;
//     reduction none (that tensor), sum, or mean (Σ loss / Σ w[target] over the positions kept).
//     The picked input elements are one Gather at positions computed here (picks.ts); the
//     weights per position one more Gather (folded away when the weight is a constant).
//   SoftmaxCrossEntropyLoss(scores, labels, weights?): the same on LogSoftmax(scores, axis 1),
//     which is also its optional second output (log_prob).

import { sizeOf } from '../tensor.js';
import { makeConst } from './constant.js';
import type { Handler } from './handlers.js';
import type { NodeIO } from './node.js';
import { known, pick } from './picks.js';

/** The loss of log-probabilities `x` (input 0 or a step) against input 1, weights from input 2. */
function nll(n: NodeIO, x: number | string): void {
  const shape = n.value(0).shape;
  const target = known(n, 1, 'target');
  const [N, C] = shape;
  const rest = shape.slice(2);
  if (shape.length < 2 || target.shape.length !== shape.length - 1 || target.shape.some((d, k) => d !== (k === 0 ? N : rest[k - 1]))) {
    n.fail(`target [${target.shape.join(', ')}] does not match input [${shape.join(', ')}] (expected [N, d1, ...])`);
  }
  const ignore = n.attrs.ignore_index as number | undefined;
  const inner = sizeOf(rest);
  const classes = [...target.data].map((t) => {
    if (t === ignore) return -1;
    if (!Number.isInteger(t) || t < 0 || t >= C) n.fail(`target ${t} is not a class in [0, ${C})`);
    return t;
  });
  // input[q's n, class, q's d] for target position q (any element where the target is ignored: weight 0).
  const at = classes.map((c, q) => (Math.floor(q / inner) * C + Math.max(c, 0)) * inner + (q % inner));
  const picked = pick(n, [x], [sizeOf(shape)], at, target.shape, true)!;
  const kept = n.literal(makeConst('float32', target.shape, classes.map((c) => (c < 0 ? 0 : 1))));
  const w = n.has(2) ? n.step('Mul', [n.step('Gather', [2], { axis: 0, indices: classes.map((c) => Math.max(c, 0)), indicesShape: [...target.shape] }), kept], {}) : kept;
  const reduction = (n.attrs.reduction as string | undefined) ?? 'mean';
  if (reduction === 'none') return n.emit('Neg', [n.step('Mul', [picked, w], {})], {});
  if (reduction !== 'sum' && reduction !== 'mean') n.fail(`reduction '${reduction}' is not none, sum or mean`);
  const all = { axes: target.shape.map((_, k) => k), keepdims: 0 };
  const loss = n.step('Neg', [n.step('Mul', [picked, w], {})], {});
  if (reduction === 'sum') return n.emit('ReduceSum', [loss], all);
  n.emit('Div', [n.step('ReduceSum', [loss], all), n.step('ReduceSum', [w], all)], {});
}

function NegativeLogLikelihoodLoss(n: NodeIO): void {
  nll(n, 0);
}

function SoftmaxCrossEntropyLoss(n: NodeIO): void {
  const logProb = n.step('LogSoftmax', [0], { axis: 1 });
  nll(n, logProb);
  n.alias(1, logProb);
}

export const LOSS_HANDLERS: Readonly<Record<string, Handler>> = { NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss };

/** The registry ops each of them emits. */
export const LOSS_EMITS: Readonly<Record<string, readonly string[]>> = {
  NegativeLogLikelihoodLoss: ['Reshape', 'Gather', 'Mul', 'Neg', 'ReduceSum', 'Div'],
  SoftmaxCrossEntropyLoss: ['LogSoftmax', 'Reshape', 'Gather', 'Mul', 'Neg', 'ReduceSum', 'Div'],
};
