/**
 * vsa-ops — hypervector operations on bit planes (src/vsa): bind, similarity, nnz, permute.
 *
 * A hypervector of D trits is two planes of W = ⌈D/32⌉ u32 words (plus, minus; trit d at bit
 * d % 32 of word d / 32, padding bits zero). Pointers are byte offsets of word 0 of each plane;
 * planes need no alignment. Loops take 4 words (one v128) at a time and finish the ragged end
 * with scalar words, so any W works and nothing is read past word W − 1.
 *
 *   bind        c⁺ = (a⁺&b⁺)|(a⁻&b⁻),  c⁻ = (a⁺&b⁻)|(a⁻&b⁺)        (c may alias a or b)
 *   similarity  nz = (a⁺|a⁻)&(b⁺|b⁻),  dot = pc(nz) − 2·pc(nz & (a⁻ ^ b⁻)),
 *               nnz(a) = pc(a⁺|a⁻),  nnz(b) = pc(b⁺|b⁻)
 *               (two nonzero trits multiply to −1 exactly when one of them is negative);
 *               dense bipolar vectors (no zero trit) take a one-popcount path, checked as it goes
 *   permute     out bit (d + k) mod D = in bit d  (one plane; funnel shifts of 64-bit loads)
 *
 * Popcounts use i8x16.popcnt into byte counters, widened to i32 before they can overflow.
 */

@inline function widen(c: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(c));
}

@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** c = a ⊙ b over `words` words. */
export function vsaBind(ap: usize, am: usize, bp: usize, bm: usize, cp: usize, cm: usize, words: i32): void {
  const n4 = words & ~3;
  let w = 0;
  for (; w < n4; w += 4) {
    const o = <usize>w << 2;
    const a1 = v128.load(ap + o), a0 = v128.load(am + o), b1 = v128.load(bp + o), b0 = v128.load(bm + o);
    v128.store(cp + o, v128.or(v128.and(a1, b1), v128.and(a0, b0)));
    v128.store(cm + o, v128.or(v128.and(a1, b0), v128.and(a0, b1)));
  }
  for (; w < words; w++) {
    const o = <usize>w << 2;
    const a1 = load<u32>(ap + o), a0 = load<u32>(am + o), b1 = load<u32>(bp + o), b0 = load<u32>(bm + o);
    store<u32>(cp + o, (a1 & b1) | (a0 & b0));
    store<u32>(cm + o, (a1 & b0) | (a0 & b1));
  }
}

/**
 * Similarity of a and b: writes i32 [dot, nnz(a), nnz(b)] at `out`, and returns dot.
 * With `withNnz` = 0 only the dot is computed (two popcounts per step instead of four).
 * nnz(b) is counted with scalar 64-bit popcounts, which run on other ports than i8x16.popcnt.
 */
