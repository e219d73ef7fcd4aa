/**
 * Sparse formats: chunk bitmaps stay exact under edits and row operations (property tests against
 * the planes), CSR and block-sparse convert exactly both ways (also through the format registry),
 * their reference kernels match the dense reference, and safetensors storage is bit-exact with
 * typed errors on corrupt files.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gemmTernaryF32, gemmTernaryI8 } from '../../src/backend/ref/kernels.js';
import { TritwiseError } from '../../src/errors.js';
import { SafetensorsFile, encodeSafetensors } from '../../src/io/safetensors.js';
import { encodeWeights, readWeights } from '../../src/io/weights-file.js';
import { fromBlockSparse, toBlockSparse, validateBlockSparse } from '../../src/sparse/block-sparse.js';
import { chunkMap, chunkMapFromPlanes, chunkMapsEqual } from '../../src/sparse/chunk-map.js';
import { fromCsr, toCsr, validateCsr } from '../../src/sparse/csr.js';
import { gemmSparseF32, gemmSparseI8 } from '../../src/sparse/ref-kernels.js';
import { encodeAs } from '../../src/sparse/sparse-formats.js';
import { getFormat } from '../../src/tensor/formats.js';
import { permuteRows } from '../../src/tensor/permute-rows.js';
import { stackTernaryRows } from '../../src/tensor/stack-rows.js';
import { TernaryTensor, type Trit } from '../../src/tensor/ternary-tensor.js';
import { randomFloats, tensorArb } from '../helpers/arbitraries.js';

const CHUNKS = [1, 2, 3, 4, 8];

function expectMapsExact(t: TernaryTensor): void {
  t.validate();
  for (const B of CHUNKS) expect(chunkMapsEqual(chunkMap(t, B), chunkMapFromPlanes(t, B)), `chunk ${B}`).toBe(true);
}

type Op = { k: 'set'; r: number; c: number; v: Trit } | { k: 'clear'; r: number } | { k: 'row'; r: number; seed: number } | { k: 'perm'; seed: number } | { k: 'stack' } | { k: 'slice'; a: number; b: number } | { k: 'raw'; i: number; v: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('set' as const), r: fc.nat(), c: fc.nat(), v: fc.constantFrom<Trit>(-1, 0, 1, 0) }), weight: 6 },
  fc.record({ k: fc.constant('clear' as const), r: fc.nat() }),
  fc.record({ k: fc.constant('row' as const), r: fc.nat(), seed: fc.nat() }),
  fc.record({ k: fc.constant('perm' as const), seed: fc.nat() }),
  fc.record({ k: fc.constant('stack' as const) }),
  fc.record({ k: fc.constant('slice' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ k: fc.constant('raw' as const), i: fc.nat(), v: fc.nat() }),
);

function apply(t: TernaryTensor, op: Op): TernaryTensor {
  const { rows, cols } = t;
  switch (op.k) {
    case 'set':
      if (rows && cols) t.set(op.r % rows, op.c % cols, op.v);
      return t;
    case 'clear':
      if (rows) t.clearRow(op.r % rows);
      return t;
    case 'row': {
      if (!rows) return t;
      const f = randomFloats(cols, op.seed + 1);
      t.setRow(op.r % rows, Array.from(f, (x) => (x > 0.6 ? 1 : x < -0.6 ? -1 : 0)));
      return t;
    }
    case 'perm': {
      const perm = Int32Array.from({ length: rows }, (_, i) => i);
      const f = randomFloats(rows, op.seed + 1);
      perm.sort((a, b) => f[a]! - f[b]!);
      return permuteRows(t, perm);
    }
    case 'stack':
      return rows < 20 ? stackTernaryRows([t, t.clone()]) : t;
    case 'slice': {
      const a = rows ? op.a % (rows + 1) : 0;
      return t.sliceRows(Math.min(a, op.b % (rows + 1)), Math.max(a, op.b % (rows + 1)));
    }
    case 'raw':
      // direct plane writes must be followed by invalidateMetadata()
      if (t.plus.length) {
        const i = op.i % t.plus.length;
        t.minus[i] = 0;
        t.plus[i] = op.v & (i % t.wordsPerRow === t.wordsPerRow - 1 && t.cols % 32 ? (1 << t.cols % 32) - 1 : -1);
        t.invalidateMetadata();
      }
      return t;
  }
}

describe('chunk metadata', () => {
  it('matches the planes after any sequence of lens edits, row edits and row operations', () => {
    fc.assert(
      fc.property(tensorArb, fc.array(opArb, { maxLength: 25 }), (t0, ops) => {
        let t = t0;
        chunkMap(t); // build the cache first, so the edits must keep it exact
        expectMapsExact(t);
        for (const op of ops) {
          t = apply(t, op);
          expectMapsExact(t);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('fails the check when the planes are edited behind its back', () => {
    const t = TernaryTensor.fromTrits([1, 0, 0, 0], 1, 4);
    chunkMap(t);
    t.plus[0] = 0;
    expect(() => t.validate()).toThrow(/stale/);
    expect(chunkMapsEqual(chunkMap(t), chunkMapFromPlanes(t))).toBe(false);
  });

  it('rejects a bad chunk size and setRow with a wrong length or a non-trit', () => {
    const t = TernaryTensor.zeros(2, 40);
    expect(() => chunkMap(t, 0)).toThrow(TritwiseError);
    expect(() => t.setRow(0, [1, 0])).toThrow(/row length/);
    expect(() => t.setRow(0, new Array(40).fill(2))).toThrow(/not a trit/);
    expect(() => t.clearRow(2)).toThrow(/row out of range/);
  });
});

describe('CSR and block-sparse formats', () => {
  it('convert exactly both ways (16- and 32-bit CSR indices, chunks of 1–4 words, via the registry)', () => {
    fc.assert(
      fc.property(tensorArb, fc.constantFrom<16 | 32>(16, 32), fc.constantFrom(1, 2, 3, 4), (t, bits, B) => {
        const c = toCsr(t, { indexBits: bits });
        expect(c.idx.BYTES_PER_ELEMENT).toBe(bits / 8);
        expect(fromCsr(c).equals(t)).toBe(true);
        const b = toBlockSparse(t, { chunkWords: B });
        expect(b.chunk.length).toBe(chunkMap(t, B).live);
        expect(fromBlockSparse(b).equals(t)).toBe(true);
        expect((getFormat('csr').decode as (p: unknown) => TernaryTensor)(encodeAs('csr', t)).equals(t)).toBe(true);
        expect((getFormat('block-sparse').decode as (p: unknown) => TernaryTensor)(encodeAs('block-sparse', t)).equals(t)).toBe(true);
      }),
      { numRuns: 120 },
    );
  });

  it('uses 32-bit CSR indices past 65536 columns and refuses 16-bit there', () => {
    const t = TernaryTensor.zeros(1, 70000);
    t.set(0, 69999, -1);
    const c = toCsr(t);
    expect(c.idx).toBeInstanceOf(Uint32Array);
    expect(Array.from(c.idx)).toEqual([69999]);
    expect(fromCsr(c).equals(t)).toBe(true);
    expect(() => toCsr(t, { indexBits: 16 })).toThrow(/16-bit/);
  });

  it('reference kernels equal the dense reference (f32 and exact int8, GEMV and GEMM)', () => {
    fc.assert(
      fc.property(tensorArb, fc.constantFrom(0, 1, 3), fc.integer({ min: 1, max: 1000 }), (t, batch, seed) => {
        const x = randomFloats(batch * t.cols, seed);
        const q = Int8Array.from(randomFloats(batch * t.cols, seed + 7, 127), Math.round);
        for (const s of [toCsr(t), toBlockSparse(t, { chunkWords: 2 })]) {
          expect(Array.from(gemmSparseI8(s, q, batch))).toEqual(Array.from(gemmTernaryI8(t, q, batch)));
          const want = gemmTernaryF32(t, x, batch);
          const got = gemmSparseF32(s, x, batch);
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('validation names the broken part of corrupt data', () => {
    const t = TernaryTensor.fromTrits([1, -1, 0, 1, 0, 0, -1, 1], 2, 4);
    const c = toCsr(t);
    const bad1 = { ...c, idx: Uint16Array.from([1, 0, 2, 3, 0]) };
    expect(() => validateCsr(bad1)).toThrow(/out of order/);
    const bad2 = { ...c, idx: Uint16Array.from([0, 0, 3, 3, 2]) };
    expect(() => validateCsr(bad2)).toThrow(TritwiseError);
    const bad3 = { ...c, offs: Uint32Array.from([0, 2, 3, 4, 9]) };
    expect(() => validateCsr(bad3)).toThrow(/last offset/);
    const b = toBlockSparse(t);
    expect(() => validateBlockSparse({ ...b, plus: Uint32Array.from([0b1111, 0b11]) })).toThrow(/overlap|past the last/);
    expect(() => validateBlockSparse({ ...b, chunk: Uint16Array.from([0, 1]) })).toThrow(/chunk index/);
  });
});

describe('sparse safetensors storage', () => {
  const formatOf = (f: 'csr' | 'block-sparse') => () => f;

  it('round-trips bit for bit (file bytes identical after load and re-save)', () => {
    fc.assert(
      fc.property(tensorArb, fc.constantFrom<'csr' | 'block-sparse'>('csr', 'block-sparse'), (t, fmt) => {
        t.quantizer = 'absmean';
        const enc = encodeWeights([['w', t]], {}, { format: formatOf(fmt) });
        const bytes = encodeSafetensors(enc.entries, enc.metadata);
        const back = readWeights(SafetensorsFile.fromBytes(bytes)).tensors.get('w') as TernaryTensor;
        expect(back.equals(t)).toBe(true);
        expect(back.quantizer).toBe('absmean');
        const enc2 = encodeWeights([['w', back]], {}, { format: formatOf(fmt) });
        expect(Buffer.from(encodeSafetensors(enc2.entries, enc2.metadata)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('rejects corrupt sparse files with typed errors, never a wrong tensor', () => {
    const t = TernaryTensor.fromTrits(Array.from(randomFloats(6 * 70, 3), (x) => (x > 0.5 ? 1 : x < -0.5 ? -1 : 0)), 6, 70);
    for (const fmt of ['csr', 'block-sparse'] as const) {
      const enc = encodeWeights([['w', t]], {}, { format: formatOf(fmt) });
      const good = encodeSafetensors(enc.entries, enc.metadata);
      const hdr = Number(new DataView(good.buffer).getBigUint64(0, true)) + 8;
      fc.assert(
        fc.property(fc.integer({ min: hdr, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
          const bad = good.slice();
          bad[pos]! ^= xor;
          try {
            const back = readWeights(SafetensorsFile.fromBytes(bad)).tensors.get('w') as TernaryTensor;
            // some flips make a different but legal file (a scale, an index moved to a free
            // column); then the result must still be a valid tensor of the same shape
            expect(() => back.validate()).not.toThrow();
            expect([back.rows, back.cols]).toEqual([6, 70]);
          } catch (e) {
            expect(e).toBeInstanceOf(TritwiseError);
          }
        }),
        { numRuns: 150 },
      );
    }
  });
});
