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
 * The word loops run on the value memory's engine kernels (`kernelsOf(p)`).
 */
import { TritwiseError } from '../../errors.js';
import { popcount32 } from '../../tensor/bits.js';
import { TernaryTensor } from '../../tensor/ternary-tensor.js';
import { digitsFor, maxAbs } from '../digit-planes.js';
import type { VsaKernels } from '../engine/kernels.js';
import type { ItemMemory } from '../item-memory.js';

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
  const D = R.length, M = p.values.size, K = p.keys, wpr = K.wordsPerRow, kx = kernelsOf(p);
  const P = digitsFor(maxAbs(R));
  const rPlanes = TernaryTensor.zeros(P, D);
  kx.digitPlanes(R, P, rPlanes.plus, rPlanes.minus, 0, wpr);
  for (let s0 = 0; s0 < sections.length; s0 += SECTIONS_PER_CALL) {
    const nb = Math.min(SECTIONS_PER_CALL, sections.length - s0);
    const q = TernaryTensor.zeros(nb * P, D);
    for (let b = 0; b < nb; b++) {
      const i = sections[s0 + b]!;
      for (let j = 0; j < P; j++) kx.bind(K.plus, K.minus, i * wpr, rPlanes.plus, rPlanes.minus, j * wpr, q.plus, q.minus, (b * P + j) * wpr, wpr);
    }
    q.invalidateMetadata();
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

/** The kernels a problem's word loops run on: those of its value memory's engine. */
export function kernelsOf(p: SuperpositionProblem): VsaKernels {
  return p.values.engine.kernels;
}

/** R += w · (k_i ⊙ v_m), exact (w = −1 removes a decoded pair from a residual). */
export function addPair(kx: VsaKernels, R: Int32Array, keys: TernaryTensor, i: number, values: TernaryTensor, m: number, w: number): void {
  kx.accAdd(R, keys.plus, keys.minus, i * keys.wordsPerRow, values.plus, values.minus, m * values.wordsPerRow, w);
}

/** ⟨k_i ⊙ v_m, R⟩, exact. */
export function pairDot(kx: VsaKernels, R: Int32Array, keys: TernaryTensor, i: number, values: TernaryTensor, m: number): number {
  return kx.accDot(R, keys.plus, keys.minus, i * keys.wordsPerRow, values.plus, values.minus, m * values.wordsPerRow);
}

/** ‖k_i ⊙ v_m‖² = the number of dimensions where both are nonzero (D when both rows are dense). */
export function pairEnergy(keys: TernaryTensor, i: number, values: TernaryTensor, m: number): number {
  const D = keys.cols;
  if (keys.rowNnz(i) === D) return values.rowNnz(m);
  if (values.rowNnz(m) === D) return keys.rowNnz(i);
  const wpr = keys.wordsPerRow, ko = i * wpr, vo = m * wpr;
  let e = 0;
  for (let w = 0; w < wpr; w++) {
    e += popcount32((keys.plus[ko + w]! | keys.minus[ko + w]!) & (values.plus[vo + w]! | values.minus[vo + w]!));
  }
  return e;
}
