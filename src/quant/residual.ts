/**
 * residual — the greedy residual quantizer for depth d ("quantize, subtract, repeat"):
 *
 *   R₀ = W;  for k = 1..d:  (α_k, T_k) = q(R_{k−1});  R_k = R_{k−1} − α_k·T_k
 *   W ≈ Σ_k α_k·T_k
 *
 * q is any single-trit quantizer (weight-quantizers.ts: twn by default, per row or per group),
 * so each plane has its own scales: the residual form of MultiTritTensor. Planes are stored
 * least significant first (the last pass first), like a tryte's.
 */
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { checkWeights } from './tryte-grid.js';
import { quantize, type QuantizerSpec } from './weight-quantizers.js';

export interface ResidualOptions {
  /** the single-trit quantizer of each pass (default twn): a name, a spec, or a function */
  base?: QuantizerSpec | string | ((residual: Float32Array) => TernaryTensor);
  /** provenance label of a function base */
  label?: string;
  groupSize?: number;
  name?: string;
}

export function quantizeGreedyResidual(w: Float32Array, rows: number, cols: number, depth: number, opts: ResidualOptions = {}): MultiTritTensor {
  const name = opts.name ?? 'weights';
  checkWeights(w, rows, cols, name);
  const residual = Float64Array.from(w);
  const planes: TernaryTensor[] = [];
  for (let k = 0; k < depth; k++) {
    const r = Float32Array.from(residual);
    const t = typeof opts.base === 'function' ? opts.base(r) : quantize(r, rows, cols, opts.base ?? 'twn', { groupSize: opts.groupSize, name: `${name} (pass ${k + 1})` }).tensor;
    const dq = t.toDense();
    for (let i = 0; i < residual.length; i++) residual[i]! -= dq[i]!;
    planes.unshift(t);
  }
  const base = typeof opts.base === 'string' ? opts.base : typeof opts.base === 'function' ? (opts.label ?? 'custom') : (opts.base?.kind ?? 'twn');
  return new MultiTritTensor(planes, { quantizer: `greedy:${base}` });
}
