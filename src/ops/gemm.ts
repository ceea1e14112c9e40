// Gemm and MatMul: the two ONNX matrix products, both on the GEMM core of kernels/gemm.ts.
//   Gemm:   Y = alpha * A' * B' + beta * C     A' = transA ? A^T : A   (A' is [M, K], B' is [K, N])
//           a: [M, K] ([K, M] with transA), b: [K, N] ([N, K] with transB), c: broadcasts
//           unidirectionally to [M, N], y: [M, N]; a fused activation follows.
//   MatMul: numpy's matmul: [..., M, K] x [..., K, N] -> [..., M, N] with broadcast batch dims; a
//           1-D A is [1, K] and a 1-D B is [K, 1], their unit dim dropped from the output.
// Compacted Gemm (synapse vector elimination, design notes 4.1): with the attribute `kept_rows`
// (sorted, distinct indices into A's K dimension), A keeps its full K (it is the layer's input) and
// B holds only the kept rows: b is [K', N] ([N, K'] with transB), K' = kept_rows.length, its row j
// being the weights of A's column kept_rows[j]. Y = alpha * A'[:, kept] * B' + beta * C: the dense
// Gemm whose B has zeros in the other rows. On WebGPU loadA reads A through a table of the kept
// columns' offsets, so the GEMM's K is K'.
// Backward: both as Gemm/MatMul nodes with the right trans flags (see their `grad`); a fused
// activation is refused. A compacted Gemm's backward gathers A' = A[:, kept] once (a MatMul by a
// selection matrix) and scatters dA' back the same way.

