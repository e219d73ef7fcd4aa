/**
 * multi-conformance — the conformance suite for multi-trit weights (Backend.uploadMultiTrit,
 * matmulMultiF32, matmulMultiI8) and MultiTritLinear, run on every backend that has the kernels:
 * integer accumulators equal naive integer math bit for bit, f32 outputs are within 1e-5 of the
 * f64 product relative to Σ|w·x|. Shapes include ragged widths, one row, empty inputs, depth 1–6
 * and group scales.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { MultiTritLinear } from '../../src/nn/multi-trit-linear.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../../src/quant/activation-quantizers.js';
import { quantizeQ8K } from '../../src/quant/q8k.js';
import { MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { colsArb, randomFloats, scaleArb, tritsArb } from '../helpers/arbitraries.js';
import { expectClose, F32_RTOL, naiveF64, naiveIntAcc } from './conformance.js';

/** A random multi-trit tensor: depth 1..6, planes with their own scales, shared group size. */
export const multiArb: fc.Arbitrary<MultiTritTensor> = fc
  .record({ rows: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 9 })), cols: colsArb, depth: fc.integer({ min: 1, max: 6 }), gs: fc.constantFrom(0, 0, 32, 64) })
  .chain(({ rows, cols, depth, gs }) => {
    const G = gs ? Math.ceil(cols / gs) : 0;
    const plane = fc
      .record({ trits: tritsArb(rows * cols, 1), scales: fc.array(scaleArb, { minLength: rows, maxLength: rows }), gscales: fc.array(scaleArb, { minLength: rows * G, maxLength: rows * G }) })
      .map(({ trits, scales, gscales }) => TernaryTensor.fromTrits(trits, rows, cols, { scales, groupSize: gs || undefined, groupScales: gs ? gscales : undefined }));
    return fc.array(plane, { minLength: depth, maxLength: depth }).map((planes) => new MultiTritTensor(planes));
  });

/**
 * The f64 product of the dequantized weights, with each output's error scale taken over the
 * planes: a kernel sums Σₖ αₖ·(Tₖ·x) plane by plane in f32, so when planes cancel (α₁ − α₂ ≈ 0)
 * its rounding error is relative to Σₖ Σ_c |αₖ tₖ x_c|, not to |Σₖ αₖ tₖ|·|x|.
 */
function naiveMultiF64(m: MultiTritTensor, x: ArrayLike<number>, batch: number): { y: Float64Array; mag: Float64Array } {
  const want = naiveF64(m.toDense(), m.rows, m.cols, x, batch);
  const mag = new Float64Array(want.mag.length);
  for (const p of m.planes) {
    const pm = naiveF64(p.toDense(), m.rows, m.cols, x, batch).mag;
    for (let i = 0; i < mag.length; i++) mag[i] = mag[i]! + pm[i]!;
  }
  return { y: want.y, mag };
}

/** Naive per-plane integer accumulators in the [batch, rows, depth, groups] order. */
export function naiveMultiAcc(m: MultiTritTensor, q: ArrayLike<number>, batch: number): Int32Array {
  const G = m.planes[0]!.groupsPerRow;
  const out = new Int32Array(batch * m.rows * m.depth * G);
  m.planes.forEach((t, p) => {
    const a = naiveIntAcc(t, q, batch);
    for (let b = 0; b < batch; b++) for (let r = 0; r < m.rows; r++) for (let g = 0; g < G; g++) out[((b * m.rows + r) * m.depth + p) * G + g] = a[(b * m.rows + r) * G + g]!;
  });
  return out;
}

const caseArb = fc.tuple(multiArb, fc.constantFrom(0, 1, 1, 2, 3, 5), fc.integer({ min: 1, max: 1 << 30 }));

