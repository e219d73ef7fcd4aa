/**
 * trainer — the fine-tuning loop:
 *
 *   for step = 0 … steps−1:
 *     lr = warm-up + cosine schedule (optimizer.ts)
 *     for micro = 0 … accum−1:  batch(step, micro) → loss → backward, gradients scaled by 1/accum
 *     clip to `clip` (global norm), AdamW step
 *     every `evalEvery` steps: validation perplexity (chunk protocol on the held-out part)
 *     every `checkpointEvery` steps: write the training state atomically (train-state.ts)
 *
 * A run that finds its checkpoint resumes from it; batches depend only on (seed, step, micro), so
 * a run interrupted and resumed ends bit-identical to one that was not. An AbortSignal (Ctrl-C
 * in the CLI) stops after the current step and writes a checkpoint first. The loop yields to the
 * event loop between steps so progress bars and signals stay live. With `threads` > 1 each
 * micro-batch's sequences are split between the main thread and workers (parallel.ts).
 * With `budgetSeconds` the run is planned over wall time instead of steps: the cosine (and, unless
 * `warmup` steps are given, the warm-up: the first 6 % of the time) follows the elapsed time
 * (optimizer.ts learningRateByTime), and before each step the loop checks that the
 * step, the final validation and the final checkpoint still fit in the budget, from their measured
 * costs (each padded: the next step by 1.3× the mean of the last 8, validation and checkpoint by
 * 1.2×, and 0.5 % of the budget, at most 2 s, kept free); the first step that would not fit is not taken, so the run ends — final validation
 * included — within the budget, having used it. Such a run depends on the machine's speed, so it
 * is not reproducible (a resumed run continues the schedule from the elapsed time in the
 * checkpoint); with a deterministic `clock` it is, resumes included (tested).
 * With `quantRamp` f (QAT, progressive quantization) the forward pass blends the latent f32
 * weights into the trits, λ = min(1, p/f) with p the run's progress (step/steps, or the share of
 * the budget's training time), so the first f of the run moves from f32 to pure trits (qat.ts
 * Q_λ); validation sees the current λ, the final one λ = 1.
 * With cached distillation (distill.topK) or `windows: 'aligned'` the batches come from fixed
 * windows visited epoch by epoch (data.ts alignedBatch), and the teacher's top-k targets of each
 * window are computed the first time it is trained on and reused after (teacher-cache.ts).
 */
import { existsSync } from 'node:fs';
import { TritwiseError } from '../errors.js';
import { alignedBatch, alignedWindowCount, validationBatches, trainBatch, type TextSplit } from './data.js';
import type { Batch, Distill, LossOptions, TrainModel } from './llama-train.js';
import { AdamW, learningRate, learningRateByTime } from './optimizer.js';
import { Tape } from './tape.js';
import { loadTrainState, saveTrainState, type EvalPoint, type RunTiming } from './train-state.js';
import { DataParallel } from './parallel.js';
import { loadWasmGemm, wasmGemmReady } from './wasm-kernels.js';
import { TeacherCache, type BatchSoft } from './teacher-cache.js';

