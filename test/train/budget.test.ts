/**
 * Runs planned over wall time (trainer.ts budgetSeconds): the schedule follows its formula, the
 * run ends — final validation and checkpoint included — within the budget and uses it, the step
 * count follows the budget, and with a deterministic clock a run interrupted and resumed ends
 * bit-identical to an uninterrupted one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { splitText } from '../../src/train/data.js';
import { buildTrainModel, type FinetuneOptions } from '../../src/train/finetune.js';
import { learningRateByTime } from '../../src/train/optimizer.js';
import { Trainer, type TrainOptions } from '../../src/train/trainer.js';
import { syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-budget-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tok = syntheticVocab(300);
const words = ['the', 'cat', 'and', 'dog', 'ran', 'in', 'sun', 'then', 'sat', 'on', 'a', 'mat', 'red', 'big', 'hat'];
let s = 9;
const text = Array.from({ length: 60 }, () => Array.from({ length: 24 }, () => words[((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % words.length]).join(' ') + '.').join('\n\n');
const config = tinyConfig({ dim: 32, hiddenDim: 48, nHeads: 4, nKvHeads: 2, nLayers: 2, sharedClassifier: true, seqLen: 64 });
const data = splitText(text, tok, 0.1);
const qat: FinetuneOptions = { mode: 'qat', steps: 1e9, lr: 3e-3, scales: 'learnable' };

/** Counts its validation passes, so that a fake clock can make each cost 0.5 s. */
class CountingTrainer extends Trainer {
  validations = 0;
  override validate(): ReturnType<Trainer['validate']> {
    const v = super.validate();
    this.validations++;
    return v;
  }
}

/** A trainer whose clock (when `fake`) counts AdamW updates and validation passes: a step takes exactly 1 s, a validation 0.5 s, a checkpoint 0. */
function trainer(o: Partial<TrainOptions>, fake = true): CountingTrainer {
  const t: CountingTrainer = new CountingTrainer(buildTrainModel({ config, weights: tinyWeights(config, 11, 0.1), tokenizer: tok }, qat), data, tok.bos, {
    steps: 1e9, lr: 3e-3, batch: 2, ctx: 16, warmup: 3, evalEvery: 5, evalChunks: 4, seed: 3,
    ...(fake ? { clock: () => t.opt.t + 0.5 * t.validations } : {}),
    ...o,
  });
  return t;
}

