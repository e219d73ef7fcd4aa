/**
 * layouts — repacking a TernaryTensor's bit planes, once, into the layouts the kernels read.
 *
 *   codes   (ternary×int8, ternary×f32)  2 bits per trit, code t+1, 64 trits per 16-byte block,
 *           byte j of a block = columns 16m + j at bits 2m (see src/kernels/ternary-i8.ts)
 *   blocks  (ternary×ternary)            128 trits per 32-byte block: [nz = w⁺|w⁻][neg = w⁻]
 *   signs   (ternary×ternary, weights with no zeros, e.g. a VSA item memory of dense bipolar
 *           vectors)                       128 trits per 16-byte block: the sign bits w⁻ only
 *   lut     (ternary×int8 without zero skipping) 4-bit pair indices, 16 rows per 16-byte vector
 *           (src/kernels/lut-i8.ts), and the group scales transposed to [G][rows padded to 16]
 *   sparse  (all three, for mostly-zero weights) per row and group, u16 (u32 past 65536 columns)
 *           column lists of the +1s and the −1s with u32 offsets: CSR of trits
 *           (src/sparse/csr.ts, src/kernels/sparse.ts)
 *   block-sparse (ternary×int8, ternary×f32) only the nonzero 32-trit words with their word
 *           index per row (src/sparse/block-sparse.ts, src/kernels/sparse-blocks.ts)
 *
 * Every row is cut into G scale groups of gc columns (gc = groupSize, or cols without group
 * scales); each group is zero-padded to whole blocks, so a block never straddles two groups.
 * Zero skipping: a per-row bitmap with one bit per block, derived from the tensor's
 * nonzeroWordMask(), is kept when at least 1/16 of the blocks are all zero (otherwise the
 * unmasked loop is faster); the sparse lists take over below a density threshold per kernel.
 */
import { toBlockSparse } from '../../sparse/block-sparse.js';
import { toCsr } from '../../sparse/csr.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import type { Heap } from './heap.js';
import type { KernelExports } from './module.js';

export interface GroupShape {
  /** columns per scale group */
  gc: number;
  /** groups per row */
  G: number;
}

export interface BlockLayout {
  ptr: number;
  /** blocks per group */
  nblk: number;
  /** per-row bitmap of non-zero blocks (0: none, every block is visited) */
  mask: number;
  maskWords: number;
  zeroBlockFraction: number;
}

export interface SparseLayout {
  offs: number;
  idx: number;
  nnz: number;
  /** u32 indices (cols > 65536) */
  wide: boolean;
  bytes: number;
}

export function groupShape(t: TernaryTensor): GroupShape {
  return { gc: t.groupSize || t.cols, G: t.groupsPerRow };
}

/** Codes are 64 trits per block, blocks 128. */
export const CODE_BLOCK = 64;
export const PLANE_BLOCK = 128;

/** Copy both planes into the heap (caller frees). */
function stagePlanes(heap: Heap, t: TernaryTensor): { plus: number; minus: number } {
  const n = t.plus.length;
  const plus = heap.alloc(n * 4, 'planes');
  const minus = heap.alloc(n * 4, 'planes');
  heap.u32.set(t.plus, plus >>> 2);
  heap.u32.set(t.minus, minus >>> 2);
  return { plus, minus };
}

/** Per row, one bit per block: whether any of its words holds a nonzero trit (from the tensor's word bitmap). */
function blockLiveness(t: TernaryTensor, { gc, G }: GroupShape, nblk: number, blockWords: number): { words: Uint32Array; maskWords: number; zeroBlockFraction: number } {
  const maskWords = Math.ceil((G * nblk) / 32);
  const words = new Uint32Array(t.rows * maskWords);
  const wm = t.nonzeroWordMask();
  const mwpr = Math.ceil(t.wordsPerRow / 32);
  let zero = 0;
  for (let r = 0; r < t.rows; r++) {
    for (let g = 0; g < G; g++) {
      const gw0 = (g * gc) >>> 5;
      const gw1 = Math.min(t.wordsPerRow, Math.ceil((g * gc + Math.min(gc, t.cols - g * gc)) / 32));
      for (let k = 0; k < nblk; k++) {
        let live = false;
        for (let w = gw0 + k * blockWords; w < Math.min(gw1, gw0 + (k + 1) * blockWords) && !live; w++) live = ((wm[r * mwpr + (w >>> 5)]! >>> (w & 31)) & 1) === 1;
        const kb = g * nblk + k;
        if (live) words[r * maskWords + (kb >>> 5)]! |= 1 << (kb & 31);
        else zero++;
      }
    }
  }
  const total = t.rows * G * nblk;
  return { words, maskWords, zeroBlockFraction: total ? zero / total : 0 };
}

