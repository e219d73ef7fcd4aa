/**
 * ternary-i8 — ternary × int8 (BitNet W1.58A8, llama.cpp's Q8_K) on the 2-bit "codes" layout:
 *
 *   acc[b,r,g] = Σ_{c∈g} t[r,c]·q[b,c] = Σ_{c∈g} code[r,c]·q[b,c] − Σ_{c∈g} q[b,c]    (code = t + 1)
 *
 * and, fused (so no integer array goes back to JavaScript), the dequantized outputs of
 * quant/dequantize.ts, computed in f64 in the same order so they are bit-identical:
 *   mode 0  out i32 [b][r][g] = acc                                             (Backend.matmulI8)
 *   mode 1  out f32 [b][r]    = (xs[b]·rs[r]) · Σ_g gs[r,g]·acc[b,r,g]           (per-token int8)
 *   mode 2  out f32 [b][r]    = rs[r] · Σ_g (gs[r,g]·xs[b,g])·acc[b,r,g]         (Q8_K blocks)
 *
 * Codes layout (prep.ts planesToCodes): each row is G groups of `nblk` 16-byte blocks; byte j of
 * block k holds the codes of the group's columns k·64 + 16n + j at bits 2n (n = 0..3).
 *
 * Two inner loops, one per build, because the engines differ in what is cheap:
 *
 *   relaxed SIMD  activations int8 in natural order (prep.ts stageI8). Codes are cut out with masks
 *                 instead of shifts: c0 = w & 3, c1 = w & 12 (= 4·code), c2 = (w>>4) & 3,
 *                 c3 = (w>>4) & 12 — one shift, four ands per 64 weights — and multiplied with
 *                 i16x8.relaxed_dot_i8x16_i7x16_s (pmaddubsw; codes ≤ 8 are valid 7-bit operands)
 *                 into two i16 sums, h1 (×1 fields) and h4 (×4 fields): acc = h1 + h4/4. A lane of
 *                 h4 grows by ≤ 2·(2·128·8) = 4096 per block, so both are widened to i32 every 7
 *                 blocks (7·4096 < 32768): exact. Two rows per pass share the activation loads.
 *   SIMD128       no byte multiply-add exists (i16x8.extmul costs ~5 x86 instructions per 8
 *                 products), so activations are widened once per call to i16, permuted and
 *                 pre-scaled (prep.ts stageI8): within a 64-column block,
 *                   x16[8m + l] = 4^(3 − (m&3)) · x[16(m&3) + 2l + (m>>2)]        (m, l = 0..7).
 *                 A 16-byte code block read as eight u16 lanes L holds lane l's codes at bits 2n
 *                 (column 16n + 2l) and 8 + 2n (column 16n + 2l + 1); masking in place,
 *                 L & (3·4^n) = 4^n·code, so every product x16·(L & mask) = 64·code·x and one
 *                 i32 sum of i32x4.dot_i16x8_s (pmaddwd) gives 64·Σ code·x: one shift (L >> 8)
 *                 and eight ands per 64 weights, two rows per pass sharing the activation loads.
 *                 A lane grows by ≤ 8·2·16384 per block, so sums are flushed (÷64, exact) every
 *                 2048 blocks.
 *
 * The "+1" of the codes cancels with the activation sums from staging: gsums[b,g] (all blocks)
 * or, when blocks are skipped, bsums[b,g,k] of the blocks visited (a skipped block contributes
 * Σ code·q − Σ q = 0). Zero skipping: with `mask` ≠ 0, bit g·nblk + k of the row's `maskWords`
 * u32 words says whether block k of group g holds a nonzero trit; clear blocks are skipped.
 */

/** Horizontal sum of four i32 lanes. */
@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3));
}

@inline function widen(a16: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(a16);
}

@inline function dot8(q: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i16x8.relaxed_dot_i8x16_i7x16_s(q, c);
  return i16x8.add(i16x8.extmul_low_i8x16_s(q, c), i16x8.extmul_high_i8x16_s(q, c));
}

@inline function live(mrow: usize, kb: i32): bool {
  return (load<u32>(mrow + (<usize>(kb >>> 5) << 2)) & (1 << (kb & 31))) != 0;
}

/** Activation bytes per 64-column block in this build's staged layout (64 int8 or 64 i16). */
@inline function blockActBytes(): usize {
  return ASC_FEATURE_RELAXED_SIMD ? 64 : 128;
}

/** 1 when this build stages activations as pre-scaled i16 (SIMD128), 0 for int8 (relaxed). */
export function actI16(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 0 : 1;
}

/** SIMD128 blocks per flush of the 64·Σ sums (see above). */
const FLUSH = 2048;

