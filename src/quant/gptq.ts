/**
 * gptq — the calibrated, error-compensating quantizer for trytes ("gptq"), after GPTQ
 * (Frantar et al., 2022), on the tryte grid s·[−L, L], L = (3^d−1)/2.
 *
 * Goal: for each row w of W [rows, cols], with calibration inputs X [tokens, cols] and
 * H = XᵀX/tokens, minimise the output error  ‖X(w − ŵ)‖²/tokens = (w − ŵ)ᵀ H (w − ŵ)
 * over ŵ on the grid. Quantizing one column q at a time, the optimal update of the columns not
 * yet quantized (F) to absorb the error of column q is (Optimal Brain Surgeon)
 *
 *   δ_F = −(w_q − ŵ_q)/[H_F⁻¹]_qq · (H_F⁻¹)_{:,q}
 *
 * and with U upper triangular, H⁻¹ = UᵀU (the Cholesky factor of H⁻¹, linalg.ts), processing
 * the columns in order makes every such update a row of U:
 *
 *   e = (w_q − ŵ_q)/U_qq;   w_j −= e·U_qj  for j > q
 *
 * H is dampened first, H += λ·mean(diag H)·I (λ = 0.01), so U exists; columns never activated
 * (H_qq = 0) get H_qq = 1 and weight 0. Updates are lazy: inside a block of B = 128 columns
 * they are applied at once, and the block's errors E [B, rows] update the rest of W in one pass
 * (W_rest −= Eᵀ·U_block,rest), which keeps the working set in cache.
 *
 * Scales: per row, searched on the row before quantization (tryte-grid.ts); with groups, each
 * group's scale is searched when the loop reaches the group, on the weights as updated by then,
 * so the scale sees the error the group has to absorb. `actOrder` takes columns in decreasing
 * H_qq (the most active first); with groups it then fixes every group's scale up front.
 *
 * Refit (default on): with the integers n fixed, the scales are re-solved by least squares on
 * the same objective. For a row with G groups, b_g = n masked to group g, s ∈ R^G:
 *
 *   min_s (w − Σ_g s_g b_g)ᵀ H (w − Σ_g s_g b_g)   ⇒   (BᵀHB) s = BᵀHw
 *
 * with w the original row. It can only lower the objective, and costs about as much as GPTQ.
 */
import { TritwiseError } from '../errors.js';
import { MultiTritTensor, tryteMax } from '../tensor/multi-trit-tensor.js';
import { upperCholInverse } from './linalg.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { cellGrid, ResidualGrid, TryteGrid, type CellDepths, type Grid } from './grids.js';
import { refineCodes, refitGroupScales, refitScales } from './refit.js';
import { checkGroupSize, checkWeights, searchScale, searchScaleCells } from './tryte-grid.js';

export interface GptqOptions {
  /** columns per scale group (multiple of 32); 0 = one scale per row (default 0) */
  groupSize?: number;
  /** dampening λ, as a fraction of mean(diag H) (default 0.01) */
  damp?: number;
  /** columns per lazy-update block (default 128) */
  blockSize?: number;
  /** process columns in decreasing H_qq (default false) */
  actOrder?: boolean;
  /** least-squares scales after rounding (default true) */
  refit?: boolean;
  /** weight the scale search's squared errors by H_qq (default true) */
  weightedSearch?: boolean;
  /** multipliers of the searched scales to try; each row keeps its best (default [1]) */
  scaleCandidates?: number[];
  /** sweeps of coordinate descent on the codes after GPTQ (default 0) */
  refine?: number;
  /**
   * 'tryte' (default): one scale per row/group, plane p worth 3^p of it; 'residual': a free scale
   * per plane, fitted by least squares and alternated with GPTQ passes (`iterations`, default 3)
   */
  grid?: 'tryte' | 'residual';
  iterations?: number;
  /**
   * sub-layer depths (tryte grid only): column c keeps its top columnDepths[c] trits (a coarser
   * step on the same scale), or row r its bottom rowDepths[r] trits; `depth` is the largest
   * (grids.ts CellDepths, column-depth.ts)
   */
  columnDepths?: Uint8Array;
  rowDepths?: Uint8Array;
  name?: string;
}

export interface GptqResult {
  tensor: MultiTritTensor;
  /** relative output error tr((W−Ŵ)H(W−Ŵ)ᵀ)/tr(WHWᵀ) on the calibration statistics */
  relOutputError: number;
}

