import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MomentAccumulator } from '../../src/sve/calibrate.js';
import { applyScale, foldRemovals, refitKept, scaleFactors } from '../../src/sve/fold.js';
import { downdateInverse, invertSpd, selectRows } from '../../src/sve/select.js';
import { rng } from '../helpers.js';

/** Standard normal from a uniform generator (Box-Muller). */
function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** X [K, n] of correlated rows: z latent, x = A z + noise, plus `plant` applied to each column. */
function data(K: number, n: number, seed: number, plant?: (col: Float64Array) => void): Float64Array {
  const r = rng(seed);
  const L = Math.max(2, Math.floor(K / 2));
  const A = Float64Array.from({ length: K * L }, () => normal(r));
  const X = new Float64Array(K * n);
  const col = new Float64Array(K);
  const z = new Float64Array(L);
  for (let j = 0; j < n; j++) {
    for (let l = 0; l < L; l++) z[l] = normal(r);
    for (let k = 0; k < K; k++) {
      let s = 0.3 * normal(r) + k * 0.1;
      for (let l = 0; l < L; l++) s += A[k * L + l] * z[l];
      col[k] = s;
    }
    plant?.(col);
    for (let k = 0; k < K; k++) X[k * n + j] = col[k];
  }
  return X;
}

function moments(X: Float64Array, K: number, n: number) {
  const acc = new MomentAccumulator(K);
  acc.add(X, n);
  return { mean: Float64Array.from(acc.mean), cov: acc.covariance() };
}

/** Mean squared difference of (Wa x + ba) and (Wb x + bb) over the columns of X. */
function outputError(Wa: Float64Array, ba: ArrayLike<number>, Wb: Float64Array, bb: ArrayLike<number>, M: number, X: Float64Array, K: number, n: number): number {
  let e = 0;
  for (let j = 0; j < n; j++) {
    for (let m = 0; m < M; m++) {
      let d = ba[m] - bb[m];
      for (let k = 0; k < K; k++) d += (Wa[m * K + k] - Wb[m * K + k]) * X[k * n + j];
      e += d * d;
    }
  }
  return e / (n * M);
}

function randomW(M: number, K: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: M * K }, () => 2 * r() - 1);
}

test('select: a planted exactly redundant row (x5 = 2·x1 + 3) goes first, a and c are recovered, and folding leaves the output unchanged', () => {
  const K = 8;
  const n = 3000;
  const M = 4;
  const X = data(K, n, 1, (c) => (c[5] = 2 * c[1] + 3));
  const { mean, cov } = moments(X, K, n);
  const W = randomW(M, K, 2);
  // Row 5's weights are small, so with 4x row 1's variance its contribution is still the smaller.
  for (let m = 0; m < M; m++) W[m * K + 5] *= 0.3;
  const b = [0.5, -1, 2, 0];
  const sel = selectRows(mean, cov, W, M, { method: 'correlation', keep: K - 1 });
  assert.equal(sel.removed.length, 1);
  const r0 = sel.removed[0];
  assert.equal(r0.k, 5);
  assert.equal(r0.predictor, 1);
  assert.ok(Math.abs(r0.a - 2) < 1e-9, `a = ${r0.a}`);
  assert.ok(Math.abs(r0.c - 3) < 1e-8, `c = ${r0.c}`);
  assert.deepEqual(sel.kept, [0, 1, 2, 3, 4, 6, 7]);
  assert.equal(sel.fallbacks, 0);
  const f = foldRemovals(W, b, M, K, sel.removed);
  for (let m = 0; m < M; m++) assert.equal(f.W[m * K + 5], 0);
  const err = outputError(W, b, f.W, f.b, M, X, K, n);
  assert.ok(err < 1e-18, `folded output differs: mse ${err}`);
  // The scale step then finds nothing to correct: s = 1.
  const s = scaleFactors(W, b, f.W, f.b, M, mean, cov);
  for (const v of s) assert.ok(Math.abs(v - 1) < 1e-9, `s = ${v}`);
});

