/**
 * linear — y = x·Wᵀ for x [N, K] and W [M, K] (a PyTorch-style weight, [out, in]).
 *
 *   ∂L/∂x = ∂L/∂y · W          [N, K]
 *   ∂L/∂W = (∂L/∂y)ᵀ · x       [M, K]
 * all through matmul (../gemm.ts: wasm SIMD for large f32 products). `linearFrozen` is the same product for a weight that is
 * never trained and need not be held as f32 (a ternary base in trit planes decodes itself into a
 * scratch buffer when used): it returns ∂L/∂x only.
 */
import { matmul, scratch } from '../gemm.js';
import type { Tape } from '../tape.js';
import { alloc, Tensor, type FloatArray } from '../tensor.js';
import { TritwiseError } from '../../errors.js';

function rowsOf(x: Tensor, K: number, where: string): number {
  if (x.size % K !== 0 || (x.shape.length > 0 && x.shape[x.shape.length - 1] !== K)) {
    throw new TritwiseError('E_SHAPE', 'input width does not match the weight', { where, expected: `[…, ${K}]`, got: `[${x.shape.join(', ')}]` });
  }
  return x.size / K;
}

export function linear(tape: Tape, x: Tensor, w: Tensor): Tensor {
  const [M, K] = w.shape as [number, number];
  const N = rowsOf(x, K, `linear ${w.name ?? ''}`);
  const y = new Tensor(alloc(x, N * M), [N, M], x.requiresGrad || w.requiresGrad);
  matmul(y.data, x.data, w.data, N, M, K, { transB: true });
  if (tape.needs(x, w)) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      if (x.requiresGrad) matmul(x.ensureGrad(), dy, w.data, N, K, M, { accumulate: true });
      if (w.requiresGrad) matmul(w.ensureGrad(), dy, x.data, M, K, N, { transA: true, accumulate: true });
    });
  }
  return y;
}

/** A weight that is not trained and produces its f32 values on demand. */
export interface FrozenWeight {
  readonly rows: number;
  readonly cols: number;
  readonly name?: string;
  /** write W [rows, cols] row-major into out */
  decode(out: FloatArray): void;
}

export function linearFrozen(tape: Tape, x: Tensor, w: FrozenWeight): Tensor {
  const M = w.rows, K = w.cols;
  const N = rowsOf(x, K, `linear ${w.name ?? ''}`);
  const y = new Tensor(alloc(x, N * M), [N, M], x.requiresGrad);
  const wd = scratch(x.data, 'frozen.w', M * K);
  w.decode(wd);
  matmul(y.data, x.data, wd, N, M, K, { transB: true });
  if (tape.needs(x)) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      const w2 = scratch(dy, 'frozen.w', M * K);
      w.decode(w2);
      matmul(x.ensureGrad(), dy, w2, N, K, M, { accumulate: true });
    });
  }
  return y;
}
