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
 * A block's 64 products are summed into i16 lanes (|lane| ≤ 4·2·2·128 = 2048), blocks are added
 * in i16 and widened to i32 every 15 blocks (15·2048 < 32768), so the sums are exact.
 *   relaxed SIMD: i16x8.relaxed_dot_i8x16_i7x16_s(q, code) — pairs q·code, the code being the
 *                 non-negative 7-bit operand that instruction requires (pmaddubsw on x86);
 *   SIMD128:      i16x8.extmul_low/high_i8x16_s(q, code), added.
 *
 * Zero skipping: with `mask` ≠ 0, bit g·nblk + k of the row's `maskWords` u32 words says block k
 * of group g holds a nonzero trit; blocks whose bit is clear are skipped.
 */


@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** Pairwise products of 16 int8 activations with 16 codes, as i16x8. */
@inline function dot16(q: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i16x8.relaxed_dot_i8x16_i7x16_s(q, c);
  } else {
    return i16x8.add(i16x8.extmul_low_i8x16_s(q, c), i16x8.extmul_high_i8x16_s(q, c));
  }
}

/** One 64-weight block (codes wv) against the activations at xp, as i16x8. */
@inline function block(c0: v128, c1: v128, c2: v128, c3: v128, xp: usize): v128 {
  return i16x8.add(i16x8.add(dot16(v128.load(xp), c0), dot16(v128.load(xp, 16), c1)), i16x8.add(dot16(v128.load(xp, 32), c2), dot16(v128.load(xp, 48), c3)));
}

@inline function widen(a16: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(a16);
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
  // the code mask (the low two bits of every byte), built from a run-time value so that it is
  // kept in a register rather than rematerialized as a constant inside the loops
  const M3 = i8x16.splat(<i8>(3 | (nblk >>> 31)));
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    const mrow = mask + (<usize>(r * maskWords) << 2);
    for (let g = 0; g < G; g++) {
      const wg = wr + (<usize>(g * nblk) << 4);
      const xg = x + (<usize>(g * nblk) << 6);
      let b = 0;
      // two tokens per pass share one decode of each block; chunks of 14 blocks keep the i16
      // sums exact, so the loop has no per-block counter (four tokens spill registers in V8)
      for (; b + 2 <= batch; b += 2) {
        const xb = xg + <usize>b * xs;
        let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
        for (let k0 = 0; k0 < nblk; k0 += 14) {
          const k1 = min(nblk, k0 + 14);
          let h0 = i16x8.splat(0), h1 = i16x8.splat(0);
          for (let k = k0; k < k1; k++) {
            if (mask != 0 && !live(mrow, g * nblk + k)) continue;
            const wv = v128.load(wg + (<usize>k << 4));
            const c0 = v128.and(wv, M3), c1 = v128.and(i16x8.shr_u(wv, 2), M3);
            const c2 = v128.and(i16x8.shr_u(wv, 4), M3), c3 = v128.and(i16x8.shr_u(wv, 6), M3);
            const p0 = xb + (<usize>k << 6);
            h0 = i16x8.add(h0, block(c0, c1, c2, c3, p0));
            h1 = i16x8.add(h1, block(c0, c1, c2, c3, p0 + xs));
          }
          a0 = i32x4.add(a0, widen(h0));
          a1 = i32x4.add(a1, widen(h1));
        }
        const o = out + ((<usize>((b * rows + r) * G + g)) << 2), ostep = <usize>(rows * G) << 2;
        const s = bsums + (<usize>((b * G + g) * nblk) << 2), sstep = <usize>(G * nblk) << 2;
        store<i32>(o, hsum(a0) - correction(s, nblk, mask, mrow, g * nblk));
        store<i32>(o + ostep, hsum(a1) - correction(s + sstep, nblk, mask, mrow, g * nblk));
      }
      for (; b < batch; b++) {
        const xb = xg + <usize>b * xs;
        let a = i32x4.splat(0);
        let h = i16x8.splat(0);
        let since = 0;
        if (mask == 0) {
          // chunks of 14 blocks (the i16 limit), two blocks per step with independent sums
          for (let k0 = 0; k0 < nblk; k0 += 14) {
            const k1 = min(nblk, k0 + 14);
            let ha = i16x8.splat(0), hb = i16x8.splat(0);
            let k = k0;
            for (; k + 2 <= k1; k += 2) {
              const wa = v128.load(wg + (<usize>k << 4)), wb = v128.load(wg + (<usize>k << 4), 16);
              const xa = xb + (<usize>k << 6);
              ha = i16x8.add(ha, block(v128.and(wa, M3), v128.and(i16x8.shr_u(wa, 2), M3), v128.and(i16x8.shr_u(wa, 4), M3), v128.and(i16x8.shr_u(wa, 6), M3), xa));
              hb = i16x8.add(hb, block(v128.and(wb, M3), v128.and(i16x8.shr_u(wb, 2), M3), v128.and(i16x8.shr_u(wb, 4), M3), v128.and(i16x8.shr_u(wb, 6), M3), xa + 64));
            }
            if (k < k1) {
              const wa = v128.load(wg + (<usize>k << 4));
              ha = i16x8.add(ha, block(v128.and(wa, M3), v128.and(i16x8.shr_u(wa, 2), M3), v128.and(i16x8.shr_u(wa, 4), M3), v128.and(i16x8.shr_u(wa, 6), M3), xb + (<usize>k << 6)));
            }
            a = i32x4.add(a, i32x4.add(widen(ha), widen(hb)));
          }
        } else {
          for (let k = 0; k < nblk; k++) {
            if (!live(mrow, g * nblk + k)) continue;
            const wa = v128.load(wg + (<usize>k << 4));
            h = i16x8.add(h, block(v128.and(wa, M3), v128.and(i16x8.shr_u(wa, 2), M3), v128.and(i16x8.shr_u(wa, 4), M3), v128.and(i16x8.shr_u(wa, 6), M3), xb + (<usize>k << 6)));
            if (++since == 15) {
              a = i32x4.add(a, widen(h));
              h = i16x8.splat(0);
              since = 0;
            }
          }
        }
        a = i32x4.add(a, widen(h));
        const corr = correction(bsums + (<usize>((b * G + g) * nblk) << 2), nblk, mask, mrow, g * nblk);
        store<i32>(out + ((<usize>((b * rows + r) * G + g)) << 2), hsum(a) - corr);
      }
    }
  }
}
