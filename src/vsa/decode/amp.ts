/**
 * decode/amp — joint decoding of a key-value superposition by approximate message passing (AMP)
 * with an Onsager correction, on per-key candidate shortlists, with exact peeling rounds.
 *
 * Model (see problem.ts): S = Σ_i φ_{i,c(i)},  φ_{i,m} = k_i ⊙ v_m,  e_{i,m} = ‖φ_{i,m}‖² (= D for
 * dense bipolar). Each key is a "section" with a one-hot unknown over M values: a sparse
 * superposition code, for which AMP with the section-wise Bayes denoiser is the known good
 * decoder (Barron–Joseph; Rush–Greig–Venkataramanan). One iteration, with p_{i,m} the current
 * posterior and z the current residual:
 *
 *   τ²      = ‖z‖² / D                                       effective noise per dimension
 *   u_{i,m} = ⟨v_m, k_i ⊙ z⟩ + e_{i,m}·p_{i,m}              own contribution added back (β + Aᵀz)
 *   p'_{i,m} = exp((u_{i,m} − e_{i,m}/2)/τ²) / Z_i           Gaussian-channel posterior, uniform prior
 *   z'      = S − Σ_i k_i ⊙ Σ_m p'_{i,m} v_m  +  b·z         b = Σ_{i,m} e_{i,m} p'(1 − p') / (D·τ²)
 *
 * The last term is the Onsager correction: the divergence of the denoiser times the old residual.
 * It cancels the correlation between the residual and the current estimate, so that u stays
 * "signal + Gaussian noise of variance e·τ²" and τ² can be tracked by state evolution:
 *   τ²_{t+1} = N·(1 − x_t),  x_t = E[posterior of the truth at SNR² = D/τ²_t]
 * With M = 1,000 the recursion reaches x = 1 for D/N ≳ 6.5 (it stalls below), against the
 * single-shot requirement D/N ≳ 2 ln M ≈ 14 for near-zero error. Without the Onsager term the
 * same loop is plain soft interference cancellation, which stalls much earlier.
 *
 * Cost control (this is what makes it practical):
 *  - Shortlists: one exact full scoring (the single-shot pass, a ternary GEMV per chunk on the
 *    backend) keeps the L best candidates per key. AMP then only scores those (N·L·D per
 *    iteration instead of N·M·D). The M − L unlisted candidates are one "tail" outcome that
 *    contributes nothing to the estimate, so a key whose truth missed its list stays uncertain
 *    rather than locking onto a wrong value. Its weight is their realised share of the posterior
 *    at the scoring that made the list, log Σ_unlisted exp((s_m − e/2)/τ²). (Why constant: if the
 *    noise at step t is the part of the initial noise not yet explained, a candidate's normalised
 *    statistic is ρZ₀ + √(1−ρ²)W with ρ = τ_t/τ_0, and E[weight | Z₀ below the list] works out to
 *    Φ(c − √ν₀)/Φ(c), independent of t. Counting each unlisted candidate at its unconditional
 *    mean weight 1 instead overstates the tail ~10× and stalls AMP near D/7.)
 *  - Peeling rounds: after AMP converges, keys with posterior ≥ `accept` are fixed and removed
 *    exactly from the integer residual R = S − Σ_fixed k_i ⊙ v_ĉ(i). Every fixed key is checked
 *    against R (a wrong one shows ⟨k_i ⊙ v_ĉ, R⟩ ≈ −e) and released if inconsistent. The rest are
 *    re-scored in full against R (far less crosstalk now) for fresh shortlists, and AMP runs again
 *    on that smaller problem, until everything is fixed or a round makes no progress.
 *
 * The two loops that cost N·L·D per iteration — the shortlist scores ⟨z, k_i ⊙ v_m⟩ and the
 * residual update z −= k_i ⊙ Σ_m p v_m — run in an AmpSession of the value memory's engine
 * (engine/kernels.ts: f64 in plain TypeScript; WebAssembly on bit planes with an f32 residual).
 */
import type { AmpSession } from '../engine/kernels.js';
import type { DecodeResult, SuperpositionProblem } from './problem.js';
import { addPair, checkProblem, kernelsOf, pairDot, pairEnergy, scoreSections, topL } from './problem.js';

export interface AmpOptions {
  /** candidates kept per key after full scoring (default 32) */
  shortlist?: number;
  /** AMP iterations per round (default 60) */
  maxIterations?: number;
  /** peeling rounds (default 8) */
  maxRounds?: number;
  /** posterior at which a key is fixed and peeled (default 0.99) */
  accept?: number;
  /** disable the Onsager term (plain soft interference cancellation), for comparison */
  noOnsager?: boolean;
  onProgress?: (msg: string) => void;
}

