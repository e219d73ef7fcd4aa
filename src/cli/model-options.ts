/**
 * model-options — the flags shared by the commands that open a model (--tokenizer, --backend,
 * --threads, and --attention for run/eval) and those that quantize one (--plan or --quantizer/--group-size/--activation/
 * --dense/--calibration).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import type { ActivationMode } from '../backend/backend.js';
import { backendNames } from '../backend/registry.js';
import { TritwiseError } from '../errors.js';
import { ATTENTION_MODES_HELP, attentionFactory, parseAttentionMode } from '../nn/attention-modes.js';
import { Model } from '../nn/model.js';
import { validatePlan, type QuantPlan } from '../quant/plan.js';
import { progressBar } from './progress.js';
import { installCachedCostModel } from '../sparse/cost-cache.js';

export interface ModelFlags {
  tokenizer?: string;
  backend?: string;
  threads?: number;
  /** attention mode of every layer (nn/attention-modes.ts) */
  attention?: string;
}

export interface PlanFlags {
  plan?: string;
  quantizer?: string;
  groupSize?: number;
  activation?: ActivationMode;
  dense?: string[];
  calibration?: string;
  calibrate?: string;
  depth?: number;
  prune?: string;
  actOrder?: boolean;
  tuneSteps?: number;
  tuneTrits?: boolean;
  tuneLr?: number;
  tritLr?: number;
}

export function intArg(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${s}"`);
  return n;
}

export function numArg(s: string): number {
  const n = Number(s);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${s}"`);
  return n;
}

/** The backend of commands that run a model (run, eval, demo): the fast CPU one; ref stays selectable. */
export const RUN_BACKEND = 'wasm';

export function addModelFlags(cmd: Command, defaultBackend?: string): Command {
  return cmd
    .option('--tokenizer <file>', 'tokenizer for llama2.c checkpoints (tokenizer.bin) or an HF tokenizer.json')
    .option('--backend <name>', `compute backend (${backendNames().join(', ')})`, defaultBackend)
    .option('--threads <n>', 'worker threads (CPU backends; default: one per core)', intArg);
}

/** `--attention <mode>` (run, eval): checked when parsed. */
export function addAttentionFlag(cmd: Command): Command {
  return cmd.option('--attention <mode>', `attention of every layer: ${ATTENTION_MODES_HELP} (default exact)`, (s: string) => {
    try {
      parseAttentionMode(s, '--attention');
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
    return s;
  });
}

export function addPlanFlags(cmd: Command): Command {
  return cmd
    .option('--plan <file>', 'a quantization plan (JSON); flags below override its defaults')
    .option('--quantizer <q>', 'absmean | twn | mse | threshold:Δ | percentile:p | calibrated | rtn | gptq | gptq-residual')
    .option('--group-size <n>', 'columns per scale group (multiple of 32; 0 = per row)', intArg)
    .option('--activation <mode>', 'activations of ternary layers: f32 | int8 | ternary | q8k')
    .option('--dense <pattern...>', 'layers kept dense (globs; default: output)')
    .option('--calibration <file>', 'calibration text (needed by the calibrated and gptq quantizers)')
    .option('--calibrate <file>', 'the same as --calibration')
    .option('--depth <d>', 'trits per weight, 1..6 (default quantizer: gptq with calibration text, else rtn)', intArg)
    .option('--act-order', 'gptq: quantize columns in decreasing input activity (calibration.actOrder)')
    .option('--tune-steps <n>', 'after quantizing, tune the scales (trits frozen) by KL to the f32 model on the calibration text for n steps (calibration.tune)', intArg)
    .option('--tune-trits', 'tune the trits too (latent positions through the straight-through estimator, tune.trits; implies tuning: 100 steps unless --tune-steps)')
    .option('--tune-lr <x>', 'peak learning rate of the scale multipliers and norms in tuning (tune.lr, default 2e-3)', numArg)
    .option('--trit-lr <x>', 'with --tune-trits: learning rate of the latent positions in grid steps per update (tune.tritLr, default 0.01)', numArg)
    .option('--prune <spec>', 'prune ternary layers: magnitude:S (to sparsity S) | rows:F (weakest rows) | N:M (e.g. 2:4), comma-separated');
}

export function hasPlanFlags(f: PlanFlags): boolean {
  return f.plan !== undefined || f.quantizer !== undefined || f.groupSize !== undefined || f.activation !== undefined || f.dense !== undefined || f.depth !== undefined || f.prune !== undefined || f.actOrder !== undefined || f.tuneSteps !== undefined || f.tuneTrits !== undefined || f.tuneLr !== undefined || f.tritLr !== undefined;
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new TritwiseError('E_IO', `cannot read ${what}`, { where: path, got: (e as Error).message, cause: e });
  }
}

