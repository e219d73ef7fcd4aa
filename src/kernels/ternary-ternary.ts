/**
 * ternary-ternary — ternary × ternary by popcount on the "blocks" layout.
 *
 * With nz = w⁺|w⁻ and neg = w⁻ for both operands, two trits multiply to 0 unless both are nonzero,
 * and then to −1 exactly when their signs differ, so over a block
 *
 *   Σ t·u = pc(nz_w & nz_u) − 2·pc(nz_w & nz_u & (neg_w ^ neg_u))
 *
 * which equals the four-popcount formula pc(w⁺&u⁺) + pc(w⁻&u⁻) − pc(w⁺&u⁻) − pc(w⁻&u⁺).
 * Blocks layout (prep.ts planesToBlocks): each row is G groups of `nblk` blocks of 32 bytes,
 * [nz: 128 bits][neg: 128 bits], trit c of the block at bit c of the 16 bytes (the planes' own
 * bit order); groups are zero-padded to whole blocks. Activations use the same layout.
 * Per-lane byte counters (≤ 8 per block) are widened to i32 every 31 blocks. Unmasked chunks of
 * decode-sized batches take four far-apart rows per pass (dot4: four memory streams, signed
 * counters c += pc(nz) − 2·pc(s) widened every 15 blocks for three of them, scalar i64.popcnt for
 * the fourth, scalarRow); masked weights, short chunks and larger batches take one row at a time
 * (groupDot).
 *
 * Tried and dropped (issue 4, A/B against this loop on 4096×11008): Harley–Seal carry-save trees
 * (ones/twos/fours over 4–8 blocks, popcount only the carries) cut the SIMD op count per block from
 * ≈ 34 to ≈ 25, but V8's scheduler hoists all of an unrolled body's loads to the top and sinks the
 * carry-save logic to its uses, so the trees spilled to the stack: 0.7–0.9× without, 1.0–1.07× with
 * branch "fences" between block pairs, below the popcount written out (pc below). Tried again in
 * the four-stream pass (27 Nov, SIMD128 build, where each i8x16.popcnt costs ≈ 12 x86 instructions):
 * one carry-save state per row, p = z & ~x and ~s both counted (Σ = pc(p) + pc(~s) − 128 per block),
 * one popcount per block and row instead of two — exact, but with four rows the ones/counter
 * vectors spill (≈ 20 stack moves per loop), 0.99–1.01× the plain loop; and i8x16.swizzle
 * lookups with shared constants instead of i8x16.popcnt: 0.82–0.9× (V8 adds a saturating add per
 * lookup). Eight streams per pass (eight rows) lost to four (0.88× from memory; likely spills).
 *
 * Scalar popcount (27 Nov, i64.popcnt = one x86 POPCNT; Σ = pc(z) − 2·pc(s) on the 64-bit halves;
 * A/B against the all-SIMD dot4, Node 20 SIMD128 unless noted; "L2" = kernel alone on 128×11008
 * hot, "mem" = kernel alone on 4096×11008 after reading 64 MB, one thread; load 1.4–3.4):
 *  - all four rows scalar, i64 loads: V8 schedules a loop's loads first (they sit on the effect
 *    chain) and sinks the arithmetic to its uses, so the 16 words + 4 pointers + 4 accumulators
 *    overflow x64's ≈ 11 free registers and spill: 0.89× (2 threads) / 0.91× (1 thread) through
 *    the backend. With a never-taken branch after each row as a fence (binaryen then merges the
 *    rows' activation loads, still spilling): L2 1.0–1.03×, mem 0.94×, Node 22 relaxed mem 0.84×.
 *    With one index, row addresses from the stride and two rows per i64 accumulator (Σ₀ + Σ₁·2³²)
 *    V8's node splitting pushed the loop-invariant address arithmetic into the fenced branches:
 *    L2 0.72×, backend 0.86×.
 *  - all four rows hybrid (z, s in v128, i64x2.extract_lane + i64.popcnt): a clean loop with ~4
 *    spills, but 16 vpextrq (2 µops each) per pass: L2 0.94–0.97×, mem 0.90×, Node 22 relaxed 0.88×.
 *  - two SIMD rows + two hybrid: L2 1.06×, mem 1.04× (Node 22 SIMD128 1.00×, relaxed 0.96×); two
 *    SIMD + two scalar-load rows: L2 0.90×; three SIMD + one scalar-load row: L2 0.99×.
 *  - **kept: three SIMD rows + one hybrid row (scalarRow)**. SIMD128 build: L2 1.09–1.13×,
 *    mem 0.92–1.09× (noise: the same binary twice in one run gave 1.03× and 0.92×); through the
 *    backend (scripts/bench-tt-ab.mjs, Node 20, 60–80 rounds, outputs equal) 2 threads 0.89–1.13×
 *    (median of 11 runs 1.045×), 1 thread 0.96–1.15× (median of 9 runs 1.058×). Relaxed build
 *    (Node 22; its pc is already cheap, the gain is mostly the spills gone): 2 threads 0.98–1.06×
 *    (median of 7 runs 1.005×, per-round medians 0.95–1.04), 1 thread 1.02–1.09× (median of 5
 *    runs 1.075×); kernel alone from memory 1.03×.
 *  - groupDot (batch ≥ 3, masked) with scalar blocks: 1.02× / 0.99× (batch 8, 1 / 2 threads), kernel
 *    alone 0.99–1.06×: dropped.
 * Where the time goes (kernel alone from memory, one thread, one run, load 2.7): all-SIMD dot4
 * 1.48–1.52 ms, kept 1.36–1.38 ms, a flat four-stream read of the same 11.3 MB (16 i64 loads and
 * xors per 128 bytes, no spills) 0.87–0.95 ms. So ≈ 0.45 ms of compute is still not hidden; the
 * integer side takes only a quarter of the rows because a hybrid row (≈ 21 µops: 4 two-µop
 * vpextrq, 4 POPCNT, adds) is not much cheaper than a SIMD128 row (≈ 28) and more of them spill.
 * (dot4's loop with the arithmetic removed is no floor: its 16 hoisted loads spill, 1.09–1.32 ms.)
 */

