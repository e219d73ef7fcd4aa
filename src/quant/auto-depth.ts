/**
 * auto-depth — choose the depth (trits per weight, 1..6) of every linear layer by measured
 * sensitivity, under a budget, and write the choice as a quantization plan.
 *
 * 1. Sensitivity. With the f32 model's calibration statistics, every layer ℓ is quantized alone
 *    at depths 1..m (m = 3 by default) and the model's mean NLL on calibration text is measured:
 *      s_ℓ(d) = NLL(only ℓ quantized at depth d) − NLL(f32)
 *    Deeper trits are extrapolated: each trit divides the quantization error's power by about 9
 *    (a tryte step is a third of the one before), so s_ℓ(d+1) = s_ℓ(d)/9. Values are made
 *    non-negative and non-increasing in d.
 * 2. Allocation. Assuming the layers' effects add, minimise Σ_ℓ s_ℓ(d_ℓ) subject to the budget:
 *      bits:      Σ_ℓ n_ℓ·1.6·d_ℓ ≤ B·Σ_ℓ n_ℓ      (n_ℓ weights; 1.6 bits per stored trit)
 *      increase:  Σ_ℓ s_ℓ(d_ℓ) ≤ ln(1 + x)         (perplexity × (1 + x) at most), fewest bits
 *    Greedy on the best ratio of NLL saved per added trit, looking ahead over every deeper depth
 *    of a layer (so a non-convex s_ℓ cannot stall it).
 * 3. Verification (increase budgets): the plan is applied in full (sequentially, as `tritwise
 *    quantize` does) and the NLL measured; while it exceeds the budget, the layer with the best
 *    next ratio is deepened and the model measured again.
 */
import type { Backend } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import { LlamaModel } from '../nn/llama.js';
import { logSumExp } from '../nn/ops.js';
import type { Progress } from './calibration.js';
import { collectActivationStats } from './calibration.js';
import { collectHessians } from './hessian.js';
import { resolvePlan, type QuantPlan } from './plan.js';
import { quantizeModelWeights } from './quantize-pipeline.js';
import { planTargets, quantizeLayer, targetSource, type LayerStats } from './quantize-model.js';

/** Stored bits per trit (5 trits per byte). */
export const BITS_PER_TRIT = 1.6;

export interface AutoDepthOptions {
  /** average stored bits per weight over the quantized layers (1.6 per trit) */
  bits?: number;
  /** or: the largest perplexity increase on the calibration text, as a fraction (0.05 = 5 %) */
  maxIncrease?: number;
  /** calibration tokens (no BOS): statistics and the sensitivity text */
  tokens: readonly number[];
  bos: number;
  /** tokens of the sensitivity text, the start of `tokens` (default 1024) */
  evalTokens?: number;
  /** context of calibration chunks (default min(256, seqLen)) */
  ctx?: number;
  /** depths measured; deeper ones are extrapolated (default 3) */
  measureDepth?: number;
  /** verification rounds for increase budgets (default 4) */
  verifyRounds?: number;
  onProgress?: Progress;
}

export interface LayerSensitivity {
  name: string;
  weights: number;
  /** s(d) for d = 1..6 (index d − 1): NLL increase with only this layer at depth d */
  sensitivity: number[];
  depth: number;
}

export interface AutoDepthResult {
  plan: QuantPlan;
  layers: LayerSensitivity[];
  /** average stored trit bits per weight of the plan */
  bits: number;
  baseNll: number;
  /** Σ s(d) of the chosen depths */
  predictedNllIncrease: number;
  /** measured NLL of the full plan on the sensitivity text (increase budgets only) */
  measuredNll?: number;
}

/** Mean NLL of every next token of the chunks (BOS + ctx − 1 tokens each). */
async function meanNll(m: LlamaModel, tokens: readonly number[], bos: number, ctx: number): Promise<number> {
  const body = Math.max(1, ctx - 1);
  let nll = 0;
  let n = 0;
  const V = m.config.vocabSize;
  for (let i = 0; i < tokens.length; i += body) {
    const chunk = [bos, ...tokens.slice(i, i + body)];
    if (chunk.length < 2) break;
    const [lg] = await m.forward([{ tokens: chunk, cache: m.newCache() }], { logits: 'all' });
    for (let p = 0; p + 1 < chunk.length; p++) {
      nll += logSumExp(lg!, p * V, V) - lg![p * V + chunk[p + 1]!]!;
      n++;
    }
  }
  return n ? nll / n : 0;
}

