/**
 * plan-realloc — moving trits between layers of a plan after quantization-aware training
 * (plan-qat.ts), by sensitivities measured on the trained model rather than on one-layer-at-a-time
 * post-training quantization (auto-depth.ts, which put 45 % of the 2.5-bit plan's weights at one
 * trit before any training).
 *
 * After QAT every weight has a latent value w̃ = u·m·s₀ (its position on the grid, in the units of
 * the weight). A layer of depth d and step s can move to depth d' on the same range with step
 *   s' = s·3^(d − d'),   n' = clamp(round(w̃ / s'), ±(3^d' − 1)/2)
 * (one trit less: a three times coarser grid; one more: three times finer, filled from the
 * latent's position inside its cell). For every layer ℓ the change of the KL to the f32 model on
 * fixed calibration windows is measured with only ℓ moved:
 *   down_ℓ = KL(ℓ at d − 1) − KL,   up_ℓ = KL(ℓ at d + 1) − KL
 * Allocation (a greedy knapsack on these, like auto-depth's): start every layer one trit below its
 * depth (d = 1 layers at 1), then repeatedly take the step with the largest KL saved per added
 * trit (looking ahead to d + 1) that fits the budget Σ_ℓ 1.6·n_ℓ·d_ℓ ≤ bits·Σ_ℓ n_ℓ; a step that
 * saves nothing is never taken. Depths move by at most one from the trained plan (the
 * measurements say nothing further out).
 */
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import { BITS_PER_TRIT } from '../quant/auto-depth.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { alignedBatch, type TextSplit } from './data.js';
import { TrainModel, type Batch } from './llama-train.js';
import { planQat, type PlanQatResult, type PlanQatSettings } from './plan-qat.js';
import { headLoss } from './ops/cross-entropy.js';
import { Tape } from './tape.js';

export interface DepthMove {
  name: string;
  weights: number;
  depth: number;
  /** KL change with this layer one trit shallower (null at d = 1) */
  down: number | null;
  /** KL change with this layer one trit deeper (null at d = 6) */
  up: number | null;
}

const depthOf = (t: StoredTensor): number => (t instanceof MultiTritTensor ? t.depth : 1);

/** The tryte `t` moved to `depth` on the same range, its integers re-rounded from the latent values. */
export function retryte(t: TernaryTensor | MultiTritTensor, latent: ArrayLike<number>, depth: number): TernaryTensor | MultiTritTensor {
  const d = depthOf(t);
  if (!(Number.isInteger(depth) && depth >= 1 && depth <= 6)) throw new TritwiseError('E_ARG', 'invalid depth', { where: 'retryte', expected: 'an integer 1..6', got: depth });
  if (t instanceof MultiTritTensor && t.form !== 'tryte') throw new TritwiseError('E_UNSUPPORTED', 'moving depth needs a tryte', { where: 'retryte', expected: 'tryte form', got: 'residual planes' });
  const { rows, cols } = t;
  if (latent.length !== rows * cols) throw new TritwiseError('E_SHAPE', 'latent values do not match the tryte', { where: 'retryte', expected: rows * cols, got: latent.length });
  const p0 = t instanceof MultiTritTensor ? t.planes[0]! : t;
  const f = 3 ** (d - depth);
  const gs = p0.groupSize;
  const G = gs ? Math.ceil(cols / gs) : 0;
  const scales = Float32Array.from(p0.scales);
  let groupScales: Float32Array | undefined;
  if (gs) groupScales = Float32Array.from(p0.groupScales!, (x) => Math.fround(x * f));
  else for (let r = 0; r < rows; r++) scales[r] = Math.fround(scales[r]! * f);
  const L = (3 ** depth - 1) / 2;
  const n = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const s = gs ? scales[r]! * groupScales![r * G + Math.floor(c / gs)]! : scales[r]!;
      const v = s > 0 ? Math.round(latent[r * cols + c]! / s) : 0;
      n[r * cols + c] = Math.max(-L, Math.min(L, Number.isFinite(v) ? v : 0));
    }
  }
  const opts = { scales, ...(gs ? { groupSize: gs, groupScales: groupScales! } : {}) };
  if (depth === 1) {
    const out = TernaryTensor.fromTrits(n, rows, cols, opts);
    out.quantizer = t.quantizer;
    return out;
  }
  return MultiTritTensor.fromIntegers(n, rows, cols, depth, { ...opts, quantizer: t.quantizer });
}

/** Mean KL(f32 ‖ model) over the positions of `batch` (trits as they are; nothing trains). */
function klOf(config: LlamaConfig, weights: Map<string, StoredTensor>, batch: Batch, th: Float32Array, tw: Float32Array): number {
  const m = TrainModel.fromWeights(config, weights, { mode: 'scales', trainNorms: false, trainEmbedding: false });
  const tape = new Tape(false);
  const h = m.hidden(tape, batch, { recomputeAttention: true });
  const r = headLoss(tape, h, m.headWeight(tape), batch.targets, { distill: { hidden: th, weight: tw, alpha: 1 } });
  return r.loss.data[0]!;
}

/**
 * Measure down_ℓ and up_ℓ for every tryte layer of `weights` (a trained plan; `latents` its latent
 * values w̃ per layer) on `batch`, against `teacher` (the f32 weights).
 */
