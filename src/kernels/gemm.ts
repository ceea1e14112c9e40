// The GEMM core shared by Conv (as an implicit GEMM), Gemm and MatMul.
//
// What it computes: for each batch b < batches (batched MatMul, or the groups of a grouped conv),
//   O[b][m, n] = sum_k A[b][m, k] * B[b][k, n]          m < M, n < N, k < K
// The core knows nothing about where A, B and O live. The op supplies WGSL functions:
//   fn rowA(b: u32, m: u32) -> TA          what loadA needs of row m (e.g. its offset)
//   fn loadA(k: u32, r: TA) -> vec4<f32>   A[b][m, k..k+3]   (a run along K)
//   fn colB(b: u32, n: u32) -> TB          what loadB needs of columns n..n+3 (e.g. their offsets)
//   fn loadB(k: u32, c: TB) -> vec4<f32>   B[b][k, n..n+3]   (a run along N)
//   fn store(b: u32, m: u32, n: u32, acc: vec4<f32>)   the epilogue for O[b][m, n..n+3]
// Fused elementwise chains are the op's business too: the op layer generates them from each op's
// own expression (ops/epilogue.ts) and calls them in its store; this file imports no op.
// (TA, TB are the op's choice: u32, a vector, a struct.) The reduction loop reads each operand
// only through loadA/loadB; that is the seam for later work: a conv's loadB can gather its rows
// through a table of kept (c, ky, kx) offsets (synapse vector elimination), and a loader may read
// packed 32-bit words and split them into f32 in registers (data fission).
// Why rowA/colB: everything that depends only on the row or the columns is computed once per
// invocation, outside the K loop. llvmpipe's LLVM pipeline has no loop-invariant code motion, so
// what a loader recomputes per k really is recomputed (a conv's column -> (n, oy, ox) divisions
// made its kernel 1.5x slower than a plain GEMM of the same size; dev/gemm-conv-probe.ts).
//
// Contracts. loadA is called only with m < M, k < K, k % 4 == 0; components past K are never
// used. loadB only with k < K, n < N, n % 4 == 0; components past N reach only outputs that are
// never stored. So loaders need no bounds checks of their own, except that they must not read
// outside their buffer for components past the end (WebGPU's robust access makes that safe
// anyway). store is called with m < M, n < N, n % 4 == 0, and must skip the components >= N.
//
// Tiling. Each invocation computes a block of RM rows x 4 columns (RM vec4 accumulators). A
// workgroup of WX x WY invocations covers a tile of WY*RM rows x WX*4 columns; tiles are numbered
// column tile fastest, then row tile, then batch, and spread over a 2-D grid when there are more
// than the per-dimension limit. Per step of 4 along K an invocation takes 4 vec4 rows of B and RM
// vec4 runs of A and does 16*RM multiply-adds, all as vec4 fma.
//
// Two ways to feed the reduction loop (GemmTiling.staging):
//  - 'workgroup': the classic GPU scheme. The workgroup cooperatively copies a TK-deep slice of
//    the A tile ([WY*RM][TK/4] vec4, k fastest) and of the B tile ([TK][WX] vec4, n fastest) into
//    workgroup memory through the loaders, synchronises, and every invocation reads its operands
//    from there: each value is fetched from global memory once per workgroup instead of once per
//    invocation. Zero-filled past K and clamped past M/N, so any shape works.
//  - 'registers': every invocation calls the loaders itself, straight into registers. On CPU
//    adapters (lavapipe, SwiftShader) workgroup memory is ordinary memory, the caches already give
//    the reuse, and the copy plus the barriers only cost: dev/gemm-sweep.ts measured this variant
//    at about twice the speed of the workgroup-tiled one (and of tfjs) on llvmpipe.
// chooseTiling picks 'registers' only for software adapters (KernelContext.softwareAdapter).
//
// Packed operands (near-compute data fission, design notes 4.2; GemmSpec.packedA/packedB): the
// loaders of an operand stored in a packed float format (src/formats) also provide
//   fn loadWordsA(k: u32, r: TA) -> runType(f)   the packed words of A[b][m, k..k+3]
//   fn loadWordsB(k: u32, c: TB) -> runType(f)   the packed words of B[b][k, n..n+3]
// with loadA == split_run_<f>(loadWordsA) (likewise B). With 'workgroup' staging and
// KernelContext.fission 'compute' (the default), that operand's tile holds these words (2x or 4x
// less workgroup memory and traffic) and the compute loop splits each run into vec4<f32> in
// registers right before its multiply-adds; with fission 'load' the tile holds f32 (split at the
// global load), which is the variant to measure against. 'registers' staging calls loadA/loadB,
// i.e. splits right before the math anyway. Formats whose lanes do not divide 4 have no run type:
// their operands are split at the load.

