/**
 * llama2c — the llama2.c legacy checkpoint (`run.c` format), read into canonical tensors.
 *
 * Layout (all little-endian):
 *   7 × int32   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *               vocab_size > 0: the classifier is the token embedding; < 0: a separate wcls
 *               follows at the end (use |vocab_size|)
 *   f32 tensors, each for all layers back to back, row-major [out, in]:
 *     tok_emb[V,D] rms_att[L,D] wq[L,D,D] wk[L,KV,D] wv[L,KV,D] wo[L,D,D] rms_ffn[L,D]
 *     w1[L,H,D] w2[L,D,H] w3[L,H,D] rms_final[D] freq_cis_real[S,hs/2] freq_cis_imag[S,hs/2]
 *     (wcls[V,D] when not shared)
 *   head_size hs = D / n_heads, KV = n_kv_heads · hs. The file is exactly 28 + 4·(all of it) bytes.
 * RoPE in these checkpoints rotates adjacent pairs.
 */
import { TritwiseError } from '../errors.js';
import { defaultConfig, validateConfig, type LlamaConfig } from '../nn/llama-config.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { writeAll, writeFileAtomic } from './atomic-write.js';
import { BufferSource, FileSource, type ByteSource } from './byte-source.js';
import type { StoredTensor } from './weights-file.js';

export interface Llama2cCheckpoint {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
}

const HEADER = 28;

