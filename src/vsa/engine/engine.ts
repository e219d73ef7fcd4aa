/**
 * vsa/engine/engine — where hypervectors live and which kernels run the VSA operations, chosen by
 * name like a Backend:
 *
 *   'js'    plain TypeScript on ordinary typed arrays (the ground truth), with the reference
 *           backend for item-memory GEMVs
 *   'wasm'  WebAssembly SIMD kernels on the calling thread; hypervectors and accumulators that
 *           the engine makes live in the wasm memory of a WasmBackend (which also runs the
 *           item-memory GEMVs), so an operation passes pointers and copies nothing
 *   'auto'  wasm where it loads, else js (the default)
 *
 * A hypervector is still a plain `TritVector`: its planes are just views into the wasm memory.
 * Every operation accepts vectors from anywhere (a vector from elsewhere is staged: copied in,
 * and results copied out), and returns results made by the engine. Memory the wasm engine hands
 * out is returned by `free(x)`, by the garbage collector once the planes are unreachable
 * (FinalizationRegistry), or all at once by `dispose()`.
 *
 * The free functions of ops.ts / accumulator.ts are the 'js' engine's operations.
 */
import type { Backend } from '../../backend/backend.js';
import { createBackend } from '../../backend/registry.js';
import type { SimdChoice } from '../../backend/wasm/module.js';
import type { WasmBackend } from '../../backend/wasm/wasm-backend.js';
import { TritwiseError } from '../../errors.js';
import type { Rng } from '../../eval/random.js';
import { wordsFor } from '../../tensor/bits.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import { TritVector } from '../../tensor/trit-vector.js';
import { Accumulator, type BundleOptions } from '../accumulator.js';
import { checkDim, checkSameDim, randomHypervector, type RandomOptions } from '../hypervector.js';
import { shiftOf, type Similarity } from '../ops.js';
import { jsKernels, type VsaHost, type VsaKernels } from './kernels.js';
import { tagView, WasmVsaKernels } from './wasm-kernels.js';

export const VSA_ENGINES = ['auto', 'js', 'wasm'] as const;
export type VsaEngineName = (typeof VSA_ENGINES)[number];

export interface VsaEngineOptions {
  /** threads of the engine's backend for item-memory GEMVs (default: one per core); the VSA ops run on the calling thread */
  threads?: number;
  /** wasm: 'auto' | 'relaxed' | 'simd128' (see WasmBackend) */
  simd?: SimdChoice;
}

/** Allocation of plane and count arrays (typed arrays of the engine's memory). */
interface Allocator {
  planes(words: number): [Uint32Array, Uint32Array];
  counts(dim: number): Int32Array;
  free(a: Uint32Array | Int32Array): void;
}

const jsAllocator: Allocator = {
  planes: (words) => [new Uint32Array(words), new Uint32Array(words)],
  counts: (dim) => new Int32Array(dim),
  free: () => {},
};

/** Blocks of the wasm heap behind typed-array views; a block is freed once every view of it is. */
class HeapAllocator implements Allocator {
  readonly #be: WasmBackend;
  /** view → its block; a block = {ptr, views alive} */
  readonly #blocks = new WeakMap<object, { ptr: number; live: number }>();
  readonly #registry: FinalizationRegistry<{ ptr: number; live: number }>;

  constructor(be: WasmBackend) {
    this.#be = be;
    this.#registry = new FinalizationRegistry((b) => {
      if (--b.live === 0 && b.ptr) this.#be.heap.free(b.ptr);
    });
  }

  #track<T extends object>(views: T[], ptr: number): void {
    const b = { ptr, live: views.length };
    for (const v of views) {
      this.#blocks.set(v, b);
      this.#registry.register(v, b, b);
    }
  }

  planes(words: number): [Uint32Array, Uint32Array] {
    const heap = this.#be.heap;
    const ptr = heap.alloc(words * 8, 'hypervector');
    heap.u32.fill(0, ptr >>> 2, (ptr >>> 2) + words * 2);
    const buf = heap.u32.buffer;
    const p = tagView(new Uint32Array(buf, ptr, words), heap, ptr), m = tagView(new Uint32Array(buf, ptr + words * 4, words), heap, ptr + words * 4);
    this.#track([p, m], ptr);
    return [p, m];
  }

  counts(dim: number): Int32Array {
    const heap = this.#be.heap;
    const ptr = heap.alloc(dim * 4, 'accumulator');
    heap.i32.fill(0, ptr >>> 2, (ptr >>> 2) + dim);
    const c = tagView(new Int32Array(heap.i32.buffer, ptr, dim), heap, ptr);
    this.#track([c], ptr);
    return c;
  }

  free(a: Uint32Array | Int32Array): void {
    const b = this.#blocks.get(a);
    if (!b || !b.ptr) return;
    this.#registry.unregister(b);
    this.#be.heap.free(b.ptr);
    b.ptr = 0;
  }

}

