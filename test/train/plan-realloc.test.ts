/**
 * Re-allocating a trained plan's depths (src/train/plan-realloc.ts): moving a tryte one trit up or
 * down on the same range re-rounds its latent values exactly as the formula says; the greedy
 * allocation keeps the budget, moves depths by at most one, and never takes a step that saves
 * nothing; the two-phase run on a tiny model ends with the depths it chose, within the budget.
 */
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/nn/model.js';
import { MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { splitText } from '../../src/train/data.js';
import { planQatRealloc, reallocate, retryte, type DepthMove } from '../../src/train/plan-realloc.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

describe('retryte', () => {
  const rows = 3, cols = 64, gs = 32;
  const n = Array.from(randomFloats(rows * cols, 2), (x) => Math.max(-4, Math.min(4, Math.round(x * 4))));
  const gsc = Array.from(randomFloats(rows * 2, 3), (x) => 0.02 + Math.abs(x) * 0.05);
  const t = MultiTritTensor.fromIntegers(n, rows, cols, 2, { groupSize: gs, groupScales: gsc });
  const step = (r: number, c: number) => t.planes[0]!.scaleAt(r, c);

  it('one trit deeper: 3n plus where the latent sits in its cell; one shallower: round(n/3); same range', () => {
    const frac = Float32Array.from(randomFloats(rows * cols, 4), (x) => 0.45 * x);
    const lat = Float32Array.from(n, (v, i) => (v + frac[i]!) * step(Math.floor(i / cols), i % cols));
    const up = retryte(t, lat, 3) as MultiTritTensor;
    expect(up.depth).toBe(3);
    expect(up.form).toBe('tryte');
    const nu = up.toIntegers();
    for (let i = 0; i < n.length; i++) expect(nu[i], `${i}`).toBe(3 * n[i]! + Math.round(3 * frac[i]!) + 0);
    expect(up.planes[0]!.scaleAt(1, 40)).toBeCloseTo(step(1, 40) / 3, 7);
    const down = retryte(t, lat, 1) as TernaryTensor;
    expect(down).toBeInstanceOf(TernaryTensor);
    const nd = down.toTrits();
    for (let i = 0; i < n.length; i++) expect(nd[i], `${i}`).toBe(Math.max(-1, Math.min(1, Math.round((n[i]! + frac[i]!) / 3))) + 0);
    // the same depth gives back the integers the latents round to
    expect(Array.from((retryte(t, lat, 2) as MultiTritTensor).toIntegers())).toEqual(n.map((v, i) => v + Math.round(frac[i]!) + 0));
    expect(() => retryte(t, lat, 7)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => retryte(t, lat.subarray(1), 2)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });
});

describe('reallocate', () => {
  const m = (name: string, weights: number, depth: number, down: number | null, up: number | null): DepthMove => ({ name, weights, depth, down, up });

  it('moves trits to where they save the most KL per trit, within the budget and by at most one', () => {
    // 3 layers of 100 weights at depths 1, 2, 2 (5 trits per 3 weights = 2.667 bits)
    const moves = [m('a', 100, 1, null, -0.5), m('b', 100, 2, 0.01, -0.001), m('c', 100, 2, 0.3, -0.01)];
    const d = reallocate(moves, 1.6 * (5 / 3));
    // b loses a trit (cheap), a gains one (valuable); c keeps its depth
    expect(Object.fromEntries(d)).toEqual({ a: 2, b: 1, c: 2 });
    // a larger budget deepens by one at most; a step that saves nothing is not taken
    const big = reallocate([m('a', 100, 1, null, -0.5), m('b', 100, 2, 0.01, 0.002)], 1.6 * 3);
    expect(Object.fromEntries(big)).toEqual({ a: 2, b: 2 });
    // budget kept: total trits ≤ bits/1.6 · N
    const tight = reallocate(moves, 1.6 * (4 / 3));
    expect([...tight.values()].reduce((s, x) => s + 100 * x, 0)).toBeLessThanOrEqual(400);
    expect(() => reallocate(moves, 1)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});

describe('planQatRealloc', () => {
  it('trains, re-allocates from the trained model within the budget, and trains the new plan', async () => {
    const vocab = syntheticVocab(300);
    const c = tinyConfig({ nLayers: 1, seqLen: 64 });
    const f32 = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c, 3, 0.2), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const q = await f32.quantize({ quantizer: 'rtn', groupSize: 32, layers: [{ match: 'layers.0.attention.*', depth: 2 }, { match: 'layers.0.feed_forward.*', depth: 1 }] });
    const data = splitText('the cat and the dog ran in the sun and then the cat sat on a mat. a bird sang to the dog.\n\n'.repeat(40), vocab, 0.1);
    let chosen: Map<string, number> | null = null;
    const names = [...q.weights].filter(([, t]) => t instanceof TernaryTensor || t instanceof MultiTritTensor).map(([n]) => n);
    const N = names.reduce((s, n) => s + (q.weights.get(n) as TernaryTensor).rows * (q.weights.get(n) as TernaryTensor).cols, 0);
    const planBits = (w: Map<string, unknown>) => (1.6 * names.reduce((s, n) => { const t = w.get(n) as TernaryTensor | MultiTritTensor; return s + t.rows * t.cols * (t instanceof MultiTritTensor ? t.depth : 1); }, 0)) / N;
    const bits = planBits(q.weights);
    const r = await planQatRealloc(c, f32.weights, q.weights, data, vocab.bos, { steps: 16, reallocAt: 8, bits, batch: 2, ctx: 32, lr: 0.02, tritLr: 0.03, topK: 300, probeWindows: 2, onRealloc: (_m, d) => (chosen = d) });
    expect(r.moves.length).toBe(names.length);
    expect(r.moves.every((mv) => mv.up !== null && mv.up < 0.5)).toBe(true);
    expect(chosen).not.toBeNull();
    for (const n of names) {
      const t = r.weights.get(n);
      expect(t instanceof MultiTritTensor ? t.depth : 1, n).toBe(chosen!.get(n));
    }
    expect(planBits(r.weights)).toBeLessThanOrEqual(bits + 1e-9);
    expect(r.first.train.steps_done + r.train.steps_done).toBe(16);
  });
});
