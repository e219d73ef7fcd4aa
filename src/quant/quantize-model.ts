/**
 * quantize-model — apply a quantization plan to a model's weights: every linear layer the plan
 * does not keep dense becomes a TernaryTensor (depth 1) or a MultiTritTensor (depth 2..6), with
 * its quantizer and group size, and gets its activation mode. Embedding and norms stay f32. A
 * shared classifier that the plan quantizes is split off as its own `output` matrix (the
 * embedding stays f32). Layers that are already ternary (a TQ GGUF, a saved tritwise model) keep
 * their trits and scales; the plan only sets their activation mode (re-quantizing trits would
 * only lose their scales).
 *
 * quantizeWeights is the synchronous core, given whatever calibration statistics the plan's
 * quantizers need; quantize-pipeline.ts collects them (and runs gptq stage by stage).
 */
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import { linearNames, type LlamaConfig } from '../nn/llama-config.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { Progress } from './calibration.js';
import { quantizeCalibrated } from './calibrated.js';
import { GPTQ_DEFAULTS, quantizeGptq } from './gptq.js';
import { resolvePlan, type QuantPlan, type ResolvedLayer } from './plan.js';
import { quantizeGreedyResidual } from './residual.js';
import { quantizeTryteRtn } from './tryte-grid.js';
import { quantStats, quantize } from './weight-quantizers.js';
import { prune } from '../sparse/prune.js';

export interface LayerReport extends ResolvedLayer {
  shape: [number, number];
  /** bytes in memory (bit planes + f32 scales, or f32) */
  bytes: number;
  sparsity?: number;
  relError?: number;
  /** gptq: relative output error tr(EHEᵀ)/tr(WHWᵀ) on the calibration inputs */
  relOutputError?: number;
}

export interface QuantizedWeights {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  activations: Map<string, ActivationMode>;
  layers: LayerReport[];
  /** calibration.tune: what was tuned and the KL (nats/token) over its first and last tenth of steps */
  tune?: { steps: number; trainable: number; tokens: number; klStart: number; klEnd: number; changed?: number; weightsTuned?: number };
}

/** Calibration statistics of one layer's inputs. */
export interface LayerStats {
  /** E[x²] per input column (the `calibrated` quantizer) */
  h?: Float64Array;
  /** E[x xᵀ] (gptq) */
  hessian?: Float64Array;
}

/** The linear layers a plan can address: all of them, including `output` when shared. */
export function planTargets(config: LlamaConfig): string[] {
  const names = linearNames(config);
  if (config.sharedClassifier) names.push('output');
  return names;
}

export function asDense(t: StoredTensor): DenseTensor {
  if (t instanceof TernaryTensor || t instanceof MultiTritTensor) return { shape: [t.rows, t.cols], data: t.toDense() };
  return t;
}

/** The f32 source matrix of a plan target (the embedding for a shared classifier). */
export function targetSource(config: LlamaConfig, weights: Map<string, StoredTensor>, name: string): StoredTensor {
  return name === 'output' && config.sharedClassifier ? weights.get('tok_embeddings')! : weights.get(name)!;
}

function needStats<K extends keyof LayerStats>(s: LayerStats | undefined, k: K, r: ResolvedLayer): NonNullable<LayerStats[K]> {
  const v = s?.[k];
  if (!v) throw new TritwiseError('E_ARG', `the '${r.quantizer}' quantizer needs calibration text`, { where: r.name, expected: 'plan.calibration.text (or calibrationText)', got: 'no statistics' });
  return v as NonNullable<LayerStats[K]>;
}

/** Quantize one layer's f32 weights [rows, cols] as the resolved plan says. */
export function quantizeLayer(r: ResolvedLayer, w: Float32Array, rows: number, cols: number, stats?: LayerStats, gptq: { actOrder?: boolean } = {}): { tensor: TernaryTensor | MultiTritTensor; relOutputError?: number } {
  const o = { groupSize: r.groupSize, name: r.name };
  const single = (m: MultiTritTensor): TernaryTensor | MultiTritTensor => {
    if (m.depth > 1) return m;
    const t = m.planes[0]!;
    t.quantizer = m.quantizer;
    return t;
  };
  const maps = cellMaps(r);
  switch (r.quantizer) {
    case 'gptq':
    case 'gptq-residual': {
      const g = quantizeGptq(w, rows, cols, r.depth, needStats(stats, 'hessian', r), { ...GPTQ_DEFAULTS, ...o, actOrder: gptq.actOrder ?? GPTQ_DEFAULTS.actOrder, grid: r.quantizer === 'gptq' || r.depth === 1 ? 'tryte' : 'residual', ...maps });
      return { tensor: single(g.tensor), relOutputError: g.relOutputError };
    }
    case 'rtn':
      return { tensor: single(quantizeTryteRtn(w, rows, cols, r.depth, { ...o, h: stats?.h })) };
    case 'calibrated': {
      const h = needStats(stats, 'h', r);
      if (r.depth === 1) return { tensor: quantizeCalibrated(w, rows, cols, h, o) };
      return { tensor: quantizeGreedyResidual(w, rows, cols, r.depth, { ...o, base: (x) => quantizeCalibrated(x, rows, cols, h, o), label: 'calibrated' }) };
    }
    default:
      if (r.depth === 1) return { tensor: quantize(w, rows, cols, r.quantizer, o).tensor };
      return { tensor: quantizeGreedyResidual(w, rows, cols, r.depth, { ...o, base: r.quantizer }) };
  }
}

