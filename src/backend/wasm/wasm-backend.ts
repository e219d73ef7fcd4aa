/**
 * wasm-backend — the fast CPU Backend: AssemblyScript SIMD kernels (src/kernels) over one shared
 * WebAssembly.Memory, split by rows across a persistent worker pool.
 *
 * Weights are repacked when first used by a kernel family (layouts.ts): 2-bit codes for
 * ternary×int8 and ternary×f32, nz/neg blocks for ternary×ternary, sparse column lists when a
 * tensor is mostly zeros; dense f32 weights are stored with rows padded to 4 floats. Each call
 * stages the activations into reusable scratch buffers (padding, permutation, sums), runs the
 * kernel on every thread, and copies the result out. Calls are serialized (one job at a time).
 * Ternary weights with no zeros at all (dense bipolar, like a VSA item memory) use the signs
 * layout for ternary×ternary: one bit per trit, one popcount per 128 trits.
 */
import { TritwiseError } from '../../errors.js';
import type { MultiTritTensor } from '../../tensor/multi-trit-tensor.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import type { ActivationMode, AttentionShape, Backend, DenseWeights, MultiTritWeights, TernaryWeights } from '../backend.js';
import type { BackendOptions } from '../registry.js';
import { Heap, Scratch } from './heap.js';
import { buildBlockSparse, buildBlocks, buildCodes, buildLut, buildLut3, buildSigns, buildSparse, buildPadSparse, buildRowSparse, CSR_X, density, groupShape, padSparseFits, rowSparseFits, skipsBlocks, type BlockLayout, type BlockSparseLayout, type LutLayout, type Lut3Layout, type PadSparseLayout, type RowSparseLayout, type SparseLayout } from './layouts.js';
import { sparsityStats } from '../../sparse/chunk-map.js';
import { LAYOUTS, activeCostModel, chooseLayout, predictMs, rowListsI8, csrColumnBlocks, type Family, type LayoutName } from '../../sparse/cost-model.js';
import { instantiate, loadKernels, type KernelExports, type SimdChoice, type SimdFeatures } from './module.js';
import { multiF32, multiI8, releaseMulti, uploadMulti, type MultiContext } from './multi-trit.js';
import type { Platform } from './platform.js';
import { MAX_SPIN_US, WorkerPool } from './pool.js';

export interface WasmBackendOptions extends BackendOptions {
  /** 'auto' (default): relaxed SIMD where the engine validates it, else SIMD128. */
  simd?: SimdChoice;
  /** Work (rows·cols·batch) below which a call runs on the calling thread only. Default 2^17. */
  parallelMinWork?: number;
  /** Use sparse column lists: by density (default), never, or always (cols ≤ 65536). */
  sparse?: 'auto' | 'never' | 'always';
  /** Maximum WebAssembly memory in 64 KiB pages (default 65536 = 4 GiB). */
  maxPages?: number;
  /** ternary×ternary with weights that have no zeros: the 1-bit signs layout (default 'auto') or never. */
  signs?: 'auto' | 'never';
  /**
   * Layout of ternary×f32 and ternary×int8 weights (src/sparse/cost-model.ts): 'auto' (default)
   * picks per layer from its measured density and the per-machine cost model; or one layout for
   * every layer. `sparse: 'always' | 'never'` still force or forbid CSR.
   */
  layout?: 'auto' | LayoutName;
  /**
   * How long (µs) idle pool workers poll for the next call before they sleep (default 300): a call
   * that follows sooner skips a thread wake-up. 0: workers sleep at once.
   */
  spinUs?: number;
  /**
   * The int8 lookup kernel on dense planes for every weight: 'auto' (default: column triples
   * without column groups, pairs with them; see #defaultLut), 'triples' or 'pairs'. A weight's own
   * `uploadTernary(w, { lut })` still wins.
   */
  lut?: 'auto' | 'triples' | 'pairs';
}

/**
 * Historical fixed thresholds (nonzero fraction below which the sparse kernels beat the block
 * kernels), kept for the public API; the wasm backend now decides per layer from the cost model
 * (src/sparse/cost-model.ts) for every family, ternary×ternary included (TERNARY_BLOCKS_OVER_LUT).
 */
export const SPARSE_DENSITY = { i8: 0.07, f32: 0.15, ternary: 0.03 } as const;

/**
 * The popcount (nz/neg blocks) ternary×ternary kernel takes about this fraction of the int8 lut
 * kernel's time on the same weights (4096×4096 GEMV, one thread: 0.51–0.58 over 3–20 % nonzeros),
 * so ternary×ternary switches to the lists where the cost model puts int8 CSR below this fraction
 * of int8 planes (break-even measured at ≈ 5 % nonzeros).
 */
export const TERNARY_BLOCKS_OVER_LUT = 0.55;

/** Largest batch whose int8 lookup tables every pool thread builds for itself (kernels/lut-i8.ts). */
export const LUT_OWN_TABLES_BATCH = 2;

