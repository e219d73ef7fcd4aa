/**
 * trytes — the packed storage of a tryte tensor, and balanced-ternary arithmetic on trytes.
 *
 * Packed layout (storage, edits): a tryte n = Σ_{k<d} t_k·3^k of depth d is d trits; a row's
 * trits are laid out weight by weight, least significant first (trit i = c·d + k), and packed 5
 * per byte in base 3 with code t + 1:
 *
 *   byte j of a row = Σ_{m<5} (t_{5j+m} + 1)·3^m  ∈ [0, 242]            (1.6 bits per trit)
 *
 * Each row is padded to whole bytes with zero trits (code 1); rows are independent, so they can
 * be sliced. The real value is n·s[r]·gs[r, ⌊c/g⌋] with one f32 scale per row (and optional
 * group scales), exactly the tryte form of MultiTritTensor, to and from which pack/unpack convert
 * exactly.
 *
 * Ripple-carry addition, one balanced-ternary digit at a time (full adder):
 *   s = a_k + b_k + carry ∈ [−3, 3];  carry' = round(s/3) ∈ {−1, 0, 1};  digit = s − 3·carry'
 * The bit-sliced variant does the same on 32 weights per word with Boolean logic on the planes:
 * a half adder of trits x, y gives
 *   carry⁺ = x⁺∧y⁺,  carry⁻ = x⁻∧y⁻
 *   sum⁺ = (x⁺∧y⁰) ∨ (x⁰∧y⁺) ∨ (x⁻∧y⁻),  sum⁻ = (x⁻∧y⁰) ∨ (x⁰∧y⁻) ∨ (x⁺∧y⁺)   (x⁰ = ¬x⁺∧¬x⁻)
 * and a full adder is two half adders whose carries never have the same sign, so they combine
 * to one trit: c⁺ = (k₁⁺∧¬k₂⁻) ∨ (k₂⁺∧¬k₁⁻), c⁻ = (k₁⁻∧¬k₂⁺) ∨ (k₂⁻∧¬k₁⁺).
 */
import { TritwiseError } from '../errors.js';
import { lastWordMask } from './bits.js';
import { MultiTritTensor, tryteMax } from './multi-trit-tensor.js';
import { TernaryTensor } from './ternary-tensor.js';

export interface PackedTrytes {
  rows: number;
  cols: number;
  depth: number;
  /** 0: no group scales */
  groupSize: number;
  /** the tryte scale of each row */
  scales: Float32Array;
  groupScales: Float32Array | null;
  /** ⌈cols·depth/5⌉ */
  bytesPerRow: number;
  data: Uint8Array;
}

const POW3 = [1, 3, 9, 27, 81, 243];

export function tryteBytesPerRow(cols: number, depth: number): number {
  return Math.ceil((cols * depth) / 5);
}

/** Pack a tensor in tryte form (E_UNSUPPORTED for the residual form). */
export function packTrytes(m: MultiTritTensor): PackedTrytes {
  if (m.form !== 'tryte') throw new TritwiseError('E_UNSUPPORTED', 'only the tryte form packs to trytes; save residual planes one by one', { where: 'packTrytes', expected: 'plane k scaled by 3^k of one shared scale', got: 'independent plane scales' });
  const { rows, cols, depth } = m;
  const bpr = tryteBytesPerRow(cols, depth);
  const data = new Uint8Array(rows * bpr);
  const trits = m.planes.map((p) => p.toTrits());
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < bpr; j++) {
      let v = 0;
      for (let q = 4; q >= 0; q--) {
        const i = j * 5 + q;
        const t = i < cols * depth ? trits[i % depth]![r * cols + Math.floor(i / depth)]! : 0;
        v = v * 3 + t + 1;
      }
      data[r * bpr + j] = v;
    }
  }
  const p0 = m.planes[0]!;
  return { rows, cols, depth, groupSize: m.groupSize, scales: p0.scales.slice(), groupScales: p0.groupScales?.slice() ?? null, bytesPerRow: bpr, data };
}

function checkPacked(p: PackedTrytes, where: string): void {
  if (!(Number.isInteger(p.depth) && p.depth >= 1 && p.depth <= 6)) throw new TritwiseError('E_FORMAT', 'invalid tryte depth', { where, expected: '1..6', got: p.depth });
  const bpr = tryteBytesPerRow(p.cols, p.depth);
  if (p.bytesPerRow !== bpr || p.data.length !== p.rows * bpr) throw new TritwiseError('E_SHAPE', 'tryte data does not match shape', { where, expected: `${p.rows}×${bpr} bytes`, got: `${p.data.length} bytes (${p.bytesPerRow}/row)` });
  if (p.scales.length !== p.rows) throw new TritwiseError('E_SHAPE', 'wrong scales length', { where, expected: p.rows, got: p.scales.length });
}

