/**
 * Quantizers for depth d (issue 6): greedy residual, tryte rtn and gptq on one layer with
 * correlated calibration inputs; multi-trit models end to end (plans with depth, sequential
 * calibration, ref vs wasm, no stacking of multi-trit parts, save → load bit for bit, GGUF
 * refusal); the per-layer depth auto-tuner; and stories260K at depth 3 against f32.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluatePerplexity } from '../../src/eval/perplexity.js';
import { Model } from '../../src/nn/model.js';
import { allocateBits, autoDepth, BITS_PER_TRIT } from '../../src/quant/auto-depth.js';
import { outputError, quantizeGptq } from '../../src/quant/gptq.js';
import { collectHessians } from '../../src/quant/hessian.js';
import { validatePlan } from '../../src/quant/plan.js';
import { quantizeGreedyResidual } from '../../src/quant/residual.js';
import { quantizeTryteRtn } from '../../src/quant/tryte-grid.js';
import { MultiTritTensor, tryteMax } from '../../src/tensor/multi-trit-tensor.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { correlatedHessian as hessianOf } from '../helpers/hessian.js';
import { promptLogits, syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';
import { sharedFile } from '../helpers/shared-data.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-mtq-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** H = XᵀX/n for n tokens whose columns are correlated (x = A·z, z standard normal), uneven column activity. */
const correlatedHessian = (cols: number, n: number, seed: number) => hessianOf(cols, n, seed, { k: Math.max(4, cols >> 2), period: 5 });

const rel = (w: Float32Array, m: MultiTritTensor, rows: number, cols: number, H: Float64Array) => outputError(w, m.toDense(), rows, cols, H) / outputError(w, null, rows, cols, H);