/**
 * Per-byte popcount, pc(x) = T[x & 15] + T[x >> 4] with T[n] = popcount(n). V8 lowers i8x16.popcnt
 * on x86 without AVX-512 BITALG to these two pshufb lookups but reloads both constants (mask and
 * table, two instructions each) at every use; written out with relaxed_swizzle (pshufb, indices
 * < 16 so the result is the same everywhere) the constants are loaded once per loop iteration and
 * shared (1.15–1.25× faster in an A/B, Node 22). Plain i8x16.swizzle costs an extra saturating add
 * per lookup for its out-of-range rule and lost to i8x16.popcnt, so the SIMD128 build keeps it.
 */
@inline function pc(x: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const T = v128(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const m = i8x16.splat(15);
    return i8x16.add(i8x16.relaxed_swizzle(T, v128.and(x, m)), i8x16.relaxed_swizzle(T, v128.and(i16x8.shr_u(x, 4), m)));
  }
  return i8x16.popcnt(x);
}

@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

@inline function widen(c: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(c));
}

@inline function widenS(c: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(c));
}

@inline function live(mrow: usize, kb: i32): bool {
  return (load<u32>(mrow + (<usize>(kb >>> 5) << 2)) & (1 << (kb & 31))) != 0;
}

/** Σ over blocks [k0, k1) of one group: byte counters of pc(nz) and pc(s), widened at the end. */
@inline function span(wg: usize, ug: usize, k0: i32, k1: i32, acc: v128): v128 {
  let n8 = i8x16.splat(0), s8 = i8x16.splat(0);
  for (let k = k0; k < k1; k++) {
    const o = <usize>k << 5;
    const nz = v128.and(v128.load(wg + o), v128.load(ug + o));
    const s = v128.and(nz, v128.xor(v128.load(wg + o, 16), v128.load(ug + o, 16)));
    n8 = i8x16.add(n8, pc(nz));
    s8 = i8x16.add(s8, pc(s));
  }
  // n − 2s per lane pair, as i32: both counters are ≤ 8·31 = 248 per byte
  return i32x4.add(acc, i32x4.sub(widen(n8), i32x4.shl(widen(s8), 1)));
}

