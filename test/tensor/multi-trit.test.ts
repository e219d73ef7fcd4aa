/**
 * Multi-trit tensors (residual and tryte form), packed trytes, lens edits and ripple-carry
 * addition — each checked against plain integer arithmetic.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MultiTritTensor, balancedDigits, tryteMax } from '../../src/tensor/multi-trit-tensor.js';
import { addPlanes, addTrytes, fullAddTrit, fullAddWords, getTryte, packTrytes, setTryte, tryteIntegers, unpackTrytes } from '../../src/tensor/trytes.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { getFormat } from '../../src/tensor/formats.js';
import { colsArb, scaleArb } from '../helpers/arbitraries.js';

/** A random tryte tensor: shape, depth 1..6, integers in range, row (and maybe group) scales. */
const tryteArb = fc
  .record({ rows: fc.integer({ min: 0, max: 6 }), cols: colsArb, depth: fc.integer({ min: 1, max: 6 }), gs: fc.constantFrom(0, 0, 32) })
  .chain(({ rows, cols, depth, gs }) => {
    const max = tryteMax(depth);
    const G = gs ? Math.ceil(cols / gs) : 0;
    return fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      depth: fc.constant(depth),
      gs: fc.constant(gs),
      n: fc.array(fc.oneof(fc.integer({ min: -max, max }), fc.constantFrom(0, max, -max)), { minLength: rows * cols, maxLength: rows * cols }),
      scales: fc.array(scaleArb, { minLength: rows, maxLength: rows }),
      gscales: fc.array(scaleArb, { minLength: rows * G, maxLength: rows * G }),
    });
  });

function makeTryte(c: { rows: number; cols: number; depth: number; gs: number; n: number[]; scales: number[]; gscales: number[] }): MultiTritTensor {
  return MultiTritTensor.fromIntegers(c.n, c.rows, c.cols, c.depth, { scales: c.scales, groupSize: c.gs || undefined, groupScales: c.gs ? c.gscales : undefined });
}

