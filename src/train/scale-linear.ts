/**
 * scale-linear — a quantized linear weight whose trits are frozen and whose scales train: the
 * layer of `mode: 'scales'` (post-training scale tuning, quant/tune-scales.ts).
 *
 * The frozen tensor (a TernaryTensor, or a MultiTritTensor in tryte or residual form) decodes to
 * D[r,c] = Σ_k t_k[r,c]·scale_k(r,c). One learnable multiplier per (row, group) scales every
 * plane of that row and group alike, so a tryte stays a tryte (same integers, same storage):
 *
 *   Q[r,c] = m[r,g]·D[r,c]                 (g = ⌊c/groupSize⌋, or 0 without groups; m starts at 1)
 *   ∂L/∂m[r,g] = Σ_{c ∈ g} ∂L/∂Q[r,c]·D[r,c]   (exact: Q is linear in m)
 *
 * export() writes m into the scales: with group scales every plane's group scale is multiplied by
 * m; without, the row scale. A tryte's planes are rebuilt from plane 0's new scale (plane k =
 * fround(s'·3^k)), so the form (and the saved bytes) are unchanged.
 */
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { Tape } from './tape.js';
import { param, Tensor, type FloatArrayCtor } from './tensor.js';

export class ScaleTunedWeight {
  readonly rows: number;
  readonly cols: number;
  readonly groupSize: number;
  readonly groups: number;
  /** the multipliers m [rows·groups] */
  readonly m: Tensor;
  readonly #base: Float32Array | Float64Array;

  constructor(
    readonly tensor: TernaryTensor | MultiTritTensor,
    readonly name: string,
    ctor: FloatArrayCtor = Float32Array,
  ) {
    this.rows = tensor.rows;
    this.cols = tensor.cols;
    this.groupSize = tensor.groupSize;
    this.groups = this.groupSize ? Math.ceil(this.cols / this.groupSize) : 1;
    this.#base = ctor.from(tensor.toDense());
    this.m = param(new ctor(this.rows * this.groups).fill(1), [this.rows * this.groups], `${name}.scale_mult`);
  }

  #group(c: number): number {
    return this.groupSize ? Math.floor(c / this.groupSize) : 0;
  }

  /** Q = m ⊙ D as a tensor on the tape. */
  forward(tape: Tape): Tensor {
    const { rows, cols, groups: G } = this;
    const D = this.#base;
    const m = this.m.data;
    const q = new Tensor(new (this.m.ctor)(rows * cols), [rows, cols], true, `${this.name} (scaled)`);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) q.data[r * cols + c] = m[r * G + this.#group(c)]! * D[r * cols + c]!;
    tape.push(() => {
      const dq = q.grad;
      if (!dq) return;
      const dm = this.m.ensureGrad();
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dm[r * G + this.#group(c)]! += dq[r * cols + c]! * D[r * cols + c]!;
    });
    return q;
  }

  /** The tensor with m written into its scales (trits unchanged). */
  export(): TernaryTensor | MultiTritTensor {
    const { rows, groups: G } = this;
    const m = this.m.data;
    const t = this.tensor;
    const rescale = (p: TernaryTensor, k: number, tryte: boolean, p0: TernaryTensor | null): TernaryTensor => {
      const c = p.clone();
      if (c.groupScales) {
        for (let i = 0; i < rows * G; i++) c.groupScales[i] = Math.fround(p.groupScales![i]! * m[i]!);
      } else if (tryte && p0 && k > 0) {
        for (let r = 0; r < rows; r++) c.scales[r] = Math.fround(Math.fround(p0.scales[r]! * m[r]!) * 3 ** k);
      } else {
        for (let r = 0; r < rows; r++) c.scales[r] = Math.fround(p.scales[r]! * m[r]!);
      }
      c.quantizer = p.quantizer;
      return c;
    };
    if (t instanceof TernaryTensor) return rescale(t, 0, false, null);
    const tryte = t.form === 'tryte';
    const planes = t.planes.map((p, k) => rescale(p, k, tryte, t.planes[0]!));
    const out = new MultiTritTensor(planes, { quantizer: t.quantizer });
    // the integers are unchanged, so a column (row) depth map still holds
    if (t.columnDepths) out.columnDepths = t.columnDepths.slice();
    if (t.rowDepths) out.rowDepths = t.rowDepths.slice();
    return out;
  }
}
