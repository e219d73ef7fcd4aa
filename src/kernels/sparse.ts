/**
 * sparse — ternary kernels on index lists, for weights that are mostly zeros (zero skipping
 * below the block level: at 95 % random zeros almost no 64-weight block is all zero).
 *
 * Sparse layout (built on the host from the bit planes): for row r and group g, entry
 * i = (r·G + g)·2 of `offs` (u32) starts the list of columns holding +1 and entry i + 1 the list
 * of columns holding −1; entry i + 2 ends it. `idx` holds u16 column numbers (cols ≤ 65536);
 * the `…W` variants read u32 column numbers (any width). This is src/sparse/csr.ts's CsrTrits.
 *
 *   int:  out[(b·rows + r)·G + g] = Σ_{c∈plus(r,g)} x[b,c] − Σ_{c∈minus(r,g)} x[b,c]
 *   f32:  y[b·rows + r] = rs[r] · Σ_g gs[r,g] · (same sums, in f64)
 *
 * Activations are in natural layout: int8 [batch, cols] (ternary activations expanded to int8
 * trits by prep.ts planesToI8) or f32 [batch, cols].
 */

@inline function sumI8<T>(idx: usize, a: u32, e: u32, xb: usize): i32 {
  const sh: usize = sizeof<T>() == 2 ? 1 : 2;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = a;
  for (; i + 4 <= e; i += 4) {
    const p = idx + (<usize>i << sh);
    s0 += <i32>load<i8>(xb + <usize>load<T>(p));
    s1 += <i32>load<i8>(xb + <usize>load<T>(p + (1 << sh)));
    s2 += <i32>load<i8>(xb + <usize>load<T>(p + (2 << sh)));
    s3 += <i32>load<i8>(xb + <usize>load<T>(p + (3 << sh)));
  }
  for (; i < e; i++) s0 += <i32>load<i8>(xb + <usize>load<T>(idx + (<usize>i << sh)));
  return (s0 + s1) + (s2 + s3);
}

@inline function sumF32<T>(idx: usize, a: u32, e: u32, xb: usize): f64 {
  const sh: usize = sizeof<T>() == 2 ? 1 : 2;
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
  let i = a;
  for (; i + 4 <= e; i += 4) {
    const p = idx + (<usize>i << sh);
    s0 += <f64>load<f32>(xb + (<usize>load<T>(p) << 2));
    s1 += <f64>load<f32>(xb + (<usize>load<T>(p + (1 << sh)) << 2));
    s2 += <f64>load<f32>(xb + (<usize>load<T>(p + (2 << sh)) << 2));
    s3 += <f64>load<f32>(xb + (<usize>load<T>(p + (3 << sh)) << 2));
  }
  for (; i < e; i++) s0 += <f64>load<f32>(xb + (<usize>load<T>(idx + (<usize>i << sh)) << 2));
  return (s0 + s1) + (s2 + s3);
}

@inline function sparseI8T<T>(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    for (let g = 0; g < G; g++) {
      const o = offs + (<usize>((r * G + g) * 2) << 2);
      const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
      for (let b = 0; b < batch; b++) {
        const xb = x + <usize>b * cols;
        store<i32>(out + (<usize>((b * rows + r) * G + g) << 2), sumI8<T>(idx, p0, m0, xb) - sumI8<T>(idx, m0, m1, xb));
      }
    }
  }
}

@inline function sparseF32T<T>(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const rs = <f64>load<f32>(scales + (<usize>r << 2));
    for (let b = 0; b < batch; b++) {
      const xb = x + (<usize>(b * cols) << 2);
      let y: f64 = 0;
      for (let g = 0; g < G; g++) {
        const o = offs + (<usize>((r * G + g) * 2) << 2);
        const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
        const gsc: f64 = gscales != 0 ? <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) : 1.0;
        y += gsc * (sumF32<T>(idx, p0, m0, xb) - sumF32<T>(idx, m0, m1, xb));
      }
      store<f32>(out + (<usize>(b * rows + r) << 2), <f32>(y * rs));
    }
  }
}

export function sparseI8(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseI8T<u16>(offs, idx, x, cols, batch, G, out, rows, r0, r1);
}

