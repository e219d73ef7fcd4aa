/**
 * column-depth — sub-layer depth allocation (`tritwise quantize --auto-bits b --granularity
 * column`): every input column of every gptq layer gets its own depth d_c ∈ [min, max], chosen by
 * saliency under one bit budget over the whole model, written as the plan's `columnDepths`.
 *
 * The layer keeps D = max_c d_c planes; column c uses its top d_c trits, a step s·3^(D − d_c) on
 * the layer's (row, group) scale s (grids.ts CellDepths), so the kernels run an ordinary D-trit
 * tryte whose unused planes are zero, and storage keeps only the kept trits (cell-trytes.ts).
 *
 * Cost model, per layer ℓ with f32 Hessian H (hessian.ts) and gptq column order (act-order or not):
 *   ω_c = 1/U_cc²   (gptq.ts gptqSaliency: what a rounding error of column c still costs after
 *                    gptq's compensation by the columns after it)
 *   e_c(d) = ω_c·Σ_r (w_rc − q_d(w_rc))²   (q_d: round to step s·3^(max − d), ±(3^d − 1)/2, with s
 *                    the H-weighted searched scale of the max-trit tryte of the row's group)
 *   κ_ℓ = (s_ℓ(1) − s_ℓ(2)) / (E_ℓ(1) − E_ℓ(2)),  E_ℓ(d) = Σ_c e_c(d)
 * s_ℓ(d) being auto-depth.ts's measured NLL increase with layer ℓ alone at depth d, so κ turns a
 * layer's output error into NLL. Greedy (a max-heap of each column's best next step, looking ahead
 * over every deeper depth): take the step with the most κ_ℓ·Δe per added trit while
 *   1.6·Σ_ℓ rows_ℓ·Σ_c d_c + mapBits ≤ b·N,   mapBits = ⌈log2(max + 1)⌉ per column per layer
 * (the depth map, as the file stores it, cell-trytes.ts, is counted in the budget; the result
 * reports the map bits of the layers that do get a map).
 */
import type { Backend } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import { tryteMax } from '../tensor/multi-trit-tensor.js';
import { mapBitsPerEntry } from '../tensor/cell-trytes.js';
import { BITS_PER_TRIT, type LayerSensitivity } from './auto-depth.js';
import { gptqSaliency } from './gptq.js';
import { collectHessians, inputSite } from './hessian.js';
import type { LayerRule, QuantPlan } from './plan.js';
import { targetSource } from './quantize-model.js';
import { roundToGrid, searchScale } from './tryte-grid.js';

export interface ColumnDepthOptions {
  /** average stored bits per weight, depth maps included */
  bits: number;
  /** calibration tokens (no BOS) for the Hessians */
  tokens: readonly number[];
  bos: number;
  ctx?: number;
  /** shallowest and deepest column (default 1 and 3) */
  min?: number;
  max?: number;
  /**
   * columns that share one depth (default 1); 32 makes every 32-column word of a plane either
   * fully used or all zero, which the kernels' chunk bitmaps skip
   */
  unit?: number;
}

export interface ColumnDepthResult {
  plan: QuantPlan;
  /** trit bits per weight (1.6 per kept trit), the stored depth maps' bits per weight, and their sum (≤ the budget) */
  tritBits: number;
  mapBits: number;
  bits: number;
  /** weights at each depth 0..max */
  weightsAtDepth: number[];
}

/** e_c(d), d = 0..max, of every column of one layer (columns × (max + 1), row-major). */
export function columnErrors(w: ArrayLike<number>, rows: number, cols: number, H: Float64Array, groupSize: number, max: number, actOrder: boolean): Float64Array {
  const om = gptqSaliency(H, cols, { actOrder });
  const h = Float64Array.from({ length: cols }, (_, c) => H[c * cols + c]!);
  const seg = groupSize || cols;
  const e = new Float64Array(cols * (max + 1));
  const row = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) row[c] = w[r * cols + c]!;
    for (let c0 = 0; c0 < cols; c0 += seg) {
      const c1 = Math.min(cols, c0 + seg);
      const s = searchScale(row.subarray(c0, c1), 0, c1 - c0, tryteMax(max), h.subarray(c0, c1));
      for (let c = c0; c < c1; c++) {
        const x = row[c]!;
        for (let d = 0; d <= max; d++) {
          const m = s * 3 ** (max - d);
          const q = d === 0 ? 0 : m * roundToGrid(x, m, tryteMax(d));
          e[c * (max + 1) + d]! += om[c]! * (x - q) ** 2;
        }
      }
    }
  }
  return e;
}

