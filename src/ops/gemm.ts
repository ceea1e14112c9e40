// Gemm and MatMul: the two ONNX matrix products, both on the GEMM core of kernels/gemm.ts.
//   Gemm:   Y = alpha * A' * B' + beta * C     A' = transA ? A^T : A   (A' is [M, K], B' is [K, N])
//           a: [M, K] ([K, M] with transA), b: [K, N] ([N, K] with transB), c: broadcasts
//           unidirectionally to [M, N], y: [M, N]; a fused activation follows.
//   MatMul: numpy's matmul: [..., M, K] x [..., K, N] -> [..., M, N] with broadcast batch dims; a
//           1-D A is [1, K] and a 1-D B is [K, 1], their unit dim dropped from the output.

import { activationFn, gemmKernel, matrixOperand, storeColumns } from '../kernels/gemm.js';
import { bindingDecls, f32, u32 } from '../kernels/wgsl.js';
import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { activationAttr, defineOp, floatAttr, intAttr, OpError, type Activation, type Binding } from './op.js';
import { activationCpu } from './unary.js';

export interface GemmAttrs {
  readonly alpha: number;
  readonly beta: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly activation?: Activation;
}

/** M, K, N of a Gemm from its input shapes, or an OpError naming what does not fit. */
function gemmDims([a, b, c]: readonly Shape[], at: GemmAttrs): { M: number; K: number; N: number; c?: [number, number] } {
  if (a.length !== 2) throw new OpError(`Gemm: input A must be 2-D, got ${shapeStr(a)}`);
  if (b.length !== 2) throw new OpError(`Gemm: input B must be 2-D, got ${shapeStr(b)}`);
  const [M, K] = at.transA ? [a[1], a[0]] : [a[0], a[1]];
  const [Kb, N] = at.transB ? [b[1], b[0]] : [b[0], b[1]];
  if (K !== Kb) throw new OpError(`Gemm: inner dimensions differ: A${at.transA ? '^T' : ''} is ${M}x${K}, B${at.transB ? '^T' : ''} is ${Kb}x${N}`);
  if (!c) return { M, K, N };
  // Unidirectional broadcasting: C's dims, aligned right, are 1 or equal to [M, N].
  const c2 = [...Array(Math.max(0, 2 - c.length)).fill(1), ...c] as number[];
  if (c.length > 2 || (c2[0] !== 1 && c2[0] !== M) || (c2[1] !== 1 && c2[1] !== N)) {
    throw new OpError(`Gemm: input C of shape ${shapeStr(c)} does not broadcast to [${M}, ${N}]`);
  }
  return { M, K, N, c: [c2[0], c2[1]] };
}

