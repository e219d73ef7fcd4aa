/**
 * multi-trit-file — how a MultiTritTensor `w` [rows, cols] of depth d sits in a tritwise weights
 * file (weights-file.ts), at 1.6 bits per trit:
 *
 *   tryte form (one scale shared by the planes, plane p worth 3^p of it), format "trytes":
 *     w.trytes        U8  [rows, ⌈cols·d/5⌉]   packed trytes (tensor/trytes.ts: trit c·d + p of a
 *                                              row is base-3 digit (c·d+p) % 5 of byte (c·d+p)/5)
 *     w.scales        F32 [rows]               the tryte scale s of each row
 *     w.group_scales  F32 [rows, ⌈cols/g⌉]     (only with group scales)
 *   residual form (every plane its own scales), format "residual":
 *     w.p{p}.trits         U8  [rows, ⌈cols/5⌉]   plane p in base 3 (tensor/codecs.ts base3)
 *     w.p{p}.scales        F32 [rows]
 *     w.p{p}.group_scales  F32 [rows, ⌈cols/g⌉]
 *   tryte form with a column or row depth map (sub-layer depths, tensor/cell-trytes.ts), format
 *   "tryte-cells": only the trits each column (row) keeps
 *     w.trytes        U8  [Σ_r ⌈T_r/5⌉]         T_r = Σ_c d_c, or cols·d_r: the kept trits of row r
 *     w.cell_depths   U8  [⌈n·b/8⌉]              the depth of each of the n columns (cells "columns")
 *                                              or rows, b = ⌈log2(d + 1)⌉ bits each (LSB first)
 *     w.scales, w.group_scales                  as for "trytes"
 *   metadata: { shape, group_size, depth, quantizer?, format: "trytes" | "residual" | "tryte-cells",
 *               cells?: "columns" | "rows" }
 *
 * Loading rebuilds the bit planes exactly (plane scales of a tryte are fround(s·3^p), as when it
 * was made), and checks every byte, padding trit and shape of the untrusted file.
 */
