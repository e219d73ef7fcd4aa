/**
 * gpu-bench — the WebGPU benchmark (`tritwise bench --backend webgpu`, `npm run bench:gpu`):
 *
 *   tuning     (default, not --quick) the matmul kernels' workgroup size measured per device on
 *              4096×11008 batch 1 and the fastest set for everything after (gpu-tune.ts)
 *   memory     copy bandwidth measured here (copyBufferToBuffer, bytes read + written), and the
 *              card's published peak where the adapter is a known card (gpu-specs.ts)
 *   gemv       ternary × f32 / × int8 / × ternary against dense f32 and (with shader-f16) dense
 *              f16 WebGPU kernels on the same shapes, in interleaved rounds: median ms, weight
 *              GB/s (ternary: the two bit planes, 2 bits/weight), fraction of the roofline, ratios
 *   zero_blocks  zero-chunk skipping: the batch-1 ternary kernels on 4096×11008 with 3 of every
 *              4 blocks of 2048 columns all zero, against the same trits without zero blocks
 *   decode     tokens/s of whole GPU decode steps (backend decoder) for the 0.7B shape
 *              (dim 1536, ffn 4096, 24 layers, 16 heads, vocab 32000, f32 embedding = head)
 *              with random trits, f32 and int8 activations
 *   attention  one decode step's attention per --attention mode at 4096 positions, and
 *   multi_trit d-plane GEMV (gpu-bench-extra.ts)
 *   targets    ternary GEMV 4096×11008 batch 1 ≥ 50 % of the roofline, ≥ 5× dense f32
 *
 * Kernel times are GPU throughput: `reps` launches are encoded in one submit and the wall time
 * to onSubmittedWorkDone is divided by reps (reps grows until a sample takes ≥ 20 ms). Weights
 * are cycled through enough copies (≥ 256 MB in all) that they stream from memory instead of
 * sitting in the L2 cache. --quick: small shapes, one copy, 2 decode tokens with f32 activations
 * (for software drivers, where one 0.7B token takes seconds).
 */
/// <reference types="@webgpu/types" />
import type { WebGpuBackend } from '../backend/webgpu/webgpu-backend.js';
import { encodeDispatches, gpuTimeMs, releaseDispatches, type Dispatch } from '../backend/webgpu/dispatch.js';
import { GpuDecoder } from '../backend/webgpu/decoder.js';
import { denseMatmul, stageF32, stageI8, stageTernary, ternaryF32, ternaryInt } from '../backend/webgpu/matmul.js';
import type { GpuDense, GpuTernary } from '../backend/webgpu/weights.js';
import { LlamaModel } from '../nn/llama.js';
import { RefBackend } from '../backend/ref/ref-backend.js';
import { defaultConfig, expectedShapes, type LlamaConfig } from '../nn/llama-config.js';
import type { StoredTensor } from '../io/weights-file.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../quant/activation-quantizers.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { ActivationMode } from '../backend/backend.js';
import { machineInfo, median, type MachineInfo } from './benchmark.js';
import type { AttentionBenchOptions, AttentionBenchResult, MultiTritBenchResult } from './gpu-bench-extra.js';
import { specBandwidth } from './gpu-specs.js';
import type { TuneReport } from './gpu-tune.js';
import { randomWeights } from './kernel-bench.js';
import { seededRandom } from './random.js';

export interface GpuBenchOptions {
  quick?: boolean;
  shapes?: [number, number][];
  batches?: number[];
  /** the zero-chunk-skipping comparison: its shape (default 4096×11008; quick 1024×8192), or false */
  zeroBlocks?: [number, number] | false;
  /** the decode benchmark (default: the 0.7B shape, 64 tokens, f32 and int8; false skips it) */
  decode?: false | { config?: LlamaConfig; label?: string; tokens?: number; modes?: ActivationMode[] };
  minTimeMs?: number;
  onStep?: (s: string) => void;
  /** attention kernels per mode (gpu-bench-extra.ts; default 16 heads × 96 at 4096 positions, quick 8 × 64 at 256), or false */
  attention?: false | AttentionBenchOptions;
  /** multi-trit GEMV, depths 1–3 (default 4096×11008, quick 1024×1024), or false */
  multiTrit?: false | { shape?: [number, number]; depths?: number[] };
  /** tune the matmul workgroup size first (default: on unless quick) */
  tune?: boolean;
  /** also time batch-1 launches that each write their own output (default: on unless quick) */
  independent?: boolean;
}

