/**
 * multi — kernels for multi-trit weights (d trit planes per weight, W = Σ_p rs_p·gs_p·T_p), on
 * the codes layout of ternary-i8.ts with the planes interleaved block by block:
 *
 *   row r, group g, block k, plane p  →  16 bytes at  w + (((r·G + g)·nblk + k)·d + p)·16
 *
 * so the d planes of 64 columns sit side by side and one pass over the activations serves them
 * all ("sharing activation loads"):
 *
 *   multiF32  y[b·rows + r] = Σ_p rs_p[r] · Σ_g gs_p[r,g] · Σ_{c∈g} t_p[r,c]·x[b,c]
 *             GEMV: up to three planes share each activation load (f32x4 × table multipliers,
 *             one accumulator per plane); GEMM: four tokens share each table load, plane by plane.
 *   multiI8   out[((b·rows + r)·d + p)·G + g] = Σ_{c∈g} t_p[r,c]·q[b,c]            (exact int32)
 *             GEMV: two planes share each 64-byte activation load; GEMM: two tokens
 *             share each decoded plane block. The code offset (+1) is removed with the block
 *             sums of q exactly as in ternary-i8.ts, once per plane.
 *
 * Scales are [d][rows] (and [d][rows][G]) f32. Sums follow ternary-f32.ts / ternary-i8.ts: f32
 * per 64-weight block, f64 across blocks and scales; i16 lanes widened every 14 blocks.
 */

@inline function promoteAdd(acc: v128, p: v128): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(p), f64x2.promote_low_f32x4(v128.shuffle<i32>(p, p, 2, 3, 2, 3))));
}

