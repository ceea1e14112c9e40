// Synapse vector elimination (design.md 4.1), steps 3 and 4: folding and scaling, per group,
// on W [Mg, K] (row-major, float64) and b [Mg]; plus the optional least-squares refit.
//
// Fold: for each removed row k in ELIMINATION ORDER, with x_k ≈ a·x_j + c:
//   W[:,j] += a·W[:,k];  b += c·W[:,k];  W[:,k] = 0.
// j was still remaining when k went, so when j is removed later its column already carries k's
// share and passes it on to j's own predictor: chains lose nothing.
//
// Scale: per output channel m, with o = W x + b (original) and r = W' x + b' (reduced),
//   s_m = <o_m, r_m> / <r_m, r_m>   over the calibration columns,
// computed analytically from the moments: with S = C + μμᵀ = E[x xᵀ],
//   E[o_m r_m] = w_mᵀ S w'_m + b_m (w'_m·μ) + b'_m (w_m·μ) + b_m b'_m
//   E[r_m r_m] = w'_mᵀ S w'_m + 2 b'_m (w'_m·μ) + b'_m²
// (the column count cancels). s_m is folded into W'[m,:] and b'[m]; a channel with E[r r] ≈ 0
// keeps s_m = 1.
//
// Refit (He et al. 2017, optional mode): W'_kept = argmin E‖W x + b − W'_kept x_kept − b'‖² with a
// free bias, i.e. W'_kept = W C[:,kept] (C[kept,kept] + λI)⁻¹ and b' = b + W μ − W'_kept μ_kept,
// λ = 1e-6 · mean of C[kept,kept]'s diagonal (a small ridge so rank-deficient C still solves).

import type { Removal } from './select.js';
import { invertSpd } from './select.js';
import { SveError } from './unroll.js';

/** Apply the removals in order to copies of W [Mg, K] and b [Mg]. */
export function foldRemovals(W: ArrayLike<number>, b: ArrayLike<number>, Mg: number, K: number, removed: readonly Removal[]): { W: Float64Array; b: Float64Array } {
  const Wf = Float64Array.from(W);
  const bf = Float64Array.from(b);
  const gone = new Uint8Array(K);
  for (const r of removed) {
    if (gone[r.k]) throw new SveError(`row ${r.k} is removed twice`);
    if (r.predictor >= 0 && gone[r.predictor]) throw new SveError(`row ${r.k}'s predictor ${r.predictor} was removed before it: removals must be in elimination order`);
    for (let m = 0; m < Mg; m++) {
      const w = Wf[m * K + r.k];
      if (r.predictor >= 0) Wf[m * K + r.predictor] += r.a * w;
      bf[m] += r.c * w;
      Wf[m * K + r.k] = 0;
    }
    gone[r.k] = 1;
  }
  return { W: Wf, b: bf };
}

/** S = C + μμᵀ. */
function secondMoment(mean: Float64Array, cov: Float64Array): Float64Array {
  const K = mean.length;
  const S = Float64Array.from(cov);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) S[i * K + j] += mean[i] * mean[j];
  return S;
}

/** The least-squares scale s_m of every output channel (see the header). */
export function scaleFactors(Wo: ArrayLike<number>, bo: ArrayLike<number>, Wr: ArrayLike<number>, br: ArrayLike<number>, Mg: number, mean: Float64Array, cov: Float64Array): Float64Array {
  const K = mean.length;
  const S = secondMoment(mean, cov);
  const s = new Float64Array(Mg);
  const Sw = new Float64Array(K);
  for (let m = 0; m < Mg; m++) {
    // Sw = S w'_m
    for (let i = 0; i < K; i++) {
      let t = 0;
      for (let j = 0; j < K; j++) t += S[i * K + j] * Wr[m * K + j];
      Sw[i] = t;
    }
    let oSr = 0;
    let rSr = 0;
    let oMu = 0;
    let rMu = 0;
    for (let i = 0; i < K; i++) {
      oSr += Wo[m * K + i] * Sw[i];
      rSr += Wr[m * K + i] * Sw[i];
      oMu += Wo[m * K + i] * mean[i];
      rMu += Wr[m * K + i] * mean[i];
    }
    const or = oSr + bo[m] * rMu + br[m] * oMu + bo[m] * br[m];
    const rr = rSr + 2 * br[m] * rMu + br[m] * br[m];
    s[m] = rr > 1e-30 && Number.isFinite(or / rr) ? or / rr : 1;
  }
  return s;
}

/** W[m,:] *= s_m, b[m] *= s_m, in place. */
export function applyScale(W: Float64Array, b: Float64Array, s: Float64Array, K: number): void {
  for (let m = 0; m < s.length; m++) {
    for (let k = 0; k < K; k++) W[m * K + k] *= s[m];
    b[m] *= s[m];
  }
}

/** Least-squares refit of the kept columns (zeros elsewhere); see the header. */
export function refitKept(Wo: ArrayLike<number>, bo: ArrayLike<number>, Mg: number, kept: readonly number[], mean: Float64Array, cov: Float64Array): { W: Float64Array; b: Float64Array } {
  const K = mean.length;
  const n = kept.length;
  const A = new Float64Array(n * n);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += cov[kept[i] * K + kept[i]];
  const lambda = 1e-6 * (tr / Math.max(1, n)) + 1e-12;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = cov[kept[i] * K + kept[j]] + (i === j ? lambda : 0);
  const Ainv = invertSpd(A, n);
  if (!Ainv) throw new SveError('refit: the kept rows\' covariance could not be factorised');
  const W = new Float64Array(Mg * K);
  const b = new Float64Array(Mg);
  const G = new Float64Array(n); // G = W_m C[:,kept]
  for (let m = 0; m < Mg; m++) {
    for (let j = 0; j < n; j++) {
      let t = 0;
      for (let i = 0; i < K; i++) t += Wo[m * K + i] * cov[i * K + kept[j]];
      G[j] = t;
    }
    let wMu = 0;
    for (let i = 0; i < K; i++) wMu += Wo[m * K + i] * mean[i];
    let wkMu = 0;
    for (let j = 0; j < n; j++) {
      let t = 0;
      for (let l = 0; l < n; l++) t += G[l] * Ainv[l * n + j];
      W[m * K + kept[j]] = t;
      wkMu += t * mean[kept[j]];
    }
    b[m] = bo[m] + wMu - wkMu;
  }
  return { W, b };
}
