/**
 * formats — the registry of weight formats, one row per format (after ggml's type-traits table).
 *
 * Each row says how many bits a weight takes, how to convert exactly to and from a TernaryTensor
 * (for ternary formats), and which backends have kernels that consume it directly. Adding a format
 * means adding a row; `tritwise inspect` and the docs read this table.
 */
import { TritwiseError } from '../errors.js';
import { decodeBase3, decodeCodes2, encodeBase3, encodeCodes2, type PackedTrits } from './codecs.js';
import type { MultiTritTensor } from './multi-trit-tensor.js';
import type { TernaryTensor } from './ternary-tensor.js';
import { packTrytes, unpackTrytes, type PackedTrytes } from './trytes.js';

export interface FormatDescriptor {
  name: string;
  description: string;
  /** nominal storage bits per weight, scales excluded (per trit of depth when `perTrit`) */
  bitsPerWeight: number;
  /** multi-trit formats: a weight of depth d takes d × bitsPerWeight */
  perTrit?: boolean;
  ternary: boolean;
  /** backends with kernels for this format (others convert first) */
  kernels: string[];
  /** to the format's own representation (the argument is a TernaryTensor, or a MultiTritTensor when `perTrit`) */
  encode?: (t: never) => unknown;
  decode?: (p: never) => TernaryTensor | MultiTritTensor;
}

const table: FormatDescriptor[] = [
  { name: 'f32', description: 'IEEE f32, dense', bitsPerWeight: 32, ternary: false, kernels: ['ref', 'wasm'] },
  { name: 'f16', description: 'IEEE f16, dense (converted to f32 on load)', bitsPerWeight: 16, ternary: false, kernels: [] },
  { name: 'bf16', description: 'bfloat16, dense (converted to f32 on load)', bitsPerWeight: 16, ternary: false, kernels: [] },
  {
    name: 'planes',
    description: 'bit-sliced trits: plus and minus Uint32 planes, 32 trits per word',
    bitsPerWeight: 2,
    ternary: true,
    kernels: ['ref', 'wasm'],
    encode: (t: TernaryTensor) => t,
    decode: (p: TernaryTensor) => p,
  },
  {
    name: 'codes2',
    description: '2-bit codes t+1, 4 trits per byte',
    bitsPerWeight: 2,
    ternary: true,
    kernels: [],
    encode: encodeCodes2,
    decode: (p: PackedTrits) => decodeCodes2(p),
  },
  {
    name: 'base3',
    description: 'base-3 packing, 5 trits per byte',
    bitsPerWeight: 1.6,
    ternary: true,
    kernels: [],
    encode: encodeBase3,
    decode: (p: PackedTrits) => decodeBase3(p),
  },
  {
    name: 'multi-planes',
    description: 'd trits per weight as d bit-plane pairs, each with its own scales: W = Σ_k α_k·T_k (residual form; trytes are α_k = α·3^k)',
    bitsPerWeight: 2,
    perTrit: true,
    ternary: true,
    kernels: ['ref', 'wasm'],
    encode: (t: MultiTritTensor) => t,
    decode: (p: MultiTritTensor) => p,
  },
  {
    name: 'trytes',
    description: 'balanced-ternary trytes: d trits per weight, packed 5 per byte in base 3, one scale per row or group',
    bitsPerWeight: 1.6,
    perTrit: true,
    ternary: true,
    kernels: [],
    encode: (t: MultiTritTensor) => packTrytes(t),
    decode: (p: PackedTrytes) => unpackTrytes(p),
  },
];

const byName = new Map(table.map((f) => [f.name, f]));

export function registerFormat(f: FormatDescriptor): void {
  if (byName.has(f.name)) throw new TritwiseError('E_ARG', 'format already registered', { where: f.name });
  table.push(f);
  byName.set(f.name, f);
}

/** Declare that `backend` has kernels for `format`. */
export function addKernel(format: string, backend: string): void {
  const f = getFormat(format);
  if (!f.kernels.includes(backend)) f.kernels.push(backend);
}

export function getFormat(name: string): FormatDescriptor {
  const f = byName.get(name);
  if (!f) throw new TritwiseError('E_ARG', 'unknown format', { where: 'format', expected: [...byName.keys()].join(' | '), got: name });
  return f;
}

export function listFormats(): readonly FormatDescriptor[] {
  return table;
}
