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
import { refineCodes, refitGroupScales } from './refit.js';
import { checkGroupSize, checkWeights, roundToGrid, searchScale } from './tryte-grid.js';

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

interface PassSpec {
  rows: number;
  cols: number;
  L: number;
  gs: number;
  G: number;
  B: number;
  /** squared-error weights of the scale search (diag H), or null */
  searchWeights: Float64Array | null;
  /** fixed scales (rows × G); groups without one are searched when the pass reaches them */
  fixed: Float64Array | null;
  /** multiplier of searched scales */
  mult: number;
}

/** One GPTQ pass: the integers n and the scales used. */
function gptqPass(w: Float32Array, f: Factor, p: PassSpec): { n: Int32Array; scales: Float64Array } {
  const { rows, cols, L, gs, G, B } = p;
  const { perm, inv, U, dead } = f;
  // W transposed and permuted: column q (original column perm[q]) is WT[q·rows .. +rows)
  const WT = new Float64Array(cols * rows);
  for (let q = 0; q < cols; q++) {
    if (dead[q]) continue;
    for (let r = 0; r < rows; r++) WT[q * rows + r] = w[r * cols + perm[q]!]!;
  }
  const scales = p.fixed ? p.fixed.slice() : new Float64Array(rows * G);
  const haveScale = new Uint8Array(G).fill(p.fixed ? 1 : 0);
  const seg = gs || cols;
  const tmpW = new Float64Array(seg);
  const tmpH = new Float64Array(seg);
  const searchGroup = (g: number) => {
    const c0 = g * seg,
      c1 = Math.min(cols, c0 + seg);
    for (let r = 0; r < rows; r++) {
      for (let c = c0; c < c1; c++) {
        tmpW[c - c0] = WT[inv[c]! * rows + r]!;
        if (p.searchWeights) tmpH[c - c0] = p.searchWeights[c]!;
      }
      scales[r * G + g] = Math.fround(p.mult * searchScale(tmpW, 0, c1 - c0, L, p.searchWeights ? tmpH : null));
    }
    haveScale[g] = 1;
  };
  const n = new Int32Array(rows * cols);
  const E = new Float64Array(B * rows);
  for (let q1 = 0; q1 < cols; q1 += B) {
    const q2 = Math.min(cols, q1 + B);
    for (let q = q1; q < q2; q++) {
      const c = perm[q]!;
      const g = gs ? Math.floor(c / gs) : 0;
      if (!haveScale[g]) searchGroup(g);
      const d = U[q * cols + q]!;
      const col = q * rows;
      const e = (q - q1) * rows;
      for (let r = 0; r < rows; r++) {
        const v = WT[col + r]!;
        const s = scales[r * G + g]!;
        const k = roundToGrid(v, s, L);
        n[r * cols + c] = k;
        E[e + r] = (v - s * k) / d;
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
  return { n, scales };
}

/** (w − ŵ)ᵀH(w − ŵ) of row r, ŵ = n·scale per group. */
function rowError(w: ArrayLike<number>, n: Int32Array, scales: ArrayLike<number>, r: number, cols: number, gs: number, G: number, H: Float64Array, e: Float64Array): number {
  for (let c = 0; c < cols; c++) e[c] = w[r * cols + c]! - n[r * cols + c]! * scales[r * G + (gs ? Math.floor(c / gs) : 0)]!;
  let t = 0;
  for (let i = 0; i < cols; i++) {
    if (e[i] === 0) continue;
    let s = 0;
    for (let j = 0; j < cols; j++) s += H[i * cols + j]! * e[j]!;
    t += e[i]! * s;
  }
  return t;
}

export function quantizeGptq(w: Float32Array, rows: number, cols: number, depth: number, H: Float64Array, opts: GptqOptions = {}): GptqResult {
  const name = opts.name ?? 'weights';
  checkWeights(w, rows, cols, name);
  if (H.length !== cols * cols) throw new TritwiseError('E_SHAPE', 'Hessian does not match the input width', { where: name, expected: `${cols}×${cols}`, got: H.length });
  const gs = opts.groupSize ?? 0;
  checkGroupSize(gs, `${name}: groupSize`);
  const L = tryteMax(depth);
  const G = gs ? Math.ceil(cols / gs) : 1;
  const f = factorize(H, cols, opts.actOrder ?? false, opts.damp ?? 0.01, name);
  const diagH = Float64Array.from({ length: cols }, (_, c) => H[c * cols + c]!);
  const spec: PassSpec = { rows, cols, L, gs, G, B: opts.blockSize ?? 128, searchWeights: (opts.weightedSearch ?? true) ? diagH : null, fixed: null, mult: 1 };
  if (opts.actOrder && gs) {
    // groups are visited out of order: fix their scales up front from the original weights
    spec.fixed = new Float64Array(rows * G);
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < G; g++) spec.fixed[r * G + g] = Math.fround(searchScale(w, r * cols + g * gs, r * cols + Math.min(cols, (g + 1) * gs), L, null));
  }
  // scale candidates: each row keeps the pass whose result has the smallest output error
  const mults = opts.scaleCandidates ?? [1];
  let best: { n: Int32Array; scales: Float64Array } | null = null;
  let bestErr: Float64Array | null = null;
  const e = new Float64Array(cols);
  for (const m of mults) {
    const fixed = spec.fixed;
    const pass = gptqPass(w, f, { ...spec, mult: m, fixed: fixed ? fixed.map((v) => Math.fround(v * m)) : null });
    const errs = Float64Array.from({ length: rows }, (_, r) => rowError(w, pass.n, pass.scales, r, cols, gs, G, H, e));
    if (!best || !bestErr) {
      best = pass;
      bestErr = errs;
      continue;
    }
    for (let r = 0; r < rows; r++) {
      if (errs[r]! < bestErr[r]!) {
        bestErr[r] = errs[r]!;
        best.n.set(pass.n.subarray(r * cols, (r + 1) * cols), r * cols);
        best.scales.set(pass.scales.subarray(r * G, (r + 1) * G), r * G);
      }
    }
  }
  const n = best!.n;
  let groupScales: Float32Array = Float32Array.from(best!.scales);
  if (opts.refit ?? true) groupScales = refitGroupScales(n, w, rows, cols, H, gs, groupScales);
  for (let it = 0; it < (opts.refine ?? 0); it++) {
    if (refineCodes(n, groupScales, w, rows, cols, H, gs, L) === 0) break;
    if (opts.refit ?? true) groupScales = refitGroupScales(n, w, rows, cols, H, gs, groupScales);
  }
  const tensor = MultiTritTensor.fromIntegers(n, rows, cols, depth, gs ? { groupSize: gs, groupScales, quantizer: 'gptq' } : { scales: groupScales, quantizer: 'gptq' });
  const base = outputError(w, null, rows, cols, H);
  const err = outputError(w, tensor.toDense(), rows, cols, H);
  return { tensor, relOutputError: base > 0 ? err / base : 0 };
}
