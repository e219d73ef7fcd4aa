/**
 * conformance — the backend conformance suite. Every backend runs it (ref, wasm, webgpu):
 *
 *   integer paths (ternary×int8, ternary×ternary) must equal naive integer math bit for bit;
 *   f32 paths must be within 1e-5 of the naive f64 result, relative to Σ|w·x| (the magnitude the
 *   sum is built from, so cancellation cannot make the bound meaningless).
 *
 * The expected values come from naive dense loops over toTrits()/toDense(), not from the ref
 * kernels, so the suite also checks the reference backend itself.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { TritwiseError } from '../../src/errors.js';
import { DenseLinear, TernaryLinear } from '../../src/nn/linear.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../../src/quant/activation-quantizers.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { randomFloats, tensorArb } from '../helpers/arbitraries.js';

export const F32_RTOL = 1e-5;

/** Naive [batch, rows, groups] integer accumulators. */
export function naiveIntAcc(w: TernaryTensor, x: ArrayLike<number>, batch: number): Int32Array {
  const G = w.groupsPerRow;
  const trits = w.toTrits();
  const out = new Int32Array(batch * w.rows * G);
  for (let b = 0; b < batch; b++)
    for (let r = 0; r < w.rows; r++)
      for (let c = 0; c < w.cols; c++) {
        const g = w.groupSize ? Math.floor(c / w.groupSize) : 0;
        out[(b * w.rows + r) * G + g]! += trits[r * w.cols + c]! * x[b * w.cols + c]!;
      }
  return out;
}

/** Naive f64 y = W·x with the magnitude Σ|w·x| for the tolerance. */
export function naiveF64(w: ArrayLike<number>, rows: number, cols: number, x: ArrayLike<number>, batch: number): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(batch * rows);
  const mag = new Float64Array(batch * rows);
  for (let b = 0; b < batch; b++)
    for (let r = 0; r < rows; r++) {
      let s = 0,
        m = 0;
      for (let c = 0; c < cols; c++) {
        const p = w[r * cols + c]! * x[b * cols + c]!;
        s += p;
        m += Math.abs(p);
      }
      y[b * rows + r] = s;
      mag[b * rows + r] = m;
    }
  return { y, mag };
}