/** Below this fraction of all-zero blocks a bitmap costs more than it skips. */
const MASK_MIN_ZERO_FRACTION = 1 / 16;

/** The block bitmap, kept only when enough blocks are all zero. */
function blockMask(heap: Heap, t: TernaryTensor, shape: GroupShape, nblk: number, blockWords: number): { mask: number; maskWords: number; zeroBlockFraction: number } {
  const { words, maskWords, zeroBlockFraction } = blockLiveness(t, shape, nblk, blockWords);
  if (zeroBlockFraction < MASK_MIN_ZERO_FRACTION || words.length === 0) return { mask: 0, maskWords: 0, zeroBlockFraction };
  const mask = heap.alloc(words.byteLength, 'block mask');
  heap.u32.set(words, mask >>> 2);
  return { mask, maskWords, zeroBlockFraction };
}

/** Whether the codes layout would skip blocks (then the masked codes kernel beats the lut one). */
export function skipsBlocks(t: TernaryTensor): boolean {
  const shape = groupShape(t);
  return blockLiveness(t, shape, Math.ceil(shape.gc / CODE_BLOCK), CODE_BLOCK / 32).zeroBlockFraction >= MASK_MIN_ZERO_FRACTION;
}

export interface LutLayout {
  ptr: number;
  /** quads (4 columns) per group */
  nq: number;
  /** row blocks of 16 */
  blocks: number;
  /** group scales transposed to [G][blocks·16] (0 without group scales) */
  gsT: number;
}

export function buildLut(heap: Heap, k: KernelExports, t: TernaryTensor): LutLayout {
  const { gc, G } = groupShape(t);
  const nq = Math.ceil(gc / 4);
  const blocks = Math.ceil(t.rows / 16);
  const ptr = heap.alloc(blocks * G * nq * 16, 'lut');
  const p = stagePlanes(heap, t);
  k.planesToLut(p.plus, p.minus, ptr, t.rows, t.cols, t.wordsPerRow, gc, G, nq);
  heap.free(p.plus);
  heap.free(p.minus);
  return { ptr, nq, blocks, gsT: transposedGroupScales(heap, t, blocks) };
}

export interface Lut3Layout {
  ptr: number;
  /** triples per group (lut3Triples) */
  nt: number;
  /** row blocks of 16 */
  blocks: number;
  /** the per-(group, padded row) i32 corrections, [G][blocks·16] (bias of the flushes, negative triples) */
  corr: number;
  /** group scales transposed to [G][blocks·16] (0 without group scales) */
  gsT: number;
}

/** Triples with a sign bit (kernels/lut3-i8.ts): the int8 layout, 2.67 bits per weight. */
export function buildLut3(heap: Heap, k: KernelExports, t: TernaryTensor): Lut3Layout {
  const { gc, G } = groupShape(t);
  const nt = k.lut3Triples(gc);
  const blocks = Math.ceil(t.rows / 16);
  const ptr = heap.alloc(Math.max(blocks * G * nt * 16, 16), 'lut3');
  const corr = heap.alloc(Math.max(blocks * 16 * G * 4, 4), 'lut3 corrections');
  const p = stagePlanes(heap, t);
  k.planesToLut3(p.plus, p.minus, ptr, corr, t.rows, t.cols, t.wordsPerRow, gc, G, nt);
  heap.free(p.plus);
  heap.free(p.minus);
  return { ptr, nt, blocks, corr, gsT: transposedGroupScales(heap, t, blocks) };
}

/** Group scales transposed to [G][blocks·16] for the 16-row lookup kernels (0 without group scales). */
function transposedGroupScales(heap: Heap, t: TernaryTensor, blocks: number): number {
  if (!t.groupScales) return 0;
  const G = t.groupsPerRow;
  const R = blocks * 16;
  const gsT = heap.alloc(G * R * 4, 'transposed group scales');
  const f = heap.f32;
  f.fill(0, gsT >>> 2, (gsT >>> 2) + G * R);
  for (let r = 0; r < t.rows; r++) for (let g = 0; g < G; g++) f[(gsT >>> 2) + g * R + r] = t.groupScales[r * G + g]!;
  return gsT;
}

