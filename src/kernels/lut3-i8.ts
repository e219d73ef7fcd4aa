/**
 * lut3-i8 — ternary × int8 by table lookup over column triples with a sign bit (the "TL2" idea of
 * bitnet.cpp, kept exact): a triple of trits t = (t₁, t₂, t₃) is v = 9t₁ + 3t₂ + t₃ ∈ [−13, 13],
 * and t = sign(v)·digits(|v|) (balanced ternary), so 14 table entries T[0..13] and a sign serve
 * three columns: two lookups (the tables' low and high halves) per three columns, where the pair
 * tables of lut-i8.ts take four per four. On SIMD128 V8 spends three x64 instructions on every
 * i8x16.swizzle, so this is the faster int8 kernel there (see docs/wasm.md, "Column triples"):
 *
 *   acc[b,r,g] = Σ_{triples j∈g} sign_j(r) · T_j[|v_j(r)|],   T_j[e] = Σ_k digit_k(e)·x[3j + k]
 *
 * Exact arithmetic. Each x splits into signed nibbles x = 16·h + l (l ∈ [−8, 7], h ∈ [−8, 8]),
 * so TL_j = Σ d·l and TH_j = Σ d·h lie in [−24, 24], and a triple's table is built in i16 from
 * y = l + 256·h as Y[e] = Σ d·y + 128 + 256·128, whose low bytes are TL + 128 and high bytes
 * TH + 128 (mod 256), exactly (TL + 128 ∈ [104, 152]: no borrow). Per step (16 rows × 1 triple)
 * the kernel looks up both bytes and applies the row's sign mask s (0 or −1) as x ^ s:
 *   s = 0: TL + 128;    s = −1: ~(TL + 128) = −TL − 129 ≡ (−TL + 128) − 1   (mod 256)
 * so after k steps (k odd, at most 5) with m negative triples a byte lane holds Σ±TL − m + k·128 ≡
 * (Σ±TL − m) + 128 (mod 256), and Σ±TL − m ∈ [−125, 120] makes it the u8 value (Σ±TL − m) + 128
 * exactly (the same for H). A flush takes 5 steps, the group's last one 1, 3 or 5 (lut3Triples
 * adds one zero triple where ⌈gc/3⌉ would leave 2 or 4). The u8 lanes are widened to u16 (even
 * rows: & 0xFF, odd rows: >> 8) and each flush's 128 is removed at the end, with the −m: per
 * (row, group)
 *   acc = Σ(EL + 16·EH) + corr(r, g),   corr = 17·neg(r, g) − F·(128 + 16·128)
 * (F: flushes of the group, neg: its negative triples; corr is computed at load time, and the
 * tiles store acc = corr + sums directly). u16 lanes grow by ≤ 248 per flush and are widened to
 * i32 every 256 flushes (< 65536).
 *
 * Row blocks go in pairs (tile3x2): each table load serves 32 rows, which halves the table
 * traffic (a token's tables, 32 bytes per triple, live in L2 for long rows). With groups (G > 1:
 * the model path's 256-column Q8_K groups) a pair's bytes interleave per triple, so the tile reads
 * one sequential stream: two streams of 1.4 KB (the blocks one after the other) ran the 0.7B
 * decode's weights, streamed from DRAM, at half the speed of the pair kernel, and a row-block-major
 * order (long streams, but every group's tables cycled per pair) at 0.7×. Without groups the blocks
 * stay apart (two long streams measured 4-15 % faster than one interleaved stream at 4096×11008).
 * The pool splits row-block pairs. To fit V8's vector
 * registers the pair keeps two i16 sums per block instead of four: E = Σ(L + 16·H) mod 2¹⁶ over
 * whole lanes (even byte + 256·odd byte) and O = Σ odd bytes of L + 16·H, so the even rows'
 * sum is (E − 256·O) mod 2¹⁶; both stay below 2¹⁶ for 15 flushes (15 · 17 · 248).
 *
 * Weight layout ("lut3", built once per tensor by planesToLut3): rows in blocks of 16, each group
 * of gc columns cut into nt = lut3Triples(gc) triples (zero-padded: byte 0 is v = 0, T[0] = 0);
 * stored [group][row block][triple] × 16 bytes, with groups [group][row-block pair][triple][block
 * of the pair] × 16 bytes (an odd last block alone), byte r = |v| | (v < 0 ? 0x80 : 0) of row
 * 16·rb + r. 2.67 bits per weight
 * (86 triples per 256 columns). corr: i32 [G][rows padded to 16]. Tables per call:
 * [token][group][nt] × 32 bytes (TL + 128, then TH + 128).
 */

