/**
 * model-file — tritwise's saved model: a folder that runs with no extra flags.
 *
 *   config.json        { "tritwise": { "format": "llama", "version": 1 },
 *                        "config": LlamaConfig, "activations": { linear name: mode },
 *                        "plan": the QuantPlan that made it (informational),
 *                        "tokenizer": { "kind": "spm", "file": "tokenizer.spm.json" }
 *                                   | { "kind": "hf", "file": "tokenizer.json", "config": "tokenizer_config.json" } }
 *   model.safetensors  the tritwise weights file (weights-file.ts): ternary layers as bit planes
 *                      + scales, everything else f32, canonical tensor names
 *   tokenizer.*        the model's own tokenizer
 * Optional LoRA adapters kept beside their base layers (train/lora.ts): config.json has
 *   "adapters": { linear name: { "rank": r, "alpha": α } }
 * and model.safetensors holds `<name>.lora_a` [r, in] and `<name>.lora_b` [out, r] in F32
 * (nn/lora-linear.ts adds (α/r)·B·A·x at inference). Files without adapters are unchanged.
 * Every file is written atomically; loading checks the weights against the config.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import { checkWeights, shapeOf, validateConfig, type LlamaConfig } from '../nn/llama-config.js';
import { checkLora, type LoraTensors } from '../nn/lora-linear.js';
import { ACTIVATION_MODES } from '../quant/plan.js';
import { writeAll, writeFileAtomic } from './atomic-write.js';
import { HfTokenizer } from './tokenizers/hf-tokenizer.js';
import { SentencePieceTokenizer } from './tokenizers/sentencepiece.js';
import type { Tokenizer } from './tokenizers/tokenizer.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { loadWeights, saveWeights, type StorageFormat, type StoredTensor } from './weights-file.js';

export interface SavedModel {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  activations: Map<string, ActivationMode>;
  tokenizer?: Tokenizer;
  plan?: unknown;
  /** LoRA adapters kept beside their base layers, by linear name */
  adapters?: Map<string, LoraTensors>;
  /** how each ternary layer is stored (default: bit planes); see src/sparse/storage-choice.ts */
  storage?: (name: string, t: TernaryTensor) => StorageFormat;
}

function writeJson(path: string, v: unknown): void {
  writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n')));
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const io = (e as NodeJS.ErrnoException).code !== undefined;
    throw new TritwiseError(io ? 'E_IO' : 'E_FORMAT', io ? 'cannot read file' : 'not valid JSON', { where: path, got: (e as Error).message, cause: e });
  }
}

export function isTritwiseFolder(dir: string): boolean {
  const p = join(dir, 'config.json');
  if (!existsSync(p)) return false;
  try {
    return typeof JSON.parse(readFileSync(p, 'utf8')).tritwise === 'object';
  } catch {
    return false;
  }
}

