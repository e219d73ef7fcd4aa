/**
 * attention-reference — the two yardsticks every faster attention is measured against, for one
 * query token (the AttentionFn contract of attention.ts: causal, grouped-query, sliding window):
 *
 *   exact64   ground truth: s_j = q·k_j/√d, softmax and Σ a_j·v_j all in float64 (JS numbers),
 *             returned unrounded as a Float64Array of nHeads·d values;
 *   naive32   the straightforward f32 computation: every product, sum, exp and division rounded
 *             to f32 (Math.fround), keys in order, softmax max-stabilised then normalised.
 *
 * The flash-attention acceptance criterion (tests) is
 *   max|fast − exact64| ≤ 2·max|naive32 − exact64| + 1e-6.
 */
import type { AttentionShape } from '../backend/backend.js';

/** First attended position of query position `pos` (sliding window 0 = all). */
export function windowStart(pos: number, s: AttentionShape): number {
  return s.window > 0 ? Math.max(0, pos - s.window + 1) : 0;
}

/** Float64 attention of one token: out[h·d + i] unrounded. */
export function exact64(q: Float32Array, qOff: number, keys: Float32Array, values: Float32Array, pos: number, s: AttentionShape, out = new Float64Array(s.nHeads * s.headDim)): Float64Array {
  const d = s.headDim;
  const kvDim = s.nKvHeads * d;
  const group = s.nHeads / s.nKvHeads;
  const start = windowStart(pos, s);
  const n = pos - start + 1;
  const att = new Float64Array(n);
  const scale = 1 / Math.sqrt(d);
  for (let h = 0; h < s.nHeads; h++) {
    const qo = qOff + h * d;
    const ko = Math.floor(h / group) * d;
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      const kb = (start + j) * kvDim + ko;
      let dot = 0;
      for (let i = 0; i < d; i++) dot += q[qo + i]! * keys[kb + i]!;
      att[j] = dot * scale;
      if (att[j]! > m) m = att[j]!;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += att[j] = Math.exp(att[j]! - m);
    const oo = h * d;
    for (let i = 0; i < d; i++) out[oo + i] = 0;
    for (let j = 0; j < n; j++) {
      const a = att[j]! / sum;
      const vb = (start + j) * kvDim + ko;
      for (let i = 0; i < d; i++) out[oo + i] += a * values[vb + i]!;
    }
  }
  return out;
}

const f = Math.fround;

/** Plain f32 attention of one token (every operation rounded to f32); same contract as AttentionFn. */
export function naive32(q: Float32Array, qOff: number, keys: Float32Array, values: Float32Array, pos: number, s: AttentionShape, out: Float32Array, outOff: number): void {
  const d = s.headDim;
  const kvDim = s.nKvHeads * d;
  const group = s.nHeads / s.nKvHeads;
  const start = windowStart(pos, s);
  const n = pos - start + 1;
  const att = new Float32Array(n);
  const scale = f(1 / Math.sqrt(d));
  for (let h = 0; h < s.nHeads; h++) {
    const qo = qOff + h * d;
    const ko = Math.floor(h / group) * d;
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      const kb = (start + j) * kvDim + ko;
      let dot = 0;
      for (let i = 0; i < d; i++) dot = f(dot + f(q[qo + i]! * keys[kb + i]!));
      att[j] = f(dot * scale);
      if (att[j]! > m) m = att[j]!;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum = f(sum + (att[j] = f(Math.exp(f(att[j]! - m)))));
    for (let j = 0; j < n; j++) att[j] = f(att[j]! / sum);
    const oo = outOff + h * d;
    for (let i = 0; i < d; i++) out[oo + i] = 0;
    for (let j = 0; j < n; j++) {
      const a = att[j]!;
      const vb = (start + j) * kvDim + ko;
      for (let i = 0; i < d; i++) out[oo + i] = f(out[oo + i]! + f(a * values[vb + i]!));
    }
  }
}