export const gemmOp = defineOp<GemmAttrs>({
  type: 'Gemm',
  arity: [2, 3],
  attrs: (raw) => {
    const flag = (name: string) => {
      const v = intAttr(raw, name, 0);
      if (v !== 0 && v !== 1) throw new OpError(`attribute '${name}' must be 0 or 1, got ${v}`);
      return v === 1;
    };
    return {
      alpha: floatAttr(raw, 'alpha', 1),
      beta: floatAttr(raw, 'beta', 1),
      transA: flag('transA'),
      transB: flag('transB'),
      activation: activationAttr(raw),
    };
  },
  shape: (inputs, at) => {
    const { M, N } = gemmDims(inputs, at);
    return [[M, N]];
  },
  cpu: ([a, b, c], at) => {
    const { M, K, N, c: cs } = gemmDims([a.shape, b.shape, c?.shape].filter(Boolean) as Shape[], at);
    const act = activationCpu(at.activation);
    const A = (m: number, k: number) => a.data[at.transA ? k * M + m : m * K + k];
    const B = (k: number, n: number) => b.data[at.transB ? n * K + k : k * N + n];
    const y = new Float32Array(M * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A(m, k) * B(k, n);
        let v = at.alpha * s;
        // beta = 0 drops C (as the kernel does), so a NaN or inf in C does not leak through 0 * C.
        if (c && cs && at.beta !== 0) v += at.beta * c.data[(cs[0] === 1 ? 0 : m) * cs[1] + (cs[1] === 1 ? 0 : n)];
        y[m * N + n] = act(v);
      }
    }
    return [new Tensor([M, N], y)];
  },
  gpu: (inputs, _out, at, ctx) => {
    const { M, K, N, c } = gemmDims(inputs, at);
    const useC = c !== undefined && at.beta !== 0;
    // vec4 runs: A' along k, B' along n, C and Y along n, each where the layout allows it.
    const vecA = !at.transA && K % 4 === 0;
    const vecB = !at.transB && N % 4 === 0;
    const vecC = useC && c[1] === N && N % 4 === 0;
    const vecY = N % 4 === 0;
    const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(useC ? [{ input: 2 }] : []), { output: 0 }];
    const vt = (v: boolean) => (v ? 'vec4<f32>' : 'f32');
    const decls = bindingDecls(bindings, ['a', 'b', ...(useC ? ['c'] : []), 'y'], [vt(vecA), vt(vecB), ...(useC ? [vt(vecC)] : []), vt(vecY)]);
    let v = at.alpha === 1 ? 'acc' : `acc * ${f32(at.alpha)}`;
    if (useC) {
      const beta = at.beta === 1 ? '' : `${f32(at.beta)} * `;
      const row = c[0] === 1 ? '' : `m * ${u32(c[1])}`;
      const cv =
        c[1] === 1
          ? `vec4(c[${row || '0u'}])`
          : vecC
            ? `c[(${row ? `${row} + ` : ''}n) / 4u]`
            : `vec4(${[0, 1, 2, 3].map((i) => `c[${row ? `${row} + ` : ''}min(n + ${u32(i)}, ${u32(N - 1)})]`).join(', ')})`;
      v = `${v} + ${beta}${cv}`;
    }
    const functions = `${decls}
${matrixOperand('A', 'a', at.transA ? { rowStride: 1, colStride: M } : { rowStride: K, colStride: 1, vec4: vecA })}
${matrixOperand('B', 'b', at.transB ? { rowStride: 1, colStride: K } : { rowStride: N, colStride: 1, vec4: vecB })}
${activationFn(at.activation)}
fn store(batch: u32, m: u32, n: u32, acc: vec4<f32>) {
  let v = activate(${v});
${storeColumns('y', 'v', 'n', N, (col) => `m * ${u32(N)} + ${col}`, vecY)}
}`;
    const k = gemmKernel({ M, N, K, functions }, ctx);
    return [{ wgsl: k.wgsl, workgroups: k.workgroups, bindings }];
  },
});

// ---- MatMul ----

interface MatMulDims {
  M: number;
  K: number;
  N: number;
  /** Output batch dims, and each operand's element stride per batch dim (0 where broadcast). */
  batch: number[];
  strideA: number[];
  strideB: number[];
  out: number[];
}

function matmulDims(a: Shape, b: Shape): MatMulDims {
  if (a.length < 1 || b.length < 1) throw new OpError(`MatMul: inputs must have rank >= 1, got ${shapeStr(a)} and ${shapeStr(b)}`);
  const a2 = a.length === 1 ? [1, a[0]] : [...a];
  const b2 = b.length === 1 ? [b[0], 1] : [...b];
  const [M, K] = a2.slice(-2);
  const [Kb, N] = b2.slice(-2);
  if (K !== Kb) throw new OpError(`MatMul: inner dimensions differ: ${shapeStr(a)} x ${shapeStr(b)} (${K} vs ${Kb})`);
  const rank = Math.max(a2.length, b2.length) - 2;
  const pad = (s: number[]) => [...Array(rank - (s.length - 2)).fill(1), ...s.slice(0, -2)];
  const ba = pad(a2);
  const bb = pad(b2);
  const batch = ba.map((d, i) => {
    if (d !== bb[i] && d !== 1 && bb[i] !== 1) throw new OpError(`MatMul: batch dimensions of ${shapeStr(a)} and ${shapeStr(b)} do not broadcast`);
    return Math.max(d, bb[i]);
  });
  const strides = (dims: number[], matrix: number) => {
    const s: number[] = [];
    let acc = matrix;
    for (let i = dims.length - 1; i >= 0; i--) {
      s[i] = dims[i] === 1 ? 0 : acc;
      acc *= dims[i];
    }
    return s;
  };
  const out = [...batch, ...(a.length === 1 ? [] : [M]), ...(b.length === 1 ? [] : [N])];
  return { M, K, N, batch, strideA: strides(ba, M * K), strideB: strides(bb, K * N), out };
}