/** The [name, shape-per-layer, layers] plan of the file body, in file order. */
function bodyPlan(c: LlamaConfig): [string, number[], number][] {
  const { dim: D, hiddenDim: H, nLayers: L, vocabSize: V, seqLen: S } = c;
  const KV = c.nKvHeads * c.headDim;
  return [
    ['tok_embeddings', [V, D], 0],
    ['attention_norm', [D], L],
    ['attention.wq', [D, D], L],
    ['attention.wk', [KV, D], L],
    ['attention.wv', [KV, D], L],
    ['attention.wo', [D, D], L],
    ['ffn_norm', [D], L],
    ['feed_forward.w1', [H, D], L],
    ['feed_forward.w2', [D, H], L],
    ['feed_forward.w3', [H, D], L],
    ['norm', [D], 0],
    ['freq_cis', [S, c.headDim], 0], // real and imag halves together; unused
    ...(c.sharedClassifier ? [] : [['output', [V, D], 0] as [string, number[], number]]),
  ];
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Parse the 7-int header into a config (no file-size check). */
export function parseLlama2cHeader(h: Uint8Array, where: string): LlamaConfig {
  const dv = new DataView(h.buffer, h.byteOffset, HEADER);
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = Array.from({ length: 7 }, (_, i) => dv.getInt32(i * 4, true));
  for (const [k, v] of Object.entries({ dim, hiddenDim, nLayers, nHeads, nKvHeads, seqLen })) {
    if (!(v! > 0)) throw new TritwiseError('E_FORMAT', `invalid llama2.c header field ${k}`, { where, expected: 'a positive int32', got: v });
  }
  if (vocab === 0) throw new TritwiseError('E_FORMAT', 'invalid llama2.c header field vocab_size', { where, expected: 'non-zero', got: 0 });
  if (dim! % nHeads! !== 0) throw new TritwiseError('E_FORMAT', 'dim is not a multiple of n_heads', { where, expected: `a multiple of ${nHeads}`, got: dim });
  const c = defaultConfig({ dim: dim!, hiddenDim: hiddenDim!, nLayers: nLayers!, nHeads: nHeads!, nKvHeads: nKvHeads!, vocabSize: Math.abs(vocab!), seqLen: seqLen!, sharedClassifier: vocab! > 0, ropeStyle: 'adjacent' });
  try {
    return validateConfig(c, where);
  } catch (e) {
    throw new TritwiseError('E_FORMAT', `llama2.c header is inconsistent: ${(e as Error).message}`, { where, cause: e });
  }
}

/** Bytes a file with this config must have. */
export function llama2cFileSize(c: LlamaConfig): number {
  return HEADER + 4 * bodyPlan(c).reduce((s, [, shape, L]) => s + count(shape) * Math.max(L, 1), 0);
}

export function readLlama2c(src: ByteSource): Llama2cCheckpoint {
  const where = src.name;
  if (src.size < HEADER) throw new TritwiseError('E_TRUNCATED', 'file too short for a llama2.c header', { where, expected: `≥ ${HEADER} bytes`, got: `${src.size} bytes` });
  const config = parseLlama2cHeader(src.read(0, HEADER), where);
  const want = llama2cFileSize(config);
  if (src.size < want) throw new TritwiseError('E_TRUNCATED', 'llama2.c checkpoint is shorter than its header implies', { where, expected: `${want} bytes`, got: `${src.size} bytes` });
  if (src.size > want) throw new TritwiseError('E_FORMAT', 'llama2.c checkpoint is longer than its header implies (wrong header?)', { where, expected: `${want} bytes`, got: `${src.size} bytes` });
  const weights = new Map<string, StoredTensor>();
  let off = HEADER;
  for (const [name, shape, L] of bodyPlan(config)) {
    const n = count(shape);
    const layers = Math.max(L, 1);
    const bytes = src.read(off, 4 * n * layers);
    off += bytes.byteLength;
    if (name === 'freq_cis') continue;
    const all = new Float32Array(bytes.buffer, bytes.byteOffset, n * layers);
    if (L === 0) weights.set(name, { shape, data: all });
    else for (let l = 0; l < L; l++) weights.set(`layers.${l}.${name}`, { shape, data: all.subarray(l * n, (l + 1) * n) });
  }
  return { config, weights };
}

export function loadLlama2c(path: string): Llama2cCheckpoint {
  const src = new FileSource(path);
  try {
    return readLlama2c(src);
  } finally {
    src.close();
  }
}

export function parseLlama2c(bytes: Uint8Array, name = '<buffer>'): Llama2cCheckpoint {
  return readLlama2c(new BufferSource(bytes, name));
}

/** Serialize f32 weights to the llama2.c format (RoPE tables written as zeros). */
export function encodeLlama2c(config: LlamaConfig, weights: Map<string, DenseTensor>): Uint8Array {
  if (config.headDim * config.nHeads !== config.dim) throw new TritwiseError('E_UNSUPPORTED', 'llama2.c needs headDim · nHeads = dim', { where: 'encodeLlama2c', expected: config.dim, got: config.headDim * config.nHeads });
  const out = new Uint8Array(llama2cFileSize(config));
  const dv = new DataView(out.buffer);
  const hdr = [config.dim, config.hiddenDim, config.nLayers, config.nHeads, config.nKvHeads, config.sharedClassifier ? config.vocabSize : -config.vocabSize, config.seqLen];
  hdr.forEach((v, i) => dv.setInt32(i * 4, v, true));
  const f = new Float32Array(out.buffer, HEADER);
  let p = 0;
  for (const [name, shape, L] of bodyPlan(config)) {
    const n = count(shape);
    for (let l = 0; l < Math.max(L, 1); l++) {
      if (name !== 'freq_cis') {
        const key = L ? `layers.${l}.${name}` : name;
        const t = weights.get(key);
        if (!t || t.data.length !== n) throw new TritwiseError('E_SHAPE', 'tensor missing or of the wrong size', { where: `encodeLlama2c: ${key}`, expected: n, got: t?.data.length ?? 'missing' });
        f.set(t.data, p);
      }
      p += n;
    }
  }
  return out;
}

export function saveLlama2c(path: string, config: LlamaConfig, weights: Map<string, DenseTensor>): void {
  const bytes = encodeLlama2c(config, weights);
  writeFileAtomic(path, (fd) => writeAll(fd, bytes));
}
