/**
 * attention — scaled dot-product attention of one query token over a sequence's cached keys and
 * values, causal, with grouped-query heads and an optional sliding window.
 *
 * For query head h (kv head g = ⌊h / (nHeads/nKvHeads)⌋) at position p, over positions
 * j ∈ [max(0, p − window + 1), p]  (window 0 = all):
 *   s_j = q_h · k_{j,g} / √d,   a = softmax(s),   out_h = Σ_j a_j · v_{j,g}
 *
 * `AttentionFn` is the per-layer slot: the exact reference lives here; other modes (flash,
 * ternary, top-k) plug in with the same signature. A backend may offer a native exact kernel
 * (Backend.attention, e.g. wasm's f32 SIMD one), which models use by default.
 */
import type { AttentionShape } from '../backend/backend.js';
import { softmaxInPlace } from './ops.js';

/** Heads of one call (defined with the Backend, whose native attention takes the same shape). */
export type { AttentionShape };

/**
 * q: the token's query heads at q[qOff, qOff + nHeads·d); keys/values: the layer's cache
 * ([positions, nKvHeads·d], positions 0..pos filled); writes nHeads·d outputs at out[outOff].
 */
export type AttentionFn = (q: Float32Array, qOff: number, keys: Float32Array, values: Float32Array, pos: number, shape: AttentionShape, out: Float32Array, outOff: number) => void;

let scratch = new Float64Array(256);

export const exactAttention: AttentionFn = (q, qOff, keys, values, pos, s, out, outOff) => {
  const d = s.headDim;
  const kvDim = s.nKvHeads * d;
  const group = s.nHeads / s.nKvHeads;
  const start = s.window > 0 ? Math.max(0, pos - s.window + 1) : 0;
  const n = pos - start + 1;
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, scratch.length * 2));
  const att = scratch;
  const scale = 1 / Math.sqrt(d);
  for (let h = 0; h < s.nHeads; h++) {
    const qo = qOff + h * d;
    const ko = Math.floor(h / group) * d;
    for (let j = 0; j < n; j++) {
      const kb = (start + j) * kvDim + ko;
      let dot = 0;
      for (let i = 0; i < d; i++) dot += q[qo + i]! * keys[kb + i]!;
      att[j] = dot * scale;
    }
    softmaxInPlace(att, 0, n);
    const oo = outOff + h * d;
    for (let i = 0; i < d; i++) out[oo + i] = 0;
    for (let j = 0; j < n; j++) {
      const a = att[j]!;
      const vb = (start + j) * kvDim + ko;
      for (let i = 0; i < d; i++) out[oo + i]! += a * values[vb + i]!;
    }
  }
};
