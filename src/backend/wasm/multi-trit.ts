/**
 * multi-trit — the wasm backend's host side for multi-trit weights (src/kernels/multi.ts).
 *
 * Upload builds, once, the interleaved codes layout: every plane is converted to 2-bit codes
 * (planesToCodes, as for one plane) and its 16-byte blocks are interleaved so that the d planes of
 * 64 columns sit side by side (interleaveCodes). Row and group scales go in as [d][rows] and
 * [d][rows][G] f32. A call stages the activations exactly as the single-plane kernels do
 * (permuteF32 for f32; padGroups8 + blockSumsI8 for int8) and runs one kernel for all planes.
 * The WasmBackend methods call these with its heap, kernels, pool and scratch buffers.
 */
import { TritwiseError } from '../../errors.js';
import type { MultiTritTensor } from '../../tensor/multi-trit-tensor.js';
import type { MultiTritWeights } from '../backend.js';
import type { Heap, Scratch } from './heap.js';
import { CODE_BLOCK } from './layouts.js';
import type { KernelExports } from './module.js';
import type { WorkerPool } from './pool.js';

export interface MultiContext {
  heap: Heap;
  k: KernelExports;
  pool: WorkerPool;
  raw: Scratch;
  act: Scratch;
  sums: Scratch;
  out: Scratch;
  /** the f32 multiplier table (initF32Table) */
  table: number;
  parallel(rows: number, cols: number, batch: number): boolean;
}

interface WasmMulti extends MultiTritWeights {
  gc: number;
  nblk: number;
  codes: number;
  scales: number;
  gscales: number;
  released: boolean;
}

export function uploadMulti(ctx: MultiContext, m: MultiTritTensor): MultiTritWeights {
  const { heap, k } = ctx;
  const gc = m.groupSize || m.cols;
  const G = m.planes[0]!.groupsPerRow;
  const nblk = Math.ceil(gc / CODE_BLOCK);
  const d = m.depth;
  const blocks = m.rows * G * nblk;
  const codes = heap.alloc(blocks * d * 16, 'multi-trit codes');
  const tmp = heap.alloc(blocks * 16, 'codes (one plane)');
  const words = Math.max(m.planes[0]!.plus.length, 1) * 4;
  const plus = heap.alloc(words, 'planes');
  const minus = heap.alloc(words, 'planes');
  m.planes.forEach((t, p) => {
    heap.u32.set(t.plus, plus >>> 2);
    heap.u32.set(t.minus, minus >>> 2);
    k.planesToCodes(plus, minus, tmp, m.rows, m.cols, t.wordsPerRow, gc, G, nblk);
    k.interleaveCodes(tmp, codes, blocks, d, p);
  });
  heap.free(plus);
  heap.free(minus);
  heap.free(tmp);
  const scales = heap.alloc(Math.max(d * m.rows, 1) * 4, 'multi-trit row scales');
  m.planes.forEach((t, p) => heap.f32.set(t.scales, (scales >>> 2) + p * m.rows));
  let gscales = 0;
  if (m.groupSize) {
    gscales = heap.alloc(Math.max(d * m.rows * G, 1) * 4, 'multi-trit group scales');
    m.planes.forEach((t, p) => heap.f32.set(t.groupScales!, (gscales >>> 2) + p * m.rows * G));
  }
  const h: WasmMulti = { kind: 'multitrit', backend: 'wasm', rows: m.rows, cols: m.cols, depth: d, groupSize: m.groupSize, groups: G, tensor: m, gc, nblk, codes, scales, gscales, released: false };
  return h;
}

function live(w: MultiTritWeights, where: string): WasmMulti {
  const h = w as WasmMulti;
  if (w.backend !== 'wasm' || w.kind !== 'multitrit' || h.released || h.codes === undefined) {
    throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where, expected: 'a handle from wasm.uploadMultiTrit', got: `${w.backend} ${w.kind}${h.released ? ' (released)' : ''}` });
  }
  return h;
}

function checkCall(have: number, want: number, batch: number, out: { length: number } | undefined, n: number, where: string): void {
  if (!Number.isInteger(batch) || batch < 0) throw new TritwiseError('E_ARG', 'invalid batch', { where, expected: 'an integer ≥ 0', got: batch });
  if (have < want) throw new TritwiseError('E_SHAPE', 'activations too short', { where, expected: want, got: have });
  if (out && out.length < n) throw new TritwiseError('E_SHAPE', 'output buffer too short', { where, expected: n, got: out.length });
}

export async function multiF32(ctx: MultiContext, w: MultiTritWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
  const where = 'wasm.matmulMultiF32';
  const h = live(w, where);
  const n = batch * h.rows;
  checkCall(x.length, batch * h.cols, batch, out, n, where);
  const { heap, k } = ctx;
  const outPtr = ctx.out.ensure(n * 4);
  const raw = ctx.raw.ensure(batch * h.cols * 4);
  heap.f32.set(x.subarray(0, batch * h.cols), raw >>> 2);
  const xp = ctx.act.ensure(batch * h.groups * h.nblk * 64 * 4);
  k.permuteF32(raw, xp, batch, h.cols, h.gc, h.groups, h.nblk);
  await ctx.pool.run('multiF32', [h.codes, h.nblk, h.groups, h.depth, xp, batch, ctx.table, h.scales, h.gscales, outPtr, h.rows], h.rows, ctx.parallel(h.rows, h.cols * h.depth, batch));
  const y = out ?? new Float32Array(n);
  y.set(heap.f32.subarray(outPtr >>> 2, (outPtr >>> 2) + n));
  return y;
}

export async function multiI8(ctx: MultiContext, w: MultiTritWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
  const where = 'wasm.matmulMultiI8';
  const h = live(w, where);
  const n = batch * h.rows * h.depth * h.groups;
  checkCall(q.length, batch * h.cols, batch, out, n, where);
  const { heap, k } = ctx;
  const outPtr = ctx.out.ensure(n * 4);
  const raw = ctx.raw.ensure(batch * h.cols);
  heap.i8.set(q.subarray(0, batch * h.cols), raw);
  let x = raw;
  if (!(h.groups === 1 && h.cols === h.nblk * 64)) {
    x = ctx.act.ensure(batch * h.groups * h.nblk * 64);
    k.padGroups8(raw, x, batch, h.cols, h.gc, h.groups, h.nblk);
  }
  const sums = ctx.sums.ensure(batch * h.groups * h.nblk * 4);
  k.blockSumsI8(x, batch, h.groups, h.nblk, sums);
  await ctx.pool.run('multiI8', [h.codes, h.nblk, h.groups, h.depth, x, batch, sums, outPtr, h.rows], h.rows, ctx.parallel(h.rows, h.cols * h.depth, batch));
  const y = out ?? new Int32Array(n);
  y.set(heap.i32.subarray(outPtr >>> 2, (outPtr >>> 2) + n));
  return y;
}

export function releaseMulti(heap: Heap, w: MultiTritWeights): void {
  const h = w as WasmMulti;
  if (h.released) return;
  h.released = true;
  heap.free(h.codes);
  heap.free(h.scales);
  if (h.gscales) heap.free(h.gscales);
}