/** The rule's per-column / per-row depth digits as gptq options. */
function cellMaps(r: ResolvedLayer): { columnDepths?: Uint8Array; rowDepths?: Uint8Array } {
  const digits = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0) - 48);
  if ((r.columnDepths || r.rowDepths) && r.quantizer !== 'gptq') throw new TritwiseError('E_UNSUPPORTED', 'per-column or per-row depths need the gptq quantizer', { where: r.name, expected: 'gptq', got: r.quantizer });
  return { ...(r.columnDepths ? { columnDepths: digits(r.columnDepths) } : {}), ...(r.rowDepths ? { rowDepths: digits(r.rowDepths) } : {}) };
}

/** ‖w − ŵ‖/‖w‖ (0 for w = 0). */
function relativeError(w: Float32Array, q: Float32Array): number {
  let se = 0,
    sw = 0;
  for (let i = 0; i < w.length; i++) {
    se += (w[i]! - q[i]!) ** 2;
    sw += w[i]! ** 2;
  }
  return sw > 0 ? Math.sqrt(se / sw) : 0;
}

/** The report line of one quantized layer. */
function report(r: ResolvedLayer, d: DenseTensor, q: { tensor: TernaryTensor | MultiTritTensor; relOutputError?: number }): LayerReport {
  const [rows, cols] = d.shape as [number, number];
  let sparsity: number, relError: number;
  if (q.tensor instanceof TernaryTensor) ({ sparsity, relError } = quantStats(d.data, q.tensor));
  else {
    sparsity = q.tensor.planeSparsity().reduce((a, b) => a + b, 0) / q.tensor.depth;
    relError = relativeError(d.data, q.tensor.toDense());
  }
  return { ...r, depth: q.tensor instanceof TernaryTensor ? 1 : q.tensor.depth, shape: [rows, cols], bytes: q.tensor.bytes, sparsity, relError, ...(q.relOutputError !== undefined ? { relOutputError: q.relOutputError } : {}) };
}

/**
 * Quantize every plan target. `stats` holds each layer's calibration statistics (needed by
 * `calibrated`, `gptq`, `gptq-residual`); `done` holds layers quantized already (by the
 * sequential pipeline), which are taken as they are.
 */
export function quantizeWeights(
  config: LlamaConfig,
  weights: Map<string, StoredTensor>,
  plan: QuantPlan,
  opts: {
    stats?: Map<string, Float64Array>;
    layerStats?: Map<string, LayerStats>;
    done?: Map<string, { tensor: TernaryTensor | MultiTritTensor; relOutputError?: number }>;
    onProgress?: Progress;
    keepActivations?: Map<string, ActivationMode>;
  } = {},
): QuantizedWeights {
  const targets = planTargets(config);
  const resolved = resolvePlan(plan, targets);
  const out = new Map(weights);
  const cfg = { ...config };
  const activations = new Map<string, ActivationMode>();
  const layers: LayerReport[] = [];
  resolved.forEach((r, i) => {
    const src = targetSource(config, weights, r.name);
    if (src instanceof TernaryTensor || src instanceof MultiTritTensor) {
      // already ternary: keep trits and scales; a `dense` rule leaves its activation mode alone
      activations.set(r.name, r.dense ? (opts.keepActivations?.get(r.name) ?? 'f32') : r.activation);
      let kept = src;
      if (r.prune && !r.dense) {
        if (src instanceof MultiTritTensor) throw new TritwiseError('E_UNSUPPORTED', 'pruning a multi-trit layer is not supported', { where: r.name, expected: 'a single-trit layer (prune, then add depth) or no prune rule', got: `${src.depth} trits per weight` });
        // pruning an already-ternary layer: no source weights, so magnitudes are the scales
        const c = src.clone();
        prune(c, r.prune, undefined, r.name);
        out.set(r.name, c);
        kept = c;
      }
      const depth = kept instanceof MultiTritTensor ? kept.depth : 1;
      const sparsity = kept instanceof MultiTritTensor ? kept.planeSparsity().reduce((a, b) => a + b, 0) / depth : kept.stats().sparsity;
      layers.push({ ...r, dense: false, depth, quantizer: src.quantizer ?? 'kept', groupSize: src.groupSize, shape: [src.rows, src.cols], bytes: kept.bytes, sparsity });
      opts.onProgress?.({ phase: 'quantize', done: i + 1, total: resolved.length, name: r.name });
      return;
    }
    const [rows, cols] = src.shape as [number, number];
    if (r.dense) {
      layers.push({ ...r, shape: [rows, cols], bytes: rows * cols * 4 });
    } else {
      const ls = opts.layerStats?.get(r.name) ?? (opts.stats?.get(r.name) ? { h: opts.stats.get(r.name)! } : undefined);
      const q = opts.done?.get(r.name) ?? quantizeLayer(r, src.data, rows, cols, ls, { actOrder: plan.calibration?.actOrder });
      if (r.prune) {
        if (!(q.tensor instanceof TernaryTensor)) throw new TritwiseError('E_UNSUPPORTED', 'pruning a multi-trit layer is not supported', { where: r.name, expected: 'depth 1 where a prune rule applies', got: `depth ${r.depth}` });
        prune(q.tensor, r.prune, src.data, r.name);
      }
      if (r.name === 'output' && config.sharedClassifier) cfg.sharedClassifier = false;
      out.set(r.name, q.tensor);
      activations.set(r.name, r.activation);
      layers.push(report(r, src, q));
    }
    opts.onProgress?.({ phase: 'quantize', done: i + 1, total: resolved.length, name: r.name });
  });
  return { config: cfg, weights: out, activations, layers };
}