/** The balanced-ternary integers of a packed tensor, row-major; checks every byte and padding trit. */
export function tryteIntegers(p: PackedTrytes, where = 'trytes'): Int32Array {
  checkPacked(p, where);
  const { rows, cols, depth, bytesPerRow: bpr } = p;
  const out = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < bpr; j++) {
      let v = p.data[r * bpr + j]!;
      if (v > 242) throw new TritwiseError('E_FORMAT', 'invalid base-3 byte', { where: `${where} row ${r} byte ${j}`, expected: '0..242', got: v });
      for (let q = 0; q < 5; q++) {
        const t = (v % 3) - 1;
        v = (v - (v % 3)) / 3;
        const i = j * 5 + q;
        if (i >= cols * depth) {
          if (t !== 0) throw new TritwiseError('E_FORMAT', 'padding trit is not zero', { where: `${where} row ${r} byte ${j}`, expected: 'code 1', got: t + 1 });
          continue;
        }
        out[r * cols + Math.floor(i / depth)]! += t * POW3[i % depth]!;
      }
    }
  }
  return out;
}

/** Unpack to bit planes (the exact inverse of packTrytes). */
export function unpackTrytes(p: PackedTrytes, where = 'trytes'): MultiTritTensor {
  const n = tryteIntegers(p, where);
  return MultiTritTensor.fromIntegers(n, p.rows, p.cols, p.depth, { scales: p.scales, groupSize: p.groupSize, groupScales: p.groupScales ?? undefined });
}

function locate(p: PackedTrytes, r: number, c: number, where: string): void {
  if (!(Number.isInteger(r) && r >= 0 && r < p.rows && Number.isInteger(c) && c >= 0 && c < p.cols)) {
    throw new TritwiseError('E_ARG', 'index out of range', { where, expected: `[0..${p.rows}) × [0..${p.cols})`, got: `[${r}, ${c}]` });
  }
}

/** The d trits of (r, c), least significant first, read from the packed bytes. */
export function getTryteTrits(p: PackedTrytes, r: number, c: number): number[] {
  locate(p, r, c, 'getTryte');
  const out: number[] = [];
  for (let k = 0; k < p.depth; k++) {
    const i = c * p.depth + k;
    const b = p.data[r * p.bytesPerRow + Math.floor(i / 5)]!;
    out.push((Math.floor(b / POW3[i % 5]!) % 3) - 1);
  }
  return out;
}

/** The integer at (r, c). */
export function getTryte(p: PackedTrytes, r: number, c: number): number {
  return getTryteTrits(p, r, c).reduceRight((n, t) => n * 3 + t, 0);
}

/**
 * The packed lens edit: set (r, c) to the integer n by rewriting its d trits in place; each
 * touched byte changes by (new − old)·3^m, so no other trit moves.
 */
export function setTryte(p: PackedTrytes, r: number, c: number, n: number): void {
  locate(p, r, c, 'setTryte');
  const max = tryteMax(p.depth);
  if (!Number.isInteger(n) || Math.abs(n) > max) throw new TritwiseError('E_ARG', 'not a tryte', { where: `setTryte(${r}, ${c})`, expected: `an integer in [−${max}, ${max}]`, got: n });
  const old = getTryteTrits(p, r, c);
  let v = n;
  for (let k = 0; k < p.depth; k++) {
    let t = v % 3;
    if (t > 1) t -= 3;
    else if (t < -1) t += 3;
    v = (v - t) / 3;
    const i = c * p.depth + k;
    const at = r * p.bytesPerRow + Math.floor(i / 5);
    p.data[at] = p.data[at]! + (t - old[k]!) * POW3[i % 5]!;
  }
}

export type Overflow = 'error' | 'wrap' | 'saturate';

/** One balanced-ternary full adder: a + b + carry = digit + 3·carry'. */
export function fullAddTrit(a: number, b: number, carry: number): [digit: number, carry: number] {
  const s = a + b + carry;
  const k = s > 1 ? 1 : s < -1 ? -1 : 0;
  return [s - 3 * k, k];
}

function sameScales(a: PackedTrytes, b: PackedTrytes): boolean {
  const eq = (x: Float32Array | null, y: Float32Array | null) => (x === null || y === null ? x === y : x.length === y.length && x.every((v, i) => Object.is(v, y[i])));
  return a.groupSize === b.groupSize && eq(a.scales, b.scales) && eq(a.groupScales, b.groupScales);
}

/**
 * a + b elementwise by ripple carry over the packed digits. Both must have the same shape,
 * depth and scales. A sum outside [−(3^d−1)/2, (3^d−1)/2] is an E_ARG ('error', default), is
 * reduced modulo 3^d ('wrap': the final carry is dropped), or is clamped ('saturate').
 */
