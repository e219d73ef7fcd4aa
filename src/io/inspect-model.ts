/**
 * inspect-model — per-tensor summaries of model files that are not a single safetensors file:
 * GGUF (any supported ggml type), llama2.c checkpoints, and model folders (HF or tritwise).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { numel } from '../tensor/dense-tensor.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { GgufFile, type GgufValue } from './gguf-reader.js';
import type { FileSummary, TensorSummary } from './inspect.js';
import { inspectSafetensors } from './inspect.js';
import { loadLlama2c } from './llama2c.js';

function zeros(d: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) z++;
  return d.length ? z / d.length : 0;
}

function showValue(v: GgufValue): string {
  if (typeof v === 'object') return `[${v.values.length} × type ${v.type}]`;
  return String(v);
}

export function inspectGguf(path: string): FileSummary {
  const f = GgufFile.open(path);
  try {
    const tensors: TensorSummary[] = [];
    for (const [name, info] of f.tensors) {
      const shape = f.shape(name);
      let sparsity: number | null;
      if (info.type.ternary) sparsity = f.readTernary(name).stats().sparsity;
      else sparsity = zeros(f.readF32(name).data);
      tensors.push({ name, shape, format: info.type.name.toLowerCase(), bits_per_weight: (info.type.blockBytes * 8) / info.type.blockSize, sparsity, bytes: info.byteLength });
    }
    const metadata: Record<string, string> = { 'gguf.version': String(f.version) };
    for (const [k, v] of f.metadata) metadata[k] = showValue(v);
    return { file: path, container: 'gguf', tensors, parameters: tensors.reduce((s, t) => s + numel(t.shape), 0), bytes: f.source.size, metadata };
  } finally {
    f.close();
  }
}

export function inspectLlama2c(path: string): FileSummary {
  const { config, weights } = loadLlama2c(path);
  const tensors: TensorSummary[] = [];
  let bytes = 28;
  for (const [name, t] of weights) {
    if (t instanceof TernaryTensor || t instanceof MultiTritTensor) continue;
    tensors.push({ name, shape: t.shape, format: 'f32', bits_per_weight: 32, sparsity: zeros(t.data), bytes: t.data.byteLength });
    bytes += t.data.byteLength;
  }
  const metadata = Object.fromEntries(Object.entries(config).map(([k, v]) => [`llama2c.${k}`, String(v)]));
  return { file: path, container: 'llama2c', tensors, parameters: tensors.reduce((s, t) => s + numel(t.shape), 0), bytes, metadata };
}

/** A model folder: every safetensors file in it, summarized together. */
export function inspectFolder(dir: string): FileSummary {
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  const parts = files.map((f) => inspectSafetensors(join(dir, f)));
  const metadata: Record<string, string> = {};
  for (const p of parts) Object.assign(metadata, p.metadata);
  metadata['folder.files'] = files.join(', ');
  if (existsSync(join(dir, 'config.json'))) metadata['folder.config'] = 'config.json';
  return {
    file: dir,
    container: 'folder',
    tensors: parts.flatMap((p) => p.tensors),
    parameters: parts.reduce((s, p) => s + p.parameters, 0),
    bytes: parts.reduce((s, p) => s + p.bytes, 0),
    metadata,
  };
}