test('select: folding follows elimination order through chains (x6 = x2 + 1, x2 = -x0) without loss', () => {
  const K = 7;
  const n = 2000;
  const M = 3;
  const X = data(K, n, 3, (c) => {
    c[2] = -c[0];
    c[6] = c[2] + 1;
  });
  const { mean, cov } = moments(X, K, n);
  const W = randomW(M, K, 4);
  const b = [1, 2, 3];
  const sel = selectRows(mean, cov, W, M, { method: 'correlation', keep: K - 2 });
  // Two of {0, 2, 6} go, each predicted by a member of the chain still remaining then.
  const gone = sel.removed.map((r) => r.k).sort();
  assert.equal(gone.filter((k) => [0, 2, 6].includes(k)).length, 2, `removed ${gone}`);
  const f = foldRemovals(W, b, M, K, sel.removed);
  assert.ok(outputError(W, b, f.W, f.b, M, X, K, n) < 1e-18);
  // A true chain, written out: 6 goes predicted by 2, then 2 goes predicted by 0.
  const chain = [
    { k: 6, predictor: 2, a: 1, c: 1, score: NaN },
    { k: 2, predictor: 0, a: -1, c: 0, score: NaN },
  ];
  const fc = foldRemovals(W, b, M, K, chain);
  assert.ok(outputError(W, b, fc.W, fc.b, M, X, K, n) < 1e-18);
  // Folding out of order is refused.
  assert.throws(() => foldRemovals(W, b, M, K, [...chain].reverse()), /elimination order/);
});

test('select: the Schur-complement downdate of the inverse matches fresh inverses', () => {
  const r = rng(5);
  const K = 12;
  const B = Float64Array.from({ length: K * K }, () => normal(r));
  const A = new Float64Array(K * K);
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
    let s = i === j ? 0.5 : 0;
    for (let p = 0; p < K; p++) s += B[i * K + p] * B[j * K + p];
    A[i * K + j] = s;
  }
  const P = invertSpd(A, K)!;
  // invertSpd itself: A·P = I.
  for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) {
    let s = 0;
    for (let p = 0; p < K; p++) s += A[i * K + p] * P[p * K + j];
    assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-9);
  }
  const alive = new Uint8Array(K).fill(1);
  for (const k of [3, 0, 11, 7, 5]) {
    downdateInverse(P, K, k, alive);
    alive[k] = 0;
    const idx = [...alive.keys()].filter((i) => alive[i]);
    const n = idx.length;
    const sub = Float64Array.from({ length: n * n }, (_, t) => A[idx[Math.floor(t / n)] * K + idx[t % n]]);
    const fresh = invertSpd(sub, n)!;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const got = P[idx[i] * K + idx[j]];
      assert.ok(Math.abs(got - fresh[i * n + j]) < 1e-9 * (1 + Math.abs(fresh[i * n + j])), `after removing ${k}: [${i},${j}] ${got} vs ${fresh[i * n + j]}`);
    }
  }
  assert.equal(invertSpd(Float64Array.from([1, 2, 2, 1]), 2), null, 'an indefinite matrix has no Cholesky inverse');
});

test('select: scale factors reduce the output error of a folded layer, and the refit reduces it further', () => {
  for (const seed of [6, 7, 8]) {
    const K = 16;
    const n = 2000;
    const M = 6;
    const X = data(K, n, seed);
    const { mean, cov } = moments(X, K, n);
    const W = randomW(M, K, seed + 100);
    const b = Array.from({ length: M }, (_, m) => m - 2);
    const sel = selectRows(mean, cov, W, M, { method: 'correlation', keep: 8 });
    const f = foldRemovals(W, b, M, K, sel.removed);
    const plain = outputError(W, b, f.W, f.b, M, X, K, n);
    const s = scaleFactors(W, b, f.W, f.b, M, mean, cov);
    const scaled = { W: Float64Array.from(f.W), b: Float64Array.from(f.b) };
    applyScale(scaled.W, scaled.b, s, K);
    const withScale = outputError(W, b, scaled.W, scaled.b, M, X, K, n);
    const rf = refitKept(W, b, M, sel.kept, mean, cov);
    for (let m = 0; m < M; m++) for (const r of sel.removed) assert.equal(rf.W[m * K + r.k], 0);
    const withRefit = outputError(W, b, rf.W, rf.b, M, X, K, n);
    console.log(`seed ${seed}: output mse fold ${plain.toFixed(4)}, fold+scale ${withScale.toFixed(4)}, refit ${withRefit.toFixed(4)}`);
    assert.ok(withScale < plain, `scale: ${withScale} vs ${plain}`);
    assert.ok(withRefit < withScale, `refit: ${withRefit} vs ${withScale}`);
  }
});