export function sparseI8W(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseI8T<u32>(offs, idx, x, cols, batch, G, out, rows, r0, r1);
}

export function sparseF32(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseF32T<u16>(offs, idx, x, cols, batch, G, scales, gscales, out, rows, r0, r1);
}

export function sparseF32W(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseF32T<u32>(offs, idx, x, cols, batch, G, scales, gscales, out, rows, r0, r1);
}

/*
 * Padded CSR (G = 1): the fast path for batch-1 decode. Same lists as above, with these changes
 * (4096×11008, one thread: 0.42 → 0.33 ns per nonzero at 95 % zeros from the first three,
 * docs/sparsity.md):
 *   - entries are byte offsets into the activation row (col·4 for f32, col for int8), so no
 *     shift; two entries are read per u32 load;
 *   - every list is padded to a multiple of 8 entries with the offset of a zero that sits just
 *     past the row (x[cols] = 0), so the 8-way unrolled loop has no tail and one exit branch;
 *   - at batch 1 the activations sit at the fixed address CSR_X (below the host heap,
 *     src/backend/wasm/heap.ts), so the gather is one load with a constant offset: no add;
 *   - f32 only: the lists may be split into `nb` column blocks (block-major: list pair of row r in
 *     block k at offs[(k·rows + r)·2]). The blocks are looped outermost, so the gathers of one
 *     block sweep touch only its slice of x: 11008 f32 columns are 43 KiB, more than the 32 KiB
 *     L1; two blocks of 5504 are 21.5 KiB each (src/sparse/cost-model.ts csrColumnBlocks). The
 *     partial row sums wait in `out` as f32 between blocks (one rounding per block). With the
 *     lane sums below: 0.337 → 0.276 ns per nonzero (4096×11008, 95 % zeros, one thread, min of 9
 *     rounds; docs/sparsity.md);
 *   - f32 in blocks (lists long by construction): the 8 gathered values of an iteration go into
 *     two f32x4 vectors (v128.load32_lane) summed lane-wise and flushed into f64 every FLUSH
 *     iterations (on short lists the flush costs more than it saves: 1.7× slower at 99.9 % zeros,
 *     so unblocked lists keep the scalar f32 tree below).
 *   - rows are stored sorted by their padded list lengths (layouts.ts padSparseLists), so
 *     consecutive rows run their loops for the same number of iterations and the loop exits are
 *     predicted; `perm` (u32 per stored row) names the output row (and scale) of each stored row:
 *     stored row i writes out[perm[i]]. One thread, 4096×4096 at 95 % zeros, min of 315 calls
 *     under load: 1.03–1.14× faster than rows in matrix order;
 * f32 rounding: scalar, 8 values are added as a 3-level f32 tree (≤ 3 ulp of their Σ|x|), then in
 * f64; SIMD, each lane adds ≤ FLUSH·2 values in f32 before the f64 flush, so a list's error is
 * ≤ (2·FLUSH + 2)·2⁻²⁴ ≈ 4e-6 of Σ|x| over the list (the conformance tolerance is 1e-5), and each
 * block adds one f32 rounding of the partial sum.
 *   f32: y[b·rows + r] = rs[r] · gs[r] · Σ_blocks (Σ_{plus(r,blk)} x[b,c] − Σ_{minus(r,blk)} x[b,c])
 *   int: out[b·rows + r] = Σ_{plus(r)} x[b,c] − Σ_{minus(r)} x[b,c], exact in i32
 *
 * Tried, not kept: 12-bit entries (2 per 3 bytes, one unaligned u32 load per pair, columns within
 * blocks of ≤ 4095, each block's x in its own 16 KiB slot at a constant gather offset, the pad at
 * slot column 4095; 25 % fewer list bytes, exact). Decoding costs ALU operations the u16 pairs do
 * not ((w << 2) & 0x3ffc and (w >>> 10) & 0x3ffc: +8 per 8 entries; +4 with the stream shifted by
 * 2 bits so even entries decode as w & 0x3ffc), and 11008 columns need 3 blocks instead of 2.
 * 4096×11008, 95 % zeros, 2 threads, kernel alone against these lists: 0.76–0.86× (+8) and
 * 0.82–0.89× (+4) warm, 0.87–0.95× / 0.93–0.95× with 64 MiB written between calls; a probe reading
 * the same 3-byte stream with one operation per entry (wrong sums, timing only) still 0.90–0.99×;
 * int (csrPadI32, 4096×4096, 2 blocks): 0.74× warm, 0.75× cold. The loop is bound by operations
 * per entry, not by the stream. docs/sparsity.md, "12-bit list entries".
 *
 * Where the time goes at 99 % (scripts/probe-csr-row-cost.mjs, csrPadF32 alone, one thread,
 * warm): t ≈ a few µs + 5.4–7 ns per row (its two list loops) + 0.29–0.54 ns per stored entry
 * (quiet / loaded); 4096×11008 holds ≈ 117 stored entries per row, so the rows are 9–14 % of the
 * kernel and the gathers of real entries the rest (pad entries all read one cached zero).
 * Tried, not kept: ONE list per row (−1 entries pointing into a negated copy of x). Its upper
 * bound, both lists' entries in one list over x alone (scripts/probe-csr-one-list.mjs), is
 * 1.01–1.07× at 99 % (five runs; 1.02× cold), 1.02–1.03× at 95 %, 1.09–1.12× at 99.9 %; int 4096×4096
 * 1.02–1.03× at 95 %, 1.05–1.07× at 99 %. At 11008 f32 columns x and −x are 22016 slots, more than
 * u16 byte offsets reach (16384), so a real one-list layout needs halfword units holding absolute
 * addresses ((w << 1) & 0x1fffe, (w >>> 15) & 0x1fffe; staging up to 131072): 0.73× at 99 %, of
 * which the decode alone (−1 entries into x, wrong sums) 0.95× and the doubled gather footprint
 * (88 KiB) the rest. Interleaved ± lists (4 + 4 entries per iteration into two f32x4 sums, one
 * loop per row or row-block, both lists padded to one length): 99 % 0.91–0.99× (one block),
 * 0.90× (two); 95 % in two blocks 0.96–1.04× of the current blocks. Also at 99 %: f32x4 lane sums
 * on unblocked lists of ≥ 16 entries 0.99–1.01× (99.9 %: 0.89×), u64 index loads 0.96–1.02×,
 * two column blocks 0.87×. docs/sparsity.md, "Per-row cost and one list per row".
 */

