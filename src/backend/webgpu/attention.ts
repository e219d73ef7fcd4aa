/**
 * attention — the GPU attention launches of one layer's decode step, one row per `--attention`
 * mode (nn/attention-modes.ts), all reading the new token's rotated q and the f32 KV cache that
 * rope-kv.wgsl fills, and writing out[nHeads·d]:
 *
 *   exact      attention.wgsl                     one workgroup per head, f32 softmax
 *   flash      attention-flash.wgsl main + merge  keys split over workgroups of FLASH_SPLIT keys,
 *                                                 tiles of 64 with the online softmax, then the
 *                                                 log-sum-exp merge of the splits
 *   ternary    trits.wgsl (k row → trit K cache, q heads → trits) + attention-ternary.wgsl MODE 0
 *   topk:K     … MODE 1 (radix select of the k best popcount scores, exact f32 attention over them)
 *   topk:t=τ   … MODE 2 (threshold on the popcount scores)
 * The ternary modes keep a trit K cache beside the f32 one: per (position, kv head) a record of
 * D·(2W + 1) u32 (D trit planes of 2W words, then D f32 scales), written once when the key is
 * made, as the CPU's TernaryKeyTables does. Every launch reads the position from the decoder's
 * per-step uniform (binding 7).
 */
/// <reference types="@webgpu/types" />
import { TritwiseError } from '../../errors.js';
import type { AttentionMode } from '../../nn/attention-modes.js';
import { makeDispatch, type Dispatch, type KernelContext } from './dispatch.js';

/** Keys per flash workgroup (a multiple of the 64-key tile). */
export const FLASH_SPLIT = 256;
/** Largest head dimension the attention shaders hold in registers. */
export const MAX_HEAD_DIM = 256;

export interface GpuAttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** sliding window (0 = all positions) */
  window: number;
  /** cache positions */
  length: number;
}

/** Buffer sizes a mode needs: scratch floats (all heads) and trit-cache / query-trit words. */
export function attentionSizes(mode: AttentionMode, s: GpuAttentionShape, split = FLASH_SPLIT): { scratch: number; keyTrits: number; queryTrits: number } {
  const d = s.headDim;
  if (mode.kind === 'flash') return { scratch: s.nHeads * Math.ceil(s.length / split) * (d + 2), keyTrits: 0, queryTrits: 0 };
  if (mode.kind === 'exact') return { scratch: s.nHeads * s.length, keyTrits: 0, queryTrits: 0 };
  const D = mode.depth ?? 1;
  const R = D * (2 * Math.ceil(d / 32) + 1);
  return { scratch: s.nHeads * s.length, keyTrits: s.length * s.nKvHeads * R, queryTrits: s.nHeads * R };
}

export interface AttentionIO {
  q: GPUBuffer;
  kc: GPUBuffer;
  vc: GPUBuffer;
  scratch: GPUBuffer;
  out: GPUBuffer;
  /** the per-step uniform (pos first) */
  step: GPUBuffer;
  /** trit K cache and query trits (ternary / top-k modes) */
  keyTrits?: GPUBuffer;
  queryTrits?: GPUBuffer;
}

/** The launches of one layer's attention, to encode after rope-kv. */
export async function attentionLaunches(ctx: KernelContext, mode: AttentionMode, s: GpuAttentionShape, io: AttentionIO, split = FLASH_SPLIT): Promise<Dispatch[]> {
  const d = s.headDim;
  const kvDim = s.nKvHeads * d;
  const scale = { f: Math.fround(1 / Math.sqrt(d)) };
  const step = { 7: io.step };
  if (mode.kind !== 'exact' && d > MAX_HEAD_DIM) throw new TritwiseError('E_UNSUPPORTED', 'head dimension too large for the GPU attention kernels', { where: `webgpu attention (${mode.kind})`, expected: `headDim ≤ ${MAX_HEAD_DIM}`, got: d });
  if (mode.kind === 'exact') return [await makeDispatch(ctx, { shader: 'attention' }, [s.nHeads, s.nKvHeads, d, kvDim, s.window, s.length, scale], [io.q, io.kc, io.vc, io.scratch, io.out], [s.nHeads, 1, 1], step)];
  if (mode.kind === 'flash') {
    if (!(split >= 64 && split % 64 === 0)) throw new TritwiseError('E_ARG', 'flash split must be a multiple of 64', { where: 'webgpu flash attention', expected: '64, 128, …', got: split });
    const maxSplits = Math.ceil(s.length / split);
    const params = [s.nHeads, s.nKvHeads, d, kvDim, s.window, split, maxSplits, scale];
    return [
      await makeDispatch(ctx, { shader: 'attention-flash' }, params, [io.q, io.kc, io.vc, io.scratch, null], [s.nHeads, maxSplits, 1], step),
      await makeDispatch(ctx, { shader: 'attention-flash', entry: 'merge' }, params, [null, null, null, io.scratch, io.out], [s.nHeads, 1, 1], step),
    ];
  }
  if (!io.keyTrits || !io.queryTrits) throw new TritwiseError('E_ARG', 'ternary attention needs trit buffers', { where: `webgpu attention (${mode.kind})`, expected: 'keyTrits and queryTrits', got: 'none' });
  const D = mode.depth ?? 1;
  const W = Math.ceil(d / 32);
  const m = mode.kind === 'ternary' ? 0 : mode.threshold !== undefined ? 2 : 1;
  const k = mode.kind === 'topk' ? (mode.k ?? 32) : 0;
  const recent = mode.kind === 'topk' ? (mode.recent ?? 0) : 0;
  const tau = mode.kind === 'topk' ? (mode.threshold ?? 0) : 0;
  return [
    await makeDispatch(ctx, { shader: 'trits' }, [s.nKvHeads, d, D, W, 1], [io.kc, io.keyTrits], [Math.ceil(s.nKvHeads / 64), 1, 1], step),
    await makeDispatch(ctx, { shader: 'trits' }, [s.nHeads, d, D, W, 0], [io.q, io.queryTrits], [Math.ceil(s.nHeads / 64), 1, 1], step),
    await makeDispatch(ctx, { shader: 'attention-ternary', constants: { MODE: m } }, [s.nHeads, s.nKvHeads, d, kvDim, s.window, s.length, scale, D, W, k, recent, { f: tau }], [io.q, io.kc, io.vc, io.scratch, io.out, io.keyTrits], [s.nHeads, 1, 1], { ...step, 8: io.queryTrits }),
  ];
}