describe('quantizers for depth d (one layer)', () => {
  const rows = 24,
    cols = 96;
  const w = randomFloats(rows * cols, 11, 0.05);
  const H = correlatedHessian(cols, 400, 5);

  it('greedy residual: d planes with their own scales; the error falls with every trit', () => {
    let prev = Infinity;
    for (let d = 1; d <= 4; d++) {
      const m = quantizeGreedyResidual(w, rows, cols, d, { base: 'twn' });
      expect(m.depth).toBe(d);
      expect(m.form).toBe(d === 1 ? 'tryte' : 'residual');
      const e = rel(w, m, rows, cols, H);
      expect(e).toBeLessThan(prev);
      prev = e;
    }
  });

  it('tryte rtn: every weight is s·n with |n| ≤ (3^d−1)/2, and each trit cuts the error', () => {
    let prev = Infinity;
    for (let d = 1; d <= 4; d++) {
      const m = quantizeTryteRtn(w, rows, cols, d);
      expect(m.form).toBe('tryte');
      const n = m.toIntegers();
      const L = tryteMax(d);
      for (let i = 0; i < n.length; i++) expect(Math.abs(n[i]!)).toBeLessThanOrEqual(L);
      const e = rel(w, m, rows, cols, H);
      expect(e).toBeLessThan(prev * (d === 1 ? 1 : 0.5));
      prev = e;
    }
  });

  it('gptq beats rtn and greedy by a wide margin on correlated inputs, per row and per group', () => {
    for (const d of [1, 2, 3]) {
      for (const groupSize of [0, 32]) {
        const g = quantizeGptq(w, rows, cols, d, H, { groupSize });
        const r = rel(w, quantizeTryteRtn(w, rows, cols, d, { groupSize }), rows, cols, H);
        const gr = rel(w, quantizeGreedyResidual(w, rows, cols, d, { groupSize }), rows, cols, H);
        expect(g.relOutputError).toBeCloseTo(rel(w, g.tensor, rows, cols, H), 6);
        expect(g.relOutputError, `d=${d} g=${groupSize}`).toBeLessThan(0.75 * Math.min(r, gr));
        expect(g.tensor.groupSize).toBe(groupSize);
      }
    }
    const res = quantizeGptq(w, rows, cols, 2, H, { grid: 'residual' });
    expect(res.tensor.depth).toBe(2);
    expect(res.relOutputError).toBeLessThan(rel(w, quantizeGreedyResidual(w, rows, cols, 2), rows, cols, H));
  });

  it('bad input is a typed error', () => {
    expect(() => quantizeGptq(w, rows, cols, 2, new Float64Array(5))).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => quantizeTryteRtn(w, rows, cols, 2, { groupSize: 48 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    const bad = Float32Array.from(w);
    bad[7] = NaN;
    expect(() => quantizeGreedyResidual(bad, rows, cols, 2)).toThrow(expect.objectContaining({ code: 'E_NONFINITE' }));
    expect(() => validatePlan({ depth: 7 })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => validatePlan({ layers: [{ match: '*', depth: 0 }] })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });
});

const vocab = syntheticVocab(300);
const TEXT = 'the cat and the dog ran in the sun and then the cat sat on a mat. a bird sang to the dog. '.repeat(30);

describe('multi-trit models', () => {
  it('Hessians of a few layers (the pass stops after the last of them) equal those of a full pass', async () => {
    const c = tinyConfig();
    const m = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const tokens = vocab.encode(TEXT, { bos: false }).slice(0, 200);
    const all = await collectHessians(c, m.weights, m.backend, tokens, { ctx: 64, bos: 1 });
    const some = await collectHessians(c, m.weights, m.backend, tokens, { ctx: 64, bos: 1, names: ['layers.0.attention.wo', 'layers.0.feed_forward.w3'] });
    expect([...some.keys()]).toEqual(['layers.0.attention.wo', 'layers.0.feed_forward.w3']);
    expect(some.get('layers.0.feed_forward.w3')!.h).toEqual(all.get('layers.0.feed_forward.w1')!.h);
    expect(some.get('layers.0.attention.wo')!.h).toEqual(all.get('layers.0.attention.wo')!.h);
    expect(some.get('layers.0.attention.wo')!.tokens).toBe(all.get('layers.1.feed_forward.w2')!.tokens);
    await m.dispose();
  });

  it('gptq at depth 2 (sequential calibration): deeper layers, no stacking, ref = wasm, saved and loaded bit for bit, GGUF refuses', async () => {
    const c = tinyConfig();
    const f32 = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const plan = { quantizer: 'gptq', depth: 2, layers: [{ match: 'layers.1.attention.wk', depth: 1 }, { match: 'layers.1.feed_forward.w2', depth: 3, quantizer: 'rtn' }], calibration: { tokens: 600, ctx: 64 } };
    const q = await f32.quantize(plan, { calibrationText: TEXT });
    const wq = q.weights.get('layers.0.attention.wq') as MultiTritTensor;
    expect(wq).toBeInstanceOf(MultiTritTensor);
    expect(wq.depth).toBe(2);
    expect((q.weights.get('layers.1.feed_forward.w2') as MultiTritTensor).depth).toBe(3);
    expect(q.info.layers!.find((l) => l.name === 'layers.1.attention.wk')!.depth).toBe(1);
    // a stack with a multi-trit part runs its parts one by one
    expect(q.llama.layers[0]!.qkv.stacked).toBeNull();
    expect(q.llama.layers[0]!.qkv.parts).toHaveLength(3);
    // gptq beats rtn on the calibration text (the same depths)
    const rtn = await f32.quantize({ ...plan, quantizer: 'rtn' });
    const nll = async (m: Model) => (await evaluatePerplexity(m, TEXT, { protocol: 'chunks', ctx: 64, limit: 6 })).mean_nll;
    const base = await nll(f32);
    expect((await nll(q)) - base).toBeLessThan(0.8 * ((await nll(rtn)) - base));

    const ids = [1, 5, 9, 40, 7, 3, 77, 12];
    const ref = await promptLogits(q, ids);
    const wasm = await Model.fromCheckpoint({ config: q.config, weights: q.weights, activations: q.activations, tokenizer: vocab }, { backend: 'wasm', threads: 1 });
    const wl = await promptLogits(wasm, ids);
    for (let i = 0; i < ids.length; i++) for (let j = 0; j < ref[i]!.length; j += 7) expect(Math.abs(wl[i]![j]! - ref[i]![j]!)).toBeLessThan(1e-3);
    expect(wasm.llama.layers[1]!.gateUp.stacked).toBeNull();
    await wasm.dispose();

    await q.save(join(dir, 'm'));
    const back = await Model.load(join(dir, 'm'), { backend: 'ref' });
    for (const [name, t] of q.weights) {
      if (!(t instanceof MultiTritTensor)) continue;
      const u = back.weights.get(name) as MultiTritTensor;
      expect(u.depth, name).toBe(t.depth);
      for (let p = 0; p < t.depth; p++) {
        expect(u.planes[p]!.plus).toEqual(t.planes[p]!.plus);
        expect(u.planes[p]!.minus).toEqual(t.planes[p]!.minus);
        expect(u.planes[p]!.scales).toEqual(t.planes[p]!.scales);
      }
    }
    expect(await promptLogits(back, ids)).toEqual(ref);
    expect(() => q.exportGguf(join(dir, 'x.gguf'), 'tq2_0')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/one trit per weight/) }));
    q.exportGguf(join(dir, 'x.gguf'), 'f32');
    expect(readFileSync(join(dir, 'x.gguf')).subarray(0, 4).toString()).toBe('GGUF');
    await back.dispose();
    await f32.dispose();
  }, 60_000);

  it('auto-tuning: per-layer depths within the bit budget, deeper where it matters; re-allocation; perplexity budget', async () => {
    const c = tinyConfig();
    const m = await Model.fromCheckpoint({ config: c, weights: tinyWeights(c), activations: new Map(), tokenizer: vocab }, { backend: 'ref' });
    const tokens = vocab.encode(TEXT, { bos: false }).slice(0, 400);
    const base = { quantizer: 'rtn' };
    const r = await autoDepth(m.config, m.weights, m.backend, base, { bits: 2.5, tokens, bos: 1, ctx: 64, evalTokens: 200 });
    expect(r.layers).toHaveLength(14);
    expect(r.bits).toBeLessThanOrEqual(2.5 + 1e-9);
    expect(r.bits).toBeGreaterThan(2.5 - 1.6);
    for (const l of r.layers) for (let d = 1; d < 6; d++) expect(l.sensitivity[d]!).toBeLessThanOrEqual(l.sensitivity[d - 1]!);
    const plan = validatePlan(r.plan);
    const q = await m.quantize(plan);
    for (const l of r.layers) {
      const t = q.weights.get(l.name)!;
      expect(t instanceof MultiTritTensor ? t.depth : 1, l.name).toBe(l.depth);
    }
    // a larger budget never makes a layer shallower; the extremes are all 1 and all 6 trits
    const more = allocateBits(r.layers, base, 4.8);
    for (let i = 0; i < r.layers.length; i++) expect(more.layers[i]!.depth).toBeGreaterThanOrEqual(r.layers[i]!.depth);
    expect(allocateBits(r.layers, base, BITS_PER_TRIT).layers.every((l) => l.depth === 1)).toBe(true);
    expect(allocateBits(r.layers, base, 6 * BITS_PER_TRIT).layers.every((l) => l.depth === 6)).toBe(true);
    expect(() => allocateBits(r.layers, base, 1)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    // perplexity budget: the plan applied in full is measured and stays within it
    const p = await autoDepth(m.config, m.weights, m.backend, base, { maxIncrease: 0.02, tokens, bos: 1, ctx: 64, evalTokens: 200, measureDepth: 2 });
    expect(p.measuredNll).toBeDefined();
    expect(p.measuredNll! - p.baseNll).toBeLessThanOrEqual(Math.log(1.02) + 1e-12);
    await expect(autoDepth(m.config, m.weights, m.backend, base, { tokens, bos: 1 })).rejects.toMatchObject({ code: 'E_ARG' });
    await m.dispose();
  }, 90_000);
});

describe('stories260K', () => {
  it('tryte rtn at depth 3 stays within 2.5 % of f32 on the 6-story protocol; depth 1 does not', async () => {
    const ck = sharedFile('stories260K.bin');
    const tk = sharedFile('tok512.bin');
    const tx = sharedFile('tinystories_val_subset.txt');
    if (!ck || !tk || !tx) return;
    const m = await Model.load(ck, { tokenizer: tk, backend: 'ref' });
    const text = readFileSync(tx, 'utf8');
    const ppl = async (x: Model) => (await evaluatePerplexity(x, text, { protocol: 'documents', docStart: /^(Once upon a time|One day)/, limit: 6, ctx: 512 })).perplexity;
    const f = await ppl(m);
    expect(f).toBeCloseTo(3.3372, 3);
    const d3 = await ppl(await m.quantize({ quantizer: 'rtn', depth: 3 }));
    expect(d3 / f - 1).toBeGreaterThan(0);
    expect(d3 / f - 1).toBeLessThan(0.025);
    expect(await ppl(await m.quantize({ quantizer: 'rtn', depth: 1 }))).toBeGreaterThan(50);
    await m.dispose();
  }, 240_000);
});
