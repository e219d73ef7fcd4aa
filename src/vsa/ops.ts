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
 * Bundling (the integer-sum accumulator) lives in accumulator.ts.
 */
import { TritwiseError } from '../errors.js';
import { dotPlanes, lastWordMask, popcount32, wordsFor } from '../tensor/bits.js';
import type { Trit } from '../tensor/ternary-tensor.js';
import { TritVector } from '../tensor/trit-vector.js';
import { checkSameDim } from './hypervector.js';

/** Word-level bind of `words` words: out = a ⊙ b (out may alias a or b). */
export function bindWords(
  ap: Uint32Array, am: Uint32Array, aOff: number,
  bp: Uint32Array, bm: Uint32Array, bOff: number,
  op: Uint32Array, om: Uint32Array, oOff: number,
  words: number,
): void {
  for (let w = 0; w < words; w++) {
    const a1 = ap[aOff + w]!, a0 = am[aOff + w]!, b1 = bp[bOff + w]!, b0 = bm[bOff + w]!;
    op[oOff + w] = (a1 & b1) | (a0 & b0);
    om[oOff + w] = (a1 & b0) | (a0 & b1);
  }
}

/** bind(a, b) into `out` (allocation-free; `out` may be a or b). Returns out. */
export function bindInto(out: TritVector, a: TritVector, b: TritVector): TritVector {
  checkSameDim('bind', a, b, out);
  bindWords(a.plus, a.minus, 0, b.plus, b.minus, 0, out.plus, out.minus, 0, a.wordsPerRow);
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

/**
 * Read 32 bits of a cyclic bit string of length `dim` (stored in words from `off`), starting at
 * bit `start` ∈ [0, dim): bit j of the result is bit (start + j) mod dim. Padding bits past `dim`
 * are zero (a TernaryTensor invariant), so each segment up to the wrap is a funnel shift.
 */
function cyclicWord(plane: Uint32Array, off: number, dim: number, start: number): number {
  const wpr = wordsFor(dim);
  let x = 0, got = 0, pos = start;
  while (got < 32) {
    const n = Math.min(32 - got, dim - pos);
    const w = pos >>> 5, s = pos & 31;
    let y = plane[off + w]! >>> s;
    if (s !== 0 && w + 1 < wpr) y |= plane[off + w + 1]! << (32 - s);
    if (n < 32) y &= (1 << n) - 1;
    x |= y << got;
    got += n;
    pos += n;
    if (pos === dim) pos = 0;
  }
  return x >>> 0;
}

/**
 * Cyclic shift of one plane by k ∈ [0, dim): out bit (d + k) mod D = in bit d.
 *   D a whole number of words, k = 32q:      out[w] = in[w − q]                 (word rotation)
 *   D a whole number of words, k = 32q + s:  out[w] = in[w−q] << s | in[w−q−1] >>> (32−s)
 *   otherwise each output word is read across the wrap point bit-exactly (cyclicWord).
 */
export function permutePlane(src: Uint32Array, sOff: number, dst: Uint32Array, dOff: number, dim: number, k: number): void {
  const wpr = wordsFor(dim);
  if ((dim & 31) === 0) {
    const q = k >>> 5, s = k & 31;
    for (let w = 0; w < wpr; w++) {
      const i = (w - q + wpr) % wpr;
      dst[dOff + w] = s === 0 ? src[sOff + i]! : (src[sOff + i]! << s) | (src[sOff + ((i - 1 + wpr) % wpr)]! >>> (32 - s));
    }
    return;
  }
  for (let w = 0; w < wpr; w++) {
    let start = (w * 32 - k) % dim;
    if (start < 0) start += dim;
    dst[dOff + w] = cyclicWord(src, sOff, dim, start);
  }
  dst[dOff + wpr - 1]! &= lastWordMask(dim);
}

/** Normalise a shift to [0, D). */
function shiftOf(k: number, dim: number): number {
  if (!Number.isInteger(k)) throw new TritwiseError('E_ARG', 'permutation shift must be an integer', { where: 'permute.k', expected: 'an integer', got: k });
  return ((k % dim) + dim) % dim;
}

/** permute(x, k) into `out` (must not alias x). */
export function permuteInto(out: TritVector, x: TritVector, k = 1): TritVector {
  const dim = checkSameDim('permute', x, out);
  if (out.plus === x.plus) throw new TritwiseError('E_ARG', 'permute cannot work in place', { where: 'permuteInto', expected: 'out ≠ x' });
  const s = shiftOf(k, dim);
  permutePlane(x.plus, 0, out.plus, 0, dim, s);
  permutePlane(x.minus, 0, out.minus, 0, dim, s);
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
  let n = 0;
  for (let w = 0; w < x.wordsPerRow; w++) n += popcount32(x.plus[w]! | x.minus[w]!);
  return n;
}

/** The popcount dot Σ_d a_d·b_d (an exact integer). */
export function dot(a: TritVector, b: TritVector): number {
  checkSameDim('dot', a, b);
  return dotPlanes(a.plus, a.minus, 0, b.plus, b.minus, 0, a.wordsPerRow);
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
  let d = 0, na = 0, nb = 0;
  for (let w = 0; w < a.wordsPerRow; w++) {
    const a1 = a.plus[w]!, a0 = a.minus[w]!, b1 = b.plus[w]!, b0 = b.minus[w]!;
    d += popcount32(a1 & b1) + popcount32(a0 & b0) - popcount32(a1 & b0) - popcount32(a0 & b1);
    na += popcount32(a1 | a0);
    nb += popcount32(b1 | b0);
  }
  return { dot: d, cosine: na && nb ? d / Math.sqrt(na * nb) : 0 };
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