export function measureDepthMoves(config: LlamaConfig, teacher: Map<string, StoredTensor>, weights: Map<string, StoredTensor>, latents: Map<string, Float32Array>, batch: Batch, onProgress?: (done: number, total: number) => void): { base: number; moves: DepthMove[] } {
  const tm = TrainModel.fromWeights(config, teacher, { mode: 'frozen' });
  const off = new Tape(false);
  const th = Float32Array.from(tm.hidden(off, batch, { recomputeAttention: true }).data);
  const tw = Float32Array.from(tm.headWeight(off).data);
  const base = klOf(config, weights, batch, th, tw);
  const names = [...latents.keys()].filter((n) => {
    const t = weights.get(n);
    return t instanceof TernaryTensor || t instanceof MultiTritTensor;
  });
  const moves: DepthMove[] = [];
  let done = 0;
  for (const name of names) {
    const t = weights.get(name) as TernaryTensor | MultiTritTensor;
    const d = depthOf(t);
    const at = (depth: number) => {
      const w = new Map(weights);
      w.set(name, retryte(t, latents.get(name)!, depth));
      const kl = klOf(config, w, batch, th, tw) - base;
      onProgress?.(++done, names.length * 2);
      return kl;
    };
    moves.push({ name, weights: t.rows * t.cols, depth: d, down: d > 1 ? at(d - 1) : null, up: d < 6 ? at(d + 1) : null });
  }
  return { base, moves };
}

/** New depths for a budget of `bits` stored trit bits per weight (greedy on the measured moves). */
export function reallocate(moves: readonly DepthMove[], bits: number): Map<string, number> {
  const N = moves.reduce((a, m) => a + m.weights, 0);
  const budget = (bits / BITS_PER_TRIT) * N;
  // value (KL change) of each allowed depth, made non-increasing in depth
  const value = (m: DepthMove, d: number): number => {
    if (d === m.depth) return 0;
    if (d === m.depth - 1) return Math.max(0, m.down ?? 0);
    return Math.min(0, m.up ?? 0);
  };
  const lo = (m: DepthMove) => (m.down === null ? m.depth : m.depth - 1);
  const hi = (m: DepthMove) => (m.up === null ? m.depth : m.depth + 1);
  const cur = new Map(moves.map((m) => [m.name, lo(m)]));
  let trits = moves.reduce((a, m) => a + m.weights * lo(m), 0);
  if (trits > budget + 1e-9) throw new TritwiseError('E_ARG', 'bit budget below the trained plan less one trit per layer', { where: 'reallocate', expected: `≥ ${((BITS_PER_TRIT * trits) / N).toFixed(3)} bits`, got: bits });
  for (;;) {
    let best: { m: DepthMove; d: number; ratio: number } | null = null;
    for (const m of moves) {
      const c = cur.get(m.name)!;
      for (let d = c + 1; d <= hi(m); d++) {
        const extra = m.weights * (d - c);
        if (trits + extra > budget + 1e-9) break;
        const ratio = (value(m, c) - value(m, d)) / extra;
        if (ratio > 0 && (!best || ratio > best.ratio)) best = { m, d, ratio };
      }
    }
    if (!best) break;
    trits += best.m.weights * (best.d - cur.get(best.m.name)!);
    cur.set(best.m.name, best.d);
  }
  return cur;
}

export interface ReallocSettings extends PlanQatSettings {
  /** QAT steps before the re-allocation; the rest of `steps` train the new plan */
  reallocAt: number;
  /** trit budget of the new plan, stored trit bits per weight (1.6 per trit) */
  bits: number;
  /** calibration windows the moves are measured on (default 8, of the training context) */
  probeWindows?: number;
  onRealloc?: (moves: DepthMove[], depths: Map<string, number>) => void;
}

export interface ReallocResult extends PlanQatResult {
  first: PlanQatResult;
  moves: DepthMove[];
  /** KL on the probe windows after the first phase */
  probeKl: number;
}

/**
 * QAT at the plan's depths for `reallocAt` steps, re-allocation of the depths from the trained
 * model (measureDepthMoves + reallocate), then QAT of the new plan for the remaining steps, its
 * latents starting where the first phase left them (re-rounded on the layers that moved).
 */
export async function planQatRealloc(config: LlamaConfig, teacher: Map<string, StoredTensor>, quantized: Map<string, StoredTensor>, data: TextSplit, bos: number, s: ReallocSettings): Promise<ReallocResult> {
  if (!(Number.isInteger(s.reallocAt) && s.reallocAt >= 1 && s.reallocAt < s.steps)) throw new TritwiseError('E_ARG', 'invalid re-allocation step', { where: 'plan QAT reallocAt', expected: `an integer 1..${s.steps - 1} (steps before the re-allocation)`, got: s.reallocAt });
  const { reallocAt, bits, probeWindows, onRealloc, ...qat } = s;
  const first = await planQat(config, teacher, quantized, data, bos, { ...qat, steps: reallocAt });
  const ctx = s.ctx ?? Math.min(256, config.seqLen);
  const probe = alignedBatch(data.train, probeWindows ?? 8, ctx, bos, (s.seed ?? 1) + 0x5eed, 0);
  const { base, moves } = measureDepthMoves(config, teacher, first.weights, first.latents, probe);
  const depths = reallocate(moves, bits);
  onRealloc?.(moves, depths);
  const next = new Map(first.weights);
  const init = new Map<string, StoredTensor>();
  for (const [name, lat] of first.latents) {
    const t = first.weights.get(name) as TernaryTensor | MultiTritTensor;
    if (depths.get(name) !== depthOf(t)) next.set(name, retryte(t, lat, depths.get(name)!));
    init.set(name, { shape: [t.rows, t.cols], data: lat });
  }
  const second = await planQat(config, teacher, next, data, bos, { ...qat, steps: s.steps - reallocAt, init, tritStart: 'f32', seed: (s.seed ?? 1) + 1 });
  return { ...second, first, moves, probeKl: base };
}
