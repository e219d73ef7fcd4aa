/**
 * The two int8 lookup kernels of the wasm backend, column pairs (kernels/lut-i8.ts) and column
 * triples with a sign bit (kernels/lut3-i8.ts), on both engine builds: each must give the naive
 * integer sums exactly over the whole int8 range (−128 included, where the nibble split and the
 * wrapping byte sums are tightest), on ragged shapes and groups, and the same f32 outputs as the
 * shared dequantization for the int8 and Q8_K activation modes.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { quantizeInt8PerToken } from '../../src/quant/activation-quantizers.js';
import { dequantizeAccumulators } from '../../src/quant/dequantize.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { naiveIntAcc } from './conformance.js';

const relaxed = WebAssembly.validate(readFileSync(new URL('../../dist/kernels/relaxed.wasm', import.meta.url)));
const builds = relaxed ? (['simd128', 'relaxed'] as const) : (['simd128'] as const);

/** Random trits with a chosen zero fraction, row scales, optional group scales. */
function tensor(rows: number, cols: number, groupSize: number, zeros: number, seed: number): TernaryTensor {
  const r = randomFloats(rows * cols, seed);
  const trits = Int8Array.from(r, (v) => (Math.abs(v) < zeros ? 0 : v > 0 ? 1 : -1));
  const G = groupSize ? Math.ceil(cols / groupSize) : 0;
  return TernaryTensor.fromTrits(trits, rows, cols, {
    scales: Array.from({ length: rows }, (_, i) => 0.25 + i / 7),
    groupSize: groupSize || undefined,
    groupScales: G ? Array.from({ length: rows * G }, (_, i) => 0.5 + (i % 5) / 3) : undefined,
  });
}