export function saveModel(dir: string, m: SavedModel): void {
  checkWeights(m.config, m.weights, 'saveModel');
  mkdirSync(dir, { recursive: true });
  let tokenizer: Record<string, string> | undefined;
  if (m.tokenizer instanceof SentencePieceTokenizer) {
    const t = m.tokenizer;
    writeJson(join(dir, 'tokenizer.spm.json'), { pieces: t.pieces, scores: Array.from(t.scores), types: Array.from(t.types), bos: t.bos, eos: t.eos, unk: t.unk, addSpacePrefix: t.addSpacePrefix });
    tokenizer = { kind: 'spm', file: 'tokenizer.spm.json' };
  } else if (m.tokenizer instanceof HfTokenizer) {
    writeJson(join(dir, 'tokenizer.json'), m.tokenizer.json);
    writeJson(join(dir, 'tokenizer_config.json'), m.tokenizer.config);
    tokenizer = { kind: 'hf', file: 'tokenizer.json', config: 'tokenizer_config.json' };
  }
  const tensors = new Map(m.weights);
  const adapters: Record<string, { rank: number; alpha: number }> = {};
  for (const [name, a] of m.adapters ?? []) {
    const base = m.weights.get(name);
    if (!base) throw new TritwiseError('E_CONFIG', 'adapter for a layer the model does not have', { where: `saveModel: ${name}`, expected: 'a linear layer name', got: name });
    const [rows, cols] = shapeOf(base) as [number, number];
    checkLora(a, rows, cols, name);
    tensors.set(`${name}.lora_a`, { shape: [a.rank, cols], data: a.a });
    tensors.set(`${name}.lora_b`, { shape: [rows, a.rank], data: a.b });
    adapters[name] = { rank: a.rank, alpha: a.alpha };
  }
  saveWeights(join(dir, 'model.safetensors'), tensors, { 'tritwise.model': 'llama' }, { format: m.storage });
  writeJson(join(dir, 'config.json'), {
    tritwise: { format: 'llama', version: 1 },
    config: m.config,
    activations: Object.fromEntries(m.activations),
    ...(m.plan !== undefined ? { plan: m.plan } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    ...(m.adapters?.size ? { adapters } : {}),
  });
}

function readTokenizer(dir: string, spec: unknown): Tokenizer | undefined {
  if (spec === undefined) return undefined;
  const s = spec as { kind?: unknown; file?: unknown; config?: unknown };
  const safe = (f: unknown) => typeof f === 'string' && !f.includes('/') && !f.includes('\\') && f !== '..';
  if (!safe(s.file) || (s.config !== undefined && !safe(s.config))) throw new TritwiseError('E_FORMAT', 'invalid tokenizer entry', { where: join(dir, 'config.json'), got: spec });
  const path = join(dir, s.file as string);
  if (s.kind === 'hf') return HfTokenizer.load(path, s.config ? join(dir, s.config as string) : undefined);
  if (s.kind === 'spm') {
    const j = readJson(path) as { pieces?: unknown; scores?: unknown; types?: unknown; bos?: number; eos?: number; unk?: number; addSpacePrefix?: boolean };
    if (!Array.isArray(j.pieces) || !Array.isArray(j.scores) || !j.pieces.every((p) => typeof p === 'string')) throw new TritwiseError('E_FORMAT', 'invalid SentencePiece vocabulary', { where: path });
    return new SentencePieceTokenizer({ pieces: j.pieces as string[], scores: Float32Array.from(j.scores as number[]), types: Array.isArray(j.types) ? Int32Array.from(j.types as number[]) : undefined, bos: j.bos, eos: j.eos, unk: j.unk, addSpacePrefix: j.addSpacePrefix }, path);
  }
  throw new TritwiseError('E_FORMAT', 'unknown tokenizer kind', { where: join(dir, 'config.json'), expected: 'spm | hf', got: s.kind });
}

export function loadModel(dir: string): SavedModel {
  const cfgPath = join(dir, 'config.json');
  const j = readJson(cfgPath);
  const tw = j.tritwise as { format?: unknown; version?: unknown } | undefined;
  if (!tw || tw.format !== 'llama' || tw.version !== 1) throw new TritwiseError('E_FORMAT', 'not a tritwise model folder', { where: cfgPath, expected: '{"tritwise": {"format": "llama", "version": 1}}', got: JSON.stringify(j.tritwise) });
  const config = validateConfig(j.config as LlamaConfig, cfgPath);
  const { tensors } = loadWeights(join(dir, 'model.safetensors'));
  const adapters = readAdapters(cfgPath, j.adapters, tensors);
  checkWeights(config, tensors, dir);
  const activations = new Map<string, ActivationMode>();
  for (const [k, v] of Object.entries((j.activations ?? {}) as Record<string, unknown>)) {
    if (!ACTIVATION_MODES.includes(v as ActivationMode)) throw new TritwiseError('E_FORMAT', 'unknown activation mode', { where: `${cfgPath}: activations.${k}`, expected: ACTIVATION_MODES.join(' | '), got: v });
    activations.set(k, v as ActivationMode);
  }
  return { config, weights: tensors, activations, tokenizer: readTokenizer(dir, j.tokenizer), plan: j.plan, ...(adapters.size ? { adapters } : {}) };
}

/** Take the adapters named in config.json out of the tensor map (checking every shape). */
function readAdapters(cfgPath: string, spec: unknown, tensors: Map<string, StoredTensor>): Map<string, LoraTensors> {
  const out = new Map<string, LoraTensors>();
  if (spec === undefined) return out;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new TritwiseError('E_FORMAT', 'adapters must be an object', { where: `${cfgPath}: adapters`, got: spec });
  for (const [name, v] of Object.entries(spec as Record<string, unknown>)) {
    const where = `${cfgPath}: adapters.${name}`;
    const e = v as { rank?: unknown; alpha?: unknown };
    if (typeof e !== 'object' || e === null || !Number.isInteger(e.rank) || typeof e.alpha !== 'number') throw new TritwiseError('E_FORMAT', 'an adapter needs an integer rank and a numeric alpha', { where, got: v });
    const base = tensors.get(name);
    const a = tensors.get(`${name}.lora_a`), b = tensors.get(`${name}.lora_b`);
    if (!base || !a || !b || a instanceof TernaryTensor || b instanceof TernaryTensor || a instanceof MultiTritTensor || b instanceof MultiTritTensor) throw new TritwiseError('E_FORMAT', 'adapter tensors missing', { where, expected: `${name}, ${name}.lora_a and ${name}.lora_b (F32)`, got: [base, a, b].map((t, i) => (t ? '' : ['base', 'lora_a', 'lora_b'][i])).filter(Boolean).join(', ') + ' missing' });
    const [rows, cols] = shapeOf(base) as [number, number];
    const t: LoraTensors = { a: a.data, b: b.data, rank: e.rank as number, alpha: e.alpha };
    checkLora(t, rows, cols, name);
    if (a.shape.join(',') !== `${t.rank},${cols}` || b.shape.join(',') !== `${rows},${t.rank}`) throw new TritwiseError('E_CONFIG', 'adapter shapes do not fit the layer', { where, expected: `lora_a [${t.rank}, ${cols}], lora_b [${rows}, ${t.rank}]`, got: `[${a.shape.join(', ')}], [${b.shape.join(', ')}]` });
    tensors.delete(`${name}.lora_a`);
    tensors.delete(`${name}.lora_b`);
    out.set(name, t);
  }
  return out;
}
