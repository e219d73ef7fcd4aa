/**
 * rope — rotary position embeddings, in both conventions, and the row permutation that moves
 * Q/K weights between them.
 *
 * For position p and pair index i ∈ [0, d/2) of a head of width d:
 *   θ_i = base^(−2i/d),  (a, b) ← (a·cos pθ_i − b·sin pθ_i,  a·sin pθ_i + b·cos pθ_i)
 * where the pair (a, b) is
 *   'adjacent' (llama2.c, Meta, llama.cpp's llama arch):  (x[2i], x[2i+1])
 *   'halves'   (Hugging Face rotate_half):                 (x[i],  x[i + d/2])
 * A model trained in one convention runs in the other after permuting the rows of wq and wk
 * within each head:  adjacent row 2i+a  ⇔  halves row a·d/2 + i   (a ∈ {0, 1}).
 */
import type { RopeStyle } from './llama-config.js';

/** cos/sin tables, [position][d/2], filled lazily up to the highest position asked for. */
export class RopeTables {
  cos = new Float32Array(0);
  sin = new Float32Array(0);
  #len = 0;
  readonly freqs: Float64Array;

  constructor(
    readonly headDim: number,
    readonly base: number,
  ) {
    const half = headDim / 2;
    this.freqs = new Float64Array(half);
    for (let i = 0; i < half; i++) this.freqs[i] = Math.pow(base, (-2 * i) / headDim);
  }

  ensure(positions: number): void {
    if (positions <= this.#len) return;
    const half = this.headDim / 2;
    const n = Math.max(positions, this.#len * 2, 64);
    const cos = new Float32Array(n * half);
    const sin = new Float32Array(n * half);
    cos.set(this.cos);
    sin.set(this.sin);
    for (let p = this.#len; p < n; p++) {
      for (let i = 0; i < half; i++) {
        const a = p * this.freqs[i]!;
        cos[p * half + i] = Math.cos(a);
        sin[p * half + i] = Math.sin(a);
      }
    }
    this.cos = cos;
    this.sin = sin;
    this.#len = n;
  }
}

/** Rotate `heads` consecutive heads of x (starting at off) for position pos, in place. */
export function applyRope(x: Float32Array, off: number, heads: number, pos: number, t: RopeTables, style: RopeStyle): void {
  const d = t.headDim;
  const half = d / 2;
  t.ensure(pos + 1);
  const cb = pos * half;
  for (let h = 0; h < heads; h++) {
    const o = off + h * d;
    for (let i = 0; i < half; i++) {
      const c = t.cos[cb + i]!;
      const s = t.sin[cb + i]!;
      const ia = style === 'adjacent' ? o + 2 * i : o + i;
      const ib = style === 'adjacent' ? ia + 1 : ia + half;
      const a = x[ia]!;
      const b = x[ib]!;
      x[ia] = a * c - b * s;
      x[ib] = a * s + b * c;
    }
  }
}

/**
 * perm such that row r of the converted matrix is row perm[r] of the original, for a Q or K
 * matrix of `heads` heads of width d, converting `from` → `to`.
 */
export function ropeRowPermutation(heads: number, d: number, from: RopeStyle, to: RopeStyle): Int32Array {
  const perm = new Int32Array(heads * d);
  const half = d / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let a = 0; a < 2; a++) {
        const adj = h * d + 2 * i + a;
        const hal = h * d + a * half + i;
        if (from === to) perm[adj] = adj;
        else if (to === 'adjacent') perm[adj] = hal; // halves → adjacent
        else perm[hal] = adj; // adjacent → halves
      }
    }
  }
  return perm;
}
