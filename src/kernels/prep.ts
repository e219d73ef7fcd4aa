/**
 * prep — layout conversions run on the calling thread: weight repacking at upload (bit planes →
 * codes or blocks) and activation staging per call (group padding, column permutation, sums).
 *
 * Shared notation: a row of `cols` columns has G groups of gc columns (gc = groupSize, or cols
 * when there are no group scales; gc is a multiple of 32, so every group starts on a plane word);
 * lim(g) = min(gc, cols − g·gc) columns of group g are real, the rest is zero padding.
 */

@inline function groupLim(g: i32, gc: i32, cols: i32): i32 {
  return min(gc, cols - g * gc);
}

/**
 * int8 rows [n, cols] → the staged activations of ternary-i8.ts: [n, G, nblk blocks] with
 * zero-padded groups, as int8 in natural order (relaxed build) or as i16 permuted and pre-scaled
 * within each 64-column block to x16[8m + l] = 4^(3−(m&3))·x[16(m&3) + 2l + (m>>2)] (SIMD128
 * build, see ternary-i8.ts); and the sums the
 * kernel subtracts: bsums i32 [n, G, nblk] (per block) then gsums i32 [n, G] (per group).
 */
export function stageI8(src: usize, dst: usize, n: i32, cols: i32, gc: i32, G: i32, nblk: i32, sums: usize): void {
  const P = nblk << 6;
  const bpb: usize = ASC_FEATURE_RELAXED_SIMD ? 64 : 128;
  const gsums = sums + (<usize>(n * G * nblk) << 2);
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = groupLim(g, gc, cols);
      const s = src + <usize>b * cols + <usize>(g * gc);
      const d = dst + <usize>(b * G + g) * <usize>nblk * bpb;
      const bs = sums + (<usize>((b * G + g) * nblk) << 2);
      let gsum = 0;
      for (let k = 0; k < nblk; k++) {
        const c0 = k << 6;
        let v0: v128, v1: v128, v2: v128, v3: v128;
        if (c0 + 64 <= lim) {
          const p = s + <usize>c0;
          v0 = v128.load(p);
          v1 = v128.load(p, 16);
          v2 = v128.load(p, 32);
          v3 = v128.load(p, 48);
        } else {
          // the group's ragged end: copy what is real, zero the rest
          const t = dst + <usize>(n * G) * <usize>nblk * bpb; // scratch past the staged data (caller sizes it)
          memory.fill(t, 0, 64);
          if (c0 < lim) memory.copy(t, s + <usize>c0, <usize>(lim - c0));
          v0 = v128.load(t);
          v1 = v128.load(t, 16);
          v2 = v128.load(t, 32);
          v3 = v128.load(t, 48);
        }
        let acc = i16x8.add(i16x8.add(i16x8.extadd_pairwise_i8x16_s(v0), i16x8.extadd_pairwise_i8x16_s(v1)), i16x8.add(i16x8.extadd_pairwise_i8x16_s(v2), i16x8.extadd_pairwise_i8x16_s(v3)));
        const a = i32x4.extadd_pairwise_i16x8_s(acc);
        const bsum = i32x4.extract_lane(a, 0) + i32x4.extract_lane(a, 1) + i32x4.extract_lane(a, 2) + i32x4.extract_lane(a, 3);
        store<i32>(bs + (<usize>k << 2), bsum);
        gsum += bsum;
        const o = d + <usize>k * bpb;
        if (ASC_FEATURE_RELAXED_SIMD) {
          v128.store(o, v0);
          v128.store(o, v1, 16);
          v128.store(o, v2, 32);
          v128.store(o, v3, 48);
        } else {
          // even columns sign-extended from the low bytes, odd ones from the high bytes, each
          // field pre-scaled by 4^(3−n) (a left shift by 6 − 2n of the sign-extended value)
          v128.store(o, i16x8.shl(i16x8.shr_s(i16x8.shl(v0, 8), 8), 6));
          v128.store(o, i16x8.shl(i16x8.shr_s(i16x8.shl(v1, 8), 8), 4), 16);
          v128.store(o, i16x8.shl(i16x8.shr_s(i16x8.shl(v2, 8), 8), 2), 32);
          v128.store(o, i16x8.shr_s(i16x8.shl(v3, 8), 8), 48);
          v128.store(o, i16x8.shl(i16x8.shr_s(v0, 8), 6), 64);
          v128.store(o, i16x8.shl(i16x8.shr_s(v1, 8), 4), 80);
          v128.store(o, i16x8.shl(i16x8.shr_s(v2, 8), 2), 96);
          v128.store(o, i16x8.shr_s(v3, 8), 112);
        }
      }
      store<i32>(gsums + (<usize>(b * G + g) << 2), gsum);
    }
  }
}

