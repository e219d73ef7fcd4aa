/**
 * tune-scales — calibrated end-to-end tuning of a quantized model's continuous parameters, with
 * every trit frozen (post-training quantization; the step after gptq in a plan with
 * `calibration.tune`).
 *
 * What trains: one multiplier m per (row, group) of every quantized linear layer's scales
 * (train/scale-linear.ts: Q = m ⊙ D, D the frozen dequantized weight; written back into the
 * scales, so the trits, the form and the stored bits do not change), and optionally the RMSNorm
 * weights (f32 vectors the model keeps anyway). Nothing else moves: not the trits, not the
 * embedding / classifier.
 *
 * On what: the calibration tokens only (the same text gptq's Hessians come from), in windows of
 * `ctx` tokens starting with BOS (train/data.ts's trainBatch). The objective is pure knowledge
 * distillation from the f32 model, no labels:
 *
 *   L = mean over positions of KL(softmax(z_f32) ‖ softmax(z_quantized))
 *
 * minimised with AdamW (no weight decay on scales), a warm-up + cosine learning rate and global
 * gradient clipping, for `steps` steps of `batch` windows.
 *
 * With `trits: true` the trits move too (train/trit-linear.ts): every weight of a tryte layer gets
 * a latent position u (in grid steps, starting inside its integer's cell where the f32 weight
 * sits, or at the integer with `tritStart: 'centre'`), its integer is clamp(round(u), ±L)
 * and ∂L/∂u comes through the straight-through estimator; u learns at `tritLr` (steps per update)
 * on the same schedule. The exported trytes hold the final integers: same depth and bytes.
 */
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import { trainBatch } from '../train/data.js';
import { TrainModel } from '../train/llama-train.js';
import { AdamW, learningRate } from '../train/optimizer.js';
import { Tape } from '../train/tape.js';
import { TritTunedWeight } from '../train/trit-linear.js';
import { loadWasmGemm } from '../train/wasm-kernels.js';
import type { Progress } from './calibration.js';
import type { TuneSettings } from './tune-settings.js';

export type { TuneSettings } from './tune-settings.js';

export interface TuneResult {
  weights: Map<string, StoredTensor>;
  /** mean KL (nats per token) over the first and the last tenth of the steps */
  klStart: number;
  klEnd: number;
  steps: number;
  trainable: number;
  /** with trits: weights whose integer differs from the input's, and the weights of the tuned layers */
  changed?: number;
  weightsTuned?: number;
}

/**
 * Tune the scales (and norms) of `quantized` towards `teacher` (f32 weights of the same model) on
 * the calibration `tokens`. Returns new weights; the inputs are not modified.
 */
export async function tuneScales(config: LlamaConfig, teacher: Map<string, StoredTensor>, quantized: Map<string, StoredTensor>, tokens: readonly number[], bos: number, s: TuneSettings = {}, onProgress?: Progress): Promise<TuneResult> {
  const steps = s.steps ?? 100;
  const batch = s.batch ?? 4;
  const ctx = Math.min(s.ctx ?? 128, config.seqLen);
  const stream = Int32Array.from(tokens);
  if (stream.length < ctx + 2) throw new TritwiseError('E_ARG', 'too little calibration text to tune scales', { where: 'calibration.tune', expected: `≥ ${ctx + 2} tokens`, got: `${stream.length} tokens` });
  await loadWasmGemm();
  const student = TrainModel.fromWeights(config, quantized, { mode: s.trits ? 'trits' : 'scales', trainNorms: s.norms ?? true, ...(s.trits && (s.tritStart ?? 'f32') === 'f32' ? { tritInit: teacher } : {}) });
  const teach = TrainModel.fromWeights(config, teacher, { mode: 'frozen' });
  const params = student.parameters();
  if (params.size === 0) throw new TritwiseError('E_ARG', 'no quantized layer to tune', { where: 'calibration.tune', expected: 'a plan that quantizes at least one layer', got: 'only f32 layers' });
  const opt = new AdamW(params, { weightDecay: 0 });
  const lr = s.lr ?? 2e-3;
  const tritLr = s.tritLr ?? 1e-2;
  for (const name of params.keys()) if (name.endsWith('.latent')) opt.lrScale.set(name, tritLr / lr);
  const warmup = Math.min(10, Math.floor(steps / 10));
  const kls: number[] = [];
  for (let step = 0; step < steps; step++) {
    opt.zeroGrad();
    const b = trainBatch(stream, batch, ctx, bos, s.seed ?? 1, step, 0);
    const tape = new Tape(true);
    const r = student.loss(tape, b, { distill: { kind: 'kl', teacher: teach, alpha: 1 }, recomputeAttention: true });
    tape.backward(r.loss);
    const kl = r.loss.data[0]!;
    if (!Number.isFinite(kl)) throw new TritwiseError('E_NONFINITE', 'scale tuning diverged', { where: `calibration.tune step ${step + 1}`, expected: 'a finite KL (lower tune.lr)', got: kl });
    kls.push(kl);
    opt.step(learningRate(step, { lr, minLr: lr / 10, warmup, steps }), 1);
    onProgress?.({ phase: 'quantize', done: step + 1, total: steps, name: `tune ${s.trits ? 'trits + scales' : 'scales'} (KL ${kl.toFixed(4)})` });
    await new Promise((res) => setImmediate(res));
  }
  const ex = student.export();
  const weights = new Map(quantized);
  for (const [k, v] of ex.weights) weights.set(k, v);
  const tenth = Math.max(1, Math.floor(steps / 10));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  let changed = 0, weightsTuned = 0;
  for (const lin of student.linears.values()) {
    const q = (lin as { q?: unknown }).q;
    if (q instanceof TritTunedWeight) {
      changed += q.changed();
      weightsTuned += q.rows * q.cols;
    }
  }
  return { weights, klStart: mean(kls.slice(0, tenth)), klEnd: mean(kls.slice(-tenth)), steps, trainable: student.trainableCount, ...(s.trits ? { changed, weightsTuned } : {}) };
}
