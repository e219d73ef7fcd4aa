/**
 * linalg — the small dense linear algebra the calibrated quantizer needs, in f64, row-major n×n.
 *
 *   cholesky(A)        lower L with A = L·Lᵀ (A symmetric positive definite)
 *   invertSpd(A)       A⁻¹ = L⁻ᵀ·L⁻¹ from the Cholesky factor
 *   upperCholInverse   U upper with A⁻¹ = Uᵀ·U: GPTQ's "Cholesky of H⁻¹"; row i of U, divided by
 *                      U[i,i], is how quantizing column i moves the columns after it
 *   solveSpd(A, b)     x with A·x = b (A SPD; a tiny ridge is added when A is singular)
 */
import { TritwiseError } from '../errors.js';

/** Lower Cholesky factor, or null when A is not (numerically) positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | null {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= l[j * n + k]! * l[j * n + k]!;
    if (!(d > 0) || !Number.isFinite(d)) return null;
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!;
      const li = i * n,
        lj = j * n;
      for (let k = 0; k < j; k++) s -= l[li + k]! * l[lj + k]!;
      l[i * n + j] = s / ljj;
    }
  }
  return l;
}

/** Inverse of a lower-triangular matrix (in place on a copy). */
function invertLower(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    inv[i * n + i] = 1 / l[i * n + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += l[i * n + k]! * inv[k * n + j]!;
      inv[i * n + j] = -s / l[i * n + i]!;
    }
  }
  return inv;
}

/** A⁻¹ of a symmetric positive definite A, or null when it is not positive definite. */
export function invertSpd(a: Float64Array, n: number): Float64Array | null {
  const l = cholesky(a, n);
  if (!l) return null;
  const li = invertLower(l, n);
  // A⁻¹ = Liᵀ·Li: (A⁻¹)[i,j] = Σ_k Li[k,i]·Li[k,j], k ≥ max(i, j)
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += li[k * n + i]! * li[k * n + j]!;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** U upper triangular with A⁻¹ = Uᵀ·U, or null when A is not positive definite. */
export function upperCholInverse(a: Float64Array, n: number): Float64Array | null {
  const inv = invertSpd(a, n);
  if (!inv) return null;
  const m = cholesky(inv, n);
  if (!m) return null;
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) u[j * n + i] = m[i * n + j]!;
  return u;
}

/** Solve A·x = b for a small SPD A (k×k); adds a growing ridge if A is singular. */
export function solveSpd(a: Float64Array, b: Float64Array, k: number): Float64Array {
  let ridge = 0;
  let mean = 0;
  for (let i = 0; i < k; i++) mean += Math.abs(a[i * k + i]!);
  mean = k ? mean / k : 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    const m = a.slice();
    for (let i = 0; i < k; i++) m[i * k + i]! += ridge;
    const l = cholesky(m, k);
    if (l) {
      // forward then back substitution
      const y = new Float64Array(k);
      for (let i = 0; i < k; i++) {
        let s = b[i]!;
        for (let j = 0; j < i; j++) s -= l[i * k + j]! * y[j]!;
        y[i] = s / l[i * k + i]!;
      }
      const x = new Float64Array(k);
      for (let i = k - 1; i >= 0; i--) {
        let s = y[i]!;
        for (let j = i + 1; j < k; j++) s -= l[j * k + i]! * x[j]!;
        x[i] = s / l[i * k + i]!;
      }
      return x;
    }
    ridge = ridge === 0 ? Math.max(mean, 1e-30) * 1e-10 : ridge * 100;
  }
  throw new TritwiseError('E_ARG', 'cannot solve a singular system', { where: 'solveSpd', expected: 'a positive definite matrix', got: `${k}×${k} matrix` });
}
