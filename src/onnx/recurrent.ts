// RNN, GRU and LSTM, unrolled over the sequence (its length is fixed when the model is loaded)
// into chains of ops deftnn has (Gemm, Slice, Add, Mul, activations, Concat), so they run on
// WebGPU and train through those ops. Per direction d (forward, reverse, or both):
//   - X·W[d]ᵀ (+ the input bias) for every time step at once: one Gemm over [seq·batch, input];
//   - then, step by step, H·R[d]ᵀ (+ the recurrence bias) by one Gemm, the gates sliced out of
//     the sums, and ONNX's equations (gate order: LSTM i, o, f, c; GRU z, r, h):
//       RNN   H = f(x + h)
//       GRU   z = f(xz + hz), r = f(xr + hr), n = g(xn + r ⊙ (H·Rnᵀ + Rbn)) when linear_before_reset
//             else g(xn + (r ⊙ H)·Rnᵀ + Rbn); H = (1 - z) ⊙ n + z ⊙ H
//       LSTM  i = f(xi + hi + Pi ⊙ C), f = f(xf + hf + Pf ⊙ C), c = g(xc + hc), C = f ⊙ C + i ⊙ c,
//             o = f(xo + ho + Po ⊙ C), H = o ⊙ h(C)   (input_forget: f = 1 - i)
//     with `clip` bounding every activation's input;
//   - Y stacks each step's H at its time position; Y_h (and LSTM's Y_c) the last step's state.
// layout = 1 (opset 14) takes X [batch, seq, input] and gives Y [batch, seq, dirs, hidden].
// sequence_lens shorter than the sequence are refused (every batch entry runs every step).

import type { RawAttrs } from '../ops/op.js';
import { makeConst } from './constant.js';
import type { Handler } from './handlers.js';
import { intAttrOf, type NodeIO } from './node.js';

type Kind = 'RNN' | 'GRU' | 'LSTM';
const GATES: Record<Kind, number> = { RNN: 1, GRU: 3, LSTM: 4 };
const DEFAULT_ACTIVATIONS: Record<Kind, string[]> = { RNN: ['Tanh'], GRU: ['Sigmoid', 'Tanh'], LSTM: ['Sigmoid', 'Tanh', 'Tanh'] };

/** ONNX's activation names for recurrent ops and the IR ops (with attributes) that compute them. */
function activation(n: NodeIO, name: string, alpha: number | undefined, beta: number | undefined): [string, RawAttrs] {
  const a = (d: number) => alpha ?? d;
  const b = (d: number) => beta ?? d;
  switch (name.toLowerCase()) {
    case 'sigmoid': return ['Sigmoid', {}];
    case 'tanh': return ['Tanh', {}];
    case 'relu': return ['Relu', {}];
    case 'leakyrelu': return ['LeakyRelu', { alpha: a(0.01) }];
    case 'thresholdedrelu': return ['ThresholdedRelu', { alpha: a(1) }];
    case 'hardsigmoid': return ['HardSigmoid', { alpha: a(0.2), beta: b(0.5) }];
    case 'elu': return ['Elu', { alpha: a(1) }];
    case 'softsign': return ['Softsign', {}];
    case 'softplus': return ['Softplus', {}];
    default: return n.fail(`activation '${name}' is not supported`);
  }
}

