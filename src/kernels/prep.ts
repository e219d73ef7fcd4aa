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

/** int8 rows [n, cols] → [n, G, nblk·64] with zero-padded groups. */
export function padGroups8(src: usize, dst: usize, n: i32, cols: i32, gc: i32, G: i32, nblk: i32): void {
  const P = nblk << 6;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < G; g++) {
      const lim = groupLim(g, gc, cols);
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
