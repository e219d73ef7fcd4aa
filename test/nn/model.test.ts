/**
 * Model API: quantization plans, the calibrated quantizer, saving/loading a quantized model with
 * its tokenizer, generation, the llama.cpp chunk protocol, and bad configs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluatePerplexity, splitDocuments } from '../../src/eval/perplexity.js';
import { Model } from '../../src/nn/model.js';
import { logSumExp } from '../../src/nn/ops.js';
import { quantizeCalibrated } from '../../src/quant/calibrated.js';
import { resolvePlan, validatePlan } from '../../src/quant/plan.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { greedyIds, promptLogits, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const vocab = syntheticVocab(300);
async function tiny(over = {}) {
  const c = tinyConfig(over);
  return Model.fromCheckpoint({ config: c, weights: tinyWeights(c), activations: new Map(), tokenizer: vocab });
}
const TEXT = 'the cat and the dog ran in the sun and then the cat sat on a mat. '.repeat(40);

describe('quantization plans', () => {
  it('resolve defaults, dense globs and later-rule-wins overrides', () => {
    const names = ['layers.0.attention.wq', 'layers.0.feed_forward.w2', 'layers.1.feed_forward.w2', 'output'];
    const r = resolvePlan({ quantizer: 'twn', groupSize: 64, layers: [{ match: 'layers.*.feed_forward.w2', groupSize: 128, activation: 'int8' }, { match: 'layers.1.*', dense: true }] }, names);
    expect(r.map((l) => [l.name, l.dense, l.quantizer, l.groupSize, l.activation])).toEqual([
      ['layers.0.attention.wq', false, 'twn', 64, 'f32'],
      ['layers.0.feed_forward.w2', false, 'twn', 128, 'int8'],
      ['layers.1.feed_forward.w2', true, 'twn', 128, 'int8'],
      ['output', true, 'twn', 64, 'f32'],
    ]);
    expect(() => validatePlan({ quantizer: 'fancy' })).toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringMatching(/plan\.quantizer/) }));
    expect(() => validatePlan({ groupSize: 48 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => validatePlan({ activation: 'int4' as never })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => validatePlan({ layers: [{ match: 'x', dense: 'yes' as never }] })).toThrow(expect.objectContaining({ message: expect.stringMatching(/layers\[0\]\.dense/) }));
    expect(() => validatePlan({ grupSize: 64 } as never)).toThrow(expect.objectContaining({ message: expect.stringMatching(/unknown plan field/) }));
  });

  it('model.quantize: ternary where the plan says, dense elsewhere; a shared classifier is split off when quantized', async () => {
    const m = await tiny({ sharedClassifier: true });
    const q = await m.quantize({ quantizer: 'twn', groupSize: 32, layers: [{ match: 'layers.1.feed_forward.*', dense: true }] });
    expect(q.weights.get('layers.0.attention.wq')).toBeInstanceOf(TernaryTensor);
    expect(q.weights.get('layers.1.feed_forward.w1')).not.toBeInstanceOf(TernaryTensor);
    expect(q.config.sharedClassifier).toBe(true);
    expect(q.bytes).toBeLessThan(m.bytes);
    expect(m.weights.get('layers.0.attention.wq')).not.toBeInstanceOf(TernaryTensor); // the original is untouched
    const h = await m.quantize({ dense: [] });
    expect(h.config.sharedClassifier).toBe(false);
    expect(h.weights.get('output')).toBeInstanceOf(TernaryTensor);
    expect(h.weights.get('tok_embeddings')).not.toBeInstanceOf(TernaryTensor);
    expect((await promptLogits(h, [1, 5, 9])).length).toBe(3);
    // quantizing again keeps existing trits and scales, and only sets activation modes
    const again = await q.quantize({ quantizer: 'absmean', activation: 'int8', layers: [{ match: 'layers.0.attention.wk', dense: true }] });
    expect((again.weights.get('layers.0.attention.wq') as TernaryTensor).equals(q.weights.get('layers.0.attention.wq') as TernaryTensor)).toBe(true);
    expect(again.activations.get('layers.0.attention.wq')).toBe('int8');
    expect(again.activations.get('layers.0.attention.wk')).toBe('f32');
    expect(again.weights.get('layers.1.feed_forward.w1')).toBeInstanceOf(TernaryTensor); // was dense, now quantized
  });

  it("the calibrated quantizer equals mse when all columns matter equally, and needs calibration text", async () => {
    const w = randomFloats(6 * 96, 3);
    for (const groupSize of [0, 32]) {
      const a = quantize(w, 6, 96, 'mse', { groupSize }).tensor;
      const b = quantizeCalibrated(w, 6, 96, new Float64Array(96).fill(1), { groupSize });
      expect(b.plus).toEqual(a.plus);
      expect(b.minus).toEqual(a.minus);
      for (let i = 0; i < a.scales.length; i++) expect(b.scales[i]).toBeCloseTo(a.scales[i]!, 5);
    }
    // weighting a column heavily keeps its weight
    const h = new Float64Array(96).fill(1e-6);
    h[5] = 1;
    const c = quantizeCalibrated(w, 6, 96, h);
    for (let r = 0; r < 6; r++) expect(c.get(r, 5)).toBe(Math.sign(w[r * 96 + 5]!));
    const m = await tiny();
    await expect(m.quantize({ quantizer: 'calibrated' })).rejects.toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringMatching(/calibration text/) }));
    const phases = new Set<string>();
    const q = await m.quantize({ quantizer: 'calibrated', calibration: { tokens: 200, ctx: 64 } }, { calibrationText: TEXT, onProgress: (p) => phases.add(p.phase) });
    expect(phases).toEqual(new Set(['calibrate', 'quantize']));
    expect((q.weights.get('layers.0.feed_forward.w2') as TernaryTensor).quantizer).toBe('calibrated');
  });
});

describe('saved models', () => {
  it('save → load: identical planes, activations, tokenizer and logits, with no extra options', async () => {
    const m = await tiny();
    const q = await m.quantize({ quantizer: 'absmean', groupSize: 32, activation: 'int8', layers: [{ match: '*.w2', activation: 'f32' }] });
    const p = join(dir, 'saved');
    q.save(p);
    const back = await Model.load(p);
    expect(back.info.format).toBe('tritwise');
    for (const [k, v] of q.weights) {
      const b = back.weights.get(k)!;
      if (v instanceof TernaryTensor) expect((b as TernaryTensor).equals(v)).toBe(true);
      else expect((b as { data: Float32Array }).data).toEqual((v as { data: Float32Array }).data);
    }
    expect(back.activations.get('layers.0.attention.wq')).toBe('int8');
    expect(back.activations.get('layers.0.feed_forward.w2')).toBe('f32');
    expect(back.tokenizer!.encode('the cat')).toEqual(vocab.encode('the cat'));
    expect(await greedyIds(back, 8)).toEqual(await greedyIds(q, 8));
    // a config that no longer matches the weights is refused
    const cfg = JSON.parse(readFileSync(join(p, 'config.json'), 'utf8'));
    cfg.config.hiddenDim = 100;
    writeFileSync(join(p, 'config.json'), JSON.stringify(cfg));
    await expect(Model.load(p)).rejects.toThrow(expect.objectContaining({ code: 'E_CONFIG', message: expect.stringMatching(/feed_forward\.w1.*expected \[100, 64\], got \[96, 64\]/) }));
  });

  it('an HF-convention model exported to GGUF gets its Q/K rows permuted back: same logits after reload', async () => {
    const m = await tiny();
    const hfDir = join(dir, 'hf-roundtrip');
    m.saveHf(hfDir);
    const hf = await Model.load(hfDir);
    expect(hf.config.ropeStyle).toBe('halves');
    const path = join(dir, 'from-hf.gguf');
    hf.exportGguf(path, 'f32');
    const g = await Model.load(path);
    expect(g.config.ropeStyle).toBe('adjacent');
    // the HF tokenizer.json came back as a SentencePiece vocabulary that encodes the same way
    expect(g.tokenizer!.encode(TEXT.slice(0, 200))).toEqual(vocab.encode(TEXT.slice(0, 200)));
    const [a, b, c] = await Promise.all([promptLogits(m, [1, 20, 30, 40]), promptLogits(hf, [1, 20, 30, 40]), promptLogits(g, [1, 20, 30, 40])]);
    for (let p = 0; p < 4; p++) for (let i = 0; i < a[p]!.length; i++) {
      expect(b[p]![i]).toBeCloseTo(a[p]![i]!, 4);
      expect(c[p]![i]).toBeCloseTo(a[p]![i]!, 4);
    }
  });

  it('an HF config.json that does not match its weights is E_CONFIG', async () => {
    const m = await tiny();
    const p = join(dir, 'hf');
    m.saveHf(p);
    const cfg = JSON.parse(readFileSync(join(p, 'config.json'), 'utf8'));
    cfg.num_hidden_layers = 3;
    writeFileSync(join(p, 'config.json'), JSON.stringify(cfg));
    await expect(Model.load(p)).rejects.toThrow(expect.objectContaining({ code: 'E_CONFIG', message: expect.stringMatching(/layers\.2\.attention_norm.*tensor missing|tensor missing.*layers\.2/) }));
    cfg.num_hidden_layers = 2;
    cfg.rope_scaling = { type: 'linear', factor: 2 };
    writeFileSync(join(p, 'config.json'), JSON.stringify(cfg));
    await expect(Model.load(p)).rejects.toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
  });
});

describe('generation and perplexity', () => {
  it('generate streams tokens; a seed reproduces a sampled continuation', async () => {
    const m = await tiny();
    const run = async (seed: number) => { const ids: number[] = []; for await (const t of m.generate('the cat', { maxTokens: 12, temperature: 1, seed, stopAtEos: false })) ids.push(t.id); return ids; };
    expect(await run(3)).toEqual(await run(3));
    expect(await run(3)).not.toEqual(await run(4));
    expect((await run(3)).length).toBe(12);
  });

  it('chunks protocol: ⌊n/ctx⌋ chunks, BOS first, the second half scored (checked by hand)', async () => {
    const m = await tiny();
    const ctx = 16;
    const r = await evaluatePerplexity(m, TEXT, { ctx, limit: 3 });
    expect(r.sequences).toBe(3);
    expect(r.tokens_scored).toBe(3 * (ctx / 2 - 1));
    const all = vocab.encode(TEXT);
    let nll = 0;
    for (let c = 0; c < 3; c++) {
      const chunk = all.slice(c * ctx, (c + 1) * ctx);
      chunk[0] = vocab.bos;
      const lg = await promptLogits(m, chunk);
      for (let p = ctx / 2; p <= ctx - 2; p++) nll += logSumExp(lg[p]!, 0, lg[p]!.length) - lg[p]![chunk[p + 1]!]!;
    }
    expect(r.mean_nll).toBeCloseTo(nll / r.tokens_scored, 6);
    expect(r.perplexity).toBeCloseTo(Math.exp(nll / r.tokens_scored), 4);
    await expect(evaluatePerplexity(m, 'the', { ctx })).rejects.toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringMatching(/too short/) }));
  });

  it('documents: paragraphs grouped at each start line, text before the first start is its own document', () => {
    expect(splitDocuments('tail of one\n\nOnce upon a time a\n\nb\n\nOne day c', /^(Once upon a time|One day)/)).toEqual(['tail of one', 'Once upon a time a\nb', 'One day c']);
    expect(splitDocuments('a\n\n\n b \n\nc')).toEqual(['a', 'b', 'c']);
  });
});
