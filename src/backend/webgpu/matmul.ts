/**
 * matmul — launches of the matrix kernels (shaders ternary-f32, ternary-int, ternary-gemv, dense),
 * one per weight shard. Integer products at batch 1 on weights with one scale per row and an even
 * word count run ternary-gemv (many threads per row, one memory round trip); the rest ternary-int. `x` holds the activations in the kernel's layout (see stage* below), `y` the
 * output: f32 [batch, outStride] for ternary-f32/dense (rows of a shard land at its row0),
 * i32 [batch, rows, groups] accumulators for ternary-int.
 */
/// <reference types="@webgpu/types" />
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import { TritwiseError } from '../../errors.js';
import { makeDispatch, type Binding, type Dispatch, type KernelContext } from './dispatch.js';
import { ROWS_PER_WG, type GpuDense, type GpuTernary } from './weights.js';

/** tokens per workgroup (the kernels' T: 1 for a GEMV, else 4) and scale groups per workgroup (ternary-int's GC) */
const tokensPerWg = (batch: number) => (batch === 1 ? 1 : 4);
const GROUPS_PER_WG = 64;

export interface MatmulIO {
  x: Binding;
  y: Binding;
  batch: number;
  /** y += W·x instead of y = W·x (f32 outputs) */
  accumulate?: boolean;
  /** output row stride (default: the weight's rows) */
  outStride?: number;
}

const wgs = (n: number, per: number) => Math.ceil(n / per);

export function ternaryF32(ctx: KernelContext, w: GpuTernary, io: MatmulIO): Promise<Dispatch[]> {
  return Promise.all(
    w.shards.map((s) =>
      makeDispatch(ctx, { shader: 'ternary-f32', variant: `wg${ctx.matmulWg?.ternary ?? 64}/t${tokensPerWg(io.batch)}` }, [s.rows, w.wpr, w.groups, w.wpg, io.batch, w.nzWords, s.row0, io.outStride ?? w.rows, io.accumulate ? 1 : 0, 8 * w.wpr], [s.planes, s.scales, s.nz, io.x, io.y], [wgs(s.rows, ROWS_PER_WG), wgs(io.batch, tokensPerWg(io.batch)), 1]),
    ),
  );
}

/** Default ternary-gemv shape: 256 threads per workgroup, 64 per row (4 rows per workgroup), the fastest on an H200 (bench:gpu tuning, 27 Nov). */
export const GEMV_DEFAULT = { wg: 256, tpr: 64 } as const;
/** most vec4 loads one ternary-gemv thread keeps in flight per pass (registers) */
const GEMV_MAX_V = 16;

/**
 * A valid ternary-gemv shape: 64/128/256 threads per workgroup, 8/16/32/64 threads per row, and
 * ≥ 4 rows per workgroup, which keeps a shard (≤ 4·maxWorkgroups rows, weights.ts) in one dispatch.
 */
export function checkGemvShape(g: { wg: number; tpr: number }, where: string): { wg: number; tpr: number } {
  if (![64, 128, 256].includes(g.wg) || ![8, 16, 32, 64].includes(g.tpr) || g.wg / g.tpr < 4) {
    throw new TritwiseError('E_ARG', 'unsupported ternary-gemv shape', { where, expected: 'wg 64 | 128 | 256 threads, tpr 8 | 16 | 32 | 64 threads per row, wg/tpr ≥ 4', got: `wg ${g.wg}, tpr ${g.tpr}` });
  }
  return g;
}

/** Whether ternaryInt runs the batch-1 GEMV kernel for this weight and batch. */
export function usesGemv(ctx: KernelContext, w: GpuTernary, batch: number): boolean {
  return ctx.gemv !== false && batch === 1 && w.groups === 1 && w.wpr % 2 === 0;
}

export function ternaryInt(ctx: KernelContext, w: GpuTernary, mode: 'int8' | 'ternary', io: MatmulIO): Promise<Dispatch[]> {
  if (usesGemv(ctx, w, io.batch)) return ternaryGemv(ctx, w, mode, io);
  return Promise.all(
    w.shards.map((s) =>
      makeDispatch(
        ctx,
        { shader: 'ternary-int', variant: `wg${ctx.matmulWg?.int ?? 64}/t${tokensPerWg(io.batch)}`, constants: { MODE: mode === 'int8' ? 0 : 1 } },
        [s.rows, w.wpr, w.groups, w.wpg, io.batch, w.nzWords, s.row0, io.outStride ?? w.rows, (mode === 'int8' ? 8 : 2) * w.wpr],
        [s.planes, s.nz, io.x, io.y],
        [wgs(s.rows, ROWS_PER_WG), wgs(io.batch, tokensPerWg(io.batch)), wgs(w.groups, GROUPS_PER_WG)],
      ),
    ),
  );
}