/** Raw ternary dot of one group of one row (wg) against one token group (ug). */
@inline function groupDot(wg: usize, ug: usize, nblk: i32, mrow: usize, kb0: i32, mask: usize): i32 {
  let acc = i32x4.splat(0);
  if (mask == 0) {
    // 31 blocks per chunk keep the byte counters from overflowing
    for (let k0 = 0; k0 < nblk; k0 += 31) acc = span(wg, ug, k0, min(nblk, k0 + 31), acc);
  } else {
    let n8 = i8x16.splat(0), s8 = i8x16.splat(0);
    let since = 0;
    for (let k = 0; k < nblk; k++) {
      if (!live(mrow, kb0 + k)) continue;
      const o = <usize>k << 5;
      const nz = v128.and(v128.load(wg + o), v128.load(ug + o));
      const s = v128.and(nz, v128.xor(v128.load(wg + o, 16), v128.load(ug + o, 16)));
      n8 = i8x16.add(n8, pc(nz));
      s8 = i8x16.add(s8, pc(s));
      if (++since == 31) {
        acc = i32x4.add(acc, i32x4.sub(widen(n8), i32x4.shl(widen(s8), 1)));
        n8 = i8x16.splat(0);
        s8 = i8x16.splat(0);
        since = 0;
      }
    }
    acc = i32x4.add(acc, i32x4.sub(widen(n8), i32x4.shl(widen(s8), 1)));
  }
  return hsum(acc);
}

/**
 * Four rows at once, each its own memory stream: rows ra, ra + q, ra + 2q, ra + 3q of the chunk
 * share every activation load. Rows 0–2 keep one signed byte counter each, c += pc(nz) − 2·pc(s)
 * (|c| ≤ 8 per block, so 15 blocks fit in an i8 lane before widening); row 3 is counted on the
 * integer side (scalarRow), which also keeps the loop's vectors in registers (with four SIMD rows
 * V8 spilled a counter, and on the relaxed build three vectors, every iteration).
 *
 * Why far-apart rows: from memory this kernel was compute time + transfer time (no overlap), the
 * sum of the two. Each 4 KiB page starts the hardware prefetcher again (no huge pages for wasm
 * memory), so a lone stream waits for its first lines at every page. Four streams in different
 * pages wait in parallel. Adjacent rows (2.7 KB apart at 11008 columns, the same pages) were
 * *slower* than one row (probably the L2 prefetcher losing the pattern); ≥ 16 KiB apart they
 * give 1.25–1.4× from memory and from L3 (kernel A/B, 4096×11008, one thread; docs/wasm.md, "Four
 * memory streams for ternary×ternary").
 */
@inline function dot4(w0: usize, w1: usize, w2: usize, w3: usize, ug: usize, nblk: i32, o0: usize, o1: usize, o2: usize, o3: usize): void {
  let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0);
  let s3: i64 = 0; // row 3: scalarRow
  // one pointer per stream and one for the activation, all stepped by 32 bytes, so the loop keeps
  // its addresses in registers (indexing every load by k made V8 recompute and spill them)
  let p0 = w0, p1 = w1, p2 = w2, p3 = w3;
  const ue = ug + (<usize>nblk << 5);
  let pu = ug;
  while (pu < ue) {
    const pe = min(ue, pu + (15 << 5));
    let c0 = i8x16.splat(0), c1 = i8x16.splat(0), c2 = i8x16.splat(0);
    for (; pu < pe; pu += 32, p0 += 32, p1 += 32, p2 += 32, p3 += 32) {
      const unz = v128.load(pu), ung = v128.load(pu, 16);
      const z0 = v128.and(v128.load(p0), unz);
      const q0 = pc(v128.and(z0, v128.xor(v128.load(p0, 16), ung)));
      c0 = i8x16.sub(i8x16.add(c0, pc(z0)), i8x16.add(q0, q0));
      const z1 = v128.and(v128.load(p1), unz);
      const q1 = pc(v128.and(z1, v128.xor(v128.load(p1, 16), ung)));
      c1 = i8x16.sub(i8x16.add(c1, pc(z1)), i8x16.add(q1, q1));
      const z2 = v128.and(v128.load(p2), unz);
      const q2 = pc(v128.and(z2, v128.xor(v128.load(p2, 16), ung)));
      c2 = i8x16.sub(i8x16.add(c2, pc(z2)), i8x16.add(q2, q2));
      s3 += scalarRow(p3, unz, ung);
    }
    a0 = i32x4.add(a0, widenS(c0));
    a1 = i32x4.add(a1, widenS(c1));
    a2 = i32x4.add(a2, widenS(c2));
  }
  store<i32>(o0, hsum(a0));
  store<i32>(o1, hsum(a1));
  store<i32>(o2, hsum(a2));
  store<i32>(o3, <i32>s3);
}

