/**
 * ref/multi-kernels — reference kernels for multi-trit weights (W = Σ_p T_p, d planes):
 *
 *   gemmMultiF32  y[b,r] = Σ_p rs_p[r] · Σ_g gs_p[r,g] · Σ_{c∈g} t_p[r,c]·x[b,c]
 *   gemmMultiI8   acc[((b·rows + r)·d + p)·G + g] = Σ_{c∈g} t_p[r,c]·q[b,c]     (exact)
 *
 * Each (token, row) reads its activations once and walks every plane's set bits (add where a
 * trit is +1, subtract where it is −1); sums are f64.
 */
import { TritwiseError } from '../../errors.js';
import type { MultiTritTensor } from '../../tensor/multi-trit-tensor.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';

function check(m: MultiTritTensor, x: ArrayLike<number>, batch: number, where: string): void {
  if (!Number.isInteger(batch) || batch < 0) throw new TritwiseError('E_ARG', 'invalid batch', { where, expected: 'an integer ≥ 0', got: batch });
  if (x.length < batch * m.cols) throw new TritwiseError('E_SHAPE', 'activations too short', { where, expected: `batch×cols = ${batch}×${m.cols} = ${batch * m.cols}`, got: x.length });
}

/** Σ_{c∈[c0,c1)} t[r,c]·x[off+c] of one plane. */
function planeSum(t: TernaryTensor, r: number, c0: number, c1: number, x: ArrayLike<number>, off: number): number {
  let acc = 0;
  const base = r * t.wordsPerRow;
  for (let word = c0 >>> 5; word < (c1 + 31) >>> 5; word++) {
    let p = t.plus[base + word]!;
    let m = t.minus[base + word]!;
    while (p !== 0) {
      const b = 31 - Math.clz32(p & -p);
      p &= p - 1;
      acc += x[off + word * 32 + b]!;
    }
    while (m !== 0) {
      const b = 31 - Math.clz32(m & -m);
      m &= m - 1;
      acc -= x[off + word * 32 + b]!;
    }
  }
  return acc;
}

export function gemmMultiF32(m: MultiTritTensor, x: Float32Array, batch: number, out?: Float32Array): Float32Array {
  check(m, x, batch, 'gemmMultiF32');
  const n = batch * m.rows;
  if (out && out.length < n) throw new TritwiseError('E_SHAPE', 'output buffer too short', { where: 'gemmMultiF32', expected: n, got: out.length });
  const y = out ?? new Float32Array(n);
  const gs = m.groupSize;
  const G = gs ? Math.ceil(m.cols / gs) : 1;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < m.rows; r++) {
      let sum = 0;
      for (const t of m.planes) {
        let ps = 0;
        for (let g = 0; g < G; g++) {
          const c0 = g * (gs || m.cols);
          const acc = planeSum(t, r, c0, Math.min(m.cols, c0 + (gs || m.cols)), x, b * m.cols);
          ps += t.groupScales ? t.groupScales[r * G + g]! * acc : acc;
        }
        sum += ps * t.scales[r]!;
      }
      y[b * m.rows + r] = sum;
    }
  }
  return y;
}

export function gemmMultiI8(m: MultiTritTensor, q: Int8Array, batch: number, out?: Int32Array): Int32Array {
  check(m, q, batch, 'gemmMultiI8');
  const gs = m.groupSize;
  const G = gs ? Math.ceil(m.cols / gs) : 1;
  const d = m.depth;
  const n = batch * m.rows * d * G;
  if (out && out.length < n) throw new TritwiseError('E_SHAPE', 'output buffer too short', { where: 'gemmMultiI8', expected: n, got: out.length });
  const acc = out ?? new Int32Array(n);
  for (let b = 0; b < batch; b++)
    for (let r = 0; r < m.rows; r++)
      for (let p = 0; p < d; p++)
        for (let g = 0; g < G; g++) {
          const c0 = g * (gs || m.cols);
          acc[((b * m.rows + r) * d + p) * G + g] = planeSum(m.planes[p]!, r, c0, Math.min(m.cols, c0 + (gs || m.cols)), q, b * m.cols);
        }
  return acc;
}
