/**
 * gguf-model — a llama-architecture GGUF as a tritwise checkpoint, and back.
 *
 * Tensor names (GGUF ↔ canonical):
 *   token_embd ↔ tok_embeddings, blk.N.attn_norm ↔ layers.N.attention_norm,
 *   blk.N.attn_{q,k,v,output} ↔ layers.N.attention.{wq,wk,wv,wo}, blk.N.ffn_norm ↔ ffn_norm,
 *   blk.N.ffn_{gate,down,up} ↔ layers.N.feed_forward.{w1,w2,w3}, output_norm ↔ norm, output ↔ output
 * (each with a `.weight` suffix). llama.cpp's llama architecture rotates adjacent RoPE pairs, so
 * models in that convention are written unchanged and HF-convention (rotate-half) models get their
 * Q/K rows permuted (rope.ts). TQ1_0/TQ2_0 tensors load straight into bit planes; they run with
 * llama.cpp's Q8_K activations ('q8k') unless told otherwise.
 * The vocabulary is the `llama` (SentencePiece) tokenizer: tokenizer.ggml.{tokens,scores,token_type}.
 */
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import { defaultConfig, validateConfig, type LlamaConfig } from '../nn/llama-config.js';
import { ropeRowPermutation } from '../nn/rope.js';
import { permuteRows } from '../tensor/permute-rows.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { GGML_TYPE_IDS } from './ggml-types.js';
import { planesToTq1, planesToTq2 } from './ggml-ternary.js';
import { GgufFile } from './gguf-reader.js';
import { writeGguf, type GgufKv, type GgufTensorToWrite } from './gguf-writer.js';
import { HfTokenizer } from './tokenizers/hf-tokenizer.js';
import { SentencePieceTokenizer, TokenType } from './tokenizers/sentencepiece.js';
import { hfToSentencePiece } from './tokenizers/spm-hf.js';
import type { Tokenizer } from './tokenizers/tokenizer.js';
import type { StoredTensor } from './weights-file.js';

const LAYER_MAP: [string, string][] = [
  ['attn_norm', 'attention_norm'],
  ['attn_q', 'attention.wq'],
  ['attn_k', 'attention.wk'],
  ['attn_v', 'attention.wv'],
  ['attn_output', 'attention.wo'],
  ['ffn_norm', 'ffn_norm'],
  ['ffn_gate', 'feed_forward.w1'],
  ['ffn_down', 'feed_forward.w2'],
  ['ffn_up', 'feed_forward.w3'],
];
const TOP_MAP: [string, string][] = [
  ['token_embd', 'tok_embeddings'],
  ['output_norm', 'norm'],
  ['output', 'output'],
];

export function ggufToCanonical(name: string): string | null {
  const base = name.endsWith('.weight') ? name.slice(0, -7) : null;
  if (base === null) return null;
  const m = /^blk\.(\d+)\.(.+)$/.exec(base);
  if (m) {
    const hit = LAYER_MAP.find(([g]) => g === m[2]);
    return hit ? `layers.${m[1]}.${hit[1]}` : null;
  }
  return TOP_MAP.find(([g]) => g === base)?.[1] ?? null;
}

export function canonicalToGguf(name: string): string {
  const m = /^layers\.(\d+)\.(.+)$/.exec(name);
  if (m) return `blk.${m[1]}.${LAYER_MAP.find(([, c]) => c === m[2])![0]}.weight`;
  return `${TOP_MAP.find(([, c]) => c === name)![0]}.weight`;
}

export interface GgufCheckpoint {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  activations: Map<string, ActivationMode>;
  tokenizer?: Tokenizer;
}

function readTokenizer(f: GgufFile): SentencePieceTokenizer | undefined {
  const model = f.get('tokenizer.ggml.model');
  if (model !== 'llama') return undefined;
  const tokens = f.arr('tokenizer.ggml.tokens');
  if (!tokens || tokens.type !== 8) throw new TritwiseError('E_FORMAT', 'tokenizer.ggml.tokens is not a string array', { where: f.name });
  const pieces = (tokens.values as string[]).map((s) => s.replaceAll('\u2581', ' '));
  const sc = f.arr('tokenizer.ggml.scores');
  const scores = sc ? Float32Array.from(sc.values as Float32Array) : new Float32Array(pieces.length);
  const tt = f.arr('tokenizer.ggml.token_type');
  const types = tt ? Int32Array.from(tt.values as Int32Array) : undefined;
  const apx = f.get('tokenizer.ggml.add_space_prefix');
  return new SentencePieceTokenizer(
    {
      pieces,
      scores,
      types,
      bos: f.num('tokenizer.ggml.bos_token_id', 1),
      eos: f.num('tokenizer.ggml.eos_token_id', 2),
      unk: f.num('tokenizer.ggml.unknown_token_id', 0),
      addSpacePrefix: typeof apx === 'boolean' ? apx : true,
    },
    `${f.name}: tokenizer`,
  );
}

