/**
 * hypervector — the vectors of vector-symbolic computing, and how to make them.
 *
 * A hypervector is a `TritVector`: D trits in two Uint32 bit planes (bit d % 32 of word d / 32;
 * +1 sets the plus bit, −1 the minus bit). D is a run-time value from MIN_DIM to MAX_DIM. The
 * VSA operations read only the trits; a vector's f32 scale is ignored and results have scale 1.
 *
 * Random hypervectors come from a seeded PRNG (eval/random.ts), so every experiment replays:
 *   dense bipolar   every trit ±1 with probability ½ each              (density 1)
 *   sparse ternary  exactly round(ρ·D) nonzero trits at uniformly random positions,
 *                   each ±1 with probability ½                          (density ρ ∈ (0, 1))
 * Two independent dense vectors have dot ≈ N(0, D), i.e. cosine ≈ N(0, 1/D): quasi-orthogonal.
 */
import { TritwiseError } from '../errors.js';
import { seededRandom, type Rng } from '../eval/random.js';
import { lastWordMask, wordsFor } from '../tensor/bits.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { TritVector } from '../tensor/trit-vector.js';

export type Hypervector = TritVector;

export const MIN_DIM = 64;
export const MAX_DIM = 1_000_000;

export interface RandomOptions {
  /** fraction of nonzero trits: 1 = dense bipolar (default), below 1 = sparse ternary */
  density?: number;
}

/** Throw E_ARG unless D is an integer in [MIN_DIM, MAX_DIM]. */
export function checkDim(dim: number, where: string): number {
  if (!Number.isInteger(dim) || dim < MIN_DIM || dim > MAX_DIM) {
    throw new TritwiseError('E_ARG', 'invalid hypervector dimension', { where, expected: `an integer in [${MIN_DIM}, ${MAX_DIM}]`, got: dim });
  }
  return dim;
}

/** Throw E_SHAPE unless all vectors have the same length; returns that length. */
export function checkSameDim(where: string, ...xs: TernaryTensor[]): number {
  const d = xs[0]!.cols;
  for (const x of xs) {
    if (x.rows !== 1 || x.cols !== d) {
      throw new TritwiseError('E_SHAPE', 'hypervectors must be single rows of the same dimension', { where, expected: `1×${d}`, got: `${x.rows}×${x.cols}` });
    }
  }
  return d;
}

function checkDensity(density: number, where: string): number {
  if (!(density > 0 && density <= 1)) throw new TritwiseError('E_ARG', 'invalid density', { where, expected: 'a number in (0, 1]', got: density });
  return density;
}

/** A PRNG from a seed, or the one given. */
export function toRng(seedOrRng: number | Rng): Rng {
  return typeof seedOrRng === 'number' ? seededRandom(seedOrRng) : seedOrRng;
}

/** 32 random bits from the PRNG. */
function word32(rng: Rng): number {
  return (rng.next() * 4294967296) >>> 0;
}

/**
 * Fill row `row` of planes (wpr words per row) with a random hypervector of `dim` trits.
 * Dense: the plus plane gets 32 random bits per word and minus = ¬plus (masked to `dim`).
 * Sparse: a partial Fisher–Yates shuffle picks exactly round(ρ·D) distinct positions.
 */
function fillRandom(plus: Uint32Array, minus: Uint32Array, off: number, dim: number, density: number, rng: Rng, scratch: { idx?: Int32Array }): void {
  const wpr = wordsFor(dim);
  if (density === 1) {
    for (let w = 0; w < wpr; w++) {
      const r = word32(rng);
      plus[off + w] = r;
      minus[off + w] = ~r;
    }
    const mask = lastWordMask(dim);
    plus[off + wpr - 1]! &= mask;
    minus[off + wpr - 1]! &= mask;
    return;
  }
  const k = Math.round(density * dim);
  const idx = scratch.idx && scratch.idx.length === dim ? scratch.idx : (scratch.idx = Int32Array.from({ length: dim }, (_, i) => i));
  for (let j = 0; j < k; j++) {
    const t = j + Math.floor(rng.next() * (dim - j));
    const pos = idx[t]!;
    idx[t] = idx[j]!;
    idx[j] = pos;
    const bit = 1 << (pos & 31);
    if (rng.next() < 0.5) plus[off + (pos >>> 5)]! |= bit;
    else minus[off + (pos >>> 5)]! |= bit;
  }
}

/** One random hypervector of dimension `dim` (dense bipolar unless `density` < 1). */
export function randomHypervector(dim: number, seedOrRng: number | Rng, opts: RandomOptions = {}): TritVector {
  checkDim(dim, 'randomHypervector.dim');
  const density = checkDensity(opts.density ?? 1, 'randomHypervector.density');
  const v = new TritVector(dim);
  fillRandom(v.plus, v.minus, 0, dim, density, toRng(seedOrRng), {});
  return v;
}

/**
 * A codebook: `count` independent random hypervectors as the rows of one TernaryTensor
 * [count, dim] (the layout item memories upload to a backend).
 */
export function randomCodebook(count: number, dim: number, seedOrRng: number | Rng, opts: RandomOptions = {}): TernaryTensor {
  checkDim(dim, 'randomCodebook.dim');
  if (!Number.isInteger(count) || count < 0) throw new TritwiseError('E_ARG', 'invalid codebook size', { where: 'randomCodebook.count', expected: 'an integer ≥ 0', got: count });
  const density = checkDensity(opts.density ?? 1, 'randomCodebook.density');
  const t = TernaryTensor.zeros(count, dim);
  const rng = toRng(seedOrRng);
  const scratch = {};
  for (let r = 0; r < count; r++) fillRandom(t.plus, t.minus, r * t.wordsPerRow, dim, density, rng, scratch);
  return t;
}

/**
 * A stable 32-bit hash of a string (FNV-1a), used to derive a reproducible vector for a name:
 * the same (seed, name) always gives the same hypervector.
 */
export function hashName(name: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The hypervector of a symbol name: random, but a pure function of (name, seed, dim, density). */
export function symbolVector(name: string, dim: number, seed = 0, opts: RandomOptions = {}): TritVector {
  return randomHypervector(dim, hashName(name, seed), opts);
}
