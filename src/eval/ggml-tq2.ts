/**
 * ggml-tq2 — llama.cpp's own TQ2_0 matrix multiply, for side-by-side timings.
 *
 * node-llama-cpp (a devDependency) ships ggml as shared libraries, one libggml-cpu-*.so per CPU
 * generation. Through koffi (FFI) we load every variant, ask each its ggml_backend_score() — the
 * same check ggml's own loader makes; 0 means this CPU cannot run it — and keep the best. Then we
 * build one graph node, y = ggml_mul_mat(W, x), with W a [rows, cols] TQ2_0 tensor quantized by
 * ggml_quantize_chunk (ggml type 35) and x a [batch, cols] f32 tensor, and run it on ggml's CPU
 * backend with a persistent ggml threadpool of the requested size. Inside, ggml quantizes x to
 * Q8_K and calls its native ggml_vec_dot_tq2_0_q8_K per row: llama.cpp's real TQ2_0 path.
 *
 * Everything here is optional tooling: without node-llama-cpp or koffi, open() throws
 * E_UNSUPPORTED and the benchmark reports llama.cpp as unavailable.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TritwiseError } from '../errors.js';

export const GGML_TYPE_F32 = 0;
export const GGML_TYPE_TQ2_0 = 35;
/** TQ2_0: 256 weights per 66-byte block. */
export const TQ2_0_BLOCK = 256;
export const TQ2_0_BYTES = 66;

type Fn = (...a: unknown[]) => unknown;
type Ptr = unknown;

interface Ggml {
  variant: string;
  score: number;
  init: Fn;
  free: Fn;
  newTensor2d: Fn;
  mulMat: Fn;
  newGraph: Fn;
  buildForward: Fn;
  getData: Fn;
  quantizeChunk: Fn;
  backendCpuInit: Fn;
  setThreads: Fn;
  setThreadpool: Fn;
  threadpoolParamsInit: Fn;
  threadpoolNew: Fn;
  threadpoolFree: Fn;
  threadpoolPause: Fn;
  backendFree: Fn;
  graphCompute: Fn;
  memcpyIn: Fn;
  memcpyOut: Fn;
}

let cached: Ggml | null = null;

function libDir(): string {
  const req = createRequire(import.meta.url);
  const pkg = `@node-llama-cpp/${process.platform}-${process.arch}`;
  try {
    // the package exports only its entry (dist/index.js); the libraries sit in ../bins/<platform>
    return join(dirname(req.resolve(pkg)), '..', 'bins', `${process.platform}-${process.arch}`);
  } catch (e) {
    throw new TritwiseError('E_UNSUPPORTED', 'llama.cpp libraries not installed', { where: 'ggml-tq2', expected: `${pkg} (devDependency node-llama-cpp@3.21.1)`, got: 'not found', cause: e });
  }
}

async function load(): Promise<Ggml> {
  if (cached) return cached;
  if (process.platform !== 'linux') throw new TritwiseError('E_UNSUPPORTED', 'the llama.cpp comparison is wired for Linux only', { where: 'ggml-tq2', expected: 'linux', got: process.platform });
  let koffi: typeof import('koffi');
  try {
    koffi = (await import('koffi')).default as unknown as typeof import('koffi');
  } catch (e) {
    throw new TritwiseError('E_UNSUPPORTED', 'koffi (FFI) is not installed', { where: 'ggml-tq2', expected: 'the koffi devDependency', got: String(e) });
  }
  const dir = libDir();
  const base = koffi.load(join(dir, 'libggml-base.so'));
  let best: { name: string; lib: ReturnType<typeof koffi.load>; score: number } | null = null;
  for (const f of readdirSync(dir).filter((n) => /^libggml-cpu-.*\.so$/.test(n))) {
    const lib = koffi.load(join(dir, f));
    const score = Number(lib.func('int ggml_backend_score(void)')());
    if (score > 0 && (!best || score > best.score)) best = { name: f, lib, score };
  }
  if (!best) throw new TritwiseError('E_UNSUPPORTED', 'no ggml CPU library runs on this CPU', { where: dir, expected: 'a libggml-cpu-*.so with a positive score', got: 'none' });
  koffi.struct('ggml_init_params', { mem_size: 'size_t', mem_buffer: 'void *', no_alloc: 'bool' });
  const cpu = best.lib;
  const libc = koffi.load('libc.so.6');
  cached = {
    variant: best.name,
    score: best.score,
    init: base.func('void *ggml_init(ggml_init_params params)'),
    free: base.func('void ggml_free(void *ctx)'),
    newTensor2d: base.func('void *ggml_new_tensor_2d(void *ctx, int type, int64_t ne0, int64_t ne1)'),
    mulMat: base.func('void *ggml_mul_mat(void *ctx, void *a, void *b)'),
    newGraph: base.func('void *ggml_new_graph(void *ctx)'),
    buildForward: base.func('void ggml_build_forward_expand(void *graph, void *tensor)'),
    getData: base.func('void *ggml_get_data(void *tensor)'),
    quantizeChunk: base.func('size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start, int64_t nrows, int64_t n_per_row, const float *imatrix)'),
    threadpoolParamsInit: base.func('void ggml_threadpool_params_init(void *params, int n_threads)'),
    backendFree: base.func('void ggml_backend_free(void *backend)'),
    graphCompute: base.func('int ggml_backend_graph_compute(void *backend, void *graph)'),
    backendCpuInit: cpu.func('void *ggml_backend_cpu_init(void)'),
    setThreads: cpu.func('void ggml_backend_cpu_set_n_threads(void *backend, int n)'),
    setThreadpool: cpu.func('void ggml_backend_cpu_set_threadpool(void *backend, void *threadpool)'),
    threadpoolNew: cpu.func('void *ggml_threadpool_new(void *params)'),
    threadpoolFree: cpu.func('void ggml_threadpool_free(void *threadpool)'),
    threadpoolPause: cpu.func('void ggml_threadpool_pause(void *threadpool)'),
    memcpyIn: libc.func('void *memcpy(void *dst, const float *src, size_t n)'),
    memcpyOut: libc.func('void *memcpy(_Out_ float *dst, void *src, size_t n)'),
  };
  return cached;
}

