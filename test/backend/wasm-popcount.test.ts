/**
 * The wasm ternary × ternary popcount kernel (src/kernels/ternary-ternary.ts) at its limits, bit
 * for bit against the naive sum: per-byte counters at their maximum (every trit of weights and
 * activations nonzero, so each byte of pc(nz) counts 8 per block) over rows long enough to widen
 * the counters mid-group, with and without a block mask (whole zero blocks). Runs under Node 20
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
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0, sparse: 'never' });
    for (const [rows, cols, gs, masked] of [
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
      const ones = TernaryTensor.fromTrits(new Array(cols).fill(1), 1, cols);
      const same = TernaryTensor.fromTrits(new Array(cols).fill(1).map((v, c) => (zero(c) ? 0 : v)), 1, cols);
      const hs = await be.uploadTernary(same);
      const live = Array.from({ length: cols }, (_, c) => c).filter((c) => !zero(c)).length;
      expect(Array.from(await be.matmulTernary(hs, ones))).toEqual([live]);
      expect(be.layoutInfo(h)).toMatchObject({ blocks: { nblk: Math.ceil((gs || cols) / 128), masked } });
      be.release(h);
      be.release(hs);
    }
    await be.dispose();
  });
});
