/**
 * spm-hf — SentencePiece-BPE vocabularies ⇄ HF `tokenizer.json` (the layout HF uses for Llama 2:
 * BPE with byte fallback, `▁` for spaces, a prepended `▁`).
 *
 * SentencePiece merges the adjacent pair whose concatenation has the highest score; BPE merges
 * the pair with the lowest rank. So every split (l, r) of every piece with l and r in the
 * vocabulary becomes a merge, ranked by the piece's score (descending; ties by the ids of l, r),
 * which makes BPE choose the same merges. The way back (for GGUF export of HF models) gives each
 * merged piece the score −(rank of the first merge that makes it), so SentencePiece's
 * highest-score-first order is BPE's lowest-rank-first order.
 */
import type { HfTokenizer } from './hf-tokenizer.js';
import { SentencePieceTokenizer, TokenType } from './sentencepiece.js';

const SP = '\u2581';

export function spmToHfTokenizerJson(tok: SentencePieceTokenizer): { json: Record<string, unknown>; config: Record<string, unknown> } {
  const vocab: Record<string, number> = {};
  const pieces = tok.pieces.map((p) => p.replaceAll(' ', SP));
  pieces.forEach((p, i) => {
    if (!(p in vocab)) vocab[p] = i;
  });
  const merges: { l: string; r: string; score: number; li: number; ri: number }[] = [];
  pieces.forEach((p, i) => {
    const t = tok.types[i];
    if (t === TokenType.byte || t === TokenType.control || t === TokenType.unknown || vocab[p] !== i) return;
    const cps = [...p];
    for (let k = 1; k < cps.length; k++) {
      const l = cps.slice(0, k).join('');
      const r = cps.slice(k).join('');
      if (l in vocab && r in vocab) merges.push({ l, r, score: tok.scores[i]!, li: vocab[l]!, ri: vocab[r]! });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.li - b.li || a.ri - b.ri);
  const special = (id: number) => ({ id, content: pieces[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const bos = pieces[tok.bos]!;
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...new Set([tok.unk, tok.bos, tok.eos])].map(special),
    normalizer: tok.addSpacePrefix
      ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SP }, { type: 'Replace', pattern: { String: ' ' }, content: SP }] }
      : { type: 'Replace', pattern: { String: ' ' }, content: SP },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [tok.bos], tokens: [bos] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: SP }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, ...(tok.addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: pieces[tok.unk],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => `${m.l} ${m.r}`),
    },
  };
  const config = { bos_token: bos, eos_token: pieces[tok.eos], unk_token: pieces[tok.unk], add_bos_token: true, add_eos_token: false, legacy: true, tokenizer_class: 'LlamaTokenizer' };
  return { json, config };
}

/** The SentencePiece equivalent of a Llama-style HF tokenizer, or null for other kinds (byte-level BPE, …). */
export function hfToSentencePiece(tok: HfTokenizer): SentencePieceTokenizer | null {
  const model = tok.json.model as { type?: string; byte_fallback?: boolean; vocab?: Record<string, number>; merges?: (string | string[])[]; unk_token?: string } | undefined;
  if (!model || model.type !== 'BPE' || !model.byte_fallback || !model.vocab || tok.json.pre_tokenizer) return null;
  const pieces: string[] = new Array(tok.vocabSize).fill('');
  const types = new Int32Array(tok.vocabSize).fill(TokenType.unused);
  for (const [p, id] of Object.entries(model.vocab)) {
    pieces[id] = p.replaceAll(SP, ' ');
    types[id] = /^<0x[0-9A-Fa-f]{2}>$/.test(p) ? TokenType.byte : TokenType.normal;
  }
  for (const a of (tok.json.added_tokens ?? []) as { id: number; content: string; special?: boolean }[]) {
    pieces[a.id] = a.content;
    types[a.id] = a.special ? TokenType.control : TokenType.userDefined;
  }
  const scores = new Float32Array(tok.vocabSize);
  const seen = new Set<number>();
  (model.merges ?? []).forEach((m, r) => {
    const [l, rr] = Array.isArray(m) ? m : m.split(' ');
    const id = model.vocab![`${l}${rr}`];
    if (id !== undefined && !seen.has(id)) {
      seen.add(id);
      scores[id] = -r;
    }
  });
  const unk = model.unk_token !== undefined ? (model.vocab[model.unk_token] ?? 0) : 0;
  if (types[unk] === TokenType.normal) types[unk] = TokenType.unknown;
  const norm = JSON.stringify(tok.json.normalizer ?? null);
  return new SentencePieceTokenizer({ pieces, scores, types, bos: Math.max(tok.bos, 0), eos: Math.max(tok.eos, 0), unk, addSpacePrefix: norm.includes('"Prepend"') });
}
