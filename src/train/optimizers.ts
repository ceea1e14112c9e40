// Optimisers as graph ops. A training step is one graph: forward, loss, backward (graph/autograd.ts)
// and one update node per parameter tensor, whose outputs become the parameters and moments of
// the next run through session state (graph/session.ts). Parameters and moments so never leave
// the device, and the step is one submit.
//
// The update ops are elementwise and follow PyTorch's optimisers exactly (torch.optim.SGD and
// torch.optim.AdamW, single-tensor code path), so hyperparameters carry over:
//
//   SgdUpdate(w, g, v, lr) -> (w', v'); attributes momentum (0.9), weight_decay (0), nesterov (0):
//     g  = g + weight_decay·w                 (coupled L2, as torch's SGD)
//     v' = momentum·v + g                     (no dampening; with v = 0 the first step gives
//                                              v' = g, as torch's buffer initialisation does)
//     w' = w - lr·v'                          or, nesterov: w' = w - lr·(g + momentum·v')
//
//   AdamWUpdate(w, g, m, v, lr, t) -> (w', m', v'); attributes beta1 (0.9), beta2 (0.999),
//   epsilon (1e-8), weight_decay (0.01); t is the 1-based step count:
//     w  = w·(1 - lr·weight_decay)            (decoupled decay, applied first)
//     m' = beta1·m + (1 - beta1)·g
//     v' = beta2·v + (1 - beta2)·g²
//     w' = w - (lr / (1 - beta1^t)) · m' / (sqrt(v') / sqrt(1 - beta2^t) + epsilon)
//
// lr and t are one-element tensors fed at every step, not attributes: a schedule changes them
// without changing the WGSL, so no pipeline is recompiled.
//
// Below the ops: OptimizerConfig, the optimiser as the training loop describes it, and
// optimizerUpdates/appendOptimizer, which turn it into these nodes, their zero moments and the
// session state pairs.

import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { elementwiseMain, f32, linearGrid } from '../kernels/wgsl.js';
import { defineOp, floatAttr, intAttr, OpError, type OpDef, type RawAttrs } from '../ops/op.js';
import { type Binding } from '../kernels/context.js';
import type { Graph, Node, ValueInfo } from '../graph/ir.js';

const WG = 256;

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Inputs that must have the parameter's shape (gradient, moments), named for the error. */
function checkLike(w: Shape, others: readonly [Shape, string][]): void {
  for (const [s, what] of others) {
    if (!sameShape(s, w)) throw new OpError(`${what} must have the parameter's shape ${shapeStr(w)}, got ${shapeStr(s)}`);
  }
}

function checkScalar(s: Shape, what: string): void {
  if (sizeOf(s) !== 1) throw new OpError(`${what} must have one element, got shape ${shapeStr(s)}`);
}

function inRange(raw: RawAttrs, name: string, dflt: number, ok: (x: number) => boolean, range: string): number {
  const v = floatAttr(raw, name, dflt);
  if (!ok(v)) throw new OpError(`attribute '${name}' must be ${range}, got ${v}`);
  return v;
}

const nonNegative = (x: number) => Number.isFinite(x) && x >= 0;

// ---- SgdUpdate ----

interface SgdAttrs {
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
}

