/**
 * ternary-tensor — the core data type: a [rows, cols] matrix of trits in two bit planes.
 *
 * Storage (see bits.ts for the encoding of one trit):
 *   plus, minus : Uint32Array, rows × wordsPerRow words, row-major, wordsPerRow = ceil(cols/32)
 *   scales      : Float32Array, one f32 per row
 *   groupScales : optional Float32Array, rows × ceil(cols/groupSize), groupSize a multiple of 32
 *
 * The real value of element (r, c) is
 *   W[r,c] = t[r,c] · scales[r] · (groupScales ? groupScales[r, ⌊c/groupSize⌋] : 1)
 *
 * Invariants (checked by validate(), kept by every method):
 *   plus & minus == 0 in every word; padding bits beyond `cols` are zero in both planes;
 *   scales are finite; derived metadata (per-row nonzero counts, per-row nonzero-word bitmaps)
 *   matches the planes.
 */
import { TritwiseError, checkSize, firstNonFinite } from '../errors.js';
import { lastWordMask, popcount32, wordsFor } from './bits.js';

export type Trit = -1 | 0 | 1;

export interface TernaryParts {
  rows: number;
  cols: number;
  plus: Uint32Array;
  minus: Uint32Array;
  scales: Float32Array;
  groupSize?: number;
  groupScales?: Float32Array | null;
  /** provenance label: the quantizer that made the trits (saved in file metadata) */
  quantizer?: string;
}

export interface TernaryStats {
  rows: number;
  cols: number;
  /** rows × cols */
  count: number;
  plus: number;
  minus: number;
  zeros: number;
  /** zeros / count (0 for an empty tensor) */
  sparsity: number;
  /** plus / minus (Infinity when there are no −1s but some +1s, NaN when both are 0) */
  plusMinusRatio: number;
  bytes: number;
  bitsPerWeight: number;
}

/** Derived, cached metadata kept exact under edits. */
interface Metadata {
  /** nonzero trits per row */
  nnz: Int32Array;
  /** per row, bit w of the row's mask words is set iff word w of the row has a nonzero trit */
  wordMask: Uint32Array;
}

export class TernaryTensor {
  readonly rows: number;
  readonly cols: number;
  readonly wordsPerRow: number;
  readonly plus: Uint32Array;
  readonly minus: Uint32Array;
  readonly scales: Float32Array;
  /** 0 when there are no group scales. */
  readonly groupSize: number;
  readonly groupScales: Float32Array | null;
  /** Provenance label: the quantizer that made these trits, if known. Not part of equals(). */
  quantizer?: string;
  #meta: Metadata | null = null;

  /** Wrap existing parts without copying. Lengths are checked; use validate() for the bits. */
  constructor(parts: TernaryParts, where = 'TernaryTensor') {
    const rows = checkSize(parts.rows, `${where}.rows`);
    const cols = checkSize(parts.cols, `${where}.cols`);
    const wpr = wordsFor(cols);
    const gs = parts.groupSize ?? 0;
    for (const [name, arr, want] of [
      ['plus', parts.plus, rows * wpr],
      ['minus', parts.minus, rows * wpr],
      ['scales', parts.scales, rows],
    ] as const) {
      if (arr.length !== want) {
        throw new TritwiseError('E_SHAPE', `wrong ${name} length`, { where: `${where}.${name}`, expected: want, got: arr.length });
      }
    }
    if (gs !== 0 || parts.groupScales) {
      if (!Number.isInteger(gs) || gs <= 0 || gs % 32 !== 0) {
        throw new TritwiseError('E_ARG', 'invalid group size', { where: `${where}.groupSize`, expected: 'a positive multiple of 32', got: gs });
      }
      const want = rows * Math.ceil(cols / gs);
      if (!parts.groupScales || parts.groupScales.length !== want) {
        throw new TritwiseError('E_SHAPE', 'wrong groupScales length', { where: `${where}.groupScales`, expected: want, got: parts.groupScales?.length ?? 'none' });
      }
    }
    this.rows = rows;
    this.cols = cols;
    this.wordsPerRow = wpr;
    this.plus = parts.plus;
    this.minus = parts.minus;
    this.scales = parts.scales;
    this.groupSize = gs;
    this.groupScales = gs ? parts.groupScales! : null;
    this.quantizer = parts.quantizer;
  }