export function expectClose(got: ArrayLike<number>, want: { y: Float64Array; mag: Float64Array }, rtol = F32_RTOL, what = 'value'): void {
  expect(got.length, `${what} length`).toBeGreaterThanOrEqual(want.y.length);
  for (let i = 0; i < want.y.length; i++) {
    const err = Math.abs(got[i]! - want.y[i]!);
    const bound = rtol * want.mag[i]! + 1e-30;
    if (!(err <= bound)) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want.y[i]} (|err| ${err} > ${bound})`);
  }
}

/** Batched shapes: a random tensor plus a batch size 0..5. */
const caseArb = fc.tuple(tensorArb, fc.constantFrom(0, 1, 1, 2, 3, 5), fc.integer({ min: 1, max: 1 << 30 }));

export function backendConformance(label: string, make: () => Promise<Backend>, opts: { runs?: number } = {}): void {
  const numRuns = opts.runs ?? 60;
  describe(`backend conformance: ${label}`, () => {
    let be: Backend;
    beforeAll(async () => {
      be = await make();
    });
    afterAll(async () => {
      await be?.dispose();
    });

    it('ternary×int8 equals naive integer math exactly (random and ragged shapes)', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ([t, batch, seed]) => {
          const q = Int8Array.from(randomFloats(batch * t.cols, seed), (v) => Math.round(v * 127));
          const h = await be.uploadTernary(t);
          const acc = await be.matmulI8(h, q, batch);
          expect(Array.from(acc.subarray(0, batch * t.rows * t.groupsPerRow))).toEqual(Array.from(naiveIntAcc(t, q, batch)));
          be.release(h);
        }),
        { numRuns },
      );
    });

    it('ternary×ternary (popcount) equals naive integer math exactly', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ([t, batch, seed]) => {
          const x = quantize(randomFloats(batch * t.cols, seed), batch, t.cols, 'twn').tensor;
          const h = await be.uploadTernary(t);
          const acc = await be.matmulTernary(h, x);
          expect(Array.from(acc.subarray(0, batch * t.rows * t.groupsPerRow))).toEqual(Array.from(naiveIntAcc(t, x.toTrits(), batch)));
          be.release(h);
        }),
        { numRuns },
      );
    });

    it(`ternary×f32 is within ${F32_RTOL} relative of the dequantized f64 product`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async ([t, batch, seed]) => {
          const x = randomFloats(batch * t.cols, seed, 3);
          const h = await be.uploadTernary(t);
          const y = await be.matmulF32(h, x, batch);
          expectClose(y, naiveF64(t.toDense(), t.rows, t.cols, x, batch), F32_RTOL, 'ternary×f32');
          be.release(h);
        }),
        { numRuns },
      );
    });

    it(`dense f32 is within ${F32_RTOL} relative of the f64 product`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 150 }), fc.constantFrom(0, 1, 4), fc.nat()), async ([rows, cols, batch, seed]) => {
          const w = randomFloats(rows * cols, seed + 1);
          const x = randomFloats(batch * cols, seed + 2);
          const h = await be.uploadDense(w, rows, cols);
          expectClose(await be.matmulDense(h, x, batch), naiveF64(w, rows, cols, x, batch), F32_RTOL, 'dense');
          be.release(h);
        }),
        { numRuns: Math.ceil(numRuns / 2) },
      );
    });

    it('writes into a caller-provided output buffer', async () => {
      const t = quantize(randomFloats(7 * 45, 1), 7, 45, 'twn').tensor;
      const h = await be.uploadTernary(t);
      const x = randomFloats(2 * 45, 2);
      const out = new Float32Array(14);
      const y = await be.matmulF32(h, x, 2, out);
      expect(y.buffer === out.buffer || Array.from(out).every((v, i) => v === y[i])).toBe(true);
      be.release(h);
    });

    it('a larger matrix (256×1000, batch 8) matches on every path', async () => {
      const rows = 256,
        cols = 1000,
        batch = 8;
      const w = randomFloats(rows * cols, 77);
      const t = quantize(w, rows, cols, 'twn', { groupSize: 128 }).tensor;
      const x = randomFloats(batch * cols, 78);
      const h = await be.uploadTernary(t);
      expectClose(await be.matmulF32(h, x, batch), naiveF64(t.toDense(), rows, cols, x, batch));
      const q = quantizeInt8PerToken(x, batch, cols).q;
      expect(Array.from(await be.matmulI8(h, q, batch))).toEqual(Array.from(naiveIntAcc(t, q, batch)));
      const u = quantizeTernaryPerToken(x, batch, cols);
      expect(Array.from(await be.matmulTernary(h, u))).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), batch)));
      be.release(h);
    });

    it('TernaryLinear in each activation mode matches naive math on the quantized operands', async () => {
      const rows = 40,
        cols = 97,
        batch = 3;
      const w = randomFloats(rows * cols, 5);
      const x = randomFloats(batch * cols, 6);
      const bias = randomFloats(rows, 7);
      for (const gs of [0, 32]) {
        const base = quantize(w, rows, cols, 'absmean', { groupSize: gs }).tensor;
        const dq = base.toDense();
        // f32 activations
        const lf = await TernaryLinear.fromWeights(be, w, rows, cols, { quantizer: 'absmean', groupSize: gs, activation: 'f32', bias });
        const want = naiveF64(dq, rows, cols, x, batch);
        for (let i = 0; i < want.y.length; i++) want.y[i]! += bias[i % rows]!;
        expectClose(await lf.forward(x, batch), want, F32_RTOL, `linear f32 gs${gs}`);
        // int8 activations: compare with the dequantized int8 input
        const li = await TernaryLinear.fromTensor(be, base, { activation: 'int8' });
        const a = quantizeInt8PerToken(x, batch, cols);
        const xq = Float64Array.from(a.q, (v, i) => v * a.scales[Math.floor(i / cols)]!);
        expectClose(await li.forward(x, batch), naiveF64(dq, rows, cols, xq, batch), F32_RTOL, `linear int8 gs${gs}`);
        // ternary activations
        const lt = await TernaryLinear.fromTensor(be, base, { activation: 'ternary' });
        const u = quantizeTernaryPerToken(x, batch, cols);
        expectClose(await lt.forward(x, batch), naiveF64(dq, rows, cols, u.toDense(), batch), F32_RTOL, `linear ternary gs${gs}`);
      }
      const ld = await DenseLinear.fromWeights(be, w, rows, cols);
      expectClose(await ld.forward(x, batch), naiveF64(w, rows, cols, x, batch), F32_RTOL, 'dense linear');
      expect(ld.bytes).toBe(rows * cols * 4);
    });

    it('bad inputs are typed errors: short activations, released handles, mismatched widths', async () => {
      const t = TernaryTensor.zeros(4, 40);
      const h = await be.uploadTernary(t);
      await expect(be.matmulF32(h, new Float32Array(79), 2)).rejects.toMatchObject({ code: 'E_SHAPE' });
      await expect(be.matmulI8(h, new Int8Array(10), 1)).rejects.toMatchObject({ code: 'E_SHAPE' });
      await expect(be.matmulTernary(h, TernaryTensor.zeros(1, 41))).rejects.toMatchObject({ code: 'E_SHAPE' });
      await expect(be.uploadDense(new Float32Array(5), 2, 3)).rejects.toBeInstanceOf(TritwiseError);
      be.release(h);
      await expect(be.matmulF32(h, new Float32Array(40), 1)).rejects.toMatchObject({ code: 'E_BACKEND' });
      await expect(TernaryLinear.fromTensor(be, t, { activation: 'int4' as 'int8' })).rejects.toMatchObject({ code: 'E_ARG' });
    });
  });
}
