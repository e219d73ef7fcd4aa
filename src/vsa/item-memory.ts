/**
 * item-memory — the cleanup memory: named hypervectors (the rows of one TernaryTensor [M, D])
 * and nearest-item lookup by popcount similarity.
 *
 * A batch of B queries is scored against all M items as ONE ternary GEMV/GEMM on a Backend
 * (`backend.matmulTernary`: acc[b, m] = Σ_d q_{b,d}·item_{m,d}), so the same code runs on the
 * reference backend today and on the wasm backend by passing its name. Integer queries (an
 * unbound integer sum) are written as balanced-ternary digit planes (digit-planes.ts) and stacked
 * into the same single GEMV; their scores are exact integers:
 *   score[b, m] = Σ_j 3^j · acc[b·P + j, m]
 * cleanup(x) = argmax_m score(x, m), reported with its cosine  score / (‖x‖ · √nnz(item_m)).
 *
 * A memory runs on a VsaEngine (engine/engine.ts): its backend does the GEMVs and its kernels the
 * digit planes. Without options it uses the shared default engine ('auto': wasm where it loads).
 * On the wasm backend, items that are all ±1 (dense bipolar) are scored with the 1-bit signs
 * layout (one popcount per 128 trits).
 */
import type { Backend, TernaryWeights } from '../backend/backend.js';
import { createBackend } from '../backend/registry.js';
import { TritwiseError } from '../errors.js';
import { wordsFor } from '../tensor/bits.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { TritVector } from '../tensor/trit-vector.js';
import { Accumulator } from './accumulator.js';
import { combinePlaneScores, digitsFor, maxAbs, writeDigitPlanes } from './digit-planes.js';
import { defaultVsaEngine, VsaEngine } from './engine/engine.js';
import { checkDim, symbolVector, type RandomOptions } from './hypervector.js';

export interface CleanupResult {
  /** row of the winning item */
  index: number;
  name: string;
  /** the popcount dot (exact integer) */
  similarity: number;
  cosine: number;
}

export interface ItemMemoryOptions extends RandomOptions {
  /**
   * the VSA engine, or its name ('auto' | 'js' | 'wasm'). Default: the shared default engine, or,
   * when only `backend` is given, the engine that matches it ('wasm' on a wasm backend, else 'js').
   */
  engine?: VsaEngine | string;
  /** a Backend, or a backend name for createBackend, for the GEMVs (default: the engine's) */
  backend?: Backend | string;
  /** seed for vectors made by `symbol(name)` (default 0) */
  seed?: number;
}

/** Rows of queries × items scored per backend call (bounds the Int32 output to ~32 MiB). */
const MAX_SCORES_PER_CALL = 8 << 20;

export class ItemMemory {
  readonly dim: number;
  readonly backend: Backend;
  readonly engine: VsaEngine;
  readonly seed: number;
  readonly density: number;
  readonly #wpr: number;
  #names: string[] = [];
  #index = new Map<string, number>();
  #plus: Uint32Array;
  #minus: Uint32Array;
  #nnz: Float64Array;
  #handle: TernaryWeights | null = null;
  #tensor: TernaryTensor | null = null;
  /** what create() made from names (dispose() frees them) */
  #owned: { dispose(): Promise<void> }[] = [];

  private constructor(dim: number, engine: VsaEngine, backend: Backend, opts: ItemMemoryOptions) {
    this.dim = checkDim(dim, 'ItemMemory.dim');
    this.engine = engine;
    this.backend = backend;
    this.seed = opts.seed ?? 0;
    this.density = opts.density ?? 1;
    this.#wpr = wordsFor(dim);
    this.#plus = new Uint32Array(16 * this.#wpr);
    this.#minus = new Uint32Array(16 * this.#wpr);
    this.#nnz = new Float64Array(16);
  }

