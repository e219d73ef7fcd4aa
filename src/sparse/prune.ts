/**
 * prune — make ternary layers sparser, in place, and report what changed:
 *
 *   magnitude:S   zero the nonzero trits with the smallest |w| (the source f32 weight; without
 *                 one, the effective scale rs·gs) until a fraction S of all trits is zero; then
 *                 refit each row scale to the kept trits (least squares, given group scales):
 *                   rs[r] = Σ_c t·w·gs / Σ_c t²·gs²     over row r
 *   rows:F        zero whole rows: the fraction F of rows with the smallest dequantized norm
 *                   ‖W[r]‖² = rs[r]² · Σ_g gs[r,g]² · nnz(r,g)
 *   N:M           structured N:M (e.g. 2:4): in every aligned run of M columns of a row keep at
 *                 most the N nonzeros with the largest |w| (ties: lower column first)
 *
 * Every edit goes through TernaryTensor.set / clearRow, so nonzero counts and chunk bitmaps stay
 * exact. Specs combine with commas, applied in order: "rows:0.1,magnitude:0.9".
 */
import { TritwiseError } from '../errors.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';

export type PruneStep = { kind: 'magnitude'; sparsity: number } | { kind: 'rows'; fraction: number } | { kind: 'nm'; n: number; m: number };

export interface PruneReport {
  spec: string;
  before: number;
  after: number;
}

export function parsePrune(spec: string, where = 'prune'): PruneStep[] {
  if (typeof spec !== 'string' || !spec.trim()) throw new TritwiseError('E_ARG', 'empty prune spec', { where, expected: 'magnitude:S | rows:F | N:M, comma-separated', got: spec });
  return spec.split(',').map((part) => {
    const p = part.trim();
    let m: RegExpExecArray | null;
    if ((m = /^magnitude:([0-9.eE+-]+)$/.exec(p))) {
      const s = Number(m[1]);
      if (!(s >= 0 && s < 1)) throw new TritwiseError('E_ARG', 'target sparsity out of range', { where, expected: 'magnitude:S with 0 ≤ S < 1', got: p });
      return { kind: 'magnitude', sparsity: s };
    }
    if ((m = /^rows:([0-9.eE+-]+)$/.exec(p))) {
      const f = Number(m[1]);
      if (!(f >= 0 && f < 1)) throw new TritwiseError('E_ARG', 'row fraction out of range', { where, expected: 'rows:F with 0 ≤ F < 1', got: p });
      return { kind: 'rows', fraction: f };
    }
    if ((m = /^(\d+):(\d+)$/.exec(p))) {
      const n = Number(m[1]), mm = Number(m[2]);
      if (!(n >= 1 && mm >= 2 && n < mm && mm <= 64)) throw new TritwiseError('E_ARG', 'invalid N:M pattern', { where, expected: 'N:M with 1 ≤ N < M ≤ 64, e.g. 2:4', got: p });
      return { kind: 'nm', n, m: mm };
    }
    throw new TritwiseError('E_ARG', 'unknown prune spec', { where, expected: 'magnitude:S | rows:F | N:M (e.g. magnitude:0.9, rows:0.1, 2:4)', got: p });
  });
}

function sparsity(t: TernaryTensor): number {
  let nnz = 0;
  for (let r = 0; r < t.rows; r++) nnz += t.rowNnz(r);
  return t.rows * t.cols ? 1 - nnz / (t.rows * t.cols) : 0;
}

/** Visit the nonzero trits of row r: f(c, t). */
function eachNonzero(t: TernaryTensor, r: number, f: (c: number, v: 1 | -1) => void): void {
  const wpr = t.wordsPerRow;
  for (let w = 0; w < wpr; w++) {
    for (const [plane, v] of [[t.plus, 1], [t.minus, -1]] as const) {
      let x = plane[r * wpr + w]!;
      while (x !== 0) {
        const b = 31 - Math.clz32(x & -x);
        x &= x - 1;
        f(w * 32 + b, v);
      }
    }
  }
}

function magnitude(t: TernaryTensor, r: number, c: number, src?: Float32Array): number {
  return src ? Math.abs(src[r * t.cols + c]!) : t.scaleAt(r, c);
}

