/**
 * tokenizer — the interface every tokenizer implements (SentencePiece-style vocabularies from
 * llama2.c `tokenizer.bin` and GGUF, and HF `tokenizer.json`), plus the vocabulary-size check
 * between a tokenizer and a model.
 */
import { TritwiseError } from '../../errors.js';

export interface EncodeOptions {
  /** prepend the BOS token (default true) */
  bos?: boolean;
}

export interface Tokenizer {
  readonly kind: 'spm' | 'hf';
  /** number of ids the tokenizer can produce (its highest id + 1) */
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Text of a sequence of ids; control tokens (BOS/EOS) produce nothing. */
  decode(ids: readonly number[]): string;
}

/**
 * A tokenizer can drive a model when its vocabulary is the model's. SentencePiece vocabularies
 * (llama2.c, GGUF) define the embedding rows, so sizes must be equal; HF models often pad their
 * embedding beyond the tokenizer, so an HF tokenizer may be smaller, never bigger.
 */
export function checkVocab(tok: Tokenizer, modelVocab: number, where: string): void {
  const ok = tok.kind === 'spm' ? tok.vocabSize === modelVocab : tok.vocabSize <= modelVocab;
  if (!ok) {
    throw new TritwiseError('E_VOCAB', 'tokenizer and model have different vocabulary sizes', { where, expected: `${tok.kind === 'spm' ? '' : '≤ '}${modelVocab} tokens (the model's embedding rows)`, got: `${tok.vocabSize} tokens` });
  }
}

/** Incremental detokenization for streaming: feed ids, get the newly completed text. */
export class StreamingDecoder {
  #ids: number[] = [];
  #emitted = 0;
  constructor(
    readonly tokenizer: Tokenizer,
    prefix: readonly number[] = [],
  ) {
    this.#ids = [...prefix];
    this.#emitted = tokenizer.decode(this.#ids).length;
  }

  /** Add one id; returns the text it completes (may be '' while a UTF-8 character is split). */
  push(id: number): string {
    this.#ids.push(id);
    const text = this.tokenizer.decode(this.#ids);
    if (text.endsWith('\uFFFD')) return '';
    const delta = text.slice(this.#emitted);
    this.#emitted = text.length;
    return delta;
  }
}