/** tr(E H Eᵀ) for E = a − b, both row-major [rows, cols]. */
export function outputError(a: ArrayLike<number>, b: ArrayLike<number> | null, rows: number, cols: number, H: Float64Array): number {
  let total = 0;
  const e = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) e[c] = a[r * cols + c]! - (b ? b[r * cols + c]! : 0);
    for (let i = 0; i < cols; i++) {
      if (e[i] === 0) continue;
      let s = 0;
      for (let j = 0; j < cols; j++) s += H[i * cols + j]! * e[j]!;
      total += e[i]! * s;
    }
  }
  return total;
}

/** H with dead columns fixed and λ·mean(diag) added; returns the dead columns too. */
export function dampen(H: Float64Array, cols: number, damp: number): { Hd: Float64Array; dead: Uint8Array } {
  const Hd = H.slice();
  const dead = new Uint8Array(cols);
  let mean = 0;
  for (let i = 0; i < cols; i++) {
    if (!(Hd[i * cols + i]! > 0)) {
      dead[i] = 1;
      Hd[i * cols + i] = 1;
    }
    mean += Hd[i * cols + i]!;
  }
  mean /= Math.max(cols, 1);
  for (let i = 0; i < cols; i++) Hd[i * cols + i]! += damp * mean;
  return { Hd, dead };
}

/** U with H⁻¹ = UᵀU, dampening harder (×10) until H is numerically positive definite. */
export function gptqFactor(H: Float64Array, cols: number, damp: number, where: string): { U: Float64Array; dead: Uint8Array } {
  for (let lam = damp, i = 0; i < 6; i++, lam *= 10) {
    const { Hd, dead } = dampen(H, cols, lam);
    const U = upperCholInverse(Hd, cols);
    if (U) return { U, dead };
  }
  throw new TritwiseError('E_ARG', 'calibration Hessian is not positive definite even after dampening', { where, expected: 'finite activations', got: 'a singular or non-finite H' });
}

/** The column order, the factor U of the (permuted, dampened) H⁻¹, and the dead columns. */
interface Factor {
  perm: number[];
  inv: Int32Array;
  U: Float64Array;
  dead: Uint8Array;
}

function factorize(H: Float64Array, cols: number, actOrder: boolean, damp: number, where: string): Factor {
  const perm = Array.from({ length: cols }, (_, i) => i);
  if (actOrder) perm.sort((a, b) => H[b * cols + b]! - H[a * cols + a]! || a - b);
  const inv = new Int32Array(cols);
  perm.forEach((c, q) => (inv[c] = q));
  const Hp = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) Hp[i * cols + j] = H[perm[i]! * cols + perm[j]!]!;
  return { perm, inv, ...gptqFactor(Hp, cols, damp, where) };
}

/**
 * How much a rounding error in each column costs after gptq's compensation: column q (in pass
 * order) adds (w_q − ŵ_q)²/[H_F⁻¹]_qq = (w_q − ŵ_q)²/U_qq² to the row's output error, F being the
 * columns not yet quantized. So the saliency of a column is 1/U_qq², H_qq's share that the later
 * columns cannot absorb: the last column keeps all of H_qq, an early column that the others
 * predict well almost none. Returned in original column order (dead columns: 0).
 */
export function gptqSaliency(H: Float64Array, cols: number, opts: { actOrder?: boolean; damp?: number } = {}): Float64Array {
  const f = factorize(H, cols, opts.actOrder ?? false, opts.damp ?? 0.01, 'saliency');
  const out = new Float64Array(cols);
  for (let q = 0; q < cols; q++) {
    const c = f.perm[q]!;
    const u = f.U[q * cols + q]!;
    out[c] = f.dead[q] ? 0 : 1 / (u * u);
  }
  return out;
}

interface PassSpec {
  rows: number;
  cols: number;
  gs: number;
  G: number;
  B: number;
  /**
   * called when the pass reaches group g for the first time, with the current (updated) weights
   * of that group: a tryte grid searches its scales there
   */
  onGroup?: (g: number, wt: (r: number, c: number) => number) => void;
}