function pruneMagnitude(t: TernaryTensor, target: number, src?: Float32Array): void {
  const total = t.rows * t.cols;
  let nnz = 0;
  for (let r = 0; r < t.rows; r++) nnz += t.rowNnz(r);
  const drop = Math.min(nnz, Math.ceil(target * total - 1e-9) - (total - nnz));
  if (drop <= 0) return;
  // rank every nonzero by magnitude (stable by position), drop the `drop` smallest
  const pos = new Float64Array(nnz);
  const mag = new Float32Array(nnz);
  let i = 0;
  for (let r = 0; r < t.rows; r++)
    eachNonzero(t, r, (c) => {
      pos[i] = r * t.cols + c;
      mag[i++] = magnitude(t, r, c, src);
    });
  const order = Uint32Array.from({ length: nnz }, (_, k) => k).sort((a, b) => mag[a]! - mag[b]! || pos[a]! - pos[b]!);
  for (let k = 0; k < drop; k++) {
    const p = pos[order[k]!]!;
    t.set(Math.floor(p / t.cols), p % t.cols, 0);
  }
  if (src) refitRowScales(t, src);
}

/** Least-squares row scales for the kept trits: rs = Σ t·w·gs / Σ t²·gs² (rows left empty keep theirs). */
export function refitRowScales(t: TernaryTensor, src: Float32Array): void {
  for (let r = 0; r < t.rows; r++) {
    let num = 0, den = 0;
    const rs = t.scales[r]!;
    eachNonzero(t, r, (c, v) => {
      const g = rs !== 0 ? t.scaleAt(r, c) / rs : 1;
      num += v * src[r * t.cols + c]! * g;
      den += g * g;
    });
    if (den > 0 && num > 0) t.scales[r] = Math.fround(num / den);
  }
}

function pruneRows(t: TernaryTensor, fraction: number): void {
  const k = Math.floor(fraction * t.rows);
  if (k <= 0) return;
  const norm = new Float64Array(t.rows);
  for (let r = 0; r < t.rows; r++) {
    let s = 0;
    eachNonzero(t, r, (c) => (s += t.scaleAt(r, c) ** 2));
    norm[r] = s;
  }
  const order = Uint32Array.from({ length: t.rows }, (_, i) => i).sort((a, b) => norm[a]! - norm[b]! || a - b);
  for (let i = 0; i < k; i++) t.clearRow(order[i]!);
}

function pruneNM(t: TernaryTensor, n: number, m: number, src?: Float32Array): void {
  for (let r = 0; r < t.rows; r++) {
    for (let c0 = 0; c0 < t.cols; c0 += m) {
      const live: number[] = [];
      for (let c = c0; c < Math.min(t.cols, c0 + m); c++) if (t.get(r, c) !== 0) live.push(c);
      if (live.length <= n) continue;
      live.sort((a, b) => magnitude(t, r, b, src) - magnitude(t, r, a, src) || a - b);
      for (const c of live.slice(n)) t.set(r, c, 0);
    }
  }
  if (src) refitRowScales(t, src);
}

/** Apply a prune spec to `t` in place (src: the f32 weights t was quantized from, if known). */
export function prune(t: TernaryTensor, spec: string | PruneStep[], src?: Float32Array, where = 'prune'): PruneReport {
  const steps = typeof spec === 'string' ? parsePrune(spec, where) : spec;
  if (src && src.length !== t.rows * t.cols) throw new TritwiseError('E_SHAPE', 'source weights do not match the tensor', { where, expected: t.rows * t.cols, got: src.length });
  const before = sparsity(t);
  for (const s of steps) {
    if (s.kind === 'magnitude') pruneMagnitude(t, s.sparsity, src);
    else if (s.kind === 'rows') pruneRows(t, s.fraction);
    else pruneNM(t, s.n, s.m, src);
  }
  return { spec: typeof spec === 'string' ? spec : steps.map((s) => (s.kind === 'nm' ? `${s.n}:${s.m}` : s.kind === 'rows' ? `rows:${s.fraction}` : `magnitude:${s.sparsity}`)).join(','), before, after: sparsity(t) };
}