describe('time-budgeted runs', () => {
  it('warm-up by steps, then a cosine over the elapsed time down to minLr at the end', () => {
    const o = { lr: 1, minLr: 0.1, warmup: 4, start: 20, end: 120 };
    expect([0, 1, 3].map((k) => learningRateByTime(k, 20, o))).toEqual([0.25, 0.5, 1]);
    expect(learningRateByTime(3, 70, o)).toBeCloseTo(0.55, 12); // a warm-up step never exceeds the cosine
    expect(learningRateByTime(10, 45, o)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos(Math.PI / 4)), 12);
    expect(learningRateByTime(10, 70, o)).toBeCloseTo(0.55, 12);
    expect(learningRateByTime(10, 120, o)).toBeCloseTo(0.1, 12);
    expect(learningRateByTime(10, 200, o)).toBeCloseTo(0.1, 12);
    // warm-up as a fraction of the time (10 %): lr·p/0.1 until p = 0.1, whatever the step
    const f = { ...o, warmup: 0, warmupFraction: 0.1 };
    expect(learningRateByTime(0, 20, f)).toBe(0);
    expect(learningRateByTime(50, 25, f)).toBeCloseTo(0.5, 12);
    expect(learningRateByTime(90, 29, f)).toBeCloseTo(0.9, 12);
    expect(learningRateByTime(0, 45, f)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos(Math.PI / 4)), 12);
  });

  it('takes the steps that fit in the budget, validating at the end; the cosine follows the elapsed time', async () => {
    // budget B: validations at steps 0, 5, 10, … cost 0.5 s each, so step k starts at k + 0.5·(1 + ⌊k/5⌋); the end is
    // B − 1.2 × 0.5 (the final validation) − 0.005·B, and step k is taken while its start + 1.3 × 1 s is within the end
    for (const [budget, steps] of [[21, 17], [41, 35]] as const) {
      const lrs: number[] = [], at: number[] = [];
      const t = trainer({ budgetSeconds: budget, onStep: (r) => lrs.push(r.lr) });
      const r = await t.run();
      for (let k = 0; k < steps; k++) at.push(k + 0.5 * (1 + Math.floor(k / 5)));
      expect(at.at(-1)! + 1.3).toBeLessThanOrEqual(budget - 0.6 - 0.005 * budget);
      expect(steps + 0.5 * (1 + Math.floor(steps / 5)) + 1.3).toBeGreaterThan(budget - 0.6 - 0.005 * budget);
      expect(r.steps_done).toBe(steps);
      expect(r.stopped).toBe('done');
      expect(r.history.at(-1)!.step).toBe(steps);
      expect(r.elapsed_s).toBe(steps + 0.5 * (1 + Math.floor((steps - 1) / 5)) + 0.5); // the final validation included
      expect(r.elapsed_s).toBeLessThanOrEqual(budget);
      expect(lrs.length).toBe(steps);
      const end = budget - 0.6 - 0.005 * budget;
      // the schedule starts when the first step does (after the 0.5-s validation at step 0)
      for (let k = 0; k < lrs.length; k++) expect(lrs[k], `step ${k}`).toBeCloseTo(learningRateByTime(k, at[k]!, { lr: 3e-3, warmup: 3, start: 0.5, end }), 12);
      expect(lrs.slice(0, 3)).toEqual([1e-3, 2e-3, 3e-3].map((x, k) => Math.min(x, learningRateByTime(9, at[k]!, { lr: 3e-3, warmup: 0, start: 0.5, end }))));
      expect(lrs.at(-1)!).toBeLessThan(3e-3 * 0.15);
    }
  });

  it('without warm-up steps, warms up over the first 6 % of the time (in proportion, however few steps fit)', async () => {
    const lrs: number[] = [];
    const r = await trainer({ budgetSeconds: 101, warmup: undefined, onStep: (x) => lrs.push(x.lr) }).run();
    expect(r.steps_done).toBeGreaterThan(80);
    expect(lrs[0]).toBe(0);
    // step k starts at k + 0.5·(1 + ⌊k/5⌋); the schedule starts at 0.5 and should end by 101 − 0.6 − 0.505
    const end = 101 - 0.6 - 0.505, at = (k: number) => k + 0.5 * (1 + Math.floor(k / 5));
    for (const k of [1, 3, 5, 6, 20, 60]) expect(lrs[k], `step ${k}`).toBeCloseTo(learningRateByTime(k, at(k), { lr: 3e-3, warmup: 0, warmupFraction: 0.06, start: 0.5, end }), 12);
    expect(lrs[3]).toBeCloseTo((3e-3 * ((at(3) - 0.5) / (end - 0.5))) / 0.06, 12);
    expect(Math.max(...lrs)).toBeLessThanOrEqual(3e-3);
  });

  it('counts the time before the run from budgetStart (the CLI: the process start)', async () => {
    const t: CountingTrainer = trainer({ budgetSeconds: 20, budgetStart: 0, clock: () => 5 + t.opt.t + 0.5 * t.validations });
    const r = await t.run();
    // as the run above with 5 s spent before it: steps start at 5 + k + 0.5·(1 + ⌊k/5⌋)
    expect(r.steps_done).toBe(12);
    expect(r.elapsed_s).toBe(5 + 12 + 0.5 * 3 + 0.5);
  });

  it('a budgeted run interrupted and resumed (deterministic clock) ends bit-identical to an uninterrupted one', async () => {
    const straight = trainer({ budgetSeconds: 16, checkpoint: join(dir, 'straight.safetensors'), checkpointEvery: 3 });
    await straight.run();
    const ckpt = join(dir, 'budget.safetensors');
    await expect(trainer({ budgetSeconds: 16, checkpoint: ckpt, checkpointEvery: 3, afterStep: (k) => { if (k === 8) throw new Error('simulated crash'); } }).run()).rejects.toThrow('simulated crash');
    const resumed = trainer({ budgetSeconds: 16, checkpoint: ckpt, checkpointEvery: 3 });
    const r = await resumed.run();
    expect(r.resumed_from).toBe(6);
    expect(r.steps_done).toBe(straight.opt.t);
    for (const [k, p] of straight.opt.params) expect(resumed.opt.params.get(k)!.data, k).toEqual(p.data);
    // another budget is another run: its checkpoint is refused
    await expect(trainer({ budgetSeconds: 17, checkpoint: ckpt }).run()).rejects.toMatchObject({ code: 'E_ARG', message: expect.stringContaining('budget') });
  });

  it('on the real clock, ends within the budget (final validation and checkpoint included) and uses most of it', async () => {
    const budget = 1.5;
    const r = await trainer({ budgetSeconds: budget, evalEvery: 40, evalChunks: 8, checkpoint: join(dir, 'real.safetensors') }, false).run();
    expect(r.steps_done).toBeGreaterThan(5);
    expect(r.history.at(-1)!.step).toBe(r.steps_done);
    expect(r.elapsed_s).toBeLessThanOrEqual(budget + 0.25); // 0.25 s for the scheduler of a machine loaded by the whole suite (the exact rule: the fake-clock tests)
    expect(r.elapsed_s).toBeGreaterThan(0.75 * budget);
  });

  it('refuses a budget that is not a positive number', () => {
    for (const b of [0, -1, NaN, Infinity]) expect(() => trainer({ budgetSeconds: b })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});
