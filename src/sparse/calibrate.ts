/**
 * calibrate — the one-off calibration benchmark behind the cost model (cost-model.ts).
 *
 * It times ternary×f32 and ternary×int8 GEMV of every layout on a handful of small matrices
 * (two shapes × five densities of uniformly random zeros, two with whole 64-trit blocks zero, so
 * live chunks and nonzeros vary independently, three small layers for the fixed costs, two large
 * ones where CSR's indices leave the caches, two 11008 columns wide (f32 CSR in column blocks and
 * not), and three
 * with scale groups of 256 columns, where CSR keeps two lists per row and group), then fits each layout's coefficients
 * by non-negative least squares on relative error:
 *
 *   minimize Σ_m ((f_m · c − t_m) / t_m)²  subject to c ≥ 0
 *
 * (coordinate descent: c_j ← max(0, c_j − a_j·(A c − b) / a_j·a_j) with a_j the j-th column of
 * A = f_m / t_m and b = 1). It takes a few seconds on 2 cores.
 */
import type { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { cpus } from 'node:os';
import { median } from '../eval/benchmark.js';
import { randomTernaryTensor } from '../nn/random-model.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { sparsityStats } from './chunk-map.js';
import { FAMILIES, LAYOUTS, features, type CostModel, type Family, type LayoutName } from './cost-model.js';

/** Non-negative least squares by coordinate descent (rows of A, target b). */
export function nnls(A: number[][], b: number[], sweeps = 2000): number[] {
  const n = A[0]?.length ?? 0;
  const c = new Array<number>(n).fill(0);
  const r = b.map((v) => -v); // residual A c − b
  const norms = Array.from({ length: n }, (_, j) => A.reduce((s, row) => s + row[j]! * row[j]!, 0));
  for (let it = 0; it < sweeps; it++) {
    let moved = 0;
    for (let j = 0; j < n; j++) {
      if (norms[j] === 0) continue;
      const g = A.reduce((s, row, i) => s + row[j]! * r[i]!, 0);
      const next = Math.max(0, c[j]! - g / norms[j]!);
      const d = next - c[j]!;
      if (d !== 0) {
        for (let i = 0; i < A.length; i++) r[i]! += d * A[i]![j]!;
        c[j] = next;
        moved = Math.max(moved, Math.abs(d) / (Math.abs(next) + 1e-12));
      }
    }
    if (moved < 1e-9) break;
  }
  return c;
}

/** A tensor whose zeros come in whole 64-trit blocks (a fraction `liveBlocks` of blocks live). */
function blockTensor(rows: number, cols: number, liveBlocks: number, seed: number): TernaryTensor {
  const t = randomTernaryTensor(rows, cols, seed, { density: 2 / 3, groupSize: 0 });
  let x = seed >>> 0 || 1;
  for (let r = 0; r < rows; r++)
    for (let w = 0; w < t.wordsPerRow; w += 2) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      if ((x >>> 0) / 2 ** 32 >= liveBlocks) for (let k = w; k < Math.min(w + 2, t.wordsPerRow); k++) t.plus[r * t.wordsPerRow + k] = t.minus[r * t.wordsPerRow + k] = 0;
    }
  t.invalidateMetadata();
  return t;
}

/** Interleaved timing rounds per matrix (see calibrateCostModel). */
const ROUNDS = 4;

export interface CalibrationOptions {
  minTimeMs?: number;
  onStep?: (s: string) => void;
}

