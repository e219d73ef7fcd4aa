/**
 * ggml-ternary — llama.cpp's ternary block formats, converted exactly to and from bit planes
 * (no float detour). Both use blocks of 256 weights with one f16 scale d (w = d·t), and the code
 * of a trit is c = t + 1 ∈ {0, 1, 2}. Checked against ggml-quants.c (quantize_row_tq{1,2}_0_ref,
 * dequantize_row_tq{1,2}_0).
 *
 * TQ2_0 (66 bytes = qs[64], d): for half h ∈ {0, 1}, byte m ∈ [0, 32), n ∈ [0, 4):
 *   weight 128h + 32n + m  has code (qs[32h + m] >> 2n) & 3          (code 3 is invalid)
 *
 * TQ1_0 (54 bytes = qs[48], qh[4], d): 5 trits per byte, most significant first, stored as
 * byte = ⌈q·256/243⌉ with q = Σ c_n·3^(4−n); trit n of a byte is ((byte·3^n mod 256)·3) >> 8.
 *   qs[m],      m ∈ [0, 32):  weights 32n + m            (n ∈ [0, 5))
 *   qs[32 + m], m ∈ [0, 16):  weights 160 + 16n + m      (n ∈ [0, 5))
 *   qh[j],      j ∈ [0, 4):   weights 240 + 4n + j       (n ∈ [0, 4); q has 4 trits, ×3)
 * In tritwise a row of k blocks becomes planes with groupSize 256, group scales d, row scale 1.
 */
import { TritwiseError } from '../errors.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { f16ToF32, f32ToF16 } from './half.js';

export const QK = 256;
export const TQ1_BYTES = 54;
export const TQ2_BYTES = 66;
const POW3 = [1, 3, 9, 27, 81, 243];

function checkBlocks(bytes: Uint8Array, rows: number, cols: number, per: number, what: string, where: string): void {
  if (cols % QK !== 0) throw new TritwiseError('E_FORMAT', `${what} rows must be whole 256-weight blocks`, { where, expected: 'cols a multiple of 256', got: cols });
  const want = rows * (cols / QK) * per;
  if (bytes.length < want) throw new TritwiseError('E_TRUNCATED', `${what} data too short`, { where, expected: `${want} bytes`, got: `${bytes.length} bytes` });
}

function setTrit(t: TernaryTensor, r: number, c: number, code: number): void {
  if (code === 1) return;
  const i = r * t.wordsPerRow + (c >>> 5);
  const bit = 1 << (c & 31);
  if (code === 2) t.plus[i]! |= bit;
  else t.minus[i]! |= bit;
}

function codeAt(t: TernaryTensor, r: number, c: number): number {
  const i = r * t.wordsPerRow + (c >>> 5);
  const bit = 1 << (c & 31);
  return t.plus[i]! & bit ? 2 : t.minus[i]! & bit ? 0 : 1;
}

function blockTensor(rows: number, cols: number): TernaryTensor {
  return TernaryTensor.zeros(rows, cols, { groupSize: QK });
}

export function tq2ToPlanes(bytes: Uint8Array, rows: number, cols: number, where = 'TQ2_0'): TernaryTensor {
  checkBlocks(bytes, rows, cols, TQ2_BYTES, 'TQ2_0', where);
  const t = blockTensor(rows, cols);
  const B = cols / QK;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < B; b++) {
      const o = (r * B + b) * TQ2_BYTES;
      for (let h = 0; h < 2; h++) {
        for (let m = 0; m < 32; m++) {
          const q = bytes[o + 32 * h + m]!;
          for (let n = 0; n < 4; n++) {
            const code = (q >> (2 * n)) & 3;
            if (code === 3) throw new TritwiseError('E_FORMAT', 'invalid TQ2_0 code 3 (not a trit)', { where: `${where} row ${r} block ${b}`, expected: 'codes 0, 1, 2', got: 3 });
            setTrit(t, r, b * QK + 128 * h + 32 * n + m, code);
          }
        }
      }
      t.groupScales![r * B + b] = f16ToF32(bytes[o + 64]! | (bytes[o + 65]! << 8));
    }
  }
  return t;
}

/** Trit n (0 = most significant) of a base-3 byte as packed by TQ1_0. */
function tq1Trit(byte: number, n: number): number {
  return (((byte * POW3[n]!) & 0xff) * 3) >> 8;
}

