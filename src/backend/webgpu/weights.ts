/**
 * weights — the GPU layouts of uploaded weights. Uploaded once; kernels only read them.
 *
 * Ternary [rows, cols], wpr = ⌈cols/32⌉ words per row:
 *   planes  vec2<u32>[rows·wpr]        (plus, minus) of each 32-column word, interleaved so one
 *                                      8-byte load brings both planes
 *   scales  f32[rows + rows·groups]    row scales rs, then group scales gs (all 1 without groups)
 *   nz      u32[rows·nzWords]          bit b of row r: block b (64 words = 2048 columns) holds a
 *                                      nonzero trit — kernels skip the others (zero-chunk skipping)
 * Dense [rows, cols]: f32 (or f16) rows padded to whole vec4s.
 *
 * A weight larger than the device's maxStorageBufferBindingSize (128 MiB on many adapters; a
 * 32000×1536 f32 output head is 197 MB) is cut into shards of whole rows, each in its own
 * buffers; a kernel runs once per shard and writes its rows at `row0` of the output.
 *
 * Multi-trit weights (W = Σ_p T_p, d planes with their own row and group scales) are d ternary
 * uploads of the layout above; the matrix kernels run once per plane, adding into one output.
 */
/// <reference types="@webgpu/types" />
import { f32ToF16 } from '../../io/half.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import type { MultiTritTensor } from '../../tensor/multi-trit-tensor.js';
import type { DenseWeights, MultiTritWeights, TernaryWeights } from '../backend.js';

/** words per zero-skipping block (the kernels' BLOCK) */
export const NZ_BLOCK = 64;
/** rows per workgroup in the matmul kernels (their R) */
export const ROWS_PER_WG = 4;

export interface TernaryShard {
  row0: number;
  rows: number;
  planes: GPUBuffer;
  scales: GPUBuffer;
  nz: GPUBuffer;
}

export interface GpuTernary extends TernaryWeights {
  wpr: number;
  /** words per scale group (wpr without group scales) */
  wpg: number;
  nzWords: number;
  /** some block of 64 words is all zeros (kernels with optional skipping only test nz bits then) */
  zeroBlocks: boolean;
  shards: TernaryShard[];
  released: boolean;
}

export interface GpuMulti extends MultiTritWeights {
  planes: GpuTernary[];
  released: boolean;
}

export interface DenseShard {
  row0: number;
  rows: number;
  data: GPUBuffer;
}

export interface GpuDense extends DenseWeights {
  /** vec4s per row */
  cs: number;
  dtype: 'f32' | 'f16';
  shards: DenseShard[];
  released: boolean;
}

export interface ShardLimits {
  /** bytes one binding may cover (device maxStorageBufferBindingSize, or smaller for tests) */
  maxBindingBytes: number;
  /** workgroups per dispatch dimension (device maxComputeWorkgroupsPerDimension) */
  maxWorkgroups: number;
}

/** Rows per shard so that every buffer of a shard fits one binding. */
export function shardRows(rows: number, bytesPerRow: number, lim: ShardLimits): number {
  const byBytes = Math.max(1, Math.floor(lim.maxBindingBytes / Math.max(4, bytesPerRow)));
  return Math.max(1, Math.min(rows, byBytes, lim.maxWorkgroups * ROWS_PER_WG));
}

export function gpuBuffer(device: GPUDevice, data: ArrayBufferView, usage: number, label: string): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
  const b = device.createBuffer({ label, size, usage, mappedAtCreation: true });
  new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  b.unmap();
  return b;
}

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;