// ---- relaxed SIMD: one row, blocks [k0, k1) (k1 − k0 ≤ 7) -----------------------------------

@inline function chunkR(wg: usize, xg: usize, k0: i32, k1: i32, M3: v128, MC: v128): v128 {
  let h1 = i16x8.splat(0), h4 = i16x8.splat(0);
  for (let k = k0; k < k1; k++) {
    const wv = v128.load(wg + (<usize>k << 4));
    const ws = i16x8.shr_u(wv, 4);
    const xp = xg + (<usize>k << 6);
    h1 = i16x8.add(h1, i16x8.add(dot8(v128.load(xp), v128.and(wv, M3)), dot8(v128.load(xp, 32), v128.and(ws, M3))));
    h4 = i16x8.add(h4, i16x8.add(dot8(v128.load(xp, 16), v128.and(wv, MC)), dot8(v128.load(xp, 48), v128.and(ws, MC))));
  }
  return i32x4.add(widen(h1), i32x4.shr_s(widen(h4), 2));
}

// ---- SIMD128: one block of one row, 64·Σ code·x ---------------------------------------------

@inline function blockS(L: v128, xp: usize, m0: v128, m1: v128, m2: v128, m3: v128): v128 {
  const H = i16x8.shr_u(L, 8);
  const a = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.load(xp), v128.and(L, m0)), i32x4.dot_i16x8_s(v128.load(xp, 16), v128.and(L, m1))),
    i32x4.add(i32x4.dot_i16x8_s(v128.load(xp, 32), v128.and(L, m2)), i32x4.dot_i16x8_s(v128.load(xp, 48), v128.and(L, m3))),
  );
  const b = i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.load(xp, 64), v128.and(H, m0)), i32x4.dot_i16x8_s(v128.load(xp, 80), v128.and(H, m1))),
    i32x4.add(i32x4.dot_i16x8_s(v128.load(xp, 96), v128.and(H, m2)), i32x4.dot_i16x8_s(v128.load(xp, 112), v128.and(H, m3))),
  );
  return i32x4.add(a, b);
}

/** Σ code·q over a whole group (no mask), one row, one token. */
@inline function group1(wg: usize, xg: usize, nblk: i32, M3: v128, MC: v128, m2: v128, m3: v128): i32 {
  let a = i32x4.splat(0);
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let k0 = 0; k0 < nblk; k0 += 7) a = i32x4.add(a, chunkR(wg, xg, k0, min(nblk, k0 + 7), M3, MC));
  } else {
    for (let k0 = 0; k0 < nblk; k0 += FLUSH) {
      const k1 = min(nblk, k0 + FLUSH);
      let c = i32x4.splat(0);
      for (let k = k0; k < k1; k++) c = i32x4.add(c, blockS(v128.load(wg + (<usize>k << 4)), xg + (<usize>k << 7), M3, MC, m2, m3));
      a = i32x4.add(a, i32x4.shr_s(c, 6));
    }
  }
  return hsum(a);
}

/** Σ code·q over the live blocks of a group, minus their activation sums (bs: the group's bsums). */
@inline function group1Masked(wg: usize, xg: usize, nblk: i32, mrow: usize, kb0: i32, bs: usize, M3: v128, MC: v128, m2: v128, m3: v128): i32 {
  let a = i32x4.splat(0);
  let corr = 0;
  for (let k = 0; k < nblk; k++) {
    if (!live(mrow, kb0 + k)) continue;
    corr += load<i32>(bs + (<usize>k << 2));
    if (ASC_FEATURE_RELAXED_SIMD) a = i32x4.add(a, chunkR(wg, xg, k, k + 1, M3, MC));
    else a = i32x4.add(a, i32x4.shr_s(blockS(v128.load(wg + (<usize>k << 4)), xg + (<usize>k << 7), M3, MC, m2, m3), 6));
  }
  return hsum(a) - corr;
}

// ---- outputs -----------------------------------------------------------------------------------

/** Fold group g's exact sum into the row's f64 accumulator (modes 1, 2) or store it (mode 0). */
@inline function emit(mode: i32, s: f64, acc: i32, out: usize, b: i32, r: i32, g: i32, rows: i32, G: i32, xsc: usize, gscales: usize): f64 {
  if (mode == 0) {
    store<i32>(out + (<usize>((b * rows + r) * G + g) << 2), acc);
    return 0;
  }
  const gs: f64 = gscales != 0 ? <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) : 1.0;
  if (mode == 1) return gscales != 0 ? s + gs * <f64>acc : <f64>acc;
  return s + gs * <f64>load<f32>(xsc + (<usize>(b * G + g) << 2)) * <f64>acc;
}

