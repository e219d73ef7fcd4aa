import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { writeAll, writeFileAtomic } from '../../src/io/atomic-write.js';
import { f16ToF32, f32ToF16 } from '../../src/io/half.js';
import { encodeSafetensors, SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { encodeWeights, loadWeights, readWeights, saveWeights } from '../../src/io/weights-file.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { randomFloats, tensorArb } from '../helpers/arbitraries.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Raw file bytes: u64 header length, header JSON (as given), data. */
function rawFile(header: string | object, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function parseErr(bytes: Uint8Array): TritwiseError {
  try {
    const f = SafetensorsFile.fromBytes(bytes, 'bad.safetensors');
    readWeights(f);
  } catch (e) {
    expect(e).toBeInstanceOf(TritwiseError);
    return e as TritwiseError;
  }
  throw new Error('expected a TritwiseError');
}

describe('half floats', () => {
  it('f16 known values', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f32ToF16(2 ** -24)).toBe(1);
    expect(f32ToF16(2 ** -26)).toBe(0);
  });

  it('every f16 value survives f16 → f32 → f16', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16ToF32(h);
      if (Number.isNaN(v)) continue;
      expect(f32ToF16(v)).toBe(h);
    }
  });

  it('f32 → f16 rounds to the nearest f16', () => {
    fc.assert(
      fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (x) => {
        const h = f32ToF16(x);
        const y = f16ToF32(h);
        // neighbours of h are no closer
        for (const n of [h - 1, h + 1]) {
          if ((n & 0x7fff) > 0x7bff || n < 0) continue;
          expect(Math.abs(f16ToF32(n) - x)).toBeGreaterThanOrEqual(Math.abs(y - x));
        }
      }),
    );
  });
});