export interface GemvResult {
  name: string;
  rows: number;
  cols: number;
  batch: number;
  median_ms: number;
  min_ms: number;
  weight_bytes: number;
  gbps: number;
  roofline_fraction: number;
  speedup_vs_dense_f32: number;
  speedup_vs_dense_f16?: number;
  copies: number;
  /** GPU time of one launch alone (timestamp queries around a pass holding only it; median), where the device has timestamps */
  kernel_ms?: number;
  /** weight bytes / kernel_ms against the roofline */
  kernel_roofline_fraction?: number;
  /** back to back, but each launch writes its own output buffer (no write-after-write hazard between launches) */
  independent_ms?: number;
  independent_roofline_fraction?: number;
}

/** A GPU result checked against the reference backend on the benchmark's own operands. */
export interface GemvCheck {
  name: string;
  rows: number;
  cols: number;
  /** integer kernels: every accumulator equal */
  exact: boolean;
  mismatches: number;
}

export interface ZeroBlockResult {
  name: string;
  rows: number;
  cols: number;
  /** fraction of 2048-column blocks that are all zero */
  zero_blocks: number;
  median_ms: number;
  /** the same kernel's median on the same shape without zero blocks / this median */
  speedup_vs_no_zero_blocks: number;
}

export interface DecodeResult {
  shape: string;
  config: Pick<LlamaConfig, 'dim' | 'hiddenDim' | 'nLayers' | 'nHeads' | 'vocabSize'>;
  activation: ActivationMode;
  weight_bytes: number;
  tokens: number;
  tokens_per_second: number;
  ms_per_token: number;
  /** GPU time of one step by timestamp queries (decoder.gpuStepMs); the rest of ms_per_token is host and launch overhead */
  gpu_ms_per_token?: number;
  build_s: number;
}

export interface GpuBenchReport {
  machine: MachineInfo;
  /** host round trips (medians of 20): empty submit → onSubmittedWorkDone, 4-byte copy + mapAsync read, push/pop of two error scopes */
  latency: { submit_done_ms: number; map_read_ms: number; error_scopes_ms: number };
  memory: { measured_copy_gbps: number; spec_gbps: number | null; spec_card: string | null; roofline_gbps: number; roofline_source: string };
  gemv: GemvResult[];
  /** the batch-1 integer kernels' outputs against the reference backend (exact) */
  checks: GemvCheck[];
  /** why ternary-gemv was switched off for this run (null: it ran) */
  gemv_error: string | null;
  zero_blocks: ZeroBlockResult[];
  decode: DecodeResult[];
  attention: AttentionBenchResult[];
  multi_trit: MultiTritBenchResult[];
  /** the matmul workgroup sizes measured and chosen (null: not tuned, 64 threads each) */
  tuning: TuneReport | null;
  targets: Record<string, { value: number | null; target: number; met: boolean | null; note?: string }>;
  wall_s: number;
}

const MB = 1e6;
/** output buffers cycled by the independent-launch measurement */
const INDEPENDENT_OUTPUTS = 32;

/** The backend's int8 and ternary products of a benchmark weight against the reference backend, accumulator by accumulator. */
async function checkIntKernels(be: WebGpuBackend, h: GpuTernary, t: TernaryTensor, x: Float32Array): Promise<GemvCheck[]> {
  const ref = new RefBackend();
  const rw = await ref.uploadTernary(t);
  const q = quantizeInt8PerToken(x, 1, t.cols).q;
  const u = quantizeTernaryPerToken(x, 1, t.cols);
  const out: GemvCheck[] = [];
  for (const [name, got, want] of [
    ['ternary-i8-webgpu', await be.matmulI8(h, q, 1), await ref.matmulI8(rw, q, 1)],
    ['ternary-ternary-webgpu', await be.matmulTernary(h, u), await ref.matmulTernary(rw, u)],
  ] as const) {
    let bad = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) bad++;
    out.push({ name, rows: t.rows, cols: t.cols, exact: bad === 0 && got.length === want.length, mismatches: bad });
  }
  return out;
}

