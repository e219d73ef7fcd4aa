/**
 * GGUF: the reader on files tritwise did not write, exact TQ1_0/TQ2_0 ↔ planes conversion
 * (checked against ggml's float quantizer rule), and corrupt/absurd input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { planesToTq1, planesToTq2, tq1ToPlanes, tq2ToPlanes } from '../../src/io/ggml-ternary.js';
import { GgufFile } from '../../src/io/gguf-reader.js';
import { encodeGguf, type GgufKv } from '../../src/io/gguf-writer.js';
import { readGgufModel } from '../../src/io/gguf-model.js';
import { f16ToF32, f32ToF16 } from '../../src/io/half.js';
import { Model } from '../../src/nn/model.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { seededRandom } from '../../src/eval/random.js';
import { greedyIds } from '../helpers/models.js';
import { sharedFile } from '../helpers/shared-data.js';

const LLAMA_CPP_TINY_IDS = [304, 304, 29, 304, 447, 29, 384, 147, 343, 384, 426, 426, 426, 426, 426, 19, 447, 420, 79, 106, 79, 498, 498, 498];

/** A random ternary tensor with f16-exact 256-column block scales. */
function randomBlocks(rows: number, blocks: number, seed: number): TernaryTensor {
  const rng = seededRandom(seed);
  const cols = blocks * 256;
  const trits = Array.from({ length: rows * cols }, () => rng.int(3) - 1);
  const gs = Array.from({ length: rows * blocks }, () => f16ToF32(f32ToF16(0.001 + rng.next())));
  return TernaryTensor.fromTrits(trits, rows, cols, { groupSize: 256, groupScales: gs });
}

/** ggml's float path (quantize_row_tq2_0_ref / tq1_0_ref rules) applied to the dequantized block. */
function ggmlQuantizeRow(x: Float32Array, kind: 'tq1' | 'tq2'): Uint8Array {
  const out: number[] = [];
  for (let b = 0; b < x.length / 256; b++) {
    const blk = x.subarray(b * 256, (b + 1) * 256);
    let amax = 0;
    for (const v of blk) amax = Math.max(amax, Math.abs(v));
    const id = amax ? Math.fround(1 / amax) : 0;
    const code = (i: number) => Math.sign(blk[i]!) * Math.round(Math.abs(Math.fround(blk[i]! * id))) + 1; // lroundf: half away from 0
    if (kind === 'tq2') {
      for (let j = 0; j < 64; j += 32) for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) q += (code(j * 4 + m + n * 32) & 3) << (2 * n);
        out.push(q);
      }
    } else {
      const pack = (q: number) => Math.floor((q * 256 + 242) / 243) & 0xff;
      for (let m = 0; m < 32; m++) { let q = 0; for (let n = 0; n < 5; n++) q = q * 3 + code(m + n * 32); out.push(pack(q)); }
      for (let m = 0; m < 16; m++) { let q = 0; for (let n = 0; n < 5; n++) q = q * 3 + code(160 + m + n * 16); out.push(pack(q)); }
      for (let j = 0; j < 4; j++) { let q = 0; for (let m = 0; m < 4; m++) q = q * 3 + code(240 + j + m * 4); out.push(pack(q * 3)); }
    }
    const h = f32ToF16(amax);
    out.push(h & 0xff, h >> 8);
  }
  return Uint8Array.from(out);
}

describe('TQ1_0 / TQ2_0 ↔ bit planes', () => {
  it('round trip exactly and produce the bytes of ggml\'s own quantizer on the same weights', () => {
    for (const seed of [1, 2, 3]) {
      const t = randomBlocks(3, 2, seed);
      // every block needs a nonzero for ggml's amax to equal the block scale
      for (let r = 0; r < 3; r++) for (let b = 0; b < 2; b++) t.set(r, b * 256 + 7, 1);
      const q2 = planesToTq2(t);
      const q1 = planesToTq1(t);
      expect(q2.length).toBe(3 * 2 * 66);
      expect(q1.length).toBe(3 * 2 * 54);
      expect(tq2ToPlanes(q2, 3, 512).equals(t)).toBe(true);
      expect(tq1ToPlanes(q1, 3, 512).equals(t)).toBe(true);
      const dense = t.toDense();
      for (let r = 0; r < 3; r++) {
        expect(q2.subarray(r * 132, (r + 1) * 132)).toEqual(ggmlQuantizeRow(dense.subarray(r * 512, (r + 1) * 512), 'tq2'));
        expect(q1.subarray(r * 108, (r + 1) * 108)).toEqual(ggmlQuantizeRow(dense.subarray(r * 512, (r + 1) * 512), 'tq1'));
      }
    }
  });

  it('refuses what the layouts cannot hold: code 3, ragged columns, 64-column groups', () => {
    const bad = planesToTq2(randomBlocks(1, 1, 4));
    bad[0] = 0xff;
    expect(() => tq2ToPlanes(bad, 1, 256)).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(() => planesToTq2(TernaryTensor.zeros(2, 100))).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
    expect(() => planesToTq1(TernaryTensor.zeros(2, 256, { groupSize: 64 }))).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
    expect(() => tq1ToPlanes(new Uint8Array(53), 1, 256)).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
  });
});

