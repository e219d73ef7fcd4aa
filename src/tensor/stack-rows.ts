/**
 * stack-rows — matrices with the same columns stacked vertically, [A; B; …]: rows of A, then of
 * B, … Ternary rows move with their planes, row scales and group scales (so the parts must share
 * a group size); the result shares nothing with the inputs.
 */
import { TritwiseError } from '../errors.js';
import type { DenseTensor } from './dense-tensor.js';
import { TernaryTensor } from './ternary-tensor.js';

export function stackTernaryRows(parts: readonly TernaryTensor[], where = 'stackRows'): TernaryTensor {
  if (parts.length === 0) throw new TritwiseError('E_ARG', 'nothing to stack', { where, expected: 'at least one tensor', got: 0 });
  const { cols, groupSize } = parts[0]!;
  for (const p of parts) {
    if (p.cols !== cols || p.groupSize !== groupSize) {
      throw new TritwiseError('E_SHAPE', 'stacked tensors must share columns and group size', { where, expected: `${cols} columns, group size ${groupSize}`, got: `${p.cols} columns, group size ${p.groupSize}` });
    }
  }
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  const cat = <T extends Uint32Array | Float32Array>(make: (n: number) => T, pick: (p: TernaryTensor) => T): T => {
    const out = make(parts.reduce((n, p) => n + pick(p).length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(pick(p), o);
      o += pick(p).length;
    }
    return out;
  };
  return new TernaryTensor(
    {
      rows,
      cols,
      plus: cat((n) => new Uint32Array(n), (p) => p.plus),
      minus: cat((n) => new Uint32Array(n), (p) => p.minus),
      scales: cat((n) => new Float32Array(n), (p) => p.scales),
      groupSize,
      groupScales: groupSize ? cat((n) => new Float32Array(n), (p) => p.groupScales!) : null,
      quantizer: parts[0]!.quantizer,
    },
    where,
  );
}

export function stackDenseRows(parts: readonly DenseTensor[], where = 'stackRows'): DenseTensor {
  const cols = parts[0]?.shape[1];
  let rows = 0;
  for (const p of parts) {
    if (p.shape.length !== 2 || p.shape[1] !== cols) throw new TritwiseError('E_SHAPE', 'stacked matrices must share columns', { where, expected: `[*, ${cols}]`, got: p.shape });
    rows += p.shape[0]!;
  }
  const data = new Float32Array(rows * (cols ?? 0));
  let o = 0;
  for (const p of parts) {
    data.set(p.data, o);
    o += p.data.length;
  }
  return { shape: [rows, cols ?? 0], data };
}
