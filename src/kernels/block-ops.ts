/**
 * block-ops — the element-wise and row-wise operations of a Llama block in SIMD, on f32 rows in
 * WASM memory (the model's activations stay there between layers). nn/ops.ts is the reference.
 *
 *   rmsnormF32:  y = w ⊙ (x · r),  r = 1/√(Σx²/n + ε)  — sums and products in f64 as the reference
 *                (only the order of the f64 sum differs: four partial sums)
 *   addF32:      x += y  (one f32 rounding, bit-identical to the reference)
 *   swigluF32:   h = silu(g) ⊙ u over rows of [g | u],  silu(g) = g·σ(g), in f32:
 *                e = e^−|g| (simd-exp.ts, ≤ 1; 0 past |g| = 87),  σ(g) = (g ≥ 0 ? 1 : e) / (1 + e)
 *                — no overflow for any g; within 8 f32 ulps (measured ≤ 6.3) of the reference's f64, plus
 *                1e−30 absolute where the flush takes values of ≈ 1e−36 to 0
 */

import { exp4 } from './simd-exp';

export function rmsnormF32(out: usize, x: usize, w: usize, rows: i32, n: i32, eps: f64): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * n) << 2);
    const yr = out + (<usize>(r * n) << 2);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(xr + (<usize>i << 2));
      const lo = f64x2.promote_low_f32x4(v);
      const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
      s0 = f64x2.add(s0, f64x2.mul(lo, lo));
      s1 = f64x2.add(s1, f64x2.mul(hi, hi));
    }
    const s = f64x2.add(s0, s1);
    let ss = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
    for (let j = i; j < n; j++) {
      const v = <f64>load<f32>(xr + (<usize>j << 2));
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss / <f64>n + eps);
    const iv = f64x2.splat(inv);
    i = 0;
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(xr + o);
      const g = v128.load(w + o);
      const lo = f64x2.mul(f64x2.promote_low_f32x4(g), f64x2.mul(iv, f64x2.promote_low_f32x4(v)));
      const hi = f64x2.mul(f64x2.promote_low_f32x4(i32x4.shuffle(g, g, 2, 3, 0, 1)), f64x2.mul(iv, f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))));
      v128.store(yr + o, i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(yr + o, <f32>(<f64>load<f32>(w + o) * (inv * <f64>load<f32>(xr + o))));
    }
  }
}

export function addF32(x: usize, y: usize, len: i32): void {
  let i = 0;
  for (; i + 4 <= len; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.add(v128.load(x + o), v128.load(y + o)));
  }
  for (; i < len; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) + load<f32>(y + o));
  }
}

@inline function silu4(g: v128, u: v128): v128 {
  const one = f32x4.splat(1);
  const a = f32x4.abs(g);
  // e^−|g| flushed to 0 past |g| = 87 (exp4's clamp), so σ(g) → 0 for g → −∞ as in f64
  const e = v128.and(exp4(f32x4.neg(a)), f32x4.le(a, f32x4.splat(87)));
  const num = v128.bitselect(one, e, f32x4.ge(g, f32x4.splat(0)));
  return f32x4.mul(f32x4.mul(g, f32x4.div(num, f32x4.add(one, e))), u);
}

export function swigluF32(h: usize, gu: usize, rows: i32, n: i32): void {
  for (let t = 0; t < rows; t++) {
    const g = gu + (<usize>(t * 2 * n) << 2);
    const u = g + (<usize>n << 2);
    const o = h + (<usize>(t * n) << 2);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const b = <usize>i << 2;
      v128.store(o + b, silu4(v128.load(g + b), v128.load(u + b)));
    }
    for (; i < n; i++) {
      // the tail through the same lanes, so every element gets the same arithmetic
      const b = <usize>i << 2;
      store<f32>(o + b, f32x4.extract_lane(silu4(f32x4.splat(load<f32>(g + b)), f32x4.splat(load<f32>(u + b))), 0));
    }
  }
}