/** Element offset of batch `bi` (flat over `batch`) for per-dim strides `s`. */
function batchOffset(bi: number, batch: readonly number[], s: readonly number[]): number {
  let off = 0;
  for (let d = batch.length - 1; d >= 0; d--) {
    off += (bi % batch[d]) * s[d];
    bi = Math.floor(bi / batch[d]);
  }
  return off;
}

/** WGSL `fn name(b: u32) -> u32`, batchOffset in the kernel. */
function batchOffsetFn(name: string, batch: readonly number[], s: readonly number[]): string {
  const lines = batch
    .map((d, i) => [d, s[i]] as const)
    .reverse()
    .map(([d, st]) => `  ${st ? `o += r % ${u32(d)} * ${u32(st)}; ` : ''}r = r / ${u32(d)};`);
  return `fn ${name}(b: u32) -> u32 {\n  var r = b;\n  var o = 0u;\n${lines.join('\n')}\n  return o;\n}`;
}

export const matmulOp = defineOp<{ activation?: Activation }>({
  type: 'MatMul',
  arity: [2, 2],
  attrs: (raw) => ({ activation: activationAttr(raw) }),
  shape: ([a, b]) => [matmulDims(a, b).out],
  cpu: ([a, b], at) => {
    const d = matmulDims(a.shape, b.shape);
    const { M, K, N } = d;
    const act = activationCpu(at.activation);
    const batches = sizeOf(d.batch);
    const y = new Float32Array(batches * M * N);
    for (let bi = 0; bi < batches; bi++) {
      const oa = batchOffset(bi, d.batch, d.strideA);
      const ob = batchOffset(bi, d.batch, d.strideB);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += a.data[oa + m * K + k] * b.data[ob + k * N + n];
          y[(bi * M + m) * N + n] = act(s);
        }
      }
    }
    return [new Tensor(d.out, y)];
  },
  gpu: ([a, b], _out, at, ctx) => {
    const d = matmulDims(a, b);
    const { K, N } = d;
    let M = d.M;
    let batches = sizeOf(d.batch);
    let offA = batchOffsetFn('offA', d.batch, d.strideA);
    // A batched A times one shared B is one taller GEMM: fold the batch into M (A's rows and the
    // output's rows are contiguous across batches), which keeps small-M batches efficient.
    if (batches > 1 && d.strideB.every((s) => s === 0) && d.strideA.every((s, i) => s !== 0 || d.batch[i] === 1)) {
      M *= batches;
      batches = 1;
      offA = 'fn offA(b: u32) -> u32 { return 0u; }';
    }
    const vecA = K % 4 === 0;
    const vecB = N % 4 === 0;
    const bindings: Binding[] = [{ input: 0 }, { input: 1 }, { output: 0 }];
    const vt = (v: boolean) => (v ? 'vec4<f32>' : 'f32');
    const functions = `${bindingDecls(bindings, ['a', 'b', 'y'], [vt(vecA), vt(vecB), vt(vecB)])}
${offA}
${batchOffsetFn('offB', d.batch, d.strideB)}
${matrixOperand('A', 'a', { rowStride: K, colStride: 1, batchOffset: (bb) => `offA(${bb})`, vec4: vecA })}
${matrixOperand('B', 'b', { rowStride: N, colStride: 1, batchOffset: (bb) => `offB(${bb})`, vec4: vecB })}
${activationFn(at.activation)}
fn store(batch: u32, m: u32, n: u32, acc: vec4<f32>) {
  let v = activate(acc);
${storeColumns('y', 'v', 'n', N, (col) => `(batch * ${u32(M)} + m) * ${u32(N)} + ${col}`, vecB)}
}`;
    const k = gemmKernel({ M, N, K, batches, functions }, ctx);
    return [{ wgsl: k.wgsl, workgroups: k.workgroups, bindings }];
  },
});

export const gemmOps = [gemmOp, matmulOp];
