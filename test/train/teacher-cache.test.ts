/**
 * Cached distillation (src/train/teacher-cache.ts, ops/cross-entropy.ts `soft`, data.ts
 * alignedBatch): the soft-target KL's gradient against finite differences; with k = V the
 * cached form equals online distillation from the teacher's logits; top-k selection against a
 * sort; aligned windows visit every window once per epoch; and a trainer run with the cache
 * equals (up to f32 rounding) the same run with the teacher online, on one thread and on two,
 * and resumes bit-identically.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alignedBatch, alignedWindowCount } from '../../src/train/data.js';
import { finetune, type FinetuneOptions } from '../../src/train/finetune.js';
import { TrainModel } from '../../src/train/llama-train.js';
import { headLoss } from '../../src/train/ops/cross-entropy.js';
import { Tape } from '../../src/train/tape.js';
import { TeacherCache, teacherTopK } from '../../src/train/teacher-cache.js';
import { Tensor } from '../../src/train/tensor.js';
import { f64, gradCheck, p64 } from '../helpers/gradcheck.js';
import { syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-tcache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Top-k soft targets of teacher logits t [N, V] (by a full sort: the reference). */
function softOf(t: Float64Array, N: number, V: number, k: number) {
  const idx = new Int32Array(N * k), lp = new Float32Array(N * k);
  for (let n = 0; n < N; n++) {
    const row = Array.from(t.subarray(n * V, (n + 1) * V));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    const order = row.map((x, v) => [x, v] as const).sort((a, b) => b[0] - a[0]);
    for (let i = 0; i < k; i++) {
      idx[n * k + i] = order[i]![1];
      lp[n * k + i] = order[i]![0] - lse;
    }
  }
  return { k, idx, lp };
}