import type { FloatFormat } from '../formats/format.js';
import { formatsWgsl, gatherOperand, packedMatrixOperand, packedStoreColumns, runType, storageType, valueAt } from '../formats/wgsl.js';
import { gemmKernel, matrixOperand, storeColumns } from '../kernels/gemm.js';
import { bindingDecls, f32, u32 } from '../kernels/wgsl.js';
import { shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';
import { keptRowsAttr, tableDecl } from './conv.js';
import { activationAttr, defineOp, floatAttr, intAttr, OpError, type Activation, type GradContext } from './op.js';
import { type Binding } from '../kernels/context.js';
import { activationCpu } from './unary.js';
import { epilogueWgsl } from './epilogue.js';

/** A Gemm's or MatMul's chain: its fused activation alone. */
const epilogueOf = (act: Activation | undefined) => (act ? [{ op: act.op, attrs: act.attrs }] : []);

export interface GemmAttrs {
  readonly alpha: number;
  readonly beta: number;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly activation?: Activation;
  /** Compacted Gemm: the kept columns of A (see the header); B then has kept.length rows. */
  readonly kept?: readonly number[];
}

/** M, K, N of a Gemm (K = K' for a compacted one; KA = A's own K) from its input shapes, or an OpError naming what does not fit. */
function gemmDims([a, b, c]: readonly Shape[], at: GemmAttrs): { M: number; K: number; KA: number; N: number; c?: [number, number] } {
  if (a.length !== 2) throw new OpError(`Gemm: input A must be 2-D, got ${shapeStr(a)}`);
  if (b.length !== 2) throw new OpError(`Gemm: input B must be 2-D, got ${shapeStr(b)}`);
  const [M, K] = at.transA ? [a[1], a[0]] : [a[0], a[1]];
  const [Kb, N] = at.transB ? [b[1], b[0]] : [b[0], b[1]];
  if (at.kept) {
    const last = at.kept[at.kept.length - 1];
    if (last >= K) throw new OpError(`Gemm: attribute 'kept_rows' has row ${last}, out of range for A's K = ${K}`);
    if (Kb !== at.kept.length) throw new OpError(`Gemm: compacted B${at.transB ? '^T' : ''} must have ${at.kept.length} rows (one per kept row), got ${Kb}x${N}`);
  } else if (K !== Kb) throw new OpError(`Gemm: inner dimensions differ: A${at.transA ? '^T' : ''} is ${M}x${K}, B${at.transB ? '^T' : ''} is ${Kb}x${N}`);
  const dims = { M, K: Kb, KA: K, N };
  if (!c) return dims;
  // Unidirectional broadcasting: C's dims, aligned right, are 1 or equal to [M, N].
  const c2 = [...Array(Math.max(0, 2 - c.length)).fill(1), ...c] as number[];
  if (c.length > 2 || (c2[0] !== 1 && c2[0] !== M) || (c2[1] !== 1 && c2[1] !== N)) {
    throw new OpError(`Gemm: input C of shape ${shapeStr(c)} does not broadcast to [${M}, ${N}]`);
  }
  return { ...dims, c: [c2[0], c2[1]] };
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
      ...(raw.kept_rows === undefined ? {} : { kept: keptRowsAttr(raw, 'Gemm') }),
    };
  },
  shape: (inputs, at) => {
    const { M, N } = gemmDims(inputs, at);
    return [[M, N]];
  },
  cpu: ([a, b, c], at) => {
    const { M, K, KA, N, c: cs } = gemmDims([a.shape, b.shape, c?.shape].filter(Boolean) as Shape[], at);
    const act = activationCpu(at.activation);
    const kept = at.kept;
    // Compacted: the product's k is B's row; A's column is kept[k].
    const col = kept ? (k: number) => kept[k] : (k: number) => k;
    const A = (m: number, k: number) => a.data[at.transA ? col(k) * M + m : m * KA + col(k)];
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
  gpu: (inputs, _out, at, ctx, formats) => {
    const { M, K, KA, N, c } = gemmDims(inputs, at);
    const useC = c !== undefined && at.beta !== 0;
    // Values stored packed (data fission); fp32 is plain float32.
    const p = (f: FloatFormat | undefined) => (f && f.bits < 32 ? f : undefined);
    const [fa, fb, fc] = [0, 1, 2].map((i) => p(formats?.inputs[i]));
    const fy = p(formats?.outputs[0]);
    const runs = (f: FloatFormat | undefined) => !f || runType(f) !== null;
    // vec4 runs (or whole packed words): A' along k, B' along n, C and Y along n, each where the
    // layout allows it. Every row kept (K' = K): the plain Gemm, no table.
    const kept = at.kept && K < KA ? at.kept : undefined;
    const vecA = !at.transA && K % 4 === 0 && !kept && runs(fa);
    const vecB = !at.transB && N % 4 === 0 && runs(fb);
    const vecC = useC && c[1] === N && N % 4 === 0 && !fc;
    const vecY = N % 4 === 0;
    const bindings: Binding[] = [{ input: 0 }, { input: 1 }, ...(useC ? [{ input: 2 }] : []), { output: 0 }];
    const vt = (f: FloatFormat | undefined, v: boolean) => storageType(f, v ? 'vec4<f32>' : 'f32');
    let decls = bindingDecls(bindings, ['a', 'b', ...(useC ? ['c'] : []), 'y'], [vt(fa, vecA), vt(fb, vecB), ...(useC ? [vt(fc, vecC)] : []), vt(fy, vecY)]);
    decls += `\n${formatsWgsl([fa, fb, ...(useC ? [fc] : []), fy])}`;
    const aLayout = at.transA ? { rowStride: 1, colStride: M } : { rowStride: KA, colStride: 1 };
    let operandA = fa ? packedMatrixOperand('A', 'a', fa, { ...aLayout, aligned: vecA }) : matrixOperand('A', 'a', { ...aLayout, vec4: vecA });
    if (kept) {
      // Compacted: A[m, k..k+3] of the product are A's columns kept[k..k+3]: a table of their
      // offsets (kept * colStride), four table reads and four loads per run; padded to whole vec4s
      // with column 0 (in bounds, and the core never uses components past K).
      const stride = at.transA ? M : 1;
      const words = new Uint32Array(Math.ceil(K / 4) * 4);
      kept.forEach((k, j) => (words[j] = k * stride));
      decls += `\n${tableDecl('kt', words, bindings, ctx)}`;
      operandA = `fn rowA(batch: u32, m: u32) -> u32 { return m${at.transA ? '' : ` * ${u32(KA)}`}; }
${gatherOperand('A', 'a', fa, 'u32', '  let at = vec4(r) + vec4(kt[k], kt[k + 1u], kt[k + 2u], kt[k + 3u]);')}`;
    }
    let v = at.alpha === 1 ? 'acc' : `acc * ${f32(at.alpha)}`;
    if (useC) {
      const beta = at.beta === 1 ? '' : `${f32(at.beta)} * `;
      const row = c[0] === 1 ? '' : `m * ${u32(c[1])}`;
      const cv =
        c[1] === 1
          ? `vec4(${valueAt('c', fc, row || '0u')})`
          : vecC
            ? `c[(${row ? `${row} + ` : ''}n) / 4u]`
            : `vec4(${[0, 1, 2, 3].map((i) => valueAt('c', fc, `${row ? `${row} + ` : ''}min(n + ${u32(i)}, ${u32(N - 1)})`)).join(', ')})`;
      v = `${v} + ${beta}${cv}`;
    }
    const bLayout = at.transB ? { rowStride: 1, colStride: K } : { rowStride: N, colStride: 1 };
    const yIndex = (col: string) => `m * ${u32(N)} + ${col}`;
    const functions = `${decls}
${operandA}
${fb ? packedMatrixOperand('B', 'b', fb, { ...bLayout, aligned: vecB }) : matrixOperand('B', 'b', { ...bLayout, vec4: vecB })}
${epilogueWgsl(epilogueOf(at.activation))}
fn store(batch: u32, m: u32, n: u32, acc: vec4<f32>) {
  let v = epilogue(${v}, vec4<u32>(), vec4<u32>());
${fy ? packedStoreColumns('y', 'v', 'n', yIndex, fy, N) : storeColumns('y', 'v', 'n', N, yIndex, vecY)}
}`;
    const k = gemmKernel({ M, N, K, functions, packedA: fa, packedB: fb }, ctx);
    return [{ wgsl: k.wgsl, workgroups: k.workgroups, bindings }];
  },
  // Data fission: A, B and C may be packed, and Y packed on store where each invocation owns
  // whole words of it (rows of a whole number of words).
  packed: {
    inputs: [0, 1, 2],
    output: (inputs, _out, at, f) => {
      const { N } = gemmDims(inputs, at);
      if (4 % f.lanes) return `${f.name} packs ${f.lanes} values per word, which does not divide a run of 4`;
      return N % f.lanes ? `an output row of ${N} values is not a whole number of ${f.name} words (${f.lanes} per word)` : null;
    },
  },
  // With A' = op(A), B' = op(B) and G the output's gradient: dA' = alpha·G·B'^T, dB' = alpha·A'^T·G,
  // each one Gemm whose trans flags also undo op(); dC = beta·G summed down to C's shape.
  grad: (g) => {
    const at = g.attrs;
    refuseFused('Gemm', at.activation);
    let [a, b] = g.inputs;
    let transA = at.transA;
    const gy = g.gradOutputs[0]!;
    const flag = (v: boolean) => (v ? 1 : 0);
    const alpha = at.alpha === 1 ? {} : { alpha: at.alpha };
    // Compacted: the product is the dense Gemm of A' = op(A)·S^T ([M, K'], S the [K', K] selection
    // matrix, S[j, kept[j]] = 1) and B. Differentiate that with A' in place of A (no transA), and
    // map dA' back: dA = dA'·S (then transposed for transA). B's gradient has only its K' rows.
    let select: ((t: boolean) => string) | undefined;
    if (at.kept) {
      const kept = at.kept;
      const K = g.inputShapes[0][transA ? 0 : 1];
      select = (t) => {
        const s = new Float32Array(kept.length * K);
        kept.forEach((k, j) => (s[t ? k * kept.length + j : j * K + k] = 1));
        return g.constant(new Tensor(t ? [K, kept.length] : [kept.length, K], s));
      };
      a = g.emit('MatMul', [transA ? g.emit('Transpose', [a], { perm: [1, 0] }) : a, select(true)]);
      transA = false;
    }
    let ga: string | undefined;
    let gb: string | undefined;
    let gc: string | undefined;
    if (g.wants[0]) {
      // transA: dA = (dA')^T = alpha·B'·G^T; else alpha·G·B'^T.
      ga = transA ? g.emit('Gemm', [b, gy], { ...alpha, transA: flag(at.transB), transB: 1 }) : g.emit('Gemm', [gy, b], { ...alpha, transB: flag(!at.transB) });
      if (select) {
        ga = g.emit('MatMul', [ga, select(false)]);
        if (at.transA) ga = g.emit('Transpose', [ga], { perm: [1, 0] });
      }
    }
    if (g.wants[1]) {
      // transB: dB = (dB')^T = alpha·G^T·A'; else alpha·A'^T·G.
      gb = at.transB ? g.emit('Gemm', [gy, a], { ...alpha, transA: 1, transB: flag(transA) }) : g.emit('Gemm', [a, gy], { ...alpha, transA: flag(!transA) });
    }
    if (g.inputs.length > 2 && g.wants[2] && at.beta !== 0) {
      const summed = g.sumTo(gy, g.outputShapes[0], g.inputShapes[2]);
      gc = at.beta === 1 ? summed : g.emit('Mul', [summed, g.constant(new Tensor([], [at.beta]))]);
    }
    return [ga, gb, gc];
  },
});

