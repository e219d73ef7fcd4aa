/**
 * cell-trytes — packed storage of a tryte whose depth varies by input column or by output row
 * (sub-layer depths, quant/grids.ts CellDepths): only the trits each weight has are stored.
 *
 * A tensor of depth D with a column map d_c keeps, for weight (r, c), the top d_c digits of its
 * D-digit integer (digits D − d_c … D − 1; the lower ones are zero by construction); with a row
 * map d_r, the bottom d_r digits (digits 0 … d_r − 1). A row's stored trits are laid out column by
 * column, least significant kept digit first, and packed 5 per byte in base 3 with code t + 1, as
 * trytes.ts does:
 *
 *   trits of row r:  T_r = Σ_c d_c (column map)  or  cols·d_r (row map)
 *   bytes of row r:  ⌈T_r / 5⌉, rows one after the other (padding trits are zero, code 1)
 *
 * so the stored size is Σ_r ⌈T_r/5⌉ bytes: 1.6 bits per kept trit, plus the map, packed at
 * b = ⌈log2(D + 1)⌉ bits per column or row (D ≤ 3: 2 bits), least significant bits first. Unpacking checks every byte, padding trit and dropped digit, and
 * gives the same planes as the full tryte (MultiTritTensor.fromIntegers).
 */
import { TritwiseError } from '../errors.js';
import { balancedDigits, MultiTritTensor } from './multi-trit-tensor.js';

export interface PackedCellTrytes {
  rows: number;
  cols: number;
  depth: number;
  groupSize: number;
  byColumn: boolean;
  /** depth of every column (byColumn) or row */
  cellDepths: Uint8Array;
  scales: Float32Array;
  groupScales: Float32Array | null;
  data: Uint8Array;
}

/** Which digits of the D-digit integer cell depth d keeps: [lowest, highest + 1). */
function keptDigits(D: number, d: number, byColumn: boolean): [number, number] {
  return byColumn ? [D - d, D] : [0, d];
}

/** Bytes of every row. */
export function cellRowBytes(rows: number, cols: number, map: Uint8Array, byColumn: boolean): Int32Array {
  const out = new Int32Array(rows);
  const colTrits = byColumn ? map.reduce((a, b) => a + b, 0) : 0;
  for (let r = 0; r < rows; r++) out[r] = Math.ceil((byColumn ? colTrits : cols * map[r]!) / 5);
  return out;
}

/** Pack a tryte-form tensor that carries columnDepths or rowDepths. */
export function packCellTrytes(m: MultiTritTensor): PackedCellTrytes {
  const map = m.columnDepths ?? m.rowDepths;
  if (m.form !== 'tryte' || !map) throw new TritwiseError('E_UNSUPPORTED', 'cell trytes need a tryte with a column or row depth map', { where: 'packCellTrytes', expected: 'tryte form with columnDepths or rowDepths', got: m.form });
  const byColumn = !!m.columnDepths;
  const { rows, cols, depth: D } = m;
  const n = m.toIntegers();
  const rb = cellRowBytes(rows, cols, map, byColumn);
  const data = new Uint8Array(rb.reduce((a, b) => a + b, 0));
  const digits = new Int8Array(D);
  const trits: number[] = [];
  let o = 0;
  for (let r = 0; r < rows; r++) {
    trits.length = 0;
    for (let c = 0; c < cols; c++) {
      const [k0, k1] = keptDigits(D, map[byColumn ? c : r]!, byColumn);
      balancedDigits(n[r * cols + c]!, D, digits);
      for (let k = 0; k < k0; k++) if (digits[k] !== 0) throw new TritwiseError('E_INVARIANT', 'a dropped digit is not zero', { where: `packCellTrytes[${r},${c}]`, expected: `digits below ${k0} zero`, got: n[r * cols + c] });
      for (let k = k0; k < k1; k++) trits.push(digits[k]!);
      if (!byColumn) for (let k = k1; k < D; k++) if (digits[k] !== 0) throw new TritwiseError('E_INVARIANT', 'a dropped digit is not zero', { where: `packCellTrytes[${r},${c}]`, expected: `digits from ${k1} zero`, got: n[r * cols + c] });
    }
    for (let j = 0; j < rb[r]!; j++) {
      let v = 0;
      for (let q = 4; q >= 0; q--) v = v * 3 + (trits[j * 5 + q] ?? 0) + 1;
      data[o++] = v;
    }
  }
  const p0 = m.planes[0]!;
  return { rows, cols, depth: D, groupSize: m.groupSize, byColumn, cellDepths: map.slice(), scales: p0.scales.slice(), groupScales: p0.groupScales?.slice() ?? null, data };
}

