/**
 * The sparse layouts through the backend conformance suite: the reference backend on CSR and
 * block-sparse weights, and the wasm backend with every ternary×f32/int8 layer forced to CSR or
 * block-sparse (2 threads, every call on the pool). Plus what the suite's small shapes cannot
 * reach: 32-bit CSR indices past 65536 columns, and scale groups with skipped words.
 */
import { describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { SparseRefBackend } from '../../src/sparse/sparse-ref-backend.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { backendConformance, expectClose, naiveF64, naiveIntAcc } from '../backend/conformance.js';
import { randomFloats } from '../helpers/arbitraries.js';

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
