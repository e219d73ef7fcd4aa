/**
 * Post-training scale tuning (issue 6): the scale-tuned weight's gradient (finite differences),
 * its export (trits and tryte form unchanged, scales carry the multipliers), and the whole step
 * on a tiny model (trits frozen, KL to the f32 model falls); bad settings are typed errors.
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/cli/model-options.js';
import { Model } from '../../src/nn/model.js';
import { validatePlan } from '../../src/quant/plan.js';
import { MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { ScaleTunedWeight } from '../../src/train/scale-linear.js';
import { Tape } from '../../src/train/tape.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { promptLogits, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

function tryte(rows: number, cols: number, depth: number, gs: number, seed: number): MultiTritTensor {
  const L = (3 ** depth - 1) / 2;
  const n = Array.from(randomFloats(rows * cols, seed), (x) => Math.max(-L, Math.min(L, Math.round(x * L))));
  const s = Array.from(randomFloats(gs ? rows * Math.ceil(cols / gs) : rows, seed + 1), (x) => 0.01 + Math.abs(x) * 0.05);
  return MultiTritTensor.fromIntegers(n, rows, cols, depth, gs ? { groupSize: gs, groupScales: s } : { scales: s });
}

describe('ScaleTunedWeight', () => {
  it('the gradient of the multipliers matches finite differences', () => {
    const q = new ScaleTunedWeight(tryte(3, 70, 2, 32, 5), 'w', Float64Array);
    q.m.data.set(Float64Array.from(randomFloats(q.m.size, 9), (x) => 1 + 0.2 * x));
    const r = gradCheck((tape: Tape) => q.forward(tape), [q.m], { samples: 100 });
    expect(r.checked).toBe(q.m.size);
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });

  for (const gs of [0, 32]) {
    it(`export writes the multipliers into the scales; integers and tryte form unchanged (group ${gs || 'none'})`, () => {
      const t = tryte(5, 96, 3, gs, 21);
      const q = new ScaleTunedWeight(t, 'w');
      q.m.data.set(Float32Array.from(randomFloats(q.m.size, 4), (x) => 1 + 0.3 * x));
      const want = q.forward(new Tape(false)).data;
      const e = q.export() as MultiTritTensor;
      expect(e.form).toBe('tryte');
      expect(Array.from(e.toIntegers())).toEqual(Array.from(t.toIntegers()));
      const got = e.toDense();
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
      // and the multipliers did change the weights
      expect(Math.abs(got[0]! - t.toDense()[0]!) + Math.abs(got[100]! - t.toDense()[100]!)).toBeGreaterThan(0);
    });
  }
});

const vocab = syntheticVocab(300);
const TEXT = 'the cat and the dog ran in the sun and then the cat sat on a mat. a bird sang to the dog. '.repeat(30);

/** mean KL(f32 ‖ m) over the next-token distributions of a prompt */
async function meanKl(f32: Model, m: Model, ids: number[]): Promise<number> {
  const [a, b] = [await promptLogits(f32, ids), await promptLogits(m, ids)];
  let kl = 0;
  for (let i = 0; i < ids.length; i++) {
    const lp = (x: Float32Array) => {
      let mx = -Infinity;
      for (const v of x) mx = Math.max(mx, v);
      let s = 0;
      for (const v of x) s += Math.exp(v - mx);
      return Array.from(x, (v) => v - mx - Math.log(s));
    };
    const p = lp(a[i]!), q = lp(b[i]!);
    for (let j = 0; j < p.length; j++) kl += Math.exp(p[j]!) * (p[j]! - q[j]!);
  }
  return kl / ids.length;
}

describe('calibration.tune on a model', () => {
  it('keeps every trit, moves the scales and norms, and brings the model closer to f32', async () => {
    const c = tinyConfig({ nLayers: 1 });
    const f32 = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c, 3, 0.2), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const base = { quantizer: 'rtn', depth: 1, groupSize: 32 };
    const plain = await f32.quantize(base, { calibrationText: TEXT });
    const tuned = await f32.quantize({ ...base, calibration: { tune: { steps: 40, lr: 0.02, batch: 2, ctx: 48 } } }, { calibrationText: TEXT });
    let moved = 0;
    for (const name of ['layers.0.attention.wq', 'layers.0.feed_forward.w2']) {
      const a = plain.weights.get(name) as unknown as { toTrits(): Int8Array; groupScales: Float32Array };
      const b = tuned.weights.get(name) as unknown as { toTrits(): Int8Array; groupScales: Float32Array };
      expect(Array.from(b.toTrits())).toEqual(Array.from(a.toTrits()));
      for (let i = 0; i < a.groupScales.length; i++) if (a.groupScales[i] !== b.groupScales[i]) moved++;
    }
    expect(moved).toBeGreaterThan(0);
    const normA = (plain.weights.get('layers.0.ffn_norm') as { data: Float32Array }).data;
    const normB = (tuned.weights.get('layers.0.ffn_norm') as { data: Float32Array }).data;
    expect(Array.from(normB)).not.toEqual(Array.from(normA));
    const ids = [1, ...vocab.encode(TEXT, { bos: false }).slice(0, 40)];
    const before = await meanKl(f32, plain, ids);
    const after = await meanKl(f32, tuned, ids);
    expect(after).toBeLessThan(0.8 * before);
  });

  it('bad settings and a ternary source are typed errors', async () => {
    for (const tune of [{ steps: 0 }, { lr: -1 }, { norms: 'yes' }, { warp: 1 }, 'on', { tokens: 1.5 }]) {
      expect(() => validatePlan({ calibration: { tune } })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    }
    expect(() => validatePlan({ calibration: { actOrder: 1 } })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    // the CLI flags --act-order / --tune-steps set the same fields
    expect(buildPlan({ calibrate: 'c.txt', depth: 2, actOrder: true, tuneSteps: 50 }).calibration).toEqual({ text: 'c.txt', actOrder: true, tune: { steps: 50 } });
    expect(() => buildPlan({ tuneSteps: 0 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    const c = tinyConfig({ nLayers: 1 });
    const f32 = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const q = await f32.quantize({ quantizer: 'twn' });
    await expect(q.quantize({ quantizer: 'twn', calibration: { tune: true } }, { calibrationText: TEXT })).rejects.toMatchObject({ code: 'E_UNSUPPORTED' });
    await expect(f32.quantize({ quantizer: 'rtn', calibration: { tune: true } })).rejects.toMatchObject({ code: 'E_ARG' });
  });
});

describe('calibration.actOrder', () => {
  it('reaches gptq: the columns are taken in another order, so the codes differ', async () => {
    const c = tinyConfig({ nLayers: 1 });
    const f32 = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const plan = { quantizer: 'gptq', depth: 2, groupSize: 32, calibration: { tokens: 120, ctx: 64 } };
    const a = await f32.quantize(plan, { calibrationText: TEXT });
    const b = await f32.quantize({ ...plan, calibration: { ...plan.calibration, actOrder: true } }, { calibrationText: TEXT });
    const ia = (a.weights.get('layers.0.feed_forward.w2') as MultiTritTensor).toIntegers();
    const ib = (b.weights.get('layers.0.feed_forward.w2') as MultiTritTensor).toIntegers();
    let diff = 0;
    for (let i = 0; i < ia.length; i++) if (ia[i] !== ib[i]) diff++;
    expect(diff).toBeGreaterThan(0);
  });
});