/** One GPTQ pass over the columns: the code n of every weight. */
function gptqPass(w: Float32Array, f: Factor, p: PassSpec, grid: Grid): Int32Array {
  const { rows, cols, gs, B } = p;
  const { perm, inv, U, dead } = f;
  // W transposed and permuted: column q (original column perm[q]) is WT[q·rows .. +rows)
  const WT = new Float64Array(cols * rows);
  for (let q = 0; q < cols; q++) {
    if (dead[q]) continue;
    for (let r = 0; r < rows; r++) WT[q * rows + r] = w[r * cols + perm[q]!]!;
  }
  const seen = new Uint8Array(p.G);
  const n = new Int32Array(rows * cols);
  const E = new Float64Array(B * rows);
  for (let q1 = 0; q1 < cols; q1 += B) {
    const q2 = Math.min(cols, q1 + B);
    for (let q = q1; q < q2; q++) {
      const c = perm[q]!;
      const g = gs ? Math.floor(c / gs) : 0;
      if (!seen[g]) {
        p.onGroup?.(g, (r, cc) => WT[inv[cc]! * rows + r]!);
        seen[g] = 1;
      }
      const d = U[q * cols + q]!;
      const col = q * rows;
      const e = (q - q1) * rows;
      for (let r = 0; r < rows; r++) {
        const v = WT[col + r]!;
        const k = grid.nearest(v, r, g, c);
        n[r * cols + c] = k;
        E[e + r] = (v - grid.value(k, r, g)) / d;
      }
      // update the rest of the block now
      for (let j = q + 1; j < q2; j++) {
        const u = U[q * cols + j]!;
        if (u === 0) continue;
        const cj = j * rows;
        for (let r = 0; r < rows; r++) WT[cj + r]! -= E[e + r]! * u;
      }
    }
    // lazy update of the columns after the block
    for (let j = q2; j < cols; j++) {
      const cj = j * rows;
      for (let q = q1; q < q2; q++) {
        const u = U[q * cols + j]!;
        if (u === 0) continue;
        const e = (q - q1) * rows;
        for (let r = 0; r < rows; r++) WT[cj + r]! -= E[e + r]! * u;
      }
    }
  }
  return n;
}

/** (w − ŵ)ᵀH(w − ŵ) of row r for codes n on a grid. */
export function rowError(w: ArrayLike<number>, n: Int32Array, grid: Grid, r: number, cols: number, gs: number, H: Float64Array, e: Float64Array): number {
  for (let c = 0; c < cols; c++) e[c] = w[r * cols + c]! - grid.value(n[r * cols + c]!, r, gs ? Math.floor(c / gs) : 0);
  let t = 0;
  for (let i = 0; i < cols; i++) {
    if (e[i] === 0) continue;
    let s = 0;
    for (let j = 0; j < cols; j++) s += H[i * cols + j]! * e[j]!;
    t += e[i]! * s;
  }
  return t;
}

/** Options used by quantization plans (quantize-model.ts). */
export const GPTQ_DEFAULTS: GptqOptions = { scaleCandidates: [0.85, 0.9, 0.95, 1, 1.05, 1.1], refine: 4, refit: true, iterations: 3 };