export interface CoreInput {
  R: Int32Array;
  /** the keys and values, in an engine's session (its z / zn buffers hold the residual) */
  session: AmpSession;
  /** key rows in this sub-problem */
  secs: Int32Array;
  L: number;
  /** [n, L] candidate value indices (−1 = empty slot) */
  lists: Int32Array;
  /** [n, L] energies e_{i,m} */
  E: Float64Array;
  maxIterations: number;
  onsager: boolean;
  /** [n] log of the unlisted candidates' total weight (−Infinity when every candidate is listed) */
  logTail: Float64Array;
}

/**
 * log Σ_{m unlisted} exp((s_m − e/2)/τ²): the unlisted candidates' share of the posterior
 * normaliser at the scoring that made the list. (`listed` is M bytes of scratch.)
 */
function unlistedLogWeight(s: Float64Array, o: number, M: number, lists: Int32Array, lo: number, L: number, e: number, tau2: number, listed: Uint8Array): number {
  for (let j = 0; j < L; j++) if (lists[lo + j]! >= 0) listed[lists[lo + j]!] = 1;
  let mx = -Infinity;
  for (let m = 0; m < M; m++) if (!listed[m]) mx = Math.max(mx, s[o + m]!);
  let sum = 0;
  if (mx > -Infinity) for (let m = 0; m < M; m++) if (!listed[m]) sum += Math.exp((s[o + m]! - mx) / tau2);
  for (let j = 0; j < L; j++) if (lists[lo + j]! >= 0) listed[lists[lo + j]!] = 0;
  return mx === -Infinity ? -Infinity : Math.log(sum) + (mx - e / 2) / tau2;
}

/** AMP on one (sub-)problem; returns the posteriors [n, L] and the iterations run. */
export function ampCore(c: CoreInput): { p: Float64Array; iterations: number; tau2: number } {
  const { R, session: S, secs, L, lists, E } = c;
  const D = R.length, n = secs.length;
  let p = new Float64Array(n * L), pn = new Float64Array(n * L);
  const u = new Float64Array(n * L), coef = new Float64Array(n * L), a = new Float64Array(L);
  const norm2 = (x: Float32Array | Float64Array) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += x[d]! * x[d]!;
    return s / D;
  };
  S.z.set(R);
  let tau2 = norm2(S.z), it = 0, stall = 0;
  for (; it < c.maxIterations && tau2 > 1e-9; it++) {
    // denoise: p' from u = ⟨v_m, k_i ⊙ z⟩ + e·p
    S.dots(secs, lists, L, u);
    let div = 0;
    for (let s = 0; s < n; s++) {
      const lo = s * L, logTail = c.logTail[s]!;
      let mx = logTail;
      for (let j = 0; j < L; j++) {
        if (lists[lo + j]! < 0) {
          a[j] = -Infinity;
          continue;
        }
        const e = E[lo + j]!;
        a[j] = (u[lo + j]! + e * (p[lo + j]! - 0.5)) / tau2;
        if (a[j]! > mx) mx = a[j]!;
      }
      let den = logTail > -Infinity ? Math.exp(logTail - mx) : 0;
      for (let j = 0; j < L; j++) den += a[j] = Math.exp(a[j]! - mx);
      for (let j = 0; j < L; j++) {
        const pj = a[j]! / den;
        pn[lo + j] = pj;
        coef[lo + j] = pj < 1e-9 ? 0 : -pj;
        div += E[lo + j]! * pj * (1 - pj);
      }
    }
    // residual with the Onsager term: z' = R − Σ_i k_i ⊙ est_i + b·z
    const b = c.onsager ? div / (D * tau2) : 0;
    const z = S.z, zn = S.zn;
    for (let d = 0; d < D; d++) zn[d] = R[d]! + b * z[d]!;
    S.axpy(secs, lists, L, coef);
    [p, pn] = [pn, p];
    S.swap();
    const t2 = norm2(S.z);
    stall = t2 > tau2 * 0.999 ? stall + 1 : 0;
    tau2 = t2;
    if (stall >= 3) {
      it++;
      break;
    }
  }
  return { p, iterations: it, tau2 };
}

