/**
 * sequence — ordered lists by permutation (torchhd's bundle_sequence / bind_sequence):
 *
 *   sequence(x_0 … x_{n−1}) = bundle_i ρ^i(x_i)        ρ = permute by one position
 *   item(seq, i)            = ρ^{−i}(seq) ≈ x_i + noise  (then cleanup)
 *   bindSequence(x_0 …)     = ⊙_i ρ^i(x_i)               (an n-gram: order-sensitive, exact)
 *
 * ρ^i(x) is quasi-orthogonal to x for i ≠ 0, so the position is part of the code: "a b" and
 * "b a" are different vectors, and shifting back by i aligns element i with the codebook.
 */
import { TritwiseError } from '../errors.js';
import { TritVector } from '../tensor/trit-vector.js';
import { Accumulator, type BundleOptions } from './accumulator.js';
import { checkSameDim } from './hypervector.js';
import { bindInto, permute, permuteInto } from './ops.js';

function nonEmpty(xs: readonly TritVector[], where: string): void {
  if (xs.length === 0) throw new TritwiseError('E_ARG', 'empty sequence', { where, expected: 'at least one hypervector', got: 0 });
  checkSameDim(where, ...xs);
}

/** The exact sum Σ_i ρ^i(x_i). */
export function sequenceSum(xs: readonly TritVector[]): Accumulator {
  nonEmpty(xs, 'sequence');
  const acc = new Accumulator(xs[0]!.length);
  const tmp = new TritVector(xs[0]!.length);
  xs.forEach((x, i) => acc.add(permuteInto(tmp, x, i)));
  return acc;
}

/** threshold(Σ_i ρ^i(x_i)). */
export function sequence(xs: readonly TritVector[], opts: BundleOptions = {}): TritVector {
  return sequenceSum(xs).threshold(opts.threshold ?? 0, opts.ties);
}

/** The noisy element at position i: ρ^{−i}(seq). */
export function sequenceItem(seq: TritVector, i: number): TritVector {
  return permute(seq, -i);
}

/** The n-gram ⊙_i ρ^i(x_i). */
export function bindSequence(xs: readonly TritVector[]): TritVector {
  nonEmpty(xs, 'bindSequence');
  const out = xs[0]!.clone();
  const tmp = new TritVector(out.length);
  for (let i = 1; i < xs.length; i++) bindInto(out, out, permuteInto(tmp, xs[i]!, i));
  return out;
}
