/**
 * optimizer — AdamW (Loshchilov & Hutter) with global-norm gradient clipping.
 *
 *   g ← g · min(1, clip/‖g‖₂)             ‖g‖₂ over every parameter together
 *   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
 *   θ ← θ − lr·( m/(1−β₁ᵗ) / (√(v/(1−β₂ᵗ)) + ε) + λ·θ )      (lr times the parameter's lrScale, if set)
 * The decoupled decay λ applies to matrices only (weights with two or more dimensions: linear
 * layers, embedding); norms, scales and 1-D vectors are not decayed. State (m, v) is f32 like
 * the parameters, so a checkpoint holds it exactly.
 */
import type { Tensor } from './tensor.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  readonly m = new Map<string, Float32Array | Float64Array>();
  readonly v = new Map<string, Float32Array | Float64Array>();
  /** per-parameter learning-rate multipliers (a parameter without one uses the step's lr as it is) */
  readonly lrScale = new Map<string, number>();
  /** updates taken so far (t in the bias corrections) */
  t = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;

  constructor(
    readonly params: Map<string, Tensor>,
    opts: AdamWOptions = {},
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.95;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.1;
    for (const [name, p] of params) {
      this.m.set(name, new (p.ctor)(p.size));
      this.v.set(name, new (p.ctor)(p.size));
    }
  }

  /** ‖g‖₂ over all parameters (missing gradients count as zero). */
  gradNorm(): number {
    let s = 0;
    for (const p of this.params.values()) {
      const g = p.grad;
      if (g) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    }
    return Math.sqrt(s);
  }

  /** Clip, then take one step with learning rate `lr`; returns the gradient norm before clipping. */
  step(lr0: number, clip = 0): number {
    const norm = this.gradNorm();
    const k = clip > 0 && norm > clip ? clip / norm : 1;
    this.t++;
    const b1 = this.beta1, b2 = this.beta2;
    const c1 = 1 - Math.pow(b1, this.t), c2 = 1 - Math.pow(b2, this.t);
    for (const [name, p] of this.params) {
      const g = p.grad;
      if (!g) continue;
      const m = this.m.get(name)!, v = this.v.get(name)!, w = p.data;
      const lr = lr0 * (this.lrScale.get(name) ?? 1);
      const decay = p.shape.length >= 2 ? this.weightDecay : 0;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]! * k;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i]! - lr * ((mi / c1) / (Math.sqrt(vi / c2) + this.eps) + decay * w[i]!);
      }
    }
    return norm;
  }

  zeroGrad(): void {
    for (const p of this.params.values()) p.grad?.fill(0);
  }
}

/** Learning rate at `step` (0-based): linear warm-up to `lr`, then a cosine down to `minLr`. */
export function learningRate(step: number, o: { lr: number; minLr?: number; warmup: number; steps: number }): number {
  const min = o.minLr ?? o.lr / 10;
  if (step < o.warmup) return (o.lr * (step + 1)) / o.warmup;
  const span = Math.max(1, o.steps - o.warmup);
  const p = Math.min(1, (step - o.warmup) / span);
  return min + 0.5 * (o.lr - min) * (1 + Math.cos(Math.PI * p));
}

/**
 * Learning rate of a run planned over wall time (trainer.ts `budgetSeconds`): with p the fraction
 * of the training time gone, p = (elapsed − start)/(end − start) clamped to [0, 1] (`start`: when
 * the first step began; `end`: when the last step should finish, i.e. the budget less what the
 * final validation and checkpoint are expected to take),
 *
 *   cosine = minLr + ½(lr − minLr)(1 + cos(π·p))
 *   warm-up: over the first `warmup` steps, min(cosine, lr·(step+1)/warmup); or, when the warm-up
 *            is given as a fraction f of the time instead (`warmupFraction`), min(cosine, lr·p/f)
 *
 * A time fraction keeps the warm-up in proportion when the machine is slower than expected (a
 * fixed 100 steps would be most of a run that only gets 130).
 */
export function learningRateByTime(step: number, elapsed: number, o: { lr: number; minLr?: number; warmup: number; warmupFraction?: number; start: number; end: number }): number {
  const min = o.minLr ?? o.lr / 10;
  const p = Math.min(1, Math.max(0, (elapsed - o.start) / Math.max(1e-9, o.end - o.start)));
  const cos = min + 0.5 * (o.lr - min) * (1 + Math.cos(Math.PI * p));
  if (o.warmupFraction) return p < o.warmupFraction ? Math.min(cos, (o.lr * p) / o.warmupFraction) : cos;
  return step < o.warmup ? Math.min(cos, (o.lr * (step + 1)) / o.warmup) : cos;
}
