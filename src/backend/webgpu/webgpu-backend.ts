/**
 * webgpu-backend — the GPU Backend: WGSL compute shaders (shaders/*.wgsl) on a WebGPU device,
 * in browsers (navigator.gpu) and in Node (Dawn, npm `webgpu`).
 *
 * Weights are uploaded once (weights.ts). Each matmul call stages the activations into a reused
 * device buffer, launches one kernel per weight shard, copies the result into a reused
 * map-readable buffer and reads it back: a call costs one submit and one readback. Whole decode
 * steps without per-layer readbacks go through createDecoder (decoder.ts). Calls are serialized.
 * Device errors (validation, out of memory, a lost device) become E_BACKEND errors.
 */
/// <reference types="@webgpu/types" />
import { TritwiseError } from '../../errors.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import type { LlamaModel } from '../../nn/llama.js';
import type { MultiTritTensor } from '../../tensor/multi-trit-tensor.js';
import type { Backend, DenseWeights, Decoder, DecoderOptions, MultiTritWeights, TernaryWeights } from '../backend.js';
import type { BackendOptions } from '../registry.js';
import { encodeDispatches, releaseDispatches, type Dispatch, type KernelContext } from './dispatch.js';
import { openGpu, type GpuDevice, type GpuOptions } from './gpu.js';
import { checkGemvShape, denseMatmul, stageF32, stageI8, stageTernary, ternaryF32, ternaryInt } from './matmul.js';
import { MATMUL_WORKGROUPS, Pipelines } from './pipelines.js';
import { destroyWeights, uploadDense, uploadMulti, uploadTernary, type GpuDense, type GpuMulti, type GpuTernary, type ShardLimits } from './weights.js';

export interface WebGpuBackendOptions extends BackendOptions, GpuOptions {
  /** Cut weights into shards of at most this many bytes (default: the device's binding limit). */
  maxBindingBytes?: number;
  /** Threads per workgroup of the ternary×f32 (ternary), ternary×int8/ternary (int) and dense matmul kernels (32, 64, 128 or 256; default 64 each). */
  matmulWorkgroup?: { ternary?: number; int?: number; dense?: number };
  /** The batch-1 integer GEMV kernel's threads per workgroup and per row (default 256 / 64), or false to use the general int kernel for every batch. */
  gemv?: { wg: number; tpr: number } | false;
}

/** A device buffer that grows (by doubling) when a call needs more. */
export class GrowableBuffer {
  #buf: GPUBuffer | null = null;
  constructor(
    readonly device: GPUDevice,
    readonly usage: number,
    readonly label: string,
  ) {}
  get(bytes: number): GPUBuffer {
    const need = Math.max(16, Math.ceil(bytes / 16) * 16);
    if (!this.#buf || this.#buf.size < need) {
      this.#buf?.destroy();
      this.#buf = this.device.createBuffer({ label: this.label, size: Math.max(need, (this.#buf?.size ?? 0) * 2), usage: this.usage });
    }
    return this.#buf;
  }
  destroy(): void {
    this.#buf?.destroy();
    this.#buf = null;
  }
}

