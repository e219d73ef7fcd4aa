/**
 * csr — CSR of trits: per row and scale group, the sorted column indices of the +1s, then of
 * the −1s. Zeros cost nothing; each nonzero costs one index (16 bits when cols ≤ 65536, else 32).
 *
 *   offs : Uint32Array, rows·G·2 + 1 entries. For row r, group g, i = (r·G + g)·2:
 *          idx[offs[i] .. offs[i+1])   columns holding +1 (ascending, inside group g)
 *          idx[offs[i+1] .. offs[i+2]) columns holding −1 (ascending, inside group g)
 *   idx  : Uint16Array (cols ≤ 65536) or Uint32Array, nnz entries
 *   scales, groupScales : as in TernaryTensor (row scales, optional per-group scales)
 *
 * G = 1 without group scales. This is exactly the layout the wasm sparse kernels read, so
 * uploading a CsrTrits to wasm is a copy. Bytes: 4·(rows·G·2 + 1) + nnz·(2 or 4) + scales.
 */
import { TritwiseError } from '../errors.js';
import { firstNonFinite } from '../errors.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';

export interface CsrTrits {
  readonly format: 'csr';
  rows: number;
  cols: number;
  groupSize: number;
  /** groups per row (1 without group scales) */
  G: number;
  offs: Uint32Array;
  idx: Uint16Array | Uint32Array;
  scales: Float32Array;
  groupScales: Float32Array | null;
  quantizer?: string;
}

/** Whether 16-bit column indices suffice. */
export function csrIndexBits(cols: number): 16 | 32 {
  return cols <= 65536 ? 16 : 32;
}

export function csrBytes(c: CsrTrits): number {
  return c.offs.byteLength + c.idx.byteLength + c.scales.byteLength + (c.groupScales?.byteLength ?? 0);
}

/** Exact conversion from bit planes (indices come out ascending by construction). */
export function toCsr(t: TernaryTensor, opts: { indexBits?: 16 | 32 } = {}): CsrTrits {
  const bits = opts.indexBits ?? csrIndexBits(t.cols);
  if (bits === 16 && t.cols > 65536) throw new TritwiseError('E_ARG', '16-bit CSR indices cannot address these columns', { where: 'toCsr', expected: 'cols ≤ 65536', got: t.cols });
  const G = t.groupsPerRow;
  const gc = t.groupSize || t.cols;
  let nnz = 0;
  for (let r = 0; r < t.rows; r++) nnz += t.rowNnz(r);
  const offs = new Uint32Array(t.rows * G * 2 + 1);
  const idx = bits === 16 ? new Uint16Array(nnz) : new Uint32Array(nnz);
  const wpr = t.wordsPerRow;
  let n = 0;
  for (let r = 0; r < t.rows; r++) {
    for (let g = 0; g < G; g++) {
      const w0 = (g * gc) >>> 5;
      const w1 = Math.min(wpr, Math.ceil(Math.min(t.cols, (g + 1) * gc) / 32));
      for (let s = 0; s < 2; s++) {
        const plane = s === 0 ? t.plus : t.minus;
        offs[(r * G + g) * 2 + s] = n;
        for (let w = w0; w < w1; w++) {
          let x = plane[r * wpr + w]!;
          while (x !== 0) {
            const b = 31 - Math.clz32(x & -x);
            x &= x - 1;
            idx[n++] = w * 32 + b;
          }
        }
      }
    }
  }
  offs[t.rows * G * 2] = n;
  return { format: 'csr', rows: t.rows, cols: t.cols, groupSize: t.groupSize, G, offs, idx, scales: t.scales.slice(), groupScales: t.groupScales?.slice() ?? null, quantizer: t.quantizer };
}