export function readGgufModel(f: GgufFile, opts: { activation?: ActivationMode } = {}): GgufCheckpoint {
  const arch = f.str('general.architecture', 'missing');
  if (arch !== 'llama') throw new TritwiseError('E_UNSUPPORTED', 'unsupported GGUF architecture', { where: f.name, expected: 'llama', got: arch });
  const k = (s: string) => `llama.${s}`;
  const dim = f.num(k('embedding_length'));
  const nHeads = f.num(k('attention.head_count'));
  const headDim = f.num(k('attention.key_length'), dim / nHeads);
  const rot = f.num(k('rope.dimension_count'), headDim);
  if (rot !== headDim) throw new TritwiseError('E_UNSUPPORTED', 'partial rotary embeddings', { where: f.name, expected: `rope.dimension_count = ${headDim}`, got: rot });
  const scaling = f.get(k('rope.scaling.type'));
  if (scaling !== undefined && scaling !== 'none') throw new TritwiseError('E_UNSUPPORTED', 'RoPE scaling', { where: f.name, expected: 'none', got: scaling });
  const emb = f.shape('token_embd.weight');
  const config = defaultConfig({
    dim,
    hiddenDim: f.num(k('feed_forward_length')),
    nLayers: f.num(k('block_count')),
    nHeads,
    nKvHeads: f.num(k('attention.head_count_kv'), nHeads),
    vocabSize: f.num(k('vocab_size'), emb[0] ?? 0),
    seqLen: f.num(k('context_length')),
    headDim,
    normEps: f.num(k('attention.layer_norm_rms_epsilon'), 1e-5),
    ropeTheta: f.num(k('rope.freq_base'), 10000),
    ropeStyle: 'adjacent',
    sharedClassifier: !f.tensors.has('output.weight'),
    slidingWindow: f.num(k('attention.sliding_window'), 0),
  });
  try {
    validateConfig(config, f.name);
  } catch (e) {
    throw new TritwiseError('E_FORMAT', `GGUF metadata describes an invalid model: ${(e as Error).message}`, { where: f.name, cause: e });
  }
  const weights = new Map<string, StoredTensor>();
  const activations = new Map<string, ActivationMode>();
  for (const [gname, info] of f.tensors) {
    const name = ggufToCanonical(gname);
    if (!name) throw new TritwiseError('E_UNSUPPORTED', 'unexpected tensor in a llama GGUF', { where: `${f.name}: ${gname}` });
    if (info.type.ternary) {
      weights.set(name, f.readTernary(gname));
      activations.set(name, opts.activation ?? 'q8k');
    } else {
      weights.set(name, f.readF32(gname));
    }
  }
  return { config, weights, activations, tokenizer: readTokenizer(f) };
}

export function loadGgufModel(path: string, opts: { activation?: ActivationMode } = {}): GgufCheckpoint {
  const f = GgufFile.open(path);
  try {
    return readGgufModel(f, opts);
  } finally {
    f.close();
  }
}

export type GgufExportType = 'f32' | 'tq2_0' | 'tq1_0';

export interface GgufExportReport {
  bytes: number;
  /** tensor name → ggml type written */
  types: Record<string, string>;
  /** ternary tensors that could not use the TQ layout and were written as exact f32 */
  fallbacks: string[];
}

