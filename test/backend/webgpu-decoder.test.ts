/**
 * The GPU decoder (whole decode steps on WebGPU) against the CPU forward pass: exact greedy ids
 * on stories260K (the reference ids of ../shared/data/README.md for f32, the ref backend's ids
 * for the ternary model in every activation mode), logits within 1e-4·max|logit| (f32 sums in
 * another order), the CPU sampler's exact draws, and one 4-byte readback per generated token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decoder } from '../../src/backend/backend.js';
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import type { LlamaConfig } from '../../src/nn/llama-config.js';
import { Model } from '../../src/nn/model.js';
import type { QuantPlan } from '../../src/quant/plan.js';
import { greedyIds, tinyConfig, tinyWeights } from '../helpers/models.js';
import { sharedFile } from '../helpers/shared-data.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const REF_IDS = [403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337];
/** logits agree within this fraction of the largest |logit| (f32 accumulation order differs from the CPU's f64) */
const LOGIT_TOL = 1e-4;

const why = await webgpuUnavailable();
if (why && process.env.CI) throw new Error(`webgpu backend unavailable in CI: ${why}`);

function expectLogitsClose(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  if (!(worst <= LOGIT_TOL * scale)) throw new Error(`${what}: max |Δlogit| ${worst} > ${LOGIT_TOL}·${scale}`);
}

/** Feed `ids` one by one to the decoder and to the CPU model; compare logits after each. */
async function compareSteps(dec: Decoder, cpu: Model, ids: number[], what: string): Promise<void> {
  const cache = cpu.newCache();
  for (const [i, id] of ids.entries()) {
    const next = await dec.step([id], { temperature: 0, topP: 1, draw: () => 0 });
    const [want] = await cpu.forward([{ tokens: [id], cache }]);
    expectLogitsClose(await dec.logits(), want!, `${what} step ${i}`);
    let best = 0;
    for (let j = 1; j < want!.length; j++) if (want![j]! > want![best]!) best = j;
    expect(next, `${what} step ${i} argmax`).toBe(best);
  }
}

