/**
 * lut-i8 — ternary × int8 by table lookup (the T-MAC / bitnet.cpp "TL" idea, kept exact):
 * instead of multiplying, each pair of activations (x₁, x₂) gets a table of its nine possible
 * contributions, and the weights pick entries with i8x16.swizzle, 16 rows per instruction.
 *
 *   T_p[idx] = t₁·x₁ + t₂·x₂   for idx = 3·(t₁+1) + (t₂+1) ∈ 0..8   (pair p = columns 2p, 2p+1)
 *   acc[b,r,g] = Σ_{p∈g} T_p[idx(r, p)]
 *
 * T lies in [−256, 256], so each table is stored as two 16-byte halves, low bytes and high bytes
 * (entries 9..15 are 0); two swizzles fetch both halves for 16 rows and an interleaving shuffle
 * (punpcklbw/punpckhbw) rebuilds the exact i16 values. Per 64 weights: one 16-byte weight load,
 * three ops to cut the 4-bit indices, four swizzles, four shuffles, four adds — against the
 * multiply kernel's 13–30 (ternary-i8.ts). Sums are widened to i32 every 32 steps (32 · 2 · 512
 * < 32768, exact even for q = −128).
 *
 * Weight layout ("lut", prep below, built once per tensor): rows in R blocks of 16 (the last
 * block zero-padded), each row cut into G groups of nq quads (4 columns; groups zero-padded to
 * whole quads); stored group-major, [group][row block][quad] × 16 bytes, byte r = idx(row 16·rb + r,
 * columns 4q, 4q+1) | idx(…, 4q+2, 4q+3) << 4. With groups (G > 1) each pair of row blocks
 * interleaves per quad ([group][row-block pair][quad][block of the pair], an odd last block alone),
 * and groupSums2 serves both blocks from each table load (the same layout trick as lut3-i8.ts;
 * 1.5–3 % less CPU time over the 0.7B decode's weights, load 17). Zero trits (and padding) have code 1, so a padded
 * pair reads T[4] = 0. Two bits per weight, as the codes layout. Tables (per call):
 * [token][group][pair] 32 bytes.
 *
 * Loop order: group → row block → token. One group's tables (nq · 64 bytes = 4 KiB per token at
 * 256 columns) stay in L1 while a chunk's row blocks stream past, and each 16-row × 1-group weight
 * tile (nq · 16 bytes) is read once for all tokens; group-major storage keeps that stream
 * contiguous. (Row block → group order re-read every table once per row block, from L2 when the
 * tables outgrow L1: 4096×11008 ran 1.45× slower per weight than 11008×4096.)
 *
 * Outputs are those of ternary-i8.ts (mode 0: the i32 accumulators; modes 1, 2: the f32 outputs of
 * quant/dequantize.ts, bit-identical), computed for 16 rows at once in f64x2 lanes: the per-row
 * f64 sums over groups live in `sacc` (f64 per token and padded row, [batch][R·16]; chunks own
 * disjoint rows) and are added in group order as dequantize.ts does; the group scales come
 * transposed (gsT: f32 [G][rows padded to 16]).
 */

import { clearSums, finishRows, foldGroup, sw, trit } from './lut-rows';