  static async create(dim: number, opts: ItemMemoryOptions = {}): Promise<ItemMemory> {
    checkDim(dim, 'ItemMemory.dim');
    const owned: { dispose(): Promise<void> }[] = [];
    let backend = typeof opts.backend === 'object' ? opts.backend : undefined;
    if (typeof opts.backend === 'string') owned.push((backend = await createBackend(opts.backend)));
    let engine: VsaEngine;
    if (typeof opts.engine === 'object') engine = opts.engine;
    else if (opts.engine !== undefined || backend) {
      const name = opts.engine ?? (backend!.name === 'wasm' ? 'wasm' : 'js');
      // an engine made here on a given backend shares it (and does not dispose it)
      owned.push((engine = await VsaEngine.create(name, { backend })));
    } else engine = await defaultVsaEngine();
    const mem = new ItemMemory(dim, engine, backend ?? engine.backend, opts);
    mem.#owned = owned.reverse();
    return mem;
  }

  /** A memory holding the rows of `codebook`, named `names[i]` (default "0", "1", …). */
  static async fromCodebook(codebook: TernaryTensor, names?: readonly string[], opts: ItemMemoryOptions = {}): Promise<ItemMemory> {
    const mem = await ItemMemory.create(codebook.cols, opts);
    if (names && names.length !== codebook.rows) throw new TritwiseError('E_SHAPE', 'one name per codebook row', { where: 'ItemMemory.fromCodebook', expected: codebook.rows, got: names.length });
    for (let r = 0; r < codebook.rows; r++) mem.add(names ? names[r]! : String(r), TritVector.fromRow(codebook, r));
    return mem;
  }

  get size(): number {
    return this.#names.length;
  }

  get names(): readonly string[] {
    return this.#names;
  }

  has(name: string): boolean {
    return this.#index.has(name);
  }

  indexOf(name: string): number {
    const i = this.#index.get(name);
    if (i === undefined) throw new TritwiseError('E_ARG', 'unknown item', { where: 'ItemMemory', expected: 'a stored name', got: name });
    return i;
  }

  nameOf(index: number): string {
    const n = this.#names[index];
    if (n === undefined) throw new TritwiseError('E_ARG', 'item index out of range', { where: 'ItemMemory', expected: `0..${this.size - 1}`, got: index });
    return n;
  }

