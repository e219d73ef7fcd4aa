/**
 * multi-trit-tensor — a [rows, cols] matrix with d trits per weight (depth d = 1..6): d bit-plane
 * TernaryTensors of the same shape and group size, summed.
 *
 *   W[r,c] = Σ_{k<d} t_k[r,c] · rs_k[r] · gs_k[r, ⌊c/g⌋]          (residual form, any scales)
 *
 * The *tryte* form is the special case of one scale per row (and group) shared by all planes,
 * with plane k worth 3^k of it (plane 0 is the least significant trit):
 *
 *   rs_k[r] = fround(s[r]·3^k),  gs_k = gs                      ⇒  W[r,c] = n[r,c]·s[r]·gs[r,g]
 *   n[r,c] = Σ_k t_k[r,c]·3^k  ∈ [−(3^d−1)/2, (3^d−1)/2]        (balanced ternary)
 *
 * so every tryte is a residual tensor and one kernel (Σ over planes) serves both. A tensor is in
 * tryte form when its scales say so exactly (`form`); the packed storage (trytes.ts) and the
 * integer lens edits (`getInteger`, `setInteger`) need it. Planes are kept in order of
 * significance for trytes; for the residual form the order carries no meaning.
 */
import { TritwiseError, checkSize, firstNonFinite } from '../errors.js';
import { TernaryTensor, type Trit } from './ternary-tensor.js';

export const MAX_DEPTH = 6;

/** (3^d − 1)/2: the largest tryte of depth d. */
export function tryteMax(depth: number): number {
  return (3 ** depth - 1) / 2;
}

/** Balanced-ternary digits of an integer |n| ≤ (3^d−1)/2, least significant first. */
export function balancedDigits(n: number, depth: number, out: Int8Array = new Int8Array(depth)): Int8Array {
  let v = n;
  for (let k = 0; k < depth; k++) {
    let m = v % 3; // −2..2
    if (m > 1) m -= 3;
    else if (m < -1) m += 3;
    out[k] = m;
    v = (v - m) / 3;
  }
  if (v !== 0) throw new TritwiseError('E_ARG', 'integer out of tryte range', { where: 'balancedDigits', expected: `|n| ≤ ${tryteMax(depth)} for depth ${depth}`, got: n });
  return out;
}

function checkDepth(d: number, where: string): void {
  if (!(Number.isInteger(d) && d >= 1 && d <= MAX_DEPTH)) throw new TritwiseError('E_ARG', 'invalid depth', { where, expected: `an integer 1..${MAX_DEPTH}`, got: d });
}

export interface TryteOptions {
  /** one scale per row (default 1) */
  scales?: ArrayLike<number>;
  groupSize?: number;
  /** rows × ⌈cols/groupSize⌉ group scales (default 1) */
  groupScales?: ArrayLike<number>;
  quantizer?: string;
}

export class MultiTritTensor {
  readonly rows: number;
  readonly cols: number;
  readonly depth: number;
  readonly groupSize: number;
  readonly planes: readonly TernaryTensor[];
  /** provenance: the quantizer that made it (saved in file metadata; not part of equals) */
  quantizer?: string;
  /**
   * sub-layer depths of a tryte (quant/grids.ts CellDepths): column c uses only its top
   * columnDepths[c] planes, or row r its bottom rowDepths[r] planes; the other planes are zero
   * there. Provenance for training and storage (not part of equals); absent = `depth` everywhere.
   */
  columnDepths?: Uint8Array;
  rowDepths?: Uint8Array;
  #form: 'tryte' | 'residual' | null = null;

  /** Wrap planes without copying; shapes and group sizes must agree. */
  constructor(planes: readonly TernaryTensor[], opts: { quantizer?: string; where?: string } = {}) {
    const where = opts.where ?? 'MultiTritTensor';
    checkDepth(planes.length, `${where}: planes`);
    const p0 = planes[0]!;
    planes.forEach((p, k) => {
      if (p.rows !== p0.rows || p.cols !== p0.cols || p.groupSize !== p0.groupSize) {
        throw new TritwiseError('E_SHAPE', 'planes differ in shape or group size', { where: `${where}: plane ${k}`, expected: `${p0.rows}×${p0.cols}, group ${p0.groupSize}`, got: `${p.rows}×${p.cols}, group ${p.groupSize}` });
      }
    });
    this.rows = p0.rows;
    this.cols = p0.cols;
    this.depth = planes.length;
    this.groupSize = p0.groupSize;
    this.planes = planes;
    this.quantizer = opts.quantizer;
  }

