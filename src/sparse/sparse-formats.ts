/**
 * sparse-formats — the sparse ternary formats' rows in the format registry (tensor/formats.ts):
 * `csr` and `block-sparse`, each with exact encode/decode to and from TernaryTensor and the
 * backends that have kernels for it. Importing this module registers them (once).
 */
import { getFormat, listFormats, registerFormat } from '../tensor/formats.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { fromBlockSparse, toBlockSparse, type BlockSparseTrits } from './block-sparse.js';
import { fromCsr, toCsr, type CsrTrits } from './csr.js';

export const SPARSE_FORMATS = ['csr', 'block-sparse'] as const;
export type SparseFormatName = (typeof SPARSE_FORMATS)[number];

export function registerSparseFormats(): void {
  if (listFormats().some((f) => f.name === 'csr')) return;
  registerFormat({
    name: 'csr',
    description: 'CSR of trits: per row (and group) the column indices of the +1s and the −1s, u16 when cols ≤ 65536 else u32',
    // nominal: per nonzero; the real size depends on density (16·density bits per weight)
    bitsPerWeight: 16,
    ternary: true,
    kernels: ['ref', 'wasm'],
    encode: (t: TernaryTensor) => toCsr(t),
    decode: (p: CsrTrits) => fromCsr(p),
  });
  registerFormat({
    name: 'block-sparse',
    description: 'only the 32-trit words (chunks) that hold a nonzero, as plane words with a u16/u32 chunk index per row',
    // nominal: per live chunk of 32 trits, 64 plane bits + 16 index bits
    bitsPerWeight: 2.5,
    ternary: true,
    kernels: ['ref', 'wasm'],
    encode: (t: TernaryTensor) => toBlockSparse(t),
    decode: (p: BlockSparseTrits) => fromBlockSparse(p),
  });
}

registerSparseFormats();

/** Exact conversion through the registry (for generic callers and tests). */
export function encodeAs(name: SparseFormatName | 'planes', t: TernaryTensor): unknown {
  return (getFormat(name).encode as (t: TernaryTensor) => unknown)(t);
}