export async function calibrateCostModel(be: WasmBackend, o: CalibrationOptions = {}): Promise<CostModel> {
  const minTime = o.minTimeMs ?? 40;
  const mats: TernaryTensor[] = [];
  let seed = 11;
  for (const [rows, cols] of [[1024, 4096], [4096, 2048]] as const) for (const d of [0.6, 0.15, 0.04, 0.01, 0.002]) mats.push(randomTernaryTensor(rows, cols, seed++, { density: d, groupSize: 0 }));
  mats.push(blockTensor(2048, 4096, 0.1, seed++), blockTensor(2048, 2048, 0.4, seed++));
  // small layers, where the fixed costs per call and per row decide (e.g. a 260K-parameter model)
  for (const [rows, cols, d] of [[64, 256, 0.5], [256, 64, 0.1], [192, 512, 0.02]] as const) mats.push(randomTernaryTensor(rows, cols, seed++, { density: d, groupSize: 0 }));
  // large and dense enough that CSR's index stream leaves the caches (its cost per nonzero rises)
  for (const d of [0.5, 0.2]) mats.push(randomTernaryTensor(4096, 4096, seed++, { density: d, groupSize: 0 }));
  // rows wider than the L1 budget: f32 CSR in column blocks (csrColumnBlocks: two at 5 %), and
  // the plain lists at 1 %
  for (const d of [0.05, 0.01]) mats.push(randomTernaryTensor(1024, 11008, seed++, { density: d, groupSize: 0 }));
  // scale groups of 256 columns (TQ2_0 / BitNet style): many short CSR lists per row
  for (const [rows, cols, d] of [[2048, 2048, 0.05], [4096, 1536, 0.01], [1024, 4096, 0.002]] as const) mats.push(randomTernaryTensor(rows, cols, seed++, { density: d, groupSize: 256 }));
  const rowsOf = { f32: {} as Record<LayoutName, number[][]>, i8: {} as Record<LayoutName, number[][]> };
  const times = { f32: {} as Record<LayoutName, number[]>, i8: {} as Record<LayoutName, number[]> };
  for (const f of FAMILIES) for (const l of LAYOUTS) ((rowsOf[f][l] = []), (times[f][l] = []));
  for (const [mi, t] of mats.entries()) {
    o.onStep?.(`calibrating: matrix ${mi + 1}/${mats.length} (${t.rows}×${t.cols})`);
    const st = sparsityStats(t);
    const x = Float32Array.from({ length: t.cols }, (_, i) => Math.cos(i));
    const q = Int8Array.from({ length: t.cols }, (_, i) => ((i * 37) % 255) - 127);
    const yF = new Float32Array(t.rows), yI = new Int32Array(t.rows * t.groupsPerRow);
    // every (layout, family) case of this matrix in ROUNDS interleaved rounds, each case's time
    // the least of its round medians: load from other processes that hits one round is dropped,
    // and a load that lasts hits every case alike (so the fit keeps the ratios between layouts)
    const cases: { l: LayoutName; f: Family; run: () => Promise<unknown> }[] = [];
    const handles = [];
    for (const l of LAYOUTS) {
      const h = await be.uploadTernary(t, { layout: l });
      handles.push(h);
      for (const f of FAMILIES) cases.push({ l, f, run: f === 'f32' ? () => be.matmulF32(h, x, 1, yF) : () => be.matmulI8(h, q, 1, yI) });
    }
    const best = cases.map(() => Infinity);
    for (const c of cases) await c.run();
    for (let round = 0; round < ROUNDS; round++)
      for (const [i, c] of cases.entries()) {
        const s: number[] = [];
        const t0 = performance.now();
        while (s.length < 3 || performance.now() - t0 < minTime / ROUNDS) {
          const a = performance.now();
          await c.run();
          s.push(performance.now() - a);
        }
        best[i] = Math.min(best[i]!, median(s));
      }
    for (const [i, c] of cases.entries()) {
      rowsOf[c.f][c.l].push(features(st, c.l, c.f));
      times[c.f][c.l].push(best[i]!);
    }
    for (const h of handles) be.release(h);
  }
  const coef = { f32: {}, i8: {} } as CostModel['coef'];
  for (const f of FAMILIES as Family[])
    for (const l of LAYOUTS) {
      const A = rowsOf[f][l].map((row, i) => row.map((v) => v / times[f][l][i]!));
      coef[f][l] = nnls(A, A.map(() => 1)).map((v) => Number(v.toPrecision(4)));
    }
  const d = be.describe();
  return { version: 1, machine: `${cpus()[0]?.model.trim() ?? 'cpu'}, ${cpus().length} cores, ${String(d.threads)} threads, ${String(d.simd)}`, threads: Number(d.threads), source: 'calibrated', created: new Date().toISOString(), coef };
}
