// Fused epilogues: the chain of elementwise ops a producer (Conv, or an elementwise binary op)
// applies to each of its results before the store, so that the chain costs no kernel and no
// round trip through memory of its own (graph/fusion.ts builds the chains).
//
// A node's chain is its `activation` attribute (one unary op, the older form), then the steps of
// its `epilogue` attribute, in order. Chain values: v0 is the producer's own result (a conv's
// accumulator plus bias), v(i+1) the result of step i. A step is
//   - a unary op of ops/unary.ts:  v(i+1) = f(v(i))                  {op, attrs}
//   - a binary op of ops/binary.ts with the other operand
//       a constant:                  v(i+1) = v(i) ∘ scalar             {op, scalar}
//       a per-channel tensor:        v(i+1) = v(i) ∘ t[channel]         {op, input, per: 'channel'}
//       a tensor of the output's shape (the residual Add):
//                                    v(i+1) = v(i) ∘ t[flat index]      {op, input, per: 'element'}
//       an earlier chain value:      v(i+1) = v(i) ∘ v(value)           {op, value}  (x * sigmoid(x))
//     `swap` puts the operand first (c - v, c / v). `input` is an index into the node's inputs.
// The expressions come from each op's own table (UNARY, BINARY): this file only strings them
// together, once for the CPU reference and once as a WGSL function the kernel calls:
//   fn epilogue(v: vec4<f32>, ch: vec4<u32>, at: vec4<u32>) -> vec4<f32>
// for four results with their channels `ch` and flat output indices `at` (kernels store runs of
// 4). The kernel layer (kernels/gemm.ts) never sees an op: it calls what it is handed.

import type { FloatFormat } from '../formats/format.js';
import { valueAt } from '../formats/wgsl.js';
import { f32 } from '../kernels/wgsl.js';
import type { Tensor } from '../tensor.js';
import { BINARY } from './binary.js';
import { activationAttr, OpError, type EpilogueStep, type RawAttrs } from './op.js';
export { MAX_EPILOGUE_INPUTS } from './op.js';
import { UNARY, unaryAttrs } from './unary.js';

/** The whole chain of a node: its `activation`, then its `epilogue` steps (see the header). */
export function epilogueOf(raw: RawAttrs): EpilogueStep[] {
  const act = activationAttr(raw);
  const steps = raw.epilogue === undefined ? [] : (raw.epilogue as readonly EpilogueStep[]);
  if (!Array.isArray(steps)) throw new OpError(`attribute 'epilogue' must be a list of steps {op, ...}, got ${JSON.stringify(raw.epilogue)}`);
  return [...(act ? [{ op: act.op, attrs: act.attrs }] : []), ...steps];
}

/** The node inputs a chain reads (distinct, ascending). */
export function epilogueInputs(steps: readonly EpilogueStep[]): number[] {
  return [...new Set(steps.flatMap((s) => (s.input === undefined ? [] : [s.input])))].sort((a, b) => a - b);
}

/**
 * Check a chain against the node's input shapes: known ops, one operand per binary step, operand
 * inputs that exist and have the layout they claim (`channels` values per channel, `outSize`
 * elements). `firstOperand` is the first input index a chain may use (the op's own come before);
 * `otherUses`: inputs past it that the op reads for something else (a conv's input scale).
 */
export function checkEpilogue(steps: readonly EpilogueStep[], inputs: readonly (readonly number[])[], firstOperand: number, channels: number, outSize: number, otherUses: readonly number[] = []): void {
  const used = new Set([...epilogueInputs(steps), ...otherUses]);
  for (let i = firstOperand; i < inputs.length; i++) {
    if (!used.has(i)) throw new OpError(`input ${i} is read by no step of the fused epilogue: an op takes at most ${firstOperand} inputs of its own`);
  }
  steps.forEach((s, i) => {
    const where = `fused epilogue step ${i} (${s.op})`;
    if (s.op in UNARY) {
      if (s.scalar !== undefined || s.input !== undefined || s.value !== undefined) throw new OpError(`${where}: a unary op takes no operand`);
      unaryAttrs(s.op, s.attrs ?? {});
      return;
    }
    if (!(s.op in BINARY) || BINARY[s.op].unidirectional) throw new OpError(`${where}: not an elementwise op a chain can apply`);
    const operands = [s.scalar, s.input, s.value].filter((x) => x !== undefined).length;
    if (operands !== 1) throw new OpError(`${where}: a binary step needs exactly one of scalar, input, value`);
    if (s.value !== undefined && (!Number.isInteger(s.value) || s.value < 0 || s.value > i)) throw new OpError(`${where}: value ${s.value} is not an earlier chain value (0..${i})`);
    if (s.input !== undefined) {
      if (s.input < firstOperand || s.input >= inputs.length) throw new OpError(`${where}: input ${s.input} is not one of the node's operand inputs (${firstOperand}..${inputs.length - 1})`);
      const size = inputs[s.input].reduce((a, b) => a * b, 1);
      const want = s.per === 'channel' ? channels : outSize;
      if (s.per !== 'channel' && s.per !== 'element') throw new OpError(`${where}: 'per' must be 'channel' or 'element'`);
      if (size !== want) throw new OpError(`${where}: input ${s.input} has ${size} values, a ${s.per} operand needs ${want}`);
    }
  });
}