import type { FloatFormat } from '../formats/format.js';
import { runType } from '../formats/wgsl.js';
import type { KernelContext } from './context.js';
import { u32 } from './wgsl.js';

export interface GemmSpec {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** Independent GEMMs of this shape (batched MatMul, conv groups); default 1. */
  readonly batches?: number;
  /** WGSL: bindings, constants and helpers, then rowA, loadA, colB, loadB and store (see header). */
  readonly functions: string;
  /** The format A is stored packed in: `functions` then also has loadWordsA and formatWgsl(f) (see header). */
  readonly packedA?: FloatFormat;
  /** Likewise for B (loadWordsB). */
  readonly packedB?: FloatFormat;
}

export interface GemmTiling {
  readonly staging: 'workgroup' | 'registers';
  /** Invocations along N (each covers 4 columns) and along M (each covers rm rows). */
  readonly wx: number;
  readonly wy: number;
  /** Rows of the register block of one invocation. */
  readonly rm: number;
  /** Depth of the K slice staged in workgroup memory ('workgroup' only; a multiple of 4). */
  readonly tk: number;
}

export interface GemmKernel {
  readonly wgsl: string;
  readonly workgroups: [number, number, number];
}

const pow2AtLeast = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/** Tile sizes for a GEMM with M rows on this device (see the header for the two stagings). */
export function chooseTiling(M: number, ctx: KernelContext): GemmTiling {
  // Fewer rows per invocation when M is small, so that a GEMV-like GEMM (M = 1) does not compute
  // rows of nothing.
  if (ctx.softwareAdapter) {
    // On llvmpipe 8x4 and 4x4 blocks run at about the same speed (dev/gemm-sweep.ts), 8 rows a
    // little better on large GEMMs, whose data does not fit in cache (bench/kernels.ts at 1024),
    // but 8 rows take 2-3x longer to compile (dev/gemm-rm.ts): 8 only for tall GEMMs. wx = 8
    // matches llvmpipe's 8-wide invocation vectors, so the 8 lanes share their rows.
    const rm = Math.min(M >= 64 ? 8 : 4, pow2AtLeast(M));
    return { staging: 'registers', wx: 8, wy: Math.min(8, pow2AtLeast(Math.ceil(M / rm))), rm, tk: 0 };
  }
  const rm = Math.min(4, pow2AtLeast(M));
  let wx = 16;
  let wy = Math.min(16, pow2AtLeast(Math.ceil(M / rm)));
  while (wx * wy > ctx.maxComputeInvocationsPerWorkgroup) {
    if (wx >= wy) wx /= 2;
    else wy /= 2;
  }
  let tk = 32;
  while (tk > 4 && (wy * rm * tk + tk * wx * 4) * 4 > ctx.maxComputeWorkgroupStorageSize) tk /= 2;
  return { staging: 'workgroup', wx, wy, rm, tk };
}