import { clearSums, finishRows, foldGroup, sw, trit } from './lut-rows';

/**
 * Triples per group: ⌈gc/3⌉, plus one when that leaves an even-length last flush (nt mod 5 ∈ {2, 4}):
 * every flush must add an odd number of steps, so that its bias is 128 (mod 256).
 */
export function lut3Triples(gc: i32): i32 {
  const nt = (gc + 2) / 3;
  const r = nt % 5;
  return r == 2 || r == 4 ? nt + 1 : nt;
}

/** Flushes per group (5 steps each, the last one 1, 3 or 5). */
@inline function flushes(nt: i32): i32 {
  return (nt + 4) / 5;
}

/**
 * Byte offset of (group g, row block rb, triple j): group-major; with groups (G > 1) each pair of
 * row blocks interleaves per triple (a lone last block alone), without (G = 1) blocks follow each other.
 */
@inline function tileOffset(g: i32, rb: i32, j: i32, R: i32, G: i32, nt: i32): usize {
  if (G == 1 || (rb | 1) >= R) return (<usize>(g * R + rb) * <usize>nt + <usize>j) << 4;
  return ((<usize>(g * R + (rb & ~1)) * <usize>nt) + <usize>(j * 2 + (rb & 1))) << 4;
}

/** Bit planes → the lut3 layout and the per-(group, row) corrections corr (see above). */
export function planesToLut3(plus: usize, minus: usize, dst: usize, corr: usize, rows: i32, cols: i32, wpr: i32, gc: i32, G: i32, nt: i32): void {
  const R = (rows + 15) >> 4;
  const R16 = R << 4;
  const bias = flushes(nt) * (128 + 16 * 128);
  for (let rb = 0; rb < R; rb++) {
    for (let g = 0; g < G; g++) {
      const lim = min(gc, cols - g * gc);
      for (let r = 0; r < 16; r++) {
        const row = (rb << 4) + r;
        let n = 0;
        for (let j = 0; j < nt; j++) {
          let byte = 0;
          const c = j * 3;
          if (row < rows && c < lim) {
            const t1 = trit(plus, minus, row, wpr, g * gc + c);
            const t2 = c + 1 < lim ? trit(plus, minus, row, wpr, g * gc + c + 1) : 0;
            const t3 = c + 2 < lim ? trit(plus, minus, row, wpr, g * gc + c + 2) : 0;
            const v = 9 * t1 + 3 * t2 + t3;
            byte = v < 0 ? -v | 0x80 : v;
            if (v < 0) n++;
          }
          store<u8>(dst + tileOffset(g, rb, j, R, G, nt) + <usize>r, <u8>byte);
        }
        store<i32>(corr + (<usize>(g * R16 + row) << 2), 17 * n - bias);
      }
    }
  }
}

/** Bytes of lut3Tables' output for n tokens, plus its scratch. */
export function lut3TableBytes(n: i32, G: i32, nt: i32): i32 {
  return n * G * nt * 32 + nt * 6 + 64;
}

/**
 * int8 activations [n, cols] → tables [n][G][nt] × 32 bytes (see above); columns past a group's
 * end count as 0. y = l + 256·h = 16·x − 15·l is staged per group as i16 (16 columns per step)
 * in the scratch after the tables, then each triple's two table halves come from three
 * broadcast loads, six multiplies and two byte shuffles.
 */
