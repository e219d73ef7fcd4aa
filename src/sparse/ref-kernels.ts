/**
 * ref-kernels — plain-TypeScript reference kernels on the sparse formats, with the same
 * contracts as backend/ref/kernels.ts (activations [batch, cols], outputs [batch, rows] f32 or
 * [batch, rows, groups] exact int32):
 *
 *   f32:  y[b,r] = rs[r] · Σ_g gs[r,g] · (Σ_{c∈plus(r,g)} x[b,c] − Σ_{c∈minus(r,g)} x[b,c])
 *   int8: acc[b,r,g] = Σ_{c∈plus(r,g)} q[b,c] − Σ_{c∈minus(r,g)} q[b,c]
 *
 * Sums are f64 (JS numbers) as in the dense reference; GEMV is batch = 1.
 */
import { TritwiseError } from '../errors.js';
import type { BlockSparseTrits } from './block-sparse.js';
import type { CsrTrits } from './csr.js';

type Sparse = CsrTrits | BlockSparseTrits;

function check(w: Sparse, x: ArrayLike<number>, batch: number, where: string): void {
  if (!Number.isInteger(batch) || batch < 0) throw new TritwiseError('E_ARG', 'invalid batch', { where, expected: 'an integer ≥ 0', got: batch });
  if (x.length < batch * w.cols) throw new TritwiseError('E_SHAPE', 'activations too short', { where, expected: batch * w.cols, got: x.length });
}

function groupsOf(w: Sparse): number {
  return w.groupSize ? Math.ceil(w.cols / w.groupSize) : 1;
}

/** Per-group signed sums of row r into acc[0..G) (acc is zeroed first). */
function rowSums(w: Sparse, r: number, x: ArrayLike<number>, xOff: number, acc: Float64Array): void {
  acc.fill(0);
  if (w.format === 'csr') {
    for (let g = 0; g < w.G; g++) {
      const i = (r * w.G + g) * 2;
      let s = 0;
      for (let k = w.offs[i]!; k < w.offs[i + 1]!; k++) s += x[xOff + w.idx[k]!]!;
      for (let k = w.offs[i + 1]!; k < w.offs[i + 2]!; k++) s -= x[xOff + w.idx[k]!]!;
      acc[g] = s;
    }
    return;
  }
  const B = w.chunkWords;
  for (let k = w.rowPtr[r]!; k < w.rowPtr[r + 1]!; k++) {
    for (let j = 0; j < B; j++) {
      const word = w.chunk[k]! * B + j;
      const g = w.groupSize ? Math.floor((word * 32) / w.groupSize) : 0;
      for (const [plane, sign] of [[w.plus, 1], [w.minus, -1]] as const) {
        let bits = plane[k * B + j]!;
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          acc[g]! += sign * x[xOff + word * 32 + b]!;
        }
      }
    }
  }
}

export function gemmSparseF32(w: Sparse, x: Float32Array, batch: number, out?: Float32Array): Float32Array {
  check(w, x, batch, `gemmSparseF32 (${w.format})`);
  const y = out ?? new Float32Array(batch * w.rows);
  const G = groupsOf(w);
  const acc = new Float64Array(G);
  for (let b = 0; b < batch; b++)
    for (let r = 0; r < w.rows; r++) {
      rowSums(w, r, x, b * w.cols, acc);
      let s = 0;
      for (let g = 0; g < G; g++) s += w.groupScales ? w.groupScales[r * G + g]! * acc[g]! : acc[g]!;
      y[b * w.rows + r] = s * w.scales[r]!;
    }
  return y;
}

export function gemmSparseI8(w: Sparse, q: Int8Array, batch: number, out?: Int32Array): Int32Array {
  check(w, q, batch, `gemmSparseI8 (${w.format})`);
  const G = groupsOf(w);
  const y = out ?? new Int32Array(batch * w.rows * G);
  const acc = new Float64Array(G);
  for (let b = 0; b < batch; b++)
    for (let r = 0; r < w.rows; r++) {
      rowSums(w, r, q, b * w.cols, acc);
      for (let g = 0; g < G; g++) y[(b * w.rows + r) * G + g] = acc[g]!;
    }
  return y;
}