/** The complete kernel for `spec`: WGSL with entry point `main`, and its dispatch size. */
export function gemmKernel(spec: GemmSpec, ctx: KernelContext, tiling: GemmTiling = chooseTiling(spec.M, ctx)): GemmKernel {
  const { M, N, K } = spec;
  const batches = spec.batches ?? 1;
  if (M < 1 || N < 1 || K < 1 || batches < 1) throw new RangeError(`empty GEMM ${M}x${N}x${K}x${batches}`);
  const { wx, wy, rm } = tiling;
  const colTiles = Math.ceil(N / (4 * wx));
  const rowTiles = Math.ceil(M / (wy * rm));
  const tiles = colTiles * rowTiles * batches;
  const max = ctx.maxComputeWorkgroupsPerDimension;
  const gx = Math.min(tiles, max);
  const gy = Math.ceil(tiles / gx);
  if (gy > max) throw new RangeError(`GEMM ${M}x${N}x${K}x${batches} needs more workgroups than this adapter allows`);
  const rows = Array.from({ length: rm }, (_, r) => r);
  const lastRow = u32(M - 1);
  const lastVec = u32((Math.ceil(N / 4) - 1) * 4); // start of the last run of 4 columns
  // The K loop's bound is hidden behind a runtime value (a dispatch never has 0 workgroups in z):
  // with a constant bound, lavapipe's compiler fully unrolls short K loops, and each unrolled copy
  // of an 8-row body costs seconds of compile time (dev/gemm-rm.ts) for no measurable speed.
  const kEnd = (bound: string) => `select(${bound}, 0u, nwg.z == 0u)`;
  const fma = (r: number, j: number) => `acc${r} = fma(b${j}, vec4(a${r}.${'xyzw'[j]}), acc${r});`;

  // Workgroup-uniform tile coordinates, then this invocation's block: rows m0.., columns n0..n0+3.
  // With one batch, `batch` is a constant, so that loaders fold their batch terms away.
  const prologue = `  let tile = wid.x + wid.y * ${u32(gx)};
  if (tile >= ${u32(tiles)}) { return; }
  let batch = ${batches === 1 ? '0u' : `tile / ${u32(colTiles * rowTiles)}`};
  let m0 = ((tile / ${u32(colTiles)}) % ${u32(rowTiles)} * ${u32(wy)} + lid.y) * ${u32(rm)};
  let n0 = (tile % ${u32(colTiles)} * ${u32(wx)} + lid.x) * 4u;
${rows.map((r) => `  var acc${r} = vec4<f32>();`).join('\n')}`;
  const mustCheckM = M % (wy * rm) !== 0;
  const mustCheckN = N % (wx * 4) !== 0;

  let loop: string;
  let shared = '';
  if (tiling.staging === 'registers') {
    // One step of `depth` (<= 4) k's from k: B rows, then each row's A run and its multiply-adds.
    const step = (k: string, depth: number) =>
      [
        ...Array.from({ length: depth }, (_, j) => `    let b${j} = loadB(${k}${j ? ` + ${u32(j)}` : ''}, cb);`),
        ...rows.flatMap((r) => [`    let a${r} = loadA(${k}, ra${r});`, ...Array.from({ length: depth }, (_, j) => `    ${fma(r, j)}`)]),
      ].join('\n');
    const k4 = K - (K % 4);
    // Rows past M read row M-1 (in bounds, never stored), so the loop needs no row checks.
    const row = (r: number) => (mustCheckM ? `min(m0 + ${u32(r)}, ${lastRow})` : `m0 + ${u32(r)}`);
    loop = `  if (m0 >= ${u32(M)} || n0 >= ${u32(N)}) { return; }
${rows.map((r) => `  let ra${r} = rowA(batch, ${row(r)});`).join('\n')}
  let cb = colB(batch, n0);
  for (var k = 0u; k < ${kEnd(u32(k4))}; k += 4u) {
${step('k', 4)}
  }
${K % 4 ? `  {\n${step(u32(k4), K % 4)}\n  }` : ''}`;
  } else {
    const { tk } = tiling;
    const nt = wx * wy;
    const tm = wy * rm;
    const kv = tk / 4; // vec4 columns of the A slice
    // Near-compute fission: a packed operand's tile keeps its words (see the header).
    const near = (f: FloatFormat | undefined) => (f && ctx.fission !== 'load' && runType(f) ? f : undefined);
    const fa = near(spec.packedA);
    const fb = near(spec.packedB);
    const tA = fa ? runType(fa)! : 'vec4<f32>';
    const tB = fb ? runType(fb)! : 'vec4<f32>';
    shared = `var<workgroup> tileA: array<${tA}, ${tm * kv}>; // [${tm} rows][${kv} runs of 4 along k]${fa ? ` (${fa.name} words)` : ''}
var<workgroup> tileB: array<${tB}, ${tk * wx}>; // [${tk} k][${wx} runs of 4 along n]${fb ? ` (${fb.name} words)` : ''}
`;
    const kGuard = K % tk !== 0;
    // Components of A past K must be zero here: unlike in 'registers', the slice is multiplied
    // whole (packed: code 0, which is +0 in every format).
    const readA = `load${fa ? 'Words' : ''}A(k, rowA(batch, min(tm0 + e / ${u32(kv)}, ${lastRow})))`;
    const maskedA = !(K % 4) ? readA : fa ? `mask_run_${fa.name}(${readA}, ${u32(K)} - k)` : `select(vec4<f32>(), ${readA}, vec4(k) + vec4(0u, 1u, 2u, 3u) < vec4(${u32(K)}))`;
    const readB = `load${fb ? 'Words' : ''}B(k, colB(batch, min(tn0 + e % ${u32(wx)} * 4u, ${lastVec})))`;
    const fill = (tile: string, type: string, read: string) =>
      kGuard ? `var v = ${type}();\n      if (k < ${u32(K)}) { v = ${read}; }\n      ${tile}[e] = v;` : `${tile}[e] = ${read};`;
    const split = (f: FloatFormat | undefined, x: string) => (f ? `split_run_${f.name}(${x})` : x);
    loop = `  let li = lid.y * ${u32(wx)} + lid.x;
  let tm0 = m0 - lid.y * ${u32(rm)};
  let tn0 = n0 - lid.x * 4u;
  for (var k0 = 0u; k0 < ${kEnd(u32(K))}; k0 += ${u32(tk)}) {
    for (var e = li; e < ${u32(tm * kv)}; e += ${u32(nt)}) {
      let k = k0 + e % ${u32(kv)} * 4u;
      ${fill('tileA', tA, maskedA)}
    }
    for (var e = li; e < ${u32(tk * wx)}; e += ${u32(nt)}) {
      let k = k0 + e / ${u32(wx)};
      ${fill('tileB', tB, readB)}
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${u32(kv)}; kk++) {
${[0, 1, 2, 3].map((j) => `      let b${j} = ${split(fb, `tileB[(kk * 4u + ${u32(j)}) * ${u32(wx)} + lid.x]`)};`).join('\n')}
${rows.map((r) => `      let a${r} = ${split(fa, `tileA[(lid.y * ${u32(rm)} + ${u32(r)}) * ${u32(kv)} + kk]`)};\n${[0, 1, 2, 3].map((j) => `      ${fma(r, j)}`).join('\n')}`).join('\n')}
    }
    workgroupBarrier();
  }`;
  }
  const stores = rows
    .map((r) => {
      const conds = [mustCheckM ? `m0 + ${u32(r)} < ${u32(M)}` : '', tiling.staging === 'workgroup' && mustCheckN ? `n0 < ${u32(N)}` : ''].filter(Boolean);
      const call = `store(batch, m0 + ${u32(r)}, n0, acc${r});`;
      return conds.length ? `  if (${conds.join(' && ')}) { ${call} }` : `  ${call}`;
    })
    .join('\n');

  const wgsl = `${spec.functions}
${shared}
// GEMM ${M}x${N}x${K} x${batches}: ${tiling.staging}, ${wx}x${wy} invocations of ${rm}x4${tiling.staging === 'workgroup' ? `, K slices of ${tiling.tk}` : ''}
@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
${prologue}
${loop}
${stores}
}`;
  return { wgsl, workgroups: [gx, gy, 1] };
}

