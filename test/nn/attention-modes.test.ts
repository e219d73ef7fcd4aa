/**
 * Attention modes in the model: mode names, plan rules (per layer), Model.load / Model.quantize
 * hooks on the ref and wasm backends, and `--attention` on the CLI (typed errors included).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeLlama2c } from '../../src/io/llama2c.js';
import { attentionFactory, formatAttentionMode, parseAttentionMode } from '../../src/nn/attention-modes.js';
import { Model } from '../../src/nn/model.js';
import { resolveAttention, validatePlan } from '../../src/quant/plan.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { encodeTokenizerBin, promptLogits, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

describe('mode names and plans', () => {
  it('parses exact | flash | ternary | topk:K | topk:t=τ and rejects anything else with E_ARG', () => {
    for (const s of ['exact', 'flash', 'ternary', 'ternary/t2', 'topk:32', 'topk:1', 'topk:t=2.5', 'topk:t=0', 'topk:32/t2/r8', 'topk:16/r4', 'topk:t=1/t2']) expect(formatAttentionMode(parseAttentionMode(s))).toBe(s);
    expect(parseAttentionMode('topk:32/r8/t2')).toEqual({ kind: 'topk', k: 32, depth: 2, recent: 8 });
    expect(parseAttentionMode('topk:t=.5')).toEqual({ kind: 'topk', threshold: 0.5 });
    for (const s of ['', 'topk', 'topk:0', 'topk:-3', 'topk:t=', 'topk:t=-1', 'Flash', 42, null, 'ternary/r8', 'topk:8/t3', 'topk:8/t2/t2', 'flash/t2']) expect(() => parseAttentionMode(s, 'here')).toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringMatching(/here/) }));
  });

  it('plan: a default plus per-layer rules on layers.N.attention; null when the plan sets none; bad modes rejected', () => {
    const plan = { attention: 'flash', layers: [{ match: 'layers.1.attention', attention: 'topk:16' }, { match: 'layers.2.*', attention: 'ternary' }, { match: 'layers.*.feed_forward.w1', groupSize: 64 }] };
    expect(resolveAttention(plan, 4)).toEqual(['flash', 'topk:16', 'ternary', 'flash']);
    expect(resolveAttention({ layers: [{ match: 'layers.3.attention', attention: 'topk:t=1' }] }, 4)).toEqual(['exact', 'exact', 'exact', 'topk:t=1']);
    expect(resolveAttention({ quantizer: 'twn' }, 4)).toBeNull();
    expect(() => validatePlan({ attention: 'fast' })).toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringMatching(/plan\.attention/) }));
    expect(() => validatePlan({ layers: [{ match: 'x', attention: 'topk:0' }] })).toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringMatching(/layers\[0\]\.attention/) }));
    expect(() => attentionFactory(['flash', 'exact'])(2)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});

describe('modes inside the model', () => {
  const c = tinyConfig({ seqLen: 96 });
  const weights = tinyWeights(c, 3, 0.3);
  const ids = Array.from({ length: 70 }, (_, i) => (i * 37 + 11) % c.vocabSize);

  async function logits(backend: string, attention?: string | string[]) {
    const m = await Model.fromCheckpoint({ config: c, weights, activations: new Map() }, { backend, attention: attention ? attentionFactory(attention) : undefined });
    try {
      return (await promptLogits(m, ids)).map((r) => Array.from(r)).flat();
    } finally {
      await m.dispose();
    }
  }
  const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));

  it('flash and top-k with k ≥ context match exact; small k and ternary scores do not (ref and wasm backends)', async () => {
    for (const be of ['ref', 'wasm']) {
      const exact = await logits(be);
      expect(maxDiff(await logits(be, 'flash'), exact), `${be} flash`).toBeLessThan(1e-3);
      expect(maxDiff(await logits(be, 'topk:96'), exact), `${be} topk:96`).toBeLessThan(1e-3);
      expect(maxDiff(await logits(be, 'topk:t=1000'), exact), `${be} topk:t=1000`).toBeLessThan(1e-3);
      expect(maxDiff(await logits(be, 'topk:2'), exact), `${be} topk:2`).toBeGreaterThan(1e-2);
      expect(maxDiff(await logits(be, 'ternary'), exact), `${be} ternary`).toBeGreaterThan(1e-2);
      expect(maxDiff(await logits(be, ['exact', 'topk:2']), exact), `${be} per layer`).toBeGreaterThan(1e-2);
    }
    // the wasm kernels and the reference agree inside the model too
    expect(maxDiff(await logits('wasm', 'topk:4'), await logits('ref', 'topk:4'))).toBeLessThan(1e-3);
    expect(maxDiff(await logits('wasm', 'ternary'), await logits('ref', 'ternary'))).toBeLessThan(1e-3);
  });

  it('Model.quantize takes the plan’s attention modes (dense weights: only attention changes)', async () => {
    const m = await Model.fromCheckpoint({ config: c, weights, activations: new Map() }, { backend: 'ref' });
    try {
      const q = await m.quantize({ dense: ['*'], layers: [{ match: 'layers.1.attention', attention: 'topk:2' }] });
      const want = await logits('ref', ['exact', 'topk:2']);
      expect(maxDiff((await promptLogits(q, ids)).map((r) => Array.from(r)).flat(), want)).toBe(0);
    } finally {
      await m.dispose();
    }
  });
});

describe('--attention on the CLI', () => {
  const bin = resolve(import.meta.dirname, '../../bin/tritwise.js');
  const dir = mkdtempSync(join(tmpdir(), 'tritwise-attn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const f = (n: string) => join(dir, n);
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('eval and run accept a mode; eval reports it; a bad mode is a flag error', () => {
    const c = tinyConfig({ sharedClassifier: true });
    writeFileSync(f('tiny.bin'), encodeLlama2c(c, tinyWeights(c) as Map<string, DenseTensor>));
    writeFileSync(f('tok.bin'), encodeTokenizerBin(syntheticVocab(300)));
    writeFileSync(f('text.txt'), 'the cat and the dog ran in the sun and then the cat sat on a mat.\n\n'.repeat(20));
    const ppl: Record<string, number> = {};
    for (const mode of ['exact', 'flash', 'topk:4']) {
      const e = cli('eval', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--text', f('text.txt'), '--ctx', '64', '--limit', '2', '--attention', mode, '--json');
      expect(e.code, e.err).toBe(0);
      const r = JSON.parse(e.out);
      expect(r.attention).toBe(mode);
      ppl[mode] = r.perplexity;
    }
    expect(Math.abs(ppl.flash! - ppl.exact!)).toBeLessThan(1e-3 * ppl.exact!);
    expect(ppl['topk:4']).not.toBe(ppl.exact);
    const r = cli('run', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--prompt', 'the cat', '-n', '5', '--attention', 'ternary');
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('the cat')).toBe(true);
    const bad = cli('run', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--attention', 'topk:x');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--attention.*unknown attention mode/s);
  });

  it('bench attention --json prints {results: [{name, seq, heads, head_dim, batch, mode, median_ms}]} with ratios', () => {
    const r = cli('bench', 'attention', '--seq', '128,256', '--head-dim', '64', '--batch', '1', '--heads', '2', '--phase', 'decode,prefill', '--json');
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.results).toHaveLength(2 * 2 * 6);
    for (const x of rep.results) {
      expect(x).toMatchObject({ seq: expect.any(Number), heads: 2, head_dim: 64, batch: 1, mode: expect.stringMatching(/^(decode|prefill)$/), median_ms: expect.any(Number) });
      expect(x.median_ms).toBeGreaterThan(0);
    }
    expect(new Set(rep.results.map((x: { name: string }) => x.name))).toEqual(new Set(['f32-scores', 'popcount-scores', 'flash-f32', 'ternary', 'topk:32', 'topk:32/t2/r8']));
    expect(rep.results.find((x: { name: string }) => x.name === 'popcount-scores').speedup_vs_f32_scores).toBeGreaterThan(0);
    expect(rep.k_cache_bytes[0]).toMatchObject({ head_dim: 64, ternary_bytes_per_vector: 20, f32_bytes_per_vector: 256 });
  });

  it('bench attention-accuracy: cosine and recall inside a forward pass of the 0.7B-shaped model (1 layer)', () => {
    const r = cli('bench', 'attention-accuracy', '--random-07b', '--random-tokens', '40', '--random-layers', '1', '--modes', 'flash,topk:64,topk:4', '--recall', '8', '--json');
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out).reports[0];
    const cos = Object.fromEntries(rep.modes.map((m: { name: string; cosine_mean: number }) => [m.name, m.cosine_mean]));
    expect(cos.flash).toBeGreaterThan(0.99999);
    expect(cos['topk:64']).toBeGreaterThan(0.99999); // 40 tokens: k ≥ n, exact
    expect(cos['topk:4']).toBeLessThan(cos['topk:64']);
    expect(rep.recall.map((x: { depth: number }) => x.depth)).toEqual([1, 2]);
    for (const x of rep.recall) expect(x.recall_mean).toBeGreaterThan(0);
    expect(cli('bench', 'attention-accuracy').code).toBe(2);
  });
});
