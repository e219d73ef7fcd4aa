/**
 * models — small models and tokenizers for tests: seeded random Llama weights of any shape, a
 * synthetic SentencePiece vocabulary (no data files needed), and greedy decoding.
 */
import { defaultConfig, type LlamaConfig } from '../../src/nn/llama-config.js';
import type { Model } from '../../src/nn/model.js';
import { randomWeights } from '../../src/nn/random-model.js';
import { argmax } from '../../src/nn/sampling.js';
import { SentencePieceTokenizer, TokenType } from '../../src/io/tokenizers/sentencepiece.js';

export function tinyConfig(over: Partial<LlamaConfig> = {}): LlamaConfig {
  return defaultConfig({ dim: 64, hiddenDim: 96, nLayers: 2, nHeads: 4, nKvHeads: 2, vocabSize: 300, seqLen: 128, ...over });
}

export function tinyWeights(c: LlamaConfig, seed = 7, std = 0.1) {
  return randomWeights(c, seed, std);
}

/**
 * A SentencePiece-style vocabulary of `size` tokens: <unk>, <s>, </s>, 256 byte tokens, then
 * single letters, space and a few merges (scores descending by id).
 */
export function syntheticVocab(size: number): SentencePieceTokenizer {
  const pieces = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.unknown, TokenType.control, TokenType.control];
  for (let b = 0; b < 256; b++) {
    pieces.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.byte);
  }
  const extra = [' ', ...'abcdefghijklmnopqrstuvwxyz', ' t', 'th', ' th', 'he', ' the', 'an', ' a', 'in', 'er', 'on', ' an', ' and', 're', 'ed', 'nd', 'at', 'en', 'es', 'or'];
  for (let i = 0; pieces.length < size; i++) {
    pieces.push(i < extra.length ? extra[i]! : `<extra_${i}>`);
    types.push(i < extra.length ? TokenType.normal : TokenType.userDefined);
  }
  const scores = Float32Array.from(pieces, (_, i) => (i < 259 ? 0 : -i));
  return new SentencePieceTokenizer({ pieces, scores, types: Int32Array.from(types) });
}

export async function greedyIds(m: Model, n: number, prompt: number[] = [1]): Promise<number[]> {
  const out: number[] = [];
  for await (const t of m.generate(prompt, { maxTokens: n, stopAtEos: false })) out.push(t.id);
  return out;
}

/** All next-token logits of a prompt, [positions][vocab]. */
export async function promptLogits(m: Model, ids: number[]): Promise<Float32Array[]> {
  const [all] = await m.forward([{ tokens: ids, cache: m.newCache() }], { logits: 'all' });
  const V = m.config.vocabSize;
  return ids.map((_, i) => all!.subarray(i * V, (i + 1) * V));
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** tokenizer.bin bytes for a vocabulary. */
export function encodeTokenizerBin(t: SentencePieceTokenizer): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [];
  const push32 = (v: number, f = false) => {
    const b = new Uint8Array(4);
    f ? new DataView(b.buffer).setFloat32(0, v, true) : new DataView(b.buffer).setInt32(0, v, true);
    parts.push(...b);
  };
  const bytes = t.pieces.map((p) => enc.encode(p));
  push32(Math.max(...bytes.map((b) => b.length)));
  bytes.forEach((b, i) => {
    push32(t.scores[i]!, true);
    push32(b.length);
    parts.push(...b);
  });
  return Uint8Array.from(parts);
}

export { argmax };

