/**
 * hf-tokenizer — Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) through the maintained
 * `@huggingface/tokenizers` library (BPE, byte fallback, normalizers, … are its job, not ours).
 * BOS is added by tritwise itself (from the config's bos_token), so `encode(text, {bos})` means
 * the same for every tokenizer.
 */
import { Tokenizer as HfLib } from '@huggingface/tokenizers';
import { readFileSync } from 'node:fs';
import { TritwiseError } from '../../errors.js';
import type { EncodeOptions, Tokenizer } from './tokenizer.js';

function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf';
  readonly lib: HfLib;
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;

  /** json: the parsed tokenizer.json; config: the parsed tokenizer_config.json ({} if absent). */
  constructor(
    readonly json: Record<string, unknown>,
    readonly config: Record<string, unknown> = {},
    where = 'tokenizer.json',
  ) {
    try {
      this.lib = new HfLib(json, config);
    } catch (e) {
      throw new TritwiseError('E_FORMAT', `tokenizer.json could not be loaded: ${(e as Error).message}`, { where, cause: e });
    }
    let max = -1;
    for (const id of this.lib.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const id = (k: string, fallbacks: string[]) => {
      for (const name of [tokenName(config[k]), ...fallbacks]) {
        if (name === undefined) continue;
        const v = this.lib.token_to_id(name);
        if (v !== undefined) return v;
      }
      return -1;
    };
    this.bos = id('bos_token', ['<s>', '<|begin_of_text|>']);
    this.eos = id('eos_token', ['</s>', '<|end_of_text|>', '<|endoftext|>']);
  }

  static load(jsonPath: string, configPath?: string): HfTokenizer {
    const read = (p: string) => {
      try {
        return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new TritwiseError((e as NodeJS.ErrnoException).code ? 'E_IO' : 'E_FORMAT', 'cannot read tokenizer file', { where: p, got: (e as Error).message, cause: e });
      }
    };
    return new HfTokenizer(read(jsonPath), configPath ? read(configPath) : {}, jsonPath);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    return (opts.bos ?? true) && this.bos >= 0 ? [this.bos, ...ids] : [...ids];
  }

  decode(ids: readonly number[]): string {
    return this.lib.decode([...ids], { skip_special_tokens: true });
  }
}
