/**
 * vsa/engine/kernels — the word-level loops under every VSA operation, as one contract
 * (`VsaKernels`) with two implementations: `jsKernels` here (plain TypeScript, the ground truth)
 * and the WebAssembly kernels (wasm-kernels.ts), which must agree with it bit for bit on every
 * integer result.
 *
 * Arguments are bit planes (Uint32Array) with word offsets, Int32 count vectors and index lists,
 * so that rows of a TernaryTensor work as well as TritVectors, without copies. A trit vector
 * argument given as (ap, am, aOff, bp, bm, bOff) with bp = null is a itself; with bp given it is
 * the bound vector a ⊙ b, made word by word:
 *   t⁺ = (a⁺&b⁺)|(a⁻&b⁻),  t⁻ = (a⁺&b⁻)|(a⁻&b⁺)
 *
 * The AMP decoder's float loops work on a session (AmpSession) that holds the keys and values in
 * whatever form the implementation reads fastest.
 */
import { lastWordMask, popcount32, wordsFor } from '../../tensor/bits.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import { TritVector } from '../../tensor/trit-vector.js';

export type Planes = Uint32Array;

export interface VsaKernels {
  readonly name: string;
  /** out = a ⊙ b over `words` words (out may alias a or b) */
  bind(ap: Planes, am: Planes, aOff: number, bp: Planes, bm: Planes, bOff: number, op: Planes, om: Planes, oOff: number, words: number): void;
  /** Σ a·b; with `withNnz`, res = [dot, nnz(a), nnz(b)] (else res[0] = dot). Returns dot. */
  similarity(ap: Planes, am: Planes, aOff: number, bp: Planes, bm: Planes, bOff: number, words: number, withNnz: boolean, res: Int32Array): number;
  /** pc(p | m) */
  nnz(p: Planes, m: Planes, off: number, words: number): number;
  /** one plane of `dim` trits, cyclically shifted by k ∈ [0, dim): dst bit (d + k) mod dim = src bit d */
  permute(src: Planes, sOff: number, dst: Planes, dOff: number, dim: number, k: number): void;
  /** c_d += w · t_d */
  accAdd(c: Int32Array, ap: Planes, am: Planes, aOff: number, bp: Planes | null, bm: Planes | null, bOff: number, w: number): void;
  /** out = +1 where c > θ, −1 where c < −θ, else the tie-breaker's trit (tp/tm) or 0 (θ an integer ≥ 0) */
  threshold(c: Int32Array, theta: number, tp: Planes | null, tm: Planes | null, op: Planes, om: Planes): void;
  /** Σ_d c_d · t_d (exact below 2⁵³) */
  accDot(c: Int32Array, ap: Planes, am: Planes, aOff: number, bp: Planes | null, bm: Planes | null, bOff: number): number;
  /** out_d = c_d · t_d */
  accUnbind(c: Int32Array, ap: Planes, am: Planes, aOff: number, bp: Planes | null, bm: Planes | null, bOff: number, out: Int32Array): void;
  /** balanced-ternary digit planes of x into rows [oOff, oOff + P·stride) (x integers with |x| ≤ (3^P − 1)/2) */
  digitPlanes(x: Int32Array, P: number, op: Planes, om: Planes, oOff: number, stride: number): void;
  /** the AMP decoder's float loops over keys K [N, D] and values V [M, D] */
  ampSession(K: TernaryTensor, V: TernaryTensor): AmpSession;
}

/** Kernels plus the memory they work best on: what an Accumulator runs on (a VsaEngine is one). */
export interface VsaHost {
  readonly kernels: VsaKernels;
  /** a zero hypervector */
  vector(dim: number): TritVector;
  /** a zero Int32 count vector */
  counts(dim: number): Int32Array;
}

/**
 * The AMP decoder's two inner loops (src/vsa/decode/amp.ts), over a residual z held by the
 * session (its buffers `z` and `zn`, of at least D entries; the decoder writes them directly):
 *   dots:  out[s·L + j] = Σ_d z_d · (k_{secs[s]} ⊙ v_{lists[s·L + j]})_d     (lists < 0: 0)
 *   axpy:  zn_d += Σ_{s,j} coef[s·L + j] · (k_{secs[s]} ⊙ v_{lists[s·L + j]})_d (coef 0 skipped)
 */
export interface AmpSession {
  readonly z: Float32Array | Float64Array;
  readonly zn: Float32Array | Float64Array;
  dots(secs: Int32Array, lists: Int32Array, L: number, out: Float64Array): void;
  axpy(secs: Int32Array, lists: Int32Array, L: number, coef: Float64Array): void;
  /** swap z and zn */
  swap(): void;
  release(): void;
}

