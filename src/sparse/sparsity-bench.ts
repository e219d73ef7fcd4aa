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
 * The cases of one sparsity, the dense baseline included, are timed alike in interleaved rounds
 * (src/eval/interleaved-rounds.ts: 9 rounds by default, the case order rotated every round, 3
 * untimed warm-up calls per case and round, then whole calls for minTime / rounds): a case's
 * figure is the median of its round medians, with their quartiles as its spread, so a burst of load
 * from other processes moves one round, not the result; `speedup_vs_dense_f32_paired` also pairs
 * the ratio to dense round by round (the median of the per-round ratios). Each result also reports the share of its
 * timed two-thread calls that had to wake a sleeping pool worker (a sign of a loaded machine:
 * on an idle one the worker polls between back-to-back calls).
 */
import { loadavg } from 'node:os';
import type { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { machineInfo, median, type MachineInfo } from '../eval/benchmark.js';
import { timeInRounds } from '../eval/interleaved-rounds.js';
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
  /** first and third quartile of the per-round medians (the spread of median_ms) */
  q1_ms: number;
  q3_ms: number;
  bytes: number;
  /** share of the timed calls' pool jobs that had to wake a sleeping worker (0 with one thread) */
  wake_share: number;
  /** dense-f32-wasm median / this median, same sparsity */
  speedup_vs_dense_f32: number;
  /** the same ratio paired by round: median over rounds of (dense round median / this round median) */
  speedup_vs_dense_f32_paired: number;
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
  /** interleaved rounds per sparsity (default 9) */
  rounds?: number;
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

/** Every case in interleaved rounds (interleaved-rounds.ts), with the worker wake-up share of its timed calls. */
async function rounds(be: WasmBackend, cases: Case[], minTimeMs: number, nRounds: number) {
  const st = be.pool.stats;
  const jobs = cases.map(() => 0), wakes = cases.map(() => 0);
  let j0 = 0, w0 = 0;
  const onTimed = (i: number, phase: 'start' | 'end') => {
    if (phase === 'end') {
      jobs[i]! += st.jobs - j0;
      wakes[i]! += st.wakes - w0;
    }
    j0 = st.jobs;
    w0 = st.wakes;
  };
  const t = await timeInRounds(cases, { rounds: nRounds, minTimeMs, onTimed });
  return t.map((r, i) => ({ ...r, wake_share: jobs[i]! ? wakes[i]! / jobs[i]! : 0 }));
}

export async function benchSparsity(be: WasmBackend, o: SparsityBenchOptions = {}): Promise<SparsityReport> {
  const rows = o.rows ?? 4096, cols = o.cols ?? 11008;
  const sparsities = o.sparsities ?? DEFAULT_SPARSITIES;
  const step = o.onStep ?? (() => {});
  const load0 = loadavg().map((v) => Math.round(v * 100) / 100);
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
    const tm = await rounds(be, cases, o.minTimeMs ?? 300, o.rounds ?? 9);
    const ms = tm.map((r) => r.median_ms);
    const denseMs = ms[0]!, planesMs = ms[1]!;
    cases.forEach((c, i) => {
      const r: SparsityResult = { name: c.name, format: c.format, sparsity: Math.round(actual * 1e5) / 1e5, rows, cols, median_ms: ms[i]!, q1_ms: tm[i]!.q1_ms, q3_ms: tm[i]!.q3_ms, bytes: c.bytes, wake_share: Math.round(tm[i]!.wake_share * 1000) / 1000, speedup_vs_dense_f32: denseMs / ms[i]!, speedup_vs_dense_f32_paired: median(tm[0]!.round_ms.map((d, r) => d / tm[i]!.round_ms[r]!)), speedup_vs_planes: planesMs / ms[i]!, smaller_than_f32: (rows * cols * 4) / c.bytes, ...(c.chosen ? { chosen: c.chosen } : {}) };
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
  const load = () => loadavg().map((v) => Math.round(v * 100) / 100);
  return { machine: machineInfo({ ...be.describe(), load_avg_start: load0, load_avg: load() }), results, auto, switches };
}
