/**
 * lora-linear — a linear layer with a low-rank adapter kept beside it at inference:
 *
 *   y = base(x) + (α/r)·(x·Aᵀ)·Bᵀ,     A [r, in], B [out, r]
 *
 * The base is any Linear (ternary planes on a backend, or dense); the adapter is f32 and small
 * (r·(in + out) numbers), computed in plain TypeScript. Saved models hold adapters as
 * `<layer>.lora_a` / `<layer>.lora_b` tensors (io/model-file.ts); train/lora.ts trains them.
 */
import { TritwiseError } from '../errors.js';
import type { Linear } from './linear.js';

export interface LoraTensors {
  /** [rank, in] row-major */
  a: Float32Array;
  /** [out, rank] row-major */
  b: Float32Array;
  rank: number;
  alpha: number;
}

export function checkLora(t: LoraTensors, outFeatures: number, inFeatures: number, where: string): void {
  if (!(Number.isInteger(t.rank) && t.rank > 0)) throw new TritwiseError('E_CONFIG', 'invalid LoRA rank', { where, expected: 'a positive integer', got: t.rank });
  if (!Number.isFinite(t.alpha)) throw new TritwiseError('E_CONFIG', 'invalid LoRA alpha', { where, expected: 'a finite number', got: t.alpha });
  if (t.a.length !== t.rank * inFeatures) throw new TritwiseError('E_CONFIG', 'LoRA A does not fit the layer', { where: `${where}.lora_a`, expected: `[${t.rank}, ${inFeatures}]`, got: `${t.a.length} values` });
  if (t.b.length !== outFeatures * t.rank) throw new TritwiseError('E_CONFIG', 'LoRA B does not fit the layer', { where: `${where}.lora_b`, expected: `[${outFeatures}, ${t.rank}]`, got: `${t.b.length} values` });
}

export class LoraLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    readonly base: Linear,
    readonly lora: LoraTensors,
    name = 'LoraLinear',
  ) {
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
    checkLora(lora, base.outFeatures, base.inFeatures, name);
  }

  get kind(): 'ternary' | 'dense' {
    return this.base.kind;
  }

  get bytes(): number {
    return this.base.bytes + (this.lora.a.length + this.lora.b.length) * 4;
  }

  async forward(x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    const y = await this.base.forward(x, batch, out);
    const { a, b, rank: r } = this.lora;
    const K = this.inFeatures, M = this.outFeatures;
    const s = this.lora.alpha / r;
    const z = new Float64Array(r);
    for (let n = 0; n < batch; n++) {
      for (let j = 0; j < r; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[j * K + k]! * x[n * K + k]!;
        z[j] = acc * s;
      }
      for (let m = 0; m < M; m++) {
        let acc = 0;
        for (let j = 0; j < r; j++) acc += b[m * r + j]! * z[j]!;
        y[n * M + m]! += acc;
      }
    }
    return y;
  }
}
