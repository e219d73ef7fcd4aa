/**
 * quantize-pipeline — quantize a model under a plan, collecting the calibration statistics its
 * quantizers need:
 *
 *   calibrated       E[x²] per input column, one pass of the f32 model (calibration.ts)
 *   gptq, gptq-residual   E[x xᵀ] of each layer's inputs (hessian.ts). Sequential (default): the
 *                    layers are taken in stages in forward order — wq/wk/wv, wo, w1/w3, w2 of
 *                    layer 0, then layer 1, …, then output — and each stage's inputs are measured
 *                    on the model whose earlier stages are already quantized, so every layer
 *                    compensates the error that reaches it (as GPTQ does). Non-sequential: one
 *                    pass of the f32 model for every layer.
 */
import type { ActivationMode, Backend } from '../backend/backend.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { collectActivationStats, type Progress } from './calibration.js';
import { collectHessians } from './hessian.js';
import { tuneScales } from './tune-scales.js';
import { TritwiseError } from '../errors.js';
import { needsHessian, resolvePlan, type QuantPlan } from './plan.js';
import { planTargets, quantizeLayer, quantizeWeights, targetSource, type LayerStats, type QuantizedWeights } from './quantize-model.js';

export interface PipelineOptions {
  backend: Backend;
  /** calibration tokens (without BOS); needed when the plan has calibrated or gptq layers */
  tokens?: readonly number[];
  bos?: number;
  onProgress?: Progress;
  keepActivations?: Map<string, ActivationMode>;
  /** calibration tokens for `calibration.tune` (default: `tokens`) */
  tuneTokens?: readonly number[];
}

/** The plan targets in forward order, grouped by shared input: the sequential stages. */
export function forwardStages(config: LlamaConfig, targets: readonly string[]): string[][] {
  const stages: string[][] = [];
  for (let l = 0; l < config.nLayers; l++) {
    const p = `layers.${l}.`;
    stages.push([`${p}attention.wq`, `${p}attention.wk`, `${p}attention.wv`], [`${p}attention.wo`], [`${p}feed_forward.w1`, `${p}feed_forward.w3`], [`${p}feed_forward.w2`]);
  }
  stages.push(['output']);
  const set = new Set(targets);
  return stages.map((s) => s.filter((n) => set.has(n))).filter((s) => s.length > 0);
}

export async function quantizeModelWeights(config: LlamaConfig, weights: Map<string, StoredTensor>, plan: QuantPlan, opts: PipelineOptions): Promise<QuantizedWeights> {
  const targets = planTargets(config);
  const resolved = resolvePlan(plan, targets);
  const byName = new Map(resolved.map((r) => [r.name, r]));
  const tokens = opts.tokens ?? [];
  const bos = opts.bos ?? 1;
  const ctx = plan.calibration?.ctx ?? Math.min(256, config.seqLen);
  const layerStats = new Map<string, LayerStats>();
  /** not yet quantized (an already ternary layer keeps its trits) */
  const fresh = (n: string) => {
    const src = targetSource(config, weights, n);
    return !(src instanceof TernaryTensor || src instanceof MultiTritTensor);
  };

  if (resolved.some((r) => !r.dense && r.quantizer === 'calibrated' && fresh(r.name))) {
    const h = await collectActivationStats(config, weights, opts.backend, tokens, { ctx, bos, onProgress: opts.onProgress });
    for (const [n, v] of h) layerStats.set(n, { h: v });
  }
  const hessianLayers = resolved.filter((r) => needsHessian(r) && fresh(r.name)).map((r) => r.name);
  const done = new Map<string, { tensor: TernaryTensor | MultiTritTensor; relOutputError?: number }>();
  if (hessianLayers.length > 0) {
    const sequential = plan.calibration?.sequential ?? true;
    const chunks = Math.ceil(tokens.length / Math.max(1, Math.min(ctx, config.seqLen) - 1));
    const stats = (n: string) => ({ ...layerStats.get(n) });
    if (!sequential) {
      const H = await collectHessians(config, weights, opts.backend, tokens, { ctx, bos, names: hessianLayers, onProgress: opts.onProgress });
      for (const [n, s] of H) layerStats.set(n, { ...stats(n), hessian: s.h });
    } else {
      // stage by stage on the partly quantized model; stages without gptq layers need no pass
      const current = new Map(weights);
      const cfg = { ...config };
      const stages = forwardStages(config, targets);
      const passes = stages.filter((s) => s.some((n) => hessianLayers.includes(n))).length;
      let pass = 0;
      for (const stage of stages) {
        const need = stage.filter((n) => hessianLayers.includes(n));
        if (need.length > 0) {
          const base = pass * chunks;
          const H = await collectHessians(cfg, current, opts.backend, tokens, {
            ctx,
            bos,
            names: need,
            onProgress: (p) => opts.onProgress?.({ phase: 'calibrate', done: base + p.done, total: passes * chunks, name: stage.join(', ') }),
          });
          for (const [n, s] of H) layerStats.set(n, { ...stats(n), hessian: s.h });
          pass++;
        }
        for (const n of stage) {
          const r = byName.get(n)!;
          const src = targetSource(config, weights, n);
          if (r.dense || !fresh(n)) continue;
          const [rows, cols] = (src as { shape: number[] }).shape as [number, number];
          const q = quantizeLayer(r, (src as { data: Float32Array }).data, rows, cols, layerStats.get(n), { actOrder: plan.calibration?.actOrder });
          done.set(n, q);
          current.set(n, q.tensor);
          if (n === 'output' && cfg.sharedClassifier) cfg.sharedClassifier = false;
        }
      }
    }
  }
  const q = quantizeWeights(config, weights, plan, { layerStats, done, onProgress: opts.onProgress, keepActivations: opts.keepActivations });
  const tune = plan.calibration?.tune;
  if (!tune) return q;
  // scale tuning: trits frozen, scales (and norms) towards the f32 model on the calibration text
  for (const [n, t] of weights) {
    if (t instanceof TernaryTensor || t instanceof MultiTritTensor) throw new TritwiseError('E_UNSUPPORTED', 'scale tuning needs an f32 source model (the distillation teacher)', { where: `calibration.tune: ${n}`, expected: 'an f32 checkpoint', got: 'a layer that is already ternary' });
  }
  const { tokens: limit, ...settings } = tune === true ? {} : tune;
  const all = opts.tuneTokens ?? tokens;
  const r = await tuneScales(config, weights, q.weights, all.slice(0, limit ?? all.length), bos, settings, opts.onProgress);
  return { ...q, weights: r.weights, tune: { steps: r.steps, trainable: r.trainable, tokens: Math.min(limit ?? all.length, all.length), klStart: r.klStart, klEnd: r.klEnd, ...(r.changed !== undefined ? { changed: r.changed, weightsTuned: r.weightsTuned } : {}) } };
}