export interface TrainOptions {
  steps: number;
  /** sequences per micro-batch (default 4) */
  batch?: number;
  /** tokens per sequence (default min(256, the model's context)) */
  ctx?: number;
  /** micro-batches per optimizer step (default 1) */
  accum?: number;
  lr: number;
  /** final learning rate of the cosine (default lr/10) */
  minLr?: number;
  /** warm-up steps (default min(100, steps/10); with budgetSeconds: `warmupFraction` of the time instead) */
  warmup?: number;
  /** with budgetSeconds and no `warmup`: the fraction of the training time the warm-up takes (default 0.06) */
  warmupFraction?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** global gradient-norm clip (default 1; 0 = off) */
  clip?: number;
  seed?: number;
  /** validate before training, every n steps (default: 10 times per run) and at the end; 0 = only at the end */
  evalEvery?: number;
  /** validation chunks (default all) */
  evalChunks?: number;
  /** checkpoint file; resumed from when it exists */
  checkpoint?: string;
  /** write the checkpoint every n steps (default: at each validation) */
  checkpointEvery?: number;
  recompute?: boolean;
  recomputeAttention?: boolean;
  distill?: Distill;
  /** QAT progressive quantization: the fraction of the run over which λ ramps 0 → 1 (0 = off, pure trits from the start) */
  quantRamp?: number;
  /** training windows: drawn at random positions (default), or fixed aligned windows in epochs (always with distill.topK) */
  windows?: 'random' | 'aligned';
  /** threads for data-parallel training (default 1; parallel.ts): each micro-batch's rows are split between them */
  threads?: number;
  /** stop (after writing a checkpoint) once this many seconds of this run have passed */
  maxSeconds?: number;
  /**
   * plan the run over this many wall seconds (all runs of it, resumed ones included) instead of
   * `steps`: cosine over the elapsed time, and the run ends, final validation and checkpoint
   * included, within the budget; `steps` is then only a cap
   */
  budgetSeconds?: number;
  /**
   * with budgetSeconds: the clock reading the budget counts from (default: when run() starts); the
   * CLI passes 0, the process start on the default clock, so loading the model and tokenizing the
   * text count too (the time until run() starts is added to the run's elapsed time)
   */
  budgetStart?: number;
  /** the clock in seconds (default performance.now()/1000, i.e. since the process started; tests pass a deterministic one) */
  clock?: () => number;
  signal?: AbortSignal;
  onStep?: (s: StepReport) => void;
  onEval?: (e: EvalPoint) => void;
  /** called after each step's checkpoint decision; a throw here simulates a crash (tests) */
  afterStep?: (step: number) => void;
}

export interface StepReport {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokens_per_second: number;
  elapsed_s: number;
}

export interface TrainResult {
  steps_done: number;
  stopped: 'done' | 'time' | 'signal';
  resumed_from: number | null;
  tokens: number;
  /** wall seconds of all runs that led here (resumed runs included) */
  elapsed_s: number;
  tokens_per_second: number;
  /** tokens/s over the second half of this run's steps (start-up and warm-up left out; validation passes included) */
  tokens_per_second_steady: number;
  /** threads that trained (data-parallel when > 1) */
  threads: number;
  /** CPU seconds (user + system, all threads of the process) this run spent training, validation included */
  cpu_s: number;
  final_loss: number;
  history: EvalPoint[];
  trainable: number;
  peak_rss_bytes: number;
  memory: TrainMemory;
}

/**
 * Where training memory goes. weights/gradients/optimizer are computed from the model (a
 * trainable value has a gradient and two AdamW moments); peak_array_buffers_bytes is measured:
 * the largest process.memoryUsage().arrayBuffers seen after a forward pass (all typed arrays:
 * weights, saved activations, the token streams, the kernels' memory), which in a small model
 * is mostly activations.
 */
export interface TrainMemory {
  weights_bytes: number;
  gradient_bytes: number;
  optimizer_bytes: number;
  peak_array_buffers_bytes: number;
}

function fnv(a: Int32Array): string {
  let h = 2166136261;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i]!, 16777619);
  return (h >>> 0).toString(16);
}

/** Progressive quantization: λ = min(1, progress / ramp) (ramp 0: always 1). */
export function quantBlendAt(progress: number, ramp: number): number {
  return ramp > 0 ? Math.min(1, Math.max(0, progress / ramp)) : 1;
}

export class Trainer {
  readonly opt: AdamW;
  readonly o: Required<Pick<TrainOptions, 'batch' | 'ctx' | 'accum' | 'warmup' | 'clip' | 'seed' | 'evalEvery'>> & TrainOptions;