/** acc[row0 + r] = Σ_c t[r,c]·x[c] by ternary-gemv (batch 1, one scale per row, even wpr). */
function ternaryGemv(ctx: KernelContext, w: GpuTernary, mode: 'int8' | 'ternary', io: MatmulIO): Promise<Dispatch[]> {
  return gemvLaunches(ctx, w, mode, 'main', (s) => [s.planes, s.nz, io.x, io.y], 0);
}

/**
 * ternary-gemv with the dequantization fused (entry `fused`): y[row0 + r] (+)= rs[r]·gs[r]·acc[r]·xs[0],
 * as ternaryInt followed by dequant.wgsl's MODE 0. Only where usesGemv holds.
 */
export function ternaryGemvFused(ctx: KernelContext, w: GpuTernary, mode: 'int8' | 'ternary', io: { x: Binding; xs: Binding; y: Binding; accumulate: boolean }): Promise<Dispatch[]> {
  if (!usesGemv(ctx, w, 1)) throw new TritwiseError('E_UNSUPPORTED', 'fused GEMV needs batch 1, one scale per row and an even word count', { where: 'webgpu ternaryGemvFused', expected: 'a weight usesGemv accepts', got: `${w.rows}×${w.cols}, ${w.groups} groups, ${w.wpr} words per row` });
  return gemvLaunches(ctx, w, mode, 'fused', (s) => [s.planes, s.nz, io.x, null, s.scales, io.xs, io.y], io.accumulate ? 1 : 0);
}

function gemvLaunches(ctx: KernelContext, w: GpuTernary, mode: 'int8' | 'ternary', entry: 'main' | 'fused', bind: (s: GpuTernary['shards'][number]) => (Binding | null)[], accumulate: number): Promise<Dispatch[]> {
  const { wg, tpr } = checkGemvShape(ctx.gemv || GEMV_DEFAULT, 'webgpu gemv option');
  const vpr = w.wpr / 2;
  const v = Math.max(1, Math.min(GEMV_MAX_V, Math.ceil(vpr / tpr)));
  return Promise.all(
    w.shards.map((s) =>
      makeDispatch(ctx, { shader: 'ternary-gemv', entry, variant: `wg${wg}/tpr${tpr}/v${v}`, constants: { MODE: mode === 'int8' ? 0 : 1, SKIP: w.zeroBlocks ? 1 : 0 } }, [s.rows, vpr, w.nzWords, s.row0, accumulate], bind(s), [wgs(s.rows, wg / tpr), 1, 1]),
    ),
  );
}

export function denseMatmul(ctx: KernelContext, w: GpuDense, io: MatmulIO): Promise<Dispatch[]> {
  return Promise.all(
    w.shards.map((s) =>
      makeDispatch(ctx, { shader: 'dense', variant: `${w.dtype}/wg${ctx.matmulWg?.dense ?? 64}/t${tokensPerWg(io.batch)}` }, [s.rows, w.cs, io.batch, s.row0, io.outStride ?? w.rows, io.accumulate ? 1 : 0], [s.data, io.x, io.y], [wgs(s.rows, ROWS_PER_WG), wgs(io.batch, tokensPerWg(io.batch)), 1]),
    ),
  );
}

/** f32 activations [batch, cols] → [batch, width] (zero padded), width = 32·wpr or 4·cs. */
export function stageF32(x: Float32Array, batch: number, cols: number, width: number): Float32Array {
  if (width === cols) return x.length === batch * cols ? x : x.subarray(0, batch * cols);
  const out = new Float32Array(batch * width);
  for (let b = 0; b < batch; b++) out.set(x.subarray(b * cols, (b + 1) * cols), b * width);
  return out;
}

/** int8 activations [batch, cols] → bytes [batch, 32·wpr] (zero padded), 4 per u32. */
export function stageI8(q: Int8Array, batch: number, cols: number, wpr: number): Uint8Array {
  const width = 32 * wpr;
  const out = new Uint8Array(batch * width);
  const src = new Uint8Array(q.buffer, q.byteOffset, batch * cols);
  for (let b = 0; b < batch; b++) out.set(src.subarray(b * cols, (b + 1) * cols), b * width);
  return out;
}

/** ternary activations → (plus, minus) word pairs [batch, wpr]. */
export function stageTernary(u: TernaryTensor): Uint32Array {
  const n = u.rows * u.wordsPerRow;
  const out = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = u.plus[i]!;
    out[2 * i + 1] = u.minus[i]!;
  }
  return out;
}
