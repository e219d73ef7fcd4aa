/**
 * qat — quantization-aware training of a linear weight: the forward pass sees trits, the
 * optimizer updates latent f32 weights (the straight-through estimator, Bengio et al. 2013;
 * BitNet b1.58 trains this way from scratch).
 *
 * Forward (per row, or per group of `groupSize` columns; depth d = residual trit planes):
 *   r₁ = W;  for k = 1..d:  (Tₖ, α̂ₖ) = quantizer(rₖ),  rₖ₊₁ = rₖ − αₖ·Tₖ
 *   Q = Σₖ αₖ·Tₖ                  (d = 1: one trit per weight)
 * where αₖ is the quantizer's own scale α̂ₖ, re-estimated from W at every step ('reestimate'),
 * or a learned parameter initialised from it ('learnable'; the trits still follow W).
 * Backward (straight-through: round/threshold treated as the identity):
 *   ∂L/∂W = ∂L/∂Q
 *   ∂L/∂αₖ[r, g] = Σ_{c ∈ group g} ∂L/∂Q[r, c]·Tₖ[r, c]     (exact: Q is linear in αₖ)
 * Progressive quantization (optional, trainer.ts `quantRamp`): with a blend λ ∈ [0, 1] the
 * forward pass sees  Q_λ = λ·Q + (1 − λ)·W  (λ = 1: pure trits, the default and what is saved), so
 * early steps train a nearly-f32 network that is pulled towards its trits as λ ramps up:
 *   ∂L/∂W = ∂L/∂Q_λ·(λ·1 + (1 − λ)) = ∂L/∂Q_λ      (straight-through on the Q part)
 *   ∂L/∂αₖ[r, g] = λ·Σ_{c ∈ g} ∂L/∂Q_λ[r, c]·Tₖ[r, c]
 * The quantizer is any of quant/weight-quantizers.ts (absmean, twn, mse, threshold, percentile),
 * so the trained trits are exactly the ones the saved model holds.
 */
import { TritwiseError } from '../errors.js';
import { quantize, type QuantizerSpec } from '../quant/weight-quantizers.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { Tape } from './tape.js';
import { alloc, param, Tensor, type FloatArray } from './tensor.js';

export type ScaleMode = 'reestimate' | 'learnable';

export interface QatOptions {
  /** quantizer of every trit plane (default 'absmean', BitNet's) */
  quantizer?: QuantizerSpec | string;
  /** columns per scale group, a multiple of 32 (0 = one scale per row) */
  groupSize?: number;
  /** trit planes per weight, 1..6 (default 1) */
  depth?: number;
  /** how the scales are set (default 'reestimate') */
  scales?: ScaleMode;
  /**
   * scale each latent matrix's learning rate (and its learnable scales') by its mean |W₀| over
   * the mean of all QAT matrices' mean |W₀| (so the trit flips per step do not depend on a
   * layer's weight magnitude: Adam moves every weight by about lr, the threshold is ∝ mean |W|)
   */
  relativeLr?: boolean;
}

interface Planes {
  trits: Int8Array[];
  /** per plane: scale per (row, group) = [M·G] */
  alphas: Float64Array[];
}

export class QatWeight {
  readonly latent: Tensor;
  /** learnable scales [depth, M·G] (null when re-estimated) */
  readonly scales: Tensor | null;
  readonly depth: number;
  readonly groupSize: number;
  readonly groups: number;
  readonly quantizer: QuantizerSpec | string;
  /** mean |W| of the initial latent weights */
  readonly meanAbs0: number;
  /** progressive quantization: the share λ of the trits in the forward pass (1 = pure trits) */
  #blend = 1;

  constructor(
    w: FloatArray,
    readonly rows: number,
    readonly cols: number,
    readonly name: string,
    opts: QatOptions = {},
  ) {
    this.depth = opts.depth ?? 1;
    if (!(Number.isInteger(this.depth) && this.depth >= 1 && this.depth <= 6)) throw new TritwiseError('E_ARG', 'invalid QAT depth', { where: `${name} depth`, expected: 'an integer 1..6', got: opts.depth });
    this.groupSize = opts.groupSize ?? 0;
    this.groups = this.groupSize ? Math.ceil(cols / this.groupSize) : 1;
    this.quantizer = opts.quantizer ?? 'absmean';
    const mode = opts.scales ?? 'reestimate';
    if (mode !== 'reestimate' && mode !== 'learnable') throw new TritwiseError('E_ARG', 'unknown scale mode', { where: `${name} scales`, expected: 'reestimate | learnable', got: mode });
    this.latent = param(w, [rows, cols], name);
    let sum = 0;
    for (let i = 0; i < w.length; i++) sum += Math.abs(w[i]!);
    this.meanAbs0 = sum / Math.max(1, w.length);
    this.scales = null;
    if (mode === 'learnable') {
      const p = this.#planes(null);
      const s = alloc(w, this.depth * rows * this.groups);
      p.alphas.forEach((a, k) => s.set(a, k * rows * this.groups));
      this.scales = param(s, [this.depth, rows * this.groups], `${name}.scales`);
    }
  }

