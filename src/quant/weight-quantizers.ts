/**
 * weight-quantizers — f32 weights → TernaryTensor, per row or per group of columns.
 *
 * Each quantizer maps one segment w (a row, or a group of `groupSize` columns of a row) to trits t
 * and one scale α, so that w ≈ α·t:
 *
 *   absmean     (BitNet b1.58)  γ = mean|w|;  t = clamp(round(w/γ), −1, 1);  α = γ
 *               round is half-to-even as in torch.round, so t ≠ 0 ⇔ |w| > γ/2.
 *   twn         (Ternary Weight Networks)  Δ = 0.7·mean|w|;  t = sign(w)·[|w| > Δ];
 *               α = mean{|wᵢ| : |wᵢ| > Δ}
 *   threshold(Δ) t = sign(w)·[|w| > Δ];  α = mean over the support (the least-squares α for it)
 *   percentile(p) Δ = the p-th percentile of |w| (nearest rank), then threshold(Δ): ≈ p % zeros
 *   mse         the support that minimises ‖w − α·t‖² with its optimal α. Sorting |w| descending
 *               as a₁ ≥ a₂ ≥ …, a support of the k largest gives α = S_k/k (S_k = a₁+…+a_k) and
 *               error ‖w‖² − S_k²/k, so we take the k maximising S_k²/k among cut points with
 *               a_k > a_{k+1}. Every threshold support (twn's included) is such a top-k set, so
 *               mse is never worse than twn.
 *
 * Note: Δ = 0.7·max|w| is a common mistake that leaves ~99 % zeros; it is not offered as a default.
 * Statistics (sparsity, +1/−1 ratio, MSE, relative and max absolute error) come with every result.
 */
import { TritwiseError, checkSize } from '../errors.js';
import { wordsFor } from '../tensor/bits.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';

export type QuantizerSpec =
  | { kind: 'absmean' }
  | { kind: 'twn' }
  | { kind: 'mse' }
  | { kind: 'threshold'; delta: number }
  | { kind: 'percentile'; p: number };

export type QuantizerName = QuantizerSpec['kind'];

export interface QuantizeOptions {
  /** Columns per scale group (a multiple of 32); 0 or absent = one scale per row. */
  groupSize?: number;
  /** Tensor name used in error messages. */
  name?: string;
}

export interface QuantStats {
  sparsity: number;
  /** count(+1) / count(−1) */
  plusMinusRatio: number;
  /** mean squared error ‖W − Ŵ‖²/n */
  mse: number;
  /** ‖W − Ŵ‖ / ‖W‖ (0 when W = 0) */
  relError: number;
  maxAbsError: number;
}

export interface QuantizeResult {
  tensor: TernaryTensor;
  stats: QuantStats;
}

/** Parse "absmean", "twn", "mse", "threshold:0.01", "percentile:90" (CLI and plan syntax). */
export function parseQuantizer(s: string | QuantizerSpec): QuantizerSpec {
  if (typeof s !== 'string') return validateSpec(s);
  const [kind, arg] = s.split(':');
  switch (kind) {
    case 'absmean':
    case 'twn':
    case 'mse':
      if (arg !== undefined) break;
      return { kind };
    case 'threshold':
      return validateSpec({ kind, delta: Number(arg) });
    case 'percentile':
      return validateSpec({ kind, p: Number(arg) });
  }
  throw new TritwiseError('E_ARG', 'unknown quantizer', { where: 'quantizer', expected: 'absmean | twn | mse | threshold:<Δ> | percentile:<p>', got: s });
}

function validateSpec(q: QuantizerSpec): QuantizerSpec {
  if (q.kind === 'threshold' && !(Number.isFinite(q.delta) && q.delta >= 0)) {
    throw new TritwiseError('E_ARG', 'invalid threshold', { where: 'threshold(Δ)', expected: 'a finite Δ ≥ 0', got: q.delta });
  }
  if (q.kind === 'percentile' && !(Number.isFinite(q.p) && q.p >= 0 && q.p <= 100)) {
    throw new TritwiseError('E_ARG', 'invalid percentile', { where: 'percentile(p)', expected: '0 ≤ p ≤ 100', got: q.p });
  }
  if (!['absmean', 'twn', 'mse', 'threshold', 'percentile'].includes(q.kind)) {
    throw new TritwiseError('E_ARG', 'unknown quantizer', { where: 'quantizer', expected: 'absmean | twn | mse | threshold | percentile', got: (q as { kind: unknown }).kind });
  }
  return q;
}

export function quantizerLabel(q: QuantizerSpec): string {
  return q.kind === 'threshold' ? `threshold:${q.delta}` : q.kind === 'percentile' ? `percentile:${q.p}` : q.kind;
}

/** Mean |wᵢ| over the support |wᵢ| > Δ (0 for an empty support), in element order. */
function supportMean(w: Float32Array, delta: number): number {
  let s = 0,
    n = 0;
  for (let i = 0; i < w.length; i++) {
    const a = Math.abs(w[i]!);
    if (a > delta && a !== 0) {
      s += a;
      n++;
    }
  }
  return n ? s / n : 0;
}

function meanAbs(w: Float32Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += Math.abs(w[i]!);
  return w.length ? s / w.length : 0;
}

