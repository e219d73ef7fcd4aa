/**
 * gpu-tune — per-device choice of the matmul kernels' workgroup size (threads per workgroup of
 * ternary-f32, ternary-int and dense, the shaders' WG). A software rasterizer runs a workgroup as a loop, so few
 * threads cost least there; a big GPU needs many threads in flight per row block to cover its
 * memory latency (Little's law: bytes in flight = bandwidth × latency, ≈ 3 TB/s × 1 µs ≈ 3 MB
 * on an H100, more than a 4096×11008 ternary matrix holds). `tuneMatmulWorkgroups` times each
 * size on one GEMV shape (batch 1, weights cycled through copies so they stream from memory,
 * interleaved rounds, medians) and sets the fastest on the backend (be.ctx.matmulWg), so every
 * later launch — the benchmark's GEMVs and the decoder's — uses it. The batch-1 integer GEMV
 * kernel (ternary-gemv) is tuned the same way over (threads per workgroup, threads per row) pairs
 * and its fastest pair set as be.ctx.gemv.
 */
/// <reference types="@webgpu/types" />
import type { WebGpuBackend } from '../backend/webgpu/webgpu-backend.js';
import { releaseDispatches } from '../backend/webgpu/dispatch.js';
import { denseMatmul, stageF32, stageI8, ternaryF32, ternaryInt, usesGemv } from '../backend/webgpu/matmul.js';
import { quantizeInt8PerToken } from '../quant/activation-quantizers.js';
import { MATMUL_WORKGROUPS } from '../backend/webgpu/pipelines.js';
import { gpuBuffer, type GpuDense, type GpuTernary } from '../backend/webgpu/weights.js';
import { median } from './benchmark.js';
import { measureCases, randomTernary, type Case } from './gpu-bench.js';
import { randomWeights } from './kernel-bench.js';

export interface TuneResult {
  kernel: 'ternary-f32' | 'ternary-i8' | 'dense-f32';
  wg: number;
  median_ms: number;
}

export interface TuneReport {
  rows: number;
  cols: number;
  results: TuneResult[];
  chosen: { ternary: number; int: number; dense: number };
  /** one launch of ternary-f32 on a 4×32 matrix: the per-launch floor of back-to-back dependent dispatches */
  floor_ms: number;
  /** ternary-gemv (batch-1 int8) per (threads per workgroup, threads per row), and the pair chosen */
  gemv: { wg: number; tpr: number; median_ms: number }[];
  chosen_gemv: { wg: number; tpr: number } | null;
  /** shapes that could not be built on this device */
  gemv_failed?: { wg: number; tpr: number; error: string }[];
}

/** (threads per workgroup, threads per row) pairs tried for ternary-gemv by default */
export const GEMV_SHAPES: readonly { wg: number; tpr: number }[] = [
  { wg: 256, tpr: 32 },
  { wg: 256, tpr: 16 },
  { wg: 256, tpr: 64 },
  { wg: 128, tpr: 32 },
  { wg: 128, tpr: 16 },
  { wg: 64, tpr: 16 },
];

const MB = 1e6;

