/**
 * attention-ternary — attention with ternary Q·Kᵀ (reference, plain TypeScript):
 *
 *   ternary   scores s_j = α_q·α_k·(t_q·t_k)/√d by popcount (attention-trits.ts), then the exact
 *             online softmax over them (float64) and out = Σ a_j·v_j with V in f32;
 *   top-k     "ternary for speed, full precision for accuracy": the popcount scores pick keys
 *             per query head — the k best (k ≥ 1), or in threshold mode every key whose ternary
 *             score is within τ (logits) of the best — then the exact scores q·k_j/√d (f64) and
 *             softmax run over only the picked keys. Options: depth 2 (two-trit residual Q/K,
 *             four popcount dots per key) and `recent` (the latest keys are always picked).
 * Ternary scores are computed in f32 (ternaryScores), exactly as kernels/attention-ternary.ts does.
 * Causality and the sliding window come from `pos` (only positions ≤ pos are read); GQA: query
 * head h reads kv head ⌊h/(nHeads/nKvHeads)⌋ and picks its own keys.
 *
 * The ternary keys are kept per KV cache: each AttentionFn made here remembers, per keys array,
 * a TernaryRows table and quantizes only positions it has not seen. A call at a position not
 * after the previous one (a cleared cache, a new sequence in the same storage) starts the table
 * afresh, so the table always mirrors keys[0..pos].
 */
import type { AttentionShape } from '../backend/backend.js';
import type { AttentionFn } from './attention.js';
import { windowStart } from './attention-reference.js';
import { quantizeDepth, TernaryRows, tritDot, tritWords } from './attention-trits.js';

export interface TernaryOptions {
  /** trit vectors per Q/K head vector: 1, or 2 for residual two-trit scores (default 1) */
  depth?: number;
}

export interface TopKOptions extends TernaryOptions {
  /** keys kept per query head (default 32) */
  k?: number;
  /** threshold mode: keep keys whose ternary score ≥ best − threshold (logits); overrides k */
  threshold?: number;
  /** the `recent` latest keys are always kept (they take part of k; default 0) */
  recent?: number;
}

interface KeyTable {
  rows: TernaryRows;
  last: number;
}

/** The ternary mirror of a keys array, brought up to date through position `pos`. */
export class TernaryKeyTables {
  readonly #tables = new WeakMap<Float32Array, KeyTable>();

  constructor(readonly depth = 1) {}

  get(keys: Float32Array, pos: number, s: AttentionShape): TernaryRows {
    let t = this.#tables.get(keys);
    if (!t || pos <= t.last || t.rows.d !== s.headDim || t.rows.perRow !== s.nKvHeads) {
      t = { rows: new TernaryRows(s.headDim, s.nKvHeads, this.depth), last: -1 };
      this.#tables.set(keys, t);
    }
    const kvDim = s.nKvHeads * s.headDim;
    for (let r = t.rows.length; r <= pos; r++) t.rows.set(r, keys, r * kvDim);
    t.last = pos;
    return t.rows;
  }
}

const f = Math.fround;

/**
 * Ternary scores of one query head (its D records in qp, scales in qs) against keys
 * [start, start+n) of kv head g, into sc[0, n), in f32 as the WASM kernel computes them (so both
 * rank keys alike):  c_a = f32(α_qa)·f32(1/√d);  s_j = Σ_a Σ_b (c_a·α_kb)·(t_qa·t_kb), summed in f32.
 */
export function ternaryScores(qp: Uint32Array, qs: ArrayLike<number>, rows: TernaryRows, g: number, start: number, n: number, sc: Float64Array): void {
  const W = rows.W;
  const D = rows.depth;
  const inv = f(1 / Math.sqrt(rows.d));
  const c = Array.from({ length: D }, (_, a) => f(f(qs[a]!) * inv));
  for (let j = 0; j < n; j++) {
    const v = (start + j) * rows.perRow + g;
    let acc = 0;
    for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) acc = f(acc + f(f(c[a]! * rows.scales[v * D + b]!) * tritDot(qp, a * 2 * W, rows.planes, v * rows.R + b * 2 * W, W)));
    sc[j] = acc;
  }
}

/** Quantize query head h (depth D) into qp / qs. */
function quantizeQuery(q: Float32Array, qo: number, d: number, D: number, qp: Uint32Array, qs: Float32Array): void {
  quantizeDepth(q, qo, d, D, qp, 0, qs, 0);
}

/** out_h = Σ_j softmax(sc)_j · v_{idx_j}, softmax in f64 (idx null: positions start + j). */
function softmaxValues(sc: Float64Array, n: number, idx: Int32Array | null, start: number, values: Float32Array, kvDim: number, ko: number, d: number, out: Float32Array, oo: number, acc: Float64Array): void {
  let m = -Infinity;
  for (let j = 0; j < n; j++) if (sc[j]! > m) m = sc[j]!;
  let l = 0;
  acc.fill(0);
  for (let j = 0; j < n; j++) {
    const p = Math.exp(sc[j]! - m);
    l += p;
    const vb = (idx ? idx[j]! : start + j) * kvDim + ko;
    for (let i = 0; i < d; i++) acc[i] += p * values[vb + i]!;
  }
  for (let i = 0; i < d; i++) out[oo + i] = acc[i]! / l;
}