// ---- helpers for ops: loaders, epilogue pieces ----

/**
 * The two functions of an operand that is a strided matrix in the flat buffer `buf`. As A
 * (rowA, loadA), element (m, k) of batch b sits at batchOffset(b) + m*rowStride + k*colStride; as
 * B (colB, loadB), element (k, n) sits at batchOffset(b) + k*rowStride + n*colStride. Runs of 4 go
 * along the second index. With `vec4`, `buf` is declared array<vec4<f32>> and a run is one
 * aligned vec4 load (the caller checks colStride == 1 and that 4 divides rowStride and the batch
 * offsets); otherwise it is four f32 loads.
 */
export function matrixOperand(
  side: 'A' | 'B',
  buf: string,
  o: { rowStride: number; colStride: number; batchOffset?: (b: string) => string; vec4?: boolean },
): string {
  if (o.vec4 && (o.colStride !== 1 || o.rowStride % 4)) throw new RangeError('matrixOperand: a vec4 run needs colStride 1 and 4 | rowStride');
  const terms = (...t: string[]) => t.filter(Boolean).join(' + ') || '0u';
  const batch = o.batchOffset?.('batch') ?? '';
  const step = (x: string, s: number) => (s === 1 ? x : `${x} * ${u32(s)}`);
  const run = (at: string) =>
    o.vec4
      ? `${buf}[(${at}) / 4u]`
      : `vec4(${[0, 1, 2, 3].map((q) => `${buf}[${q ? `${at} + ${u32(q * o.colStride)}` : at}]`).join(', ')})`;
  if (side === 'A') {
    // The row's offset is fixed per invocation; each k adds its column offset.
    return `fn rowA(batch: u32, m: u32) -> u32 { return ${terms(batch, step('m', o.rowStride))}; }
fn loadA(k: u32, r: u32) -> vec4<f32> { let at = r + ${step('k', o.colStride)}; return ${run('at')}; }`;
  }
  return `fn colB(batch: u32, n: u32) -> u32 { return ${terms(batch, step('n', o.colStride))}; }
fn loadB(k: u32, c: u32) -> vec4<f32> { let at = c + ${step('k', o.rowStride)}; return ${run('at')}; }`;
}

/**
 * Statements writing the vec4 `v` of columns n..n+3 (n % 4 == 0) to `buf`, where column c of the
 * current row goes to flat index `index(c)`: one vec4 store when `vec4` (buf is array<vec4<f32>>
 * and index(n) is a multiple of 4 with the next three contiguous), else one f32 store per column
 * below N.
 */
export function storeColumns(buf: string, v: string, n: string, N: number, index: (c: string) => string, vec4: boolean): string {
  if (vec4) return `  ${buf}[(${index(n)}) / 4u] = ${v};`;
  return [0, 1, 2, 3]
    .map((i) => {
      const c = i ? `${n} + ${u32(i)}` : n;
      const st = `${buf}[${index(`(${c})`)}] = ${v}.${'xyzw'[i]};`;
      return i === 0 || N % 4 === 0 ? `  ${st}` : `  if (${c} < ${u32(N)}) { ${st} }`;
    })
    .join('\n');
}
