/**
 * ggml-types — the ggml tensor types tritwise reads and writes in GGUF files, one row per type
 * (after ggml's type-traits table): block size, bytes per block, and conversion to f32.
 *
 *   F32   (0)   4 bytes per weight
 *   F16   (1)   IEEE half
 *   Q8_0  (8)   blocks of 32: f16 d, int8 q[32];  w = d·q                         34 bytes
 *   BF16  (30)  bfloat16
 *   TQ1_0 (34)  blocks of 256 trits, base-3 packed, f16 d;  w = d·t              54 bytes
 *   TQ2_0 (35)  blocks of 256 trits, 2-bit codes, f16 d;  w = d·t                66 bytes
 * The ternary types also convert straight to bit planes (ggml-ternary.ts).
 */
import { f16ToF32 } from './half.js';
import { tq1ToPlanes, tq2ToPlanes } from './ggml-ternary.js';
import { bf16ArrayToF32 } from './half.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';

export interface GgmlType {
  id: number;
  name: string;
  blockSize: number;
  blockBytes: number;
  ternary: boolean;
  /** the first `n` weights of `bytes` as f32 */
  toF32(bytes: Uint8Array, n: number): Float32Array;
  /** ternary types: [rows, cols] → planes with one f16 scale per 256-column group */
  toPlanes?(bytes: Uint8Array, rows: number, cols: number, where: string): TernaryTensor;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const TYPES: GgmlType[] = [
  {
    id: 0, name: 'F32', blockSize: 1, blockBytes: 4, ternary: false,
    toF32: (b, n) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + 4 * n)),
  },
  {
    id: 1, name: 'F16', blockSize: 1, blockBytes: 2, ternary: false,
    toF32: (b, n) => {
      const dv = view(b);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
      return out;
    },
  },
  {
    id: 8, name: 'Q8_0', blockSize: 32, blockBytes: 34, ternary: false,
    toF32: (b, n) => {
      const dv = view(b);
      const out = new Float32Array(n);
      for (let blk = 0; blk < n / 32; blk++) {
        const d = f16ToF32(dv.getUint16(blk * 34, true));
        for (let j = 0; j < 32; j++) out[blk * 32 + j] = d * dv.getInt8(blk * 34 + 2 + j);
      }
      return out;
    },
  },
  {
    id: 30, name: 'BF16', blockSize: 1, blockBytes: 2, ternary: false,
    toF32: (b, n) => bf16ArrayToF32(new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + 2 * n))),
  },
  {
    id: 34, name: 'TQ1_0', blockSize: 256, blockBytes: 54, ternary: true,
    toF32: (b, n) => tq1ToPlanes(b, 1, n, 'TQ1_0').toDense(),
    toPlanes: tq1ToPlanes,
  },
  {
    id: 35, name: 'TQ2_0', blockSize: 256, blockBytes: 66, ternary: true,
    toF32: (b, n) => tq2ToPlanes(b, 1, n, 'TQ2_0').toDense(),
    toPlanes: tq2ToPlanes,
  },
];

export const GGML_TYPES: ReadonlyMap<number, GgmlType> = new Map(TYPES.map((t) => [t.id, t]));
export const GGML_TYPE_IDS = { F32: 0, F16: 1, Q8_0: 8, BF16: 30, TQ1_0: 34, TQ2_0: 35 } as const;

/** Bytes of a row of `cols` weights (cols a multiple of the block size). */
export function rowBytes(t: GgmlType, cols: number): number {
  return (cols / t.blockSize) * t.blockBytes;
}

export function typeNames(): string {
  return TYPES.map((t) => `${t.name} (${t.id})`).join(', ');
}