/** `skip` false: no block bitmap, every block is visited (the dense-planes baseline). */
export function buildCodes(heap: Heap, k: KernelExports, t: TernaryTensor, skip = true): BlockLayout {
  const shape = groupShape(t);
  const nblk = Math.ceil(shape.gc / CODE_BLOCK);
  const ptr = heap.alloc(t.rows * shape.G * nblk * 16, 'codes');
  const p = stagePlanes(heap, t);
  k.planesToCodes(p.plus, p.minus, ptr, t.rows, t.cols, t.wordsPerRow, shape.gc, shape.G, nblk);
  heap.free(p.plus);
  heap.free(p.minus);
  if (!skip) return { ptr, nblk, mask: 0, maskWords: 0, zeroBlockFraction: blockLiveness(t, shape, nblk, CODE_BLOCK / 32).zeroBlockFraction };
  return { ptr, nblk, ...blockMask(heap, t, shape, nblk, CODE_BLOCK / 32) };
}

export function buildBlocks(heap: Heap, k: KernelExports, t: TernaryTensor): BlockLayout {
  const shape = groupShape(t);
  const nblk = Math.ceil(shape.gc / PLANE_BLOCK);
  const ptr = heap.alloc(t.rows * shape.G * nblk * 32, 'blocks');
  const p = stagePlanes(heap, t);
  k.planesToBlocks(p.plus, p.minus, ptr, t.rows, t.cols, t.wordsPerRow, shape.gc, shape.G, nblk);
  heap.free(p.plus);
  heap.free(p.minus);
  return { ptr, nblk, ...blockMask(heap, t, shape, nblk, PLANE_BLOCK / 32) };
}

/** Signs layout (every trit of `t` is ±1): the minus plane cut into 16-byte blocks per group. */
export function buildSigns(heap: Heap, k: KernelExports, t: TernaryTensor): BlockLayout {
  const shape = groupShape(t);
  const nblk = Math.ceil(shape.gc / PLANE_BLOCK);
  const ptr = heap.alloc(t.rows * shape.G * nblk * 16, 'signs');
  const minus = heap.alloc(t.minus.length * 4, 'planes');
  heap.u32.set(t.minus, minus >>> 2);
  k.planesToSigns(minus, ptr, t.rows, t.cols, t.wordsPerRow, shape.gc, shape.G, nblk);
  heap.free(minus);
  return { ptr, nblk, mask: 0, maskWords: 0, zeroBlockFraction: 0 };
}

/**
 * Column lists of the +1s and −1s per (row, group): src/sparse/csr.ts's CsrTrits copied into the
 * heap as is (u16 indices when cols ≤ 65536, else u32: `wide`).
 */
export function buildSparse(heap: Heap, t: TernaryTensor): SparseLayout {
  const c = toCsr(t);
  const offsPtr = heap.alloc(c.offs.byteLength, 'sparse offsets');
  heap.u32.set(c.offs, offsPtr >>> 2);
  const idxPtr = heap.alloc(Math.max(c.idx.byteLength, 4), 'sparse indices');
  if (c.idx instanceof Uint16Array) heap.u16.set(c.idx, idxPtr >>> 1);
  else heap.u32.set(c.idx, idxPtr >>> 2);
  return { offs: offsPtr, idx: idxPtr, nnz: c.idx.length, wide: c.idx instanceof Uint32Array, bytes: c.offs.byteLength + c.idx.byteLength };
}