export function buildPlan(f: PlanFlags): QuantPlan {
  let plan: QuantPlan = {};
  if (f.plan) {
    try {
      plan = JSON.parse(readText(f.plan, 'plan'));
    } catch (e) {
      if (e instanceof TritwiseError) throw e;
      throw new TritwiseError('E_FORMAT', 'plan is not valid JSON', { where: f.plan, got: (e as Error).message });
    }
    validatePlan(plan, f.plan);
  }
  plan = { ...plan };
  if (f.quantizer !== undefined) plan.quantizer = f.quantizer;
  if (f.groupSize !== undefined) plan.groupSize = f.groupSize;
  if (f.activation !== undefined) plan.activation = f.activation;
  if (f.dense !== undefined) plan.dense = f.dense;
  const calibration = f.calibrate ?? f.calibration;
  if (calibration !== undefined) plan.calibration = { ...plan.calibration, text: calibration };
  if (f.actOrder) plan.calibration = { ...plan.calibration, actOrder: true };
  const tune = {
    ...(f.tuneSteps !== undefined ? { steps: f.tuneSteps } : {}),
    ...(f.tuneTrits ? { trits: true } : {}),
    ...(f.tuneLr !== undefined ? { lr: f.tuneLr } : {}),
    ...(f.tritLr !== undefined ? { tritLr: f.tritLr } : {}),
  };
  if (Object.keys(tune).length > 0) plan.calibration = { ...plan.calibration, tune: { ...(typeof plan.calibration?.tune === 'object' ? plan.calibration.tune : {}), ...tune } };
  if (f.depth !== undefined) {
    plan.depth = f.depth;
    if (f.quantizer === undefined && plan.quantizer === undefined) plan.quantizer = plan.calibration?.text ? 'gptq' : 'rtn';
  }
  if (f.prune !== undefined) plan.prune = f.prune;
  return validatePlan(plan, 'command line');
}

export async function openModel(path: string, f: ModelFlags): Promise<Model> {
  const m = await Model.load(path, { tokenizer: f.tokenizer, backend: f.backend, threads: f.threads, attention: f.attention ? attentionFactory(f.attention, '--attention') : undefined });
  // the per-layer sparse layout choice reads this machine's cached cost model (src/sparse)
  const d = m.backend.describe();
  if (d.backend === 'wasm') installCachedCostModel(Number(d.threads), String(d.simd));
  return m;
}

/** Quantize with a progress bar; returns the new model and the wall time. */
export async function quantizeWithProgress(model: Model, plan: QuantPlan): Promise<{ model: Model; ms: number }> {
  const bar = progressBar('quantize');
  const text = plan.calibration?.text ? readText(plan.calibration.text, 'calibration text') : undefined;
  const t0 = performance.now();
  try {
    const q = await model.quantize(plan, { calibrationText: text, onProgress: (p) => bar.update(p.done, p.total, p.phase === 'calibrate' ? 'calibrating' : p.name) });
    return { model: q, ms: performance.now() - t0 };
  } finally {
    bar.stop();
  }
}