@inline function hsum64(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

@inline function mult(table: usize, wb: usize, j: i32): v128 {
  return v128.load(table + (<usize>load<u8>(wb + j) << 4));
}

/** Scale of plane p at (r, g): rs_p[r]·gs_p[r,g]. */
@inline function planeScale(scales: usize, gscales: usize, rows: i32, G: i32, p: i32, r: i32, g: i32): f64 {
  const rs = <f64>load<f32>(scales + (<usize>(p * rows + r) << 2));
  return gscales != 0 ? rs * <f64>load<f32>(gscales + (<usize>((p * rows + r) * G + g) << 2)) : rs;
}

export function multiF32(
  w: usize, nblk: i32, G: i32, d: i32, x: usize, batch: i32,
  table: usize, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32,
): void {
  const blk = <usize>d << 4; // bytes of one block of all planes
  const rowBytes = <usize>(G * nblk) * blk;
  const xs = <usize>(G * nblk) << 8; // f32 bytes per token
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let b = 0;
    for (; b + 4 <= batch; b += 4) {
      let y0: f64 = 0, y1: f64 = 0, y2: f64 = 0, y3: f64 = 0;
      for (let g = 0; g < G; g++) {
        const x0 = x + <usize>b * xs + (<usize>(g * nblk) << 8), x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
        for (let p = 0; p < d; p++) {
          const wg = wr + <usize>(g * nblk) * blk + (<usize>p << 4);
          let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
          for (let k = 0; k < nblk; k++) {
            const wb = wg + <usize>k * blk;
            let p0 = f32x4.splat(0), p1 = f32x4.splat(0), p2 = f32x4.splat(0), p3 = f32x4.splat(0);
            for (let j = 0; j < 16; j++) {
              const m = mult(table, wb, j);
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
          const f = planeScale(scales, gscales, rows, G, p, r, g);
          y0 += f * hsum64(s0);
          y1 += f * hsum64(s1);
          y2 += f * hsum64(s2);
          y3 += f * hsum64(s3);
        }
      }
      store<f32>(out + (<usize>(b * rows + r) << 2), <f32>y0);
      store<f32>(out + (<usize>((b + 1) * rows + r) << 2), <f32>y1);
      store<f32>(out + (<usize>((b + 2) * rows + r) << 2), <f32>y2);
      store<f32>(out + (<usize>((b + 3) * rows + r) << 2), <f32>y3);
    }
    for (; b < batch; b++) {
      let y: f64 = 0;
      for (let g = 0; g < G; g++) {
        const xg = x + <usize>b * xs + (<usize>(g * nblk) << 8);
        const wg = wr + <usize>(g * nblk) * blk;
        let p = 0;
        for (; p + 3 <= d; p += 3) {
          let sa = f64x2.splat(0), sb = f64x2.splat(0), sc = f64x2.splat(0);
          for (let k = 0; k < nblk; k++) {
            const wb = wg + <usize>k * blk + (<usize>p << 4);
            const xb = xg + (<usize>k << 8);
            let pa = f32x4.splat(0), pb = f32x4.splat(0), pc = f32x4.splat(0);
            for (let j = 0; j < 16; j++) {
              const xv = v128.load(xb + (<usize>j << 4));
              pa = f32x4.add(pa, f32x4.mul(mult(table, wb, j), xv));
              pb = f32x4.add(pb, f32x4.mul(mult(table, wb + 16, j), xv));
              pc = f32x4.add(pc, f32x4.mul(mult(table, wb + 32, j), xv));
            }
            sa = promoteAdd(sa, pa);
            sb = promoteAdd(sb, pb);
            sc = promoteAdd(sc, pc);
          }
          y += planeScale(scales, gscales, rows, G, p, r, g) * hsum64(sa) + planeScale(scales, gscales, rows, G, p + 1, r, g) * hsum64(sb) + planeScale(scales, gscales, rows, G, p + 2, r, g) * hsum64(sc);
        }
        if (p + 2 <= d) {
          let sa = f64x2.splat(0), sb = f64x2.splat(0);
          for (let k = 0; k < nblk; k++) {
            const wb = wg + <usize>k * blk + (<usize>p << 4);
            const xb = xg + (<usize>k << 8);
            let pa = f32x4.splat(0), pb = f32x4.splat(0);
            for (let j = 0; j < 16; j++) {
              const xv = v128.load(xb + (<usize>j << 4));
              pa = f32x4.add(pa, f32x4.mul(mult(table, wb, j), xv));
              pb = f32x4.add(pb, f32x4.mul(mult(table, wb + 16, j), xv));
            }
            sa = promoteAdd(sa, pa);
            sb = promoteAdd(sb, pb);
          }
          y += planeScale(scales, gscales, rows, G, p, r, g) * hsum64(sa) + planeScale(scales, gscales, rows, G, p + 1, r, g) * hsum64(sb);
          p += 2;
        }
        if (p < d) {
          let sa = f64x2.splat(0);
          for (let k = 0; k < nblk; k++) {
            const wb = wg + <usize>k * blk + (<usize>p << 4);
            const xb = xg + (<usize>k << 8);
            let pa = f32x4.splat(0), pb = f32x4.splat(0);
            for (let j = 0; j < 16; j += 2) {
              pa = f32x4.add(pa, f32x4.mul(mult(table, wb, j), v128.load(xb + (<usize>j << 4))));
              pb = f32x4.add(pb, f32x4.mul(mult(table, wb, j + 1), v128.load(xb + (<usize>j << 4), 16)));
            }
            sa = promoteAdd(sa, f32x4.add(pa, pb));
          }
          y += planeScale(scales, gscales, rows, G, p, r, g) * hsum64(sa);
        }
      }
      store<f32>(out + (<usize>(b * rows + r) << 2), <f32>y);
    }
  }
}

@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

@inline function dot16(q: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return i16x8.relaxed_dot_i8x16_i7x16_s(q, c);
  } else {
    return i16x8.add(i16x8.extmul_low_i8x16_s(q, c), i16x8.extmul_high_i8x16_s(q, c));
  }
}

/** One plane's 64-weight block (16 code bytes at wb) against four loaded activation vectors. */
@inline function planeBlock(wb: usize, m3: v128, a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const wv = v128.load(wb);
  const c0 = v128.and(wv, m3), c1 = v128.and(i16x8.shr_u(wv, 2), m3);
  const c2 = v128.and(i16x8.shr_u(wv, 4), m3), c3 = v128.and(i16x8.shr_u(wv, 6), m3);
  return i16x8.add(i16x8.add(dot16(a0, c0), dot16(a1, c1)), i16x8.add(dot16(a2, c2), dot16(a3, c3)));
}

@inline function widen(a16: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(a16);
}

/** Σ of token b's block sums of group g (every block: the multi kernels do not skip blocks). */
@inline function blockSumTotal(bsums: usize, nblk: i32, G: i32, b: i32, g: i32): i32 {
  const s = bsums + (<usize>((b * G + g) * nblk) << 2);
  let c = 0;
  for (let k = 0; k < nblk; k++) c += load<i32>(s + (<usize>k << 2));
  return c;
}

@inline function outAt(out: usize, rows: i32, d: i32, G: i32, b: i32, r: i32, p: i32, g: i32): usize {
  return out + (<usize>(((b * rows + r) * d + p) * G + g) << 2);
}

export function multiI8(w: usize, nblk: i32, G: i32, d: i32, x: usize, batch: i32, bsums: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  const blk = <usize>d << 4;
  const rowBytes = <usize>(G * nblk) * blk;
  const xs = <usize>(G * nblk) << 6; // activation bytes per token
  const M3 = i8x16.splat(<i8>(3 | (nblk >>> 31)));
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    for (let g = 0; g < G; g++) {
      const wg = wr + <usize>(g * nblk) * blk;
      const xg = x + (<usize>(g * nblk) << 6);
      let b = 0;
      // two tokens share each decoded plane block
      for (; b + 2 <= batch; b += 2) {
        const xb = xg + <usize>b * xs;
        const corr0 = blockSumTotal(bsums, nblk, G, b, g), corr1 = blockSumTotal(bsums, nblk, G, b + 1, g);
        for (let p = 0; p < d; p++) {
          let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
          for (let k0 = 0; k0 < nblk; k0 += 14) {
            const k1 = min(nblk, k0 + 14);
            let h0 = i16x8.splat(0), h1 = i16x8.splat(0);
            for (let k = k0; k < k1; k++) {
              const wb = wg + <usize>k * blk + (<usize>p << 4);
              const p0 = xb + (<usize>k << 6), p1 = p0 + xs;
              h0 = i16x8.add(h0, planeBlock(wb, M3, v128.load(p0), v128.load(p0, 16), v128.load(p0, 32), v128.load(p0, 48)));
              h1 = i16x8.add(h1, planeBlock(wb, M3, v128.load(p1), v128.load(p1, 16), v128.load(p1, 32), v128.load(p1, 48)));
            }
            a0 = i32x4.add(a0, widen(h0));
            a1 = i32x4.add(a1, widen(h1));
          }
          store<i32>(outAt(out, rows, d, G, b, r, p, g), hsum(a0) - corr0);
          store<i32>(outAt(out, rows, d, G, b + 1, r, p, g), hsum(a1) - corr1);
        }
      }
      // one token: two planes share each activation load
      for (; b < batch; b++) {
        const xb = xg + <usize>b * xs;
        const corr = blockSumTotal(bsums, nblk, G, b, g);
        let p = 0;
        for (; p + 2 <= d; p += 2) {
          let aa = i32x4.splat(0), ab = i32x4.splat(0);
          for (let k0 = 0; k0 < nblk; k0 += 14) {
            const k1 = min(nblk, k0 + 14);
            let ha = i16x8.splat(0), hb = i16x8.splat(0);
            for (let k = k0; k < k1; k++) {
              const wb = wg + <usize>k * blk + (<usize>p << 4);
              const xp = xb + (<usize>k << 6);
              const v0 = v128.load(xp), v1 = v128.load(xp, 16), v2 = v128.load(xp, 32), v3 = v128.load(xp, 48);
              ha = i16x8.add(ha, planeBlock(wb, M3, v0, v1, v2, v3));
              hb = i16x8.add(hb, planeBlock(wb + 16, M3, v0, v1, v2, v3));
            }
            aa = i32x4.add(aa, widen(ha));
            ab = i32x4.add(ab, widen(hb));
          }
          store<i32>(outAt(out, rows, d, G, b, r, p, g), hsum(aa) - corr);
          store<i32>(outAt(out, rows, d, G, b, r, p + 1, g), hsum(ab) - corr);
        }
        if (p < d) {
          let aa = i32x4.splat(0);
          for (let k0 = 0; k0 < nblk; k0 += 14) {
            const k1 = min(nblk, k0 + 14);
            let ha = i16x8.splat(0);
            for (let k = k0; k < k1; k++) {
              const xp = xb + (<usize>k << 6);
              ha = i16x8.add(ha, planeBlock(wg + <usize>k * blk + (<usize>p << 4), M3, v128.load(xp), v128.load(xp, 16), v128.load(xp, 32), v128.load(xp, 48)));
            }
            aa = i32x4.add(aa, widen(ha));
          }
          store<i32>(outAt(out, rows, d, G, b, r, p, g), hsum(aa) - corr);
        }
      }
    }
  }
}

