/**
 * wasm-backend — the fast CPU Backend: AssemblyScript SIMD kernels (src/kernels) over one shared
 * WebAssembly.Memory, split by rows across a persistent worker pool.
 *
 * Weights are repacked when first used by a kernel family (layouts.ts): 2-bit codes for
 * ternary×int8 and ternary×f32, nz/neg blocks for ternary×ternary, sparse column lists when a
 * tensor is mostly zeros; dense f32 weights are stored with rows padded to 4 floats. Each call
 * stages the activations into reusable scratch buffers (padding, permutation, sums), runs the
 * kernel on every thread, and copies the result out. Calls are serialized (one job at a time).
 */
import { TritwiseError } from '../../errors.js';
import type { MultiTritTensor } from '../../tensor/multi-trit-tensor.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import type { Backend, DenseWeights, MultiTritWeights, TernaryWeights } from '../backend.js';
import type { BackendOptions } from '../registry.js';
import { Heap, Scratch } from './heap.js';
import { buildBlocks, buildCodes, buildSparse, density, groupShape, type BlockLayout, type SparseLayout } from './layouts.js';
import { instantiate, loadKernels, type KernelExports, type SimdChoice, type SimdFeatures } from './module.js';
import { multiF32, multiI8, releaseMulti, uploadMulti, type MultiContext } from './multi-trit.js';
import type { Platform } from './platform.js';
import { WorkerPool } from './pool.js';

export interface WasmBackendOptions extends BackendOptions {
  /** 'auto' (default): relaxed SIMD where the engine validates it, else SIMD128. */
  simd?: SimdChoice;
  /** Work (rows·cols·batch) below which a call runs on the calling thread only. Default 2^17. */
  parallelMinWork?: number;
  /** Use sparse column lists: by density (default), never, or always (cols ≤ 65536). */
  sparse?: 'auto' | 'never' | 'always';
  /** Maximum WebAssembly memory in 64 KiB pages (default 65536 = 4 GiB). */
  maxPages?: number;
}

/** Below these densities (nonzero fraction) the sparse kernels beat the block kernels. */
export const SPARSE_DENSITY = { i8: 0.1, f32: 0.15, ternary: 0.03 } as const;

interface WasmTernary extends TernaryWeights {
  gc: number;
  codes: BlockLayout | null;
  blocks: BlockLayout | null;
  sparse: SparseLayout | null;
  density: number;
  scales: number;
  gscales: number;
  released: boolean;
}

interface WasmDense extends DenseWeights {
  ptr: number;
  stride: number;
  released: boolean;
}

function checkBatch(batch: number, where: string): void {
  if (!Number.isInteger(batch) || batch < 0) throw new TritwiseError('E_ARG', 'invalid batch', { where, expected: 'an integer ≥ 0', got: batch });
}

