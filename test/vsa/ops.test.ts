import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { TritVector } from '../../src/tensor/trit-vector.js';
import { Accumulator, bundle, bundleSum } from '../../src/vsa/accumulator.js';
import { digitPlanes, digitsFor, fromDigitPlanes } from '../../src/vsa/digit-planes.js';
import { MAX_DIM, randomCodebook, randomHypervector, symbolVector } from '../../src/vsa/hypervector.js';
import { bind, bindInto, dot, flipTrit, negate, nnz, permute, permuteInto, setTrit, similarity, unbind } from '../../src/vsa/ops.js';

/** Vectors of one random dimension (word-aligned or ragged), with any trits. */
const dimArb = fc.oneof(fc.constantFrom(64, 65, 95, 96, 127, 128, 160, 1000), fc.integer({ min: 64, max: 400 }));
const vecArb = (n: number) => fc.array(fc.constantFrom(-1, 0, 1), { minLength: n, maxLength: n }).map((t) => TritVector.fromArray(t));
const pairArb = dimArb.chain((n) => fc.tuple(vecArb(n), vecArb(n)));

function trits(v: TritVector): number[] {
  return Array.from(v.toTrits());
}

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TritwiseError);
    expect((e as TritwiseError).code).toBe(code);
    return;
  }
  throw new Error(`expected TritwiseError ${code}`);
}

describe('random hypervectors', () => {
  it('are reproducible from the seed and differ across seeds', () => {
    expect(randomHypervector(1000, 5).equals(randomHypervector(1000, 5))).toBe(true);
    expect(randomHypervector(1000, 5).equals(randomHypervector(1000, 6))).toBe(false);
    expect(symbolVector('apple', 256, 3).equals(symbolVector('apple', 256, 3))).toBe(true);
    expect(symbolVector('apple', 256, 3).equals(symbolVector('apples', 256, 3))).toBe(false);
  });

  it('dense bipolar: every trit ±1, balanced, padding clean; sparse: exactly round(ρD) nonzeros', () => {
    const v = randomHypervector(1001, 1).validate();
    expect(nnz(v)).toBe(1001);
    const s = v.stats();
    expect(Math.abs(s.plus - s.minus)).toBeLessThan(4 * Math.sqrt(1001));
    for (const rho of [0.01, 0.1, 0.5]) {
      const sp = randomHypervector(3000, 2, { density: rho }).validate();
      expect(nnz(sp)).toBe(Math.round(rho * 3000));
    }
  });

  it('independent vectors are quasi-orthogonal: cosine ≈ N(0, 1/D)', () => {
    const cb = randomCodebook(40, 4096, 9);
    for (let i = 1; i < 40; i++) {
      const c = similarity(TritVector.fromRow(cb, 0), TritVector.fromRow(cb, i)).cosine;
      expect(Math.abs(c)).toBeLessThan(5 / Math.sqrt(4096));
    }
  });

  it('accepts any D in [64, 1,000,000] and rejects others with E_ARG', () => {
    expect(randomHypervector(MAX_DIM, 1).length).toBe(MAX_DIM);
    expect(randomHypervector(64, 1).length).toBe(64);
    expectCode(() => randomHypervector(63, 1), 'E_ARG');
    expectCode(() => randomHypervector(MAX_DIM + 1, 1), 'E_ARG');
    expectCode(() => randomHypervector(100.5, 1), 'E_ARG');
    expectCode(() => randomHypervector(100, 1, { density: 0 }), 'E_ARG');
    expectCode(() => randomCodebook(-1, 100, 1), 'E_ARG');
  });
});