import { TritwiseError } from '../errors.js';
import { decodeBase3, encodeBase3 } from '../tensor/codecs.js';
import { MAX_DEPTH, MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { packTrytes, tryteBytesPerRow, unpackTrytes } from '../tensor/trytes.js';
import { mapBitsPerEntry, packCellTrytes, packDepthMap, unpackCellTrytes, unpackDepthMap } from '../tensor/cell-trytes.js';
import type { SafetensorsFile, TensorToWrite } from './safetensors.js';

export interface MultiTritDescriptor {
  shape: [number, number];
  group_size: number;
  depth: number;
  quantizer?: string;
  format: 'trytes' | 'residual' | 'tryte-cells';
  cells?: 'columns' | 'rows';
}

/** The safetensors entries and the metadata descriptor of a multi-trit tensor. */
export function encodeMultiTrit(name: string, m: MultiTritTensor): { entries: TensorToWrite[]; desc: MultiTritDescriptor } {
  m.validate(name);
  const entries: TensorToWrite[] = [];
  const G = m.planes[0]!.groupsPerRow;
  const base = { shape: [m.rows, m.cols] as [number, number], group_size: m.groupSize, depth: m.depth, ...(m.quantizer ? { quantizer: m.quantizer } : {}) };
  if (m.form === 'tryte' && (m.columnDepths || m.rowDepths)) {
    const p = packCellTrytes(m);
    entries.push({ name: `${name}.trytes`, dtype: 'U8', shape: [p.data.length], data: p.data });
    const packedMap = packDepthMap(p.cellDepths, m.depth);
    entries.push({ name: `${name}.cell_depths`, dtype: 'U8', shape: [packedMap.length], data: packedMap });
    entries.push({ name: `${name}.scales`, dtype: 'F32', shape: [m.rows], data: p.scales });
    if (p.groupScales) entries.push({ name: `${name}.group_scales`, dtype: 'F32', shape: [m.rows, G], data: p.groupScales });
    return { entries, desc: { ...base, format: 'tryte-cells', cells: p.byColumn ? 'columns' : 'rows' } };
  }
  if (m.form === 'tryte') {
    const p = packTrytes(m);
    entries.push({ name: `${name}.trytes`, dtype: 'U8', shape: [m.rows, p.bytesPerRow], data: p.data });
    entries.push({ name: `${name}.scales`, dtype: 'F32', shape: [m.rows], data: p.scales });
    if (p.groupScales) entries.push({ name: `${name}.group_scales`, dtype: 'F32', shape: [m.rows, G], data: p.groupScales });
    return { entries, desc: { ...base, format: 'trytes' } };
  }
  m.planes.forEach((t, k) => {
    const b = encodeBase3(t);
    entries.push({ name: `${name}.p${k}.trits`, dtype: 'U8', shape: [m.rows, b.bytesPerRow], data: b.data });
    entries.push({ name: `${name}.p${k}.scales`, dtype: 'F32', shape: [m.rows], data: t.scales });
    if (t.groupScales) entries.push({ name: `${name}.p${k}.group_scales`, dtype: 'F32', shape: [m.rows, G], data: t.groupScales });
  });
  return { entries, desc: { ...base, format: 'residual' } };
}

/** The tensor names a descriptor owns in the file. */
export function multiTritParts(name: string, desc: MultiTritDescriptor): string[] {
  const gs = desc.group_size ? ['group_scales'] : [];
  if (desc.format === 'trytes') return ['trytes', 'scales', ...gs].map((p) => `${name}.${p}`);
  if (desc.format === 'tryte-cells') return ['trytes', 'cell_depths', 'scales', ...gs].map((p) => `${name}.${p}`);
  const out: string[] = [];
  for (let k = 0; k < desc.depth; k++) for (const p of ['trits', 'scales', ...gs]) out.push(`${name}.p${k}.${p}`);
  return out;
}

function readU8(f: SafetensorsFile, name: string, want: number[], where: string): Uint8Array {
  const info = f.info(name);
  if (info.dtype !== 'U8') throw new TritwiseError('E_DTYPE', 'expected a U8 tensor', { where: `${where}: ${name}`, expected: 'U8', got: info.dtype });
  if (info.shape.join(',') !== want.join(',')) throw new TritwiseError('E_SHAPE', 'shape does not match the metadata', { where: `${where}: ${name}`, expected: want, got: info.shape });
  return f.readBytes(name);
}

function readF32(f: SafetensorsFile, name: string, want: number[], where: string): Float32Array {
  const info = f.info(name);
  if (info.shape.join(',') !== want.join(',')) throw new TritwiseError('E_SHAPE', 'shape does not match the metadata', { where: `${where}: ${name}`, expected: want, got: info.shape });
  const d = f.readF32(name).data;
  return d instanceof Float32Array ? d.slice() : Float32Array.from(d);
}

/** Read and validate one multi-trit tensor described by `desc`. */
export function readMultiTrit(f: SafetensorsFile, name: string, desc: MultiTritDescriptor): MultiTritTensor {
  const where = `${f.name}: ${name}`;
  const shape = desc?.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((x) => Number.isSafeInteger(x) && x >= 0)) {
    throw new TritwiseError('E_FORMAT', 'invalid multi-trit shape in metadata', { where, expected: '[rows, cols]', got: shape });
  }
  const d = desc.depth;
  if (!(Number.isInteger(d) && d >= 1 && d <= MAX_DEPTH)) throw new TritwiseError('E_FORMAT', 'invalid depth in metadata', { where, expected: `1..${MAX_DEPTH}`, got: d });
  const gs = desc.group_size ?? 0;
  if (!(Number.isInteger(gs) && gs >= 0 && gs % 32 === 0)) throw new TritwiseError('E_FORMAT', 'invalid group size in metadata', { where, expected: '0 or a multiple of 32', got: gs });
  const [rows, cols] = shape;
  const G = gs ? Math.ceil(cols / gs) : 0;
  let m: MultiTritTensor;
  if (desc.format === 'trytes') {
    const bpr = tryteBytesPerRow(cols, d);
    const data = readU8(f, `${name}.trytes`, [rows, bpr], where);
    const scales = readF32(f, `${name}.scales`, [rows], where);
    const groupScales = gs ? readF32(f, `${name}.group_scales`, [rows, G], where) : null;
    m = unpackTrytes({ rows, cols, depth: d, groupSize: gs, scales, groupScales, bytesPerRow: bpr, data }, where);
  } else if (desc.format === 'tryte-cells') {
    const byColumn = desc.cells === 'columns';
    if (!byColumn && desc.cells !== 'rows') throw new TritwiseError('E_FORMAT', 'invalid cells in metadata', { where, expected: 'columns | rows', got: desc.cells });
    const nMap = byColumn ? cols : rows;
    const cellDepths = unpackDepthMap(readU8(f, `${name}.cell_depths`, [Math.ceil((nMap * mapBitsPerEntry(d)) / 8)], where), nMap, d, `${where}: ${name}.cell_depths`);
    const info = f.info(`${name}.trytes`);
    if (info.shape.length !== 1) throw new TritwiseError('E_SHAPE', 'cell trytes must be one flat byte array', { where: `${where}: ${name}.trytes`, expected: '[bytes]', got: info.shape });
    const data = readU8(f, `${name}.trytes`, [info.shape[0]!], where);
    const scales = readF32(f, `${name}.scales`, [rows], where);
    const groupScales = gs ? readF32(f, `${name}.group_scales`, [rows, G], where) : null;
    m = unpackCellTrytes({ rows, cols, depth: d, groupSize: gs, byColumn, cellDepths, scales, groupScales, data }, where);
  } else if (desc.format === 'residual') {
    const planes: TernaryTensor[] = [];
    for (let k = 0; k < d; k++) {
      const bpr = Math.ceil(cols / 5);
      const data = readU8(f, `${name}.p${k}.trits`, [rows, bpr], where);
      const t = decodeBase3({ rows, cols, bytesPerRow: bpr, data });
      t.scales.set(readF32(f, `${name}.p${k}.scales`, [rows], where));
      planes.push(gs ? new TernaryTensor({ rows, cols, plus: t.plus, minus: t.minus, scales: t.scales, groupSize: gs, groupScales: readF32(f, `${name}.p${k}.group_scales`, [rows, G], where) }, where) : t);
    }
    m = new MultiTritTensor(planes, { where });
  } else {
    throw new TritwiseError('E_FORMAT', 'unknown multi-trit storage format', { where, expected: 'trytes | tryte-cells | residual', got: (desc as { format?: unknown }).format });
  }
  m.quantizer = desc.quantizer;
  return m.validate(where);
}
