/**
 * gpu-bench-extra — the attention and multi-trit parts of the WebGPU benchmark (gpu-bench.ts):
 *
 *   attention    one decode step's attention launches (backend/webgpu/attention.ts) at a context
 *                length n for every mode: exact, flash, ternary (popcount softmax) and topk:K
 *                (popcount scores pick K keys, exact attention over them); median ms per step,
 *                f32 K/V bytes read per ms, and ratios against exact in the same run. The trit
 *                K cache is filled on the CPU (the decoder fills it one key per step).
 *   multi_trit   d-plane GEMV (f32 and int8 activations) against the single-plane kernel on the
 *                same shape: median ms, GB/s of the d·2-bit weights, time per plane relative to d = 1
 * Same timing method as gpu-bench.ts (measureCases: interleaved rounds, medians).
 */
/// <reference types="@webgpu/types" />
import { attentionLaunches, attentionSizes, type GpuAttentionShape } from '../backend/webgpu/attention.js';
import { releaseDispatches } from '../backend/webgpu/dispatch.js';
import { stageF32, stageI8, ternaryF32, ternaryInt } from '../backend/webgpu/matmul.js';
import type { WebGpuBackend } from '../backend/webgpu/webgpu-backend.js';
import { formatAttentionMode, parseAttentionMode } from '../nn/attention-modes.js';
import { quantizeDepth, tritWords } from '../nn/attention-trits.js';
import { quantizeInt8PerToken } from '../quant/activation-quantizers.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { median } from './benchmark.js';
import { measureCases, randomTernary, type Case } from './gpu-bench.js';
import { randomWeights } from './kernel-bench.js';

export interface AttentionBenchResult {
  mode: string;
  positions: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  median_ms: number;
  /** f32 K and V bytes of the attended positions / median time */
  kv_gbps: number;
  speedup_vs_exact: number;
}

export interface MultiTritBenchResult {
  name: string;
  rows: number;
  cols: number;
  depth: number;
  median_ms: number;
  weight_bytes: number;
  gbps: number;
  /** (time at depth d / d) / (time at depth 1): the per-plane cost relative to a single plane */
  per_plane_vs_depth1: number;
}

export interface AttentionBenchOptions {
  shape?: Omit<GpuAttentionShape, 'length' | 'window'>;
  positions?: number;
  modes?: string[];
  minTimeMs?: number;
}

const storage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