/** Fixed staging address of one activation row (bytes [CSR_X, 65536) are free of the heap). */
export const CSR_X: usize = 8192;
/** Largest row (bytes, the zero pad included) that fits at CSR_X. */
export const CSR_X_BYTES: usize = 65536 - 8192;
/**
 * f32 lane sums are flushed into f64 every FLUSH iterations (8 entries each). 32 (was 8): a 95 %
 * list of a column block (≈ 17 iterations at 11008 columns) now runs as one pass with one flush
 * instead of three; one thread, kernel alone, 4096×11008: 1.02× at 90 and 95 % zeros (min and p10
 * of 200 calls, scripts/bench-csr-call-ab.mjs, load 6), error bound 1e-6 → 4e-6 of Σ|x|.
 */
const FLUSH: usize = 32;

@inline function flushF64(acc: v128, a0: v128, a1: v128): v128 {
  const s = f32x4.add(a0, a1);
  return f64x2.add(f64x2.add(acc, f64x2.promote_low_f32x4(s)), f64x2.promote_low_f32x4(v128.shuffle<u32>(s, s, 2, 3, 0, 1)));
}

@inline function padSumF32FixedV(idx: usize, a: u32, e: u32): f64 {
  let acc = f64x2.splat(0);
  let p = idx + (<usize>a << 1);
  const pe = idx + (<usize>e << 1);
  while (p < pe) {
    const q = min(pe, p + FLUSH * 16);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
    for (; p < q; p += 16) {
      const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
      let v0 = v128.load32_zero(<usize>(w0 & 0xffff), CSR_X);
      let v1 = v128.load32_zero(<usize>(w2 & 0xffff), CSR_X);
      v0 = v128.load32_lane(<usize>(w0 >>> 16), v0, 1, CSR_X);
      v1 = v128.load32_lane(<usize>(w2 >>> 16), v1, 1, CSR_X);
      v0 = v128.load32_lane(<usize>(w1 & 0xffff), v0, 2, CSR_X);
      v1 = v128.load32_lane(<usize>(w3 & 0xffff), v1, 2, CSR_X);
      v0 = v128.load32_lane(<usize>(w1 >>> 16), v0, 3, CSR_X);
      v1 = v128.load32_lane(<usize>(w3 >>> 16), v1, 3, CSR_X);
      a0 = f32x4.add(a0, v0);
      a1 = f32x4.add(a1, v1);
    }
    acc = flushF64(acc, a0, a1);
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

@inline function padSumF32V(idx: usize, a: u32, e: u32, xb: usize): f64 {
  let acc = f64x2.splat(0);
  let p = idx + (<usize>a << 1);
  const pe = idx + (<usize>e << 1);
  while (p < pe) {
    const q = min(pe, p + FLUSH * 16);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
    for (; p < q; p += 16) {
      const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
      let v0 = v128.load32_zero(xb + <usize>(w0 & 0xffff));
      let v1 = v128.load32_zero(xb + <usize>(w2 & 0xffff));
      v0 = v128.load32_lane(xb + <usize>(w0 >>> 16), v0, 1);
      v1 = v128.load32_lane(xb + <usize>(w2 >>> 16), v1, 1);
      v0 = v128.load32_lane(xb + <usize>(w1 & 0xffff), v0, 2);
      v1 = v128.load32_lane(xb + <usize>(w3 & 0xffff), v1, 2);
      v0 = v128.load32_lane(xb + <usize>(w1 >>> 16), v0, 3);
      v1 = v128.load32_lane(xb + <usize>(w3 >>> 16), v1, 3);
      a0 = f32x4.add(a0, v0);
      a1 = f32x4.add(a1, v1);
    }
    acc = flushF64(acc, a0, a1);
  }
  return f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
}

@inline function padSumF32Fixed(idx: usize, a: u32, e: u32): f64 {
  let s0: f64 = 0, s1: f64 = 0;
  for (let p = idx + (<usize>a << 1), pe = idx + (<usize>e << 1); p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    const t0 = load<f32>(<usize>(w0 & 0xffff), CSR_X) + load<f32>(<usize>(w0 >>> 16), CSR_X);
    const t1 = load<f32>(<usize>(w1 & 0xffff), CSR_X) + load<f32>(<usize>(w1 >>> 16), CSR_X);
    const t2 = load<f32>(<usize>(w2 & 0xffff), CSR_X) + load<f32>(<usize>(w2 >>> 16), CSR_X);
    const t3 = load<f32>(<usize>(w3 & 0xffff), CSR_X) + load<f32>(<usize>(w3 >>> 16), CSR_X);
    s0 += <f64>(t0 + t1);
    s1 += <f64>(t2 + t3);
  }
  return s0 + s1;
}

@inline function padSumF32(idx: usize, a: u32, e: u32, xb: usize): f64 {
  let s0: f64 = 0, s1: f64 = 0;
  for (let p = idx + (<usize>a << 1), pe = idx + (<usize>e << 1); p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    const t0 = load<f32>(xb + <usize>(w0 & 0xffff)) + load<f32>(xb + <usize>(w0 >>> 16));
    const t1 = load<f32>(xb + <usize>(w1 & 0xffff)) + load<f32>(xb + <usize>(w1 >>> 16));
    const t2 = load<f32>(xb + <usize>(w2 & 0xffff)) + load<f32>(xb + <usize>(w2 >>> 16));
    const t3 = load<f32>(xb + <usize>(w3 & 0xffff)) + load<f32>(xb + <usize>(w3 >>> 16));
    s0 += <f64>(t0 + t1);
    s1 += <f64>(t2 + t3);
  }
  return s0 + s1;
}

@inline function padSumI8Fixed(idx: usize, a: u32, e: u32): i32 {
  let s0 = 0, s1 = 0;
  for (let p = idx + (<usize>a << 1), pe = idx + (<usize>e << 1); p < pe; p += 16) {
    s0 += (<i32>load<i8>(<usize>load<u16>(p), CSR_X) + <i32>load<i8>(<usize>load<u16>(p, 2), CSR_X)) + (<i32>load<i8>(<usize>load<u16>(p, 4), CSR_X) + <i32>load<i8>(<usize>load<u16>(p, 6), CSR_X));
    s1 += (<i32>load<i8>(<usize>load<u16>(p, 8), CSR_X) + <i32>load<i8>(<usize>load<u16>(p, 10), CSR_X)) + (<i32>load<i8>(<usize>load<u16>(p, 12), CSR_X) + <i32>load<i8>(<usize>load<u16>(p, 14), CSR_X));
  }
  return s0 + s1;
}

@inline function padSumI8(idx: usize, a: u32, e: u32, xb: usize): i32 {
  let s0 = 0, s1 = 0;
  for (let p = idx + (<usize>a << 1), pe = idx + (<usize>e << 1); p < pe; p += 16) {
    s0 += (<i32>load<i8>(xb + <usize>load<u16>(p)) + <i32>load<i8>(xb + <usize>load<u16>(p, 2))) + (<i32>load<i8>(xb + <usize>load<u16>(p, 4)) + <i32>load<i8>(xb + <usize>load<u16>(p, 6)));
    s1 += (<i32>load<i8>(xb + <usize>load<u16>(p, 8)) + <i32>load<i8>(xb + <usize>load<u16>(p, 10))) + (<i32>load<i8>(xb + <usize>load<u16>(p, 12)) + <i32>load<i8>(xb + <usize>load<u16>(p, 14)));
  }
  return s0 + s1;
}

/**
 * Column blocks (nb > 1) of csrPadF32: blocks outermost, partial row sums kept between blocks in
 * `part` (f32, one per stored row, in stored order) at batch 1 when part ≠ 0, else in `out`.
 */
function csrBlocksF32(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, scales: usize, gscales: usize, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  for (let k = 0; k < nb; k++) {
    const ob = offs + (<usize>k * <usize>rows << 3);
    const first = k == 0, last = k == nb - 1;
    for (let i = r0; i < r1; i++) {
      const o = ob + (<usize>i << 3);
      const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
      const r = load<i32>(perm + (<usize>i << 2));
      const rs = <f64>load<f32>(scales + (<usize>r << 2)) * (gscales != 0 ? <f64>load<f32>(gscales + (<usize>r << 2)) : 1.0);
      if (x == CSR_X) {
        // stored order: the rows of a chunk are contiguous there, so two threads never write one
        // cache line of partial sums (in `out`, at the permuted rows, they would, every block)
        const at = part != 0 ? part + (<usize>i << 2) : out + (<usize>r << 2);
        const s = (first ? 0.0 : <f64>load<f32>(at)) + (padSumF32FixedV(idx, p0, m0) - padSumF32FixedV(idx, m0, m1));
        if (last) store<f32>(out + (<usize>r << 2), <f32>(rs * s));
        else store<f32>(at, <f32>s);
        continue;
      }
      for (let b = 0; b < batch; b++) {
        const xb = x + <usize>b * <usize>stride;
        const at = out + (<usize>(b * rows + r) << 2);
        const s = (first ? 0.0 : <f64>load<f32>(at)) + (padSumF32V(idx, p0, m0, xb) - padSumF32V(idx, m0, m1, xb));
        store<f32>(at, <f32>(last ? rs * s : s));
      }
    }
  }
}

/**
 * Padded CSR × f32 (gscales: 0, or the one group scale per row), in `nb` column blocks (1: one
 * list pair per row). x: CSR_X for one row staged at the fixed address, else the first of `batch`
 * rows of `stride` bytes (each with its zero pad). offs: nb·rows·2 + 1 u32 list starts (in entries),
 * in stored-row order; perm: the output row of each stored row. part: 0, or rows f32 of scratch
 * for the partial sums between column blocks at batch 1 (csrBlocksF32).
 */
export function csrPadF32(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, scales: usize, gscales: usize, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  if (nb > 1) {
    csrBlocksF32(offs, idx, perm, x, stride, batch, nb, scales, gscales, out, part, rows, r0, r1);
    return;
  }
  for (let i = r0; i < r1; i++) {
    const o = offs + (<usize>i << 3);
    const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
    const r = load<i32>(perm + (<usize>i << 2));
    // one group per row: its scale (if any) folds into the row scale, in f64 as in sparseF32
    const rs = <f64>load<f32>(scales + (<usize>r << 2)) * (gscales != 0 ? <f64>load<f32>(gscales + (<usize>r << 2)) : 1.0);
    if (x == CSR_X) {
      store<f32>(out + (<usize>r << 2), <f32>(rs * (padSumF32Fixed(idx, p0, m0) - padSumF32Fixed(idx, m0, m1))));
      continue;
    }
    for (let b = 0; b < batch; b++) {
      const xb = x + <usize>b * <usize>stride;
      store<f32>(out + (<usize>(b * rows + r) << 2), <f32>(rs * (padSumF32(idx, p0, m0, xb) - padSumF32(idx, m0, m1, xb))));
    }
  }
}

/** Padded CSR × int8 (or ternary activations as int8 trits): i32 sums per token and row (out[perm[i]] for stored row i). */
export function csrPadI8(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let i = r0; i < r1; i++) {
    const o = offs + (<usize>i << 3);
    const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
    const r = load<i32>(perm + (<usize>i << 2));
    if (x == CSR_X) {
      store<i32>(out + (<usize>r << 2), padSumI8Fixed(idx, p0, m0) - padSumI8Fixed(idx, m0, m1));
      continue;
    }
    for (let b = 0; b < batch; b++) {
      const xb = x + <usize>b * <usize>stride;
      store<i32>(out + (<usize>(b * rows + r) << 2), padSumI8(idx, p0, m0, xb) - padSumI8(idx, m0, m1, xb));
    }
  }
}

/*
 * Grouped CSR × int8 with one +1 list and one −1 list per row (not per row and group): each
 * entry finds its scale group as col >> sh (group size 2^sh columns) and is added into that
 * group's accumulator in `out`, so a row pays two list set-ups however many groups it has
 * (per-group lists cost two loop set-ups per group: at 99 % zeros and groups of 256 columns,
 * lists of about one entry). idx: plain u16 column numbers, which for int8 are byte offsets.
 *   out[(b·rows + r)·G + g] = Σ_{c∈plus(r), c>>sh = g} x[b,c] − Σ_{c∈minus(r), c>>sh = g} x[b,c]
 */
export function csrGroupI8(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, sh: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const o = offs + (<usize>r << 3);
    const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
    for (let b = 0; b < batch; b++) {
      const xb = x + <usize>b * <usize>cols;
      const ab = out + (<usize>((b * rows + r) * G) << 2);
      for (let g = 0; g < G; g++) store<i32>(ab + (<usize>g << 2), 0);
      let i = p0;
      for (; i + 2 <= m0; i += 2) {
        const w = load<u32>(idx + (<usize>i << 1));
        const c0 = w & 0xffff, c1 = w >>> 16;
        const a0 = ab + (<usize>(c0 >>> sh) << 2);
        store<i32>(a0, load<i32>(a0) + <i32>load<i8>(xb + <usize>c0));
        const a1 = ab + (<usize>(c1 >>> sh) << 2);
        store<i32>(a1, load<i32>(a1) + <i32>load<i8>(xb + <usize>c1));
      }
      if (i < m0) {
        const c = <u32>load<u16>(idx + (<usize>i << 1));
        const a = ab + (<usize>(c >>> sh) << 2);
        store<i32>(a, load<i32>(a) + <i32>load<i8>(xb + <usize>c));
      }
      i = m0;
      for (; i + 2 <= m1; i += 2) {
        const w = load<u32>(idx + (<usize>i << 1));
        const c0 = w & 0xffff, c1 = w >>> 16;
        const a0 = ab + (<usize>(c0 >>> sh) << 2);
        store<i32>(a0, load<i32>(a0) - <i32>load<i8>(xb + <usize>c0));
        const a1 = ab + (<usize>(c1 >>> sh) << 2);
        store<i32>(a1, load<i32>(a1) - <i32>load<i8>(xb + <usize>c1));
      }
      if (i < m1) {
        const c = <u32>load<u16>(idx + (<usize>i << 1));
        const a = ab + (<usize>(c >>> sh) << 2);
        store<i32>(a, load<i32>(a) - <i32>load<i8>(xb + <usize>c));
      }
    }
  }
}

