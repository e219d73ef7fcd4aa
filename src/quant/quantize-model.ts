/**
 * quantize-model — apply a quantization plan to a model's weights: every linear layer the plan
 * does not keep dense becomes a TernaryTensor (quantizer and group size per layer), and gets its
 * activation mode. Embedding and norms stay f32. A shared classifier that the plan quantizes is
 * split off as its own `output` matrix (the embedding stays f32). Layers that are already ternary
 * (a TQ GGUF, a saved tritwise model) keep their trits and scales; the plan only sets their
 * activation mode (re-quantizing trits would only lose their scales).
 */
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import { linearNames, type LlamaConfig } from '../nn/llama-config.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { Progress } from './calibration.js';
import { quantizeCalibrated } from './calibrated.js';
import { resolvePlan, type QuantPlan, type ResolvedLayer } from './plan.js';
import { quantStats, quantize } from './weight-quantizers.js';
import { prune } from '../sparse/prune.js';

export interface LayerReport extends ResolvedLayer {
  shape: [number, number];
  bytes: number;
  sparsity?: number;
  relError?: number;
}

export interface QuantizedWeights {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  activations: Map<string, ActivationMode>;
  layers: LayerReport[];
}

/** The linear layers a plan can address: all of them, including `output` when shared. */
export function planTargets(config: LlamaConfig): string[] {
  const names = linearNames(config);
  if (config.sharedClassifier) names.push('output');
  return names;
}

function asDense(t: StoredTensor): DenseTensor {
  if (t instanceof TernaryTensor) return { shape: [t.rows, t.cols], data: t.toDense() };
  return t;
}

export function quantizeWeights(
  config: LlamaConfig,
  weights: Map<string, StoredTensor>,
  plan: QuantPlan,
  opts: { stats?: Map<string, Float64Array>; onProgress?: Progress; keepActivations?: Map<string, ActivationMode> } = {},
): QuantizedWeights {
  const targets = planTargets(config);
  const resolved = resolvePlan(plan, targets);
  const out = new Map(weights);
  const cfg = { ...config };
  const activations = new Map<string, ActivationMode>();
  const layers: LayerReport[] = [];
  resolved.forEach((r, i) => {
    const src = r.name === 'output' && config.sharedClassifier ? weights.get('tok_embeddings')! : weights.get(r.name)!;
    if (src instanceof TernaryTensor) {
      // already ternary: keep trits and scales; a `dense` rule leaves its activation mode alone
      activations.set(r.name, r.dense ? (opts.keepActivations?.get(r.name) ?? 'f32') : r.activation);
      let kept = src;
      if (r.prune && !r.dense) {
        // pruning an already-ternary layer: no source weights, so magnitudes are the scales
        kept = src.clone();
        prune(kept, r.prune, undefined, r.name);
        out.set(r.name, kept);
      }
      layers.push({ ...r, dense: false, quantizer: src.quantizer ?? 'kept', groupSize: src.groupSize, shape: [src.rows, src.cols], bytes: kept.bytes, sparsity: kept.stats().sparsity });
      opts.onProgress?.({ phase: 'quantize', done: i + 1, total: resolved.length, name: r.name });
      return;
    }
    const d = asDense(src);
    const [rows, cols] = d.shape as [number, number];
    if (r.dense) {
      layers.push({ ...r, shape: [rows, cols], bytes: rows * cols * 4 });
    } else {
      let t: TernaryTensor;
      if (r.quantizer === 'calibrated') {
        const h = opts.stats?.get(r.name);
        if (!h) throw new TritwiseError('E_ARG', "the 'calibrated' quantizer needs calibration text", { where: r.name, expected: 'plan.calibration.text (or calibrationText)', got: 'no statistics' });
        t = quantizeCalibrated(d.data, rows, cols, h, { groupSize: r.groupSize, name: r.name });
      } else {
        t = quantize(d.data, rows, cols, r.quantizer, { groupSize: r.groupSize, name: r.name }).tensor;
      }
      if (r.prune) prune(t, r.prune, d.data, r.name);
      const st = quantStats(d.data, t);
      if (r.name === 'output' && config.sharedClassifier) cfg.sharedClassifier = false;
      out.set(r.name, t);
      activations.set(r.name, r.activation);
      layers.push({ ...r, shape: [rows, cols], bytes: t.bytes, sparsity: st.sparsity, relError: st.relError });
    }
    opts.onProgress?.({ phase: 'quantize', done: i + 1, total: resolved.length, name: r.name });
  });
  return { config: cfg, weights: out, activations, layers };
}