export function tq1ToPlanes(bytes: Uint8Array, rows: number, cols: number, where = 'TQ1_0'): TernaryTensor {
  checkBlocks(bytes, rows, cols, TQ1_BYTES, 'TQ1_0', where);
  const t = blockTensor(rows, cols);
  const B = cols / QK;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < B; b++) {
      const o = (r * B + b) * TQ1_BYTES;
      const c0 = b * QK;
      for (let m = 0; m < 32; m++) for (let n = 0; n < 5; n++) setTrit(t, r, c0 + 32 * n + m, tq1Trit(bytes[o + m]!, n));
      for (let m = 0; m < 16; m++) for (let n = 0; n < 5; n++) setTrit(t, r, c0 + 160 + 16 * n + m, tq1Trit(bytes[o + 32 + m]!, n));
      for (let j = 0; j < 4; j++) for (let n = 0; n < 4; n++) setTrit(t, r, c0 + 240 + 4 * n + j, tq1Trit(bytes[o + 48 + j]!, n));
      t.groupScales![r * B + b] = f16ToF32(bytes[o + 52]! | (bytes[o + 53]! << 8));
    }
  }
  return t;
}

/**
 * The f16 block scale of every 256-column block of `t` (row scale × group scale). Needs per-row
 * scales or groups that are a multiple of 256; returns null otherwise.
 */
export function blockScales(t: TernaryTensor): Float32Array | null {
  if (t.cols % QK !== 0) return null;
  if (t.groupSize !== 0 && t.groupSize % QK !== 0) return null;
  const B = t.cols / QK;
  const d = new Float32Array(t.rows * B);
  for (let r = 0; r < t.rows; r++) for (let b = 0; b < B; b++) d[r * B + b] = t.scaleAt(r, b * QK);
  return d;
}

function scaleF16(d: number, where: string): number {
  const h = f32ToF16(d);
  if ((h & 0x7c00) === 0x7c00) throw new TritwiseError('E_UNSUPPORTED', 'block scale does not fit in f16', { where, expected: '|d| ≤ 65504', got: d });
  return h;
}

export function planesToTq2(t: TernaryTensor, where = 'TQ2_0'): Uint8Array {
  const d = blockScales(t);
  if (!d) throw new TritwiseError('E_UNSUPPORTED', 'tensor cannot be written as TQ2_0', { where, expected: 'cols a multiple of 256 and groupSize 0 or a multiple of 256', got: `cols ${t.cols}, groupSize ${t.groupSize}` });
  const B = t.cols / QK;
  const out = new Uint8Array(t.rows * B * TQ2_BYTES);
  for (let r = 0; r < t.rows; r++) {
    for (let b = 0; b < B; b++) {
      const o = (r * B + b) * TQ2_BYTES;
      for (let h = 0; h < 2; h++) {
        for (let m = 0; m < 32; m++) {
          let q = 0;
          for (let n = 0; n < 4; n++) q |= codeAt(t, r, b * QK + 128 * h + 32 * n + m) << (2 * n);
          out[o + 32 * h + m] = q;
        }
      }
      const hbits = scaleF16(d[r * B + b]!, `${where} row ${r} block ${b}`);
      out[o + 64] = hbits & 0xff;
      out[o + 65] = hbits >> 8;
    }
  }
  return out;
}

/** ⌈q·256/243⌉: spreads the 243 base-3 values over the byte range (as ggml does). */
function packBase3(q: number): number {
  return Math.floor((q * 256 + 242) / 243);
}

export function planesToTq1(t: TernaryTensor, where = 'TQ1_0'): Uint8Array {
  const d = blockScales(t);
  if (!d) throw new TritwiseError('E_UNSUPPORTED', 'tensor cannot be written as TQ1_0', { where, expected: 'cols a multiple of 256 and groupSize 0 or a multiple of 256', got: `cols ${t.cols}, groupSize ${t.groupSize}` });
  const B = t.cols / QK;
  const out = new Uint8Array(t.rows * B * TQ1_BYTES);
  for (let r = 0; r < t.rows; r++) {
    for (let b = 0; b < B; b++) {
      const o = (r * B + b) * TQ1_BYTES;
      const c0 = b * QK;
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 5; n++) q = q * 3 + codeAt(t, r, c0 + 32 * n + m);
        out[o + m] = packBase3(q);
      }
      for (let m = 0; m < 16; m++) {
        let q = 0;
        for (let n = 0; n < 5; n++) q = q * 3 + codeAt(t, r, c0 + 160 + 16 * n + m);
        out[o + 32 + m] = packBase3(q);
      }
      for (let j = 0; j < 4; j++) {
        let q = 0;
        for (let n = 0; n < 4; n++) q = q * 3 + codeAt(t, r, c0 + 240 + 4 * n + j);
        out[o + 48 + j] = packBase3(q * 3);
      }
      const hbits = scaleF16(d[r * B + b]!, `${where} row ${r} block ${b}`);
      out[o + 52] = hbits & 0xff;
      out[o + 53] = hbits >> 8;
    }
  }
  return out;
}