/*
 * Padded CSR × int8 on widened activations (the int8 and ternary×ternary fast path, cols ≤
 * CSR_PAD_MAX: the same lists as csrPadF32, entries col·4, column blocks included): the int8
 * activations (or int8 trits) are widened to i32 once per call (widenI8), so the gathers are the
 * f32 kernel's lane loads (v128.load32_lane) into two i32x4 accumulators, with no sign extension
 * and no f64 flush: exact, since |Σ| ≤ 127 · 65536 < 2³¹. One thread, 4096×4096, 95 % zeros (load
 * 7–9): 0.405 → 0.281 ns per stored entry against csrPadI8's scalar byte gathers.
 *   out[b·rows + r] = Σ_blocks (Σ_{plus(r,blk)} x[b,c] − Σ_{minus(r,blk)} x[b,c])   (i32, exact)
 * With blocks (nb > 1) the partial sums wait in `out` between blocks, added in i32.
 *
 * Tried, not kept (is the loop bound by the lane insert's shuffle µop?): scalar i32 gathers
 * (`load<i32>(entry, CSR_X)`, the offset folded into the load) added on the integer ports, and
 * shuffle-free `v128.load32_zero` + i32x4.add trees. Whole call, 4096×4096, Node 20, 2 threads,
 * against this kernel, 95 / 99 % zeros: 8 scalar accumulators 0.65 / 0.66× (V8 keeps 4 of them on
 * the stack), 2 accumulators fed by add trees 0.84 / 0.83×, the same from u16 loads 0.75 / 0.76×, 4
 * lane + 4 scalar per 8 entries 0.85 / 0.90×, 6 + 2 0.87 / 0.89×, all load32_zero 0.90 / 0.99×, 4
 * lane + 4 load32_zero 0.88 / 0.93×; Node 22, one thread, the kernel alone and lists resident in L1
 * or L2 give the same order (best: whole call 0.96×, kernel 1.01× at 99 %). V8
 * (`--print-wasm-code`) emits per 8 entries: here 28 instructions (4 u32 list loads, 8 movzx/shr, 2
 * movss + 6 `vpinsrd xmm, m32` with CSR_X hoisted into the base register, 2 paddd, 4–5 loop and
 * stack check); all-load32_zero 32 (8 movss + 8 paddd: no shuffle, still 0.90–0.99×); 2 scalar
 * accumulators 33 (V8 never folds the load into the add); u16 loads 28 but 17 loads instead of 13.
 * A lane insert gathers and combines in one instruction; every other form needs a second one (an
 * add) per entry, or more loads. docs/sparsity.md, "Scalar gathers on the integer ports"; the
 * variants: commit 382671e (src/kernels/sparse-x.ts, scripts/probe-csr-i32-gathers.mjs).
 */