export function quantizeGptq(w: Float32Array, rows: number, cols: number, depth: number, H: Float64Array, opts: GptqOptions = {}): GptqResult {
  const name = opts.name ?? 'weights';
  checkWeights(w, rows, cols, name);
  if (H.length !== cols * cols) throw new TritwiseError('E_SHAPE', 'Hessian does not match the input width', { where: name, expected: `${cols}×${cols}`, got: H.length });
  const gs = opts.groupSize ?? 0;
  checkGroupSize(gs, `${name}: groupSize`);
  const L = tryteMax(depth);
  const G = gs ? Math.ceil(cols / gs) : 1;
  const seg = gs || cols;
  const residual = (opts.grid ?? 'tryte') === 'residual' && depth > 1;
  const cells = checkCells(opts, rows, cols, depth, residual, name);
  const cellMap = cells?.cols ?? cells?.rows;
  const byCol = !!cells?.cols;
  const cellM = cellMap ? Float64Array.from(cellMap, (d) => cellGrid(depth, d, byCol).m) : null;
  const cellL = cellMap ? Float64Array.from(cellMap, (d) => cellGrid(depth, d, byCol).L) : null;
  const tmpM = new Float64Array(gs || cols);
  const tmpL = new Float64Array(gs || cols);
  const actOrder = (opts.actOrder ?? false) && !residual;
  const f = factorize(H, cols, actOrder, opts.damp ?? 0.01, name);
  const diagH = Float64Array.from({ length: cols }, (_, c) => H[c * cols + c]!);
  const weights = (opts.weightedSearch ?? true) ? diagH : null;
  const spec: PassSpec = { rows, cols, gs, G, B: opts.blockSize ?? 128 };
  const tmpW = new Float64Array(seg);
  const tmpH = new Float64Array(seg);
  /** searched tryte scales of group g for every row, from the weights read by `at` */
  const search = (scales: Float64Array, g: number, mult: number, at: (r: number, c: number) => number) => {
    const c0 = g * seg,
      c1 = Math.min(cols, c0 + seg);
    for (let r = 0; r < rows; r++) {
      for (let c = c0; c < c1; c++) {
        tmpW[c - c0] = at(r, c);
        if (weights) tmpH[c - c0] = weights[c]!;
        if (byCol) {
          tmpM[c - c0] = cellM![c]!;
          tmpL[c - c0] = cellL![c]!;
        }
      }
      const found = byCol ? searchScaleCells(tmpW, 0, c1 - c0, L, weights ? tmpH : null, tmpM, tmpL) : searchScale(tmpW, 0, c1 - c0, cellL ? cellL[r]! : L, weights ? tmpH : null);
      scales[r * G + g] = Math.fround(mult * found);
    }
  };
  const original = (r: number, c: number) => w[r * cols + c]!;
  const e = new Float64Array(cols);

  // 1. tryte passes, one per scale candidate; each row keeps the pass with its smallest error
  let best: { n: Int32Array; scales: Float64Array } | null = null;
  let bestErr: Float64Array | null = null;
  for (const m of opts.scaleCandidates ?? [1]) {
    const scales = new Float64Array(rows * G);
    // per-row scales (or act-order groups) are fixed before the pass, from the original weights;
    // groups in column order are searched when the pass reaches them, on the updated weights
    const upfront = !gs || actOrder;
    if (upfront) for (let g = 0; g < G; g++) search(scales, g, m, original);
    const grid = new TryteGrid(depth, scales, G, cells);
    const n = gptqPass(w, f, { ...spec, onGroup: upfront ? undefined : (g, at) => search(scales, g, m, at) }, grid);
    const errs = Float64Array.from({ length: rows }, (_, r) => rowError(w, n, grid, r, cols, gs, H, e));
    if (!best || !bestErr) {
      best = { n, scales };
      bestErr = errs;
      continue;
    }
    for (let r = 0; r < rows; r++) {
      if (errs[r]! >= bestErr[r]!) continue;
      bestErr[r] = errs[r]!;
      best.n.set(n.subarray(r * cols, (r + 1) * cols), r * cols);
      best.scales.set(scales.subarray(r * G, (r + 1) * G), r * G);
    }
  }
  const n = best!.n;
  let scales: Float32Array = Float32Array.from(best!.scales);
  const refit = opts.refit ?? true;
  if (refit) scales = refitGroupScales(n, w, rows, cols, H, gs, scales);
  for (let it = 0; it < (opts.refine ?? 0); it++) {
    if (refineCodes(n, new TryteGrid(depth, Float64Array.from(scales), G, cells), w, rows, cols, H, gs) === 0) break;
    if (refit) scales = refitGroupScales(n, w, rows, cols, H, gs, scales);
  }
  let tensor = MultiTritTensor.fromIntegers(n, rows, cols, depth, gs ? { groupSize: gs, groupScales: scales, quantizer: 'gptq' } : { scales, quantizer: 'gptq' });
  if (cells?.cols) tensor.columnDepths = cells.cols.slice();
  if (cells?.rows) tensor.rowDepths = cells.rows.slice();

  // 2. residual grid: free plane scales, alternating least-squares scales and GPTQ passes
  if (residual) {
    const alphas = new Float64Array(rows * G * depth);
    for (let i = 0; i < rows * G; i++) for (let k = 0; k < depth; k++) alphas[i * depth + k] = scales[i]! * 3 ** k;
    let grid = new ResidualGrid(depth, alphas, rows, G);
    let err = Float64Array.from({ length: rows }, (_, r) => rowError(w, n, grid, r, cols, gs, H, e));
    for (let it = 0; it < (opts.iterations ?? 3); it++) {
      const next = new ResidualGrid(depth, refitPlanes(n, grid, w, rows, cols, H, gs), rows, G);
      const n2 = gptqPass(w, f, spec, next);
      for (let k = 0; k < (opts.refine ?? 0); k++) if (refineCodes(n2, next, w, rows, cols, H, gs) === 0) break;
      const fitted = new ResidualGrid(depth, refitPlanes(n2, next, w, rows, cols, H, gs), rows, G);
      let improved = false;
      for (let r = 0; r < rows; r++) {
        const er = rowError(w, n2, fitted, r, cols, gs, H, e);
        if (!(er < err[r]!)) continue;
        improved = true;
        err[r] = er;
        n.set(n2.subarray(r * cols, (r + 1) * cols), r * cols);
        grid.alphas.set(fitted.alphas.subarray(r * G * depth, (r + 1) * G * depth), r * G * depth);
      }
      grid.reset();
      if (!improved) break;
    }
    tensor = residualTensor(n, grid, rows, cols, gs);
  }
  const base = outputError(w, null, rows, cols, H);
  const err = outputError(w, tensor.toDense(), rows, cols, H);
  return { tensor, relOutputError: base > 0 ? err / base : 0 };
}

