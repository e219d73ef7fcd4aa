/**
 * plan-qat — quantization-aware fine-tuning of a mixed-depth tryte model (a quantization plan's
 * result, e.g. `--auto-bits 2.5` with gptq), distilled from its f32 model, with every layer kept at
 * the depth the plan gave it.
 *
 * Start: the plan's trytes (gptq's integers n₀ on the step s₀[r,g] of each row and group), and the
 * f32 model as teacher. What trains (train/trit-linear.ts, TrainModel mode 'trits'):
 *   u[r,c]   latent position of every quantized weight, in grid steps, starting inside n₀'s cell
 *            where the f32 weight sits: u₀ = n₀ + clamp(W/s₀ − n₀, ±0.49) (so step 0 is exactly the
 *            plan's model); the forward pass uses n = clamp(round(u), ±L), L = (3^d − 1)/2 with the
 *            layer's own d, and ∂L/∂u comes through the straight-through estimator
 *   m[r,g]   a multiplier of each (row, group) step
 *   the RMSNorm vectors and (by default) the token embedding = shared classifier, which stay f32
 *            in the saved model anyway (they are not in the trit budget)
 * Objective: KL(teacher ‖ student) per position, the teacher's top-k targets cached per aligned
 * training window (train/teacher-cache.ts), optionally mixed with cross-entropy:
 *   L = α·KL_topk + (1 − α)·CE           (α = 1 by default: pure distillation, no labels)
 * Optimizer: the fine-tuning trainer (train/trainer.ts: AdamW without decay, warm-up + cosine,
 * clip 1, progress hooks, time cap), with per-parameter rates: u at `tritLr` steps per update, the
 * embedding at `embeddingLr`, the multipliers and norms at `lr`.
 *
 * Export: each layer's final integers as a tryte of the same depth, group size and form, with m
 * written into its scales, so the stored trits (and bits per weight) are exactly the plan's.
 */
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { TextSplit } from './data.js';
import { TrainModel } from './llama-train.js';
import { Trainer, type StepReport, type TrainResult } from './trainer.js';
import { TritTunedWeight } from './trit-linear.js';
import type { EvalPoint } from './train-state.js';

export interface PlanQatSettings {
  steps: number;
  /** peak rate of the scale multipliers and norms (default 2e-3) */
  lr?: number;
  /** peak rate of the latent positions, in grid steps per update (default 0.01) */
  tritLr?: number;
  /** peak rate of the token embedding (default 1e-3; 0 keeps it frozen) */
  embeddingLr?: number;
  /** windows per step (default 8) */
  batch?: number;
  /** tokens per window (default min(256, the model's context)) */
  ctx?: number;
  /** teacher targets kept per position (default 32) */
  topK?: number;
  /** weight of the KL term against cross-entropy (default 1: distillation only) */
  alpha?: number;
  /** where the latents start: at the f32 weight inside the cell (default) or at the integer */
  tritStart?: 'f32' | 'centre';
  seed?: number;
  /**
   * latent values to start from (per layer, in the units of the weights; default the f32 teacher's
   * weights): u₀ = n₀ + clamp(w̃/s₀ − n₀, ±0.49). A previous run's `latents` resume its positions.
   */
  init?: Map<string, StoredTensor>;
  /** validate every n steps (0: only at the end; default 0) */
  evalEvery?: number;
  evalChunks?: number;
  /** stop after this many seconds (the export is of the model as it is then) */
  maxSeconds?: number;
  /**
   * plan the run over this many wall seconds instead of `steps` (trainer.ts budgetSeconds: the
   * cosine follows the elapsed time, warm-up the first 6 %, and the run ends within the budget;
   * `steps` is then only a cap)
   */
  budgetSeconds?: number;
  /** threads for data-parallel training (trainer.ts, parallel.ts; default 1) */
  threads?: number;
  signal?: AbortSignal;
  onStep?: (s: StepReport, student: TrainModel) => void;
  onEval?: (e: EvalPoint) => void;
}