@inline function gather8I32Fixed(p: usize): v128 {
  const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
  let a = v128.load32_zero(<usize>(w0 & 0xffff), CSR_X);
  let b = v128.load32_zero(<usize>(w2 & 0xffff), CSR_X);
  a = v128.load32_lane(<usize>(w0 >>> 16), a, 1, CSR_X);
  b = v128.load32_lane(<usize>(w2 >>> 16), b, 1, CSR_X);
  a = v128.load32_lane(<usize>(w1 & 0xffff), a, 2, CSR_X);
  b = v128.load32_lane(<usize>(w3 & 0xffff), b, 2, CSR_X);
  a = v128.load32_lane(<usize>(w1 >>> 16), a, 3, CSR_X);
  b = v128.load32_lane(<usize>(w3 >>> 16), b, 3, CSR_X);
  return i32x4.add(a, b);
}

@inline function gather8I32(p: usize, xb: usize): v128 {
  const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
  let a = v128.load32_zero(xb + <usize>(w0 & 0xffff));
  let b = v128.load32_zero(xb + <usize>(w2 & 0xffff));
  a = v128.load32_lane(xb + <usize>(w0 >>> 16), a, 1);
  b = v128.load32_lane(xb + <usize>(w2 >>> 16), b, 1);
  a = v128.load32_lane(xb + <usize>(w1 & 0xffff), a, 2);
  b = v128.load32_lane(xb + <usize>(w3 & 0xffff), b, 2);
  a = v128.load32_lane(xb + <usize>(w1 >>> 16), a, 3);
  b = v128.load32_lane(xb + <usize>(w3 >>> 16), b, 3);
  return i32x4.add(a, b);
}

