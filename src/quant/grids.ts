/**
 * grids — the values a multi-trit weight can take, per (row, scale group), for the rounding
 * steps of gptq.ts and refit.ts. A weight is coded by its balanced-ternary integer
 * n = Σ_k t_k·3^k ∈ [−L, L], L = (3^d−1)/2, in both grids:
 *
 *   TryteGrid     value(n) = s·n               (one scale s per row and group; nearest by rounding)
 *   ResidualGrid  value(n) = Σ_k t_k(n)·α_k     (a scale α_k per plane, row and group: 3^d levels
 *                                                that need not be evenly spaced; nearest by binary
 *                                                search in the sorted levels of the row's group)
 *
 * With α_k = s·3^k the two coincide.
 */
import { balancedDigits, tryteMax } from '../tensor/multi-trit-tensor.js';
import { roundToGrid } from './tryte-grid.js';

export interface Grid {
  readonly depth: number;
  /** the code of the level nearest v, for row r, group g (and column c, for per-cell depths) */
  nearest(v: number, r: number, g: number, c?: number): number;
  /** the value of code n at row r, group g */
  value(n: number, r: number, g: number): number;
}

/**
 * Depths below the tensor's depth D for some cells (sub-layer allocation, column-depth.ts):
 *  - `cols[c] = d`: column c keeps only its top d trits, so its codes are multiples of
 *    m = 3^(D−d) in [−L_d·m, L_d·m] (a coarser step s·m on the same scale s; d = 0: always 0);
 *  - `rows[r] = d`: row r keeps its bottom d trits, codes in [−L_d, L_d] on the row's own scale.
 * In both cases value(n) = s·n stays, so the D-plane integers, the refit and the kernels are
 * those of an ordinary tryte; the planes a cell does not use are zero.
 */
export interface CellDepths {
  cols?: Uint8Array;
  rows?: Uint8Array;
}

/** The step multiplier m and level bound L of a cell of depth d in a tensor of depth D. */
export function cellGrid(D: number, d: number, byColumn: boolean): { m: number; L: number } {
  return { m: byColumn ? 3 ** (D - d) : 1, L: tryteMax(d) };
}

export class TryteGrid implements Grid {
  readonly L: number;
  #m: Float64Array | null = null;
  #L: Float64Array | null = null;
  #byRow = false;
  constructor(
    readonly depth: number,
    /** rows × G scales */
    readonly scales: Float64Array,
    readonly G: number,
    cells?: CellDepths,
  ) {
    this.L = tryteMax(depth);
    const map = cells?.cols ?? cells?.rows;
    if (map) {
      this.#byRow = !cells?.cols;
      this.#m = Float64Array.from(map, (d) => cellGrid(depth, d, !this.#byRow).m);
      this.#L = Float64Array.from(map, (d) => cellGrid(depth, d, !this.#byRow).L);
    }
  }
  nearest(v: number, r: number, g: number, c = 0): number {
    const s = this.scales[r * this.G + g]!;
    if (!this.#m) return roundToGrid(v, s, this.L);
    const i = this.#byRow ? r : c;
    const m = this.#m[i]!;
    return m * roundToGrid(v, s * m, this.#L![i]!) + 0;
  }
  value(n: number, r: number, g: number): number {
    return n * this.scales[r * this.G + g]!;
  }
}

/** Digits of every code n ∈ [−L, L] (row n + L), least significant first. */
function digitTable(depth: number): Int8Array {
  const L = tryteMax(depth);
  const t = new Int8Array((2 * L + 1) * depth);
  for (let n = -L; n <= L; n++) t.set(balancedDigits(n, depth), (n + L) * depth);
  return t;
}

export class ResidualGrid implements Grid {
  readonly L: number;
  readonly M: number;
  readonly digits: Int8Array;
  #group = -1;
  #vals: Float64Array;
  #codes: Int32Array;
  constructor(
    readonly depth: number,
    /** rows × G × depth plane scales α */
    readonly alphas: Float64Array,
    readonly rows: number,
    readonly G: number,
  ) {
    this.L = tryteMax(depth);
    this.M = 2 * this.L + 1;
    this.digits = digitTable(depth);
    this.#vals = new Float64Array(rows * this.M);
    this.#codes = new Int32Array(rows * this.M);
  }

  /** The sorted levels of every row for group g (built when the group changes). */
  #prepare(g: number): void {
    if (this.#group === g) return;
    const { M, L, depth } = this;
    const pairs: [number, number][] = new Array(M);
    for (let r = 0; r < this.rows; r++) {
      for (let i = 0; i < M; i++) pairs[i] = [this.value(i - L, r, g), i - L];
      pairs.sort((a, b) => a[0] - b[0] || Math.abs(a[1]) - Math.abs(b[1]));
      for (let i = 0; i < M; i++) {
        this.#vals[r * M + i] = pairs[i]![0];
        this.#codes[r * M + i] = pairs[i]![1];
      }
    }
    this.#group = g;
    void depth;
  }

  nearest(v: number, r: number, g: number): number {
    this.#prepare(g);
    const M = this.M;
    const base = r * M;
    let lo = 0,
      hi = M - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#vals[base + mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    // lo: first level ≥ v; compare with the one below
    if (lo > 0 && v - this.#vals[base + lo - 1]! <= this.#vals[base + lo]! - v) lo--;
    return this.#codes[base + lo]!;
  }

  value(n: number, r: number, g: number): number {
    const d = this.depth;
    const a = (r * this.G + g) * d;
    const o = (n + this.L) * d;
    let v = 0;
    for (let k = 0; k < d; k++) v += this.digits[o + k]! * this.alphas[a + k]!;
    return v;
  }

  /** Forget the prepared levels (after the alphas changed). */
  reset(): void {
    this.#group = -1;
  }
}