function f32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Write a model as a llama GGUF that llama.cpp loads. */
export function exportGguf(
  path: string,
  model: { config: LlamaConfig; weights: Map<string, StoredTensor>; tokenizer?: Tokenizer; name?: string },
  type: GgufExportType,
): GgufExportReport {
  const c = model.config;
  if (!['f32', 'tq2_0', 'tq1_0'].includes(type)) throw new TritwiseError('E_ARG', 'unknown GGUF export type', { where: 'export-gguf --type', expected: 'f32 | tq2_0 | tq1_0', got: type });
  const tok = model.tokenizer instanceof HfTokenizer ? hfToSentencePiece(model.tokenizer) : model.tokenizer;
  if (!(tok instanceof SentencePieceTokenizer)) {
    throw new TritwiseError('E_UNSUPPORTED', 'GGUF export needs a SentencePiece-style (llama) vocabulary', { where: 'export-gguf', expected: 'a SentencePiece tokenizer or a Llama-style HF tokenizer.json (BPE with byte fallback)', got: model.tokenizer ? `a ${model.tokenizer.kind} tokenizer of another kind` : 'no tokenizer' });
  }
  if (c.slidingWindow) process.emitWarning('llama.cpp\'s llama architecture ignores the sliding window; outputs will differ past it', { code: 'TRITWISE_GGUF_SWA' });
  const fileType = type === 'f32' ? 0 : type === 'tq1_0' ? 36 : 37;
  const vocabTypes = Array.from(tok.types);
  const metadata: GgufKv[] = [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: model.name ?? 'tritwise model' },
    { key: 'general.file_type', type: 'u32', value: fileType },
    { key: 'general.quantization_version', type: 'u32', value: 2 },
    { key: 'llama.context_length', type: 'u32', value: c.seqLen },
    { key: 'llama.embedding_length', type: 'u32', value: c.dim },
    { key: 'llama.block_count', type: 'u32', value: c.nLayers },
    { key: 'llama.feed_forward_length', type: 'u32', value: c.hiddenDim },
    { key: 'llama.attention.head_count', type: 'u32', value: c.nHeads },
    { key: 'llama.attention.head_count_kv', type: 'u32', value: c.nKvHeads },
    { key: 'llama.attention.key_length', type: 'u32', value: c.headDim },
    { key: 'llama.attention.value_length', type: 'u32', value: c.headDim },
    { key: 'llama.rope.dimension_count', type: 'u32', value: c.headDim },
    { key: 'llama.rope.freq_base', type: 'f32', value: c.ropeTheta },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'f32', value: c.normEps },
    { key: 'llama.vocab_size', type: 'u32', value: c.vocabSize },
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'string[]', value: tok.pieces.map((p) => p.replaceAll(' ', '\u2581')) },
    { key: 'tokenizer.ggml.scores', type: 'f32[]', value: tok.scores },
    { key: 'tokenizer.ggml.token_type', type: 'i32[]', value: vocabTypes.map((t) => t || TokenType.normal) },
    { key: 'tokenizer.ggml.bos_token_id', type: 'u32', value: tok.bos },
    { key: 'tokenizer.ggml.eos_token_id', type: 'u32', value: tok.eos },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'u32', value: tok.unk },
    { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: false },
    { key: 'tokenizer.ggml.add_space_prefix', type: 'bool', value: tok.addSpacePrefix },
  ];
  // llama.cpp's ternary types hold one trit per weight: deeper multi-trit layers have no GGUF type
  if (type !== 'f32') {
    for (const [name, t] of model.weights) {
      if (t instanceof MultiTritTensor && t.depth > 1) {
        throw new TritwiseError('E_UNSUPPORTED', `GGUF export of multi-trit weights: llama.cpp's ${type.toUpperCase()} holds one trit per weight, this layer has ${t.depth}; export --type f32 (dequantized) or quantize at depth 1`, { where: name, expected: 'depth 1', got: `depth ${t.depth}` });
      }
    }
  }
  const tensors: GgufTensorToWrite[] = [];
  const report: GgufExportReport = { bytes: 0, types: {}, fallbacks: [] };
  const qPerm = c.ropeStyle === 'halves' ? ropeRowPermutation(c.nHeads, c.headDim, 'halves', 'adjacent') : null;
  const kPerm = c.ropeStyle === 'halves' ? ropeRowPermutation(c.nKvHeads, c.headDim, 'halves', 'adjacent') : null;
  for (const [name, t1] of model.weights) {
    let t = t1 instanceof MultiTritTensor ? (t1.depth === 1 ? t1.planes[0]! : ({ shape: [t1.rows, t1.cols], data: t1.toDense() } as DenseTensor)) : t1;
    if (qPerm && name.endsWith('attention.wq')) t = permuteRows(t, qPerm);
    if (kPerm && name.endsWith('attention.wk')) t = permuteRows(t, kPerm);
    const gname = canonicalToGguf(name);
    const shape = t instanceof TernaryTensor ? [t.rows, t.cols] : t.shape;
    const ne = [...shape].reverse();
    let entry: GgufTensorToWrite | null = null;
    if (t instanceof TernaryTensor && type !== 'f32') {
      try {
        entry = type === 'tq2_0' ? { name: gname, ne, type: GGML_TYPE_IDS.TQ2_0, data: planesToTq2(t, name) } : { name: gname, ne, type: GGML_TYPE_IDS.TQ1_0, data: planesToTq1(t, name) };
      } catch (e) {
        if (!(e instanceof TritwiseError && e.code === 'E_UNSUPPORTED')) throw e;
        report.fallbacks.push(name);
      }
    }
    entry ??= { name: gname, ne, type: GGML_TYPE_IDS.F32, data: f32Bytes(t instanceof TernaryTensor ? t.toDense() : t.data) };
    report.types[gname] = entry.type === GGML_TYPE_IDS.F32 ? 'F32' : type.toUpperCase();
    tensors.push(entry);
  }
  report.bytes = writeGguf(path, metadata, tensors);
  return report;
}
