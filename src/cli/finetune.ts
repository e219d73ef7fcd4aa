/**
 * `tritwise finetune <model> --text <file> --mode qat|lora -o <out>` — recover accuracy with
 * ternary-aware training (QAT) or LoRA adapters over frozen trits; progress bar with loss,
 * tokens/s and validation perplexity; Ctrl-C writes a checkpoint, and running the same command
 * again resumes from it. The output folder loads in `tritwise run` and `tritwise eval`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { rmSync } from 'node:fs';
import { loadCheckpoint } from '../io/checkpoint.js';
import { saveModel } from '../io/model-file.js';
import { finetune, type FinetuneOptions } from '../train/finetune.js';
import { intArg, numArg, readText } from './model-options.js';
import { fixed, formatBytes, printJson } from './output.js';
import { progressBar } from './progress.js';

function choice<T extends string>(values: readonly T[]) {
  return (s: string): T => {
    if (!values.includes(s as T)) throw new InvalidArgumentError(`expected ${values.join(' | ')}, got "${s}"`);
    return s as T;
  };
}

interface FinetuneFlags {
  text: string;
  out: string;
  mode: 'qat' | 'lora' | 'full';
  tokenizer?: string;
  steps: number;
  lr?: number;
  minLr?: number;
  warmup?: number;
  batch: number;
  ctx?: number;
  accum: number;
  threads: number;
  relativeLr: boolean;
  weightDecay: number;
  clip: number;
  seed: number;
  valFraction: number;
  evalEvery?: number;
  evalChunks?: number;
  quantizer?: string;
  groupSize?: number;
  depth: number;
  scales: 'reestimate' | 'learnable';
  rank: number;
  alpha?: number;
  targets?: string[];
  trainNorms?: boolean;
  merge: 'none' | 'dense' | 'requantize';
  distill?: 'kl' | 'cosine';
  distillAlpha: number;
  temperature: number;
  distillTopK?: number;
  windows: 'random' | 'aligned';
  teacher?: string;
  recompute?: boolean;
  recomputeAttention?: boolean;
  checkpoint?: string;
  checkpointEvery?: number;
  restart?: boolean;
  maxMinutes?: number;
  budgetMinutes?: number;
  quantRamp?: number;
  json?: boolean;
}

export function registerFinetune(program: Command): void {
  program
    .command('finetune')
    .description('fine-tune a model on a text file: QAT (latent f32 weights, ternary forward) or LoRA over frozen trits')
    .argument('<model>', 'checkpoint file or folder (f32 or ternary)')
    .requiredOption('--text <file>', 'training text; the last --val-fraction of it is held out for validation')
    .requiredOption('-o, --out <dir>', 'output model folder')
    .option('--mode <m>', 'qat | lora | full (f32 fine-tuning, the baseline)', choice(['qat', 'lora', 'full'] as const), 'qat')
    .option('--tokenizer <file>', 'tokenizer for llama2.c checkpoints (tokenizer.bin) or an HF tokenizer.json')
    .option('--steps <n>', 'optimizer steps (with --budget-minutes: a cap)', intArg, 200)
    .option('--lr <x>', 'peak learning rate (default: qat 3e-3, lora 3e-3, full 3e-4)', numArg)
    .option('--min-lr <x>', 'final learning rate of the cosine schedule (default lr/10; QAT lr/100, so the trits settle at the end)', numArg)
    .option('--warmup <n>', 'warm-up steps (default min(100, steps/10))', intArg)
    .option('--batch <n>', 'sequences per micro-batch', intArg, 4)
    .option('--ctx <n>', 'tokens per sequence (default min(256, model context))', intArg)
    .option('--threads <n>', 'data-parallel threads: each batch\'s sequences are split between them (bit-reproducible for a given count)', intArg, 1)
    .option('--accum <n>', 'micro-batches per optimizer step (gradient accumulation)', intArg, 1)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay (matrices only)', numArg, 0)
    .option('--clip <x>', 'clip the global gradient norm (0 = off)', numArg, 1)
    .option('--seed <n>', 'seed of the batch sampler and adapter init', intArg, 1)
    .option('--val-fraction <x>', 'held-out fraction of the text', numArg, 0.1)
    .option('--eval-every <n>', 'validation perplexity every n steps (default 10 times per run)', intArg)
    .option('--eval-chunks <n>', 'validation chunks (default all)', intArg)
    .option('--quantizer <q>', 'trit quantizer: absmean | twn | mse | threshold:Δ | percentile:p (default twn)')
    .option('--group-size <n>', 'columns per scale group (multiple of 32; 0 = per row)', intArg)
    .option('--depth <d>', 'QAT: trit planes per weight (1 = single trit)', intArg, 1)
    .option('--scales <s>', 'QAT: reestimate | learnable', choice(['reestimate', 'learnable'] as const), 'learnable')
    .option('--no-relative-lr', 'QAT: one learning rate for every matrix (default: each matrix\'s rate scaled by its mean |W| over the mean of all, so trit flips per step do not depend on a layer\'s magnitude)')
    .option('--quant-ramp <f>', 'QAT: progressive quantization, the forward pass blends f32 into trits over the first f of the run (λ = 0 → 1; 0 = trits from the start)', numArg)
    .option('--rank <r>', 'LoRA rank', intArg, 8)
    .option('--alpha <a>', 'LoRA alpha (output scaled by alpha/rank; default 2·rank)', numArg)
    .option('--targets <glob...>', 'LoRA: linear layers with adapters (default all)')
    .option('--train-norms', 'LoRA: train the RMSNorm weights too')
    .option('--merge <m>', 'LoRA: none (keep adapters beside the trits) | dense | requantize', choice(['none', 'dense', 'requantize'] as const), 'none')
    .option('--distill <kind>', 'distil from the f32 teacher: kl (logits) | cosine (hidden states)', choice(['kl', 'cosine'] as const))
    .option('--distill-alpha <x>', 'weight of the distillation term (0..1)', numArg, 0.5)
    .option('--temperature <t>', 'KL distillation temperature', numArg, 1)
    .option('--distill-top-k <k>', 'KL: cache the teacher\'s k most likely tokens per position of fixed aligned training windows, computed once per window (0 = run the teacher at every step)', intArg)
    .option('--windows <w>', 'training windows: random (any position) | aligned (fixed windows in epochs; always with --distill-top-k)', choice(['random', 'aligned'] as const), 'random')
    .option('--teacher <model>', 'the f32 teacher (default: the input model when it is f32)')
    .option('--recompute', 'recompute each layer in the backward pass (less memory, ~1/3 more compute)')
    .option('--recompute-attention', 'keep only the softmax log-sum-exp and recompute attention probabilities')
    .option('--checkpoint <file>', 'training checkpoint (default <out>.train.safetensors); an existing one is resumed')
    .option('--checkpoint-every <n>', 'write the checkpoint every n steps (default: at each validation)', intArg)
    .option('--restart', 'ignore (delete) an existing checkpoint and start over')
    .option('--max-minutes <x>', 'stop after this many minutes of this run (a checkpoint is written)', numArg)
    .option('--budget-minutes <x>', 'plan the run over this much wall time, counted from the process start, instead of --steps: cosine over the elapsed time, ending (final validation and checkpoint included) within it; --steps becomes a cap (default none)', numArg)
    .option('--json', 'print the report as JSON')
    .action(async (input: string, f: FinetuneFlags, cmd: Command) => {
      const stepsGiven = cmd.getOptionValueSource('steps') === 'cli';
      const ck = loadCheckpoint(input, { tokenizer: f.tokenizer });
      const teacher = f.teacher ? loadCheckpoint(f.teacher, { tokenizer: f.tokenizer }) : undefined;
      const text = readText(f.text, 'training text');
      const checkpoint = f.checkpoint ?? `${f.out.replace(/\/+$/, '')}.train.safetensors`;
      if (f.restart) rmSync(checkpoint, { force: true });
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      const bar = f.json ? null : progressBar(`finetune ${f.mode}`);
      let val = '';
      const opts: FinetuneOptions = {
        mode: f.mode,
        steps: f.budgetMinutes !== undefined && !stepsGiven ? Number.MAX_SAFE_INTEGER : f.steps,
        lr: f.lr ?? { qat: 3e-3, lora: 3e-3, full: 3e-4 }[f.mode],
        // QAT ends its cosine at lr/100 (docs/finetune.md, QAT fifth pass: −3.3 % / −5.0 % held-out ppl at 300 / 600 steps)
        minLr: f.minLr ?? (f.mode === 'qat' ? (f.lr ?? 3e-3) / 100 : undefined),
        warmup: f.warmup,
        batch: f.batch,
        ctx: f.ctx,
        accum: f.accum,
        threads: f.threads,
        weightDecay: f.weightDecay,
        clip: f.clip,
        seed: f.seed,
        valFraction: f.valFraction,
        evalEvery: f.evalEvery,
        evalChunks: f.evalChunks,
        quantizer: f.quantizer,
        groupSize: f.groupSize,
        depth: f.depth,
        scales: f.scales,
        relativeLr: f.mode === 'qat' && f.relativeLr,
        quantRamp: f.quantRamp,
        rank: f.rank,
        alpha: f.alpha,
        targets: f.targets,
        trainNorms: f.trainNorms,
        merge: f.merge,
        distill: f.distill,
        distillAlpha: f.distillAlpha,
        temperature: f.temperature,
        distillTopK: f.distillTopK,
        windows: f.windows,
        teacher,
        recompute: f.recompute,
        recomputeAttention: f.recomputeAttention,
        checkpoint,
        checkpointEvery: f.checkpointEvery,
        maxSeconds: f.maxMinutes !== undefined ? f.maxMinutes * 60 : undefined,
        budgetSeconds: f.budgetMinutes !== undefined ? f.budgetMinutes * 60 : undefined,
        budgetStart: 0, // the budget counts from the process start (performance.now() = 0): loading and tokenizing included
        signal: ac.signal,
        onStep: (s) => bar?.update(s.step, s.steps, `loss ${fixed(s.loss, 3)} | ${fixed(s.tokens_per_second, 0)} tok/s | lr ${s.lr.toExponential(1)}${val}`),
        onEval: (e) => {
          val = ` | val ppl ${fixed(e.val_ppl, 3)}`;
          if (e.step === 0) bar?.update(0, f.budgetMinutes !== undefined ? 1 : f.steps, `val ppl ${fixed(e.val_ppl, 3)} before training`);
        },
      };
      let r;
      try {
        r = await finetune(ck, text, opts);
      } finally {
        bar?.stop();
        process.removeListener('SIGINT', onSigint);
      }
      const res = r.result;
      if (res.stopped === 'signal') {
        process.stderr.write(`stopped at step ${res.steps_done}${f.budgetMinutes !== undefined ? ` of a ${f.budgetMinutes}-minute budget` : `/${f.steps}`}; checkpoint ${checkpoint}; run the same command again to resume\n`);
        process.exitCode = 130;
        return;
      }
      saveModel(f.out, r.model);
      const first = res.history.find((h) => h.step === 0), last = res.history.at(-1);
      const report = { input, output: f.out, checkpoint, mode: f.mode, ...r.split, ...res, val_ppl_before: first?.val_ppl, val_ppl_after: last?.val_ppl };
      if (f.json) return printJson(report);
      process.stdout.write(
        `${f.mode}: ${res.steps_done} steps (${res.stopped}${res.resumed_from !== null ? `, resumed from step ${res.resumed_from}` : ''}), ${res.tokens} tokens in ${fixed(res.elapsed_s, 1)} s (${fixed(res.tokens_per_second, 0)} tokens/s), ` +
          `${res.trainable} trainable values, peak RSS ${formatBytes(res.peak_rss_bytes)}\n` +
          `memory: weights ${formatBytes(res.memory.weights_bytes)}, gradients ${formatBytes(res.memory.gradient_bytes)}, AdamW moments ${formatBytes(res.memory.optimizer_bytes)}, typed arrays at peak ${formatBytes(res.memory.peak_array_buffers_bytes)}\n` +
          `validation perplexity (ctx ${opts.ctx ?? 'default'}, ${r.split.val_tokens} held-out tokens): ${first ? fixed(first.val_ppl, 3) : '?'} → ${last ? fixed(last.val_ppl, 3) : '?'}\n` +
          `saved to ${f.out}\n`,
      );
    });
}
