/**
 * vsa-amp — the two inner loops of the AMP decoder (src/vsa/decode/amp.ts) on bit planes and an
 * f32 residual z (D floats, zero-padded to whole words).
 *
 * For key rows k_i (planes kp/km) and value rows v_m (vp/vm), all W words per row:
 *   vsaPairDots  u[s, j] = Σ_d z_d · (k_{secs[s]} ⊙ v_{lists[s, j]})_d      (lists < 0: u = 0)
 *   vsaPairAxpy  z_d   += Σ_{s, j} coef[s, j] · (k_{secs[s]} ⊙ v_{lists[s, j]})_d   (coef 0: skipped)
 * i.e. the gathered dot of one query against a shortlist of rows, and the axpy of trit rows into
 * an f32 vector. Both work per key s through a scratch vector of D floats:
 *   dots:  q = k ⊙ z once, then u_j = Σ_d q_d · v_{m_j, d}           (Σ z·(k⊙v) = Σ (k⊙z)·v)
 *   axpy:  e = Σ_j coef_j · v_{m_j} first, then z += k ⊙ e once
 *
 * Trits → f32 multipliers by table: a nibble pair (4 dims of the + plane, the same 4 of the −
 * plane) indexes 256 × f32x4 of {−1, 0, 1} (initSignTable), 4 dims per lookup. When every value
 * row is dense bipolar (`bipolar` = 1) the + plane alone is the row, and one byte of it indexes
 * 256 × 2 f32x4 of ±1 (initSignTable8): 8 dims per lookup. Padding lanes past D read q = 0 or
 * add to padding that is never read, so the padding of z must be 0 (and stays 0). Dots sum in f32
 * lanes (four accumulators) and are flushed to f64 every 256 dims.
 */

export function initSignTable(table: usize): void {
  for (let i = 0; i < 256; i++) {
    for (let l = 0; l < 4; l++) store<f32>(table + (<usize>(i * 4 + l) << 2), <f32>(((i >> l) & 1) - ((i >> (4 + l)) & 1)));
  }
}

/** 256 entries × 8 f32: entry i, lane l = +1 if bit l of i is set, else −1. */
export function initSignTable8(table: usize): void {
  for (let i = 0; i < 256; i++) {
    for (let l = 0; l < 8; l++) store<f32>(table + (<usize>(i * 8 + l) << 2), ((i >> l) & 1) != 0 ? 1 : -1);
  }
}

@inline function promoteAdd(acc: v128, p: v128): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(p), f64x2.promote_low_f32x4(v128.shuffle<i32>(p, p, 2, 3, 2, 3))));
}

/** The f32x4 multipliers of table entry x & 255. */
@inline function T(table: usize, x: u32): v128 {
  return v128.load(table + (<usize>(x & 255) << 4));
}

/** The multipliers of a word's 8 nibble pairs: byte b of lo covers dims 8b … 8b+3, of hi 8b+4 … 8b+7. */
@inline function loIdx(p: u32, m: u32): u32 {
  return (p & 0x0f0f0f0f) | ((m & 0x0f0f0f0f) << 4);
}
@inline function hiIdx(p: u32, m: u32): u32 {
  return ((p >>> 4) & 0x0f0f0f0f) | (m & 0xf0f0f0f0);
}

/** y = t ⊙ x for the trit row t (planes tp/tm) and f32 vectors x, y (32 dims per word). */
@inline function tritMul(tp: usize, tm: usize, x: usize, y: usize, words: i32, table: usize): void {
  for (let w = 0; w < words; w++) {
    const o = <usize>w << 2;
    const p = load<u32>(tp + o), m = load<u32>(tm + o);
    const lo = loIdx(p, m), hi = hiIdx(p, m);
    const xw = x + (<usize>w << 7), yw = y + (<usize>w << 7);
    for (let b = 0; b < 4; b++) {
      const sh = <u32>(b << 3), ob = <usize>b << 5;
      v128.store(yw + ob, f32x4.mul(T(table, lo >>> sh), v128.load(xw + ob)));
      v128.store(yw + ob, f32x4.mul(T(table, hi >>> sh), v128.load(xw + ob, 16)), 16);
    }
  }
}

