/**
 * finetune — one call from a model and a text file to a fine-tuned model:
 *
 *   const r = await finetune(checkpoint, text, { mode: 'qat', steps: 300, lr: 1e-3 });
 *   saveModel('out/', r.model);            // loads in `tritwise run` / `tritwise eval`
 *
 * It splits the text (data.ts), builds the training graph for the mode (llama-train.ts), runs
 * the trainer (trainer.ts; resumable from `checkpoint`), and exports the result: trained trits
 * for 'qat', the frozen trits plus adapters (or merged) for 'lora', f32 for 'full'.
 */
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { SavedModel } from '../io/model-file.js';
import type { Tokenizer } from '../io/tokenizers/tokenizer.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import type { LoraTensors } from '../nn/lora-linear.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { splitText, type TextSplit } from './data.js';
import { TrainModel, type Distill, type TrainMode } from './llama-train.js';
import type { ScaleMode } from './qat.js';
import { Trainer, type TrainOptions, type TrainResult } from './trainer.js';

export interface SourceModel {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  activations?: Map<string, ActivationMode>;
  tokenizer?: Tokenizer;
  adapters?: Map<string, LoraTensors>;
}

export interface FinetuneOptions extends Omit<TrainOptions, 'distill'> {
  mode: Exclude<TrainMode, 'frozen'>;
  /** quantizer of the trits (QAT: every step; LoRA: the base, if the model is f32). QAT default 'twn' */
  quantizer?: string;
  groupSize?: number;
  /** QAT: trit planes per weight (default 1) */
  depth?: number;
  /** QAT: scales re-estimated each step or learned (default 'reestimate') */
  scales?: ScaleMode;
  /** QAT: per-matrix learning rate ∝ its mean |W₀| (qat.ts QatOptions.relativeLr) */
  relativeLr?: boolean;
  /** LoRA rank, alpha, layers (globs), and whether the norms train too */
  rank?: number;
  alpha?: number;
  targets?: string[];
  trainNorms?: boolean;
  /** LoRA: keep the adapters separate (default), merge dense, or merge and re-quantize */
  merge?: 'none' | 'dense' | 'requantize';
  /** distillation from an f32 teacher (default: the source model when it is f32) */
  distill?: 'kl' | 'cosine';
  distillAlpha?: number;
  /** KL: cache the teacher's top-k targets per aligned training window (teacher-cache.ts; 0 = online teacher) */
  distillTopK?: number;
  temperature?: number;
  teacher?: SourceModel;
  /** held-out fraction of the text (default 0.1) */
  valFraction?: number;
}

export interface FinetuneResult {
  model: SavedModel;
  result: TrainResult;
  split: { train_tokens: number; val_tokens: number; train_chars: number; val_chars: number };
}

function isF32(m: SourceModel): boolean {
  for (const t of m.weights.values()) if (t instanceof TernaryTensor) return false;
  return true;
}

export function buildTrainModel(src: SourceModel, o: FinetuneOptions): TrainModel {
  if (src.adapters?.size) throw new TritwiseError('E_UNSUPPORTED', 'fine-tuning a model that already has separate adapters', { where: 'finetune', expected: 'a model without adapters (merge them first)', got: `${src.adapters.size} adapters` });
  return TrainModel.fromWeights(
    src.config,
    src.weights,
    {
      mode: o.mode,
      qat: { quantizer: o.quantizer ?? 'twn', groupSize: o.groupSize, depth: o.depth, scales: o.scales, ...(o.relativeLr ? { relativeLr: true } : {}) },
      lora: { rank: o.rank, alpha: o.alpha, targets: o.targets, quantizer: o.quantizer ?? 'twn', groupSize: o.groupSize, seed: o.seed },
      trainNorms: o.trainNorms,
    },
    src.activations,
  );
}

export async function finetune(src: SourceModel, text: string, o: FinetuneOptions, split?: TextSplit): Promise<FinetuneResult> {
  const tok = src.tokenizer;
  if (!tok) throw new TritwiseError('E_ARG', 'fine-tuning needs the model’s tokenizer', { where: 'finetune', expected: 'a tokenizer (--tokenizer for llama2.c checkpoints)', got: 'none' });
  const data = split ?? splitText(text, tok, o.valFraction ?? 0.1);
  const model = buildTrainModel(src, o);
  let distill: Distill | undefined;
  if (o.distillTopK !== undefined && o.distillTopK !== 0) {
    const V = src.config.vocabSize;
    if (o.distill !== 'kl') throw new TritwiseError('E_ARG', 'a distillation top-k needs KL distillation', { where: 'finetune --distill-top-k', expected: '--distill kl', got: o.distill ?? 'no distillation' });
    if (!(Number.isInteger(o.distillTopK) && o.distillTopK >= 1 && o.distillTopK <= V)) throw new TritwiseError('E_ARG', 'invalid distillation top-k', { where: 'finetune --distill-top-k', expected: `an integer 1..${V} (the vocabulary)`, got: o.distillTopK });
  }
  if (o.distill) {
    const t = o.teacher ?? src;
    if (!isF32(t)) throw new TritwiseError('E_ARG', 'distillation needs an f32 teacher', { where: 'finetune --distill', expected: 'an f32 source model, or --teacher <f32 model>', got: 'a model with ternary layers' });
    const teacher = TrainModel.fromWeights(t.config, t.weights, { mode: 'frozen' });
    const alpha = o.distillAlpha ?? 0.5;
    distill = o.distill === 'kl' ? { kind: 'kl', teacher, alpha, temperature: o.temperature, ...(o.distillTopK ? { topK: o.distillTopK } : {}) } : { kind: 'cosine', teacher, alpha };
  }
  const trainer = new Trainer(model, data, tok.bos, { ...o, distill });
  const result = await trainer.run();
  const ex = model.export({ merge: o.merge });
  const plan = {
    finetune: {
      mode: o.mode, steps: result.steps_done, lr: o.lr, minLr: o.minLr ?? o.lr / 10, batch: trainer.o.batch, ctx: trainer.o.ctx, accum: trainer.o.accum, seed: trainer.o.seed,
      ...(o.mode === 'qat' ? { quantizer: o.quantizer ?? 'twn', groupSize: o.groupSize ?? 0, depth: o.depth ?? 1, scales: o.scales ?? 'reestimate', relativeLr: !!o.relativeLr, ...(o.quantRamp ? { quantRamp: o.quantRamp } : {}) } : {}),
      ...(o.mode === 'lora' ? { rank: o.rank ?? 8, alpha: o.alpha ?? 2 * (o.rank ?? 8), targets: o.targets ?? ['*'], merge: o.merge ?? 'none' } : {}),
      ...(o.distill ? { distill: o.distill, alpha: o.distillAlpha ?? 0.5, ...(o.distill === 'kl' && o.distillTopK ? { topK: o.distillTopK } : {}) } : {}),
      ...(trainer.aligned ? { windows: 'aligned' } : {}),
      val_ppl: result.history.at(-1)?.val_ppl,
    },
  };
  return {
    model: { config: ex.config, weights: ex.weights, activations: ex.activations, tokenizer: tok, plan, adapters: ex.adapters },
    result,
    split: { train_tokens: data.train.length, val_tokens: data.val.length, train_chars: data.trainChars, val_chars: data.valChars },
  };
}