@inline function hsumI32(v: v128): i32 {
  return (i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1)) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3));
}

/** Σ plus list [a, m) − Σ minus list [m, e) over i32 activations at CSR_X. */
@inline function rowSumI32Fixed(idx: usize, a: u32, m: u32, e: u32): i32 {
  let acc = i32x4.splat(0), neg = i32x4.splat(0);
  const pm = idx + (<usize>m << 1), pe = idx + (<usize>e << 1);
  for (let p = idx + (<usize>a << 1); p < pm; p += 16) acc = i32x4.add(acc, gather8I32Fixed(p));
  for (let p = pm; p < pe; p += 16) neg = i32x4.add(neg, gather8I32Fixed(p));
  return hsumI32(i32x4.sub(acc, neg));
}

@inline function rowSumI32(idx: usize, a: u32, m: u32, e: u32, xb: usize): i32 {
  let acc = i32x4.splat(0), neg = i32x4.splat(0);
  const pm = idx + (<usize>m << 1), pe = idx + (<usize>e << 1);
  for (let p = idx + (<usize>a << 1); p < pm; p += 16) acc = i32x4.add(acc, gather8I32(p, xb));
  for (let p = pm; p < pe; p += 16) neg = i32x4.add(neg, gather8I32(p, xb));
  return hsumI32(i32x4.sub(acc, neg));
}

