import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { dotPlanes, popcount32, wordsFor } from '../../src/tensor/bits.js';
import { decodeBase3, decodeCodes2, encodeBase3, encodeCodes2 } from '../../src/tensor/codecs.js';
import { TernaryTensor, type Trit } from '../../src/tensor/ternary-tensor.js';
import { TritVector } from '../../src/tensor/trit-vector.js';
import { colsArb, rowsArb, tensorArb, tritsArb } from '../helpers/arbitraries.js';

function expectCode(fn: () => unknown, code: string): TritwiseError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TritwiseError);
    expect((e as TritwiseError).code).toBe(code);
    return e as TritwiseError;
  }
  throw new Error(`expected a TritwiseError ${code}, nothing was thrown`);
}

/** Metadata must equal what a fresh tensor with the same planes computes. */
function expectFreshMetadata(t: TernaryTensor): void {
  const fresh = new TernaryTensor({ rows: t.rows, cols: t.cols, plus: t.plus.slice(), minus: t.minus.slice(), scales: t.scales.slice() });
  for (let r = 0; r < t.rows; r++) expect(t.rowNnz(r)).toBe(fresh.rowNnz(r));
  expect(Array.from(t.nonzeroWordMask())).toEqual(Array.from(fresh.nonzeroWordMask()));
}

describe('bits', () => {
  it('popcount32 matches a bit loop', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (x) => {
        let n = 0;
        for (let i = 0; i < 32; i++) n += (x >>> i) & 1;
        expect(popcount32(x)).toBe(n);
      }),
    );
  });

  it('the 3×3 truth table of the trit dot holds at every bit position', () => {
    const trits: Trit[] = [-1, 0, 1];
    for (const pos of [0, 1, 31, 32, 33, 63, 64, 95]) {
      for (const a of trits) {
        for (const b of trits) {
          const va = new TritVector(pos + 1);
          const vb = new TritVector(pos + 1);
          va.setAt(pos, a);
          vb.setAt(pos, b);
          expect(dotPlanes(va.plus, va.minus, 0, vb.plus, vb.minus, 0, va.wordsPerRow)).toBe(a * b + 0);
        }
      }
    }
  });

  it('dotPlanes equals the integer dot of trits', () => {
    fc.assert(
      fc.property(
        colsArb.chain((n) => fc.tuple(tritsArb(n), tritsArb(n))),
        ([a, b]) => {
          const va = TritVector.fromArray(a);
          const vb = TritVector.fromArray(b);
          const want = a.reduce((s, x, i) => s + x * b[i]!, 0);
          expect(dotPlanes(va.plus, va.minus, 0, vb.plus, vb.minus, 0, wordsFor(a.length))).toBe(want);
        },
      ),
    );
  });
});

