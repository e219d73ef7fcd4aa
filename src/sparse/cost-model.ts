/**
 * cost-model — predicted GEMV time of each weight layout on this machine, and the automatic
 * per-layer choice made from it.
 *
 * Layouts (what the wasm backend can run a ternary layer as):
 *   planes        dense 2-bit planes, every block visited (lookup-table int8 kernel; codes f32)
 *   planes-skip   the same with the chunk bitmap: all-zero 64-trit blocks skipped
 *   block-sparse  only nonzero 32-trit words, visited bit by bit (block-sparse.ts)
 *   csr           column lists of the +1s and −1s (csr.ts)
 *
 * Each layout's time for one token (batch 1) is a linear model in the features that drive it,
 * with coefficients measured by the calibration benchmark (calibrate.ts):
 *
 *   planes        t = c0 + c1·cells                cells = rows·cols / 1e6
 *   planes-skip   t = c0 + c1·rows' + c2·blocks + c3·segs   rows' = rows / 1e3, blocks = live64·64 / 1e6,
 *                                                  segs = rows·groups / 1e3 (per-group set-up)
 *   block-sparse  t = c0 + c1·rows' + c2·words + c3·nnz   words = liveWords / 1e6, nnz / 1e6
 *   csr           t = c0 + c1·lists + c2·nnz + c3·nnz·density
 *                                                  lists = rows·groups / 1e3 (two per row and group;
 *                                                  int8 on row lists (rowListsI8): rows / 1e3,
 *                                                  and nnz counts ROW_LIST_NNZ_WEIGHT times;
 *                                                  f32 and int8 in column blocks (csrColumnBlocks):
 *                                                  rows·blocks / 1e3)
 *                                                  nnz·density: dense index streams leave the caches
 *
 * (t in ms). The choice is argmin over the layouts (layouts predicted within 5 % of the fastest
 * count as equally fast, and the one storing the fewest bytes wins); its inputs are the layer's measured nonzero
 * and live-chunk counts (chunk-map.ts sparsityStats), so the same density clustered differently
 * can get a different layout. `activeCostModel()` is the calibrated model once one is installed
 * (cost-cache.ts loads it from ~/.cache/tritwise), else the built-in one measured on the
 * reference machine (below).
 */
import { TritwiseError } from '../errors.js';
import type { SparsityStats } from './chunk-map.js';

export const LAYOUTS = ['planes', 'planes-skip', 'block-sparse', 'csr'] as const;
export type LayoutName = (typeof LAYOUTS)[number];
export type Family = 'f32' | 'i8';
export const FAMILIES: readonly Family[] = ['f32', 'i8'];

export interface CostModel {
  version: 1;
  /** what it was measured on (cpu, cores, threads, simd) */
  machine: string;
  threads: number;
  source: 'builtin' | 'calibrated';
  created: string;
  coef: Record<Family, Record<LayoutName, number[]>>;
}

/**
 * Per-group CSR lists shorter than this (mean entries per row, group and sign) cost more in loop
 * set-up than the row-list kernel's scatter into per-group accumulators, whose consecutive adds
 * to one group wait on each other through memory (≈ 1.8 ns per nonzero at 13 per list against
 * ≈ 0.4 for the gather; per-group lists ≈ 14 ns each; 4096×1536, groups of 256, one thread).
 */
export const ROW_LIST_MAX_PER_GROUP = 6;

/**
 * A nonzero of the row-list kernel counts as this many gathered nonzeros in the csr features
 * (its load-add-store into a group accumulator against a gather and a register add; measured
 * ≈ 1.7 against ≈ 0.4 ns, 4096×1536 and 1536×4096 at 99 % zeros, groups of 256, one thread).
 */
export const ROW_LIST_NNZ_WEIGHT = 4;

/**
 * Whether int8 CSR of a grouped layer runs on one list pair per row (the wasm backend's
 * csrGroupI8, which finds each entry's group as col >> sh): power-of-two groups whose per-group
 * lists would hold < ROW_LIST_MAX_PER_GROUP entries on average.
 */
