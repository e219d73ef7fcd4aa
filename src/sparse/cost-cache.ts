/**
 * cost-cache — where the calibrated cost model lives (Node only): one JSON file per machine
 * setup in the user's cache folder,
 *
 *   $TRITWISE_COST_MODEL             a cost-model file to use instead, or "builtin"
 *   $XDG_CACHE_HOME/tritwise/…  or  ~/.cache/tritwise/sparse-cost-<threads>t-<simd>-k<rev>.json
 *
 * <rev> is KERNELS_REVISION: bumped whenever a sparse kernel's speed changes, so a calibration
 * measured on older kernels is not reused (it would misplace the switch between layouts).
 *
 * `ensureCostModel` loads it, or runs the calibration benchmark once (calibrate.ts) and writes
 * it atomically; `installCachedCostModel` only loads (the built-in model when there is none).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TritwiseError } from '../errors.js';
import { writeAll, writeFileAtomic } from '../io/atomic-write.js';
import { calibrateCostModel, type CalibrationOptions } from './calibrate.js';
import { BUILTIN_COST_MODEL, setCostModel, validateCostModel, type CostModel } from './cost-model.js';
import type { WasmBackend } from '../backend/wasm/wasm-backend.js';

/**
 * 2: int8 and ternary×ternary CSR on i32-widened activations (csrPadI32), 1.3–1.4× faster.
 * 3: the dense int8 planes kernel became column triples (lut3I8), 1.1–1.3× faster, which moves
 *    the int8 planes/CSR switch point.
 * 4: the padded CSR lists store rows sorted by list length (predicted loop exits), f32 and int8
 *    CSR 1.03–1.14× faster at 95 % zeros.
 * 5: grouped int8 planes: the pair kernel serves two row blocks per table load, and lut3's grouped
 *    layout was rebuilt (2.0–2.4× faster there).
 * 6: the padded CSR kernels split their rows from both ends of a two-thread pool and keep the
 *    partial sums between column blocks in stored-row order, which changes their two-thread times.
 * 7: per-thread lookup tables for the int8 pair kernel, coarser guided pool chunks.
 * 8: the ternary×ternary blocks kernel takes four far-apart rows per pass (four memory streams),
 *    1.2–1.4× faster from memory, which moves its blocks/CSR switch point.
 * 9: the column-blocked f32 CSR lists flush their lane sums every 32 iterations, not 8 (≈ 1.02×).
 * 10: the ternary×ternary four-row pass counts its fourth row with scalar i64.popcnt (≈ 1.05×),
 *    which moves its blocks/CSR switch point a little.
 */
export const KERNELS_REVISION = 10;

export function costModelPath(threads: number, simd: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'tritwise', `sparse-cost-${threads}t-${simd}-k${KERNELS_REVISION}.json`);
}

export function readCostModel(path: string): CostModel {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TritwiseError('E_IO', 'cannot read the cost model', { where: path, got: (e as Error).message, cause: e });
  }
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new TritwiseError('E_FORMAT', 'cost model is not JSON', { where: path, got: (e as Error).message });
  }
  return validateCostModel(v, path);
}

export function writeCostModel(path: string, m: CostModel): void {
  mkdirSync(dirname(path), { recursive: true });
  const bytes = new TextEncoder().encode(JSON.stringify(m, null, 2) + '\n');
  writeFileAtomic(path, (fd) => writeAll(fd, bytes));
}

/** Install the override or the cached model for this setup, if any; returns where it came from. */
export function installCachedCostModel(threads = 2, simd = 'simd128'): string {
  const env = process.env.TRITWISE_COST_MODEL;
  if (env === 'builtin') {
    setCostModel(BUILTIN_COST_MODEL);
    return 'builtin (TRITWISE_COST_MODEL)';
  }
  if (env) {
    setCostModel(readCostModel(env), env);
    return env;
  }
  const p = costModelPath(threads, simd);
  if (existsSync(p)) {
    setCostModel(readCostModel(p), p);
    return p;
  }
  setCostModel(BUILTIN_COST_MODEL);
  return 'builtin';
}

/** Load the cost model for this backend's setup, calibrating once (and caching) when none exists. */
export async function ensureCostModel(be: WasmBackend, o: CalibrationOptions & { recalibrate?: boolean } = {}): Promise<{ model: CostModel; path: string; calibrated: boolean }> {
  const d = be.describe();
  const threads = Number(d.threads), simd = String(d.simd);
  const env = process.env.TRITWISE_COST_MODEL;
  if (env && !o.recalibrate) {
    const where = installCachedCostModel(threads, simd);
    return { model: env === 'builtin' ? BUILTIN_COST_MODEL : readCostModel(env), path: where, calibrated: false };
  }
  const p = costModelPath(threads, simd);
  if (existsSync(p) && !o.recalibrate) {
    const m = readCostModel(p);
    setCostModel(m, p);
    return { model: m, path: p, calibrated: false };
  }
  const m = await calibrateCostModel(be, o);
  writeCostModel(p, m);
  setCostModel(m, p);
  return { model: m, path: p, calibrated: true };
}

/**
 * For commands without a backend (inspect): the cached model for one thread per core (any SIMD
 * build), else the built-in one. Returns where it came from.
 */
export function installHostCostModel(): string {
  if (process.env.TRITWISE_COST_MODEL) return installCachedCostModel();
  const dir = dirname(costModelPath(1, 'x'));
  const prefix = `sparse-cost-${cpus().length}t-`;
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith(`-k${KERNELS_REVISION}.json`)).sort() : [];
  if (files.length) {
    const p = join(dir, files[files.length - 1]!);
    setCostModel(readCostModel(p), p);
    return p;
  }
  setCostModel(BUILTIN_COST_MODEL);
  return 'builtin';
}