/** Σ_d q_d · v_d for a ternary row v (nibble table). */
@inline function dotTrits(q: usize, v1p: usize, v0p: usize, words: i32, table: usize): f64 {
  let acc = f64x2.splat(0);
  for (let w0 = 0; w0 < words; w0 += 8) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    const w1 = min(words, w0 + 8);
    for (let w = w0; w < w1; w++) {
      const o = <usize>w << 2;
      const p = load<u32>(v1p + o), m = load<u32>(v0p + o);
      if ((p | m) == 0) continue;
      const lo = loIdx(p, m), hi = hiIdx(p, m);
      const qw = q + (<usize>w << 7);
      s0 = f32x4.add(s0, f32x4.mul(T(table, lo), v128.load(qw)));
      s1 = f32x4.add(s1, f32x4.mul(T(table, hi), v128.load(qw, 16)));
      s2 = f32x4.add(s2, f32x4.mul(T(table, lo >>> 8), v128.load(qw, 32)));
      s3 = f32x4.add(s3, f32x4.mul(T(table, hi >>> 8), v128.load(qw, 48)));
      s0 = f32x4.add(s0, f32x4.mul(T(table, lo >>> 16), v128.load(qw, 64)));
      s1 = f32x4.add(s1, f32x4.mul(T(table, hi >>> 16), v128.load(qw, 80)));
      s2 = f32x4.add(s2, f32x4.mul(T(table, lo >>> 24), v128.load(qw, 96)));
      s3 = f32x4.add(s3, f32x4.mul(T(table, hi >>> 24), v128.load(qw, 112)));
    }
    acc = promoteAdd(acc, f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

/** Σ_d q_d · v_d for a dense bipolar row v given by its + plane (byte table, 8 dims per lookup). */
@inline function dotSigns(q: usize, v1p: usize, words: i32, table8: usize): f64 {
  let acc = f64x2.splat(0);
  for (let w0 = 0; w0 < words; w0 += 8) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    const w1 = min(words, w0 + 8);
    for (let w = w0; w < w1; w++) {
      const p = load<u32>(v1p + (<usize>w << 2));
      const qw = q + (<usize>w << 7);
      const t0 = table8 + (<usize>(p & 255) << 5), t1 = table8 + (<usize>((p >>> 8) & 255) << 5);
      const t2 = table8 + (<usize>((p >>> 16) & 255) << 5), t3 = table8 + (<usize>(p >>> 24) << 5);
      s0 = f32x4.add(s0, f32x4.mul(v128.load(t0), v128.load(qw)));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(t0, 16), v128.load(qw, 16)));
      s2 = f32x4.add(s2, f32x4.mul(v128.load(t1), v128.load(qw, 32)));
      s3 = f32x4.add(s3, f32x4.mul(v128.load(t1, 16), v128.load(qw, 48)));
      s0 = f32x4.add(s0, f32x4.mul(v128.load(t2), v128.load(qw, 64)));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(t2, 16), v128.load(qw, 80)));
      s2 = f32x4.add(s2, f32x4.mul(v128.load(t3), v128.load(qw, 96)));
      s3 = f32x4.add(s3, f32x4.mul(v128.load(t3, 16), v128.load(qw, 112)));
    }
    acc = promoteAdd(acc, f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

@inline function axpy4(zb: usize, c: v128, t: v128): void {
  v128.store(zb, f32x4.add(v128.load(zb), f32x4.mul(c, t)));
}

/** e += c · v for a ternary row v (nibble table) or, with bipolar, a dense row by its + plane. */
@inline function axpyRow(e: usize, c: v128, v1p: usize, v0p: usize, words: i32, table: usize, table8: usize, bipolar: i32): void {
  for (let w = 0; w < words; w++) {
    const o = <usize>w << 2;
    const p = load<u32>(v1p + o);
    const ew = e + (<usize>w << 7);
    if (bipolar) {
      for (let b = 0; b < 4; b++) {
        const t = table8 + (<usize>((p >>> (<u32>b << 3)) & 255) << 5), ob = <usize>b << 5;
        axpy4(ew + ob, c, v128.load(t));
        axpy4(ew + ob + 16, c, v128.load(t, 16));
      }
    } else {
      const m = load<u32>(v0p + o);
      if ((p | m) == 0) continue;
      const lo = loIdx(p, m), hi = hiIdx(p, m);
      for (let b = 0; b < 4; b++) {
        const sh = <u32>(b << 3), ob = <usize>b << 5;
        axpy4(ew + ob, c, T(table, lo >>> sh));
        axpy4(ew + ob + 16, c, T(table, hi >>> sh));
      }
    }
  }
}

export function vsaPairDots(z: usize, dim: i32, kp: usize, km: usize, vp: usize, vm: usize, secs: usize, n: i32, lists: usize, L: i32, out: usize, table: usize, table8: usize, bipolar: i32, q: usize): void {
  const words = (dim + 31) >>> 5, rb = <usize>words << 2;
  for (let s = 0; s < n; s++) {
    const ko = <usize>load<i32>(secs + (<usize>s << 2)) * rb;
    tritMul(kp + ko, km + ko, z, q, words, table);
    for (let j = 0; j < L; j++) {
      const m = load<i32>(lists + (<usize>(s * L + j) << 2));
      const u = m < 0 ? 0 : bipolar ? dotSigns(q, vp + <usize>m * rb, words, table8) : dotTrits(q, vp + <usize>m * rb, vm + <usize>m * rb, words, table);
      store<f64>(out + (<usize>(s * L + j) << 3), u);
    }
  }
}

export function vsaPairAxpy(z: usize, dim: i32, kp: usize, km: usize, vp: usize, vm: usize, secs: usize, n: i32, lists: usize, L: i32, coef: usize, table: usize, table8: usize, bipolar: i32, e: usize): void {
  const words = (dim + 31) >>> 5, rb = <usize>words << 2;
  for (let s = 0; s < n; s++) {
    let any = false;
    for (let j = 0; j < L; j++) {
      const c = load<f64>(coef + (<usize>(s * L + j) << 3));
      const m = load<i32>(lists + (<usize>(s * L + j) << 2));
      if (c == 0 || m < 0) continue;
      if (!any) memory.fill(e, 0, <usize>words << 7);
      any = true;
      axpyRow(e, f32x4.splat(<f32>c), vp + <usize>m * rb, vm + <usize>m * rb, words, table, table8, bipolar);
    }
    if (!any) continue;
    // z += k ⊙ e
    const ko = <usize>load<i32>(secs + (<usize>s << 2)) * rb;
    const k1p = kp + ko, k0p = km + ko;
    for (let w = 0; w < words; w++) {
      const o = <usize>w << 2;
      const p = load<u32>(k1p + o), m = load<u32>(k0p + o);
      if ((p | m) == 0) continue;
      const lo = loIdx(p, m), hi = hiIdx(p, m);
      const zw = z + (<usize>w << 7), ew = e + (<usize>w << 7);
      for (let b = 0; b < 4; b++) {
        const sh = <u32>(b << 3), ob = <usize>b << 5;
        v128.store(zw + ob, f32x4.add(v128.load(zw + ob), f32x4.mul(T(table, lo >>> sh), v128.load(ew + ob))));
        v128.store(zw + ob, f32x4.add(v128.load(zw + ob, 16), f32x4.mul(T(table, hi >>> sh), v128.load(ew + ob, 16))), 16);
      }
    }
  }
}
