// Sweep of raw GEMM kernel structures on 512^3 (row-major A [M,K], B [K,N]) against tfjs.
import { gpu, tf, rand, timeWgsl, timeTf, median } from './gemm-harness.js';

const M = +(process.env.M ?? 512), N = M, K = M;

interface V { name: string; wgsl: string; wg: [number, number, number] }

// Shared-memory tiled: workgroup (WX, WY), each thread RM rows x (4*CV) cols, K tile TK.
function shared(WX: number, WY: number, RM: number, CV: number, TK: number): V {
  const TM = WY * RM, TN = WX * CV * 4;
  const nthreads = WX * WY;
  const aLoads = (TM * TK) / 4 / nthreads; // vec4 loads of A per thread
  const bLoads = (TK * TN) / 4 / nthreads;
  const wgsl = `
@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4<f32>>;
var<workgroup> As: array<vec4<f32>, ${(TM * TK) / 4}>; // [TM][TK/4]
var<workgroup> Bs: array<vec4<f32>, ${(TK * TN) / 4}>; // [TK][TN/4]
@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * ${TM}u; let n0 = wid.x * ${TN}u;
  var acc: array<array<vec4<f32>, ${CV}>, ${RM}>;
  for (var k0 = 0u; k0 < ${K}u; k0 += ${TK}u) {
    for (var i = 0u; i < ${aLoads}u; i++) {
      let e = li + i * ${nthreads}u; let r = e / ${TK / 4}u; let c = e % ${TK / 4}u;
      As[e] = A[((m0 + r) * ${K}u + k0) / 4u + c];
    }
    for (var i = 0u; i < ${bLoads}u; i++) {
      let e = li + i * ${nthreads}u; let r = e / ${TN / 4}u; let c = e % ${TN / 4}u;
      Bs[e] = B[((k0 + r) * ${N}u + n0) / 4u + c];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK / 4}u; kk++) {
      var b: array<array<vec4<f32>, ${CV}>, 4>;
      for (var j = 0u; j < 4u; j++) { for (var c = 0u; c < ${CV}u; c++) { b[j][c] = Bs[(kk * 4u + j) * ${TN / 4}u + lid.x + c * ${WX}u]; } }
      for (var r = 0u; r < ${RM}u; r++) {
        let a = As[(lid.y * ${RM}u + r) * ${TK / 4}u + kk];
        for (var c = 0u; c < ${CV}u; c++) {
          acc[r][c] = fma(b[0][c], vec4(a.x), acc[r][c]);
          acc[r][c] = fma(b[1][c], vec4(a.y), acc[r][c]);
          acc[r][c] = fma(b[2][c], vec4(a.z), acc[r][c]);
          acc[r][c] = fma(b[3][c], vec4(a.w), acc[r][c]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < ${RM}u; r++) { for (var c = 0u; c < ${CV}u; c++) {
    C[((m0 + lid.y * ${RM}u + r) * ${N}u + n0) / 4u + lid.x + c * ${WX}u] = acc[r][c];
  } }
}`;
  return { name: `shared wg${WX}x${WY} ${RM}x${CV * 4} TK${TK}`, wgsl, wg: [N / TN, M / TM, 1] };
}

// No workgroup memory: each thread reads its operands straight from global memory.
function direct(WX: number, WY: number, RM: number, CV: number): V {
  const TM = WY * RM, TN = WX * CV * 4;
  const wgsl = `
@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4<f32>>;
@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * ${RM}u; let nv = gid.x;
  var acc: array<array<vec4<f32>, ${CV}>, ${RM}>;
  for (var k = 0u; k < ${K}u; k += 4u) {
    var b: array<array<vec4<f32>, ${CV}>, 4>;
    for (var j = 0u; j < 4u; j++) { for (var c = 0u; c < ${CV}u; c++) { b[j][c] = B[(k + j) * ${N / 4}u + nv + c * ${N / 4 / CV}u]; } }
    for (var r = 0u; r < ${RM}u; r++) {
      let a = A[((m0 + r) * ${K}u + k) / 4u];
      for (var c = 0u; c < ${CV}u; c++) {
        acc[r][c] = fma(b[0][c], vec4(a.x), acc[r][c]);
        acc[r][c] = fma(b[1][c], vec4(a.y), acc[r][c]);
        acc[r][c] = fma(b[2][c], vec4(a.z), acc[r][c]);
        acc[r][c] = fma(b[3][c], vec4(a.w), acc[r][c]);
      }
    }
  }
  for (var r = 0u; r < ${RM}u; r++) { for (var c = 0u; c < ${CV}u; c++) {
    C[(m0 + r) * ${N / 4}u + nv + c * ${N / 4 / CV}u] = acc[r][c];
  } }
}`;
  return { name: `direct wg${WX}x${WY} ${RM}x${CV * 4}`, wgsl, wg: [N / 4 / CV / WX, M / RM / WY, 1] };
}