export function lut3Tables(q: usize, n: i32, cols: i32, gc: i32, G: i32, nt: i32, dst: usize): void {
  // balanced-ternary digits of e = 0..15 (14, 15 unused: 0) as i16 lanes
  const A0 = i16x8(0, 0, 0, 0, 0, 1, 1, 1), A1 = i16x8(1, 1, 1, 1, 1, 1, 0, 0);
  const B0 = i16x8(0, 0, 1, 1, 1, -1, -1, -1), B1 = i16x8(0, 0, 0, 1, 1, 1, 0, 0);
  const C0 = i16x8(0, 1, -1, 0, 1, -1, 0, 1), C1 = i16x8(-1, 0, 1, -1, 0, 1, 0, 0);
  const bias = i16x8.splat(<i16>(128 + 256 * 128));
  const y = dst + <usize>(n * G * nt) * 32;
  const w = nt * 3;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = min(gc, cols - g * gc);
      const src = q + <usize>b * cols + <usize>(g * gc);
      let c = 0;
      for (; c + 16 <= lim; c += 16) {
        const x = v128.load(src + <usize>c);
        const l = i8x16.sub(v128.and(i8x16.add(x, i8x16.splat(8)), i8x16.splat(15)), i8x16.splat(8));
        const xl = i16x8.extend_low_i8x16_s(x), xh = i16x8.extend_high_i8x16_s(x);
        const ll = i16x8.extend_low_i8x16_s(l), lh = i16x8.extend_high_i8x16_s(l);
        v128.store(y + (<usize>c << 1), i16x8.sub(i16x8.shl(xl, 4), i16x8.sub(i16x8.shl(ll, 4), ll)));
        v128.store(y + (<usize>c << 1), i16x8.sub(i16x8.shl(xh, 4), i16x8.sub(i16x8.shl(lh, 4), lh)), 16);
      }
      for (; c < w; c++) {
        const x = c < lim ? <i32>load<i8>(src + <usize>c) : 0;
        const l = ((x + 8) & 15) - 8;
        store<i16>(y + (<usize>c << 1), <i16>(16 * x - 15 * l));
      }
      let d = dst + ((<usize>((b * G + g) * nt)) << 5);
      for (let yp = y, ye = y + (<usize>w << 1); yp < ye; yp += 6, d += 32) {
        const y1 = v128.load16_splat(yp), y2 = v128.load16_splat(yp, 2), y3 = v128.load16_splat(yp, 4);
        const v0 = i16x8.add(i16x8.add(i16x8.mul(A0, y1), i16x8.mul(B0, y2)), i16x8.add(i16x8.mul(C0, y3), bias));
        const v1 = i16x8.add(i16x8.add(i16x8.mul(A1, y1), i16x8.mul(B1, y2)), i16x8.add(i16x8.mul(C1, y3), bias));
        v128.store(d, v128.shuffle<u8>(v0, v1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
        v128.store(d, v128.shuffle<u8>(v0, v1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), 16);
      }
    }
  }
}

/**
 * 16 × 0x0F, the index mask, loaded from memory: V8 keeps it in a register (built from a run-time
 * value it was rebuilt in every other step of the unrolled loop, 3 instructions, and a zero built
 * that way was too; the literal zero stays put).
 */
const MASK15 = memory.data<u8>([15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15], 16);

/** acc[0..15] = corr[0..15] + the even (e0: rows 0, 2, 4, 6; e1: 8..14) and odd (o0, o1) row sums. */
@inline function putRows(acc: usize, corr: usize, e0: v128, e1: v128, o0: v128, o1: v128): void {
  v128.store(acc, i32x4.add(v128.load(corr), v128.shuffle<u32>(e0, o0, 0, 4, 1, 5)));
  v128.store(acc, i32x4.add(v128.load(corr, 16), v128.shuffle<u32>(e0, o0, 2, 6, 3, 7)), 16);
  v128.store(acc, i32x4.add(v128.load(corr, 32), v128.shuffle<u32>(e1, o1, 0, 4, 1, 5)), 32);
  v128.store(acc, i32x4.add(v128.load(corr, 48), v128.shuffle<u32>(e1, o1, 2, 6, 3, 7)), 48);
}

/**
 * One 16-row tile (wp: 16 bytes per triple) over n triples against the tables at tp (32 bytes per
 * triple): acc = corr + the exact sums.
 */
