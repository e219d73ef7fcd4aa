/**
 * spm-to-hf — a SentencePiece-BPE vocabulary written as an HF `tokenizer.json` (the layout HF
 * uses for Llama 2: BPE with byte fallback, `▁` for spaces, a prepended `▁`).
 *
 * SentencePiece merges the adjacent pair whose concatenation has the highest score; BPE merges
 * the pair with the lowest rank. So every split (l, r) of every piece with l and r in the
 * vocabulary becomes a merge, ranked by the piece's score (descending; ties by the ids of l, r),
 * which makes BPE choose the same merges.
 */
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
