/**
 * quantize-qat — the `--qat-steps` part of `tritwise quantize`: after the plan (fixed depth,
 * `--plan`, or `--auto-bits`) has been applied, fine-tune the quantized model towards the f32 one
 * with quantization-aware training at the plan's depths (src/train/plan-qat.ts), then save that.
 *
 *   tritwise quantize stories260K.bin --tokenizer tok512.bin --auto-bits 2.5 --calibrate calib.txt \
 *     --act-order --qat-steps 400 [--qat-text train.txt] [--qat-threads 2] [--qat-budget-minutes 30] -o out/
 *
 * The training text (`--qat-text`, default the calibration text) is split at a paragraph break:
 * its last 5 % is the trainer's validation part. Ctrl-C stops after the current step and saves
 * the model as it is then.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { TritwiseError } from '../errors.js';
import { Model } from '../nn/model.js';
import { splitText } from '../train/data.js';
import type { StoredTensor } from '../io/weights-file.js';
import { BITS_PER_TRIT } from '../quant/auto-depth.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { checkPlanQatSettings, planQat, type PlanQatResult, type PlanQatSettings } from '../train/plan-qat.js';
import { planQatRealloc, type DepthMove } from '../train/plan-realloc.js';
import type { EvalPoint } from '../train/train-state.js';
import type { StepReport } from '../train/trainer.js';
import { intArg, numArg, readText } from './model-options.js';
import { fixed } from './output.js';
import { progressBar } from './progress.js';

export interface QatFlags {
  qatSteps?: number;
  qatText?: string;
  qatLr?: number;
  qatTritLr?: number;
  qatEmbeddingLr?: number;
  qatBatch?: number;
  qatCtx?: number;
  qatMinutes?: number;
  qatRealloc?: boolean;
  qatThreads?: number;
  qatBudgetMinutes?: number;
  qatPruneFrom?: number;
}

function nonNegative(s: string): number {
  const n = numArg(s);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected a number ≥ 0, got "${s}"`);
  return n;
}

export function addQatFlags(cmd: Command): Command {
  return cmd
    .option('--qat-steps <n>', 'after quantizing, fine-tune the quantized model at the plan\'s depths (latent trits through the straight-through estimator, embedding, norms and scales) by KL to the f32 model for n steps', intArg)
    .option('--qat-text <file>', 'training text of --qat-steps (default: the --calibrate text); its last 5 % validates')
    .option('--qat-lr <x>', 'peak learning rate of the scale multipliers and norms (default 2e-3)', numArg)
    .option('--qat-trit-lr <x>', 'peak learning rate of the latent trit positions, grid steps per update (default 0.01)', numArg)
    .option('--qat-embedding-lr <x>', 'peak learning rate of the token embedding (default 1e-3; 0 = frozen)', nonNegative)
    .option('--qat-batch <n>', 'windows per step (default 8)', intArg)
    .option('--qat-ctx <n>', 'tokens per window (default min(256, the model context))', intArg)
    .option('--qat-minutes <m>', 'stop training after m minutes (the model as it is then is saved; with --qat-realloc, m/2 per phase)', numArg)
    .option('--qat-threads <n>', 'data-parallel training threads (each step\'s windows split between worker threads; default 1)', intArg)
    .option('--qat-budget-minutes <m>', 'plan the training over m minutes of wall time instead of --qat-steps: the cosine follows the clock and the run ends within m minutes (--qat-steps is then a cap; with --qat-realloc, m/2 per phase)', numArg)
    .option('--qat-realloc', 'half-way through, move trits between layers by their KL change one trit up/down measured on the trained model (same trit budget: --auto-bits, else the plan\'s), then train the new plan')
    .option('--qat-prune-from <d>', 'with --auto-bits b: instead of the measured plan, start every layer at d trits, train the first half, then drop one trit from the layers whose drop costs the trained model the least KL per trit until b bits per weight (1.6(d−1) ≤ b < 1.6d), and train the new plan (implies --qat-realloc)', intArg);
}

export function usesQat(f: QatFlags): boolean {
  return f.qatSteps !== undefined || f.qatText !== undefined || f.qatLr !== undefined || f.qatTritLr !== undefined || f.qatEmbeddingLr !== undefined || f.qatBatch !== undefined || f.qatCtx !== undefined || f.qatMinutes !== undefined || f.qatRealloc !== undefined || f.qatThreads !== undefined || f.qatBudgetMinutes !== undefined || f.qatPruneFrom !== undefined;
}

export interface QatReport {
  steps: number;
  stopped: string;
  tokens: number;
  seconds: number;
  val_ppl_start?: number;
  val_ppl_end?: number;
  changed: number;
  weights_tuned: number;
  train_tokens: number;
  /** threads that trained */
  threads: number;
  /** with --qat-realloc: the depths before and after, and the measured moves */
  realloc?: { at: number; bits: number; before: Record<string, number>; after: Record<string, number>; moves: DepthMove[] };
}

