/**
 * Multi-trit kernels on every CPU backend (ref; wasm with 1 and 2 threads, SIMD128 and the
 * engine's best build), and MultiTritLinear's per-plane path on a backend without them.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { RefBackend } from '../../src/backend/ref/ref-backend.js';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { MultiTritLinear } from '../../src/nn/multi-trit-linear.js';
import { MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { expectClose, naiveF64 } from './conformance.js';
import { multiTritConformance } from './multi-conformance.js';

multiTritConformance('ref', async () => new RefBackend());
multiTritConformance('wasm, 1 thread', () => WasmBackend.create({ threads: 1 }));
multiTritConformance('wasm, 2 threads, simd128, every call on the pool', () => WasmBackend.create({ threads: 2, simd: 'simd128', parallelMinWork: 0 }), { runs: 25 });

describe('MultiTritLinear without multi-trit kernels', () => {
  it('falls back to one ternary weight per plane and adds the outputs', async () => {
    const ref = new RefBackend();
    // a backend that only has the single-plane methods
    const plain: Backend = { name: 'plain', describe: () => ({}), uploadTernary: (t) => ref.uploadTernary(t), uploadDense: (w, r, c) => ref.uploadDense(w, r, c), matmulF32: (w, x, b, o) => ref.matmulF32(w, x, b, o), matmulI8: (w, q, b, o) => ref.matmulI8(w, q, b, o), matmulTernary: (w, x, o) => ref.matmulTernary(w, x, o), matmulDense: (w, x, b, o) => ref.matmulDense(w, x, b, o), release: (w) => ref.release(w), dispose: async () => {} };
    const rows = 17,
      cols = 70;
    const m = MultiTritTensor.fromIntegers(Array.from(randomFloats(rows * cols, 3), (v) => Math.round(v * 40)), rows, cols, 4, { scales: randomFloats(rows, 4).map((v) => 2 + v) });
    const x = randomFloats(2 * cols, 5);
    const l = await MultiTritLinear.fromTensor(plain, m, { activation: 'f32' });
    expect(l.fused).toBeNull();
    expect(l.planes.length).toBe(4);
    expectClose(await l.forward(x, 2), naiveF64(m.toDense(), rows, cols, x, 2));
  });
});
