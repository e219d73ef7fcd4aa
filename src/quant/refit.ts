/**
 * refit — least-squares scales for fixed integer codes, on the calibration objective.
 *
 * A row is approximated as ŵ = Σ_j s_j·b_j over basis vectors b_j: for a tryte, one per scale
 * group (the integers n masked to the group); for the residual form, one per (plane, group)
 * (the plane's trits masked to the group). With H = XᵀX/tokens the output error of the row is
 * (w − Bs)ᵀH(w − Bs), minimised by
 *
 *   (BᵀHB)·s = BᵀH·w
 *
 * a J×J system per row (J = bases × groups). Bases that are all zero in a group are left out
 * (their scale is kept). Cost per row: one H·(basis restricted to a group) per basis, i.e. about
 * bases·cols² multiply-adds.
 */
import type { Grid } from './grids.js';
import { solveSpd } from './linalg.js';

/**
 * New scales for each basis (rows × G each, G = groups per row, 1 without groups), starting
 * from `init` (kept where a basis is empty or the solution is not finite).
 */
export function refitScales(bases: readonly ArrayLike<number>[], w: ArrayLike<number>, rows: number, cols: number, H: Float64Array, groupSize: number, init: readonly Float32Array[]): Float32Array[] {
  const G = groupSize ? Math.ceil(cols / groupSize) : 1;
  const seg = groupSize || cols;
  const out = init.map((s) => s.slice());
  const nb = bases.length;
  const hw = new Float64Array(cols);
  // P[(j)·cols + i] = Σ_{c ∈ group of j} H[i,c]·basis_j[c]: H times each restricted basis
  for (let r = 0; r < rows; r++) {
    const live: { k: number; g: number }[] = [];
    for (let k = 0; k < nb; k++) {
      for (let g = 0; g < G; g++) {
        let any = false;
        for (let c = g * seg; c < Math.min(cols, (g + 1) * seg) && !any; c++) any = bases[k]![r * cols + c] !== 0;
        if (any) live.push({ k, g });
      }
    }
    const J = live.length;
    if (J === 0) continue;
    const P = new Float64Array(J * cols);
    live.forEach(({ k, g }, j) => {
      const b = bases[k]!;
      for (let c = g * seg; c < Math.min(cols, (g + 1) * seg); c++) {
        const v = b[r * cols + c]!;
        if (v === 0) continue;
        for (let i = 0; i < cols; i++) P[j * cols + i]! += H[i * cols + c]! * v;
      }
    });
    for (let i = 0; i < cols; i++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += H[i * cols + c]! * w[r * cols + c]!;
      hw[i] = s;
    }
    const M = new Float64Array(J * J);
    const v = new Float64Array(J);
    live.forEach(({ k, g }, a) => {
      const b = bases[k]!;
      for (let c = g * seg; c < Math.min(cols, (g + 1) * seg); c++) {
        const x = b[r * cols + c]!;
        if (x === 0) continue;
        v[a]! += x * hw[c]!;
        for (let j = 0; j < J; j++) M[a * J + j]! += x * P[j * cols + c]!;
      }
    });
    let s: Float64Array;
    try {
      s = solveSpd(M, v, J);
    } catch {
      continue;
    }
    if (!s.every(Number.isFinite)) continue;
    live.forEach(({ k, g }, j) => (out[k]![r * G + g] = Math.fround(s[j]!)));
  }
  return out;
}

/** refitScales for a tryte: one basis (the integers), scales rows × G. */
export function refitGroupScales(n: Int32Array, w: ArrayLike<number>, rows: number, cols: number, H: Float64Array, groupSize: number, init: Float32Array): Float32Array {
  return refitScales([n], w, rows, cols, H, groupSize, [init])[0]!;
}

/**
 * Coordinate descent on the codes for the objective (w − ŵ)ᵀH(w − ŵ), grid fixed: with the
 * gradient g = H·e (e = w − ŵ), moving ŵ_c by δ changes the objective by −2δ·g_c + δ²·H_cc, so
 * the best real move is δ* = g_c/H_cc; the code moves to the level nearest ŵ_c + δ* when that
 * lowers the objective, and g is updated by −δ·H[:,c]. One sweep visits every element once;
 * returns how many codes changed.
 */
export function refineCodes(n: Int32Array, grid: Grid, w: ArrayLike<number>, rows: number, cols: number, H: Float64Array, groupSize: number): number {
  const e = new Float64Array(cols);
  const g = new Float64Array(cols);
  const grp = (c: number) => (groupSize ? Math.floor(c / groupSize) : 0);
  let changed = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) e[c] = w[r * cols + c]! - grid.value(n[r * cols + c]!, r, grp(c));
    for (let i = 0; i < cols; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += H[i * cols + j]! * e[j]!;
      g[i] = s;
    }
    for (let c = 0; c < cols; c++) {
      const hcc = H[c * cols + c]!;
      if (!(hcc > 0)) continue;
      const cur = n[r * cols + c]!;
      const v = grid.value(cur, r, grp(c));
      const k = grid.nearest(v + g[c]! / hcc, r, grp(c), c);
      if (k === cur) continue;
      const delta = grid.value(k, r, grp(c)) - v;
      const gain = 2 * delta * g[c]! - delta * delta * hcc;
      if (!(gain > 0)) continue;
      n[r * cols + c] = k;
      e[c]! -= delta;
      for (let i = 0; i < cols; i++) g[i]! -= delta * H[i * cols + c]!;
      changed++;
    }
  }
  return changed;
}
