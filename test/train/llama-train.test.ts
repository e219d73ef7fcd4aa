/**
 * The training graph of a whole Llama model: its forward pass equals the inference model's
 * (f32, ternary and halves-RoPE variants), and its gradients pass a finite-difference check in f64.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../../src/io/model-file.js';
import { Model } from '../../src/nn/model.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { TrainModel, type Batch } from '../../src/train/llama-train.js';
import { linear } from '../../src/train/ops/linear.js';
import { Tape } from '../../src/train/tape.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { tinyConfig, tinyWeights } from '../helpers/models.js';

function batchOf(ids: number[][], T: number): Batch {
  const B = ids.length;
  const flat = new Int32Array(B * T);
  const targets = new Int32Array(B * T).fill(-1);
  ids.forEach((s, b) => {
    for (let i = 0; i < T; i++) flat[b * T + i] = s[i]!;
    for (let i = 0; i + 1 < T; i++) targets[b * T + i] = s[i + 1]!;
  });
  return { ids: flat, targets, B, T };
}

async function inferenceLogits(m: Model, ids: number[]): Promise<Float32Array> {
  const [l] = await m.forward([{ tokens: ids, cache: m.newCache() }], { logits: 'all' });
  return l!;
}

function trainLogits(tm: TrainModel, batch: Batch): Float64Array | Float32Array {
  const t = new Tape(false);
  return linear(t, tm.hidden(t, batch), tm.headWeight(t)).data;
}

describe('TrainModel', () => {
  const seqs = [[1, 5, 77, 200, 3, 9, 150, 42], [1, 299, 0, 12, 12, 12, 64, 8]];

  for (const variant of ['f32 shared classifier', 'f32 separate head, halves RoPE', 'ternary (twn g32)'] as const) {
    it(`forward logits equal the inference model's (${variant})`, async () => {
      const config = tinyConfig(variant.includes('separate') ? { ropeStyle: 'halves', sharedClassifier: false } : { sharedClassifier: true });
      let model = await Model.fromCheckpoint({ config, weights: tinyWeights(config), activations: new Map() }, { backend: 'ref' });
      if (variant.startsWith('ternary')) model = await model.quantize({ quantizer: 'twn', groupSize: 32 });
      const tm = TrainModel.fromWeights(model.config, model.weights, { mode: variant.startsWith('ternary') ? 'frozen' : 'full' });
      const got = trainLogits(tm, batchOf(seqs, 8));
      const V = config.vocabSize;
      for (let b = 0; b < 2; b++) {
        const ref = await inferenceLogits(model, seqs[b]!);
        let maxErr = 0;
        for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ref[i]! - got[b * 8 * V + i]!));
        expect(maxErr).toBeLessThan(2e-4);
      }
      await model.dispose();
    });
  }

  it('QAT model at step 0 computes exactly the post-training ternary model', async () => {
    const config = tinyConfig({ sharedClassifier: true });
    const weights = tinyWeights(config);
    const model = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: 'ref' });
    const tern = await model.quantize({ quantizer: 'twn' });
    const qat = TrainModel.fromWeights(config, weights, { mode: 'qat', qat: { quantizer: 'twn' } });
    const ex = qat.export();
    for (const [name, t] of tern.weights) {
      const mine = ex.weights.get(name)!;
      if (t instanceof TernaryTensor) expect(t.equals(mine as TernaryTensor), name).toBe(true);
      else expect(mine, name).toEqual(t);
    }
    const got = trainLogits(qat, batchOf(seqs, 8));
    const ref = await inferenceLogits(tern, seqs[0]!);
    for (let i = 0; i < ref.length; i++) expect(Math.abs(ref[i]! - got[i]!)).toBeLessThan(2e-4);
    await model.dispose();
  });

  it('the whole-model loss has correct gradients for every kind of parameter (f64, full fine-tuning)', () => {
    const config = tinyConfig({ dim: 16, hiddenDim: 24, nHeads: 4, nKvHeads: 2, vocabSize: 40, nLayers: 2, sharedClassifier: false });
    const tm = TrainModel.fromWeights(config, tinyWeights(config, 3, 0.3), { mode: 'full', dtype: 'f64' });
    const batch = batchOf([[1, 5, 7, 20, 3, 9], [1, 39, 0, 12, 12, 2]].map((s) => s.map((v) => v % 40)), 6);
    const params = [...tm.parameters().values()];
    expect(params.map((p) => p.name)).toContain('layers.1.feed_forward.w2');
    const r = gradCheck((t) => tm.loss(t, batch, { chunk: 5 }).loss, params, { samples: 6 });
    expect(r.checked).toBeGreaterThan(60);
    expect(r.maxRelErr, r.worst).toBeLessThan(1e-5);
    // recomputing every layer in the backward pass gives the same gradients
    const grads = (recompute: boolean) => {
      for (const p of params) p.grad = null;
      const t = new Tape();
      t.backward(tm.loss(t, batch, { recompute, recomputeAttention: recompute }).loss);
      return params.map((p) => Array.from(p.grad!));
    };
    const a = grads(false), b = grads(true);
    for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) expect(b[i]![j]).toBeCloseTo(a[i]![j]!, 12);
  });

  it('LoRA adapters kept separate: the saved model (trits + lora_a/lora_b) computes what the training graph computes', async () => {
    const config = tinyConfig({ sharedClassifier: true });
    const tm = TrainModel.fromWeights(config, tinyWeights(config), { mode: 'lora', lora: { rank: 3, alpha: 5, targets: ['*.feed_forward.w2', '*.attention.wv'] } });
    for (const [name, p] of tm.parameters()) if (name.endsWith('lora_b')) p.data.set(randomFloats(p.size, 9, 0.05));
    const ex = tm.export();
    expect([...ex.adapters!.keys()].sort()).toEqual(['layers.0.attention.wv', 'layers.0.feed_forward.w2', 'layers.1.attention.wv', 'layers.1.feed_forward.w2']);
    const dir = mkdtempSync(join(tmpdir(), 'tritwise-lora-'));
    try {
      saveModel(dir, { config: ex.config, weights: ex.weights, activations: ex.activations, adapters: ex.adapters });
      const model = await Model.load(dir, { backend: 'ref' });
      expect(model.adapters?.size).toBe(4);
      const got = trainLogits(tm, batchOf(seqs, 8));
      const ref = await inferenceLogits(model, seqs[0]!);
      let maxErr = 0, maxDiffFromBase = 0;
      const base = await Model.fromCheckpoint({ config: ex.config, weights: ex.weights, activations: ex.activations }, { backend: 'ref' });
      const plain = await inferenceLogits(base, seqs[0]!);
      for (let i = 0; i < ref.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(ref[i]! - got[i]!));
        maxDiffFromBase = Math.max(maxDiffFromBase, Math.abs(ref[i]! - plain[i]!));
      }
      expect(maxErr).toBeLessThan(2e-4);
      expect(maxDiffFromBase).toBeGreaterThan(1e-3); // the adapters do change the output
      // the wasm backend stacks Q/K/V and gate/up; a part with an adapter must still get its term
      const wm = await Model.load(dir, { backend: 'wasm' });
      try {
        const wl = await inferenceLogits(wm, seqs[0]!);
        for (let i = 0; i < ref.length; i++) expect(Math.abs(wl[i]! - ref[i]!)).toBeLessThan(2e-4);
      } finally {
        await wm.dispose();
      }
      // merged dense: the same function up to f32 rounding
      const merged = tm.export({ merge: 'dense' });
      expect(merged.adapters).toBeUndefined();
      const md = await Model.fromCheckpoint({ config: merged.config, weights: merged.weights, activations: merged.activations }, { backend: 'ref' });
      const mlog = await inferenceLogits(md, seqs[0]!);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(mlog[i]! - ref[i]!)).toBeLessThan(2e-4);
      await model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('LoRA mode trains only the adapters; QAT trains latent weights, embedding and norms', () => {
    const config = tinyConfig({ sharedClassifier: true });
    const lora = TrainModel.fromWeights(config, tinyWeights(config), { mode: 'lora', lora: { rank: 4, targets: ['*.attention.*'] } });
    const names = [...lora.parameters().keys()];
    expect(names.every((n) => n.endsWith('.lora_a') || n.endsWith('.lora_b'))).toBe(true);
    expect(names.length).toBe(2 * 4 * config.nLayers);
    expect(lora.trainableCount).toBe(config.nLayers * 4 * (2 * 4 * 64) - config.nLayers * 2 * 4 * (64 - 32));
    const qat = TrainModel.fromWeights(config, tinyWeights(config), { mode: 'qat' });
    expect([...qat.parameters().keys()]).toContain('tok_embeddings');
    expect(qat.parameters().size).toBe(1 + 1 + config.nLayers * 9);
    // memory accounting: QAT holds everything trainable in f32; LoRA holds the base in planes
    // (2 bits per weight, rounded up to 32-column words, plus one f32 scale per row)
    const w = tinyWeights(config);
    let planes = 0, f32 = 0;
    for (const [name, t] of w) {
      const [rows, cols] = (t as { shape: number[] }).shape as [number, number];
      if (/\.(attention\.w[qkvo]|feed_forward\.w[123])$/.test(name)) planes += rows * Math.ceil(cols / 32) * 8 + rows * 4;
      else f32 += (t as { data: Float32Array }).data.byteLength;
    }
    expect(qat.weightBytes()).toEqual({ trainable: 4 * qat.trainableCount, frozen: 0 });
    expect(lora.weightBytes()).toEqual({ trainable: 4 * lora.trainableCount, frozen: planes + f32 });
  });
});
