/**
 * vsa-acc — the integer-sum accumulator of src/vsa/accumulator.ts on bit planes.
 *
 * `c` is an Int32 vector of D counts; a trit vector is two planes (see vsa-ops.ts). A kernel that
 * takes (ap, am, bp, bm) with bp ≠ 0 works on the bound vector a ⊙ b, computed per word:
 *   t⁺ = (a⁺&b⁺)|(a⁻&b⁻),  t⁻ = (a⁺&b⁻)|(a⁻&b⁺)      (bp = 0: t = a)
 *
 *   vsaAccAdd     c_d += w · t_d                       (words with no nonzero trit are skipped)
 *   vsaThreshold  out_d = +1 if c_d > θ, −1 if c_d < −θ, else ties_d (or 0)
 *   vsaAccDot     Σ_d c_d · t_d, exact (i64 lanes, returned as f64: exact below 2⁵³)
 *   vsaAccUnbind  out_d = c_d · t_d
 *
 * Bits → lanes: 16 bits go to 16 byte lanes by i8x16.swizzle of the two bytes, AND with the
 * lane's bit (1, 2, 4 … 128), compare: a byte mask per plane. t = mask⁻ − mask⁺ ∈ {−1, 0, 1} is
 * then sign-extended to four i32x4. Back to bits: i32x4 compares are narrowed to bytes and
 * i8x16.bitmask gives 16 bits. Full words take the SIMD path; the last partial word is scalar,
 * so no count past c[D − 1] is ever read or written.
 */

@inline function boundP(ap: usize, am: usize, bp: usize, bm: usize, o: usize): u32 {
  const a1 = load<u32>(ap + o);
  if (bp == 0) return a1;
  const a0 = load<u32>(am + o), b1 = load<u32>(bp + o), b0 = load<u32>(bm + o);
  return (a1 & b1) | (a0 & b0);
}

@inline function boundM(ap: usize, am: usize, bp: usize, bm: usize, o: usize): u32 {
  const a0 = load<u32>(am + o);
  if (bp == 0) return a0;
  const a1 = load<u32>(ap + o), b1 = load<u32>(bp + o), b0 = load<u32>(bm + o);
  return (a1 & b0) | (a0 & b1);
}

