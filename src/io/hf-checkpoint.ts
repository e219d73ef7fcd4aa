/**
 * hf-checkpoint — Hugging Face Llama/Mistral checkpoints: a folder with `config.json` and
 * `model.safetensors` or a sharded `model.safetensors.index.json` (+ optional `tokenizer.json`).
 *
 * Tensor names (HF → canonical):
 *   model.embed_tokens → tok_embeddings, model.norm → norm, lm_head → output,
 *   model.layers.N.input_layernorm → layers.N.attention_norm,
 *   model.layers.N.self_attn.{q,k,v,o}_proj → layers.N.attention.{wq,wk,wv,wo},
 *   model.layers.N.post_attention_layernorm → layers.N.ffn_norm,
 *   model.layers.N.mlp.{gate,down,up}_proj → layers.N.feed_forward.{w1,w2,w3}   (+ ".weight")
 * HF rotates halves (rotate_half), so these load with ropeStyle 'halves'. Writing a checkpoint in
 * the adjacent convention permutes the Q/K rows into HF order (the inverse of llama.cpp's
 * convert_hf_to_gguf `permute`).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TritwiseError } from '../errors.js';
import { checkWeights, defaultConfig, validateConfig, type LlamaConfig } from '../nn/llama-config.js';
import { ropeRowPermutation } from '../nn/rope.js';
import { permuteRows } from '../tensor/permute-rows.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { writeAll, writeFileAtomic } from './atomic-write.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from './safetensors.js';
import { HfTokenizer } from './tokenizers/hf-tokenizer.js';
import { SentencePieceTokenizer } from './tokenizers/sentencepiece.js';
import { spmToHfTokenizerJson } from './tokenizers/spm-hf.js';
import type { Tokenizer } from './tokenizers/tokenizer.js';
import type { StoredTensor } from './weights-file.js';

const LAYER: [string, string][] = [
  ['input_layernorm', 'attention_norm'],
  ['self_attn.q_proj', 'attention.wq'],
  ['self_attn.k_proj', 'attention.wk'],
  ['self_attn.v_proj', 'attention.wv'],
  ['self_attn.o_proj', 'attention.wo'],
  ['post_attention_layernorm', 'ffn_norm'],
  ['mlp.gate_proj', 'feed_forward.w1'],
  ['mlp.down_proj', 'feed_forward.w2'],
  ['mlp.up_proj', 'feed_forward.w3'],
];
const TOP: [string, string][] = [
  ['model.embed_tokens', 'tok_embeddings'],
  ['model.norm', 'norm'],
  ['lm_head', 'output'],
];

export function hfToCanonical(name: string): string | null {
  if (!name.endsWith('.weight')) return null;
  const base = name.slice(0, -7);
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(base);
  if (m) {
    const hit = LAYER.find(([h]) => h === m[2]);
    return hit ? `layers.${m[1]}.${hit[1]}` : null;
  }
  return TOP.find(([h]) => h === base)?.[1] ?? null;
}

export function canonicalToHf(name: string): string {
  const m = /^layers\.(\d+)\.(.+)$/.exec(name);
  if (m) return `model.layers.${m[1]}.${LAYER.find(([, c]) => c === m[2])![0]}.weight`;
  return `${TOP.find(([, c]) => c === name)![0]}.weight`;
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TritwiseError('E_IO', 'cannot read file', { where: path, got: (e as Error).message, cause: e });
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v;
  } catch (e) {
    throw new TritwiseError('E_FORMAT', 'not a valid JSON object', { where: path, got: (e as Error).message, cause: e });
  }
}

/** LlamaConfig from an HF config.json object. */
export function parseHfConfig(j: Record<string, unknown>, where: string): LlamaConfig {
  const type = j.model_type;
  if (type !== 'llama' && type !== 'mistral') throw new TritwiseError('E_UNSUPPORTED', 'unsupported model_type', { where, expected: 'llama | mistral', got: type });
  if (j.rope_scaling != null) throw new TritwiseError('E_UNSUPPORTED', 'RoPE scaling', { where, expected: 'rope_scaling: null', got: j.rope_scaling });
  if (j.attention_bias === true || j.mlp_bias === true) throw new TritwiseError('E_UNSUPPORTED', 'attention/MLP biases', { where, expected: 'no biases', got: 'bias: true' });
  if (j.hidden_act !== undefined && j.hidden_act !== 'silu') throw new TritwiseError('E_UNSUPPORTED', 'activation function', { where, expected: 'silu', got: j.hidden_act });
  const num = (k: string, fallback?: number): number => {
    const v = j[k] ?? fallback;
    if (typeof v !== 'number') throw new TritwiseError('E_CONFIG', `config field ${k} missing or not a number`, { where, expected: 'a number', got: v ?? 'missing' });
    return v;
  };
  const dim = num('hidden_size');
  const nHeads = num('num_attention_heads');
  const c = defaultConfig({
    dim,
    hiddenDim: num('intermediate_size'),
    nLayers: num('num_hidden_layers'),
    nHeads,
    nKvHeads: num('num_key_value_heads', nHeads),
    vocabSize: num('vocab_size'),
    seqLen: num('max_position_embeddings', 2048),
    headDim: typeof j.head_dim === 'number' ? j.head_dim : dim / nHeads,
    normEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeStyle: 'halves',
    sharedClassifier: j.tie_word_embeddings === true,
    slidingWindow: typeof j.sliding_window === 'number' && type === 'mistral' ? j.sliding_window : 0,
  });
  return validateConfig(c, where);
}

