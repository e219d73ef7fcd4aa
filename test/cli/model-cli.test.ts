/**
 * The model commands end to end through the built bin: quantize → run → eval → export-gguf →
 * inspect, demo, and typed errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLlama2c } from '../../src/io/llama2c.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { encodeTokenizerBin, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-mcli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);

beforeAll(() => {
  const c = tinyConfig({ sharedClassifier: true });
  writeFileSync(f('tiny.bin'), encodeLlama2c(c, tinyWeights(c) as Map<string, DenseTensor>));
  writeFileSync(f('tok.bin'), encodeTokenizerBin(syntheticVocab(300)));
  writeFileSync(f('big.bin'), encodeTokenizerBin(syntheticVocab(400)));
  writeFileSync(f('text.txt'), 'the cat and the dog ran in the sun and then the cat sat on a mat.\n\n'.repeat(20));
  writeFileSync(f('plan.json'), JSON.stringify({ quantizer: 'twn', groupSize: 32, layers: [{ match: 'layers.1.*', activation: 'int8' }] }));
});

describe('model commands', () => {
  it('quantize --plan saves a folder that run and eval use with no extra flags', () => {
    const q = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('plan.json'), '-o', f('q'), '--json');
    expect(q.code, q.err).toBe(0);
    const rep = JSON.parse(q.out);
    expect(rep.bytes_after).toBeLessThan(rep.bytes_before);
    expect(rep.layers.find((l: { name: string }) => l.name === 'layers.1.attention.wq')).toMatchObject({ dense: false, quantizer: 'twn', groupSize: 32, activation: 'int8' });
    const r = cli('run', f('q'), '--prompt', 'the cat', '-n', '6', '--temperature', '0.8', '--seed', '3');
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('the cat')).toBe(true);
    expect(r.err).toMatch(/6 tokens in [\d.]+ s: [\d.]+ tokens\/s \(backend wasm\)/);
    expect(cli('run', f('q'), '--prompt', 'the cat', '-n', '6', '--temperature', '0.8', '--seed', '3').out).toBe(r.out);
    const e = cli('eval', f('q'), '--text', f('text.txt'), '--ctx', '32', '--limit', '2', '--json');
    expect(e.code, e.err).toBe(0);
    const ev = JSON.parse(e.out);
    expect(ev).toMatchObject({ protocol: 'chunks', ctx: 32, sequences: 2, tokens_scored: 30 });
    expect(ev.perplexity).toBeGreaterThan(1);
    const d = cli('eval', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--text', f('text.txt'), '--protocol', 'documents', '--limit', '3', '--quantizer', 'mse', '--json');
    expect(d.code, d.err).toBe(0);
    expect(JSON.parse(d.out)).toMatchObject({ protocol: 'documents', sequences: 3, plan: { quantizer: 'mse' } });
  });

  it('export-gguf and inspect on GGUF, llama2.c and folders', () => {
    const x = cli('export-gguf', f('tiny.bin'), '--tokenizer', f('tok.bin'), '-o', f('tiny.gguf'), '--type', 'tq2_0', '--json');
    expect(x.code, x.err).toBe(0);
    const rep = JSON.parse(x.out);
    expect(rep.fallbacks.length).toBe(14); // 64-column rows cannot use 256-weight blocks: exact f32 instead
    const g = JSON.parse(cli('inspect', f('tiny.gguf'), '--json').out);
    expect(g.container).toBe('gguf');
    expect(g.metadata['general.architecture']).toBe('llama');
    expect(g.tensors.find((t: { name: string }) => t.name === 'blk.0.attn_q.weight')).toMatchObject({ shape: [64, 64], format: 'f32' });
    const l = JSON.parse(cli('inspect', f('tiny.bin'), '--json').out);
    expect(l.container).toBe('llama2c');
    expect(l.tensors.find((t: { name: string }) => t.name === 'layers.0.feed_forward.w1')).toMatchObject({ shape: [96, 64], format: 'f32' });
    const q = JSON.parse(cli('inspect', f('q'), '--json').out);
    expect(q.container).toBe('folder');
    expect(q.tensors.find((t: { name: string }) => t.name === 'layers.0.feed_forward.w1')).toMatchObject({ format: 'planes', quantizer: 'twn', group_size: 32 });
    const table = cli('inspect', f('tiny.gguf'));
    expect(table.out).toMatch(/blk\.0\.attn_q\.weight.*64×64.*f32/);
  });

  it('demo prints f32 vs ternary side by side', () => {
    const r = cli('demo', '--layers', '1', '--dim', '64', '--ffn', '96', '--heads', '4', '--vocab', '300', '--tokens', '4', '--json');
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(r.out);
    expect(d.sides.map((s: { variant: string }) => s.variant)).toEqual(['f32', 'ternary']);
    expect(d.sides[0].bytes).toBeGreaterThan(d.sides[1].bytes);
    expect(d.sides[1].tokens_per_second).toBeGreaterThan(0);
    // with no checkpoint, the bundled ternary model trained on Brown follows: real perplexity, a sample
    expect(d.trained).toMatchObject({ layers: 4, dim: 128, vocab: 512, uniform_perplexity: 512 });
    expect(d.trained.perplexity.perplexity).toBeLessThan(d.trained.unigram_perplexity);
    expect(d.trained.sample.length).toBeGreaterThan(d.trained.prompt.length);
    const nt = cli('demo', '--layers', '1', '--dim', '64', '--ffn', '96', '--heads', '4', '--vocab', '300', '--tokens', '4', '--no-trained', '--json');
    expect(JSON.parse(nt.out).trained).toBeUndefined();
    const t = cli('demo', '--layers', '1', '--dim', '64', '--ffn', '96', '--heads', '4', '--vocab', '300', '--tokens', '4', '--model', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--text', f('text.txt'), '--ctx', '32', '--chunks', '2');
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/weights .*× smaller/);
    expect(t.out).toMatch(/perplexity/);
    expect(t.out).toMatch(/^ternary: "the cat|^ternary: "Once upon a time/m);
  });

  it('bad input: vocabulary mismatch, unknown export type, missing model', () => {
    const v = cli('run', f('tiny.bin'), '--tokenizer', f('big.bin'), '-p', 'x');
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/tritwise: E_VOCAB: tokenizer and model have different vocabulary sizes .*expected 300 tokens.*got 400 tokens/);
    expect(cli('export-gguf', f('tiny.bin'), '-o', f('x.gguf'), '--type', 'q4_0').code).toBe(1);
    const m = cli('eval', f('nope.bin'), '--text', f('text.txt'));
    expect(m.code).toBe(2);
    expect(m.err).toMatch(/E_IO/);
  });
});
