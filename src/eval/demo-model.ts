/**
 * demo-model — the real ternary model `tritwise demo` shows: a small Llama-shaped model that
 * tritwise trained itself, ternary from the first step, on the Brown corpus
 * (scripts/train-demo-model.mjs), shipped in models/brown-ternary/ with a held-out text sample.
 * The demo loads it, measures perplexity on the held-out sample (chunk protocol) and samples a
 * continuation of a prompt. Two baselines put the perplexity in scale:
 *   uniform = vocab size                       (a model that knows nothing)
 *   unigram = exp(−Σ_v p(v) ln p(v)), p(v) = count of token v / N over the held-out sample's own
 *             tokens (the best context-free model, fitted on the very text it is scored on, so an
 *             optimistic baseline: beating it means the model uses context)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../backend/backend.js';
import { Model } from '../nn/model.js';
import { evaluatePerplexity, type PerplexityResult } from './perplexity.js';

/** models/brown-ternary of this package (from src/eval and dist/eval alike). */
export function defaultDemoModel(): string {
  return fileURLToPath(new URL('../../models/brown-ternary/', import.meta.url));
}

export interface TrainedDemoOptions {
  backend: Backend;
  /** the model folder (default: defaultDemoModel()) */
  path?: string;
  prompt?: string;
  /** tokens to sample (default 48) */
  tokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** perplexity context and chunk limit (default 64 tokens = the training context, 64 chunks) */
  ctx?: number;
  chunks?: number;
}

export interface TrainedDemo {
  path: string;
  layers: number;
  dim: number;
  vocab: number;
  /** ternary weights, trits stored */
  trits: number;
  bytes: number;
  /** perplexity on the held-out text shipped beside the model (when present) */
  perplexity?: PerplexityResult;
  /** baselines for the perplexity (see the header) */
  uniform_perplexity: number;
  unigram_perplexity?: number;
  prompt: string;
  sample: string;
  tokens_per_second: number;
  /** what the model folder says about how it was trained */
  trained?: unknown;
}

export async function runTrainedDemo(o: TrainedDemoOptions): Promise<TrainedDemo> {
  const path = o.path ?? defaultDemoModel();
  const model = await Model.load(path, { backend: o.backend });
  try {
    const c = model.config;
    let trits = 0;
    for (const t of model.weights.values()) if ('plus' in t) trits += t.rows * t.cols;
    const held = join(path, 'heldout.txt');
    const heldText = existsSync(held) ? readFileSync(held, 'utf8') : undefined;
    const perplexity = heldText !== undefined ? await evaluatePerplexity(model, heldText, { ctx: o.ctx ?? 64, limit: o.chunks ?? 64 }) : undefined;
    const unigram_perplexity = heldText !== undefined && model.tokenizer ? unigramPerplexity(model.tokenizer.encode(heldText, { bos: false })) : undefined;
    const prompt = o.prompt ?? 'The city';
    let sample = prompt;
    let n = 0;
    const t0 = performance.now();
    for await (const t of model.generate(prompt, { maxTokens: o.tokens ?? 48, temperature: o.temperature ?? 0.8, topP: o.topP ?? 0.9, seed: o.seed ?? 1 })) {
      sample += t.text;
      n++;
    }
    const s = (performance.now() - t0) / 1000;
    return { path, layers: c.nLayers, dim: c.dim, vocab: c.vocabSize, trits, bytes: model.bytes, perplexity, uniform_perplexity: c.vocabSize, unigram_perplexity, prompt, sample, tokens_per_second: n / s, trained: model.info.plan };
  } finally {
    await model.dispose();
  }
}

/** exp of the entropy of the tokens' own frequency distribution (the header's unigram baseline). */
export function unigramPerplexity(ids: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) counts.set(ids[i]!, (counts.get(ids[i]!) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / ids.length;
    h -= p * Math.log(p);
  }
  return Math.exp(h);
}