describe.skipIf(why !== null)('webgpu decoder', () => {
  let gpu: WebGpuBackend;
  beforeAll(async () => {
    gpu = await WebGpuBackend.create();
  });
  afterAll(async () => {
    await gpu?.dispose();
  });

  it('stories260K f32: the reference greedy ids, with one 4-byte readback per token', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    if (!ckpt || !tok) return t.skip();
    const m = await Model.load(ckpt, { tokenizer: tok, backend: gpu });
    const proto = (globalThis as unknown as { GPUBuffer: { prototype: { mapAsync: (...a: unknown[]) => Promise<void> } } }).GPUBuffer.prototype;
    const orig = proto.mapAsync;
    const maps: unknown[][] = [];
    proto.mapAsync = function (this: unknown, ...a: unknown[]) {
      maps.push(a);
      return orig.apply(this, a);
    };
    try {
      expect(await greedyIds(m, 20)).toEqual(REF_IDS);
    } finally {
      proto.mapAsync = orig;
    }
    expect(maps.length).toBe(20);
    for (const a of maps) expect(a[2]).toBe(4); // mapAsync(READ, 0, 4): the sampled id only
    // two generations interleaved on one model: the second gets its own decoder (and KV cache)
    const a = m.generate([1], { maxTokens: 8 })[Symbol.asyncIterator]();
    const first: number[] = [];
    for (let i = 0; i < 3; i++) first.push((await a.next()).value!.id);
    expect(await greedyIds(m, 8)).toEqual(REF_IDS.slice(0, 8));
    for (let r = await a.next(); !r.done; r = await a.next()) first.push(r.value.id);
    expect(first).toEqual(REF_IDS.slice(0, 8));
    await m.dispose();
  });

  it('stories260K ternary (twn, g32) in every activation mode: the ref backend greedy ids', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    if (!ckpt || !tok) return t.skip();
    const onGpu = await Model.load(ckpt, { tokenizer: tok, backend: gpu });
    const onCpu = await Model.load(ckpt, { tokenizer: tok, backend: 'ref' });
    for (const activation of ['f32', 'int8', 'ternary', 'q8k'] as const) {
      const plan: QuantPlan = { quantizer: 'twn', groupSize: activation === 'q8k' ? 0 : 32, activation };
      const a = await onGpu.quantize(plan);
      const b = await onCpu.quantize(plan);
      const prompt = onCpu.tokenizer!.encode('Once upon a time');
      expect(await greedyIds(a, 12, prompt), activation).toEqual(await greedyIds(b, 12, prompt));
      await a.dispose();
    }
    await onCpu.dispose();
  });

  it('sampling (temperature, top-p) draws the same tokens as the CPU sampler for the same seed', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    if (!ckpt || !tok) return t.skip();
    const onGpu = await Model.load(ckpt, { tokenizer: tok, backend: gpu });
    const onCpu = await Model.load(ckpt, { tokenizer: tok, backend: 'ref' });
    for (const s of [{ temperature: 0.8, seed: 3 }, { temperature: 1, topP: 0.9, seed: 5 }, { temperature: 1.5, topP: 0.5, seed: 11 }]) {
      const run = async (m: Model) => {
        const ids: number[] = [];
        for await (const x of m.generate([1], { maxTokens: 24, stopAtEos: false, ...s })) ids.push(x.id);
        return ids;
      };
      expect(await run(onGpu), JSON.stringify(s)).toEqual(await run(onCpu));
    }
    await onGpu.dispose();
  });

  const shapes: [string, Partial<LlamaConfig>, QuantPlan | null][] = [
    ['f32, GQA, halves RoPE, separate head, dim 40', { dim: 40, hiddenDim: 72, nHeads: 4, nKvHeads: 2, vocabSize: 100, ropeStyle: 'halves' }, null],
    ['ternary f32 acts, sliding window 3', { dim: 64, hiddenDim: 96, slidingWindow: 3, vocabSize: 70 }, { quantizer: 'twn', groupSize: 32, activation: 'f32', dense: [] }],
    ['ternary int8 acts, MQA', { dim: 48, hiddenDim: 80, nHeads: 4, nKvHeads: 1, vocabSize: 90 }, { quantizer: 'absmean', activation: 'int8' }],
    ['ternary ternary acts, shared classifier', { dim: 64, hiddenDim: 100, vocabSize: 80, sharedClassifier: true }, { quantizer: 'mse', activation: 'ternary' }],
    ['ternary q8k acts, 300 columns', { dim: 96, hiddenDim: 300, nHeads: 4, nKvHeads: 4, vocabSize: 64 }, { quantizer: 'twn', activation: 'q8k' }],
  ];
  for (const [name, over, plan] of shapes) {
    it(`random model (${name}): logits within ${LOGIT_TOL} of the CPU at every step, weights in small shards`, async () => {
      const config = tinyConfig({ nLayers: 2, seqLen: 16, ...over });
      const weights = tinyWeights(config, 3);
      const sharded = await WebGpuBackend.create({ maxBindingBytes: 1024 });
      try {
        let g = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: sharded });
        let c = await Model.fromCheckpoint({ config, weights, activations: new Map() }, { backend: 'ref' });
        if (plan) {
          g = await g.quantize(plan);
          c = await c.quantize(plan);
        }
        const dec = await sharded.createDecoder(g.llama, { maxLength: 8 });
        await compareSteps(dec, c, [1, 5, 9, 2, 7, 7, 3, 11], name);
        await expect(dec.step([1], { temperature: 0, topP: 1, draw: () => 0 })).rejects.toMatchObject({ code: 'E_ARG' });
        dec.reset();
        await compareSteps(dec, c, [4, 4], `${name} after reset`);
        await dec.dispose();
      } finally {
        await sharded.dispose();
      }
    });
  }

  it('bad steps are typed errors', async () => {
    const config = tinyConfig({ seqLen: 8 });
    const m = await Model.fromCheckpoint({ config, weights: tinyWeights(config), activations: new Map() }, { backend: gpu });
    const dec = await gpu.createDecoder(m.llama);
    const greedy = { temperature: 0, topP: 1, draw: () => 0 };
    await expect(dec.step([], greedy)).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(dec.step([config.vocabSize], greedy)).rejects.toMatchObject({ code: 'E_VOCAB' });
    await expect(dec.step([1], { ...greedy, temperature: -1 })).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(dec.step([1], { ...greedy, topP: 0 })).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(dec.logits()).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(gpu.createDecoder(m.llama, { maxLength: 9 })).rejects.toMatchObject({ code: 'E_ARG' });
    await dec.dispose();
    await expect(dec.step([1], greedy)).rejects.toMatchObject({ code: 'E_BACKEND' });
  });
});
