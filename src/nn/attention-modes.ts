/**
 * attention-modes — attention implementations by name, as quantization plans and the CLI's
 * `--attention` give them:
 *
 *   exact      f64-softmax attention (the backend's native kernel when it has one)
 *   flash      flash-style online softmax, f32 (WASM SIMD on the wasm backend)
 *   ternary    popcount Q·Kᵀ over ternary Q/K, exact online softmax, f32 V
 *   topk:K     ternary scores pick K keys per query head, exact attention over them
 *   topk:t=τ   threshold mode: keys within τ logits of the best ternary score
 * Suffixes of ternary and top-k: `/t2` two-trit residual Q and K (4 popcount dots per key),
 * `/rR` (top-k) the R most recent keys are always picked — e.g. topk:32/t2/r8.
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

export type AttentionMode = { kind: 'exact' } | { kind: 'flash' } | { kind: 'ternary'; depth?: number } | { kind: 'topk'; k?: number; threshold?: number; depth?: number; recent?: number };

export const ATTENTION_MODES_HELP = 'exact | flash | ternary[/t2] | topk:K[/t2][/rR] | topk:t=τ[/t2][/rR]';

/** Parse a mode name; throws E_ARG naming `where` on anything else. */
export function parseAttentionMode(s: unknown, where = 'attention mode'): AttentionMode {
  const bad = () => new TritwiseError('E_ARG', 'unknown attention mode', { where, expected: ATTENTION_MODES_HELP, got: s });
  if (typeof s !== 'string') throw bad();
  if (s === 'exact' || s === 'flash') return { kind: s };
  const m = /^(ternary|topk:(?:(\d+)|t=([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)))((?:\/t2|\/r\d+)*)$/.exec(s);
  if (!m) throw bad();
  const suffix = m[4] ?? '';
  const opts = suffix.split('/').filter(Boolean);
  if (new Set(opts.map((o) => o[0])).size !== opts.length) throw bad();
  const depth = opts.includes('t2') ? 2 : undefined;
  const r = opts.find((o) => o.startsWith('r'));
  const recent = r ? Number(r.slice(1)) : undefined;
  if (m[1] === 'ternary') {
    if (recent !== undefined) throw bad();
    return depth ? { kind: 'ternary', depth } : { kind: 'ternary' };
  }
  const mode: AttentionMode = { kind: 'topk' };
  if (m[2] !== undefined) {
    const k = Number(m[2]);
    if (!(k >= 1)) throw new TritwiseError('E_ARG', 'top-k needs k ≥ 1', { where, expected: 'topk:K with K ≥ 1', got: s });
    mode.k = k;
  } else mode.threshold = Number(m[3]);
  if (depth) mode.depth = depth;
  if (recent !== undefined) mode.recent = recent;
  return mode;
}

export function formatAttentionMode(m: AttentionMode): string {
  if (m.kind === 'exact' || m.kind === 'flash') return m.kind;
  const t2 = m.depth === 2 ? '/t2' : '';
  if (m.kind === 'ternary') return `ternary${t2}`;
  return `${m.threshold !== undefined ? `topk:t=${m.threshold}` : `topk:${m.k ?? 32}`}${t2}${m.recent ? `/r${m.recent}` : ''}`;
}

/** The reference (plain TypeScript) implementation of a mode. */
export function referenceAttention(m: AttentionMode): AttentionFn {
  switch (m.kind) {
    case 'exact':
      return exactAttention;
    case 'flash':
      return flashAttention;
    case 'ternary':
      return ternaryAttention({ depth: m.depth });
    case 'topk':
      return topKAttention({ k: m.k, threshold: m.threshold, depth: m.depth, recent: m.recent });
  }
}

/** The fastest implementation of a mode on `backend` (its own kernels where it has them). */
export function makeAttention(m: AttentionMode, backend?: Backend): AttentionFn {
  if (m.kind === 'exact' && backend?.attention) return backend.attention.bind(backend) as AttentionFn;
  return (backend && wasmAttention(m, backend)) ?? referenceAttention(m);
}

/** The factory attentionFactory returns; `modes` tells device decoders which kernels to run. */
export type AttentionFactory = ((layer: number, backend?: Backend) => AttentionFn) & { readonly modes?: readonly AttentionMode[] };

/** The parsed modes behind an attention hook, when attentionFactory made it (else null: a custom hook). */
export function attentionModesOf(f: ((layer: number, backend: Backend) => AttentionFn) | undefined): readonly AttentionMode[] | null {
  if (!f) return [{ kind: 'exact' }];
  return (f as AttentionFactory).modes ?? null;
}

/** (layer, backend) → AttentionFn for one mode everywhere, or one mode per layer. */
export function attentionFactory(modes: string | readonly string[], where = 'attention'): AttentionFactory {
  const parsed = (typeof modes === 'string' ? [modes] : modes).map((s, i) => parseAttentionMode(s, typeof modes === 'string' ? where : `${where}[${i}]`));
  if (parsed.length === 0) throw new TritwiseError('E_ARG', 'no attention mode given', { where, expected: ATTENTION_MODES_HELP, got: '[]' });
  const hook = (layer: number, backend?: Backend): AttentionFn => {
    if (parsed.length > 1 && layer >= parsed.length) throw new TritwiseError('E_ARG', 'no attention mode for this layer', { where, expected: `a mode for layer ${layer}`, got: `${parsed.length} modes` });
    return makeAttention(parsed.length === 1 ? parsed[0]! : parsed[layer]!, backend);
  };
  return Object.assign(hook, { modes: parsed });
}
