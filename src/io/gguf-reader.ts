/**
 * gguf-reader — GGUF (llama.cpp's model container, versions 2 and 3), read as untrusted input.
 *
 * Layout (little-endian):
 *   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count × (string key, u32 value_type, value)
 *   tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
 *   padding to `general.alignment` (default 32), then the tensor data; offsets are relative to it
 *   string = u64 length + UTF-8 bytes; array = u32 element type, u64 count, elements
 * ne[0] is the innermost (fastest) dimension, so a [rows, cols] matrix has ne = [cols, rows].
 *
 * Every count, length, dimension and offset is bounded by the file size before anything is
 * allocated; unknown value or tensor types are E_DTYPE, short files E_TRUNCATED, the rest E_FORMAT.
 */
import { TritwiseError } from '../errors.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { BufferSource, FileSource, type ByteSource } from './byte-source.js';
import { GGML_TYPES, typeNames, type GgmlType } from './ggml-types.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as u32 LE

/** GGUF metadata value types. */
export const GgufValueType = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12 } as const;

export type GgufValue = number | bigint | boolean | string | GgufArray;
export interface GgufArray {
  type: number;
  values: number[] | bigint[] | boolean[] | string[] | GgufArray[] | Float32Array | Int32Array;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] innermost */
  ne: number[];
  type: GgmlType;
  /** absolute byte offset in the file */
  offset: number;
  byteLength: number;
}

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const MAX_DIMS = 4;

/** A buffered little-endian cursor over a ByteSource (#need may swap the buffer, so take the offset first). */
class Cursor {
  #buf: Uint8Array = new Uint8Array(0);
  #dv = new DataView(this.#buf.buffer);
  #start = 0;
  pos = 0;
  constructor(readonly src: ByteSource) {}

  get remaining(): number {
    return this.src.size - this.pos;
  }

