/**
 * decode/single — single-shot decoding: every key is unbound and cleaned up on its own.
 *
 *   ĉ(i) = argmax_m ⟨v_m, k_i ⊙ S⟩
 *
 * For dense bipolar vectors the winning score is D + N(0, D(N−1)) and each of the M−1 others is
 * N(0, D(N−1)), so P(correct) ≈ P(√(D/N) + Z₀ > max_{m<M−1} Z_m): about 47 % at D/N = 10 with
 * M = 1,000, since the maximum of 999 standard normals sits near 3.1. The confidence reported is
 * the Gaussian-model posterior of the winner, 1 / Σ_m exp((s_m − s_max)/τ²), τ² = ‖S‖²/D.
 */
import type { DecodeResult, SuperpositionProblem } from './problem.js';
import { checkProblem, scoreSections } from './problem.js';

export async function decodeSingle(p: SuperpositionProblem): Promise<DecodeResult> {
  checkProblem(p, 'decodeSingle');
  const t0 = performance.now();
  const N = p.keys.rows, M = p.values.size, D = p.sum.length;
  const indices = new Int32Array(N), confidence = new Float64Array(N);
  let tau2 = 0;
  for (const v of p.sum) tau2 += v * v;
  tau2 = Math.max(tau2 / D, 1e-9);
  const all = Int32Array.from({ length: N }, (_, i) => i);
  await scoreSections(p, all, p.sum, (i, s, o) => {
    let best = 0;
    for (let m = 1; m < M; m++) if (s[o + m]! > s[o + best]!) best = m;
    let z = 0;
    for (let m = 0; m < M; m++) z += Math.exp((s[o + m]! - s[o + best]!) / tau2);
    indices[i] = best;
    confidence[i] = 1 / z;
  });
  return { indices, confidence, stats: { decoder: 'single', fullScorings: N, iterations: 0, rounds: 1, ms: performance.now() - t0 } };
}
