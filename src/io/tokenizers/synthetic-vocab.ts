/**
 * synthetic-vocab — a SentencePiece-style vocabulary of any size for random models (benchmarks,
 * demos) that must still export to a GGUF llama.cpp loads: <unk>, <s>, </s>, the 256 byte tokens
 * <0xHH>, a space and the letters, a few English merges, then placeholder pieces up to `size`.
 * Scores decrease with the id, so encoding is deterministic.
 */
import { TritwiseError } from '../../errors.js';
import { SentencePieceTokenizer, TokenType } from './sentencepiece.js';

const MERGES = [' t', 'th', ' th', 'he', ' the', 'an', ' a', 'in', 'er', 'on', ' an', ' and', 're', 'ed', 'nd', 'at', 'en', 'es', 'or'];

export function syntheticVocabulary(size: number): SentencePieceTokenizer {
  if (!Number.isInteger(size) || size < 259 + 27) throw new TritwiseError('E_ARG', 'vocabulary too small', { where: 'syntheticVocabulary', expected: '≥ 286 tokens (3 control, 256 bytes, space and letters)', got: size });
  const pieces = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.unknown, TokenType.control, TokenType.control];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.byte);
  }
  const extra = [' ', ...'abcdefghijklmnopqrstuvwxyz', ...MERGES];
  for (let i = 0; pieces.length < size; i++) {
    pieces.push(i < extra.length ? extra[i]! : `<extra_${i}>`);
    types.push(i < extra.length ? TokenType.normal : TokenType.userDefined);
  }
  const scores = Float32Array.from(pieces, (_, i) => (i < 259 ? 0 : -i));
  return new SentencePieceTokenizer({ pieces, scores, types: Int32Array.from(types) });
}