export function uploadTernary(device: GPUDevice, t: TernaryTensor, lim: ShardLimits): GpuTernary {
  const wpr = t.wordsPerRow;
  const G = t.groupsPerRow;
  const wpg = t.groupSize ? t.groupSize / 32 : Math.max(1, wpr);
  const nBlocks = Math.ceil(wpr / NZ_BLOCK);
  const nzWords = Math.max(1, Math.ceil(nBlocks / 32));
  const per = shardRows(t.rows, Math.max(wpr * 8, (1 + G) * 4), lim);
  const shards: TernaryShard[] = [];
  let zeroBlocks = false;
  for (let row0 = 0; row0 < t.rows; row0 += per) {
    const rows = Math.min(per, t.rows - row0);
    const planes = new Uint32Array(rows * wpr * 2);
    const nz = new Uint32Array(rows * nzWords);
    for (let r = 0; r < rows; r++) {
      const src = (row0 + r) * wpr;
      for (let w = 0; w < wpr; w++) {
        const p = t.plus[src + w]!;
        const m = t.minus[src + w]!;
        planes[2 * (r * wpr + w)] = p;
        planes[2 * (r * wpr + w) + 1] = m;
        if ((p | m) !== 0) {
          const b = Math.floor(w / NZ_BLOCK);
          nz[r * nzWords + (b >>> 5)]! |= 1 << (b & 31);
        }
      }
      for (let b = 0; b < nBlocks && !zeroBlocks; b++) zeroBlocks = ((nz[r * nzWords + (b >>> 5)]! >>> (b & 31)) & 1) === 0;
    }
    const scales = new Float32Array(rows + rows * G);
    scales.set(t.scales.subarray(row0, row0 + rows));
    if (t.groupScales) scales.set(t.groupScales.subarray(row0 * G, (row0 + rows) * G), rows);
    else scales.fill(1, rows);
    const label = `ternary ${t.rows}×${t.cols} rows ${row0}..${row0 + rows}`;
    shards.push({ row0, rows, planes: gpuBuffer(device, planes, STORAGE(), `${label} planes`), scales: gpuBuffer(device, scales, STORAGE(), `${label} scales`), nz: gpuBuffer(device, nz, STORAGE(), `${label} nz`) });
  }
  return { kind: 'ternary', backend: 'webgpu', rows: t.rows, cols: t.cols, groupSize: t.groupSize, groups: G, tensor: t, wpr, wpg, nzWords, zeroBlocks, shards, released: false };
}

export function uploadDense(device: GPUDevice, w: Float32Array, rows: number, cols: number, lim: ShardLimits, dtype: 'f32' | 'f16' = 'f32'): GpuDense {
  const cs = Math.max(1, Math.ceil(cols / 4));
  const esize = dtype === 'f16' ? 2 : 4;
  const per = shardRows(rows, cs * 4 * esize, lim);
  const shards: DenseShard[] = [];
  for (let row0 = 0; row0 < rows; row0 += per) {
    const n = Math.min(per, rows - row0);
    let data: ArrayBufferView;
    if (dtype === 'f32') {
      const a = new Float32Array(n * cs * 4);
      for (let r = 0; r < n; r++) a.set(w.subarray((row0 + r) * cols, (row0 + r + 1) * cols), r * cs * 4);
      data = a;
    } else {
      const a = new Uint16Array(n * cs * 4);
      for (let r = 0; r < n; r++) for (let c = 0; c < cols; c++) a[r * cs * 4 + c] = f32ToF16(w[(row0 + r) * cols + c]!);
      data = a;
    }
    shards.push({ row0, rows: n, data: gpuBuffer(device, data, STORAGE(), `dense ${rows}×${cols} ${dtype} rows ${row0}..${row0 + n}`) });
  }
  return { kind: 'dense', backend: 'webgpu', rows, cols, cs, dtype, shards, released: false };
}

export function uploadMulti(device: GPUDevice, m: MultiTritTensor, lim: ShardLimits): GpuMulti {
  const planes = m.planes.map((t) => uploadTernary(device, t, lim));
  return { kind: 'multitrit', backend: 'webgpu', rows: m.rows, cols: m.cols, depth: m.depth, groupSize: m.groupSize, groups: planes[0]?.groups ?? 1, tensor: m, planes, released: false };
}

export function destroyWeights(w: GpuTernary | GpuDense | GpuMulti): void {
  if (w.kind === 'multitrit') for (const p of (w as GpuMulti).planes) destroyWeights(p);
  else if (w.kind === 'ternary') for (const s of (w as GpuTernary).shards) (s.planes.destroy(), s.scales.destroy(), s.nz.destroy());
  else for (const s of (w as GpuDense).shards) s.data.destroy();
}