/** Bytes stageI8 writes for n tokens (+ 64 bytes of scratch for ragged groups). */
export function stagedI8Bytes(n: i32, G: i32, nblk: i32): usize {
  return <usize>(n * G) * <usize>nblk * (ASC_FEATURE_RELAXED_SIMD ? 64 : 128) + 64;
}

/**
 * Per-token absmax int8 (quant/activation-quantizers.ts, bit for bit):
 *   m = max|x_t|,  q = sign(v)·min(127, ⌊|v| + 0.5⌋) with v = x·(127/m) in f64,  s_t = f32(m/127).
 * Returns −1, or the first token holding a non-finite value.
 */
export function quantI8Token(x: usize, n: i32, cols: i32, q: usize, s: usize): i32 {
  for (let t = 0; t < n; t++) {
    const xt = x + (<usize>(t * cols) << 2);
    const qt = q + <usize>t * cols;
    let m: f32 = 0;
    for (let i = 0; i < cols; i++) {
      const a = abs<f32>(load<f32>(xt + (<usize>i << 2)));
      if (!(a <= m)) m = a;
    }
    if (!isFinite<f32>(m)) return t;
    if (m == 0) {
      memory.fill(qt, 0, <usize>cols);
      store<f32>(s + (<usize>t << 2), 0);
      continue;
    }
    const inv: f64 = 127.0 / <f64>m;
    for (let i = 0; i < cols; i++) {
      const v = <f64>load<f32>(xt + (<usize>i << 2)) * inv;
      const r = <i32>min<f64>(127, Math.floor(Math.abs(v) + 0.5));
      store<i8>(qt + <usize>i, <i8>(v < 0 ? -r : r));
    }
    store<f32>(s + (<usize>t << 2), <f32>(<f64>m / 127.0));
  }
  return -1;
}

/**
 * llama.cpp's Q8_K (quant/q8k.ts, bit for bit), per 256-column block of each token:
 *   max = the value of largest |x| (first on ties); iscale = f32(−127/max);
 *   q = min(127, roundeven(f32(iscale·x)));  d = f32(1/iscale)      (max = 0: q = 0, d = 0)
 * d is [n, ⌈cols/256⌉]. Returns −1, or the first token holding a non-finite value.
 */
export function quantQ8K(x: usize, n: i32, cols: i32, q: usize, d: usize): i32 {
  const blocks = (cols + 255) >> 8;
  for (let t = 0; t < n; t++) {
    for (let bl = 0; bl < blocks; bl++) {
      const c0 = bl << 8, c1 = min(cols, c0 + 256);
      const c4 = c0 + ((c1 - c0) & ~3), c16 = c0 + ((c1 - c0) & ~15);
      const xb = x + (<usize>(t * cols) << 2);
      const qb = q + <usize>t * cols;
      // |x| maximum, four lanes at a time; f32x4.max propagates NaN, so one check at the end finds
      // any NaN or ±Infinity in the block
      let m4 = f32x4.splat(0);
      for (let i = c0; i < c4; i += 4) m4 = f32x4.max(m4, f32x4.abs(v128.load(xb + (<usize>i << 2))));
      let amax: f32 = max<f32>(max<f32>(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max<f32>(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
      for (let i = c4; i < c1; i++) amax = max<f32>(amax, abs<f32>(load<f32>(xb + (<usize>i << 2))));
      if (!isFinite<f32>(amax)) return t;
      const dp = d + (<usize>(t * blocks + bl) << 2);
      if (amax == 0) {
        memory.fill(qb + <usize>c0, 0, <usize>(c1 - c0));
        store<f32>(dp, 0);
        continue;
      }
      // max: the signed value of the first element whose |x| is the maximum
      const a4 = f32x4.splat(amax);
      let i = c0;
      while (i < c4 && !v128.any_true(f32x4.eq(f32x4.abs(v128.load(xb + (<usize>i << 2))), a4))) i += 4;
      while (abs<f32>(load<f32>(xb + (<usize>i << 2))) != amax) i++;
      const iscale = <f32>(-127.0 / <f64>load<f32>(xb + (<usize>i << 2)));
      // q = min(127, roundeven(iscale·x)) ∈ [−127, 127], sixteen at a time (exact integers, so
      // the saturating conversions and narrowings change nothing)
      const is4 = f32x4.splat(iscale), top = f32x4.splat(127);
      for (let j = c0; j < c16; j += 16) {
        const p = xb + (<usize>j << 2);
        const a = i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.nearest(f32x4.mul(is4, v128.load(p))), top));
        const b = i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.nearest(f32x4.mul(is4, v128.load(p, 16))), top));
        const c = i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.nearest(f32x4.mul(is4, v128.load(p, 32))), top));
        const e = i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.nearest(f32x4.mul(is4, v128.load(p, 48))), top));
        v128.store(qb + <usize>j, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(a, b), i16x8.narrow_i32x4_s(c, e)));
      }
      for (let j = c16; j < c1; j++) {
        const v = nearest<f32>(iscale * load<f32>(xb + (<usize>j << 2)));
        store<i8>(qb + <usize>j, <i8>min<f32>(127, v));
      }
      store<f32>(dp, <f32>(1.0 / <f64>iscale));
    }
  }
  return -1;
}

