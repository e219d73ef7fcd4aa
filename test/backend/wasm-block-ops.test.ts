/**
 * The wasm backend's block operations (kernels/block-ops.ts: rmsnorm, residual add, SwiGLU)
 * against nn/ops.ts, on both engine builds, on backend memory (allocF32, read in place) and on
 * plain arrays (staged): add bit for bit; rmsnorm to the f64 summation order (≤ 1 f32 ulp);
 * SwiGLU within 5e-7 relative (≈ 8 f32 ulps; measured ≤ 6.3) + 1e-30 absolute, over the whole f32 range of the gate (|g| up to
 * 1e30, ±0, tiny values) and widths that leave SIMD tails of 1–3.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { addInPlace, rmsnorm, swigluRows } from '../../src/nn/ops.js';
import { randomFloats } from '../helpers/arbitraries.js';

const relaxed = WebAssembly.validate(readFileSync(new URL('../../dist/kernels/relaxed.wasm', import.meta.url)));
const builds = relaxed ? (['simd128', 'relaxed'] as const) : (['simd128'] as const);

function maxRelErr(got: Float32Array, want: Float32Array, abs: number): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) return Infinity;
      continue;
    }
    // the part of the error beyond the absolute allowance, relative to the value
    const over = Math.abs(g - w) - abs;
    if (over <= 0) continue;
    worst = Math.max(worst, w === 0 ? Infinity : over / Math.abs(w));
  }
  return worst;
}

/** A gate row with ordinary values plus the edges of the f32 range. */
function gates(n: number, seed: number): Float32Array {
  const g = randomFloats(n, seed).map((v) => v * 8);
  const edges = [0, -0, 1e-30, -1e-30, 20, -20, 87, -87, 88.5, -88.5, 100, -100, 1e30, -1e30, 0.5, -0.5];
  for (let i = 0; i < Math.min(n, edges.length); i++) g[(i * 7) % n] = edges[i]!;
  return g;
}

describe('wasm block ops', () => {
  for (const simd of builds) {
    it(`${simd}: rmsnorm, add and SwiGLU match nn/ops.ts, in place and staged`, async () => {
      const be = await WasmBackend.create({ threads: 1, simd });
      try {
        let seed = 3;
        for (const n of [1, 3, 4, 5, 64, 1537]) {
          for (const rows of [1, 3]) {
            for (const owned of [true, false]) {
              const mk = (len: number) => (owned ? be.allocF32(len) : new Float32Array(len));
              // rmsnorm (also in place, as the model's final norm runs)
              const x = mk(rows * n);
              x.set(randomFloats(rows * n, seed++).map((v, i) => v * (1 + (i % 13))));
              const w = randomFloats(n, seed++);
              const want = new Float32Array(rows * n);
              rmsnorm(want, x, w, rows, n, 1e-5);
              const y = mk(rows * n);
              be.rmsnorm(y, x, w, rows, n, 1e-5);
              expect(maxRelErr(y, want, 1e-30), `rmsnorm n ${n} rows ${rows}`).toBeLessThan(1.2e-7);
              be.rmsnorm(x, x, w, rows, n, 1e-5);
              expect(maxRelErr(x, want, 1e-30), `rmsnorm in place n ${n}`).toBeLessThan(1.2e-7);
              // residual add: bit for bit
              const a = mk(rows * n);
              a.set(randomFloats(rows * n, seed++));
              const b = randomFloats(rows * n, seed++).map((v) => v * 1e-3);
              const ref = Float32Array.from(a);
              addInPlace(ref, b, rows * n);
              be.addInPlace(a, b, rows * n);
              expect(Array.from(a)).toEqual(Array.from(ref));
              // SwiGLU over [gate | up] rows
              const gu = mk(rows * 2 * n);
              for (let t = 0; t < rows; t++) {
                gu.set(gates(n, seed++), t * 2 * n);
                gu.set(randomFloats(n, seed++), t * 2 * n + n);
              }
              const hw = new Float32Array(rows * n);
              swigluRows(hw, gu, rows, n);
              const h = mk(rows * n);
              be.swigluRows(h, gu, rows, n);
              expect(maxRelErr(h, hw, 1e-30), `swiglu n ${n} rows ${rows}`).toBeLessThan(5e-7);
            }
          }
        }
      } finally {
        await be.dispose();
      }
    });
  }

  it('NaN propagates through SwiGLU and short buffers are typed errors', async () => {
    const be = await WasmBackend.create({ threads: 1 });
    try {
      const gu = Float32Array.from([NaN, 1, 2, 3, 1, 1, 1, 1]);
      const h = new Float32Array(4);
      be.swigluRows(h, gu, 1, 4);
      expect(Number.isNaN(h[0]!)).toBe(true);
      expect(h[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
      expect(() => be.swigluRows(new Float32Array(3), gu, 1, 4)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
      expect(() => be.rmsnorm(new Float32Array(4), new Float32Array(4), new Float32Array(3), 1, 4, 1e-5)).toThrow(/weight too short/);
      expect(() => be.addInPlace(new Float32Array(4), new Float32Array(2), 4)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    } finally {
      await be.dispose();
    }
  });
});
