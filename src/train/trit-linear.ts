/**
 * trit-linear — a quantized tryte weight whose integers are re-chosen by training: the layer of
 * `mode: 'trits'` (post-training trit re-selection, quant/tune-scales.ts with `tune.trits`).
 *
 * The source is a tryte (a TernaryTensor, d = 1, or a MultiTritTensor in tryte form): integers
 * n₀[r,c] ∈ [−L, L], L = (3^d − 1)/2, on the step s₀[r,g] of its row and group. Two things train:
 *
 *   u[r,c]  a latent position in units of the step, initialised to n₀ (so training starts from
 *           exactly the gptq model), or, given the f32 weights W, to where W sits inside n₀'s
 *           cell: u = n₀ + clamp(W/s₀ − n₀, −0.49, 0.49) (a weight near a cell edge flips after a
 *           small push; with rtn's integers this is W/s₀ itself, as AdaRound starts)
 *   m[r,g]  a multiplier of the step, initialised to 1 (as in scale-linear.ts)
 *
 * Forward:   n = clamp(round(u), −L, L);   Q[r,c] = m[r,g]·s₀[r,g]·n[r,c]
 * Backward (straight-through estimator for the rounding, Bengio et al. 2013; zero outside the
 * grid so a latent cannot drift far past ±L):
 *   ∂L/∂u[r,c] = ∂L/∂Q[r,c]·m[r,g]·s₀[r,g]·[|u| ≤ L + ½]
 *   ∂L/∂m[r,g] = Σ_{c ∈ g} ∂L/∂Q[r,c]·s₀[r,g]·n[r,c]      (exact: Q is linear in m)
 * Because u is measured in steps, one learning rate fits every layer: Adam moves u by about lr per
 * step, and a weight's trits change when its u crosses a half-integer.
 *
 * Sub-layer depths (a tryte with `columnDepths` or `rowDepths`, quant/grids.ts): a cell of depth
 * d_i has its own step multiplier k_i (3^(D−d) for a column, 1 for a row) and bound L_i, and u is
 * measured in the cell's own steps, so the rate means the same everywhere:
 *   n = k_i·clamp(round(u), ±L_i);   ∂L/∂u = ∂L/∂Q·m·s₀·k_i·[|u| ≤ L_i + ½]
 *
 * export() rebuilds the tryte from the final n with m written into the scales: same depth, form,
 * group size and stored bytes as the source, only the integers (and scales) differ.
 */
import { TritwiseError } from '../errors.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { Tape } from './tape.js';
import { param, Tensor, type FloatArrayCtor } from './tensor.js';

export class TritTunedWeight {
  readonly rows: number;
  readonly cols: number;
  readonly depth: number;
  readonly groupSize: number;
  readonly groups: number;
  /** the largest integer of the grid, (3^d − 1)/2 */
  readonly L: number;
  /** latent positions u [rows·cols], in steps */
  readonly u: Tensor;
  /** step multipliers m [rows·groups] */
  readonly m: Tensor;
  /** the source integers n₀ (to count changes) */
  readonly n0: Int32Array;
  /** the source step s₀ per (row, group) */
  readonly #step: Float64Array;
  /** per-cell step multiplier k and bound L (sub-layer depths), indexed by column or row */
  readonly #cellK: Float64Array | null = null;
  readonly #cellL: Float64Array | null = null;
  readonly #byRow: boolean = false;

  constructor(
    readonly tensor: TernaryTensor | MultiTritTensor,
    readonly name: string,
    ctor: FloatArrayCtor = Float32Array,
    /** the f32 weights the tryte was quantized from (positions inside the cells; default: centres) */
    init?: ArrayLike<number>,
  ) {
    if (tensor instanceof MultiTritTensor && tensor.form !== 'tryte') {
      throw new TritwiseError('E_UNSUPPORTED', 'trit re-selection needs the tryte form', { where: `calibration.tune.trits: ${name}`, expected: 'a tryte (quantizer gptq or rtn: one scale shared by the planes)', got: 'residual planes with independent scales' });
    }
    this.rows = tensor.rows;
    this.cols = tensor.cols;
    this.depth = tensor instanceof MultiTritTensor ? tensor.depth : 1;
    this.groupSize = tensor.groupSize;
    this.groups = this.groupSize ? Math.ceil(this.cols / this.groupSize) : 1;
    this.L = (3 ** this.depth - 1) / 2;
    this.n0 = tensor instanceof MultiTritTensor ? tensor.toIntegers() : Int32Array.from(tensor.toTrits());
    const p0 = tensor instanceof MultiTritTensor ? tensor.planes[0]! : tensor;
    this.#step = new Float64Array(this.rows * this.groups);
    for (let r = 0; r < this.rows; r++) for (let g = 0; g < this.groups; g++) this.#step[r * this.groups + g] = p0.scaleAt(r, g * (this.groupSize || 1));
    if (init && init.length !== this.rows * this.cols) throw new TritwiseError('E_SHAPE', 'f32 weights do not match the tryte', { where: `calibration.tune.trits: ${name}`, expected: this.rows * this.cols, got: init.length });
    const map = tensor instanceof MultiTritTensor ? (tensor.columnDepths ?? tensor.rowDepths) : undefined;
    if (map) {
      this.#byRow = !(tensor as MultiTritTensor).columnDepths;
      this.#cellK = Float64Array.from(map, (d) => (this.#byRow ? 1 : 3 ** (this.depth - d)));
      this.#cellL = Float64Array.from(map, (d) => (3 ** d - 1) / 2);
    }
    const u = ctor.from(this.n0);
    for (let r = 0; r < this.rows; r++) {
      for (let c = 0; c < this.cols; c++) {
        const i = r * this.cols + c;
        const k = this.#k(r, c);
        const n0 = this.n0[i]! / k;
        u[i] = n0;
        if (!init) continue;
        const x = init[i]! / (k * this.#step[r * this.groups + this.#group(c)]!) - n0;
        if (Number.isFinite(x)) u[i] = n0 + Math.max(-0.49, Math.min(0.49, x));
      }
    }
    this.u = param(u, [this.rows, this.cols], `${name}.latent`);
    this.m = param(new ctor(this.rows * this.groups).fill(1), [this.rows * this.groups], `${name}.scale_mult`);
  }

  #group(c: number): number {
    return this.groupSize ? Math.floor(c / this.groupSize) : 0;
  }