/** f32 rows [n, cols] → [n, G, nblk·64], padded, each 64-block permuted to x'[4j + m] = x[16m + j]. */
export function permuteF32(src: usize, dst: usize, n: i32, cols: i32, gc: i32, G: i32, nblk: i32): void {
  const P = nblk << 6;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = groupLim(g, gc, cols);
      const s = src + (<usize>(b * cols + g * gc) << 2);
      const d = dst + (<usize>((b * G + g) * P) << 2);
      for (let k = 0; k < nblk; k++) {
        for (let j = 0; j < 16; j++) {
          for (let m = 0; m < 4; m++) {
            const c = (k << 6) + (m << 4) + j;
            store<f32>(d + (<usize>((k << 6) + (j << 2) + m) << 2), c < lim ? load<f32>(s + (<usize>c << 2)) : 0);
          }
        }
      }
    }
  }
}

@inline function word(plane: usize, row: usize, wpr: i32, w: i32): u32 {
  return load<u32>(plane + ((row * <usize>wpr + <usize>w) << 2));
}

/** Bit planes [n, wpr words] → blocks layout [n, G, nblk, {nz 4 words, neg 4 words}]. */
export function planesToBlocks(plus: usize, minus: usize, dst: usize, n: i32, cols: i32, wpr: i32, gc: i32, G: i32, nblk: i32): void {
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = groupLim(g, gc, cols);
      const w0 = (g * gc) >> 5;
      for (let k = 0; k < nblk; k++) {
        const d = dst + (<usize>((b * G + g) * nblk + k) << 5);
        for (let i = 0; i < 4; i++) {
          const c = (k << 7) + (i << 5);
          let p: u32 = 0, m: u32 = 0;
          if (c < lim) {
            p = word(plus, b, wpr, w0 + (c >> 5));
            m = word(minus, b, wpr, w0 + (c >> 5));
          }
          store<u32>(d + (<usize>i << 2), p | m);
          store<u32>(d + (<usize>i << 2), m, 16);
        }
      }
    }
  }
}

/** Bit planes → natural int8 trits [n, cols]. */
export function planesToI8(plus: usize, minus: usize, dst: usize, n: i32, cols: i32, wpr: i32): void {
  for (let b = 0; b < n; b++) {
    for (let c = 0; c < cols; c++) {
      const p = (word(plus, b, wpr, c >> 5) >>> (c & 31)) & 1;
      const m = (word(minus, b, wpr, c >> 5) >>> (c & 31)) & 1;
      store<i8>(dst + <usize>b * cols + c, <i8>(p - m));
    }
  }
}

/** Bit planes → codes layout [n, G, nblk, 16 bytes]; byte j holds columns 16m + j at bits 2m, code t + 1. */
export function planesToCodes(plus: usize, minus: usize, dst: usize, n: i32, cols: i32, wpr: i32, gc: i32, G: i32, nblk: i32): void {
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = groupLim(g, gc, cols);
      const w0 = (g * gc) >> 5;
      for (let k = 0; k < nblk; k++) {
        const c = k << 6;
        let p: u64 = 0, m: u64 = 0;
        if (c < lim) {
          p = <u64>word(plus, b, wpr, w0 + (c >> 5));
          m = <u64>word(minus, b, wpr, w0 + (c >> 5));
        }
        if (c + 32 < lim) {
          p |= <u64>word(plus, b, wpr, w0 + (c >> 5) + 1) << 32;
          m |= <u64>word(minus, b, wpr, w0 + (c >> 5) + 1) << 32;
        }
        const d = dst + (<usize>((b * G + g) * nblk + k) << 4);
        for (let j = 0; j < 16; j++) {
          let byte: u32 = 0;
          for (let q = 0; q < 4; q++) {
            const bit = <u64>((q << 4) + j);
            const code = 1 + <u32>((p >> bit) & 1) - <u32>((m >> bit) & 1);
            byte |= code << (q << 1);
          }
          store<u8>(d + j, <u8>byte);
        }
      }
    }
  }
}
