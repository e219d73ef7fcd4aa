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
import { machineInfo, median, type MachineInfo } from './benchmark.js';
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

interface Case {
  name: string;
  bytes: number;
  fn: () => unknown;
  /** a case with its own threads (llama.cpp): timed in bursts, then parked with this hook */
  after?: () => void;
}

/**
 * Time several kernels in interleaved rounds, so that on a shared machine every kernel sees the
 * same background load and the ratios stay meaningful. Each round runs every case once (a case
 * with an `after` hook runs one untimed call to wake its threads, three timed calls, then the
 * hook). Rounds continue until each case has ≥ 3 samples and ≥ minTimeMs of timed runs.
 */
async function measureRounds(cases: Case[], minTimeMs: number): Promise<{ median_ms: number; min_ms: number }[]> {
  const samples = cases.map(() => [] as number[]);
  const spent = cases.map(() => 0);
  for (const c of cases) {
    await c.fn();
    c.after?.();
  }
  const done = () => cases.every((_, i) => samples[i]!.length >= 3 && spent[i]! >= minTimeMs) || samples.every((s) => s.length >= 2000);
  while (!done()) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      if (c.after) await c.fn();
      for (let k = 0; k < (c.after ? 3 : 1); k++) {
        const t0 = performance.now();
        await c.fn();
        const dt = performance.now() - t0;
        samples[i]!.push(dt);
        spent[i]! += dt;
      }
      c.after?.();
    }
  }
  return samples.map((s) => ({ median_ms: median(s), min_ms: Math.min(...s) }));
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
      const cases: Case[] = [
        { name: `dense-f32-${suffix}`, bytes: rows * cols * 4, fn: () => backend.matmulDense(dw, x, batch, yF) },
        { name: `ternary-f32-${suffix}`, bytes: ternaryBytes, fn: () => backend.matmulF32(tw, x, batch, yF) },
        { name: `ternary-i8-${suffix}`, bytes: ternaryBytes, fn: () => backend.matmulI8(tw, q, batch, yI) },
        { name: `ternary-ternary-${suffix}`, bytes: ternaryBytes, fn: () => backend.matmulTernary(tw, u, yI) },
        ...prepared.map(([name, p]): Case => ({ name, bytes: p.bytes, fn: () => p.run(x, batch, yF), after: () => p.idle?.() })),
      ];
      const timings = await measureRounds(cases, opts.minTimeMs ?? 300);
      const batchResults: KernelResult[] = cases.map((c, i) => {
        const m = timings[i]!;
        return { name: c.name, rows, cols, batch, threads, median_ms: m.median_ms, min_ms: m.min_ms, gbps: c.bytes / (m.median_ms * 1e6), speedup_vs_dense: NaN };
      });
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
  const cases: (Case & { zeros: number })[] = [];
  const handles = [];
  for (const z of zeros) {
    const t = quantize(w, rows, cols, z > 0 ? `percentile:${Math.round(z * 1000) / 10}` : 'threshold:0').tensor;
    const actual = Math.round(t.stats().sparsity * 1000) / 1000;
    const h = await backend.uploadTernary(t);
    handles.push(h);
    const bytes = t.plus.byteLength + t.minus.byteLength;
    cases.push(
      { name: `ternary-f32-${backend.name}`, zeros: actual, bytes, fn: () => backend.matmulF32(h, x, 1, yF) },
      { name: `ternary-i8-${backend.name}`, zeros: actual, bytes, fn: () => backend.matmulI8(h, q, 1, yI) },
      { name: `ternary-ternary-${backend.name}`, zeros: actual, bytes, fn: () => backend.matmulTernary(h, u, yI) },
    );
  }
  const timings = await measureRounds(cases, opts.minTimeMs ?? 300);
  const base = new Map<string, number>();
  const out: KernelResult[] = cases.map((c, i) => {
    const m = timings[i]!;
    if (!base.has(c.name)) base.set(c.name, m.median_ms);
    const r: KernelResult = { name: c.name, rows, cols, batch: 1, threads, median_ms: m.median_ms, min_ms: m.min_ms, gbps: c.bytes / (m.median_ms * 1e6), speedup_vs_dense: NaN, zeros: c.zeros, speedup_vs_zeros0: base.get(c.name)! / m.median_ms };
    opts.onResult?.(r);
    return r;
  });
  for (const h of handles) backend.release(h);
  return out;
}
