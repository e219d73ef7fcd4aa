/**
 * sparsity-bench — `tritwise bench sparsity`: ternary×f32 GEMV on one shape (default 4096×11008)
 * at a sweep of zero fractions, every layout side by side in one run, against dense f32 on the
 * same wasm backend and threads:
 *
 *   dense-f32-wasm   f32 weights, the wasm dense kernel (the baseline of every ratio)
 *   planes           2-bit planes, every block visited (dense planes without skipping)
 *   planes-skip      the same with the chunk bitmap (all-zero 64-trit blocks skipped)
 *   block-sparse     nonzero 32-trit words only
 *   csr              column lists of the +1s and −1s
 *   auto             whatever the cost model picks for the layer (cost-model.ts)
 *
 * Zeros are placed uniformly at random (the hardest case for chunk skipping; ±1 equally likely).
 * The cases of one sparsity are timed in 5 interleaved rounds (each round runs every case for a
 * fifth of the minimum time), so load from other processes hits them alike; medians are reported.
 */
import type { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { machineInfo, median, type MachineInfo } from '../eval/benchmark.js';
import { randomTernaryTensor } from '../nn/random-model.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { blockSparseBytes, toBlockSparse } from './block-sparse.js';
import { chunkMap, sparsityStats } from './chunk-map.js';
import { chooseLayout, type LayoutName } from './cost-model.js';
import { csrBytes, toCsr } from './csr.js';

export const DEFAULT_SPARSITIES = [0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999];

export interface SparsityResult {
  name: string;
  format: string;
  sparsity: number;
  rows: number;
  cols: number;
  median_ms: number;
  bytes: number;
  /** dense-f32-wasm median / this median, same sparsity */
  speedup_vs_dense_f32: number;
  /** planes (no skipping) median / this median */
  speedup_vs_planes: number;
  /** f32 bytes / these bytes */
  smaller_than_f32: number;
  /** auto only: the layout it chose */
  chosen?: LayoutName;
}

export interface SparsityReport {
  machine: MachineInfo;
  results: SparsityResult[];
  /** per sparsity: the auto choice, the best layout and auto's time over the best */
  auto: { sparsity: number; chosen: LayoutName; best: string; auto_over_best: number; chosen_over_best: number }[];
  /** sparsities where the auto choice changes layout */
  switches: { from: LayoutName; to: LayoutName; between: [number, number] }[];
}

export interface SparsityBenchOptions {
  rows?: number;
  cols?: number;
  sparsities?: number[];
  minTimeMs?: number;
  onResult?: (r: SparsityResult) => void;
  onStep?: (s: string) => void;
}

function bytesOf(t: TernaryTensor, layout: LayoutName): number {
  switch (layout) {
    case 'planes':
      return t.bytes;
    case 'planes-skip': {
      const m = chunkMap(t, 2);
      return t.bytes + m.bits.byteLength;
    }
    case 'block-sparse':
      return blockSparseBytes(toBlockSparse(t));
    case 'csr':
      return csrBytes(toCsr(t));
  }
}

interface Case {
  name: string;
  format: string;
  bytes: number;
  chosen?: LayoutName;
  run: () => Promise<unknown>;
}

/** 5 interleaved rounds; in each, every case runs for ≥ minTimeMs/5 (at least twice). */
async function rounds(cases: Case[], minTimeMs: number): Promise<number[]> {
  const samples = cases.map(() => [] as number[]);
  for (const c of cases) await c.run();
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < cases.length; i++) {
      let spent = 0;
      for (let k = 0; k < 2 || (spent < minTimeMs / 5 && k < 2000); k++) {
        const t0 = performance.now();
        await cases[i]!.run();
        const dt = performance.now() - t0;
        samples[i]!.push(dt);
        spent += dt;
      }
    }
  }
  return samples.map(median);
}