/**
 * A fused activation cannot be differentiated: the node keeps only the activated output, and
 * recomputing the pre-activation would cost a second product. Training graphs are built from
 * unfused graphs (fusion is an inference pass), so the trainer never meets one.
 */
function refuseFused(op: string, act: Activation | undefined): void {
  if (act) {
    throw new OpError(
      `${op}: cannot differentiate a fused activation (${act.op}): the node keeps only the activated output. ` +
        'Train the graph before activations are fused (fusion is an inference pass)',
    );
  }
}

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
${epilogueWgsl(epilogueOf(at.activation))}
fn store(batch: u32, m: u32, n: u32, acc: vec4<f32>) {
  let v = epilogue(acc, vec4<u32>(), vec4<u32>());
${storeColumns('y', 'v', 'n', N, (col) => `(batch * ${u32(M)} + m) * ${u32(N)} + ${col}`, vecB)}
}`;
    const k = gemmKernel({ M, N, K, batches, functions }, ctx);
    return [{ wgsl: k.wgsl, workgroups: k.workgroups, bindings }];
  },
  grad: matmulGrad,
});

/**
 * MatMul's backward: dA = G·B^T and dB = A^T·G per batch, summed over the batch dims that
 * broadcasting expanded. 1-D operands are first reshaped to their matrix forms ([1, K], [K, 1]) and
 * G to [...batch, M, N], and the gradients reshaped back. Where B (or both) are plain matrices,
 * the products are 2-D Gemms with trans flags over the batch folded into rows (no Transpose);
 * otherwise the last two dims are swapped by a Transpose and the product is a batched MatMul.
 */
function matmulGrad(g: GradContext<{ activation?: Activation }>): (string | undefined)[] {
  refuseFused('MatMul', g.attrs.activation);
  const [a, b] = g.inputs;
  const [as, bs] = g.inputShapes;
  const d = matmulDims(as, bs);
  const { M, K, N } = d;
  const a2s = as.length === 1 ? [1, K] : [...as];
  const b2s = bs.length === 1 ? [K, 1] : [...bs];
  const same = (x: Shape, y: Shape) => x.length === y.length && x.every((v, i) => v === y[i]);
  const reshape = (v: string, from: Shape, to: Shape) => (same(from, to) ? v : g.emit('Reshape', [v], { shape: [...to] }));
  const swapLast = (v: string, rank: number) => g.emit('Transpose', [v], { perm: [...Array(rank - 2).keys(), rank - 1, rank - 2] });
  const a2 = reshape(a, as, a2s);
  const b2 = reshape(b, bs, b2s);
  const gy = reshape(g.gradOutputs[0]!, d.out, [...d.batch, M, N]);
  const rows = sizeOf(d.batch) * M; // A's rows over all batches, when B is one matrix
  let ga: string | undefined;
  let gb: string | undefined;
  if (g.wants[0]) {
    let t: string;
    if (b2s.length === 2) {
      // B is shared: [batch*M, N] x B^T, and A has every batch dim (nothing to sum).
      t = reshape(g.emit('Gemm', [reshape(gy, [...d.batch, M, N], [rows, N]), b2], { transB: 1 }), [rows, K], a2s);
    } else t = g.sumTo(g.emit('MatMul', [gy, swapLast(b2, b2s.length)]), [...d.batch, M, K], a2s);
    ga = reshape(t, a2s, as);
  }
  if (g.wants[1]) {
    let t: string;
    if (b2s.length === 2) {
      // Sum over the batches of A_b^T G_b = (A as [batch*M, K])^T x (G as [batch*M, N]).
      t = g.emit('Gemm', [reshape(a2, a2s, [rows, K]), reshape(gy, [...d.batch, M, N], [rows, N])], { transA: 1 });
    } else t = g.sumTo(g.emit('MatMul', [swapLast(a2, a2s.length), gy]), [...d.batch, K, N], b2s);
    gb = reshape(t, b2s, bs);
  }
  return [ga, gb];
}

export const gemmOps = [gemmOp, matmulOp];
