/**
 * checkpoint — open any supported model file or folder as config + canonical weights + tokenizer:
 *
 *   a tritwise folder   config.json with a "tritwise" key (model-file.ts)
 *   an HF folder        config.json + model.safetensors / index (hf-checkpoint.ts)
 *   *.gguf              magic "GGUF" (gguf-model.ts)
 *   anything else       a llama2.c checkpoint (llama2c.ts); its tokenizer comes from `tokenizer`
 * A `tokenizer` path (llama2.c tokenizer.bin or HF tokenizer.json) overrides the built-in one.
 * The tokenizer's vocabulary must fit the model's (E_VOCAB).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import type { LoraTensors } from '../nn/lora-linear.js';
import { loadGgufModel } from './gguf-model.js';
import { isHfFolder, loadHfCheckpoint } from './hf-checkpoint.js';
import { loadLlama2c } from './llama2c.js';
import { isTritwiseFolder, loadModel } from './model-file.js';
import { HfTokenizer } from './tokenizers/hf-tokenizer.js';
import { loadLlama2cTokenizer } from './tokenizers/llama2c-tokenizer.js';
import { checkVocab, type Tokenizer } from './tokenizers/tokenizer.js';
import type { StoredTensor } from './weights-file.js';

export type CheckpointFormat = 'tritwise' | 'hf' | 'gguf' | 'llama2c';

export interface Checkpoint {
  format: CheckpointFormat;
  path: string;
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  activations: Map<string, ActivationMode>;
  tokenizer?: Tokenizer;
  plan?: unknown;
  /** LoRA adapters kept beside their layers (tritwise folders only) */
  adapters?: Map<string, LoraTensors>;
}

export interface CheckpointOptions {
  /** a tokenizer file: llama2.c tokenizer.bin or HF tokenizer.json */
  tokenizer?: string;
  /** activation mode for ternary GGUF tensors (default 'q8k', as llama.cpp) */
  ggufActivation?: ActivationMode;
}

export function detectFormat(path: string): CheckpointFormat {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new TritwiseError('E_IO', 'cannot open model', { where: path, got: (e as Error).message, cause: e });
  }
  if (st.isDirectory()) {
    if (isTritwiseFolder(path)) return 'tritwise';
    if (isHfFolder(path)) return 'hf';
    throw new TritwiseError('E_FORMAT', 'folder is not a model', { where: path, expected: 'config.json with model.safetensors (HF) or a tritwise model folder', got: 'no config.json' });
  }
  const fd = openSync(path, 'r');
  const head = Buffer.alloc(4);
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return head.toString('latin1') === 'GGUF' ? 'gguf' : 'llama2c';
}

export function loadTokenizerFile(path: string): Tokenizer {
  return path.endsWith('.json') ? HfTokenizer.load(path) : loadLlama2cTokenizer(path);
}

export function loadCheckpoint(path: string, opts: CheckpointOptions = {}): Checkpoint {
  const format = detectFormat(path);
  let ck: Checkpoint;
  switch (format) {
    case 'tritwise':
      ck = { format, path, ...loadModel(path) };
      break;
    case 'hf':
      ck = { format, path, activations: new Map(), ...loadHfCheckpoint(path) };
      break;
    case 'gguf':
      ck = { format, path, ...loadGgufModel(path, { activation: opts.ggufActivation }) };
      break;
    case 'llama2c':
      ck = { format, path, activations: new Map(), ...loadLlama2c(path) };
      break;
  }
  if (opts.tokenizer) ck.tokenizer = loadTokenizerFile(opts.tokenizer);
  if (ck.tokenizer) checkVocab(ck.tokenizer, ck.config.vocabSize, `${opts.tokenizer ?? path} vs ${path}`);
  return ck;
}
