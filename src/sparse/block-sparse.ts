/**
 * block-sparse — only the chunks of each row that hold a nonzero trit are stored, as their bit
 * planes, with their chunk index. A chunk is `chunkWords` 32-trit words (chunk-map.ts).
 *
 *   rowPtr : Uint32Array, rows + 1. Row r's stored chunks are k ∈ [rowPtr[r], rowPtr[r+1]).
 *   chunk  : Uint16Array (when the chunk count per row fits 16 bits) or Uint32Array: chunk
 *            number of stored chunk k inside its row (ascending)
 *   plus, minus : Uint32Array, (stored chunks)·chunkWords words; word j of stored chunk k is word
 *            chunk[k]·chunkWords + j of the row (words past the row end are zero)
 *   scales, groupScales : as in TernaryTensor
 *
 * Bytes: 4·(rows+1) + live·(2 or 4) + live·chunkWords·8 + scales. It beats CSR when the
 * nonzeros cluster (a live chunk holds many of them), and dense planes when most chunks are empty.
 */
import { TritwiseError, firstNonFinite } from '../errors.js';
import { lastWordMask } from '../tensor/bits.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { chunkMap } from './chunk-map.js';

export interface BlockSparseTrits {
  readonly format: 'block-sparse';
  rows: number;
  cols: number;
  groupSize: number;
  chunkWords: number;
  rowPtr: Uint32Array;
  chunk: Uint16Array | Uint32Array;
  plus: Uint32Array;
  minus: Uint32Array;
  scales: Float32Array;
  groupScales: Float32Array | null;
  quantizer?: string;
}

export function blockSparseBytes(b: BlockSparseTrits): number {
  return b.rowPtr.byteLength + b.chunk.byteLength + b.plus.byteLength + b.minus.byteLength + b.scales.byteLength + (b.groupScales?.byteLength ?? 0);
}

export function toBlockSparse(t: TernaryTensor, opts: { chunkWords?: number } = {}): BlockSparseTrits {
  const B = opts.chunkWords ?? 1;
  const m = chunkMap(t, B);
  const wpr = t.wordsPerRow;
  const rowPtr = new Uint32Array(t.rows + 1);
  const chunk = m.chunksPerRow <= 65536 ? new Uint16Array(m.live) : new Uint32Array(m.live);
  const plus = new Uint32Array(m.live * B);
  const minus = new Uint32Array(m.live * B);
  let n = 0;
  for (let r = 0; r < t.rows; r++) {
    rowPtr[r] = n;
    for (let k = 0; k < m.chunksPerRow; k++) {
      if (((m.bits[r * m.maskWords + (k >>> 5)]! >>> (k & 31)) & 1) === 0) continue;
      chunk[n] = k;
      for (let j = 0; j < B && k * B + j < wpr; j++) {
        plus[n * B + j] = t.plus[r * wpr + k * B + j]!;
        minus[n * B + j] = t.minus[r * wpr + k * B + j]!;
      }
      n++;
    }
  }
  rowPtr[t.rows] = n;
  return { format: 'block-sparse', rows: t.rows, cols: t.cols, groupSize: t.groupSize, chunkWords: B, rowPtr, chunk, plus, minus, scales: t.scales.slice(), groupScales: t.groupScales?.slice() ?? null, quantizer: t.quantizer };
}

export function fromBlockSparse(b: BlockSparseTrits, where = 'block-sparse'): TernaryTensor {
  validateBlockSparse(b, where);
  const t = TernaryTensor.zeros(b.rows, b.cols, { groupSize: b.groupSize || undefined });
  t.scales.set(b.scales);
  if (b.groupScales) t.groupScales!.set(b.groupScales);
  t.quantizer = b.quantizer;
  const wpr = t.wordsPerRow;
  const B = b.chunkWords;
  for (let r = 0; r < b.rows; r++) {
    for (let k = b.rowPtr[r]!; k < b.rowPtr[r + 1]!; k++) {
      for (let j = 0; j < B && b.chunk[k]! * B + j < wpr; j++) {
        t.plus[r * wpr + b.chunk[k]! * B + j] = b.plus[k * B + j]!;
        t.minus[r * wpr + b.chunk[k]! * B + j] = b.minus[k * B + j]!;
      }
    }
  }
  return t;
}