/** The validated per-cell depths of the options, or undefined. */
function checkCells(opts: GptqOptions, rows: number, cols: number, depth: number, residual: boolean, name: string): CellDepths | undefined {
  const { columnDepths: cd, rowDepths: rd } = opts;
  if (!cd && !rd) return undefined;
  if (cd && rd) throw new TritwiseError('E_ARG', 'give column depths or row depths, not both', { where: name, got: 'both' });
  if (residual) throw new TritwiseError('E_UNSUPPORTED', 'per-column or per-row depths need the tryte grid', { where: name, expected: "grid 'tryte' (quantizer gptq)", got: 'residual' });
  const map = (cd ?? rd)!;
  const want = cd ? cols : rows;
  if (map.length !== want) throw new TritwiseError('E_SHAPE', `${cd ? 'column' : 'row'} depth map does not match the layer`, { where: name, expected: `${want} depths`, got: map.length });
  for (let i = 0; i < map.length; i++) {
    if (!(map[i]! <= depth && (cd || map[i]! >= 1))) throw new TritwiseError('E_ARG', 'a cell depth exceeds the layer depth', { where: `${name}: ${cd ? 'column' : 'row'} ${i}`, expected: `${cd ? 0 : 1}..${depth}`, got: map[i] });
  }
  return cd ? { cols: cd } : { rows: rd! };
}

/** Least-squares plane scales for fixed codes: one basis per plane (its trits), per group. */
function refitPlanes(n: Int32Array, grid: ResidualGrid, w: Float32Array, rows: number, cols: number, H: Float64Array, gs: number): Float64Array {
  const d = grid.depth;
  const G = grid.G;
  const bases = Array.from({ length: d }, () => new Int8Array(rows * cols));
  for (let i = 0; i < rows * cols; i++) {
    const o = (n[i]! + grid.L) * d;
    for (let k = 0; k < d; k++) bases[k]![i] = grid.digits[o + k]!;
  }
  const init = Array.from({ length: d }, (_, k) => Float32Array.from({ length: rows * G }, (_, i) => grid.alphas[i * d + k]!));
  const fit = refitScales(bases, w, rows, cols, H, gs, init);
  const out = new Float64Array(rows * G * d);
  for (let i = 0; i < rows * G; i++) for (let k = 0; k < d; k++) out[i * d + k] = fit[k]![i]!;
  return out;
}

/** The residual-form tensor of codes on a residual grid: plane k has the scales α_k. */
function residualTensor(n: Int32Array, grid: ResidualGrid, rows: number, cols: number, gs: number): MultiTritTensor {
  const d = grid.depth;
  const G = grid.G;
  const planes: TernaryTensor[] = [];
  for (let k = 0; k < d; k++) {
    const trits = new Int8Array(rows * cols);
    for (let i = 0; i < rows * cols; i++) trits[i] = grid.digits[(n[i]! + grid.L) * d + k]!;
    const a = Float32Array.from({ length: rows * G }, (_, i) => grid.alphas[i * d + k]!);
    planes.push(gs ? TernaryTensor.fromTrits(trits, rows, cols, { groupSize: gs, groupScales: a }) : TernaryTensor.fromTrits(trits, rows, cols, { scales: a }));
  }
  return new MultiTritTensor(planes, { quantizer: 'gptq-residual' });
}
