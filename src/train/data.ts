/**
 * data — text for training: a split into train and validation parts, seeded random windows for
 * training batches, and llama.cpp-style chunks for validation perplexity.
 *
 * Split: the last `valFraction` of the text (cut at the paragraph break nearest to that point)
 * is validation, the rest training; each part is tokenized as one stream with BOS in front.
 * Training window (step s, micro-batch u, row b): start p from a PRNG seeded by (seed, s, u, b),
 * ids = [BOS, tok[p+1] … tok[p+T−1]], targets = tok[p+1 … p+T] (the first token is replaced by
 * BOS exactly as llama.cpp's perplexity chunks are). A batch is a pure function of its indices,
 * so a resumed run sees the same batches as an uninterrupted one.
 * Aligned windows (`alignedBatch`, used by cached distillation): the training stream is cut into
 * W = ⌊(N−1)/T⌋ fixed windows (window w starts at p = w·T); the windows are visited in epochs, each
 * epoch a seeded permutation of 0 … W−1 (Fisher–Yates seeded by (seed, epoch)), row i of the run
 * (i = (step·accum + micro)·B + b) taking window perm_{⌊i/W⌋}(i mod W). A fixed set of windows is
 * what lets the teacher's outputs be computed once per window and reused (teacher-cache.ts).
 * Validation chunk c: tokens [cT, cT+T) with the first replaced by BOS; only the second half is
 * scored (logits at T/2 … T−2 predict tokens T/2+1 … T−1), as `tritwise eval`'s chunk protocol.
 */
import { TritwiseError } from '../errors.js';
import { seededRandom } from '../eval/random.js';
import type { Tokenizer } from '../io/tokenizers/tokenizer.js';
import type { Batch } from './llama-train.js';

export interface TextSplit {
  train: Int32Array;
  val: Int32Array;
  /** characters of text in each part */
  trainChars: number;
  valChars: number;
}

/** Index of the paragraph break ("\n\n") nearest to `at`, or `at` when there is none. */
function breakNear(text: string, at: number): number {
  const after = text.indexOf('\n\n', at);
  const before = text.lastIndexOf('\n\n', at);
  if (after < 0 && before < 0) return at;
  if (after < 0) return before;
  if (before < 0) return after;
  return at - before <= after - at ? before : after;
}

export function splitText(text: string, tok: Tokenizer, valFraction: number): TextSplit {
  if (!(valFraction > 0 && valFraction < 1)) throw new TritwiseError('E_ARG', 'invalid validation fraction', { where: 'finetune --val-fraction', expected: '0 < f < 1', got: valFraction });
  const cut = breakNear(text, Math.floor(text.length * (1 - valFraction)));
  const a = text.slice(0, cut).trim(), b = text.slice(cut).trim();
  return { train: Int32Array.from(tok.encode(a, { bos: true })), val: Int32Array.from(tok.encode(b, { bos: true })), trainChars: a.length, valChars: b.length };
}

function mix(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) h = Math.imul(h ^ (x >>> 0), 0x85ebca6b) ^ (h >>> 13);
  return h >>> 0;
}

/** The training batch of (step, micro): B windows of T tokens. */
export function trainBatch(tokens: Int32Array, B: number, T: number, bos: number, seed: number, step: number, micro: number): Batch {
  if (tokens.length < T + 2) throw new TritwiseError('E_ARG', 'training text shorter than one context', { where: 'finetune --text', expected: `≥ ${T + 2} tokens`, got: `${tokens.length} tokens` });
  const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const p = seededRandom(mix(seed, step, micro, b)).int(tokens.length - T);
    ids[b * T] = bos;
    for (let i = 1; i < T; i++) ids[b * T + i] = tokens[p + i]!;
    for (let i = 0; i < T; i++) targets[b * T + i] = tokens[p + i + 1]!;
  }
  return { ids, targets, B, T };
}

/** Number of aligned windows of T tokens in a stream of N tokens (window w: p = w·T, p + T ≤ N − 1). */
export function alignedWindowCount(N: number, T: number): number {
  return Math.max(0, Math.floor((N - 1) / T));
}

let permCache: { key: string; perm: Int32Array } | null = null;

function epochPermutation(W: number, seed: number, epoch: number): Int32Array {
  const key = `${W}:${seed}:${epoch}`;
  if (permCache?.key === key) return permCache.perm;
  const perm = new Int32Array(W);
  for (let i = 0; i < W; i++) perm[i] = i;
  const rng = seededRandom(mix(seed, 0x51ed, epoch));
  for (let i = W - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  permCache = { key, perm };
  return perm;
}

/**
 * The training batch of rows first … first+B−1 of a run over aligned windows (first =
 * (step·accum + micro)·B); `windows` holds each row's window index.
 */
export function alignedBatch(tokens: Int32Array, B: number, T: number, bos: number, seed: number, first: number): Batch & { windows: Int32Array } {
  const W = alignedWindowCount(tokens.length, T);
  if (W < 1) throw new TritwiseError('E_ARG', 'training text shorter than one context', { where: 'finetune --text', expected: `≥ ${T + 1} tokens`, got: `${tokens.length} tokens` });
  const ids = new Int32Array(B * T), targets = new Int32Array(B * T), windows = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const i = first + b;
    const w = epochPermutation(W, seed, Math.floor(i / W))[i % W]!;
    const p = w * T;
    windows[b] = w;
    ids[b * T] = bos;
    for (let t = 1; t < T; t++) ids[b * T + t] = tokens[p + t]!;
    for (let t = 0; t < T; t++) targets[b * T + t] = tokens[p + t + 1]!;
  }
  return { ids, targets, B, T, windows };
}

/** Validation batches: chunks of T tokens (at most `limit`), second half scored, B per batch. */
export function validationBatches(tokens: Int32Array, T: number, B: number, bos: number, limit?: number): Batch[] {
  let n = Math.floor(tokens.length / T);
  if (limit !== undefined) n = Math.min(n, limit);
  if (n < 1) throw new TritwiseError('E_ARG', 'validation text shorter than one context', { where: 'finetune validation part', expected: `≥ ${T} tokens (lower --ctx or raise --val-fraction)`, got: `${tokens.length} tokens` });
  const out: Batch[] = [];
  for (let c0 = 0; c0 < n; c0 += B) {
    const bs = Math.min(B, n - c0);
    const ids = new Int32Array(bs * T), targets = new Int32Array(bs * T).fill(-1);
    for (let b = 0; b < bs; b++) {
      const o = (c0 + b) * T;
      ids.set(tokens.subarray(o, o + T), b * T);
      ids[b * T] = bos;
      for (let i = T >> 1; i <= T - 2; i++) targets[b * T + i] = tokens[o + i + 1]!;
    }
    out.push({ ids, targets, B: bs, T });
  }
  return out;
}
