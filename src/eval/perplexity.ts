/**
 * perplexity — how surprised a model is by a text: PPL = exp(mean NLL), NLL = −log p(token).
 *
 * Two protocols:
 *   'chunks'    (llama.cpp `llama-perplexity`): the whole text is tokenized as one stream with BOS
 *               at the front, cut into ⌊n/ctx⌋ chunks of ctx tokens; each chunk's first token is
 *               replaced by BOS, the chunk is run from an empty cache, and only its second half is
 *               scored: the logits at positions ctx/2 … ctx−2 predict tokens ctx/2+1 … ctx−1
 *               (ctx/2 − 1 scored tokens per chunk).
 *   'documents' the text is split into documents (paragraphs separated by blank lines; with
 *               `docStart`, a document starts at each paragraph matching it, text before the
 *               first match is a document of its own, and a document's paragraphs are joined by
 *               one newline); each is scored as
 *               BOS + encode(doc.trim()), at most ctx tokens, every token after BOS predicted,
 *               no state carried between documents.
 * Log-probabilities are computed in f64 with a stable log-sum-exp.
 */
import { TritwiseError } from '../errors.js';
import type { Model } from '../nn/model.js';
import { logSumExp } from '../nn/ops.js';

export type PerplexityProtocol = 'chunks' | 'documents';

export interface PerplexityOptions {
  protocol?: PerplexityProtocol;
  /** context length (default 512, capped by the model) */
  ctx?: number;
  /** chunks: at most this many chunks; documents: at most this many documents */
  limit?: number;
  /** documents: a document starts at each paragraph matching this */
  docStart?: RegExp;
  /** sequences evaluated together in one batch (default 1) */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PerplexityResult {
  protocol: PerplexityProtocol;
  ctx: number;
  /** chunks or documents evaluated */
  sequences: number;
  tokens_scored: number;
  tokens_evaluated: number;
  mean_nll: number;
  perplexity: number;
  tokens_per_second: number;
  wall_ms: number;
}

/** Paragraphs separated by blank lines, grouped into documents starting at `start` (if given). */
export function splitDocuments(text: string, start?: RegExp): string[] {
  const paras = text.split(/\n\s*\n/).filter((p) => p.trim().length > 0);
  if (!start) return paras.map((p) => p.trim());
  const docs: string[] = [];
  for (const p of paras) {
    if (start.test(p.trimStart()) || docs.length === 0) docs.push(p.trim());
    else docs[docs.length - 1] += '\n' + p.trim();
  }
  return docs;
}

interface Job {
  tokens: number[];
  /** score positions [first, last] : logits at p predict tokens[p+1] */
  first: number;
  last: number;
}

export async function evaluatePerplexity(model: Model, text: string, opts: PerplexityOptions = {}): Promise<PerplexityResult> {
  const tok = model.requireTokenizer();
  const protocol = opts.protocol ?? 'chunks';
  const ctx = Math.min(opts.ctx ?? 512, model.config.seqLen);
  if (!(Number.isInteger(ctx) && ctx >= 4)) throw new TritwiseError('E_ARG', 'invalid context length', { where: 'perplexity --ctx', expected: 'an integer ≥ 4', got: opts.ctx });
  const jobs: Job[] = [];
  if (protocol === 'chunks') {
    const all = tok.encode(text, { bos: true });
    let n = Math.floor(all.length / ctx);
    if (opts.limit !== undefined) n = Math.min(n, opts.limit);
    if (n < 1) throw new TritwiseError('E_ARG', 'text too short for one chunk', { where: 'perplexity', expected: `≥ ${ctx} tokens`, got: `${all.length} tokens` });
    for (let i = 0; i < n; i++) {
      const tokens = all.slice(i * ctx, (i + 1) * ctx);
      tokens[0] = tok.bos;
      jobs.push({ tokens, first: ctx / 2 | 0, last: ctx - 2 });
    }
  } else if (protocol === 'documents') {
    let docs = splitDocuments(text, opts.docStart);
    if (opts.limit !== undefined) docs = docs.slice(0, opts.limit);
    for (const d of docs) {
      const tokens = tok.encode(d, { bos: true }).slice(0, ctx);
      if (tokens.length >= 2) jobs.push({ tokens, first: 0, last: tokens.length - 2 });
    }
    if (jobs.length === 0) throw new TritwiseError('E_ARG', 'no documents to score', { where: 'perplexity', expected: 'at least one non-empty document', got: 0 });
  } else {
    throw new TritwiseError('E_ARG', 'unknown perplexity protocol', { where: 'perplexity --protocol', expected: 'chunks | documents', got: protocol });
  }
  const V = model.config.vocabSize;
  const batch = Math.max(1, opts.batch ?? 1);
  const t0 = performance.now();
  let nll = 0;
  let scored = 0;
  let evaluated = 0;
  for (let i = 0; i < jobs.length; i += batch) {
    const group = jobs.slice(i, i + batch);
    const caches = group.map(() => model.newCache());
    let logits: Float32Array[];
    try {
      logits = await model.forward(group.map((j, g) => ({ tokens: j.tokens, cache: caches[g]! })), { logits: 'all' });
    } finally {
      for (const c of caches) c.dispose();
    }
    group.forEach((j, g) => {
      const lg = logits[g]!;
      for (let p = j.first; p <= j.last; p++) {
        nll += logSumExp(lg, p * V, V) - lg[p * V + j.tokens[p + 1]!]!;
        scored++;
      }
      evaluated += j.tokens.length;
    });
    opts.onProgress?.(Math.min(i + batch, jobs.length), jobs.length);
  }
  const wall = performance.now() - t0;
  const mean = nll / scored;
  return { protocol, ctx, sequences: jobs.length, tokens_scored: scored, tokens_evaluated: evaluated, mean_nll: mean, perplexity: Math.exp(mean), tokens_per_second: evaluated / (wall / 1000), wall_ms: wall };
}