@inline function lo16(l: v128, h: v128): v128 {
  return v128.shuffle<u8>(l, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

@inline function hi16(l: v128, h: v128): v128 {
  return v128.shuffle<u8>(l, h, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
}

/**
 * Byte offset of (group g, row block rb, quad q): group-major; with groups (G > 1) each pair of
 * row blocks interleaves per quad (a lone last block alone), without (G = 1) blocks follow each other.
 */
@inline function lutOffset(g: i32, rb: i32, q: i32, R: i32, G: i32, nq: i32): usize {
  if (G == 1 || (rb | 1) >= R) return (<usize>(g * R + rb) * <usize>nq + <usize>q) << 4;
  return ((<usize>(g * R + (rb & ~1)) * <usize>nq) + <usize>(q * 2 + (rb & 1))) << 4;
}

/** Bit planes → the lut layout (see above). */
export function planesToLut(plus: usize, minus: usize, dst: usize, rows: i32, cols: i32, wpr: i32, gc: i32, G: i32, nq: i32): void {
  const R = (rows + 15) >> 4;
  for (let rb = 0; rb < R; rb++) {
    for (let g = 0; g < G; g++) {
      const lim = min(gc, cols - g * gc);
      for (let q = 0; q < nq; q++) {
        const d = dst + lutOffset(g, rb, q, R, G, nq);
        for (let r = 0; r < 16; r++) {
          const row = (rb << 4) + r;
          let byte = 0x44;
          if (row < rows) {
            const c = g * gc + (q << 2);
            const j = lim - (q << 2); // real columns left in the group
            const t0 = j > 0 ? trit(plus, minus, row, wpr, c) : 0;
            const t1 = j > 1 ? trit(plus, minus, row, wpr, c + 1) : 0;
            const t2 = j > 2 ? trit(plus, minus, row, wpr, c + 2) : 0;
            const t3 = j > 3 ? trit(plus, minus, row, wpr, c + 3) : 0;
            byte = (3 * (t0 + 1) + (t1 + 1)) | ((3 * (t2 + 1) + (t3 + 1)) << 4);
          }
          store<u8>(d + <usize>r, <u8>byte);
        }
      }
    }
  }
}

/**
 * int8 activations [n, cols] → tables [n][G][2·nq pairs] of 32 bytes (low bytes, high bytes of
 * T_p[0..15]); columns past a group's end count as x = 0.
 */
export function lutTables(q: usize, n: i32, cols: i32, gc: i32, G: i32, nq: i32, dst: usize): void {
  // t₁ and t₂ of idx 0..7 and 8..15 as i16 lanes
  const A0 = i16x8(-1, -1, -1, 0, 0, 0, 1, 1), B0 = i16x8(-1, 0, 1, -1, 0, 1, -1, 0);
  const A1 = i16x8(1, 0, 0, 0, 0, 0, 0, 0), B1 = i16x8(1, 0, 0, 0, 0, 0, 0, 0);
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = min(gc, cols - g * gc);
      const src = q + <usize>b * cols + <usize>(g * gc);
      let d = dst + ((<usize>((b * G + g) * nq)) << 6);
      for (let c = 0; c < nq << 2; c += 2, d += 32) {
        const x1 = i16x8.splat(c < lim ? <i16>load<i8>(src + <usize>c) : 0);
        const x2 = i16x8.splat(c + 1 < lim ? <i16>load<i8>(src + <usize>c + 1) : 0);
        const v0 = i16x8.add(i16x8.mul(A0, x1), i16x8.mul(B0, x2));
        const v1 = i16x8.add(i16x8.mul(A1, x1), i16x8.mul(B1, x2));
        v128.store(d, v128.shuffle<u8>(v0, v1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
        v128.store(d, v128.shuffle<u8>(v0, v1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), 16);
      }
    }
  }
}

/** acc (4 × i32x4 = 16 rows) for one group of one token: Σ over its nq quads. */
@inline function groupSums(wg: usize, tg: usize, nq: i32, M: v128, out: usize): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  for (let q0 = 0; q0 < nq; q0 += 32) {
    let a0 = i16x8.splat(0), a1 = i16x8.splat(0);
    const end = wg + (<usize>min(nq, q0 + 32) << 4);
    for (let wp = wg + (<usize>q0 << 4), tp = tg + (<usize>q0 << 6); wp < end; wp += 16, tp += 64) {
      const v = v128.load(wp);
      const ia = v128.and(v, M), ib = v128.and(i16x8.shr_u(v, 4), M);
      const la = sw(v128.load(tp), ia), ha = sw(v128.load(tp, 16), ia);
      const lb = sw(v128.load(tp, 32), ib), hb = sw(v128.load(tp, 48), ib);
      a0 = i16x8.add(a0, i16x8.add(lo16(la, ha), lo16(lb, hb)));
      a1 = i16x8.add(a1, i16x8.add(hi16(la, ha), hi16(lb, hb)));
    }
    c0 = i32x4.add(c0, i32x4.extend_low_i16x8_s(a0));
    c1 = i32x4.add(c1, i32x4.extend_high_i16x8_s(a0));
    c2 = i32x4.add(c2, i32x4.extend_low_i16x8_s(a1));
    c3 = i32x4.add(c3, i32x4.extend_high_i16x8_s(a1));
  }
  v128.store(out, c0);
  v128.store(out, c1, 16);
  v128.store(out, c2, 32);
  v128.store(out, c3, 48);
}

/**
 * Two row blocks for one group of one token (quad q of the first block at wg + 32·q, of the
 * second 16 bytes on: the interleaved layout): each table load serves 32 rows.
 */
@inline function groupSums2(wg: usize, tg: usize, nq: i32, M: v128, out: usize): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  let d0 = i32x4.splat(0), d1 = i32x4.splat(0), d2 = i32x4.splat(0), d3 = i32x4.splat(0);
  for (let q0 = 0; q0 < nq; q0 += 32) {
    let a0 = i16x8.splat(0), a1 = i16x8.splat(0), b0 = i16x8.splat(0), b1 = i16x8.splat(0);
    const end = wg + (<usize>min(nq, q0 + 32) << 5);
    for (let wp = wg + (<usize>q0 << 5), tp = tg + (<usize>q0 << 6); wp < end; wp += 32, tp += 64) {
      const v = v128.load(wp), v2 = v128.load(wp, 16);
      const tl = v128.load(tp), th = v128.load(tp, 16);
      const ia = v128.and(v, M), ia2 = v128.and(v2, M);
      const la = sw(tl, ia), ha = sw(th, ia), la2 = sw(tl, ia2), ha2 = sw(th, ia2);
      const ul = v128.load(tp, 32), uh = v128.load(tp, 48);
      const ib = v128.and(i16x8.shr_u(v, 4), M), ib2 = v128.and(i16x8.shr_u(v2, 4), M);
      const lb = sw(ul, ib), hb = sw(uh, ib), lb2 = sw(ul, ib2), hb2 = sw(uh, ib2);
      a0 = i16x8.add(a0, i16x8.add(lo16(la, ha), lo16(lb, hb)));
      a1 = i16x8.add(a1, i16x8.add(hi16(la, ha), hi16(lb, hb)));
      b0 = i16x8.add(b0, i16x8.add(lo16(la2, ha2), lo16(lb2, hb2)));
      b1 = i16x8.add(b1, i16x8.add(hi16(la2, ha2), hi16(lb2, hb2)));
    }
    c0 = i32x4.add(c0, i32x4.extend_low_i16x8_s(a0));
    c1 = i32x4.add(c1, i32x4.extend_high_i16x8_s(a0));
    c2 = i32x4.add(c2, i32x4.extend_low_i16x8_s(a1));
    c3 = i32x4.add(c3, i32x4.extend_high_i16x8_s(a1));
    d0 = i32x4.add(d0, i32x4.extend_low_i16x8_s(b0));
    d1 = i32x4.add(d1, i32x4.extend_high_i16x8_s(b0));
    d2 = i32x4.add(d2, i32x4.extend_low_i16x8_s(b1));
    d3 = i32x4.add(d3, i32x4.extend_high_i16x8_s(b1));
  }
  v128.store(out, c0);
  v128.store(out, c1, 16);
  v128.store(out, c2, 32);
  v128.store(out, c3, 48);
  v128.store(out, d0, 64);
  v128.store(out, d1, 80);
  v128.store(out, d2, 96);
  v128.store(out, d3, 112);
}

/**
 * Per-thread tables. Each thread (each instance of this module: the calling thread is 0, pool
 * worker k is k + 1) builds the call's tables itself, into its own slice of `tabs`, on its first
 * chunk of a job (`job`: a number the caller changes every call). Tables built once by the calling
 * thread and read by the workers cost more than building them twice: every call the caller's
 * stores had to take back the lines the workers had read (0.7B decode, 2 threads: 8.7 / 21.8 µs
 * per table build at 1536 / 4096 columns against 2.8 / 7.6 µs on one thread), and the workers then
 * fetched them across cores; now both threads build at once, each in its own cache. Batches over
 * a few tokens (prompts) keep one shared set built by the caller (job < 0): their tables are
 * batch times larger, and building them on every thread cost 0.88× prompt tokens/s (128-token
 * prompt, 2 threads, load 4.6).
 */
let threadIndex: i32 = 0;
let tableJob: i32 = -1;

/** Set by each pool worker at start (its slot + 1); the calling thread's instance keeps 0. */
export function setThreadIndex(i: i32): void {
  threadIndex = i;
  tableJob = -1;
}

/**
 * Row-block pairs [p0, p1) (the pool splits pairs, never a pair; the last pair may be one block).
 * q, cols: the int8 activations [batch, cols] (tables: lutTables, gc = 4·nq); tabs, job: see
 * threadIndex; acc16: 64 bytes of scratch per row block (i32 sums of one group), sacc:
 * f64 per token and padded row. Other arguments as ternary-i8.ts. With groups (G > 1) a pair's
 * quads are interleaved and groupSums2 serves both blocks from each table load.
 */
export function lutI8(
  w: usize, G: i32, nq: i32, q: usize, cols: i32, tabs: usize, job: i32, batch: i32, out: usize, rows: i32, mode: i32,
  xsc: usize, scales: usize, gsT: usize, acc16: usize, sacc: usize, p0: i32, p1: i32,
): void {
  // job ≥ 0: this thread's own tables, built on its first chunk of the job (see threadIndex);
  // job < 0: the caller built one shared set at tabs
  let tab = tabs;
  if (job >= 0) {
    tab += <usize>threadIndex * (<usize>(batch * G * nq) << 6);
    if (tableJob != job) {
      lutTables(q, batch, cols, nq << 2, G, nq, tab);
      tableJob = job;
    }
  }
  const M = i8x16.splat(<i8>(15 | (nq >>> 31)));
  const R = (rows + 15) >> 4;
  const R16 = R << 4;
  const b0 = p0 << 1, b1 = min(R, p1 << 1);
  const gBytes = <usize>nq << 4;
  const tTok = <usize>(G * nq) << 6;
  const tG = <usize>nq << 6;
  if (mode != 0) clearSums(sacc, batch, R16, b0, b1);
  for (let g = 0; g < G; g++) {
    const wg = w + <usize>(g * R) * gBytes;
    for (let rb = b0; rb < b1; ) {
      const wr = wg + <usize>rb * gBytes;
      const two = G > 1 && rb + 1 < b1;
      const nb = two ? 2 : 1;
      const a = acc16 + (<usize>rb << 6);
      for (let b = 0; b < batch; b++) {
        const tg = tab + <usize>b * tTok + <usize>g * tG;
        if (two) groupSums2(wr, tg, nq, M, a);
        else groupSums(wr, tg, nq, M, a);
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
