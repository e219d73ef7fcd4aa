import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../../src/quant/activation-quantizers.js';
import { parseQuantizer, quantize, type QuantizerSpec } from '../../src/quant/weight-quantizers.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { randomFloats, tritsArb } from '../helpers/arbitraries.js';

const finiteF32 = fc.float({ min: -100, max: 100, noNaN: true, noDefaultInfinity: true });
const rowArb = fc.integer({ min: 1, max: 90 }).chain((n) => fc.array(finiteF32, { minLength: n, maxLength: n }));

/** ‖w − α·t‖² in f64 for one row of a quantized tensor. */
function rowError(w: ArrayLike<number>, t: TernaryTensor, r = 0): number {
  const d = t.toDense();
  let e = 0;
  for (let c = 0; c < t.cols; c++) e += (w[r * t.cols + c]! - d[r * t.cols + c]!) ** 2;
  return e;
}

function expectCode(fn: () => unknown, code: string, msg?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TritwiseError);
  expect((err as TritwiseError).code).toBe(code);
  if (msg) expect((err as TritwiseError).message).toMatch(msg);
}

describe('weight quantizers', () => {
  const all: QuantizerSpec[] = [{ kind: 'absmean' }, { kind: 'twn' }, { kind: 'mse' }, { kind: 'threshold', delta: 0.01 }, { kind: 'percentile', p: 0 }];

  it('are idempotent on input that is already ternary (absmean on the trits; the others on trits and scale)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }).chain((n) => fc.tuple(tritsArb(n, 1), fc.float({ min: Math.fround(0.05), max: 10, noNaN: true }))),
        ([trits, a]) => {
          const w = Float32Array.from(trits, (t) => t * a);
          for (const q of all) {
            const r1 = quantize(w, 1, w.length, q).tensor;
            expect(Array.from(r1.toTrits()), q.kind).toEqual(trits.map((x) => x + 0));
            const r2 = quantize(r1.toDense(), 1, w.length, q).tensor;
            expect(Array.from(r2.toTrits()), q.kind).toEqual(trits.map((x) => x + 0));
            if (q.kind !== 'absmean' && trits.some((x) => x !== 0)) {
              expect(r1.scales[0], q.kind).toBe(Math.fround(a));
              expect(Array.from(r2.toDense()), q.kind).toEqual(Array.from(r1.toDense()));
            }
          }
        },
      ),
    );
  });

  it('twn follows its formula: Δ = 0.7·mean|W|, α = mean of |Wᵢ| over |Wᵢ| > Δ', () => {
    fc.assert(
      fc.property(rowArb, (row) => {
        const w = Float32Array.from(row);
        const t = quantize(w, 1, w.length, 'twn').tensor;
        const delta = (0.7 * w.reduce((s, x) => s + Math.abs(x), 0)) / w.length;
        const sup = Array.from(w).filter((x) => Math.abs(x) > delta);
        const alpha = sup.length ? sup.reduce((s, x) => s + Math.abs(x), 0) / sup.length : 0;
        expect(Array.from(t.toTrits())).toEqual(Array.from(w, (x) => (Math.abs(x) > delta ? Math.sign(x) : 0) + 0));
        expect(t.scales[0]).toBe(Math.fround(alpha));
      }),
    );
  });

  it('absmean follows BitNet: γ = mean|W|, T = clamp(round(W/γ), −1, 1), α = γ', () => {
    fc.assert(
      fc.property(rowArb, (row) => {
        const w = Float32Array.from(row);
        const t = quantize(w, 1, w.length, 'absmean').tensor;
        const g = w.reduce((s, x) => s + Math.abs(x), 0) / w.length;
        const roundHalfEven = (x: number) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
        expect(Array.from(t.toTrits())).toEqual(Array.from(w, (x) => (g ? Math.max(-1, Math.min(1, roundHalfEven(x / g))) : 0) + 0));
        expect(t.scales[0]).toBe(Math.fround(g));
      }),
    );
  });

  it('mse is never worse than twn or absmean on the same row, and equals a brute-force search', () => {
    fc.assert(
      fc.property(rowArb, (row) => {
        const w = Float32Array.from(row);
        const e = (q: string) => rowError(w, quantize(w, 1, w.length, q).tensor);
        const eMse = e('mse');
        const tol = 1e-9 * w.reduce((s, x) => s + x * x, 0) + 1e-30;
        expect(eMse).toBeLessThanOrEqual(e('twn') + tol);
        expect(eMse).toBeLessThanOrEqual(e('absmean') + tol);
        // brute force over every threshold between distinct magnitudes
        let best = Infinity;
        for (const d of [-1, ...Array.from(w, Math.abs)]) best = Math.min(best, e(`threshold:${d < 0 ? 0 : d}`));
        best = Math.min(best, w.reduce((s, x) => s + x * x, 0));
        expect(eMse).toBeLessThanOrEqual(best + tol);
      }),
    );
  });

  it('threshold and percentile give the sparsity they promise', () => {
    const w = randomFloats(10_000, 3);
    const p = quantize(w, 1, w.length, { kind: 'percentile', p: 90 });
    expect(p.stats.sparsity).toBeCloseTo(0.9, 3);
    const t = quantize(w, 1, w.length, 'threshold:0.5');
    expect(t.stats.sparsity).toBeCloseTo(0.5, 1);
    // TWN on a uniform/Gaussian-like row leaves a moderate share of zeros, not ~99% (the 0.7·max mistake)
    expect(quantize(w, 1, w.length, 'twn').stats.sparsity).toBeLessThan(0.5);
  });

  it('group mode quantizes each group of columns as its own segment', () => {
    const rows = 3,
      cols = 100,
      gs = 32;
    const w = randomFloats(rows * cols, 11);
    for (const q of ['absmean', 'twn', 'mse']) {
      const t = quantize(w, rows, cols, q, { groupSize: gs }).tensor.validate();
      expect(t.groupSize).toBe(gs);
      expect(Array.from(t.scales)).toEqual([1, 1, 1]);
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < Math.ceil(cols / gs); g++) {
          const c0 = g * gs,
            c1 = Math.min(cols, c0 + gs);
          const seg = quantize(w.slice(r * cols + c0, r * cols + c1), 1, c1 - c0, q).tensor;
          expect(Array.from(t.toTrits().slice(r * cols + c0, r * cols + c1))).toEqual(Array.from(seg.toTrits()));
          expect(t.groupScales![r * t.groupsPerRow + g]).toBe(seg.scales[0]);
        }
      }
    }
  });

  it('reports statistics that match the definitions', () => {
    const w = randomFloats(64 * 40, 5);
    const { tensor, stats } = quantize(w, 64, 40, 'twn');
    const d = tensor.toDense();
    let se = 0,
      sw = 0,
      mx = 0;
    for (let i = 0; i < w.length; i++) {
      se += (w[i]! - d[i]!) ** 2;
      sw += w[i]! ** 2;
      mx = Math.max(mx, Math.abs(w[i]! - d[i]!));
    }
    const s = tensor.stats();
    expect(stats.sparsity).toBe(s.sparsity);
    expect(stats.plusMinusRatio).toBe(s.plus / s.minus);
    expect(stats.mse).toBeCloseTo(se / w.length, 12);
    expect(stats.relError).toBeCloseTo(Math.sqrt(se / sw), 12);
    expect(stats.maxAbsError).toBeCloseTo(mx, 12);
    expect(tensor.quantizer).toBe('twn');
  });

  it('handles all-zero rows and empty tensors', () => {
    for (const q of ['absmean', 'twn', 'mse', 'percentile:50']) {
      const t = quantize(new Float32Array(40), 1, 40, q).tensor.validate();
      expect(t.stats().zeros).toBe(40);
      expect(quantize(new Float32Array(0), 0, 7, q).tensor.rows).toBe(0);
    }
  });

  it('rejects NaN/Inf weights, wrong shapes, bad group sizes and unknown quantizers with typed errors', () => {
    const w = new Float32Array(6);
    w[4] = NaN;
    expectCode(() => quantize(w, 2, 3, 'twn', { name: 'layers.0.wq' }), 'E_NONFINITE', /layers\.0\.wq\[1, 1\].*got NaN/);
    w[4] = Infinity;
    expectCode(() => quantize(w, 2, 3, 'twn'), 'E_NONFINITE');
    expectCode(() => quantize(new Float32Array(5), 2, 3, 'twn', { name: 'w1' }), 'E_SHAPE', /w1.*expected 2×3 = 6, got 5/);
    expectCode(() => quantize(new Float32Array(64), 1, 64, 'twn', { groupSize: 20 }), 'E_ARG', /multiple of 32/);
    expectCode(() => parseQuantizer('ternarize'), 'E_ARG', /unknown quantizer/);
    expectCode(() => parseQuantizer('threshold:-1'), 'E_ARG');
    expectCode(() => parseQuantizer('percentile:101'), 'E_ARG');
    expectCode(() => quantize([1, 2] as unknown as Float32Array, 1, 2), 'E_ARG');
  });
});

