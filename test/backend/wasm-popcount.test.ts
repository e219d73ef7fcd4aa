/**
 * The wasm ternary × ternary popcount kernel (src/kernels/ternary-ternary.ts) at its limits, bit
 * for bit against the naive sum: per-byte counters at their maximum (every trit of weights and
 * activations nonzero, so each byte of pc(nz) counts 8 per block) over rows long enough to widen
 * the counters mid-group, with and without a block mask (whole zero blocks), and on chunks long
 * enough for the four-stream pass (rows r, r + q, r + 2q, r + 3q with q·rowBytes ≥ 16 KiB; signed
 * byte counters widened every 15 blocks) with leftover rows after the last quad. Runs under Node 20
 * (simd.wasm, i8x16.popcnt) and Node 22 (relaxed.wasm, the written-out lookup popcount) via
 * scripts/test-node22.mjs.
 */
import { describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { naiveIntAcc } from './conformance.js';

/** ±1 trits from the signs of seeded floats, with `zeros(c)` columns forced to 0. */
function trits(n: number, cols: number, seed: number, zero: (c: number) => boolean): number[] {
  return Array.from(randomFloats(n, seed), (v, i) => (zero(i % cols) ? 0 : v >= 0 ? 1 : -1));
}

describe('wasm ternary × ternary popcount kernel', () => {
  it('is exact with saturated byte counters, long groups, ragged tails and block masks', async () => {
    for (const threads of [1, 2]) {
    const be = await WasmBackend.create({ threads, parallelMinWork: 0, sparse: 'never' });
    for (const [rows, cols, gs, masked] of [
      [67, 20_000, 0, false], // 5024 B rows: chunks of ≥ 17 rows take the four-stream pass, leftovers after it
      [45, 12_000, 4096, false], // four streams over three groups (the last ragged), one leftover row (1 thread)
      [130, 2_000, 0, false], // 512 B rows: q = 32 at 1 thread (exactly 16 KiB apart), two leftovers
      [5, 20_000, 0, false], // 157 blocks per row: counters widened every 31 blocks
      [4, 8_000, 4096, false], // two groups of 32 blocks, the last one ragged
      [3, 9_000, 0, true], // every third block all zero: the masked loop
      [9, 300, 0, false], // 3 blocks, a partial last one
    ] as const) {
      // column 0 is zero (keeps the two-plane blocks layout, not the 1-bit signs one); masked
      // weights also zero whole 128-column blocks
      const zero = (c: number): boolean => c === 0 || (masked && Math.floor(c / 128) % 3 === 1);
      const t = TernaryTensor.fromTrits(trits(rows * cols, cols, rows + cols, zero), rows, cols, {
        groupSize: gs || undefined,
        groupScales: gs ? new Array(rows * Math.ceil(cols / gs)).fill(1) : undefined,
      });
      const h = await be.uploadTernary(t);
      for (const batch of [1, 3]) {
        // all-nonzero activations: maximum counts; all +1 against all +1 rows gives the largest sums
        const u = TernaryTensor.fromTrits(trits(batch * cols, cols, batch * 7 + cols, () => false), batch, cols);
        expect(Array.from(await be.matmulTernary(h, u)), `${rows}×${cols} gs${gs} b${batch}`).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), batch)));
      }
      // the largest sums: 68 rows of all +1 or all −1 (rows 4i + 1 negative) against all +1, so
      // every byte counter moves by 8 per block in one direction (the four-stream pass included)
      const ones = TernaryTensor.fromTrits(new Array(cols).fill(1), 1, cols);
      const sign = (r: number): number => (r % 4 === 1 ? -1 : 1);
      const same = TernaryTensor.fromTrits(Array.from({ length: 68 * cols }, (_, i) => (zero(i % cols) ? 0 : sign(Math.floor(i / cols)))), 68, cols, {
        groupSize: gs || undefined,
        groupScales: gs ? new Array(68 * Math.ceil(cols / gs)).fill(1) : undefined,
      });
      const hs = await be.uploadTernary(same);
      const live = (g: number): number => Array.from({ length: cols }, (_, c) => c).filter((c) => !zero(c) && (!gs || Math.floor(c / gs) === g)).length;
      const G = gs ? Math.ceil(cols / gs) : 1;
      const want = Array.from({ length: 68 * G }, (_, i) => sign(Math.floor(i / G)) * live(i % G));
      expect(Array.from(await be.matmulTernary(hs, ones))).toEqual(want);
      expect(be.layoutInfo(h)).toMatchObject({ blocks: { nblk: Math.ceil((gs || cols) / 128), masked } });
      be.release(h);
      be.release(hs);
    }
    await be.dispose();
    }
  });
});