  /** Store `v` under `name` (a new name; names are unique). Returns its row. */
  add(name: string, v: TritVector): number {
    if (this.#index.has(name)) throw new TritwiseError('E_ARG', 'item name already stored', { where: 'ItemMemory.add', expected: 'a new name', got: name });
    if (v.rows !== 1 || v.cols !== this.dim) throw new TritwiseError('E_SHAPE', 'item dimension does not match the memory', { where: `ItemMemory.add(${name})`, expected: this.dim, got: v.cols });
    const m = this.#names.length, w = this.#wpr;
    if ((m + 1) * w > this.#plus.length) {
      const grow = (a: Uint32Array) => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#plus = grow(this.#plus);
      this.#minus = grow(this.#minus);
      const n = new Float64Array(this.#nnz.length * 2);
      n.set(this.#nnz);
      this.#nnz = n;
    }
    this.#plus.set(v.plus, m * w);
    this.#minus.set(v.minus, m * w);
    this.#nnz[m] = this.engine.kernels.nnz(v.plus, v.minus, 0, w);
    this.#names.push(name);
    this.#index.set(name, m);
    this.#invalidate();
    return m;
  }

  /**
   * The vector named `name`, made on first use from (name, seed) and kept: roles, symbols and
   * keys are created once and reused.
   */
  symbol(name: string): TritVector {
    const i = this.#index.get(name);
    if (i !== undefined) return this.vector(i);
    const v = symbolVector(name, this.dim, this.seed, { density: this.density });
    this.add(name, v);
    return v;
  }

  /** A copy of item `i` (or of the named item). */
  vector(i: number | string): TritVector {
    const r = typeof i === 'string' ? this.indexOf(i) : i;
    this.nameOf(r);
    const w = this.#wpr;
    return new TritVector(this.dim, this.#plus.slice(r * w, r * w + w), this.#minus.slice(r * w, r * w + w));
  }

  /** nnz of item i (= ‖item‖², used for cosines) */
  itemNnz(i: number): number {
    return this.#nnz[i]!;
  }

  /** All items as a TernaryTensor [M, D] (a view: do not mutate). */
  tensor(): TernaryTensor {
    if (!this.#tensor) {
      const m = this.size, w = this.#wpr;
      this.#tensor = new TernaryTensor({ rows: m, cols: this.dim, plus: this.#plus.subarray(0, m * w), minus: this.#minus.subarray(0, m * w), scales: new Float32Array(m).fill(1) }, 'ItemMemory');
    }
    return this.#tensor;
  }

  #invalidate(): void {
    if (this.#handle) this.backend.release(this.#handle);
    this.#handle = null;
    this.#tensor = null;
  }

  async #weights(): Promise<TernaryWeights> {
    if (this.size === 0) throw new TritwiseError('E_ARG', 'the item memory is empty', { where: 'ItemMemory', expected: 'at least one item', got: 0 });
    this.#handle ??= await this.backend.uploadTernary(this.tensor());
    return this.#handle;
  }

  /** Exact popcount dots of B trit queries (rows of a TernaryTensor [B, D]) with all items: [B, M]. */
  async scoreTrits(queries: TernaryTensor): Promise<Int32Array> {
    if (queries.cols !== this.dim) throw new TritwiseError('E_SHAPE', 'query dimension does not match the memory', { where: 'ItemMemory.scoreTrits', expected: this.dim, got: queries.cols });
    return this.backend.matmulTernary(await this.#weights(), queries);
  }

  /**
   * Exact integer scores of B queries given as stacked digit planes (rows b·P … b·P+P−1 of
   * `planes` hold query b): score[b, m] = Σ_j 3^j ⟨plane_{b,j}, item_m⟩. One backend call per
   * chunk of queries.
   */
  async scorePlanes(planes: TernaryTensor, P: number): Promise<Float64Array> {
    if (planes.rows % P !== 0) throw new TritwiseError('E_SHAPE', 'planes rows must be a multiple of P', { where: 'ItemMemory.scorePlanes', expected: `k·${P}`, got: planes.rows });
    const B = planes.rows / P, M = this.size;
    const out = new Float64Array(B * M);
    const per = Math.max(1, Math.floor(MAX_SCORES_PER_CALL / (P * Math.max(M, 1))));
    for (let b0 = 0; b0 < B; b0 += per) {
      const nb = Math.min(per, B - b0);
      const chunk = nb === B ? planes : planes.sliceRows(b0 * P, (b0 + nb) * P);
      const acc = await this.scoreTrits(chunk);
      combinePlaneScores(acc, nb, P, M, out.subarray(b0 * M, (b0 + nb) * M));
    }
    return out;
  }

  /** Exact scores of integer queries (each of length D): [B, M]. */
  async scoreInts(queries: readonly ArrayLike<number>[]): Promise<Float64Array> {
    let mx = 0;
    for (const q of queries) {
      if (q.length !== this.dim) throw new TritwiseError('E_SHAPE', 'query dimension does not match the memory', { where: 'ItemMemory.scoreInts', expected: this.dim, got: q.length });
      mx = Math.max(mx, maxAbs(q));
    }
    const P = digitsFor(mx);
    const planes = TernaryTensor.zeros(queries.length * P, this.dim);
    const w = planes.wordsPerRow;
    queries.forEach((q, b) => {
      // Int32 queries are integers by type: the engine's kernel; anything else is checked (writeDigitPlanes)
      if (q instanceof Int32Array) this.engine.kernels.digitPlanes(q, P, planes.plus, planes.minus, b * P * w, w);
      else writeDigitPlanes(q, planes, b * P, P);
    });
    planes.invalidateMetadata();
    return this.scorePlanes(planes, P);
  }

  #result(scores: ArrayLike<number>, off: number, norm: number): CleanupResult {
    let best = 0;
    for (let m = 1; m < this.size; m++) if (scores[off + m]! > scores[off + best]!) best = m;
    const s = scores[off + best]!;
    const den = norm * Math.sqrt(this.#nnz[best]!);
    return { index: best, name: this.#names[best]!, similarity: s, cosine: den > 0 ? s / den : 0 };
  }

  /** Cleanup of many queries in one backend call: each trit query's nearest item. */
  async cleanupBatch(queries: readonly TritVector[] | TernaryTensor): Promise<CleanupResult[]> {
    let t: TernaryTensor;
    if (queries instanceof TernaryTensor) t = queries;
    else {
      t = TernaryTensor.zeros(queries.length, this.dim);
      queries.forEach((q, b) => {
        if (q.cols !== this.dim) throw new TritwiseError('E_SHAPE', 'query dimension does not match the memory', { where: 'ItemMemory.cleanupBatch', expected: this.dim, got: q.cols });
        t.plus.set(q.plus, b * this.#wpr);
        t.minus.set(q.minus, b * this.#wpr);
      });
    }
    const scores = await this.scoreTrits(t);
    const out: CleanupResult[] = [];
    for (let b = 0; b < t.rows; b++) out.push(this.#result(scores, b * this.size, Math.sqrt(this.engine.kernels.nnz(t.plus, t.minus, b * this.#wpr, this.#wpr))));
    return out;
  }

  /** Cleanup of integer queries (unbound sums) in one backend call. */
  async cleanupInts(queries: readonly ArrayLike<number>[]): Promise<CleanupResult[]> {
    const scores = await this.scoreInts(queries);
    return queries.map((q, b) => {
      let n2 = 0;
      for (let d = 0; d < q.length; d++) n2 += q[d]! * q[d]!;
      return this.#result(scores, b * this.size, Math.sqrt(n2));
    });
  }

  /** The stored item nearest to x: a trit vector, an integer vector, or an accumulator's sum. */
  async cleanup(x: TritVector | Accumulator | ArrayLike<number>): Promise<CleanupResult> {
    if (x instanceof TritVector) return (await this.cleanupBatch([x]))[0]!;
    return (await this.cleanupInts([x instanceof Accumulator ? x.counts : x]))[0]!;
  }

  /** The k most similar items to x, best first. */
  async topK(x: TritVector | Accumulator | ArrayLike<number>, k: number): Promise<CleanupResult[]> {
    const scores = x instanceof TritVector ? await this.scoreTrits(x) : await this.scoreInts([x instanceof Accumulator ? x.counts : x]);
    let norm: number;
    if (x instanceof TritVector) norm = Math.sqrt(x.rowNnz(0));
    else {
      const q = x instanceof Accumulator ? x.counts : x;
      let n2 = 0;
      for (let d = 0; d < q.length; d++) n2 += q[d]! * q[d]!;
      norm = Math.sqrt(n2);
    }
    const order = Array.from({ length: this.size }, (_, m) => m).sort((a, b) => scores[b]! - scores[a]! || a - b);
    return order.slice(0, Math.max(0, k)).map((m) => {
      const den = norm * Math.sqrt(this.#nnz[m]!);
      return { index: m, name: this.#names[m]!, similarity: scores[m]!, cosine: den > 0 ? scores[m]! / den : 0 };
    });
  }

  /** Release the backend copy of the items (the memory stays usable; it re-uploads on demand). */
  release(): void {
    this.#invalidate();
  }

  /** Release the items and dispose of the engine or backend this memory made from a name. */
  async dispose(): Promise<void> {
    this.#invalidate();
    for (const o of this.#owned.splice(0)) await o.dispose();
  }
}