/** Greedy allocation: returns depths per layer. `stop` decides when the budget is met. */
function allocate(layers: LayerSensitivity[], can: (extraTrits: number) => boolean, done: () => boolean): void {
  for (;;) {
    if (done()) return;
    let best: { l: LayerSensitivity; d: number; ratio: number } | null = null;
    for (const l of layers) {
      const cur = l.sensitivity[l.depth - 1]!;
      for (let d = l.depth + 1; d <= 6; d++) {
        const extra = l.weights * (d - l.depth);
        if (!can(extra)) break;
        const ratio = (cur - l.sensitivity[d - 1]!) / extra;
        if (!best || ratio > best.ratio) best = { l, d, ratio };
      }
    }
    if (!best) return;
    best.l.depth = best.d;
  }
}

export async function autoDepth(config: LlamaConfig, weights: Map<string, StoredTensor>, backend: Backend, base: QuantPlan, opts: AutoDepthOptions): Promise<AutoDepthResult> {
  if ((opts.bits === undefined) === (opts.maxIncrease === undefined)) throw new TritwiseError('E_ARG', 'give exactly one budget', { where: 'autoDepth', expected: 'bits or maxIncrease', got: `bits ${opts.bits}, maxIncrease ${opts.maxIncrease}` });
  if (opts.bits !== undefined) checkBits(opts.bits);
  if (opts.maxIncrease !== undefined && !(opts.maxIncrease > 0 && Number.isFinite(opts.maxIncrease))) throw new TritwiseError('E_ARG', 'perplexity increase must be positive', { where: 'auto ppl', expected: 'a fraction > 0 (0.05 = 5 %)', got: opts.maxIncrease });
  const ctx = opts.ctx ?? Math.min(256, config.seqLen);
  const evalTokens = opts.tokens.slice(0, opts.evalTokens ?? 1024);
  if (evalTokens.length < 2) throw new TritwiseError('E_ARG', 'auto-tuning needs calibration text', { where: 'autoDepth', expected: 'at least a few hundred tokens', got: `${evalTokens.length} tokens` });
  const mDepth = opts.measureDepth ?? 3;
  const targets = planTargets(config);
  const resolved = resolvePlan({ ...base, depth: 1, layers: [...(base.layers ?? []).map((r) => ({ ...r, depth: undefined }))] }, targets).filter((r) => !r.dense);
  const stats = new Map<string, LayerStats>();
  const names = resolved.map((r) => r.name);
  if (resolved.some((r) => r.quantizer === 'gptq' || r.quantizer === 'gptq-residual')) {
    for (const [n, s] of await collectHessians(config, weights, backend, opts.tokens, { ctx, bos: opts.bos, names, onProgress: opts.onProgress })) stats.set(n, { ...stats.get(n), hessian: s.h });
  }
  if (resolved.some((r) => r.quantizer === 'calibrated')) {
    for (const [n, h] of await collectActivationStats(config, weights, backend, opts.tokens, { ctx, bos: opts.bos })) stats.set(n, { ...stats.get(n), h });
  }
  const f32 = await LlamaModel.build(config, weights, backend);
  const baseNll = await meanNll(f32, evalTokens, opts.bos, ctx);
  const total = resolved.length * mDepth;
  let step = 0;
  const layers: LayerSensitivity[] = [];
  for (const r of resolved) {
    const src = targetSource(config, weights, r.name);
    if (!('shape' in src)) throw new TritwiseError('E_UNSUPPORTED', 'auto-tuning needs f32 weights', { where: r.name, expected: 'an f32 layer', got: 'already ternary' });
    const [rows, cols] = src.shape as [number, number];
    const s: number[] = [];
    for (let d = 1; d <= mDepth; d++) {
      const q = quantizeLayer({ ...r, depth: d }, src.data, rows, cols, stats.get(r.name), { actOrder: base.calibration?.actOrder });
      const w = new Map(weights);
      const cfg = { ...config };
      w.set(r.name, q.tensor);
      if (r.name === 'output' && cfg.sharedClassifier) cfg.sharedClassifier = false;
      const m = await LlamaModel.build(cfg, w, backend);
      s.push((await meanNll(m, evalTokens, opts.bos, ctx)) - baseNll);
      opts.onProgress?.({ phase: 'quantize', done: ++step, total, name: `sensitivity ${r.name} d=${d}` });
    }
    for (let d = mDepth + 1; d <= 6; d++) s.push(s[d - 2]! / 9);
    // non-negative, non-increasing in depth
    for (let i = 0; i < 6; i++) s[i] = Math.max(0, Math.min(s[i]!, i ? s[i - 1]! : Infinity));
    layers.push({ name: r.name, weights: rows * cols, sensitivity: s, depth: 1 });
  }
  const N = layers.reduce((a, l) => a + l.weights, 0);
  const trits = () => layers.reduce((a, l) => a + l.weights * l.depth, 0);
  const predicted = () => layers.reduce((a, l) => a + l.sensitivity[l.depth - 1]!, 0);
  let measuredNll: number | undefined;
  if (opts.bits !== undefined) {
    allocateTrits(layers, opts.bits);
  } else {
    const limit = Math.log(1 + opts.maxIncrease!);
    allocate(layers, () => true, () => predicted() <= limit);
    for (let round = 0; round < (opts.verifyRounds ?? 4); round++) {
      const q = await quantizeModelWeights(config, weights, planOf(base, layers), { backend, tokens: opts.tokens, bos: opts.bos });
      measuredNll = await meanNll(await LlamaModel.build(q.config, q.weights, backend, { activations: q.activations }), evalTokens, opts.bos, ctx);
      if (measuredNll - baseNll <= limit) break;
      // deepen the layer with the best next step, whatever the prediction says
      let best: LayerSensitivity | null = null;
      let ratio = -Infinity;
      for (const l of layers) {
        if (l.depth >= 6) continue;
        const r = (l.sensitivity[l.depth - 1]! - l.sensitivity[l.depth]!) / l.weights;
        if (r > ratio) {
          ratio = r;
          best = l;
        }
      }
      if (!best) break;
      best.depth++;
    }
  }
  return { plan: planOf(base, layers), layers, bits: (BITS_PER_TRIT * trits()) / N, baseNll, predictedNllIncrease: predicted(), ...(measuredNll !== undefined ? { measuredNll } : {}) };
}