/**
 * One row's block on the integer side: z and s as in dot4 (three v128 ops), then Σ = pc(z) − 2·pc(s)
 * with i64.popcnt (one x86 POPCNT each) on their 64-bit halves. dot4 counts its fourth row this
 * way: on SIMD128 V8 lowers each i8x16.popcnt to ≈ 10 instructions (pshufb nibble lookups,
 * constants reloaded at every use), while this costs four extracts and four POPCNTs on the integer
 * ports, which the SIMD loop leaves idle (A/B in the header).
 */
@inline function scalarRow(p: usize, unz: v128, ung: v128): i64 {
  const z = v128.and(v128.load(p), unz);
  const s = v128.and(z, v128.xor(v128.load(p, 16), ung));
  const n = popcnt<u64>(i64x2.extract_lane(z, 0)) + popcnt<u64>(i64x2.extract_lane(z, 1));
  const m = popcnt<u64>(i64x2.extract_lane(s, 0)) + popcnt<u64>(i64x2.extract_lane(s, 1));
  return <i64>n - <i64>(m << 1);
}

/** Rows closer than this many bytes apart are not worth four streams (see dot4). */
const STREAM_GAP: usize = 16384;
/** Up to this many tokens per call take the four-stream pass. */
const STREAM_BATCH = 2;

/** Row r against every token: out[(b·rows + r)·G + g], one group at a time (groupDot). */
@inline function oneRow(wr: usize, u: usize, rowBytes: usize, batch: i32, out: usize, rows: i32, r: i32, G: i32, nblk: i32, mrow: usize, mask: usize): void {
  for (let b = 0; b < batch; b++) {
    const ub = u + <usize>b * rowBytes;
    const o = out + (<usize>((b * rows + r) * G) << 2);
    for (let g = 0; g < G; g++) {
      const go = <usize>(g * nblk) << 5;
      store<i32>(o + (<usize>g << 2), groupDot(wr + go, ub + go, nblk, mrow, g * nblk, mask));
    }
  }
}

export function ternaryTernary(w: usize, nblk: i32, G: i32, mask: usize, maskWords: i32, u: usize, batch: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>(G * nblk) << 5;
  let r = r0;
  // decode-sized batches (memory-bound), no zero blocks to skip and a chunk long enough: four
  // far-apart rows per pass (dot4); larger batches reuse each row from L1 and keep one row per pass
  const q = (r1 - r0) >> 2;
  if (mask == 0 && batch <= STREAM_BATCH && <usize>q * rowBytes >= STREAM_GAP) {
    const qb = <usize>q * rowBytes, qo = <usize>(q * G) << 2;
    for (let i = 0; i < q; i++, r++) {
      const w0 = w + <usize>r * rowBytes;
      for (let b = 0; b < batch; b++) {
        const ub = u + <usize>b * rowBytes;
        const o = out + (<usize>((b * rows + r) * G) << 2);
        for (let g = 0; g < G; g++) {
          const go = <usize>(g * nblk) << 5, og = o + (<usize>g << 2);
          dot4(w0 + go, w0 + qb + go, w0 + 2 * qb + go, w0 + 3 * qb + go, ub + go, nblk, og, og + qo, og + 2 * qo, og + 3 * qo);
        }
      }
    }
    r = r0 + (q << 2);
  }
  for (; r < r1; r++) oneRow(w + <usize>r * rowBytes, u, rowBytes, batch, out, rows, r, G, nblk, mask + (<usize>(r * maskWords) << 2), mask);
}