/** Exact conversion back to bit planes; validates first (the input may come from a file). */
export function fromCsr(c: CsrTrits, where = 'csr'): TernaryTensor {
  validateCsr(c, where);
  const t = TernaryTensor.zeros(c.rows, c.cols, { groupSize: c.groupSize || undefined });
  t.scales.set(c.scales);
  if (c.groupScales) t.groupScales!.set(c.groupScales);
  t.quantizer = c.quantizer;
  const wpr = t.wordsPerRow;
  for (let r = 0; r < c.rows; r++) {
    for (let g = 0; g < c.G; g++) {
      const i = (r * c.G + g) * 2;
      for (let s = 0; s < 2; s++) {
        const plane = s === 0 ? t.plus : t.minus;
        for (let k = c.offs[i + s]!; k < c.offs[i + s + 1]!; k++) {
          const col = c.idx[k]!;
          plane[r * wpr + (col >>> 5)]! |= 1 << (col & 31);
        }
      }
    }
  }
  return t;
}

/**
 * Check every invariant of untrusted CSR data: lengths, monotone offsets, indices inside their
 * group and strictly ascending per list, no column both +1 and −1, finite scales.
 */
export function validateCsr(c: CsrTrits, where = 'csr'): void {
  const bad = (msg: string, w: string, expected: unknown, got: unknown): never => {
    throw new TritwiseError('E_FORMAT', msg, { where: `${where}${w}`, expected, got });
  };
  if (!Number.isSafeInteger(c.rows) || c.rows < 0 || !Number.isSafeInteger(c.cols) || c.cols < 0) bad('invalid shape', '', '[rows ≥ 0, cols ≥ 0]', [c.rows, c.cols]);
  const gs = c.groupSize;
  if (!(Number.isInteger(gs) && gs >= 0 && gs % 32 === 0)) bad('invalid group size', '.group_size', '0 or a multiple of 32', gs);
  const G = gs ? Math.ceil(c.cols / gs) : 1;
  if (c.G !== G) bad('wrong group count', '.G', G, c.G);
  if (c.offs.length !== c.rows * G * 2 + 1) bad('wrong offsets length', '.offs', c.rows * G * 2 + 1, c.offs.length);
  if (c.offs[0] !== 0) bad('offsets must start at 0', '.offs[0]', 0, c.offs[0]);
  if (c.offs[c.offs.length - 1] !== c.idx.length) bad('last offset must equal the index count', '.offs', c.idx.length, c.offs[c.offs.length - 1]);
  if (c.idx instanceof Uint16Array && c.cols > 65536) bad('16-bit indices cannot address these columns', '.idx', 'cols ≤ 65536', c.cols);
  if (c.scales.length !== c.rows) bad('wrong scales length', '.scales', c.rows, c.scales.length);
  if (gs && (!c.groupScales || c.groupScales.length !== c.rows * G)) bad('wrong group_scales length', '.group_scales', c.rows * G, c.groupScales?.length ?? 'none');
  for (const [n, a] of [['scales', c.scales], ['group_scales', c.groupScales]] as const) {
    if (!a) continue;
    const i = firstNonFinite(a);
    if (i >= 0) bad(`non-finite ${n}`, `.${n}[${i}]`, 'finite', a[i]);
  }
  const gc = gs || c.cols;
  for (let r = 0; r < c.rows; r++) {
    for (let g = 0; g < G; g++) {
      const i = (r * G + g) * 2;
      const lo = g * gc, hi = Math.min(c.cols, (g + 1) * gc);
      for (let s = 0; s < 2; s++) {
        const a = c.offs[i + s]!, e = c.offs[i + s + 1]!;
        if (e < a) bad('offsets decrease', `.offs[${i + s + 1}]`, `≥ ${a}`, e);
        let prev = -1;
        for (let k = a; k < e; k++) {
          const col = c.idx[k]!;
          if (col < lo || col >= hi || col <= prev) bad('column index out of order or outside its row group', ` row ${r} group ${g} idx[${k}]`, `ascending in [${lo}, ${hi})`, col);
          prev = col;
        }
      }
      // +1 and −1 lists are sorted: a merge finds a column in both
      let p = c.offs[i]!, m = c.offs[i + 1]!;
      const pe = c.offs[i + 1]!, me = c.offs[i + 2]!;
      while (p < pe && m < me) {
        if (c.idx[p] === c.idx[m]) bad('a column is both +1 and −1', ` row ${r}`, 'disjoint lists', c.idx[p]);
        if (c.idx[p]! < c.idx[m]!) p++;
        else m++;
      }
    }
  }
}
