/**
 * benchmark — the timing harness: warm-up, repeated runs, medians, and a description of the
 * machine, so every reported number says where and how it was measured.
 */
import { cpus, totalmem } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  arch: string;
  memory_gib: number;
  [k: string]: unknown;
}

export function machineInfo(extra: Record<string, unknown> = {}): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    ...extra,
  };
}

export interface Timing {
  median_ms: number;
  min_ms: number;
  runs: number;
}

export interface MeasureOptions {
  warmup?: number;
  minRuns?: number;
  maxRuns?: number;
  /** keep running until this much time has been spent (after minRuns) */
  minTimeMs?: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Time `fn` (sync or async): warm-up runs, then at least minRuns timed runs; report the median. */
export async function measure(fn: () => unknown, opts: MeasureOptions = {}): Promise<Timing> {
  const { warmup = 2, minRuns = 5, maxRuns = 1000, minTimeMs = 200 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minRuns || (samples.length < maxRuns && performance.now() - start < minTimeMs)) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return { median_ms: median(samples), min_ms: Math.min(...samples), runs: samples.length };
}
