/**
 * `tritwise quantize --auto-bits … --qat-steps n` through the built bin (issue 6): the auto plan is
 * fine-tuned at its depths, the saved folder holds every layer at the depth the written plan gives
 * it (trained on two threads), --qat-prune-from trains a uniform plan and drops trits to the
 * budget (the written plan and the folder agree), and QAT flags without a step count or text, or with a bad thread
 * count or time budget, are refused with E_ARG.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { encodeLlama2c } from '../../src/io/llama2c.js';
import { resolvePlan, validatePlan } from '../../src/quant/plan.js';
import { planTargets } from '../../src/quant/quantize-model.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { encodeTokenizerBin, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-qcli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);
const c = tinyConfig({ nLayers: 1, sharedClassifier: true });

beforeAll(() => {
  writeFileSync(f('tiny.bin'), encodeLlama2c(c, tinyWeights(c, 3, 0.2) as Map<string, DenseTensor>));
  writeFileSync(f('tok.bin'), encodeTokenizerBin(syntheticVocab(300)));
  writeFileSync(f('text.txt'), 'the cat and the dog ran in the sun and then the cat sat on a mat. a bird sang.\n\n'.repeat(40));
  writeFileSync(f('small.json'), JSON.stringify({ calibration: { tokens: 200, ctx: 64 } }));
});

describe('quantize --qat-steps', () => {
  it('fine-tunes the auto plan at its depths; the folder holds exactly the planned depths', () => {
    const a = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('small.json'), '--quantizer', 'rtn', '--auto-bits', '2.4', '--calibrate', f('text.txt'), '--plan-out', f('plan.json'), '--qat-steps', '12', '--qat-batch', '2', '--qat-ctx', '32', '--qat-trit-lr', '0.03', '--qat-threads', '2', '-o', f('q'), '--json');
    expect(a.code, a.err).toBe(0);
    const rep = JSON.parse(a.out);
    expect(rep.qat.steps).toBe(12);
    expect(rep.qat.threads).toBe(2);
    expect(rep.qat.stopped).toBe('done');
    expect(rep.qat.changed).toBeGreaterThan(0);
    expect(rep.qat.changed).toBeLessThan(rep.qat.weights_tuned);
    expect(rep.qat.val_ppl_end).toBeGreaterThan(1);
    const plan = validatePlan(JSON.parse(readFileSync(f('plan.json'), 'utf8')));
    const want = resolvePlan(plan, planTargets(c)).filter((l) => !l.dense);
    expect(new Set(want.map((l) => l.depth)).size).toBeGreaterThan(1);
    const saved = loadCheckpoint(f('q'));
    for (const l of want) {
      const t = saved.weights.get(l.name);
      expect(t instanceof MultiTritTensor ? t.depth : t instanceof TernaryTensor ? 1 : 0, l.name).toBe(l.depth);
      if (t instanceof MultiTritTensor) expect(t.form).toBe('tryte');
    }
    const e = cli('eval', f('q'), '--text', f('text.txt'), '--ctx', '32', '--limit', '2', '--json');
    expect(e.code, e.err).toBe(0);
    expect(JSON.parse(e.out).perplexity).toBeGreaterThan(1);
  }, 90_000);

  it('--qat-realloc moves trits between layers half-way within the budget; the folder holds the new depths', () => {
    const a = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('small.json'), '--quantizer', 'rtn', '--auto-bits', '2.4', '--calibrate', f('text.txt'), '--qat-steps', '8', '--qat-realloc', '--qat-batch', '2', '--qat-ctx', '32', '-o', f('r'), '--json');
    expect(a.code, a.err).toBe(0);
    const rep = JSON.parse(a.out);
    const ra = rep.qat.realloc;
    expect(rep.qat.steps).toBe(8);
    expect(ra.at).toBe(4);
    expect(ra.bits).toBe(2.4);
    expect(ra.moves.length).toBe(Object.keys(ra.before).length);
    const saved = loadCheckpoint(f('r'));
    let n = 0, trits = 0;
    for (const [name, d] of Object.entries(ra.after) as [string, number][]) {
      const t = saved.weights.get(name) as TernaryTensor | MultiTritTensor;
      expect(t instanceof MultiTritTensor ? t.depth : 1, name).toBe(d);
      expect(Math.abs(d - ra.before[name])).toBeLessThanOrEqual(1);
      n += t.rows * t.cols;
      trits += t.rows * t.cols * d;
    }
    expect((1.6 * trits) / n).toBeLessThanOrEqual(2.4 + 1e-9);
  }, 90_000);

  it('--qat-prune-from 2 starts every layer at d = 2, drops trits after training to the --auto-bits budget, and writes the plan it saved', () => {
    const a = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('small.json'), '--quantizer', 'rtn', '--auto-bits', '2.4', '--calibrate', f('text.txt'), '--qat-steps', '8', '--qat-prune-from', '2', '--qat-batch', '2', '--qat-ctx', '32', '--plan-out', f('pruned.json'), '-o', f('p'), '--json');
    expect(a.code, a.err).toBe(0);
    const rep = JSON.parse(a.out);
    const ra = rep.qat.realloc;
    expect(rep.auto).toBeUndefined();
    expect(ra.at).toBe(4);
    expect(ra.bits).toBe(2.4);
    expect(Object.values(ra.before).every((d) => d === 2)).toBe(true);
    const saved = loadCheckpoint(f('p'));
    const plan = resolvePlan(validatePlan(JSON.parse(readFileSync(f('pruned.json'), 'utf8'))), planTargets(c)).filter((l) => !l.dense);
    expect(plan.length).toBe(Object.keys(ra.after).length);
    let n = 0, trits = 0, ones = 0;
    for (const l of plan) {
      const t = saved.weights.get(l.name) as TernaryTensor | MultiTritTensor;
      const d = t instanceof MultiTritTensor ? t.depth : 1;
      expect(d, l.name).toBe(ra.after[l.name]);
      expect(d, l.name).toBe(l.depth);
      ones += d === 1 ? 1 : 0;
      n += t.rows * t.cols;
      trits += t.rows * t.cols * d;
    }
    expect(ones).toBeGreaterThan(0);
    expect((1.6 * trits) / n).toBeLessThanOrEqual(2.4 + 1e-9);
    expect((1.6 * trits) / n).toBeGreaterThan(1.6);
  }, 90_000);

  it('QAT flags without steps or text are refused', () => {
    const noSteps = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--depth', '2', '--qat-lr', '0.01', '--calibrate', f('text.txt'), '-o', f('x'));
    expect(noSteps.code).toBe(2);
    expect(noSteps.err).toMatch(/E_ARG: QAT settings without a step count/);
    const noText = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--depth', '2', '--qat-steps', '5', '-o', f('x'));
    expect(noText.code).toBe(2);
    expect(noText.err).toMatch(/E_ARG: QAT needs training text/);
    const base = ['quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--depth', '2', '--calibrate', f('text.txt'), '--qat-steps', '5', '-o', f('x')];
    const threads = cli(...base, '--qat-threads', '0');
    expect(threads.code).toBe(2);
    expect(threads.err).toMatch(/E_ARG: invalid thread count.*--qat-threads/s);
    const both = cli(...base, '--qat-minutes', '1', '--qat-budget-minutes', '1');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/E_ARG: two time limits/);
    const budget = cli(...base, '--qat-budget-minutes', '0');
    expect(budget.code).toBe(2);
    expect(budget.err).toMatch(/E_ARG: invalid time budget.*--qat-budget-minutes/s);
    const pruneDepth = cli(...base, '--qat-prune-from', '1');
    expect(pruneDepth.code).toBe(2);
    expect(pruneDepth.err).toMatch(/E_ARG: invalid start depth.*--qat-prune-from/s);
    const noBudget = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--calibrate', f('text.txt'), '--qat-steps', '5', '--qat-prune-from', '2', '-o', f('x'));
    expect(noBudget.code).toBe(2);
    expect(noBudget.err).toMatch(/E_ARG: --qat-prune-from needs a bit budget/);
    const far = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--calibrate', f('text.txt'), '--auto-bits', '1.5', '--qat-steps', '5', '--qat-prune-from', '2', '-o', f('x'));
    expect(far.code).toBe(2);
    expect(far.err).toMatch(/E_ARG: bit budget outside what one pruning round reaches/);
  }, 60_000);
});
