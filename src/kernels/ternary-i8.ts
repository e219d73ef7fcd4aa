/**
 * ternary-i8 — ternary × int8 (BitNet W1.58A8) on the 2-bit "codes" layout:
 *
 *   out[(b·rows + r)·G + g] = Σ_{c∈g} t[r,c]·q[b,c]
 *                           = Σ_{c∈g} code[r,c]·q[b,c] − Σ_{c∈g} q[b,c]        (code = t + 1 ∈ {0,1,2})
 *
 * Codes layout (built by prep.ts from the bit planes): each row is G groups of `nblk` blocks of
 * 16 bytes; byte j of block k holds the codes of the group's columns k·64 + n·16 + j at bits 2n,
 * n = 0..3. One v128 load therefore gives 64 weights, and (w >> 2n) & 3 gives 16 byte codes whose
 * activations q[k·64 + n·16 .. +16] are contiguous. Activations are [batch, G·nblk·64] int8 with
 * each group zero-padded; `bsums` holds Σ q per (token, group, block), and the kernel subtracts
 * the sums of the blocks it visits, so the "+1" of the code cancels exactly — also when all-zero
 * blocks are skipped (a skipped block contributes Σ code·q − Σ q = 0).
 *
 * Relaxed SIMD (when compiled with it): i32x4.relaxed_dot_i8x16_i7x16_add_s(q, code, acc) — the
 * code is the non-negative 7-bit operand, as that instruction requires. SIMD128: i16x8.extmul of
 * q and code, summed in i16 per block (|Σ| ≤ 8·2·128 per lane), widened once per block.
 *
 * Zero skipping: with `mask` ≠ 0, bit g·nblk + k of the row's `maskWords` u32 words says block k
 * of group g holds a nonzero trit; blocks whose bit is clear are skipped.
 */

/** the code mask: the low two bits of every byte */
// @ts-ignore: decorator
@inline function m3(): v128 {
  return i8x16.splat(3);
}

@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** acc + Σ over the 16 lanes of q·c, four i32 partial sums per lane group. */
@inline function dot16(q: v128, c: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(q, c, acc);
  } else {
    const p = i16x8.add(i16x8.extmul_low_i8x16_s(q, c), i16x8.extmul_high_i8x16_s(q, c));
    return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(p));
  }
}

/** One 64-weight block against one token. */
@inline function block1(w: v128, xp: usize, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    acc = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp), v128.and(w, m3()), acc);
    acc = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 16), v128.and(i16x8.shr_u(w, 2), m3()), acc);
    acc = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 32), v128.and(i16x8.shr_u(w, 4), m3()), acc);
    return i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(xp, 48), v128.and(i16x8.shr_u(w, 6), m3()), acc);
  } else {
    const c0 = v128.and(w, m3()), c1 = v128.and(i16x8.shr_u(w, 2), m3());
    const c2 = v128.and(i16x8.shr_u(w, 4), m3()), c3 = v128.and(i16x8.shr_u(w, 6), m3());
    const q0 = v128.load(xp), q1 = v128.load(xp, 16), q2 = v128.load(xp, 32), q3 = v128.load(xp, 48);
    let p = i16x8.add(i16x8.extmul_low_i8x16_s(q0, c0), i16x8.extmul_high_i8x16_s(q0, c0));
    p = i16x8.add(p, i16x8.add(i16x8.extmul_low_i8x16_s(q1, c1), i16x8.extmul_high_i8x16_s(q1, c1)));
    p = i16x8.add(p, i16x8.add(i16x8.extmul_low_i8x16_s(q2, c2), i16x8.extmul_high_i8x16_s(q2, c2)));
    p = i16x8.add(p, i16x8.add(i16x8.extmul_low_i8x16_s(q3, c3), i16x8.extmul_high_i8x16_s(q3, c3)));
    return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(p));
  }
}

@inline function live(mrow: usize, kb: i32): bool {
  return (load<u32>(mrow + (<usize>(kb >>> 5) << 2)) & (1 << (kb & 31))) != 0;
}