function checkBatch(batch: number, where: string): void {
  if (!Number.isInteger(batch) || batch < 0) throw new TritwiseError('E_ARG', 'invalid batch', { where, expected: 'an integer ≥ 0', got: batch });
}
function checkLength(have: number, want: number, what: string, where: string): void {
  if (have < want) throw new TritwiseError('E_SHAPE', `${what} too short`, { where, expected: want, got: have });
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  /** the GPU decoder (decoder.ts) dispatches Q/K/V and gate/up one by one */
  readonly stackLinears = false;
  readonly ctx: KernelContext;
  readonly limits: ShardLimits;
  readonly #x: GrowableBuffer;
  readonly #y: GrowableBuffer;
  readonly #read: GrowableBuffer;
  #tail: Promise<unknown> = Promise.resolve();
  #lost: string | null = null;
  #disposed = false;
  #live = new Set<GpuTernary | GpuDense | GpuMulti>();

  private constructor(
    readonly gpu: GpuDevice,
    opts: WebGpuBackendOptions,
  ) {
    const d = gpu.device;
    this.ctx = { device: d, pipelines: new Pipelines(gpu), matmulWg: { ...opts.matmulWorkgroup }, ...(opts.gemv !== undefined ? { gemv: opts.gemv && { ...opts.gemv } } : {}) };
    this.limits = { maxBindingBytes: Math.min(opts.maxBindingBytes ?? Infinity, d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize), maxWorkgroups: d.limits.maxComputeWorkgroupsPerDimension };
    this.#x = new GrowableBuffer(d, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, 'activations');
    this.#y = new GrowableBuffer(d, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'outputs');
    this.#read = new GrowableBuffer(d, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
    void d.lost.then((info) => {
      if (!this.#disposed) this.#lost = `${info.reason}: ${info.message}`;
    });
  }

  static async create(opts: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    if (opts.maxBindingBytes !== undefined && !(Number.isInteger(opts.maxBindingBytes) && opts.maxBindingBytes >= 16)) {
      throw new TritwiseError('E_ARG', 'invalid maxBindingBytes', { where: 'webgpu backend option maxBindingBytes', expected: 'an integer ≥ 16', got: opts.maxBindingBytes });
    }
    if (opts.driver !== undefined && !['auto', 'vulkan', 'opengl'].includes(opts.driver)) {
      throw new TritwiseError('E_ARG', 'invalid driver', { where: 'webgpu backend option driver', expected: 'auto | vulkan | opengl', got: opts.driver });
    }
    for (const [k, v] of Object.entries(opts.matmulWorkgroup ?? {})) {
      if (v !== undefined && !(MATMUL_WORKGROUPS as readonly number[]).includes(v)) throw new TritwiseError('E_ARG', 'invalid matmul workgroup size', { where: `webgpu backend option matmulWorkgroup.${k}`, expected: MATMUL_WORKGROUPS.join(', '), got: v });
    }
    if (opts.gemv) checkGemvShape(opts.gemv, 'webgpu backend option gemv');
    return new WebGpuBackend(await openGpu(opts), opts);
  }

  get device(): GPUDevice {
    return this.gpu.device;
  }

  describe(): Record<string, unknown> {
    const i = this.gpu.info;
    return {
      backend: 'webgpu',
      threads: 1,
      adapter: [i.vendor, i.device || i.architecture, i.description].filter(Boolean).join(' / '),
      adapter_info: i,
      runtime: this.gpu.runtime,
      driver: this.gpu.driver,
      feature_level: this.gpu.featureLevel,
      shader_f16: this.gpu.f16,
      dot4i8: this.gpu.dot4,
      max_binding_bytes: this.limits.maxBindingBytes,
    };
  }

  /** One call at a time: staging buffers are shared. */
  serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => {
      this.#check();
      return f();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #check(): void {
    if (this.#disposed) throw new TritwiseError('E_BACKEND', 'backend is disposed', { where: 'webgpu' });
    if (this.#lost) throw new TritwiseError('E_BACKEND', 'GPU device lost', { where: 'webgpu', got: this.#lost });
  }

  /** Run `f` inside validation and out-of-memory error scopes; a captured error is E_BACKEND. */
  async scoped<T>(what: string, f: () => Promise<T> | T): Promise<T> {
    const d = this.device;
    d.pushErrorScope('out-of-memory');
    d.pushErrorScope('validation');
    let result: T;
    try {
      result = await f();
    } finally {
      const v = await d.popErrorScope();
      const m = await d.popErrorScope();
      const err = v ?? m;
      if (err) throw new TritwiseError('E_BACKEND', `GPU error in ${what}`, { where: 'webgpu', got: err.message });
    }
    return result;
  }

  async uploadTernary(w: TernaryTensor): Promise<TernaryWeights> {
    return this.serial(() =>
      this.scoped('uploadTernary', () => {
        const h = uploadTernary(this.device, w, this.limits);
        this.#live.add(h);
        return h;
      }),
    );
  }

  async uploadDense(w: Float32Array, rows: number, cols: number): Promise<DenseWeights> {
    return this.uploadDenseAs(w, rows, cols, 'f32');
  }

  /** Dense weights stored as f32 or (where shader-f16 exists) f16: the benchmark's baselines. */
  async uploadDenseAs(w: Float32Array, rows: number, cols: number, dtype: 'f32' | 'f16'): Promise<DenseWeights> {
    if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0)) throw new TritwiseError('E_ARG', 'invalid dense shape', { where: 'webgpu.uploadDense', expected: 'non-negative integers', got: `${rows}×${cols}` });
    if (w.length !== rows * cols) throw new TritwiseError('E_SHAPE', 'dense weight length does not match shape', { where: 'webgpu.uploadDense', expected: rows * cols, got: w.length });
    if (dtype === 'f16' && !this.gpu.f16) throw new TritwiseError('E_UNSUPPORTED', 'f16 weights need the shader-f16 feature', { where: 'webgpu.uploadDense', expected: 'an adapter with shader-f16', got: this.describe().adapter });
    return this.serial(() =>
      this.scoped('uploadDense', () => {
        const h = uploadDense(this.device, w, rows, cols, this.limits, dtype);
        this.#live.add(h);
        return h;
      }),
    );
  }

  /** Multi-trit weights: one ternary upload per plane (weights.ts); kernels run per plane into one output. */
  async uploadMultiTrit(m: MultiTritTensor): Promise<MultiTritWeights> {
    return this.serial(() =>
      this.scoped('uploadMultiTrit', () => {
        const h = uploadMulti(this.device, m, this.limits);
        this.#live.add(h);
        return h;
      }),
    );
  }

  multiHandle(w: MultiTritWeights, where: string): GpuMulti {
    const h = w as GpuMulti;
    if (w.backend !== 'webgpu' || w.kind !== 'multitrit' || h.released || !this.#live.has(h)) {
      throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where, expected: 'a handle from this webgpu backend', got: `${w.backend}${h.released ? ' (released)' : ''}` });
    }
    return h;
  }

  /** y = Σ_p W_p·x: plane 0's launch writes y, the others add to it (one submit, one readback). */
  async matmulMultiF32(w: MultiTritWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return this.serial(async () => {
      const h = this.multiHandle(w, 'webgpu.matmulMultiF32');
      checkBatch(batch, 'webgpu.matmulMultiF32');
      checkLength(x.length, batch * h.cols, 'activations', 'webgpu.matmulMultiF32');
      const n = batch * h.rows;
      if (out) checkLength(out.length, n, 'output buffer', 'webgpu.matmulMultiF32');
      const y = out ?? new Float32Array(n);
      if (n === 0) return y;
      const staged = stageF32(x, batch, h.cols, 32 * h.planes[0]!.wpr);
      const bytes = await this.#run('matmulMultiF32', staged, n * 4, async (xb, yb) => (await Promise.all(h.planes.map((p, i) => ternaryF32(this.ctx, p, { x: xb, y: yb, batch, accumulate: i > 0 })))).flat());
      y.set(new Float32Array(bytes));
      return y;
    });
  }

  /** Exact per-plane int32 accumulators in the [batch, rows, depth, groups] order (each plane's kernel writes its own region; reordered after the readback). */
  async matmulMultiI8(w: MultiTritWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
    return this.serial(async () => {
      const h = this.multiHandle(w, 'webgpu.matmulMultiI8');
      checkBatch(batch, 'webgpu.matmulMultiI8');
      checkLength(q.length, batch * h.cols, 'activations', 'webgpu.matmulMultiI8');
      const G = h.groups;
      const D = h.depth;
      const per = batch * h.rows * G;
      const n = per * D;
      if (out) checkLength(out.length, n, 'output buffer', 'webgpu.matmulMultiI8');
      const acc = out ?? new Int32Array(n);
      if (n === 0) return acc;
      const align = Math.max(256, this.device.limits.minStorageBufferOffsetAlignment);
      const region = Math.ceil((per * 4) / align) * align;
      const staged = stageI8(q, batch, h.cols, h.planes[0]!.wpr);
      const bytes = await this.#run('matmulMultiI8', staged, region * (D - 1) + per * 4, async (xb, yb) => (await Promise.all(h.planes.map((p, i) => ternaryInt(this.ctx, p, 'int8', { x: xb, y: { buffer: yb, offset: i * region, size: per * 4 }, batch })))).flat());
      for (let p = 0; p < D; p++) {
        const a = new Int32Array(bytes, p * region, per);
        for (let br = 0; br < batch * h.rows; br++) for (let g = 0; g < G; g++) acc[(br * D + p) * G + g] = a[br * G + g]!;
      }
      return acc;
    });
  }

  ternaryHandle(w: TernaryWeights, where: string): GpuTernary {
    const h = w as GpuTernary;
    if (w.backend !== 'webgpu' || w.kind !== 'ternary' || h.released || !this.#live.has(h)) {
      throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where, expected: 'a handle from this webgpu backend', got: `${w.backend}${h.released ? ' (released)' : ''}` });
    }
    return h;
  }

  denseHandle(w: DenseWeights, where: string): GpuDense {
    const h = w as GpuDense;
    if (w.backend !== 'webgpu' || w.kind !== 'dense' || h.released || !this.#live.has(h)) {
      throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where, expected: 'a handle from this webgpu backend', got: `${w.backend}${h.released ? ' (released)' : ''}` });
    }
    return h;
  }

  /** Stage input bytes, run the launches, read `outBytes` of the output buffer back. */
  async #run(what: string, input: ArrayBufferView, outBytes: number, build: (x: GPUBuffer, y: GPUBuffer) => Promise<Dispatch[]>): Promise<ArrayBuffer> {
    return this.scoped(what, async () => {
      const d = this.device;
      const x = this.#x.get(input.byteLength);
      const y = this.#y.get(outBytes);
      const read = this.#read.get(outBytes);
      if (input.byteLength) d.queue.writeBuffer(x, 0, input.buffer as ArrayBuffer, input.byteOffset, input.byteLength);
      const ds = await build(x, y);
      try {
        const enc = d.createCommandEncoder({ label: what });
        const pass = enc.beginComputePass({ label: what });
        encodeDispatches(pass, ds);
        pass.end();
        enc.copyBufferToBuffer(y, 0, read, 0, Math.ceil(outBytes / 4) * 4);
        d.queue.submit([enc.finish()]);
        await read.mapAsync(GPUMapMode.READ, 0, Math.ceil(outBytes / 4) * 4);
        const out = read.getMappedRange(0, Math.ceil(outBytes / 4) * 4).slice(0, outBytes);
        read.unmap();
        return out;
      } finally {
        releaseDispatches(ds);
      }
    });
  }

  async matmulF32(w: TernaryWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return this.serial(async () => {
      const h = this.ternaryHandle(w, 'webgpu.matmulF32');
      checkBatch(batch, 'webgpu.matmulF32');
      checkLength(x.length, batch * h.cols, 'activations', 'webgpu.matmulF32');
      const n = batch * h.rows;
      if (out) checkLength(out.length, n, 'output buffer', 'webgpu.matmulF32');
      const y = out ?? new Float32Array(n);
      if (n === 0) return y;
      const staged = stageF32(x, batch, h.cols, 32 * h.wpr);
      const bytes = await this.#run('matmulF32', staged, n * 4, (xb, yb) => ternaryF32(this.ctx, h, { x: xb, y: yb, batch }));
      y.set(new Float32Array(bytes));
      return y;
    });
  }

  async matmulI8(w: TernaryWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
    return this.serial(async () => {
      const h = this.ternaryHandle(w, 'webgpu.matmulI8');
      checkBatch(batch, 'webgpu.matmulI8');
      checkLength(q.length, batch * h.cols, 'activations', 'webgpu.matmulI8');
      const n = batch * h.rows * h.groups;
      if (out) checkLength(out.length, n, 'output buffer', 'webgpu.matmulI8');
      const acc = out ?? new Int32Array(n);
      if (n === 0) return acc;
      const staged = stageI8(q, batch, h.cols, h.wpr);
      const bytes = await this.#run('matmulI8', staged, n * 4, (xb, yb) => ternaryInt(this.ctx, h, 'int8', { x: xb, y: yb, batch }));
      acc.set(new Int32Array(bytes));
      return acc;
    });
  }

  async matmulTernary(w: TernaryWeights, x: TernaryTensor, out?: Int32Array): Promise<Int32Array> {
    return this.serial(async () => {
      const h = this.ternaryHandle(w, 'webgpu.matmulTernary');
      if (x.cols !== h.cols) throw new TritwiseError('E_SHAPE', 'activation width does not match weights', { where: 'webgpu.matmulTernary', expected: h.cols, got: x.cols });
      const batch = x.rows;
      const n = batch * h.rows * h.groups;
      if (out) checkLength(out.length, n, 'output buffer', 'webgpu.matmulTernary');
      const acc = out ?? new Int32Array(n);
      if (n === 0) return acc;
      const bytes = await this.#run('matmulTernary', stageTernary(x), n * 4, (xb, yb) => ternaryInt(this.ctx, h, 'ternary', { x: xb, y: yb, batch }));
      acc.set(new Int32Array(bytes));
      return acc;
    });
  }

  async matmulDense(w: DenseWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return this.serial(async () => {
      const h = this.denseHandle(w, 'webgpu.matmulDense');
      checkBatch(batch, 'webgpu.matmulDense');
      checkLength(x.length, batch * h.cols, 'activations', 'webgpu.matmulDense');
      const n = batch * h.rows;
      if (out) checkLength(out.length, n, 'output buffer', 'webgpu.matmulDense');
      const y = out ?? new Float32Array(n);
      if (n === 0) return y;
      const staged = stageF32(x, batch, h.cols, 4 * h.cs);
      const bytes = await this.#run('matmulDense', staged, n * 4, (xb, yb) => denseMatmul(this.ctx, h, { x: xb, y: yb, batch }));
      y.set(new Float32Array(bytes));
      return y;
    });
  }

  release(w: TernaryWeights | DenseWeights | MultiTritWeights): void {
    const h = w as GpuTernary | GpuDense | GpuMulti;
    if (h.backend !== 'webgpu' || h.released || !this.#live.has(h)) return;
    h.released = true;
    this.#live.delete(h);
    // after the calls already queued have run
    void this.#tail.then(() => destroyWeights(h));
  }

  /** Whole decode steps on the GPU (decoder.ts): weights stay where uploadTernary/uploadDense put them. */
  async createDecoder(model: LlamaModel, opts: DecoderOptions = {}): Promise<Decoder> {
    const { GpuDecoder } = await import('./decoder.js');
    return this.serial(() => GpuDecoder.create(this, model, opts));
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    await this.#tail;
    this.#disposed = true;
    for (const h of this.#live) destroyWeights(h);
    this.#live.clear();
    this.#x.destroy();
    this.#y.destroy();
    this.#read.destroy();
    this.device.destroy();
  }
}