// Direct, but the workgroup shares its rows (m from workgroup_id), so A reads are uniform across
// the workgroup and the compiler can load them once instead of gathering per lane.
function uniformRows(WX: number, RM: number, CV: number): V {
  const TN = WX * CV * 4;
  const wgsl = `
@group(0) @binding(0) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4<f32>>;
@compute @workgroup_size(${WX})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * ${RM}u; let nv = wid.x * ${WX * CV}u + lid.x;
  var acc: array<array<vec4<f32>, ${CV}>, ${RM}>;
  for (var k = 0u; k < ${K}u; k += 4u) {
    var b: array<array<vec4<f32>, ${CV}>, 4>;
    for (var j = 0u; j < 4u; j++) { for (var c = 0u; c < ${CV}u; c++) { b[j][c] = B[(k + j) * ${N / 4}u + nv + c * ${WX}u]; } }
    for (var r = 0u; r < ${RM}u; r++) {
      let a = A[((m0 + r) * ${K}u + k) / 4u];
      for (var c = 0u; c < ${CV}u; c++) {
        acc[r][c] = fma(b[0][c], vec4(a.x), acc[r][c]);
        acc[r][c] = fma(b[1][c], vec4(a.y), acc[r][c]);
        acc[r][c] = fma(b[2][c], vec4(a.z), acc[r][c]);
        acc[r][c] = fma(b[3][c], vec4(a.w), acc[r][c]);
      }
    }
  }
  for (var r = 0u; r < ${RM}u; r++) { for (var c = 0u; c < ${CV}u; c++) {
    C[(m0 + r) * ${N / 4}u + nv + c * ${WX}u] = acc[r][c];
  } }
}`;
  return { name: `uniform wg${WX} ${RM}x${CV * 4}`, wgsl, wg: [N / TN, M / RM, 1] };
}

// Direct with scalar loader functions (guards on every element), vec4 assembled from 4 calls.
function scalarLoaders(WX: number, WY: number, RM: number, CV: number, guard: boolean): V {
  const g = (c: string, e: string) => (guard ? `select(0.0, ${e}, ${c})` : e);
  const wgsl = `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4<f32>>;
fn loadA(m: u32, k: u32) -> f32 { return ${g(`m < ${M}u && k < ${K}u`, `A[m * ${K}u + k]`)}; }
fn loadB(k: u32, n: u32) -> f32 { return ${g(`n < ${N}u && k < ${K}u`, `B[k * ${N}u + n]`)}; }
@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * ${RM}u; let nv = gid.x;
  var acc: array<array<vec4<f32>, ${CV}>, ${RM}>;
  for (var k = 0u; k < ${K}u; k += 4u) {
    var b: array<array<vec4<f32>, ${CV}>, 4>;
    for (var j = 0u; j < 4u; j++) { for (var c = 0u; c < ${CV}u; c++) {
      let n = (nv + c * ${N / 4 / CV}u) * 4u;
      b[j][c] = vec4(loadB(k + j, n), loadB(k + j, n + 1u), loadB(k + j, n + 2u), loadB(k + j, n + 3u)); } }
    for (var r = 0u; r < ${RM}u; r++) {
      let a = vec4(loadA(m0 + r, k), loadA(m0 + r, k + 1u), loadA(m0 + r, k + 2u), loadA(m0 + r, k + 3u));
      for (var c = 0u; c < ${CV}u; c++) {
        acc[r][c] = fma(b[0][c], vec4(a.x), acc[r][c]);
        acc[r][c] = fma(b[1][c], vec4(a.y), acc[r][c]);
        acc[r][c] = fma(b[2][c], vec4(a.z), acc[r][c]);
        acc[r][c] = fma(b[3][c], vec4(a.w), acc[r][c]);
      }
    }
  }
  for (var r = 0u; r < ${RM}u; r++) { for (var c = 0u; c < ${CV}u; c++) {
    C[(m0 + r) * ${N / 4}u + nv + c * ${N / 4 / CV}u] = acc[r][c];
  } }
}`;
  return { name: `scalar${guard ? '+guard' : ''} wg${WX}x${WY} ${RM}x${CV * 4}`, wgsl, wg: [N / 4 / CV / WX, M / RM / WY, 1] };
}

const variants: V[] = [
  direct(8, 8, 4, 1),
  direct(8, 8, 8, 1),
  scalarLoaders(8, 8, 4, 1, false),
  scalarLoaders(8, 8, 8, 1, false),
  scalarLoaders(8, 8, 4, 1, true),
  scalarLoaders(8, 8, 8, 1, true),
];
const filter = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
const vs = variants.filter((v) => !filter || filter.test(v.name));
const a = rand(M * K), b = rand(K * N);
const bufs = [gpu.upload(a), gpu.upload(b), gpu.buffer(M * N * 4)];
// correctness spot check
const ref = (i: number, j: number) => { let s = 0; for (let k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j]; return s; };
for (const v of vs) {
  await gpu.validate(v.wgsl);
  await timeWgsl(v.wgsl, bufs, v.wg, 1, 16, 2);
  const out = await gpu.read(bufs[2], M * N * 4);
  for (const [i, j] of [[0, 0], [M - 1, N - 1], [17, 333 % N], [M >> 1, 5]]) {
    if (Math.abs(out[i * N + j] - ref(i, j)) > 1e-3) throw new Error(`${v.name} wrong at ${i},${j}: ${out[i * N + j]} vs ${ref(i, j)}`);
  }
}
const ta = tf.tensor2d(a, [M, K]), tb = tf.tensor2d(b, [K, N]);
await timeTf(() => tf.matMul(ta, tb), 2);
const iters = +(process.env.ITERS ?? 4);
const times: Record<string, number[]> = { tfjs: [] };
for (const v of vs) times[v.name] = [];
for (let r = 0; r < +(process.env.REPS ?? 5); r++) {
  times.tfjs.push(await timeTf(() => tf.matMul(ta, tb), iters));
  for (const v of vs) times[v.name].push(await timeWgsl(v.wgsl, bufs, v.wg, iters, 16, 2));
}
for (const [k, t] of Object.entries(times)) {
  const ms = median(t);
  console.log(k.padEnd(32), ms.toFixed(1).padStart(7), 'ms', t.map(x=>x.toFixed(0)).join(' '), ((2 * M * N * K) / ms / 1e6).toFixed(2).padStart(6), 'GFLOP/s');
}
process.exit(0);