describe('bind / unbind', () => {
  it('is the tritwise product at every position (3×3 truth table and random vectors)', () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const c = bind(a, b).validate();
        const ta = trits(a), tb = trits(b);
        expect(trits(c)).toEqual(ta.map((x, i) => x * tb[i]! + 0));
      }),
    );
  });

  it('is commutative and associative; a dense bipolar key is its own inverse', () => {
    fc.assert(
      fc.property(
        dimArb.chain((n) => fc.tuple(vecArb(n), vecArb(n), fc.integer())),
        ([a, b, seed]) => {
          expect(bind(a, b).equals(bind(b, a))).toBe(true);
          const k = randomHypervector(a.length, seed);
          expect(unbind(bind(a, k), k).equals(a)).toBe(true);
          expect(bind(bind(a, b), k).equals(bind(a, bind(b, k)))).toBe(true);
        },
      ),
    );
  });

  it('a sparse key keeps x only where the key is nonzero', () => {
    const x = randomHypervector(500, 1);
    const k = randomHypervector(500, 2, { density: 0.2 });
    const y = unbind(bind(x, k), k);
    const tk = trits(k), tx = trits(x);
    expect(trits(y)).toEqual(tx.map((v, i) => (tk[i] === 0 ? 0 : v)));
  });

  it('bindInto may write into an operand; shapes are checked', () => {
    const a = randomHypervector(200, 1), b = randomHypervector(200, 2);
    const want = bind(a, b);
    bindInto(a, a, b);
    expect(a.equals(want)).toBe(true);
    expectCode(() => bind(a, randomHypervector(201, 1)), 'E_SHAPE');
  });

  it('negate flips every trit', () => {
    const a = TritVector.fromArray([1, -1, 0, 1, ...new Array(60).fill(0)]);
    expect(trits(negate(a)).slice(0, 4)).toEqual([-1, 1, 0, -1]);
  });
});

describe('permute', () => {
  it('out[(d + k) mod D] = x[d] for every shift, word-aligned or not', () => {
    fc.assert(
      fc.property(
        dimArb.chain((n) => fc.tuple(vecArb(n), fc.integer({ min: -3 * n, max: 3 * n }))),
        ([x, k]) => {
          const D = x.length;
          const y = permute(x, k).validate();
          const tx = trits(x), ty = trits(y);
          for (let d = 0; d < D; d++) expect(ty[(((d + k) % D) + D) % D]).toBe(tx[d]);
        },
      ),
    );
  });

  it('permute(x, −k) undoes permute(x, k); shifts compose; a shift is quasi-orthogonal', () => {
    for (const D of [64, 96, 100, 10000]) {
      const x = randomHypervector(D, D);
      for (const k of [1, 31, 32, 33, 64, D - 1, 7 * D + 5]) {
        expect(permute(permute(x, k), -k).equals(x)).toBe(true);
        expect(permute(permute(x, k), 3).equals(permute(x, k + 3))).toBe(true);
      }
      expect(permute(x, D).equals(x)).toBe(true);
    }
    const x = randomHypervector(10000, 3);
    expect(Math.abs(similarity(x, permute(x, 1)).cosine)).toBeLessThan(0.05);
  });

  it('rejects in-place use and non-integer shifts', () => {
    const x = randomHypervector(128, 1);
    expectCode(() => permuteInto(x, x, 1), 'E_ARG');
    expectCode(() => permute(x, 1.5), 'E_ARG');
  });
});

describe('similarity and lens edits', () => {
  it('dot and cosine equal the trit formulas', () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        const ta = trits(a), tb = trits(b);
        const d = ta.reduce((s, x, i) => s + x * tb[i]!, 0);
        const na = ta.filter((x) => x !== 0).length, nb = tb.filter((x) => x !== 0).length;
        const s = similarity(a, b);
        expect(s.dot).toBe(d);
        expect(dot(a, b)).toBe(d);
        expect(s.cosine).toBeCloseTo(na && nb ? d / Math.sqrt(na * nb) : 0, 12);
      }),
    );
  });

  it('setTrit and flipTrit edit one trit in place and keep the invariants', () => {
    const x = randomHypervector(100, 4);
    const before = trits(x);
    expect(flipTrit(x, 33)).toBe(-before[33]!);
    setTrit(x, 70, 0);
    expect(flipTrit(x, 70)).toBe(0);
    x.validate();
    const after = trits(x);
    expect(after.filter((t, i) => t !== before[i]).length).toBe(2);
    expect(x.rowNnz(0)).toBe(99);
    expectCode(() => flipTrit(x, 100), 'E_ARG');
  });
});

