/**
 * gguf-writer — write a GGUF v3 file (see gguf-reader.ts for the layout): metadata, tensor
 * infos, then tensor data, each tensor aligned to 32 bytes. Written atomically.
 */
import { TritwiseError } from '../errors.js';
import { writeAll, writeFileAtomic } from './atomic-write.js';
import { GGML_TYPES, rowBytes } from './ggml-types.js';
import { GGUF_MAGIC, GgufValueType } from './gguf-reader.js';

export type GgufKv =
  | { key: string; type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { key: string; type: 'bool'; value: boolean }
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'string[]'; value: string[] }
  | { key: string; type: 'f32[]'; value: ArrayLike<number> }
  | { key: string; type: 'i32[]'; value: ArrayLike<number> };

export interface GgufTensorToWrite {
  name: string;
  /** ggml order: ne[0] innermost (cols of a matrix) */
  ne: number[];
  /** ggml type id */
  type: number;
  data: Uint8Array;
}

const ALIGN = 32;

class Bytes {
  parts: Uint8Array[] = [];
  size = 0;
  #push(b: Uint8Array) {
    this.parts.push(b);
    this.size += b.length;
  }
  raw(b: Uint8Array) {
    this.#push(b);
  }
  num(kind: 'u32' | 'i32' | 'f32' | 'u64' | 'u8', v: number) {
    const b = new Uint8Array(kind === 'u64' ? 8 : kind === 'u8' ? 1 : 4);
    const dv = new DataView(b.buffer);
    if (kind === 'u32') dv.setUint32(0, v, true);
    else if (kind === 'i32') dv.setInt32(0, v, true);
    else if (kind === 'f32') dv.setFloat32(0, v, true);
    else if (kind === 'u8') dv.setUint8(0, v);
    else dv.setBigUint64(0, BigInt(v), true);
    this.#push(b);
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.num('u64', b.length);
    this.#push(b);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function writeKv(b: Bytes, kv: GgufKv): void {
  b.str(kv.key);
  const T = GgufValueType;
  switch (kv.type) {
    case 'u32': b.num('u32', T.U32); b.num('u32', kv.value); break;
    case 'i32': b.num('u32', T.I32); b.num('i32', kv.value); break;
    case 'f32': b.num('u32', T.F32); b.num('f32', kv.value); break;
    case 'u64': b.num('u32', T.U64); b.num('u64', kv.value); break;
    case 'bool': b.num('u32', T.BOOL); b.num('u8', kv.value ? 1 : 0); break;
    case 'string': b.num('u32', T.STRING); b.str(kv.value); break;
    case 'string[]':
      b.num('u32', T.ARRAY); b.num('u32', T.STRING); b.num('u64', kv.value.length);
      for (const s of kv.value) b.str(s);
      break;
    case 'f32[]': {
      b.num('u32', T.ARRAY); b.num('u32', T.F32); b.num('u64', kv.value.length);
      b.raw(new Uint8Array(Float32Array.from(kv.value).buffer));
      break;
    }
    case 'i32[]': {
      b.num('u32', T.ARRAY); b.num('u32', T.I32); b.num('u64', kv.value.length);
      b.raw(new Uint8Array(Int32Array.from(kv.value).buffer));
      break;
    }
  }
}

/** The header (everything before the tensor data, padded) and each tensor's data offset. */
function buildHeader(metadata: GgufKv[], tensors: GgufTensorToWrite[]): { header: Uint8Array; offsets: number[]; total: number } {
  const b = new Bytes();
  b.num('u32', GGUF_MAGIC);
  b.num('u32', 3);
  b.num('u64', tensors.length);
  b.num('u64', metadata.length);
  for (const kv of metadata) writeKv(b, kv);
  const offsets: number[] = [];
  let off = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    const type = GGML_TYPES.get(t.type);
    if (!type) throw new TritwiseError('E_DTYPE', 'unsupported ggml type', { where: t.name, got: t.type });
    if (names.has(t.name)) throw new TritwiseError('E_ARG', 'duplicate tensor name', { where: t.name });
    names.add(t.name);
    const rows = t.ne.slice(1).reduce((a, x) => a * x, 1);
    const want = rows * rowBytes(type, t.ne[0]!);
    if (t.ne[0]! % type.blockSize !== 0 || t.data.length !== want) {
      throw new TritwiseError('E_SHAPE', 'tensor data does not match its type and shape', { where: t.name, expected: `${want} bytes (${type.name} [${t.ne.join(', ')}])`, got: `${t.data.length} bytes` });
    }
    b.str(t.name);
    b.num('u32', t.ne.length);
    for (const d of t.ne) b.num('u64', d);
    b.num('u32', t.type);
    b.num('u64', off);
    offsets.push(off);
    off += Math.ceil(t.data.length / ALIGN) * ALIGN;
  }
  const pad = Math.ceil(b.size / ALIGN) * ALIGN - b.size;
  b.raw(new Uint8Array(pad));
  const header = b.concat();
  return { header, offsets, total: header.length + off };
}

export function encodeGguf(metadata: GgufKv[], tensors: GgufTensorToWrite[]): Uint8Array {
  const { header, offsets, total } = buildHeader(metadata, tensors);
  const out = new Uint8Array(total);
  out.set(header);
  tensors.forEach((t, i) => out.set(t.data, header.length + offsets[i]!));
  return out;
}

export function writeGguf(path: string, metadata: GgufKv[], tensors: GgufTensorToWrite[]): number {
  const { header, total } = buildHeader(metadata, tensors);
  writeFileAtomic(path, (fd) => {
    writeAll(fd, header);
    for (const t of tensors) {
      writeAll(fd, t.data);
      const pad = Math.ceil(t.data.length / ALIGN) * ALIGN - t.data.length;
      if (pad) writeAll(fd, new Uint8Array(pad));
    }
  });
  return total;
}
