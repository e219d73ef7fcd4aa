/**
 * gradcheck — compare a tape's gradients with central finite differences, in f64:
 *   ∂L/∂θᵢ ≈ (L(θ + εeᵢ) − L(θ − εeᵢ)) / 2ε
 * A non-scalar output y is reduced to L = Σ y ⊙ R with a fixed random R, so every output
 * element's gradient path is exercised.
 */
import { Tape } from '../../src/train/tape.js';
import { Tensor } from '../../src/train/tensor.js';
import { randomFloats } from './arbitraries.js';

/** L = Σ y ⊙ r as a differentiable op (test-only). */
export function weightedSum(tape: Tape, y: Tensor, r: Float64Array): Tensor {
  let s = 0;
  for (let i = 0; i < y.size; i++) s += y.data[i]! * r[i]!;
  const out = new Tensor(new Float64Array([s]), [], y.requiresGrad);
  if (tape.needs(y)) {
    tape.push(() => {
      const g = out.grad?.[0];
      if (!g) return;
      const dy = y.ensureGrad();
      for (let i = 0; i < y.size; i++) dy[i]! += g * r[i]!;
    });
  }
  return out;
}

export function f64(n: number, seed: number, scale = 1): Float64Array {
  return Float64Array.from(randomFloats(n, seed, scale));
}

export function p64(n: number, shape: number[], seed: number, scale = 1, name?: string): Tensor {
  return new Tensor(f64(n, seed, scale), shape, true, name);
}

export interface GradCheckResult {
  maxRelErr: number;
  checked: number;
  worst: string;
}

/**
 * `f` builds the graph on a tape and returns the output (scalar, or reduced by a random R).
 * Checks up to `samples` elements of each parameter (all when smaller).
 */
export function gradCheck(f: (tape: Tape) => Tensor, params: Tensor[], opts: { eps?: number; samples?: number; seed?: number } = {}): GradCheckResult {
  const eps = opts.eps ?? 1e-6;
  let r: Float64Array | null = null;
  const lossOf = (tape: Tape) => {
    const y = f(tape);
    if (y.size === 1) return y;
    r ??= f64(y.size, opts.seed ?? 99);
    return weightedSum(tape, y, r);
  };
  for (const p of params) p.grad = null;
  const tape = new Tape(true);
  tape.backward(lossOf(tape));
  const value = (): number => lossOf(new Tape(false)).data[0]!;
  let maxRelErr = 0;
  let checked = 0;
  let worst = '';
  for (const p of params) {
    const g = p.grad ?? new Float64Array(p.size);
    const n = p.size;
    const step = Math.max(1, Math.floor(n / (opts.samples ?? 40)));
    for (let i = 0; i < n; i += step) {
      const old = p.data[i]!;
      p.data[i] = old + eps;
      const lp = value();
      p.data[i] = old - eps;
      const lm = value();
      p.data[i] = old;
      const num = (lp - lm) / (2 * eps);
      const err = Math.abs(num - g[i]!) / Math.max(1e-6, Math.abs(num) + Math.abs(g[i]!));
      if (err > maxRelErr) {
        maxRelErr = err;
        worst = `${p.name ?? 'param'}[${i}]: numeric ${num}, analytic ${g[i]}`;
      }
      checked++;
    }
  }
  return { maxRelErr, checked, worst };
}
