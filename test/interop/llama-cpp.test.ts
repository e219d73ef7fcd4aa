/**
 * GGUF interop with llama.cpp itself (node-llama-cpp 3.21.1, CPU build, 1 thread): files written
 * by tritwise load in llama.cpp and agree with tritwise, and tritwise reads them back exactly.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, type LlamaModel as NlcModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/registry.js';
import { GgufFile } from '../../src/io/gguf-reader.js';
import { defaultConfig } from '../../src/nn/llama-config.js';
import { Model } from '../../src/nn/model.js';
import { randomWeights } from '../../src/nn/random-model.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { f16ToF32, f32ToF16 } from '../../src/io/half.js';
import { sharedFile } from '../helpers/shared-data.js';
import { cosine, greedyIds, promptLogits, syntheticVocab } from '../helpers/models.js';
import { seededRandom } from '../../src/eval/random.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-llamacpp-'));
let llama: Llama;
const loaded: NlcModel[] = [];
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
});
afterAll(async () => {
  for (const m of loaded) await m.dispose();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A llama.cpp context. `exactAttention` turns off flash attention and keeps K/V in f32 (by
 * default llama.cpp stores K/V as f16 and uses flash attention, which rounds them).
 */
async function llamaCpp(path: string, exactAttention = false) {
  const model = await llama.loadModel({ modelPath: path });
  loaded.push(model);
  const ctx = await model.createContext({ contextSize: 256, threads: 1, ...(exactAttention ? { flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' } : {}) } as never);
  return { model, ctx };
}

/** llama.cpp's greedy continuation of `prompt`. */
async function llamaCppGreedy(path: string, prompt: number[], n: number): Promise<number[]> {
  const { ctx } = await llamaCpp(path);
  const out: number[] = [];
  for await (const t of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
    out.push(t as number);
    if (out.length >= n) break;
  }
  await ctx.dispose();
  return out;
}

/** llama.cpp's log-probabilities after every prompt position (softmax at T = 1, no truncation). */
async function llamaCppLogProbs(path: string, prompt: number[], vocab: number, exactAttention = false): Promise<Float64Array[]> {
  const { ctx } = await llamaCpp(path, exactAttention);
  const items = prompt.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }] as const);
  const res = await ctx.getSequence().controlledEvaluate(items as never);
  await ctx.dispose();
  return prompt.map((_, i) => {
    const lp = new Float64Array(vocab);
    for (const [tok, p] of res[i]!.next!.probabilities!) lp[tok as number] = Math.log(p);
    return lp;
  });
}

/** x − mean(x): logits and log-probabilities differ by a per-position constant. */
function centred(x: ArrayLike<number>): Float64Array {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i]!;
  m /= x.length;
  return Float64Array.from({ length: x.length }, (_, i) => x[i]! - m);
}

