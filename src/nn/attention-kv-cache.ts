/**
 * attention-kv-cache — a KV cache whose keys (and optionally values) are trit planes with one f32
 * scale per head vector (attention-trits.ts), and attention straight from it:
 *
 *   s_j = α_q·α_k·(t_q·t_k)/√d      popcount scores (ternaryScores, f32 as the WASM kernel)
 *   a = softmax(s)                   exact, float64
 *   out = Σ a_j·v_j                  v_j in f32, or α_v·t_v from the value trits
 *
 * Bytes per head vector: 2·⌈d/32⌉·4 + 4, against d·4 in f32 (d = 64: 20 vs 256, 1/12.8;
 * d = 128: 36 vs 512, 1/14.2).
 */
import type { AttentionShape } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import { windowStart } from './attention-reference.js';
import { ternaryScores } from './attention-ternary.js';
import { quantizeTrits, TernaryRows, tritWords } from './attention-trits.js';

export interface TernaryKVCacheOptions {
  /** store values as trits too (default false: values stay f32) */
  ternaryValues?: boolean;
}

export class TernaryKVCache {
  readonly keys: TernaryRows[];
  readonly values: (TernaryRows | Float32Array)[];
  readonly ternaryValues: boolean;
  readonly kvDim: number;
  /** positions held (the next position) */
  length = 0;

  constructor(
    readonly layers: number,
    readonly shape: AttentionShape,
    opts: TernaryKVCacheOptions = {},
  ) {
    this.ternaryValues = opts.ternaryValues ?? false;
    this.kvDim = shape.nKvHeads * shape.headDim;
    this.keys = Array.from({ length: layers }, () => new TernaryRows(shape.headDim, shape.nKvHeads));
    this.values = Array.from({ length: layers }, () => (this.ternaryValues ? new TernaryRows(shape.headDim, shape.nKvHeads) : new Float32Array(0)));
  }

  /** Store position `pos` of layer l: kvDim keys from k[kOff], kvDim values from v[vOff]. */
  set(l: number, pos: number, k: ArrayLike<number>, kOff: number, v: ArrayLike<number>, vOff: number): void {
    if (!(l >= 0 && l < this.layers) || !(Number.isInteger(pos) && pos >= 0)) throw new TritwiseError('E_ARG', 'no such layer or position', { where: 'TernaryKVCache.set', expected: `layer < ${this.layers}, position ≥ 0`, got: `layer ${l}, position ${pos}` });
    this.keys[l]!.set(pos, k, kOff);
    const vs = this.values[l]!;
    if (vs instanceof TernaryRows) vs.set(pos, v, vOff);
    else {
      let a = vs;
      if (a.length < (pos + 1) * this.kvDim) {
        a = new Float32Array(Math.max(pos + 1, 2 * (a.length / this.kvDim), 16) * this.kvDim);
        a.set(vs);
        this.values[l] = a;
      }
      for (let i = 0; i < this.kvDim; i++) a[pos * this.kvDim + i] = v[vOff + i]!;
    }
    if (pos + 1 > this.length) this.length = pos + 1;
  }

  /** Attention of one query token at position `pos` (positions ≤ pos must be set) of layer l. */
  attend(l: number, q: Float32Array, qOff: number, pos: number, out: Float32Array, outOff: number): void {
    const s = this.shape;
    const d = s.headDim;
    const rows = this.keys[l]!;
    if (pos >= rows.length) throw new TritwiseError('E_ARG', 'position not in the cache', { where: 'TernaryKVCache.attend', expected: `< ${rows.length}`, got: pos });
    const group = s.nHeads / s.nKvHeads;
    const start = windowStart(pos, s);
    const n = pos - start + 1;
    const sc = new Float64Array(n);
    const qp = new Uint32Array(2 * tritWords(d));
    const acc = new Float64Array(d);
    const vrow = new Float64Array(d);
    const vs = this.values[l]!;
    for (let h = 0; h < s.nHeads; h++) {
      const g = Math.floor(h / group);
      ternaryScores(qp, [quantizeTrits(q, qOff + h * d, d, qp, 0)], rows, g, start, n, sc);
      let m = -Infinity;
      for (let j = 0; j < n; j++) m = Math.max(m, sc[j]!);
      let sum = 0;
      acc.fill(0);
      for (let j = 0; j < n; j++) {
        const p = Math.exp(sc[j]! - m);
        sum += p;
        if (vs instanceof TernaryRows) {
          vs.dequantize(start + j, g, vrow, 0);
          for (let i = 0; i < d; i++) acc[i] += p * vrow[i]!;
        } else {
          const vb = (start + j) * this.kvDim + g * d;
          for (let i = 0; i < d; i++) acc[i] += p * vs[vb + i]!;
        }
      }
      for (let i = 0; i < d; i++) out[outOff + h * d + i] = acc[i]! / sum;
    }
  }

  /** Bytes of the keys held: trit planes and scales. */
  get keyBytes(): number {
    return this.keys.reduce((a, r) => a + r.bytes, 0);
  }

  /** Bytes of the values held (trits + scales, or f32). */
  get valueBytes(): number {
    return this.values.reduce((a, v) => a + (v instanceof TernaryRows ? v.bytes : this.length * this.kvDim * 4), 0);
  }

  get bytes(): number {
    return this.keyBytes + this.valueBytes;
  }

  /** Bytes of the same keys in an f32 cache (values alike). */
  get f32KeyBytes(): number {
    return this.layers * this.length * this.kvDim * 4;
  }
}
