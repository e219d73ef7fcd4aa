/**
 * trit-vector — a 1-D vector of trits: a TernaryTensor with one row.
 *
 * It shares the tensor's representation (two Uint32 planes, a scale), so every kernel and the
 * safetensors codec accept it, and it adds 1-D accessors. Hypervectors (vsa/) and ternary
 * activations are TritVectors.
 */
import { TritwiseError, checkSize } from '../errors.js';
import { wordsFor } from './bits.js';
import { TernaryTensor, type Trit } from './ternary-tensor.js';

export class TritVector extends TernaryTensor {
  constructor(length: number, plus?: Uint32Array, minus?: Uint32Array, scale = 1) {
    checkSize(length, 'TritVector.length');
    const w = wordsFor(length);
    super({ rows: 1, cols: length, plus: plus ?? new Uint32Array(w), minus: minus ?? new Uint32Array(w), scales: Float32Array.of(scale) }, 'TritVector');
  }

  /** A vector from an array of trits (-1, 0, 1). */
  static fromArray(trits: ArrayLike<number>, scale = 1): TritVector {
    const t = TernaryTensor.fromTrits(trits, 1, trits.length, { scales: [scale] });
    return new TritVector(trits.length, t.plus, t.minus, scale);
  }

  /** Row r of a tensor as a vector (copied), with the row's scale. Group scales are not carried. */
  static fromRow(t: TernaryTensor, r: number): TritVector {
    if (!(Number.isInteger(r) && r >= 0 && r < t.rows)) throw new TritwiseError('E_ARG', 'row out of range', { where: 'TritVector.fromRow', expected: `0..${t.rows - 1}`, got: r });
    const w = t.wordsPerRow;
    return new TritVector(t.cols, t.plus.slice(r * w, r * w + w), t.minus.slice(r * w, r * w + w), t.scales[r]);
  }

  get length(): number {
    return this.cols;
  }

  get scale(): number {
    return this.scales[0]!;
  }

  set scale(s: number) {
    if (!Number.isFinite(s)) throw new TritwiseError('E_NONFINITE', 'non-finite scale', { where: 'TritVector.scale', expected: 'finite', got: s });
    this.scales[0] = s;
  }

  at(i: number): Trit {
    return this.get(0, i);
  }

  setAt(i: number, t: Trit): void {
    this.set(0, i, t);
  }

  override clone(): TritVector {
    return new TritVector(this.cols, this.plus.slice(), this.minus.slice(), this.scale);
  }
}
