/**
 * Post-training trit re-selection (issue 6, `calibration.tune.trits`): the trit-tuned weight's
 * straight-through gradients (by hand) and multiplier gradient (finite differences), its export
 * (the final integers in the same tryte form), and the whole step on a tiny model: trits change and
 * the KL to the f32 model falls below both the untuned and the scale-only tuned model; bad settings
 * and residual planes are typed errors.
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/cli/model-options.js';
import { Model } from '../../src/nn/model.js';
import { validatePlan } from '../../src/quant/plan.js';
import { MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { Tape } from '../../src/train/tape.js';
import { TritTunedWeight } from '../../src/train/trit-linear.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { promptLogits, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

function tryte(rows: number, cols: number, depth: number, gs: number, seed: number): MultiTritTensor {
  const L = (3 ** depth - 1) / 2;
  const n = Array.from(randomFloats(rows * cols, seed), (x) => Math.max(-L, Math.min(L, Math.round(x * L))));
  const s = Array.from(randomFloats(gs ? rows * Math.ceil(cols / gs) : rows, seed + 1), (x) => 0.01 + Math.abs(x) * 0.05);
  return MultiTritTensor.fromIntegers(n, rows, cols, depth, gs ? { groupSize: gs, groupScales: s } : { scales: s });
}

describe('TritTunedWeight', () => {
  it('starts at the source integers; the multiplier gradient matches finite differences', () => {
    const t = tryte(3, 70, 2, 32, 5);
    const q = new TritTunedWeight(t, 'w', Float64Array);
    expect(Array.from(q.integers())).toEqual(Array.from(t.toIntegers()));
    const y = q.forward(new Tape(false)).data, d = t.toDense();
    for (let i = 0; i < d.length; i++) expect(y[i]).toBeCloseTo(d[i]!, 6);
    q.m.data.set(Float64Array.from(randomFloats(q.m.size, 9), (x) => 1 + 0.2 * x));
    const r = gradCheck((tape: Tape) => q.forward(tape), [q.m], { samples: 100 });
    expect(r.checked).toBe(q.m.size);
    expect(r.maxRelErr).toBeLessThan(1e-6);
  });

  it('passes the gradient straight through to the latent positions, and not past the grid', () => {
    const t = tryte(2, 64, 1, 32, 7);
    const q = new TritTunedWeight(t, 'w', Float64Array);
    q.u.data[3] = 1.7; // inside |u| ≤ L + ½ = 1.5? no: outside, so no gradient
    q.u.data[5] = -1.2; // inside
    q.m.data[0] = 1.5;
    const tape = new Tape(true);
    const y = q.forward(tape);
    const seed = Float64Array.from(randomFloats(y.size, 3));
    tape.backward(y, seed);
    const g = q.u.grad!;
    const step = t.planes[0]!.scaleAt(0, 0);
    expect(g[3]).toBe(0);
    expect(g[5]).toBeCloseTo(seed[5]! * 1.5 * step, 12);
    expect(g[70]).toBeCloseTo(seed[70]! * t.planes[0]!.scaleAt(1, 6), 12);
    expect(y.data[5]).toBeCloseTo(-1 * 1.5 * step, 12);
  });

  for (const [depth, gs] of [[1, 32], [2, 0], [3, 32]] as const) {
    it(`export holds the moved integers in the same form (depth ${depth}, group ${gs || 'none'})`, () => {
      const src = tryte(5, 96, depth, gs, 21);
      const t = depth === 1 ? src.planes[0]! : src;
      const q = new TritTunedWeight(t, 'w');
      const L = (3 ** depth - 1) / 2;
      for (let i = 0; i < q.u.size; i += 7) q.u.data[i] = Math.max(-L, Math.min(L, q.u.data[i]! + (i % 2 ? 1 : -1)));
      q.m.data.set(Float32Array.from(randomFloats(q.m.size, 4), (x) => 1 + 0.3 * x));
      expect(q.changed()).toBeGreaterThan(0);
      const want = q.forward(new Tape(false)).data;
      const e = q.export();
      expect(e instanceof (depth === 1 ? TernaryTensor : MultiTritTensor)).toBe(true);
      if (e instanceof MultiTritTensor) {
        expect(e.form).toBe('tryte');
        expect(Array.from(e.toIntegers())).toEqual(Array.from(q.integers()));
      } else expect(Array.from(e.toTrits())).toEqual(Array.from(q.integers()));
      expect(e.bytes).toBe(t.bytes);
      const got = e.toDense();
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
    });
  }

  it('refuses residual planes (no shared grid to move on)', () => {
    const a = tryte(2, 64, 1, 0, 1).planes[0]!;
    const b = a.clone();
    b.scales[0] = a.scales[0]! * 0.37;
    expect(() => new TritTunedWeight(new MultiTritTensor([a, b]), 'w')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
  });
});

const vocab = syntheticVocab(300);
const TEXT = 'the cat and the dog ran in the sun and then the cat sat on a mat. a bird sang to the dog. '.repeat(30);

/** mean KL(f32 ‖ m) over the next-token distributions of a prompt */
async function meanKl(f32: Model, m: Model, ids: number[]): Promise<number> {
  const [a, b] = [await promptLogits(f32, ids), await promptLogits(m, ids)];
  let kl = 0;
  const lp = (x: Float32Array) => {
    let mx = -Infinity;
    for (const v of x) mx = Math.max(mx, v);
    let s = 0;
    for (const v of x) s += Math.exp(v - mx);
    return Array.from(x, (v) => v - mx - Math.log(s));
  };
  for (let i = 0; i < ids.length; i++) {
    const p = lp(a[i]!), q = lp(b[i]!);
    for (let j = 0; j < p.length; j++) kl += Math.exp(p[j]!) * (p[j]! - q[j]!);
  }
  return kl / ids.length;
}

