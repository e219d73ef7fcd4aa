/**
 * The wasm backend against the shared conformance suite (1 and 2 threads, SIMD128 and the
 * engine's best build, sparse lists forced), plus its own layouts: zero skipping by block
 * bitmaps and by sparse lists must give the same integers as the naive math.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/registry.js';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../../src/quant/activation-quantizers.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { backendConformance, expectClose, naiveF64, naiveIntAcc } from './conformance.js';

const relaxedAvailable = WebAssembly.validate(readFileSync(new URL('../../dist/kernels/relaxed.wasm', import.meta.url)));
const best = relaxedAvailable ? 'relaxed-simd' : 'simd128';

backendConformance(`wasm, 1 thread, ${best}`, () => WasmBackend.create({ threads: 1 }));
backendConformance('wasm, 2 threads, simd128, every call on the pool', () => WasmBackend.create({ threads: 2, simd: 'simd128', parallelMinWork: 0 }));
backendConformance(`wasm, 2 threads, ${best}, sparse lists`, () => WasmBackend.create({ threads: 2, sparse: 'always', parallelMinWork: 0 }), { runs: 25 });

/** A tensor whose zeros come in whole 128-column blocks (structured), or at random. */
function sparseTensor(rows: number, cols: number, zeroFraction: number, seed: number, structured: boolean, groupSize = 0): TernaryTensor {
  const r = randomFloats(rows * cols, seed);
  const keep = randomFloats(rows * Math.ceil(cols / 128), seed + 1);
  const trits = new Int8Array(rows * cols);
  for (let i = 0; i < rows * cols; i++) {
    const row = Math.floor(i / cols);
    const k = structured ? (keep[row * Math.ceil(cols / 128) + Math.floor((i % cols) / 128)]! + 1) / 2 : Math.abs(r[(i * 7919) % r.length]!);
    trits[i] = k < zeroFraction ? 0 : r[i]! > 0 ? 1 : -1;
  }
  const G = groupSize ? Math.ceil(cols / groupSize) : 0;
  return TernaryTensor.fromTrits(trits, rows, cols, { scales: Array.from({ length: rows }, (_, i) => 0.5 + i / rows), groupSize: groupSize || undefined, groupScales: G ? Array.from({ length: rows * G }, (_, i) => 1 + (i % 3)) : undefined });
}