export function rowListsI8(s: { groups?: number; groupSize?: number; cols: number; density: number }): boolean {
  const gs = s.groupSize ?? 0;
  return (s.groups ?? 1) > 1 && gs > 0 && (gs & (gs - 1)) === 0 && s.cols <= 65536 && (s.density * gs) / 2 < ROW_LIST_MAX_PER_GROUP;
}

/**
 * f32 CSR lists are split into column blocks of at most this many bytes of activations, so the
 * gathers of one block sweep stay in the 32 KiB L1 data cache next to the streamed index lists
 * (4096×11008 at 95 % zeros, one thread, min of 9 rounds under load: 0.33 → 0.29 ns per nonzero
 * with two blocks of 5504 columns, 0.30 with three of 3672).
 */
export const CSR_BLOCK_BYTES = 24576;

/**
 * Column blocks are used only when each (row, block, sign) list would still hold at least this
 * many entries on average: every block adds two list set-ups per row and the padding of two lists
 * to a multiple of 8 (at 99.9 % zeros two blocks made the call 2.2× slower).
 */
export const CSR_BLOCK_MIN_LIST = 48;

/** Widest f32 layer of the padded CSR kernel: (cols + 1)·4 bytes fit its staging area (layouts.ts CSR_X_BYTES). */
export const CSR_PAD_MAX_F32_COLS = 14335;

/**
 * Column blocks the wasm backend's f32 CSR kernel (csrPadF32) uses for a layer: 1 (plain lists)
 * unless the activation row is wider than CSR_BLOCK_BYTES, the layer has no scale groups, the
 * padded kernel applies (cols ≤ CSR_PAD_MAX_F32_COLS) and the lists stay long enough
 * (CSR_BLOCK_MIN_LIST).
 */
export function csrColumnBlocks(s: { groups?: number; cols: number; density: number }): number {
  if ((s.groups ?? 1) > 1 || s.cols > CSR_PAD_MAX_F32_COLS) return 1;
  const nb = Math.ceil((s.cols * 4) / CSR_BLOCK_BYTES);
  return nb > 1 && (s.density * s.cols) / (2 * nb) >= CSR_BLOCK_MIN_LIST ? nb : 1;
}

/** The features of one layout for a layer (see the header; the first is the constant 1). */
export function features(s: SparsityStats, layout: LayoutName, family?: Family): number[] {
  const rows = s.rows / 1e3;
  switch (layout) {
    case 'planes':
      return [1, (s.rows * s.cols) / 1e6];
    case 'planes-skip':
      return [1, rows, (s.live64 * 64) / 1e6, (s.rows * (s.groups ?? 1)) / 1e3];
    case 'block-sparse':
      return [1, rows, s.liveWords / 1e6, s.nnz / 1e6];
    case 'csr':
      // each (row, group) pair costs two short lists: loop set-up and exit, whatever their length
      // (int8 on grouped weights with power-of-two groups: two lists per row, see rowListsI8)
      if (family === 'i8' && rowListsI8(s)) return [1, s.rows / 1e3, (ROW_LIST_NNZ_WEIGHT * s.nnz) / 1e6, (s.nnz * s.density) / 1e6];
      // f32 and (since the widened-int8 kernel csrPadI32 shares its lists) int8 in column blocks
      return [1, (s.rows * (s.groups ?? 1) * csrColumnBlocks(s)) / 1e3, s.nnz / 1e6, (s.nnz * s.density) / 1e6];
  }
}

export function predictMs(m: CostModel, s: SparsityStats, family: Family, layout: LayoutName): number {
  const c = m.coef[family][layout];
  const f = features(s, layout, family);
  let t = 0;
  for (let i = 0; i < f.length; i++) t += (c[i] ?? 0) * f[i]!;
  return t;
}

export interface LayoutChoice {
  layout: LayoutName;
  /** predicted ms per token for every layout */
  predicted: Record<LayoutName, number>;
}

/** Blocks must be at least this fraction all-zero for the skipping layout to exist (layouts.ts). */
const SKIP_MIN_ZERO_FRACTION = 1 / 16;

