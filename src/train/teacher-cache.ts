/**
 * teacher-cache — distillation targets computed once per training window and reused.
 *
 * Online distillation runs the f32 teacher's forward pass at every step (about a third more work
 * per step for stories260K). Over aligned windows (data.ts `alignedBatch`: the training stream
 * cut into W fixed windows of T tokens, visited epoch by epoch) each window's teacher outputs
 * are the same every time it comes back, so they are computed the first time (by whichever
 * thread trains that row) and kept: per position, the teacher's k most likely tokens and their
 * log-probabilities at τ = 1,
 *   ℓ_v = t_v − log Σ_u e^{t_u}      for the k largest logits t_v (found by quickselect)
 * The loss then distils towards that top-k distribution (ops/cross-entropy.ts, `soft`). For a
 * 512-token vocabulary k = 32 keeps nearly all of the teacher's mass; storage is N·k·8 bytes for
 * N training tokens (353 K tokens, k = 32: 90 MB), filled lazily.
 */
import { TritwiseError } from '../errors.js';
import { matmul } from './gemm.js';
import type { Batch, TrainModel } from './llama-train.js';
import type { SoftTargets } from './ops/cross-entropy.js';
import { Tape } from './tape.js';

/** Per-row soft targets of a batch: `have[b]` says row b's are filled in. */
export interface BatchSoft extends SoftTargets {
  have: Uint8Array;
}

/** Move the k largest of vals[ix[lo..hi)] to ix[lo..lo+k) (any order; Hoare-style quickselect). */
function selectTopK(ix: Int32Array, vals: Float32Array | Float64Array, vo: number, n: number, k: number): void {
  let lo = 0, hi = n - 1;
  while (lo < hi) {
    const pivot = vals[vo + ix[(lo + hi) >> 1]!]!;
    let i = lo, j = hi;
    while (i <= j) {
      while (vals[vo + ix[i]!]! > pivot) i++;
      while (vals[vo + ix[j]!]! < pivot) j--;
      if (i <= j) {
        const t = ix[i]!;
        ix[i] = ix[j]!;
        ix[j] = t;
        i++;
        j--;
      }
    }
    // ix[lo..j] ≥ pivot ≥ ix[i..hi]
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}

/** The teacher's top-k tokens and log-probabilities at every position of `batch` ([B·T·k]). */
export function teacherTopK(teacher: TrainModel, batch: Batch, k: number): SoftTargets {
  const V = teacher.config.vocabSize, D = teacher.config.dim;
  if (!(Number.isInteger(k) && k >= 1 && k <= V)) throw new TritwiseError('E_ARG', 'invalid distillation top-k', { where: 'finetune --distill-top-k', expected: `an integer 1..${V}`, got: k });
  const tape = new Tape(false);
  const h = teacher.hidden(tape, batch, { recomputeAttention: true });
  const w = teacher.headWeight(tape);
  const N = batch.B * batch.T, C = 64;
  const z = new Float32Array(C * V);
  const ix = new Int32Array(V);
  const idx = new Int32Array(N * k), lp = new Float32Array(N * k);
  for (let n0 = 0; n0 < N; n0 += C) {
    const c = Math.min(C, N - n0);
    matmul(z, h.data as Float32Array, w.data as Float32Array, c, V, D, { transB: true, aOff: n0 * D });
    for (let r = 0; r < c; r++) {
      const o = r * V;
      let m = -Infinity;
      for (let v = 0; v < V; v++) if (z[o + v]! > m) m = z[o + v]!;
      let s = 0;
      for (let v = 0; v < V; v++) s += Math.exp(z[o + v]! - m);
      const lse = m + Math.log(s);
      for (let v = 0; v < V; v++) ix[v] = v;
      selectTopK(ix, z, o, V, k);
      const d = (n0 + r) * k;
      for (let i = 0; i < k; i++) {
        idx[d + i] = ix[i]!;
        lp[d + i] = z[o + ix[i]!]! - lse;
      }
    }
  }
  return { k, idx, lp };
}

/** Fill in the rows of `batch.soft` that are missing, with the teacher (in place). */
export function completeSoft(teacher: TrainModel, batch: Batch & { soft: BatchSoft }): number {
  const { B, T } = batch;
  const s = batch.soft;
  const missing: number[] = [];
  for (let b = 0; b < B; b++) if (!s.have[b]) missing.push(b);
  if (!missing.length) return 0;
  const sub: Batch = { ids: new Int32Array(missing.length * T), targets: new Int32Array(missing.length * T), B: missing.length, T };
  missing.forEach((b, i) => sub.ids.set(batch.ids.subarray(b * T, (b + 1) * T), i * T));
  const t = teacherTopK(teacher, sub, s.k);
  const n = T * s.k;
  missing.forEach((b, i) => {
    s.idx.set(t.idx.subarray(i * n, (i + 1) * n), b * n);
    s.lp.set(t.lp.subarray(i * n, (i + 1) * n), b * n);
    s.have[b] = 1;
  });
  return missing.length;
}

/** Top-k teacher targets of every aligned window, filled as the windows are first trained on. */
export class TeacherCache {
  readonly idx: Int32Array;
  readonly lp: Float32Array;
  readonly have: Uint8Array;
  /** windows filled so far */
  filled = 0;

  constructor(
    readonly windows: number,
    readonly T: number,
    readonly k: number,
  ) {
    this.idx = new Int32Array(windows * T * k);
    this.lp = new Float32Array(windows * T * k);
    this.have = new Uint8Array(windows);
  }

  /** The batch's soft targets as far as the cache has them (rows it lacks are marked missing). */
  attach<B extends Batch & { windows: Int32Array }>(batch: B): B & { soft: BatchSoft } {
    const n = this.T * this.k;
    const soft: BatchSoft = { k: this.k, idx: new Int32Array(batch.B * n), lp: new Float32Array(batch.B * n), have: new Uint8Array(batch.B) };
    for (let b = 0; b < batch.B; b++) {
      const w = batch.windows[b]!;
      if (!this.have[w]) continue;
      soft.idx.set(this.idx.subarray(w * n, (w + 1) * n), b * n);
      soft.lp.set(this.lp.subarray(w * n, (w + 1) * n), b * n);
      soft.have[b] = 1;
    }
    return { ...batch, soft };
  }

  /** Keep the rows of a completed batch that the cache did not have. */
  store(batch: Batch & { windows: Int32Array; soft: BatchSoft }): void {
    const n = this.T * this.k;
    for (let b = 0; b < batch.B; b++) {
      const w = batch.windows[b]!;
      if (this.have[w] || !batch.soft.have[b]) continue;
      this.idx.set(batch.soft.idx.subarray(b * n, (b + 1) * n), w * n);
      this.lp.set(batch.soft.lp.subarray(b * n, (b + 1) * n), w * n);
      this.have[w] = 1;
      this.filled++;
    }
  }
}
