// Synapse vector elimination (design.md 4.1), step 2: greedy selection of the rows to remove.
//
// Per layer and group, from μ and C of the rows of X (calibrate.ts) and the weights W [Mg, K]:
//
//   while rows must go:
//     for every remaining row k:
//       R²_k  = 1 − 1 / (R̃_kk · (R̃⁻¹)_kk)   multiple correlation of x_k on the other remaining
//               rows, where R̃ is the correlation matrix of the remaining rows plus a ridge ε = 1e-6
//               on the diagonal (R̃_kk = 1 + ε), so exactly redundant rows give R² ≈ 1 − ε, not a
//               singular matrix;
//       score_k = |W[:,k]|₂² · σ_k² · (1 − R²_k)
//               i.e. (contribution |W[:,k]|₂·σ_k)² times the unexplained fraction of x_k's variance:
//               the expected squared output error the row adds if it is replaced by its linear
//               prediction from the remaining rows. Rows that are redundant AND carry little signal
//               score lowest;
//     remove the row of lowest score (ties: lowest k); record its best single predictor j among
//     the rows still remaining (largest |C_kj| / sqrt(C_kk C_jj)), a = C_kj / C_jj,
//     c = μ_k − a·μ_j; fold a·W[:,k] into W[:,j] in the working copy of W (so later scores see
//     the weights the layer will have);
//     downdate R̃⁻¹ to the remaining rows with the Schur-complement formula
//       P'_il = P_il − P_ik P_kl / P_kk          (O(K²) per step, no fresh inverse).
//
// Fallback: where the inverse is unusable — the initial factorisation fails, or for a row
// (R̃⁻¹)_kk is not finite, exceeds 1e12, or gives R² < −1e-9 (round-off after many downdates) —
// R²_k is replaced by the largest squared correlation of x_k with any other remaining row (the
// lower bound design.md names). `fallbacks` counts how often.
//
// Constant rows (σ_k² ≤ 1e-12 · max σ²: e.g. a kernel tap that only ever reads padding) have
// score 0, go first, and are folded into the bias alone (predictor −1, a = 0, c = μ_k).
//
// Baselines with the same interface and the same predictor/fold: 'weight-norm' removes rows in
// ascending order of the original |W[:,k]|₂; 'random' in a seeded random order.

import { seededRandom } from '../random.js';
import { SveError } from './unroll.js';

export type Method = 'correlation' | 'weight-norm' | 'random';

export interface Removal {
  /** The removed row. */
  readonly k: number;
  /** Its predictor among the rows remaining when it was removed, or −1 (constant row). */
  readonly predictor: number;
  /** x_k ≈ a·x_predictor + c. */
  readonly a: number;
  readonly c: number;
  /** The score it was removed with (correlation method; NaN for the baselines). */
  readonly score: number;
}

export interface Selection {
  /** Kept rows, ascending. */
  readonly kept: number[];
  /** Removed rows in elimination order (the order folding must follow). */
  readonly removed: Removal[];
  /** Rows whose R² came from the largest-correlation fallback (summed over steps). */
  readonly fallbacks: number;
}

export const RIDGE = 1e-6;
const CONST_VAR = 1e-12;

/**
 * Inverse of a symmetric positive definite n×n matrix (row-major) by Cholesky, or null when it is
 * not numerically positive definite.
 */
export function invertSpd(A: Float64Array, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let p = 0; p < j; p++) s -= L[i * n + p] * L[j * n + p];
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j];
    }
  }
  // Li = L⁻¹ (lower triangular), then A⁻¹ = Liᵀ Li.
  const Li = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    Li[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let p = j; p < i; p++) s -= L[i * n + p] * Li[p * n + j];
      Li[i * n + j] = s / L[i * n + i];
    }
  }
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let p = j; p < n; p++) s += Li[p * n + i] * Li[p * n + j];
      P[i * n + j] = s;
      P[j * n + i] = s;
    }
  }
  return P;
}

/**
 * Remove row/column k from the inverse P (K×K, row-major) of a symmetric matrix, in place, over
 * the rows where `alive` is 1: afterwards P restricted to the alive rows (k excluded) is the
 * inverse of the matrix restricted to them. Entries of dead rows are left as they are.
 */
export function downdateInverse(P: Float64Array, K: number, k: number, alive: Uint8Array): void {
  const pkk = P[k * K + k];
  const col = new Float64Array(K);
  for (let i = 0; i < K; i++) col[i] = alive[i] && i !== k ? P[i * K + k] : 0;
  for (let i = 0; i < K; i++) {
    if (!alive[i] || i === k || col[i] === 0) continue;
    const f = col[i] / pkk;
    for (let l = 0; l < K; l++) if (alive[l] && l !== k) P[i * K + l] -= f * col[l];
  }
}