/**
 * Padded CSR (entries col·4, `nb` column blocks) × i32-widened int8 activations: x is CSR_X for
 * one row staged at the fixed address, else the first of `batch` rows of `stride` bytes, each with
 * its zero pad (widenI8). i32 sums per token and row into out [batch, rows] (stored row i → row perm[i]).
 * part: 0, or rows i32 of scratch for the partial sums between column blocks at batch 1.
 */
export function csrPadI32(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  for (let k = 0; k < nb; k++) {
    const ob = offs + (<usize>k * <usize>rows << 3);
    const first = k == 0, last = k == nb - 1;
    for (let i = r0; i < r1; i++) {
      const o = ob + (<usize>i << 3);
      const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
      const r = load<i32>(perm + (<usize>i << 2));
      if (x == CSR_X) {
        // partial sums between blocks in stored order when part ≠ 0 (see csrBlocksF32)
        const at = part != 0 ? part + (<usize>i << 2) : out + (<usize>r << 2);
        const s = rowSumI32Fixed(idx, p0, m0, m1);
        const v = first ? s : load<i32>(at) + s;
        store<i32>(last ? out + (<usize>r << 2) : at, v);
        continue;
      }
      for (let b = 0; b < batch; b++) {
        const at = out + (<usize>(b * rows + r) << 2);
        const s = rowSumI32(idx, p0, m0, m1, x + <usize>b * <usize>stride);
        store<i32>(at, first ? s : load<i32>(at) + s);
      }
    }
  }
}

/**
 * Widen `batch` rows of `cols` int8 values at src ([batch, cols]) to i32 rows of `stride` bytes at
 * dst, each followed by one zero i32 (the target of the list padding); stride ≥ (cols + 1)·4.
 */
export function widenI8(src: usize, dst: usize, batch: i32, cols: i32, stride: i32): void {
  for (let b = 0; b < batch; b++) {
    const s = src + <usize>b * <usize>cols, d = dst + <usize>b * <usize>stride;
    let c = 0;
    for (; c + 16 <= cols; c += 16) {
      const v = v128.load(s + <usize>c);
      const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
      const o = d + (<usize>c << 2);
      v128.store(o, i32x4.extend_low_i16x8_s(lo));
      v128.store(o, i32x4.extend_high_i16x8_s(lo), 16);
      v128.store(o, i32x4.extend_low_i16x8_s(hi), 32);
      v128.store(o, i32x4.extend_high_i16x8_s(hi), 48);
    }
    for (; c < cols; c++) store<i32>(d + (<usize>c << 2), <i32>load<i8>(s + <usize>c));
    store<i32>(d + (<usize>cols << 2), 0);
  }
}