describe('calibration.tune.trits on a model', () => {
  it('moves trits and ends closer to f32 than the untuned and the scale-only tuned model', async () => {
    const c = tinyConfig({ nLayers: 1 });
    const f32 = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c, 3, 0.2), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const base = { quantizer: 'rtn', depth: 1, groupSize: 32 };
    const tune = { steps: 40, lr: 0.02, batch: 2, ctx: 48 };
    const plain = await f32.quantize(base, { calibrationText: TEXT });
    const scales = await f32.quantize({ ...base, calibration: { tune } }, { calibrationText: TEXT });
    const trits = await f32.quantize({ ...base, calibration: { tune: { ...tune, trits: true, tritLr: 0.02, tritStart: 'f32' } } }, { calibrationText: TEXT });
    expect(trits.info.tune?.changed).toBeGreaterThan(0);
    expect(scales.info.tune?.changed).toBeUndefined();
    let diff = 0;
    for (const name of ['layers.0.attention.wq', 'layers.0.feed_forward.w2']) {
      const a = (plain.weights.get(name) as TernaryTensor).toTrits();
      const b = (trits.weights.get(name) as TernaryTensor).toTrits();
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
    }
    expect(diff).toBeGreaterThan(0);
    expect(trits.bytes).toBe(plain.bytes);
    const ids = [1, ...vocab.encode(TEXT, { bos: false }).slice(0, 40)];
    const before = await meanKl(f32, plain, ids);
    const onlyScales = await meanKl(f32, scales, ids);
    const after = await meanKl(f32, trits, ids);
    expect(after).toBeLessThan(0.8 * before);
    expect(after).toBeLessThan(onlyScales);
  });

  it('bad settings are typed errors; the CLI flags set the same fields', () => {
    for (const tune of [{ trits: 'yes' }, { trits: true, tritLr: 0 }, { trits: true, tritLr: Infinity }, { tritLr: 0.01 }, { trits: false, tritLr: 0.01 }, { trits: true, tritStart: 'edge' }, { tritStart: 'f32' }]) {
      expect(() => validatePlan({ calibration: { tune } })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    }
    expect(buildPlan({ calibrate: 'c.txt', depth: 2, tuneSteps: 50, tuneTrits: true, tritLr: 0.03, tuneLr: 0.02 }).calibration).toEqual({ text: 'c.txt', tune: { steps: 50, trits: true, tritLr: 0.03, lr: 0.02 } });
    expect(() => buildPlan({ tritLr: 0.03 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => buildPlan({ tuneTrits: true, tuneLr: -1 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});
