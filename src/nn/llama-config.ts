/**
 * llama-config — the shape of a Llama-family model (Llama 1/2/3-style, Mistral), the canonical
 * tensor names every loader maps to, and the checks that a set of weights fits a config.
 *
 * Canonical names (Meta's original checkpoint names; W is [out, in] row-major):
 *   tok_embeddings                 [vocab, dim]
 *   layers.L.attention_norm        [dim]
 *   layers.L.attention.wq          [nHeads·headDim, dim]
 *   layers.L.attention.wk / wv     [nKvHeads·headDim, dim]
 *   layers.L.attention.wo          [dim, nHeads·headDim]
 *   layers.L.ffn_norm              [dim]
 *   layers.L.feed_forward.w1 / w3  [hidden, dim]      (gate / up)
 *   layers.L.feed_forward.w2       [dim, hidden]      (down)
 *   norm                           [dim]
 *   output                         [vocab, dim]       (absent when the classifier is shared)
 */
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';

/** Which RoPE pairs rotate: (2i, 2i+1) as in llama2.c/Meta/llama.cpp, or (i, i+d/2) as in HF. */
export type RopeStyle = 'adjacent' | 'halves';

export interface LlamaConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  /** maximum context length */
  seqLen: number;
  /** per-head width (usually dim / nHeads) */
  headDim: number;
  normEps: number;
  ropeTheta: number;
  ropeStyle: RopeStyle;
  /** logits = tok_embeddings · x when true, else a separate `output` matrix */
  sharedClassifier: boolean;
  /** Mistral sliding-window attention: attend to the last `slidingWindow` positions (0 = full) */
  slidingWindow: number;
}

export const LINEAR_KINDS = ['attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'feed_forward.w1', 'feed_forward.w2', 'feed_forward.w3'] as const;

export function defaultConfig(c: Partial<LlamaConfig> & Pick<LlamaConfig, 'dim' | 'hiddenDim' | 'nLayers' | 'nHeads' | 'vocabSize'>): LlamaConfig {
  return {
    nKvHeads: c.nHeads,
    seqLen: 2048,
    headDim: c.dim / c.nHeads,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeStyle: 'adjacent',
    sharedClassifier: false,
    slidingWindow: 0,
    ...c,
  };
}

export function qDim(c: LlamaConfig): number {
  return c.nHeads * c.headDim;
}

export function kvDim(c: LlamaConfig): number {
  return c.nKvHeads * c.headDim;
}

/** Names of every linear layer, in forward order (the output head last, when separate). */
export function linearNames(c: LlamaConfig): string[] {
  const names: string[] = [];
  for (let l = 0; l < c.nLayers; l++) for (const k of LINEAR_KINDS) names.push(`layers.${l}.${k}`);
  if (!c.sharedClassifier) names.push('output');
  return names;
}

/** The expected shape of every canonical tensor. */
export function expectedShapes(c: LlamaConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  m.set('tok_embeddings', [c.vocabSize, c.dim]);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `layers.${l}.`;
    m.set(p + 'attention_norm', [c.dim]);
    m.set(p + 'attention.wq', [qDim(c), c.dim]);
    m.set(p + 'attention.wk', [kvDim(c), c.dim]);
    m.set(p + 'attention.wv', [kvDim(c), c.dim]);
    m.set(p + 'attention.wo', [c.dim, qDim(c)]);
    m.set(p + 'ffn_norm', [c.dim]);
    m.set(p + 'feed_forward.w1', [c.hiddenDim, c.dim]);
    m.set(p + 'feed_forward.w2', [c.dim, c.hiddenDim]);
    m.set(p + 'feed_forward.w3', [c.hiddenDim, c.dim]);
  }
  m.set('norm', [c.dim]);
  if (!c.sharedClassifier) m.set('output', [c.vocabSize, c.dim]);
  return m;
}

const posInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;

/** Check the config itself: positive sizes, heads that divide evenly, even head width. */
export function validateConfig(c: LlamaConfig, where: string): LlamaConfig {
  for (const k of ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'seqLen', 'headDim'] as const) {
    if (!posInt(c[k])) throw new TritwiseError('E_CONFIG', `invalid ${k}`, { where, expected: 'a positive integer', got: c[k] });
  }
  if (c.nHeads % c.nKvHeads !== 0) throw new TritwiseError('E_CONFIG', 'query heads must be a multiple of kv heads', { where, expected: `a multiple of ${c.nKvHeads}`, got: c.nHeads });
  if (c.headDim % 2 !== 0) throw new TritwiseError('E_CONFIG', 'RoPE needs an even head width', { where, expected: 'even headDim', got: c.headDim });
  if (!(c.normEps > 0 && Number.isFinite(c.normEps))) throw new TritwiseError('E_CONFIG', 'invalid norm epsilon', { where, expected: '> 0', got: c.normEps });
  if (!(c.ropeTheta > 0 && Number.isFinite(c.ropeTheta))) throw new TritwiseError('E_CONFIG', 'invalid RoPE theta', { where, expected: '> 0', got: c.ropeTheta });
  if (c.ropeStyle !== 'adjacent' && c.ropeStyle !== 'halves') throw new TritwiseError('E_CONFIG', 'unknown RoPE style', { where, expected: 'adjacent | halves', got: c.ropeStyle });
  if (!(Number.isSafeInteger(c.slidingWindow) && c.slidingWindow >= 0)) throw new TritwiseError('E_CONFIG', 'invalid sliding window', { where, expected: 'an integer ≥ 0', got: c.slidingWindow });
  return c;
}

export function shapeOf(t: StoredTensor): number[] {
  return t instanceof TernaryTensor || t instanceof MultiTritTensor ? [t.rows, t.cols] : t.shape;
}

/** Every expected tensor present with its shape, nothing unexpected; E_CONFIG naming the tensor. */
export function checkWeights(c: LlamaConfig, weights: Map<string, StoredTensor>, where: string): void {
  validateConfig(c, where);
  const want = expectedShapes(c);
  for (const [name, shape] of want) {
    const t = weights.get(name);
    if (!t) throw new TritwiseError('E_CONFIG', 'tensor missing for this config', { where: `${where}: ${name}`, expected: `[${shape.join(', ')}]`, got: 'no such tensor' });
    const got = shapeOf(t);
    if (got.join(',') !== shape.join(',')) throw new TritwiseError('E_CONFIG', 'tensor shape does not match the config', { where: `${where}: ${name}`, expected: shape, got });
    if ((t instanceof TernaryTensor || t instanceof MultiTritTensor) && !(name.includes('.attention.w') || name.includes('.feed_forward.w') || name === 'output')) {
      throw new TritwiseError('E_CONFIG', 'only linear layers may be ternary', { where: `${where}: ${name}`, expected: 'f32', got: 'ternary' });
    }
  }
  for (const name of weights.keys()) {
    if (!want.has(name)) throw new TritwiseError('E_CONFIG', 'unexpected tensor for this config', { where: `${where}: ${name}`, expected: `one of the ${want.size} tensors of a ${c.nLayers}-layer model`, got: name });
  }
}
