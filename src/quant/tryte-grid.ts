/**
 * tryte-grid — the uniform grid of a tryte and its scale.
 *
 * A tryte of depth d with scale s represents the 3^d levels s·n, n ∈ [−L, L], L = (3^d−1)/2.
 * Rounding to it:  n = clamp(round(w/s), −L, L).  The scale of a segment (a row, or a group of a
 * row) is chosen by search, minimising the (optionally activation-weighted) squared error
 *
 *   E(s) = Σ_i h_i·(w_i − s·n_i(s))²,   s = p·max|w|/L,  p on a grid in (0, 1]
 *
 * (h_i = E[x_i²] from calibration, or 1). A coarse grid of p (step 0.01 from 0.02) is refined
 * around its best point (step 0.0005). Clipping the largest weights (p < 1) trades their error
 * for finer steps everywhere else; at d = 1 the best p is far below 1.
 */
import { TritwiseError } from '../errors.js';
import { MultiTritTensor, tryteMax } from '../tensor/multi-trit-tensor.js';

/** The nearest level of the grid s·[−L, L]. */
export function roundToGrid(w: number, s: number, L: number): number {
  if (!(s > 0)) return 0;
  const n = Math.round(w / s);
  return n > L ? L : n < -L ? -L : n;
}

function gridError(w: ArrayLike<number>, h: ArrayLike<number> | null, i0: number, i1: number, s: number, L: number): number {
  let e = 0;
  for (let i = i0; i < i1; i++) {
    const d = w[i]! - s * roundToGrid(w[i]!, s, L);
    e += (h ? h[i]! : 1) * d * d;
  }
  return e;
}

/** The error-minimising scale for w[i0..i1) on the grid of L levels each side (0 for all-zero). */
export function searchScale(w: ArrayLike<number>, i0: number, i1: number, L: number, h: ArrayLike<number> | null = null): number {
  let max = 0;
  for (let i = i0; i < i1; i++) max = Math.max(max, Math.abs(w[i]!));
  if (max === 0) return 0;
  let bestP = 1;
  let best = Infinity;
  for (let p = 1; p >= 0.02 - 1e-9; p -= 0.01) {
    const e = gridError(w, h, i0, i1, (p * max) / L, L);
    if (e < best) {
      best = e;
      bestP = p;
    }
  }
  const lo = Math.max(0.005, bestP - 0.01);
  for (let p = lo; p <= Math.min(1, bestP + 0.01) + 1e-12; p += 0.0005) {
    const e = gridError(w, h, i0, i1, (p * max) / L, L);
    if (e < best) {
      best = e;
      bestP = p;
    }
  }
  return (bestP * max) / L;
}

/**
 * The same search when every element i has its own step multiplier m_i and bound L_i (per-column
 * depths, grids.ts): E(s) = Σ_i h_i·(w_i − s·m_i·clamp(round(w_i/(s·m_i)), ±L_i))², s = p·max|w|/Lmax.
 */
export function searchScaleCells(w: ArrayLike<number>, i0: number, i1: number, Lmax: number, h: ArrayLike<number> | null, m: ArrayLike<number>, Ls: ArrayLike<number>): number {
  let max = 0;
  for (let i = i0; i < i1; i++) max = Math.max(max, Math.abs(w[i]!));
  if (max === 0) return 0;
  const err = (s: number) => {
    let e = 0;
    for (let i = i0; i < i1; i++) {
      const sm = s * m[i]!;
      const d = w[i]! - sm * roundToGrid(w[i]!, sm, Ls[i]!);
      e += (h ? h[i]! : 1) * d * d;
    }
    return e;
  };
  let bestP = 1;
  let best = Infinity;
  for (let p = 1; p >= 0.02 - 1e-9; p -= 0.01) {
    const e = err((p * max) / Lmax);
    if (e < best) {
      best = e;
      bestP = p;
    }
  }
  const lo = Math.max(0.005, bestP - 0.01);
  for (let p = lo; p <= Math.min(1, bestP + 0.01) + 1e-12; p += 0.0005) {
    const e = err((p * max) / Lmax);
    if (e < best) {
      best = e;
      bestP = p;
    }
  }
  return (bestP * max) / Lmax;
}

export interface TryteQuantizeOptions {
  /** columns per scale group (a multiple of 32); 0 = one scale per row */
  groupSize?: number;
  /** per-column weights of the error (E[x²] from calibration) */
  h?: Float64Array;
  name?: string;
}

export function checkWeights(w: Float32Array, rows: number, cols: number, name: string): void {
  if (w.length !== rows * cols) throw new TritwiseError('E_SHAPE', 'weight length does not match shape', { where: name, expected: rows * cols, got: w.length });
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i])) throw new TritwiseError('E_NONFINITE', 'non-finite weight', { where: `${name}[${Math.floor(i / cols)}, ${i % cols}]`, expected: 'a finite number', got: w[i] });
  }
}

export function checkGroupSize(gs: number, where: string): void {
  if (!(Number.isInteger(gs) && gs >= 0 && gs % 32 === 0)) throw new TritwiseError('E_ARG', 'invalid group size', { where, expected: '0 or a positive multiple of 32', got: gs });
}

/**
 * Round-to-nearest trytes ("rtn"): per row (or group) the searched scale, then every weight
 * rounded to the grid. Returns the tryte form (scales per row, or unit row scales and per-group
 * scales).
 */
export function quantizeTryteRtn(w: Float32Array, rows: number, cols: number, depth: number, opts: TryteQuantizeOptions = {}): MultiTritTensor {
  const name = opts.name ?? 'weights';
  checkWeights(w, rows, cols, name);
  const gs = opts.groupSize ?? 0;
  checkGroupSize(gs, `${name}: groupSize`);
  const L = tryteMax(depth);
  const seg = gs || cols;
  const G = gs ? Math.ceil(cols / gs) : 1;
  const n = new Int32Array(rows * cols);
  const scales = new Float32Array(G * rows);
  if (opts.h && opts.h.length !== cols) throw new TritwiseError('E_SHAPE', 'calibration statistics do not match the input width', { where: name, expected: cols, got: opts.h.length });
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * cols, (r + 1) * cols);
    for (let g = 0; g < G; g++) {
      const c0 = g * seg,
        c1 = Math.min(cols, c0 + seg);
      const s = Math.fround(searchScale(row, c0, c1, L, opts.h ?? null));
      scales[r * G + g] = s;
      for (let c = c0; c < c1; c++) n[r * cols + c] = roundToGrid(row[c]!, s, L);
    }
  }
  return MultiTritTensor.fromIntegers(n, rows, cols, depth, gs ? { groupSize: gs, groupScales: scales, quantizer: 'rtn' } : { scales, quantizer: 'rtn' });
}
