/**
 * decode/problem — the superposition that the key-value decoders invert, and the pieces they share.
 *
 * N key-value pairs are superposed in one exact integer sum
 *   S = Σ_{i<N} k_i ⊙ v_{c(i)}          k_i: the keys, v_m: a codebook of M values
 * and a decoder recovers every c(i) ∈ [0, M). This is sparse regression with one nonzero per
 * "section" i over the dictionary of N·M atoms φ_{i,m} = k_i ⊙ v_m (a sparse superposition
 * code). The single-shot statistic for section i is the unbound query  q_i = k_i ⊙ S  scored
 * against every value:  s_{i,m} = ⟨v_m, q_i⟩ = ‖φ_{i,c(i)}‖²·[m = c(i)] + crosstalk, where for
 * dense bipolar vectors the crosstalk is ≈ N(0, D·(N−1)): SNR ≈ √(D/N).
 *
 * Full scoring (every section against all M values) goes through the value ItemMemory, i.e.
 * one ternary GEMV per chunk on its Backend, with the integer query written as digit planes:
 * the planes of k_i ⊙ R are k_i ⊙ (planes of R), so they are built with one bind per plane.
 */
import { TritwiseError } from '../../errors.js';
import { popcount32 } from '../../tensor/bits.js';
import { TernaryTensor } from '../../tensor/ternary-tensor.js';
import { addBoundPlanes } from '../accumulator.js';
import { digitsFor, maxAbs, writeDigitPlanes } from '../digit-planes.js';
import type { ItemMemory } from '../item-memory.js';
import { bindWords } from '../ops.js';

export interface SuperpositionProblem {
  /** the exact integer sum S (length D) */
  sum: Int32Array;
  /** the N keys present, as rows of a TernaryTensor [N, D] */
  keys: TernaryTensor;
  /** the value codebook (M items) */
  values: ItemMemory;
}

export interface DecodeStats {
  decoder: string;
  /** full scorings of one section against all M values (each is one row-block of a GEMV) */
  fullScorings: number;
  /** message-passing iterations summed over rounds */
  iterations: number;
  rounds: number;
  /** wall time in ms */
  ms: number;
}

export interface DecodeResult {
  /** decoded value index per key, in key order */
  indices: Int32Array;
  /** a confidence in [0, 1] per key (the posterior of the decision, or a margin for single-shot) */
  confidence: Float64Array;
  stats: DecodeStats;
  /** the single-shot decisions, when the decoder computed them on the way (amp does) */
  singleShot?: Int32Array;
}

export function checkProblem(p: SuperpositionProblem, where: string): void {
  const D = p.sum.length;
  if (p.keys.cols !== D || p.values.dim !== D) {
    throw new TritwiseError('E_SHAPE', 'sum, keys and values must share the dimension', { where, expected: D, got: `keys ${p.keys.cols}, values ${p.values.dim}` });
  }
  if (p.values.size === 0) throw new TritwiseError('E_ARG', 'the value codebook is empty', { where, expected: 'at least one value', got: 0 });
}

/** Scores of one section against all values, handed to a visitor (row of a [B, M] block). */
export type SectionVisitor = (section: number, scores: Float64Array, offset: number) => void;

/** Sections per backend call: bounds the query tensor and the [B·P, M] accumulator. */
const SECTIONS_PER_CALL = 256;

/**
 * Score sections `sections` (key rows) against all M values with the query k_i ⊙ R, exactly:
 * s_{i,m} = ⟨v_m, k_i ⊙ R⟩. `R` is an integer vector (the sum, or a residual).
 */
export async function scoreSections(p: SuperpositionProblem, sections: ArrayLike<number>, R: Int32Array, visit: SectionVisitor): Promise<void> {
  const D = R.length, M = p.values.size, K = p.keys, wpr = K.wordsPerRow;
  const P = digitsFor(maxAbs(R));
  const rPlanes = TernaryTensor.zeros(P, D);
  writeDigitPlanes(R, rPlanes, 0, P);
  for (let s0 = 0; s0 < sections.length; s0 += SECTIONS_PER_CALL) {
    const nb = Math.min(SECTIONS_PER_CALL, sections.length - s0);
    const q = TernaryTensor.zeros(nb * P, D);
    for (let b = 0; b < nb; b++) {
      const i = sections[s0 + b]!;
      for (let j = 0; j < P; j++) bindWords(K.plus, K.minus, i * wpr, rPlanes.plus, rPlanes.minus, j * wpr, q.plus, q.minus, (b * P + j) * wpr, wpr);
    }
    const scores = await p.values.scorePlanes(q, P);
    for (let b = 0; b < nb; b++) visit(sections[s0 + b]!, scores, b * M);
  }
}

/** Indices of the L largest of scores[off … off+M), best first (ties by lower index). */
export function topL(scores: ArrayLike<number>, off: number, M: number, L: number, out: Int32Array, outOff: number): void {
  const n = Math.min(L, M);
  // insertion into a small sorted buffer: O(M·log L) comparisons in practice for L ≪ M
  let len = 0;
  for (let m = 0; m < M; m++) {
    const s = scores[off + m]!;
    if (len === n && s <= scores[off + out[outOff + n - 1]!]!) continue;
    let k = len < n ? len++ : n - 1;
    while (k > 0 && scores[off + out[outOff + k - 1]!]! < s) {
      out[outOff + k] = out[outOff + k - 1]!;
      k--;
    }
    out[outOff + k] = m;
  }
  for (let k = n; k < L; k++) out[outOff + k] = -1;
}

/** R += w · (k_i ⊙ v_m), exact (w = −1 removes a decoded pair from a residual). */
export function addPair(R: Int32Array, keys: TernaryTensor, i: number, values: TernaryTensor, m: number, w: number): void {
  addBoundPlanes(R, keys.plus, keys.minus, i * keys.wordsPerRow, values.plus, values.minus, m * values.wordsPerRow, w);
}

/** ⟨k_i ⊙ v_m, R⟩, exact. */
export function pairDot(R: Int32Array, keys: TernaryTensor, i: number, values: TernaryTensor, m: number): number {
  const D = R.length, wpr = keys.wordsPerRow, ko = i * wpr, vo = m * wpr;
  let s = 0;
  for (let word = 0, d0 = 0; d0 < D; word++, d0 += 32) {
    const a1 = keys.plus[ko + word]!, a0 = keys.minus[ko + word]!, b1 = values.plus[vo + word]!, b0 = values.minus[vo + word]!;
    const pw = (a1 & b1) | (a0 & b0), mw = (a1 & b0) | (a0 & b1);
    if ((pw | mw) === 0) continue;
    const n = Math.min(32, D - d0);
    for (let b = 0; b < n; b++) s += R[d0 + b]! * (((pw >>> b) & 1) - ((mw >>> b) & 1));
  }
  return s;
}

/** ‖k_i ⊙ v_m‖² = the number of dimensions where both are nonzero. */
export function pairEnergy(keys: TernaryTensor, i: number, values: TernaryTensor, m: number): number {
  const wpr = keys.wordsPerRow, ko = i * wpr, vo = m * wpr;
  let e = 0;
  for (let w = 0; w < wpr; w++) {
    e += popcount32((keys.plus[ko + w]! | keys.minus[ko + w]!) & (values.plus[vo + w]! | values.minus[vo + w]!));
  }
  return e;
}
