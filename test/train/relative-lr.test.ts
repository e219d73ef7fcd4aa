/**
 * QAT's relative learning rate (`--relative-lr`): each latent matrix (and its learnable scales)
 * gets the multiplier mean|W₀| / m̄ (m̄ the size-weighted mean over all QAT matrices), the rest
 * keeps the base rate, and AdamW applies a parameter's multiplier to its step.
 */
import { describe, expect, it } from 'vitest';
import { TrainModel } from '../../src/train/llama-train.js';
import { AdamW } from '../../src/train/optimizer.js';
import { param } from '../../src/train/tensor.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { tinyConfig, tinyWeights } from '../helpers/models.js';

describe('relative learning rate (QAT)', () => {
  it('multipliers are mean|W₀| over the size-weighted mean; only QAT matrices and their scales get one', () => {
    const config = tinyConfig({ dim: 32, hiddenDim: 48, nHeads: 4, nKvHeads: 2, nLayers: 2, sharedClassifier: true, seqLen: 64 });
    const weights = tinyWeights(config, 3, 0.1);
    // make the layers' magnitudes differ
    const wv = weights.get('layers.1.attention.wv') as DenseTensor;
    wv.data.forEach((x, i) => (wv.data[i] = x * 0.25));
    const plain = TrainModel.fromWeights(config, weights, { mode: 'qat', qat: { scales: 'learnable' } });
    expect(plain.lrScales().size).toBe(0);
    const m = TrainModel.fromWeights(config, weights, { mode: 'qat', qat: { scales: 'learnable', relativeLr: true } });
    const s = m.lrScales();
    const meanAbs = (d: Float32Array) => d.reduce((a, x) => a + Math.abs(x), 0) / d.length;
    let num = 0, den = 0;
    const names = [...m.linears.keys()];
    for (const k of names) {
      const d = (weights.get(k) as DenseTensor).data;
      num += meanAbs(d) * d.length;
      den += d.length;
    }
    for (const k of names) {
      const want = meanAbs((weights.get(k) as DenseTensor).data) / (num / den);
      expect(s.get(k), k).toBeCloseTo(want, 6);
      expect(s.get(`${k}.scales`), k).toBe(s.get(k));
    }
    expect(s.get('layers.1.attention.wv')!).toBeLessThan(0.5 * s.get('layers.1.attention.wk')!);
    expect(s.has('tok_embeddings')).toBe(false);
    expect(s.has('layers.0.attention_norm')).toBe(false);
  });

  it('AdamW scales a parameter’s step by its multiplier', () => {
    const a = param(new Float32Array([1, 1]), [1, 2], 'a');
    const b = param(new Float32Array([1, 1]), [1, 2], 'b');
    const opt = new AdamW(new Map([['a', a], ['b', b]]), { eps: 0, weightDecay: 0 });
    opt.lrScale.set('b', 0.25);
    a.grad = new Float32Array([1, -1]);
    b.grad = new Float32Array([1, -1]);
    opt.step(0.1);
    // first Adam step moves each weight by lr·sign(g)
    expect([...a.data]).toEqual([Math.fround(0.9), Math.fround(1.1)]);
    expect([...b.data]).toEqual([Math.fround(1 - 0.025), Math.fround(1 + 0.025)]);
  });
});