export const sgdUpdateOp = defineOp<SgdAttrs>({
  type: 'SgdUpdate',
  training: true,
  arity: [4, 4],
  attrs: (raw, [w, g, v, lr]) => {
    checkLike(w, [
      [g, 'gradient (input 1)'],
      [v, 'momentum buffer (input 2)'],
    ]);
    checkScalar(lr, 'learning rate (input 3)');
    const momentum = inRange(raw, 'momentum', 0.9, nonNegative, 'a finite number >= 0');
    const weightDecay = inRange(raw, 'weight_decay', 0, nonNegative, 'a finite number >= 0');
    const nesterov = intAttr(raw, 'nesterov', 0);
    if (nesterov !== 0 && nesterov !== 1) throw new OpError(`attribute 'nesterov' must be 0 or 1, got ${nesterov}`);
    if (nesterov && momentum === 0) throw new OpError(`attribute 'nesterov' = 1 needs a momentum > 0 (as in PyTorch)`);
    return { momentum, weightDecay, nesterov: nesterov === 1 };
  },
  shape: ([w]) => [w, w],
  cpu: ([w, g, v, lrT], a) => {
    const lr = lrT.data[0];
    const w2 = new Float32Array(w.size);
    const v2 = new Float32Array(w.size);
    for (let i = 0; i < w.size; i++) {
      const gi = g.data[i] + a.weightDecay * w.data[i];
      const vi = a.momentum * v.data[i] + gi;
      const step = a.nesterov ? gi + a.momentum * vi : vi;
      w2[i] = w.data[i] - lr * step;
      v2[i] = vi;
    }
    return [new Tensor(w.shape, w2), new Tensor(w.shape, v2)];
  },
  gpu: ([w], _out, a, ctx) => {
    const n = sizeOf(w);
    if (n === 0) return [];
    const grad = a.weightDecay === 0 ? 'g[i]' : `g[i] + ${f32(a.weightDecay)} * w[i]`;
    const wgsl = `@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read> lr: array<f32>;
@group(0) @binding(4) var<storage, read_write> w_next: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_next: array<f32>;
${elementwiseMain(n, WG, `  let gi = ${grad};
  let vi = ${f32(a.momentum)} * v[i] + gi;
  w_next[i] = w[i] - lr[0] * ${a.nesterov ? `(gi + ${f32(a.momentum)} * vi)` : 'vi'};
  v_next[i] = vi;`)}`;
    const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { input: 2 }, { input: 3 }, { output: 0 }, { output: 1 }];
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings }];
  },
});

// ---- AdamWUpdate ----

interface AdamWAttrs {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
}

const beta = (x: number) => x >= 0 && x < 1;

export const adamWUpdateOp = defineOp<AdamWAttrs>({
  type: 'AdamWUpdate',
  training: true,
  arity: [6, 6],
  attrs: (raw, [w, g, m, v, lr, t]) => {
    checkLike(w, [
      [g, 'gradient (input 1)'],
      [m, 'first moment (input 2)'],
      [v, 'second moment (input 3)'],
    ]);
    checkScalar(lr, 'learning rate (input 4)');
    checkScalar(t, 'step count t (input 5)');
    return {
      beta1: inRange(raw, 'beta1', 0.9, beta, 'in [0, 1)'),
      beta2: inRange(raw, 'beta2', 0.999, beta, 'in [0, 1)'),
      epsilon: inRange(raw, 'epsilon', 1e-8, nonNegative, 'a finite number >= 0'),
      weightDecay: inRange(raw, 'weight_decay', 0.01, nonNegative, 'a finite number >= 0'),
    };
  },
  shape: ([w]) => [w, w, w],
  cpu: ([w, g, m, v, lrT, tT], a) => {
    const lr = lrT.data[0];
    const t = tT.data[0];
    if (!(Number.isInteger(t) && t >= 1)) throw new OpError(`step count t (input 5) must be an integer >= 1 (1 on the first step), got ${t}`);
    const bc1 = 1 - a.beta1 ** t;
    const bc2 = 1 - a.beta2 ** t;
    const decay = 1 - lr * a.weightDecay;
    const w2 = new Float32Array(w.size);
    const m2 = new Float32Array(w.size);
    const v2 = new Float32Array(w.size);
    for (let i = 0; i < w.size; i++) {
      const gi = g.data[i];
      const mi = a.beta1 * m.data[i] + (1 - a.beta1) * gi;
      const vi = a.beta2 * v.data[i] + (1 - a.beta2) * gi * gi;
      const denom = Math.sqrt(vi) / Math.sqrt(bc2) + a.epsilon;
      w2[i] = w.data[i] * decay - (lr / bc1) * (mi / denom);
      m2[i] = mi;
      v2[i] = vi;
    }
    return [new Tensor(w.shape, w2), new Tensor(w.shape, m2), new Tensor(w.shape, v2)];
  },
  gpu: ([w], _out, a, ctx) => {
    const n = sizeOf(w);
    if (n === 0) return [];
    // beta^t; a zero beta has no moment to correct (and WGSL's pow(0, t) is undefined).
    const pow = (b: number) => (b === 0 ? '0.0' : `pow(${f32(b)}, t)`);
    const wgsl = `@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> lr: array<f32>;
@group(0) @binding(5) var<storage, read> step: array<f32>;
@group(0) @binding(6) var<storage, read_write> w_next: array<f32>;
@group(0) @binding(7) var<storage, read_write> m_next: array<f32>;
@group(0) @binding(8) var<storage, read_write> v_next: array<f32>;
${elementwiseMain(n, WG, `  let t = step[0];
  let rate = lr[0];
  let bc1 = 1.0 - ${pow(a.beta1)};
  let bc2 = 1.0 - ${pow(a.beta2)};
  let gi = g[i];
  let mi = ${f32(a.beta1)} * m[i] + ${f32(1 - a.beta1)} * gi;
  let vi = ${f32(a.beta2)} * v[i] + ${f32(1 - a.beta2)} * gi * gi;
  let denom = sqrt(vi) / sqrt(bc2) + ${f32(a.epsilon)};
  w_next[i] = w[i] * (1.0 - rate * ${f32(a.weightDecay)}) - (rate / bc1) * (mi / denom);
  m_next[i] = mi;
  v_next[i] = vi;`)}`;
    const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { input: 2 }, { input: 3 }, { input: 4 }, { input: 5 }, { output: 0 }, { output: 1 }, { output: 2 }];
    return [{ wgsl, workgroups: linearGrid(n, WG, ctx), bindings }];
  },
});

