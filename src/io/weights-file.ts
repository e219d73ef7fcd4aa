/**
 * weights-file — tritwise's own file format: named ternary and dense tensors in one safetensors
 * file, readable by any safetensors tool.
 *
 * A TernaryTensor `w` [rows, cols] is stored as
 *   w.plus          U32 [rows, ceil(cols/32)]    bit planes, trit c of a row = bit c%32 of word c/32
 *   w.minus         U32 [rows, ceil(cols/32)]
 *   w.scales        F32 [rows]
 *   w.group_scales  F32 [rows, ceil(cols/group_size)]   (only with group scales)
 * and described in __metadata__:
 *   "tritwise.format_version": "1"
 *   "tritwise.ternary": JSON { "w": { "shape": [rows, cols], "group_size": 0, "quantizer": "twn",
 *                                     "format": "planes" }, … }
 * Dense tensors are stored as ordinary F32 tensors. Multi-trit tensors (depth d ≥ 1, issue 6) are
 * stored packed, 1.6 bits per trit, with format "trytes" or "residual" (multi-trit-file.ts).
 * Round trips are bit-exact; loading validates every ternary tensor's invariants.
 */
import { TritwiseError } from '../errors.js';
import { wordsFor } from '../tensor/bits.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { encodeMultiTrit, multiTritParts, readMultiTrit, type MultiTritDescriptor } from './multi-trit-file.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from './safetensors.js';
import { fromBlockSparse, toBlockSparse } from '../sparse/block-sparse.js';
import { fromCsr, toCsr } from '../sparse/csr.js';
import { encodeSparse, readSparse, sparseParts, type SparseDescriptor } from '../sparse/sparse-io.js';

/** How a ternary tensor is stored: bit planes, or one of the sparse formats (src/sparse). */
export type StorageFormat = 'planes' | 'csr' | 'block-sparse';

export const FORMAT_VERSION = '1';
const KEY_VERSION = 'tritwise.format_version';
const KEY_TERNARY = 'tritwise.ternary';

export type StoredTensor = TernaryTensor | DenseTensor | MultiTritTensor;

export interface TernaryDescriptor {
  shape: [number, number];
  group_size: number;
  quantizer?: string;
  format: 'planes' | 'csr' | 'block-sparse';
}

export type StoredDescriptor = TernaryDescriptor | MultiTritDescriptor;

export interface WeightsFile {
  tensors: Map<string, StoredTensor>;
  /** user metadata (the tritwise.* keys removed) */
  metadata: Record<string, string>;
}

export function isTernary(t: StoredTensor): t is TernaryTensor {
  return t instanceof TernaryTensor;
}

/** The safetensors entries and metadata that encode a collection. */
export function encodeWeights(
  tensors: Iterable<[string, StoredTensor]>,
  metadata: Record<string, string> = {},
  opts: { format?: (name: string, t: TernaryTensor) => StorageFormat } = {},
): { entries: TensorToWrite[]; metadata: Record<string, string> } {
  const entries: TensorToWrite[] = [];
  const ternary: Record<string, StoredDescriptor | SparseDescriptor> = {};
  for (const [name, t] of tensors) {
    const fmt = isTernary(t) ? (opts.format?.(name, t) ?? 'planes') : 'planes';
    if (isTernary(t) && fmt !== 'planes') {
      // sparse storage (src/sparse/sparse-io.ts): CSR or block-sparse, bit-exact
      t.validate(name);
      const enc = encodeSparse(name, fmt === 'csr' ? toCsr(t) : toBlockSparse(t));
      entries.push(...enc.entries);
      ternary[name] = enc.descriptor;
    } else if (isTernary(t)) {
      t.validate(name);
      const wpr = t.wordsPerRow;
      entries.push({ name: `${name}.plus`, dtype: 'U32', shape: [t.rows, wpr], data: t.plus });
      entries.push({ name: `${name}.minus`, dtype: 'U32', shape: [t.rows, wpr], data: t.minus });
      entries.push({ name: `${name}.scales`, dtype: 'F32', shape: [t.rows], data: t.scales });
      if (t.groupScales) entries.push({ name: `${name}.group_scales`, dtype: 'F32', shape: [t.rows, t.groupsPerRow], data: t.groupScales });
      ternary[name] = { shape: [t.rows, t.cols], group_size: t.groupSize, format: 'planes', ...(t.quantizer ? { quantizer: t.quantizer } : {}) };
    } else if (t instanceof MultiTritTensor) {
      const m = encodeMultiTrit(name, t);
      entries.push(...m.entries);
      ternary[name] = m.desc;
    } else {
      entries.push({ name, dtype: 'F32', shape: t.shape, data: t.data });
    }
  }
  for (const k of Object.keys(metadata)) {
    if (k.startsWith('tritwise.format') || k === KEY_TERNARY) throw new TritwiseError('E_ARG', 'reserved metadata key', { where: k });
  }
  return { entries, metadata: { ...metadata, [KEY_VERSION]: FORMAT_VERSION, [KEY_TERNARY]: JSON.stringify(ternary) } };
}

