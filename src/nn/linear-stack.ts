/**
 * linear-stack — linear layers that read the same input (Q/K/V; gate/up), run as one matmul when
 * their weights stack row-wise:  [W₁; W₂; …]·x = [W₁x; W₂x; …]  per token.
 *
 * Every kernel computes each output row on its own (and quantizes the shared input the same way),
 * so the stacked layer's outputs are bit-identical to the separate layers'. It saves one kernel
 * dispatch and one activation quantization per extra part. Parts stack when they are all ternary
 * with the same columns, group size and activation mode, or all dense; a part with several trit
 * planes (MultiTritTensor, issue 6) never stacks; otherwise (or when layers
 * are wrapped, as calibration does, or the backend asks for separate layers) they run one by one
 * into the same output rows.
 *
 * Output: [batch, Σ widths], part i in columns [offsets[i], offsets[i] + widths[i]) of each row.
 */
import type { ActivationMode, Backend } from '../backend/backend.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { stackDenseRows, stackTernaryRows } from '../tensor/stack-rows.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { DenseLinear, TernaryLinear, type Linear } from './linear.js';
import { MultiTritLinear } from './multi-trit-linear.js';

export interface StackPart {
  name: string;
  tensor: StoredTensor;
  activation?: ActivationMode;
}

export async function makeLinear(backend: Backend, name: string, t: StoredTensor, mode: ActivationMode | undefined): Promise<Linear> {
  if (t instanceof TernaryTensor) return TernaryLinear.fromTensor(backend, t, { activation: mode ?? 'f32', name });
  if (t instanceof MultiTritTensor) return MultiTritLinear.fromTensor(backend, t, { activation: mode ?? 'f32', name });
  const [rows, cols] = (t as DenseTensor).shape as [number, number];
  return DenseLinear.fromWeights(backend, (t as DenseTensor).data, rows, cols, { name });
}

function stackable(parts: readonly StackPart[]): 'ternary' | 'dense' | null {
  if (parts.length < 2 || parts.some((p) => p.tensor instanceof MultiTritTensor)) return null;
  const [a] = parts;
  if (parts.every((p) => p.tensor instanceof TernaryTensor)) {
    const t0 = a!.tensor as TernaryTensor;
    const ok = parts.every((p) => {
      const t = p.tensor as TernaryTensor;
      return t.cols === t0.cols && t.groupSize === t0.groupSize && (p.activation ?? 'f32') === (a!.activation ?? 'f32');
    });
    return ok ? 'ternary' : null;
  }
  if (parts.every((p) => !(p.tensor instanceof TernaryTensor) && (p.tensor as DenseTensor).shape[1] === (a!.tensor as DenseTensor).shape[1])) return 'dense';
  return null;
}

export class LinearStack {
  readonly widths: number[];
  readonly offsets: number[];
  readonly outFeatures: number;
  readonly inFeatures: number;

  private constructor(
    /** the parts as separate layers (empty when stacked) */
    readonly parts: Linear[],
    /** the stacked layer (null when the parts run one by one) */
    readonly stacked: Linear | null,
    widths: number[],
    readonly bytes: number,
  ) {
    this.widths = widths;
    this.offsets = widths.map((_, i) => widths.slice(0, i).reduce((a, b) => a + b, 0));
    this.outFeatures = widths.reduce((a, b) => a + b, 0);
    this.inFeatures = (stacked ?? parts[0]!).inFeatures;
  }

  static async build(backend: Backend, parts: StackPart[], opts: { wrap?: (name: string, l: Linear) => Linear; stack?: boolean } = {}): Promise<LinearStack> {
    const widths = parts.map((p) => (p.tensor instanceof TernaryTensor || p.tensor instanceof MultiTritTensor ? p.tensor.rows : (p.tensor as DenseTensor).shape[0]!));
    const kind = opts.wrap || opts.stack === false ? null : stackable(parts);
    if (kind) {
      const name = parts.map((p) => p.name).join('+');
      const t = kind === 'ternary' ? stackTernaryRows(parts.map((p) => p.tensor as TernaryTensor), name) : stackDenseRows(parts.map((p) => p.tensor as DenseTensor), name);
      const l = await makeLinear(backend, name, t, parts[0]!.activation);
      return new LinearStack([], l, widths, l.bytes);
    }
    const ls: Linear[] = [];
    for (const p of parts) {
      const l = await makeLinear(backend, p.name, p.tensor, p.activation);
      ls.push(opts.wrap ? opts.wrap(p.name, l) : l);
    }
    return new LinearStack(ls, null, widths, ls.reduce((n, l) => n + l.bytes, 0));
  }

  /** x [batch, in] → out [batch, outFeatures] (out is written in place). */
  async forward(x: Float32Array, batch: number, out: Float32Array): Promise<void> {
    if (this.stacked) {
      const y = await this.stacked.forward(x, batch, out);
      if (y !== out) out.set(y.subarray(0, batch * this.outFeatures));
      return;
    }
    const S = this.outFeatures;
    for (let i = 0; i < this.parts.length; i++) {
      const w = this.widths[i]!;
      const o = this.offsets[i]!;
      const y = await this.parts[i]!.forward(x, batch);
      for (let t = 0; t < batch; t++) out.set(y.subarray(t * w, (t + 1) * w), t * S + o);
    }
  }
}