  get blend(): number {
    return this.#blend;
  }

  /** Set λ of Q_λ = λ·Q + (1 − λ)·W (progressive quantization); 1 is pure trits. */
  set blend(v: number) {
    if (!(v >= 0 && v <= 1)) throw new TritwiseError('E_ARG', 'invalid quantization blend', { where: `${this.name} blend`, expected: 'a number in [0, 1]', got: v });
    this.#blend = v;
  }

  /** Trits and scales of every plane for the current latent weights. */
  #planes(scales: FloatArray | null): Planes {
    const M = this.rows, K = this.cols, G = this.groups, gs = this.groupSize;
    let r = this.latent.data instanceof Float32Array ? this.latent.data : Float32Array.from(this.latent.data);
    const trits: Int8Array[] = [];
    const alphas: Float64Array[] = [];
    for (let k = 0; k < this.depth; k++) {
      const { tensor } = quantize(r, M, K, this.quantizer, { groupSize: gs, name: this.name });
      const t = tensor.toTrits();
      const a = new Float64Array(M * G);
      for (let i = 0; i < M * G; i++) a[i] = scales ? scales[k * M * G + i]! : gs ? tensor.groupScales![i]! * tensor.scales[Math.floor(i / G)]! : tensor.scales[i]!;
      trits.push(t);
      alphas.push(a);
      if (k + 1 < this.depth) {
        const next = new Float32Array(M * K);
        for (let row = 0; row < M; row++) {
          for (let c = 0; c < K; c++) {
            const i = row * K + c;
            next[i] = r[i]! - a[row * G + (gs ? Math.floor(c / gs) : 0)]! * t[i]!;
          }
        }
        r = next;
      }
    }
    return { trits, alphas };
  }

  /** Q = Σₖ αₖ·Tₖ as a tensor on the tape, with the straight-through backward step. */
  forward(tape: Tape): Tensor {
    const M = this.rows, K = this.cols, G = this.groups, gs = this.groupSize;
    const p = this.#planes(this.scales?.data ?? null);
    const q = new Tensor(alloc(this.latent, M * K), [M, K], true, `${this.name} (ternary)`);
    const qd = q.data;
    for (let k = 0; k < this.depth; k++) {
      const t = p.trits[k]!, a = p.alphas[k]!;
      for (let row = 0; row < M; row++) {
        for (let c = 0; c < K; c++) {
          const i = row * K + c;
          if (t[i]) qd[i]! += t[i]! * a[row * G + (gs ? Math.floor(c / gs) : 0)]!;
        }
      }
    }
    const lam = this.#blend;
    if (lam < 1) {
      const w = this.latent.data;
      for (let i = 0; i < qd.length; i++) qd[i] = lam * qd[i]! + (1 - lam) * w[i]!;
    }
    if (tape.recording) {
      tape.push(() => {
        const dq = q.grad;
        if (!dq) return;
        const dw = this.latent.ensureGrad();
        for (let i = 0; i < dq.length; i++) dw[i]! += dq[i]!;
        if (this.scales) {
          const ds = this.scales.ensureGrad();
          for (let k = 0; k < this.depth; k++) {
            const t = p.trits[k]!;
            for (let row = 0; row < M; row++) {
              for (let c = 0; c < K; c++) {
                const i = row * K + c;
                if (t[i]) ds[k * M * G + row * G + (gs ? Math.floor(c / gs) : 0)]! += lam * dq[i]! * t[i]!;
              }
            }
          }
        }
      });
    }
    return q;
  }

  parameters(): Tensor[] {
    return this.scales ? [this.latent, this.scales] : [this.latent];
  }

  /** The trit planes the forward pass uses now, as TernaryTensors (scales in f32). */
  toTernary(): TernaryTensor[] {
    const M = this.rows, K = this.cols, G = this.groups, gs = this.groupSize;
    const p = this.#planes(this.scales?.data ?? null);
    return p.trits.map((t, k) => {
      const a = p.alphas[k]!;
      const label = typeof this.quantizer === 'string' ? this.quantizer : this.quantizer.kind;
      const tt = TernaryTensor.fromTrits(t, M, K, gs ? { scales: new Float32Array(M).fill(1), groupSize: gs, groupScales: a } : { scales: a });
      tt.quantizer = `qat:${label}`;
      return tt;
    });
  }

  /** Σₖ αₖ·Tₖ in f32 (what the planes dequantize to). */
  toDense(): Float32Array {
    const out = new Float32Array(this.rows * this.cols);
    for (const t of this.toTernary()) {
      const d = t.toDense();
      for (let i = 0; i < out.length; i++) out[i]! += d[i]!;
    }
    return out;
  }
}
