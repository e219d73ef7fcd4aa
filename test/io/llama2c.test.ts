/**
 * llama2.c checkpoints and tokenizer.bin: round trips, and clear errors on truncated, oversized,
 * inconsistent or random input (fast-check); vocabulary and config mismatches.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { encodeLlama2c, llama2cFileSize, parseLlama2c } from '../../src/io/llama2c.js';
import { parseLlama2cTokenizer } from '../../src/io/tokenizers/llama2c-tokenizer.js';
import { checkWeights } from '../../src/nn/llama-config.js';
import { Model } from '../../src/nn/model.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { encodeTokenizerBin, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';
import { sharedFile } from '../helpers/shared-data.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-l2c-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof TritwiseError)) throw e;
  }
}

describe('llama2.c checkpoint', () => {
  const c = tinyConfig({ sharedClassifier: false });
  const w = tinyWeights(c) as Map<string, DenseTensor>;
  const bytes = encodeLlama2c(c, w);

  it('round-trips config and every tensor (shared and separate classifier)', () => {
    expect(bytes.length).toBe(llama2cFileSize(c));
    const back = parseLlama2c(bytes);
    expect(back.config).toEqual({ ...c, seqLen: c.seqLen });
    for (const [k, v] of w) expect((back.weights.get(k) as DenseTensor).data).toEqual(v.data);
    const cs = tinyConfig({ sharedClassifier: true });
    const ws = tinyWeights(cs) as Map<string, DenseTensor>;
    const back2 = parseLlama2c(encodeLlama2c(cs, ws));
    expect(back2.config.sharedClassifier).toBe(true);
    expect(back2.weights.has('output')).toBe(false);
  });

  it('truncated, oversized and nonsensical files are typed errors naming the file', () => {
    expect(() => parseLlama2c(bytes.subarray(0, bytes.length - 4), 'cut.bin')).toThrow(expect.objectContaining({ code: 'E_TRUNCATED', message: expect.stringMatching(/cut\.bin.*expected \d+ bytes, got \d+ bytes/) }));
    expect(() => parseLlama2c(bytes.subarray(0, 10), 'tiny.bin')).toThrow(expect.objectContaining({ code: 'E_TRUNCATED' }));
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    expect(() => parseLlama2c(longer)).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringMatching(/longer than its header/) }));
    const bad = bytes.slice();
    new DataView(bad.buffer).setInt32(12, 3, true); // n_heads 3 does not divide dim 64
    expect(() => parseLlama2c(bad)).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    const huge = bytes.slice();
    new DataView(huge.buffer).setInt32(0, 1 << 30, true);
    expect(() => parseLlama2c(huge)).toThrow(TritwiseError);
  });

  it('random corruption of the header and body never crashes (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.nat(63), v: fc.nat(255) }), { minLength: 1, maxLength: 6 }), fc.option(fc.nat(bytes.length)), (edits, cut) => {
        const b = bytes.slice(0, cut ?? bytes.length);
        for (const { at, v } of edits) if (at < b.length) b[at] = v;
        expectTyped(() => parseLlama2c(b));
      }),
      { numRuns: 300 },
    );
  });

  it('weights that do not fit the config are E_CONFIG naming the tensor', () => {
    const ws = new Map(w);
    ws.set('layers.1.feed_forward.w2', { shape: [64, 95], data: new Float32Array(64 * 95) });
    expect(() => checkWeights(c, ws, 'ckpt')).toThrow(expect.objectContaining({ code: 'E_CONFIG', message: expect.stringMatching(/layers\.1\.feed_forward\.w2.*expected \[64, 96\], got \[64, 95\]/) }));
    ws.delete('layers.1.feed_forward.w2');
    expect(() => checkWeights(c, ws, 'ckpt')).toThrow(expect.objectContaining({ code: 'E_CONFIG', message: expect.stringMatching(/tensor missing/) }));
  });
});

describe('tokenizer.bin', () => {
  const vocab = syntheticVocab(300);
  const bin = encodeTokenizerBin(vocab);

  it('round-trips and encodes with run.c\'s merge order (byte fallback for unknown characters)', () => {
    const t = parseLlama2cTokenizer(bin);
    expect(t.vocabSize).toBe(300);
    const ids = t.encode('the and then €');
    expect(ids[0]).toBe(1);
    expect(t.decode(ids)).toBe('the and then €');
    // " the" merges to one token; '€' (not in the vocabulary) becomes its three UTF-8 byte tokens
    expect(ids).toContain(t.lookup(' the'));
    expect(ids.slice(-3)).toEqual([0xe2 + 3, 0x82 + 3, 0xac + 3]);
  });

  it('truncated or corrupt files are typed errors (fast-check)', () => {
    expect(() => parseLlama2cTokenizer(bin.subarray(0, bin.length - 1), 'tok.bin')).toThrow(expect.objectContaining({ code: 'E_TRUNCATED', message: expect.stringMatching(/tok\.bin token 299/) }));
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.nat(bin.length - 1), v: fc.nat(255) }), { minLength: 1, maxLength: 6 }), fc.option(fc.nat(bin.length)), (edits, cut) => {
        const b = bin.slice(0, cut ?? bin.length);
        for (const { at, v } of edits) if (at < b.length) b[at] = v;
        expectTyped(() => parseLlama2cTokenizer(b).encode('the cat'));
      }),
      { numRuns: 300 },
    );
  });

  it('a tokenizer and a model with different vocabulary sizes: E_VOCAB', async (t) => {
    const ck = sharedFile('stories260K.bin');
    const big = sharedFile('llama2_tokenizer.bin');
    if (!ck || !big) return t.skip();
    await expect(Model.load(ck, { tokenizer: big })).rejects.toThrow(expect.objectContaining({ code: 'E_VOCAB', message: expect.stringMatching(/expected 512 tokens.*got 32000 tokens/) }));
    // the Llama 2 tokenizer itself loads and encodes
    const p = join(dir, 'copy.bin');
    writeFileSync(p, readFileSync(big));
    const { loadLlama2cTokenizer } = await import('../../src/io/tokenizers/llama2c-tokenizer.js');
    const l2 = loadLlama2cTokenizer(p);
    expect(l2.vocabSize).toBe(32000);
    expect(l2.decode(l2.encode('Hello world, ünïcode!'))).toBe('Hello world, ünïcode!');
  });
});
