/**
 * kv-cache — per-sequence keys and values of every layer, so a generated token attends to the
 * past without recomputing it. Layer l holds K and V as [positions, kvDim] f32 rows; storage
 * grows by doubling up to the model's context length.
 */
import { TritwiseError } from '../errors.js';

export class KVCache {
  /** tokens already in the cache (the next token's position) */
  length = 0;
  #cap = 0;
  keys: Float32Array[];
  values: Float32Array[];

  constructor(
    readonly layers: number,
    readonly kvDim: number,
    readonly maxLength: number,
  ) {
    this.keys = Array.from({ length: layers }, () => new Float32Array(0));
    this.values = Array.from({ length: layers }, () => new Float32Array(0));
  }

  /** Make room for positions [0, n). */
  reserve(n: number): void {
    if (n > this.maxLength) throw new TritwiseError('E_ARG', 'sequence is longer than the context', { where: 'KVCache', expected: `≤ ${this.maxLength} positions`, got: n });
    if (n <= this.#cap) return;
    const cap = Math.min(this.maxLength, Math.max(n, this.#cap * 2, 16));
    for (let l = 0; l < this.layers; l++) {
      const k = new Float32Array(cap * this.kvDim);
      k.set(this.keys[l]!.subarray(0, this.length * this.kvDim));
      this.keys[l] = k;
      const v = new Float32Array(cap * this.kvDim);
      v.set(this.values[l]!.subarray(0, this.length * this.kvDim));
      this.values[l] = v;
    }
    this.#cap = cap;
  }

  /** Forget everything (keeps the storage). */
  clear(): void {
    this.length = 0;
  }

  get bytes(): number {
    return 2 * this.layers * this.#cap * this.kvDim * 4;
  }
}