  #need(n: number, what: string): number {
    if (n > this.remaining) throw new TritwiseError('E_TRUNCATED', `GGUF file ends inside ${what}`, { where: `${this.src.name} @${this.pos}`, expected: `${n} more bytes`, got: `${this.remaining}` });
    if (this.pos < this.#start || this.pos + n > this.#start + this.#buf.length) {
      const len = Math.min(this.src.size - this.pos, Math.max(n, 1 << 20));
      this.#buf = this.src.read(this.pos, len);
      this.#dv = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
      this.#start = this.pos;
    }
    const o = this.pos - this.#start;
    this.pos += n;
    return o;
  }
  u8(w: string) { const o = this.#need(1, w); return this.#dv.getUint8(o); }
  i8(w: string) { const o = this.#need(1, w); return this.#dv.getInt8(o); }
  u16(w: string) { const o = this.#need(2, w); return this.#dv.getUint16(o, true); }
  i16(w: string) { const o = this.#need(2, w); return this.#dv.getInt16(o, true); }
  u32(w: string) { const o = this.#need(4, w); return this.#dv.getUint32(o, true); }
  i32(w: string) { const o = this.#need(4, w); return this.#dv.getInt32(o, true); }
  f32(w: string) { const o = this.#need(4, w); return this.#dv.getFloat32(o, true); }
  f64(w: string) { const o = this.#need(8, w); return this.#dv.getFloat64(o, true); }
  u64(w: string) { const o = this.#need(8, w); return this.#dv.getBigUint64(o, true); }
  i64(w: string) { const o = this.#need(8, w); return this.#dv.getBigInt64(o, true); }
  /** a u64 that must be a safe integer no larger than `max` */
  size(w: string, max: number): number {
    const v = this.u64(w);
    if (v > BigInt(max)) throw new TritwiseError('E_FORMAT', `absurd ${w}`, { where: `${this.src.name} @${this.pos - 8}`, expected: `≤ ${max}`, got: v });
    return Number(v);
  }
  bytes(n: number, w: string): Uint8Array {
    const o = this.#need(n, w);
    return this.#buf.subarray(o, o + n);
  }
  string(w: string): string {
    const n = this.size(`${w} length`, this.remaining);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes(n, w));
    } catch (e) {
      if (e instanceof TritwiseError) throw e;
      throw new TritwiseError('E_FORMAT', `${w} is not valid UTF-8`, { where: `${this.src.name} @${this.pos - n}`, cause: e });
    }
  }
}

function readValue(c: Cursor, type: number, key: string, depth = 0): GgufValue {
  const w = `value of ${key}`;
  switch (type) {
    case 0: return c.u8(w);
    case 1: return c.i8(w);
    case 2: return c.u16(w);
    case 3: return c.i16(w);
    case 4: return c.u32(w);
    case 5: return c.i32(w);
    case 6: return c.f32(w);
    case 7: {
      const b = c.u8(w);
      if (b > 1) throw new TritwiseError('E_FORMAT', 'invalid bool', { where: `${c.src.name}: ${key}`, expected: '0 or 1', got: b });
      return b === 1;
    }
    case 8: return c.string(w);
    case 9: {
      if (depth > 2) throw new TritwiseError('E_FORMAT', 'arrays nested too deeply', { where: `${c.src.name}: ${key}`, expected: '≤ 3 levels', got: depth + 1 });
      const et = c.u32(`array type of ${key}`);
      const min = et === 8 ? 8 : et === 9 ? 12 : SCALAR_BYTES[et];
      if (min === undefined) throw new TritwiseError('E_DTYPE', 'unknown GGUF array element type', { where: `${c.src.name}: ${key}`, expected: '0..12', got: et });
      const n = c.size(`array length of ${key}`, Math.floor(c.remaining / min));
      if (et === 6) {
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = c.f32(w);
        return { type: et, values: out };
      }
      if (et === 5) {
        const out = new Int32Array(n);
        for (let i = 0; i < n; i++) out[i] = c.i32(w);
        return { type: et, values: out };
      }
      const values: GgufValue[] = [];
      for (let i = 0; i < n; i++) values.push(readValue(c, et, key, depth + 1));
      return { type: et, values: values as GgufArray['values'] };
    }
    case 10: return c.u64(w);
    case 11: return c.i64(w);
    case 12: return c.f64(w);
  }
  throw new TritwiseError('E_DTYPE', 'unknown GGUF value type', { where: `${c.src.name}: ${key}`, expected: '0..12', got: type });
}

export class GgufFile {
  private constructor(
    readonly source: ByteSource,
    readonly version: number,
    readonly metadata: Map<string, GgufValue>,
    readonly tensors: Map<string, GgufTensorInfo>,
    readonly alignment: number,
    readonly dataStart: number,
  ) {}

  static open(path: string): GgufFile {
    const src = new FileSource(path);
    try {
      return GgufFile.fromSource(src);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  static fromBytes(bytes: Uint8Array, name = '<buffer>'): GgufFile {
    return GgufFile.fromSource(new BufferSource(bytes, name));
  }

  static fromSource(src: ByteSource): GgufFile {
    const file = src.name;
    const c = new Cursor(src);
    if (src.size < 24) throw new TritwiseError('E_TRUNCATED', 'file too short for a GGUF header', { where: file, expected: '≥ 24 bytes', got: `${src.size} bytes` });
    const magic = c.u32('magic');
    if (magic !== GGUF_MAGIC) throw new TritwiseError('E_FORMAT', 'not a GGUF file (bad magic)', { where: file, expected: '"GGUF"', got: `0x${magic.toString(16)}` });
    const version = c.u32('version');
    if (version !== 2 && version !== 3) throw new TritwiseError('E_FORMAT', 'unsupported GGUF version', { where: file, expected: '2 or 3', got: version });
    // each tensor info takes ≥ 8+0+4+8+4+8 bytes, each kv ≥ 8+0+4+1
    const nTensors = c.size('tensor count', Math.floor(src.size / 32));
    const nKv = c.size('metadata count', Math.floor(src.size / 13));
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.string(`metadata key ${i}`);
      const type = c.u32(`type of ${key}`);
      if (metadata.has(key)) throw new TritwiseError('E_FORMAT', 'duplicate metadata key', { where: `${file}: ${key}` });
      metadata.set(key, readValue(c, type, key));
    }
    let alignment = 32;
    const a = metadata.get('general.alignment');
    if (a !== undefined) {
      if (typeof a !== 'number' || !(a > 0 && (a & (a - 1)) === 0 && a <= 1 << 20)) throw new TritwiseError('E_FORMAT', 'invalid general.alignment', { where: file, expected: 'a power of two ≤ 2^20', got: a as unknown });
      alignment = a;
    }
    const infos: { name: string; ne: number[]; type: GgmlType; rel: number; byteLength: number }[] = [];
    const names = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const name = c.string(`tensor name ${i}`);
      const where = `${file}: tensor ${name}`;
      if (names.has(name)) throw new TritwiseError('E_FORMAT', 'duplicate tensor name', { where });
      names.add(name);
      const nd = c.u32(`dims of ${name}`);
      if (nd < 1 || nd > MAX_DIMS) throw new TritwiseError('E_FORMAT', 'invalid number of dimensions', { where, expected: `1..${MAX_DIMS}`, got: nd });
      const ne: number[] = [];
      let count = 1;
      for (let d = 0; d < nd; d++) {
        const v = c.size(`dimension ${d} of ${name}`, src.size * 8);
        ne.push(v);
        count *= v;
      }
      const typeId = c.u32(`type of ${name}`);
      const type = GGML_TYPES.get(typeId);
      if (!type) throw new TritwiseError('E_DTYPE', 'unsupported ggml tensor type', { where, expected: typeNames(), got: typeId });
      if (ne[0]! % type.blockSize !== 0) throw new TritwiseError('E_FORMAT', 'row length is not a whole number of blocks', { where, expected: `a multiple of ${type.blockSize}`, got: ne[0] });
      const byteLength = (count / type.blockSize) * type.blockBytes;
      if (!(byteLength <= src.size)) throw new TritwiseError('E_TRUNCATED', 'tensor larger than the file', { where, expected: `≤ ${src.size} bytes`, got: `${byteLength} bytes` });
      const rel = c.size(`offset of ${name}`, src.size);
      if (rel % alignment !== 0) throw new TritwiseError('E_FORMAT', 'tensor offset is not aligned', { where, expected: `a multiple of ${alignment}`, got: rel });
      infos.push({ name, ne, type, rel, byteLength });
    }
    const dataStart = Math.ceil(c.pos / alignment) * alignment;
    const tensors = new Map<string, GgufTensorInfo>();
    for (const t of infos) {
      if (dataStart + t.rel + t.byteLength > src.size) {
        throw new TritwiseError('E_TRUNCATED', 'tensor data runs past the end of the file', { where: `${file}: tensor ${t.name}`, expected: `${dataStart + t.rel + t.byteLength} bytes`, got: `${src.size} bytes` });
      }
      tensors.set(t.name, { name: t.name, ne: t.ne, type: t.type, offset: dataStart + t.rel, byteLength: t.byteLength });
    }
    const sorted = [...tensors.values()].sort((x, y) => x.offset - y.offset);
    for (let i = 1; i < sorted.length; i++) {
      const p = sorted[i - 1]!, q = sorted[i]!;
      if (q.offset < p.offset + p.byteLength) throw new TritwiseError('E_FORMAT', 'tensor data overlaps', { where: `${file}: ${p.name} and ${q.name}` });
    }
    return new GgufFile(src, version, metadata, tensors, alignment, dataStart);
  }

  get name(): string {
    return this.source.name;
  }

  info(name: string): GgufTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new TritwiseError('E_FORMAT', 'tensor not found', { where: `${this.name}: ${name}`, expected: 'a tensor of that name', got: `${this.tensors.size} tensors` });
    return t;
  }

  /** Shape in row-major order ([rows, cols] for a matrix): ne reversed. */
  shape(name: string): number[] {
    return [...this.info(name).ne].reverse();
  }

  /** Any supported tensor as f32, in row-major shape order. */
  readF32(name: string): DenseTensor {
    const t = this.info(name);
    const n = t.ne.reduce((a, b) => a * b, 1);
    const data = t.type.toF32(this.source.read(t.offset, t.byteLength), n);
    return { shape: this.shape(name), data };
  }

  /** A TQ1_0/TQ2_0 matrix straight to bit planes (groupSize 256, f16 block scales). */
  readTernary(name: string): TernaryTensor {
    const t = this.info(name);
    const where = `${this.name}: ${name}`;
    if (!t.type.toPlanes) throw new TritwiseError('E_DTYPE', 'not a ternary tensor', { where, expected: 'TQ1_0 or TQ2_0', got: t.type.name });
    if (t.ne.length !== 2) throw new TritwiseError('E_FORMAT', 'ternary tensor is not a matrix', { where, expected: 2, got: t.ne.length });
    const tensor = t.type.toPlanes(this.source.read(t.offset, t.byteLength), t.ne[1]!, t.ne[0]!, where);
    for (let i = 0; i < tensor.groupScales!.length; i++) {
      if (!Number.isFinite(tensor.groupScales![i]!)) throw new TritwiseError('E_FORMAT', 'non-finite block scale', { where: `${where} block ${i}`, expected: 'a finite f16', got: tensor.groupScales![i] });
    }
    tensor.quantizer = t.type.name.toLowerCase();
    return tensor;
  }

  /** Metadata helpers with type checks. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }
  num(key: string, fallback?: number): number {
    const v = this.metadata.get(key);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      throw new TritwiseError('E_FORMAT', 'metadata key missing', { where: `${this.name}: ${key}`, expected: 'a number' });
    }
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    throw new TritwiseError('E_FORMAT', 'metadata value is not a number', { where: `${this.name}: ${key}`, expected: 'a number', got: typeof v });
  }
  str(key: string, fallback?: string): string {
    const v = this.metadata.get(key);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') throw new TritwiseError('E_FORMAT', 'metadata value is not a string', { where: `${this.name}: ${key}`, expected: 'a string', got: v === undefined ? 'missing' : typeof v });
    return v;
  }
  arr(key: string): GgufArray | undefined {
    const v = this.metadata.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'object') throw new TritwiseError('E_FORMAT', 'metadata value is not an array', { where: `${this.name}: ${key}`, expected: 'an array', got: typeof v });
    return v;
  }

  close(): void {
    this.source.close();
  }
}

