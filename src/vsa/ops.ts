/**
 * ops — the VSA operations on trit hypervectors (modelled on torchhd's functional API): each is a
 * small function over the two bit planes, 32 trits per word.
 *
 *   bind(a, b)       tritwise product  c_d = a_d · b_d
 *                      c⁺ = (a⁺ & b⁺) | (a⁻ & b⁻)      c⁻ = (a⁺ & b⁻) | (a⁻ & b⁺)
 *   unbind(c, a)     = bind(c, a): for dense bipolar a, a_d² = 1 so bind(bind(x, a), a) = x
 *   negate(a)        swap the planes
 *   permute(x, k)    cyclic shift  out_{(d + k) mod D} = x_d, by word rotation plus a funnel shift
 *   similarity(a, b) dot = pc(a⁺&b⁺) + pc(a⁻&b⁻) − pc(a⁺&b⁻) − pc(a⁻&b⁺),
 *                    cosine = dot / √(nnz(a) · nnz(b))      (‖t‖² = nnz for trits)
 *   lens edits       setTrit / flipTrit change one trit in place (one word of each plane)
 *
 * Bundling (the integer-sum accumulator) lives in accumulator.ts. These functions run the plain
 * TypeScript kernels (engine/kernels.ts), the ground truth; a VsaEngine has the same operations on
 * its own kernels (WebAssembly for the 'wasm' engine).
 */
import { TritwiseError } from '../errors.js';
import type { Trit } from '../tensor/ternary-tensor.js';
import { TritVector } from '../tensor/trit-vector.js';
import { jsKernels } from './engine/kernels.js';
import { checkSameDim } from './hypervector.js';

/** bind(a, b) into `out` (allocation-free; `out` may be a or b). Returns out. */
export function bindInto(out: TritVector, a: TritVector, b: TritVector): TritVector {
  checkSameDim('bind', a, b, out);
  jsKernels.bind(a.plus, a.minus, 0, b.plus, b.minus, 0, out.plus, out.minus, 0, a.wordsPerRow);
  out.invalidateMetadata();
  return out;
}

/** Tritwise multiplication: out_d = a_d · b_d. Commutative and associative; bind(x, 1…1) = x. */
export function bind(a: TritVector, b: TritVector): TritVector {
  return bindInto(new TritVector(a.length), a, b);
}

/**
 * Inverse of bind by a key: unbind(bind(x, key), key) = x exactly when the key is dense bipolar
 * (key_d² = 1). For a sparse key it returns x where the key is nonzero and 0 elsewhere.
 */
export function unbind(c: TritVector, key: TritVector): TritVector {
  return bind(c, key);
}

/** −a (swap the planes). */
export function negate(a: TritVector): TritVector {
  return new TritVector(a.length, a.minus.slice(), a.plus.slice());
}

/** Normalise a shift to [0, D). */
export function shiftOf(k: number, dim: number): number {
  if (!Number.isInteger(k)) throw new TritwiseError('E_ARG', 'permutation shift must be an integer', { where: 'permute.k', expected: 'an integer', got: k });
  return ((k % dim) + dim) % dim;
}

/** permute(x, k) into `out` (must not alias x). */
export function permuteInto(out: TritVector, x: TritVector, k = 1): TritVector {
  const dim = checkSameDim('permute', x, out);
  if (out.plus === x.plus) throw new TritwiseError('E_ARG', 'permute cannot work in place', { where: 'permuteInto', expected: 'out ≠ x' });
  const s = shiftOf(k, dim);
  jsKernels.permute(x.plus, 0, out.plus, 0, dim, s);
  jsKernels.permute(x.minus, 0, out.minus, 0, dim, s);
  out.invalidateMetadata();
  return out;
}

/**
 * Cyclic shift by k positions: out_{(d + k) mod D} = x_d. permute(x, −k) undoes permute(x, k);
 * permute(x, k) is quasi-orthogonal to x for k ≢ 0 (for random x), which is how sequences encode
 * position.
 */
export function permute(x: TritVector, k = 1): TritVector {
  return permuteInto(new TritVector(x.length), x, k);
}

/** Number of nonzero trits. */
export function nnz(x: TritVector): number {
  return jsKernels.nnz(x.plus, x.minus, 0, x.wordsPerRow);
}

/** The popcount dot Σ_d a_d·b_d (an exact integer). */
export function dot(a: TritVector, b: TritVector): number {
  checkSameDim('dot', a, b);
  return jsKernels.similarity(a.plus, a.minus, 0, b.plus, b.minus, 0, a.wordsPerRow, false, new Int32Array(3));
}

export interface Similarity {
  /** Σ_d a_d·b_d */
  dot: number;
  /** dot / √(nnz(a)·nnz(b)); 0 when either vector is all zeros */
  cosine: number;
}

/** Popcount dot and cosine of two hypervectors, in one pass over the words. */
export function similarity(a: TritVector, b: TritVector): Similarity {
  checkSameDim('similarity', a, b);
  const r = new Int32Array(3);
  const d = jsKernels.similarity(a.plus, a.minus, 0, b.plus, b.minus, 0, a.wordsPerRow, true, r);
  return { dot: d, cosine: r[1] && r[2] ? d / Math.sqrt(r[1] * r[2]) : 0 };
}

/** Lens edit: set trit d of x in place. */
export function setTrit(x: TritVector, d: number, t: Trit): void {
  x.setAt(d, t);
}

/** Lens edit: negate trit d of x in place (+1 ↔ −1, 0 stays 0); returns the new trit. */
export function flipTrit(x: TritVector, d: number): Trit {
  const t = x.at(d);
  const f = (t === 0 ? 0 : -t) as Trit;
  x.setAt(d, f);
  return f;
}