function upload(be: WebGpuBackend, data: ArrayBufferView, label: string): GPUBuffer {
  const b = be.device.createBuffer({ label, size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: storage() });
  be.device.queue.writeBuffer(b, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  return b;
}

/** The trit K cache records (attention.ts layout) of keys [positions, nKv·d], filled on the CPU. */
function keyTrits(keys: Float32Array, positions: number, nKv: number, d: number, D: number): Uint32Array {
  const W = tritWords(d);
  const R = D * (2 * W + 1);
  const out = new Uint32Array(positions * nKv * R);
  const planes = new Uint32Array(D * 2 * W);
  const scales = new Float32Array(D);
  for (let v = 0; v < positions * nKv; v++) {
    quantizeDepth(keys, v * d, d, D, planes, 0, scales, 0);
    out.set(planes, v * R);
    out.set(new Uint32Array(scales.buffer), v * R + D * 2 * W);
  }
  return out;
}

export async function benchGpuAttention(be: WebGpuBackend, o: AttentionBenchOptions = {}): Promise<AttentionBenchResult[]> {
  const sh = o.shape ?? { nHeads: 16, nKvHeads: 16, headDim: 96 };
  const n = o.positions ?? 4096;
  const s: GpuAttentionShape = { ...sh, window: 0, length: n };
  const kvDim = s.nKvHeads * s.headDim;
  const keys = randomWeights(n * kvDim, 11);
  const values = randomWeights(n * kvDim, 12);
  const modes = (o.modes ?? ['exact', 'flash', 'ternary', 'topk:32']).map((m) => parseAttentionMode(m, 'bench attention mode'));
  const kc = upload(be, keys, 'bench k cache');
  const vc = upload(be, values, 'bench v cache');
  const q = upload(be, randomWeights(s.nHeads * s.headDim, 13), 'bench q');
  const out = be.device.createBuffer({ size: s.nHeads * s.headDim * 4, usage: storage() });
  const step = be.device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  be.device.queue.writeBuffer(step, 0, new Uint32Array([n - 1, 0, 0, 0, 0, 0, 0, 0]));
  const owned: GPUBuffer[] = [kc, vc, q, out, step];
  const cases: (Case & { mode: string })[] = [];
  try {
    for (const m of modes) {
      const z = attentionSizes(m, s);
      const scratch = be.device.createBuffer({ size: Math.max(16, z.scratch * 4), usage: storage() });
      owned.push(scratch);
      let kt: GPUBuffer | undefined;
      let qt: GPUBuffer | undefined;
      if (z.keyTrits) {
        const D = m.kind === 'ternary' || m.kind === 'topk' ? (m.depth ?? 1) : 1;
        kt = upload(be, keyTrits(keys, n, s.nKvHeads, s.headDim, D), 'bench key trits');
        qt = be.device.createBuffer({ size: Math.max(16, z.queryTrits * 4), usage: storage() });
        owned.push(kt, qt);
      }
      const launches = await attentionLaunches(be.ctx, m, s, { q, kc, vc, scratch, out, step, keyTrits: kt, queryTrits: qt });
      cases.push({ name: formatAttentionMode(m), mode: formatAttentionMode(m), bytes: 2 * n * kvDim * 4, copies: [launches], reps: 1, samples: [] });
    }
    await measureCases(be, cases, o.minTimeMs ?? 400);
    const exact = cases.find((c) => c.mode === 'exact');
    return cases.map((c) => {
      const ms = median(c.samples);
      return { mode: c.mode, positions: n, nHeads: s.nHeads, nKvHeads: s.nKvHeads, headDim: s.headDim, median_ms: ms, kv_gbps: c.bytes / (ms * 1e6), speedup_vs_exact: exact ? median(exact.samples) / ms : NaN };
    });
  } finally {
    releaseDispatches(cases.flatMap((c) => c.copies.flat()));
    for (const b of owned) b.destroy();
  }
}

export async function benchGpuMultiTrit(be: WebGpuBackend, o: { shape?: [number, number]; depths?: number[]; minTimeMs?: number } = {}): Promise<MultiTritBenchResult[]> {
  const [rows, cols] = o.shape ?? [4096, 11008];
  const depths = o.depths ?? [1, 2, 3];
  const wpr = Math.ceil(cols / 32);
  const x = randomWeights(cols, 5);
  const xT = upload(be, stageF32(x, 1, cols, 32 * wpr), 'x (ternary layout)');
  const xQ = upload(be, stageI8(quantizeInt8PerToken(x, 1, cols).q, 1, cols, wpr), 'x int8');
  const y = be.device.createBuffer({ size: Math.max(16, rows * 4), usage: storage() });
  const acc = be.device.createBuffer({ size: Math.max(16, rows * 4), usage: storage() });
  const handles = [];
  const cases: (Case & { depth: number })[] = [];
  try {
    for (const depth of depths) {
      const m = new MultiTritTensor(Array.from({ length: depth }, (_, p) => randomTernary(rows, cols, 900 + 7 * depth + p)));
      const h = be.multiHandle(await be.uploadMultiTrit(m), 'bench');
      handles.push(h);
      const bytes = depth * rows * wpr * 8;
      cases.push(
        { name: 'multi-f32-webgpu', depth, bytes, copies: [(await Promise.all(h.planes.map((p, i) => ternaryF32(be.ctx, p, { x: xT, y, batch: 1, accumulate: i > 0 })))).flat()], reps: 1, samples: [] },
        { name: 'multi-i8-webgpu', depth, bytes, copies: [(await Promise.all(h.planes.map((p) => ternaryInt(be.ctx, p, 'int8', { x: xQ, y: acc, batch: 1 })))).flat()], reps: 1, samples: [] },
      );
    }
    await measureCases(be, cases, o.minTimeMs ?? 400);
    return cases.map((c) => {
      const ms = median(c.samples);
      const one = cases.find((b) => b.name === c.name && b.depth === 1);
      return { name: c.name, rows, cols, depth: c.depth, median_ms: ms, weight_bytes: c.bytes, gbps: c.bytes / (ms * 1e6), per_plane_vs_depth1: one ? ms / c.depth / median(one.samples) : NaN };
    });
  } finally {
    releaseDispatches(cases.flatMap((c) => c.copies.flat()));
    for (const h of handles) be.release(h);
    for (const b of [xT, xQ, y, acc]) b.destroy();
  }
}
