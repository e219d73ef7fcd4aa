/**
 * activation-quantizers — per-token quantization of f32 activations x[tokens, dim].
 *
 *   int8 absmax (BitNet W1.58A8):  m = max|x_t|;  q = clamp(round(x · 127/m), −127, 127)
 *                                  dequantization scale s_t = m/127, so x ≈ s_t·q
 *                                  (round is half away from zero, so q(−x) = −q(x)).
 *   ternary:                       each token row quantized by a weight quantizer (default twn),
 *                                  giving a TernaryTensor [tokens, dim] for popcount kernels.
 */
import { TritwiseError, checkSize } from '../errors.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { quantize, type QuantizerSpec } from './weight-quantizers.js';

export interface Int8Activations {
  /** [tokens, dim] row-major int8 codes in [−127, 127] */
  q: Int8Array;
  /** per-token dequantization scale m/127 (0 for an all-zero token) */
  scales: Float32Array;
  tokens: number;
  dim: number;
}

function checkShape(x: Float32Array, tokens: number, dim: number, where: string): void {
  checkSize(tokens, `${where}.tokens`);
  checkSize(dim, `${where}.dim`);
  if (x.length < tokens * dim) {
    throw new TritwiseError('E_SHAPE', 'activation length does not match shape', { where, expected: `${tokens}×${dim} = ${tokens * dim}`, got: x.length });
  }
}

/** Per-token absmax int8 quantization. */
export function quantizeInt8PerToken(
  x: Float32Array,
  tokens: number,
  dim: number,
  out?: Int8Activations,
  where = 'activations',
): Int8Activations {
  checkShape(x, tokens, dim, where);
  const q = out?.q && out.q.length >= tokens * dim ? out.q : new Int8Array(tokens * dim);
  const scales = out?.scales && out.scales.length >= tokens ? out.scales : new Float32Array(tokens);
  for (let t = 0; t < tokens; t++) {
    const base = t * dim;
    let m = 0;
    for (let i = 0; i < dim; i++) {
      const a = Math.abs(x[base + i]!);
      if (!(a <= m)) m = a; // NaN-propagating max
    }
    if (!Number.isFinite(m)) {
      throw new TritwiseError('E_NONFINITE', 'non-finite activation', { where: `${where} token ${t}`, expected: 'finite values', got: m });
    }
    if (m === 0) {
      q.fill(0, base, base + dim);
      scales[t] = 0;
      continue;
    }
    const inv = 127 / m;
    for (let i = 0; i < dim; i++) {
      const v = x[base + i]! * inv;
      const r = Math.min(127, Math.floor(Math.abs(v) + 0.5));
      q[base + i] = v < 0 ? -r : r;
    }
    scales[t] = m / 127;
  }
  return { q, scales, tokens, dim };
}

/** Per-token ternary quantization (default twn), for ternary×ternary kernels. */
export function quantizeTernaryPerToken(
  x: Float32Array,
  tokens: number,
  dim: number,
  quantizer: QuantizerSpec | string = 'twn',
  where = 'activations',
): TernaryTensor {
  checkShape(x, tokens, dim, where);
  return quantize(x.length === tokens * dim ? x : x.subarray(0, tokens * dim), tokens, dim, quantizer, { name: where }).tensor;
}