/** Check every invariant of untrusted block-sparse data (see the header). */
export function validateBlockSparse(b: BlockSparseTrits, where = 'block-sparse'): void {
  const bad = (msg: string, w: string, expected: unknown, got: unknown): never => {
    throw new TritwiseError('E_FORMAT', msg, { where: `${where}${w}`, expected, got });
  };
  if (!Number.isSafeInteger(b.rows) || b.rows < 0 || !Number.isSafeInteger(b.cols) || b.cols < 0) bad('invalid shape', '', '[rows ≥ 0, cols ≥ 0]', [b.rows, b.cols]);
  const B = b.chunkWords;
  if (!Number.isInteger(B) || B < 1 || B > 1024) bad('invalid chunk size', '.chunk_words', '1 … 1024', B);
  const gs = b.groupSize;
  if (!(Number.isInteger(gs) && gs >= 0 && gs % 32 === 0)) bad('invalid group size', '.group_size', '0 or a multiple of 32', gs);
  const wpr = (b.cols + 31) >>> 5;
  const cpr = Math.ceil(wpr / B);
  const live = b.chunk.length;
  if (b.rowPtr.length !== b.rows + 1) bad('wrong row pointer length', '.row_ptr', b.rows + 1, b.rowPtr.length);
  if (b.rowPtr[0] !== 0 || b.rowPtr[b.rows] !== live) bad('row pointers must run from 0 to the chunk count', '.row_ptr', `0 … ${live}`, `${b.rowPtr[0]} … ${b.rowPtr[b.rows]}`);
  if (b.plus.length !== live * B || b.minus.length !== live * B) bad('wrong plane length', '.plus/.minus', live * B, `${b.plus.length}/${b.minus.length}`);
  if (b.scales.length !== b.rows) bad('wrong scales length', '.scales', b.rows, b.scales.length);
  const G = gs ? Math.ceil(b.cols / gs) : 1;
  if (gs && (!b.groupScales || b.groupScales.length !== b.rows * G)) bad('wrong group_scales length', '.group_scales', b.rows * G, b.groupScales?.length ?? 'none');
  for (const [n, a] of [['scales', b.scales], ['group_scales', b.groupScales]] as const) {
    if (!a) continue;
    const i = firstNonFinite(a);
    if (i >= 0) bad(`non-finite ${n}`, `.${n}[${i}]`, 'finite', a[i]);
  }
  const pad = lastWordMask(b.cols);
  for (let r = 0; r < b.rows; r++) {
    if (b.rowPtr[r + 1]! < b.rowPtr[r]!) bad('row pointers decrease', `.row_ptr[${r + 1}]`, `≥ ${b.rowPtr[r]}`, b.rowPtr[r + 1]);
    let prev = -1;
    for (let k = b.rowPtr[r]!; k < b.rowPtr[r + 1]!; k++) {
      const ch = b.chunk[k]!;
      if (ch <= prev || ch >= cpr) bad('chunk index out of order or out of range', ` row ${r} chunk[${k}]`, `ascending in [0, ${cpr})`, ch);
      prev = ch;
      for (let j = 0; j < B; j++) {
        const w = ch * B + j;
        const p = b.plus[k * B + j]!, m = b.minus[k * B + j]!;
        if ((p & m) !== 0) bad('plus & minus overlap', ` row ${r} word ${w}`, 0, (p & m) >>> 0);
        const valid = w < wpr - 1 ? -1 : w === wpr - 1 ? pad : 0;
        if (((p | m) & ~valid) !== 0) bad('bits past the last column', ` row ${r} word ${w}`, 0, ((p | m) & ~valid) >>> 0);
      }
    }
  }
}
