/**
 * codecs — compact byte encodings of trits, converted exactly to and from bit planes.
 *
 *   codes2  4 trits per byte, 2 bits each: code = t + 1 ∈ {0, 1, 2}; trit i of a row sits in bits
 *           2(i%4)..2(i%4)+1 of byte ⌊i/4⌋.  2 bits per trit; easy to expand with shifts/LUTs.
 *   base3   5 trits per byte: byte = Σ_{i<5} (t_i + 1)·3^i ∈ [0, 242].  1.6 bits per trit, the
 *           densest whole-byte packing (3^5 = 243 ≤ 256).
 * Rows are encoded independently (each padded to whole bytes), so rows can be sliced.
 */
import { TritwiseError } from '../errors.js';
import { TernaryTensor } from './ternary-tensor.js';

export interface PackedTrits {
  rows: number;
  cols: number;
  bytesPerRow: number;
  data: Uint8Array;
}

function tritOf(t: TernaryTensor, r: number, c: number): number {
  const i = r * t.wordsPerRow + (c >>> 5);
  const bit = 1 << (c & 31);
  return t.plus[i]! & bit ? 1 : t.minus[i]! & bit ? -1 : 0;
}

export function encodeCodes2(t: TernaryTensor): PackedTrits {
  const bpr = Math.ceil(t.cols / 4);
  const data = new Uint8Array(t.rows * bpr);
  for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.cols; c++) data[r * bpr + (c >>> 2)]! |= (tritOf(t, r, c) + 1) << ((c & 3) * 2);
  return { rows: t.rows, cols: t.cols, bytesPerRow: bpr, data };
}

export function decodeCodes2(p: PackedTrits): TernaryTensor {
  const bpr = Math.ceil(p.cols / 4);
  checkPacked(p, bpr, 'codes2');
  const trits = new Int8Array(p.rows * p.cols);
  for (let r = 0; r < p.rows; r++) {
    for (let c = 0; c < p.cols; c++) {
      const code = (p.data[r * bpr + (c >>> 2)]! >>> ((c & 3) * 2)) & 3;
      if (code === 3) throw new TritwiseError('E_FORMAT', 'invalid 2-bit trit code', { where: `codes2 row ${r} col ${c}`, expected: '0, 1 or 2', got: 3 });
      trits[r * p.cols + c] = code - 1;
    }
  }
  return TernaryTensor.fromTrits(trits, p.rows, p.cols);
}

export function encodeBase3(t: TernaryTensor): PackedTrits {
  const bpr = Math.ceil(t.cols / 5);
  const data = new Uint8Array(t.rows * bpr);
  for (let r = 0; r < t.rows; r++) {
    for (let b = 0; b < bpr; b++) {
      let v = 0;
      for (let i = 4; i >= 0; i--) {
        const c = b * 5 + i;
        v = v * 3 + (c < t.cols ? tritOf(t, r, c) + 1 : 1);
      }
      data[r * bpr + b] = v;
    }
  }
  return { rows: t.rows, cols: t.cols, bytesPerRow: bpr, data };
}

export function decodeBase3(p: PackedTrits): TernaryTensor {
  const bpr = Math.ceil(p.cols / 5);
  checkPacked(p, bpr, 'base3');
  const trits = new Int8Array(p.rows * p.cols);
  for (let r = 0; r < p.rows; r++) {
    for (let b = 0; b < bpr; b++) {
      let v = p.data[r * bpr + b]!;
      if (v > 242) throw new TritwiseError('E_FORMAT', 'invalid base-3 byte', { where: `base3 row ${r} byte ${b}`, expected: '0..242', got: v });
      for (let i = 0; i < 5; i++) {
        const c = b * 5 + i;
        if (c < p.cols) trits[r * p.cols + c] = (v % 3) - 1;
        v = Math.floor(v / 3);
      }
    }
  }
  return TernaryTensor.fromTrits(trits, p.rows, p.cols);
}

function checkPacked(p: PackedTrits, bpr: number, what: string): void {
  if (p.bytesPerRow !== bpr || p.data.length !== p.rows * bpr) {
    throw new TritwiseError('E_SHAPE', `${what} data does not match shape`, { where: what, expected: `${p.rows}×${bpr} bytes`, got: `${p.data.length} bytes (${p.bytesPerRow}/row)` });
  }
}