describe('wasm backend layouts and zero skipping', () => {
  it('the engine build is chosen by WebAssembly.validate, and simd: relaxed is refused where invalid', async () => {
    const be = await createBackend('wasm', { threads: 1 });
    expect(be.describe()).toMatchObject({ backend: 'wasm', threads: 1, simd: best });
    await be.dispose();
    if (process.env.TRITWISE_EXPECT_SIMD) expect(best).toBe(process.env.TRITWISE_EXPECT_SIMD);
    if (relaxedAvailable) {
      const r = await WasmBackend.create({ threads: 1, simd: 'relaxed' });
      expect(r.describe().simd).toBe('relaxed-simd');
      await r.dispose();
    } else {
      await expect(WasmBackend.create({ threads: 1, simd: 'relaxed' })).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
    }
    await expect(WasmBackend.create({ threads: 0 })).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(WasmBackend.create({ simd: 'avx' as 'auto' })).rejects.toMatchObject({ code: 'E_ARG' });
  });

  it('block bitmaps skip all-zero blocks and sparse lists take over at low density, exactly', async () => {
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
    const batch = 3;
    for (const [zeros, structured, gs] of [
      [0.5, true, 0],
      [0.9, true, 128],
      [0.95, false, 0],
      [0.99, false, 64],
      [0, false, 0],
    ] as const) {
      const t = sparseTensor(24, 520, zeros, 11, structured, gs);
      const h = await be.uploadTernary(t);
      const x = randomFloats(batch * t.cols, 3);
      const q = quantizeInt8PerToken(x, batch, t.cols).q;
      const u = quantizeTernaryPerToken(x, batch, t.cols);
      expect(Array.from(await be.matmulI8(h, q, batch))).toEqual(Array.from(naiveIntAcc(t, q, batch)));
      expect(Array.from(await be.matmulTernary(h, u))).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), batch)));
      expectClose(await be.matmulF32(h, x, batch), naiveF64(t.toDense(), t.rows, t.cols, x, batch));
      // the layout is the cost model's per-layer choice (src/sparse/cost-model.ts): sparse lists
      // at high sparsity; the chunk-skipping layout, forced, masks exactly when blocks are empty
      // batch 1 stages the activations at a fixed address (the padded CSR kernels' fast path)
      expect(Array.from(await be.matmulI8(h, q.subarray(0, t.cols), 1))).toEqual(Array.from(naiveIntAcc(t, q.subarray(0, t.cols), 1)));
      expect(Array.from(await be.matmulTernary(h, u.sliceRows(0, 1)))).toEqual(Array.from(naiveIntAcc(t, u.sliceRows(0, 1).toTrits(), 1)));
      expectClose(await be.matmulF32(h, x.subarray(0, t.cols), 1), naiveF64(t.toDense(), t.rows, t.cols, x.subarray(0, t.cols), 1));
      const info = be.layoutInfo(h) as { density: number; codes: { masked: boolean } | null; sparse: unknown; rowSparse: { groupShift: number } | null; paddedSparse: { esz: number }[]; ternaryPath: string };
      // one group per row: padded byte-offset lists for f32 (esz 4) and int8 / ternary (esz 1);
      // groups of 64: per-group lists for f32, one list pair per row for int8 and ternary
      const chosen = be.chosenLayouts(h);
      if (zeros >= 0.95) for (const l of [chosen.f32, chosen.i8]) expect(['csr', 'block-sparse'], `zeros ${zeros}`).toContain(l);
      void info;
      be.release(h);
      // CSR forced: padded byte-offset lists without groups (entries col·4, shared by f32 and by
      // int8 / ternary on widened activations: no byte lists), per-group lists for
      // f32 and one list pair per row for int8 and ternary with groups of 64 (sparse enough)
      const hc = await be.uploadTernary(t, { layout: 'csr' });
      for (const b of [batch, 1]) {
        const qb = q.subarray(0, b * t.cols), xb = x.subarray(0, b * t.cols), ub = u.sliceRows(0, b);
        expect(Array.from(await be.matmulI8(hc, qb, b))).toEqual(Array.from(naiveIntAcc(t, qb, b)));
        expect(Array.from(await be.matmulTernary(hc, ub))).toEqual(Array.from(naiveIntAcc(t, ub.toTrits(), b)));
        expectClose(await be.matmulF32(hc, xb, b), naiveF64(t.toDense(), t.rows, t.cols, xb, b));
      }
      const ci = be.layoutInfo(hc) as { sparse: unknown; rowSparse: { groupShift: number } | null; paddedSparse: { esz: number }[]; ternaryPath: string };
      expect(ci.ternaryPath).toBe(zeros === 0 ? 'signs' : 'csr'); // no zeros: the 1-bit signs layout wins regardless
      if (gs === 0) expect(ci.paddedSparse.map((l) => l.esz).sort(), `zeros ${zeros}: padded lists`).toEqual([4]);
      else {
        expect(ci.sparse, `zeros ${zeros}: per-group lists`).not.toBeNull();
        // lists of 6.4 entries per group at 90 % zeros, groups of 128: kept per group
        expect(ci.rowSparse?.groupShift ?? null, `zeros ${zeros}: row lists`).toBe(zeros >= 0.99 ? Math.log2(gs) : null);
      }
      be.release(hc);
      const hs = await be.uploadTernary(t, { layout: 'planes-skip' });
      expect(Array.from(await be.matmulI8(hs, q, batch))).toEqual(Array.from(naiveIntAcc(t, q, batch)));
      expectClose(await be.matmulF32(hs, x, batch), naiveF64(t.toDense(), t.rows, t.cols, x, batch));
      const si = be.layoutInfo(hs) as { codes: { masked: boolean } | null };
      if (structured) expect(si.codes?.masked, `zeros ${zeros}: codes masked`).toBe(true);
      if (zeros === 0) expect(si.codes?.masked).toBe(false);
      be.release(hs);
    }
    await be.dispose();
  });

  it('ternary × ternary takes the lists where the cost model says so; padded lists survive a memory grow mid-staging', async () => {
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
    for (const [zeros, path] of [
      [0.99, 'csr'],
      [0.5, 'blocks'],
    ] as const) {
      const t = sparseTensor(1024, 2048, zeros, 5, false, 0);
      const h = await be.uploadTernary(t);
      const u = quantizeTernaryPerToken(randomFloats(2 * t.cols, 8), 2, t.cols);
      expect(Array.from(await be.matmulTernary(h, u))).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), 2)));
      expect(be.ternaryPath(h), `zeros ${zeros}`).toBe(path);
      be.release(h);
    }
    // a fresh backend's memory is small: staging 3000 padded rows of 172 columns grows it
    const fresh = await WasmBackend.create({ threads: 1 });
    const t = sparseTensor(64, 172, 0.95, 9, false, 0);
    const h = await fresh.uploadTernary(t, { layout: 'csr' });
    const batch = 3000;
    const x = randomFloats(batch * t.cols, 4);
    expectClose(await fresh.matmulF32(h, x, batch), naiveF64(t.toDense(), t.rows, t.cols, x, batch));
    const q = quantizeInt8PerToken(x, batch, t.cols).q;
    expect(Array.from(await fresh.matmulI8(h, q, batch))).toEqual(Array.from(naiveIntAcc(t, q, batch)));
    await fresh.dispose();
    await be.dispose();
  });

  it('weights with no zeros use the 1-bit signs layout for ternary × ternary, exactly (groups, ragged rows and columns)', async () => {
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
    for (const [rows, cols, gs] of [
      [1, 64, 0],
      [7, 300, 0],
      [11, 1000, 256],
      [31, 4100, 2048],
      [3, 20_000, 0], // 157 blocks: the kernel's counters are widened mid-row
    ] as const) {
      const signs = randomFloats(rows * cols, rows + cols);
      const t = TernaryTensor.fromTrits(Array.from(signs, (v) => (v >= 0 ? 1 : -1)), rows, cols, { groupSize: gs || undefined, groupScales: gs ? new Array(rows * Math.ceil(cols / gs)).fill(1) : undefined });
      const h = await be.uploadTernary(t);
      for (const batch of [1, 2, 5]) {
        // activations with zeros (so pc(nz_u) varies per group) and with none
        const x = randomFloats(batch * cols, batch * 31 + cols);
        const u = batch === 2 ? TernaryTensor.fromTrits(Array.from(x, (v) => (v >= 0 ? 1 : -1)), batch, cols) : quantizeTernaryPerToken(x, batch, cols);
        expect(Array.from(await be.matmulTernary(h, u)), `${rows}×${cols} gs${gs} b${batch}`).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), batch)));
      }
      expect(be.layoutInfo(h)).toMatchObject({ density: 1, signs: { nblk: Math.ceil((gs || cols) / 128) }, blocks: null });
      be.release(h);
    }
    // one zero anywhere keeps the two-plane blocks layout
    const z = TernaryTensor.fromTrits([0, ...new Array(127).fill(1)], 1, 128);
    const hz = await be.uploadTernary(z);
    expect(Array.from(await be.matmulTernary(hz, z))).toEqual([127]);
    expect(be.layoutInfo(hz)).toMatchObject({ signs: null, blocks: { nblk: 1 } });
    await expect(WasmBackend.create({ signs: 'always' as 'auto' })).rejects.toMatchObject({ code: 'E_ARG' });
    await be.dispose();
  });

  it('outputs land in caller buffers, released handles are refused, and dispose is idempotent', async () => {
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
    const t = quantize(randomFloats(300 * 96, 1), 300, 96, 'twn').tensor;
    const h = await be.uploadTernary(t);
    const q = quantizeInt8PerToken(randomFloats(2 * 96, 2), 2, 96).q;
    const out = new Int32Array(600);
    expect(await be.matmulI8(h, q, 2, out)).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(naiveIntAcc(t, q, 2)));
    await expect(be.matmulI8(h, q, 2, new Int32Array(5))).rejects.toMatchObject({ code: 'E_SHAPE' });
    be.release(h);
    be.release(h);
    await expect(be.matmulI8(h, q, 2)).rejects.toMatchObject({ code: 'E_BACKEND' });
    const ref = await createBackend('ref');
    await expect(be.matmulI8(await ref.uploadTernary(t), q, 2)).rejects.toMatchObject({ code: 'E_BACKEND' });
    await be.dispose();
    await be.dispose();
    await expect(be.uploadTernary(t)).rejects.toMatchObject({ code: 'E_BACKEND' });
  });

  it('long rows cross the kernels\' chunk boundaries exactly (GEMV and ragged batches, 4100 columns)', async () => {
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
    const rows = 33,
      cols = 4100;
    for (const gs of [0, 2048]) {
      const t = quantize(randomFloats(rows * cols, 21 + gs), rows, cols, 'absmean', { groupSize: gs }).tensor;
      const h = await be.uploadTernary(t);
      for (const batch of [1, 3, 5]) {
        const x = randomFloats(batch * cols, 22 + batch);
        // extreme activations: every int8 code ±127 (and −128) stresses the i16 partial sums
        const q = Int8Array.from({ length: batch * cols }, (_, i) => (i % 7 === 0 ? -128 : i % 2 ? 127 : -127));
        expect(Array.from(await be.matmulI8(h, q, batch)), `i8 gs${gs} b${batch}`).toEqual(Array.from(naiveIntAcc(t, q, batch)));
        const u = quantizeTernaryPerToken(x, batch, cols);
        expect(Array.from(await be.matmulTernary(h, u)), `ternary gs${gs} b${batch}`).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), batch)));
        expectClose(await be.matmulF32(h, x, batch), naiveF64(t.toDense(), rows, cols, x, batch), 1e-5, `f32 gs${gs} b${batch}`);
      }
      be.release(h);
    }
    await be.dispose();
  });

  it('rows longer than the SIMD128 kernel’s flush interval (2048 blocks = 131,072 columns) stay exact, with extreme activations', async () => {
    const be = await WasmBackend.create({ threads: 1 });
    const rows = 3,
      cols = 140_000;
    const trits = Int8Array.from({ length: rows * cols }, (_, i) => (i % 5 === 0 ? 0 : i % 3 === 0 ? -1 : 1));
    const t = TernaryTensor.fromTrits(trits, rows, cols);
    const h = await be.uploadTernary(t);
    const q = Int8Array.from({ length: 2 * cols }, (_, i) => (i % 11 === 0 ? -128 : i % 2 ? 127 : -127));
    expect(Array.from(await be.matmulI8(h, q, 2))).toEqual(Array.from(naiveIntAcc(t, q, 2)));
    await be.dispose();
  });

  it('a weight matrix larger than the initial memory grows it and stays exact (GEMM batch 64)', async () => {
    const be = await WasmBackend.create({ threads: 2 });
    const rows = 512,
      cols = 4096,
      batch = 64;
    const t = quantize(randomFloats(rows * cols, 9), rows, cols, 'absmean').tensor;
    const h = await be.uploadTernary(t);
    const q = quantizeInt8PerToken(randomFloats(batch * cols, 10), batch, cols).q;
    const got = await be.matmulI8(h, q, batch);
    const want = naiveIntAcc(t, q, batch);
    let bad = -1;
    for (let i = 0; i < want.length && bad < 0; i++) if (got[i] !== want[i]) bad = i;
    expect(bad).toBe(-1);
    await be.dispose();
  });
});