describe('activation quantizers', () => {
  it('int8 absmax: |q| ≤ 127, the max maps to ±127, error ≤ half a step, odd symmetry', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((tokens) => fc.integer({ min: 1, max: 50 }).chain((dim) => fc.tuple(fc.constant(tokens), fc.constant(dim), fc.array(finiteF32, { minLength: tokens * dim, maxLength: tokens * dim })))),
        ([tokens, dim, xs]) => {
          const x = Float32Array.from(xs);
          const a = quantizeInt8PerToken(x, tokens, dim);
          const neg = quantizeInt8PerToken(x.map((v) => -v), tokens, dim);
          for (let t = 0; t < tokens; t++) {
            const row = x.subarray(t * dim, (t + 1) * dim);
            const m = Math.max(...Array.from(row, Math.abs));
            expect(a.scales[t]).toBe(Math.fround(m / 127));
            for (let i = 0; i < dim; i++) {
              const q = a.q[t * dim + i]!;
              expect(Math.abs(q)).toBeLessThanOrEqual(127);
              if (m > 0 && Math.abs(row[i]!) === m) expect(Math.abs(q)).toBe(127);
              expect(Math.abs(q * (m / 127) - row[i]!)).toBeLessThanOrEqual(m / 254 + 1e-6 * m);
              expect(neg.q[t * dim + i]).toBe(-q + 0);
            }
          }
        },
      ),
    );
  });

  it('int8 of an all-zero token is zero with scale 0; NaN is an error', () => {
    const a = quantizeInt8PerToken(new Float32Array(8), 2, 4);
    expect(Array.from(a.q)).toEqual(new Array(8).fill(0));
    expect(Array.from(a.scales)).toEqual([0, 0]);
    expectCode(() => quantizeInt8PerToken(Float32Array.of(1, NaN), 1, 2), 'E_NONFINITE', /token 0/);
    expectCode(() => quantizeInt8PerToken(new Float32Array(3), 2, 2), 'E_SHAPE');
  });

  it('ternary activations are a per-token TernaryTensor', () => {
    const x = randomFloats(3 * 70, 9);
    const u = quantizeTernaryPerToken(x, 3, 70);
    expect(u.rows).toBe(3);
    expect(u.cols).toBe(70);
    expect(u.equals(quantize(x, 3, 70, 'twn').tensor)).toBe(true);
  });
});
