/**
 * attention-f32 — causal attention of one (sequence, head) for the trainer, forward and backward,
 * flash-attention style (probabilities recomputed from the row log-sum-exp, never stored).
 *
 * Buffers (f32, row-major; T padded to Tp, a multiple of 4; d a multiple of 4):
 *   Q, K, V, O, dO, dQ, dK, dV  [T, d]      Kt, Vt  [d, Tp]      L  [T]      S  [Tp] scratch
 * For query i over keys j ∈ [j0(i), i], j0 = max(0, i − window + 1) (window 0 = all):
 *   s_j = scale·q_i·k_j,  L_i = log Σ_j e^{s_j},  p_j = e^{s_j − L_i},  o_i = Σ_j p_j v_j
 * Backward (D_i = dO_i·o_i):
 *   dp_j = dO_i·v_j,  ds_j = scale·p_j·(dp_j − D_i)
 *   dq_i = Σ_j ds_j k_j,  dk_j += ds_j q_i,  dv_j += p_j dO_i
 * Scores and dp are computed 4 keys at a time from the transposed Kt/Vt (broadcast q_i[c] times
 * a row of Kt); sums over keys run 4 head lanes at a time.
 * The module keeps no static data (the hosts place buffers from low offsets), so exp is computed
 * without lookup tables, four lanes at a time (simd-exp.ts exp4), and the row's log Σ is left to the
 * host: the forward pass writes the row max M_i and sum Z_i = Σ_j e^{s_j − M_i}; the host passes
 * L_i = M_i + log Z_i back.
 */

import { exp4 } from './simd-exp';

/** Lanes j..j+3 kept where j0 ≤ lane ≤ i, zero elsewhere. */
@inline function keep(v: v128, j: i32, j0: i32, i: i32): v128 {
  const idx = i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3));
  const m = v128.and(i32x4.ge_s(idx, i32x4.splat(j0)), i32x4.le_s(idx, i32x4.splat(i)));
  return v128.and(v, m);
}

@inline function first(i: i32, window: i32): i32 {
  return window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
}

/** S[j] = scale·Σ_c x[c]·Mt[c, j] for j in [j4, i] (j4 = j0 rounded down to a multiple of 4). */
@inline function rowDots(x: usize, Mt: usize, S: usize, d: i32, Tp: i32, j4: i32, i: i32, scale: f32): void {
  const rowBytes = <usize>Tp << 2;
  for (let j = j4; j <= i; j += 4) {
    let acc = f32x4.splat(0);
    const col = <usize>j << 2;
    for (let c = 0; c < d; c++) acc = f32x4.add(acc, f32x4.mul(f32x4.splat(load<f32>(x + (<usize>c << 2))), v128.load(Mt + <usize>c * rowBytes + col)));
    v128.store(S + col, f32x4.mul(acc, f32x4.splat(scale)));
  }
}

export function attnForward(Q: usize, Kt: usize, V: usize, O: usize, M: usize, Z: usize, S: usize, T: i32, Tp: i32, d: i32, window: i32, scale: f32): void {
  const rowD = <usize>d << 2;
  for (let i = 0; i < T; i++) {
    const j0 = first(i, window);
    const j4 = j0 & ~3;
    const qi = Q + <usize>i * rowD;
    rowDots(qi, Kt, S, d, Tp, j4, i, scale);
    let m: f32 = -Infinity;
    for (let j = j0; j <= i; j++) m = max(m, load<f32>(S + (<usize>j << 2)));
    const mv = f32x4.splat(m);
    let acc = f32x4.splat(0);
    for (let j = j4; j <= i; j += 4) {
      const o = S + (<usize>j << 2);
      const e = keep(exp4(f32x4.sub(v128.load(o), mv)), j, j0, i);
      v128.store(o, e);
      acc = f32x4.add(acc, e);
    }
    const sum = <f64>f32x4.extract_lane(acc, 0) + <f64>f32x4.extract_lane(acc, 1) + (<f64>f32x4.extract_lane(acc, 2) + <f64>f32x4.extract_lane(acc, 3));
    const inv = <f32>(1 / sum);
    const oi = O + <usize>i * rowD;
    // o_i = Σ_j p_j v_j, 8 (or 4) head lanes at a time, summed in registers over j (the same
    // f32 additions in the same order as summing in memory, without a store→load chain per key)
    for (let c = 0; c < d; c += 8) {
      const co = <usize>c << 2;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      if (c + 8 <= d) {
        for (let j = j0; j <= i; j++) {
          const p = f32x4.splat(load<f32>(S + (<usize>j << 2)) * inv);
          const vj = V + <usize>j * rowD + co;
          a0 = f32x4.add(a0, f32x4.mul(p, v128.load(vj)));
          a1 = f32x4.add(a1, f32x4.mul(p, v128.load(vj + 16)));
        }
        v128.store(oi + co + 16, a1);
      } else {
        for (let j = j0; j <= i; j++) a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(S + (<usize>j << 2)) * inv), v128.load(V + <usize>j * rowD + co)));
      }
      v128.store(oi + co, a0);
    }
    store<f32>(M + (<usize>i << 2), m);
    store<f64>(Z + (<usize>i << 3), sum);
  }
}

