/**
 * inspect — a per-tensor summary of a weights file (name, shape, format, bits per weight,
 * sparsity, bytes), for tritwise files and ordinary safetensors checkpoints alike; GGUF files,
 * llama2.c checkpoints and model folders go through inspect-model.ts.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { TritwiseError } from '../errors.js';
import { inspectFolder, inspectGguf, inspectLlama2c } from './inspect-model.js';
import { numel } from '../tensor/dense-tensor.js';
import { SafetensorsFile, DTYPE_BYTES } from './safetensors.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { readStoredTernary, ternaryDescriptors } from './weights-file.js';
import { sparsityStats } from '../sparse/chunk-map.js';
import { chooseLayout } from '../sparse/cost-model.js';

export interface TensorSummary {
  name: string;
  shape: number[];
  /** 'planes' for ternary tensors, else the dtype in lower case (f32, f16, bf16, u8, …) */
  format: string;
  bits_per_weight: number;
  /** fraction of zero elements (trits or floats); null for non-float raw tensors */
  sparsity: number | null;
  bytes: number;
  quantizer?: string;
  group_size?: number;
  /** ternary tensors: the layout the automatic choice picks on this machine (src/sparse/cost-model.ts) */
  auto_layout?: { f32: string; int8: string };
}

export interface FileSummary {
  file: string;
  container: 'safetensors' | 'gguf' | 'llama2c' | 'folder';
  tensors: TensorSummary[];
  parameters: number;
  bytes: number;
  metadata: Record<string, string>;
}

function floatSparsity(f: SafetensorsFile, name: string): number | null {
  const dt = f.info(name).dtype;
  if (!['F32', 'F16', 'BF16', 'F64'].includes(dt)) return null;
  const d = f.readF32(name).data;
  let z = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) z++;
  return d.length ? z / d.length : 0;
}

export function inspectSafetensors(path: string): FileSummary {
  const f = SafetensorsFile.open(path);
  try {
    const descs = ternaryDescriptors(f);
    const tensors: TensorSummary[] = [];
    const covered = new Set<string>();
    for (const [name, d] of Object.entries(descs)) {
      const { tensor: t, parts } = readStoredTernary(f, name, d);
      for (const p of parts) covered.add(p);
      if (t instanceof MultiTritTensor) {
        // stored bytes (packed trits + scales); sparsity: zero trits over all planes
        const bytes = parts.reduce((s, p) => s + f.info(p).byteLength, 0);
        const sp = t.planeSparsity().reduce((a, b) => a + b, 0) / t.depth;
        tensors.push({ name, shape: [t.rows, t.cols], format: `${(d as { format: string }).format}×${t.depth}`, bits_per_weight: t.rows * t.cols ? (bytes * 8) / (t.rows * t.cols) : 0, sparsity: sp, bytes, quantizer: t.quantizer, group_size: t.groupSize });
        continue;
      }
      const s = t.stats();
      const bytes = parts.filter((p) => f.has(p)).reduce((a, p) => a + f.info(p).byteLength, 0);
      const st = sparsityStats(t);
      const auto_layout = { f32: chooseLayout(st, 'f32').layout, int8: chooseLayout(st, 'i8').layout };
      tensors.push({ name, shape: [t.rows, t.cols], format: (d as { format?: string }).format ?? 'planes', bits_per_weight: t.rows * t.cols ? (bytes * 8) / (t.rows * t.cols) : 0, sparsity: s.sparsity, bytes, quantizer: t.quantizer, group_size: t.groupSize, auto_layout });
    }
    for (const name of f.names()) {
      if (covered.has(name)) continue;
      const info = f.info(name);
      tensors.push({ name, shape: info.shape, format: info.dtype.toLowerCase(), bits_per_weight: DTYPE_BYTES[info.dtype]! * 8, sparsity: floatSparsity(f, name), bytes: info.byteLength });
    }
    const meta = { ...f.metadata };
    return {
      file: path,
      container: 'safetensors',
      tensors,
      parameters: tensors.reduce((s, t) => s + numel(t.shape), 0),
      bytes: f.source.size,
      metadata: meta,
    };
  } finally {
    f.close();
  }
}

/** Summarize a weights file, choosing the reader by its contents. */
export function inspectFile(path: string): FileSummary {
  if (!path) throw new TritwiseError('E_ARG', 'no file given', { where: 'inspect' });
  let head = '';
  try {
    if (statSync(path).isDirectory()) return inspectFolder(path);
    const fd = openSync(path, 'r');
    const b = Buffer.alloc(4);
    try {
      readSync(fd, b, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    head = b.toString('latin1');
  } catch {
    // fall through: the safetensors reader reports the I/O error
  }
  if (head === 'GGUF') return inspectGguf(path);
  if (path.endsWith('.bin')) return inspectLlama2c(path);
  return inspectSafetensors(path);
}