  /** The tryte form from balanced-ternary integers n[r,c] (row-major), |n| ≤ (3^d−1)/2. */
  static fromIntegers(n: ArrayLike<number>, rows: number, cols: number, depth: number, opts: TryteOptions = {}): MultiTritTensor {
    checkSize(rows, 'rows');
    checkSize(cols, 'cols');
    checkDepth(depth, 'fromIntegers');
    if (n.length !== rows * cols) throw new TritwiseError('E_SHAPE', 'integer array does not match shape', { where: 'fromIntegers', expected: rows * cols, got: n.length });
    const gs = opts.groupSize ?? 0;
    const G = gs ? Math.ceil(cols / gs) : 0;
    const base = new Float32Array(rows).fill(1);
    if (opts.scales) copyFinite(base, opts.scales, 'fromIntegers scales');
    let group: Float32Array | null = null;
    if (gs) {
      group = new Float32Array(rows * G).fill(1);
      if (opts.groupScales) copyFinite(group, opts.groupScales, 'fromIntegers groupScales');
    } else if (opts.groupScales) throw new TritwiseError('E_ARG', 'groupScales given without groupSize', { where: 'fromIntegers' });
    const planes = tryteScales(base, group, gs, depth).map((s) => {
      const t = TernaryTensor.zeros(rows, cols, { groupSize: gs });
      t.scales.set(s.scales);
      if (s.groupScales) t.groupScales!.set(s.groupScales);
      return t;
    });
    const digits = new Int8Array(depth);
    const max = tryteMax(depth);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = n[r * cols + c]!;
        if (!Number.isInteger(v) || Math.abs(v) > max) throw new TritwiseError('E_ARG', 'not a tryte', { where: `fromIntegers[${r},${c}]`, expected: `an integer in [−${max}, ${max}]`, got: v });
        if (v === 0) continue;
        balancedDigits(v, depth, digits);
        const i = r * planes[0]!.wordsPerRow + (c >>> 5);
        const bit = 1 << (c & 31);
        for (let k = 0; k < depth; k++) {
          if (digits[k] === 1) planes[k]!.plus[i]! |= bit;
          else if (digits[k] === -1) planes[k]!.minus[i]! |= bit;
        }
      }
    }
    return new MultiTritTensor(planes, { quantizer: opts.quantizer });
  }

  /** Scales per element class: the value of plane k at (r, c) is t·scaleAt(k, r, c). */
  scaleAt(k: number, r: number, c: number): number {
    return this.planes[k]!.scaleAt(r, c);
  }

  /**
   * 'tryte' when every plane k has row scales fround(s·3^k) of plane 0's and the same group
   * scales (bit for bit), else 'residual'. Depth 1 is always a tryte. Cached: scales are
   * treated as fixed after construction (see invalidateForm).
   */
  get form(): 'tryte' | 'residual' {
    return (this.#form ??= this.#computeForm());
  }

  /** Call after writing to any plane's scales directly, so `form` is recomputed. */
  invalidateForm(): void {
    this.#form = null;
  }

  #computeForm(): 'tryte' | 'residual' {
    const p0 = this.planes[0]!;
    for (let k = 1; k < this.depth; k++) {
      const p = this.planes[k]!;
      const m = 3 ** k;
      for (let r = 0; r < this.rows; r++) if (!Object.is(p.scales[r], Math.fround(p0.scales[r]! * m))) return 'residual';
      if (p0.groupScales) for (let i = 0; i < p0.groupScales.length; i++) if (!Object.is(p.groupScales![i], p0.groupScales[i])) return 'residual';
    }
    return 'tryte';
  }

  #requireTryte(where: string): void {
    if (this.form !== 'tryte') throw new TritwiseError('E_UNSUPPORTED', 'integer access needs the tryte form (plane k scaled by 3^k of one shared scale)', { where, expected: 'tryte', got: 'residual scales' });
  }

  /** The d trits at (r, c), least significant first. */
  trits(r: number, c: number): Trit[] {
    return this.planes.map((p) => p.get(r, c));
  }

  /** The balanced-ternary integer Σ_k t_k·3^k at (r, c) (tryte form). */
  getInteger(r: number, c: number): number {
    this.#requireTryte('getInteger');
    let n = 0;
    for (let k = this.depth - 1; k >= 0; k--) n = n * 3 + this.planes[k]!.get(r, c);
    return n;
  }

  /** The lens edit: set the integer at (r, c) by rewriting its d trits in place (tryte form). */
  setInteger(r: number, c: number, n: number): void {
    this.#requireTryte('setInteger');
    const max = tryteMax(this.depth);
    if (!Number.isInteger(n) || Math.abs(n) > max) throw new TritwiseError('E_ARG', 'not a tryte', { where: `setInteger(${r}, ${c})`, expected: `an integer in [−${max}, ${max}]`, got: n });
    const d = balancedDigits(n, this.depth);
    for (let k = 0; k < this.depth; k++) this.planes[k]!.set(r, c, d[k] as Trit);
  }

  /** The real value at (r, c): Σ_k t_k·scale_k (in f64). */
  get(r: number, c: number): number {
    let v = 0;
    for (let k = 0; k < this.depth; k++) {
      const t = this.planes[k]!.get(r, c);
      if (t !== 0) v += t * this.scaleAt(k, r, c);
    }
    return v;
  }

  /**
   * Set (r, c) to the representable value nearest to x (ties to the smaller integer): its d trits
   * are rewritten in place. Trytes round x/scale; the residual form searches all 3^d digit
   * combinations (at most 729). Returns the value stored.
   */
  setNearest(r: number, c: number, x: number): number {
    if (!Number.isFinite(x)) throw new TritwiseError('E_NONFINITE', 'non-finite value', { where: `setNearest(${r}, ${c})`, expected: 'a finite number', got: x });
    if (this.form === 'tryte') {
      const s = this.scaleAt(0, r, c);
      const max = tryteMax(this.depth);
      const n = s > 0 ? Math.max(-max, Math.min(max, Math.round(x / s))) : 0;
      this.setInteger(r, c, n);
      return this.get(r, c);
    }
    const sc = this.planes.map((_, k) => this.scaleAt(k, r, c));
    const digits = new Int8Array(this.depth);
    let best = Infinity;
    let bestCode = 0;
    for (let code = 0; code < 3 ** this.depth; code++) {
      let v = 0;
      let m = code;
      for (let k = 0; k < this.depth; k++) {
        v += ((m % 3) - 1) * sc[k]!;
        m = Math.floor(m / 3);
      }
      const e = Math.abs(v - x);
      if (e < best) {
        best = e;
        bestCode = code;
      }
    }
    for (let k = 0; k < this.depth; k++) {
      digits[k] = (bestCode % 3) - 1;
      bestCode = Math.floor(bestCode / 3);
      this.planes[k]!.set(r, c, digits[k] as Trit);
    }
    return this.get(r, c);
  }

  /** The integers n[r,c] = Σ_k t_k·3^k, row-major (any form: the digits read as balanced ternary). */
  toIntegers(): Int32Array {
    const out = new Int32Array(this.rows * this.cols);
    for (let k = this.depth - 1; k >= 0; k--) {
      const t = this.planes[k]!.toTrits();
      for (let i = 0; i < out.length; i++) out[i] = out[i]! * 3 + t[i]!;
    }
    return out;
  }

  /** The dequantized matrix Σ_k t_k·scale_k, summed in f64 and rounded once to f32. */
  toDense(): Float32Array {
    const acc = new Float64Array(this.rows * this.cols);
    for (const p of this.planes) {
      const t = p.toTrits();
      for (let r = 0; r < this.rows; r++) {
        for (let c = 0; c < this.cols; c++) {
          const v = t[r * this.cols + c]!;
          if (v !== 0) acc[r * this.cols + c]! += v * p.scaleAt(r, c);
        }
      }
    }
    return Float32Array.from(acc);
  }

  /** Bytes in memory: every plane's bit planes and scales. */
  get bytes(): number {
    return this.planes.reduce((s, p) => s + p.bytes, 0);
  }

  /**
   * Bytes as stored by tritwise (weights-file.ts): trits packed 5 per byte in base 3 (1.6 bits
   * per trit, per row), plus f32 scales: one set for a tryte, one per plane for the residual form.
   */
  get storageBytes(): number {
    const p0 = this.planes[0]!;
    const scaleBytes = p0.scales.byteLength + (p0.groupScales?.byteLength ?? 0);
    if (this.form === 'tryte') return this.rows * Math.ceil((this.cols * this.depth) / 5) + scaleBytes;
    return this.depth * (this.rows * Math.ceil(this.cols / 5) + scaleBytes);
  }

  /** Nonzero fraction and zero fraction of each plane (least significant first). */
  planeSparsity(): number[] {
    return this.planes.map((p) => p.stats().sparsity);
  }

  validate(where = 'MultiTritTensor'): this {
    this.planes.forEach((p, k) => p.validate(`${where} plane ${k}`));
    return this;
  }

  clone(): MultiTritTensor {
    return new MultiTritTensor(
      this.planes.map((p) => p.clone()),
      { quantizer: this.quantizer },
    );
  }

  sliceRows(start: number, end: number): MultiTritTensor {
    return new MultiTritTensor(
      this.planes.map((p) => p.sliceRows(start, end)),
      { quantizer: this.quantizer },
    );
  }

  /** Same depth, trits and scales, bit for bit. */
  equals(o: MultiTritTensor): boolean {
    return this.depth === o.depth && this.planes.every((p, k) => p.equals(o.planes[k]!));
  }
}

/** Row and group scales of the d planes of a tryte with base scales s (and group scales gs). */
export function tryteScales(s: Float32Array, gs: Float32Array | null, groupSize: number, depth: number): { scales: Float32Array; groupScales: Float32Array | null }[] {
  const out = [];
  for (let k = 0; k < depth; k++) {
    const m = 3 ** k;
    out.push({ scales: Float32Array.from(s, (v) => Math.fround(v * m)), groupScales: groupSize && gs ? gs.slice() : null });
  }
  return out;
}

function copyFinite(dst: Float32Array, src: ArrayLike<number>, where: string): void {
  if (src.length !== dst.length) throw new TritwiseError('E_SHAPE', 'wrong length', { where, expected: dst.length, got: src.length });
  const bad = firstNonFinite(src);
  if (bad >= 0) throw new TritwiseError('E_NONFINITE', 'non-finite scale', { where: `${where}[${bad}]`, expected: 'a finite number', got: src[bad] });
  dst.set(src);
}