function recurrent(kind: Kind): Handler {
  return (n) => {
    const G = GATES[kind];
    const layout = intAttrOf(n, 'layout', 0);
    const x0 = n.value(0).shape;
    if (x0.length !== 3) n.fail(`X must be 3-D, got [${x0.join(', ')}]`);
    const [seq, batch, input] = layout ? [x0[1], x0[0], x0[2]] : x0;
    const hidden = intAttrOf(n, 'hidden_size', 0) || n.value(2).shape[2];
    const direction = (n.attrs.direction as string | undefined) ?? 'forward';
    const dirs = direction === 'bidirectional' ? [0, 1] : direction === 'forward' || direction === 'reverse' ? [0] : n.fail(`direction '${direction}' is not forward, reverse or bidirectional`);
    const backwards = (d: number) => direction === 'reverse' || d === 1;
    if (n.has(4)) {
      const lens = n.constant(4) ?? n.fail(`input 'sequence_lens' must be known at load time`);
      if ([...lens.data].some((l) => l !== seq)) n.fail(`sequence_lens [${[...lens.data].join(', ')}] shorter than the sequence (${seq}) are not supported`);
    }
    if (kind === 'LSTM' && intAttrOf(n, 'input_forget', 0)) n.fail(`input_forget = 1 is not supported`);
    const names = (n.attrs.activations as string[] | undefined) ?? [...DEFAULT_ACTIVATIONS[kind], ...(dirs.length > 1 ? DEFAULT_ACTIVATIONS[kind] : [])];
    const per = DEFAULT_ACTIVATIONS[kind].length;
    if (names.length !== per * dirs.length) n.fail(`activations lists ${names.length} functions, expected ${per * dirs.length}`);
    const alphas = n.attrs.activation_alpha as number[] | undefined;
    const betas = n.attrs.activation_beta as number[] | undefined;
    const clip = n.attrs.clip as number | undefined;

    const slice = (v: number | string, axis: number, start: number, end: number) => n.step('Slice', [v], { starts: [start], ends: [end], axes: [axis], steps: [1] });
    const reshape = (v: number | string, shape: number[]) => n.step('Reshape', [v], { shape });
    const op = (type: string, inputs: (number | string)[], attrs: RawAttrs = {}) => n.step(type, inputs, attrs);
    const x = layout ? op('Transpose', [0], { perm: [1, 0, 2] }) : 0;
    const xFlat = reshape(x, [seq * batch, input]);

    const ys: string[] = [];
    const hs: string[] = [];
    const cs: string[] = [];
    for (const d of dirs) {
      const act = (k: number, v: string) => {
        const [type, attrs] = activation(n, names[d * per + k], alphas?.[d * per + k], betas?.[d * per + k]);
        return op(type, [clip === undefined ? v : op('Clip', [v], { min: -clip, max: clip })], attrs);
      };
      const w = reshape(slice(1, 0, d, d + 1), [G * hidden, input]);
      const r = reshape(slice(2, 0, d, d + 1), [G * hidden, hidden]);
      const bias = n.has(3) ? reshape(slice(3, 0, d, d + 1), [2 * G * hidden]) : undefined;
      const wb = bias && slice(bias, 0, 0, G * hidden);
      const rb = bias && slice(bias, 0, G * hidden, 2 * G * hidden);
      // GRU keeps the recurrence bias of its h gate apart (it goes inside r ⊙ (...) or after (r ⊙ H)·Rᵀ).
      const split = kind === 'GRU';
      const rAll = split ? slice(r, 0, 0, 2 * hidden) : r;
      const rbAll = rb && (split ? slice(rb, 0, 0, 2 * hidden) : rb);
      const xw = op('Gemm', [xFlat, w, ...(wb ? [rb && !split ? op('Add', [wb, rb]) : wb] : [])], { transB: 1 });
      const state = (i: number) => (n.has(i) ? reshape(slice(i, 0, d, d + 1), [batch, hidden]) : n.literal(makeConst('float32', [batch, hidden], new Float32Array(batch * hidden))));
      let h = state(5);
      let c = kind === 'LSTM' ? state(6) : '';
      const peep = (k: number) => (n.has(7) ? slice(reshape(slice(7, 0, d, d + 1), [3 * hidden]), 0, k * hidden, (k + 1) * hidden) : undefined);
      const steps: string[] = new Array(seq);
      for (let s = 0; s < seq; s++) {
        const t = backwards(d) ? seq - 1 - s : s;
        const xt = slice(xw, 0, t * batch, (t + 1) * batch);
        const hr = op('Gemm', [h, rAll, ...(rbAll && split ? [rbAll] : [])], { transB: 1 });
        const gate = (v: string, k: number) => slice(v, 1, k * hidden, (k + 1) * hidden);
        if (kind === 'RNN') h = act(0, op('Add', [xt, hr]));
        else if (kind === 'GRU') {
          const z = act(0, op('Add', [gate(xt, 0), gate(hr, 0)]));
          const rg = act(0, op('Add', [gate(xt, 1), gate(hr, 1)]));
          const rn = slice(r, 0, 2 * hidden, 3 * hidden);
          const rbn = rb && slice(rb, 0, 2 * hidden, 3 * hidden);
          const lbr = intAttrOf(n, 'linear_before_reset', 0);
          const inner = lbr
            ? op('Mul', [rg, op('Gemm', [h, rn, ...(rbn ? [rbn] : [])], { transB: 1 })])
            : op('Gemm', [op('Mul', [rg, h]), rn, ...(rbn ? [rbn] : [])], { transB: 1 });
          const cand = act(1, op('Add', [gate(xt, 2), inner]));
          // H = (1 - z) ⊙ n + z ⊙ H = n + z ⊙ (H - n)
          h = op('Add', [cand, op('Mul', [z, op('Sub', [h, cand])])]);
        } else {
          const sum = op('Add', [xt, hr]);
          const withPeep = (k: number, v: string, cell: string) => {
            const p = peep(k);
            return p ? op('Add', [v, op('Mul', [p, cell])]) : v;
          };
          const i = act(0, withPeep(0, gate(sum, 0), c));
          const f = act(0, withPeep(2, gate(sum, 2), c));
          const cand = act(1, gate(sum, 3));
          c = op('Add', [op('Mul', [f, c]), op('Mul', [i, cand])]);
          const o = act(0, withPeep(1, gate(sum, 1), c));
          h = op('Mul', [o, act(2, c)]);
        }
        steps[t] = reshape(h, [1, 1, batch, hidden]);
      }
      ys.push(seq > 1 ? op('Concat', steps, { axis: 0 }) : steps[0]);
      hs.push(reshape(h, [1, batch, hidden]));
      if (kind === 'LSTM') cs.push(reshape(c, [1, batch, hidden]));
    }
    const both = (vs: string[], axis: number) => (vs.length > 1 ? op('Concat', vs, { axis }) : vs[0]);
    // Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]); Y_h, Y_c [dirs, batch, hidden] ([batch, dirs, hidden]).
    const y = both(ys, 1);
    const yh = both(hs, 0);
    const yc = kind === 'LSTM' ? both(cs, 0) : undefined;
    const out = (v: string, perm: number[]) => (layout ? op('Transpose', [v], { perm }) : v);
    n.emit('Reshape', [out(y, [2, 0, 1, 3])], { shape: layout ? [batch, seq, dirs.length, hidden] : [seq, dirs.length, batch, hidden] });
    n.alias(1, out(yh, [1, 0, 2]));
    if (yc) n.alias(2, out(yc, [1, 0, 2]));
  };
}

export const RECURRENT_HANDLERS: Readonly<Record<string, Handler>> = { RNN: recurrent('RNN'), GRU: recurrent('GRU'), LSTM: recurrent('LSTM') };

/** The registry ops each of them emits. */
export const RECURRENT_EMITS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.keys(RECURRENT_HANDLERS).map((op) => [op, ['Transpose', 'Reshape', 'Slice', 'Gemm', 'Add', 'Sub', 'Mul', 'Clip', 'Concat', 'Sigmoid', 'Tanh']]),
  // (and the activations a model names, which the handler checks)
);