export async function tuneMatmulWorkgroups(be: WebGpuBackend, rows: number, cols: number, opts: { minTimeMs?: number; copies?: boolean; sizes?: readonly number[]; gemvShapes?: readonly { wg: number; tpr: number }[] } = {}): Promise<TuneReport> {
  const sizes = opts.sizes ?? MATMUL_WORKGROUPS;
  const gemvShapes = be.ctx.gemv === false ? [] : (opts.gemvShapes ?? GEMV_SHAPES);
  const wpr = Math.ceil(cols / 32);
  const t = randomTernary(rows, cols, 99);
  const dense = randomWeights(rows * cols, 98);
  const tc = opts.copies === false ? 1 : Math.max(1, Math.min(16, Math.ceil((256 * MB) / (rows * wpr * 8))));
  const dc = opts.copies === false ? 1 : Math.max(1, Math.min(4, Math.ceil((256 * MB) / (rows * cols * 4))));
  const tw: GpuTernary[] = [];
  for (let i = 0; i < tc; i++) tw.push(be.ternaryHandle(await be.uploadTernary(t), 'tune'));
  const dw: GpuDense[] = [];
  for (let i = 0; i < dc; i++) dw.push(be.denseHandle(await be.uploadDenseAs(dense, rows, cols, 'f32'), 'tune'));
  const x = randomWeights(cols, 97);
  const buf = (data: ArrayBufferView, label: string) => gpuBuffer(be.device, data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label);
  const xT = buf(stageF32(x, 1, cols, 32 * wpr), 'tune x (ternary layout)');
  const xD = buf(stageF32(x, 1, cols, 4 * Math.ceil(cols / 4)), 'tune x (dense layout)');
  const xQ = buf(stageI8(quantizeInt8PerToken(x, 1, cols).q, 1, cols, wpr), 'tune x int8');
  const y = be.device.createBuffer({ size: Math.max(16, rows * 4), usage: GPUBufferUsage.STORAGE });
  const tiny = be.ternaryHandle(await be.uploadTernary(randomTernary(4, 32, 96)), 'tune');
  const cases: (Case & { kernel: TuneResult['kernel']; wg: number })[] = [];
  const gcases: (Case & { wg: number; tpr: number })[] = [];
  const failed: { wg: number; tpr: number; error: string }[] = [];
  try {
    for (const wg of sizes) {
      // gemv off: these sizes are the row-block kernels' (ternary-int also runs every batch > 1)
      const ctx = { ...be.ctx, matmulWg: { ternary: wg, int: wg, dense: wg }, gemv: false as const };
      cases.push({ kernel: 'ternary-f32', wg, name: `ternary-f32 wg${wg}`, bytes: 0, copies: await Promise.all(tw.map((w) => ternaryF32(ctx, w, { x: xT, y, batch: 1 }))), reps: 1, samples: [] });
      cases.push({ kernel: 'ternary-i8', wg, name: `ternary-i8 wg${wg}`, bytes: 0, copies: await Promise.all(tw.map((w) => ternaryInt(ctx, w, 'int8', { x: xQ, y, batch: 1 }))), reps: 1, samples: [] });
      cases.push({ kernel: 'dense-f32', wg, name: `dense-f32 wg${wg}`, bytes: 0, copies: await Promise.all(dw.map((w) => denseMatmul(ctx, w, { x: xD, y, batch: 1 }))), reps: 1, samples: [] });
    }
    for (const g of gemvShapes) {
      const ctx = { ...be.ctx, gemv: { ...g } };
      if (!usesGemv(ctx, tw[0]!, 1)) break;
      try {
        gcases.push({ ...g, name: `ternary-gemv wg${g.wg}/tpr${g.tpr}`, bytes: 0, copies: await Promise.all(tw.map((w) => ternaryInt(ctx, w, 'int8', { x: xQ, y, batch: 1 }))), reps: 1, samples: [] });
      } catch (e) {
        failed.push({ ...g, error: (e as Error).message }); // a shape this device cannot build (workgroup memory, limits)
      }
    }
    const floor: Case = { name: 'floor', bytes: 0, copies: [await ternaryF32(be.ctx, tiny, { x: xT, y, batch: 1 })], reps: 1, samples: [] };
    await measureCases(be, [...cases, ...gcases, floor], opts.minTimeMs ?? 300);
    releaseDispatches(floor.copies.flat());
    const results = cases.map((c) => ({ kernel: c.kernel, wg: c.wg, median_ms: median(c.samples) }));
    const gemv = gcases.map((c) => ({ wg: c.wg, tpr: c.tpr, median_ms: median(c.samples) }));
    const g0 = [...gemv].sort((a, b) => a.median_ms - b.median_ms)[0];
    const chosen_gemv = g0 ? { wg: g0.wg, tpr: g0.tpr } : null;
    if (chosen_gemv) be.ctx.gemv = { ...chosen_gemv };
    const best = (k: TuneResult['kernel']) => results.filter((r) => r.kernel === k).sort((a, b) => a.median_ms - b.median_ms)[0]!.wg;
    const chosen = { ternary: best('ternary-f32'), int: best('ternary-i8'), dense: best('dense-f32') };
    be.ctx.matmulWg = { ...chosen };
    return { rows, cols, results, chosen, floor_ms: median(floor.samples), gemv, chosen_gemv, ...(failed.length ? { gemv_failed: failed } : {}) };
  } finally {
    for (const c of [...cases, ...gcases]) releaseDispatches(c.copies.flat());
    for (const h of [...tw, ...dw, tiny]) be.release(h);
    for (const b of [xT, xD, xQ, y]) b.destroy();
  }
}
