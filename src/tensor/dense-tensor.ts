/**
 * dense-tensor — a plain n-d f32 tensor (row-major), the currency of checkpoints and dense layers.
 */
import { TritwiseError } from '../errors.js';

export interface DenseTensor {
  shape: number[];
  data: Float32Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function denseTensor(data: Float32Array, shape: number[], where = 'tensor'): DenseTensor {
  if (numel(shape) !== data.length) {
    throw new TritwiseError('E_SHAPE', 'data length does not match shape', { where, expected: `${shape.join('×')} = ${numel(shape)}`, got: data.length });
  }
  return { shape, data };
}

/** View a 2-D tensor as (rows, cols), or fail naming the tensor. */
export function asMatrix(t: DenseTensor, where = 'tensor'): { rows: number; cols: number } {
  if (t.shape.length !== 2) throw new TritwiseError('E_SHAPE', 'expected a 2-D tensor', { where, expected: '[rows, cols]', got: t.shape });
  return { rows: t.shape[0]!, cols: t.shape[1]! };
}