describe('tritwise weights files', () => {
  it('round-trip ternary (with and without group scales) and dense tensors bit-exactly', () => {
    const w = randomFloats(33 * 100, 1);
    const a = quantize(w, 33, 100, 'twn').tensor;
    const b = quantize(w, 33, 100, 'mse', { groupSize: 64 }).tensor;
    const dense = { shape: [3, 5], data: randomFloats(15, 2) };
    const p = join(dir, 'model.safetensors');
    saveWeights(p, { 'layers.0.wq': a, 'layers.0.wk': b, norm: dense }, { note: 'hello' });
    const back = loadWeights(p);
    expect(back.metadata).toEqual({ note: 'hello' });
    const a2 = back.tensors.get('layers.0.wq') as TernaryTensor;
    const b2 = back.tensors.get('layers.0.wk') as TernaryTensor;
    expect(a2.equals(a)).toBe(true);
    expect(b2.equals(b)).toBe(true);
    expect(a2.quantizer).toBe('twn');
    expect(b2.groupSize).toBe(64);
    expect(back.tensors.get('norm')).toEqual(dense);
    // planes are U32 tensors, scales F32
    const f = SafetensorsFile.open(p);
    expect(f.info('layers.0.wq.plus')).toMatchObject({ dtype: 'U32', shape: [33, 4] });
    expect(f.info('layers.0.wk.group_scales')).toMatchObject({ dtype: 'F32', shape: [33, 2] });
    expect(JSON.parse(f.metadata['tritwise.ternary']!)['layers.0.wq']).toEqual({ shape: [33, 100], group_size: 0, quantizer: 'twn', format: 'planes' });
    f.close();
  });

  it('round-trips random tensors (property)', () => {
    fc.assert(
      fc.property(fc.array(tensorArb, { minLength: 1, maxLength: 4 }), (ts) => {
        const enc = encodeWeights(ts.map((t, i) => [`t${i}`, t]));
        const back = readWeights(SafetensorsFile.fromBytes(encodeSafetensors(enc.entries, enc.metadata)));
        ts.forEach((t, i) => expect((back.tensors.get(`t${i}`) as TernaryTensor).equals(t)).toBe(true));
      }),
      { numRuns: 50 },
    );
  });

  it('reads ordinary F32, F16 and BF16 safetensors', () => {
    const vals = [1, -2, 0.5, 0, 3.25, -0.125];
    const f16 = Uint16Array.from(vals, f32ToF16);
    const bf16 = Uint16Array.from(vals, (v) => new Uint32Array(Float32Array.of(v).buffer)[0]! >>> 16);
    const p = join(dir, 'hf.safetensors');
    writeSafetensors(p, [
      { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [2, 3], data: Float32Array.from(vals) },
      { name: 'a.f16', dtype: 'F16', shape: [6], data: f16 },
      { name: 'a.bf16', dtype: 'BF16', shape: [3, 2], data: bf16 },
    ]);
    const f = SafetensorsFile.open(p);
    expect(Array.from(f.readF32('model.embed_tokens.weight').data)).toEqual(vals);
    expect(Array.from(f.readF32('a.f16').data)).toEqual(vals);
    expect(f.readF32('a.bf16')).toEqual({ shape: [3, 2], data: Float32Array.from(vals) });
    expect(() => f.readU32('a.f16')).toThrow(/expected U32/);
    f.close();
    // the header is padded to 8 bytes with spaces
    const bytes = readFileSync(p);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
  });

  it('reject corrupt files with typed errors naming file and tensor', () => {
    const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const data = new Uint8Array(8);
    const cases: [Uint8Array, string, RegExp][] = [
      [new Uint8Array(5), 'E_TRUNCATED', /too short.*bad\.safetensors/],
      [rawFile(ok, data, 1n << 40n), 'E_TRUNCATED', /header length larger than the file/],
      [rawFile('{"w": ', data), 'E_FORMAT', /not valid UTF-8 JSON/],
      [rawFile('[1,2,3]'), 'E_FORMAT', /not a JSON object/],
      [rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, data), 'E_DTYPE', /unknown dtype \(bad\.safetensors: w\).*got Q4/],
      [rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data), 'E_FORMAT', /invalid shape/],
      [rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 80] } }, data), 'E_TRUNCATED', /runs past the end/],
      [rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), 'E_FORMAT', /expected 12 bytes/],
      [rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, data), 'E_FORMAT', /data_offsets/],
      [rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data), 'E_FORMAT', /overlaps/],
      [rawFile({ ...ok, __metadata__: { x: 1 } }, data), 'E_FORMAT', /metadata values must be strings/],
      [rawFile({ ...ok, __metadata__: { 'tritwise.ternary': '{}', 'tritwise.format_version': '99' } }, data), 'E_FORMAT', /format version/],
    ];
    for (const [bytes, code, msg] of cases) {
      const e = parseErr(bytes);
      expect(e.code, e.message).toBe(code);
      expect(e.message).toMatch(msg);
    }
    // an absurd header length inside a big enough file
    const big = new Uint8Array(8 + 200 * 1024 * 1024 + 16);
    new DataView(big.buffer).setBigUint64(0, BigInt(200 * 1024 * 1024), true);
    expect(parseErr(big).message).toMatch(/absurd/);
  });

  it('rejects ternary tensors whose planes break the invariants or whose parts are missing', () => {
    const t = TernaryTensor.fromTrits([1, 0, -1, 1], 2, 2);
    const enc = encodeWeights([['w', t]]);
    const plus = enc.entries.find((e) => e.name === 'w.plus')!;
    (plus.data as Uint32Array)[1] = 0b11; // row 1 is [-1, 1]: minus bit 0 is set, so plus bit 0 overlaps
    expect(parseErr(encodeSafetensors(enc.entries, enc.metadata)).message).toMatch(/overlap.*w row 1/);
    (plus.data as Uint32Array)[1] = 0b10;
    (plus.data as Uint32Array)[0] = 1 << 7; // padding bit
    expect(parseErr(encodeSafetensors(enc.entries, enc.metadata)).message).toMatch(/padding.*w row 0/);
    const missing = encodeWeights([['w', TernaryTensor.zeros(2, 2)]]);
    expect(parseErr(encodeSafetensors(missing.entries.filter((e) => e.name !== 'w.minus'), missing.metadata)).message).toMatch(/tensor not found.*w\.minus/);
    const wrong = encodeWeights([['w', TernaryTensor.zeros(2, 2)]]);
    wrong.metadata['tritwise.ternary'] = JSON.stringify({ w: { shape: [2, 40], group_size: 0, format: 'planes' } });
    expect(parseErr(encodeSafetensors(wrong.entries, wrong.metadata))).toMatchObject({ code: 'E_SHAPE' });
  });

  it('survives fuzzing: corrupted or truncated files give TritwiseErrors or valid data, never anything else', () => {
    const enc = encodeWeights([
      ['a', quantize(randomFloats(5 * 70, 3), 5, 70, 'twn', { groupSize: 32 }).tensor],
      ['b', { shape: [4], data: randomFloats(4, 4) }],
    ]);
    const good = encodeSafetensors(enc.entries, enc.metadata);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((muts) => {
            const b = good.slice();
            for (const [i, v] of muts) b[i] = v;
            return b;
          }),
          fc.nat(good.length).map((n) => good.slice(0, n)),
        ),
        (bytes) => {
          try {
            const w = readWeights(SafetensorsFile.fromBytes(bytes));
            for (const t of w.tensors.values()) if (t instanceof TernaryTensor) t.validate();
          } catch (e) {
            if (!(e instanceof TritwiseError)) throw e;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('writes atomically: a failed write leaves the old file and no temp file', () => {
    const p = join(dir, 'keep.safetensors');
    writeFileSync(p, 'old contents');
    expect(() =>
      writeFileAtomic(p, (fd) => {
        writeAll(fd, new Uint8Array(100));
        throw new TritwiseError('E_IO', 'disk full (simulated)');
      }),
    ).toThrow(/simulated/);
    expect(readFileSync(p, 'utf8')).toBe('old contents');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    expect(() => saveWeights(join(dir, 'no', 'such', 'dir.safetensors'), { x: TernaryTensor.zeros(1, 1) })).toThrow(expect.objectContaining({ code: 'E_IO' }));
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('refuses to write inconsistent tensors', () => {
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }])).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'Q8' as 'F32', shape: [1], data: new Float32Array(1) }])).toThrow(expect.objectContaining({ code: 'E_DTYPE' }));
    expect(() => saveWeights(join(dir, 'x.safetensors'), { x: TernaryTensor.zeros(1, 1) }, { 'tritwise.ternary': 'x' })).toThrow(/reserved/);
  });
});