async function timeSubmit(be: WebGpuBackend, encode: (pass: GPUComputePassEncoder | GPUCommandEncoder, r: number) => void, reps: number, copy = false): Promise<number> {
  const d = be.device;
  const enc = d.createCommandEncoder();
  if (copy) for (let r = 0; r < reps; r++) encode(enc, r);
  else {
    const pass = enc.beginComputePass();
    for (let r = 0; r < reps; r++) encode(pass, r);
    pass.end();
  }
  const t0 = performance.now();
  d.queue.submit([enc.finish()]);
  await d.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / reps;
}

export interface Case {
  name: string;
  bytes: number;
  copies: Dispatch[][];
  reps: number;
  samples: number[];
}

/** GPU time of single launches (dispatch.ts gpuTimeMs); null without timestamp queries. */
export async function kernelMs(be: WebGpuBackend, copies: Dispatch[][], n = 64): Promise<number | null> {
  return be.gpu.timestamps ? gpuTimeMs(be.device, copies, n) : null;
}

export async function measureCases(be: WebGpuBackend, cases: Case[], minTimeMs: number): Promise<void> {
  const run = (c: Case, reps: number) => timeSubmit(be, (pass, r) => encodeDispatches(pass as GPUComputePassEncoder, c.copies[r % c.copies.length]!), reps);
  for (const c of cases) {
    await run(c, 1); // warm-up (pipelines, first touch)
    let reps = 1;
    for (;;) {
      const ms = (await run(c, reps)) * reps;
      if (ms >= 20 || reps >= 4096) break;
      reps = Math.min(4096, reps * Math.max(2, Math.ceil(20 / Math.max(ms, 0.05))));
    }
    c.reps = reps;
  }
  const spent = () => Math.min(...cases.map((c) => median(c.samples) * c.samples.length));
  while (cases.some((c) => c.samples.length < 5) || spent() < minTimeMs) {
    for (const c of cases) c.samples.push(await run(c, c.reps));
    if (cases[0]!.samples.length >= 200) break;
  }
}

async function measureLatency(be: WebGpuBackend): Promise<GpuBenchReport['latency']> {
  const d = be.device;
  const src = d.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_SRC });
  const rd = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const time = async (f: () => Promise<unknown>) => {
    const v: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      await f();
      if (i) v.push(performance.now() - t);
    }
    return median(v);
  };
  try {
    const submit_done_ms = await time(async () => {
      d.queue.submit([d.createCommandEncoder().finish()]);
      await d.queue.onSubmittedWorkDone();
    });
    const map_read_ms = await time(async () => {
      const enc = d.createCommandEncoder();
      enc.copyBufferToBuffer(src, 0, rd, 0, 4);
      d.queue.submit([enc.finish()]);
      await rd.mapAsync(GPUMapMode.READ, 0, 4);
      rd.unmap();
    });
    const error_scopes_ms = await time(async () => {
      d.pushErrorScope('out-of-memory');
      d.pushErrorScope('validation');
      await d.popErrorScope();
      await d.popErrorScope();
    });
    return { submit_done_ms, map_read_ms, error_scopes_ms };
  } finally {
    src.destroy();
    rd.destroy();
  }
}

