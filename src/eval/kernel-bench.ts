/**
 * kernel-bench — side-by-side GEMV/GEMM timings of one backend's kernels on synthetic matrices,
 * with ratios against the dense f32 kernel (and optional comparisons, such as llama.cpp's TQ2_0)
 * measured in the same run, plus a zero-skipping sweep at chosen fractions of zero trits.
 *
 * Weight bytes read per call: dense f32 4·rows·cols; ternary planes 2·rows·⌈cols/32⌉·4 (the
 * wasm backend's 2-bit layouts read the same amount); a comparison states its own bytes.
 */
import type { Backend } from '../backend/backend.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../quant/activation-quantizers.js';
import { quantize } from '../quant/weight-quantizers.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { machineInfo, measure, type MachineInfo } from './benchmark.js';
import { seededRandom } from './random.js';

export interface KernelResult {
  name: string;
  rows: number;
  cols: number;
  batch: number;
  threads: number;
  median_ms: number;
  /** fastest run: on a shared machine it shows what the kernel does when it gets the cores */
  min_ms: number;
  gbps: number;
  /** dense-f32 median / this median, same shape, batch and threads */
  speedup_vs_dense: number;
  /** comparison median / this median (e.g. llama.cpp TQ2_0), same shape, batch and threads */
  speedup_vs_llamacpp?: number;
  /** zero-skipping sweep: the fraction of zero trits, and the speedup over the same kernel at 0 */
  zeros?: number;
  speedup_vs_zeros0?: number;
}

export interface KernelBenchReport {
  machine: MachineInfo;
  results: KernelResult[];
}

/** A kernel from elsewhere (another library) timed on the same weights and activations. */
export interface Comparison {
  name: string;
  prepare(w: { dense: Float32Array; tensor: TernaryTensor; rows: number; cols: number; threads: number }): Promise<PreparedComparison | null>;
}
export interface PreparedComparison {
  bytes: number;
  run(x: Float32Array, batch: number, out: Float32Array): unknown;
  /** called after its measurements, so that its threads stop competing with the next kernel */
  idle?(): void;
  dispose(): void;
}

export interface KernelBenchOptions {
  shapes: [number, number][];
  batches: number[];
  minTimeMs?: number;
  comparisons?: Comparison[];
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

function timing(opts: { minTimeMs?: number }) {
  return { minTimeMs: opts.minTimeMs ?? 300, warmup: 1, minRuns: 3 };
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
    const prepared: [string, PreparedComparison][] = [];
    if (opts.comparisons?.length) {
      const dense = t.toDense();
      for (const c of opts.comparisons) {
        const p = await c.prepare({ dense, tensor: t, rows, cols, threads });
        if (p) prepared.push([c.name, p]);
      }
    }
    for (const batch of opts.batches) {
      const x = randomWeights(batch * cols, 7 + batch);
      const q = quantizeInt8PerToken(x, batch, cols).q;
      const u = quantizeTernaryPerToken(x, batch, cols);
      const yF = new Float32Array(batch * rows);
      const yI = new Int32Array(batch * rows);
      const ternaryBytes = t.plus.byteLength + t.minus.byteLength;
      const cases: [string, number, () => unknown, (() => void)?][] = [
        [`dense-f32-${suffix}`, rows * cols * 4, () => backend.matmulDense(dw, x, batch, yF)],
        [`ternary-f32-${suffix}`, ternaryBytes, () => backend.matmulF32(tw, x, batch, yF)],
        [`ternary-i8-${suffix}`, ternaryBytes, () => backend.matmulI8(tw, q, batch, yI)],
        [`ternary-ternary-${suffix}`, ternaryBytes, () => backend.matmulTernary(tw, u, yI)],
        ...prepared.map(([name, p]): [string, number, () => unknown, (() => void)?] => [name, p.bytes, () => p.run(x, batch, yF), () => p.idle?.()]),
      ];
      const batchResults: KernelResult[] = [];
      for (const [name, bytes, fn, after] of cases) {
        const m = await measure(fn, timing(opts));
        after?.();
        batchResults.push({ name, rows, cols, batch, threads, median_ms: m.median_ms, min_ms: m.min_ms, gbps: bytes / (m.median_ms * 1e6), speedup_vs_dense: NaN });
      }
      const dense = batchResults[0]!.median_ms;
      const other = batchResults.find((r) => r.name.startsWith('llamacpp'))?.median_ms;
      for (const r of batchResults) {
        r.speedup_vs_dense = dense / r.median_ms;
        if (other !== undefined) r.speedup_vs_llamacpp = other / r.median_ms;
        results.push(r);
        opts.onResult?.(r);
      }
    }
    for (const [, p] of prepared) p.dispose();
    backend.release(tw);
    backend.release(dw);
  }
  return { machine: machineInfo(backend.describe()), results };
}

/**
 * Zero skipping: the ternary kernels (batch 1) on [rows, cols] weights with about `z` zeros
 * (quantizer percentile:100z, so the zeros fall at random), each against the same kernel at the
 * first fraction in the list (0 % by default).
 */
export async function benchZeros(backend: Backend, rows: number, cols: number, zeros: number[], opts: { minTimeMs?: number; onResult?: (r: KernelResult) => void } = {}): Promise<KernelResult[]> {
  const threads = Number(backend.describe().threads ?? 1);
  const w = randomWeights(rows * cols, 4242);
  const x = randomWeights(cols, 99);
  const q = quantizeInt8PerToken(x, 1, cols).q;
  const u = quantizeTernaryPerToken(x, 1, cols);
  const yF = new Float32Array(rows);
  const yI = new Int32Array(rows);
  const base = new Map<string, number>();
  const out: KernelResult[] = [];
  for (const z of zeros) {
    const t = quantize(w, rows, cols, z > 0 ? `percentile:${Math.round(z * 1000) / 10}` : 'threshold:0').tensor;
    const actual = t.stats().sparsity;
    const h = await backend.uploadTernary(t);
    const bytes = t.plus.byteLength + t.minus.byteLength;
    for (const [name, fn] of [
      [`ternary-f32-${backend.name}`, () => backend.matmulF32(h, x, 1, yF)],
      [`ternary-i8-${backend.name}`, () => backend.matmulI8(h, q, 1, yI)],
      [`ternary-ternary-${backend.name}`, () => backend.matmulTernary(h, u, yI)],
    ] as const) {
      const m = await measure(fn, timing(opts));
      if (!base.has(name)) base.set(name, m.median_ms);
      const r: KernelResult = { name, rows, cols, batch: 1, threads, median_ms: m.median_ms, min_ms: m.min_ms, gbps: bytes / (m.median_ms * 1e6), speedup_vs_dense: NaN, zeros: Math.round(actual * 1000) / 1000, speedup_vs_zeros0: base.get(name)! / m.median_ms };
      out.push(r);
      opts.onResult?.(r);
    }
    backend.release(h);
  }
  return out;
}