/** Bytes a layout stores for a layer (scales excluded): the tie-breaker between equally fast layouts. */
export function layoutBytes(s: SparsityStats, layout: LayoutName): number {
  const words = s.rows * Math.ceil(s.cols / 32);
  switch (layout) {
    case 'planes':
      return words * 8;
    case 'planes-skip':
      return words * 8 + s.rows * Math.ceil(Math.ceil(s.cols / 64) / 32) * 4;
    case 'block-sparse':
      return 4 * (s.rows + 1) + s.liveWords * 10;
    case 'csr':
      return 4 * (2 * s.rows * (s.groups ?? 1) + 1) + s.nnz * (s.cols <= 65536 ? 2 : 4);
  }
}

/** Layouts predicted within this factor of the fastest count as equally fast; the smallest wins. */
export const TIE = 1.05;

export function chooseLayout(s: SparsityStats, family: Family, m: CostModel = activeCostModel()): LayoutChoice {
  const predicted = {} as Record<LayoutName, number>;
  const blocks = Math.ceil(s.cols / 64) * s.rows;
  const candidates: LayoutName[] = [];
  for (const l of LAYOUTS) {
    predicted[l] = predictMs(m, s, family, l);
    if (l === 'planes-skip' && blocks > 0 && 1 - s.live64 / blocks < SKIP_MIN_ZERO_FRACTION) continue;
    candidates.push(l);
  }
  const fastest = Math.min(...candidates.map((l) => predicted[l]));
  let best: LayoutName = 'planes';
  let bestBytes = Infinity;
  for (const l of candidates) {
    if (predicted[l] > fastest * TIE) continue;
    const b = layoutBytes(s, l);
    if (b < bestBytes) [best, bestBytes] = [l, b];
  }
  return { layout: best, predicted };
}

/**
 * Calibrated on the reference machine (`tritwise bench sparsity --calibrate`): AMD EPYC, 2 cores
 * shared with other jobs (load average ≈ 8), 2 threads, Node 20, SIMD128; with the padded and
 * row-list CSR kernels (2026-11-26 15:50 UTC).
 */
export const BUILTIN_COST_MODEL: CostModel = {
  version: 1,
  machine: 'reference: AMD EPYC, 2 cores, 2 threads, simd128',
  threads: 2,
  source: 'builtin',
  created: '2026-11-26',
  coef: {
    f32: { planes: [0.009432, 0.3484], 'planes-skip': [0.001433, 0.02922, 0.4517, 0.009868], 'block-sparse': [0.0003304, 0, 9.217, 0.9473], csr: [0.002095, 0.01242, 0.2542, 0.5575] },
    i8: { planes: [0.004783, 0.05157], 'planes-skip': [0.00141, 0.02084, 0.0484, 0.009358], 'block-sparse': [0.000797, 0.006241, 7.172, 3.077], csr: [0.002113, 0.01294, 0.5056, 0] },
  },
};

let active: CostModel = BUILTIN_COST_MODEL;

export function activeCostModel(): CostModel {
  return active;
}

/** Install a cost model (validated) for every later choice; returns the previous one. */
export function setCostModel(m: CostModel, where = 'cost model'): CostModel {
  validateCostModel(m, where);
  const prev = active;
  active = m;
  return prev;
}

export function validateCostModel(m: unknown, where = 'cost model'): CostModel {
  const bad = (what: string, got: unknown): never => {
    throw new TritwiseError('E_FORMAT', `invalid cost model: ${what}`, { where, expected: 'a tritwise sparse cost model (version 1)', got });
  };
  if (typeof m !== 'object' || m === null) bad('not an object', typeof m);
  const c = m as CostModel;
  if (c.version !== 1) bad('version', c.version);
  if (typeof c.coef !== 'object' || c.coef === null) bad('coef', c.coef);
  for (const f of FAMILIES)
    for (const l of LAYOUTS) {
      const v = c.coef[f]?.[l];
      const n = features({ rows: 0, cols: 0, nnz: 0, density: 0, liveWords: 0, live64: 0 }, l).length;
      if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) bad(`coef.${f}.${l}`, v);
    }
  return c;
}