interface WasmTernary extends TernaryWeights {
  /** ternary×ternary on the lists (decided on first use) */
  ternaryCsr: boolean | null;
  gc: number;
  codes: BlockLayout | null;
  blocks: BlockLayout | null;
  signs: BlockLayout | null;
  lut: LutLayout | null;
  lut3: Lut3Layout | null;
  /** int8 lookup kernel on dense planes: column triples with a sign bit (lut3-i8.ts) or pairs (lut-i8.ts) */
  lutKind: 'triples' | 'pairs';
  /** whether the codes layout skips all-zero blocks (decided on first int8 use) */
  skips: boolean | null;
  sparse: SparseLayout | null;
  /** padded CSR with byte offsets for f32 (esz 4) and int8 / ternary (esz 1) activations */
  pad4: PadSparseLayout | null;
  pad1: PadSparseLayout | null;
  /** one list per row for grouped weights (int8 and ternary activations) */
  rowsp: RowSparseLayout | null;
  bsparse: BlockSparseLayout | null;
  /** the layout per activation family, chosen on first use (or forced at upload) */
  layouts: Partial<Record<Family, LayoutName>>;
  forced: LayoutName | null;
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
  readonly #signs: boolean;
  readonly #layout: 'auto' | LayoutName;
  readonly #lut: 'auto' | 'triples' | 'pairs';
  readonly #platform: string;
  readonly #table: number;
  readonly #raw: Scratch;
  readonly #raw2: Scratch;
  readonly #act: Scratch;
  readonly #sums: Scratch;
  readonly #out: Scratch;
  readonly #q8: Scratch;
  readonly #xsc: Scratch;
  readonly #acc: Scratch;
  readonly #att: Scratch;
  readonly #blk: Scratch;
  readonly #tab: Scratch;
  readonly #acc16: Scratch;
  /** the padded CSR kernels' activation rows at batch > 1 (its own: inputs may sit in #act) */
  readonly #padx: Scratch;
  readonly #sacc: Scratch;
  /** partial row sums between the column blocks of the padded CSR kernels, in stored-row order */
  readonly #part: Scratch;
  #tail: Promise<unknown> = Promise.resolve();
  /** changes every lutI8 call: threads rebuild their own tables once per call (lut-i8.ts) */
  #lutJob = 0;
  #disposed = false;
  /**
   * Split the padded CSR kernels' rows from both ends of the pool (WorkerPool.run `ends`: with two
   * threads each keeps its rows, and their index lists in its own cache, from call to call).
   * Measured in scripts/bench-csr-ends-ab.mjs; a switch for that A/B and for tests.
   */
  csrEnds = true;
  /**
   * Padded CSR jobs with fewer stored entries than this are `small` pool jobs (WorkerPool.run: they
   * do not wake a worker that was descheduled while it should have been polling). 2^20 entries is
   * ≈ 0.3–0.4 ms on one thread (99 % zeros at 4096×11008: 0.48 M). 0 switches the rule off (A/B).
   */
  csrSmallEntries = 1 << 20;

