/**
 * simd-exp — e^x four lanes at a time, shared by the kernels that need it (the trainer's
 * attention, the model's SwiGLU). The module keeps no static data (hosts place buffers from low
 * offsets), so there are no lookup tables:
 *
 *   x = k·ln2 + r,  k = nearest(x·log2 e),  |r| ≤ ln2/2 (ln2 split in two for the subtraction)
 *   e^r ≈ Σ_{i≤6} rⁱ/i!  (Horner; relative error ≈ 1e-7, one f32 ulp)
 *   e^x = e^r · 2^k, with 2^k built in the exponent bits
 *
 * Domain: x ≤ 0, clamped at −87 (so 2^k stays a normal f32; e^−87 ≈ 1.6e−38 stands for anything
 * smaller). NaN propagates.
 */
@inline export function exp4(x: v128): v128 {
  x = f32x4.max(x, f32x4.splat(-87));
  const k = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(k, f32x4.splat(0.693359375))), f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.add(f32x4.splat(1), f32x4.mul(r, f32x4.splat(1.0 / 6)));
  p = f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.mul(r, f32x4.splat(1.0 / 5)), p));
  p = f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.mul(r, f32x4.splat(1.0 / 4)), p));
  p = f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.mul(r, f32x4.splat(1.0 / 3)), p));
  p = f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.mul(r, f32x4.splat(0.5)), p));
  p = f32x4.add(f32x4.splat(1), f32x4.mul(r, p));
  const two = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(k), i32x4.splat(127)), 23);
  return f32x4.mul(p, two);
}
