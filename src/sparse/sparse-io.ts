/**
 * sparse-io — the sparse formats inside a tritwise safetensors weights file (io/weights-file.ts),
 * stored bit for bit as they are in memory:
 *
 *   csr           <name>.csr_offs U32 [rows·G·2 + 1], <name>.csr_idx U16|U32 [nnz]
 *   block-sparse  <name>.row_ptr U32 [rows + 1], <name>.chunk U16|U32 [live],
 *                 <name>.plus U32 [live, chunkWords], <name>.minus U32 [live, chunkWords]
 *   both          <name>.scales F32 [rows], <name>.group_scales F32 [rows, G] (with groups)
 *
 * The descriptor in the file's `tritwise.ternary` metadata says {format, shape, group_size,
 * index_bits | chunk_words, quantizer}. Reading validates everything (csr.ts validateCsr,
 * block-sparse.ts validateBlockSparse), since the file is untrusted.
 */
import { TritwiseError } from '../errors.js';
import type { SafetensorsFile, TensorToWrite } from '../io/safetensors.js';
import { validateBlockSparse, type BlockSparseTrits } from './block-sparse.js';
import { validateCsr, type CsrTrits } from './csr.js';

export interface SparseDescriptor {
  format: 'csr' | 'block-sparse';
  shape: [number, number];
  group_size: number;
  quantizer?: string;
  index_bits?: 16 | 32;
  chunk_words?: number;
}

function scaleEntries(name: string, s: CsrTrits | BlockSparseTrits): TensorToWrite[] {
  const G = s.groupSize ? Math.ceil(s.cols / s.groupSize) : 1;
  const e: TensorToWrite[] = [{ name: `${name}.scales`, dtype: 'F32', shape: [s.rows], data: s.scales }];
  if (s.groupScales) e.push({ name: `${name}.group_scales`, dtype: 'F32', shape: [s.rows, G], data: s.groupScales });
  return e;
}

/** The safetensors entries and the descriptor of one sparse tensor. */
export function encodeSparse(name: string, s: CsrTrits | BlockSparseTrits): { entries: TensorToWrite[]; descriptor: SparseDescriptor } {
  const base = { shape: [s.rows, s.cols] as [number, number], group_size: s.groupSize, ...(s.quantizer ? { quantizer: s.quantizer } : {}) };
  if (s.format === 'csr') {
    validateCsr(s, name);
    const bits = s.idx instanceof Uint16Array ? 16 : 32;
    return {
      entries: [
        { name: `${name}.csr_offs`, dtype: 'U32', shape: [s.offs.length], data: s.offs },
        { name: `${name}.csr_idx`, dtype: bits === 16 ? 'U16' : 'U32', shape: [s.idx.length], data: s.idx },
        ...scaleEntries(name, s),
      ],
      descriptor: { format: 'csr', ...base, index_bits: bits },
    };
  }
  validateBlockSparse(s, name);
  const live = s.chunk.length;
  return {
    entries: [
      { name: `${name}.row_ptr`, dtype: 'U32', shape: [s.rowPtr.length], data: s.rowPtr },
      { name: `${name}.chunk`, dtype: s.chunk instanceof Uint16Array ? 'U16' : 'U32', shape: [live], data: s.chunk },
      { name: `${name}.plus`, dtype: 'U32', shape: [live, s.chunkWords], data: s.plus },
      { name: `${name}.minus`, dtype: 'U32', shape: [live, s.chunkWords], data: s.minus },
      ...scaleEntries(name, s),
    ],
    descriptor: { format: 'block-sparse', ...base, chunk_words: s.chunkWords },
  };
}

/** The tensor parts a descriptor owns (so readers can tell them from plain tensors). */
export function sparseParts(name: string, d: SparseDescriptor): string[] {
  const p = d.format === 'csr' ? ['csr_offs', 'csr_idx'] : ['row_ptr', 'chunk', 'plus', 'minus'];
  return [...p, 'scales', 'group_scales'].map((x) => `${name}.${x}`);
}

