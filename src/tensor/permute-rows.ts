/**
 * permute-rows — reorder the rows of a dense or ternary matrix: row r of the result is row
 * perm[r] of the input. Ternary rows move with their planes, row scale and group scales (every
 * plane of a multi-trit tensor alike).
 */
import { TritwiseError } from '../errors.js';
import type { DenseTensor } from './dense-tensor.js';
import { MultiTritTensor } from './multi-trit-tensor.js';
import { TernaryTensor } from './ternary-tensor.js';

export function permuteRows<T extends DenseTensor | TernaryTensor | MultiTritTensor>(t: T, perm: Int32Array): T {
  if (t instanceof MultiTritTensor) return new MultiTritTensor(t.planes.map((p) => permuteRows(p, perm)), { quantizer: t.quantizer }) as T;
  const rows = t instanceof TernaryTensor ? t.rows : (t as DenseTensor).shape[0]!;
  if (perm.length !== rows) throw new TritwiseError('E_SHAPE', 'permutation does not match the rows', { where: 'permuteRows', expected: rows, got: perm.length });
  if (t instanceof TernaryTensor) {
    const w = t.wordsPerRow;
    const G = t.groupsPerRow;
    const out = new TernaryTensor({
      rows,
      cols: t.cols,
      plus: new Uint32Array(t.plus.length),
      minus: new Uint32Array(t.minus.length),
      scales: new Float32Array(rows),
      groupSize: t.groupSize,
      groupScales: t.groupScales ? new Float32Array(t.groupScales.length) : null,
      quantizer: t.quantizer,
    });
    for (let r = 0; r < rows; r++) {
      const s = perm[r]!;
      out.plus.set(t.plus.subarray(s * w, (s + 1) * w), r * w);
      out.minus.set(t.minus.subarray(s * w, (s + 1) * w), r * w);
      out.scales[r] = t.scales[s]!;
      if (t.groupScales) out.groupScales!.set(t.groupScales.subarray(s * G, (s + 1) * G), r * G);
    }
    return out as T;
  }
  const d = t as DenseTensor;
  const cols = d.data.length / Math.max(rows, 1);
  const data = new Float32Array(d.data.length);
  for (let r = 0; r < rows; r++) data.set(d.data.subarray(perm[r]! * cols, (perm[r]! + 1) * cols), r * cols);
  return { shape: d.shape.slice(), data } as T;
}
