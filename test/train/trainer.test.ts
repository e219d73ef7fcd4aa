/**
 * The trainer on a tiny model: training lowers the validation loss, a run interrupted (crash after
 * a checkpoint, or a stop signal) and resumed ends bit-identical to an uninterrupted one,
 * checkpoints of another run or with corrupt contents are refused with typed errors, and the
 * schedule and optimizer follow their formulas.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { splitText, trainBatch, validationBatches } from '../../src/train/data.js';
import { finetune, type FinetuneOptions } from '../../src/train/finetune.js';
import { AdamW, learningRate } from '../../src/train/optimizer.js';
import { param } from '../../src/train/tensor.js';
import { syntheticVocab, tinyConfig, tinyWeights } from '../helpers/models.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tok = syntheticVocab(300);
const words = ['the', 'cat', 'and', 'dog', 'ran', 'in', 'sun', 'then', 'sat', 'on', 'a', 'mat', 'red', 'big', 'hat'];
function makeText(seed: number, paras: number): string {
  let s = seed;
  const out: string[] = [];
  for (let p = 0; p < paras; p++) {
    const w: string[] = [];
    for (let i = 0; i < 24; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      w.push(words[(s >>> 8) % words.length]!);
    }
    out.push(w.join(' ') + '.');
  }
  return out.join('\n\n');
}
const text = makeText(5, 60);
const config = tinyConfig({ dim: 32, hiddenDim: 48, nHeads: 4, nKvHeads: 2, nLayers: 2, sharedClassifier: true, seqLen: 64 });
const source = () => ({ config, weights: tinyWeights(config, 11, 0.1), tokenizer: tok });
const base: FinetuneOptions = { mode: 'qat', steps: 6, lr: 3e-3, batch: 2, ctx: 16, warmup: 2, evalEvery: 3, evalChunks: 4, seed: 7 };

function paramsOf(r: Awaited<ReturnType<typeof finetune>>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of r.model.weights) {
    if (!('data' in t) && !(t instanceof TernaryTensor)) throw new Error(`unexpected multi-trit tensor ${k}`);
    out.set(k, 'data' in t ? t.data : Float32Array.from([...t.plus, ...t.minus].map(Number).concat([...t.scales])));
  }
  return out;
}

describe('trainer', () => {
  it('QAT lowers the validation loss of a tiny model', async () => {
    const r = await finetune(source(), text, { ...base, steps: 30, evalEvery: 30 });
    const [first, last] = [r.result.history[0]!, r.result.history.at(-1)!];
    expect(first.step).toBe(0);
    expect(last.step).toBe(30);
    expect(last.val_loss).toBeLessThan(first.val_loss - 0.5);
    expect(r.result.stopped).toBe('done');
    const m = r.result.memory;
    expect(m.optimizer_bytes).toBe(2 * m.gradient_bytes);
    expect(m.gradient_bytes).toBe(4 * r.result.trainable);
    expect(m.peak_array_buffers_bytes).toBeGreaterThan(m.weights_bytes); // weights are typed arrays too
  });

  it('a run that crashes after a checkpoint and resumes ends bit-identical to an uninterrupted run (QAT and LoRA)', async () => {
    for (const mode of ['qat', 'lora'] as const) {
      const o = { ...base, mode, rank: 4 };
      const straight = paramsOf(await finetune(source(), text, o));
      const ckpt = join(dir, `crash-${mode}.safetensors`);
      await expect(finetune(source(), text, { ...o, checkpoint: ckpt, checkpointEvery: 2, afterStep: (s) => { if (s === 5) throw new Error('simulated crash'); } })).rejects.toThrow('simulated crash');
      // the last checkpoint is from step 4; a new process (a fresh model) resumes from it
      const resumed = await finetune(source(), text, { ...o, checkpoint: ckpt, checkpointEvery: 2 });
      expect(resumed.result.resumed_from).toBe(4);
      const got = paramsOf(resumed);
      for (const [k, v] of straight) expect(got.get(k), `${mode} ${k}`).toEqual(v);
      if (mode === 'lora') expect(resumed.model.adapters?.size).toBe(config.nLayers * 7);
    }
  });

  it('a stop signal writes a checkpoint after the current step; resuming gives the same result', async () => {
    const straight = paramsOf(await finetune(source(), text, base));
    const ckpt = join(dir, 'signal.safetensors');
    const ac = new AbortController();
    const stopped = await finetune(source(), text, { ...base, checkpoint: ckpt, signal: ac.signal, onStep: (s) => { if (s.step === 2) ac.abort(); } });
    expect(stopped.result).toMatchObject({ stopped: 'signal', steps_done: 2 });
    const resumed = await finetune(source(), text, { ...base, checkpoint: ckpt });
    expect(resumed.result.resumed_from).toBe(2);
    expect(paramsOf(resumed)).toEqual(straight);
  });

  it('refuses a checkpoint of another run, and corrupt checkpoints, with typed errors', async () => {
    const ckpt = join(dir, 'other.safetensors');
    await finetune(source(), text, { ...base, steps: 2, checkpoint: ckpt });
    await expect(finetune(source(), text, { ...base, steps: 2, lr: 1e-3, checkpoint: ckpt })).rejects.toMatchObject({ code: 'E_ARG', message: expect.stringContaining('lr: this run 0.001, checkpoint 0.003') });
    await expect(finetune(source(), text, { ...base, steps: 2, mode: 'lora', checkpoint: ckpt })).rejects.toBeInstanceOf(TritwiseError);
    const good = readFileSync(ckpt);
    // random byte corruption anywhere: a TritwiseError or (when only tensor data changed) a clean resume; never another exception
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, x) => {
        const bad = Buffer.from(good);
        bad[pos] ^= x;
        const p = join(dir, 'bad.safetensors');
        writeFileSync(p, bad);
        try {
          await finetune(source(), text, { ...base, steps: 2, checkpoint: p, evalEvery: 0, evalChunks: 1 });
        } catch (e) {
          expect(e).toBeInstanceOf(TritwiseError);
        }
      }),
      { numRuns: 25 },
    );
    writeFileSync(join(dir, 'trunc.safetensors'), good.subarray(0, good.length >> 1));
    await expect(finetune(source(), text, { ...base, steps: 2, checkpoint: join(dir, 'trunc.safetensors') })).rejects.toMatchObject({ code: expect.stringMatching(/E_TRUNCATED|E_FORMAT/) });
  });

  it('splits text at a paragraph break; batches are pure functions of (seed, step, micro); validation scores the second half', () => {
    const s = splitText(text, tok, 0.2);
    expect(s.valChars).toBeGreaterThan(0.15 * text.length);
    expect(s.train[0]).toBe(tok.bos);
    const a = trainBatch(s.train, 3, 10, tok.bos, 1, 5, 0), b = trainBatch(s.train, 3, 10, tok.bos, 1, 5, 0), c = trainBatch(s.train, 3, 10, tok.bos, 1, 6, 0);
    expect(a).toEqual(b);
    expect(a.ids).not.toEqual(c.ids);
    expect(a.ids[0]).toBe(tok.bos);
    for (let i = 1; i < 10; i++) expect(a.targets[i - 1]).toBe(a.ids[i]);
    const v = validationBatches(s.val, 16, 2, tok.bos, 3);
    expect(v.map((x) => x.B)).toEqual([2, 1]);
    expect(Array.from(v[0]!.targets.subarray(0, 16)).filter((t) => t >= 0).length).toBe(7); // positions 8..14
    expect(() => validationBatches(s.val.subarray(0, 5), 16, 2, 1)).toThrow(TritwiseError);
  });

  it('warm-up + cosine schedule and AdamW with decoupled decay follow their formulas', () => {
    const o = { lr: 1, minLr: 0.1, warmup: 4, steps: 14 };
    expect([0, 1, 3].map((s) => learningRate(s, o))).toEqual([0.25, 0.5, 1]);
    expect(learningRate(9, o)).toBeCloseTo(0.55, 12);
    expect(learningRate(14, o)).toBeCloseTo(0.1, 12);
    const w = param(new Float32Array([1, -2]), [1, 2], 'w');
    const opt = new AdamW(new Map([['w', w]]), { beta1: 0.9, beta2: 0.99, eps: 0, weightDecay: 0.5 });
    w.grad = new Float32Array([3, -4]); // norm 5, clipped to 1 → (0.6, −0.8)
    expect(opt.step(0.1, 1)).toBeCloseTo(5, 12);
    // first step: m̂ = g', v̂ = g'², update = sign(g')·1 + λw
    expect(w.data[0]).toBeCloseTo(1 - 0.1 * (1 + 0.5 * 1), 6);
    expect(w.data[1]).toBeCloseTo(-2 - 0.1 * (-1 + 0.5 * -2), 6);
  });
});
