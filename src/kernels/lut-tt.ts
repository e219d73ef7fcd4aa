/**
 * lut-tt — ternary × ternary by table lookup on the lut layout of lut-i8.ts (the weights' 2-bit
 * pair indices, 16 rows per 16-byte vector), exact:
 *
 *   acc[b,r,g] = Σ_{quads q∈g} T[a_q][idx_a(r,q)] + T[b_q][idx_b(r,q)]
 *   T[a][idx] = t₁·u₁ + t₂·u₂,  a = 3·(u₁+1) + (u₂+1),  idx = 3·(t₁+1) + (t₂+1)   (a, idx ∈ 0..8)
 *
 * Activation pairs take only nine values, so the 81 possible tables of a quad (two pairs, 32
 * bytes) are built once per call into `pre` (2.6 KB, in L1 for the whole call) and a token is
 * reduced to one byte per quad, its code 9·a + b (lutTTCodes, from the bit planes). Per quad
 * and 16 rows: one weight load, three ops to cut the indices, one code load, two swizzles, two
 * byte adds. |T| ≤ 2, so a lane of the i8 accumulator grows by ≤ 4 per quad and is widened to
 * i16 (even rows from the low bytes, odd rows from the high bytes) every 31 quads (124 < 128);
 * the i16 sums grow by ≤ 124 per flush and are widened to i32 at the end of a tile of ≤ 4096
 * quads (33 flushes · 124 < 32768 would already hold 8 KB of codes).
 *
 * Codes: [token][group][nq] bytes, then pre (81 × 32 bytes) at codes + batch·G·nq rounded up to
 * 16. Zero trits and padding columns have pair value 4 (t = 0), whose table row is all zero.
 */

@inline function sw(t: v128, i: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(t, i); // indices < 16: same result
  return i8x16.swizzle(t, i);
}

/** Bytes of codes (and the 81 tables after them) for `n` tokens. */
export function lutTTBytes(n: i32, G: i32, nq: i32): i32 {
  return ((n * G * nq + 15) & ~15) + 81 * 32;
}

@inline function trit(plus: usize, minus: usize, row: i32, wpr: i32, c: i32): i32 {
  const o = (<usize>(row * wpr + (c >> 5))) << 2;
  return <i32>((load<u32>(plus + o) >>> (c & 31)) & 1) - <i32>((load<u32>(minus + o) >>> (c & 31)) & 1);
}

/**
 * Ternary activations as bit planes [n, wpr words] → codes and the 81 tables (see above).
 * Columns past a group's end count as 0.
 */
export function lutTTCodes(plus: usize, minus: usize, n: i32, cols: i32, wpr: i32, gc: i32, G: i32, nq: i32, codes: usize): void {
  const pre = codes + <usize>((n * G * nq + 15) & ~15);
  // tables: pre[9a + b] = [T[a][0..15], T[b][0..15]], T[a][idx] = t₁·u₁ + t₂·u₂ (0 past idx 8)
  for (let a = 0; a < 9; a++) {
    const u1 = a / 3 - 1, u2 = a % 3 - 1;
    for (let idx = 0; idx < 16; idx++) {
      const v = idx < 9 ? (idx / 3 - 1) * u1 + (idx % 3 - 1) * u2 : 0;
      for (let b = 0; b < 9; b++) {
        store<i8>(pre + (<usize>(9 * a + b) << 5) + <usize>idx, <i8>v);
        store<i8>(pre + (<usize>(9 * b + a) << 5) + 16 + <usize>idx, <i8>v);
      }
    }
  }
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = min(gc, cols - g * gc);
      const d = codes + <usize>((b * G + g) * nq);
      const c0 = g * gc;
      for (let q = 0; q < nq; q++) {
        const c = q << 2;
        const u0 = c < lim ? trit(plus, minus, b, wpr, c0 + c) : 0;
        const u1 = c + 1 < lim ? trit(plus, minus, b, wpr, c0 + c + 1) : 0;
        const u2 = c + 2 < lim ? trit(plus, minus, b, wpr, c0 + c + 2) : 0;
        const u3 = c + 3 < lim ? trit(plus, minus, b, wpr, c0 + c + 3) : 0;
        store<u8>(d + <usize>q, <u8>(9 * (3 * (u0 + 1) + (u1 + 1)) + 3 * (u2 + 1) + (u3 + 1)));
      }
    }
  }
}