/** Σ of the block sums of token b's group g over the blocks the kernel visits. */
@inline function correction(bs: usize, nblk: i32, mask: usize, mrow: usize, kb0: i32): i32 {
  let c = 0;
  for (let k = 0; k < nblk; k++) if (mask == 0 || live(mrow, kb0 + k)) c += load<i32>(bs + (<usize>k << 2));
  return c;
}

export function ternaryI8(w: usize, nblk: i32, G: i32, mask: usize, maskWords: i32, x: usize, batch: i32, bsums: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>(G * nblk) << 4;
  const xs = <usize>(G * nblk) << 6; // activation bytes per token
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    const mrow = mask + (<usize>(r * maskWords) << 2);
    for (let g = 0; g < G; g++) {
      const wg = wr + (<usize>(g * nblk) << 4);
      const xg = x + (<usize>(g * nblk) << 6);
      let b = 0;
      for (; b + 4 <= batch; b += 4) {
        let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
        const xb = xg + <usize>b * xs;
        for (let k = 0; k < nblk; k++) {
          if (mask != 0 && !live(mrow, g * nblk + k)) continue;
          // one decode of the block serves four tokens
          const wv = v128.load(wg + (<usize>k << 4));
          const c0 = v128.and(wv, m3()), c1 = v128.and(i16x8.shr_u(wv, 2), m3());
          const c2 = v128.and(i16x8.shr_u(wv, 4), m3()), c3 = v128.and(i16x8.shr_u(wv, 6), m3());
          const p0 = xb + (<usize>k << 6), p1 = p0 + xs, p2 = p1 + xs, p3 = p2 + xs;
          a0 = dot16(v128.load(p0, 48), c3, dot16(v128.load(p0, 32), c2, dot16(v128.load(p0, 16), c1, dot16(v128.load(p0), c0, a0))));
          a1 = dot16(v128.load(p1, 48), c3, dot16(v128.load(p1, 32), c2, dot16(v128.load(p1, 16), c1, dot16(v128.load(p1), c0, a1))));
          a2 = dot16(v128.load(p2, 48), c3, dot16(v128.load(p2, 32), c2, dot16(v128.load(p2, 16), c1, dot16(v128.load(p2), c0, a2))));
          a3 = dot16(v128.load(p3, 48), c3, dot16(v128.load(p3, 32), c2, dot16(v128.load(p3, 16), c1, dot16(v128.load(p3), c0, a3))));
        }
        const o = out + ((<usize>((b * rows + r) * G + g)) << 2), ostep = <usize>(rows * G) << 2;
        const s = bsums + (<usize>((b * G + g) * nblk) << 2), sstep = <usize>(G * nblk) << 2;
        store<i32>(o, hsum(a0) - correction(s, nblk, mask, mrow, g * nblk));
        store<i32>(o + ostep, hsum(a1) - correction(s + sstep, nblk, mask, mrow, g * nblk));
        store<i32>(o + 2 * ostep, hsum(a2) - correction(s + 2 * sstep, nblk, mask, mrow, g * nblk));
        store<i32>(o + 3 * ostep, hsum(a3) - correction(s + 3 * sstep, nblk, mask, mrow, g * nblk));
      }
      for (; b < batch; b++) {
        const xb = xg + <usize>b * xs;
        let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
        if (mask == 0) {
          let k = 0;
          for (; k + 2 <= nblk; k += 2) {
            a0 = block1(v128.load(wg + (<usize>k << 4)), xb + (<usize>k << 6), a0);
            a1 = block1(v128.load(wg + (<usize>k << 4), 16), xb + (<usize>k << 6) + 64, a1);
          }
          if (k < nblk) a0 = block1(v128.load(wg + (<usize>k << 4)), xb + (<usize>k << 6), a0);
        } else {
          for (let k = 0; k < nblk; k++) {
            if (!live(mrow, g * nblk + k)) continue;
            a0 = block1(v128.load(wg + (<usize>k << 4)), xb + (<usize>k << 6), a0);
          }
        }
        const corr = correction(bsums + (<usize>((b * G + g) * nblk) << 2), nblk, mask, mrow, g * nblk);
        store<i32>(out + ((<usize>((b * rows + r) * G + g)) << 2), hsum(i32x4.add(a0, a1)) - corr);
      }
    }
  }
}