function readInts(f: SafetensorsFile, name: string, dtypes: string[], where: string): Uint16Array | Uint32Array {
  const info = f.info(name);
  if (!dtypes.includes(info.dtype)) throw new TritwiseError('E_DTYPE', 'wrong dtype', { where: `${where} (${name})`, expected: dtypes.join(' or '), got: info.dtype });
  if (info.shape.length === 0) throw new TritwiseError('E_SHAPE', 'expected an array', { where: `${where} (${name})`, got: '[]' });
  const b = f.readBytes(name).slice();
  return info.dtype === 'U16' ? new Uint16Array(b.buffer, 0, b.byteLength / 2) : new Uint32Array(b.buffer, 0, b.byteLength / 4);
}

function readScales(f: SafetensorsFile, name: string, rows: number, G: number, gs: number, where: string): { scales: Float32Array; groupScales: Float32Array | null } {
  const s = f.readF32(`${name}.scales`).data.slice();
  const g = gs ? f.readF32(`${name}.group_scales`).data.slice() : null;
  if (s.length !== rows) throw new TritwiseError('E_SHAPE', 'scales do not match the shape', { where: `${where}.scales`, expected: rows, got: s.length });
  if (g && g.length !== rows * G) throw new TritwiseError('E_SHAPE', 'group scales do not match the shape', { where: `${where}.group_scales`, expected: rows * G, got: g.length });
  return { scales: s, groupScales: g };
}

/** Read and validate one sparse tensor. */
export function readSparse(f: SafetensorsFile, name: string, d: SparseDescriptor): CsrTrits | BlockSparseTrits {
  const where = `${f.name}: ${name}`;
  const shape = d.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw new TritwiseError('E_FORMAT', 'invalid ternary shape in metadata', { where, expected: '[rows, cols]', got: shape });
  }
  const [rows, cols] = shape;
  const gs = d.group_size ?? 0;
  if (!(Number.isInteger(gs) && gs >= 0 && gs % 32 === 0)) throw new TritwiseError('E_FORMAT', 'invalid group size in metadata', { where, expected: '0 or a multiple of 32', got: gs });
  const G = gs ? Math.ceil(cols / gs) : 1;
  const { scales, groupScales } = readScales(f, name, rows, G, gs, where);
  if (d.format === 'csr') {
    const c: CsrTrits = { format: 'csr', rows, cols, groupSize: gs, G, offs: readInts(f, `${name}.csr_offs`, ['U32'], where) as Uint32Array, idx: readInts(f, `${name}.csr_idx`, ['U16', 'U32'], where), scales, groupScales, quantizer: d.quantizer };
    if ((c.idx instanceof Uint16Array ? 16 : 32) !== (d.index_bits ?? 16)) throw new TritwiseError('E_FORMAT', 'index width does not match the metadata', { where, expected: d.index_bits, got: c.idx instanceof Uint16Array ? 16 : 32 });
    validateCsr(c, where);
    return c;
  }
  if (d.format !== 'block-sparse') throw new TritwiseError('E_FORMAT', 'unknown ternary storage format', { where, expected: 'planes | csr | block-sparse', got: (d as { format: unknown }).format });
  const B = d.chunk_words;
  if (!Number.isInteger(B) || B! < 1 || B! > 1024) throw new TritwiseError('E_FORMAT', 'invalid chunk size in metadata', { where, expected: '1 … 1024', got: B });
  const b: BlockSparseTrits = {
    format: 'block-sparse',
    rows,
    cols,
    groupSize: gs,
    chunkWords: B!,
    rowPtr: readInts(f, `${name}.row_ptr`, ['U32'], where) as Uint32Array,
    chunk: readInts(f, `${name}.chunk`, ['U16', 'U32'], where),
    plus: readInts(f, `${name}.plus`, ['U32'], where) as Uint32Array,
    minus: readInts(f, `${name}.minus`, ['U32'], where) as Uint32Array,
    scales,
    groupScales,
    quantizer: d.quantizer,
  };
  validateBlockSparse(b, where);
  return b;
}