export function vsaSimilarity(ap: usize, am: usize, bp: usize, bm: usize, words: i32, withNnz: i32, out: usize): i32 {
  const n8 = words & ~7;
  let dot = i32x4.splat(0), na = i32x4.splat(0);
  let nb: i64 = 0, nb2: i64 = 0;
  let w = 0;
  if (n8 > 0 && denseFrom(ap, am, bp, bm)) {
    const d = denseDot(ap, am, bp, bm, n8);
    if (d != DENSE_FAILED) {
      // words [0, n8) had no zero trit: dot as computed, nnz = 32·n8 each; the tail follows
      dot = i32x4(d, 0, 0, 0);
      na = i32x4(n8 << 5, 0, 0, 0);
      nb = <i64>(n8 << 5);
      w = n8;
    }
  }
  // 8 words (two v128 per plane) per step; byte counters gain ≤ 16 per step: widen every 15
  while (w < n8) {
    const end = min(n8, w + 15 * 8);
    let c1 = i8x16.splat(0), c2 = i8x16.splat(0), ca = i8x16.splat(0);
    if (withNnz) {
      for (; w < end; w += 8) {
        const o = <usize>w << 2;
        const a0 = v128.load(am + o), b0 = v128.load(bm + o), a0b = v128.load(am + o, 16), b0b = v128.load(bm + o, 16);
        const za = v128.or(v128.load(ap + o), a0), zab = v128.or(v128.load(ap + o, 16), a0b);
        const nz = v128.and(za, v128.or(v128.load(bp + o), b0)), nzb = v128.and(zab, v128.or(v128.load(bp + o, 16), b0b));
        c1 = i8x16.add(c1, i8x16.add(i8x16.popcnt(nz), i8x16.popcnt(nzb)));
        c2 = i8x16.add(c2, i8x16.add(i8x16.popcnt(v128.and(nz, v128.xor(a0, b0))), i8x16.popcnt(v128.and(nzb, v128.xor(a0b, b0b)))));
        ca = i8x16.add(ca, i8x16.add(i8x16.popcnt(za), i8x16.popcnt(zab)));
        nb += popcnt<u64>(load<u64>(bp + o) | load<u64>(bm + o)) + popcnt<u64>(load<u64>(bp + o, 8) | load<u64>(bm + o, 8));
        nb2 += popcnt<u64>(load<u64>(bp + o, 16) | load<u64>(bm + o, 16)) + popcnt<u64>(load<u64>(bp + o, 24) | load<u64>(bm + o, 24));
      }
      na = i32x4.add(na, widen(ca));
    } else {
      for (; w < end; w += 8) {
        const o = <usize>w << 2;
        const a0 = v128.load(am + o), b0 = v128.load(bm + o), a0b = v128.load(am + o, 16), b0b = v128.load(bm + o, 16);
        const nz = v128.and(v128.or(v128.load(ap + o), a0), v128.or(v128.load(bp + o), b0));
        const nzb = v128.and(v128.or(v128.load(ap + o, 16), a0b), v128.or(v128.load(bp + o, 16), b0b));
        c1 = i8x16.add(c1, i8x16.add(i8x16.popcnt(nz), i8x16.popcnt(nzb)));
        c2 = i8x16.add(c2, i8x16.add(i8x16.popcnt(v128.and(nz, v128.xor(a0, b0))), i8x16.popcnt(v128.and(nzb, v128.xor(a0b, b0b)))));
      }
    }
    dot = i32x4.add(dot, i32x4.sub(widen(c1), i32x4.shl(widen(c2), 1)));
  }
  let d = hsum(dot), sa = hsum(na), sb = <i32>(nb + nb2);
  for (; w < words; w++) {
    const o = <usize>w << 2;
    const a0 = load<u32>(am + o), b0 = load<u32>(bm + o);
    const za = load<u32>(ap + o) | a0, zb = load<u32>(bp + o) | b0;
    const nz = za & zb;
    d += <i32>popcnt<u32>(nz) - (<i32>popcnt<u32>(nz & (a0 ^ b0)) << 1);
    sa += <i32>popcnt<u32>(za);
    sb += <i32>popcnt<u32>(zb);
  }
  store<i32>(out, d);
  store<i32>(out, sa, 4);
  store<i32>(out, sb, 8);
  return d;
}

const DENSE_FAILED: i32 = i32.MIN_VALUE;

/** Whether the first 8 words of a and b have no zero trit (worth trying the dense path). */
@inline function denseFrom(ap: usize, am: usize, bp: usize, bm: usize): bool {
  const z = v128.and(v128.and(v128.or(v128.load(ap), v128.load(am)), v128.or(v128.load(bp), v128.load(bm))), v128.and(v128.or(v128.load(ap, 16), v128.load(am, 16)), v128.or(v128.load(bp, 16), v128.load(bm, 16))));
  return i8x16.all_true(i8x16.eq(z, i8x16.splat(-1)));
}

/**
 * Dense path: over words [0, n8) where every trit of a and b is ±1, nz = all ones, so
 *   dot = 32·n8 − 2·pc(a⁻ ^ b⁻)        (one popcount per step instead of two to four)
 * while an AND of (a⁺|a⁻) & (b⁺|b⁻) checks that assumption; DENSE_FAILED if a zero trit showed up.
 */
