/**
 * safetensors — read and write the safetensors container (Hugging Face).
 *
 * Layout:  u64 LE N | N bytes of JSON header (padded with spaces) | data
 * Header:  { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, …,
 *            "__metadata__": { "<key>": "<string>" } }
 * Offsets are relative to the start of the data; end − begin = numel · sizeof(dtype).
 *
 * The reader treats files as untrusted: it bounds-checks the header length, the JSON, every dtype,
 * shape and offset, and rejects overlapping tensors, each with a TritwiseError naming the file and
 * tensor. Tensor data is read lazily, one tensor at a time.
 */
import { TritwiseError } from '../errors.js';
import { numel, type DenseTensor } from '../tensor/dense-tensor.js';
import { writeAll, writeFileAtomic } from './atomic-write.js';
import { BufferSource, FileSource, type ByteSource } from './byte-source.js';
import { bf16ArrayToF32, f16ArrayToF32 } from './half.js';

/** Element sizes of the safetensors dtypes. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

export type Dtype = keyof typeof DTYPE_BYTES;

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** absolute byte offset in the file */
  offset: number;
  byteLength: number;
}

/** Headers above this size are refused as absurd (the format itself caps them at 100 MB). */
const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;

  private constructor(
    readonly source: ByteSource,
    tensors: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.tensors = tensors;
    this.metadata = metadata;
  }

  static open(path: string): SafetensorsFile {
    const src = new FileSource(path);
    try {
      return SafetensorsFile.fromSource(src);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  static fromBytes(bytes: Uint8Array, name = '<buffer>'): SafetensorsFile {
    return SafetensorsFile.fromSource(new BufferSource(bytes, name));
  }

  static fromSource(src: ByteSource): SafetensorsFile {
    const file = src.name;
    if (src.size < 8) throw new TritwiseError('E_TRUNCATED', 'file too short for a safetensors header length', { where: file, expected: '≥ 8 bytes', got: `${src.size} bytes` });
    const n64 = new DataView(src.read(0, 8).buffer).getBigUint64(0, true);
    if (n64 > BigInt(src.size - 8)) {
      throw new TritwiseError('E_TRUNCATED', 'header length larger than the file', { where: file, expected: `≤ ${src.size - 8}`, got: n64 });
    }
    const n = Number(n64);
    if (n > MAX_HEADER) throw new TritwiseError('E_FORMAT', 'header length is absurd', { where: file, expected: `≤ ${MAX_HEADER}`, got: n });
    if (n < 2) throw new TritwiseError('E_FORMAT', 'header too short to be JSON', { where: file, expected: '≥ 2 bytes', got: n });
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(src.read(8, n)));
    } catch (e) {
      throw new TritwiseError('E_FORMAT', 'header is not valid UTF-8 JSON', { where: file, got: (e as Error).message, cause: e });
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw new TritwiseError('E_FORMAT', 'header is not a JSON object', { where: file, got: Array.isArray(header) ? 'array' : typeof header });
    }
    const dataStart = 8 + n;
    const dataSize = src.size - dataStart;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = parseMetadata(v, file);
        continue;
      }
      tensors.set(name, parseEntry(name, v, file, dataStart, dataSize));
    }
    const sorted = [...tensors.values()].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1]!,
        c = sorted[i]!;
      if (c.offset < p.offset + p.byteLength) {
        throw new TritwiseError('E_FORMAT', 'tensor data overlaps', { where: `${file}: ${p.name} and ${c.name}`, expected: `${c.name} to start at ≥ ${p.offset + p.byteLength - dataStart}`, got: c.offset - dataStart });
      }
    }
    return new SafetensorsFile(src, tensors, metadata);
  }

  get name(): string {
    return this.source.name;
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new TritwiseError('E_FORMAT', 'tensor not found', { where: `${this.name}: ${name}`, expected: 'a tensor of that name', got: `${this.tensors.size} tensors` });
    return t;
  }

  /** The raw little-endian bytes of a tensor. */
  readBytes(name: string): Uint8Array {
    const t = this.info(name);
    return this.source.read(t.offset, t.byteLength);
  }

  /** A float tensor (F32, F16, BF16 or F64) converted to f32. */
  readF32(name: string): DenseTensor {
    const t = this.info(name);
    const b = this.readBytes(name);
    let data: Float32Array;
    switch (t.dtype) {
      case 'F32':
        data = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
        break;
      case 'F16':
        data = f16ArrayToF32(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2));
        break;
      case 'BF16':
        data = bf16ArrayToF32(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2));
        break;
      case 'F64':
        data = Float32Array.from(new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8));
        break;
      default:
        throw new TritwiseError('E_DTYPE', 'not a float tensor', { where: `${this.name}: ${name}`, expected: 'F32, F16, BF16 or F64', got: t.dtype });
    }
    return { shape: t.shape.slice(), data };
  }

  /** A U32 tensor (for example a trit plane). */
  readU32(name: string): Uint32Array {
    const t = this.info(name);
    if (t.dtype !== 'U32') throw new TritwiseError('E_DTYPE', 'expected a U32 tensor', { where: `${this.name}: ${name}`, expected: 'U32', got: t.dtype });
    const b = this.readBytes(name);
    return new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  }

  close(): void {
    this.source.close();
  }
}

