/**
 * accumulator — bundling: the integer-sum superposition of hypervectors.
 *
 *   c_d = Σ_i w_i · x_{i,d}            (Int32 per dimension, exact)
 *   bundle = threshold_θ(c):  +1 if c_d > θ,  −1 if c_d < −θ,  0 otherwise
 *
 * Keeping the exact sum (rather than re-thresholding after each add) makes the superposition
 * linear: adding x and later subtracting x restores c bit for bit, which is what delete and the
 * interference-cancelling decoders rely on. With θ = 0 the bundle is the majority sign, ties → 0
 * (ternary), or a caller-supplied tie-breaker for a dense bipolar result.
 *
 * Limits: weights are integers with |w| ≤ 2²⁴, and |c_d| must stay below 2³¹ (checked per add).
 *
 * The loops run on a VsaHost (engine/kernels.ts): plain TypeScript by default; an accumulator
 * made by a wasm VsaEngine (`engine.accumulator(D)`) keeps its counts in the wasm memory and runs
 * the wasm kernels, with the same results bit for bit.
 */
import { TritwiseError } from '../errors.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { TritVector } from '../tensor/trit-vector.js';
import { jsHost, type VsaHost } from './engine/kernels.js';
import { checkDim, checkSameDim } from './hypervector.js';

const MAX_WEIGHT = 2 ** 24;

function checkWeight(w: number, where: string): number {
  if (!Number.isInteger(w) || Math.abs(w) > MAX_WEIGHT) throw new TritwiseError('E_ARG', 'invalid bundle weight', { where, expected: `an integer with |w| ≤ ${MAX_WEIGHT}`, got: w });
  return w;
}

export class Accumulator {
  readonly dim: number;
  /** the exact integer sum c_d */
  readonly counts: Int32Array;
  /** where the counts live and which kernels run (plain TypeScript unless an engine made it) */
  readonly host: VsaHost;
  /** largest |weight| sum added so far: a bound on |c_d| used to detect overflow */
  #bound = 0;

  constructor(dim: number, counts?: Int32Array, host: VsaHost = jsHost) {
    this.dim = checkDim(dim, 'Accumulator.dim');
    if (counts && counts.length !== dim) throw new TritwiseError('E_SHAPE', 'wrong counts length', { where: 'Accumulator', expected: dim, got: counts.length });
    this.host = host;
    this.counts = counts ?? host.counts(dim);
    if (counts) for (const v of counts) this.#bound = Math.max(this.#bound, Math.abs(v));
  }

  #grow(w: number, where: string): void {
    this.#bound += Math.abs(w);
    if (this.#bound >= 2 ** 31) throw new TritwiseError('E_ARG', 'accumulator could overflow int32', { where, expected: 'Σ|w| < 2³¹', got: this.#bound });
  }

