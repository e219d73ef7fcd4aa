/**
 * The forward pass: batches equal single sequences, prefill equals token-by-token, both RoPE
 * conventions agree after the Q/K permutation, GQA equals its expanded MHA, sliding windows
 * restrict attention exactly; sampling; Q8_K activations.
 */
import { describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/registry.js';
import type { StoredTensor } from '../../src/io/weights-file.js';
import { exactAttention } from '../../src/nn/attention.js';
import { TernaryLinear } from '../../src/nn/linear.js';
import { LlamaModel } from '../../src/nn/llama.js';
import type { LlamaConfig } from '../../src/nn/llama-config.js';
import { ropeRowPermutation } from '../../src/nn/rope.js';
import { Sampler } from '../../src/nn/sampling.js';
import { quantizeQ8K } from '../../src/quant/q8k.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { permuteRows } from '../../src/tensor/permute-rows.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { tinyConfig, tinyWeights } from '../helpers/models.js';

const backend = await createBackend('ref');
const build = (c: LlamaConfig, w: Map<string, StoredTensor>) => LlamaModel.build(c, w, backend);

function expectClose(a: Float32Array, b: Float32Array, tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  expect(m).toBeLessThan(tol);
}

const seqA = [1, 17, 200, 33, 5, 99, 250, 7];
const seqB = [1, 42, 43, 44];

describe('Llama forward', () => {
  it('a batch of two sequences equals each alone; prefill equals token by token', async () => {
    const c = tinyConfig();
    const m = await build(c, tinyWeights(c));
    const [a, b] = await m.forward([{ tokens: seqA, cache: m.newCache() }, { tokens: seqB, cache: m.newCache() }], { logits: 'all' });
    const [a1] = await m.forward([{ tokens: seqA, cache: m.newCache() }], { logits: 'all' });
    const [b1] = await m.forward([{ tokens: seqB, cache: m.newCache() }], { logits: 'all' });
    expectClose(a!, a1!, 1e-5);
    expectClose(b!, b1!, 1e-5);
    const cache = m.newCache();
    const V = c.vocabSize;
    for (let i = 0; i < seqA.length; i++) {
      const [step] = await m.forward([{ tokens: [seqA[i]!], cache }]);
      expectClose(step!, a1!.subarray(i * V, (i + 1) * V), 1e-5);
    }
    expect(cache.length).toBe(seqA.length);
  });

  it('RoPE: a model converted to rotate-half (Q/K rows permuted) gives the same logits', async () => {
    const c = tinyConfig();
    const w = tinyWeights(c);
    const h = new Map(w);
    for (let l = 0; l < c.nLayers; l++) {
      h.set(`layers.${l}.attention.wq`, permuteRows(w.get(`layers.${l}.attention.wq`) as DenseTensor, ropeRowPermutation(c.nHeads, c.headDim, 'adjacent', 'halves')));
      h.set(`layers.${l}.attention.wk`, permuteRows(w.get(`layers.${l}.attention.wk`) as DenseTensor, ropeRowPermutation(c.nKvHeads, c.headDim, 'adjacent', 'halves')));
    }
    const [x] = await (await build(c, w)).forward([{ tokens: seqA, cache: (await build(c, w)).newCache() }], { logits: 'all' });
    const mh = await build({ ...c, ropeStyle: 'halves' }, h);
    const [y] = await mh.forward([{ tokens: seqA, cache: mh.newCache() }], { logits: 'all' });
    expectClose(x!, y!, 1e-4);
    // and without the permutation the conventions really differ
    const [z] = await (await build({ ...c, ropeStyle: 'halves' }, w)).forward([{ tokens: seqA, cache: mh.newCache() }], { logits: 'all' });
    let diff = 0;
    for (let i = c.vocabSize; i < x!.length; i++) diff = Math.max(diff, Math.abs(x![i]! - z![i]!));
    expect(diff).toBeGreaterThan(1e-3);
    // the permutations are inverses
    const p = ropeRowPermutation(2, 8, 'adjacent', 'halves');
    const q = ropeRowPermutation(2, 8, 'halves', 'adjacent');
    expect(Array.from(p, (_, i) => p[q[i]!])).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('GQA equals multi-head attention with each kv head repeated for its query group', async () => {
    const c = tinyConfig({ nHeads: 4, nKvHeads: 2 });
    const w = tinyWeights(c);
    const mha = { ...c, nKvHeads: 4 };
    const e = new Map(w);
    for (let l = 0; l < c.nLayers; l++) {
      for (const k of ['wk', 'wv']) {
        const t = w.get(`layers.${l}.attention.${k}`) as DenseTensor;
        const rows = c.headDim;
        const data = new Float32Array(4 * rows * c.dim);
        for (let h = 0; h < 4; h++) data.set(t.data.subarray(Math.floor(h / 2) * rows * c.dim, (Math.floor(h / 2) + 1) * rows * c.dim), h * rows * c.dim);
        e.set(`layers.${l}.attention.${k}`, { shape: [4 * rows, c.dim], data });
      }
    }
    const g = await build(c, w);
    const m = await build(mha, e);
    const [x] = await g.forward([{ tokens: seqA, cache: g.newCache() }], { logits: 'all' });
    const [y] = await m.forward([{ tokens: seqA, cache: m.newCache() }], { logits: 'all' });
    expectClose(x!, y!, 1e-5);
  });

  it('sliding window: a window as long as the text changes nothing; exact attention sees only the window', async () => {
    const c = tinyConfig();
    const w = tinyWeights(c);
    const full = await build(c, w);
    const win = await build({ ...c, slidingWindow: seqA.length }, w);
    const short = await build({ ...c, slidingWindow: 3 }, w);
    const [x] = await full.forward([{ tokens: seqA, cache: full.newCache() }], { logits: 'all' });
    const [y] = await win.forward([{ tokens: seqA, cache: win.newCache() }], { logits: 'all' });
    const [z] = await short.forward([{ tokens: seqA, cache: short.newCache() }], { logits: 'all' });
    expectClose(x!, y!, 1e-6);
    const V = c.vocabSize;
    expectClose(x!.subarray(0, 3 * V), z!.subarray(0, 3 * V), 1e-6); // the first 3 positions see everything
    expect(Math.abs(x![4 * V]! - z![4 * V]!)).toBeGreaterThan(1e-6);
    // unit check: with window 2, position 5 attends to keys 4 and 5 only
    const shape = { nHeads: 1, nKvHeads: 1, headDim: 4, window: 2 };
    const keys = randomFloats(6 * 4, 3);
    const values = randomFloats(6 * 4, 4);
    const q = randomFloats(4, 5);
    const out = new Float32Array(4);
    exactAttention(q, 0, keys, values, 5, shape, out, 0);
    const s = [4, 5].map((j) => { let d = 0; for (let i = 0; i < 4; i++) d += q[i]! * keys[j * 4 + i]!; return d / 2; });
    const e0 = Math.exp(s[0]! - Math.max(...s)), e1 = Math.exp(s[1]! - Math.max(...s));
    for (let i = 0; i < 4; i++) expect(out[i]).toBeCloseTo((e0 * values[16 + i]! + e1 * values[20 + i]!) / (e0 + e1), 5);
  });
});

describe('sampling', () => {
  const logits = Float32Array.from([1, 3, 2.9, -1]);
  it('greedy is argmax; a seed reproduces a temperature draw; top-p keeps only the nucleus', () => {
    expect(new Sampler().sample(logits)).toBe(1);
    const draw = (seed: number, topP = 1) => { const s = new Sampler({ temperature: 1, topP, seed }); return Array.from({ length: 200 }, () => s.sample(logits)); };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
    expect(new Set(draw(5))).toEqual(new Set([0, 1, 2, 3]));
    // p ≈ [0.06, 0.49, 0.44, 0.01]: top-p 0.5 keeps {1, 2}
    expect(new Set(draw(7, 0.5))).toEqual(new Set([1, 2]));
    expect(new Set(draw(7, 0.4))).toEqual(new Set([1]));
    expect(() => new Sampler({ topP: 0 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => new Sampler({ temperature: -1 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});

describe('Q8_K activations (llama.cpp TQ path)', () => {
  it('quantizeQ8K: per 256-block scale from the signed absmax, |x − d·q| ≤ |d|/2, q ≤ 127', () => {
    const x = randomFloats(2 * 600, 9, 3);
    const a = quantizeQ8K(x, 2, 600);
    expect(a.blocks).toBe(3);
    for (let t = 0; t < 2; t++) for (let i = 0; i < 600; i++) {
      const d = a.scales[t * 3 + Math.floor(i / 256)]!;
      expect(Math.abs(x[t * 600 + i]! - d * a.q[t * 600 + i]!)).toBeLessThanOrEqual(Math.abs(d) / 2 + 1e-6);
      expect(a.q[t * 600 + i]).toBeLessThanOrEqual(127);
      expect(a.q[t * 600 + i]).toBeGreaterThanOrEqual(-128);
    }
    // the max-|x| element maps to −127 (iscale = −127/max)
    const y = new Float32Array(256);
    y[10] = 2;
    y[11] = -1;
    const b = quantizeQ8K(y, 1, 256);
    expect(b.q[10]).toBe(-127);
    expect(b.scales[0]).toBeCloseTo(-2 / 127, 7);
    expect(quantizeQ8K(new Float32Array(256), 1, 256).scales[0]).toBe(0);
  });

  it("TernaryLinear 'q8k' = Σ_blocks d_w·d_x·Σ t·q, for per-row, 256 and 512-column groups", async () => {
    const rows = 5, cols = 768;
    const w = randomFloats(rows * cols, 1);
    const x = randomFloats(2 * cols, 2);
    for (const groupSize of [0, 256, 512]) {
      const t = quantize(w, rows, cols, 'twn', { groupSize }).tensor;
      const lin = await TernaryLinear.fromTensor(backend, t, { activation: 'q8k' });
      const y = await lin.forward(x, 2);
      const a = quantizeQ8K(x, 2, cols);
      const trits = t.toTrits();
      for (let b = 0; b < 2; b++) for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let blk = 0; blk < 3; blk++) {
          let acc = 0;
          for (let c = blk * 256; c < (blk + 1) * 256; c++) acc += trits[r * cols + c]! * a.q[b * cols + c]!;
          s += t.scaleAt(r, blk * 256) * a.scales[b * 3 + blk]! * acc;
        }
        expect(y[b * rows + r]).toBeCloseTo(s, 4);
      }
    }
    await expect(TernaryLinear.fromTensor(backend, quantize(w, rows, cols, 'twn', { groupSize: 64 }).tensor, { activation: 'q8k' })).rejects.toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
  });
});