function parseMetadata(v: unknown, file: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new TritwiseError('E_FORMAT', '__metadata__ is not an object', { where: file, got: typeof v });
  }
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw new TritwiseError('E_FORMAT', 'metadata values must be strings', { where: `${file}: __metadata__.${k}`, expected: 'string', got: typeof s });
  }
  return v as Record<string, string>;
}

function parseEntry(name: string, v: unknown, file: string, dataStart: number, dataSize: number): TensorInfo {
  const where = `${file}: ${name}`;
  if (typeof v !== 'object' || v === null) throw new TritwiseError('E_FORMAT', 'tensor entry is not an object', { where, got: typeof v });
  const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) {
    throw new TritwiseError('E_DTYPE', 'unknown dtype', { where, expected: Object.keys(DTYPE_BYTES).join(', '), got: e.dtype });
  }
  const isDim = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0;
  if (!Array.isArray(e.shape) || !e.shape.every(isDim)) {
    throw new TritwiseError('E_FORMAT', 'invalid shape', { where, expected: 'an array of non-negative integers', got: e.shape });
  }
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isDim) || off[0] > off[1]) {
    throw new TritwiseError('E_FORMAT', 'invalid data_offsets', { where, expected: '[begin, end] with 0 ≤ begin ≤ end', got: off });
  }
  const [begin, end] = off as [number, number];
  if (end > dataSize) throw new TritwiseError('E_TRUNCATED', 'tensor data runs past the end of the file', { where, expected: `end ≤ ${dataSize}`, got: end });
  const shape = e.shape as number[];
  const want = numel(shape) * DTYPE_BYTES[e.dtype]!;
  if (end - begin !== want) {
    throw new TritwiseError('E_FORMAT', 'data length does not match dtype and shape', { where, expected: `${want} bytes (${e.dtype} [${shape.join(', ')}])`, got: `${end - begin} bytes` });
  }
  return { name, dtype: e.dtype, shape: shape.slice(), offset: dataStart + begin, byteLength: end - begin };
}

export interface TensorToWrite {
  name: string;
  dtype: Dtype;
  shape: number[];
  data: ArrayBufferView;
}

/** Build the header bytes (padded with spaces to a multiple of 8) for the given tensors. */
function buildHeader(tensors: TensorToWrite[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name) || t.name === '__metadata__') throw new TritwiseError('E_ARG', 'duplicate or reserved tensor name', { where: t.name });
    seen.add(t.name);
    const size = DTYPE_BYTES[t.dtype];
    if (size === undefined) throw new TritwiseError('E_DTYPE', 'unknown dtype', { where: t.name, expected: Object.keys(DTYPE_BYTES).join(', '), got: t.dtype });
    const want = numel(t.shape) * size;
    if (t.data.byteLength !== want) {
      throw new TritwiseError('E_SHAPE', 'data does not match dtype and shape', { where: t.name, expected: `${want} bytes`, got: `${t.data.byteLength} bytes` });
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(raw.length / 8) * 8).fill(0x20);
  padded.set(raw);
  return padded;
}

/** Serialize to bytes in memory (for browsers and tests). */
export function encodeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const header = buildHeader(tensors, metadata);
  const total = 8 + header.length + tensors.reduce((s, t) => s + t.data.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let p = 8 + header.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** Write a safetensors file atomically (temp file, then rename), streaming tensor by tensor. */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}): void {
  const header = buildHeader(tensors, metadata);
  writeFileAtomic(path, (fd) => {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(header.length), true);
    writeAll(fd, len);
    writeAll(fd, header);
    for (const t of tensors) writeAll(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
}