export const optimizerOps: OpDef<any>[] = [sgdUpdateOp, adamWUpdateOp];

// ---- the optimiser as the training loop describes it ----

export type OptimizerConfig =
  | { readonly kind: 'sgd'; readonly lr: number; readonly momentum?: number; readonly weightDecay?: number; readonly nesterov?: boolean }
  | { readonly kind: 'adamw'; readonly lr: number; readonly beta1?: number; readonly beta2?: number; readonly eps?: number; readonly weightDecay?: number };

/** A trainable parameter: an initializer of the graph, and the value holding its gradient. */
export interface ParamInfo {
  readonly name: string;
  readonly shape: Shape;
  readonly grad: string;
}

/** Graph input names of the learning rate and (AdamW) the 1-based step count. */
export const LR_INPUT = 'lr';
export const STEP_INPUT = 't';

export interface OptimizerUpdates {
  /** One update node per parameter, to append after the backward pass. */
  readonly nodes: Node[];
  /** The optimiser's moments, zero-filled, to add to the graph's initializers. */
  readonly initializers: Map<string, Tensor>;
  /** Session state pairs: [parameter, its update] and [moment, its update]. */
  readonly state: [string, string][];
  /** Extra graph inputs: 'lr' [1], and 't' [1] for AdamW. */
  readonly inputs: ValueInfo[];
  /**
   * Feeds for those inputs on the step with 0-based index `step` (the number of steps already
   * taken; AdamW's t is step + 1), with the learning rate `lr` (default: the config's; pass a
   * schedule's value, see train/schedules.ts).
   */
  feeds(step: number, lr?: number): Record<string, Tensor>;
}

/** The moment names of parameter p (initializers) and the names of all updated values. */
function names(p: string, kind: OptimizerConfig['kind']) {
  const moments = kind === 'sgd' ? [`${p}.momentum`] : [`${p}.adam_m`, `${p}.adam_v`];
  return { moments, next: [`${p}.next`, ...moments.map((m) => `${m}.next`)] };
}

