/**
 * kv-cache — per-sequence keys and values of every layer, so a generated token attends to the
 * past without recomputing it. Layer l holds K and V as [positions, kvDim] f32 rows; storage
 * grows by doubling up to the model's context length.
 *
 * With an allocator (a backend's allocF32/freeF32) the rows live in backend memory, where a
 * native attention kernel reads them in place. Such storage is returned by dispose(); a cache
 * that is dropped without dispose() gives it back when it is garbage-collected.
 */
import { TritwiseError } from '../errors.js';

export interface F32Allocator {
  alloc(n: number): Float32Array;
  free(a: Float32Array): void;
}

interface Storage {
  allocator: F32Allocator;
  buffers: Float32Array[];
}

const release = (s: Storage) => {
  for (const b of s.buffers) s.allocator.free(b);
  s.buffers = [];
};
const collected = new FinalizationRegistry<Storage>(release);

export class KVCache {
  /** tokens already in the cache (the next token's position) */
  length = 0;
  #cap = 0;
  keys: Float32Array[];
  values: Float32Array[];
  readonly #storage: Storage | null;

  constructor(
    readonly layers: number,
    readonly kvDim: number,
    readonly maxLength: number,
    allocator?: F32Allocator,
  ) {
    this.keys = Array.from({ length: layers }, () => new Float32Array(0));
    this.values = Array.from({ length: layers }, () => new Float32Array(0));
    this.#storage = allocator ? { allocator, buffers: [] } : null;
    if (this.#storage) collected.register(this, this.#storage, this);
  }

  #alloc(n: number): Float32Array {
    if (!this.#storage) return new Float32Array(n);
    const a = this.#storage.allocator.alloc(n);
    this.#storage.buffers.push(a);
    return a;
  }

  /** Make room for positions [0, n). */
  reserve(n: number): void {
    if (n > this.maxLength) throw new TritwiseError('E_ARG', 'sequence is longer than the context', { where: 'KVCache', expected: `≤ ${this.maxLength} positions`, got: n });
    if (n <= this.#cap) return;
    const cap = Math.min(this.maxLength, Math.max(n, this.#cap * 2, 16));
    const old = this.#storage?.buffers ?? [];
    if (this.#storage) this.#storage.buffers = [];
    for (let l = 0; l < this.layers; l++) {
      const k = this.#alloc(cap * this.kvDim);
      k.set(this.keys[l]!.subarray(0, this.length * this.kvDim));
      this.keys[l] = k;
      const v = this.#alloc(cap * this.kvDim);
      v.set(this.values[l]!.subarray(0, this.length * this.kvDim));
      this.values[l] = v;
    }
    for (const b of old) this.#storage!.allocator.free(b);
    this.#cap = cap;
  }

  /** Forget everything (keeps the storage). */
  clear(): void {
    this.length = 0;
  }

  /** Give backend storage back now (the cache is empty and can be reused afterwards). */
  dispose(): void {
    if (!this.#storage) return;
    release(this.#storage);
    this.keys = this.keys.map(() => new Float32Array(0));
    this.values = this.values.map(() => new Float32Array(0));
    this.#cap = 0;
    this.length = 0;
  }

  get bytes(): number {
    return 2 * this.layers * this.#cap * this.kvDim * 4;
  }
}