  #check(x: TritVector, where: string): void {
    if (x.rows !== 1 || x.cols !== this.dim) throw new TritwiseError('E_SHAPE', 'hypervector dimension does not match the accumulator', { where, expected: this.dim, got: x.cols });
  }

  /** c += w · x */
  add(x: TritVector, weight = 1): this {
    this.#check(x, 'Accumulator.add');
    checkWeight(weight, 'Accumulator.add.weight');
    this.#grow(weight, 'Accumulator.add');
    this.host.kernels.accAdd(this.counts, x.plus, x.minus, 0, null, null, 0, weight);
    return this;
  }

  /** c −= w · x (the exact inverse of add) */
  subtract(x: TritVector, weight = 1): this {
    return this.add(x, -weight);
  }

  /**
   * c += w · bind(a, b), without materialising the bound vector. Per word:
   *   (a⊙b)⁺ = (a⁺&b⁺)|(a⁻&b⁻),  (a⊙b)⁻ = (a⁺&b⁻)|(a⁻&b⁺)
   */
  addBound(a: TritVector, b: TritVector, weight = 1): this {
    this.#check(a, 'Accumulator.addBound');
    this.#check(b, 'Accumulator.addBound');
    return this.addBoundRows(a, 0, b, 0, weight);
  }

  /** c += w · bind(A[i], B[j]) for rows of two tensors (no copies: item memories use this). */
  addBoundRows(A: TernaryTensor, i: number, B: TernaryTensor, j: number, weight = 1): this {
    if (A.cols !== this.dim || B.cols !== this.dim || !(i >= 0 && i < A.rows && j >= 0 && j < B.rows)) {
      throw new TritwiseError('E_SHAPE', 'rows do not match the accumulator', { where: 'Accumulator.addBoundRows', expected: `rows of width ${this.dim}`, got: `${A.rows}×${A.cols}[${i}], ${B.rows}×${B.cols}[${j}]` });
    }
    checkWeight(weight, 'Accumulator.addBound.weight');
    this.#grow(weight, 'Accumulator.addBound');
    this.host.kernels.accAdd(this.counts, A.plus, A.minus, i * A.wordsPerRow, B.plus, B.minus, j * B.wordsPerRow, weight);
    return this;
  }

  /** c += w · c' (merge another accumulator) */
  merge(o: Accumulator, weight = 1): this {
    if (o.dim !== this.dim) throw new TritwiseError('E_SHAPE', 'accumulator dimensions differ', { where: 'Accumulator.merge', expected: this.dim, got: o.dim });
    checkWeight(weight, 'Accumulator.merge.weight');
    this.#grow(Math.abs(weight) * o.#bound, 'Accumulator.merge');
    for (let d = 0; d < this.dim; d++) this.counts[d]! += weight * o.counts[d]!;
    return this;
  }

  clear(): this {
    this.counts.fill(0);
    this.#bound = 0;
    return this;
  }

  /**
   * The bundle: +1 where c_d > θ, −1 where c_d < −θ, else 0 — or, where |c_d| ≤ θ and `ties` is
   * given, the tie-breaker's trit (e.g. a fixed random bipolar vector for a dense result).
   */
  threshold(theta = 0, ties?: TritVector): TritVector {
    return this.thresholdInto(this.host.vector(this.dim), theta, ties);
  }

  /** threshold() into `out` (allocation-free). */
  thresholdInto(out: TritVector, theta = 0, ties?: TritVector): TritVector {
    if (!(theta >= 0)) throw new TritwiseError('E_ARG', 'invalid threshold', { where: 'Accumulator.threshold', expected: 'θ ≥ 0', got: theta });
    if (ties) this.#check(ties, 'Accumulator.threshold.ties');
    this.#check(out, 'Accumulator.threshold.out');
    this.host.kernels.threshold(this.counts, theta, ties ? ties.plus : null, ties ? ties.minus : null, out.plus, out.minus);
    out.invalidateMetadata();
    return out;
  }

  /** Majority sign (θ = 0). */
  sign(ties?: TritVector): TritVector {
    return this.threshold(0, ties);
  }

  /** Σ_d c_d · x_d, exact. */
  dot(x: TritVector): number {
    this.#check(x, 'Accumulator.dot');
    return this.host.kernels.accDot(this.counts, x.plus, x.minus, 0, null, null, 0);
  }

  /** Σ_d c_d · (A[i] ⊙ B[j])_d, exact (rows of two tensors: no copies). */
  dotBoundRows(A: TernaryTensor, i: number, B: TernaryTensor, j: number): number {
    if (A.cols !== this.dim || B.cols !== this.dim || !(i >= 0 && i < A.rows && j >= 0 && j < B.rows)) {
      throw new TritwiseError('E_SHAPE', 'rows do not match the accumulator', { where: 'Accumulator.dotBoundRows', expected: `rows of width ${this.dim}`, got: `${A.rows}×${A.cols}[${i}], ${B.rows}×${B.cols}[${j}]` });
    }
    return this.host.kernels.accDot(this.counts, A.plus, A.minus, i * A.wordsPerRow, B.plus, B.minus, j * B.wordsPerRow);
  }

  /** Σ_d c_d² */
  norm2(): number {
    let s = 0;
    for (const v of this.counts) s += v * v;
    return s;
  }

  /** Unbinding of the integer sum by a key: q_d = key_d · c_d (exact; the query a cleanup scores). */
  unbind(key: TritVector, out = new Int32Array(this.dim)): Int32Array {
    this.#check(key, 'Accumulator.unbind');
    if (out.length !== this.dim) throw new TritwiseError('E_SHAPE', 'wrong output length', { where: 'Accumulator.unbind', expected: this.dim, got: out.length });
    this.host.kernels.accUnbind(this.counts, key.plus, key.minus, 0, null, null, 0, out);
    return out;
  }

  /** A copy in the same memory, on the same kernels. */
  clone(): Accumulator {
    const a = new Accumulator(this.dim, undefined, this.host);
    a.counts.set(this.counts);
    a.#bound = this.#bound;
    return a;
  }

  equals(o: Accumulator): boolean {
    if (o.dim !== this.dim) return false;
    for (let d = 0; d < this.dim; d++) if (this.counts[d] !== o.counts[d]) return false;
    return true;
  }
}

export interface BundleOptions {
  /** integer weight per vector (default 1 each) */
  weights?: ArrayLike<number>;
  /** threshold θ (default 0: majority sign, ties → 0) */
  threshold?: number;
  /** tie-breaker for |c_d| ≤ θ */
  ties?: TritVector;
}

/** The exact integer sum Σ w_i x_i of a list of hypervectors (plain TypeScript). */
export function bundleSum(xs: readonly TritVector[], weights?: ArrayLike<number>): Accumulator {
  if (xs.length === 0) throw new TritwiseError('E_ARG', 'cannot bundle an empty list', { where: 'bundle', expected: 'at least one hypervector', got: 0 });
  checkSameDim('bundle', ...xs);
  if (weights && weights.length !== xs.length) throw new TritwiseError('E_SHAPE', 'one weight per vector', { where: 'bundle.weights', expected: xs.length, got: weights.length });
  const acc = new Accumulator(xs[0]!.length);
  xs.forEach((x, i) => acc.add(x, weights ? weights[i]! : 1));
  return acc;
}

/** One-shot bundle: threshold_θ(Σ w_i x_i). */
export function bundle(xs: readonly TritVector[], opts: BundleOptions = {}): TritVector {
  return bundleSum(xs, opts.weights).threshold(opts.threshold ?? 0, opts.ties);
}