  /** The step multiplier of cell (r, c): 3^(D − d) for a shallower column, else 1. */
  #k(r: number, c: number): number {
    return this.#cellK ? this.#cellK[this.#byRow ? r : c]! : 1;
  }

  /** The level bound of cell (r, c). */
  #L(r: number, c: number): number {
    return this.#cellL ? this.#cellL[this.#byRow ? r : c]! : this.L;
  }

  /** The integers the forward pass uses now: k·clamp(round(u), ±L) (k = 1, L = the layer's without cell depths). */
  integers(): Int32Array {
    const u = this.u.data;
    const n = new Int32Array(u.length);
    const { rows, cols } = this;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const L = this.#L(r, c);
        n[i] = this.#k(r, c) * Math.max(-L, Math.min(L, Math.round(u[i]!))) + 0;
      }
    }
    return n;
  }

  /** How many weights hold a different integer than the source. */
  changed(): number {
    const n = this.integers();
    let k = 0;
    for (let i = 0; i < n.length; i++) if (n[i] !== this.n0[i]) k++;
    return k;
  }

  /** Q = m·s₀·clamp(round(u)) as a tensor on the tape, with the straight-through backward step. */
  forward(tape: Tape): Tensor {
    const { rows, cols, groups: G } = this;
    const n = this.integers();
    const u = this.u.data, m = this.m.data, s = this.#step;
    const q = new Tensor(new (this.m.ctor)(rows * cols), [rows, cols], true, `${this.name} (trytes)`);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const g = r * G + this.#group(c);
        q.data[r * cols + c] = m[g]! * s[g]! * n[r * cols + c]!;
      }
    }
    if (tape.recording) {
      tape.push(() => {
        const dq = q.grad;
        if (!dq) return;
        const du = this.u.ensureGrad();
        const dm = this.m.ensureGrad();
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < cols; c++) {
            const i = r * cols + c;
            const g = r * G + this.#group(c);
            if (Math.abs(u[i]!) <= this.#L(r, c) + 0.5) du[i]! += dq[i]! * m[g]! * s[g]! * this.#k(r, c);
            dm[g]! += dq[i]! * s[g]! * n[i]!;
          }
        }
      });
    }
    return q;
  }

  parameters(): Tensor[] {
    return [this.u, this.m];
  }

  /** The tryte of the current integers, m written into its scales (same form and bytes as the source). */
  export(): TernaryTensor | MultiTritTensor {
    const { rows, cols, groups: G } = this;
    const n = this.integers();
    const m = this.m.data;
    const src = this.tensor;
    const p0 = src instanceof MultiTritTensor ? src.planes[0]! : src;
    const scales = Float32Array.from(p0.scales);
    let groupScales: Float32Array | undefined;
    if (p0.groupScales) groupScales = Float32Array.from({ length: rows * G }, (_, i) => Math.fround(p0.groupScales![i]! * m[i]!));
    else for (let r = 0; r < rows; r++) scales[r] = Math.fround(scales[r]! * m[r]!);
    const opts = { scales, ...(groupScales ? { groupSize: this.groupSize, groupScales } : {}) };
    if (src instanceof TernaryTensor) {
      const t = TernaryTensor.fromTrits(n, rows, cols, opts);
      t.quantizer = src.quantizer;
      return t;
    }
    const out = MultiTritTensor.fromIntegers(n, rows, cols, this.depth, { ...opts, quantizer: src.quantizer });
    if (src.columnDepths) out.columnDepths = src.columnDepths.slice();
    if (src.rowDepths) out.rowDepths = src.rowDepths.slice();
    return out;
  }
}
