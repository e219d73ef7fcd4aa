/**
 * The sparse layouts through the backend conformance suite: the reference backend on CSR and
 * block-sparse weights, and the wasm backend with every ternary×f32/int8 layer forced to CSR or
 * block-sparse (2 threads, every call on the pool). Plus what the suite's small shapes cannot
 * reach: 32-bit CSR indices past 65536 columns, scale groups with skipped words, and f32 CSR
 * lists in column blocks (rows wider than the L1 budget), and the int8 / ternary×ternary CSR
 * kernel on i32-widened activations (csrPadI32), which shares those lists. The padded lists store
 * rows sorted by list length (a permutation): every kernel result below is compared with naive
 * math in matrix row order, so a row written to the wrong output fails.
 */
import { describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { padSparseLists } from '../../src/backend/wasm/layouts.js';
import { csrColumnBlocks } from '../../src/sparse/cost-model.js';
import { SparseRefBackend } from '../../src/sparse/sparse-ref-backend.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { backendConformance, expectClose, naiveF64, naiveIntAcc } from '../backend/conformance.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { quantizeTernaryPerToken } from '../../src/quant/activation-quantizers.js';

backendConformance('ref on CSR trits', async () => new SparseRefBackend('csr'), { runs: 25 });
backendConformance('ref on block-sparse trits (2-word chunks)', async () => new SparseRefBackend('block-sparse', { chunkWords: 2 }), { runs: 25 });
backendConformance('wasm, 2 threads, block-sparse layout', () => WasmBackend.create({ threads: 2, layout: 'block-sparse', parallelMinWork: 0 }), { runs: 25 });
backendConformance('wasm, 2 threads, csr layout', () => WasmBackend.create({ threads: 2, layout: 'csr', parallelMinWork: 0 }), { runs: 25 });

function sparseTensor(rows: number, cols: number, keep: number, seed: number, groupSize?: number): TernaryTensor {
  const f = randomFloats(rows * cols, seed);
  const trits = Array.from(f, (x) => (x > 1 - keep ? 1 : x < keep - 1 ? -1 : 0));
  const G = groupSize ? Math.ceil(cols / groupSize) : 0;
  return TernaryTensor.fromTrits(trits, rows, cols, { scales: randomFloats(rows, seed + 1).map((x) => 1 + Math.abs(x)), groupSize, groupScales: G ? randomFloats(rows * G, seed + 2).map((x) => 0.5 + Math.abs(x)) : undefined });
}

describe('wasm sparse layouts beyond the suite', () => {
  it('CSR with 32-bit indices (70000 columns) and block-sparse there: int8 exact, f32 within 1e-5', async () => {
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
    try {
      const t = sparseTensor(3, 70000, 0.01, 5);
      const q = Int8Array.from(randomFloats(2 * t.cols, 9, 127), Math.round);
      const x = randomFloats(2 * t.cols, 11);
      for (const layout of ['csr', 'block-sparse'] as const) {
        const w = await be.uploadTernary(t, { layout });
        expect(Array.from(await be.matmulI8(w, q, 2))).toEqual(Array.from(naiveIntAcc(t, q, 2)));
        expectClose(await be.matmulF32(w, x, 2), naiveF64(t.toDense(), t.rows, t.cols, x, 2));
        const info = be.layoutInfo(w) as { sparse?: { wide: boolean } | null };
        if (layout === 'csr') expect(info.sparse?.wide).toBe(true);
        be.release(w);
      }
    } finally {
      await be.dispose();
    }
  });

  it('f32 CSR in column blocks: the block rule, block-major lists, and GEMV/GEMM against naive math', async () => {
    // 11008 columns (43 KiB of f32): two blocks while the lists stay long, none at 99 % zeros
    expect(csrColumnBlocks({ cols: 11008, density: 0.05 })).toBe(2);
    expect(csrColumnBlocks({ cols: 11008, density: 0.01 })).toBe(1);
    expect(csrColumnBlocks({ cols: 4096, density: 0.5 })).toBe(1);
    expect(csrColumnBlocks({ cols: 11008, density: 0.05, groups: 43 })).toBe(1);
    const t = sparseTensor(37, 9000, 0.06, 31);
    // every entry of block k lies in its column range; the blocks of a stored row rebuild the
    // lists of matrix row perm[p]; stored rows are sorted by their padded list lengths
    const { offs, idx, perm } = padSparseLists(t, 4, 3);
    const lists = t.rows * 2, pad = t.cols * 4;
    expect(Array.from(perm).sort((a, b) => a - b)).toEqual(Array.from({ length: t.rows }, (_, r) => r));
    expect(Array.from(perm), 'random list lengths: not matrix order').not.toEqual(Array.from({ length: t.rows }, (_, r) => r));
    const lengths = (p: number) => [0, 1, 2].flatMap((k) => [0, 1].map((s) => offs[k * lists + 2 * p + s + 1]! - offs[k * lists + 2 * p + s]!));
    for (let p = 1; p < t.rows; p++) {
      const a = lengths(p - 1), b = lengths(p);
      const d = a.findIndex((v, i) => v !== b[i]);
      if (d >= 0) expect(a[d]!, `stored rows ${p - 1}, ${p} out of length order`).toBeLessThan(b[d]!);
    }
    const want: number[][] = Array.from({ length: lists }, () => []);
    for (let r = 0; r < t.rows; r++)
      for (let c = 0; c < t.cols; c++) {
        const v = t.get(r, c);
        if (v !== 0) want[r * 2 + (v < 0 ? 1 : 0)]!.push(c);
      }
    for (let i = 0; i < lists; i++) {
      const got: number[] = [];
      for (let k = 0; k < 3; k++)
        for (let j = offs[k * lists + i]!; j < offs[k * lists + i + 1]!; j++) {
          if (idx[j] === pad) continue;
          expect(Math.floor(idx[j]! / 4 / 3000), `list ${i} block ${k}`).toBe(k);
          got.push(idx[j]! / 4);
        }
      expect(got).toEqual(want[perm[i >> 1]! * 2 + (i & 1)]);
    }
    const be = await WasmBackend.create({ threads: 2, layout: 'csr', parallelMinWork: 0 });
    try {
      const w = await be.uploadTernary(t);
      for (const batch of [1, 3]) {
        const x = randomFloats(batch * t.cols, 40 + batch);
        expectClose(await be.matmulF32(w, x, batch), naiveF64(t.toDense(), t.rows, t.cols, x, batch), 1e-5, `batch ${batch}`);
      }
      const info = be.layoutInfo(w) as { density: number; paddedSparse: { esz: number; blocks: number }[] };
      expect(info.paddedSparse.find((l) => l.esz === 4)?.blocks).toBe(csrColumnBlocks({ cols: t.cols, density: info.density }));
      expect(csrColumnBlocks({ cols: t.cols, density: info.density })).toBe(2);
      be.release(w);
    } finally {
      await be.dispose();
    }
  });

  it('f32 CSR in column blocks: lists around the lane-sum flush boundary (256 entries) and several flushes long', async () => {
    // 2 blocks of 4500 columns; each row's four lists (block × sign) take their lengths from this
    // set, so lists of 0, 8, 255, 256, 257, 263 and 1000–2000 entries (one to eight passes of the
    // 32-iteration f32 lane sum) all occur, at both signs and in both blocks
    const n = [0, 8, 255, 256, 257, 263, 1000, 2000];
    const rows = 16, cols = 9000, half = 4500;
    const trits = new Array<number>(rows * cols).fill(0);
    for (let r = 0; r < rows; r++) {
      const put = (len: number, base: number, odd: number, v: number) => {
        for (let j = 0; j < len; j++) trits[r * cols + base + 2 * j + odd] = v;
      };
      put(n[r % 8]!, 0, 0, 1);
      put(n[(r + 1) % 8]!, 0, 1, -1);
      put(n[(r + 3) % 8]!, half, 0, 1);
      put(n[(r + 5 + (r >> 3)) % 8]!, half, 1, -1);
    }
    const t = TernaryTensor.fromTrits(trits, rows, cols, { scales: randomFloats(rows, 5).map((x) => 1 + Math.abs(x)) });
    const be = await WasmBackend.create({ threads: 2, layout: 'csr', parallelMinWork: 0 });
    try {
      const w = await be.uploadTernary(t);
      // activations mostly of one sign: long lists sum to large values, where a lost or doubled
      // pass of the lane sums shows far above the tolerance
      for (const [batch, shift] of [[1, 0.7], [1, -0.3], [2, 0.2]] as const) {
        const x = Float32Array.from(randomFloats(batch * cols, 60 + batch), (v) => v + shift);
        expectClose(await be.matmulF32(w, x, batch), naiveF64(t.toDense(), rows, cols, x, batch), 1e-5, `batch ${batch}, shift ${shift}`);
      }
      const info = be.layoutInfo(w) as { paddedSparse: { esz: number; blocks: number }[] };
      expect(info.paddedSparse.find((l) => l.esz === 4)?.blocks).toBe(2);
      be.release(w);
    } finally {
      await be.dispose();
    }
  });

  it('int8 and ternary×ternary CSR on widened activations: column blocks, batch 1 and 3, odd widths, exact', async () => {
    const be = await WasmBackend.create({ threads: 2, layout: 'csr', parallelMinWork: 0 });
    try {
      // 9000 columns (not a multiple of 16: the widening tail) at 6 % nonzeros: two column blocks
      // whose partial sums are carried in the output; 700 columns: one block; 20000 columns: past
      // the i32 staging area, the byte kernel (csrPadI8) instead
      for (const [rows, cols, keep, blocks] of [[37, 9000, 0.06, 2], [29, 700, 0.2, 1], [5, 20000, 0.02, 0]] as const) {
        const t = sparseTensor(rows, cols, keep, 50 + cols);
        const w = await be.uploadTernary(t, { layout: 'csr' });
        for (const batch of [1, 3]) {
          const q = Int8Array.from(randomFloats(batch * cols, 60 + batch, 127), Math.round);
          q[0] = -128; // the most negative int8 widens with its sign
          expect(Array.from(await be.matmulI8(w, q, batch)), `int8 ${cols} batch ${batch}`).toEqual(Array.from(naiveIntAcc(t, q, batch)));
          const u = quantizeTernaryPerToken(randomFloats(batch * cols, 70 + batch), batch, cols);
          expect(Array.from(await be.matmulTernary(w, u)), `ternary ${cols} batch ${batch}`).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), batch)));
        }
        expect(be.ternaryPath(w)).toBe('csr');
        const info = be.layoutInfo(w) as { density: number; paddedSparse: { esz: number; blocks: number }[] };
        // the int8 paths built the f32-style lists (entries col·4) and no byte lists, or the reverse past the staging area
        expect(info.paddedSparse.map((l) => l.esz)).toEqual(blocks ? [4] : [1]);
        if (blocks) expect(info.paddedSparse[0]!.blocks).toBe(blocks);
        be.release(w);
      }
    } finally {
      await be.dispose();
    }
  });

  it('group scales with whole empty groups, every layout agrees with naive math', async () => {
    const be = await WasmBackend.create({ threads: 1 });
    try {
      const t = sparseTensor(17, 300, 0.05, 21, 64);
      for (let c = 64; c < 192; c++) for (let r = 0; r < t.rows; r++) t.set(r, c, 0);
      const q = Int8Array.from(randomFloats(3 * t.cols, 2, 127), Math.round);
      const x = randomFloats(3 * t.cols, 3);
      for (const layout of ['planes', 'planes-skip', 'block-sparse', 'csr'] as const) {
        const w = await be.uploadTernary(t, { layout });
        expect(Array.from(await be.matmulI8(w, q, 3)), layout).toEqual(Array.from(naiveIntAcc(t, q, 3)));
        expectClose(await be.matmulF32(w, x, 3), naiveF64(t.toDense(), t.rows, t.cols, x, 3), 1e-5, layout);
        be.release(w);
      }
    } finally {
      await be.dispose();
    }
  });
});
