/**
 * cross-entropy — the language-model loss, plain and fused with the output head.
 *
 * For logits z [V] and target y:  nll = log Σ_v e^{z_v} − z_y,   ∂nll/∂z = softmax(z) − onehot(y).
 * The loss is the mean over counted rows (a target < 0 is not counted, e.g. an unscored position).
 *
 * `headLoss` fuses z = h·Wᵀ with the loss and never holds the [N, V] logits: rows go through in
 * chunks; for each chunk it forms z, the loss and ∂L/∂z, and immediately folds ∂L/∂z into
 *   ∂L/∂h = ∂L/∂z · W      and      ∂L/∂W += (∂L/∂z)ᵀ · h
 * kept for the backward pass (which only scales them by the upstream gradient). Peak extra memory
 * is one chunk of logits plus ∂h [N, D] and ∂W [V, D].
 *
 * Distillation from a teacher (knowledge distillation, Hinton et al.): with the teacher's logits t
 * (its final hidden state times its head, also formed chunk by chunk), temperature τ and weight α,
 *   L = (1−α)·mean nll + α·τ²·mean KL(softmax(t/τ) ‖ softmax(z/τ))
 *   ∂/∂z of τ²·KL = τ·(softmax(z/τ) − softmax(t/τ))
 * or, with cached soft targets (teacher-cache.ts: the teacher's k most likely tokens per row and
 * their log-probabilities ℓ at τ = 1), the teacher distribution restricted to those k tokens:
 *   q_i = e^{ℓ_i/τ} / Σ_j e^{ℓ_j/τ}   (i over the row's k tokens; 0 elsewhere)
 *   KL(q ‖ softmax(z/τ)) = Σ_i q_i·(log q_i − z_{v_i}/τ + log Σ_v e^{z_v/τ})
 *   ∂/∂z of τ²·KL = τ·(softmax(z/τ) − q)
 */
import { TritwiseError } from '../../errors.js';
import { matmul } from '../gemm.js';
import type { Tape } from '../tape.js';
import { alloc, Tensor, type FloatArray } from '../tensor.js';

/** A teacher's top-k distribution per row: k vocabulary ids and their log-probabilities (τ = 1). */
export interface SoftTargets {
  k: number;
  /** [N·k] vocabulary ids */
  idx: Int32Array;
  /** [N·k] the teacher's log-probabilities of those ids */
  lp: Float32Array;
}

export interface Distillation {
  /** the teacher's final hidden states [N, D] (after its final norm); or give `soft` */
  hidden?: FloatArray;
  /** the teacher's output head [V, D] (with `hidden`) */
  weight?: FloatArray;
  /** cached top-k teacher distributions instead of the teacher's hidden states and head */
  soft?: SoftTargets;
  /** weight of the KL term, 0..1 */
  alpha: number;
  /** softmax temperature τ (default 1) */
  temperature?: number;
}

export interface HeadLossOptions {
  /** rows per chunk (default 64) */
  chunk?: number;
  distill?: Distillation;
}

export interface HeadLossResult {
  /** the scalar loss to back-propagate */
  loss: Tensor;
  /** Σ nll over counted rows (for perplexity = exp(nll/count)) */
  nll: number;
  /** Σ KL over counted rows (with distillation) */
  kl: number;
  count: number;
}

/** log Σ e^{z} over z[o, o+V), stabilised by the max. */
function logSumExp(z: FloatArray, o: number, V: number): number {
  let m = -Infinity;
  for (let v = 0; v < V; v++) if (z[o + v]! > m) m = z[o + v]!;
  let s = 0;
  for (let v = 0; v < V; v++) s += Math.exp(z[o + v]! - m);
  return m + Math.log(s);
}

function checkTargets(targets: ArrayLike<number>, N: number, V: number, where: string): number {
  if (targets.length !== N) throw new TritwiseError('E_SHAPE', 'one target per row expected', { where, expected: N, got: targets.length });
  let count = 0;
  for (let n = 0; n < N; n++) {
    const y = targets[n]!;
    if (y < 0) continue;
    if (!(Number.isInteger(y) && y < V)) throw new TritwiseError('E_VOCAB', 'target outside the vocabulary', { where: `${where} (row ${n})`, expected: `0..${V - 1} (or < 0 to skip)`, got: y });
    count++;
  }
  return count;
}