/** The mse-optimal threshold Δ for a segment (see the header). */
function mseThreshold(w: Float32Array): number {
  const a = Float64Array.from(w, Math.abs).sort().reverse();
  let best = 0; // k = 0: the empty support, gain 0
  let bestK = 0;
  let s = 0;
  for (let k = 1; k <= a.length; k++) {
    s += a[k - 1]!;
    if (a[k - 1]! === 0) break;
    if (k < a.length && a[k]! === a[k - 1]!) continue; // not a cut point
    const gain = (s * s) / k;
    if (gain > best) {
      best = gain;
      bestK = k;
    }
  }
  if (bestK === 0) return Infinity;
  return bestK < a.length ? a[bestK]! : -1;
}

function percentileThreshold(w: Float32Array, p: number): number {
  if (w.length === 0 || p <= 0) return -1;
  const a = Float64Array.from(w, Math.abs).sort();
  const rank = Math.ceil((p / 100) * a.length);
  return a[Math.min(a.length, Math.max(1, rank)) - 1]!;
}

/**
 * Quantize one segment: returns α and writes trits into the planes at bit offset `col0` of
 * row `r`.
 */
function quantizeSegment(
  spec: QuantizerSpec,
  w: Float32Array,
  plus: Uint32Array,
  minus: Uint32Array,
  rowWord0: number,
  col0: number,
): number {
  let delta: number;
  let alpha: number;
  switch (spec.kind) {
    case 'absmean': {
      const g = meanAbs(w);
      delta = g / 2; // round(w/γ) ≠ 0 ⇔ |w/γ| > 0.5 (half-to-even), clamp(…, −1, 1) = sign
      alpha = g;
      if (g === 0) delta = Infinity;
      break;
    }
    case 'twn':
      delta = 0.7 * meanAbs(w);
      alpha = supportMean(w, delta);
      break;
    case 'threshold':
      delta = spec.delta;
      alpha = supportMean(w, delta);
      break;
    case 'percentile':
      delta = percentileThreshold(w, spec.p);
      alpha = supportMean(w, delta);
      break;
    case 'mse':
      delta = mseThreshold(w);
      alpha = supportMean(w, delta);
      break;
  }
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    if (Math.abs(v) > delta && v !== 0) {
      const c = col0 + i;
      const word = rowWord0 + (c >>> 5);
      if (v > 0) plus[word]! |= 1 << (c & 31);
      else minus[word]! |= 1 << (c & 31);
    }
  }
  return alpha;
}

/** Quantize a [rows, cols] row-major f32 matrix to trits. */
export function quantize(
  w: Float32Array,
  rows: number,
  cols: number,
  quantizer: QuantizerSpec | string = 'absmean',
  opts: QuantizeOptions = {},
): QuantizeResult {
  const name = opts.name ?? 'weights';
  checkSize(rows, `${name}.rows`);
  checkSize(cols, `${name}.cols`);
  const spec = parseQuantizer(quantizer);
  if (!(w instanceof Float32Array)) throw new TritwiseError('E_ARG', 'weights must be a Float32Array', { where: name, got: Object.prototype.toString.call(w) });
  if (w.length !== rows * cols) {
    throw new TritwiseError('E_SHAPE', 'weight length does not match shape', { where: name, expected: `${rows}×${cols} = ${rows * cols}`, got: w.length });
  }
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i]!)) {
      throw new TritwiseError('E_NONFINITE', 'non-finite weight', { where: `${name}[${Math.floor(i / cols)}, ${i % cols}]`, expected: 'a finite number', got: w[i] });
    }
  }
  const gs = opts.groupSize ?? 0;
  if (gs !== 0 && !(Number.isInteger(gs) && gs > 0 && gs % 32 === 0)) {
    throw new TritwiseError('E_ARG', 'invalid group size', { where: `${name}.groupSize`, expected: 'a positive multiple of 32', got: gs });
  }
  const t = TernaryTensor.zeros(rows, cols, { groupSize: gs });
  t.quantizer = quantizerLabel(spec);
  const wpr = wordsFor(cols);
  const seg = gs || cols;
  const groups = gs ? Math.ceil(cols / gs) : 1;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const c0 = g * seg;
      const c1 = Math.min(cols, c0 + seg);
      const alpha = quantizeSegment(spec, w.subarray(r * cols + c0, r * cols + c1), t.plus, t.minus, r * wpr, c0);
      if (gs) t.groupScales![r * groups + g] = alpha;
      else t.scales[r] = alpha;
    }
  }
  return { tensor: t, stats: quantStats(w, t) };
}

/** Error statistics of a quantized tensor against its source (accumulated in f64). */
export function quantStats(w: Float32Array, t: TernaryTensor): QuantStats {
  const d = t.toDense();
  let se = 0,
    sw = 0,
    maxAbs = 0;
  for (let i = 0; i < w.length; i++) {
    const e = w[i]! - d[i]!;
    se += e * e;
    sw += w[i]! * w[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(e));
  }
  const st = t.stats();
  return {
    sparsity: st.sparsity,
    plusMinusRatio: st.plusMinusRatio,
    mse: w.length ? se / w.length : 0,
    relError: sw > 0 ? Math.sqrt(se / sw) : 0,
    maxAbsError: maxAbs,
  };
}
