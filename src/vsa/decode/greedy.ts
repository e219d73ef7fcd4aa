/**
 * decode/greedy — greedy explaining-away (successive interference cancellation), the baseline
 * iterative decoder the issue describes:
 *
 *   repeat until every key is decided:
 *     score every undecided key i against the residual R:  s_{i,m} = ⟨v_m, k_i ⊙ R⟩
 *     accept the `fraction`·N keys with the largest margin  s_best − s_second
 *     R ← R − Σ_accepted k_i ⊙ v_ĉ(i)                         (exact, on the integer sum)
 *   then `sweeps` refinement sweeps over all keys, each re-deciding with its own pair added back:
 *     ĉ(i) ← argmax_m ⟨v_m, k_i ⊙ R⟩ + e_i·[m = ĉ(i)]        (Jacobi: all keys against one R)
 *
 * Hard decisions are what limit it: the first accepted batch is decided at the single-shot SNR
 * √(D/N), and each wrong acceptance adds a full-size error k_i ⊙ (v_wrong − v_true) to R, so
 * below about D/N ≈ 9 (M = 1,000) the errors feed on themselves and accuracy falls off a cliff.
 * Every scoring is a full one (all M values, through the backend), so this decoder costs about
 * (1/(2·fraction) + sweeps) single-shot passes.
 */
import type { DecodeResult, SuperpositionProblem } from './problem.js';
import { addPair, checkProblem, kernelsOf, pairEnergy, scoreSections } from './problem.js';

export interface GreedyOptions {
  /** fraction of all keys accepted per round (default 0.1) */
  fraction?: number;
  /** refinement sweeps after all keys are decided (default 3) */
  sweeps?: number;
}

export async function decodeGreedy(p: SuperpositionProblem, opts: GreedyOptions = {}): Promise<DecodeResult> {
  checkProblem(p, 'decodeGreedy');
  const t0 = performance.now();
  const N = p.keys.rows, M = p.values.size;
  const Vt = p.values.tensor(), Kt = p.keys, kx = kernelsOf(p);
  const perRound = Math.max(1, Math.ceil((opts.fraction ?? 0.1) * N));
  const R = Int32Array.from(p.sum);
  const dec = new Int32Array(N).fill(-1), conf = new Float64Array(N);
  let undecided = Int32Array.from({ length: N }, (_, i) => i);
  let fullScorings = 0, rounds = 0;
  while (undecided.length > 0) {
    rounds++;
    const best = new Int32Array(N), margin = new Float64Array(N);
    await scoreSections(p, undecided, R, (i, s, o) => {
      let b = 0, second = -Infinity;
      for (let m = 1; m < M; m++) if (s[o + m]! > s[o + b]!) b = m;
      for (let m = 0; m < M; m++) if (m !== b && s[o + m]! > second) second = s[o + m]!;
      best[i] = b;
      margin[i] = M > 1 ? s[o + b]! - second : Infinity;
    });
    fullScorings += undecided.length;
    const order = Array.from(undecided).sort((a, b) => margin[b]! - margin[a]!);
    for (const i of order.slice(0, perRound)) {
      dec[i] = best[i]!;
      conf[i] = margin[i]! / Math.max(1, pairEnergy(Kt, i, Vt, best[i]!));
      addPair(kx, R, Kt, i, Vt, best[i]!, -1);
    }
    undecided = Int32Array.from(order.slice(perRound));
  }
  const all = Int32Array.from({ length: N }, (_, i) => i);
  for (let sweep = 0; sweep < (opts.sweeps ?? 3); sweep++) {
    const next = new Int32Array(N);
    await scoreSections(p, all, R, (i, s, o) => {
      const own = dec[i]!;
      const e = pairEnergy(Kt, i, Vt, own);
      let b = own;
      for (let m = 0; m < M; m++) if (s[o + m]! + (m === own ? e : 0) > s[o + b]! + (b === own ? e : 0)) b = m;
      next[i] = b;
    });
    fullScorings += N;
    let changed = 0;
    for (let i = 0; i < N; i++) {
      if (next[i] === dec[i]) continue;
      addPair(kx, R, Kt, i, Vt, dec[i]!, 1);
      addPair(kx, R, Kt, i, Vt, next[i]!, -1);
      dec[i] = next[i]!;
      changed++;
    }
    rounds++;
    if (changed === 0) break;
  }
  return { indices: dec, confidence: conf, stats: { decoder: 'greedy', fullScorings, iterations: 0, rounds, ms: performance.now() - t0 } };
}
