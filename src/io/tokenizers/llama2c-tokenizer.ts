/**
 * llama2c-tokenizer — llama2.c's `tokenizer.bin`:
 *   int32 max_token_length, then per token: f32 score, int32 byte length, that many UTF-8 bytes.
 * Ids 0/1/2 are <unk>, BOS, EOS; byte tokens are `<0xHH>`. The vocabulary size is not stored:
 * the file is read to its end.
 */
import { TritwiseError } from '../../errors.js';
import { BufferSource, FileSource, type ByteSource } from '../byte-source.js';
import { SentencePieceTokenizer } from './sentencepiece.js';

export function readLlama2cTokenizer(src: ByteSource): SentencePieceTokenizer {
  const where = src.name;
  const bytes = src.read(0, src.size);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new TritwiseError('E_TRUNCATED', 'file too short for a tokenizer.bin header', { where, expected: '≥ 4 bytes', got: `${bytes.length} bytes` });
  const maxLen = dv.getInt32(0, true);
  if (!(maxLen > 0 && maxLen < 1 << 20)) throw new TritwiseError('E_FORMAT', 'invalid max_token_length', { where, expected: '1..2^20', got: maxLen });
  const pieces: string[] = [];
  const scores: number[] = [];
  const dec = new TextDecoder('utf-8', { fatal: false });
  let p = 4;
  while (p < bytes.length) {
    if (p + 8 > bytes.length) throw new TritwiseError('E_TRUNCATED', 'tokenizer.bin ends inside a token header', { where: `${where} token ${pieces.length}`, expected: `${p + 8} bytes`, got: `${bytes.length} bytes` });
    const score = dv.getFloat32(p, true);
    const len = dv.getInt32(p + 4, true);
    if (!(len >= 0 && len <= maxLen)) throw new TritwiseError('E_FORMAT', 'token length out of range', { where: `${where} token ${pieces.length}`, expected: `0..${maxLen}`, got: len });
    if (p + 8 + len > bytes.length) throw new TritwiseError('E_TRUNCATED', 'tokenizer.bin ends inside a token', { where: `${where} token ${pieces.length}`, expected: `${p + 8 + len} bytes`, got: `${bytes.length} bytes` });
    if (!Number.isFinite(score)) throw new TritwiseError('E_FORMAT', 'non-finite token score', { where: `${where} token ${pieces.length}`, got: score });
    pieces.push(dec.decode(bytes.subarray(p + 8, p + 8 + len)));
    scores.push(score);
    p += 8 + len;
  }
  if (pieces.length < 3) throw new TritwiseError('E_FORMAT', 'tokenizer.bin has too few tokens', { where, expected: '≥ 3 (<unk>, BOS, EOS)', got: pieces.length });
  return new SentencePieceTokenizer({ pieces, scores: Float32Array.from(scores), bos: 1, eos: 2, unk: 0 }, where);
}

export function loadLlama2cTokenizer(path: string): SentencePieceTokenizer {
  const src = new FileSource(path);
  try {
    return readLlama2cTokenizer(src);
  } finally {
    src.close();
  }
}

export function parseLlama2cTokenizer(bytes: Uint8Array, name = '<buffer>'): SentencePieceTokenizer {
  return readLlama2cTokenizer(new BufferSource(bytes, name));
}