describe('bundling (integer-sum accumulator)', () => {
  it('counts are the exact weighted sum; threshold and sign follow the formula', () => {
    fc.assert(
      fc.property(
        dimArb.chain((n) => fc.tuple(fc.array(vecArb(n), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 6, maxLength: 6 }), fc.integer({ min: 0, max: 3 }))),
        ([xs, ws, theta]) => {
          const acc = bundleSum(xs, ws.slice(0, xs.length));
          const want = new Array(xs[0]!.length).fill(0);
          xs.forEach((x, i) => trits(x).forEach((t, d) => (want[d] += ws[i]! * t)));
          expect(Array.from(acc.counts)).toEqual(want);
          const b = bundle(xs, { weights: ws.slice(0, xs.length), threshold: theta });
          expect(trits(b)).toEqual(want.map((c) => (c > theta ? 1 : c < -theta ? -1 : 0)));
        },
      ),
    );
  });

  it('incremental equals one-shot; subtract restores the sum bit for bit; ties use the tie-breaker', () => {
    const xs = Array.from({ length: 10 }, (_, i) => randomHypervector(300, i));
    const acc = new Accumulator(300);
    for (const x of xs) acc.add(x);
    expect(acc.sign().equals(bundle(xs))).toBe(true);
    const snapshot = acc.clone();
    const k = randomHypervector(300, 99), v = randomHypervector(300, 98);
    acc.addBound(k, v, 2).add(v, -1);
    acc.subtract(v, -1).addBound(k, v, -2);
    expect(acc.equals(snapshot)).toBe(true);
    const ties = randomHypervector(300, 7);
    const s = acc.sign(ties);
    expect(nnz(s)).toBe(300);
    expect(acc.dot(xs[0]!)).toBe(Array.from(acc.counts).reduce((t, c, d) => t + c * xs[0]!.at(d), 0));
  });

  it('addBound equals add(bind(a, b)); unbind multiplies by the key', () => {
    const a = randomHypervector(333, 1, { density: 0.5 }), b = randomHypervector(333, 2);
    const x = new Accumulator(333).addBound(a, b, 3);
    const y = new Accumulator(333).add(bind(a, b), 3);
    expect(x.equals(y)).toBe(true);
    const q = x.unbind(a);
    expect(Array.from(q)).toEqual(Array.from(x.counts).map((c, d) => c * a.at(d) + 0));
  });

  it('rejects bad weights, empty bundles and mismatched shapes', () => {
    const acc = new Accumulator(100);
    expectCode(() => acc.add(randomHypervector(100, 1), 0.5), 'E_ARG');
    expectCode(() => acc.add(randomHypervector(128, 1)), 'E_SHAPE');
    expectCode(() => bundle([]), 'E_ARG');
    expectCode(() => acc.threshold(-1), 'E_ARG');
  });
});

describe('digit planes (balanced ternary)', () => {
  it('round-trips any integer vector exactly with the fewest planes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -200000, max: 200000 }), { minLength: 1, maxLength: 120 }), (xs) => {
        const t = digitPlanes(xs).validate();
        expect(Array.from(fromDigitPlanes(t))).toEqual(xs.map((x) => x + 0));
        const m = Math.max(...xs.map(Math.abs));
        expect(t.rows).toBe(digitsFor(m));
        expect((3 ** t.rows - 1) / 2).toBeGreaterThanOrEqual(m);
        if (t.rows > 1) expect((3 ** (t.rows - 1) - 1) / 2).toBeLessThan(m);
      }),
    );
  });

  it('rejects values that do not fit', () => {
    expectCode(() => digitPlanes([5], 1), 'E_ARG');
    expectCode(() => digitPlanes([0.5]), 'E_ARG');
  });
});
