/**
 * chunk-map — which chunks of each row hold any nonzero trit.
 *
 * A chunk is `chunkWords` consecutive 32-trit words of one row (1 = one word, 2 = 64 trits, 4 =
 * 128 trits, …). Bit k of a row's bitmap is set iff chunk k holds a nonzero:
 *
 *   live(r, k) = OR_{w ∈ [k·B, min((k+1)·B, wordsPerRow))} (plus[r,w] | minus[r,w]) ≠ 0
 *
 * The word bitmap (B = 1) is TernaryTensor.nonzeroWordMask(), which the tensor keeps exact under
 * lens edits (set) and whole-row edits (setRow, clearRow) and rebuilds for row operations that
 * make a new tensor (sliceRows, permuteRows, stackTernaryRows). Larger chunks are derived from it
 * here, so they are exact whenever it is. `chunkMapFromPlanes` recomputes from the planes alone;
 * the property tests compare the two after random edits.
 */
import { TritwiseError } from '../errors.js';
import { popcount32, wordsFor } from '../tensor/bits.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';

export interface ChunkMap {
  /** words per chunk */
  chunkWords: number;
  /** chunks per row = ceil(wordsPerRow / chunkWords) */
  chunksPerRow: number;
  /** bitmap words per row = ceil(chunksPerRow / 32) */
  maskWords: number;
  /** rows × maskWords */
  bits: Uint32Array;
  /** number of live chunks (all rows) */
  live: number;
}

function checkChunk(chunkWords: number): void {
  if (!Number.isInteger(chunkWords) || chunkWords < 1) throw new TritwiseError('E_ARG', 'invalid chunk size', { where: 'chunkMap', expected: 'an integer ≥ 1 (words of 32 trits)', got: chunkWords });
}

function emptyMap(t: TernaryTensor, chunkWords: number): ChunkMap {
  const chunksPerRow = Math.ceil(t.wordsPerRow / chunkWords);
  const maskWords = wordsFor(chunksPerRow);
  return { chunkWords, chunksPerRow, maskWords, bits: new Uint32Array(t.rows * maskWords), live: 0 };
}

/** The chunk bitmap, derived from the tensor's cached (edit-exact) word bitmap. */
export function chunkMap(t: TernaryTensor, chunkWords = 1): ChunkMap {
  checkChunk(chunkWords);
  const m = emptyMap(t, chunkWords);
  const wm = t.nonzeroWordMask();
  const mwpr = wordsFor(t.wordsPerRow);
  for (let r = 0; r < t.rows; r++) {
    for (let i = 0; i < mwpr; i++) {
      let x = wm[r * mwpr + i]!;
      while (x !== 0) {
        const b = 31 - Math.clz32(x & -x);
        x &= x - 1;
        const k = Math.floor((i * 32 + b) / chunkWords);
        m.bits[r * m.maskWords + (k >>> 5)]! |= 1 << (k & 31);
      }
    }
  }
  for (let i = 0; i < m.bits.length; i++) m.live += popcount32(m.bits[i]!);
  return m;
}

/** The same bitmap recomputed from the planes alone (the ground truth for tests). */
export function chunkMapFromPlanes(t: TernaryTensor, chunkWords = 1): ChunkMap {
  checkChunk(chunkWords);
  const m = emptyMap(t, chunkWords);
  const wpr = t.wordsPerRow;
  for (let r = 0; r < t.rows; r++) {
    for (let k = 0; k < m.chunksPerRow; k++) {
      let any = 0;
      for (let w = k * chunkWords; w < Math.min(wpr, (k + 1) * chunkWords); w++) any |= t.plus[r * wpr + w]! | t.minus[r * wpr + w]!;
      if (any !== 0) {
        m.bits[r * m.maskWords + (k >>> 5)]! |= 1 << (k & 31);
        m.live++;
      }
    }
  }
  return m;
}

export function chunkMapsEqual(a: ChunkMap, b: ChunkMap): boolean {
  if (a.chunkWords !== b.chunkWords || a.bits.length !== b.bits.length || a.live !== b.live) return false;
  for (let i = 0; i < a.bits.length; i++) if (a.bits[i] !== b.bits[i]) return false;
  return true;
}

/** The statistics the format chooser reads: counts of nonzeros and of live chunks. */
export interface SparsityStats {
  rows: number;
  cols: number;
  nnz: number;
  /** nonzero fraction nnz / (rows·cols) (1 for an empty tensor) */
  density: number;
  /** live 32-trit words */
  liveWords: number;
  /** live 64-trit chunks (the codes kernel's skip unit) */
  live64: number;
  /** scale groups per row (1 without group scales): CSR keeps two lists per row and group */
  groups?: number;
  /** columns per scale group (0 or absent: none) */
  groupSize?: number;
}

export function sparsityStats(t: TernaryTensor): SparsityStats {
  let nnz = 0;
  for (let r = 0; r < t.rows; r++) nnz += t.rowNnz(r);
  const n = t.rows * t.cols;
  return { rows: t.rows, cols: t.cols, nnz, density: n ? nnz / n : 1, liveWords: chunkMap(t, 1).live, live64: chunkMap(t, 2).live, groups: t.groupsPerRow, groupSize: t.groupSize };
}
