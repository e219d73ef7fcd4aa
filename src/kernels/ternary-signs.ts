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
 * Two rows share each activation load; the popcounts go through a carry-save adder tree
 * (Harley–Seal), so there is one i8x16.popcnt per 4 blocks per row; tokens are taken in tiles
 * of BT so a batch (e.g. the digit planes of 256 integer queries) is read from L2, not L3.
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

/** Tokens per tile: a tile of activations (BT · G · nblk · 32 bytes, 40 KB at D = 10,000) stays in L2 while every row passes over it. */
const BT = 16;

/**
 * Carry-save adder (Harley–Seal): for bit vectors a, b, c, pc(a) + pc(b) + pc(c) = pc(sum) + 2·pc(carry).
 * Per weight row the kernel keeps "ones" and "twos" vectors and feeds 4 blocks at a time:
 *   (ones, p) = csa(ones, x0, x1);  (ones, q) = csa(ones, x2, x3);  (twos, fours) = csa(twos, p, q)
 * and only `fours` is popcounted (one i8x16.popcnt per 4 blocks instead of 4); at the end
 *   Σ pc(x) = 4·Σ pc(fours) + 2·pc(twos) + pc(ones).
 */
@inline function csaSum(a: v128, b: v128, c: v128): v128 {
  return v128.xor(v128.xor(a, b), c);
}
@inline function csaCarry(a: v128, b: v128, c: v128): v128 {
  return v128.or(v128.and(a, b), v128.and(c, v128.xor(a, b)));
}
@inline function pcv(x: v128): i32 {
  return hsum(widen(i8x16.popcnt(x)));
}

/** pc(nz_u & (neg_u ^ s)) over one group of nblk blocks for two weight rows (ga, gb), packed as lo | hi << 32. */
@inline function group2(ga: usize, gb: usize, ug: usize, nblk: i32): u64 {
  let oa = i8x16.splat(0), ta = i8x16.splat(0), ob = i8x16.splat(0), tb = i8x16.splat(0);
  let fa = i32x4.splat(0), fb = i32x4.splat(0);
  const n4 = nblk & ~3;
  let k = 0;
  while (k < n4) {
    // byte counters of `fours` (≤ 8 per step) are widened every 31 steps
    const end = min(n4, k + 31 * 4);
    let ca = i8x16.splat(0), cb = i8x16.splat(0);
    for (; k < end; k += 4) {
      const uo = ug + (<usize>k << 5), wo = <usize>k << 4;
      const nz0 = v128.load(uo), ng0 = v128.load(uo, 16), nz1 = v128.load(uo, 32), ng1 = v128.load(uo, 48);
      const nz2 = v128.load(uo, 64), ng2 = v128.load(uo, 80), nz3 = v128.load(uo, 96), ng3 = v128.load(uo, 112);
      const x0 = v128.and(nz0, v128.xor(ng0, v128.load(ga + wo))), x1 = v128.and(nz1, v128.xor(ng1, v128.load(ga + wo, 16)));
      const x2 = v128.and(nz2, v128.xor(ng2, v128.load(ga + wo, 32))), x3 = v128.and(nz3, v128.xor(ng3, v128.load(ga + wo, 48)));
      let p = csaCarry(oa, x0, x1);
      oa = csaSum(oa, x0, x1);
      let q = csaCarry(oa, x2, x3);
      oa = csaSum(oa, x2, x3);
      ca = i8x16.add(ca, i8x16.popcnt(csaCarry(ta, p, q)));
      ta = csaSum(ta, p, q);
      const y0 = v128.and(nz0, v128.xor(ng0, v128.load(gb + wo))), y1 = v128.and(nz1, v128.xor(ng1, v128.load(gb + wo, 16)));
      const y2 = v128.and(nz2, v128.xor(ng2, v128.load(gb + wo, 32))), y3 = v128.and(nz3, v128.xor(ng3, v128.load(gb + wo, 48)));
      p = csaCarry(ob, y0, y1);
      ob = csaSum(ob, y0, y1);
      q = csaCarry(ob, y2, y3);
      ob = csaSum(ob, y2, y3);
      cb = i8x16.add(cb, i8x16.popcnt(csaCarry(tb, p, q)));
      tb = csaSum(tb, p, q);
    }
    fa = i32x4.add(fa, widen(ca));
    fb = i32x4.add(fb, widen(cb));
  }
  let sa = (hsum(fa) << 2) + (pcv(ta) << 1) + pcv(oa), sb = (hsum(fb) << 2) + (pcv(tb) << 1) + pcv(ob);
  for (; k < nblk; k++) {
    const uo = ug + (<usize>k << 5), wo = <usize>k << 4;
    const nz = v128.load(uo), neg = v128.load(uo, 16);
    sa += pcv(v128.and(nz, v128.xor(neg, v128.load(ga + wo))));
    sb += pcv(v128.and(nz, v128.xor(neg, v128.load(gb + wo))));
  }
  return <u64><u32>sa | (<u64><u32>sb << 32);
}

export function ternarySigns(w: usize, nblk: i32, G: i32, u: usize, unz: usize, batch: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>(G * nblk) << 4, uRowBytes = <usize>(G * nblk) << 5;
  for (let b0 = 0; b0 < batch; b0 += BT) {
    const b1 = min(batch, b0 + BT);
    // two rows share each activation load (a last odd row repeats itself and is stored once)
    for (let r = r0; r < r1; r += 2) {
      const two = r + 1 < r1;
      const wa = w + <usize>r * rowBytes, wb = two ? wa + rowBytes : wa;
      for (let b = b0; b < b1; b++) {
        const ub = u + <usize>b * uRowBytes;
        for (let g = 0; g < G; g++) {
          const go = <usize>(g * nblk);
          const s = group2(wa + (go << 4), wb + (go << 4), ub + (go << 5), nblk);
          const nn = load<i32>(unz + (<usize>(b * G + g) << 2));
          const o = out + (<usize>((b * rows + r) * G + g) << 2);
          store<i32>(o, nn - (<i32><u32>s << 1));
          if (two) store<i32>(o + (<usize>G << 2), nn - (<i32>(s >>> 32) << 1));
        }
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