function denseDot(ap: usize, am: usize, bp: usize, bm: usize, n8: i32): i32 {
  let all = i8x16.splat(-1), acc = i32x4.splat(0);
  let w = 0;
  while (w < n8) {
    const end = min(n8, w + 15 * 8);
    let c = i8x16.splat(0);
    for (; w < end; w += 8) {
      const o = <usize>w << 2;
      const a0 = v128.load(am + o), b0 = v128.load(bm + o), a0b = v128.load(am + o, 16), b0b = v128.load(bm + o, 16);
      c = i8x16.add(c, i8x16.add(i8x16.popcnt(v128.xor(a0, b0)), i8x16.popcnt(v128.xor(a0b, b0b))));
      const za = v128.and(v128.or(v128.load(ap + o), a0), v128.or(v128.load(ap + o, 16), a0b));
      const zb = v128.and(v128.or(v128.load(bp + o), b0), v128.or(v128.load(bp + o, 16), b0b));
      all = v128.and(all, v128.and(za, zb));
    }
    acc = i32x4.add(acc, widen(c));
  }
  if (!i8x16.all_true(i8x16.eq(all, i8x16.splat(-1)))) return DENSE_FAILED;
  return (n8 << 5) - (hsum(acc) << 1);
}

/** Number of nonzero trits: pc(p | m). */
export function vsaNnz(p: usize, m: usize, words: i32): i32 {
  const n4 = words & ~3;
  let acc = i32x4.splat(0);
  let w = 0;
  while (w < n4) {
    const end = min(n4, w + 31 * 4);
    let c = i8x16.splat(0);
    for (; w < end; w += 4) {
      const o = <usize>w << 2;
      c = i8x16.add(c, i8x16.popcnt(v128.or(v128.load(p + o), v128.load(m + o))));
    }
    acc = i32x4.add(acc, widen(c));
  }
  let n = hsum(acc);
  for (; w < words; w++) n += <i32>popcnt<u32>(load<u32>(p + (<usize>w << 2)) | load<u32>(m + (<usize>w << 2)));
  return n;
}

/** Bit i of the plane (0 past the last word is never read: callers stay below D). */
@inline function bitAt(src: usize, i: i32): u32 {
  return (load<u32>(src + (<usize>(i >>> 5) << 2)) >>> (i & 31)) & 1;
}

/** 32 bits of the plane starting at bit s, for s + 32 ≤ 32·W (a funnel shift of two words). */
@inline function bits32(src: usize, s: i32, words: i32): u32 {
  const w = s >>> 5, r = s & 31;
  const lo = load<u32>(src + (<usize>w << 2));
  if (r == 0) return lo;
  const hi = w + 1 < words ? load<u32>(src + (<usize>(w + 1) << 2)) : 0;
  return (lo >>> r) | (hi << (32 - r));
}

/**
 * Cyclic shift of one plane by k ∈ [0, D): out bit (d + k) mod D = in bit d (dst ≠ src).
 * Output word j holds out bits [32j, 32j + 32). Where that range lies inside [k, D) it is the
 * input read from bit 32j − k; inside [0, k) it is the input read from bit 32j − k + D (both by
 * funnel shifts); the (at most two) words that straddle k or D are assembled bit by bit.
 */
export function vsaPermute(src: usize, dst: usize, dim: i32, k: i32): void {
  const words = (dim + 31) >>> 5;
  for (let j = 0; j < words; j++) {
    const lo = j << 5, hi = min(lo + 32, dim);
    let x: u32 = 0;
    if (lo >= k) x = bits32(src, lo - k, words);
    else if (hi <= k) x = bits32(src, lo - k + dim, words);
    else {
      for (let d = lo; d < hi; d++) {
        const s = d >= k ? d - k : d - k + dim;
        x |= bitAt(src, s) << (d - lo);
      }
    }
    if (hi - lo < 32) x &= (<u32>1 << (hi - lo)) - 1;
    store<u32>(dst + (<usize>j << 2), x);
  }
}
