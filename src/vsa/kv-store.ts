/**
 * kv-store — a key-value store held in ONE D-trit-wide integer superposition.
 *
 *   set(k, v):  S ← S + key(k) ⊙ val(v)           (after removing k's previous value, if any)
 *   get(k):     ĉ = argmax_m ⟨val_m, key(k) ⊙ S⟩   (single-shot: one unbind + one cleanup)
 *               or a joint decoder over all keys   (greedy / amp: see decode/)
 *   delete(k):  S ← S − key(k) ⊙ val(v)           (v given, or decoded first)
 *
 * S is an exact Int32 accumulator, so delete is an exact subtraction: after set + delete the
 * memory is bit-for-bit what it was. Key vectors are made once per name (seeded, reproducible)
 * and kept; values come from a codebook (an ItemMemory, grown on demand by name). The store
 * remembers which keys are present (not their values): joint decoders need the list of keys.
 * With single-shot cleanup about D/14 pairs decode almost surely (M = 1,000 values); the amp
 * decoder reaches past D/8.
 */
import { TritwiseError } from '../errors.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { Accumulator } from './accumulator.js';
import { checkDecoder, decode, type DecodeOptions, type DecodeResult, type DecoderName } from './decode/index.js';
import { checkDim } from './hypervector.js';
import { ItemMemory, type ItemMemoryOptions } from './item-memory.js';

export interface KeyValueStoreOptions extends ItemMemoryOptions {
  /** the value codebook (default: an empty memory that grows by name) */
  values?: ItemMemory;
  /** default decoder for get (default 'single') */
  decoder?: DecoderName;
  /** options for the joint decoders */
  decodeOptions?: DecodeOptions;
}

export interface GetResult {
  value: string;
  /** row of the value in the codebook */
  index: number;
  /** decoder confidence in [0, 1] (single: cosine of the cleanup) */
  confidence: number;
}

export class KeyValueStore {
  readonly dim: number;
  readonly memory: Accumulator;
  readonly keyVectors: ItemMemory;
  readonly values: ItemMemory;
  readonly decoder: DecoderName;
  readonly decodeOptions: DecodeOptions;
  /** present keys → row in keyVectors */
  #present = new Map<string, number>();
  #version = 0;
  #ownsValues: boolean;
  #joint: { version: number; decoder: DecoderName; order: string[]; result: DecodeResult } | null = null;

  private constructor(dim: number, keyVectors: ItemMemory, values: ItemMemory, opts: KeyValueStoreOptions) {
    this.dim = dim;
    // the sum lives in the value memory's engine (wasm memory and kernels on the wasm engine)
    this.memory = new Accumulator(dim, undefined, values.engine);
    this.keyVectors = keyVectors;
    this.values = values;
    this.decoder = checkDecoder(opts.decoder ?? 'single', 'KeyValueStore.decoder');
    this.decodeOptions = opts.decodeOptions ?? {};
    this.#ownsValues = !opts.values;
  }

  static async create(dim: number, opts: KeyValueStoreOptions = {}): Promise<KeyValueStore> {
    checkDim(dim, 'KeyValueStore.dim');
    const values = opts.values ?? (await ItemMemory.create(dim, { ...opts, seed: (opts.seed ?? 0) + 1 }));
    if (values.dim !== dim) throw new TritwiseError('E_SHAPE', 'value codebook dimension differs', { where: 'KeyValueStore.create', expected: dim, got: values.dim });
    const keys = await ItemMemory.create(dim, { ...opts, engine: values.engine, backend: values.backend });
    return new KeyValueStore(dim, keys, values, opts);
  }

  get size(): number {
    return this.#present.size;
  }

  has(key: string): boolean {
    return this.#present.has(key);
  }

  keys(): string[] {
    return [...this.#present.keys()];
  }

  #valueIndex(value: string): number {
    if (!this.values.has(value)) this.values.symbol(value);
    return this.values.indexOf(value);
  }

  /** Superpose key ⊙ value without checking for a previous value (bulk loading of new keys). */
  add(key: string, value: string): void {
    if (!this.keyVectors.has(key)) this.keyVectors.symbol(key);
    const k = this.keyVectors.indexOf(key), v = this.#valueIndex(value);
    this.memory.addBoundRows(this.keyVectors.tensor(), k, this.values.tensor(), v, 1);
    this.#present.set(key, k);
    this.#version++;
  }

  /** Store value under key, replacing the key's current value (decoded, then subtracted). */
  async set(key: string, value: string): Promise<void> {
    if (this.#present.has(key)) await this.delete(key);
    this.add(key, value);
  }

  /** The value under key, or undefined if the key is not present. */
  async get(key: string, opts: { decoder?: DecoderName } = {}): Promise<GetResult | undefined> {
    if (!this.#present.has(key)) return undefined;
    const decoder = checkDecoder(opts.decoder ?? this.decoder, 'KeyValueStore.get');
    if (decoder === 'single') {
      const q = this.memory.unbind(this.keyVectors.vector(key));
      const r = await this.values.cleanup(q);
      return { value: r.name, index: r.index, confidence: Math.max(0, r.cosine) };
    }
    const all = await this.decodeAll(decoder);
    const i = all.order.indexOf(key);
    const m = all.result.indices[i]!;
    return { value: this.values.nameOf(m), index: m, confidence: all.result.confidence[i]! };
  }

  /**
   * Remove key: S ← S − key ⊙ value. `value` defaults to the decoded one (wrong if the decoder is
   * wrong, which then leaves a residue: pass the value when you know it).
   */
  async delete(key: string, value?: string): Promise<boolean> {
    if (!this.#present.has(key)) return false;
    const v = value ?? (await this.get(key))!.value;
    this.memory.addBoundRows(this.keyVectors.tensor(), this.#present.get(key)!, this.values.tensor(), this.#valueIndex(v), -1);
    this.#present.delete(key);
    this.#version++;
    return true;
  }

  /** The superposition problem (sum, present keys as rows, values) the joint decoders invert. */
  problem(): { problem: { sum: Int32Array; keys: TernaryTensor; values: ItemMemory }; order: string[] } {
    const order = this.keys();
    const keys = TernaryTensor.zeros(order.length, this.dim);
    const all = this.keyVectors.tensor(), w = keys.wordsPerRow;
    order.forEach((k, r) => {
      const row = this.#present.get(k)!;
      keys.plus.set(all.plus.subarray(row * w, row * w + w), r * w);
      keys.minus.set(all.minus.subarray(row * w, row * w + w), r * w);
    });
    return { problem: { sum: this.memory.counts, keys, values: this.values }, order };
  }

  /** Decode every present key (cached until the next change). */
  async decodeAll(decoder: DecoderName = this.decoder): Promise<{ order: string[]; result: DecodeResult }> {
    const d = checkDecoder(decoder, 'KeyValueStore.decodeAll');
    if (this.#joint && this.#joint.version === this.#version && this.#joint.decoder === d) return this.#joint;
    const { problem, order } = this.problem();
    const result = await decode(problem, d, this.decodeOptions);
    this.#joint = { version: this.#version, decoder: d, order, result };
    return this.#joint;
  }

  /** Free the backend copies (and the backend, if the store made it from a name). */
  async dispose(): Promise<void> {
    this.keyVectors.release();
    if (this.#ownsValues) await this.values.dispose();
    else this.values.release();
  }

  /** All present pairs as a Map key → decoded value. */
  async entries(decoder: DecoderName = this.decoder): Promise<Map<string, string>> {
    const { order, result } = await this.decodeAll(decoder);
    return new Map(order.map((k, i) => [k, this.values.nameOf(result.indices[i]!)]));
  }
}
