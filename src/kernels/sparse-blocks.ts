/**
 * sparse-blocks — ternary kernels on the block-sparse layout (src/sparse/block-sparse.ts): only
 * the 32-trit words of a row that hold a nonzero are stored, each with its word index.
 *
 *   rowPtr u32 [rows+1]: row r owns stored words k ∈ [rowPtr[r], rowPtr[r+1])
 *   widx   u16 or u32 (wide = 1) [live]: the word's index w inside its row (ascending)
 *   plus, minus u32 [live]: the word's planes; column of bit b is w·32 + b
 *
 * Per stored word the set bits of w⁺|w⁻ are visited lowest first (ctz) in one loop: x[c] is added
 * with its sign flipped where the trit is −1 (no branch per bit). With scale groups of gc columns (a multiple of 32) word w belongs to group w·32 / gc.
 *
 *   int:  out[(b·rows + r)·G + g] = Σ_{c∈g, t=+1} x[b,c] − Σ_{c∈g, t=−1} x[b,c]
 *   f32:  y[b·rows + r] = rs[r] · Σ_g gs[r,g] · (same sums, in f64)
 *
 * Chunks of several words are stored as consecutive words by the host (one index per word).
 */

@inline function wordIndex(widx: usize, k: u32, wide: i32): u32 {
  return wide ? load<u32>(widx + (<usize>k << 2)) : <u32>load<u16>(widx + (<usize>k << 1));
}

/** Σ over the set bits c of nz = p | m of ±x[c], the sign from m, in one loop (one exit branch per word). */
@inline function wordSumI8(p: u32, m: u32, xw: usize): i32 {
  let nz = p | m;
  let s = 0;
  while (nz != 0) {
    const c = ctz(nz);
    const neg = <i32>((m >>> c) & 1);
    s += (<i32>load<i8>(xw + <usize>c) ^ -neg) + neg; // v or −v, branch-free
    nz &= nz - 1;
  }
  return s;
}

@inline function wordSumF32(p: u32, m: u32, xw: usize): f64 {
  let nz = p | m;
  let s: f64 = 0;
  while (nz != 0) {
    const c = ctz(nz);
    // flip the f32 sign bit where the trit is −1
    s += <f64>reinterpret<f32>(load<u32>(xw + (<usize>c << 2)) ^ (((m >>> c) & 1) << 31));
    nz &= nz - 1;
  }
  return s;
}

/**
 * The same sum with SIMD, for words with many nonzeros: for lanes j·4 … j·4+3 the masks of the
 * +1 and −1 bits are (w >> 4j) & (1, 2, 4, 8) ≠ 0, and acc += x & m⁺ − x & m⁻ (f32x4 within the
 * word, then one f64 add per word, so the accuracy is that of the scalar path).
 */
@inline function wordSumF32x4(p: u32, m: u32, xw: usize): f64 {
  const bits = i32x4(1, 2, 4, 8);
  const zero = i32x4.splat(0);
  let vp = i32x4.splat(<i32>p), vm = i32x4.splat(<i32>m);
  let acc = f32x4.splat(0);
  for (let j: usize = 0; j < 8; j++) {
    const x = v128.load(xw + (j << 4));
    const mp = i32x4.ne(v128.and(vp, bits), zero);
    const mm = i32x4.ne(v128.and(vm, bits), zero);
    acc = f32x4.sub(f32x4.add(acc, v128.and(x, mp)), v128.and(x, mm));
    vp = i32x4.shr_u(vp, 4);
    vm = i32x4.shr_u(vm, 4);
  }
  return <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + (<f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3));
}

/** Nonzeros per word above which the SIMD word sum beats the bit loop. */
const SIMD_MIN_NNZ: u32 = 5;

export function blockSparseI8(rowPtr: usize, widx: usize, wide: i32, plus: usize, minus: usize, x: usize, cols: i32, batch: i32, gc: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  const wpg = G == 1 ? 0x7fffffff : gc >> 5; // words per group (gc is a multiple of 32 when G > 1)
  for (let r = r0; r < r1; r++) {
    const k0 = load<u32>(rowPtr + (<usize>r << 2)), k1 = load<u32>(rowPtr + (<usize>(r + 1) << 2));
    for (let b = 0; b < batch; b++) {
      const o = out + (<usize>((b * rows + r) * G) << 2);
      for (let g = 0; g < G; g++) store<i32>(o + (<usize>g << 2), 0);
      const xb = x + <usize>b * cols;
      let g = 0, s = 0;
      for (let k = k0; k < k1; k++) {
        const w = wordIndex(widx, k, wide);
        const wg = <i32>(w / <u32>wpg);
        if (wg != g) {
          store<i32>(o + (<usize>g << 2), s);
          g = wg;
          s = 0;
        }
        const xw = xb + (<usize>w << 5);
        s += wordSumI8(load<u32>(plus + (<usize>k << 2)), load<u32>(minus + (<usize>k << 2)), xw);
      }
      if (k1 > k0) store<i32>(o + (<usize>g << 2), s);
    }
  }
}

export function blockSparseF32(rowPtr: usize, widx: usize, wide: i32, plus: usize, minus: usize, x: usize, cols: i32, batch: i32, gc: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  const wpg = gc >> 5;
  for (let r = r0; r < r1; r++) {
    const k0 = load<u32>(rowPtr + (<usize>r << 2)), k1 = load<u32>(rowPtr + (<usize>(r + 1) << 2));
    const rs = <f64>load<f32>(scales + (<usize>r << 2));
    for (let b = 0; b < batch; b++) {
      const xb = x + (<usize>(b * cols) << 2);
      let y: f64 = 0, s: f64 = 0;
      let g = 0;
      for (let k = k0; k < k1; k++) {
        const w = wordIndex(widx, k, wide);
        if (gscales != 0) {
          const wg = <i32>(w / <u32>wpg);
          if (wg != g) {
            y += <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) * s;
            g = wg;
            s = 0;
          }
        }
        const xw = xb + (<usize>w << 7);
        const wp = load<u32>(plus + (<usize>k << 2)), wm = load<u32>(minus + (<usize>k << 2));
        s += popcnt(wp | wm) >= SIMD_MIN_NNZ && <i32>(w << 5) + 32 <= cols ? wordSumF32x4(wp, wm, xw) : wordSumF32(wp, wm, xw);
      }
      y += gscales != 0 ? <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) * s : s;
      store<f32>(out + (<usize>(b * rows + r) << 2), <f32>(y * rs));
    }
  }
}