/** Save named tensors atomically. */
export function saveWeights(path: string, tensors: Record<string, StoredTensor> | Map<string, StoredTensor>, metadata: Record<string, string> = {}, opts: { format?: (name: string, t: TernaryTensor) => StorageFormat } = {}): void {
  const it = tensors instanceof Map ? tensors.entries() : Object.entries(tensors);
  const enc = encodeWeights(it, metadata, opts);
  writeSafetensors(path, enc.entries, enc.metadata);
}

/** The ternary descriptors of a tritwise file ({} for an ordinary safetensors file). */
export function ternaryDescriptors(f: SafetensorsFile): Record<string, StoredDescriptor> {
  const raw = f.metadata[KEY_TERNARY];
  if (raw === undefined) return {};
  const v = f.metadata[KEY_VERSION];
  if (v !== FORMAT_VERSION) throw new TritwiseError('E_FORMAT', 'unsupported tritwise format version', { where: f.name, expected: FORMAT_VERSION, got: v ?? 'none' });
  let d: unknown;
  try {
    d = JSON.parse(raw);
  } catch (e) {
    throw new TritwiseError('E_FORMAT', `${KEY_TERNARY} metadata is not JSON`, { where: f.name, got: (e as Error).message });
  }
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new TritwiseError('E_FORMAT', `${KEY_TERNARY} metadata is not an object`, { where: f.name });
  return d as Record<string, StoredDescriptor>;
}

/** Read the ternary or multi-trit tensor a descriptor describes, with the file tensors it owns. */
export function readStoredTernary(f: SafetensorsFile, name: string, desc: StoredDescriptor): { tensor: TernaryTensor | MultiTritTensor; parts: string[] } {
  const fmt = (desc as { format?: unknown })?.format;
  if (fmt === 'trytes' || fmt === 'residual' || fmt === 'tryte-cells') return { tensor: readMultiTrit(f, name, desc as MultiTritDescriptor), parts: multiTritParts(name, desc as MultiTritDescriptor) };
  const parts = fmt === 'csr' || fmt === 'block-sparse' ? sparseParts(name, desc as unknown as SparseDescriptor) : ['plus', 'minus', 'scales', 'group_scales'].map((p) => `${name}.${p}`);
  return { tensor: readTernary(f, name, desc as TernaryDescriptor), parts };
}

/** Read one ternary tensor described by `desc` from an open file. */
export function readTernary(f: SafetensorsFile, name: string, desc: TernaryDescriptor): TernaryTensor {
  const where = `${f.name}: ${name}`;
  const shape = desc?.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw new TritwiseError('E_FORMAT', 'invalid ternary shape in metadata', { where, expected: '[rows, cols]', got: shape });
  }
  if (desc.format === 'csr' || desc.format === 'block-sparse') {
    const sp = readSparse(f, name, desc as SparseDescriptor);
    return (sp.format === 'csr' ? fromCsr(sp, where) : fromBlockSparse(sp, where)).validate(where);
  }
  if (desc.format !== 'planes') throw new TritwiseError('E_FORMAT', 'unknown ternary storage format', { where, expected: 'planes | csr | block-sparse | trytes | residual', got: desc.format });
  const [rows, cols] = shape;
  const gs = desc.group_size ?? 0;
  const wpr = wordsFor(cols);
  for (const [part, want] of [
    ['plus', [rows, wpr]],
    ['minus', [rows, wpr]],
    ['scales', [rows]],
    ...(gs ? [['group_scales', [rows, Math.ceil(cols / gs)]]] : []),
  ] as [string, number[]][]) {
    const info = f.info(`${name}.${part}`);
    if (info.shape.join(',') !== want.join(',')) {
      throw new TritwiseError('E_SHAPE', `${part} shape does not match the metadata`, { where: `${where}.${part}`, expected: want, got: info.shape });
    }
  }
  const scales = f.readF32(`${name}.scales`).data;
  const t = new TernaryTensor(
    {
      rows,
      cols,
      plus: f.readU32(`${name}.plus`),
      minus: f.readU32(`${name}.minus`),
      scales: scales instanceof Float32Array ? scales : Float32Array.from(scales),
      groupSize: gs,
      groupScales: gs ? f.readF32(`${name}.group_scales`).data : null,
      quantizer: desc.quantizer,
    },
    where,
  );
  return t.validate(where);
}

/** Load every tensor of a tritwise weights file (or an ordinary safetensors file of floats). */
export function loadWeights(path: string): WeightsFile {
  const f = SafetensorsFile.open(path);
  try {
    return readWeights(f);
  } finally {
    f.close();
  }
}

export function readWeights(f: SafetensorsFile): WeightsFile {
  const descs = ternaryDescriptors(f);
  const tensors = new Map<string, StoredTensor>();
  const parts = new Set<string>();
  for (const [name, d] of Object.entries(descs)) {
    const r = readStoredTernary(f, name, d);
    tensors.set(name, r.tensor);
    for (const p of r.parts) parts.add(p);
  }
  for (const name of f.names()) if (!parts.has(name)) tensors.set(name, f.readF32(name));
  const metadata = { ...f.metadata };
  delete metadata[KEY_VERSION];
  delete metadata[KEY_TERNARY];
  return { tensors, metadata };
}
