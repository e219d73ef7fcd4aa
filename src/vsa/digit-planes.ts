/**
 * digit-planes — an integer vector as a stack of trit vectors (balanced ternary), so that integer
 * queries can be scored by the ternary×ternary popcount GEMV, exactly.
 *
 *   x_d = Σ_{j<P} 3^j · t_{j,d},   t_{j,d} ∈ {−1, 0, +1}
 *   P = the least P ≥ 1 with (3^P − 1)/2 ≥ max_d |x_d|
 *
 * Then for any trit vector v:  ⟨x, v⟩ = Σ_j 3^j · ⟨t_j, v⟩, where each ⟨t_j, v⟩ is four popcounts
 * per word. Balanced ternary is sign-symmetric (digits of −x are the negated digits of x), so for
 * a trit key k the digits of k ⊙ x are k ⊙ (digits of x): unbinding a stack is a bind per plane.
 * An integer sum of N bipolar vectors needs about log₃(8√N) planes (5 for N = 1,000).
 */
import { TritwiseError } from '../errors.js';
import { wordsFor } from '../tensor/bits.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';

/** Powers of three up to 3^19 (above 2³⁰), exact in f64. */
export const POW3: readonly number[] = Array.from({ length: 20 }, (_, j) => 3 ** j);

/** The number of balanced-ternary digits that represent every |x| ≤ maxAbs. */
export function digitsFor(maxAbs: number): number {
  let p = 1;
  while ((POW3[p]! - 1) / 2 < maxAbs) p++;
  return p;
}

/** max_d |x_d| */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let d = 0; d < x.length; d++) {
    const v = Math.abs(x[d]!);
    if (v > m) m = v;
  }
  return m;
}

/**
 * Write the P digit planes of the integer vector x into rows row0 … row0+P−1 of t
 * (t.cols = x.length; the rows are overwritten).
 */
export function writeDigitPlanes(x: ArrayLike<number>, t: TernaryTensor, row0: number, planes: number): void {
  const D = x.length;
  if (t.cols !== D || row0 < 0 || row0 + planes > t.rows) {
    throw new TritwiseError('E_SHAPE', 'digit planes do not fit the tensor', { where: 'writeDigitPlanes', expected: `cols ${D}, rows ≥ ${row0 + planes}`, got: `${t.rows}×${t.cols}` });
  }
  const wpr = t.wordsPerRow;
  t.plus.fill(0, row0 * wpr, (row0 + planes) * wpr);
  t.minus.fill(0, row0 * wpr, (row0 + planes) * wpr);
  const half = (POW3[planes]! - 1) / 2;
  for (let d = 0; d < D; d++) {
    let v = x[d]!;
    if (!Number.isInteger(v) || Math.abs(v) > half) {
      throw new TritwiseError('E_ARG', 'value does not fit the digit planes', { where: `writeDigitPlanes[${d}]`, expected: `an integer with |x| ≤ ${half}`, got: v });
    }
    const bit = 1 << (d & 31);
    let i = row0 * wpr + (d >>> 5);
    while (v !== 0) {
      let r = v % 3; // −2 … 2
      if (r > 1) r -= 3;
      else if (r < -1) r += 3;
      if (r === 1) t.plus[i]! |= bit;
      else if (r === -1) t.minus[i]! |= bit;
      v = (v - r) / 3;
      i += wpr;
    }
  }
  t.invalidateMetadata();
}

/** The digit planes of x as a TernaryTensor [P, D] (P from max|x| unless given). */
export function digitPlanes(x: ArrayLike<number>, planes = digitsFor(maxAbs(x))): TernaryTensor {
  const t = TernaryTensor.zeros(planes, x.length);
  writeDigitPlanes(x, t, 0, planes);
  return t;
}

/** The integer vector Σ_j 3^j · row(row0 + j) (inverse of writeDigitPlanes). */
export function fromDigitPlanes(t: TernaryTensor, row0 = 0, planes = t.rows - row0): Int32Array {
  const out = new Int32Array(t.cols);
  const wpr = wordsFor(t.cols);
  for (let j = 0; j < planes; j++) {
    const o = (row0 + j) * wpr, s = POW3[j]!;
    for (let d = 0; d < t.cols; d++) {
      const bit = 1 << (d & 31);
      if (t.plus[o + (d >>> 5)]! & bit) out[d]! += s;
      else if (t.minus[o + (d >>> 5)]! & bit) out[d]! -= s;
    }
  }
  return out;
}

/**
 * Combine per-plane accumulators into exact scores: scores[b, m] = Σ_j 3^j · acc[b·P + j, m]
 * (acc is [B·P, M] row-major, as a GEMV of the stacked planes against M items returns it).
 */
export function combinePlaneScores(acc: Int32Array, batch: number, planes: number, items: number, out = new Float64Array(batch * items)): Float64Array {
  for (let b = 0; b < batch; b++) {
    const o = b * items;
    for (let m = 0; m < items; m++) out[o + m] = 0;
    for (let j = 0; j < planes; j++) {
      const s = POW3[j]!, a = (b * planes + j) * items;
      for (let m = 0; m < items; m++) out[o + m]! += s * acc[a + m]!;
    }
  }
  return out;
}
