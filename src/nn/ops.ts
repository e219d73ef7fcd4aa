/**
 * ops — the element-wise and row-wise non-linear operations of a Llama block, on Float32Arrays
 * of [rows, n] row-major. Sums are taken in f64 (JS numbers) and stored as f32.
 */

/** RMSNorm per row:  y = x / sqrt(mean(x²) + eps) ⊙ w */
export function rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, n: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[o + i]! * x[o + i]!;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) out[o + i] = w[i]! * (inv * x[o + i]!);
  }
}

/** SwiGLU in place on the gate:  g = silu(g) ⊙ u,  silu(g) = g · σ(g) = g / (1 + e^−g) */
export function swiglu(g: Float32Array, u: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) {
    const v = g[i]!;
    g[i] = (v / (1 + Math.exp(-v))) * u[i]!;
  }
}

/** x += y (residual connection) */
export function addInPlace(x: Float32Array, y: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) x[i]! += y[i]!;
}

/** Softmax of x[off, off+n) in place, stabilised by the max:  p_i = e^(x_i − m) / Σ e^(x_j − m) */
export function softmaxInPlace(x: Float32Array | Float64Array, off: number, n: number): void {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[off + i]! > m) m = x[off + i]!;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp(x[off + i]! - m);
    x[off + i] = e;
    s += e;
  }
  for (let i = 0; i < n; i++) x[off + i]! /= s;
}

/** log Σ exp(x) over x[off, off+n), stable. */
export function logSumExp(x: Float32Array, off: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (x[off + i]! > m) m = x[off + i]!;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[off + i]! - m);
  return m + Math.log(s);
}

/** SwiGLU over rows of [gate | up] (a stacked w1/w3 output [rows, 2n]):  h[t] = silu(gate[t]) ⊙ up[t] */
export function swigluRows(h: Float32Array, gu: Float32Array, rows: number, n: number): void {
  for (let t = 0; t < rows; t++) {
    const g = t * 2 * n;
    const o = t * n;
    for (let i = 0; i < n; i++) {
      const v = gu[g + i]!;
      h[o + i] = (v / (1 + Math.exp(-v))) * gu[g + n + i]!;
    }
  }
}