  /** An all-zero tensor with unit row scales (and unit group scales if groupSize is given). */
  static zeros(rows: number, cols: number, opts: { groupSize?: number } = {}): TernaryTensor {
    checkSize(rows, 'rows');
    checkSize(cols, 'cols');
    const n = rows * wordsFor(cols);
    const gs = opts.groupSize ?? 0;
    return new TernaryTensor({
      rows,
      cols,
      plus: new Uint32Array(n),
      minus: new Uint32Array(n),
      scales: new Float32Array(rows).fill(1),
      groupSize: gs,
      groupScales: gs ? new Float32Array(rows * Math.ceil(cols / gs)).fill(1) : null,
    });
  }

  /** Build from a row-major array of trits (each -1, 0 or 1). */
  static fromTrits(
    trits: ArrayLike<number>,
    rows: number,
    cols: number,
    opts: { scales?: ArrayLike<number>; groupSize?: number; groupScales?: ArrayLike<number> } = {},
  ): TernaryTensor {
    checkSize(rows, 'rows');
    checkSize(cols, 'cols');
    if (trits.length !== rows * cols) {
      throw new TritwiseError('E_SHAPE', 'trit array does not match shape', { where: 'fromTrits', expected: `${rows}×${cols} = ${rows * cols}`, got: trits.length });
    }
    const t = TernaryTensor.zeros(rows, cols, { groupSize: opts.groupSize });
    const wpr = t.wordsPerRow;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = trits[r * cols + c];
        if (v === 0) continue;
        const bit = 1 << (c & 31);
        const i = r * wpr + (c >>> 5);
        if (v === 1) t.plus[i]! |= bit;
        else if (v === -1) t.minus[i]! |= bit;
        else throw new TritwiseError('E_ARG', 'not a trit', { where: `fromTrits[${r},${c}]`, expected: '-1, 0 or 1', got: v });
      }
    }
    if (opts.scales) t.#copyInto(t.scales, opts.scales, 'scales');
    if (opts.groupScales) {
      if (!t.groupScales) throw new TritwiseError('E_ARG', 'groupScales given without groupSize', { where: 'fromTrits' });
      t.#copyInto(t.groupScales, opts.groupScales, 'groupScales');
    }
    return t;
  }

  /**
   * The exact inverse of toDense() for tensors without group scales: every row must hold values
   * in {-s, 0, +s} for one s ≥ 0 (s = max|row|). For lossy conversion use a quantizer.
   */
  static fromDense(values: ArrayLike<number>, rows: number, cols: number, where = 'fromDense'): TernaryTensor {
    checkSize(rows, 'rows');
    checkSize(cols, 'cols');
    if (values.length !== rows * cols) {
      throw new TritwiseError('E_SHAPE', 'dense array does not match shape', { where, expected: rows * cols, got: values.length });
    }
    const bad = firstNonFinite(values);
    if (bad >= 0) {
      throw new TritwiseError('E_NONFINITE', 'non-finite value', { where: `${where}[${Math.floor(bad / Math.max(cols, 1))},${bad % Math.max(cols, 1)}]`, expected: 'a finite number', got: values[bad] });
    }
    const trits = new Int8Array(rows * cols);
    const scales = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s = Math.max(s, Math.abs(values[r * cols + c]!));
      for (let c = 0; c < cols; c++) {
        const v = values[r * cols + c]!;
        if (v === 0) continue;
        if (Math.abs(v) !== s) {
          throw new TritwiseError('E_NOT_TERNARY', 'row is not of the form s·{-1,0,+1}; use a quantizer for lossy conversion', { where: `${where}[${r},${c}]`, expected: `0 or ±${s}`, got: v });
        }
        trits[r * cols + c] = v > 0 ? 1 : -1;
      }
      scales[r] = s === 0 ? 1 : s;
    }
    return TernaryTensor.fromTrits(trits, rows, cols, { scales });
  }

  #copyInto(dst: Float32Array, src: ArrayLike<number>, name: string): void {
    if (src.length !== dst.length) throw new TritwiseError('E_SHAPE', `wrong ${name} length`, { where: name, expected: dst.length, got: src.length });
    const bad = firstNonFinite(src);
    if (bad >= 0) throw new TritwiseError('E_NONFINITE', `non-finite ${name}`, { where: `${name}[${bad}]`, expected: 'a finite number', got: src[bad] });
    dst.set(src);
  }

  /** Number of scale groups per row (1 when there are no group scales). */
  get groupsPerRow(): number {
    return this.groupSize ? Math.ceil(this.cols / this.groupSize) : 1;
  }

  #checkIndex(r: number, c: number): void {
    if (!(Number.isInteger(r) && r >= 0 && r < this.rows && Number.isInteger(c) && c >= 0 && c < this.cols)) {
      throw new TritwiseError('E_ARG', 'index out of range', { where: 'TernaryTensor', expected: `[0..${this.rows}) × [0..${this.cols})`, got: `[${r}, ${c}]` });
    }
  }

  /** The trit at (r, c). */
  get(r: number, c: number): Trit {
    this.#checkIndex(r, c);
    const i = r * this.wordsPerRow + (c >>> 5);
    const bit = 1 << (c & 31);
    return this.plus[i]! & bit ? 1 : this.minus[i]! & bit ? -1 : 0;
  }

  /**
   * The "lens" edit: set one trit in place. It touches one word of each plane and keeps the
   * derived metadata (nonzero counts, word bitmaps) exact.
   */
  set(r: number, c: number, t: Trit): void {
    this.#checkIndex(r, c);
    if (t !== 0 && t !== 1 && t !== -1) throw new TritwiseError('E_ARG', 'not a trit', { where: `set(${r}, ${c})`, expected: '-1, 0 or 1', got: t });
    const w = c >>> 5;
    const i = r * this.wordsPerRow + w;
    const bit = 1 << (c & 31);
    const before = (this.plus[i]! | this.minus[i]!) & bit ? 1 : 0;
    this.plus[i] = t === 1 ? this.plus[i]! | bit : this.plus[i]! & ~bit;
    this.minus[i] = t === -1 ? this.minus[i]! | bit : this.minus[i]! & ~bit;
    const meta = this.#meta;
    if (meta) {
      const after = t === 0 ? 0 : 1;
      meta.nnz[r]! += after - before;
      const mw = r * wordsFor(this.wordsPerRow) + (w >>> 5);
      const mbit = 1 << (w & 31);
      if ((this.plus[i]! | this.minus[i]!) !== 0) meta.wordMask[mw]! |= mbit;
      else meta.wordMask[mw]! &= ~mbit;
    }
  }

  /**
   * Whole-row edit: replace row r with `trits` (cols values in {-1, 0, +1}). Only row r's
   * metadata (nonzero count, word bitmap) is recomputed, so the rest stays cached and exact.
   */
  setRow(r: number, trits: ArrayLike<number>): void {
    this.#checkRow(r, 'setRow');
    if (trits.length !== this.cols) throw new TritwiseError('E_SHAPE', 'row length does not match cols', { where: `setRow(${r})`, expected: this.cols, got: trits.length });
    const wpr = this.wordsPerRow;
    const plus = new Uint32Array(wpr);
    const minus = new Uint32Array(wpr);
    for (let c = 0; c < this.cols; c++) {
      const v = trits[c];
      if (v === 0) continue;
      if (v === 1) plus[c >>> 5]! |= 1 << (c & 31);
      else if (v === -1) minus[c >>> 5]! |= 1 << (c & 31);
      else throw new TritwiseError('E_ARG', 'not a trit', { where: `setRow(${r})[${c}]`, expected: '-1, 0 or 1', got: v });
    }
    this.plus.set(plus, r * wpr);
    this.minus.set(minus, r * wpr);
    this.#refreshRow(r);
  }

  /** Whole-row edit: set every trit of row r to 0 (row pruning); metadata stays exact. */
  clearRow(r: number): void {
    this.#checkRow(r, 'clearRow');
    const wpr = this.wordsPerRow;
    this.plus.fill(0, r * wpr, (r + 1) * wpr);
    this.minus.fill(0, r * wpr, (r + 1) * wpr);
    this.#refreshRow(r);
  }

  #checkRow(r: number, where: string): void {
    if (!(Number.isInteger(r) && r >= 0 && r < this.rows)) throw new TritwiseError('E_ARG', 'row out of range', { where, expected: `[0..${this.rows})`, got: r });
  }

  /** Recompute row r's cached nonzero count and word bitmap from its planes. */
  #refreshRow(r: number): void {
    const meta = this.#meta;
    if (!meta) return;
    const wpr = this.wordsPerRow;
    const mwpr = wordsFor(wpr);
    meta.wordMask.fill(0, r * mwpr, (r + 1) * mwpr);
    let n = 0;
    for (let w = 0; w < wpr; w++) {
      const x = this.plus[r * wpr + w]! | this.minus[r * wpr + w]!;
      if (x !== 0) {
        n += popcount32(x);
        meta.wordMask[r * mwpr + (w >>> 5)]! |= 1 << (w & 31);
      }
    }
    meta.nnz[r] = n;
  }

  /** Effective scale of element (r, c): row scale × group scale. */
  scaleAt(r: number, c: number): number {
    const s = this.scales[r]!;
    return this.groupScales ? s * this.groupScales[r * this.groupsPerRow + Math.floor(c / this.groupSize)]! : s;
  }

  /** The trits as a row-major Int8Array. */
  toTrits(): Int8Array {
    const out = new Int8Array(this.rows * this.cols);
    const wpr = this.wordsPerRow;
    for (let r = 0; r < this.rows; r++) {
      for (let c = 0; c < this.cols; c++) {
        const i = r * wpr + (c >>> 5);
        const bit = 1 << (c & 31);
        out[r * this.cols + c] = this.plus[i]! & bit ? 1 : this.minus[i]! & bit ? -1 : 0;
      }
    }
    return out;
  }

  /** The dequantized matrix W[r,c] = t·scale(r,c), row-major f32. */
  toDense(): Float32Array {
    const trits = this.toTrits();
    const out = new Float32Array(trits.length);
    for (let r = 0; r < this.rows; r++) {
      for (let c = 0; c < this.cols; c++) {
        const t = trits[r * this.cols + c]!;
        if (t !== 0) out[r * this.cols + c] = t * this.scaleAt(r, c);
      }
    }
    return out;
  }

  /** Rows [start, end) as a new tensor (copies). */
  sliceRows(start: number, end: number): TernaryTensor {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.rows)) {
      throw new TritwiseError('E_ARG', 'invalid row range', { where: 'sliceRows', expected: `0 ≤ start ≤ end ≤ ${this.rows}`, got: `[${start}, ${end})` });
    }
    const wpr = this.wordsPerRow;
    const g = this.groupsPerRow;
    return new TernaryTensor({
      rows: end - start,
      cols: this.cols,
      plus: this.plus.slice(start * wpr, end * wpr),
      minus: this.minus.slice(start * wpr, end * wpr),
      scales: this.scales.slice(start, end),
      groupSize: this.groupSize,
      groupScales: this.groupScales ? this.groupScales.slice(start * g, end * g) : null,
      quantizer: this.quantizer,
    });
  }

  /**
   * The transposed trit matrix [cols, rows]. A per-row scale becomes a per-column scale, which this
   * type cannot hold, so the scales must be uniform (one value, no groups) unless
   * `{ scales: 'unit' }` is passed, which drops them.
   */
  transpose(opts: { scales?: 'keep' | 'unit' } = {}): TernaryTensor {
    let scale = 1;
    if ((opts.scales ?? 'keep') === 'keep') {
      const uniform = !this.groupScales && this.scales.every((s) => s === this.scales[0]);
      if (!uniform) {
        throw new TritwiseError('E_UNSUPPORTED', 'cannot transpose per-row or per-group scales into per-column scales', { where: 'transpose', expected: "uniform scales, or { scales: 'unit' }", got: this.groupScales ? 'group scales' : 'varying row scales' });
      }
      if (this.rows > 0) scale = this.scales[0]!;
    }
    const out = TernaryTensor.zeros(this.cols, this.rows);
    out.scales.fill(scale);
    const wpr = this.wordsPerRow;
    const owpr = out.wordsPerRow;
    for (let r = 0; r < this.rows; r++) {
      const obit = 1 << (r & 31);
      const ow = r >>> 5;
      for (let w = 0; w < wpr; w++) {
        for (const [src, dst] of [
          [this.plus, out.plus],
          [this.minus, out.minus],
        ] as const) {
          let x = src[r * wpr + w]!;
          while (x !== 0) {
            const b = 31 - Math.clz32(x & -x);
            x &= x - 1;
            dst[(w * 32 + b) * owpr + ow]! |= obit;
          }
        }
      }
    }
    return out;
  }

  #metadata(): Metadata {
    if (this.#meta) return this.#meta;
    const wpr = this.wordsPerRow;
    const mwpr = wordsFor(wpr);
    const nnz = new Int32Array(this.rows);
    const wordMask = new Uint32Array(this.rows * mwpr);
    for (let r = 0; r < this.rows; r++) {
      let n = 0;
      for (let w = 0; w < wpr; w++) {
        const x = this.plus[r * wpr + w]! | this.minus[r * wpr + w]!;
        if (x !== 0) {
          n += popcount32(x);
          wordMask[r * mwpr + (w >>> 5)]! |= 1 << (w & 31);
        }
      }
      nnz[r] = n;
    }
    this.#meta = { nnz, wordMask };
    return this.#meta;
  }

  /** Nonzero trits in row r (cached, kept exact under set()). */
  rowNnz(r: number): number {
    return this.#metadata().nnz[r]!;
  }

  /**
   * The nonzero-word bitmap: per row, ceil(wordsPerRow/32) words; bit w is set iff word w of the
   * row holds a nonzero trit. Kernels use it to skip zero words. Do not mutate.
   */
  nonzeroWordMask(): Uint32Array {
    return this.#metadata().wordMask;
  }

  /** Call after writing to `plus`/`minus` directly, so cached metadata is rebuilt. */
  invalidateMetadata(): void {
    this.#meta = null;
  }

  /** Bytes of storage: both planes, row scales and group scales. */
  get bytes(): number {
    return this.plus.byteLength + this.minus.byteLength + this.scales.byteLength + (this.groupScales?.byteLength ?? 0);
  }

  stats(): TernaryStats {
    let p = 0,
      m = 0;
    for (let i = 0; i < this.plus.length; i++) {
      p += popcount32(this.plus[i]!);
      m += popcount32(this.minus[i]!);
    }
    const count = this.rows * this.cols;
    return {
      rows: this.rows,
      cols: this.cols,
      count,
      plus: p,
      minus: m,
      zeros: count - p - m,
      sparsity: count ? (count - p - m) / count : 0,
      plusMinusRatio: p / m,
      bytes: this.bytes,
      bitsPerWeight: count ? (this.bytes * 8) / count : 0,
    };
  }

  /** Check every invariant; throws E_INVARIANT naming the row and word that break one. */
  validate(where = 'TernaryTensor'): this {
    const wpr = this.wordsPerRow;
    const pad = ~lastWordMask(this.cols);
    for (let r = 0; r < this.rows; r++) {
      for (let w = 0; w < wpr; w++) {
        const i = r * wpr + w;
        if ((this.plus[i]! & this.minus[i]!) !== 0) {
          throw new TritwiseError('E_INVARIANT', 'plus & minus overlap', { where: `${where} row ${r} word ${w}`, expected: 0, got: `0x${((this.plus[i]! & this.minus[i]!) >>> 0).toString(16)}` });
        }
      }
      if (wpr > 0 && pad !== 0) {
        const i = r * wpr + wpr - 1;
        if (((this.plus[i]! | this.minus[i]!) & pad) !== 0) {
          throw new TritwiseError('E_INVARIANT', 'padding bits are not zero', { where: `${where} row ${r}`, expected: 0, got: `0x${(((this.plus[i]! | this.minus[i]!) & pad) >>> 0).toString(16)}` });
        }
      }
    }
    for (const [name, a] of [
      ['scales', this.scales],
      ['groupScales', this.groupScales],
    ] as const) {
      if (!a) continue;
      const bad = firstNonFinite(a);
      if (bad >= 0) throw new TritwiseError('E_INVARIANT', `non-finite ${name}`, { where: `${where}.${name}[${bad}]`, expected: 'finite', got: a[bad] });
    }
    if (this.#meta) {
      const cached = this.#meta;
      this.#meta = null;
      const fresh = this.#metadata();
      this.#meta = cached;
      for (let r = 0; r < this.rows; r++) {
        if (fresh.nnz[r] !== cached.nnz[r]) throw new TritwiseError('E_INVARIANT', 'stale nonzero count', { where: `${where} row ${r}`, expected: fresh.nnz[r], got: cached.nnz[r] });
      }
      for (let i = 0; i < fresh.wordMask.length; i++) {
        if (fresh.wordMask[i] !== cached.wordMask[i]) throw new TritwiseError('E_INVARIANT', 'stale nonzero-word bitmap', { where: `${where} mask word ${i}`, expected: fresh.wordMask[i], got: cached.wordMask[i] });
      }
    }
    return this;
  }

  clone(): TernaryTensor {
    return new TernaryTensor({
      rows: this.rows,
      cols: this.cols,
      plus: this.plus.slice(),
      minus: this.minus.slice(),
      scales: this.scales.slice(),
      groupSize: this.groupSize,
      groupScales: this.groupScales?.slice() ?? null,
      quantizer: this.quantizer,
    });
  }

  /** Same shape, trits and scales (bit for bit, scales compared with Object.is). */
  equals(o: TernaryTensor): boolean {
    const same = (a: ArrayLike<number> | null, b: ArrayLike<number> | null) => {
      if (a === null || b === null) return a === b;
      if (a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
      return true;
    };
    return (
      this.rows === o.rows &&
      this.cols === o.cols &&
      this.groupSize === o.groupSize &&
      same(this.plus, o.plus) &&
      same(this.minus, o.minus) &&
      same(this.scales, o.scales) &&
      same(this.groupScales, o.groupScales)
    );
  }
}
