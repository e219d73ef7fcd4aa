/**
 * The Llama model on the wasm backend: the reference checks of ../shared/data/README.md
 * (stories260K greedy ids and 6-story perplexity, tiny-tq2_0's llama.cpp greedy ids with Q8_K
 * activations), the fused linear against the reference composition bit for bit, the native
 * attention against the JavaScript one, stacked Q/K/V and gate/up, and KV caches in WASM memory.
 * `npm test` runs this file under Node 20 (SIMD128) and Node 22 (relaxed SIMD).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActivationMode, Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/registry.js';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { evaluatePerplexity } from '../../src/eval/perplexity.js';
import { exactAttention } from '../../src/nn/attention.js';
import { linearNames } from '../../src/nn/llama-config.js';
import { TernaryLinear } from '../../src/nn/linear.js';
import { LinearStack } from '../../src/nn/linear-stack.js';
import { Model } from '../../src/nn/model.js';
import { randomTernaryTensor, randomTernaryWeights } from '../../src/nn/random-model.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { greedyIds, promptLogits, syntheticVocab, tinyConfig } from '../helpers/models.js';
import { sharedFile } from '../helpers/shared-data.js';

const STORIES_IDS = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337];
const TINY_TQ_IDS = [304, 304, 29, 304, 447, 29, 384, 147, 343, 384, 426, 426, 426, 426, 426, 19, 447, 420, 79, 106, 79, 498, 498, 498];

let wasm: WasmBackend;
let ref: Backend;
beforeAll(async () => {
  wasm = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
  ref = await createBackend('ref');
});
afterAll(async () => {
  await wasm?.dispose();
});

describe('reference checks on the wasm backend', () => {
  it('stories260K: greedy ids from BOS and the 6-story perplexity 3.3372 ± 0.0005', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    const text = sharedFile('tinystories_val_subset.txt');
    if (!ckpt || !tok || !text) return t.skip();
    const m = await Model.load(ckpt, { tokenizer: tok, backend: wasm });
    expect(await greedyIds(m, 20)).toEqual(STORIES_IDS);
    const r = await evaluatePerplexity(m, readFileSync(text, 'utf8'), { protocol: 'documents', limit: 6, ctx: 512, docStart: /^(Once upon a time|One day)/ });
    expect(r.tokens_scored).toBe(1343);
    expect(Math.abs(r.perplexity - 3.3372)).toBeLessThanOrEqual(0.0005);
  });

  it("tiny-tq2_0.gguf with Q8_K activations: llama.cpp's 24 greedy ids", async (t) => {
    const p = sharedFile('tiny-tq2_0.gguf');
    if (!p) return t.skip();
    const m = await Model.load(p, { backend: wasm });
    expect(m.activations.get('layers.0.feed_forward.w2')).toBe('q8k');
    expect(await greedyIds(m, 24)).toEqual(TINY_TQ_IDS);
  });
});

describe('wasm model paths', () => {
  it('linear (int8 per token, Q8_K, f32) equals the reference composition bit for bit, GEMV and GEMM, with and without groups', async () => {
    const cases: [number, number, number, ActivationMode][] = [
      [37, 512, 256, 'q8k'],
      [64, 768, 256, 'q8k'],
      [33, 300, 0, 'int8'],
      [40, 1000, 128, 'int8'],
      [21, 256, 64, 'f32'],
    ];
    let k = 0;
    for (const [rows, cols, gs, mode] of cases) {
      const t = quantize(randomFloats(rows * cols, 11 + k), rows, cols, 'twn', { groupSize: gs }).tensor;
      const a = await TernaryLinear.fromTensor(wasm, t, { activation: mode });
      const b = await TernaryLinear.fromTensor(ref, t, { activation: mode });
      for (const batch of [1, 2, 5]) {
        const x = randomFloats(batch * cols, 100 + k++);
        x[3] = 0; // an all-zero Q8_K block needs d = 0
        const want = await b.forward(x, batch);
        const heapOut = wasm.allocF32(batch * rows);
        const heapX = wasm.allocF32(batch * cols);
        heapX.set(x);
        const got = await a.forward(heapX, batch, heapOut);
        expect(got).toBe(heapOut);
        if (mode === 'f32') for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
        else expect(Array.from(got), `${mode} ${rows}×${cols} g${gs} b${batch}`).toEqual(Array.from(want));
        expect(Array.from(await a.forward(x, batch))).toEqual(Array.from(got)); // plain JS arrays: staged copies, same numbers
        wasm.freeF32(heapOut);
        wasm.freeF32(heapX);
      }
    }
    const t = quantize(randomFloats(8 * 512, 5), 8, 512, 'absmean', { groupSize: 256 }).tensor;
    const l = await TernaryLinear.fromTensor(wasm, t, { activation: 'q8k' });
    const bad = randomFloats(2 * 512, 6);
    bad[700] = NaN;
    await expect(l.forward(bad, 2)).rejects.toMatchObject({ code: 'E_NONFINITE', message: expect.stringContaining('token 1') });
    const h = await wasm.uploadTernary(quantize(randomFloats(8 * 512, 7), 8, 512, 'absmean', { groupSize: 128 }).tensor);
    await expect(wasm.linear(h, randomFloats(512, 8), 1, 'q8k')).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
    await expect(wasm.linear(h, randomFloats(512, 8), 1, 'ternary')).rejects.toMatchObject({ code: 'E_ARG' });
  });

  it('the native attention matches exactAttention (GQA, sliding window, staged and in-place buffers)', () => {
    for (const [nHeads, nKvHeads, headDim, window, pos] of [
      [4, 2, 16, 0, 0],
      [8, 4, 8, 0, 37],
      [6, 6, 12, 5, 20],
      [16, 16, 96, 0, 130],
    ] as const) {
      const shape = { nHeads, nKvHeads, headDim, window };
      const kv = nKvHeads * headDim;
      const q = randomFloats(nHeads * headDim + 3, pos + 1);
      const keys = randomFloats((pos + 1) * kv, pos + 2);
      const values = randomFloats((pos + 1) * kv, pos + 3);
      const want = new Float32Array(nHeads * headDim + 2);
      exactAttention(q, 3, keys, values, pos, shape, want, 2);
      const got = new Float32Array(want.length);
      wasm.attention(q, 3, keys, values, pos, shape, got, 2);
      const hk = wasm.allocF32(keys.length);
      const hv = wasm.allocF32(values.length);
      const hq = wasm.allocF32(q.length);
      const ho = wasm.allocF32(want.length);
      hk.set(keys);
      hv.set(values);
      hq.set(q);
      wasm.attention(hq, 3, hk, hv, pos, shape, ho, 2);
      for (const g of [got, ho]) {
        expect(g[0]).toBe(0);
        for (let i = 2; i < want.length; i++) expect(Math.abs(g[i]! - want[i]!), `${nHeads}/${nKvHeads}×${headDim} w${window} p${pos} [${i}]`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want[i]!)));
      }
      for (const a of [hk, hv, hq, ho]) wasm.freeF32(a);
    }
    expect(() => wasm.attention(new Float32Array(4), 0, new Float32Array(64), new Float32Array(64), 0, { nHeads: 4, nKvHeads: 4, headDim: 16, window: 0 }, new Float32Array(64), 0)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });

  it('stacked Q/K/V and gate/up give the separate layers’ outputs exactly; unstackable parts run one by one', async () => {
    const parts = ['wq', 'wk', 'wv'].map((n, i) => ({ name: n, tensor: randomTernaryTensor(i === 0 ? 64 : 32, 256, 40 + i), activation: 'q8k' as const }));
    for (const be of [ref, wasm]) {
      const stacked = await LinearStack.build(be, parts);
      expect(stacked.stacked).not.toBeNull();
      const mixed = await LinearStack.build(be, [parts[0]!, { ...parts[1]!, activation: 'int8' }, parts[2]!]);
      expect(mixed.stacked).toBeNull();
      const x = randomFloats(3 * 256, 9);
      const out = new Float32Array(3 * 128);
      await stacked.forward(x, 3, out);
      const mo = new Float32Array(3 * 128);
      await mixed.forward(x, 3, mo);
      for (const [i, p] of parts.entries()) {
        const sep = await (await TernaryLinear.fromTensor(be, p.tensor, { activation: 'q8k' })).forward(x, 3);
        for (let t = 0; t < 3; t++) {
          const row = Array.from(out.subarray(t * 128 + stacked.offsets[i]!, t * 128 + stacked.offsets[i]! + stacked.widths[i]!));
          expect(row).toEqual(Array.from(sep.subarray(t * stacked.widths[i]!, (t + 1) * stacked.widths[i]!)));
          if (i !== 1) expect(Array.from(mo.subarray(t * 128 + stacked.offsets[i]!, t * 128 + stacked.offsets[i]! + stacked.widths[i]!))).toEqual(row);
        }
      }
    }
  });

  it('a random ternary model gives the same logits on wasm as on ref (q8k), and its KV caches live in WASM memory until disposed', async () => {
    const config = tinyConfig({ dim: 256, hiddenDim: 512, nHeads: 4, nKvHeads: 2, vocabSize: 300 });
    const weights = randomTernaryWeights(config, 3, { std: 0.05 });
    const activations = new Map(linearNames(config).filter((n) => n !== 'output').map((n) => [n, 'q8k' as const]));
    const ck = { config, weights, activations, tokenizer: syntheticVocab(300) };
    const a = await Model.fromCheckpoint(ck, { backend: wasm });
    const b = await Model.fromCheckpoint(ck, { backend: ref });
    const prompt = [1, 50, 60, 70, 80, 90, 100, 110];
    const la = await promptLogits(a, prompt);
    const lb = await promptLogits(b, prompt);
    for (let p = 0; p < prompt.length; p++) for (let i = 0; i < config.vocabSize; i++) expect(Math.abs(la[p]![i]! - lb[p]![i]!)).toBeLessThanOrEqual(1e-3);
    expect(await greedyIds(a, 12)).toEqual(await greedyIds(b, 12));
    const before = wasm.describe().memory_used as number;
    const cache = a.newCache();
    await a.forward([{ tokens: prompt, cache }]);
    expect(cache.keys[0]!.buffer).toBeInstanceOf(SharedArrayBuffer); // the backend's shared memory
    expect(wasm.describe().memory_used).toBeGreaterThanOrEqual(before + 2 * config.nLayers * 16 * 128 * 4);
    cache.dispose();
    expect(cache.keys[0]!.length).toBe(0);
    expect(wasm.describe().memory_used).toBe(before);
  });
});