  private constructor(heap: Heap, k: KernelExports, pool: WorkerPool, features: SimdFeatures, platform: string, opts: WasmBackendOptions) {
    this.#heap = heap;
    this.#k = k;
    this.#pool = pool;
    this.#features = features;
    this.#platform = platform;
    this.#minWork = opts.parallelMinWork ?? 1 << 17;
    this.#sparse = opts.sparse ?? 'auto';
    this.#signs = opts.signs !== 'never';
    this.#layout = opts.layout ?? 'auto';
    this.#lut = opts.lut ?? 'auto';
    this.#table = heap.alloc(256 * 16, 'f32 multiplier table');
    k.initF32Table(this.#table);
    this.#raw = new Scratch(heap, 'raw activations');
    this.#raw2 = new Scratch(heap, 'raw activations (minus plane)');
    this.#act = new Scratch(heap, 'staged activations');
    this.#sums = new Scratch(heap, 'activation block sums');
    this.#out = new Scratch(heap, 'output');
    this.#q8 = new Scratch(heap, 'quantized activations');
    this.#xsc = new Scratch(heap, 'activation scales');
    this.#acc = new Scratch(heap, 'integer accumulators');
    this.#att = new Scratch(heap, 'attention scratch');
    this.#blk = new Scratch(heap, 'block-op scratch');
    this.#padx = new Scratch(heap, 'padded CSR activations');
    this.#part = new Scratch(heap, 'padded CSR partial sums');
    this.#tab = new Scratch(heap, 'lookup tables');
    this.#acc16 = new Scratch(heap, 'lut group sums');
    this.#sacc = new Scratch(heap, 'lut row sums');
  }

  static async create(opts: WasmBackendOptions = {}, platform?: Platform): Promise<WasmBackend> {
    const plat = platform ?? (await import('./node-platform.js')).nodePlatform;
    const threads = opts.threads ?? plat.cores();
    if (!Number.isInteger(threads) || threads < 1) throw new TritwiseError('E_ARG', 'invalid thread count', { where: 'wasm backend option threads', expected: 'an integer ≥ 1', got: threads });
    if (opts.sparse !== undefined && !['auto', 'never', 'always'].includes(opts.sparse)) {
      throw new TritwiseError('E_ARG', 'invalid sparse option', { where: 'wasm backend option sparse', expected: 'auto | never | always', got: opts.sparse });
    }
    if (opts.layout !== undefined && opts.layout !== 'auto' && !LAYOUTS.includes(opts.layout)) {
      throw new TritwiseError('E_ARG', 'invalid layout option', { where: 'wasm backend option layout', expected: `auto | ${LAYOUTS.join(' | ')}`, got: opts.layout });
    }
    if (opts.signs !== undefined && !['auto', 'never'].includes(opts.signs)) {
      throw new TritwiseError('E_ARG', 'invalid signs option', { where: 'wasm backend option signs', expected: 'auto | never', got: opts.signs });
    }
    if (opts.lut !== undefined && !['auto', 'triples', 'pairs'].includes(opts.lut)) {
      throw new TritwiseError('E_ARG', 'invalid lut option', { where: 'wasm backend option lut', expected: 'auto | triples | pairs', got: String(opts.lut) });
    }
    if (opts.spinUs !== undefined && !(Number.isInteger(opts.spinUs) && opts.spinUs >= 0 && opts.spinUs <= MAX_SPIN_US)) {
      throw new TritwiseError('E_ARG', 'invalid spinUs option', { where: 'wasm backend option spinUs', expected: `an integer number of µs in 0..${MAX_SPIN_US}`, got: opts.spinUs });
    }
    const { module, features } = await loadKernels(plat, opts.simd ?? 'auto');
    const heap = new Heap(opts.maxPages ?? 65536);
    const main = await instantiate(module, heap.memory);
    const pool = await WorkerPool.create(plat, module, heap.memory, main.exports, threads - 1);
    if (opts.spinUs !== undefined) pool.spinUs = opts.spinUs;
    return new WasmBackend(heap, main.exports as unknown as KernelExports, pool, features, plat.name, opts);
  }

  describe(): Record<string, unknown> {
    return { backend: 'wasm', threads: this.#pool.workers + 1, simd: this.#features, runtime: this.#platform, memory_bytes: this.#heap.bytes, memory_used: this.#heap.used };
  }

  /** The worker pool (for tests and diagnostics). */
  get pool(): WorkerPool {
    return this.#pool;
  }

  /** The shared memory and its allocator (the VSA wasm engine places hypervectors here). */
  get heap(): Heap {
    return this.#heap;
  }

  /** The kernel module's exports on the calling thread (for single-thread kernels such as the VSA ops). */
  get kernels(): KernelExports {
    return this.#k;
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

  /**
   * The int8 lookup kernel for dense planes: column triples with a sign bit (lut3-i8.ts: two
   * lookups per 3 columns, two row blocks per table load) beat column pairs (lut-i8.ts: four
   * lookups per 4 columns) on both builds — on SIMD128, where V8 spends three instructions on each
   * i8x16.swizzle, by 1.12–1.27×, with relaxed SIMD by 1.07–1.12× (A/B, scripts/bench-lut-ab.mjs).
   * Pairs stay available (`uploadTernary(w, { lut: 'pairs' })`) with their smaller layout.
   *
   * Weights with column groups (G > 1, e.g. the model path's 256-column Q8_K groups) keep pairs.
   * lut3's first grouped layout (groups padded to multiples of 5 triples, two 1.4 KB weight streams
   * per row-block pair) decoded the 0.7B shape at 12.3 tokens/s against 19.7 with pairs (2 threads,
   * Node 20, idle machine, 26 Nov 22:25 UTC). Its current one (86 triples per group, each pair
   * interleaved) is 2.0–2.4× faster than that on 8192×1536, but still 0.95–1.05× pairs per call and
   * 0.85–0.87× over the decode's 96 weights streamed from memory (CPU time, 1 thread, load 12–17,
   * 26 Nov 23:20–23:45 UTC). The backend option `lut` overrides the default for every weight.
   */
  #defaultLut(groups: number): 'triples' | 'pairs' {
    if (this.#lut !== 'auto') return this.#lut;
    return groups > 1 ? 'pairs' : 'triples';
  }

  /**
   * `opts.layout` forces one layout for this weight (benchmarks, calibration); `opts.lut` the
   * int8 lookup kernel on dense planes ('triples' or 'pairs'; default: the faster one for this
   * engine, see #defaultLut).
   */
  async uploadTernary(w: TernaryTensor, opts: { layout?: LayoutName; lut?: 'triples' | 'pairs' } = {}): Promise<TernaryWeights> {
    return this.#serial(() => {
      if (opts.layout !== undefined && !LAYOUTS.includes(opts.layout)) throw new TritwiseError('E_ARG', 'invalid layout', { where: 'wasm.uploadTernary', expected: LAYOUTS.join(' | '), got: opts.layout });
      if (opts.lut !== undefined && opts.lut !== 'triples' && opts.lut !== 'pairs') throw new TritwiseError('E_ARG', 'invalid lut option', { where: 'wasm.uploadTernary', expected: 'triples | pairs', got: String(opts.lut) });
      const { gc, G } = groupShape(w);
      const scales = this.#heap.alloc(Math.max(w.rows, 1) * 4, 'row scales');
      this.#heap.f32.set(w.scales, scales >>> 2);
      let gscales = 0;
      if (w.groupScales) {
        gscales = this.#heap.alloc(Math.max(w.groupScales.length, 1) * 4, 'group scales');
        this.#heap.f32.set(w.groupScales, gscales >>> 2);
      }
      const h: WasmTernary = { kind: 'ternary', backend: 'wasm', rows: w.rows, cols: w.cols, groupSize: w.groupSize, groups: G, tensor: w, gc, codes: null, blocks: null, signs: null, lut: null, lut3: null, lutKind: opts.lut ?? this.#defaultLut(G), skips: null, sparse: null, pad4: null, pad1: null, rowsp: null, ternaryCsr: null, bsparse: null, layouts: {}, forced: opts.layout ?? null, density: density(w), scales, gscales, released: false };
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

  /** Whether ternary×ternary runs on the sparse lists (see ternaryPath). */
  #useSparse(h: WasmTernary): boolean {
    if (h.cols > 65536 || this.#sparse === 'never') return false;
    if (this.#sparse === 'always' || h.forced === 'csr') return true;
    if (h.ternaryCsr === null) {
      const st = sparsityStats(h.tensor);
      const m = activeCostModel();
      // the per-call constants (c0) are the same hand-off whatever the kernel: compare the rest
      const csr = predictMs(m, st, 'i8', 'csr') - m.coef.i8.csr[0]!;
      const planes = predictMs(m, st, 'i8', 'planes') - m.coef.i8.planes[0]!;
      h.ternaryCsr = csr < TERNARY_BLOCKS_OVER_LUT * planes;
    }
    return h.ternaryCsr;
  }

  /**
   * The layout of a weight for ternary×f32 or ternary×int8: forced at upload, forced by the
   * backend options, or chosen once per layer by the cost model from its sparsity statistics.
   */
  #layoutFor(h: WasmTernary, family: Family): LayoutName {
    const have = h.forced ?? h.layouts[family];
    if (have) return have;
    let l: LayoutName;
    if (this.#sparse === 'always') l = 'csr';
    else if (this.#layout !== 'auto') l = this.#layout;
    else l = chooseLayout(sparsityStats(h.tensor), family).layout;
    if (this.#sparse === 'never' && l === 'csr') l = 'planes-skip';
    h.layouts[family] = l;
    return l;
  }

  /**
   * The kernel matmulTernary runs for this weight: 'signs' (no zeros: 1-bit signs), 'csr'
   * (the activations expanded to int8 trits and gathered through the column lists: chosen when the
   * cost model predicts int8 CSR below TERNARY_BLOCKS_OVER_LUT of the int8 planes time), 
   * else 'blocks' (popcount over nz/neg blocks).
   */
  ternaryPath(w: TernaryWeights): 'signs' | 'csr' | 'blocks' {
    const h = this.#ternary(w, 'wasm.ternaryPath');
    if (this.#signs && h.density === 1) return 'signs';
    return this.#useSparse(h) ? 'csr' : 'blocks';
  }

  /** The layout each family uses (chosen now if not yet), for inspection and reports. */
  chosenLayouts(w: TernaryWeights): Record<Family, LayoutName> {
    const h = this.#ternary(w, 'wasm.chosenLayouts');
    return { f32: this.#layoutFor(h, 'f32'), i8: this.#layoutFor(h, 'i8') };
  }

  /** Where a kernel writes n 4-byte outputs: straight into `out` when it is heap memory that none of `reads` overlaps. */
  #outPtr(out: Int32Array | Float32Array | undefined, n: number, ...reads: ArrayBufferView[]): number {
    if (out && out.length >= n && this.#heap.owns(out)) {
      const a = out.byteOffset, e = a + n * 4;
      if (reads.every((r) => !this.#heap.owns(r) || r.byteOffset >= e || r.byteOffset + r.byteLength <= a)) return a;
    }
    return this.#out.ensure(n * 4);
  }

  /**
   * Activations for the padded CSR kernels: `batch` rows of cols·esz bytes at `src`, each followed
   * by a zero (the target of the list padding). One row goes to the fixed address CSR_X (the
   * kernels then gather with a constant offset); more go to their own scratch (#padx, which no
   * caller's activations can live in) with a 16-byte aligned stride.
   */
  #stagePad(src: number, batch: number, cols: number, esz: 1 | 4): [number, number] {
    const row = cols * esz;
    if (batch === 1) {
      const u8 = this.#heap.u8;
      u8.copyWithin(CSR_X, src, src + row);
      u8.fill(0, CSR_X + row, CSR_X + row + esz);
      return [CSR_X, 0];
    }
    const stride = Math.ceil((row + esz) / 16) * 16;
    const dst = this.#padx.ensure(batch * stride);
    const u8 = this.#heap.u8; // after ensure(): a grown memory has a new, longer buffer
    for (let b = 0; b < batch; b++) {
      u8.copyWithin(dst + b * stride, src + b * row, src + (b + 1) * row);
      u8.fill(0, dst + b * stride + row, dst + b * stride + row + esz);
    }
    return [dst, stride];
  }

  /** One f32 row from outside the heap, copied straight to the fixed address CSR_X with its zero pad. */
  #stageRowF32(x: Float32Array, cols: number): [number, number] {
    const f32 = this.#heap.f32;
    f32.set(x.subarray(0, cols), CSR_X >>> 2);
    f32[(CSR_X >>> 2) + cols] = 0;
    return [CSR_X, 0];
  }

  /**
   * int8 activations (`batch` rows of `cols` at src) widened to i32 for csrPadI32, each row followed
   * by a zero i32: one row at the fixed address CSR_X, more in their own scratch (#padx).
   */
  #stageI32(src: number, batch: number, cols: number): [number, number] {
    if (batch === 1) {
      this.#k.widenI8(src, CSR_X, 1, cols, 0);
      return [CSR_X, 0];
    }
    const stride = Math.ceil(((cols + 1) * 4) / 16) * 16;
    const dst = this.#padx.ensure(batch * stride);
    this.#k.widenI8(src, dst, batch, cols, stride);
    return [dst, stride];
  }

  /**
   * Where csrPadF32 / csrPadI32 keep the partial row sums between column blocks: a scratch in
   * stored-row order at batch 1 (x at CSR_X) with blocks, so the threads' chunks never share a cache
   * line of them; 0 (in the output, at the permuted rows) otherwise.
   */
  #partFor(s: PadSparseLayout, xs: number, rows: number): number {
    return s.blocks > 1 && xs === CSR_X ? this.#part.ensure(rows * 4) : 0;
  }

  /** The f32 padded lists (entries col·4, column blocks), shared by csrPadF32 and csrPadI32. */
  #pad4(h: WasmTernary): PadSparseLayout {
    return (h.pad4 ??= buildPadSparse(this.#heap, h.tensor, 4, csrColumnBlocks({ cols: h.cols, density: h.density })));
  }

  /** The address of f32 activations: in place when they are heap memory, else copied to `scratch`. */
  #inF32(x: Float32Array, n: number, scratch: Scratch): number {
    if (this.#heap.owns(x)) return x.byteOffset;
    const p = scratch.ensure(n * 4);
    this.#heap.f32.set(x.subarray(0, n), p >>> 2);
    return p;
  }

  #result<T extends Int32Array | Float32Array>(ctor: { new (n: number): T }, n: number, out: T | undefined, outPtr: number, where: string): T {
    if (out && out.length < n) throw new TritwiseError('E_SHAPE', 'output buffer too short', { where, expected: n, got: out.length });
    const y = out ?? new ctor(n);
    if (this.#heap.owns(y) && y.byteOffset === outPtr) return y;
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
      const outPtr = this.#outPtr(out, n);
      const raw = this.#raw.ensure(batch * h.cols);
      this.#heap.i8.set(q.subarray(0, batch * h.cols), raw);
      await this.#int8(h, raw, batch, 0, 0, outPtr);
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
      const outPtr = this.#outPtr(out, n, x);
      const par = this.#parallel(h.rows, h.cols, batch);
      const layout = this.#layoutFor(h, 'f32');
      // one token from outside the heap goes straight to the padded CSR staging row (one copy, not two)
      const direct = layout === 'csr' && batch === 1 && padSparseFits(h.tensor, 4) && !this.#heap.owns(x);
      const raw = direct ? 0 : this.#inF32(x, batch * h.cols, this.#raw);
      if (layout === 'csr' && padSparseFits(h.tensor, 4)) {
        const s = this.#pad4(h);
        const [xs, stride] = direct ? this.#stageRowF32(x, h.cols) : this.#stagePad(raw, batch, h.cols, 4);
        await this.#pool.run('csrPadF32', [s.offs, s.idx, s.perm, xs, stride, batch, s.blocks, h.scales, h.gscales, outPtr, this.#partFor(s, xs, h.rows), h.rows], h.rows, par, this.csrEnds, s.entries * batch < this.csrSmallEntries);
      } else if (layout === 'csr') {
        const s = (h.sparse ??= buildSparse(this.#heap, h.tensor));
        await this.#pool.run(s.wide ? 'sparseF32W' : 'sparseF32', [s.offs, s.idx, raw, h.cols, batch, h.groups, h.scales, h.gscales, outPtr, h.rows], h.rows, par);
      } else if (layout === 'block-sparse') {
        const b = (h.bsparse ??= buildBlockSparse(this.#heap, h.tensor));
        await this.#pool.run('blockSparseF32', [b.rowPtr, b.widx, b.wide ? 1 : 0, b.plus, b.minus, raw, h.cols, batch, h.gc, h.groups, h.scales, h.gscales, outPtr, h.rows], h.rows, par);
      } else {
        const c = (h.codes ??= buildCodes(this.#heap, this.#k, h.tensor, layout === 'planes-skip'));
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
      const outPtr = this.#outPtr(out, n);
      const plus = this.#raw.ensure(x.plus.length * 4);
      const minus = this.#raw2.ensure(x.minus.length * 4);
      this.#heap.u32.set(x.plus, plus >>> 2);
      this.#heap.u32.set(x.minus, minus >>> 2);
      const par = this.#parallel(h.rows, h.cols, batch);
      if (this.#signs && h.density === 1) {
        const sg = (h.signs ??= buildSigns(this.#heap, this.#k, h.tensor));
        const u = this.#act.ensure(batch * h.groups * sg.nblk * 32);
        this.#k.planesToBlocks(plus, minus, u, batch, h.cols, x.wordsPerRow, h.gc, h.groups, sg.nblk);
        const unz = this.#sums.ensure(batch * h.groups * 4);
        this.#k.blockNnz(u, batch, h.groups, sg.nblk, unz);
        await this.#pool.run('ternarySigns', [sg.ptr, sg.nblk, h.groups, u, unz, batch, outPtr, h.rows], h.rows, par);
      } else if (this.#useSparse(h) && padSparseFits(h.tensor, 4)) {
        const s = this.#pad4(h);
        const u = this.#act.ensure(batch * h.cols);
        this.#k.planesToI8(plus, minus, u, batch, h.cols, x.wordsPerRow);
        const [xs, stride] = this.#stageI32(u, batch, h.cols);
        await this.#pool.run('csrPadI32', [s.offs, s.idx, s.perm, xs, stride, batch, s.blocks, outPtr, this.#partFor(s, xs, h.rows), h.rows], h.rows, par, this.csrEnds, s.entries * batch < this.csrSmallEntries);
      } else if (this.#useSparse(h) && padSparseFits(h.tensor, 1)) {
        const s = (h.pad1 ??= buildPadSparse(this.#heap, h.tensor, 1));
        const u = this.#act.ensure(batch * h.cols);
        this.#k.planesToI8(plus, minus, u, batch, h.cols, x.wordsPerRow);
        const [xs, stride] = this.#stagePad(u, batch, h.cols, 1);
        await this.#pool.run('csrPadI8', [s.offs, s.idx, s.perm, xs, stride, batch, outPtr, h.rows], h.rows, par, this.csrEnds, s.entries * batch < this.csrSmallEntries);
      } else if (this.#useSparse(h) && rowSparseFits(h.tensor) && rowListsI8(h)) {
        const s = (h.rowsp ??= buildRowSparse(this.#heap, h.tensor));
        const u = this.#act.ensure(batch * h.cols);
        this.#k.planesToI8(plus, minus, u, batch, h.cols, x.wordsPerRow);
        await this.#pool.run('csrGroupI8', [s.offs, s.idx, u, h.cols, batch, s.sh, h.groups, outPtr, h.rows], h.rows, par);
      } else if (this.#useSparse(h)) {
        const s = (h.sparse ??= buildSparse(this.#heap, h.tensor));
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
      const outPtr = this.#outPtr(out, n, x);
      let xp: number;
      if (h.stride === h.cols && this.#heap.owns(x)) xp = x.byteOffset;
      else {
        xp = this.#act.ensure(batch * h.stride * 4);
        this.#stageRows(x, batch, h.cols, h.stride, xp);
      }
      await this.#pool.run('denseF32', [h.ptr, h.stride, xp, batch, outPtr, h.rows], h.rows, this.#parallel(h.rows, h.cols, batch));
      return this.#result(Float32Array, n, out, outPtr, where);
    });
  }

  /**
   * Ternary × int8 activations (natural [batch, cols] at q) into outPtr, on the layout that fits:
   * sparse lists (mostly zeros), codes with block skipping (structured zeros), else lookup tables.
   * mode 0: i32 accumulators; 1, 2: dequantized f32 (per-token / per-block scales at xsc).
   */
  async #int8(h: WasmTernary, q: number, batch: number, mode: number, xsc: number, outPtr: number): Promise<void> {
    const par = this.#parallel(h.rows, h.cols, batch);
    const layout = this.#layoutFor(h, 'i8');
    if (layout === 'csr' || layout === 'block-sparse') {
      const acc = mode === 0 ? outPtr : this.#acc.ensure(batch * h.rows * h.groups * 4);
      if (layout === 'csr' && padSparseFits(h.tensor, 4)) {
        const s = this.#pad4(h);
        const [xs, stride] = this.#stageI32(q, batch, h.cols);
        await this.#pool.run('csrPadI32', [s.offs, s.idx, s.perm, xs, stride, batch, s.blocks, acc, this.#partFor(s, xs, h.rows), h.rows], h.rows, par, this.csrEnds, s.entries * batch < this.csrSmallEntries);
      } else if (layout === 'csr' && padSparseFits(h.tensor, 1)) {
        const s = (h.pad1 ??= buildPadSparse(this.#heap, h.tensor, 1));
        const [xs, stride] = this.#stagePad(q, batch, h.cols, 1);
        await this.#pool.run('csrPadI8', [s.offs, s.idx, s.perm, xs, stride, batch, acc, h.rows], h.rows, par, this.csrEnds, s.entries * batch < this.csrSmallEntries);
      } else if (layout === 'csr' && rowSparseFits(h.tensor) && rowListsI8(h)) {
        const s = (h.rowsp ??= buildRowSparse(this.#heap, h.tensor));
        await this.#pool.run('csrGroupI8', [s.offs, s.idx, q, h.cols, batch, s.sh, h.groups, acc, h.rows], h.rows, par);
      } else if (layout === 'csr') {
        const s = (h.sparse ??= buildSparse(this.#heap, h.tensor));
        await this.#pool.run(s.wide ? 'sparseI8W' : 'sparseI8', [s.offs, s.idx, q, h.cols, batch, h.groups, acc, h.rows], h.rows, par);
      } else {
        const b = (h.bsparse ??= buildBlockSparse(this.#heap, h.tensor));
        await this.#pool.run('blockSparseI8', [b.rowPtr, b.widx, b.wide ? 1 : 0, b.plus, b.minus, q, h.cols, batch, h.gc, h.groups, acc, h.rows], h.rows, par);
      }
      if (mode !== 0) this.#k.dequantAcc(acc, batch, h.rows, h.groups, mode, xsc, h.scales, h.gscales, outPtr, 0, h.rows);
      return;
    }
    h.skips ??= layout === 'planes-skip' && skipsBlocks(h.tensor);
    if (h.skips) {
      const c = (h.codes ??= buildCodes(this.#heap, this.#k, h.tensor));
      const x = this.#act.ensure(this.#k.stagedI8Bytes(batch, h.groups, c.nblk));
      const sums = this.#sums.ensure(batch * h.groups * (c.nblk + 1) * 4);
      this.#k.stageI8(q, x, batch, h.cols, h.gc, h.groups, c.nblk, sums);
      await this.#pool.run('ternaryI8', [c.ptr, c.nblk, h.groups, c.mask, c.maskWords, x, batch, sums, outPtr, h.rows, mode, xsc, h.scales, h.gscales], h.rows, par);
      return;
    }
    if (h.lutKind === 'triples') {
      const L3 = (h.lut3 ??= buildLut3(this.#heap, this.#k, h.tensor));
      const tab = this.#tab.ensure(this.#k.lut3TableBytes(batch, h.groups, L3.nt));
      this.#k.lut3Tables(q, batch, h.cols, h.gc, h.groups, L3.nt, tab);
      const acc = this.#acc16.ensure(batch * L3.blocks * 64);
      const sacc = this.#sacc.ensure(batch * L3.blocks * 16 * 8); // f64 per token and padded row
      // the pool splits row-block pairs (with groups the layout interleaves each pair)
      await this.#pool.run('lut3I8', [L3.ptr, h.groups, L3.nt, L3.corr, tab, batch, outPtr, h.rows, mode, xsc, h.scales, L3.gsT, acc, sacc], Math.ceil(L3.blocks / 2), par);
      return;
    }
    const L = (h.lut ??= buildLut(this.#heap, this.#k, h.tensor));
    // decode-sized batches: one table set per thread, each built by its thread inside the job
    // (lut-i8.ts threadIndex); larger batches: one shared set built here (job −1)
    const own = par && batch <= LUT_OWN_TABLES_BATCH;
    const tabs = this.#tab.ensure((own ? this.#pool.workers + 1 : 1) * batch * h.groups * L.nq * 64);
    this.#lutJob = (this.#lutJob + 1) & 0x3fffffff;
    if (!own) this.#k.lutTables(q, batch, h.cols, h.gc, h.groups, L.nq, tabs);
    const acc16 = this.#acc16.ensure(L.blocks * 64);
    const sacc = this.#sacc.ensure(batch * L.blocks * 16 * 8); // f64 per token and padded row
    // the pool splits row-block pairs (with groups the layout interleaves each pair)
    await this.#pool.run('lutI8', [L.ptr, h.groups, L.nq, q, h.cols, tabs, own ? this.#lutJob : -1, batch, outPtr, h.rows, mode, xsc, h.scales, L.gsT, acc16, sacc], Math.ceil(L.blocks / 2), par);
  }

  readonly linearModes: readonly ActivationMode[] = ['f32', 'int8', 'q8k'];

  /**
   * The whole activation pipeline of a ternary layer in WASM: f32 x → int8 (per token, or Q8_K
   * per 256-column block) → integer matmul → dequantized f32 y, bit-identical to nn/linear.ts's
   * composition of quantizeInt8PerToken / quantizeQ8K, matmulI8 and quant/dequantize.ts.
   */
  async linear(w: TernaryWeights, x: Float32Array, batch: number, mode: ActivationMode, out?: Float32Array): Promise<Float32Array> {
    if (mode === 'f32') return this.matmulF32(w, x, batch, out);
    return this.#serial(async () => {
      const where = `wasm.linear (${mode})`;
      if (mode !== 'int8' && mode !== 'q8k') throw new TritwiseError('E_ARG', 'activation mode not handled by wasm.linear', { where, expected: this.linearModes.join(' | '), got: mode });
      const h = this.#ternary(w, where);
      checkBatch(batch, where);
      checkLength(x.length, batch * h.cols, 'activations', where);
      if (mode === 'q8k' && h.groups !== Math.ceil(h.cols / 256)) {
        throw new TritwiseError('E_UNSUPPORTED', "activation 'q8k' needs weight scale groups of 256 columns", { where, expected: 'groupSize 256', got: h.groupSize });
      }
      const n = batch * h.rows;
      if (out) checkLength(out.length, n, 'output buffer', where);
      const outPtr = this.#outPtr(out, n, x);
      const xp = this.#inF32(x, batch * h.cols, this.#raw);
      const q = this.#q8.ensure(batch * h.cols);
      const xsc = this.#xsc.ensure(batch * h.groups * 4);
      const bad = mode === 'q8k' ? this.#k.quantQ8K(xp, batch, h.cols, q, xsc) : this.#k.quantI8Token(xp, batch, h.cols, q, xsc);
      if (bad >= 0) throw new TritwiseError('E_NONFINITE', 'non-finite activation', { where: `${where} token ${bad}`, expected: 'finite values', got: 'NaN or ±Infinity' });
      await this.#int8(h, q, batch, mode === 'int8' ? 1 : 2, xsc, outPtr);
      return this.#result(Float32Array, n, out, outPtr, where);
    });
  }

  allocF32(n: number): Float32Array {
    if (this.#disposed) throw new TritwiseError('E_BACKEND', 'backend is disposed', { where: 'wasm.allocF32' });
    if (!Number.isInteger(n) || n < 0) throw new TritwiseError('E_ARG', 'invalid buffer length', { where: 'wasm.allocF32', expected: 'an integer ≥ 0', got: n });
    const ptr = this.#heap.alloc(Math.max(n, 1) * 4, 'f32 buffer');
    this.#heap.f32.fill(0, ptr >>> 2, (ptr >>> 2) + n);
    return new Float32Array(this.#heap.memory.buffer, ptr, n);
  }

  freeF32(a: Float32Array): void {
    if (this.#heap.owns(a)) this.#heap.free(a.byteOffset);
  }

  /** Exact attention in f32 SIMD on the calling thread (KV caches from allocF32 are read in place). */
  attention(q: Float32Array, qOff: number, keys: Float32Array, values: Float32Array, pos: number, s: AttentionShape, out: Float32Array, outOff: number): void {
    const d = s.headDim;
    const kvDim = s.nKvHeads * d;
    const start = s.window > 0 ? Math.max(0, pos - s.window + 1) : 0;
    const n = pos - start + 1;
    const qn = s.nHeads * d;
    const heap = this.#heap;
    checkLength(q.length, qOff + qn, 'query', 'wasm.attention');
    checkLength(out.length, outOff + qn, 'output', 'wasm.attention');
    checkLength(Math.min(keys.length, values.length), (pos + 1) * kvDim, 'KV cache', 'wasm.attention');
    const kvIn = heap.owns(keys) && heap.owns(values);
    // scratch: softmax weights (f64), then whatever is not backend memory already
    const parts = [n * 8, heap.owns(q) ? 0 : qn * 4, heap.owns(out) ? 0 : qn * 4, kvIn ? 0 : n * kvDim * 4, kvIn ? 0 : n * kvDim * 4].map((b) => Math.ceil(b / 64) * 64);
    let p = this.#att.ensure(parts.reduce((a, b) => a + b, 0));
    const att = p;
    p += parts[0]!;
    const stage = (a: Float32Array, from: number, len: number, bytes: number): number => {
      if (heap.owns(a)) return a.byteOffset + from * 4;
      const at = p;
      p += bytes;
      heap.f32.set(a.subarray(from, from + len), at >>> 2);
      return at;
    };
    const qp = stage(q, qOff, qn, parts[1]!);
    const op = heap.owns(out) ? out.byteOffset + outOff * 4 : p;
    p += parts[2]!;
    const kp = kvIn ? keys.byteOffset + start * kvDim * 4 : stage(keys, start * kvDim, n * kvDim, parts[3]!);
    const vp = kvIn ? values.byteOffset + start * kvDim * 4 : stage(values, start * kvDim, n * kvDim, parts[4]!);
    this.#k.attentionF32(qp, kp, vp, n, s.nHeads, s.nKvHeads, d, op, att);
    if (!heap.owns(out)) out.set(heap.f32.subarray(op >>> 2, (op >>> 2) + qn), outOff);
  }

  /**
   * Byte offsets of a block op's f32 buffers ([buffer, length, is input]): backend memory is used in
   * place; only the others take block-op scratch (inputs copied in), so the model's buffers
   * (allocF32) cost no scratch at all. `#unstage` copies a staged output back.
   */
  #stage(bufs: readonly (readonly [Float32Array, number, boolean])[]): number[] {
    const heap = this.#heap;
    const bytes = bufs.map(([a, len]) => (heap.owns(a) ? 0 : Math.ceil((len * 4) / 64) * 64));
    const total = bytes.reduce((x, y) => x + y, 0);
    let p = total > 0 ? this.#blk.ensure(total) : 0;
    return bufs.map(([a, len, input], i) => {
      if (heap.owns(a)) return a.byteOffset;
      const at = p;
      p += bytes[i]!;
      if (input) heap.f32.set(a.subarray(0, len), at >>> 2);
      return at;
    });
  }

  #unstage(out: Float32Array, ptr: number, len: number): void {
    if (!this.#heap.owns(out)) out.set(this.#heap.f32.subarray(ptr >>> 2, (ptr >>> 2) + len));
  }

  /** RMSNorm per row in SIMD (block-ops.ts rmsnormF32): y = w ⊙ x / √(mean(x²) + ε). */
  rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, n: number, eps: number): void {
    const where = 'wasm.rmsnorm';
    checkLength(x.length, rows * n, 'input', where);
    checkLength(out.length, rows * n, 'output', where);
    checkLength(w.length, n, 'weight', where);
    const [xp, wp, op] = this.#stage([[x, rows * n, true], [w, n, true], [out, rows * n, false]]);
    this.#k.rmsnormF32(op!, xp!, wp!, rows, n, eps);
    this.#unstage(out, op!, rows * n);
  }

  /** x += y in SIMD (block-ops.ts addF32), bit-identical to the reference. */
  addInPlace(x: Float32Array, y: Float32Array, len: number): void {
    const where = 'wasm.addInPlace';
    checkLength(x.length, len, 'x', where);
    checkLength(y.length, len, 'y', where);
    const [xp, yp] = this.#stage([[x, len, true], [y, len, true]]);
    this.#k.addF32(xp!, yp!, len);
    this.#unstage(x, xp!, len);
  }

  /** SwiGLU over rows of [gate | up] in f32 SIMD (block-ops.ts swigluF32). */
  swigluRows(h: Float32Array, gu: Float32Array, rows: number, n: number): void {
    const where = 'wasm.swigluRows';
    checkLength(gu.length, rows * 2 * n, 'gate/up', where);
    checkLength(h.length, rows * n, 'output', where);
    const [gp, hp] = this.#stage([[gu, rows * 2 * n, true], [h, rows * n, false]]);
    this.#k.swigluF32(hp!, gp!, rows, n);
    this.#unstage(h, hp!, rows * n);
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
    for (const l of [h.codes, h.blocks, h.signs]) {
      if (!l) continue;
      heap.free(l.ptr);
      if (l.mask) heap.free(l.mask);
    }
    for (const l of [h.sparse, h.pad4, h.pad1, h.rowsp]) {
      if (!l) continue;
      heap.free(l.offs);
      heap.free(l.idx);
    }
    for (const l of [h.pad4, h.pad1]) if (l) heap.free(l.perm);
    if (h.bsparse) for (const p of [h.bsparse.rowPtr, h.bsparse.widx, h.bsparse.plus, h.bsparse.minus]) heap.free(p);
    for (const l of [h.lut, h.lut3]) {
      if (!l) continue;
      heap.free(l.ptr);
      if (l.gsT) heap.free(l.gsT);
    }
    if (h.lut3) heap.free(h.lut3.corr);
    heap.free(h.scales);
    if (h.gscales) heap.free(h.gscales);
    h.codes = h.blocks = h.signs = h.sparse = h.pad4 = h.pad1 = h.rowsp = null;
    h.bsparse = null;
    h.lut = h.lut3 = null;
  }

  /** Bytes of the weight layouts built so far for `w` (for reports). */
  layoutInfo(w: TernaryWeights): Record<string, unknown> {
    const h = this.#ternary(w, 'wasm.layoutInfo');
    return {
      density: h.density,
      codes: h.codes && { nblk: h.codes.nblk, masked: h.codes.mask !== 0, zeroBlockFraction: h.codes.zeroBlockFraction },
      blocks: h.blocks && { nblk: h.blocks.nblk, masked: h.blocks.mask !== 0, zeroBlockFraction: h.blocks.zeroBlockFraction },
      signs: h.signs && { nblk: h.signs.nblk },
      lut: h.lut && { quadsPerGroup: h.lut.nq, rowBlocks: h.lut.blocks },
      lut3: h.lut3 && { triplesPerGroup: h.lut3.nt, rowBlocks: h.lut3.blocks },
      sparse: h.sparse && { nnz: h.sparse.nnz, wide: h.sparse.wide, bytes: h.sparse.bytes },
      rowSparse: h.rowsp && { groupShift: h.rowsp.sh, bytes: h.rowsp.bytes },
      paddedSparse: [h.pad4, h.pad1].filter((l) => l !== null).map((l) => ({ esz: l.esz, entries: l.entries, blocks: l.blocks, bytes: l.bytes })),
      ternaryPath: this.ternaryPath(w),
      blockSparse: h.bsparse && { liveWords: h.bsparse.live, bytes: h.bsparse.bytes },
      layouts: { ...h.layouts, ...(h.forced ? { forced: h.forced } : {}) },
    };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    await this.#tail;
    this.#disposed = true;
    await this.#pool.dispose();
  }
}

