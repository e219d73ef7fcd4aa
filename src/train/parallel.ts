/**
 * parallel — data-parallel training on worker threads (`--threads n`).
 *
 * A micro-batch of B sequences is cut into n contiguous slices of rows (slice i: rows
 * ⌊iB/n⌋ … ⌊(i+1)B/n⌋−1). The main thread runs slice 0 on its own model; worker i runs slice i
 * on a copy of the model (rebuilt from the same source weights and spec, then handed the current
 * parameters before every micro-batch). The loss is the mean over the scored tokens of the whole
 * micro-batch, so slice i's backward pass is seeded with
 *   s·cᵢ / C            (s: the trainer's seed, 1/accum; cᵢ scored tokens of slice i, C = Σ cᵢ)
 * and the slices' gradients add up to the gradient of the whole micro-batch:
 *   g = g₀ + g₁ + … + g_{n−1}       (added in that order, on the main thread)
 *   loss = Σ cᵢ·Lᵢ / C
 * Every slice's products run in a fixed order, so a run is bit-reproducible for a given thread
 * count (a different count sums the same terms in another grouping: equal up to f32 rounding).
 * The optimizer step, validation and checkpoints stay on the main thread.
 * Weights travel as f32 arrays, single trits with their scales, or (plan QAT, mode 'trits') tryte
 * integers with plane 0's scales; the worker rebuilds the same tryte, so its forward pass uses the
 * same grid steps s₀ as the main thread's.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { Batch, Distill, LossOptions, TrainModel, TrainSpec } from './llama-train.js';
import { Tape } from './tape.js';
import type { BatchSoft } from './teacher-cache.js';
import type { FloatArray } from './tensor.js';

/** A stored tensor in a form that survives postMessage (a TernaryTensor as its trits and scales). */
export type WireTensor =
  | { kind: 'dense'; shape: number[]; data: Float32Array }
  | { kind: 'ternary'; rows: number; cols: number; trits: Int8Array; scales: Float32Array; groupSize: number; groupScales: Float32Array | null; quantizer?: string }
  /** a multi-trit tryte (one scale shared by its planes): its integers and plane 0's scales */
  | { kind: 'tryte'; rows: number; cols: number; depth: number; integers: Int32Array; scales: Float32Array; groupSize: number; groupScales: Float32Array | null; quantizer?: string; columnDepths?: Uint8Array; rowDepths?: Uint8Array };

export interface WireModel {
  config: TrainModel['config'];
  spec: TrainSpec;
  weights: Map<string, WireTensor>;
  activations: TrainModel['activations'];
}

export interface WorkerInit {
  model: WireModel;
  teacher: WireModel | null;
  distill: { kind: 'kl' | 'cosine'; alpha: number; temperature?: number } | null;
  loss: Omit<LossOptions, 'distill'>;
  wasm: boolean;
}

export interface WorkerStep {
  params: FloatArray[];
  batch: Batch;
  seed: number;
  /** progressive quantization: the main thread's QAT blend λ (absent: 1) */
  blend?: number;
}

export interface WorkerReply {
  grads?: (FloatArray | null)[];
  loss?: number;
  /** the slice's soft targets, when the worker computed missing rows of them */
  soft?: BatchSoft;
  error?: { message: string; code?: string };
}

function toWire(w: StoredTensor, name: string): WireTensor {
  if (w instanceof MultiTritTensor) {
    // residual planes have independent scales: no trainer mode reads them, so they do not travel
    if (w.form !== 'tryte') throw new TritwiseError('E_UNSUPPORTED', 'data-parallel training of residual multi-trit planes', { where: `finetune --threads: ${name}`, expected: 'f32, single-trit or tryte weights (one scale shared by the planes)', got: `${w.depth} residual planes with independent scales` });
    const p0 = w.planes[0]!;
    return { kind: 'tryte', rows: w.rows, cols: w.cols, depth: w.depth, integers: w.toIntegers(), scales: p0.scales, groupSize: p0.groupSize, groupScales: p0.groupScales, quantizer: w.quantizer, columnDepths: w.columnDepths, rowDepths: w.rowDepths };
  }
  if (w instanceof TernaryTensor) return { kind: 'ternary', rows: w.rows, cols: w.cols, trits: w.toTrits(), scales: w.scales, groupSize: w.groupSize, groupScales: w.groupScales, quantizer: w.quantizer };
  return { kind: 'dense', shape: [...w.shape], data: w.data };
}

export function fromWire(w: WireTensor): StoredTensor {
  if (w.kind === 'dense') return { shape: w.shape, data: w.data };
  if (w.kind === 'tryte') {
    const m = MultiTritTensor.fromIntegers(w.integers, w.rows, w.cols, w.depth, { scales: w.scales, ...(w.groupSize ? { groupSize: w.groupSize, groupScales: w.groupScales! } : {}), quantizer: w.quantizer });
    if (w.columnDepths) m.columnDepths = w.columnDepths;
    if (w.rowDepths) m.rowDepths = w.rowDepths;
    return m;
  }
  const t = TernaryTensor.fromTrits(w.trits, w.rows, w.cols, w.groupSize ? { scales: w.scales, groupSize: w.groupSize, groupScales: w.groupScales! } : { scales: w.scales });
  t.quantizer = w.quantizer;
  return t;
}

function wireModel(m: TrainModel): WireModel {
  const weights = new Map<string, WireTensor>();
  for (const [k, v] of m.source) weights.set(k, toWire(v, k));
  // tritInit only places the latents at the start; a worker is handed the main thread's parameters before every step
  const { tritInit: _init, ...spec } = m.spec;
  return { config: m.config, spec, weights, activations: m.activations };
}