/** The chain as a scalar function of (result, channel, flat index), over the node's input tensors. */
export function epilogueCpu(steps: readonly EpilogueStep[], inputs: readonly Tensor[]): (x: number, ch: number, at: number) => number {
  if (steps.length === 0) return (x) => x;
  const fns = steps.map((s): ((v: number[], ch: number, at: number) => number) => {
    const last = (v: number[]) => v[v.length - 1];
    if (s.op in UNARY) {
      const a = unaryAttrs(s.op, s.attrs ?? {});
      const f = UNARY[s.op].cpu;
      return (v) => f(last(v), a);
    }
    const f = BINARY[s.op].cpu;
    const operand =
      s.scalar !== undefined
        ? () => Math.fround(s.scalar!)
        : s.value !== undefined
          ? (v: number[]) => v[s.value!]
          : s.per === 'channel'
            ? (_v: number[], ch: number) => inputs[s.input!].data[ch]
            : (_v: number[], _ch: number, at: number) => inputs[s.input!].data[at];
    return (v, ch, at) => (s.swap ? f(operand(v, ch, at), last(v)) : f(last(v), operand(v, ch, at)));
  });
  return (x, ch, at) => {
    const v = [Math.fround(x)];
    for (const f of fns) v.push(Math.fround(f(v, ch, at))); // f32 after each step, as on the GPU
    return v[v.length - 1];
  };
}

/** Whether the chain reads the channel (`ch`) or the flat index (`at`) of its results: callers skip computing what it does not. */
export function epilogueNeeds(steps: readonly EpilogueStep[]): { channel: boolean; element: boolean } {
  return { channel: steps.some((s) => s.per === 'channel'), element: steps.some((s) => s.per === 'element') };
}

/** The binding name of operand input `i`. */
export const epilogueBuffer = (i: number) => `ep${i}`;

/**
 * WGSL helpers, `fn epilogue1(x: f32, ch: u32, at: u32) -> f32` and `fn epilogue(v: vec4<f32>,
 * ch: vec4<u32>, at: vec4<u32>) -> vec4<f32>` (the same per component) for the chain (the
 * identity when empty). `skipHelpers`: helper functions the kernel declares itself. Operand input i is read from the binding epilogueBuffer(i),
 * stored in `formats(i)` (undefined: float32).
 */
export function epilogueWgsl(steps: readonly EpilogueStep[], formats: (input: number) => FloatFormat | undefined = () => undefined, skipHelpers: readonly string[] = []): string {
  if (steps.length === 0) {
    return 'fn epilogue1(x: f32, ch: u32, at: u32) -> f32 { return x; }\nfn epilogue(v: vec4<f32>, ch: vec4<u32>, at: vec4<u32>) -> vec4<f32> { return v; }';
  }
  const helpers = new Set<string>();
  const body = steps.map((s, i) => {
    const x = `v${i}`;
    if (s.op in UNARY) return `  let v${i + 1} = ${UNARY[s.op].wgsl(x, unaryAttrs(s.op, s.attrs ?? {}))};`;
    const def = BINARY[s.op];
    if (def.helpers && !skipHelpers.includes(def.helpers)) helpers.add(def.helpers);
    const operand =
      s.scalar !== undefined
        ? f32(s.scalar)
        : s.value !== undefined
          ? `v${s.value}`
          : valueAt(epilogueBuffer(s.input!), formats(s.input!), s.per === 'channel' ? 'ch' : 'at');
    const o = `o${i}`;
    return `  let ${o} = ${operand};\n  let v${i + 1} = ${s.swap ? def.wgsl(o, x) : def.wgsl(x, o)};`;
  });
  return `${[...helpers].join('\n')}
fn epilogue1(x: f32, ch: u32, at: u32) -> f32 {
  let v0 = x;
${body.join('\n')}
  return v${steps.length};
}
fn epilogue(v: vec4<f32>, ch: vec4<u32>, at: vec4<u32>) -> vec4<f32> {
  return vec4(epilogue1(v.x, ch.x, at.x), epilogue1(v.y, ch.y, at.y), epilogue1(v.z, ch.z, at.z), epilogue1(v.w, ch.w, at.w));
}`;
}

/** A short description of a chain for `deftnn info`: "HardSwish>Mul(0.42)>Add(-0.08)". */
export function describeEpilogue(steps: readonly EpilogueStep[]): string {
  return steps
    .map((s) => {
      if (s.op in UNARY) return s.op;
      const arg = s.scalar !== undefined ? Number(s.scalar.toPrecision(3)).toString() : s.value !== undefined ? `v${s.value}` : s.per === 'channel' ? 'per-channel' : 'tensor';
      return `${s.op}(${arg})`;
    })
    .join('>');
}