/** Copy 16-byte block i of a single-plane codes layout to the slot of plane p of block i. */
export function interleaveCodes(src: usize, dst: usize, blocks: i32, d: i32, p: i32): void {
  const blk = <usize>d << 4;
  for (let i = 0; i < blocks; i++) v128.store(dst + <usize>i * blk + (<usize>p << 4), v128.load(src + (<usize>i << 4)));
}

// int8 staging of the multi-trit kernels (natural int8 order, as multiI8 reads it; the
// single-plane kernels stage with prep.ts's stageI8 instead)

@inline function groupLim8(g: i32, gc: i32, cols: i32): i32 {
  return min(gc, cols - g * gc);
}

/** int8 rows [n, cols] → [n, G, nblk·64] with zero-padded groups. */
export function padGroups8(src: usize, dst: usize, n: i32, cols: i32, gc: i32, G: i32, nblk: i32): void {
  const P = nblk << 6;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = groupLim8(g, gc, cols);
      const d = dst + <usize>(b * G + g) * P;
      memory.copy(d, src + <usize>b * cols + <usize>(g * gc), lim);
      memory.fill(d + lim, 0, P - lim);
    }
  }
}

/** bsums[(b·G + g)·nblk + k] = Σ of the int8 values of block k of token b's padded group g. */
export function blockSumsI8(x: usize, n: i32, G: i32, nblk: i32, bsums: usize): void {
  const blocks = n * G * nblk;
  for (let i = 0; i < blocks; i++) {
    const p = x + (<usize>i << 6);
    let acc = i16x8.extadd_pairwise_i8x16_s(v128.load(p));
    acc = i16x8.add(acc, i16x8.extadd_pairwise_i8x16_s(v128.load(p, 16)));
    acc = i16x8.add(acc, i16x8.extadd_pairwise_i8x16_s(v128.load(p, 32)));
    acc = i16x8.add(acc, i16x8.extadd_pairwise_i8x16_s(v128.load(p, 48)));
    const a = i32x4.extadd_pairwise_i16x8_s(acc);
    store<i32>(bsums + (<usize>i << 2), i32x4.extract_lane(a, 0) + i32x4.extract_lane(a, 1) + i32x4.extract_lane(a, 2) + i32x4.extract_lane(a, 3));
  }
}