/** Σ over quads [0, n) of one 16-row tile (wp) against one token's codes (cp), added into acc (16 × i32). */
function tileTT(wp: usize, cp: usize, pre: usize, n: i32, acc: usize): void {
  const z = n >>> 31;
  const M = i8x16.splat(<i8>(15 | z));
  let E = i16x8.splat(0), O = i16x8.splat(0);
  const pend = wp + (<usize>n << 4);
  let p = wp, c = cp;
  while (p < pend) {
    const pe = min(pend, p + 31 * 16);
    let A = i8x16.splat(0);
    for (; p < pe; p += 16, c++) {
      const v = v128.load(p);
      const t = pre + (<usize>load<u8>(c) << 5);
      A = i8x16.add(A, i8x16.add(sw(v128.load(t), v128.and(v, M)), sw(v128.load(t, 16), v128.and(i16x8.shr_u(v, 4), M))));
    }
    E = i16x8.add(E, i16x8.shr_s(i16x8.shl(A, 8), 8));
    O = i16x8.add(O, i16x8.shr_s(A, 8));
  }
  const e0 = i32x4.extend_low_i16x8_s(E), e1 = i32x4.extend_high_i16x8_s(E);
  const o0 = i32x4.extend_low_i16x8_s(O), o1 = i32x4.extend_high_i16x8_s(O);
  v128.store(acc, i32x4.add(v128.load(acc), v128.shuffle<u32>(e0, o0, 0, 4, 1, 5)));
  v128.store(acc, i32x4.add(v128.load(acc, 16), v128.shuffle<u32>(e0, o0, 2, 6, 3, 7)), 16);
  v128.store(acc, i32x4.add(v128.load(acc, 32), v128.shuffle<u32>(e1, o1, 0, 4, 1, 5)), 32);
  v128.store(acc, i32x4.add(v128.load(acc, 48), v128.shuffle<u32>(e1, o1, 2, 6, 3, 7)), 48);
}

/** Quads per tile: ≤ 4096 (i16 bound above) and a weight tile (16 bytes per quad) of ≤ 16 KB, in L1 while the tokens pass. */
const TILE = 1024;

/**
 * Row blocks [b0, b1) (16 rows each) of out i32 [batch][rows][G] (raw ternary dots). w: lut
 * layout (lut-i8.ts); codes: lutTTCodes' output; acc: i32 scratch [batch][row blocks][16].
 */
export function lutTT(w: usize, G: i32, nq: i32, codes: usize, batch: i32, out: usize, rows: i32, acc: usize, b0: i32, b1: i32): void {
  const R = (rows + 15) >> 4;
  const gBytes = <usize>nq << 4;
  const pre = codes + <usize>((batch * G * nq + 15) & ~15);
  for (let g = 0; g < G; g++) {
    const wg = w + <usize>(g * R) * gBytes;
    for (let b = 0; b < batch; b++) memory.fill(acc + (<usize>(b * R + b0) << 6), 0, <usize>(b1 - b0) << 6);
    for (let c0 = 0; c0 < nq; c0 += TILE) {
      const n = min(TILE, nq - c0);
      for (let rb = b0; rb < b1; rb++) {
        const wt = wg + <usize>rb * gBytes + (<usize>c0 << 4);
        for (let b = 0; b < batch; b++) tileTT(wt, codes + <usize>((b * G + g) * nq + c0), pre, n, acc + (<usize>(b * R + rb) << 6));
      }
    }
    for (let rb = b0; rb < b1; rb++) {
      const r0 = rb << 4;
      const nr = min(16, rows - r0);
      for (let b = 0; b < batch; b++) {
        const a = acc + (<usize>(b * R + rb) << 6);
        for (let k = 0; k < nr; k++) store<i32>(out + (<usize>((b * rows + r0 + k) * G + g) << 2), load<i32>(a + (<usize>k << 2)));
      }
    }
  }
}
