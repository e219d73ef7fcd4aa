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
 *
 * Each (sequence, head) is gathered into contiguous [T, d] blocks and every product runs through
 * gemmNTs in blocks of 4 query rows that stop at the diagonal (S = QKᵀ, O = PV, dP = dO·Vᵀ,
 * dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO), so the causal mask costs no multiply-adds.
 * f32 heads whose width is a multiple of 4 run on the wasm SIMD kernel instead
 * (kernels/attention-f32.ts, always in the recompute form) once it is loaded.
 */
import { gemmNTs, scratch, transpose } from '../gemm.js';
import type { Tape } from '../tape.js';
import { wasmAttentionBackward, wasmAttentionForward, wasmGemmReady } from '../wasm-kernels.js';
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
  if (q.data instanceof Float32Array && k.data instanceof Float32Array && v.data instanceof Float32Array && s.headDim % 4 === 0 && wasmGemmReady()) return attentionWasm(tape, q, k, v, s);
  const { B, T, nHeads: H, nKvHeads: Hkv, headDim: d } = s;
  const win = s.window ?? 0;
  const QW = H * d, KW = Hkv * d;
  const group = H / Hkv;
  const scale = 1 / Math.sqrt(d);
  const out = new Tensor(alloc(q, B * T * QW), [B * T, QW], q.requiresGrad || k.requiresGrad || v.requiresGrad);
  const record = tape.needs(q, k, v);
  const tri = (T * (T + 1)) / 2;
  const P: FloatArray | null = record && !opts.recompute ? alloc(q, B * H * tri) : null;
  const L: Float64Array | null = record && opts.recompute ? new Float64Array(B * H * T) : null;
  const first = (i: number) => (win > 0 ? Math.max(0, i - win + 1) : 0);
  const like = q.data;
  const Qh = scratch(like, 'att.q', T * d), Kh = scratch(like, 'att.k', T * d), Vh = scratch(like, 'att.v', T * d);
  const Vt = scratch(like, 'att.vt', d * T), Oh = scratch(like, 'att.o', T * d), Pf = scratch(like, 'att.p', T * T);

  /** Copy head columns [off, off+d) of rows b·T … b·T+T−1 of x (row width W) into dst [T, d]. */
  const gather = (dst: FloatArray, x: FloatArray, W: number, b: number, off: number) => {
    for (let i = 0; i < T; i++) {
      const o = (b * T + i) * W + off;
      for (let c = 0; c < d; c++) dst[i * d + c] = x[o + c]!;
    }
  };
  /** Row i of Pf ← softmax of scale·(row i of Pf) over [first(i), i], zeros elsewhere in [0, T); returns log Σ e. */
  const softmaxRow = (i: number): number => {
    const o = i * T, j0 = first(i);
    let m = -Infinity;
    for (let j = j0; j <= i; j++) {
      const x = Pf[o + j]! * scale;
      Pf[o + j] = x;
      if (x > m) m = x;
    }
    let sum = 0;
    for (let j = j0; j <= i; j++) {
      const e = Math.exp(Pf[o + j]! - m);
      Pf[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < j0; j++) Pf[o + j] = 0;
    for (let j = j0; j <= i; j++) Pf[o + j]! *= inv;
    for (let j = i + 1; j < T; j++) Pf[o + j] = 0;
    return m + Math.log(sum);
  };

  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvo = Math.floor(h / group) * d;
      const bh = b * H + h;
      gather(Qh, q.data, QW, b, h * d);
      gather(Kh, k.data, KW, b, kvo);
      gather(Vh, v.data, KW, b, kvo);
      transpose(Vt, Vh, T, d);
      for (let i0 = 0; i0 < T; i0 += 4) {
        const i1 = Math.min(T, i0 + 4);
        // S = Q·Kᵀ for rows i0..i1−1 over keys 0..i1−1, then P = softmax per row, O = P·V
        gemmNTs(Pf, Qh, Kh, i1 - i0, i1, d, false, i0 * d, d, 0, d, i0 * T, T);
        for (let i = i0; i < i1; i++) {
          const lse = softmaxRow(i);
          if (L) L[bh * T + i] = lse;
          if (P) {
            const po = bh * tri + (i * (i + 1)) / 2;
            for (let j = 0; j <= i; j++) P[po + j] = Pf[i * T + j]!;
          }
        }
        gemmNTs(Oh, Pf, Vt, i1 - i0, d, i1, false, i0 * T, T, 0, T, i0 * d, d);
      }
      const od = out.data;
      for (let i = 0; i < T; i++) {
        const o = (b * T + i) * QW + h * d;
        for (let c = 0; c < d; c++) od[o + c] = Oh[i * d + c]!;
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
      const like = dO;
      const Qh = scratch(like, 'att.q', T * d), Kh = scratch(like, 'att.k', T * d), Vh = scratch(like, 'att.v', T * d);
      const dOh = scratch(like, 'att.do', T * d), Qt = scratch(like, 'att.qt', d * T), Kt = scratch(like, 'att.kt', d * T), dOt = scratch(like, 'att.dot', d * T);
      const Pf = scratch(like, 'att.p', T * T), dS = scratch(like, 'att.ds', T * T), Tt = scratch(like, 'att.tt', T * T);
      const dQh = scratch(like, 'att.dq', T * d), dKh = scratch(like, 'att.dk', T * d), dVh = scratch(like, 'att.dv', T * d);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const kvo = Math.floor(h / group) * d;
          const bh = b * H + h;
          gather(Qh, q.data, QW, b, h * d);
          gather(Kh, k.data, KW, b, kvo);
          gather(Vh, v.data, KW, b, kvo);
          gather(dOh, dO, QW, b, h * d);
          transpose(Qt, Qh, T, d);
          transpose(Kt, Kh, T, d);
          transpose(dOt, dOh, T, d);
          // P, full rows with zeros above the diagonal (stored, or recomputed from Q, K and L)
          for (let i0 = 0; i0 < T; i0 += 4) {
            const i1 = Math.min(T, i0 + 4);
            if (P) {
              for (let i = i0; i < i1; i++) {
                const po = bh * tri + (i * (i + 1)) / 2;
                for (let j = 0; j <= i; j++) Pf[i * T + j] = P[po + j]!;
                for (let j = i + 1; j < T; j++) Pf[i * T + j] = 0;
              }
            } else {
              gemmNTs(Pf, Qh, Kh, i1 - i0, i1, d, false, i0 * d, d, 0, d, i0 * T, T);
              for (let i = i0; i < i1; i++) {
                const o = i * T, j0 = first(i), Li = L![bh * T + i]!;
                for (let j = 0; j < j0; j++) Pf[o + j] = 0;
                for (let j = j0; j <= i; j++) Pf[o + j] = Math.exp(Pf[o + j]! * scale - Li);
                for (let j = i + 1; j < T; j++) Pf[o + j] = 0;
              }
            }
            // dP = dO·Vᵀ, then dS = P ⊙ (dP − D)·scale with D_i = Σ_j P_ij dP_ij, then dQ = dS·K
            gemmNTs(dS, dOh, Vh, i1 - i0, i1, d, false, i0 * d, d, 0, d, i0 * T, T);
            for (let i = i0; i < i1; i++) {
              const o = i * T;
              let D = 0;
              for (let j = 0; j <= i; j++) D += Pf[o + j]! * dS[o + j]!;
              for (let j = 0; j <= i; j++) dS[o + j] = Pf[o + j]! * (dS[o + j]! - D) * scale;
              for (let j = i + 1; j < T; j++) dS[o + j] = 0;
            }
            if (dq) gemmNTs(dQh, dS, Kt, i1 - i0, d, i1, false, i0 * T, T, 0, T, i0 * d, d);
          }
          // dK = dSᵀ·Q and dV = Pᵀ·dO, key rows j0..j1−1 summing over queries i ≥ j0
          if (dk) {
            transpose(Tt, dS, T, T);
            for (let j0 = 0; j0 < T; j0 += 4) gemmNTs(dKh, Tt, Qt, Math.min(4, T - j0), d, T - j0, false, j0 * T + j0, T, j0, T, j0 * d, d);
          }
          if (dv) {
            transpose(Tt, Pf, T, T);
            for (let j0 = 0; j0 < T; j0 += 4) gemmNTs(dVh, Tt, dOt, Math.min(4, T - j0), d, T - j0, false, j0 * T + j0, T, j0, T, j0 * d, d);
          }
          for (let i = 0; i < T; i++) {
            const qo = (b * T + i) * QW + h * d, ko = (b * T + i) * KW + kvo;
            for (let c = 0; c < d; c++) {
              if (dq) dq[qo + c]! += dQh[i * d + c]!;
              if (dk) dk[ko + c]! += dKh[i * d + c]!;
              if (dv) dv[ko + c]! += dVh[i * d + c]!;
            }
          }
        }
      }
    });
  }
  return out;
}

function attentionWasm(tape: Tape, q: Tensor, k: Tensor, v: Tensor, s: AttentionLayout): Tensor {
  const { B, T, nHeads: H, headDim: d } = s;
  const layout = { ...s, window: s.window ?? 0 };
  const out = new Tensor(new Float32Array(B * T * H * d), [B * T, H * d], q.requiresGrad || k.requiresGrad || v.requiresGrad);
  const L = new Float32Array(B * H * T);
  wasmAttentionForward(q.data as Float32Array, k.data as Float32Array, v.data as Float32Array, out.data as Float32Array, L, layout);
  if (tape.needs(q, k, v)) {
    tape.push(() => {
      const dO = out.grad;
      if (!dO) return;
      const g = (t: Tensor) => (t.requiresGrad ? (t.ensureGrad() as Float32Array) : null);
      wasmAttentionBackward(q.data as Float32Array, k.data as Float32Array, v.data as Float32Array, out.data as Float32Array, dO as Float32Array, L, g(q), g(k), g(v), layout);
    });
  }
  return out;
}