export function attnBackward(Q: usize, K: usize, Kt: usize, Vt: usize, O: usize, dO: usize, L: usize, dQ: usize, dK: usize, dV: usize, S: usize, P: usize, T: i32, Tp: i32, d: i32, window: i32, scale: f32): void {
  const rowD = <usize>d << 2;
  memory.fill(dK, 0, <usize>T * rowD);
  memory.fill(dV, 0, <usize>T * rowD);
  for (let i = 0; i < T; i++) {
    const j0 = first(i, window);
    const j4 = j0 & ~3;
    const qi = Q + <usize>i * rowD, doi = dO + <usize>i * rowD, oi = O + <usize>i * rowD;
    // P = probabilities of row i, S = dp_j
    rowDots(qi, Kt, P, d, Tp, j4, i, scale);
    rowDots(doi, Vt, S, d, Tp, j4, i, 1);
    const Li = <f64>load<f32>(L + (<usize>i << 2));
    let D = f32x4.splat(0);
    for (let c = 0; c < d; c += 4) D = f32x4.add(D, f32x4.mul(v128.load(doi + (<usize>c << 2)), v128.load(oi + (<usize>c << 2))));
    const Di = f32x4.extract_lane(D, 0) + f32x4.extract_lane(D, 1) + (f32x4.extract_lane(D, 2) + f32x4.extract_lane(D, 3));
    const dqi = dQ + <usize>i * rowD;
    // p_j (zero outside [j0, i]) into P, ds_j = scale·p_j·(dp_j − D) into S
    const Lv = f32x4.splat(<f32>Li), Dv = f32x4.splat(Di), sv = f32x4.splat(scale);
    for (let j = j4; j <= i; j += 4) {
      const jo = <usize>j << 2;
      const p = keep(exp4(f32x4.sub(v128.load(P + jo), Lv)), j, j0, i);
      v128.store(P + jo, p);
      v128.store(S + jo, f32x4.mul(sv, f32x4.mul(p, f32x4.sub(v128.load(S + jo), Dv))));
    }
    // dq_i = Σ_j ds_j k_j in registers (as the forward's o_i), then the per-key dk_j, dv_j updates
    for (let c = 0; c < d; c += 8) {
      const co = <usize>c << 2;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      if (c + 8 <= d) {
        for (let j = j0; j <= i; j++) {
          const ds = f32x4.splat(load<f32>(S + (<usize>j << 2)));
          const kj = K + <usize>j * rowD + co;
          a0 = f32x4.add(a0, f32x4.mul(ds, v128.load(kj)));
          a1 = f32x4.add(a1, f32x4.mul(ds, v128.load(kj + 16)));
        }
        v128.store(dqi + co + 16, a1);
      } else {
        for (let j = j0; j <= i; j++) a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(load<f32>(S + (<usize>j << 2))), v128.load(K + <usize>j * rowD + co)));
      }
      v128.store(dqi + co, a0);
    }
    for (let j = j0; j <= i; j++) {
      const jo = <usize>j << 2;
      const ds = f32x4.splat(load<f32>(S + jo));
      const pv = f32x4.splat(load<f32>(P + jo));
      const dkj = dK + <usize>j * rowD, dvj = dV + <usize>j * rowD;
      for (let c = 0; c < d; c += 4) {
        const co = <usize>c << 2;
        v128.store(dkj + co, f32x4.add(v128.load(dkj + co), f32x4.mul(ds, v128.load(qi + co))));
        v128.store(dvj + co, f32x4.add(v128.load(dvj + co), f32x4.mul(pv, v128.load(doi + co))));
      }
    }
  }
}