/**
 * Padded CSR (src/kernels/sparse.ts csrPad*): one +1 list and one −1 list per row (no group
 * scales), entries are byte offsets col·esz (esz 4 for f32, and for int8 or ternary activations
 * widened to i32 (csrPadI32), which share the f32 lists and column blocks; esz 1 for int8 rows
 * too wide to stage as i32: csrPadI8)
 * and every list is padded to a multiple of 8 with the offset cols·esz of the zero staged past
 * the activation row. Exists when (cols + 1)·esz fits the fixed staging area (CSR_X_BYTES).
 * With `blocks` > 1 (esz 4 only: src/sparse/cost-model.ts csrColumnBlocks) each row's lists are
 * split into column blocks of ⌈cols / blocks⌉ columns, stored block-major: the list pair of the
 * p-th row in block k starts at offs[(k·rows + p)·2].
 *
 * Rows are stored in `perm` order, not in matrix order: sorted by the lengths of their padded
 * lists (block 0's +1 list, then its −1 list, then block 1's, …), so consecutive rows run their
 * loops for the same number of iterations and the loop exits stop being mispredicted. The
 * kernels write the sums of the p-th stored row to output row perm[p]. One thread, kernel alone,
 * load 12: 4096×4096 at 95 % zeros 1.03–1.14× faster (f32 and int8), 4096×11008 at 95 % 1.05–1.09×
 * and at 99 % 1.08–1.11×; rows whose lists all have the same length were 1.15× faster than
 * random lengths at 95 % (docs/sparsity.md).
 */
export interface PadSparseLayout {
  offs: number;
  idx: number;
  /** stored entries, padding included */
  entries: number;
  esz: 1 | 4;
  /** column blocks (1: one list pair per row) */
  blocks: number;
  /** u32 per stored row: the output row it belongs to (rows sorted by list lengths) */
  perm: number;
  bytes: number;
}

/** Bytes [CSR_X, 65536) below the heap hold one staged activation row (src/kernels/sparse.ts). */
export const CSR_X = 8192;
export const CSR_X_BYTES = 65536 - CSR_X;

export function padSparseFits(t: TernaryTensor, esz: 1 | 4): boolean {
  return t.groupsPerRow === 1 && (t.cols + 1) * esz <= CSR_X_BYTES;
}

/**
 * The padded lists on the host (offs in entries, idx byte offsets, rows in `perm` order), before
 * they go to the heap.
 */
export function padSparseLists(t: TernaryTensor, esz: 1 | 4, blocks = 1): { offs: Uint32Array; idx: Uint16Array; perm: Uint32Array } {
  const c = toCsr(t, { indexBits: 16 });
  const lists = t.rows * 2;
  const cb = Math.ceil(t.cols / blocks);
  // cut[k·lists + i]: where list i's entries of column block k start in c.idx (sorted lists)
  const cut = new Uint32Array((blocks + 1) * lists);
  for (let i = 0; i < lists; i++) {
    let j = c.offs[i]!;
    const e = c.offs[i + 1]!;
    for (let k = 0; k < blocks; k++) {
      cut[k * lists + i] = j;
      while (j < e && c.idx[j]! < (k + 1) * cb) j++;
    }
    cut[blocks * lists + i] = e;
  }
  // padded length of list i (row r, sign s: i = 2r + s) in block k
  const len = (k: number, i: number) => (cut[(k + 1) * lists + i]! - cut[k * lists + i]! + 7) & ~7;
  const perm = new Uint32Array(t.rows);
  for (let r = 0; r < t.rows; r++) perm[r] = r;
  perm.sort((a, b) => {
    for (let k = 0; k < blocks; k++)
      for (let s = 0; s < 2; s++) {
        const d = len(k, 2 * a + s) - len(k, 2 * b + s);
        if (d !== 0) return d;
      }
    return a - b;
  });
  const offs = new Uint32Array(blocks * lists + 1);
  let n = 0;
  for (let k = 0; k < blocks; k++)
    for (let p = 0; p < t.rows; p++)
      for (let s = 0; s < 2; s++) {
        offs[k * lists + 2 * p + s] = n;
        n += len(k, 2 * perm[p]! + s);
      }
  offs[blocks * lists] = n;
  const idx = new Uint16Array(Math.max(n, 2)).fill(t.cols * esz);
  for (let k = 0; k < blocks; k++)
    for (let p = 0; p < t.rows; p++)
      for (let s = 0; s < 2; s++) {
        const i = 2 * perm[p]! + s;
        for (let a = cut[k * lists + i]!, e = cut[(k + 1) * lists + i]!, j = offs[k * lists + 2 * p + s]!; a < e; a++, j++) idx[j] = c.idx[a]! * esz;
      }
  return { offs, idx, perm };
}