function tile3(wp: usize, tp: usize, n: i32, acc: usize, corr: usize): void {
  const M = v128.load(MASK15);
  const Z = i8x16.splat(0);
  const MF = i16x8.splat(<i16>(255 | (n >>> 31)));
  let e0 = i32x4.splat(0), e1 = i32x4.splat(0), o0 = i32x4.splat(0), o1 = i32x4.splat(0);
  const pend = wp + (<usize>n << 4);
  let p = wp, t = tp;
  while (p < pend) {
    const seg = min(pend, p + 256 * 5 * 16);
    let EL = i16x8.splat(0), OL = i16x8.splat(0), EH = i16x8.splat(0), OH = i16x8.splat(0);
    while (p < seg) {
      const pe = min(seg, p + 5 * 16);
      let L = i8x16.splat(0), H = i8x16.splat(0);
      for (; p < pe; p += 16, t += 32) {
        const w = v128.load(p);
        const i = v128.and(w, M);
        const s = i8x16.lt_s(w, Z);
        L = i8x16.add(L, v128.xor(sw(v128.load(t), i), s));
        H = i8x16.add(H, v128.xor(sw(v128.load(t, 16), i), s));
      }
      EL = i16x8.add(EL, v128.and(L, MF));
      OL = i16x8.add(OL, i16x8.shr_u(L, 8));
      EH = i16x8.add(EH, v128.and(H, MF));
      OH = i16x8.add(OH, i16x8.shr_u(H, 8));
    }
    e0 = i32x4.add(e0, i32x4.add(i32x4.extend_low_i16x8_u(EL), i32x4.shl(i32x4.extend_low_i16x8_u(EH), 4)));
    e1 = i32x4.add(e1, i32x4.add(i32x4.extend_high_i16x8_u(EL), i32x4.shl(i32x4.extend_high_i16x8_u(EH), 4)));
    o0 = i32x4.add(o0, i32x4.add(i32x4.extend_low_i16x8_u(OL), i32x4.shl(i32x4.extend_low_i16x8_u(OH), 4)));
    o1 = i32x4.add(o1, i32x4.add(i32x4.extend_high_i16x8_u(OL), i32x4.shl(i32x4.extend_high_i16x8_u(OH), 4)));
  }
  putRows(acc, corr, e0, e1, o0, o1);
}

/**
 * Two row blocks against the same tables: each table load serves 32 rows. Triple j of the first
 * block is at wp + j·step, of the second at stride bytes after it. acc, acc2 = corr, corr2 + the
 * exact sums.
 */
function tile3x2(wp: usize, stride: usize, step: usize, tp: usize, n: i32, acc: usize, acc2: usize, corr: usize, corr2: usize): void {
  const M = v128.load(MASK15);
  const Z = i8x16.splat(0);
  let e0 = i32x4.splat(0), e1 = i32x4.splat(0), o0 = i32x4.splat(0), o1 = i32x4.splat(0);
  let f0 = i32x4.splat(0), f1 = i32x4.splat(0), g0 = i32x4.splat(0), g1 = i32x4.splat(0);
  const pend = wp + <usize>n * step;
  let p = wp, t = tp;
  while (p < pend) {
    // E: Σ (even-row byte + 256·odd-row byte) of L + 16·H mod 2¹⁶, O: Σ odd-row bytes; ≤ 17·248 per flush, 15 flushes
    const seg = min(pend, p + 15 * 5 * step);
    let E = i16x8.splat(0), O = i16x8.splat(0), E2 = i16x8.splat(0), O2 = i16x8.splat(0);
    while (p < seg) {
      const pe = min(seg, p + 5 * step);
      let L = i8x16.splat(0), H = i8x16.splat(0), L2 = i8x16.splat(0), H2 = i8x16.splat(0);
      for (; p < pe; p += step, t += 32) {
        const tl = v128.load(t), th = v128.load(t, 16);
        const w = v128.load(p);
        const i = v128.and(w, M);
        const s = i8x16.lt_s(w, Z);
        L = i8x16.add(L, v128.xor(sw(tl, i), s));
        H = i8x16.add(H, v128.xor(sw(th, i), s));
        const w2 = v128.load(p + stride);
        const i2 = v128.and(w2, M);
        const s2 = i8x16.lt_s(w2, Z);
        L2 = i8x16.add(L2, v128.xor(sw(tl, i2), s2));
        H2 = i8x16.add(H2, v128.xor(sw(th, i2), s2));
      }
      E = i16x8.add(E, i16x8.add(L, i16x8.shl(H, 4)));
      O = i16x8.add(O, i16x8.add(i16x8.shr_u(L, 8), i16x8.shl(i16x8.shr_u(H, 8), 4)));
      E2 = i16x8.add(E2, i16x8.add(L2, i16x8.shl(H2, 4)));
      O2 = i16x8.add(O2, i16x8.add(i16x8.shr_u(L2, 8), i16x8.shl(i16x8.shr_u(H2, 8), 4)));
    }
    const Ev = i16x8.sub(E, i16x8.shl(O, 8)), Ev2 = i16x8.sub(E2, i16x8.shl(O2, 8));
    e0 = i32x4.add(e0, i32x4.extend_low_i16x8_u(Ev));
    e1 = i32x4.add(e1, i32x4.extend_high_i16x8_u(Ev));
    o0 = i32x4.add(o0, i32x4.extend_low_i16x8_u(O));
    o1 = i32x4.add(o1, i32x4.extend_high_i16x8_u(O));
    f0 = i32x4.add(f0, i32x4.extend_low_i16x8_u(Ev2));
    f1 = i32x4.add(f1, i32x4.extend_high_i16x8_u(Ev2));
    g0 = i32x4.add(g0, i32x4.extend_low_i16x8_u(O2));
    g1 = i32x4.add(g1, i32x4.extend_high_i16x8_u(O2));
  }
  putRows(acc, corr, e0, e1, o0, o1);
  putRows(acc2, corr2, f0, f1, g0, g1);
}