/** Attention with ternary Q·Kᵀ scores (popcount) and f32 values. */
export function ternaryAttention(opts: TernaryOptions = {}): AttentionFn {
  const D = opts.depth ?? 1;
  const tables = new TernaryKeyTables(D);
  let sc = new Float64Array(256);
  return (q, qOff, keys, values, pos, s, out, outOff) => {
    const d = s.headDim;
    const kvDim = s.nKvHeads * d;
    const group = s.nHeads / s.nKvHeads;
    const rows = tables.get(keys, pos, s);
    const start = windowStart(pos, s);
    const n = pos - start + 1;
    if (sc.length < n) sc = new Float64Array(n * 2);
    const qp = new Uint32Array(D * 2 * tritWords(d));
    const qs = new Float32Array(D);
    const acc = new Float64Array(d);
    for (let h = 0; h < s.nHeads; h++) {
      const g = Math.floor(h / group);
      quantizeQuery(q, qOff + h * d, d, D, qp, qs);
      ternaryScores(qp, qs, rows, g, start, n, sc);
      softmaxValues(sc, n, null, start, values, kvDim, g * d, d, out, outOff + h * d, acc);
    }
  };
}

/**
 * Indices (into sc[0, n)) of the k largest values, via a size-k min-heap (ties: the earlier key);
 * written to idx[0, min(k, n)) in no particular order; returns the count.
 */
export function topKIndices(sc: Float64Array, n: number, k: number, idx: Int32Array): number {
  if (n <= k) {
    for (let j = 0; j < n; j++) idx[j] = j;
    return n;
  }
  // heap of indices ordered by (score asc, index desc): the root is the weakest kept key
  const weaker = (a: number, b: number) => sc[a]! < sc[b]! || (sc[a] === sc[b] && a > b);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) return;
      const c = l + 1 < k && weaker(idx[l + 1]!, idx[l]!) ? l + 1 : l;
      if (!weaker(idx[c]!, idx[i]!)) return;
      const t = idx[c]!;
      idx[c] = idx[i]!;
      idx[i] = t;
      i = c;
    }
  };
  for (let j = 0; j < k; j++) idx[j] = j;
  for (let i = (k >> 1) - 1; i >= 0; i--) down(i);
  for (let j = k; j < n; j++) {
    if (sc[j]! > sc[idx[0]!]!) {
      idx[0] = j;
      down(0);
    }
  }
  return k;
}

/** Indices with sc ≥ max − τ (the cut rounded to f32, as the kernel does); returns the count. */
export function thresholdIndices(sc: Float64Array, n: number, tau: number, idx: Int32Array): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) if (sc[j]! > m) m = sc[j]!;
  const cut = f(m - tau);
  let c = 0;
  for (let j = 0; j < n; j++) if (sc[j]! >= cut) idx[c++] = j;
  return c;
}

/** Top-k hybrid: popcount picks the keys, exact f32 inputs / f64 scores and softmax over them. */
export function topKAttention(opts: TopKOptions = {}): AttentionFn {
  const k = opts.k ?? 32;
  const tau = opts.threshold;
  const D = opts.depth ?? 1;
  const recent = opts.recent ?? 0;
  const tables = new TernaryKeyTables(D);
  let sc = new Float64Array(256);
  let idx = new Int32Array(256);
  return (q, qOff, keys, values, pos, s, out, outOff) => {
    const d = s.headDim;
    const kvDim = s.nKvHeads * d;
    const group = s.nHeads / s.nKvHeads;
    const rows = tables.get(keys, pos, s);
    const start = windowStart(pos, s);
    const n = pos - start + 1;
    if (sc.length < n) {
      sc = new Float64Array(n * 2);
      idx = new Int32Array(n * 2);
    }
    const qp = new Uint32Array(D * 2 * tritWords(d));
    const qs = new Float32Array(D);
    const acc = new Float64Array(d);
    const scale = 1 / Math.sqrt(d);
    for (let h = 0; h < s.nHeads; h++) {
      const g = Math.floor(h / group);
      const qo = qOff + h * d;
      quantizeQuery(q, qo, d, D, qp, qs);
      ternaryScores(qp, qs, rows, g, start, n, sc);
      // the recent keys always pass: +∞ (the threshold's best is taken before)
      let c: number;
      if (tau !== undefined) {
        let m = -Infinity;
        for (let j = 0; j < n; j++) if (sc[j]! > m) m = sc[j]!;
        for (let j = Math.max(0, n - recent); j < n; j++) sc[j] = Infinity;
        const cut = f(m - tau);
        c = 0;
        for (let j = 0; j < n; j++) if (sc[j]! >= cut) idx[c++] = j;
      } else {
        for (let j = Math.max(0, n - recent); j < n; j++) sc[j] = Infinity;
        c = topKIndices(sc, n, k, idx);
      }
      // exact scores of the picked keys (idx → absolute positions)
      for (let t = 0; t < c; t++) {
        const jp = start + idx[t]!;
        idx[t] = jp;
        const kb = jp * kvDim + g * d;
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[qo + i]! * keys[kb + i]!;
        sc[t] = dot * scale;
      }
      softmaxValues(sc, c, idx, 0, values, kvDim, g * d, d, out, outOff + h * d, acc);
    }
  };
}