/** One TQ2_0 weight matrix on ggml's CPU backend with a fixed thread count. */
export class GgmlTq2 {
  #g: Ggml;
  #backend: Ptr;
  #pool: Ptr;
  #wctx: Ptr;
  #w: Ptr;
  #graphs = new Map<number, { ctx: Ptr; x: Ptr; y: Ptr; graph: Ptr }>();

  private constructor(
    g: Ggml,
    readonly rows: number,
    readonly cols: number,
    readonly threads: number,
  ) {
    this.#g = g;
    this.#backend = g.backendCpuInit();
    const params = new Uint8Array(16384); // ggml_threadpool_params is opaque to us; this is ample
    g.threadpoolParamsInit(params, threads);
    this.#pool = g.threadpoolNew(params);
    g.setThreads(this.#backend, threads);
    g.setThreadpool(this.#backend, this.#pool);
    const bytes = (rows * cols * TQ2_0_BYTES) / TQ2_0_BLOCK;
    this.#wctx = g.init({ mem_size: bytes + (1 << 20), mem_buffer: null, no_alloc: false });
    this.#w = g.newTensor2d(this.#wctx, GGML_TYPE_TQ2_0, cols, rows);
  }

  /** The ggml CPU library chosen for this machine, e.g. "libggml-cpu-haswell.so". */
  static async variant(): Promise<string> {
    return (await load()).variant;
  }

  /** Quantize f32 weights [rows, cols] (cols a multiple of 256) to TQ2_0 with ggml's quantizer. */
  static async open(w: Float32Array, rows: number, cols: number, threads: number): Promise<GgmlTq2> {
    if (cols % TQ2_0_BLOCK !== 0) throw new TritwiseError('E_SHAPE', 'TQ2_0 needs whole 256-column blocks', { where: 'ggml-tq2', expected: 'cols % 256 == 0', got: cols });
    const g = await load();
    const m = new GgmlTq2(g, rows, cols, threads);
    g.quantizeChunk(GGML_TYPE_TQ2_0, w, g.getData(m.#w), 0, rows, cols, null);
    m.pause();
    return m;
  }

  #graph(batch: number) {
    let e = this.#graphs.get(batch);
    if (!e) {
      const g = this.#g;
      const ctx = g.init({ mem_size: batch * (this.cols + this.rows) * 4 + (4 << 20), mem_buffer: null, no_alloc: false });
      const x = g.newTensor2d(ctx, GGML_TYPE_F32, this.cols, batch);
      const y = g.mulMat(ctx, this.#w, x);
      const graph = g.newGraph(ctx);
      g.buildForward(graph, y);
      e = { ctx, x, y, graph };
      this.#graphs.set(batch, e);
    }
    return e;
  }

  /** y[b, r] = Σ_c W[r,c]·x[b,c] through ggml (x quantized to Q8_K inside, as llama.cpp does). */
  matmul(x: Float32Array, batch: number, out?: Float32Array): Float32Array {
    const e = this.#graph(batch);
    const g = this.#g;
    g.memcpyIn(g.getData(e.x), x, batch * this.cols * 4);
    const status = Number(g.graphCompute(this.#backend, e.graph));
    if (status !== 0) throw new TritwiseError('E_BACKEND', 'ggml graph compute failed', { where: 'ggml-tq2', expected: 'GGML_STATUS_SUCCESS (0)', got: status });
    const y = out ?? new Float32Array(batch * this.rows);
    g.memcpyOut(y, g.getData(e.y), batch * this.rows * 4);
    return y;
  }

  /**
   * Park ggml's threads: after a compute they poll for the next graph, which would steal cores
   * from whatever runs next. The next matmul() resumes them (ggml does so on kickoff).
   */
  pause(): void {
    this.#g.threadpoolPause(this.#pool);
  }

  dispose(): void {
    const g = this.#g;
    for (const e of this.#graphs.values()) g.free(e.ctx);
    this.#graphs.clear();
    g.free(this.#wctx);
    g.backendFree(this.#backend);
    g.threadpoolFree(this.#pool);
  }
}
