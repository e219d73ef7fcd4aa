/**
 * quantize-qat — the `--qat-steps` part of `tritwise quantize`: after the plan (fixed depth,
 * `--plan`, or `--auto-bits`) has been applied, fine-tune the quantized model towards the f32 one
 * with quantization-aware training at the plan's depths (src/train/plan-qat.ts), then save that.
 *
 *   tritwise quantize stories260K.bin --tokenizer tok512.bin --auto-bits 2.5 --calibrate calib.txt \
 *     --act-order --qat-steps 400 [--qat-text train.txt] -o out/
 *
 * The training text (`--qat-text`, default the calibration text) is split at a paragraph break:
 * its last 5 % is the trainer's validation part. Ctrl-C stops after the current step and saves
 * the model as it is then.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { TritwiseError } from '../errors.js';
import { Model } from '../nn/model.js';
import { splitText } from '../train/data.js';
import { checkPlanQatSettings, planQat, type PlanQatResult } from '../train/plan-qat.js';
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
    .option('--qat-minutes <m>', 'stop training after m minutes (the model as it is then is saved)', numArg);
}

export function usesQat(f: QatFlags): boolean {
  return f.qatSteps !== undefined || f.qatText !== undefined || f.qatLr !== undefined || f.qatTritLr !== undefined || f.qatEmbeddingLr !== undefined || f.qatBatch !== undefined || f.qatCtx !== undefined || f.qatMinutes !== undefined;
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
}

/** Run plan QAT on `q` (quantized from the f32 `source`); returns the trained model and a report. */
/** Check the QAT flags before any work (a bad one is an E_ARG naming it); returns the text file. */
export function checkQatFlags(f: QatFlags, calibrationText?: string): string {
  if (f.qatSteps === undefined) throw new TritwiseError('E_ARG', 'QAT settings without a step count', { where: 'quantize --qat-*', expected: '--qat-steps <n>', got: 'no --qat-steps' });
  const file = f.qatText ?? calibrationText;
  if (!file) throw new TritwiseError('E_ARG', 'QAT needs training text', { where: 'quantize --qat-steps', expected: '--qat-text <file> or --calibrate <file>', got: 'none' });
  if (f.qatMinutes !== undefined && !(f.qatMinutes > 0)) throw new TritwiseError('E_ARG', 'invalid time limit', { where: 'quantize --qat-minutes', expected: '> 0', got: f.qatMinutes });
  checkPlanQatSettings({ steps: f.qatSteps, lr: f.qatLr, tritLr: f.qatTritLr, embeddingLr: f.qatEmbeddingLr, batch: f.qatBatch, ctx: f.qatCtx }, 'quantize --qat');
  return file;
}

export async function runQat(source: Model, q: Model, f: QatFlags & { json?: boolean }, calibrationText?: string): Promise<{ model: Model; report: QatReport }> {
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
  try {
    r = await planQat(source.config, source.weights, q.weights, data, tok.bos, {
      steps,
      ...(f.qatLr !== undefined ? { lr: f.qatLr } : {}),
      ...(f.qatTritLr !== undefined ? { tritLr: f.qatTritLr } : {}),
      ...(f.qatEmbeddingLr !== undefined ? { embeddingLr: f.qatEmbeddingLr } : {}),
      ...(f.qatBatch !== undefined ? { batch: f.qatBatch } : {}),
      ctx,
      ...(f.qatMinutes !== undefined ? { maxSeconds: f.qatMinutes * 60 } : {}),
      evalEvery: Math.max(1, Math.round(steps / 4)),
      evalChunks: 8,
      signal: ac.signal,
      onStep: (s) => bar?.update(s.step, s.steps, `KL ${fixed(s.loss, 4)} | ${fixed(s.tokens_per_second, 0)} tok/s${val}`),
      onEval: (e) => {
        val = ` | val ppl ${fixed(e.val_ppl, 3)}`;
      },
    });
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSigint);
  }
  const m = await Model.fromCheckpoint({ config: q.config, weights: r.weights, activations: q.activations, tokenizer: q.tokenizer, plan: q.info.plan }, { backend: q.backend });
  const h = r.train.history;
  return {
    model: m,
    report: {
      steps: r.train.steps_done, stopped: r.train.stopped, tokens: r.train.tokens, seconds: r.train.elapsed_s,
      ...(h.length ? { val_ppl_start: h[0]!.val_ppl, val_ppl_end: h.at(-1)!.val_ppl } : {}),
      changed: r.changed, weights_tuned: r.weightsTuned, train_tokens: data.train.length,
    },
  };
}