test('select: baselines (weight-norm order, seeded random) and the correlation method beating random on planted copies', () => {
  const K = 12;
  const n = 2000;
  const M = 5;
  // Rows 6..11 are noisy copies of rows 0..5.
  const r = rng(9);
  const X = data(K, n, 10, (c) => {
    for (let k = 0; k < 6; k++) c[6 + k] = c[k] * (1 + k * 0.2) + 0.05 * normal(r);
  });
  const { mean, cov } = moments(X, K, n);
  const W = randomW(M, K, 11);
  const norms = Array.from({ length: K }, (_, k) => Array.from({ length: M }, (_, m) => W[m * K + k] ** 2).reduce((a, v) => a + v));
  const wn = selectRows(mean, cov, W, M, { method: 'weight-norm', keep: 6 });
  const byNorm = [...norms.keys()].sort((a, b) => norms[a] - norms[b]).slice(0, 6);
  assert.deepEqual(wn.removed.map((x) => x.k), byNorm);
  const r1 = selectRows(mean, cov, W, M, { method: 'random', keep: 6, seed: 3 });
  const r2 = selectRows(mean, cov, W, M, { method: 'random', keep: 6, seed: 3 });
  const r3 = selectRows(mean, cov, W, M, { method: 'random', keep: 6, seed: 4 });
  assert.deepEqual(r1.removed.map((x) => x.k), r2.removed.map((x) => x.k));
  assert.notDeepEqual(r1.removed.map((x) => x.k), r3.removed.map((x) => x.k));
  assert.equal(new Set(r1.removed.map((x) => x.k)).size, 6);
  const err = (sel: ReturnType<typeof selectRows>) => {
    const f = foldRemovals(W, Array(M).fill(0), M, K, sel.removed);
    return outputError(W, Array(M).fill(0), f.W, f.b, M, X, K, n);
  };
  const corr = selectRows(mean, cov, W, M, { method: 'correlation', keep: 6 });
  // One of each (row, copy) pair goes.
  for (let k = 0; k < 6; k++) assert.equal([k, k + 6].filter((i) => corr.kept.includes(i)).length, 1, `pair ${k}`);
  const randErrs = [1, 2, 3, 4, 5].map((seed) => err(selectRows(mean, cov, W, M, { method: 'random', keep: 6, seed })));
  console.log(`planted copies, 50% removed: mse correlation ${err(corr).toExponential(2)}, weight-norm ${err(wn).toExponential(2)}, random ${randErrs.map((e) => e.toExponential(2)).join(' ')}`);
  for (const e of randErrs) assert.ok(err(corr) < e);
  assert.ok(err(corr) < err(wn));
});

test('select: bad arguments', () => {
  const mean = new Float64Array(3);
  const cov = Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const W = new Float64Array(6);
  assert.throws(() => selectRows(mean, cov, W, 2, { method: 'correlation', keep: 0 }), /keep must be an integer in 1..3, got 0/);
  assert.throws(() => selectRows(mean, cov, W, 2, { method: 'correlation', keep: 4 }), /keep must be/);
  assert.throws(() => selectRows(mean, cov, W, 2, { method: 'nope' as never, keep: 2 }), /method must be/);
  assert.throws(() => selectRows(mean, cov.subarray(0, 4), W, 2, { method: 'correlation', keep: 2 }), /covariance has 4 values/);
  // A constant row (variance 0) goes first and folds into the bias alone.
  const cov2 = Float64Array.from([1, 0.5, 0, 0.5, 1, 0, 0, 0, 0]);
  const sel = selectRows(Float64Array.from([0, 0, 7]), cov2, Float64Array.from([1, 1, 1, 1, 1, 1]), 2, { method: 'correlation', keep: 2 });
  assert.deepEqual(sel.removed.map((x) => [x.k, x.predictor, x.a, x.c]), [[2, -1, 0, 7]]);
});