async function measureCopy(be: WebGpuBackend, quick: boolean): Promise<number> {
  const size = Math.min(quick ? 32 * MB : 256 * MB, be.device.limits.maxBufferSize);
  const n = Math.floor(size / 16) * 16;
  const a = be.device.createBuffer({ size: n, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  const b = be.device.createBuffer({ size: n, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  try {
    const copy = (reps: number) => timeSubmit(be, (enc, r) => (enc as GPUCommandEncoder).copyBufferToBuffer(r % 2 ? b : a, 0, r % 2 ? a : b, 0, n), reps, true);
    await copy(2);
    const ms: number[] = [];
    for (let i = 0; i < (quick ? 3 : 7); i++) ms.push(await copy(quick ? 2 : 10));
    return (2 * n) / (median(ms) * 1e6);
  } finally {
    a.destroy();
    b.destroy();
  }
}

/** The same trits with 3 of every 4 blocks of 2048 columns set to zero (structured zeros). */
export function zeroThreeOfFourBlocks(t: TernaryTensor): TernaryTensor {
  const z = t.clone();
  for (let r = 0; r < t.rows; r++) {
    for (let w = 0; w < t.wordsPerRow; w++) {
      if (Math.floor(w / 64) % 4 !== 0) {
        z.plus[r * t.wordsPerRow + w] = 0;
        z.minus[r * t.wordsPerRow + w] = 0;
      }
    }
  }
  z.invalidateMetadata();
  return z;
}

/** A ternary tensor of random trits (≈ 25 % zeros, signs at random) with unit-ish row scales. */
export function randomTernary(rows: number, cols: number, seed: number): TernaryTensor {
  const rng = seededRandom(seed);
  const wpr = Math.ceil(cols / 32);
  const plus = new Uint32Array(rows * wpr);
  const minus = new Uint32Array(rows * wpr);
  const tail = cols % 32 ? (1 << cols % 32) - 1 : -1;
  const r32 = () => (rng.next() * 4294967296) >>> 0;
  for (let i = 0; i < rows * wpr; i++) {
    let nz = r32() | r32();
    if (i % wpr === wpr - 1) nz &= tail;
    const s = r32();
    plus[i] = (nz & s) >>> 0;
    minus[i] = (nz & ~s) >>> 0;
  }
  const scales = new Float32Array(rows).fill(0.02);
  return new TernaryTensor({ rows, cols, plus, minus, scales, quantizer: 'random' });
}

export const SHAPE_0_7B = defaultConfig({ dim: 1536, hiddenDim: 4096, nLayers: 24, nHeads: 16, vocabSize: 32000, seqLen: 2048, sharedClassifier: true });

/** Random-trit linear layers, f32 embedding (= the shared output head) and unit norms. */
export function randomTernaryModelWeights(c: LlamaConfig, seed = 1): Map<string, StoredTensor> {
  const w = new Map<string, StoredTensor>();
  let s = seed;
  for (const [name, shape] of expectedShapes(c)) {
    if (shape.length === 1) w.set(name, { shape, data: new Float32Array(shape[0]!).fill(1) });
    else if (name === 'tok_embeddings' || name === 'output') w.set(name, { shape, data: randomWeights(shape[0]! * shape[1]!, s++) });
    else w.set(name, randomTernary(shape[0]!, shape[1]!, s++));
  }
  return w;
}

async function benchDecode(be: WebGpuBackend, c: LlamaConfig, label: string, tokens: number, modes: ActivationMode[], onStep: (s: string) => void): Promise<DecodeResult[]> {
  const t0 = performance.now();
  onStep(`decode ${label}: building random ternary weights`);
  const weights = randomTernaryModelWeights(c);
  const out: DecodeResult[] = [];
  for (const activation of modes) {
    const t1 = performance.now();
    const acts = new Map<string, ActivationMode>();
    for (const [name, t] of weights) if (t instanceof TernaryTensor) acts.set(name, activation);
    onStep(`decode ${label} (${activation} activations): uploading`);
    const model = await LlamaModel.build(c, weights, be, { activations: acts });
    const dec = await be.createDecoder(model, { maxLength: tokens + 8 });
    const greedy = { temperature: 0, topP: 1, draw: () => 0 };
    try {
      let id = await dec.step([1], greedy); // warm-up: pipelines, first touch of every buffer
      const build = (performance.now() - t1 + (out.length ? 0 : t1 - t0)) / 1000;
      onStep(`decode ${label} (${activation} activations): ${tokens} tokens`);
      const ts = performance.now();
      for (let i = 0; i < tokens; i++) id = await dec.step([id], greedy);
      const s = (performance.now() - ts) / 1000;
      const gpuMs = dec instanceof GpuDecoder ? await dec.gpuStepMs() : null;
      out.push({ shape: label, config: { dim: c.dim, hiddenDim: c.hiddenDim, nLayers: c.nLayers, nHeads: c.nHeads, vocabSize: c.vocabSize }, activation, weight_bytes: model.bytes, tokens, tokens_per_second: tokens / s, ms_per_token: (s * 1000) / tokens, ...(gpuMs ? { gpu_ms_per_token: gpuMs } : {}), build_s: build });
    } finally {
      await dec.dispose();
      for (const l of model.layers) for (const lin of [...l.qkv.parts, l.wo, ...l.gateUp.parts, l.w2]) be.release((lin as unknown as { weights: GpuTernary }).weights);
      be.release((model.output as unknown as { weights: GpuDense }).weights);
    }
  }
  return out;
}

export async function benchGpu(be: WebGpuBackend, opts: GpuBenchOptions = {}): Promise<GpuBenchReport> {
  const t0 = performance.now();
  const quick = opts.quick ?? false;
  const onStep = opts.onStep ?? (() => {});
  const info = be.describe();
  const adapter = String(info.adapter);
  onStep('memory bandwidth (copy)');
  const copyGbps = await measureCopy(be, quick);
  const latency = await measureLatency(be);
  const spec = specBandwidth(`${adapter} ${JSON.stringify(info.adapter_info)}`);
  const roof = spec ? spec.gbps : copyGbps;
  // the batch-1 GEMV kernel checked first on a small shape; if it fails to build or to match
  // the reference here, every later launch uses the row-block kernel and the report says why
  let gemvError: string | null = null;
  if (be.ctx.gemv !== false) {
    try {
      const t = randomTernary(64, 4096, 5);
      const h = be.ternaryHandle(await be.uploadTernary(t), 'gemv probe');
      const c = await checkIntKernels(be, h, t, randomWeights(4096, 6)).finally(() => be.release(h));
      if (c.some((r) => !r.exact)) throw new Error(`results differ from the reference backend: ${JSON.stringify(c)}`);
    } catch (e) {
      gemvError = (e as Error).message;
      be.ctx.gemv = false;
      onStep(`ternary-gemv disabled: ${gemvError}`);
    }
  }
  let tuning: TuneReport | null = null;
  if (opts.tune ?? !quick) {
    onStep('tuning the matmul workgroup size (4096×11008, batch 1)');
    const { tuneMatmulWorkgroups } = await import('./gpu-tune.js');
    tuning = await tuneMatmulWorkgroups(be, 4096, 11008, { minTimeMs: opts.minTimeMs ?? 300 });
    onStep(`chosen: ternary ${tuning.chosen.ternary}, dense ${tuning.chosen.dense} threads per workgroup`);
  }
  const shapes = opts.shapes ?? (quick ? [[1024, 1024], [2048, 2048]] : [[4096, 4096], [4096, 11008], [11008, 4096]]);
  const batches = opts.batches ?? (quick ? [1] : [1, 8]);
  const gemv: GemvResult[] = [];
  const checks: GemvCheck[] = [];
  for (const [rows, cols] of shapes as [number, number][]) {
    onStep(`gemv ${rows}×${cols}: uploading`);
    const dense = randomWeights(rows * cols, rows * 31 + cols);
    const t = randomTernary(rows, cols, rows * 17 + cols);
    const tBytes = rows * Math.ceil(cols / 32) * 8;
    const copies = quick ? 1 : Math.max(1, Math.min(16, Math.ceil((256 * MB) / tBytes)));
    const tw: GpuTernary[] = [];
    for (let i = 0; i < copies; i++) tw.push(be.ternaryHandle(await be.uploadTernary(t), 'bench'));
    const dCopies = quick ? 1 : Math.max(1, Math.min(4, Math.ceil((256 * MB) / (rows * cols * 4))));
    const df32: GpuDense[] = [];
    for (let i = 0; i < dCopies; i++) df32.push(be.denseHandle(await be.uploadDenseAs(dense, rows, cols, 'f32'), 'bench'));
    const df16: GpuDense[] = [];
    const n16 = be.gpu.f16 ? (quick ? 1 : Math.max(1, Math.min(8, Math.ceil((256 * MB) / (rows * cols * 2))))) : 0;
    for (let i = 0; i < n16; i++) df16.push(be.denseHandle(await be.uploadDenseAs(dense, rows, cols, 'f16'), 'bench'));
    for (const batch of batches) {
      onStep(`gemv ${rows}×${cols} batch ${batch}`);
      const x = randomWeights(batch * cols, 7 + batch);
      const wpr = Math.ceil(cols / 32);
      const buf = (data: ArrayBufferView, label: string) => {
        const b = be.device.createBuffer({ label, size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
        be.device.queue.writeBuffer(b, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
        return b;
      };
      const xT = buf(stageF32(x, batch, cols, 32 * wpr), 'x (ternary layout)');
      const xD = buf(stageF32(x, batch, cols, 4 * Math.ceil(cols / 4)), 'x (dense layout)');
      const xQ = buf(stageI8(quantizeInt8PerToken(x, batch, cols).q, batch, cols, wpr), 'x int8');
      const xU = buf(stageTernary(quantizeTernaryPerToken(x, batch, cols)), 'x ternary');
      const y = be.device.createBuffer({ size: Math.max(16, batch * rows * 4), usage: GPUBufferUsage.STORAGE });
      const ctx = be.ctx;
      const cases: Case[] = [
        { name: 'dense-f32-webgpu', bytes: rows * Math.ceil(cols / 4) * 16, copies: await Promise.all(df32.map((w) => denseMatmul(ctx, w, { x: xD, y, batch }))), reps: 1, samples: [] },
        ...(df16.length ? [{ name: 'dense-f16-webgpu', bytes: rows * Math.ceil(cols / 4) * 8, copies: await Promise.all(df16.map((w) => denseMatmul(ctx, w, { x: xD, y, batch }))), reps: 1, samples: [] }] : []),
        { name: 'ternary-f32-webgpu', bytes: tBytes, copies: await Promise.all(tw.map((w) => ternaryF32(ctx, w, { x: xT, y, batch }))), reps: 1, samples: [] },
        { name: 'ternary-i8-webgpu', bytes: tBytes, copies: await Promise.all(tw.map((w) => ternaryInt(ctx, w, 'int8', { x: xQ, y, batch }))), reps: 1, samples: [] },
        { name: 'ternary-ternary-webgpu', bytes: tBytes, copies: await Promise.all(tw.map((w) => ternaryInt(ctx, w, 'ternary', { x: xU, y, batch }))), reps: 1, samples: [] },
      ];
      if (batch === 1) {
        // the general row-block kernel (ternary-int) on the same operands, for the before/after ratio
        const rb = { ...ctx, gemv: false as const };
        cases.push(
          { name: 'ternary-i8-webgpu-rowblock', bytes: tBytes, copies: await Promise.all(tw.map((w) => ternaryInt(rb, w, 'int8', { x: xQ, y, batch }))), reps: 1, samples: [] },
          { name: 'ternary-ternary-webgpu-rowblock', bytes: tBytes, copies: await Promise.all(tw.map((w) => ternaryInt(rb, w, 'ternary', { x: xU, y, batch }))), reps: 1, samples: [] },
        );
      }
      // the same launches, each writing its own output buffer: independent launches, as Q/K/V or
      // gate/up are in a decode step (only at batch 1, the targets' shape family)
      const ys: GPUBuffer[] = [];
      const indep: Case[] = [];
      if (batch === 1 && (opts.independent ?? !quick)) {
        for (let i = 0; i < INDEPENDENT_OUTPUTS; i++) ys.push(be.device.createBuffer({ size: Math.max(16, batch * rows * 4), usage: GPUBufferUsage.STORAGE }));
        const mk = async (name: string, f: (w: GpuTernary, yb: GPUBuffer) => Promise<Dispatch[]>) => ({ name, bytes: tBytes, copies: await Promise.all(ys.map((yb, i) => f(tw[i % tw.length]!, yb))), reps: 1, samples: [] });
        indep.push(await mk('ternary-i8-webgpu', (w, yb) => ternaryInt(ctx, w, 'int8', { x: xQ, y: yb, batch })), await mk('ternary-ternary-webgpu', (w, yb) => ternaryInt(ctx, w, 'ternary', { x: xU, y: yb, batch })));
        indep.push({ name: 'dense-f32-webgpu', bytes: rows * Math.ceil(cols / 4) * 16, copies: await Promise.all(ys.map((yb, i) => denseMatmul(ctx, df32[i % df32.length]!, { x: xD, y: yb, batch }))), reps: 1, samples: [] });
      }
      await measureCases(be, [...cases, ...indep], opts.minTimeMs ?? (quick ? 100 : 400));
      const med = new Map(cases.map((c) => [c.name, median(c.samples)]));
      for (const c of cases) {
        const ms = med.get(c.name)!;
        const gbps = c.bytes / (ms * 1e6);
        const kms = await kernelMs(be, c.copies);
        const ind = indep.find((d) => d.name === c.name);
        const ims = ind ? median(ind.samples) : null;
        gemv.push({ name: c.name, rows, cols, batch, median_ms: ms, min_ms: Math.min(...c.samples), weight_bytes: c.bytes, gbps, roofline_fraction: gbps / roof, speedup_vs_dense_f32: med.get('dense-f32-webgpu')! / ms, ...(med.has('dense-f16-webgpu') ? { speedup_vs_dense_f16: med.get('dense-f16-webgpu')! / ms } : {}), copies: c.copies.length, ...(kms ? { kernel_ms: kms, kernel_roofline_fraction: c.bytes / (kms * 1e6) / roof } : {}), ...(ims ? { independent_ms: ims, independent_roofline_fraction: c.bytes / (ims * 1e6) / roof } : {}) });
        releaseDispatches(c.copies.flat());
      }
      for (const c of indep) releaseDispatches(c.copies.flat());
      if (batch === 1) checks.push(...(await checkIntKernels(be, tw[0]!, t, x)));
      for (const b of [xT, xD, xQ, xU, y, ...ys]) b.destroy();
    }
    for (const h of [...tw, ...df32, ...df16]) be.release(h);
  }
  const zeroBlocks: ZeroBlockResult[] = [];
  if (opts.zeroBlocks !== false) {
    const [rows, cols] = opts.zeroBlocks ?? (quick ? [1024, 8192] : [4096, 11008]);
    onStep(`zero-chunk skipping ${rows}×${cols}`);
    const full = randomTernary(rows, cols, 4242);
    const sparse = zeroThreeOfFourBlocks(full);
    const blocks = Math.ceil(Math.ceil(cols / 32) / 64);
    const frac = (blocks - Math.ceil(blocks / 4)) / blocks;
    const x = randomWeights(cols, 5);
    const wpr = Math.ceil(cols / 32);
    const mk = (data: ArrayBufferView) => {
      const b = be.device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      be.device.queue.writeBuffer(b, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
      return b;
    };
    const xT = mk(stageF32(x, 1, cols, 32 * wpr));
    const xQ = mk(stageI8(quantizeInt8PerToken(x, 1, cols).q, 1, cols, wpr));
    const xU = mk(stageTernary(quantizeTernaryPerToken(x, 1, cols)));
    const y = be.device.createBuffer({ size: Math.max(16, rows * 4), usage: GPUBufferUsage.STORAGE });
    const hs = [be.ternaryHandle(await be.uploadTernary(full), 'bench'), be.ternaryHandle(await be.uploadTernary(sparse), 'bench')];
    const cases: (Case & { zeros: number })[] = [];
    for (const [i, h] of hs.entries()) {
      const zeros = i === 0 ? 0 : frac;
      cases.push(
        { name: 'ternary-f32-webgpu', zeros, bytes: 0, copies: [await ternaryF32(be.ctx, h, { x: xT, y, batch: 1 })], reps: 1, samples: [] },
        { name: 'ternary-i8-webgpu', zeros, bytes: 0, copies: [await ternaryInt(be.ctx, h, 'int8', { x: xQ, y, batch: 1 })], reps: 1, samples: [] },
        { name: 'ternary-ternary-webgpu', zeros, bytes: 0, copies: [await ternaryInt(be.ctx, h, 'ternary', { x: xU, y, batch: 1 })], reps: 1, samples: [] },
      );
    }
    await measureCases(be, cases, opts.minTimeMs ?? (quick ? 100 : 400));
    for (const c of cases) {
      const base = median(cases.find((b) => b.name === c.name && b.zeros === 0)!.samples);
      zeroBlocks.push({ name: c.name, rows, cols, zero_blocks: c.zeros, median_ms: median(c.samples), speedup_vs_no_zero_blocks: base / median(c.samples) });
      releaseDispatches(c.copies.flat());
    }
    for (const h of hs) be.release(h);
    for (const b of [xT, xQ, xU, y]) b.destroy();
  }
  const dopt = opts.decode === false ? null : (opts.decode ?? {});
  const decode = dopt ? await benchDecode(be, dopt.config ?? SHAPE_0_7B, dopt.label ?? (dopt.config ? 'custom' : '0.7B'), dopt.tokens ?? (quick ? 2 : 64), dopt.modes ?? (quick ? ['f32'] : ['f32', 'int8']), onStep) : [];
  const extra = await import('./gpu-bench-extra.js');
  let attention: AttentionBenchResult[] = [];
  if (opts.attention !== false) {
    onStep('attention kernels');
    attention = await extra.benchGpuAttention(be, { ...(quick ? { shape: { nHeads: 8, nKvHeads: 8, headDim: 64 }, positions: 256 } : {}), minTimeMs: opts.minTimeMs ?? (quick ? 100 : 400), ...(opts.attention ?? {}) });
  }
  let multiTrit: MultiTritBenchResult[] = [];
  if (opts.multiTrit !== false) {
    onStep('multi-trit gemv');
    multiTrit = await extra.benchGpuMultiTrit(be, { ...(quick ? { shape: [1024, 1024] as [number, number] } : {}), minTimeMs: opts.minTimeMs ?? (quick ? 100 : 400), ...(opts.multiTrit ?? {}) });
  }
  const target = gemv.find((r) => r.name === 'ternary-i8-webgpu' && r.rows === 4096 && r.cols === 11008 && r.batch === 1);
  const targetF = gemv.find((r) => r.name === 'ternary-f32-webgpu' && r.rows === 4096 && r.cols === 11008 && r.batch === 1);
  const best = [target, targetF].filter(Boolean).sort((a, b) => a!.median_ms - b!.median_ms)[0];
  const tt = gemv.find((r) => r.name === 'ternary-ternary-webgpu' && r.rows === 4096 && r.cols === 11008 && r.batch === 1);
  const note = best ? `best of ternary-f32/ternary-i8 (${best.name})` : 'shape 4096×11008 batch 1 not in this run (--quick)';
  return {
    machine: machineInfo({ ...info, threads: 1 }),
    latency,
    memory: { measured_copy_gbps: copyGbps, spec_gbps: spec?.gbps ?? null, spec_card: spec?.card ?? null, roofline_gbps: roof, roofline_source: spec ? `published peak of ${spec.card}` : 'measured copy bandwidth (card not in gpu-specs.ts)' },
    gemv,
    checks,
    gemv_error: gemvError,
    zero_blocks: zeroBlocks,
    decode,
    attention,
    multi_trit: multiTrit,
    tuning,
    targets: {
      ternary_gemv_4096x11008_roofline: { value: best?.roofline_fraction ?? null, target: 0.5, met: best ? best.roofline_fraction >= 0.5 : null, note },
      ternary_gemv_4096x11008_vs_dense_f32: { value: best?.speedup_vs_dense_f32 ?? null, target: 5, met: best ? best.speedup_vs_dense_f32 >= 5 : null, note },
      ternary_gemv_4096x11008_roofline_gpu_time: { value: best?.kernel_roofline_fraction ?? null, target: 0.5, met: best?.kernel_roofline_fraction === undefined ? null : best.kernel_roofline_fraction >= 0.5, note: 'GPU time of one launch by timestamp queries, without the gap between dependent launches' },
      ternary_gemv_4096x11008_roofline_independent: { value: best?.independent_roofline_fraction ?? null, target: 0.5, met: best?.independent_roofline_fraction === undefined ? null : best.independent_roofline_fraction >= 0.5, note: 'back to back, each launch writing its own output (no dependency between launches)' },
      ternary_x_ternary_gemv_4096x11008_roofline: { value: tt?.roofline_fraction ?? null, target: 0.5, met: tt ? tt.roofline_fraction >= 0.5 : null, note: 'ternary-ternary-webgpu (popcount), back to back dependent' },
      ternary_x_ternary_gemv_4096x11008_roofline_gpu_time: { value: tt?.kernel_roofline_fraction ?? null, target: 0.5, met: tt?.kernel_roofline_fraction === undefined ? null : tt.kernel_roofline_fraction >= 0.5, note: 'ternary-ternary-webgpu, GPU time of one launch' },
      ternary_x_ternary_gemv_4096x11008_vs_dense_f32: { value: tt?.speedup_vs_dense_f32 ?? null, target: 5, met: tt ? tt.speedup_vs_dense_f32 >= 5 : null, note: 'ternary-ternary-webgpu' },
      decode_on_gpu: { value: decode.length ? 1 : null, target: 1, met: decode.length ? true : null, note: decode.length ? 'whole decode steps on the GPU, one 4-byte readback per token' : 'decode not run' },
    },
    wall_s: (performance.now() - t0) / 1000,
  };
}