export function addTrytes(a: PackedTrytes, b: PackedTrytes, opts: { overflow?: Overflow } = {}): PackedTrytes {
  checkPacked(a, 'addTrytes a');
  checkPacked(b, 'addTrytes b');
  if (a.rows !== b.rows || a.cols !== b.cols || a.depth !== b.depth) {
    throw new TritwiseError('E_SHAPE', 'trytes differ in shape or depth', { where: 'addTrytes', expected: `${a.rows}×${a.cols}×${a.depth}`, got: `${b.rows}×${b.cols}×${b.depth}` });
  }
  if (!sameScales(a, b)) throw new TritwiseError('E_ARG', 'trytes with different scales cannot be added as integers', { where: 'addTrytes', expected: 'equal scales and group scales', got: 'different scales' });
  const overflow = opts.overflow ?? 'error';
  const out: PackedTrytes = { ...a, scales: a.scales.slice(), groupScales: a.groupScales?.slice() ?? null, data: new Uint8Array(a.data.length).fill(0) };
  // start from all-zero trits (code 1 everywhere, padding included)
  for (let j = 0; j < out.data.length; j++) out.data[j] = 121; // Σ 3^m, m < 5
  const max = tryteMax(a.depth);
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < a.cols; c++) {
      const x = getTryteTrits(a, r, c);
      const y = getTryteTrits(b, r, c);
      const digits: number[] = [];
      let carry = 0;
      for (let k = 0; k < a.depth; k++) {
        const [d, k2] = fullAddTrit(x[k]!, y[k]!, carry);
        digits.push(d);
        carry = k2;
      }
      let n = digits.reduceRight((s, t) => s * 3 + t, 0);
      if (carry !== 0) {
        if (overflow === 'error') throw new TritwiseError('E_ARG', 'tryte sum overflows', { where: `addTrytes[${r}, ${c}]`, expected: `a sum in [−${max}, ${max}]`, got: n + carry * 3 ** a.depth });
        if (overflow === 'saturate') n = carry * max;
      }
      setTryte(out, r, c, n);
    }
  }
  return out;
}

/** Balanced-ternary half adder on 32 trits per word: [sum⁺, sum⁻, carry⁺, carry⁻]. */
function halfAddWords(xp: number, xm: number, yp: number, ym: number): [number, number, number, number] {
  const x0 = ~(xp | xm);
  const y0 = ~(yp | ym);
  return [(xp & y0) | (x0 & yp) | (xm & ym), (xm & y0) | (x0 & ym) | (xp & yp), xp & yp, xm & ym];
}

/** Balanced-ternary full adder on 32 trits per word: [sum⁺, sum⁻, carry⁺, carry⁻]. */
export function fullAddWords(ap: number, am: number, bp: number, bm: number, cp: number, cm: number): [number, number, number, number] {
  const [hp, hm, k1p, k1m] = halfAddWords(ap, am, bp, bm);
  const [sp, sm, k2p, k2m] = halfAddWords(hp, hm, cp, cm);
  return [sp, sm, (k1p & ~k2m) | (k2p & ~k1m), (k1m & ~k2p) | (k2m & ~k1p)];
}

/**
 * Bit-sliced ripple-carry addition of two tensors' integers (32 weights per word, one word of
 * each plane at a time): returns the d-trit sum (scales of a) and the final carry plane, so
 * that  a + b = sum + 3^d·carry  exactly for every element.
 */
export function addPlanes(a: MultiTritTensor, b: MultiTritTensor): { sum: MultiTritTensor; carry: TernaryTensor } {
  if (a.rows !== b.rows || a.cols !== b.cols || a.depth !== b.depth) {
    throw new TritwiseError('E_SHAPE', 'tensors differ in shape or depth', { where: 'addPlanes', expected: `${a.rows}×${a.cols}×${a.depth}`, got: `${b.rows}×${b.cols}×${b.depth}` });
  }
  const sum = a.clone();
  const carry = TernaryTensor.zeros(a.rows, a.cols);
  const wpr = carry.wordsPerRow;
  const pad = lastWordMask(a.cols);
  for (let i = 0; i < a.rows * wpr; i++) {
    const mask = (i % wpr) === wpr - 1 ? pad : -1;
    let cp = 0,
      cm = 0;
    for (let k = 0; k < a.depth; k++) {
      const pa = a.planes[k]!,
        pb = b.planes[k]!,
        ps = sum.planes[k]!;
      const [sp, sm, kp, km] = fullAddWords(pa.plus[i]!, pa.minus[i]!, pb.plus[i]!, pb.minus[i]!, cp, cm);
      ps.plus[i] = sp & mask;
      ps.minus[i] = sm & mask;
      cp = kp;
      cm = km;
    }
    carry.plus[i] = cp & mask;
    carry.minus[i] = cm & mask;
  }
  for (const p of sum.planes) p.invalidateMetadata();
  return { sum, carry };
}