/** The update nodes, moments, state pairs and extra inputs that train `params` with `config`. */
export function optimizerUpdates(config: OptimizerConfig, params: readonly ParamInfo[]): OptimizerUpdates {
  if (!(Number.isFinite(config.lr) && config.lr >= 0)) throw new RangeError(`optimizer lr must be a finite number >= 0, got ${config.lr}`);
  const sgd = config.kind === 'sgd';
  const attrs: RawAttrs = sgd
    ? { momentum: config.momentum ?? 0.9, weight_decay: config.weightDecay ?? 0, nesterov: config.nesterov ? 1 : 0 }
    : { beta1: config.beta1 ?? 0.9, beta2: config.beta2 ?? 0.999, epsilon: config.eps ?? 1e-8, weight_decay: config.weightDecay ?? 0.01 };
  const nodes: Node[] = [];
  const initializers = new Map<string, Tensor>();
  const state: [string, string][] = [];
  for (const p of params) {
    const { moments, next } = names(p.name, config.kind);
    for (const m of moments) initializers.set(m, new Tensor(p.shape));
    const extra = sgd ? [LR_INPUT] : [LR_INPUT, STEP_INPUT];
    nodes.push({ name: `${p.name}.update`, op: sgd ? 'SgdUpdate' : 'AdamWUpdate', inputs: [p.name, p.grad, ...moments, ...extra], outputs: next, attrs });
    [p.name, ...moments].forEach((v, i) => state.push([v, next[i]]));
  }
  const inputs: ValueInfo[] = sgd ? [{ name: LR_INPUT, shape: [1] }] : [{ name: LR_INPUT, shape: [1] }, { name: STEP_INPUT, shape: [1] }];
  const feeds = (step: number, lr = config.lr): Record<string, Tensor> => {
    if (!Number.isInteger(step) || step < 0) throw new RangeError(`step must be an integer >= 0, got ${step}`);
    const f: Record<string, Tensor> = { [LR_INPUT]: new Tensor([1], [lr]) };
    if (!sgd) f[STEP_INPUT] = new Tensor([1], [step + 1]);
    return f;
  };
  return { nodes, initializers, state, inputs, feeds };
}

export interface TrainingStep {
  /** `graph` with the moments, the update nodes and the extra inputs added. */
  readonly graph: Graph;
  /** Pass as SessionOptions.state. */
  readonly state: [string, string][];
  readonly feeds: OptimizerUpdates['feeds'];
}

/**
 * Add the optimiser to a graph that computes the gradients `grads` (buildBackward's) of the
 * initializers `params`. The gradients stop being graph outputs: the updates consume them on
 * the device, and reading them back every step would cost a transfer each.
 */
export function appendOptimizer(graph: Graph, config: OptimizerConfig, params: readonly string[], grads: readonly string[]): TrainingStep {
  if (params.length !== grads.length) throw new RangeError(`${params.length} parameters but ${grads.length} gradients`);
  const infos = params.map((name, i) => {
    const init = graph.initializers.get(name);
    if (!init) throw new RangeError(`parameter '${name}' must be an initializer of the graph`);
    return { name, shape: init.shape, grad: grads[i] };
  });
  const u = optimizerUpdates(config, infos);
  const taken = new Set<string>([...graph.inputs.map((v) => v.name), ...graph.initializers.keys(), ...graph.nodes.flatMap((n) => n.outputs)]);
  for (const v of [...u.inputs.map((i) => i.name), ...u.initializers.keys(), ...u.nodes.flatMap((n) => n.outputs)]) {
    if (taken.has(v)) throw new RangeError(`the optimizer's value '${v}' is already a value of the graph`);
  }
  const dropped = new Set(grads);
  return {
    graph: {
      inputs: [...graph.inputs, ...u.inputs],
      outputs: graph.outputs.filter((o) => !dropped.has(o)),
      nodes: [...graph.nodes, ...u.nodes],
      initializers: new Map([...graph.initializers, ...u.initializers]),
    },
    state: u.state,
    feeds: u.feeds,
  };
}