export interface PlanQatResult {
  /** the quantized weights after training (same keys as the input) */
  weights: Map<string, StoredTensor>;
  train: TrainResult;
  /** weights whose integer differs from the plan's, and the weights of the trained tryte layers */
  changed: number;
  weightsTuned: number;
  /** depth per trained layer (equal to the input's, by construction) */
  depths: Map<string, number>;
  /** the latent value of every weight, w̃ = u·m·s₀ (where it sits on its layer's grid, in weight units) */
  latents: Map<string, Float32Array>;
}

const depthOf = (t: StoredTensor): number => (t instanceof MultiTritTensor ? t.depth : 1);

/** Check the settings; a bad one is an E_ARG naming it. */
export function checkPlanQatSettings(s: PlanQatSettings, where = 'plan QAT'): void {
  if (!(Number.isInteger(s.steps) && s.steps > 0)) throw new TritwiseError('E_ARG', 'QAT steps must be a positive integer', { where: `${where} steps`, expected: 'an integer ≥ 1', got: s.steps });
  for (const k of ['lr', 'tritLr'] as const) {
    const v = s[k];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new TritwiseError('E_ARG', `${k} must be a positive number`, { where: `${where} ${k}`, got: v });
  }
  if (s.embeddingLr !== undefined && !(typeof s.embeddingLr === 'number' && s.embeddingLr >= 0 && Number.isFinite(s.embeddingLr))) throw new TritwiseError('E_ARG', 'embeddingLr must be a number ≥ 0', { where: `${where} embeddingLr`, got: s.embeddingLr });
  if (s.alpha !== undefined && !(typeof s.alpha === 'number' && s.alpha > 0 && s.alpha <= 1)) throw new TritwiseError('E_ARG', 'alpha must be in (0, 1]', { where: `${where} alpha`, expected: 'the KL weight, 0 < α ≤ 1', got: s.alpha });
  for (const k of ['batch', 'ctx', 'topK'] as const) {
    const v = s[k];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new TritwiseError('E_ARG', `${k} must be a positive integer`, { where: `${where} ${k}`, got: v });
  }
  if (s.threads !== undefined && !(Number.isInteger(s.threads) && s.threads > 0)) throw new TritwiseError('E_ARG', 'threads must be a positive integer', { where: `${where} threads`, expected: 'an integer ≥ 1', got: s.threads });
  if (s.budgetSeconds !== undefined && !(typeof s.budgetSeconds === 'number' && s.budgetSeconds > 0 && Number.isFinite(s.budgetSeconds))) throw new TritwiseError('E_ARG', 'budgetSeconds must be a positive number', { where: `${where} budgetSeconds`, expected: 'seconds > 0', got: s.budgetSeconds });
  if (s.tritStart !== undefined && s.tritStart !== 'f32' && s.tritStart !== 'centre') throw new TritwiseError('E_ARG', "tritStart must be 'f32' or 'centre'", { where: `${where} tritStart`, got: s.tritStart });
}

/**
 * Train `quantized` (tryte layers at the plan's depths, f32 elsewhere) towards `teacher` (the f32
 * weights it was quantized from) on `data.train`; `data.val` is the validation text. The inputs
 * are not modified.
 */