/** Average stored trit bits per weight (1.6 per trit) of the tryte layers of `w`. */
function tritBits(w: Map<string, StoredTensor>): number {
  let n = 0, trits = 0;
  for (const t of w.values()) {
    if (!(t instanceof TernaryTensor || t instanceof MultiTritTensor)) continue;
    n += t.rows * t.cols;
    trits += t.rows * t.cols * (t instanceof MultiTritTensor ? t.depth : 1);
  }
  return (BITS_PER_TRIT * trits) / Math.max(1, n);
}

/** `plan` with exact-name rules giving the re-allocated depths (they replace earlier exact rules for those layers). */
export function planWithDepths<P extends { layers?: { match: string }[] }>(plan: P, depths: Record<string, number>): P {
  return { ...plan, layers: [...(plan.layers ?? []).filter((l) => !(l.match in depths)), ...Object.entries(depths).map(([match, depth]) => ({ match, depth }))] };
}

/** Run plan QAT on `q` (quantized from the f32 `source`); returns the trained model and a report. */
/** Check the QAT flags before any work (a bad one is an E_ARG naming it); returns the text file. */
export function checkQatFlags(f: QatFlags, calibrationText?: string): string {
  if (f.qatSteps === undefined) throw new TritwiseError('E_ARG', 'QAT settings without a step count', { where: 'quantize --qat-*', expected: '--qat-steps <n>', got: 'no --qat-steps' });
  const file = f.qatText ?? calibrationText;
  if (!file) throw new TritwiseError('E_ARG', 'QAT needs training text', { where: 'quantize --qat-steps', expected: '--qat-text <file> or --calibrate <file>', got: 'none' });
  if (f.qatPruneFrom !== undefined && !(Number.isInteger(f.qatPruneFrom) && f.qatPruneFrom >= 2 && f.qatPruneFrom <= 6)) throw new TritwiseError('E_ARG', 'invalid start depth', { where: 'quantize --qat-prune-from', expected: 'an integer 2..6 (trits per weight before pruning)', got: f.qatPruneFrom });
  if ((f.qatRealloc || f.qatPruneFrom !== undefined) && f.qatSteps !== undefined && f.qatSteps < 2) throw new TritwiseError('E_ARG', 're-allocation needs two phases of training', { where: 'quantize --qat-realloc', expected: '--qat-steps ≥ 2', got: f.qatSteps });
  if (f.qatMinutes !== undefined && !(f.qatMinutes > 0)) throw new TritwiseError('E_ARG', 'invalid time limit', { where: 'quantize --qat-minutes', expected: '> 0', got: f.qatMinutes });
  if (f.qatBudgetMinutes !== undefined && !(f.qatBudgetMinutes > 0 && Number.isFinite(f.qatBudgetMinutes))) throw new TritwiseError('E_ARG', 'invalid time budget', { where: 'quantize --qat-budget-minutes', expected: '> 0', got: f.qatBudgetMinutes });
  if (f.qatBudgetMinutes !== undefined && f.qatMinutes !== undefined) throw new TritwiseError('E_ARG', 'two time limits', { where: 'quantize --qat-budget-minutes', expected: 'either --qat-minutes (stop) or --qat-budget-minutes (plan the schedule over the time)', got: 'both' });
  if (f.qatThreads !== undefined && !(Number.isInteger(f.qatThreads) && f.qatThreads >= 1)) throw new TritwiseError('E_ARG', 'invalid thread count', { where: 'quantize --qat-threads', expected: 'an integer ≥ 1', got: f.qatThreads });
  checkPlanQatSettings({ steps: f.qatSteps, lr: f.qatLr, tritLr: f.qatTritLr, embeddingLr: f.qatEmbeddingLr, batch: f.qatBatch, ctx: f.qatCtx }, 'quantize --qat');
  return file;
}