/** Joint AMP decoding of all keys (see the header for the algorithm). */
export async function decodeAmp(p: SuperpositionProblem, opts: AmpOptions = {}): Promise<DecodeResult> {
  checkProblem(p, 'decodeAmp');
  const t0 = performance.now();
  const session = kernelsOf(p).ampSession(p.keys, p.values.tensor());
  try {
    return await ampRounds(p, opts, session, t0);
  } finally {
    session.release();
  }
}

async function ampRounds(p: SuperpositionProblem, opts: AmpOptions, session: AmpSession, t0: number): Promise<DecodeResult> {
  const N = p.keys.rows, M = p.values.size, D = p.sum.length;
  const L = Math.max(1, Math.min(opts.shortlist ?? 32, M));
  const accept = opts.accept ?? 0.99;
  const log = opts.onProgress ?? (() => {});
  const Vt = p.values.tensor(), Kt = p.keys, kx = kernelsOf(p);
  const fixed = new Int32Array(N).fill(-1), guess = new Int32Array(N), conf = new Float64Array(N);
  const lists = new Int32Array(N * L);
  const R = Int32Array.from(p.sum);
  let active = Int32Array.from({ length: N }, (_, i) => i);
  let fullScorings = 0, iterations = 0, rounds = 0;

  const tails = new Float64Array(N);
  const rescore = async (secs: Int32Array) => {
    let tau2 = 0;
    for (let d = 0; d < D; d++) tau2 += R[d]! * R[d]!;
    tau2 = Math.max(tau2 / D, 1e-9);
    const listed = new Uint8Array(M);
    await scoreSections(p, secs, R, (i, s, o) => {
      topL(s, o, M, L, lists, i * L);
      tails[i] = unlistedLogWeight(s, o, M, lists, i * L, L, pairEnergy(Kt, i, Vt, lists[i * L]!), tau2, listed);
    });
    fullScorings += secs.length;
    for (const i of secs) guess[i] = lists[i * L]!;
  };
  await rescore(active);
  const singleShot = guess.slice();
  log(`full scoring of ${N} keys done`);

  for (let round = 0; round < (opts.maxRounds ?? 8) && active.length > 0; round++) {
    rounds++;
    const n = active.length;
    const sl = new Int32Array(n * L), E = new Float64Array(n * L), logTail = new Float64Array(n);
    for (let s = 0; s < n; s++) {
      const i = active[s]!;
      logTail[s] = tails[i]!;
      for (let j = 0; j < L; j++) {
        const m = lists[i * L + j]!;
        sl[s * L + j] = m;
        E[s * L + j] = m < 0 ? 0 : pairEnergy(Kt, i, Vt, m);
      }
    }
    const core = ampCore({ R, session, secs: active, L, lists: sl, E, logTail, maxIterations: opts.maxIterations ?? 60, onsager: !opts.noOnsager });
    iterations += core.iterations;
    // accept confident keys and peel them off the exact residual
    let accepted = 0;
    for (let s = 0; s < n; s++) {
      let jb = 0;
      for (let j = 1; j < L; j++) if (core.p[s * L + j]! > core.p[s * L + jb]!) jb = j;
      const i = active[s]!, m = sl[s * L + jb]!, pm = core.p[s * L + jb]!;
      if (m < 0) continue;
      guess[i] = m;
      conf[i] = pm;
      if (pm >= accept) {
        fixed[i] = m;
        addPair(kx, R, Kt, i, Vt, m, -1);
        accepted++;
      }
    }
    // release fixed keys that the residual contradicts: ⟨k_i ⊙ v_ĉ, R⟩ < −e/2
    let released = 0;
    for (let i = 0; i < N; i++) {
      const m = fixed[i]!;
      if (m < 0) continue;
      if (pairDot(kx, R, Kt, i, Vt, m) < -pairEnergy(Kt, i, Vt, m) / 2) {
        addPair(kx, R, Kt, i, Vt, m, 1);
        fixed[i] = -1;
        released++;
      }
    }
    const next = Int32Array.from(Array.from({ length: N }, (_, i) => i).filter((i) => fixed[i]! < 0));
    log(`round ${round}: ${n} keys, ${core.iterations} iterations, τ² ${core.tau2.toFixed(2)}, fixed ${accepted}, released ${released}, left ${next.length}`);
    if (next.length === 0 || next.length > 0.9 * n) {
      active = next;
      break;
    }
    active = next;
    await rescore(active);
  }
  const indices = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    indices[i] = fixed[i]! >= 0 ? fixed[i]! : guess[i]!;
  }
  return { indices, confidence: conf, singleShot, stats: { decoder: 'amp', fullScorings, iterations, rounds, ms: performance.now() - t0 } };
}
