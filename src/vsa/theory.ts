/**
 * theory — what the signal-to-noise ratio predicts for the key-value memory, to compare with
 * measurements.
 *
 * Single shot. With N dense bipolar pairs superposed, unbinding key i leaves its value plus
 * N − 1 unrelated ±1 vectors, so the score of the true value is D + N(0, D(N−1)) and each of the
 * other M − 1 values scores N(0, D(N−1)). Dividing by the noise std:
 *   SNR = D / √(D(N−1)) = √(D/(N−1)) ≈ √(D/N)
 *   P(correct) = ∫ φ(z) · Φ(z + SNR)^{M−1} dz
 * Near-certain retrieval needs SNR above the typical maximum of M−1 standard normals,
 * √(2 ln M) ≈ 3.7 for M = 1,000, i.e. N ≲ D / (2 ln M) ≈ D/14; at N = D/10 (SNR 3.16) it is ~47 %.
 *
 * AMP (decode/amp.ts). With the Onsager correction the per-key statistic stays Gaussian with a
 * variance τ² that state evolution predicts (noiseless superposition):
 *   ν_t = D / τ²_t,  τ²_0 = N,   x_t = E[posterior of the truth | ν_t],   τ²_{t+1} = N (1 − x_t)
 * where the posterior is the softmax over M candidates whose statistics are ν + √ν·Z₀ (truth) and
 * √ν·Z_m (others). If the recursion reaches x = 1, AMP decodes everything; it stalls at a fixed
 * point x* < 1 when D/N is below a threshold (about 6.5 for M = 1,000).
 */
import { seededRandom } from '../eval/random.js';

/** Standard normal CDF Φ(x) (erfc via Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** P(correct) of an M-way cleanup at signal-to-noise ratio `snr`: ∫ φ(z) Φ(z + snr)^{M−1} dz. */
export function cleanupAccuracy(snr: number, M: number): number {
  let s = 0;
  const h = 0.01;
  for (let z = -9; z <= 9; z += h) {
    const phi = Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
    s += phi * Math.pow(normalCdf(z + snr), M - 1) * h;
  }
  return Math.min(1, s);
}

/** Predicted single-shot accuracy for N dense bipolar pairs at dimension D with M values. */
export function singleShotAccuracy(D: number, N: number, M: number): number {
  return N <= 1 ? 1 : cleanupAccuracy(Math.sqrt(D / (N - 1)), M);
}

export interface StateEvolution {
  /** D/N */
  ratio: number;
  /** ν at the fixed point (Infinity when decoding completes) */
  nu: number;
  /** predicted accuracy at the fixed point: the cleanup accuracy at SNR √ν */
  accuracy: number;
  iterations: number;
  converged: boolean;
}

/**
 * AMP state evolution for loads D/N = `ratio` with M candidates, by Monte Carlo over `samples`
 * draws of (Z₀, Z₁ … Z_{M−1}) (the same draws at every step, so the map is smooth).
 */
export function ampStateEvolution(ratio: number, M: number, opts: { samples?: number; seed?: number; maxIterations?: number } = {}): StateEvolution {
  const S = opts.samples ?? 400;
  const rng = seededRandom(opts.seed ?? 1);
  const Z = new Float64Array(S * M);
  for (let i = 0; i < Z.length; i++) Z[i] = rng.normal();
  let nu = ratio;
  for (let it = 0; it < (opts.maxIterations ?? 200); it++) {
    const sq = Math.sqrt(nu);
    let x = 0;
    for (let s = 0; s < S; s++) {
      const o = s * M;
      const t = nu + sq * Z[o]!;
      let mx = t;
      for (let m = 1; m < M; m++) mx = Math.max(mx, sq * Z[o + m]!);
      let den = 0;
      for (let m = 1; m < M; m++) den += Math.exp(sq * Z[o + m]! - mx);
      const et = Math.exp(t - mx);
      x += et / (et + den);
    }
    x /= S;
    if (x > 1 - 1e-9) return { ratio, nu: Infinity, accuracy: 1, iterations: it + 1, converged: true };
    const next = ratio / (1 - x);
    if (Math.abs(next - nu) < 1e-6 * nu) return { ratio, nu, accuracy: cleanupAccuracy(Math.sqrt(nu), M), iterations: it + 1, converged: false };
    nu = next;
  }
  return { ratio, nu, accuracy: cleanupAccuracy(Math.sqrt(nu), M), iterations: opts.maxIterations ?? 200, converged: false };
}