/** Mean cross-entropy of logits [N, V] against targets (unfused; for tests and small heads). */
export function crossEntropy(tape: Tape, logits: Tensor, targets: ArrayLike<number>): HeadLossResult {
  const V = logits.shape[logits.shape.length - 1]!;
  const N = logits.size / V;
  const count = checkTargets(targets, N, V, 'crossEntropy');
  const z = logits.data;
  const lse = new Float64Array(N);
  let nll = 0;
  for (let n = 0; n < N; n++) {
    if (targets[n]! < 0) continue;
    lse[n] = logSumExp(z, n * V, V);
    nll += lse[n]! - z[n * V + targets[n]!]!;
  }
  const loss = new Tensor(alloc(logits, 1), [], logits.requiresGrad);
  loss.data[0] = count ? nll / count : 0;
  if (tape.needs(logits) && count) {
    tape.push(() => {
      const g = loss.grad?.[0];
      if (!g) return;
      const dz = logits.ensureGrad();
      const c = g / count;
      for (let n = 0; n < N; n++) {
        const y = targets[n]!;
        if (y < 0) continue;
        const o = n * V;
        for (let v = 0; v < V; v++) dz[o + v]! += c * Math.exp(z[o + v]! - lse[n]!);
        dz[o + y]! -= c;
      }
    });
  }
  return { loss, nll, kl: 0, count };
}