export interface SelectOptions {
  readonly method: Method;
  /** Rows to keep (1..K). */
  readonly keep: number;
  /** For 'random'. Default 1. */
  readonly seed?: number;
}

/** Greedy selection for one group: μ [K], C [K, K], W [Mg, K] (row-major). */
export function selectRows(mean: Float64Array, cov: Float64Array, W: ArrayLike<number>, Mg: number, opts: SelectOptions): Selection {
  const K = mean.length;
  if (cov.length !== K * K) throw new SveError(`covariance has ${cov.length} values, expected ${K}x${K}`);
  if (W.length !== Mg * K) throw new SveError(`weights have ${W.length} values, expected ${Mg}x${K}`);
  if (!Number.isInteger(opts.keep) || opts.keep < 1 || opts.keep > K) throw new SveError(`keep must be an integer in 1..${K}, got ${opts.keep}`);
  if (!['correlation', 'weight-norm', 'random'].includes(opts.method)) throw new SveError(`method must be 'correlation', 'weight-norm' or 'random', got '${opts.method}'`);
  const v = Float64Array.from({ length: K }, (_, k) => Math.max(0, cov[k * K + k]));
  const vmax = v.reduce((a, b) => Math.max(a, b), 0);
  const constant = Uint8Array.from(v, (x) => (x <= CONST_VAR * vmax || vmax === 0 ? 1 : 0));
  const sd = Float64Array.from(v, Math.sqrt);
  const corr = (i: number, j: number) => (constant[i] || constant[j] ? 0 : cov[i * K + j] / (sd[i] * sd[j]));
  const Wk = Float64Array.from(W);
  const colNorm2 = (k: number) => {
    let s = 0;
    for (let m = 0; m < Mg; m++) s += Wk[m * K + k] * Wk[m * K + k];
    return s;
  };
  const alive = new Uint8Array(K).fill(1);
  const removed: Removal[] = [];
  let fallbacks = 0;

  // The removal order of the baselines is fixed up front.
  let order: number[] | undefined;
  if (opts.method === 'weight-norm') {
    const norms = Array.from({ length: K }, (_, k) => colNorm2(k));
    order = norms.map((_, k) => k).sort((a, b) => norms[a] - norms[b] || a - b);
  } else if (opts.method === 'random') {
    const rand = seededRandom(opts.seed ?? 1);
    order = Array.from({ length: K }, (_, k) => k);
    for (let i = K - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }

  let P: Float64Array | null = null;
  if (opts.method === 'correlation') {
    const R = new Float64Array(K * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) R[i * K + j] = i === j ? 1 + RIDGE : corr(i, j);
    P = invertSpd(R, K);
  }
  const maxCorr2 = (k: number) => {
    let best = 0;
    for (let j = 0; j < K; j++) if (alive[j] && j !== k) best = Math.max(best, corr(k, j) ** 2);
    return best;
  };

  for (let step = 0; step < K - opts.keep; step++) {
    let k = -1;
    let score = NaN;
    if (order) k = order[step];
    else {
      let best = Infinity;
      for (let i = 0; i < K; i++) {
        if (!alive[i]) continue;
        let s: number;
        if (constant[i]) s = 0;
        else {
          let r2: number;
          const pkk = P ? P[i * K + i] : NaN;
          const fromInverse = 1 - 1 / ((1 + RIDGE) * pkk);
          if (P && Number.isFinite(pkk) && pkk > 0 && pkk <= 1e12 && fromInverse >= -1e-9) r2 = fromInverse;
          else {
            r2 = maxCorr2(i);
            fallbacks++;
          }
          s = colNorm2(i) * v[i] * (1 - Math.min(1, Math.max(0, r2)));
        }
        if (s < best) {
          best = s;
          k = i;
        }
      }
      score = best;
    }
    // Best single predictor among the rows still remaining.
    let j = -1;
    let bestAbs = -1;
    if (!constant[k]) {
      for (let i = 0; i < K; i++) {
        if (!alive[i] || i === k || constant[i]) continue;
        const r = Math.abs(corr(k, i));
        if (r > bestAbs) {
          bestAbs = r;
          j = i;
        }
      }
    }
    const a = j >= 0 ? cov[k * K + j] / cov[j * K + j] : 0;
    const c = j >= 0 ? mean[k] - a * mean[j] : mean[k];
    removed.push({ k, predictor: j, a, c, score });
    if (j >= 0) for (let m = 0; m < Mg; m++) Wk[m * K + j] += a * Wk[m * K + k];
    for (let m = 0; m < Mg; m++) Wk[m * K + k] = 0;
    if (P) downdateInverse(P, K, k, alive);
    alive[k] = 0;
  }
  const kept: number[] = [];
  for (let k = 0; k < K; k++) if (alive[k]) kept.push(k);
  return { kept, removed, fallbacks };
}