describe('TernaryTensor', () => {
  it('fromTrits/toTrits round-trips on random shapes (ragged, 1×1, empty)', () => {
    fc.assert(
      fc.property(
        fc.tuple(rowsArb, colsArb).chain(([r, c]) => fc.tuple(fc.constant(r), fc.constant(c), tritsArb(r * c, 1))),
        ([rows, cols, trits]) => {
          const t = TernaryTensor.fromTrits(trits, rows, cols).validate();
          expect(t.wordsPerRow).toBe(Math.ceil(cols / 32));
          expect(Array.from(t.toTrits())).toEqual(trits.map((x) => x + 0));
          for (let i = 0; i < trits.length; i++) expect(t.get(Math.floor(i / cols), i % cols)).toBe(trits[i]);
        },
      ),
    );
  });

  it('stores trit c of a row in bit c%32 of word c/32', () => {
    const t = TernaryTensor.zeros(2, 70);
    t.set(1, 33, 1);
    t.set(1, 69, -1);
    expect(t.plus[t.wordsPerRow * 1 + 1]).toBe(1 << 1);
    expect(t.minus[t.wordsPerRow * 1 + 2]).toBe(1 << 5);
  });

  it('lens edits match a mirror array, keep invariants and metadata exact', () => {
    fc.assert(
      fc.property(
        tensorArb.filter((t) => t.rows > 0 && t.cols > 0),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom<Trit>(-1, 0, 1)), { maxLength: 60 }),
        (t, edits) => {
          const mirror = t.toTrits();
          t.rowNnz(0); // build metadata before editing, so edits must maintain it
          for (const [ri, ci, v] of edits) {
            const r = ri % t.rows,
              c = ci % t.cols;
            const before = { p: t.plus.slice(), m: t.minus.slice() };
            t.set(r, c, v);
            mirror[r * t.cols + c] = v;
            // an edit touches at most one word of each plane
            let changed = 0;
            for (let i = 0; i < t.plus.length; i++) changed += +(before.p[i] !== t.plus[i]) + +(before.m[i] !== t.minus[i]);
            expect(changed).toBeLessThanOrEqual(2);
            expect(t.get(r, c)).toBe(v);
          }
          t.validate();
          expect(Array.from(t.toTrits())).toEqual(Array.from(mirror));
          expectFreshMetadata(t);
        },
      ),
    );
  });

  it('validate() catches overlapping planes, dirty padding, non-finite scales and stale metadata', () => {
    const t = TernaryTensor.fromTrits([1, 0, -1], 1, 3);
    const overlap = t.clone();
    overlap.plus[0]! |= 4;
    expect(expectCode(() => overlap.validate('w'), 'E_INVARIANT').message).toMatch(/overlap.*w row 0 word 0/);
    const pad = t.clone();
    pad.minus[0]! |= 1 << 10;
    expect(expectCode(() => pad.validate('w'), 'E_INVARIANT').message).toMatch(/padding/);
    const nan = t.clone();
    nan.scales[0] = NaN;
    expectCode(() => nan.validate(), 'E_INVARIANT');
    const stale = t.clone();
    stale.rowNnz(0);
    stale.plus[0] = 0; // bypasses set(): metadata is now stale
    expect(expectCode(() => stale.validate(), 'E_INVARIANT').message).toMatch(/stale/);
    stale.invalidateMetadata();
    expect(() => stale.validate()).not.toThrow();
  });

  it('toDense applies row and group scales; fromDense inverts it exactly', () => {
    fc.assert(
      fc.property(tensorArb, (t) => {
        const d = t.toDense();
        const trits = t.toTrits();
        for (let r = 0; r < t.rows; r++) {
          for (let c = 0; c < t.cols; c++) {
            const g = t.groupSize ? t.groupScales![r * t.groupsPerRow + Math.floor(c / t.groupSize)]! : 1;
            expect(d[r * t.cols + c]).toBe(Math.fround(trits[r * t.cols + c]! * t.scales[r]! * g));
          }
        }
        if (!t.groupSize) {
          const back = TernaryTensor.fromDense(d, t.rows, t.cols);
          expect(Array.from(back.toTrits())).toEqual(Array.from(trits));
          expect(Array.from(back.toDense())).toEqual(Array.from(d));
        }
      }),
    );
  });

  it('fromDense rejects rows that are not s·{-1,0,1} and non-finite values', () => {
    expect(expectCode(() => TernaryTensor.fromDense([0.5, -0.5, 0.25], 1, 3, 'layer0.wq'), 'E_NOT_TERNARY').message).toMatch(/layer0\.wq\[0,2\].*expected 0 or ±0\.5, got 0\.25/);
    expect(expectCode(() => TernaryTensor.fromDense([0, NaN], 1, 2, 'w'), 'E_NONFINITE').message).toMatch(/w\[0,1\]/);
    expectCode(() => TernaryTensor.fromDense([1, 2, 3], 2, 2), 'E_SHAPE');
  });

  it('rejects bad shapes, bad trits, bad group sizes and out-of-range indices', () => {
    expectCode(() => TernaryTensor.fromTrits([1, 0], 1, 3), 'E_SHAPE');
    expectCode(() => TernaryTensor.fromTrits([2], 1, 1), 'E_ARG');
    expectCode(() => TernaryTensor.zeros(-1, 3), 'E_ARG');
    expectCode(() => TernaryTensor.zeros(1, 64, { groupSize: 48 }), 'E_ARG');
    expectCode(() => new TernaryTensor({ rows: 2, cols: 40, plus: new Uint32Array(3), minus: new Uint32Array(4), scales: new Float32Array(2) }), 'E_SHAPE');
    const t = TernaryTensor.zeros(2, 3);
    expectCode(() => t.get(2, 0), 'E_ARG');
    expectCode(() => t.set(0, 3, 1), 'E_ARG');
    expectCode(() => t.set(0, 0, 5 as Trit), 'E_ARG');
    expectCode(() => t.sliceRows(1, 3), 'E_ARG');
  });

  it('sliceRows copies the right rows and scales', () => {
    fc.assert(
      fc.property(tensorArb, fc.nat(), fc.nat(), (t, a, b) => {
        const s = Math.min(a % (t.rows + 1), b % (t.rows + 1));
        const e = Math.max(a % (t.rows + 1), b % (t.rows + 1));
        const sl = t.sliceRows(s, e).validate();
        expect(Array.from(sl.toTrits())).toEqual(Array.from(t.toTrits().slice(s * t.cols, e * t.cols)));
        expect(Array.from(sl.toDense())).toEqual(Array.from(t.toDense().slice(s * t.cols, e * t.cols)));
      }),
    );
  });

  it('transpose moves every trit, is an involution, and refuses non-uniform scales', () => {
    fc.assert(
      fc.property(tensorArb, (t) => {
        const tt = t.transpose({ scales: 'unit' }).validate();
        expect(tt.rows).toBe(t.cols);
        expect(tt.cols).toBe(t.rows);
        for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) expect(tt.get(c, r)).toBe(t.get(r, c));
        expect(Array.from(tt.transpose().toTrits())).toEqual(Array.from(t.toTrits()));
      }),
    );
    const u = TernaryTensor.fromTrits([1, -1, 0, 1], 2, 2, { scales: [0.5, 0.5] });
    expect(Array.from(u.transpose().scales)).toEqual([0.5, 0.5]);
    expectCode(() => TernaryTensor.fromTrits([1, -1, 0, 1], 2, 2, { scales: [0.5, 2] }).transpose(), 'E_UNSUPPORTED');
  });

  it('stats count trits and bytes', () => {
    const t = TernaryTensor.fromTrits([1, 1, -1, 0, 0, 0], 2, 3);
    const s = t.stats();
    expect(s).toMatchObject({ plus: 2, minus: 1, zeros: 3, sparsity: 0.5, plusMinusRatio: 2, count: 6 });
    expect(s.bytes).toBe(2 * 2 * 4 + 2 * 4);
    expect(TernaryTensor.zeros(0, 0).stats().sparsity).toBe(0);
  });
});