export class VsaEngine implements VsaHost {
  readonly name: 'js' | 'wasm';
  readonly kernels: VsaKernels;
  /** the backend that item memories made with this engine use for their GEMVs */
  readonly backend: Backend;
  readonly #alloc: Allocator;
  readonly #ownsBackend: boolean;
  readonly #res = new Int32Array(3);
  #disposed = false;

  private constructor(name: 'js' | 'wasm', kernels: VsaKernels, backend: Backend, alloc: Allocator, ownsBackend: boolean) {
    this.name = name;
    this.kernels = kernels;
    this.backend = backend;
    this.#alloc = alloc;
    this.#ownsBackend = ownsBackend;
  }

  /**
   * An engine by name. 'wasm' runs on `backend` when one is given (a WasmBackend, which the
   * engine then shares and does not dispose), else on a new WasmBackend of its own.
   */
  static async create(name: VsaEngineName | string = 'auto', opts: VsaEngineOptions & { backend?: Backend } = {}): Promise<VsaEngine> {
    if (!(VSA_ENGINES as readonly string[]).includes(name)) throw new TritwiseError('E_ARG', 'unknown VSA engine', { where: 'VsaEngine.create', expected: VSA_ENGINES.join(' | '), got: name });
    if (name === 'js') {
      const be = opts.backend ?? (await createBackend('ref'));
      return new VsaEngine('js', jsKernels, be, jsAllocator, !opts.backend);
    }
    try {
      const { WasmBackend } = await import('../../backend/wasm/wasm-backend.js');
      if (opts.backend && !(opts.backend instanceof WasmBackend)) throw new TritwiseError('E_ARG', 'the wasm engine needs a wasm backend', { where: 'VsaEngine.create', expected: 'a WasmBackend', got: opts.backend.name });
      let be = opts.backend as WasmBackend | undefined;
      be ??= await WasmBackend.create({ threads: opts.threads, simd: opts.simd });
      return new VsaEngine('wasm', new WasmVsaKernels(be.heap, be.kernels), be, new HeapAllocator(be), !opts.backend);
    } catch (e) {
      if (name === 'wasm') throw e;
      return VsaEngine.create('js', opts);
    }
  }

  describe(): Record<string, unknown> {
    return { engine: this.name, ...this.backend.describe() };
  }

  #live(): void {
    if (this.#disposed) throw new TritwiseError('E_BACKEND', 'VSA engine is disposed', { where: `vsa engine ${this.name}` });
  }

  // ---- memory ----

  /** A zero hypervector of dimension `dim` in this engine's memory. */
  vector(dim: number): TritVector {
    this.#live();
    const [p, m] = this.#alloc.planes(wordsFor(dim));
    return new TritVector(dim, p, m);
  }

  /** A zero Int32 count vector in this engine's memory (an Accumulator's storage). */
  counts(dim: number): Int32Array {
    this.#live();
    return this.#alloc.counts(dim);
  }

  /** Row `row` of a tensor (or a vector) copied into this engine's memory. */
  copy(x: TernaryTensor, row = 0): TritVector {
    checkDim(x.cols, 'VsaEngine.copy');
    const v = this.vector(x.cols), w = v.wordsPerRow;
    v.plus.set(x.plus.subarray(row * w, row * w + w));
    v.minus.set(x.minus.subarray(row * w, row * w + w));
    return v;
  }

  /** randomHypervector(dim, seed, opts), in this engine's memory (the same trits). */
  random(dim: number, seedOrRng: number | Rng, opts: RandomOptions = {}): TritVector {
    return this.copy(randomHypervector(dim, seedOrRng, opts));
  }

  /** An accumulator whose counts live in this engine's memory and whose ops run its kernels. */
  accumulator(dim: number): Accumulator {
    return new Accumulator(dim, undefined, this);
  }

  /** Return a vector's or accumulator's memory now (using it afterwards is an error of the caller). */
  free(x: TritVector | Accumulator): void {
    if (x instanceof Accumulator) this.#alloc.free(x.counts);
    else this.#alloc.free(x.plus);
  }