describe('GGUF files written independently of tritwise', () => {
  it('tiny-tq2_0 and tiny-tq1_0 give identical planes, and with Q8_K activations llama.cpp\'s greedy ids', async (t) => {
    const p2 = sharedFile('tiny-tq2_0.gguf');
    const p1 = sharedFile('tiny-tq1_0.gguf');
    if (!p2 || !p1) return t.skip();
    const a = GgufFile.open(p2);
    const b = GgufFile.open(p1);
    try {
      let ternary = 0;
      for (const [name, info] of a.tensors) {
        if (!info.type.ternary) continue;
        expect(b.info(name).type.name).toBe('TQ1_0');
        expect(a.readTernary(name).equals(b.readTernary(name))).toBe(true);
        ternary++;
      }
      expect(ternary).toBe(14);
    } finally {
      a.close();
      b.close();
    }
    for (const p of [p2, p1]) {
      const m = await Model.load(p);
      expect(m.activations.get('layers.1.feed_forward.w2')).toBe('q8k');
      expect(await greedyIds(m, 24)).toEqual(LLAMA_CPP_TINY_IDS);
    }
    // with f32 activations the same weights drift from llama.cpp where logits nearly tie
    const f32 = await Model.load(p2, { ggufActivation: 'f32' });
    expect(await greedyIds(f32, 24)).not.toEqual(LLAMA_CPP_TINY_IDS);
  });
});

/** A small valid GGUF: a 1-layer llama with one TQ2_0 tensor. */
function smallGguf(): Uint8Array {
  const meta: GgufKv[] = [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'llama.embedding_length', type: 'u32', value: 256 },
    { key: 'tokenizer.ggml.tokens', type: 'string[]', value: ['<unk>', '<s>', '</s>', 'a'] },
    { key: 'tokenizer.ggml.scores', type: 'f32[]', value: [0, 0, 0, -1] },
  ];
  return encodeGguf(meta, [
    { name: 'blk.0.attn_q.weight', ne: [256, 2], type: 35, data: planesToTq2(randomBlocks(2, 1, 9)) },
    { name: 'output_norm.weight', ne: [256], type: 0, data: new Uint8Array(1024) },
  ]);
}

function expectTyped(fn: () => unknown, codes?: string[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TritwiseError);
    if (codes) expect(codes).toContain((e as TritwiseError).code);
  }
}

describe('GGUF reader on corrupt input', () => {
  it('round-trips its own writer', () => {
    const f = GgufFile.fromBytes(smallGguf());
    expect(f.version).toBe(3);
    expect(f.str('general.architecture')).toBe('llama');
    expect(f.shape('blk.0.attn_q.weight')).toEqual([2, 256]);
    expect((f.arr('tokenizer.ggml.tokens')!.values as string[])[3]).toBe('a');
    expect(f.readTernary('blk.0.attn_q.weight').equals(randomBlocks(2, 1, 9))).toBe(true);
  });

  it('absurd counts, lengths, offsets and unknown types are typed errors', () => {
    const good = smallGguf();
    const patch = (off: number, f: (dv: DataView) => void) => {
      const b = good.slice();
      f(new DataView(b.buffer));
      return () => GgufFile.fromBytes(b, 'patched.gguf');
    };
    expect(patch(0, (d) => d.setUint32(0, 0x12345678, true))).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/bad magic/) }));
    expect(patch(0, (d) => d.setUint32(4, 7, true))).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/version/) }));
    expect(patch(0, (d) => d.setBigUint64(8, 1n << 60n, true))).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/absurd tensor count/) }));
    expect(patch(0, (d) => d.setBigUint64(16, 1n << 40n, true))).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/absurd metadata count/) }));
    expect(patch(0, (d) => d.setBigUint64(24, 1n << 50n, true))).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/absurd metadata key 0 length/) }));
    // the first value's type (after the 20-byte key "general.architecture")
    expect(patch(0, (d) => d.setUint32(24 + 8 + 20, 99, true))).toThrow(expect.objectContaining({ code: 'E_DTYPE' }));
    // tensor type and offset of the first tensor: find them by name
    const name = new TextEncoder().encode('blk.0.attn_q.weight');
    let at = 0;
    for (let i = 0; i < good.length; i++) if (good.subarray(i, i + name.length).every((x, j) => x === name[j])) { at = i + name.length; break; }
    const typeAt = at + 4 + 16;
    expect(patch(0, (d) => d.setUint32(typeAt, 99, true))).toThrow(expect.objectContaining({ code: 'E_DTYPE', message: expect.stringMatching(/unsupported ggml tensor type.*got 99/) }));
    expect(patch(0, (d) => d.setBigUint64(typeAt + 4, 7n, true))).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/not aligned/) }));
    expect(patch(0, (d) => d.setBigUint64(typeAt + 4, BigInt(good.length), true))).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
    expect(patch(0, (d) => d.setUint32(at, 9, true))).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/dimensions/) }));
    expect(() => GgufFile.fromBytes(good.subarray(0, good.length - 10))).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
  });

  it('never crashes, hangs or misreads on random corruption (fast-check)', () => {
    const good = smallGguf();
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.nat(good.length - 1), v: fc.nat(255) }), { minLength: 1, maxLength: 8 }), fc.option(fc.nat(good.length)), (edits, cut) => {
        const b = good.slice(0, cut ?? good.length);
        for (const { at, v } of edits) if (at < b.length) b[at] = v;
        expectTyped(() => {
          const f = GgufFile.fromBytes(b);
          for (const name of f.tensors.keys()) (f.info(name).type.ternary ? f.readTernary(name) : f.readF32(name));
          readGgufModel(f);
        });
      }),
      { numRuns: 400 },
    );
  });

  it('a llama GGUF missing its model keys, or of another architecture, is refused clearly', () => {
    const f = GgufFile.fromBytes(smallGguf(), 'small.gguf');
    expect(() => readGgufModel(f)).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/metadata key missing \(small\.gguf: llama\.attention\.head_count\)/) }));
    const other = encodeGguf([{ key: 'general.architecture', type: 'string', value: 'gpt2' }], []);
    expect(() => readGgufModel(GgufFile.fromBytes(other))).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
  });
});