describe('cached distillation targets', () => {
  it('soft-target KL: gradient checks against finite differences (top-k, temperature 1 and 2, an unscored row)', () => {
    const N = 6, D = 5, V = 9;
    const h = p64(N * D, [N, D], 30, 1, 'h');
    const w = p64(V * D, [V, D], 31, 1, 'w');
    const soft = softOf(f64(N * V, 32, 2), N, V, 4);
    // τ = 1 takes the fast path (the KL's softmax folded into the cross-entropy's), τ = 2 the general one
    for (const temperature of [1, 2]) {
      const r = gradCheck((t) => headLoss(t, h, w, [1, 2, 3, -1, 5, 8], { chunk: 4, distill: { soft, alpha: 0.7, temperature } }).loss, [h, w]);
      expect(r.checked).toBeGreaterThan(0);
      expect(r.maxRelErr, `τ ${temperature}: ${r.worst}`).toBeLessThan(1e-6);
    }
  });

  it('with k = V the cached targets give the online teacher’s loss and gradients', () => {
    const N = 5, D = 4, V = 7;
    const hidden = f64(N * D, 40), weight = f64(V * D, 41);
    const t = new Float64Array(N * V);
    for (let n = 0; n < N; n++) for (let v = 0; v < V; v++) for (let d = 0; d < D; d++) t[n * V + v]! += hidden[n * D + d]! * weight[v * D + d]!;
    const targets = [3, 0, -1, 6, 2];
    const run = (distill: Parameters<typeof headLoss>[4]) => {
      const h = p64(N * D, [N, D], 42, 1, 'h'), w = p64(V * D, [V, D], 43, 1, 'w');
      const tape = new Tape(true);
      const r = headLoss(tape, h, w, targets, distill);
      tape.backward(r.loss);
      return { loss: r.loss.data[0]!, kl: r.kl, gh: h.grad!, gw: w.grad! };
    };
    for (const temperature of [1, 1.5]) {
      const online = run({ distill: { hidden, weight, alpha: 0.5, temperature } });
      const cached = run({ distill: { soft: softOf(t, N, V, V), alpha: 0.5, temperature } });
      expect(online.kl).toBeGreaterThan(0.01);
      // lp is stored in f32, so agreement is to f32 precision
      expect(cached.kl).toBeCloseTo(online.kl, 5);
      expect(cached.loss).toBeCloseTo(online.loss, 5);
      for (let i = 0; i < online.gh.length; i++) expect(cached.gh[i]).toBeCloseTo(online.gh[i]!, 5);
      for (let i = 0; i < online.gw.length; i++) expect(cached.gw[i]).toBeCloseTo(online.gw[i]!, 5);
    }
    const online = run({ distill: { hidden, weight, alpha: 0.5, temperature: 1.5 } });
    // a truncated (k < V) teacher is a different target: the KL changes
    const top2 = run({ distill: { soft: softOf(t, N, V, 2), alpha: 0.5, temperature: 1.5 } });
    expect(Math.abs(top2.kl - online.kl)).toBeGreaterThan(1e-3);
  });

  it('teacherTopK picks the k largest logits (against a sort) with their log-probabilities', () => {
    const config = tinyConfig({ dim: 16, hiddenDim: 24, nHeads: 2, nKvHeads: 1, nLayers: 1, vocabSize: 97, sharedClassifier: true, seqLen: 32 });
    const teacher = TrainModel.fromWeights(config, tinyWeights(config, 5, 0.5), { mode: 'frozen' });
    const B = 2, T = 8, k = 6;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % 97);
    const batch = { ids, targets: new Int32Array(B * T), B, T };
    const got = teacherTopK(teacher, batch, k);
    const tape = new Tape(false);
    const h = teacher.hidden(tape, batch, { recomputeAttention: true }), W = teacher.headWeight(tape);
    const logits = new Float64Array(B * T * 97);
    for (let n = 0; n < B * T; n++) for (let v = 0; v < 97; v++) for (let d = 0; d < 16; d++) logits[n * 97 + v]! += h.data[n * 16 + d]! * W.data[v * 16 + d]!;
    const ref = softOf(logits, B * T, 97, k);
    for (let n = 0; n < B * T; n++) {
      const a = [...got.idx.subarray(n * k, (n + 1) * k)].sort((x, y) => x - y), b = [...ref.idx.subarray(n * k, (n + 1) * k)].sort((x, y) => x - y);
      expect(a, `row ${n}`).toEqual(b);
      for (let i = 0; i < k; i++) {
        const j = [...ref.idx.subarray(n * k, (n + 1) * k)].indexOf(got.idx[n * k + i]!);
        expect(got.lp[n * k + i]).toBeCloseTo(ref.lp[n * k + j]!, 4);
      }
    }
    expect(() => teacherTopK(teacher, batch, 0)).toThrow(/top-k/);
  });

  it('aligned windows: each window once per epoch, seeded, rows hold the window’s tokens', () => {
    const N = 1000, T = 32, B = 3;
    const tokens = Int32Array.from({ length: N }, (_, i) => (i * 7919) % 500);
    const W = alignedWindowCount(N, T);
    expect(W).toBe(31);
    const seen: number[] = [];
    for (let step = 0; step * B < 2 * W; step++) {
      const b = alignedBatch(tokens, B, T, 1, 9, step * B);
      for (let r = 0; r < B; r++) {
        const w = b.windows[r]!;
        expect(b.ids[r * T]).toBe(1);
        expect([...b.ids.subarray(r * T + 1, (r + 1) * T)]).toEqual([...tokens.subarray(w * T + 1, w * T + T)]);
        expect([...b.targets.subarray(r * T, (r + 1) * T)]).toEqual([...tokens.subarray(w * T + 1, w * T + T + 1)]);
        seen.push(w);
      }
    }
    expect(new Set(seen.slice(0, W)).size).toBe(W);
    expect(new Set(seen.slice(W, 2 * W)).size).toBe(W);
    expect(seen.slice(0, W)).not.toEqual(seen.slice(W, 2 * W));
    expect(alignedBatch(tokens, B, T, 1, 9, 6).windows).toEqual(alignedBatch(tokens, B, T, 1, 9, 6).windows);
    expect(alignedBatch(tokens, B, T, 1, 10, 0).windows).not.toEqual(alignedBatch(tokens, B, T, 1, 9, 0).windows);
  });

  it('TeacherCache keeps a window’s targets once and hands them back', () => {
    const c = new TeacherCache(4, 2, 3);
    const b = c.attach({ ids: new Int32Array(4), targets: new Int32Array(4), B: 2, T: 2, windows: Int32Array.of(3, 1) });
    expect([...b.soft.have]).toEqual([0, 0]);
    b.soft.idx.set([1, 2, 3, 4, 5, 6], 6);
    b.soft.lp.fill(-1);
    b.soft.have[1] = 1;
    c.store(b);
    expect([c.filled, ...c.have]).toEqual([1, 0, 1, 0, 0]);
    const again = c.attach({ ids: new Int32Array(4), targets: new Int32Array(4), B: 2, T: 2, windows: Int32Array.of(1, 0) });
    expect([...again.soft.have]).toEqual([1, 0]);
    expect([...again.soft.idx.subarray(0, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('trainer with cached distillation', () => {
  const tok = syntheticVocab(300);
  const words = ['the', 'cat', 'and', 'dog', 'ran', 'in', 'sun', 'then', 'sat', 'on', 'a', 'mat', 'red', 'big', 'hat'];
  let s = 5;
  const text = Array.from({ length: 40 }, () => Array.from({ length: 24 }, () => words[((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % words.length]).join(' ') + '.').join('\n\n');
  const config = tinyConfig({ dim: 32, hiddenDim: 48, nHeads: 4, nKvHeads: 2, nLayers: 2, sharedClassifier: true, seqLen: 64 });
  const src = () => ({ config, weights: tinyWeights(config, 11, 0.1), tokenizer: tok });
  // 8 steps of 3 rows: the ~30 windows of 16 tokens are partly revisited only after the first epoch
  const base: FinetuneOptions = { mode: 'qat', steps: 8, lr: 3e-3, batch: 3, ctx: 16, warmup: 2, evalEvery: 4, evalChunks: 4, seed: 7, distill: 'kl', distillAlpha: 0.6 };
  const V = 300;

  it('a top-k without KL distillation, or outside 1..V, is a typed error naming the flag', async () => {
    await expect(finetune(src(), text, { ...base, distill: undefined, distillTopK: 8 })).rejects.toMatchObject({ code: 'E_ARG', message: expect.stringContaining('--distill-top-k') });
    await expect(finetune(src(), text, { ...base, distillTopK: V + 1 })).rejects.toMatchObject({ code: 'E_ARG', message: expect.stringContaining('--distill-top-k') });
    await expect(finetune(src(), text, { ...base, distillTopK: 2.5 })).rejects.toMatchObject({ code: 'E_ARG' });
  });

  it('k = V equals the online teacher on the same aligned windows; one and two threads agree; resume is bit-identical', async () => {
    const online = await finetune(src(), text, { ...base, windows: 'aligned' });
    const cached = await finetune(src(), text, { ...base, distillTopK: V });
    const two = await finetune(src(), text, { ...base, distillTopK: V, threads: 2 });
    const vl = (r: typeof online) => r.result.history.map((h) => h.val_loss);
    expect(vl(online).length).toBe(3);
    expect(Math.abs(vl(online)[2]! - vl(online)[0]!)).toBeGreaterThan(0.01);
    for (const r of [cached, two]) {
      for (let i = 0; i < 3; i++) expect(Math.abs(vl(r)[i]! - vl(online)[i]!)).toBeLessThan(1e-4);
      expect(Math.abs(r.result.final_loss - online.result.final_loss)).toBeLessThan(1e-4);
    }
    // random windows are a different run
    const random = await finetune(src(), text, base);
    expect(Math.abs(random.result.final_loss - online.result.final_loss)).toBeGreaterThan(1e-4);
    // interrupted after a checkpoint and resumed: the cache is rebuilt, the result is the same
    const o = { ...base, distillTopK: 16, threads: 2 };
    const whole = await finetune(src(), text, o);
    const ckpt = join(dir, 'kd.safetensors');
    await expect(finetune(src(), text, { ...o, checkpoint: ckpt, checkpointEvery: 3, afterStep: (st) => { if (st === 5) throw new Error('simulated crash'); } })).rejects.toThrow('simulated crash');
    const resumed = await finetune(src(), text, { ...o, checkpoint: ckpt, checkpointEvery: 3 });
    expect(resumed.result.resumed_from).toBe(3);
    expect(resumed.model.weights).toEqual(whole.model.weights);
    expect(resumed.model.plan).toMatchObject({ finetune: { distill: 'kl', topK: 16, windows: 'aligned' } });
  });
});