function workerUrl(): URL {
  const url = new URL('../../dist/train/train-worker.js', import.meta.url);
  if (!existsSync(url)) throw new TritwiseError('E_BACKEND', 'the training worker is not built', { where: fileURLToPath(url), expected: 'the output of `npm run build`', got: 'missing file' });
  return url;
}

/** Slice rows [r0, r1) of a batch. */
function rows(b: Batch, r0: number, r1: number): Batch {
  const out: Batch = { ids: b.ids.slice(r0 * b.T, r1 * b.T), targets: b.targets.slice(r0 * b.T, r1 * b.T), B: r1 - r0, T: b.T };
  if (b.windows) out.windows = b.windows.slice(r0, r1);
  if (b.soft) {
    const n = b.T * b.soft.k;
    out.soft = { k: b.soft.k, idx: b.soft.idx.slice(r0 * n, r1 * n), lp: b.soft.lp.slice(r0 * n, r1 * n), have: b.soft.have.slice(r0, r1) };
  }
  return out;
}

/** Copy a slice's soft targets (now complete) back into rows r0… of the whole batch. */
function putSoft(b: Batch, r0: number, s: BatchSoft): void {
  const d = b.soft!, n = b.T * s.k;
  d.idx.set(s.idx, r0 * n);
  d.lp.set(s.lp, r0 * n);
  d.have.set(s.have, r0);
}

function scored(b: Batch): number {
  let c = 0;
  for (let i = 0; i < b.targets.length; i++) if (b.targets[i]! >= 0) c++;
  return c;
}

export class DataParallel {
  readonly #workers: Worker[];
  readonly #pending = new Map<Worker, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();

  private constructor(
    readonly model: TrainModel,
    readonly loss: LossOptions,
    workers: Worker[],
  ) {
    this.#workers = workers;
    for (const w of workers) {
      w.on('message', (r: WorkerReply) => {
        const p = this.#pending.get(w);
        this.#pending.delete(w);
        if (r.error) p?.reject(new TritwiseError((r.error.code as 'E_ARG') ?? 'E_BACKEND', `training worker: ${r.error.message}`, { where: 'finetune --threads' }));
        else p?.resolve(r);
      });
      w.on('error', (e) => {
        const p = this.#pending.get(w);
        this.#pending.delete(w);
        p?.reject(e);
      });
    }
  }

  /** Start `threads − 1` workers holding copies of `model` (and of the distillation teacher). */
  static start(model: TrainModel, loss: LossOptions, threads: number, wasm: boolean): DataParallel {
    if (!(Number.isInteger(threads) && threads >= 2)) throw new TritwiseError('E_ARG', 'invalid thread count', { where: 'finetune --threads', expected: 'an integer ≥ 2 for data-parallel training', got: threads });
    const d: Distill | undefined = loss.distill;
    const init: WorkerInit = {
      model: wireModel(model),
      teacher: d ? wireModel(d.teacher) : null,
      distill: d ? { kind: d.kind, alpha: d.alpha, ...(d.kind === 'kl' ? { temperature: d.temperature } : {}) } : null,
      loss: { recompute: loss.recompute, recomputeAttention: loss.recomputeAttention, chunk: loss.chunk },
      wasm,
    };
    const url = workerUrl();
    const workers = Array.from({ length: threads - 1 }, (_, i) => new Worker(url, { workerData: init, name: `tritwise-train-${i + 1}` }));
    return new DataParallel(model, loss, workers);
  }

  get threads(): number {
    return this.#workers.length + 1;
  }

  #ask(w: Worker, msg: WorkerStep): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      this.#pending.set(w, { resolve, reject });
      w.postMessage(msg);
    });
  }

  /**
   * Forward and backward of one micro-batch over all threads; gradients are added into the
   * model's parameters (scaled by `seed`); returns the micro-batch's mean loss.
   */
  async step(batch: Batch, seed: number): Promise<number> {
    const n = Math.min(this.threads, batch.B);
    const starts = Array.from({ length: n + 1 }, (_, i) => Math.floor((i * batch.B) / n));
    const slices = Array.from({ length: n }, (_, i) => rows(batch, starts[i]!, starts[i + 1]!));
    const counts = slices.map(scored);
    const C = counts.reduce((a, b) => a + b, 0);
    const weight = (i: number) => (C ? counts[i]! / C : 1 / n);
    const params = [...this.model.parameters().values()];
    const replies = slices.slice(1).map((b, i) => this.#ask(this.#workers[i]!, { params: params.map((p) => p.data.slice()), batch: b, seed: seed * weight(i + 1), ...(this.model.quantBlend < 1 ? { blend: this.model.quantBlend } : {}) }));
    const tape = new Tape(true);
    const r = this.model.loss(tape, slices[0]!, this.loss);
    tape.backward(r.loss, [seed * weight(0)]);
    let loss = r.loss.data[0]! * weight(0);
    if (batch.soft) putSoft(batch, 0, slices[0]!.soft!);
    const got = await Promise.all(replies);
    got.forEach((g, i) => {
      loss += g.loss! * weight(i + 1);
      if (batch.soft && g.soft) putSoft(batch, starts[i + 1]!, g.soft);
      g.grads!.forEach((gw, k) => {
        if (!gw) return;
        const dst = params[k]!.ensureGrad();
        for (let j = 0; j < gw.length; j++) dst[j]! += gw[j]!;
      });
    });
    return loss;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
