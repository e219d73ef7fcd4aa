/**
 * kernel-bench — side-by-side GEMV/GEMM timings of one backend's kernels on synthetic matrices,
 * with ratios against the dense f32 kernel measured in the same run.
 *
 * Weight bytes read per call: dense f32 4·rows·cols; ternary planes 2·rows·⌈cols/32⌉·4 (+ scales).
 */
import type { Backend } from '../backend/backend.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../quant/activation-quantizers.js';
import { quantize } from '../quant/weight-quantizers.js';
import { machineInfo, measure, type MachineInfo } from './benchmark.js';
import { seededRandom } from './random.js';

export interface KernelResult {
  name: string;
  rows: number;
  cols: number;
  batch: number;
  threads: number;
  median_ms: number;
  gbps: number;
  /** dense-f32 median / this median, same shape, batch and threads */
  speedup_vs_dense: number;
}

export interface KernelBenchReport {
  machine: MachineInfo;
  results: KernelResult[];
}

export interface KernelBenchOptions {
  shapes: [number, number][];
  batches: number[];
  minTimeMs?: number;
  /** called after each result (for progress output) */
  onResult?: (r: KernelResult) => void;
}

/** Gaussian-ish random weights with a fixed seed. */
export function randomWeights(n: number, seed: number): Float32Array {
  const rnd = seededRandom(seed);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = rnd.normal() * 0.02;
  return w;
}

export async function benchKernels(backend: Backend, opts: KernelBenchOptions): Promise<KernelBenchReport> {
  const threads = Number(backend.describe().threads ?? 1);
  const results: KernelResult[] = [];
  const suffix = backend.name;
  for (const [rows, cols] of opts.shapes) {
    const w = randomWeights(rows * cols, rows * 31 + cols);
    const t = quantize(w, rows, cols, 'absmean').tensor;
    const tw = await backend.uploadTernary(t);
    const dw = await backend.uploadDense(w, rows, cols);
    for (const batch of opts.batches) {
      const x = randomWeights(batch * cols, 7 + batch);
      const q = quantizeInt8PerToken(x, batch, cols).q;
      const u = quantizeTernaryPerToken(x, batch, cols);
      const yF = new Float32Array(batch * rows);
      const yI = new Int32Array(batch * rows);
      const ternaryBytes = t.plus.byteLength + t.minus.byteLength;
      const cases: [string, number, () => Promise<unknown>][] = [
        [`dense-f32-${suffix}`, rows * cols * 4, () => backend.matmulDense(dw, x, batch, yF)],
        [`ternary-f32-${suffix}`, ternaryBytes, () => backend.matmulF32(tw, x, batch, yF)],
        [`ternary-i8-${suffix}`, ternaryBytes, () => backend.matmulI8(tw, q, batch, yI)],
        [`ternary-ternary-${suffix}`, ternaryBytes, () => backend.matmulTernary(tw, u, yI)],
      ];
      let dense = NaN;
      for (const [name, bytes, fn] of cases) {
        const m = await measure(fn, { minTimeMs: opts.minTimeMs ?? 300, warmup: 1, minRuns: 3 });
        if (name.startsWith('dense')) dense = m.median_ms;
        const r: KernelResult = { name, rows, cols, batch, threads, median_ms: m.median_ms, gbps: bytes / (m.median_ms * 1e6), speedup_vs_dense: dense / m.median_ms };
        results.push(r);
        opts.onResult?.(r);
      }
    }
    backend.release(tw);
    backend.release(dw);
  }
  return { machine: machineInfo(backend.describe()), results };
}