export async function benchSparsity(be: WasmBackend, o: SparsityBenchOptions = {}): Promise<SparsityReport> {
  const rows = o.rows ?? 4096, cols = o.cols ?? 11008;
  const sparsities = o.sparsities ?? DEFAULT_SPARSITIES;
  const step = o.onStep ?? (() => {});
  const x = Float32Array.from({ length: cols }, (_, i) => Math.sin(i * 0.37) * 0.5);
  const y = new Float32Array(rows);
  step(`dense f32 weights ${rows}×${cols} (${((rows * cols * 4) / 2 ** 20).toFixed(0)} MiB)`);
  const dense = new Float32Array(rows * cols);
  for (let i = 0; i < dense.length; i++) dense[i] = ((Math.imul(i, 2654435761) >>> 16) & 0xff) / 255 - 0.5;
  const dh = await be.uploadDense(dense, rows, cols);
  const results: SparsityResult[] = [];
  const auto: SparsityReport['auto'] = [];
  for (const s of sparsities) {
    step(`${(s * 100).toFixed(1)} % zeros: building the layouts`);
    const t = randomTernaryTensor(rows, cols, 7 + Math.round(s * 1000), { density: 1 - s, groupSize: 0 });
    const actual = t.stats().sparsity;
    const cases: Case[] = [{ name: 'dense-f32-wasm', format: 'f32', bytes: rows * cols * 4, run: () => be.matmulDense(dh, x, 1, y) }];
    const handles = [];
    for (const layout of ['planes', 'planes-skip', 'block-sparse', 'csr'] as const) {
      const h = await be.uploadTernary(t, { layout });
      handles.push(h);
      cases.push({ name: layout, format: layout, bytes: bytesOf(t, layout), run: () => be.matmulF32(h, x, 1, y) });
    }
    const chosen = chooseLayout(sparsityStats(t), 'f32').layout;
    const ha = await be.uploadTernary(t);
    handles.push(ha);
    cases.push({ name: 'auto', format: chosen, bytes: bytesOf(t, chosen), chosen, run: () => be.matmulF32(ha, x, 1, y) });
    step(`${(s * 100).toFixed(1)} % zeros: timing ${cases.length} cases`);
    const ms = await rounds(cases, o.minTimeMs ?? 300);
    const denseMs = ms[0]!, planesMs = ms[1]!;
    cases.forEach((c, i) => {
      const r: SparsityResult = { name: c.name, format: c.format, sparsity: Math.round(actual * 1e5) / 1e5, rows, cols, median_ms: ms[i]!, bytes: c.bytes, speedup_vs_dense_f32: denseMs / ms[i]!, speedup_vs_planes: planesMs / ms[i]!, smaller_than_f32: (rows * cols * 4) / c.bytes, ...(c.chosen ? { chosen: c.chosen } : {}) };
      results.push(r);
      o.onResult?.(r);
    });
    const layouts = cases.slice(1, 5);
    const bestI = ms.slice(1, 5).reduce((b, v, i, a) => (v < a[b]! ? i : b), 0);
    // auto_over_best: the auto case's own timing (includes run-to-run noise of one kernel);
    // chosen_over_best: the forced case of the chosen layout against the fastest forced case
    const chosenMs = ms[1 + layouts.findIndex((c) => c.name === chosen)]!;
    auto.push({ sparsity: s, chosen, best: layouts[bestI]!.name, auto_over_best: ms[5]! / ms[1 + bestI]!, chosen_over_best: chosenMs / ms[1 + bestI]! });
    for (const h of handles) be.release(h);
  }
  be.release(dh);
  const switches: SparsityReport['switches'] = [];
  for (let i = 1; i < auto.length; i++) if (auto[i]!.chosen !== auto[i - 1]!.chosen) switches.push({ from: auto[i - 1]!.chosen, to: auto[i]!.chosen, between: [auto[i - 1]!.sparsity, auto[i]!.sparsity] });
  return { machine: machineInfo({ ...be.describe(), load_avg: (await import('node:os')).loadavg().map((v) => Math.round(v * 100) / 100) }), results, auto, switches };
}