export function multiTritConformance(label: string, make: () => Promise<Backend>, opts: { runs?: number } = {}): void {
  const numRuns = opts.runs ?? 40;
  describe(`multi-trit conformance: ${label}`, () => {
    let be: Backend;
    beforeAll(async () => {
      be = await make();
    });
    afterAll(async () => {
      await be?.dispose();
    });

    it('has the multi-trit kernels', () => {
      expect(typeof be.uploadMultiTrit).toBe('function');
      expect(typeof be.matmulMultiF32).toBe('function');
      expect(typeof be.matmulMultiI8).toBe('function');
    });

    it('d planes × int8 equal naive integer math per plane exactly', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ([m, batch, seed]) => {
          const q = Int8Array.from(randomFloats(batch * m.cols, seed), (v) => Math.round(v * 127));
          q.fill(-128, 0, Math.min(q.length, 3)); // the extreme int8 value
          const h = await be.uploadMultiTrit!(m);
          const acc = await be.matmulMultiI8!(h, q, batch);
          expect(Array.from(acc.subarray(0, batch * m.rows * m.depth * m.planes[0]!.groupsPerRow))).toEqual(Array.from(naiveMultiAcc(m, q, batch)));
          be.release(h);
        }),
        { numRuns },
      );
    });

    it(`d planes × f32 is within ${F32_RTOL} relative of the dequantized f64 product`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ([m, batch, seed]) => {
          const x = randomFloats(batch * m.cols, seed, 3);
          const h = await be.uploadMultiTrit!(m);
          expectClose(await be.matmulMultiF32!(h, x, batch), naiveMultiF64(m, x, batch), F32_RTOL, 'multi×f32');
          be.release(h);
        }),
        { numRuns },
      );
    });

    it('planes that cancel (+α₁ and −α₂ with α₁ ≈ α₂) stay within the per-plane error scale', async () => {
      // fast-check found this on webgpu: Σₖ αₖtₖ is ~1e-10 while each plane's term is ~1e-3, so
      // the error is judged against the planes' magnitudes (naiveMultiF64), not the tiny sum
      const a1 = Math.fround(0.001),
        a2 = Math.fround(0.0010000001639127731);
      const p1 = TernaryTensor.fromTrits(Int8Array.from([1, 0, 1]), 3, 1, { scales: [a1, a1, a1] });
      const p2 = TernaryTensor.fromTrits(Int8Array.from([-1, -1, 0]), 3, 1, { scales: [a2, a2, a2] });
      const m = new MultiTritTensor([p1, p2]);
      for (const x of [Float32Array.of(2.718), Float32Array.of(-1.5)]) {
        const h = await be.uploadMultiTrit!(m);
        const got = await be.matmulMultiF32!(h, x, 1);
        expectClose(got, naiveMultiF64(m, x, 1), F32_RTOL, 'cancelling planes');
        // and the sum is really the difference of the planes, not one plane alone
        expect(Math.abs(got[0]!)).toBeLessThan(1e-8);
        expect(Math.abs(got[1]! + a2 * x[0]!)).toBeLessThan(1e-8);
        expect(Math.abs(got[2]! - a1 * x[0]!)).toBeLessThan(1e-8);
        be.release(h);
      }
    });

    it('a larger matrix (192×1000, depth 3, groups of 128, batch 1 and 6) matches', async () => {
      const rows = 192,
        cols = 1000;
      const planes = [0, 1, 2].map((p) => {
        const r = randomFloats(rows * cols, 40 + p);
        return TernaryTensor.fromTrits(Array.from(r, (v) => (v > 0.3 ? 1 : v < -0.3 ? -1 : 0)), rows, cols, { scales: randomFloats(rows, 50 + p).map((v) => 1 + v), groupSize: 128, groupScales: randomFloats(rows * 8, 60 + p).map((v) => 2 + v) });
      });
      const m = new MultiTritTensor(planes);
      const h = await be.uploadMultiTrit!(m);
      for (const batch of [1, 6]) {
        const x = randomFloats(batch * cols, 7 + batch);
        expectClose(await be.matmulMultiF32!(h, x, batch), naiveMultiF64(m, x, batch));
        const q = quantizeInt8PerToken(x, batch, cols).q;
        expect(Array.from(await be.matmulMultiI8!(h, q, batch))).toEqual(Array.from(naiveMultiAcc(m, q, batch)));
      }
      be.release(h);
    });

    it('MultiTritLinear in every activation mode matches naive math on the quantized operands', async () => {
      const rows = 40,
        cols = 300,
        batch = 3;
      const w = randomFloats(rows * cols, 5);
      const x = randomFloats(batch * cols, 6);
      const bias = randomFloats(rows, 7);
      const n = Array.from(w, (v) => Math.round(v * 13));
      for (const gs of [0, 256]) {
        const m = MultiTritTensor.fromIntegers(n, rows, cols, 3, gs ? { groupSize: gs, groupScales: randomFloats(rows * 2, 9).map((v) => 1 + v / 2) } : { scales: randomFloats(rows, 8).map((v) => 1 + v / 2) });
        const dq = m.toDense();
        const lf = await MultiTritLinear.fromTensor(be, m, { activation: 'f32', bias });
        const want = naiveF64(dq, rows, cols, x, batch);
        for (let i = 0; i < want.y.length; i++) want.y[i]! += bias[i % rows]!;
        expectClose(await lf.forward(x, batch), want, F32_RTOL, `f32 gs${gs}`);
        const a = quantizeInt8PerToken(x, batch, cols);
        const li = await MultiTritLinear.fromTensor(be, m, { activation: 'int8' });
        expectClose(await li.forward(x, batch), naiveF64(dq, rows, cols, Float64Array.from(a.q, (v, i) => v * a.scales[Math.floor(i / cols)]!), batch), F32_RTOL, `int8 gs${gs}`);
        const u = quantizeTernaryPerToken(x, batch, cols);
        const lt = await MultiTritLinear.fromTensor(be, m, { activation: 'ternary' });
        expectClose(await lt.forward(x, batch), naiveF64(dq, rows, cols, u.toDense(), batch), F32_RTOL, `ternary gs${gs}`);
        if (gs) {
          const k = quantizeQ8K(x, batch, cols);
          const xk = Float64Array.from(k.q, (v, i) => v * k.scales[Math.floor(i / cols) * 2 + Math.floor((i % cols) / 256)]!);
          const lk = await MultiTritLinear.fromTensor(be, m, { activation: 'q8k' });
          expectClose(await lk.forward(x, batch), naiveF64(dq, rows, cols, xk, batch), F32_RTOL, 'q8k');
        }
        expect(lf.bytes).toBe(m.bytes + bias.byteLength);
      }
    });

    it('bad inputs are typed errors: short activations, released handles', async () => {
      const m = MultiTritTensor.fromIntegers(new Array(4 * 40).fill(1), 4, 40, 2);
      const h = await be.uploadMultiTrit!(m);
      await expect(be.matmulMultiF32!(h, new Float32Array(79), 2)).rejects.toMatchObject({ code: 'E_SHAPE' });
      await expect(be.matmulMultiI8!(h, new Int8Array(10), 1)).rejects.toMatchObject({ code: 'E_SHAPE' });
      be.release(h);
      await expect(be.matmulMultiF32!(h, new Float32Array(40), 1)).rejects.toMatchObject({ code: 'E_BACKEND' });
      await expect(MultiTritLinear.fromTensor(be, m, { activation: 'int4' as 'int8' })).rejects.toMatchObject({ code: 'E_ARG' });
    });
  });
}