/** Bound word t = a ⊙ b (or a when bp is null): [plus, minus]. */
function tp(ap: Planes, am: Planes, i: number, bp: Planes | null, bm: Planes | null, j: number): number {
  if (!bp) return ap[i]!;
  return (ap[i]! & bp[j]!) | (am[i]! & bm![j]!);
}
function tm(ap: Planes, am: Planes, i: number, bp: Planes | null, bm: Planes | null, j: number): number {
  if (!bp) return am[i]!;
  return (ap[i]! & bm![j]!) | (am[i]! & bp[j]!);
}

/**
 * Read 32 bits of a cyclic bit string of length `dim` (stored in words from `off`), starting at
 * bit `start` ∈ [0, dim): bit j of the result is bit (start + j) mod dim. Padding bits past `dim`
 * are zero (a TernaryTensor invariant), so each segment up to the wrap is a funnel shift.
 */
function cyclicWord(plane: Planes, off: number, dim: number, start: number): number {
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

class JsAmpSession implements AmpSession {
  z: Float64Array;
  zn: Float64Array;
  readonly #K: Int8Array;
  readonly #V: Float32Array;
  readonly #q: Float32Array;
  readonly #est: Float64Array;
  readonly #D: number;

  constructor(K: TernaryTensor, V: TernaryTensor) {
    const D = (this.#D = K.cols);
    this.#K = denseI8(K);
    this.#V = Float32Array.from(denseI8(V));
    this.z = new Float64Array(D);
    this.zn = new Float64Array(D);
    this.#q = new Float32Array(D);
    this.#est = new Float64Array(D);
  }

  /** Σ_d q_d · v_d as (k ⊙ z)·v, with the query k ⊙ z formed once per section. */
  dots(secs: Int32Array, lists: Int32Array, L: number, out: Float64Array): void {
    const D = this.#D, K = this.#K, V = this.#V, q = this.#q, z = this.z;
    for (let s = 0; s < secs.length; s++) {
      const ko = secs[s]! * D;
      for (let d = 0; d < D; d++) q[d] = K[ko + d]! * z[d]!;
      for (let j = 0; j < L; j++) {
        const m = lists[s * L + j]!;
        out[s * L + j] = m >= 0 ? dotF(q, V, m * D, D) : 0;
      }
    }
  }

  /** zn += k ⊙ Σ_j coef_j v_j per section. */
  axpy(secs: Int32Array, lists: Int32Array, L: number, coef: Float64Array): void {
    const D = this.#D, K = this.#K, V = this.#V, est = this.#est, zn = this.zn;
    for (let s = 0; s < secs.length; s++) {
      let any = false;
      est.fill(0);
      for (let j = 0; j < L; j++) {
        const c = coef[s * L + j]!, m = lists[s * L + j]!;
        if (c === 0 || m < 0) continue;
        any = true;
        const vo = m * D;
        for (let d = 0; d < D; d++) est[d]! += c * V[vo + d]!;
      }
      if (!any) continue;
      const ko = secs[s]! * D;
      for (let d = 0; d < D; d++) zn[d]! += K[ko + d]! * est[d]!;
    }
  }

  swap(): void {
    [this.z, this.zn] = [this.zn, this.z];
  }

  release(): void {}
}

/** The trits of the rows of t as an Int8Array [rows, cols]. */
export function denseI8(t: TernaryTensor): Int8Array {
  const D = t.cols, w = wordsFor(D), out = new Int8Array(t.rows * D);
  for (let r = 0; r < t.rows; r++) {
    for (let d = 0; d < D; d++) {
      const bit = 1 << (d & 31), i = r * w + (d >>> 5);
      out[r * D + d] = t.plus[i]! & bit ? 1 : t.minus[i]! & bit ? -1 : 0;
    }
  }
  return out;
}

/** Σ_d q_d · V[o + d] (four accumulators, to break the add-latency chain). */
function dotF(q: Float32Array, V: Float32Array, o: number, D: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, d = 0;
  for (; d + 3 < D; d += 4) {
    s0 += q[d]! * V[o + d]!;
    s1 += q[d + 1]! * V[o + d + 1]!;
    s2 += q[d + 2]! * V[o + d + 2]!;
    s3 += q[d + 3]! * V[o + d + 3]!;
  }
  for (; d < D; d++) s0 += q[d]! * V[o + d]!;
  return s0 + s1 + s2 + s3;
}

/** The plain-TypeScript kernels: the reference every other implementation is tested against. */
export const jsKernels: VsaKernels = {
  name: 'js',

  bind(ap, am, aOff, bp, bm, bOff, op, om, oOff, words) {
    for (let w = 0; w < words; w++) {
      const a1 = ap[aOff + w]!, a0 = am[aOff + w]!, b1 = bp[bOff + w]!, b0 = bm[bOff + w]!;
      op[oOff + w] = (a1 & b1) | (a0 & b0);
      om[oOff + w] = (a1 & b0) | (a0 & b1);
    }
  },

  similarity(ap, am, aOff, bp, bm, bOff, words, withNnz, res) {
    let d = 0, na = 0, nb = 0;
    for (let w = 0; w < words; w++) {
      const a1 = ap[aOff + w]!, a0 = am[aOff + w]!, b1 = bp[bOff + w]!, b0 = bm[bOff + w]!;
      d += popcount32(a1 & b1) + popcount32(a0 & b0) - popcount32(a1 & b0) - popcount32(a0 & b1);
      if (withNnz) {
        na += popcount32(a1 | a0);
        nb += popcount32(b1 | b0);
      }
    }
    res[0] = d;
    res[1] = na;
    res[2] = nb;
    return d;
  },

  nnz(p, m, off, words) {
    let n = 0;
    for (let w = 0; w < words; w++) n += popcount32(p[off + w]! | m[off + w]!);
    return n;
  },

  /**
   *   D a whole number of words, k = 32q:      out[w] = in[w − q]                 (word rotation)
   *   D a whole number of words, k = 32q + s:  out[w] = in[w−q] << s | in[w−q−1] >>> (32−s)
   *   otherwise each output word is read across the wrap point bit-exactly (cyclicWord).
   */
  permute(src, sOff, dst, dOff, dim, k) {
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
  },

  accAdd(c, ap, am, aOff, bp, bm, bOff, w) {
    const D = c.length;
    for (let word = 0, d0 = 0; d0 < D; word++, d0 += 32) {
      const pw = tp(ap, am, aOff + word, bp, bm, bOff + word), mw = tm(ap, am, aOff + word, bp, bm, bOff + word);
      if ((pw | mw) === 0) continue;
      const n = Math.min(32, D - d0);
      for (let b = 0; b < n; b++) c[d0 + b]! += w * (((pw >>> b) & 1) - ((mw >>> b) & 1));
    }
  },

  threshold(c, theta, tp_, tm_, op, om) {
    const D = c.length;
    for (let w = 0; w < wordsFor(D); w++) {
      op[w] = 0;
      om[w] = 0;
    }
    for (let d = 0; d < D; d++) {
      const v = c[d]!;
      const bit = 1 << (d & 31), w = d >>> 5;
      if (v > theta) op[w]! |= bit;
      else if (v < -theta) om[w]! |= bit;
      else if (tp_) {
        op[w]! |= tp_[w]! & bit;
        om[w]! |= tm_![w]! & bit;
      }
    }
  },

  accDot(c, ap, am, aOff, bp, bm, bOff) {
    const D = c.length;
    let s = 0;
    for (let word = 0, d0 = 0; d0 < D; word++, d0 += 32) {
      const pw = tp(ap, am, aOff + word, bp, bm, bOff + word), mw = tm(ap, am, aOff + word, bp, bm, bOff + word);
      if ((pw | mw) === 0) continue;
      const n = Math.min(32, D - d0);
      for (let b = 0; b < n; b++) s += c[d0 + b]! * (((pw >>> b) & 1) - ((mw >>> b) & 1));
    }
    return s;
  },

  accUnbind(c, ap, am, aOff, bp, bm, bOff, out) {
    const D = c.length;
    for (let word = 0, d0 = 0; d0 < D; word++, d0 += 32) {
      const pw = tp(ap, am, aOff + word, bp, bm, bOff + word), mw = tm(ap, am, aOff + word, bp, bm, bOff + word);
      const n = Math.min(32, D - d0);
      for (let b = 0; b < n; b++) out[d0 + b] = c[d0 + b]! * (((pw >>> b) & 1) - ((mw >>> b) & 1));
    }
  },

  digitPlanes(x, P, op, om, oOff, stride) {
    const D = x.length, W = wordsFor(D);
    for (let j = 0; j < P; j++) {
      op.fill(0, oOff + j * stride, oOff + j * stride + W);
      om.fill(0, oOff + j * stride, oOff + j * stride + W);
    }
    for (let d = 0; d < D; d++) {
      let v = x[d]!;
      const bit = 1 << (d & 31);
      let i = oOff + (d >>> 5);
      while (v !== 0) {
        let r = v % 3; // −2 … 2
        if (r > 1) r -= 3;
        else if (r < -1) r += 3;
        if (r === 1) op[i]! |= bit;
        else if (r === -1) om[i]! |= bit;
        v = (v - r) / 3;
        i += stride;
      }
    }
  },

  ampSession(K, V) {
    return new JsAmpSession(K, V);
  },
};

/** The plain-TypeScript host: ordinary typed arrays and jsKernels. */
export const jsHost: VsaHost = {
  kernels: jsKernels,
  vector: (dim) => new TritVector(dim),
  counts: (dim) => new Int32Array(dim),
};
