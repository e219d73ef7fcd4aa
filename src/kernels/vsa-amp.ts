/**
 * vsa-amp — the two inner loops of the AMP decoder (src/vsa/decode/amp.ts) on bit planes and an
 * f32 residual z (D floats, zero-padded to whole words).
 *
 * For key rows k_i (planes kp/km) and value rows v_m (vp/vm), all W words per row:
 *   vsaPairDots  u[s, j] = Σ_d z_d · (k_{secs[s]} ⊙ v_{lists[s, j]})_d      (lists < 0: u = 0)
 *   vsaPairAxpy  z_d   += Σ_{s, j} coef[s, j] · (k_{secs[s]} ⊙ v_{lists[s, j]})_d   (coef 0: skipped)
 * i.e. the gathered dot of one query against a shortlist of rows, with the query k ⊙ z never
 * formed (Σ z·(k⊙v) = Σ (k⊙z)·v), and the axpy of trit rows into an f32 vector.
 *
 * The bound row is made per word (c⁺ = (k⁺&v⁺)|(k⁻&v⁻), c⁻ = (k⁺&v⁻)|(k⁻&v⁺)); each nibble pair
 * (4 dims of c⁺, the same 4 of c⁻) indexes a 256-entry table of f32x4 multipliers in {−1, 0, 1}
 * (initSignTable), so 4 dims cost a table load and a multiply-add. Dots sum in f32 lanes and are
 * flushed to f64 every 256 dims.
 */

export function initSignTable(table: usize): void {
  for (let i = 0; i < 256; i++) {
    for (let l = 0; l < 4; l++) store<f32>(table + (<usize>(i * 4 + l) << 2), <f32>(((i >> l) & 1) - ((i >> (4 + l)) & 1)));
  }
}

@inline function promoteAdd(acc: v128, p: v128): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(p), f64x2.promote_low_f32x4(v128.shuffle<i32>(p, p, 2, 3, 2, 3))));
}

/** The f32x4 multipliers of table entry x & 255. */
@inline function T(table: usize, x: u32): v128 {
  return v128.load(table + (<usize>(x & 255) << 4));
}

/**
 * Σ_d z_d · (k ⊙ v)_d over W words. Per word: lo = bytes (c⁺ nibble 0|2|4|6, c⁻ nibble … << 4),
 * hi = the same for nibbles 1|3|5|7; byte b of lo covers dims 8b … 8b+3, of hi 8b+4 … 8b+7.
 * Four f32 accumulators keep the add latency off the critical path.
 */
@inline function pairDot(z: usize, k1p: usize, k0p: usize, v1p: usize, v0p: usize, words: i32, table: usize): f64 {
  let acc = f64x2.splat(0);
  for (let w0 = 0; w0 < words; w0 += 8) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    const w1 = min(words, w0 + 8);
    for (let w = w0; w < w1; w++) {
      const o = <usize>w << 2;
      const k1 = load<u32>(k1p + o), k0 = load<u32>(k0p + o), v1 = load<u32>(v1p + o), v0 = load<u32>(v0p + o);
      const p = (k1 & v1) | (k0 & v0), m = (k1 & v0) | (k0 & v1);
      if ((p | m) == 0) continue;
      const lo = (p & 0x0f0f0f0f) | ((m & 0x0f0f0f0f) << 4), hi = ((p >>> 4) & 0x0f0f0f0f) | (m & 0xf0f0f0f0);
      const zw = z + (<usize>w << 7);
      s0 = f32x4.add(s0, f32x4.mul(T(table, lo), v128.load(zw)));
      s1 = f32x4.add(s1, f32x4.mul(T(table, hi), v128.load(zw, 16)));
      s2 = f32x4.add(s2, f32x4.mul(T(table, lo >>> 8), v128.load(zw, 32)));
      s3 = f32x4.add(s3, f32x4.mul(T(table, hi >>> 8), v128.load(zw, 48)));
      s0 = f32x4.add(s0, f32x4.mul(T(table, lo >>> 16), v128.load(zw, 64)));
      s1 = f32x4.add(s1, f32x4.mul(T(table, hi >>> 16), v128.load(zw, 80)));
      s2 = f32x4.add(s2, f32x4.mul(T(table, lo >>> 24), v128.load(zw, 96)));
      s3 = f32x4.add(s3, f32x4.mul(T(table, hi >>> 24), v128.load(zw, 112)));
    }
    acc = promoteAdd(acc, f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

@inline function axpy4(zb: usize, c: v128, t: v128): void {
  v128.store(zb, f32x4.add(v128.load(zb), f32x4.mul(c, t)));
}

export function vsaPairDots(z: usize, dim: i32, kp: usize, km: usize, vp: usize, vm: usize, secs: usize, n: i32, lists: usize, L: i32, out: usize, table: usize): void {
  const words = (dim + 31) >>> 5, rb = <usize>words << 2;
  for (let s = 0; s < n; s++) {
    const ko = <usize>load<i32>(secs + (<usize>s << 2)) * rb;
    for (let j = 0; j < L; j++) {
      const m = load<i32>(lists + (<usize>(s * L + j) << 2));
      if (m < 0) {
        store<f64>(out + (<usize>(s * L + j) << 3), 0);
        continue;
      }
      const vo = <usize>m * rb;
      store<f64>(out + (<usize>(s * L + j) << 3), pairDot(z, kp + ko, km + ko, vp + vo, vm + vo, words, table));
    }
  }
}

export function vsaPairAxpy(z: usize, dim: i32, kp: usize, km: usize, vp: usize, vm: usize, secs: usize, n: i32, lists: usize, L: i32, coef: usize, table: usize): void {
  const words = (dim + 31) >>> 5, rb = <usize>words << 2;
  for (let s = 0; s < n; s++) {
    const ko = <usize>load<i32>(secs + (<usize>s << 2)) * rb;
    for (let j = 0; j < L; j++) {
      const c = load<f64>(coef + (<usize>(s * L + j) << 3));
      const m = load<i32>(lists + (<usize>(s * L + j) << 2));
      if (c == 0 || m < 0) continue;
      const cv = f32x4.splat(<f32>c);
      const vo = <usize>m * rb;
      const k1p = kp + ko, k0p = km + ko, v1p = vp + vo, v0p = vm + vo;
      for (let w = 0; w < words; w++) {
        const o = <usize>w << 2;
        const k1 = load<u32>(k1p + o), k0 = load<u32>(k0p + o), v1 = load<u32>(v1p + o), v0 = load<u32>(v0p + o);
        const p = (k1 & v1) | (k0 & v0), mm = (k1 & v0) | (k0 & v1);
        if ((p | mm) == 0) continue;
        const lo = (p & 0x0f0f0f0f) | ((mm & 0x0f0f0f0f) << 4), hi = ((p >>> 4) & 0x0f0f0f0f) | (mm & 0xf0f0f0f0);
        const zw = z + (<usize>w << 7);
        axpy4(zw, cv, T(table, lo));
        axpy4(zw + 16, cv, T(table, hi));
        axpy4(zw + 32, cv, T(table, lo >>> 8));
        axpy4(zw + 48, cv, T(table, hi >>> 8));
        axpy4(zw + 64, cv, T(table, lo >>> 16));
        axpy4(zw + 80, cv, T(table, hi >>> 16));
        axpy4(zw + 96, cv, T(table, lo >>> 24));
        axpy4(zw + 112, cv, T(table, hi >>> 24));
      }
    }
  }
}
