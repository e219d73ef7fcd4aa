/**
 * ternary-f32 — ternary × f32 (hybrid) on the codes layout of ternary-i8.ts, with a multiplier
 * table instead of bit expansion:
 *
 *   y[b·rows + r] = rs[r] · Σ_g gs[r,g] · Σ_{c∈g} t[r,c]·x[b,c]
 *
 * A code byte holds four trits; `table` (256 × f32x4, from initF32Table) maps it to the four
 * multipliers t ∈ {−1, 0, +1}, so 4 weights cost one byte load, one table load, one mul, one add.
 * Byte j of a block holds columns n·16 + j (n = 0..3), so the activations are permuted once per
 * call (prep.ts permuteF32) to x'[k·64 + 4j + n] = x[k·64 + n·16 + j].
 *
 * Accuracy: each block's 64 products are summed in f32 (16 per lane), block sums are added in
 * f64, and the group/row scales are applied in f64, so the error stays far below 1e-5 of Σ|w·x|.
 */

@inline function promoteAdd(acc: v128, p: v128): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(p), f64x2.promote_low_f32x4(v128.shuffle<i32>(p, p, 2, 3, 2, 3))));
}

@inline function hsum64(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** Σ over one 64-weight block (16 code bytes at wb) of t·x' for one token at xb, as f32x4. */
@inline function block1(wb: usize, xb: usize, table: usize): v128 {
  let p0 = f32x4.splat(0), p1 = f32x4.splat(0);
  for (let j = 0; j < 16; j += 2) {
    const m0 = v128.load(table + (<usize>load<u8>(wb + j) << 4));
    const m1 = v128.load(table + (<usize>load<u8>(wb + j + 1) << 4));
    p0 = f32x4.add(p0, f32x4.mul(m0, v128.load(xb + (<usize>j << 4))));
    p1 = f32x4.add(p1, f32x4.mul(m1, v128.load(xb + (<usize>j << 4), 16)));
  }
  return f32x4.add(p0, p1);
}

@inline function live(mrow: usize, kb: i32): bool {
  return (load<u32>(mrow + (<usize>(kb >>> 5) << 2)) & (1 << (kb & 31))) != 0;
}

export function ternaryF32(
  w: usize, nblk: i32, G: i32, mask: usize, maskWords: i32, x: usize, batch: i32,
  table: usize, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32,
): void {
  const rowBytes = <usize>(G * nblk) << 4;
  const xs = <usize>(G * nblk) << 8; // f32 bytes per token: G·nblk·64·4
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    const mrow = mask + (<usize>(r * maskWords) << 2);
    const rs = <f64>load<f32>(scales + (<usize>r << 2));
    let b = 0;
    // four tokens share each multiplier-table load
    for (; b + 4 <= batch; b += 4) {
      let y0: f64 = 0, y1: f64 = 0, y2: f64 = 0, y3: f64 = 0;
      for (let g = 0; g < G; g++) {
        const wg = wr + (<usize>(g * nblk) << 4);
        const x0 = x + <usize>b * xs + (<usize>(g * nblk) << 8), x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
        let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
        for (let k = 0; k < nblk; k++) {
          if (mask != 0 && !live(mrow, g * nblk + k)) continue;
          const wb = wg + (<usize>k << 4);
          let p0 = f32x4.splat(0), p1 = f32x4.splat(0), p2 = f32x4.splat(0), p3 = f32x4.splat(0);
          for (let j = 0; j < 16; j++) {
            const m = v128.load(table + (<usize>load<u8>(wb + j) << 4));
            const o = (<usize>k << 8) + (<usize>j << 4);
            p0 = f32x4.add(p0, f32x4.mul(m, v128.load(x0 + o)));
            p1 = f32x4.add(p1, f32x4.mul(m, v128.load(x1 + o)));
            p2 = f32x4.add(p2, f32x4.mul(m, v128.load(x2 + o)));
            p3 = f32x4.add(p3, f32x4.mul(m, v128.load(x3 + o)));
          }
          s0 = promoteAdd(s0, p0);
          s1 = promoteAdd(s1, p1);
          s2 = promoteAdd(s2, p2);
          s3 = promoteAdd(s3, p3);
        }
        const gsc: f64 = gscales != 0 ? <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) : 1.0;
        y0 += gsc * hsum64(s0);
        y1 += gsc * hsum64(s1);
        y2 += gsc * hsum64(s2);
        y3 += gsc * hsum64(s3);
      }
      store<f32>(out + ((<usize>(b * rows + r)) << 2), <f32>(y0 * rs));
      store<f32>(out + ((<usize>((b + 1) * rows + r)) << 2), <f32>(y1 * rs));
      store<f32>(out + ((<usize>((b + 2) * rows + r)) << 2), <f32>(y2 * rs));
      store<f32>(out + ((<usize>((b + 3) * rows + r)) << 2), <f32>(y3 * rs));
    }
    for (; b < batch; b++) {
      let y: f64 = 0;
      for (let g = 0; g < G; g++) {
        const wg = wr + (<usize>(g * nblk) << 4);
        const xg = x + <usize>b * xs + (<usize>(g * nblk) << 8);
        let s = f64x2.splat(0);
        for (let k = 0; k < nblk; k++) {
          if (mask != 0 && !live(mrow, g * nblk + k)) continue;
          s = promoteAdd(s, block1(wg + (<usize>k << 4), xg + (<usize>k << 8), table));
        }
        const gsc: f64 = gscales != 0 ? <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) : 1.0;
        y += gsc * hsum64(s);
      }
      store<f32>(out + ((<usize>(b * rows + r)) << 2), <f32>(y * rs));
    }
  }
}

/** Fill the 256-entry multiplier table: entry v = f32x4(((v >> 2n) & 3) − 1, n = 0..3). */
export function initF32Table(table: usize): void {
  for (let v = 0; v < 256; v++) {
    for (let n = 0; n < 4; n++) store<f32>(table + (<usize>v << 4) + (<usize>n << 2), <f32>(((v >> (2 * n)) & 3) - 1));
  }
}
