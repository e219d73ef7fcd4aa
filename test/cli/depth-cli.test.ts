/**
 * `tritwise quantize --depth / --calibrate / --auto-bits / --auto-ppl / --plan-out / --tune-trits` through the
 * built bin (issue 6), and export-gguf refusing a multi-trit folder.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLlama2c } from '../../src/io/llama2c.js';
import { validatePlan } from '../../src/quant/plan.js';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { encodeTokenizerBin, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-dcli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f = (n: string) => join(dir, n);

beforeAll(() => {
  const c = tinyConfig({ sharedClassifier: true });
  writeFileSync(f('tiny.bin'), encodeLlama2c(c, tinyWeights(c) as Map<string, DenseTensor>));
  writeFileSync(f('tok.bin'), encodeTokenizerBin(syntheticVocab(300)));
  writeFileSync(f('text.txt'), 'the cat and the dog ran in the sun and then the cat sat on a mat. a bird sang.\n\n'.repeat(20));
  writeFileSync(f('small.json'), JSON.stringify({ calibration: { tokens: 300, ctx: 64 } }));
  writeFileSync(f('tune.json'), JSON.stringify({ calibration: { tokens: 200, ctx: 64, tune: { batch: 2, ctx: 32 } } }));
});

describe('quantize with depth', () => {
  it('--depth 2 (rtn without text, gptq with --calibrate) saves a multi-trit folder that eval reads; GGUF TQ2_0 refuses it', () => {
    const q = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--depth', '2', '-o', f('d2'), '--json');
    expect(q.code, q.err).toBe(0);
    const rep = JSON.parse(q.out);
    const wq = rep.layers.find((l: { name: string }) => l.name === 'layers.0.attention.wq');
    expect(wq).toMatchObject({ depth: 2, quantizer: 'rtn', dense: false });
    const g = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('small.json'), '--depth', '3', '--calibrate', f('text.txt'), '-o', f('d3'), '--json');
    expect(g.code, g.err).toBe(0);
    expect(JSON.parse(g.out).layers.find((l: { name: string }) => l.name === 'layers.1.feed_forward.w2')).toMatchObject({ depth: 3, quantizer: 'gptq' });
    const e = cli('eval', f('d2'), '--text', f('text.txt'), '--ctx', '32', '--limit', '2', '--json');
    expect(e.code, e.err).toBe(0);
    expect(JSON.parse(e.out).perplexity).toBeGreaterThan(1);
    const x = cli('export-gguf', f('d2'), '-o', f('d2.gguf'), '--type', 'tq2_0');
    expect(x.code).toBe(2);
    expect(x.err).toMatch(/E_UNSUPPORTED: GGUF export of multi-trit weights.*one trit per weight/);
    expect(cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--depth', '7', '-o', f('bad')).code).toBe(2);
  }, 60_000);

  it('--auto-bits writes a plan with per-layer depths within the budget, which quantize --plan reproduces', () => {
    const a = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('tune.json'), '--quantizer', 'rtn', '--auto-bits', '2.4', '--calibrate', f('text.txt'), '--plan-out', f('auto.json'), '-o', f('auto'), '--json');
    expect(a.code, a.err).toBe(0);
    const rep = JSON.parse(a.out);
    expect(rep.auto.bits).toBeLessThanOrEqual(2.4);
    const plan = validatePlan(JSON.parse(readFileSync(f('auto.json'), 'utf8')));
    const depths = rep.layers.filter((l: { dense: boolean }) => !l.dense).map((l: { depth: number }) => l.depth);
    expect(new Set(depths).size).toBeGreaterThan(1);
    const trits = rep.layers.filter((l: { dense: boolean }) => !l.dense).reduce((s: number, l: { depth: number; shape: number[] }) => s + l.depth * l.shape[0]! * l.shape[1]!, 0);
    const n = rep.layers.filter((l: { dense: boolean }) => !l.dense).reduce((s: number, l: { shape: number[] }) => s + l.shape[0]! * l.shape[1]!, 0);
    expect((1.6 * trits) / n).toBeCloseTo(rep.auto.bits, 9);
    const b = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('auto.json'), '-o', f('again'), '--json');
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out).layers.map((l: { depth: number }) => l.depth)).toEqual(rep.layers.map((l: { depth: number }) => l.depth));
    expect(plan.layers!.length).toBeGreaterThan(0);
    const no = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--auto-bits', '2.5', '-o', f('x'));
    expect(no.code).toBe(2);
    expect(no.err).toMatch(/E_ARG: auto-tuning measures sensitivity on calibration text/);
    expect(cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--auto-bits', '-1', '--calibrate', f('text.txt'), '-o', f('x')).code).toBe(1);
  }, 90_000);

  it('--auto-bits --granularity column writes per-column depth maps within the budget (maps counted); the folder stores only the kept trits and reloads bit for bit', () => {
    const a = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('small.json'), '--act-order', '--auto-bits', '2.5', '--granularity', 'column', '--calibrate', f('text.txt'), '--plan-out', f('col.json'), '-o', f('col'), '--json');
    expect(a.code, a.err).toBe(0);
    const rep = JSON.parse(a.out);
    expect(rep.columns.bits).toBeLessThanOrEqual(2.5 + 1e-9);
    expect(rep.columns.bits).toBeGreaterThan(2.3);
    expect(rep.columns.map_bits).toBeGreaterThan(0);
    const plan = validatePlan(JSON.parse(readFileSync(f('col.json'), 'utf8')));
    const maps = plan.layers!.filter((r) => r.columnDepths);
    expect(maps.length).toBeGreaterThan(0);
    // the trits in the maps (and uniform rules) are what the report counts
    const layers = rep.layers.filter((l: { dense: boolean }) => !l.dense);
    let trits = 0,
      n = 0,
      mapBits = 0;
    for (const l of layers) {
      const r = plan.layers!.find((x) => x.match === l.name)!;
      n += l.shape[0] * l.shape[1];
      if (r.columnDepths) mapBits += l.shape[1] * Math.ceil(Math.log2(r.depth! + 1));
      trits += r.columnDepths ? l.shape[0] * [...r.columnDepths].reduce((s, x) => s + Number(x), 0) : l.depth * l.shape[0] * l.shape[1];
      if (r.columnDepths) expect(r.columnDepths.length).toBe(l.shape[1]);
    }
    expect((1.6 * trits) / n).toBeCloseTo(rep.columns.trit_bits, 9);
    expect(mapBits / n).toBeCloseTo(rep.columns.map_bits, 9);
    expect(rep.columns.weights_at_depth.reduce((s: number, x: number) => s + x, 0)).toBe(n);
    // the same plan again gives the same model (eval reads the folder with its tryte-cells layers)
    const b = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('col.json'), '--calibrate', f('text.txt'), '-o', f('col2'), '--json');
    expect(b.code, b.err).toBe(0);
    const e1 = cli('eval', f('col'), '--text', f('text.txt'), '--ctx', '32', '--limit', '2', '--json');
    const e2 = cli('eval', f('col2'), '--text', f('text.txt'), '--ctx', '32', '--limit', '2', '--json');
    expect(e1.code, e1.err).toBe(0);
    expect(JSON.parse(e1.out).perplexity).toBe(JSON.parse(e2.out).perplexity);
    const w = readFileSync(join(f('col'), 'model.safetensors'));
    expect(w.toString('latin1', 0, Math.min(w.length, 200_000))).toContain('tryte-cells');
    const no = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--depth', '2', '--granularity', 'column', '--calibrate', f('text.txt'), '-o', f('x'));
    expect(no.code).toBe(2);
    expect(no.err).toMatch(/E_ARG: --granularity column chooses depths under a bit budget/);
    expect(cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--granularity', 'row', '-o', f('x')).code).toBe(1);
  }, 90_000);

  it('--auto-bits with --tune-trits re-chooses the trits: the report counts them, the folder loads; a trit lr without --tune-trits is refused', () => {
    const a = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--plan', f('tune.json'), '--quantizer', 'rtn', '--auto-bits', '2.4', '--calibrate', f('text.txt'), '--tune-steps', '20', '--tune-trits', '--trit-lr', '0.05', '--tune-lr', '0.02', '-o', f('tt'), '--json');
    expect(a.code, a.err).toBe(0);
    const rep = JSON.parse(a.out);
    expect(rep.plan.calibration.tune).toEqual({ batch: 2, ctx: 32, steps: 20, trits: true, tritLr: 0.05, lr: 0.02 });
    expect(rep.tune.steps).toBe(20);
    expect(rep.tune.changed).toBeGreaterThan(0);
    expect(rep.tune.changed).toBeLessThan(rep.tune.weightsTuned);
    expect(rep.auto.bits).toBeLessThanOrEqual(2.4);
    const e = cli('eval', f('tt'), '--text', f('text.txt'), '--ctx', '32', '--limit', '2', '--json');
    expect(e.code, e.err).toBe(0);
    expect(JSON.parse(e.out).perplexity).toBeGreaterThan(1);
    const bad = cli('quantize', f('tiny.bin'), '--tokenizer', f('tok.bin'), '--depth', '2', '--calibrate', f('text.txt'), '--trit-lr', '0.05', '-o', f('x'));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/E_ARG: tune.tritLr needs tune.trits: true/);
  }, 90_000);
});