/** 16 bits (of x, from bit 16·half) as 16 byte masks (0xff where the bit is set). */
@inline function byteMask(x: u32): v128 {
  const spread = i8x16.swizzle(i32x4.splat(x), i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const bit = i8x16(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  return i8x16.eq(v128.and(spread, bit), bit);
}

/** The trits of 16 dims as i8 lanes {−1, 0, 1}. */
@inline function trits16(p: u32, m: u32): v128 {
  return i8x16.sub(byteMask(m), byteMask(p));
}

@inline function lane0(t: v128): v128 {
  return i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(t));
}
@inline function lane1(t: v128): v128 {
  return i32x4.extend_high_i16x8_s(i16x8.extend_low_i8x16_s(t));
}
@inline function lane2(t: v128): v128 {
  return i32x4.extend_low_i16x8_s(i16x8.extend_high_i8x16_s(t));
}
@inline function lane3(t: v128): v128 {
  return i32x4.extend_high_i16x8_s(i16x8.extend_high_i8x16_s(t));
}

/** c[0..16) += w · t for 16 dims at c. */
@inline function add16(c: usize, t: v128, w: v128): void {
  v128.store(c, i32x4.add(v128.load(c), i32x4.mul(lane0(t), w)));
  v128.store(c, i32x4.add(v128.load(c, 16), i32x4.mul(lane1(t), w)), 16);
  v128.store(c, i32x4.add(v128.load(c, 32), i32x4.mul(lane2(t), w)), 32);
  v128.store(c, i32x4.add(v128.load(c, 48), i32x4.mul(lane3(t), w)), 48);
}

/** c_d += w · t_d, t = a (bp = 0) or a ⊙ b. */
export function vsaAccAdd(c: usize, ap: usize, am: usize, bp: usize, bm: usize, dim: i32, w: i32): void {
  const full = dim >>> 5;
  const wv = i32x4.splat(w);
  for (let j = 0; j < full; j++) {
    const o = <usize>j << 2;
    const p = boundP(ap, am, bp, bm, o), m = boundM(ap, am, bp, bm, o);
    if ((p | m) == 0) continue;
    const cj = c + (<usize>j << 7);
    add16(cj, trits16(p, m), wv);
    add16(cj + 64, trits16(p >>> 16, m >>> 16), wv);
  }
  if (full << 5 < dim) {
    const o = <usize>full << 2;
    const p = boundP(ap, am, bp, bm, o), m = boundM(ap, am, bp, bm, o);
    for (let d = full << 5; d < dim; d++) {
      const b = d & 31;
      const t = <i32>((p >>> b) & 1) - <i32>((m >>> b) & 1);
      store<i32>(c + (<usize>d << 2), load<i32>(c + (<usize>d << 2)) + w * t);
    }
  }
}

/** 16 bits: bit i set where count i of the 16 at c compares true against the splat s. */
@inline function gt16(c: usize, s: v128): u32 {
  const a = i16x8.narrow_i32x4_s(i32x4.gt_s(v128.load(c), s), i32x4.gt_s(v128.load(c, 16), s));
  const b = i16x8.narrow_i32x4_s(i32x4.gt_s(v128.load(c, 32), s), i32x4.gt_s(v128.load(c, 48), s));
  return <u32>i8x16.bitmask(i8x16.narrow_i16x8_s(a, b));
}

@inline function lt16(c: usize, s: v128): u32 {
  const a = i16x8.narrow_i32x4_s(i32x4.lt_s(v128.load(c), s), i32x4.lt_s(v128.load(c, 16), s));
  const b = i16x8.narrow_i32x4_s(i32x4.lt_s(v128.load(c, 32), s), i32x4.lt_s(v128.load(c, 48), s));
  return <u32>i8x16.bitmask(i8x16.narrow_i16x8_s(a, b));
}

/**
 * Planes of the thresholded sum: +1 where c_d > θ, −1 where c_d < −θ, elsewhere the trit of the
 * tie-breaker (tp/tm; tp = 0: no tie-breaker, 0). θ is an integer ≥ 0 (the host passes ⌊θ⌋).
 */
export function vsaThreshold(c: usize, dim: i32, theta: i32, tp: usize, tm: usize, op: usize, om: usize): void {
  const full = dim >>> 5;
  const hi = i32x4.splat(theta), lo = i32x4.splat(-theta);
  for (let j = 0; j < full; j++) {
    const cj = c + (<usize>j << 7);
    let p = gt16(cj, hi) | (gt16(cj + 64, hi) << 16);
    let m = lt16(cj, lo) | (lt16(cj + 64, lo) << 16);
    const o = <usize>j << 2;
    if (tp != 0) {
      const tie = ~(p | m);
      p |= tie & load<u32>(tp + o);
      m |= tie & load<u32>(tm + o);
    }
    store<u32>(op + o, p);
    store<u32>(om + o, m);
  }
  if (full << 5 < dim) {
    const o = <usize>full << 2;
    let p: u32 = 0, m: u32 = 0;
    for (let d = full << 5; d < dim; d++) {
      const v = load<i32>(c + (<usize>d << 2)), bit: u32 = 1 << (d & 31);
      if (v > theta) p |= bit;
      else if (v < -theta) m |= bit;
      else if (tp != 0) {
        p |= load<u32>(tp + o) & bit;
        m |= load<u32>(tm + o) & bit;
      }
    }
    store<u32>(op + o, p);
    store<u32>(om + o, m);
  }
}

@inline function dot4(acc: v128, c: v128, t: v128): v128 {
  const x = i32x4.mul(c, t);
  return i64x2.add(acc, i64x2.add(i64x2.extend_low_i32x4_s(x), i64x2.extend_high_i32x4_s(x)));
}

/** Σ_d c_d · t_d, t = a (bp = 0) or a ⊙ b; exact in i64, returned as f64. */
export function vsaAccDot(c: usize, ap: usize, am: usize, bp: usize, bm: usize, dim: i32): f64 {
  const full = dim >>> 5;
  let acc = i64x2.splat(0);
  for (let j = 0; j < full; j++) {
    const o = <usize>j << 2;
    const p = boundP(ap, am, bp, bm, o), m = boundM(ap, am, bp, bm, o);
    if ((p | m) == 0) continue;
    const cj = c + (<usize>j << 7);
    for (let h = 0; h < 2; h++) {
      const t = trits16(p >>> (h << 4), m >>> (h << 4));
      const ch = cj + (<usize>h << 6);
      acc = dot4(acc, v128.load(ch), lane0(t));
      acc = dot4(acc, v128.load(ch, 16), lane1(t));
      acc = dot4(acc, v128.load(ch, 32), lane2(t));
      acc = dot4(acc, v128.load(ch, 48), lane3(t));
    }
  }
  let s = i64x2.extract_lane(acc, 0) + i64x2.extract_lane(acc, 1);
  if (full << 5 < dim) {
    const o = <usize>full << 2;
    const p = boundP(ap, am, bp, bm, o), m = boundM(ap, am, bp, bm, o);
    for (let d = full << 5; d < dim; d++) {
      const b = d & 31;
      s += <i64>load<i32>(c + (<usize>d << 2)) * (<i64>((p >>> b) & 1) - <i64>((m >>> b) & 1));
    }
  }
  return <f64>s;
}

/** out_d = c_d · t_d (Int32; out may be c). */
export function vsaAccUnbind(c: usize, ap: usize, am: usize, bp: usize, bm: usize, dim: i32, out: usize): void {
  const full = dim >>> 5;
  for (let j = 0; j < full; j++) {
    const o = <usize>j << 2;
    const p = boundP(ap, am, bp, bm, o), m = boundM(ap, am, bp, bm, o);
    const cj = c + (<usize>j << 7), oj = out + (<usize>j << 7);
    for (let h = 0; h < 2; h++) {
      const t = trits16(p >>> (h << 4), m >>> (h << 4));
      const ch = cj + (<usize>h << 6), oh = oj + (<usize>h << 6);
      v128.store(oh, i32x4.mul(v128.load(ch), lane0(t)));
      v128.store(oh, i32x4.mul(v128.load(ch, 16), lane1(t)), 16);
      v128.store(oh, i32x4.mul(v128.load(ch, 32), lane2(t)), 32);
      v128.store(oh, i32x4.mul(v128.load(ch, 48), lane3(t)), 48);
    }
  }
  if (full << 5 < dim) {
    const o = <usize>full << 2;
    const p = boundP(ap, am, bp, bm, o), m = boundM(ap, am, bp, bm, o);
    for (let d = full << 5; d < dim; d++) {
      const b = d & 31;
      store<i32>(out + (<usize>d << 2), load<i32>(c + (<usize>d << 2)) * (<i32>((p >>> b) & 1) - <i32>((m >>> b) & 1)));
    }
  }
}

/**
 * Balanced-ternary digit planes of an Int32 vector x (see src/vsa/digit-planes.ts):
 *   x_d = Σ_{j<P} 3^j t_{j,d};  digit j: q = round(v/3), r = v − 3q ∈ {−1, 0, 1}, then v ← q
 * in f64 lanes (v/3 is k, k + ⅓ or k + ⅔, so round(v·⅓) is exact for every i32: the product's
 * error is below 2⁻²², far from the ½ boundary). Plane j goes to words [j·stride, j·stride + W)
 * of both outputs (stride in words). `tmp` is 256 bytes of scratch (32 f64). The caller checks
 * that max|x| ≤ (3^P − 1)/2.
 */
export function vsaDigitPlanes(x: usize, dim: i32, P: i32, op: usize, om: usize, stride: i32, tmp: usize): void {
  const words = (dim + 31) >>> 5;
  const third = f64x2.splat(1.0 / 3.0), three = f64x2.splat(3), one = f64x2.splat(1), mone = f64x2.splat(-1);
  for (let w = 0; w < words; w++) {
    const d0 = w << 5, n = min(32, dim - d0);
    for (let i = 0; i < 32; i += 2) {
      const v = i + 2 <= n ? v128.load64_zero(x + (<usize>(d0 + i) << 2)) : i < n ? v128.load32_zero(x + (<usize>(d0 + i) << 2)) : i32x4.splat(0);
      v128.store(tmp + (<usize>i << 3), f64x2.convert_low_i32x4_s(v));
    }
    for (let j = 0; j < P; j++) {
      let p: u32 = 0, m: u32 = 0;
      for (let i = 0; i < 32; i += 2) {
        const v = v128.load(tmp + (<usize>i << 3));
        const q = f64x2.nearest(f64x2.mul(v, third));
        const r = f64x2.sub(v, f64x2.mul(q, three));
        p |= <u32>i64x2.bitmask(f64x2.eq(r, one)) << i;
        m |= <u32>i64x2.bitmask(f64x2.eq(r, mone)) << i;
        v128.store(tmp + (<usize>i << 3), q);
      }
      store<u32>(op + (<usize>(j * stride + w) << 2), p);
      store<u32>(om + (<usize>(j * stride + w) << 2), m);
    }
  }
}
