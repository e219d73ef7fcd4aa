/**
 * Data-parallel training (src/train/parallel.ts, `--threads`): the rows of each micro-batch are
 * split between the main thread and workers and the gradients added. Two threads follow the
 * one-thread run up to f32 rounding (QAT, LoRA over an already ternary base, KL distillation),
 * and a two-thread run is bit-reproducible, resumed from a checkpoint included. Needs the built
 * worker (dist/train/train-worker.js; `npm test` builds first).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DenseTensor } from '../../src/tensor/dense-tensor.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { finetune, type FinetuneOptions } from '../../src/train/finetune.js';
import { syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-parallel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tok = syntheticVocab(300);
const words = ['the', 'cat', 'and', 'dog', 'ran', 'in', 'sun', 'then', 'sat', 'on', 'a', 'mat', 'red', 'big', 'hat'];
let s = 3;
const text = Array.from({ length: 60 }, () => Array.from({ length: 24 }, () => words[((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % words.length]).join(' ') + '.').join('\n\n');
const config = tinyConfig({ dim: 32, hiddenDim: 48, nHeads: 4, nKvHeads: 2, nLayers: 2, sharedClassifier: true, seqLen: 64 });
const f32 = () => ({ config, weights: tinyWeights(config, 11, 0.1), tokenizer: tok });
function ternary() {
  const m = f32();
  for (const [k, t] of m.weights) {
    const d = t as DenseTensor;
    if (k.includes('.attention.') || k.includes('.feed_forward.')) m.weights.set(k, quantize(d.data, d.shape[0]!, d.shape[1]!, 'twn').tensor);
  }
  return m;
}
const base: FinetuneOptions = { mode: 'qat', steps: 6, lr: 3e-3, batch: 3, ctx: 16, warmup: 2, evalEvery: 3, evalChunks: 4, seed: 7 };
const losses = (r: Awaited<ReturnType<typeof finetune>>) => r.result.history.map((h) => h.val_loss);

describe('data-parallel training (--threads)', () => {
  it('two threads match one thread up to f32 rounding: QAT, LoRA over a ternary base, KL distillation', async () => {
    const cases: [string, () => ReturnType<typeof f32>, FinetuneOptions][] = [
      ['qat', f32, base],
      ['lora', ternary, { ...base, mode: 'lora', rank: 4, lr: 1e-2 }],
      ['qat+kl', f32, { ...base, distill: 'kl', distillAlpha: 0.5 }],
    ];
    for (const [name, src, o] of cases) {
      const one = await finetune(src(), text, o);
      const two = await finetune(src(), text, { ...o, threads: 2 });
      expect([one.result.threads, two.result.threads], name).toEqual([1, 2]);
      const [a, b] = [losses(one), losses(two)];
      expect(b.length, name).toBe(3);
      // training moved the loss (so the comparison is not of two untrained models) …
      expect(Math.abs(a[2]! - a[0]!), name).toBeGreaterThan(0.01);
      // … and both thread counts moved it the same way
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `${name} eval ${i}`).toBeLessThan(1e-4);
      expect(Math.abs(one.result.final_loss - two.result.final_loss), name).toBeLessThan(1e-4);
    }
  });

  it('a two-thread run is bit-reproducible, and resuming it from a checkpoint ends bit-identical', async () => {
    const o = { ...base, threads: 2 };
    const first = await finetune(f32(), text, o);
    const again = await finetune(f32(), text, o);
    expect(again.model.weights).toEqual(first.model.weights);
    const ckpt = join(dir, 'par.safetensors');
    await expect(finetune(f32(), text, { ...o, checkpoint: ckpt, checkpointEvery: 2, afterStep: (st) => { if (st === 5) throw new Error('simulated crash'); } })).rejects.toThrow('simulated crash');
    const resumed = await finetune(f32(), text, { ...o, checkpoint: ckpt, checkpointEvery: 2 });
    expect(resumed.result.resumed_from).toBe(4);
    expect(resumed.model.weights).toEqual(first.model.weights);
    expect(resumed.result.final_loss).toBe(first.result.final_loss);
  });
});