export async function runQat(source: Model, q: Model, f: QatFlags & { json?: boolean; autoBits?: number }, calibrationText?: string): Promise<{ model: Model; report: QatReport }> {
  const file = checkQatFlags(f, calibrationText);
  const steps = f.qatSteps!;
  const tok = source.requireTokenizer();
  const data = splitText(readText(file, 'QAT text'), tok, 0.05);
  const ctx = f.qatCtx ?? Math.min(256, source.config.seqLen);
  if (data.val.length < ctx) throw new TritwiseError('E_ARG', 'QAT text too short', { where: `quantize --qat-text ${file}`, expected: `a validation part (last 5 %) of ≥ ${ctx} tokens (lower --qat-ctx or give more text)`, got: `${data.val.length} tokens` });
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  const bar = f.json ? null : progressBar('qat');
  let r: PlanQatResult;
  let val = '';
  let phase2 = false;
  let realloc: QatReport['realloc'];
  const two = f.qatRealloc || f.qatPruneFrom !== undefined;
  try {
    const settings: PlanQatSettings = {
      steps,
      ...(f.qatLr !== undefined ? { lr: f.qatLr } : {}),
      ...(f.qatTritLr !== undefined ? { tritLr: f.qatTritLr } : {}),
      ...(f.qatEmbeddingLr !== undefined ? { embeddingLr: f.qatEmbeddingLr } : {}),
      ...(f.qatBatch !== undefined ? { batch: f.qatBatch } : {}),
      ctx,
      ...(f.qatMinutes !== undefined ? { maxSeconds: (f.qatMinutes * 60) / (two ? 2 : 1) } : {}),
      ...(f.qatBudgetMinutes !== undefined ? { budgetSeconds: (f.qatBudgetMinutes * 60) / (two ? 2 : 1) } : {}),
      ...(f.qatThreads !== undefined ? { threads: f.qatThreads } : {}),
      evalEvery: Math.max(1, Math.round(steps / 4)),
      evalChunks: 8,
      signal: ac.signal,
      onStep: (s) => bar?.update(s.step, s.steps, `KL ${fixed(s.loss, 4)} | ${fixed(s.tokens_per_second, 0)} tok/s${val}`),
      onEval: (e: EvalPoint) => {
        val = ` | val ppl ${fixed(e.val_ppl, 3)}`;
      },
    };
    if (f.qatRealloc || f.qatPruneFrom !== undefined) {
      const at = Math.floor(steps / 2);
      const bits = f.autoBits ?? tritBits(q.weights);
      const rr = await planQatRealloc(source.config, source.weights, q.weights, data, tok.bos, { ...settings, reallocAt: at, bits, onStep: (s: StepReport) => bar?.update(s.step + (phase2 ? at : 0), steps, `KL ${fixed(s.loss, 4)} | ${fixed(s.tokens_per_second, 0)} tok/s${val}`), onRealloc: () => (phase2 = true) });
      const depth = (w: Map<string, StoredTensor>) => Object.fromEntries([...rr.depths.keys()].map((n) => [n, (w.get(n) instanceof MultiTritTensor ? (w.get(n) as MultiTritTensor).depth : 1)]));
      realloc = { at, bits, before: depth(q.weights), after: depth(rr.weights), moves: rr.moves };
      r = { ...rr, train: { ...rr.train, steps_done: rr.first.train.steps_done + rr.train.steps_done, tokens: rr.first.train.tokens + rr.train.tokens, elapsed_s: rr.first.train.elapsed_s + rr.train.elapsed_s, history: [...rr.first.train.history, ...rr.train.history] } };
    } else r = await planQat(source.config, source.weights, q.weights, data, tok.bos, settings);
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSigint);
  }
  const plan = realloc && q.info.plan ? planWithDepths(q.info.plan, realloc.after) : q.info.plan;
  const m = await Model.fromCheckpoint({ config: q.config, weights: r.weights, activations: q.activations, tokenizer: q.tokenizer, plan }, { backend: q.backend });
  const h = r.train.history;
  return {
    model: m,
    report: {
      steps: r.train.steps_done, stopped: r.train.stopped, tokens: r.train.tokens, seconds: r.train.elapsed_s,
      ...(h.length ? { val_ppl_start: h[0]!.val_ppl, val_ppl_end: h.at(-1)!.val_ppl } : {}),
      changed: r.changed, weights_tuned: r.weightsTuned, train_tokens: data.train.length, threads: r.train.threads,
      ...(realloc ? { realloc } : {}),
    },
  };
}