@inline function finish(mode: i32, s: f64, out: usize, b: i32, r: i32, rows: i32, xsc: usize, scales: usize): void {
  if (mode == 0) return;
  const rs = <f64>load<f32>(scales + (<usize>r << 2));
  const y = mode == 1 ? <f64>load<f32>(xsc + (<usize>b << 2)) * rs * s : rs * s;
  store<f32>(out + (<usize>(b * rows + r) << 2), <f32>y);
}

/**
 * The kernel, rows [r0, r1). x: staged activations [batch][G·nblk blocks] (blockActBytes each);
 * sums: bsums i32 [batch][G][nblk] followed by gsums i32 [batch][G]; xsc: activation scales (mode 1: f32 [batch]; mode 2: f32 [batch][G]); scales,
 * gscales: the weights' f32 scales.
 */
export function ternaryI8(
  w: usize, nblk: i32, G: i32, mask: usize, maskWords: i32, x: usize, batch: i32, sums: usize,
  out: usize, rows: i32, mode: i32, xsc: usize, scales: usize, gscales: usize, r0: i32, r1: i32,
): void {
  const rowBytes = <usize>(G * nblk) << 4;
  const gBytes = <usize>nblk << 4;
  const xgBytes = <usize>nblk * blockActBytes();
  const xs = <usize>G * xgBytes; // staged activation bytes per token
  const gsums = sums + (<usize>(batch * G * nblk) << 2);
  // masks built from a run-time value so V8 keeps them in registers instead of rematerializing
  const z = nblk >>> 31;
  const M3 = ASC_FEATURE_RELAXED_SIMD ? i8x16.splat(<i8>(3 | z)) : i16x8.splat(<i16>(3 | z));
  const MC = ASC_FEATURE_RELAXED_SIMD ? i8x16.splat(<i8>(12 | z)) : i16x8.splat(<i16>(12 | z));
  const m2 = i16x8.splat(<i16>(48 | z));
  const m3 = i16x8.splat(<i16>(192 | z));
  if (mask != 0) {
    for (let r = r0; r < r1; r++) {
      const wr = w + <usize>r * rowBytes;
      const mrow = mask + (<usize>(r * maskWords) << 2);
      for (let b = 0; b < batch; b++) {
        let s: f64 = 0;
        for (let g = 0; g < G; g++) {
          const acc = group1Masked(wr + <usize>g * gBytes, x + <usize>b * xs + <usize>g * xgBytes, nblk, mrow, g * nblk, sums + (<usize>((b * G + g) * nblk) << 2), M3, MC, m2, m3);
          s = emit(mode, s, acc, out, b, r, g, rows, G, xsc, gscales);
        }
        finish(mode, s, out, b, r, rows, xsc, scales);
      }
    }
    return;
  }
  // GEMM: blocks of ~16 KB of codes stay in L1 while every token streams past them, so a prompt
  // reads each weight from memory once (GEMV: one block)
  const RB = batch == 1 ? r1 - r0 : max(2, <i32>(16384 / rowBytes) & ~1);
  for (let q0 = r0; q0 < r1; q0 += RB) {
    const q1 = min(r1, q0 + RB);
    for (let b = 0; b < batch; b++) {
      const xt = x + <usize>b * xs;
      const gt = gsums + (<usize>(b * G) << 2);
      let r = q0;
      // two rows per pass: each activation load feeds both rows
      for (; r + 2 <= q1; r += 2) {
        const wa = w + <usize>r * rowBytes;
        const wb = wa + rowBytes;
        let sa: f64 = 0, sb: f64 = 0;
        for (let g = 0; g < G; g++) {
          const ga = wa + <usize>g * gBytes, gb = wb + <usize>g * gBytes;
          const xg = xt + <usize>g * xgBytes;
          let aa = i32x4.splat(0), ab = i32x4.splat(0);
          if (ASC_FEATURE_RELAXED_SIMD) {
            for (let k0 = 0; k0 < nblk; k0 += 7) {
              let h1 = i16x8.splat(0), h4 = i16x8.splat(0), e1 = i16x8.splat(0), e4 = i16x8.splat(0);
              // pointer-stepped loop: V8 then adds constants instead of recomputing addresses
              const pend = ga + (<usize>min(nblk, k0 + 7) << 4);
              for (let pa = ga + (<usize>k0 << 4), pb = gb + (<usize>k0 << 4), xp = xg + (<usize>k0 << 6); pa < pend; pa += 16, pb += 16, xp += 64) {
                const x0 = v128.load(xp), x1 = v128.load(xp, 16), x2 = v128.load(xp, 32), x3 = v128.load(xp, 48);
                const va = v128.load(pa), vb = v128.load(pb);
                const ta = i16x8.shr_u(va, 4), tb = i16x8.shr_u(vb, 4);
                h1 = i16x8.add(h1, i16x8.add(dot8(x0, v128.and(va, M3)), dot8(x2, v128.and(ta, M3))));
                h4 = i16x8.add(h4, i16x8.add(dot8(x1, v128.and(va, MC)), dot8(x3, v128.and(ta, MC))));
                e1 = i16x8.add(e1, i16x8.add(dot8(x0, v128.and(vb, M3)), dot8(x2, v128.and(tb, M3))));
                e4 = i16x8.add(e4, i16x8.add(dot8(x1, v128.and(vb, MC)), dot8(x3, v128.and(tb, MC))));
              }
              aa = i32x4.add(aa, i32x4.add(widen(h1), i32x4.shr_s(widen(h4), 2)));
              ab = i32x4.add(ab, i32x4.add(widen(e1), i32x4.shr_s(widen(e4), 2)));
            }
          } else {
            for (let k0 = 0; k0 < nblk; k0 += FLUSH) {
              const k1 = min(nblk, k0 + FLUSH);
              let ca = i32x4.splat(0), cb = i32x4.splat(0);
              const pend = ga + (<usize>k1 << 4);
              for (let pa = ga + (<usize>k0 << 4), pb = gb + (<usize>k0 << 4), xp = xg + (<usize>k0 << 7); pa < pend; pa += 16, pb += 16, xp += 128) {
                const LA = v128.load(pa), LB = v128.load(pb);
                const HA = i16x8.shr_u(LA, 8), HB = i16x8.shr_u(LB, 8);
                let xv = v128.load(xp);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(LA, M3)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(LB, M3)));
                xv = v128.load(xp, 16);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(LA, MC)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(LB, MC)));
                xv = v128.load(xp, 32);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(LA, m2)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(LB, m2)));
                xv = v128.load(xp, 48);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(LA, m3)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(LB, m3)));
                xv = v128.load(xp, 64);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(HA, M3)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(HB, M3)));
                xv = v128.load(xp, 80);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(HA, MC)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(HB, MC)));
                xv = v128.load(xp, 96);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(HA, m2)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(HB, m2)));
                xv = v128.load(xp, 112);
                ca = i32x4.add(ca, i32x4.dot_i16x8_s(xv, v128.and(HA, m3)));
                cb = i32x4.add(cb, i32x4.dot_i16x8_s(xv, v128.and(HB, m3)));
              }
              aa = i32x4.add(aa, i32x4.shr_s(ca, 6));
              ab = i32x4.add(ab, i32x4.shr_s(cb, 6));
            }
          }
          const gsum = load<i32>(gt + (<usize>g << 2));
          sa = emit(mode, sa, hsum(aa) - gsum, out, b, r, g, rows, G, xsc, gscales);
          sb = emit(mode, sb, hsum(ab) - gsum, out, b, r + 1, g, rows, G, xsc, gscales);
        }
        finish(mode, sa, out, b, r, rows, xsc, scales);
        finish(mode, sb, out, b, r + 1, rows, xsc, scales);
      }
      for (; r < q1; r++) {
        const wr = w + <usize>r * rowBytes;
        let s: f64 = 0;
        for (let g = 0; g < G; g++) {
          const acc = group1(wr + <usize>g * gBytes, xt + <usize>g * xgBytes, nblk, M3, MC, m2, m3) - load<i32>(gt + (<usize>g << 2));
          s = emit(mode, s, acc, out, b, r, g, rows, G, xsc, gscales);
        }
        finish(mode, s, out, b, r, rows, xsc, scales);
      }
    }
  }
}

/**
 * Dequantize integer accumulators acc i32 [batch][rows][G] (from the sparse kernels) into
 * out f32 [batch][rows] with the formulas of modes 1 and 2 above, rows [r0, r1).
 */
export function dequantAcc(acc: usize, batch: i32, rows: i32, G: i32, mode: i32, xsc: usize, scales: usize, gscales: usize, out: usize, r0: i32, r1: i32): void {
  for (let b = 0; b < batch; b++) {
    for (let r = r0; r < r1; r++) {
      let s: f64 = 0;
      for (let g = 0; g < G; g++) s = emit(mode, s, load<i32>(acc + (<usize>((b * rows + r) * G + g) << 2)), out, b, r, g, rows, G, xsc, gscales);
      finish(mode, s, out, b, r, rows, xsc, scales);
    }
  }
}
