/**
 * The GPU decoder with every `--attention` mode (and per-layer mode lists) against the CPU
 * forward pass with the same modes: logits within 1e-4·max|logit| at every step of a tiny
 * random model, and Model.generate really decoding on the device (createDecoder is called, the
 * greedy ids equal the CPU's); multi-trit models (depth 2–4, every activation mode) likewise;
 * stories260K in four modes gives the ref backend's greedy ids.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Decoder } from '../../src/backend/backend.js';
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { attentionFactory, attentionModesOf } from '../../src/nn/attention-modes.js';
import { Model } from '../../src/nn/model.js';
import type { QuantPlan } from '../../src/quant/plan.js';
import { MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { greedyIds, tinyConfig, tinyWeights } from '../helpers/models.js';
import { sharedFile } from '../helpers/shared-data.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const why = await webgpuUnavailable();
if (why && process.env.CI) throw new Error(`webgpu backend unavailable in CI: ${why}`);
const LOGIT_TOL = 1e-4;

async function compareSteps(dec: Decoder, cpu: Model, ids: number[], what: string): Promise<void> {
  const cache = cpu.newCache();
  for (const [i, id] of ids.entries()) {
    const next = await dec.step([id], { temperature: 0, topP: 1, draw: () => 0 });
    const [want] = await cpu.forward([{ tokens: [id], cache }]);
    const got = await dec.logits();
    let scale = 0;
    let worst = 0;
    let best = 0;
    for (let j = 0; j < want!.length; j++) {
      scale = Math.max(scale, Math.abs(want![j]!));
      worst = Math.max(worst, Math.abs(got[j]! - want![j]!));
      if (want![j]! > want![best]!) best = j;
    }
    expect(worst, `${what} step ${i}: max |Δlogit| (scale ${scale})`).toBeLessThanOrEqual(LOGIT_TOL * scale);
    expect(next, `${what} step ${i} argmax`).toBe(best);
  }
  cache.dispose();
}

describe.skipIf(why !== null)('webgpu decoder attention modes', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await WebGpuBackend.create();
  });
  afterAll(async () => {
    await gpu?.dispose();
  });

  const config = tinyConfig({ nLayers: 2, seqLen: 24, dim: 64, nHeads: 4, nKvHeads: 2, vocabSize: 96 });
  const weights = tinyWeights(config, 5);
  const ids = [1, 5, 9, 2, 7, 7, 3, 11, 4, 4, 8, 1];
  const runs: [string | string[], QuantPlan | null][] = [
    ['flash', null],
    ['ternary', null],
    ['ternary/t2', { quantizer: 'twn', groupSize: 32, activation: 'int8' }],
    ['topk:4', null],
    ['topk:3/t2/r1', null],
    ['topk:t=0.5/r2', null],
    [['flash', 'topk:5'], { quantizer: 'absmean', activation: 'f32' }],
  ];
  for (const [modes, plan] of runs) {
    it(`${JSON.stringify(modes)}${plan ? ` on ${plan.quantizer} ${plan.activation}` : ''}: logits within ${LOGIT_TOL} of the CPU at every step`, async () => {
      const attention = attentionFactory(modes);
      let g = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: gpu, attention });
      let c = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: 'ref', attention });
      if (plan) {
        g = await g.quantize(plan);
        c = await c.quantize(plan);
      }
      const dec = await gpu.createDecoder(g.llama, { maxLength: 16, attention: attentionModesOf(attention)! });
      await compareSteps(dec, c, ids, JSON.stringify(modes));
      dec.reset();
      await compareSteps(dec, c, [3, 3, 3], `${JSON.stringify(modes)} after reset`);
      await dec.dispose();
      await c.dispose();
    });
  }

  // multi-trit models: d planes per layer (fused upload for f32/int8, per-plane layers for ternary/q8k)
  const multi: QuantPlan[] = [
    { quantizer: 'rtn', depth: 3, activation: 'f32' },
    { quantizer: 'rtn', depth: 2, groupSize: 32, activation: 'int8', layers: [{ match: 'layers.1.feed_forward.w2', depth: 1 }] },
    { quantizer: 'rtn', depth: 2, activation: 'ternary' },
    { quantizer: 'rtn', depth: 4, activation: 'q8k', attention: 'topk:4' },
  ];
  for (const plan of multi) {
    it(`multi-trit model (depth ${plan.depth}, ${plan.activation}${plan.attention ? `, ${plan.attention}` : ''}): logits within ${LOGIT_TOL} of the CPU, and generate() decodes on the GPU`, async () => {
      const cfg = tinyConfig({ nLayers: 2, seqLen: 24, dim: 64, hiddenDim: 288, nHeads: 4, nKvHeads: 2, vocabSize: 96 });
      const w = tinyWeights(cfg, 9);
      const g = await (await Model.fromCheckpoint({ config: cfg, weights: w, activations: new Map() }, { backend: gpu })).quantize(plan);
      const c = await (await Model.fromCheckpoint({ config: cfg, weights: w, activations: new Map() }, { backend: 'ref' })).quantize(plan);
      expect([...g.weights.values()].some((t) => t instanceof MultiTritTensor)).toBe(true);
      const dec = await gpu.createDecoder(g.llama, { maxLength: 16, attention: attentionModesOf(g.attention)! });
      await compareSteps(dec, c, ids, `depth ${plan.depth} ${plan.activation}`);
      await dec.dispose();
      const spy = vi.spyOn(gpu, 'createDecoder');
      try {
        expect(await greedyIds(g, 10, [1, 2])).toEqual(await greedyIds(c, 10, [1, 2]));
        expect(spy).toHaveBeenCalledTimes(1);
      } finally {
        spy.mockRestore();
      }
      await g.dispose();
      await c.dispose();
    });
  }

  it('Model.generate with an attention mode decodes on the GPU and gives the CPU greedy ids', async () => {
    const attention = attentionFactory('topk:4/r1');
    const g = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: gpu, attention });
    const c = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: 'ref', attention });
    const spy = vi.spyOn(gpu, 'createDecoder');
    try {
      expect(await greedyIds(g, 16, [1, 2, 3])).toEqual(await greedyIds(c, 16, [1, 2, 3]));
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0]![1]!.attention).toEqual([{ kind: 'topk', k: 4, recent: 1 }]);
    } finally {
      spy.mockRestore();
    }
    await g.dispose();
    await c.dispose();
  });

  it('stories260K with flash, ternary, topk:8 and topk:t=1/r4: the ref backend greedy ids for the same mode', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    if (!ckpt || !tok) return t.skip();
    for (const mode of ['flash', 'ternary', 'topk:8', 'topk:t=1/r4']) {
      const attention = attentionFactory(mode);
      const g = await Model.load(ckpt, { tokenizer: tok, backend: gpu, attention });
      const c = await Model.load(ckpt, { tokenizer: tok, backend: 'ref', attention });
      const prompt = c.tokenizer!.encode('Once upon a time');
      expect(await greedyIds(g, 24, prompt), mode).toEqual(await greedyIds(c, 24, prompt));
      await g.dispose();
      await c.dispose();
    }
  });

  it('a custom attention hook (no mode names) decodes layer by layer on the CPU side', async () => {
    const custom = attentionFactory('flash');
    const hook = (l: number, b: Parameters<typeof custom>[1]) => custom(l, b);
    expect(attentionModesOf(hook)).toBeNull();
    const g = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: gpu, attention: hook });
    const spy = vi.spyOn(gpu, 'createDecoder');
    try {
      expect((await greedyIds(g, 3)).length).toBe(3);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    await g.dispose();
  });

  it('a bad mode list is a typed error', async () => {
    const g = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: gpu });
    await expect(gpu.createDecoder(g.llama, { maxLength: 8, attention: [{ kind: 'flash' }, { kind: 'flash' }, { kind: 'exact' }] })).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
