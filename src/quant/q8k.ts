/**
 * q8k — llama.cpp's Q8_K activation quantization, which its CPU backend applies to the input of
 * every TQ1_0/TQ2_0 matrix product. Emulating it lets tritwise reproduce llama.cpp's outputs
 * on ternary GGUFs exactly (same integer sums, same scales).
 *
 * Per block of 256 values of a token (checked against ggml-quants.c, quantize_row_q8_K_ref):
 *   max  = the value with the largest |x| (its sign kept; the first such on ties)
 *   max = 0 → d = 0, q = 0
 *   iscale = f32(−127 / max);  q_j = min(127, nearest_int(f32(iscale · x_j)))   (ties to even)
 *   d = f32(1 / iscale)        so x ≈ d · q
 * The last block of a row may be shorter than 256 (llama.cpp never has one; tritwise allows it).
 */
import { TritwiseError } from '../errors.js';

export const QK_K = 256;

export interface Q8KActivations {
  /** [tokens, dim] int8 codes */
  q: Int8Array;
  /** [tokens, blocks] block scales d */
  scales: Float32Array;
  tokens: number;
  dim: number;
  blocks: number;
}

const f = Math.fround;

/** Round half to even, as nearest_int's float trick does. */
function nearestEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function quantizeQ8K(x: Float32Array, tokens: number, dim: number, where = 'activations'): Q8KActivations {
  if (x.length < tokens * dim) throw new TritwiseError('E_SHAPE', 'activation length does not match shape', { where, expected: tokens * dim, got: x.length });
  const blocks = Math.ceil(dim / QK_K);
  const q = new Int8Array(tokens * dim);
  const scales = new Float32Array(tokens * blocks);
  for (let t = 0; t < tokens; t++) {
    for (let b = 0; b < blocks; b++) {
      const c0 = t * dim + b * QK_K;
      const c1 = t * dim + Math.min(dim, (b + 1) * QK_K);
      let amax = 0,
        max = 0;
      for (let i = c0; i < c1; i++) {
        const a = Math.abs(x[i]!);
        if (!Number.isFinite(a)) throw new TritwiseError('E_NONFINITE', 'non-finite activation', { where: `${where} token ${t}`, expected: 'finite values', got: x[i] });
        if (a > amax) {
          amax = a;
          max = x[i]!;
        }
      }
      if (amax === 0) continue;
      const iscale = f(-127 / max);
      for (let i = c0; i < c1; i++) q[i] = Math.min(127, nearestEven(f(iscale * x[i]!)));
      scales[t * blocks + b] = f(1 / iscale);
    }
  }
  return { q, scales, tokens, dim, blocks };
}
