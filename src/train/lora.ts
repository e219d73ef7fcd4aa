/**
 * lora — low-rank adapters (Hu et al. 2021) over a frozen ternary base:
 *
 *   y = x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ,     W = s ⊙ T frozen in trit planes,  A [r, in],  B [out, r]
 *
 * Only A and B train (f32): r·(in + out) numbers per layer against in·out for W. A starts
 * uniform in ±1/√in (Kaiming-uniform as in PEFT), B at zero, so training starts exactly at the
 * ternary model. The base stays in its bit planes (2 bits per weight) and is decoded into a
 * scratch buffer only while its product runs (FrozenTernary).
 *
 * After training the adapter is kept beside the base (the saved model holds `lora_a`/`lora_b`
 * and nn/lora-linear.ts adds the low-rank term at inference) or merged: W' = W + (α/r)·B·A,
 * kept dense or re-quantized to trits.
 */
import { seededRandom } from '../eval/random.js';
import { quantize, type QuantizerSpec } from '../quant/weight-quantizers.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { add, scale } from './ops/elementwise.js';
import { linear, linearFrozen, type FrozenWeight } from './ops/linear.js';
import type { Tape } from './tape.js';
import { param, type FloatArray, type Tensor } from './tensor.js';

/** A ternary tensor as a frozen weight: decoded from its planes on demand. */
export class FrozenTernary implements FrozenWeight {
  readonly rows: number;
  readonly cols: number;

  constructor(
    readonly tensor: TernaryTensor,
    readonly name?: string,
  ) {
    this.rows = tensor.rows;
    this.cols = tensor.cols;
  }

  /** Write W into out: out[r·cols + c] = t[r, c]·scale(r, c). */
  decode(out: FloatArray): void {
    const t = this.tensor;
    const wpr = t.wordsPerRow;
    const G = t.groupScales ? t.groupsPerRow : 0;
    const gsz = t.groupSize;
    out.fill(0, 0, t.rows * t.cols);
    for (let r = 0; r < t.rows; r++) {
      const rowScale = t.scales[r]!;
      for (let w = 0; w < wpr; w++) {
        for (let sign = 1; sign >= -1; sign -= 2) {
          let bits = sign > 0 ? t.plus[r * wpr + w]! : t.minus[r * wpr + w]!;
          while (bits) {
            const b = 31 - Math.clz32(bits & -bits);
            bits &= bits - 1;
            const c = w * 32 + b;
            const s = G ? rowScale * t.groupScales![r * G + Math.floor(c / gsz)]! : rowScale;
            out[r * t.cols + c] = sign * s;
          }
        }
      }
    }
  }

}

export interface LoraOptions {
  /** rank r (default 8) */
  rank?: number;
  /** α: the adapter's output is scaled by α/r (default 2r) */
  alpha?: number;
  seed?: number;
}

export class LoraAdapter {
  readonly a: Tensor;
  readonly b: Tensor;
  readonly rank: number;
  readonly alpha: number;

  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly name: string,
    opts: LoraOptions = {},
    ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array,
  ) {
    this.rank = opts.rank ?? 8;
    this.alpha = opts.alpha ?? 2 * this.rank;
    const rng = seededRandom((opts.seed ?? 1) ^ hashName(name));
    const bound = 1 / Math.sqrt(cols);
    const a = new ctor(this.rank * cols);
    for (let i = 0; i < a.length; i++) a[i] = (rng.next() * 2 - 1) * bound;
    this.a = param(a, [this.rank, cols], `${name}.lora_a`);
    this.b = param(new ctor(rows * this.rank), [rows, this.rank], `${name}.lora_b`);
  }

  get scale(): number {
    return this.alpha / this.rank;
  }

  /** y + (α/r)·(x·Aᵀ)·Bᵀ */
  apply(tape: Tape, x: Tensor, y: Tensor): Tensor {
    return add(tape, y, scale(tape, linear(tape, linear(tape, x, this.a), this.b), this.scale));
  }

  /** (α/r)·B·A, [rows, cols] in f32. */
  delta(): Float32Array {
    const M = this.rows, K = this.cols, r = this.rank, s = this.scale;
    const out = new Float32Array(M * K);
    const a = this.a.data, b = this.b.data;
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        let acc = 0;
        for (let j = 0; j < r; j++) acc += b[m * r + j]! * a[j * K + k]!;
        out[m * K + k] = s * acc;
      }
    }
    return out;
  }
}

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** y = x·Wᵀ for a frozen ternary W, plus the adapter when there is one. */
export function loraForward(tape: Tape, x: Tensor, base: FrozenTernary, adapter: LoraAdapter | null): Tensor {
  const y = linearFrozen(tape, x, base);
  return adapter ? adapter.apply(tape, x, y) : y;
}

/** W + (α/r)·B·A in f32. */
export function mergeDense(base: TernaryTensor, adapter: LoraAdapter): Float32Array {
  const w = base.toDense();
  const d = adapter.delta();
  for (let i = 0; i < w.length; i++) w[i]! += d[i]!;
  return w;
}

/** W + (α/r)·B·A re-quantized to trits (same group size as the base). */
export function mergeRequantize(base: TernaryTensor, adapter: LoraAdapter, quantizer: QuantizerSpec | string): TernaryTensor {
  return quantize(mergeDense(base, adapter), base.rows, base.cols, quantizer, { groupSize: base.groupSize, name: adapter.name }).tensor;
}