interface Unit {
  layer: number;
  /** first column and how many */
  col: number;
  width: number;
  size: number;
  d: number;
}

/** Choose the column depths of every layer in `layers` (auto-depth's measured sensitivities). */
export async function allocateColumnDepths(config: LlamaConfig, weights: Map<string, StoredTensor>, backend: Backend, layers: readonly LayerSensitivity[], base: QuantPlan, opts: ColumnDepthOptions): Promise<ColumnDepthResult> {
  const min = opts.min ?? 1;
  const max = opts.max ?? 3;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min >= 0 && max >= Math.max(1, min) && max <= 6)) throw new TritwiseError('E_ARG', 'invalid column depth range', { where: 'column depths', expected: '0 ≤ min ≤ max ≤ 6, max ≥ 1', got: `${min}..${max}` });
  const names = layers.map((l) => l.name);
  const hs = await collectHessians(config, weights, backend, opts.tokens, { ctx: opts.ctx ?? Math.min(256, config.seqLen), bos: opts.bos, names });
  const actOrder = base.calibration?.actOrder ?? false;
  const gs = base.groupSize ?? 0;
  const D1 = max + 1;
  const unit = opts.unit ?? 1;
  if (!(Number.isInteger(unit) && unit >= 1)) throw new TritwiseError('E_ARG', 'invalid column unit', { where: 'column depths', expected: 'a positive integer', got: unit });
  const errs: Float64Array[] = [];
  const kappa: number[] = [];
  const shapes: [number, number][] = [];
  const units: Unit[] = [];
  layers.forEach((l, li) => {
    const src = targetSource(config, weights, l.name);
    if (!('shape' in src)) throw new TritwiseError('E_UNSUPPORTED', 'column depths need f32 weights', { where: l.name, expected: 'an f32 layer', got: 'already ternary' });
    const [rows, cols] = src.shape as [number, number];
    const H = hs.get(inputSite(l.name))?.h;
    if (!H) throw new TritwiseError('E_INVARIANT', 'no Hessian for a layer', { where: l.name });
    const e = columnErrors(src.data, rows, cols, H, gs, max, actOrder);
    let e1 = 0,
      e2 = 0;
    for (let c = 0; c < cols; c++) {
      e1 += e[c * D1 + 1]!;
      e2 += e[c * D1 + Math.min(2, max)]!;
    }
    const ds = l.sensitivity[0]! - l.sensitivity[Math.min(2, max) - 1]!;
    kappa.push(Math.max(1e-12, ds) / Math.max(1e-30, e1 - e2));
    errs.push(e);
    shapes.push([rows, cols]);
    // a unit's error is the sum over its columns (stored in its first column's slot)
    for (let c0 = 0; c0 < cols; c0 += unit) {
      const width = Math.min(unit, cols - c0);
      for (let c = c0 + 1; c < c0 + width; c++) for (let d = 0; d <= max; d++) e[c0 * D1 + d]! += e[c * D1 + d]!;
      units.push({ layer: li, col: c0, width, size: rows * width, d: min });
    }
  });
  const N = shapes.reduce((a, [r, c]) => a + r * c, 0);
  const mapPer = mapBitsPerEntry(max);
  const mapBits = mapPer * shapes.reduce((a, [, c]) => a + c, 0);
  const budget = (opts.bits * N - mapBits) / BITS_PER_TRIT;
  let trits = units.reduce((a, u) => a + u.size * u.d, 0);
  if (trits > budget + 1e-9) throw new TritwiseError('E_ARG', 'bit budget below the shallowest columns', { where: 'auto bits (column granularity)', expected: `≥ ${((BITS_PER_TRIT * trits + mapBits) / N).toFixed(3)} bits per weight`, got: opts.bits });
  // the best next step of a unit that fits the budget: [ratio, depth] or null
  const best = (u: Unit): [number, number] | null => {
    const e = errs[u.layer]!;
    const k = kappa[u.layer]!;
    let out: [number, number] | null = null;
    for (let d = u.d + 1; d <= max; d++) {
      const extra = u.size * (d - u.d);
      if (trits + extra > budget + 1e-9) break;
      const r = (k * (e[u.col * D1 + u.d]! - e[u.col * D1 + d]!)) / extra;
      if (r > 0 && (!out || r > out[0])) out = [r, d];
    }
    return out;
  };
  const heap = new MaxHeap();
  units.forEach((u, i) => {
    const b = best(u);
    if (b) heap.push(b[0], i);
  });
  while (heap.size) {
    const [ratio, i] = heap.pop();
    const u = units[i]!;
    const b = best(u);
    if (!b) continue;
    if (b[0] < ratio - 1e-15 * Math.abs(ratio)) {
      heap.push(b[0], i); // the budget left removed its better step: re-queue at the new ratio
      continue;
    }
    trits += u.size * (b[1] - u.d);
    u.d = b[1];
    const nb = best(u);
    if (nb) heap.push(nb[0], i);
  }
  const weightsAtDepth = new Array<number>(max + 1).fill(0);
  let storedMapBits = 0;
  const rules: LayerRule[] = layers.map((l, li) => {
    const ds = units.filter((u) => u.layer === li).flatMap((u) => new Array<number>(u.width).fill(u.d));
    for (const d of ds) weightsAtDepth[d]! += shapes[li]![0];
    const top = Math.max(...ds);
    if (top > 0 && ds.every((d) => d === top)) return { match: l.name, depth: top };
    storedMapBits += ds.length * mapBitsPerEntry(Math.max(1, top));
    return { match: l.name, depth: Math.max(1, top), columnDepths: ds.join('') };
  });
  const { depth: _d, ...rest } = base;
  // the base's other rules stay (without depths); rules left with nothing but a match are dropped
  const kept = (base.layers ?? []).map(({ depth: _x, columnDepths: _c, rowDepths: _r, ...r }) => r).filter((r) => Object.keys(r).length > 1);
  const tritBits = (BITS_PER_TRIT * trits) / N;
  return { plan: { ...rest, layers: [...kept, ...rules] }, tritBits, mapBits: storedMapBits / N, bits: tritBits + storedMapBits / N, weightsAtDepth };
}

/** A binary max-heap of (key, index). */
class MaxHeap {
  #k: number[] = [];
  #v: number[] = [];
  get size(): number {
    return this.#k.length;
  }
  push(k: number, v: number): void {
    const K = this.#k,
      V = this.#v;
    let i = K.length;
    K.push(k);
    V.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (K[p]! >= K[i]!) break;
      [K[p], K[i]] = [K[i]!, K[p]!];
      [V[p], V[i]] = [V[i]!, V[p]!];
      i = p;
    }
  }
  pop(): [number, number] {
    const K = this.#k,
      V = this.#v;
    const top: [number, number] = [K[0]!, V[0]!];
    const lk = K.pop()!,
      lv = V.pop()!;
    if (K.length) {
      K[0] = lk;
      V[0] = lv;
      let i = 0;
      for (;;) {
        const a = 2 * i + 1,
          b = a + 1;
        let m = i;
        if (a < K.length && K[a]! > K[m]!) m = a;
        if (b < K.length && K[b]! > K[m]!) m = b;
        if (m === i) break;
        [K[m], K[i]] = [K[i]!, K[m]!];
        [V[m], V[i]] = [V[i]!, V[m]!];
        i = m;
      }
    }
    return top;
  }
}