function checkLength(have: number, want: number, what: string, where: string): void {
  if (have < want) throw new TritwiseError('E_SHAPE', `${what} too short`, { where, expected: want, got: have });
}

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly #heap: Heap;
  readonly #k: KernelExports;
  readonly #pool: WorkerPool;
  readonly #features: SimdFeatures;
  readonly #minWork: number;
  readonly #sparse: 'auto' | 'never' | 'always';
  readonly #platform: string;
  readonly #table: number;
  readonly #raw: Scratch;
  readonly #raw2: Scratch;
  readonly #act: Scratch;
  readonly #sums: Scratch;
  readonly #out: Scratch;
  #tail: Promise<unknown> = Promise.resolve();
  #disposed = false;

  private constructor(heap: Heap, k: KernelExports, pool: WorkerPool, features: SimdFeatures, platform: string, opts: WasmBackendOptions) {
    this.#heap = heap;
    this.#k = k;
    this.#pool = pool;
    this.#features = features;
    this.#platform = platform;
    this.#minWork = opts.parallelMinWork ?? 1 << 17;
    this.#sparse = opts.sparse ?? 'auto';
    this.#table = heap.alloc(256 * 16, 'f32 multiplier table');
    k.initF32Table(this.#table);
    this.#raw = new Scratch(heap, 'raw activations');
    this.#raw2 = new Scratch(heap, 'raw activations (minus plane)');
    this.#act = new Scratch(heap, 'staged activations');
    this.#sums = new Scratch(heap, 'activation block sums');
    this.#out = new Scratch(heap, 'output');
  }

  static async create(opts: WasmBackendOptions = {}, platform?: Platform): Promise<WasmBackend> {
    const plat = platform ?? (await import('./node-platform.js')).nodePlatform;
    const threads = opts.threads ?? plat.cores();
    if (!Number.isInteger(threads) || threads < 1) throw new TritwiseError('E_ARG', 'invalid thread count', { where: 'wasm backend option threads', expected: 'an integer ≥ 1', got: threads });
    if (opts.sparse !== undefined && !['auto', 'never', 'always'].includes(opts.sparse)) {
      throw new TritwiseError('E_ARG', 'invalid sparse option', { where: 'wasm backend option sparse', expected: 'auto | never | always', got: opts.sparse });
    }
    const { module, features } = await loadKernels(plat, opts.simd ?? 'auto');
    const heap = new Heap(opts.maxPages ?? 65536);
    const main = await instantiate(module, heap.memory);
    const pool = await WorkerPool.create(plat, module, heap.memory, main.exports, threads - 1);
    return new WasmBackend(heap, main.exports as unknown as KernelExports, pool, features, plat.name, opts);
  }

  describe(): Record<string, unknown> {
    return { backend: 'wasm', threads: this.#pool.workers + 1, simd: this.#features, runtime: this.#platform, memory_bytes: this.#heap.bytes };
  }

  /** The worker pool (for tests and diagnostics). */
  get pool(): WorkerPool {
    return this.#pool;
  }

  /** One call at a time: the scratch buffers and the control block are shared. */
  #serial<T>(f: () => Promise<T> | T): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#disposed) throw new TritwiseError('E_BACKEND', 'backend is disposed', { where: 'wasm' });
      return f();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #parallel(rows: number, cols: number, batch: number): boolean {
    return rows * Math.max(cols, 1) * batch >= this.#minWork;
  }

  async uploadTernary(w: TernaryTensor): Promise<TernaryWeights> {
    return this.#serial(() => {
      const { gc, G } = groupShape(w);
      const scales = this.#heap.alloc(Math.max(w.rows, 1) * 4, 'row scales');
      this.#heap.f32.set(w.scales, scales >>> 2);
      let gscales = 0;
      if (w.groupScales) {
        gscales = this.#heap.alloc(Math.max(w.groupScales.length, 1) * 4, 'group scales');
        this.#heap.f32.set(w.groupScales, gscales >>> 2);
      }
      const h: WasmTernary = { kind: 'ternary', backend: 'wasm', rows: w.rows, cols: w.cols, groupSize: w.groupSize, groups: G, tensor: w, gc, codes: null, blocks: null, sparse: null, density: density(w), scales, gscales, released: false };
      return h;
    });
  }

  async uploadDense(w: Float32Array, rows: number, cols: number): Promise<DenseWeights> {
    return this.#serial(() => {
      if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || w.length !== rows * cols) {
        throw new TritwiseError('E_SHAPE', 'dense weight length does not match shape', { where: 'wasm.uploadDense', expected: `${rows}×${cols} = ${rows * cols}`, got: w.length });
      }
      const stride = Math.ceil(cols / 4) * 4;
      const ptr = this.#heap.alloc(Math.max(rows * stride, 1) * 4, 'dense weights');
      this.#stageRows(w, rows, cols, stride, ptr);
      const h: WasmDense = { kind: 'dense', backend: 'wasm', rows, cols, ptr, stride, released: false };
      return h;
    });
  }

  /** Copy [n, cols] f32 rows to `ptr` with a row stride of `stride` floats, zero-padded. */
  #stageRows(src: Float32Array, n: number, cols: number, stride: number, ptr: number): void {
    const f = this.#heap.f32;
    const base = ptr >>> 2;
    if (stride === cols) f.set(src.subarray(0, n * cols), base);
    else
      for (let r = 0; r < n; r++) {
        f.set(src.subarray(r * cols, (r + 1) * cols), base + r * stride);
        f.fill(0, base + r * stride + cols, base + (r + 1) * stride);
      }
  }

  #ternary(w: TernaryWeights, where: string): WasmTernary {
    const h = w as WasmTernary;
    if (w.backend !== 'wasm' || h.released || h.codes === undefined) {
      throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where, expected: 'a handle from wasm.uploadTernary', got: `${w.backend}${h.released ? ' (released)' : ''}` });
    }
    return h;
  }

  #useSparse(h: WasmTernary, family: keyof typeof SPARSE_DENSITY): boolean {
    if (h.cols > 65536 || this.#sparse === 'never') return false;
    if (this.#sparse === 'auto' && h.density >= SPARSE_DENSITY[family]) return false;
    h.sparse ??= buildSparse(this.#heap, h.tensor);
    return true;
  }

  #result<T extends Int32Array | Float32Array>(ctor: { new (n: number): T }, n: number, out: T | undefined, outPtr: number, where: string): T {
    if (out && out.length < n) throw new TritwiseError('E_SHAPE', 'output buffer too short', { where, expected: n, got: out.length });
    const y = out ?? new ctor(n);
    const view = y instanceof Int32Array ? this.#heap.i32 : this.#heap.f32;
    y.set(view.subarray(outPtr >>> 2, (outPtr >>> 2) + n) as T);
    return y;
  }

  async matmulI8(w: TernaryWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
    return this.#serial(async () => {
      const where = 'wasm.matmulI8';
      const h = this.#ternary(w, where);
      checkBatch(batch, where);
      checkLength(q.length, batch * h.cols, 'activations', where);
      const n = batch * h.rows * h.groups;
      if (out) checkLength(out.length, n, 'output buffer', where);
      const outPtr = this.#out.ensure(n * 4);
      const raw = this.#raw.ensure(batch * h.cols);
      this.#heap.i8.set(q.subarray(0, batch * h.cols), raw);
      const par = this.#parallel(h.rows, h.cols, batch);
      if (this.#useSparse(h, 'i8')) {
        const s = h.sparse!;
        await this.#pool.run('sparseI8', [s.offs, s.idx, raw, h.cols, batch, h.groups, outPtr, h.rows], h.rows, par);
      } else {
        const c = (h.codes ??= buildCodes(this.#heap, this.#k, h.tensor));
        let x = raw;
        if (!(h.groups === 1 && h.cols === c.nblk * 64)) {
          x = this.#act.ensure(batch * h.groups * c.nblk * 64);
          this.#k.padGroups8(raw, x, batch, h.cols, h.gc, h.groups, c.nblk);
        }
        const sums = this.#sums.ensure(batch * h.groups * c.nblk * 4);
        this.#k.blockSumsI8(x, batch, h.groups, c.nblk, sums);
        await this.#pool.run('ternaryI8', [c.ptr, c.nblk, h.groups, c.mask, c.maskWords, x, batch, sums, outPtr, h.rows], h.rows, par);
      }
      return this.#result(Int32Array, n, out, outPtr, where);
    });
  }

  async matmulF32(w: TernaryWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return this.#serial(async () => {
      const where = 'wasm.matmulF32';
      const h = this.#ternary(w, where);
      checkBatch(batch, where);
      checkLength(x.length, batch * h.cols, 'activations', where);
      const n = batch * h.rows;
      if (out) checkLength(out.length, n, 'output buffer', where);
      const outPtr = this.#out.ensure(n * 4);
      const raw = this.#raw.ensure(batch * h.cols * 4);
      this.#heap.f32.set(x.subarray(0, batch * h.cols), raw >>> 2);
      const par = this.#parallel(h.rows, h.cols, batch);
      if (this.#useSparse(h, 'f32')) {
        const s = h.sparse!;
        await this.#pool.run('sparseF32', [s.offs, s.idx, raw, h.cols, batch, h.groups, h.scales, h.gscales, outPtr, h.rows], h.rows, par);
      } else {
        const c = (h.codes ??= buildCodes(this.#heap, this.#k, h.tensor));
        const xp = this.#act.ensure(batch * h.groups * c.nblk * 64 * 4);
        this.#k.permuteF32(raw, xp, batch, h.cols, h.gc, h.groups, c.nblk);
        await this.#pool.run('ternaryF32', [c.ptr, c.nblk, h.groups, c.mask, c.maskWords, xp, batch, this.#table, h.scales, h.gscales, outPtr, h.rows], h.rows, par);
      }
      return this.#result(Float32Array, n, out, outPtr, where);
    });
  }

  async matmulTernary(w: TernaryWeights, x: TernaryTensor, out?: Int32Array): Promise<Int32Array> {
    return this.#serial(async () => {
      const where = 'wasm.matmulTernary';
      const h = this.#ternary(w, where);
      if (x.cols !== h.cols) throw new TritwiseError('E_SHAPE', 'activation width does not match weights', { where, expected: h.cols, got: x.cols });
      const batch = x.rows;
      const n = batch * h.rows * h.groups;
      if (out) checkLength(out.length, n, 'output buffer', where);
      const outPtr = this.#out.ensure(n * 4);
      const plus = this.#raw.ensure(x.plus.length * 4);
      const minus = this.#raw2.ensure(x.minus.length * 4);
      this.#heap.u32.set(x.plus, plus >>> 2);
      this.#heap.u32.set(x.minus, minus >>> 2);
      const par = this.#parallel(h.rows, h.cols, batch);
      if (this.#useSparse(h, 'ternary')) {
        const s = h.sparse!;
        const u = this.#act.ensure(batch * h.cols);
        this.#k.planesToI8(plus, minus, u, batch, h.cols, x.wordsPerRow);
        await this.#pool.run('sparseI8', [s.offs, s.idx, u, h.cols, batch, h.groups, outPtr, h.rows], h.rows, par);
      } else {
        const b = (h.blocks ??= buildBlocks(this.#heap, this.#k, h.tensor));
        const u = this.#act.ensure(batch * h.groups * b.nblk * 32);
        this.#k.planesToBlocks(plus, minus, u, batch, h.cols, x.wordsPerRow, h.gc, h.groups, b.nblk);
        await this.#pool.run('ternaryTernary', [b.ptr, b.nblk, h.groups, b.mask, b.maskWords, u, batch, outPtr, h.rows], h.rows, par);
      }
      return this.#result(Int32Array, n, out, outPtr, where);
    });
  }

  async matmulDense(w: DenseWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return this.#serial(async () => {
      const where = 'wasm.matmulDense';
      const h = w as WasmDense;
      if (w.backend !== 'wasm' || h.released || h.stride === undefined) throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where, expected: 'a handle from wasm.uploadDense', got: `${w.backend}${h.released ? ' (released)' : ''}` });
      checkBatch(batch, where);
      checkLength(x.length, batch * h.cols, 'activations', where);
      const n = batch * h.rows;
      if (out) checkLength(out.length, n, 'output buffer', where);
      const outPtr = this.#out.ensure(n * 4);
      const xp = this.#act.ensure(batch * h.stride * 4);
      this.#stageRows(x, batch, h.cols, h.stride, xp);
      await this.#pool.run('denseF32', [h.ptr, h.stride, xp, batch, outPtr, h.rows], h.rows, this.#parallel(h.rows, h.cols, batch));
      return this.#result(Float32Array, n, out, outPtr, where);
    });
  }

  // multi-trit weights (issue 6): kernels in src/kernels/multi.ts, host side in multi-trit.ts
  #multiCtx(): MultiContext {
    return { heap: this.#heap, k: this.#k, pool: this.#pool, raw: this.#raw, act: this.#act, sums: this.#sums, out: this.#out, table: this.#table, parallel: (r, c, b) => this.#parallel(r, c, b) };
  }

  async uploadMultiTrit(w: MultiTritTensor): Promise<MultiTritWeights> {
    return this.#serial(() => uploadMulti(this.#multiCtx(), w));
  }

  async matmulMultiF32(w: MultiTritWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return this.#serial(() => multiF32(this.#multiCtx(), w, x, batch, out));
  }

  async matmulMultiI8(w: MultiTritWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
    return this.#serial(() => multiI8(this.#multiCtx(), w, q, batch, out));
  }

  release(w: TernaryWeights | DenseWeights | MultiTritWeights): void {
    if (w.backend !== 'wasm') return;
    const heap = this.#heap;
    if (w.kind === 'multitrit') return releaseMulti(heap, w);
    if (w.kind === 'dense') {
      const h = w as WasmDense;
      if (!h.released) heap.free(h.ptr);
      h.released = true;
      return;
    }
    const h = w as WasmTernary;
    if (h.released) return;
    h.released = true;
    for (const l of [h.codes, h.blocks]) {
      if (!l) continue;
      heap.free(l.ptr);
      if (l.mask) heap.free(l.mask);
    }
    if (h.sparse) {
      heap.free(h.sparse.offs);
      heap.free(h.sparse.idx);
    }
    heap.free(h.scales);
    if (h.gscales) heap.free(h.gscales);
    h.codes = h.blocks = h.sparse = null;
  }

  /** Bytes of the weight layouts built so far for `w` (for reports). */
  layoutInfo(w: TernaryWeights): Record<string, unknown> {
    const h = this.#ternary(w, 'wasm.layoutInfo');
    return {
      density: h.density,
      codes: h.codes && { nblk: h.codes.nblk, masked: h.codes.mask !== 0, zeroBlockFraction: h.codes.zeroBlockFraction },
      blocks: h.blocks && { nblk: h.blocks.nblk, masked: h.blocks.mask !== 0, zeroBlockFraction: h.blocks.zeroBlockFraction },
      sparse: h.sparse && { nnz: h.sparse.nnz },
    };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    await this.#tail;
    this.#disposed = true;
    await this.#pool.dispose();
  }
}

