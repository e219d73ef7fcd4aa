/**
 * Progressive quantization (`--quant-ramp f`, trainer.ts quantRamp; qat.ts Q_λ = λ·Q + (1 − λ)·W):
 * the blended forward pass and its gradients (finite differences in the scales and inputs,
 * straight-through in the latent weights), λ per step follows min(1, progress/f), the last
 * validation and the saved model are pure trits, two threads follow one thread (the workers get
 * the main thread's λ), and bad values are typed errors.
 */
import { describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { linear } from '../../src/train/ops/linear.js';
import { buildTrainModel, finetune, type FinetuneOptions } from '../../src/train/finetune.js';
import { QatWeight } from '../../src/train/qat.js';
import { Tape } from '../../src/train/tape.js';
import { quantBlendAt, Trainer } from '../../src/train/trainer.js';
import { splitText } from '../../src/train/data.js';
import { f64, gradCheck, p64 } from '../helpers/gradcheck.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

const tok = syntheticVocab(300);
const words = ['the', 'cat', 'and', 'dog', 'ran', 'in', 'sun', 'then', 'sat', 'on', 'a', 'mat', 'red', 'big', 'hat'];
let s = 5;
const text = Array.from({ length: 60 }, () => Array.from({ length: 24 }, () => words[((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % words.length]).join(' ') + '.').join('\n\n');
const config = tinyConfig({ dim: 32, hiddenDim: 48, nHeads: 4, nKvHeads: 2, nLayers: 2, sharedClassifier: true, seqLen: 64 });
const f32 = () => ({ config, weights: tinyWeights(config, 11, 0.1), tokenizer: tok });
const base: FinetuneOptions = { mode: 'qat', steps: 8, lr: 3e-3, batch: 3, ctx: 16, warmup: 2, evalEvery: 4, evalChunks: 4, seed: 7, scales: 'learnable' };

describe('progressive quantization (QAT blend)', () => {
  it('Q_λ = λ·Q + (1 − λ)·W; gradients of the scales and x check, ∂L/∂W is straight-through', () => {
    const M = 3, K = 64;
    for (const [lam, groupSize, depth] of [[0.3, 0, 1], [0.7, 32, 2], [0, 0, 1]] as const) {
      const w = Float64Array.from(randomFloats(M * K, 41));
      const q = new QatWeight(w.slice(), M, K, 'w', { quantizer: 'twn', groupSize, depth, scales: 'learnable' });
      const pure = Float64Array.from(q.forward(new Tape(false)).data);
      q.blend = lam;
      expect(q.blend).toBe(lam);
      const got = q.forward(new Tape(false)).data;
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(lam * pure[i]! + (1 - lam) * w[i]!, 12);
      const x = p64(2 * K, [2, K], 42, 1, 'x');
      const r = gradCheck((t) => linear(t, x, q.forward(t)), [q.scales!, x]);
      expect(r.checked).toBeGreaterThan(0);
      expect(r.maxRelErr, r.worst).toBeLessThan(1e-6);
      const t = new Tape();
      const Q = q.forward(t);
      const y = linear(t, x, Q);
      q.latent.grad = null;
      q.scales!.grad = null;
      t.backward(y, f64(y.size, 43));
      expect(Array.from(q.latent.grad!)).toEqual(Array.from(Q.grad!));
      // at λ = 0 the scales get no gradient (the forward pass does not see them)
      if (lam === 0) expect(Array.from(q.scales!.grad!).every((g) => g === 0)).toBe(true);
    }
    const q = new QatWeight(randomFloats(M * K, 44), M, K, 'w');
    for (const bad of [-0.1, 1.5, NaN]) expect(() => (q.blend = bad)).toThrow(TritwiseError);
  });

  it('λ per step is min(1, step/(f·steps)); the final validation and the saved model are pure trits', async () => {
    expect([0, 0.1, 0.25, 0.5, 0.9].map((p) => quantBlendAt(p, 0.5))).toEqual([0, 0.2, 0.5, 1, 1]);
    expect(quantBlendAt(0.1, 0)).toBe(1);
    const src = f32();
    const data = splitText(text, tok, 0.1);
    const train = async (quantRamp?: number) => {
      const model = buildTrainModel(src, base);
      const seen: number[] = [];
      const { distill: _d, ...plainOpts } = base;
      const trainer = new Trainer(model, data, tok.bos, { ...plainOpts, quantRamp, onStep: () => seen.push(model.quantBlend) });
      const r = await trainer.run();
      return { model, trainer, seen, r };
    };
    const { model, trainer, seen, r } = await train(0.5);
    // onStep runs after step s (1-based): the λ of that step, from progress (s − 1)/steps
    expect(seen).toEqual(Array.from({ length: 8 }, (_, i) => quantBlendAt(i / 8, 0.5)));
    expect(seen[0]).toBe(0);
    expect(model.quantBlend).toBe(1);
    // the last validation is of the pure-trit model (what export() saves)
    expect(trainer.validate().loss).toBe(r.history.at(-1)!.val_loss);
    // the ramp changes training (λ < 1 for the first half)
    const plain = await train();
    expect(plain.seen.every((l) => l === 1)).toBe(true);
    expect(r.final_loss).not.toBe(plain.r.final_loss);
    const viaApi = await finetune(f32(), text, { ...base, quantRamp: 0.5 });
    expect(viaApi.model.plan).toMatchObject({ finetune: { quantRamp: 0.5 } });
    expect(viaApi.result.final_loss).toBe(r.final_loss);
  });

  it('over a time budget λ follows the share of the training time (fake clock: 1 s per step)', async () => {
    const model = buildTrainModel(f32(), base);
    const seen: number[] = [];
    const { distill: _d, ...plainOpts } = base;
    const t: Trainer = new Trainer(model, splitText(text, tok, 0.1), tok.bos, {
      ...plainOpts, steps: 1e9, evalEvery: 0, warmup: 0, budgetSeconds: 40, quantRamp: 0.4,
      clock: () => t.opt.t, onStep: () => seen.push(model.quantBlend),
    });
    const r = await t.run();
    expect(r.steps_done).toBeGreaterThan(30);
    expect(seen[0]).toBe(0);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    // λ reaches 1 after about 40 % of the steps (the budget's end is re-estimated as steps are timed)
    const full = seen.indexOf(1);
    expect(Math.abs(full - 0.4 * r.steps_done)).toBeLessThanOrEqual(2);
    expect(seen[Math.floor(full / 2)]!).toBeGreaterThan(0.3);
    expect(seen[Math.floor(full / 2)]!).toBeLessThan(0.7);
    expect(model.quantBlend).toBe(1);
  });

  it('two threads follow one thread with a ramp (the workers train with the main thread’s λ)', async () => {
    const o = { ...base, quantRamp: 0.75, distill: 'kl' as const, distillAlpha: 0.5 };
    const one = await finetune(f32(), text, o);
    const two = await finetune(f32(), text, { ...o, threads: 2 });
    expect(two.result.threads).toBe(2);
    const [a, b] = [one.result.history.map((h) => h.val_loss), two.result.history.map((h) => h.val_loss)];
    expect(Math.abs(a.at(-1)! - a[0]!)).toBeGreaterThan(0.01);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `eval ${i}`).toBeLessThan(1e-4);
  });

  it('bad ramps are typed errors naming --quant-ramp', async () => {
    for (const [bad, mode] of [[1, 'qat'], [-0.2, 'qat'], [NaN, 'qat'], [0.5, 'full']] as const) {
      const e = await finetune(f32(), text, { ...base, mode, quantRamp: bad }).catch((x: unknown) => x);
      expect(e, `${bad} ${mode}`).toBeInstanceOf(TritwiseError);
      expect((e as TritwiseError).code).toBe('E_ARG');
      expect((e as TritwiseError).where).toBe('finetune --quant-ramp');
    }
  });
});
