/**
 * attention-modes — attention implementations by name, as quantization plans and the CLI's
 * `--attention` give them:
 *
 *   exact      f64-softmax attention (the backend's native kernel when it has one)
 *   flash      flash-style online softmax, f32 (WASM SIMD on the wasm backend)
 *   ternary    popcount Q·Kᵀ over ternary Q/K, exact online softmax, f32 V
 *   topk:K     ternary scores pick K keys per query head, exact attention over them
 *   topk:t=τ   threshold mode: keys within τ logits of the best ternary score
 *
 * `attentionFactory(modes)` turns one mode (every layer) or a list (one per layer) into the
 * (layer, backend) → AttentionFn hook of LlamaModel.build / Model.load.
 */
import type { Backend } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import { exactAttention, type AttentionFn } from './attention.js';
import { flashAttention } from './attention-flash.js';
import { ternaryAttention, topKAttention } from './attention-ternary.js';
import { wasmAttention } from './attention-wasm.js';

export type AttentionMode = { kind: 'exact' } | { kind: 'flash' } | { kind: 'ternary' } | { kind: 'topk'; k?: number; threshold?: number };

export const ATTENTION_MODES_HELP = 'exact | flash | ternary | topk:K | topk:t=τ';

/** Parse a mode name; throws E_ARG naming `where` on anything else. */
export function parseAttentionMode(s: unknown, where = 'attention mode'): AttentionMode {
  const bad = () => new TritwiseError('E_ARG', 'unknown attention mode', { where, expected: ATTENTION_MODES_HELP, got: s });
  if (typeof s !== 'string') throw bad();
  if (s === 'exact' || s === 'flash' || s === 'ternary') return { kind: s };
  const m = /^topk:(?:(\d+)|t=([0-9]*\.?[0-9]+(?:e[+-]?\d+)?))$/.exec(s);
  if (!m) throw bad();
  if (m[1] !== undefined) {
    const k = Number(m[1]);
    if (!(k >= 1)) throw new TritwiseError('E_ARG', 'top-k needs k ≥ 1', { where, expected: 'topk:K with K ≥ 1', got: s });
    return { kind: 'topk', k };
  }
  return { kind: 'topk', threshold: Number(m[2]) };
}

export function formatAttentionMode(m: AttentionMode): string {
  if (m.kind !== 'topk') return m.kind;
  return m.threshold !== undefined ? `topk:t=${m.threshold}` : `topk:${m.k ?? 32}`;
}

/** The reference (plain TypeScript) implementation of a mode. */
export function referenceAttention(m: AttentionMode): AttentionFn {
  switch (m.kind) {
    case 'exact':
      return exactAttention;
    case 'flash':
      return flashAttention;
    case 'ternary':
      return ternaryAttention();
    case 'topk':
      return topKAttention({ k: m.k, threshold: m.threshold });
  }
}

/** The fastest implementation of a mode on `backend` (its own kernels where it has them). */
export function makeAttention(m: AttentionMode, backend?: Backend): AttentionFn {
  if (m.kind === 'exact' && backend?.attention) return backend.attention.bind(backend) as AttentionFn;
  return (backend && wasmAttention(m, backend)) ?? referenceAttention(m);
}

/** (layer, backend) → AttentionFn for one mode everywhere, or one mode per layer. */
export function attentionFactory(modes: string | readonly string[], where = 'attention'): (layer: number, backend?: Backend) => AttentionFn {
  const parsed = (typeof modes === 'string' ? [modes] : modes).map((s, i) => parseAttentionMode(s, typeof modes === 'string' ? where : `${where}[${i}]`));
  if (parsed.length === 0) throw new TritwiseError('E_ARG', 'no attention mode given', { where, expected: ATTENTION_MODES_HELP, got: '[]' });
  return (layer, backend) => {
    if (parsed.length > 1 && layer >= parsed.length) throw new TritwiseError('E_ARG', 'no attention mode for this layer', { where, expected: `a mode for layer ${layer}`, got: `${parsed.length} modes` });
    return makeAttention(parsed.length === 1 ? parsed[0]! : parsed[layer]!, backend);
  };
}
