/**
 * lut-rows — the parts the two int8 lookup kernels (lut-i8.ts: column pairs, lut3-i8.ts: column
 * triples) share: the swizzle and trit helpers of their layout builders, and the exact
 * dequantization of a 16-row block's i32 group sums.
 *
 * Dequantization, as quant/dequantize.ts does it (bit-identical), in f64x2 lanes for 16 rows:
 *   s_r = Σ_g gs[g][r] · xs[b][g] · acc[b][g][r]   (mode 2: per-group activation scales xs)
 *   s_r = Σ_g gs[g][r] · acc[b][g][r]              (mode 1; gs = 1 without group scales)
 *   y[b][r] = rs[r] · s_r  (mode 2),  xt[b] · rs[r] · s_r  (mode 1)
 * with the f64 sums s in `sacc` (f64 per token and padded row, [batch][R16]) added in group order,
 * and the group scales transposed (gsT: f32 [G][rows padded to 16]). Mode 0 stores the i32 sums.
 * Every function is inlined into its kernel, so sharing it costs no call.
 */

@inline export function sw(t: v128, i: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(t, i); // indices < 16: same result
  return i8x16.swizzle(t, i);
}

@inline export function trit(plus: usize, minus: usize, row: i32, wpr: i32, c: i32): i32 {
  const o = (<usize>(row * wpr + (c >> 5))) << 2;
  return <i32>((load<u32>(plus + o) >>> (c & 31)) & 1) - <i32>((load<u32>(minus + o) >>> (c & 31)) & 1);
}

/** s[0..1] (f64x2 at sp) += w[0..1] · acc[k..k+1] — the exact dequantize.ts step for two rows. */
@inline function fold2(sp: usize, w: v128, acc: v128): void {
  v128.store(sp, f64x2.add(v128.load(sp), f64x2.mul(w, f64x2.convert_low_i32x4_s(acc))));
}

/** Zero the f64 sums of row blocks [b0, b1) for every token (modes 1 and 2). */
@inline export function clearSums(sacc: usize, batch: i32, R16: i32, b0: i32, b1: i32): void {
  for (let b = 0; b < batch; b++) {
    for (let rb = b0; rb < b1; rb++) {
      const sp = sacc + (<usize>(b * R16 + (rb << 4)) << 3);
      for (let k = 0; k < 16; k += 2) v128.store(sp + (<usize>k << 3), f64x2.splat(0));
    }
  }
}

/**
 * Token b, group g, rows r0 … r0+nr−1: the 16 i32 sums at `a` either go out as they are (mode 0,
 * out: i32 [batch][rows][G]) or are folded into the f64 sums (modes 1, 2; see the header).
 */
@inline export function foldGroup(
  a: usize, b: i32, g: i32, G: i32, r0: i32, nr: i32, rows: i32, R16: i32, mode: i32,
  out: usize, sacc: usize, gsT: usize, xsc: usize,
): void {
  if (mode == 0) {
    for (let k = 0; k < nr; k++) store<i32>(out + (<usize>((b * rows + r0 + k) * G + g) << 2), load<i32>(a + (<usize>k << 2)));
    return;
  }
  const sp = sacc + (<usize>(b * R16 + r0) << 3);
  if (mode == 1 && gsT == 0) {
    // no group scales: s = acc (one group)
    for (let k = 0; k < 16; k += 2) v128.store(sp + (<usize>k << 3), f64x2.convert_low_i32x4_s(v128.load(a + (<usize>k << 2))));
    return;
  }
  const gp = gsT + (<usize>(g * R16 + r0) << 2);
  const xs = mode == 2 ? f64x2.splat(<f64>load<f32>(xsc + (<usize>(b * G + g) << 2))) : f64x2.splat(1);
  for (let k = 0; k < 16; k += 4) {
    const g4 = gsT != 0 ? v128.load(gp + (<usize>k << 2)) : f32x4.splat(1);
    const a4 = v128.load(a + (<usize>k << 2));
    // mode 2: (gs·xs)·acc; mode 1: gs·acc (xs = 1 is exact: gs·1 = gs)
    fold2(sp + (<usize>k << 3), f64x2.mul(f64x2.promote_low_f32x4(g4), xs), a4);
    fold2(sp + (<usize>(k + 2) << 3), f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<u32>(g4, g4, 2, 3, 2, 3)), xs), v128.shuffle<u32>(a4, a4, 2, 3, 2, 3));
  }
}

/** Modes 1, 2: the f32 outputs of row blocks [b0, b1) from the f64 sums and the row scales. */
@inline export function finishRows(
  batch: i32, rows: i32, R16: i32, b0: i32, b1: i32, mode: i32, out: usize, sacc: usize, scales: usize, xsc: usize,
): void {
  for (let b = 0; b < batch; b++) {
    const xt = mode == 1 ? <f64>load<f32>(xsc + (<usize>b << 2)) : 1.0;
    for (let rb = b0; rb < b1; rb++) {
      const r0 = rb << 4;
      const nr = min(16, rows - r0);
      const sp = sacc + (<usize>(b * R16 + r0) << 3);
      for (let k = 0; k < nr; k++) {
        const rs = <f64>load<f32>(scales + (<usize>(r0 + k) << 2));
        const s = load<f64>(sp + (<usize>k << 3));
        store<f32>(out + (<usize>(b * rows + r0 + k) << 2), <f32>(mode == 1 ? xt * rs * s : rs * s));
      }
    }
  }
}