/**
 * Row-block pairs [p0, p1) (the pool splits pairs, never a pair; the last pair may be one block).
 * tab: this call's tables (lut3Tables); corr: the layout's corrections; acc: i32 scratch
 * [batch][row blocks][16]; sacc: f64 per token and padded row. Outputs as lut-i8.ts /
 * ternary-i8.ts (mode 0: i32 accumulators; 1, 2: dequantized f32). Loop order: group → row-block
 * pair → token, so one group's tables stay in L1 while its weights stream past.
 */
export function lut3I8(
  w: usize, G: i32, nt: i32, corr: usize, tab: usize, batch: i32, out: usize, rows: i32, mode: i32,
  xsc: usize, scales: usize, gsT: usize, acc: usize, sacc: usize, p0: i32, p1: i32,
): void {
  const R = (rows + 15) >> 4;
  const R16 = R << 4;
  const b0 = p0 << 1, b1 = min(R, p1 << 1);
  const gBytes = <usize>nt << 4;
  const tTok = <usize>(G * nt) << 5;
  const tG = <usize>nt << 5;
  // interleaved pairs (G > 1): the second block 16 bytes on, 32 bytes per triple; else the next block
  const stride: usize = G > 1 ? 16 : gBytes;
  const step: usize = G > 1 ? 32 : 16;
  if (mode != 0) clearSums(sacc, batch, R16, b0, b1);
  for (let g = 0; g < G; g++) {
    const wg = w + <usize>(g * R) * gBytes;
    const cg = corr + (<usize>(g * R16) << 2);
    for (let rb = b0; rb < b1; ) {
      const wt = wg + <usize>rb * gBytes;
      const two = rb + 1 < b1;
      const nb = two ? 2 : 1;
      // row block → token: a tile is read from memory once for all tokens
      for (let b = 0; b < batch; b++) {
        const tb = tab + <usize>b * tTok + <usize>g * tG;
        const a = acc + (<usize>(b * R + rb) << 6);
        if (two) tile3x2(wt, stride, step, tb, nt, a, a + 64, cg + (<usize>rb << 6), cg + (<usize>(rb + 1) << 6));
        else tile3(wt, tb, nt, a, cg + (<usize>rb << 6));
        for (let k = 0; k < nb; k++) {
          const r0 = (rb + k) << 4;
          foldGroup(a + (<usize>k << 6), b, g, G, r0, min(16, rows - r0), rows, R16, mode, out, sacc, gsT, xsc);
        }
      }
      rb += nb;
    }
  }
  if (mode != 0) finishRows(batch, rows, R16, b0, b1, mode, out, sacc, scales, xsc);
}