export function buildPadSparse(heap: Heap, t: TernaryTensor, esz: 1 | 4, blocks = 1): PadSparseLayout {
  const { offs, idx, perm } = padSparseLists(t, esz, blocks);
  const offsPtr = heap.alloc(offs.byteLength, 'padded sparse offsets');
  heap.u32.set(offs, offsPtr >>> 2);
  const idxPtr = heap.alloc(idx.byteLength, 'padded sparse indices');
  heap.u16.set(idx, idxPtr >>> 1);
  const permPtr = heap.alloc(Math.max(perm.byteLength, 4), 'padded sparse row order');
  heap.u32.set(perm, permPtr >>> 2);
  return { offs: offsPtr, idx: idxPtr, entries: offs[offs.length - 1]!, esz, blocks, perm: permPtr, bytes: offs.byteLength + idx.byteLength + perm.byteLength };
}

/**
 * Row lists for grouped weights (src/kernels/sparse.ts csrGroupI8): per row, the +1 columns of all
 * groups in one ascending list, then the −1 columns (u16 column numbers, unpadded). Exists when
 * the group size is a power of two (the kernel finds an entry's group as col >> sh).
 */
export interface RowSparseLayout {
  offs: number;
  idx: number;
  /** log2 of the group size */
  sh: number;
  bytes: number;
}

export function rowSparseFits(t: TernaryTensor): boolean {
  const gc = t.groupSize;
  return t.groupsPerRow > 1 && t.cols <= 65536 && gc > 0 && (gc & (gc - 1)) === 0;
}

export function buildRowSparse(heap: Heap, t: TernaryTensor): RowSparseLayout {
  const c = toCsr(t, { indexBits: 16 });
  const G = c.G;
  const offs = new Uint32Array(t.rows * 2 + 1);
  const idx = new Uint16Array(Math.max(c.idx.length, 2));
  let n = 0;
  for (let r = 0; r < t.rows; r++)
    for (let s = 0; s < 2; s++) {
      offs[r * 2 + s] = n;
      for (let g = 0; g < G; g++) {
        const i = (r * G + g) * 2 + s;
        for (let k = c.offs[i]!; k < c.offs[i + 1]!; k++) idx[n++] = c.idx[k]!;
      }
    }
  offs[t.rows * 2] = n;
  const offsPtr = heap.alloc(offs.byteLength, 'row sparse offsets');
  heap.u32.set(offs, offsPtr >>> 2);
  const idxPtr = heap.alloc(idx.byteLength, 'row sparse indices');
  heap.u16.set(idx, idxPtr >>> 1);
  return { offs: offsPtr, idx: idxPtr, sh: 31 - Math.clz32(t.groupSize), bytes: offs.byteLength + idx.byteLength };
}

export interface BlockSparseLayout {
  rowPtr: number;
  /** word index per stored word (u16, or u32 when `wide`) */
  widx: number;
  wide: boolean;
  plus: number;
  minus: number;
  live: number;
  bytes: number;
}

/** Block-sparse words (src/sparse/block-sparse.ts with one-word chunks) copied into the heap. */
export function buildBlockSparse(heap: Heap, t: TernaryTensor): BlockSparseLayout {
  const b = toBlockSparse(t, { chunkWords: 1 });
  const live = b.chunk.length;
  const rowPtr = heap.alloc(b.rowPtr.byteLength, 'block-sparse row pointers');
  heap.u32.set(b.rowPtr, rowPtr >>> 2);
  const widx = heap.alloc(Math.max(b.chunk.byteLength, 4), 'block-sparse word indices');
  if (b.chunk instanceof Uint16Array) heap.u16.set(b.chunk, widx >>> 1);
  else heap.u32.set(b.chunk, widx >>> 2);
  const plus = heap.alloc(Math.max(live, 1) * 4, 'block-sparse plus');
  const minus = heap.alloc(Math.max(live, 1) * 4, 'block-sparse minus');
  heap.u32.set(b.plus, plus >>> 2);
  heap.u32.set(b.minus, minus >>> 2);
  return { rowPtr, widx, wide: b.chunk instanceof Uint32Array, plus, minus, live, bytes: b.rowPtr.byteLength + b.chunk.byteLength + b.plus.byteLength + b.minus.byteLength };
}

/** Fraction of nonzero trits. */
export function density(t: TernaryTensor): number {
  if (t.rows * t.cols === 0) return 1;
  let nnz = 0;
  for (let r = 0; r < t.rows; r++) nnz += t.rowNnz(r);
  return nnz / (t.rows * t.cols);
}