  constructor(
    readonly model: TrainModel,
    readonly data: TextSplit,
    readonly bos: number,
    opts: TrainOptions,
  ) {
    const steps = opts.steps;
    if (!(Number.isInteger(steps) && steps > 0)) throw new TritwiseError('E_ARG', 'invalid step count', { where: 'finetune --steps', expected: 'a positive integer', got: steps });
    if (!(opts.lr > 0 && Number.isFinite(opts.lr))) throw new TritwiseError('E_ARG', 'invalid learning rate', { where: 'finetune --lr', expected: '> 0', got: opts.lr });
    const ctx = opts.ctx ?? Math.min(256, model.config.seqLen);
    if (!(Number.isInteger(ctx) && ctx >= 4 && ctx <= model.config.seqLen)) throw new TritwiseError('E_ARG', 'invalid context length', { where: 'finetune --ctx', expected: `4 … ${model.config.seqLen}`, got: opts.ctx });
    for (const [k, v] of [['batch', opts.batch], ['accum', opts.accum], ['threads', opts.threads]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new TritwiseError('E_ARG', `invalid ${k}`, { where: `finetune --${k}`, expected: 'a positive integer', got: v });
    }
    if (opts.quantRamp !== undefined && !(opts.quantRamp >= 0 && opts.quantRamp < 1)) throw new TritwiseError('E_ARG', 'invalid quantization ramp', { where: 'finetune --quant-ramp', expected: 'a fraction of the run in [0, 1)', got: opts.quantRamp });
    if (opts.quantRamp && model.spec.mode !== 'qat') throw new TritwiseError('E_ARG', 'a quantization ramp needs QAT', { where: 'finetune --quant-ramp', expected: '--mode qat', got: `--mode ${model.spec.mode}` });
    if (opts.budgetSeconds !== undefined && !(opts.budgetSeconds > 0 && Number.isFinite(opts.budgetSeconds))) throw new TritwiseError('E_ARG', 'invalid time budget', { where: 'finetune --budget-minutes', expected: '> 0', got: opts.budgetSeconds });
    this.o = {
      ...opts,
      batch: opts.batch ?? 4,
      ctx,
      accum: opts.accum ?? 1,
      warmup: opts.warmup ?? (opts.budgetSeconds ? 0 : Math.min(100, Math.floor(steps / 10))),
      clip: opts.clip ?? 1,
      seed: opts.seed ?? 1,
      evalEvery: opts.evalEvery ?? (opts.budgetSeconds ? 250 : Math.max(1, Math.round(steps / 10))),
    };
    this.opt = new AdamW(model.parameters(), { weightDecay: opts.weightDecay ?? 0, beta1: opts.beta1, beta2: opts.beta2 });
    for (const [k, v] of model.lrScales()) this.opt.lrScale.set(k, v);
    if (this.opt.params.size === 0) throw new TritwiseError('E_ARG', 'nothing to train', { where: 'finetune', expected: 'at least one trainable tensor', got: 0 });
  }

  /** Everything a resumed run must share with the run that wrote the checkpoint. */
  fingerprint(): Record<string, unknown> {
    const o = this.o;
    const d = o.distill;
    return {
      spec: this.model.spec,
      steps: o.steps, batch: o.batch, ctx: o.ctx, accum: o.accum, lr: o.lr, minLr: o.minLr ?? null, warmup: o.warmup,
      weightDecay: this.opt.weightDecay, beta1: this.opt.beta1, beta2: this.opt.beta2, clip: o.clip, seed: o.seed,
      distill: d ? { kind: d.kind, alpha: d.alpha, temperature: d.kind === 'kl' ? (d.temperature ?? 1) : null, ...(d.kind === 'kl' && d.topK ? { topK: d.topK } : {}) } : null,
      ...(this.aligned ? { windows: 'aligned' } : {}),
      ...(o.quantRamp ? { quant_ramp: o.quantRamp } : {}),
      ...(o.budgetSeconds ? { budget_s: o.budgetSeconds, warmup_fraction: this.warmupFraction } : {}),
      train_tokens: this.data.train.length, train_hash: fnv(this.data.train),
    };
  }

  /** time-budgeted runs without a step warm-up: the fraction of the time the warm-up takes (0: none) */
  get warmupFraction(): number {
    return this.o.budgetSeconds && this.o.warmup === 0 && this.o.warmupFraction !== 0 ? (this.o.warmupFraction ?? 0.06) : 0;
  }

  /** whether training uses aligned windows (data.ts alignedBatch) */
  get aligned(): boolean {
    const d = this.o.distill;
    return this.o.windows === 'aligned' || (d?.kind === 'kl' && !!d.topK && d.alpha > 0);
  }

  lossOptions(): LossOptions {
    return { recompute: this.o.recompute, recomputeAttention: this.o.recomputeAttention, distill: this.o.distill };
  }

  /** Validation loss and perplexity (chunk protocol at the training context). */
  validate(): { loss: number; ppl: number; tokens: number } {
    const batches = validationBatches(this.data.val, this.o.ctx, this.o.batch, this.bos, this.o.evalChunks);
    let nll = 0, n = 0;
    for (const b of batches) {
      const r = this.model.loss(new Tape(false), b, { recomputeAttention: true });
      nll += r.nll;
      n += r.count;
    }
    return { loss: nll / n, ppl: Math.exp(nll / n), tokens: n };
  }

  async run(): Promise<TrainResult> {
    const o = this.o;
    const params = this.opt.params;
    let step = 0;
    let history: EvalPoint[] = [];
    let tokens = 0;
    let before = 0;
    let resumed: number | null = null;
    let timing: RunTiming = { step_s: [], val_s: null, save_s: null, start_s: null };
    const fp = this.fingerprint();
    await loadWasmGemm();
    if (o.checkpoint && existsSync(o.checkpoint)) {
      const st = loadTrainState(o.checkpoint, params, this.opt, fp);
      step = resumed = st.step;
      history = st.history;
      tokens = st.tokens;
      before = st.elapsed_s;
      if (st.timing) timing = st.timing;
    }
    const now = o.clock ?? (() => performance.now() / 1000);
    const t0 = now();
    if (o.budgetSeconds && o.budgetStart !== undefined) before += Math.max(0, t0 - o.budgetStart);
    const cpu0 = process.cpuUsage();
    const elapsed = () => before + (now() - t0);
    const runSeconds = () => now() - t0;
    let peak = process.memoryUsage().rss;
    let peakBuffers = 0;
    let lastLoss = NaN;
    let stopped: TrainResult['stopped'] = 'done';
    let runTokens = 0;
    const startStep = step;
    let half: { s: number; tokens: number } | null = null;
    const budget = o.budgetSeconds;
    const save = () => {
      if (!o.checkpoint) return;
      const s0 = now();
      saveTrainState(o.checkpoint, params, this.opt, { step, adamT: this.opt.t, fingerprint: fp, history, tokens, elapsed_s: elapsed(), ...(budget ? { timing } : {}) });
      timing.save_s = Math.max(timing.save_s ?? 0, now() - s0);
    };
    // time-budgeted runs: the mean of the last few step durations, and the time the last step should end by
    const meanStep = () => (timing.step_s.length ? timing.step_s.reduce((x, y) => x + y, 0) / timing.step_s.length : 0);
    const valTokens = () => Math.min(o.evalChunks ?? Infinity, Math.ceil(this.data.val.length / o.ctx)) * o.ctx;
    const endBy = () => {
      // the final validation: as measured, or (none yet) ½ of a step's time per step's worth of tokens (a forward pass is ~⅓ of a step)
      const val = timing.val_s ?? (meanStep() * 0.5 * valTokens()) / (o.batch * o.ctx * o.accum);
      const ck = o.checkpoint ? (timing.save_s ?? 0.2) : 0;
      // plus 0.5 % of the budget (at most 2 s) for the scheduler's noise on a shared machine
      return budget! - 1.2 * (val + ck) - Math.min(2, 0.005 * budget!);
    };
    const evaluate = () => {
      const v0 = now();
      const v = this.validate();
      timing.val_s = now() - v0;
      const e: EvalPoint = { step, val_loss: v.loss, val_ppl: v.ppl, tokens, elapsed_s: elapsed() };
      history = [...history.filter((h) => h.step !== step), e];
      o.onEval?.(e);
    };
    if (step === 0 && o.evalEvery > 0 && !history.some((h) => h.step === 0)) evaluate();
    const d = o.distill;
    const cache = this.aligned && d?.kind === 'kl' && d.topK && d.alpha > 0 ? new TeacherCache(alignedWindowCount(this.data.train.length, o.ctx), o.ctx, d.topK) : null;
    const par: DataParallel | null = (o.threads ?? 1) > 1 ? DataParallel.start(this.model, this.lossOptions(), o.threads!, wasmGemmReady()) : null;
    let budgetDone = false;
    try {
      while (step < o.steps) {
        if (o.signal?.aborted) {
          stopped = 'signal';
          break;
        }
        if (o.maxSeconds !== undefined && runSeconds() >= o.maxSeconds) {
          stopped = 'time';
          break;
        }
        let lr: number;
        if (budget) {
          const end = endBy(), at = elapsed();
          if (at + 1.3 * meanStep() > end && (timing.step_s.length > 0 || at >= end)) {
            budgetDone = true;
            break;
          }
          timing.start_s ??= at;
          lr = learningRateByTime(step, at, { lr: o.lr, minLr: o.minLr, warmup: o.warmup, warmupFraction: this.warmupFraction, start: timing.start_s, end });
        } else lr = learningRate(step, { lr: o.lr, minLr: o.minLr, warmup: o.warmup, steps: o.steps });
        if (o.quantRamp) this.model.quantBlend = quantBlendAt(budget ? (elapsed() - timing.start_s!) / Math.max(1e-9, endBy() - timing.start_s!) : step / o.steps, o.quantRamp);
        const stepStart = now();
        this.opt.zeroGrad();
        let loss = 0;
        const seed = [1 / o.accum];
        for (let u = 0; u < o.accum; u++) {
          const plain = this.aligned ? alignedBatch(this.data.train, o.batch, o.ctx, this.bos, o.seed, (step * o.accum + u) * o.batch) : trainBatch(this.data.train, o.batch, o.ctx, this.bos, o.seed, step, u);
          const batch = cache ? cache.attach(plain as typeof plain & { windows: Int32Array }) : plain;
          if (par) {
            loss += (await par.step(batch, seed[0]!)) / o.accum;
            peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers);
          } else {
            const tape = new Tape(true);
            const r = this.model.loss(tape, batch, this.lossOptions());
            peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers);
            tape.backward(r.loss, seed);
            loss += r.loss.data[0]! / o.accum;
          }
          if (cache) cache.store(batch as Batch & { windows: Int32Array; soft: BatchSoft });
          tokens += batch.B * batch.T;
          runTokens += batch.B * batch.T;
        }
        if (!Number.isFinite(loss)) throw new TritwiseError('E_NONFINITE', 'training loss is not finite', { where: `finetune step ${step + 1}`, expected: 'a finite loss (lower --lr?)', got: loss });
        const gradNorm = this.opt.step(lr, o.clip);
        step++;
        lastLoss = loss;
        if (budget) timing.step_s = [...timing.step_s.slice(-7), now() - stepStart];
        peak = Math.max(peak, process.memoryUsage().rss);
        const planned = budget ? Math.min(o.steps, step + Math.max(0, Math.floor((endBy() - elapsed()) / Math.max(1e-9, meanStep())))) : o.steps;
        o.onStep?.({ step, steps: planned, loss, lr, gradNorm, tokens, tokens_per_second: runTokens / runSeconds(), elapsed_s: elapsed() });
        if (o.quantRamp && step === o.steps) this.model.quantBlend = 1;
        const atEval = o.evalEvery > 0 && step % o.evalEvery === 0;
        if (atEval || step === o.steps) evaluate();
        if (o.checkpoint && (step === o.steps || (o.checkpointEvery ? step % o.checkpointEvery === 0 : atEval))) save();
        if (!half && (budget ? elapsed() - before >= (budget - before) / 2 : step - startStep >= Math.ceil((o.steps - startStep) / 2))) half = { s: runSeconds(), tokens: runTokens };
        o.afterStep?.(step);
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      await par?.close();
    }
    if (o.quantRamp) this.model.quantBlend = 1;
    if (budgetDone) {
      // the budget's last step is done: final validation and checkpoint, as at the end of a planned run
      if (history.at(-1)?.step !== step) evaluate();
      save();
    }
    if (stopped !== 'done') save();
    const wb = this.model.weightBytes();
    return {
      steps_done: step,
      stopped,
      resumed_from: resumed,
      tokens,
      elapsed_s: elapsed(),
      tokens_per_second: runTokens / Math.max(1e-9, runSeconds()),
      tokens_per_second_steady: half && runTokens > half.tokens ? (runTokens - half.tokens) / Math.max(1e-9, runSeconds() - half.s) : runTokens / Math.max(1e-9, runSeconds()),
      threads: par ? Math.min(par.threads, o.batch) : 1,
      cpu_s: ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpu0)),
      final_loss: lastLoss,
      history,
      trainable: this.model.trainableCount,
      peak_rss_bytes: Math.max(peak, process.resourceUsage().maxRSS * 1024),
      memory: { weights_bytes: wb.trainable + wb.frozen, gradient_bytes: wb.trainable, optimizer_bytes: 2 * wb.trainable, peak_array_buffers_bytes: peakBuffers },
    };
  }
}