export async function planQat(config: LlamaConfig, teacher: Map<string, StoredTensor>, quantized: Map<string, StoredTensor>, data: TextSplit, bos: number, s: PlanQatSettings): Promise<PlanQatResult> {
  checkPlanQatSettings(s);
  for (const [n, t] of teacher) {
    if (t instanceof TernaryTensor || t instanceof MultiTritTensor) throw new TritwiseError('E_ARG', 'plan QAT distils from an f32 model', { where: `teacher: ${n}`, expected: 'the f32 checkpoint the plan was applied to', got: `a ${depthOf(t)}-trit layer` });
  }
  const depths = new Map<string, number>();
  for (const [n, t] of quantized) {
    if (!(t instanceof TernaryTensor || t instanceof MultiTritTensor)) continue;
    if (t instanceof MultiTritTensor && t.form !== 'tryte') throw new TritwiseError('E_UNSUPPORTED', 'plan QAT needs tryte layers', { where: n, expected: 'one scale shared by the planes (quantizer gptq or rtn)', got: 'residual planes with independent scales' });
    depths.set(n, depthOf(t));
  }
  if (depths.size === 0) throw new TritwiseError('E_ARG', 'no quantized layer to train', { where: 'plan QAT', expected: 'a plan that quantizes at least one layer', got: 'only f32 layers' });
  const ctx = s.ctx ?? Math.min(256, config.seqLen);
  // the trainer validates at the end: refuse a too-short validation part before training, not after
  if (data.val.length < ctx) throw new TritwiseError('E_ARG', 'validation text shorter than one window', { where: 'plan QAT data.val', expected: `≥ ${ctx} tokens (the training context)`, got: `${data.val.length} tokens` });
  const lr = s.lr ?? 2e-3;
  const tritLr = s.tritLr ?? 1e-2;
  const embLr = s.embeddingLr ?? 1e-3;
  const student = TrainModel.fromWeights(config, quantized, { mode: 'trits', trainNorms: true, trainEmbedding: embLr > 0, ...((s.tritStart ?? 'f32') === 'f32' ? { tritInit: s.init ?? teacher } : {}) });
  const teach = TrainModel.fromWeights(config, teacher, { mode: 'frozen' });
  const trainer = new Trainer(student, data, bos, {
    steps: s.steps,
    lr,
    batch: s.batch ?? 8,
    ctx,
    weightDecay: 0,
    seed: s.seed ?? 1,
    evalEvery: s.evalEvery ?? 0,
    evalChunks: s.evalChunks,
    recomputeAttention: true,
    distill: { kind: 'kl', teacher: teach, alpha: s.alpha ?? 1, topK: s.topK ?? 32 },
    windows: 'aligned',
    maxSeconds: s.maxSeconds,
    ...(s.budgetSeconds !== undefined ? { budgetSeconds: s.budgetSeconds } : {}),
    ...(s.threads !== undefined ? { threads: s.threads } : {}),
    signal: s.signal,
    onStep: s.onStep ? (r) => s.onStep!(r, student) : undefined,
    onEval: s.onEval,
  });
  for (const name of trainer.opt.params.keys()) {
    if (name.endsWith('.latent')) trainer.opt.lrScale.set(name, tritLr / lr);
    else if (name === 'tok_embeddings') trainer.opt.lrScale.set(name, embLr / lr);
  }
  const train = await trainer.run();
  const ex = student.export();
  const weights = new Map(quantized);
  for (const [k, v] of ex.weights) weights.set(k, v);
  let changed = 0, weightsTuned = 0;
  const latents = new Map<string, Float32Array>();
  for (const [n, lin] of student.linears) {
    const q = (lin as { q?: unknown }).q;
    if (!(q instanceof TritTunedWeight)) continue;
    changed += q.changed();
    weightsTuned += q.rows * q.cols;
    const t = weights.get(n) as TernaryTensor | MultiTritTensor;
    const p0 = t instanceof MultiTritTensor ? t.planes[0]! : t;
    const lat = new Float32Array(q.rows * q.cols);
    for (let r = 0; r < q.rows; r++) for (let c = 0; c < q.cols; c++) lat[r * q.cols + c] = q.u.data[r * q.cols + c]! * p0.scaleAt(r, c);
    latents.set(n, lat);
    if (depthOf(weights.get(n)!) !== depths.get(n)) throw new TritwiseError('E_INVARIANT', 'plan QAT changed a layer depth', { where: n, expected: depths.get(n), got: depthOf(weights.get(n)!) });
  }
  return { weights, train, changed, weightsTuned, depths, latents };
}
