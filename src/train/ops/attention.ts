/**
 * attention — causal scaled dot-product attention with grouped-query heads, over B sequences of T
 * tokens each (rows b·T … b·T+T−1 of q [B·T, H·d], k and v [B·T, Hkv·d]). Query head h reads kv
 * head g = ⌊h/(H/Hkv)⌋. For query i, over keys j ∈ [max(0, i−window+1), i] (window 0 = all):
 *
 *   s_j = q_i·k_j / √d,   p = softmax(s),   o_i = Σ_j p_j v_j
 *
 * Backward, with dO_i = ∂L/∂o_i:
 *   dp_j = dO_i·v_j,   D_i = Σ_j p_j dp_j (= dO_i·o_i),   ds_j = p_j (dp_j − D_i)
 *   ∂q_i += Σ_j ds_j k_j / √d,   ∂k_j += ds_j q_i / √d,   ∂v_j += p_j dO_i
 *
 * Memory: by default the probabilities p are kept (a packed lower triangle, T(T+1)/2 per
 * sequence and head). With `recompute` only the row log-sum-exp L_i is kept (B·H·T numbers) and
 * p_j = exp(s_j − L_i) is recomputed in the backward pass (flash-attention style): one more
 * q·k product, far less memory for long contexts.
 */
import type { Tape } from '../tape.js';
import { alloc, Tensor, type FloatArray } from '../tensor.js';

export interface AttentionLayout {
  /** sequences */
  B: number;
  /** tokens per sequence */
  T: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** sliding window (0 = full causal) */
  window?: number;
}

export interface AttentionOptions {
  /** keep only the log-sum-exp per row and recompute probabilities in backward (default false) */
  recompute?: boolean;
}

export function attention(tape: Tape, q: Tensor, k: Tensor, v: Tensor, s: AttentionLayout, opts: AttentionOptions = {}): Tensor {
  const { B, T, nHeads: H, nKvHeads: Hkv, headDim: d } = s;
  const win = s.window ?? 0;
  const QW = H * d, KW = Hkv * d;
  const group = H / Hkv;
  const scale = 1 / Math.sqrt(d);
  const qd = q.data, kd = k.data, vd = v.data;
  const out = new Tensor(alloc(q, B * T * QW), [B * T, QW], q.requiresGrad || k.requiresGrad || v.requiresGrad);
  const od = out.data;
  const record = tape.needs(q, k, v);
  const tri = (T * (T + 1)) / 2;
  const keepP = record && !opts.recompute;
  const P: FloatArray | null = keepP ? alloc(q, B * H * tri) : null;
  const L: Float64Array | null = record && opts.recompute ? new Float64Array(B * H * T) : null;
  const row = new Float64Array(T);
  const first = (i: number) => (win > 0 ? Math.max(0, i - win + 1) : 0);

  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvo = Math.floor(h / group) * d;
      const pBase = (b * H + h) * tri;
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * QW + h * d;
        const j0 = first(i);
        let m = -Infinity;
        for (let j = j0; j <= i; j++) {
          const ko = (b * T + j) * KW + kvo;
          let dot = 0;
          for (let c = 0; c < d; c++) dot += qd[qo + c]! * kd[ko + c]!;
          const sj = dot * scale;
          row[j] = sj;
          if (sj > m) m = sj;
        }
        let sum = 0;
        for (let j = j0; j <= i; j++) {
          const e = Math.exp(row[j]! - m);
          row[j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let c = 0; c < d; c++) od[qo + c] = 0;
        const po = pBase + (i * (i + 1)) / 2;
        for (let j = j0; j <= i; j++) {
          const p = row[j]! * inv;
          if (P) P[po + j] = p;
          const vo = (b * T + j) * KW + kvo;
          for (let c = 0; c < d; c++) od[qo + c]! += p * vd[vo + c]!;
        }
        if (L) L[(b * H + h) * T + i] = m + Math.log(sum);
      }
    }
  }

  if (record) {
    tape.push(() => {
      const dO = out.grad;
      if (!dO) return;
      const dq = q.requiresGrad ? q.ensureGrad() : null;
      const dk = k.requiresGrad ? k.ensureGrad() : null;
      const dv = v.requiresGrad ? v.ensureGrad() : null;
      const p = new Float64Array(T);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const kvo = Math.floor(h / group) * d;
          const pBase = (b * H + h) * tri;
          for (let i = 0; i < T; i++) {
            const qo = (b * T + i) * QW + h * d;
            const j0 = first(i);
            // the probabilities of row i
            if (P) {
              const po = pBase + (i * (i + 1)) / 2;
              for (let j = j0; j <= i; j++) p[j] = P[po + j]!;
            } else {
              const Li = L![(b * H + h) * T + i]!;
              for (let j = j0; j <= i; j++) {
                const ko = (b * T + j) * KW + kvo;
                let dot = 0;
                for (let c = 0; c < d; c++) dot += qd[qo + c]! * kd[ko + c]!;
                p[j] = Math.exp(dot * scale - Li);
              }
            }
            // dp_j = dO_i·v_j (kept in row), D_i = Σ p_j dp_j
            let D = 0;
            for (let j = j0; j <= i; j++) {
              const vo = (b * T + j) * KW + kvo;
              let dot = 0;
              for (let c = 0; c < d; c++) dot += dO[qo + c]! * vd[vo + c]!;
              row[j] = dot;
              D += p[j]! * dot;
            }
            for (let j = j0; j <= i; j++) {
              const ko = (b * T + j) * KW + kvo;
              const pj = p[j]!;
              const ds = pj * (row[j]! - D) * scale;
              if (dq) for (let c = 0; c < d; c++) dq[qo + c]! += ds * kd[ko + c]!;
              if (dk) for (let c = 0; c < d; c++) dk[ko + c]! += ds * qd[qo + c]!;
              if (dv) for (let c = 0; c < d; c++) dv[ko + c]! += pj * dO[qo + c]!;
            }
          }
        }
      }
    });
  }
  return out;
}