/** Fused output head + cross-entropy (+ optional distillation): h [N, D], W [V, D]. */
export function headLoss(tape: Tape, h: Tensor, w: Tensor, targets: ArrayLike<number>, opts: HeadLossOptions = {}): HeadLossResult {
  const [V, D] = w.shape as [number, number];
  const N = h.size / D;
  if (!Number.isInteger(N) || h.shape[h.shape.length - 1] !== D) throw new TritwiseError('E_SHAPE', 'hidden width does not match the head', { where: 'headLoss', expected: `[N, ${D}]`, got: `[${h.shape.join(', ')}]` });
  const count = checkTargets(targets, N, V, 'headLoss');
  const kd = opts.distill;
  const alpha = kd ? kd.alpha : 0;
  const tau = kd?.temperature ?? 1;
  const soft = kd?.soft ?? null;
  if (kd && !soft && (kd.hidden?.length !== N * D || kd.weight?.length !== V * D)) throw new TritwiseError('E_SHAPE', 'teacher shapes do not match the student', { where: 'headLoss distill', expected: `hidden ${N}×${D}, head ${V}×${D}`, got: `hidden ${kd.hidden?.length}, head ${kd.weight?.length}` });
  if (soft && !(soft.k >= 1 && soft.idx.length === N * soft.k && soft.lp.length === N * soft.k)) throw new TritwiseError('E_SHAPE', 'soft targets do not match the rows', { where: 'headLoss distill', expected: `k ≥ 1 and ${N}·k ids and log-probabilities`, got: `k ${soft.k}, ${soft.idx.length} ids, ${soft.lp.length} log-probabilities` });
  const q = soft ? new Float64Array(soft.k) : null;
  const softAtOne = soft !== null && tau === 1;
  const C = Math.max(1, opts.chunk ?? 64);
  const grad = tape.needs(h, w) && count > 0;
  const dh = grad && h.requiresGrad ? alloc(h, N * D) : null;
  const dw = grad && w.requiresGrad ? alloc(w, V * D) : null;
  const z = alloc(h, C * V);
  const t = kd && !soft ? alloc(h, C * V) : null;
  const dz = grad ? alloc(h, C * V) : null;
  let nll = 0;
  let kl = 0;
  const cCE = count ? (1 - alpha) / count : 0;
  const cKL = count ? (alpha * tau) / count : 0;
  for (let n0 = 0; n0 < N; n0 += C) {
    const c = Math.min(C, N - n0);
    matmul(z, h.data, w.data, c, V, D, { transB: true, aOff: n0 * D });
    if (t) matmul(t, kd!.hidden!, kd!.weight!, c, V, D, { transB: true, aOff: n0 * D });
    for (let r = 0; r < c; r++) {
      const y = targets[n0 + r]!;
      const o = r * V;
      if (y < 0) {
        if (dz) dz.fill(0, o, o + V);
        continue;
      }
      // softmax once: e_v = e^{z_v − m} (kept in dz), lse = m + log Σ e_v, p_v = e_v / Σ e_v
      let m = -Infinity;
      for (let v = 0; v < V; v++) if (z[o + v]! > m) m = z[o + v]!;
      let se = 0;
      if (dz) for (let v = 0; v < V; v++) se += dz[o + v] = Math.exp(z[o + v]! - m);
      else for (let v = 0; v < V; v++) se += Math.exp(z[o + v]! - m);
      const lse = m + Math.log(se);
      nll += lse - z[o + y]!;
      if (dz) {
        // at τ = 1 the soft-target KL's softmax(z) term is the same p: folded in here
        const cp = (cCE + (softAtOne ? cKL : 0)) / se;
        for (let v = 0; v < V; v++) dz[o + v]! *= cp;
        dz[o + y]! -= cCE;
      }
      if (t) {
        // KL(pt ‖ ps) at temperature τ, ps = softmax(z/τ), pt = softmax(t/τ)
        let ms = -Infinity, mt = -Infinity;
        for (let v = 0; v < V; v++) {
          if (z[o + v]! / tau > ms) ms = z[o + v]! / tau;
          if (t[o + v]! / tau > mt) mt = t[o + v]! / tau;
        }
        let ss = 0, st = 0;
        for (let v = 0; v < V; v++) {
          ss += Math.exp(z[o + v]! / tau - ms);
          st += Math.exp(t[o + v]! / tau - mt);
        }
        const ls = ms + Math.log(ss), lt = mt + Math.log(st);
        let k = 0;
        for (let v = 0; v < V; v++) {
          const lpt = t[o + v]! / tau - lt;
          const lps = z[o + v]! / tau - ls;
          const pt = Math.exp(lpt);
          k += pt * (lpt - lps);
          if (dz) dz[o + v]! += cKL * (Math.exp(lps) - pt);
        }
        kl += k;
      }
      if (softAtOne) {
        // KL(q ‖ softmax(z)) at τ = 1: log ps = z − lse, its softmax part is already in dz
        const K = soft!.k, so = (n0 + r) * K;
        let mq = -Infinity;
        for (let i = 0; i < K; i++) if (soft!.lp[so + i]! > mq) mq = soft!.lp[so + i]!;
        let sq = 0;
        for (let i = 0; i < K; i++) sq += q![i] = Math.exp(soft!.lp[so + i]! - mq);
        const lq = mq + Math.log(sq);
        let k = 0;
        for (let i = 0; i < K; i++) {
          const qi = q![i]! / sq, v = soft!.idx[so + i]!;
          k += qi * (soft!.lp[so + i]! - lq - z[o + v]! + lse);
          if (dz) dz[o + v]! -= cKL * qi;
        }
        kl += k;
      } else if (soft) {
        // KL(q ‖ ps) with q the cached top-k teacher distribution at temperature τ
        const K = soft.k, so = (n0 + r) * K;
        let ms = -Infinity, mq = -Infinity;
        for (let v = 0; v < V; v++) if (z[o + v]! / tau > ms) ms = z[o + v]! / tau;
        for (let i = 0; i < K; i++) if (soft.lp[so + i]! / tau > mq) mq = soft.lp[so + i]! / tau;
        let ss = 0, sq = 0;
        for (let v = 0; v < V; v++) ss += Math.exp(z[o + v]! / tau - ms);
        for (let i = 0; i < K; i++) sq += (q![i] = Math.exp(soft.lp[so + i]! / tau - mq));
        const ls = ms + Math.log(ss), lq = Math.log(sq);
        let k = 0;
        for (let i = 0; i < K; i++) {
          const qi = q![i]! / sq;
          k += qi * (soft.lp[so + i]! / tau - mq - lq - (z[o + soft.idx[so + i]!]! / tau - ls));
          q![i] = qi;
        }
        kl += k;
        if (dz) {
          for (let v = 0; v < V; v++) dz[o + v]! += cKL * Math.exp(z[o + v]! / tau - ls);
          for (let i = 0; i < K; i++) dz[o + soft.idx[so + i]!]! -= cKL * q![i]!;
        }
      }
    }
    if (dh) matmul(dh, dz!, w.data, c, D, V, { cOff: n0 * D });
    if (dw) matmul(dw, dz!, h.data.subarray(n0 * D, (n0 + c) * D), V, D, c, { transA: true, accumulate: true });
  }
  const loss = new Tensor(alloc(h, 1), [], h.requiresGrad || w.requiresGrad);
  loss.data[0] = count ? (1 - alpha) * (nll / count) + alpha * tau * tau * (kl / count) : 0;
  if (grad) {
    tape.push(() => {
      const g = loss.grad?.[0];
      if (!g) return;
      if (dh) {
        const gh = h.ensureGrad();
        for (let i = 0; i < gh.length; i++) gh[i]! += g * dh[i]!;
      }
      if (dw) {
        const gw = w.ensureGrad();
        for (let i = 0; i < gw.length; i++) gw[i]! += g * dw[i]!;
      }
    });
  }
  return { loss, nll, kl, count };
}