  // ---- operations (same results as the free functions of ops.ts / accumulator.ts) ----

  /** out = a ⊙ b (out may be a or b). */
  bindInto(out: TritVector, a: TritVector, b: TritVector): TritVector {
    if (a.rows !== 1 || b.rows !== 1 || out.rows !== 1 || a.cols !== b.cols || a.cols !== out.cols) checkSameDim('bind', a, b, out);
    this.kernels.bind(a.plus, a.minus, 0, b.plus, b.minus, 0, out.plus, out.minus, 0, a.wordsPerRow);
    out.invalidateMetadata();
    return out;
  }

  bind(a: TritVector, b: TritVector): TritVector {
    return this.bindInto(this.vector(a.length), a, b);
  }

  unbind(c: TritVector, key: TritVector): TritVector {
    return this.bind(c, key);
  }

  /** out = x cyclically shifted by k (out ≠ x). */
  permuteInto(out: TritVector, x: TritVector, k = 1): TritVector {
    const dim = checkSameDim('permute', x, out);
    if (out.plus === x.plus) throw new TritwiseError('E_ARG', 'permute cannot work in place', { where: 'permuteInto', expected: 'out ≠ x' });
    const s = shiftOf(k, dim);
    this.kernels.permute(x.plus, 0, out.plus, 0, dim, s);
    this.kernels.permute(x.minus, 0, out.minus, 0, dim, s);
    out.invalidateMetadata();
    return out;
  }

  permute(x: TritVector, k = 1): TritVector {
    return this.permuteInto(this.vector(x.length), x, k);
  }

  dot(a: TritVector, b: TritVector): number {
    if (a.rows !== 1 || b.rows !== 1 || a.cols !== b.cols) checkSameDim('dot', a, b);
    return this.kernels.similarity(a.plus, a.minus, 0, b.plus, b.minus, 0, a.wordsPerRow, false, this.#res);
  }

  similarity(a: TritVector, b: TritVector): Similarity {
    if (a.rows !== 1 || b.rows !== 1 || a.cols !== b.cols) checkSameDim('similarity', a, b);
    const r = this.#res;
    const d = this.kernels.similarity(a.plus, a.minus, 0, b.plus, b.minus, 0, a.wordsPerRow, true, r);
    return { dot: d, cosine: r[1] && r[2] ? d / Math.sqrt(r[1] * r[2]) : 0 };
  }

  nnz(x: TritVector): number {
    return this.kernels.nnz(x.plus, x.minus, 0, x.wordsPerRow);
  }

  /** The exact integer sum Σ w_i x_i (in this engine's memory). */
  bundleSum(xs: readonly TritVector[], weights?: ArrayLike<number>): Accumulator {
    if (xs.length === 0) throw new TritwiseError('E_ARG', 'cannot bundle an empty list', { where: 'bundle', expected: 'at least one hypervector', got: 0 });
    checkSameDim('bundle', ...xs);
    if (weights && weights.length !== xs.length) throw new TritwiseError('E_SHAPE', 'one weight per vector', { where: 'bundle.weights', expected: xs.length, got: weights.length });
    const acc = this.accumulator(xs[0]!.length);
    xs.forEach((x, i) => acc.add(x, weights ? weights[i]! : 1));
    return acc;
  }

  /** threshold_θ(Σ w_i x_i). */
  bundle(xs: readonly TritVector[], opts: BundleOptions = {}): TritVector {
    const acc = this.bundleSum(xs, opts.weights);
    const out = acc.threshold(opts.threshold ?? 0, opts.ties);
    this.free(acc);
    return out;
  }

  /** Dispose of the backend if the engine made it. Vectors it handed out must not be used afterwards. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#ownsBackend) await this.backend.dispose();
  }
}

export function vsaEngineNames(): string[] {
  return [...VSA_ENGINES];
}

/** createVsaEngine(name, opts) = VsaEngine.create(name, opts). */
export function createVsaEngine(name: VsaEngineName | string = 'auto', opts: VsaEngineOptions = {}): Promise<VsaEngine> {
  return VsaEngine.create(name, opts);
}

let shared: Promise<VsaEngine> | null = null;

/**
 * The process-wide default engine ('auto', one backend thread per core), made on first use and
 * shared by every item memory and store created without an engine or backend. It is never
 * disposed (its workers do not keep the process alive).
 */
export function defaultVsaEngine(): Promise<VsaEngine> {
  shared ??= VsaEngine.create('auto');
  return shared;
}