describe('TritVector', () => {
  it('is a one-row TernaryTensor with 1-D accessors', () => {
    const v = TritVector.fromArray([1, 0, -1, 1], 0.5);
    expect(v).toBeInstanceOf(TernaryTensor);
    expect(v.rows).toBe(1);
    expect(v.length).toBe(4);
    expect(v.scale).toBe(0.5);
    expect([0, 1, 2, 3].map((i) => v.at(i))).toEqual([1, 0, -1, 1]);
    v.setAt(1, -1);
    expect(v.get(0, 1)).toBe(-1);
    expect(v.rowNnz(0)).toBe(4);
    expect(() => (v.scale = NaN)).toThrow(TritwiseError);
  });

  it('fromRow copies a row with its scale', () => {
    const t = TernaryTensor.fromTrits([1, 0, 0, -1, 1, 1], 2, 3, { scales: [2, 3] });
    const v = TritVector.fromRow(t, 1);
    expect(Array.from(v.toTrits())).toEqual([-1, 1, 1]);
    expect(v.scale).toBe(3);
    expectCode(() => TritVector.fromRow(t, 2), 'E_ARG');
  });
});

describe('codecs', () => {
  it('codes2 and base3 round-trip exactly', () => {
    fc.assert(
      fc.property(tensorArb, (t) => {
        const trits = Array.from(t.toTrits());
        expect(Array.from(decodeCodes2(encodeCodes2(t)).toTrits())).toEqual(trits);
        const b3 = encodeBase3(t);
        expect(b3.bytesPerRow).toBe(Math.ceil(t.cols / 5));
        expect(Array.from(decodeBase3(b3).toTrits())).toEqual(trits);
      }),
    );
  });

  it('rejects invalid codes', () => {
    expectCode(() => decodeCodes2({ rows: 1, cols: 1, bytesPerRow: 1, data: Uint8Array.of(3) }), 'E_FORMAT');
    expectCode(() => decodeBase3({ rows: 1, cols: 5, bytesPerRow: 1, data: Uint8Array.of(243) }), 'E_FORMAT');
    expectCode(() => decodeBase3({ rows: 2, cols: 5, bytesPerRow: 1, data: Uint8Array.of(0) }), 'E_SHAPE');
  });
});