describe('wasm int8 lookup kernels: pairs and triples', () => {
  for (const simd of builds) {
    it(`${simd}: both kernels equal naive integer math on the full int8 range (random shapes, groups, batches)`, async () => {
      const be = await WasmBackend.create({ threads: 2, simd, parallelMinWork: 0 });
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 40 }),
            fc.integer({ min: 1, max: 400 }),
            fc.constantFrom(0, 32, 64, 96, 256),
            fc.constantFrom(0, 0.3, 0.9),
            fc.integer({ min: 1, max: 4 }),
            fc.integer({ min: 1, max: 1 << 30 }),
            async (rows, cols, gs, zeros, batch, seed) => {
              const t = tensor(rows, cols, gs, zeros, seed);
              const u = randomFloats(batch * cols, seed + 1);
              // about one in eight codes at an end of the range (−128, 127), the rest uniform
              const q = Int8Array.from(u, (v, i) => (i % 8 === 0 ? -128 : i % 8 === 1 ? 127 : Math.floor(((v + 1) / 2) * 255.99) - 128));
              const want = Array.from(naiveIntAcc(t, q, batch));
              for (const lut of ['pairs', 'triples'] as const) {
                const h = await be.uploadTernary(t, { lut, layout: 'planes' });
                expect(Array.from(await be.matmulI8(h, q, batch)), `${lut} ${rows}×${cols} gs${gs} b${batch}`).toEqual(want);
                be.release(h);
              }
            },
          ),
          { numRuns: 40 },
        );
      } finally {
        await be.dispose();
      }
    });

    it(`${simd}: both kernels give the dequantized int8 and Q8_K outputs bit for bit, worst-case activations`, async () => {
      const be = await WasmBackend.create({ threads: 2, simd, parallelMinWork: 0 });
      try {
        for (const [rows, cols, gs] of [
          [37, 2051, 0],
          [50, 768, 256],
        ] as const) {
          const t = tensor(rows, cols, gs, 0.1, rows + cols);
          const batch = 3;
          // every code at ±127/−128: the largest partial sums the byte and i16 lanes must hold
          const x = Float32Array.from({ length: batch * cols }, (_, i) => (i % 5 === 0 ? -1 : i % 3 ? 1 : -0.999));
          const a = quantizeInt8PerToken(x, batch, cols);
          const wantInt8 = Array.from(dequantizeAccumulators(naiveIntAcc(t, a.q, batch), t, a.scales, batch));
          const ys: number[][] = [];
          for (const lut of ['pairs', 'triples'] as const) {
            const h = await be.uploadTernary(t, { lut, layout: 'planes' });
            expect(Array.from(await be.linear!(h, x, batch, 'int8')), `${lut} int8 ${rows}×${cols}`).toEqual(wantInt8);
            if (gs === 256 || gs === 0) ys.push(Array.from(await be.linear!(h, x, batch, 'q8k').catch(() => new Float32Array(0))));
            expect(be.layoutInfo(h)[lut === 'pairs' ? 'lut' : 'lut3']).not.toBeNull();
            be.release(h);
          }
          // Q8_K (where the shape allows it): the two kernels agree bit for bit
          expect(ys[0]).toEqual(ys[1]);
        }
      } finally {
        await be.dispose();
      }
    });
  }

  it('triples on the model path: 256-column groups (86 triples, no flush padding), odd row-block counts split over the pool, Q8_K outputs equal to pairs', async () => {
    for (const simd of builds) {
      const be = await WasmBackend.create({ threads: 2, simd, parallelMinWork: 0 });
      try {
        // 83 rows: 6 row blocks (3 pairs); 115 rows: 8 blocks, the last pair short; 40 rows: 3 blocks (a lone last block)
        for (const rows of [83, 115, 40]) {
          const cols = 1536;
          const t = tensor(rows, cols, 256, 0.33, rows);
          const batch = rows === 40 ? 2 : 1;
          const u = randomFloats(batch * cols, rows + 9);
          const q = Int8Array.from(u, (v, i) => (i % 7 === 0 ? -128 : i % 7 === 1 ? 127 : Math.floor(((v + 1) / 2) * 255.99) - 128));
          const h3 = await be.uploadTernary(t, { lut: 'triples', layout: 'planes' });
          const h2 = await be.uploadTernary(t, { lut: 'pairs', layout: 'planes' });
          expect(Array.from(await be.matmulI8(h3, q, batch)), `triples ${rows}×${cols}`).toEqual(Array.from(naiveIntAcc(t, q, batch)));
          expect(be.layoutInfo(h3)).toMatchObject({ lut3: { triplesPerGroup: 86, rowBlocks: Math.ceil(rows / 16) } });
          const x = Float32Array.from(u, (v, i) => v * (1 + (i % 13)));
          expect(Array.from(await be.linear!(h3, x, batch, 'q8k')), `q8k ${rows}`).toEqual(Array.from(await be.linear!(h2, x, batch, 'q8k')));
          be.release(h3);
          be.release(h2);
        }
      } finally {
        await be.dispose();
      }
    }
  });

  it('pairs on grouped weights: many row-block pairs (a lone last block too), split over the pool, on the worker alone, and batches 1 and 3 (per-thread tables), equal naive integer math', async () => {
    for (const simd of builds) {
      const be = await WasmBackend.create({ threads: 2, simd, parallelMinWork: 0 });
      try {
        // 16·21+5 rows: 22 blocks = 11 pairs; 16·20+3 rows: 21 blocks, the last a lone block;
        // 16·16 rows: 8 pairs. Each call builds new per-thread tables (lut-i8.ts threadIndex).
        for (const [rows, cols, gs] of [
          [16 * 21 + 5, 700, 256],
          [16 * 20 + 3, 520, 64],
          [16 * 16, 768, 256],
        ] as const) {
          const t = tensor(rows, cols, gs, 0.3, rows);
          for (const batch of [1, 3]) {
            const u = randomFloats(batch * cols, rows + batch);
            const q = Int8Array.from(u, (v, i) => (i % 7 === 0 ? -128 : i % 7 === 1 ? 127 : Math.floor(((v + 1) / 2) * 255.99) - 128));
            const h = await be.uploadTernary(t, { lut: 'pairs', layout: 'planes' });
            const want = Array.from(naiveIntAcc(t, q, batch));
            expect(Array.from(await be.matmulI8(h, q, batch)), `pooled ${rows}×${cols} gs${gs} b${batch}`).toEqual(want);
            // the calling thread alone (one chunk) and the worker alone (its own chunks)
            be.pool.hostParticipates = false;
            expect(Array.from(await be.matmulI8(h, q, batch)), `worker ${rows}×${cols} b${batch}`).toEqual(want);
            be.pool.hostParticipates = true;
            be.release(h);
          }
        }
      } finally {
        await be.dispose();
      }
    }
  });

  it('triples are the default kernel on every build for ungrouped weights, pairs for grouped ones and on request, the backend option lut sets the default, and a bad lut option is refused', async () => {
    for (const simd of builds) {
      const be = await WasmBackend.create({ threads: 1, simd });
      const t = tensor(20, 70, 0, 0.3, 5);
      const h = await be.uploadTernary(t, { layout: 'planes' });
      await be.matmulI8(h, new Int8Array(70), 1);
      expect(be.layoutInfo(h)).toMatchObject({ lut: null, lut3: { triplesPerGroup: 25, rowBlocks: 2 } });
      const p = await be.uploadTernary(t, { layout: 'planes', lut: 'pairs' });
      await be.matmulI8(p, new Int8Array(70), 1);
      expect(be.layoutInfo(p)).toMatchObject({ lut: { quadsPerGroup: 18, rowBlocks: 2 }, lut3: null });
      // grouped weights (the model path's Q8_K groups) default to pairs: lut3 decodes 0.6× as fast there
      const g = await be.uploadTernary(tensor(20, 96, 32, 0.3, 6), { layout: 'planes' });
      await be.matmulI8(g, new Int8Array(96), 1);
      expect(be.layoutInfo(g)).toMatchObject({ lut: { rowBlocks: 2 }, lut3: null });
      const g3 = await be.uploadTernary(tensor(20, 96, 32, 0.3, 6), { layout: 'planes', lut: 'triples' });
      await be.matmulI8(g3, new Int8Array(96), 1);
      expect(be.layoutInfo(g3)).toMatchObject({ lut: null, lut3: { rowBlocks: 2 } });
      await expect(be.uploadTernary(t, { lut: 'quads' as 'pairs' })).rejects.toMatchObject({ code: 'E_ARG' });
      await be.dispose();
      // the backend option sets the default for every weight (a weight's own option still wins)
      const bt = await WasmBackend.create({ threads: 1, simd, lut: 'triples' });
      const gt = await bt.uploadTernary(tensor(20, 96, 32, 0.3, 6), { layout: 'planes' });
      await bt.matmulI8(gt, new Int8Array(96), 1);
      expect(bt.layoutInfo(gt)).toMatchObject({ lut: null, lut3: { rowBlocks: 2 } });
      const gp = await bt.uploadTernary(tensor(20, 96, 32, 0.3, 6), { layout: 'planes', lut: 'pairs' });
      await bt.matmulI8(gp, new Int8Array(96), 1);
      expect(bt.layoutInfo(gp)).toMatchObject({ lut: { rowBlocks: 2 }, lut3: null });
      await bt.dispose();
      await expect(WasmBackend.create({ threads: 1, simd, lut: 'quads' as 'pairs' })).rejects.toMatchObject({ code: 'E_ARG' });
    }
  });
});