describe('balanced ternary', () => {
  it('digits of every integer of depth 1..6 give the integer back; out of range is E_ARG', () => {
    for (let d = 1; d <= 6; d++) {
      const max = tryteMax(d);
      for (let n = -max; n <= max; n++) {
        const dg = balancedDigits(n, d);
        expect(Array.from(dg).every((t) => t >= -1 && t <= 1)).toBe(true);
        expect(Array.from(dg).reduceRight((s, t) => s * 3 + t, 0)).toBe(n);
      }
      expect(() => balancedDigits(max + 1, d)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    }
  });

  it('the full adder equals integer addition for all 27 inputs', () => {
    for (const a of [-1, 0, 1]) for (const b of [-1, 0, 1]) for (const c of [-1, 0, 1]) {
      const [d, k] = fullAddTrit(a, b, c);
      expect(d + 3 * k).toBe(a + b + c);
      expect(Math.abs(d)).toBeLessThanOrEqual(1);
      // the bit-sliced adder on the same trits in lane 7
      const bit = (t: number, s: number) => (t === s ? 1 << 7 : 0);
      const [sp, sm, kp, km] = fullAddWords(bit(a, 1), bit(a, -1), bit(b, 1), bit(b, -1), bit(c, 1), bit(c, -1));
      expect(((sp >>> 7) & 1) - ((sm >>> 7) & 1)).toBe(d);
      expect(((kp >>> 7) & 1) - ((km >>> 7) & 1)).toBe(k);
      expect(sp & sm).toBe(0);
    }
  });
});

describe('MultiTritTensor', () => {
  it('fromIntegers → toIntegers is exact; the tensor is in tryte form; values are n·s·gs', () => {
    fc.assert(
      fc.property(tryteArb, (c) => {
        const m = makeTryte(c).validate();
        expect(m.form).toBe('tryte');
        expect(Array.from(m.toIntegers())).toEqual(c.n.map((v) => v + 0));
        const dense = m.toDense();
        for (let r = 0; r < c.rows; r++)
          for (let col = 0; col < c.cols; col++) {
            const want = c.n[r * c.cols + col]! * Math.fround(c.scales[r]!) * (c.gs ? Math.fround(c.gscales[r * Math.ceil(c.cols / c.gs) + Math.floor(col / c.gs)]!) : 1);
            expect(Math.abs(dense[r * c.cols + col]! - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-30);
          }
      }),
      { numRuns: 80 },
    );
  });

  it('the lens edit setInteger rewrites one element only and keeps every invariant', () => {
    fc.assert(
      fc.property(tryteArb.filter((c) => c.rows > 0 && c.cols > 0), fc.nat(), fc.nat(), fc.integer(), (c, ri, ci, v) => {
        const m = makeTryte(c);
        m.planes.forEach((p) => p.rowNnz(0)); // build the cached metadata so edits must keep it exact
        const r = ri % c.rows,
          col = ci % c.cols;
        const max = tryteMax(c.depth);
        const n = (((v % (2 * max + 1)) + 2 * max + 1) % (2 * max + 1)) - max;
        m.setInteger(r, col, n);
        m.validate();
        const want = c.n.slice();
        want[r * c.cols + col] = n;
        expect(Array.from(m.toIntegers())).toEqual(want.map((x) => x + 0));
        expect(m.getInteger(r, col)).toBe(n);
        expect(() => m.setInteger(r, col, max + 1)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
      }),
      { numRuns: 80 },
    );
  });

  it('setNearest picks the nearest representable value (trytes by rounding, residual by search)', () => {
    const planes = [TernaryTensor.zeros(1, 3), TernaryTensor.zeros(1, 3)];
    planes[0]!.scales[0] = 0.3;
    planes[1]!.scales[0] = 1;
    const m = new MultiTritTensor(planes);
    expect(m.form).toBe('residual');
    const levels: number[] = [];
    for (const a of [-1, 0, 1]) for (const b of [-1, 0, 1]) levels.push(a * 0.3 + b);
    for (const x of [-2, -1.2, -0.5, -0.1, 0, 0.16, 0.6, 0.71, 1.14, 5]) {
      const got = m.setNearest(0, 1, x);
      const best = Math.min(...levels.map((l) => Math.abs(l - x)));
      expect(Math.abs(got - x)).toBeCloseTo(best, 6);
    }
    expect(() => m.getInteger(0, 0)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
    const t = MultiTritTensor.fromIntegers([0, 0], 1, 2, 2, { scales: [0.5] });
    expect(t.setNearest(0, 0, 1.3)).toBe(1.5);
    expect(t.setNearest(0, 1, 99)).toBe(2); // clamped to 4·0.5
    expect(t.getInteger(0, 1)).toBe(4);
  });

  it('planes must agree in shape; depth is 1..6', () => {
    expect(() => new MultiTritTensor([TernaryTensor.zeros(2, 3), TernaryTensor.zeros(2, 4)])).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => new MultiTritTensor([])).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => MultiTritTensor.fromIntegers([0], 1, 1, 7)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => MultiTritTensor.fromIntegers([5], 1, 1, 2)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});

describe('packed trytes', () => {
  it('pack → unpack is exact (planes and scales bit for bit); 1.6 bits per trit', () => {
    fc.assert(
      fc.property(tryteArb, (c) => {
        const m = makeTryte(c);
        const p = packTrytes(m);
        expect(p.bytesPerRow).toBe(Math.ceil((c.cols * c.depth) / 5));
        expect(p.data.every((b) => b <= 242)).toBe(true);
        expect(unpackTrytes(p).equals(m)).toBe(true);
        expect(Array.from(tryteIntegers(p))).toEqual(c.n.map((x) => x + 0));
        for (let i = 0; i < Math.min(5, c.rows * c.cols); i++) expect(getTryte(p, Math.floor(i / c.cols), i % c.cols)).toBe(c.n[i]! + 0);
      }),
      { numRuns: 80 },
    );
    expect(getFormat('trytes').bitsPerWeight).toBeCloseTo(1.6);
  });

  it('the packed lens edit equals editing the planes and packing again', () => {
    fc.assert(
      fc.property(tryteArb.filter((c) => c.rows > 0 && c.cols > 0), fc.nat(), fc.nat(), fc.integer(), (c, ri, ci, v) => {
        const m = makeTryte(c);
        const p = packTrytes(m);
        const r = ri % c.rows,
          col = ci % c.cols;
        const max = tryteMax(c.depth);
        const n = (((v % (2 * max + 1)) + 2 * max + 1) % (2 * max + 1)) - max;
        setTryte(p, r, col, n);
        m.setInteger(r, col, n);
        expect(Array.from(p.data)).toEqual(Array.from(packTrytes(m).data));
      }),
      { numRuns: 80 },
    );
  });

  it('ripple-carry addition equals integer addition (error, wrap and saturate on overflow)', () => {
    fc.assert(
      fc.property(tryteArb, fc.infiniteStream(fc.integer()), (c, more) => {
        const max = tryteMax(c.depth);
        const it = more[Symbol.iterator]();
        const n2 = c.n.map(() => (((it.next().value as number) % (2 * max + 1)) + 2 * max + 1) % (2 * max + 1) - max);
        const a = makeTryte(c);
        const b = makeTryte({ ...c, n: n2 });
        const pa = packTrytes(a),
          pb = packTrytes(b);
        const exact = c.n.map((x, i) => x + n2[i]!);
        const M = 3 ** c.depth;
        const wrap = exact.map((s) => (Math.abs(s) > max ? s - Math.sign(s) * M : s));
        const sat = exact.map((s) => Math.max(-max, Math.min(max, s)));
        expect(Array.from(tryteIntegers(addTrytes(pa, pb, { overflow: 'wrap' })))).toEqual(wrap.map((x) => x + 0));
        expect(Array.from(tryteIntegers(addTrytes(pa, pb, { overflow: 'saturate' })))).toEqual(sat.map((x) => x + 0));
        if (exact.some((s) => Math.abs(s) > max)) expect(() => addTrytes(pa, pb)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
        else expect(Array.from(tryteIntegers(addTrytes(pa, pb)))).toEqual(exact.map((x) => x + 0));
        // bit-sliced: a + b = sum + 3^d·carry for every element
        const { sum, carry } = addPlanes(a, b);
        sum.validate();
        carry.validate();
        const s = sum.toIntegers(),
          k = carry.toTrits();
        expect(Array.from(s, (v, i) => v + M * k[i]!)).toEqual(exact.map((x) => x + 0));
        expect(Array.from(s)).toEqual(wrap.map((x) => x + 0));
      }),
      { numRuns: 60 },
    );
  });

  it('corrupt packed data and mismatched operands are typed errors', () => {
    const p = packTrytes(MultiTritTensor.fromIntegers([1, -4, 13], 1, 3, 3));
    expect(p.bytesPerRow).toBe(2);
    expect(() => tryteIntegers({ ...p, data: Uint8Array.of(243, p.data[1]!) })).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(() => tryteIntegers({ ...p, data: Uint8Array.of(p.data[0]!, 0) })).toThrow(/padding trit/);
    expect(() => tryteIntegers({ ...p, data: p.data.subarray(0, 1) })).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    const q = packTrytes(MultiTritTensor.fromIntegers([1, -4, 13], 1, 3, 3, { scales: [2] }));
    expect(() => addTrytes(p, q)).toThrow(/different scales/);
    const planes = [TernaryTensor.zeros(1, 3), TernaryTensor.zeros(1, 3)];
    planes[1]!.scales[0] = 2;
    expect(() => packTrytes(new MultiTritTensor(planes))).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
  });
});