describe('llama.cpp loads tritwise GGUFs', () => {
  it('f32 stories260K: the same greedy continuation for 32 tokens', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    if (!ckpt || !tok) return t.skip();
    const m = await Model.load(ckpt, { tokenizer: tok });
    const path = join(dir, 'stories260K.f32.gguf');
    const r = m.exportGguf(path, 'f32');
    expect(Object.values(r.types).every((x) => x === 'F32')).toBe(true);
    const ours = await greedyIds(m, 32);
    expect(ours.slice(0, 20)).toEqual([403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337]);
    expect(await llamaCppGreedy(path, [1], 32)).toEqual(ours);
  });

  it("tritwise's SentencePiece encoding equals llama.cpp's tokenizer on 50 KB of TinyStories", async (t) => {
    const gguf = sharedFile('stories260K.f32.gguf');
    const textPath = sharedFile('tinystories_val_subset.txt');
    if (!gguf || !textPath) return t.skip();
    const text = readFileSync(textPath, 'utf8').slice(0, 50_000);
    const ours = await Model.load(gguf);
    const { model, ctx } = await llamaCpp(gguf);
    await ctx.dispose();
    const theirs = model.tokenize(text, false);
    expect(ours.tokenizer!.encode(text, { bos: false })).toEqual(Array.from(theirs, Number));
  });

  describe('TQ2_0 / TQ1_0 of a random 2-layer dim-512 model', () => {
    const config = defaultConfig({ dim: 512, hiddenDim: 1024, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 256 });
    let quantized: Model;
    const tq2 = join(dir, 'tiny.tq2_0.gguf');
    const tq1 = join(dir, 'tiny.tq1_0.gguf');
    const rng = seededRandom(3);
    const prompt = [1, ...Array.from({ length: 63 }, () => 3 + rng.int(509))];

    beforeAll(async () => {
      const backend = await createBackend('ref');
      const f32 = await Model.fromCheckpoint({ config, weights: randomWeights(config, 11, 0.05), activations: new Map(), tokenizer: syntheticVocab(512) }, { backend });
      quantized = await f32.quantize({ quantizer: 'absmean', groupSize: 256, activation: 'q8k' });
      quantized.exportGguf(tq2, 'tq2_0');
      quantized.exportGguf(tq1, 'tq1_0');
    });

    it('tritwise reads its own ternary GGUFs back bit-exactly (trits, f16 block scales)', () => {
      for (const path of [tq2, tq1]) {
        const f = GgufFile.open(path);
        try {
          expect(f.info('blk.0.attn_q.weight').type.name).toBe(path === tq2 ? 'TQ2_0' : 'TQ1_0');
          for (const [name, w] of quantized.weights) {
            if (!(w instanceof TernaryTensor)) continue;
            const g = f.readTernary(name.replace(/^layers\.(\d+)\.attention\.wq$/, 'blk.$1.attn_q.weight').replace(/^layers\.(\d+)\.attention\.wk$/, 'blk.$1.attn_k.weight').replace(/^layers\.(\d+)\.attention\.wv$/, 'blk.$1.attn_v.weight').replace(/^layers\.(\d+)\.attention\.wo$/, 'blk.$1.attn_output.weight').replace(/^layers\.(\d+)\.feed_forward\.w1$/, 'blk.$1.ffn_gate.weight').replace(/^layers\.(\d+)\.feed_forward\.w2$/, 'blk.$1.ffn_down.weight').replace(/^layers\.(\d+)\.feed_forward\.w3$/, 'blk.$1.ffn_up.weight'));
            expect(g.plus).toEqual(w.plus);
            expect(g.minus).toEqual(w.minus);
            const want = Float32Array.from(w.groupScales!, (s, i) => f16ToF32(f32ToF16(s * w.scales[Math.floor(i / w.groupsPerRow)]!)));
            expect(g.groupScales).toEqual(want);
          }
        } finally {
          f.close();
        }
      }
    });

    it('llama.cpp next-token logits match tritwise (Q8_K activations) at all 64 positions, cosine ≥ 0.999', async () => {
      for (const path of [tq2, tq1]) {
        const ref = await llamaCppLogProbs(path, prompt, config.vocabSize);
        const exact = await llamaCppLogProbs(path, prompt, config.vocabSize, true);
        const ours = await Model.load(path); // the same weights, f16 block scales, 'q8k' activations
        expect(ours.activations.get('layers.0.attention.wq')).toBe('q8k');
        const mine = await promptLogits(ours, prompt);
        const direct = await promptLogits(quantized, prompt);
        let worst = 1;
        let worstScales = 1;
        let maxDiff = 0;
        let close = 0;
        for (let p = 0; p < prompt.length; p++) {
          worst = Math.min(worst, cosine(centred(mine[p]!), centred(ref[p]!)));
          worstScales = Math.min(worstScales, cosine(centred(direct[p]!), centred(mine[p]!)));
          const a = centred(mine[p]!), b = centred(exact[p]!);
          let d = 0;
          for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
          maxDiff = Math.max(maxDiff, d);
          if (d < 1e-4) close++;
        }
        console.log(`${path.endsWith('tq2_0.gguf') ? 'TQ2_0' : 'TQ1_0'}: worst cosine vs llama.cpp (defaults) ${worst.toFixed(6)}; with f32 attention ${close}/64 positions within 1e-4, max |Δlogit| ${maxDiff.toExponential(2)}; f32 vs f16 block scales ${worstScales.toFixed(6)}`);
        expect(worst).toBeGreaterThanOrEqual(0.999);
        // With llama.cpp's attention in f32 too, both compute the same integers: logits agree to f32
        // rounding at most positions, except where a rounding difference upstream flips an int8 code (small).
        expect(close).toBeGreaterThanOrEqual(32);
        expect(maxDiff).toBeLessThan(0.2);
        expect(worstScales).toBeGreaterThanOrEqual(0.999);
      }
    });
  });
});