/** Unpack (the exact inverse of packCellTrytes); checks the map, every byte and padding trit. */
export function unpackCellTrytes(p: PackedCellTrytes, where = 'cell trytes'): MultiTritTensor {
  const { rows, cols, depth: D, byColumn, cellDepths: map } = p;
  if (map.length !== (byColumn ? cols : rows)) throw new TritwiseError('E_SHAPE', 'depth map does not match the shape', { where, expected: byColumn ? cols : rows, got: map.length });
  for (let i = 0; i < map.length; i++) {
    if (!(map[i]! <= D && (byColumn || map[i]! >= 1))) throw new TritwiseError('E_FORMAT', 'invalid cell depth', { where: `${where}: ${byColumn ? 'column' : 'row'} ${i}`, expected: `${byColumn ? 0 : 1}..${D}`, got: map[i] });
  }
  const rb = cellRowBytes(rows, cols, map, byColumn);
  const total = rb.reduce((a, b) => a + b, 0);
  if (p.data.length !== total) throw new TritwiseError('E_SHAPE', 'cell tryte data does not match the depth map', { where, expected: `${total} bytes`, got: `${p.data.length} bytes` });
  const n = new Int32Array(rows * cols);
  let o = 0;
  const trits: number[] = [];
  for (let r = 0; r < rows; r++) {
    trits.length = 0;
    for (let j = 0; j < rb[r]!; j++) {
      let v = p.data[o++]!;
      if (v > 242) throw new TritwiseError('E_FORMAT', 'invalid base-3 byte', { where: `${where} row ${r} byte ${j}`, expected: '0..242', got: v });
      for (let q = 0; q < 5; q++) {
        trits.push((v % 3) - 1);
        v = (v - (v % 3)) / 3;
      }
    }
    let i = 0;
    for (let c = 0; c < cols; c++) {
      const [k0, k1] = keptDigits(D, map[byColumn ? c : r]!, byColumn);
      let v = 0;
      for (let k = k0; k < k1; k++) v += trits[i++]! * 3 ** k;
      n[r * cols + c] = v;
    }
    for (; i < trits.length; i++) if (trits[i] !== 0) throw new TritwiseError('E_FORMAT', 'padding trit is not zero', { where: `${where} row ${r}`, expected: 'code 1', got: trits[i]! + 1 });
  }
  const m = MultiTritTensor.fromIntegers(n, rows, cols, D, { scales: p.scales, groupSize: p.groupSize, groupScales: p.groupScales ?? undefined });
  if (byColumn) m.columnDepths = map.slice();
  else m.rowDepths = map.slice();
  return m;
}

/** Bits per entry of a packed depth map for tensors of depth D. */
export function mapBitsPerEntry(D: number): number {
  return Math.ceil(Math.log2(D + 1));
}

/** Pack a depth map at mapBitsPerEntry(D) bits per entry, least significant first. */
export function packDepthMap(map: Uint8Array, D: number): Uint8Array {
  const b = mapBitsPerEntry(D);
  const out = new Uint8Array(Math.ceil((map.length * b) / 8));
  for (let i = 0; i < map.length; i++) for (let k = 0; k < b; k++) if ((map[i]! >> k) & 1) out[(i * b + k) >> 3]! |= 1 << ((i * b + k) & 7);
  return out;
}

/** Unpack n entries; the padding bits must be zero. */
export function unpackDepthMap(bytes: Uint8Array, n: number, D: number, where = 'depth map'): Uint8Array {
  const b = mapBitsPerEntry(D);
  const want = Math.ceil((n * b) / 8);
  if (bytes.length !== want) throw new TritwiseError('E_SHAPE', 'packed depth map has the wrong size', { where, expected: `${want} bytes`, got: `${bytes.length} bytes` });
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) for (let k = 0; k < b; k++) if ((bytes[(i * b + k) >> 3]! >> ((i * b + k) & 7)) & 1) out[i]! |= 1 << k;
  for (let j = n * b; j < want * 8; j++) if ((bytes[j >> 3]! >> (j & 7)) & 1) throw new TritwiseError('E_FORMAT', 'packed depth map padding is not zero', { where, expected: 'zero bits', got: `bit ${j}` });
  return out;
}
