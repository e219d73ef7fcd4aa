/**
 * ternary-signs — ternary × ternary when every weight trit is ±1 (a dense bipolar matrix, such as
 * a VSA item memory): the weights keep only their sign plane, 128 trits per 16-byte block, half
 * the bytes of the blocks layout (ternary-ternary.ts) and one popcount per block instead of two.
 *
 * With the activation in the blocks layout [nz: 128 bits][neg: 128 bits] (prep.ts planesToBlocks)
 * and s the weight's sign bits (1 = −1), each product over a nonzero u is (−1)^(s ⊕ neg_u), so
 *
 *   Σ t·u = pc(nz_u) − 2·pc(nz_u & (neg_u ^ s))
 *
 * pc(nz_u) per (token, group) is computed once per call (blockNnz). Signs layout: row r, group g,
 * block k at w + ((r·G + g)·nblk + k)·16, zero-padded (padding meets nz_u = 0, so it adds 0).
 * Three rows share each activation load; byte counters are widened every 31 blocks.
 */

@inline function widen(c: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(c));
}

@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** unz[b·G + g] = pc(nz) over the nblk blocks of token b's group g. */
export function blockNnz(u: usize, batch: i32, G: i32, nblk: i32, unz: usize): void {
  for (let i = 0; i < batch * G; i++) {
    const ub = u + (<usize>(i * nblk) << 5);
    let n = 0;
    for (let k = 0; k < nblk; k++) {
      const o = ub + (<usize>k << 5);
      n += <i32>(popcnt<u64>(load<u64>(o)) + popcnt<u64>(load<u64>(o, 8)));
    }
    store<i32>(unz + (<usize>i << 2), n);
  }
}

export function ternarySigns(w: usize, nblk: i32, G: i32, u: usize, unz: usize, batch: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>(G * nblk) << 4, uRowBytes = <usize>(G * nblk) << 5;
  // three rows share each activation load (rows past r1 repeat the last one and are not stored)
  for (let r = r0; r < r1; r += 3) {
    const n = min(3, r1 - r);
    const wa = w + <usize>r * rowBytes, wb = n > 1 ? wa + rowBytes : wa, wc = n > 2 ? wb + rowBytes : wb;
    for (let b = 0; b < batch; b++) {
      const ub = u + <usize>b * uRowBytes;
      for (let g = 0; g < G; g++) {
        const go = <usize>(g * nblk);
        let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0);
        for (let k0 = 0; k0 < nblk; k0 += 31) {
          const k1 = min(nblk, k0 + 31);
          let c0 = i8x16.splat(0), c1 = i8x16.splat(0), c2 = i8x16.splat(0);
          const ug = ub + (go << 5), ga = wa + (go << 4), gb = wb + (go << 4), gc = wc + (go << 4);
          for (let k = k0; k < k1; k++) {
            const uo = ug + (<usize>k << 5), wo = <usize>k << 4;
            const nz = v128.load(uo), neg = v128.load(uo, 16);
            c0 = i8x16.add(c0, i8x16.popcnt(v128.and(nz, v128.xor(neg, v128.load(ga + wo)))));
            c1 = i8x16.add(c1, i8x16.popcnt(v128.and(nz, v128.xor(neg, v128.load(gb + wo)))));
            c2 = i8x16.add(c2, i8x16.popcnt(v128.and(nz, v128.xor(neg, v128.load(gc + wo)))));
          }
          a0 = i32x4.add(a0, widen(c0));
          a1 = i32x4.add(a1, widen(c1));
          a2 = i32x4.add(a2, widen(c2));
        }
        const nn = load<i32>(unz + (<usize>(b * G + g) << 2));
        const o = out + (<usize>((b * rows + r) * G + g) << 2), step = <usize>G << 2;
        store<i32>(o, nn - (hsum(a0) << 1));
        if (n > 1) store<i32>(o + step, nn - (hsum(a1) << 1));
        if (n > 2) store<i32>(o + step * 2, nn - (hsum(a2) << 1));
      }
    }
  }
}

/** Sign plane (the minus plane) → signs layout [n, G, nblk, 4 words], groups zero-padded. */
export function planesToSigns(minus: usize, dst: usize, n: i32, cols: i32, wpr: i32, gc: i32, G: i32, nblk: i32): void {
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = min(gc, cols - g * gc);
      const w0 = (g * gc) >> 5;
      for (let k = 0; k < nblk; k++) {
        const d = dst + (<usize>((b * G + g) * nblk + k) << 4);
        for (let i = 0; i < 4; i++) {
          const c = (k << 7) + (i << 5);
          store<u32>(d + (<usize>i << 2), c < lim ? load<u32>(minus + ((<usize>b * wpr + <usize>(w0 + (c >> 5))) << 2)) : 0);
        }
      }
    }
  }
}
