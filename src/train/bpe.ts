/**
 * bpe — learn a SentencePiece-style BPE vocabulary from text (byte-pair encoding, Sennrich et al.
 * 2016), in the form tritwise's SentencePieceTokenizer encodes with:
 *
 *   ids 0..2     <unk>, <s>, </s>
 *   ids 3..258   the byte tokens <0x00> … <0xFF> (any text encodes, as in llama2.c's tokenizers)
 *   then         every character seen at least `minCharCount` times, then the merges in the
 *                order they were learned, with score −rank, so that the encoder's rule "merge the
 *                adjacent pair whose concatenation has the highest score" replays BPE's order.
 *
 * Training: split the text at whitespace into words, each with the dummy-prefix space the
 * encoder adds (" word"); count words; then repeatedly merge the most frequent adjacent symbol
 * pair (ties: the pair seen first) until the vocabulary has `size` pieces. Merges never cross a
 * word boundary.
 */
import { TritwiseError } from '../errors.js';
import { SentencePieceTokenizer, TokenType } from '../io/tokenizers/sentencepiece.js';

export interface BpeOptions {
  /** vocabulary size including specials and byte tokens (default 1024) */
  size?: number;
  /** characters rarer than this fall back to byte tokens (default 2) */
  minCharCount?: number;
}

export function trainBpe(text: string, opts: BpeOptions = {}): SentencePieceTokenizer {
  const size = opts.size ?? 1024;
  const fixed = 3 + 256;
  if (!(Number.isInteger(size) && size > fixed)) throw new TritwiseError('E_ARG', 'vocabulary too small', { where: 'trainBpe size', expected: `an integer > ${fixed}`, got: size });
  // word counts (each with its leading space)
  const counts = new Map<string, number>();
  for (const w of text.split(/\s+/)) if (w) counts.set(' ' + w, (counts.get(' ' + w) ?? 0) + 1);
  // characters
  const chars = new Map<string, number>();
  for (const [w, n] of counts) for (const ch of w) chars.set(ch, (chars.get(ch) ?? 0) + n);
  const pieces = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.unknown, TokenType.control, TokenType.control];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.byte);
  }
  const charList = [...chars].filter(([, n]) => n >= (opts.minCharCount ?? 2)).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
  const id = new Map<string, number>();
  for (const c of charList.slice(0, size - fixed)) {
    id.set(c, pieces.length);
    pieces.push(c);
    types.push(TokenType.normal);
  }
  // words as symbol sequences (rare characters as -1: never merged)
  const words = [...counts].map(([w, n]) => ({ syms: [...w].map((c) => id.get(c) ?? -1), n }));
  const scores: number[] = pieces.map(() => 0);
  let rank = 0;
  while (pieces.length < size) {
    const pairs = new Map<number, number>();
    const order = new Map<number, number>();
    for (const { syms, n } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const a = syms[i]!, b = syms[i + 1]!;
        if (a < 0 || b < 0) continue;
        const key = a * 65536 + b;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
        if (!order.has(key)) order.set(key, order.size);
      }
    }
    let best = -1, bestN = 0;
    for (const [key, n] of pairs) if (n > bestN || (n === bestN && order.get(key)! < order.get(best)!)) [best, bestN] = [key, n];
    if (best < 0 || bestN < 2) break;
    const a = Math.floor(best / 65536), b = best % 65536;
    const merged = pieces[a]! + pieces[b]!;
    const nid = pieces.length;
    pieces.push(merged);
    types.push(TokenType.normal);
    scores.push(-++rank);
    for (const w of words) {
      const s = w.syms;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, nid);
      }
    }
  }
  // character pieces rank below every merge (they are never the result of one)
  for (let i = fixed; i < fixed + charList.length && i < scores.length; i++) scores[i] = -1e6;
  return new SentencePieceTokenizer({ pieces, scores: Float32Array.from(scores), types: Int32Array.from(types), bos: 1, eos: 2, unk: 0, addSpacePrefix: true });
}
