/**
 * The WASM Q8_K activation quantizer (kernels/prep.ts quantQ8K, SIMD) against quant/q8k.ts bit
 * for bit, on both engine builds: codes and block scales, including the cases the vector code
 * handles apart — ties of |max| with either sign first (the sign of max sets the sign of every
 * code), all-zero and −0 blocks, column counts that leave a tail of under 16 and under 4 values,
 * and NaN / ±Infinity anywhere in a block (the first bad token is reported).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { quantizeQ8K } from '../../src/quant/q8k.js';
import { randomFloats } from '../helpers/arbitraries.js';

const relaxed = WebAssembly.validate(readFileSync(new URL('../../dist/kernels/relaxed.wasm', import.meta.url)));
const builds = relaxed ? (['simd128', 'relaxed'] as const) : (['simd128'] as const);

/** quantQ8K in WASM memory: codes, scales and its return value. */
function wasmQ8K(be: WasmBackend, x: Float32Array, n: number, cols: number): { q: Int8Array; d: Float32Array; bad: number } {
  const heap = be.heap;
  const blocks = Math.ceil(cols / 256);
  const xp = heap.alloc(x.length * 4, 'test x');
  const qp = heap.alloc(n * cols, 'test q');
  const dp = heap.alloc(n * blocks * 4, 'test d');
  heap.f32.set(x, xp >>> 2);
  const bad = be.kernels.quantQ8K(xp, n, cols, qp, dp);
  const q = new Int8Array(heap.memory.buffer, qp, n * cols).slice();
  const d = new Float32Array(heap.memory.buffer, dp, n * blocks).slice();
  for (const p of [xp, qp, dp]) heap.free(p);
  return { q, d, bad };
}

describe('wasm Q8_K quantizer', () => {
  for (const simd of builds) {
    it(`${simd}: codes and scales equal quant/q8k.ts on ragged widths, ties, zero blocks`, async () => {
      const be = await WasmBackend.create({ threads: 1, simd });
      try {
        let seed = 1;
        for (const cols of [256, 300, 770, 1536, 7, 19]) {
          for (const n of [1, 3]) {
            const x = randomFloats(n * cols, seed++).map((v, i) => v * (1 + (i % 11)));
            // token 0, block 0: |max| tied, the negative one first; token n−1, last block: the positive first
            x[5] = -40;
            x[Math.min(9, cols - 1)] = 40;
            const last = (n - 1) * cols + Math.floor((cols - 1) / 256) * 256;
            x[last] = 50;
            x[n * cols - 1] = -50;
            // the second block of token 0 (or its only block, for one-token widths under 512) all −0 / 0
            if (cols >= 512) for (let i = 256; i < 512; i++) x[i] = i % 2 ? -0 : 0;
            const want = quantizeQ8K(x, n, cols);
            const got = wasmQ8K(be, x, n, cols);
            expect(got.bad, `${cols}×${n}`).toBe(-1);
            expect(Array.from(got.q), `codes ${cols}×${n}`).toEqual(Array.from(want.q));
            expect(Array.from(got.d), `scales ${cols}×${n}`).toEqual(Array.from(want.scales));
          }
        }
        // an all-zero row: codes 0, scale 0
        const z = wasmQ8K(be, new Float32Array(300), 1, 300);
        expect(Array.from(z.q).every((v) => v === 0)).toBe(true);
        expect(Array.from(z.d)).toEqual([0, 0]);
      } finally {
        await be.dispose();
      }
    });

    it(`${simd}: NaN or ±Infinity in the vector part or the tail reports the first bad token`, async () => {
      const be = await WasmBackend.create({ threads: 1, simd });
      try {
        const cols = 263; // one block of 256, one of 7 (a tail under 4 after the first 4)
        for (const [at, v] of [[1 * cols + 17, NaN], [2 * cols + 261, Infinity], [1 * cols + 262, -Infinity], [2 * cols + 3, NaN]] as const) {
          const x = randomFloats(3 * cols, 9);
          x[at] = v;
          expect(wasmQ8K(be, x, 3, cols).bad, `${v} at ${at}`).toBe(Math.floor(at / cols));
        }
      } finally {
        await be.dispose();
      }
    });
  }
});