/** Set every layer's depth for a budget of `bits` stored bits per weight on average (greedy). */
function allocateTrits(layers: LayerSensitivity[], bits: number): void {
  for (const l of layers) l.depth = 1;
  const N = layers.reduce((a, l) => a + l.weights, 0);
  const budget = (bits / BITS_PER_TRIT) * N;
  const trits = () => layers.reduce((a, l) => a + l.weights * l.depth, 0);
  allocate(layers, (extra) => trits() + extra <= budget + 1e-9, () => false);
}

/**
 * Re-allocate measured sensitivities (an AutoDepthResult's `layers`) for another bit budget,
 * without measuring again. Returns copies; the input is not changed.
 */
export function allocateBits(measured: readonly LayerSensitivity[], base: QuantPlan, bits: number): { plan: QuantPlan; layers: LayerSensitivity[]; bits: number } {
  checkBits(bits);
  const layers = measured.map((l) => ({ ...l, sensitivity: [...l.sensitivity] }));
  allocateTrits(layers, bits);
  const N = layers.reduce((a, l) => a + l.weights, 0);
  return { plan: planOf(base, layers), layers, bits: (BITS_PER_TRIT * layers.reduce((a, l) => a + l.weights * l.depth, 0)) / N };
}

function checkBits(bits: number): void {
  if (!(bits >= BITS_PER_TRIT && bits <= 6 * BITS_PER_TRIT)) {
    throw new TritwiseError('E_ARG', 'bit budget out of range', { where: 'auto bits', expected: `${BITS_PER_TRIT}..${6 * BITS_PER_TRIT} (1 to 6 trits of ${BITS_PER_TRIT} bits)`, got: bits });
  }
}

/** The base plan with one depth rule per layer (exact names). */
function planOf(base: QuantPlan, layers: LayerSensitivity[]): QuantPlan {
  const { depth: _d, ...rest } = base;
  const kept = (base.layers ?? []).map(({ depth: _x, ...r }) => r);
  return { ...rest, layers: [...kept, ...layers.map((l) => ({ match: l.name, depth: l.depth }))] };
}