export interface HfCheckpoint {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  tokenizer?: Tokenizer;
}

/** The safetensors files of a folder: a single model.safetensors or the shards of an index. */
function shardFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const j = readJson(index);
    const map = j.weight_map;
    if (typeof map !== 'object' || map === null) throw new TritwiseError('E_FORMAT', 'index has no weight_map', { where: index });
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    for (const f of files) if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw new TritwiseError('E_FORMAT', 'invalid shard file name', { where: index, got: f });
    return (files as string[]).map((f) => join(dir, f));
  }
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  throw new TritwiseError('E_IO', 'no weights in the checkpoint folder', { where: dir, expected: 'model.safetensors or model.safetensors.index.json', got: 'neither' });
}

export function loadHfCheckpoint(dir: string): HfCheckpoint {
  const config = parseHfConfig(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
  const weights = new Map<string, StoredTensor>();
  for (const path of shardFiles(dir)) {
    const f = SafetensorsFile.open(path);
    try {
      for (const name of f.names()) {
        const c = hfToCanonical(name);
        if (c === null) {
          if (/rotary_emb\.inv_freq$/.test(name)) continue; // a cache some old checkpoints saved
          throw new TritwiseError('E_UNSUPPORTED', 'unexpected tensor in a Llama checkpoint', { where: `${path}: ${name}` });
        }
        if (c === 'output' && config.sharedClassifier) continue;
        if (weights.has(c)) throw new TritwiseError('E_FORMAT', 'tensor appears in two shards', { where: `${path}: ${name}` });
        weights.set(c, f.readF32(name));
      }
    } finally {
      f.close();
    }
  }
  if (!config.sharedClassifier && !weights.has('output') && weights.has('tok_embeddings')) config.sharedClassifier = true;
  checkWeights(config, weights, dir);
  const tj = join(dir, 'tokenizer.json');
  const tc = join(dir, 'tokenizer_config.json');
  const tokenizer = existsSync(tj) ? HfTokenizer.load(tj, existsSync(tc) ? tc : undefined) : undefined;
  return { config, weights, tokenizer };
}

export function isHfFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'config.json'));
}

/** Write an HF-style checkpoint (F32 safetensors, config.json, tokenizer files when known). */
export function saveHfCheckpoint(dir: string, model: { config: LlamaConfig; weights: Map<string, StoredTensor>; tokenizer?: Tokenizer }): void {
  const c = model.config;
  mkdirSync(dir, { recursive: true });
  const qPerm = c.ropeStyle === 'adjacent' ? ropeRowPermutation(c.nHeads, c.headDim, 'adjacent', 'halves') : null;
  const kPerm = c.ropeStyle === 'adjacent' ? ropeRowPermutation(c.nKvHeads, c.headDim, 'adjacent', 'halves') : null;
  const entries: TensorToWrite[] = [];
  for (const [name, t0] of model.weights) {
    let t = t0;
    if (qPerm && name.endsWith('attention.wq')) t = permuteRows(t, qPerm);
    if (kPerm && name.endsWith('attention.wk')) t = permuteRows(t, kPerm);
    if (t instanceof TernaryTensor || t instanceof MultiTritTensor) entries.push({ name: canonicalToHf(name), dtype: 'F32', shape: [t.rows, t.cols], data: t.toDense() });
    else entries.push({ name: canonicalToHf(name), dtype: 'F32', shape: t.shape, data: t.data });
  }
  writeSafetensors(join(dir, 'model.safetensors'), entries, { format: 'pt' });
  const json = (p: string, v: unknown) => writeFileAtomic(join(dir, p), (fd) => writeAll(fd, new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n')));
  json('config.json', {
    architectures: [c.slidingWindow ? 'MistralForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.slidingWindow ? 'mistral' : 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.seqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: c.sharedClassifier,
    hidden_act: 'silu',
    attention_bias: false,
    ...(c.slidingWindow ? { sliding_window: c.slidingWindow } : {}),
    torch_dtype: 'float32',
  });
  const tok = model.tokenizer;
  if (tok instanceof HfTokenizer) {
    json('tokenizer.json', tok.json);
    json('tokenizer_config.json', tok.config);
  } else if (tok instanceof SentencePieceTokenizer) {
    const { json: tj, config: tc } = spmToHfTokenizerJson(tok);
    json('tokenizer.json', tj);
    json('tokenizer_config.json', tc);
  }
}
