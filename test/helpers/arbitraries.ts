/**
 * arbitraries — fast-check generators shared by the tests: shapes (ragged, 1×1, empty), trits,
 * and ternary tensors with or without group scales.
 */
import fc from 'fast-check';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';

/** Column counts that stress word boundaries. */
export const colsArb = fc.oneof(fc.constantFrom(0, 1, 31, 32, 33, 63, 64, 65, 96, 100), fc.integer({ min: 0, max: 200 }));
export const rowsArb = fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 12 }));

export const tritArb = fc.constantFrom(-1, 0, 1);

export function tritsArb(n: number, zeroBias = 0): fc.Arbitrary<number[]> {
  const t = zeroBias > 0 ? fc.oneof({ arbitrary: fc.constant(0), weight: zeroBias }, { arbitrary: tritArb, weight: 1 }) : tritArb;
  return fc.array(t, { minLength: n, maxLength: n });
}

export const scaleArb = fc.float({ min: Math.fround(0.001), max: Math.fround(10), noNaN: true, noDefaultInfinity: true });

/** A random TernaryTensor; group size 0, 32 or 64 (when cols allow). */
export const tensorArb: fc.Arbitrary<TernaryTensor> = fc
  .record({ rows: rowsArb, cols: colsArb, gs: fc.constantFrom(0, 0, 32, 64), zeroBias: fc.constantFrom(0, 1, 5) })
  .chain(({ rows, cols, gs, zeroBias }) =>
    fc
      .record({
        trits: tritsArb(rows * cols, zeroBias),
        scales: fc.array(scaleArb, { minLength: rows, maxLength: rows }),
        gscales: fc.array(scaleArb, { minLength: gs ? rows * Math.ceil(cols / gs) : 0, maxLength: gs ? rows * Math.ceil(cols / gs) : 0 }),
      })
      .map(({ trits, scales, gscales }) =>
        TernaryTensor.fromTrits(trits, rows, cols, { scales, groupSize: gs || undefined, groupScales: gs ? gscales : undefined }),
      ),
  );

/** Deterministic pseudo-random floats for larger inputs. */
export function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (((s >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
