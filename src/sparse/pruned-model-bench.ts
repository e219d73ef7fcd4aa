/**
 * pruned-model-bench — model bytes and decode tokens/s of whole models at several pruning levels
 * (`tritwise bench sparsity --models`), each level run twice on the wasm backend: with the
 * automatic per-layer layout (cost-model.ts) and with every layer forced to dense planes.
 *
 *   stories260K  the real checkpoint, quantized (absmean, f32 activations as `tritwise eval`),
 *                then pruned by magnitude to S with row-scale refit (prune.ts)
 *   0.7B shape   BitNet-0.7B-shaped random ternary model (nn/random-model.ts, q8k activations
 *                as `tritwise bench --model`), its zeros drawn uniformly at random at fraction S
 *                (what magnitude pruning gives on i.i.d. weights)
 *
 * Bytes are the stored size: f32 tensors plus each ternary layer in the format the automatic
 * choice picked for it (planes → 2 bits per trit; csr and block-sparse as stored, csr.ts /
 * block-sparse.ts), scales included. Decode: n tokens one at a time from BOS (greedy); the auto
 * and planes models run alternately for `rounds` rounds after a warm-up, medians reported.
 */
import { TritwiseError } from '../errors.js';
import type { ActivationMode } from '../backend/backend.js';
import { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { median } from '../eval/benchmark.js';
import { BITNET_07B } from '../eval/model-bench.js';
import { loadLlama2c } from '../io/llama2c.js';
import type { StoredTensor } from '../io/weights-file.js';
import { defaultConfig, linearNames, type LlamaConfig } from '../nn/llama-config.js';
import { LlamaModel } from '../nn/llama.js';
import { randomTernaryWeights } from '../nn/random-model.js';
import { argmax } from '../nn/sampling.js';
import { quantizeWeights } from '../quant/quantize-model.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { blockSparseBytes, toBlockSparse } from './block-sparse.js';
import { sparsityStats } from './chunk-map.js';
import { chooseLayout, type Family, type LayoutName } from './cost-model.js';
import { csrBytes, toCsr } from './csr.js';

export interface PrunedModelResult {
  model: string;
  sparsity: number;
  /** 'auto' or 'planes' */
  layouts: string;
  /** how many ternary layers got each layout */
  chosen: Partial<Record<LayoutName, number>>;
  bytes: number;
  /** the ternary layers alone, as stored */
  ternary_bytes: number;
  /** the ternary layers as f32 */
  ternary_f32_bytes: number;
  /** the same model with every ternary layer as f32 */
  f32_bytes: number;
  decode_tokens: number;
  decode_tok_s: number;
  threads: number;
}

export interface PrunedModelOptions {
  stories?: { checkpoint: string };
  big?: boolean;
  levels?: number[];
  threads?: number;
  decode?: number;
  rounds?: number;
  onStep?: (s: string) => void;
}

function storedBytes(t: TernaryTensor, l: LayoutName): number {
  return l === 'csr' ? csrBytes(toCsr(t)) : l === 'block-sparse' ? blockSparseBytes(toBlockSparse(t)) : t.bytes;
}

/** Decode n tokens from BOS (greedy) on each model in turn, `rounds` times interleaved; tokens/s from the medians. */
async function decodeRates(models: LlamaModel[], n: number, rounds: number): Promise<number[]> {
  const run = async (m: LlamaModel, k: number) => {
    const cache = m.newCache();
    try {
      let tok = 1;
      const t0 = performance.now();
      for (let i = 0; i < k; i++) tok = argmax((await m.forward([{ tokens: [tok], cache }]))[0]!);
      return performance.now() - t0;
    } finally {
      cache.dispose();
    }
  };
  for (const m of models) await run(m, 2);
  const ms = models.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) for (const [i, m] of models.entries()) ms[i]!.push(await run(m, n));
  return ms.map((x) => (n * 1000) / median(x));
}

async function one(name: string, config: LlamaConfig, weights: Map<string, StoredTensor>, act: ActivationMode, s: number, o: PrunedModelOptions, n: number): Promise<PrunedModelResult[]> {
  const family: Family = act === 'f32' ? 'f32' : 'i8';
  const activations = new Map<string, ActivationMode>(linearNames(config).filter((x) => weights.get(x) instanceof TernaryTensor).map((x) => [x, act]));
  let f32 = 0, tern = 0, ternF32 = 0;
  const chosen: Partial<Record<LayoutName, number>> = {};
  let zeros = 0, count = 0;
  for (const t of weights.values()) {
    if (t instanceof TernaryTensor) {
      const st = sparsityStats(t);
      const l = chooseLayout(st, family).layout;
      chosen[l] = (chosen[l] ?? 0) + 1;
      tern += storedBytes(t, l);
      ternF32 += t.rows * t.cols * 4;
      zeros += t.rows * t.cols - st.nnz;
      count += t.rows * t.cols;
    } else if ('data' in t) f32 += t.data.byteLength;
    else throw new TritwiseError('E_UNSUPPORTED', 'multi-trit layers are not pruned here', { where: 'pruned-model bench', expected: 'f32 or single-trit layers', got: `${t.depth} trits per weight` });
  }
  const planesBytes = [...weights.values()].reduce((a, t) => a + (t instanceof TernaryTensor ? t.bytes : 0), 0);
  const out: PrunedModelResult[] = [];
  o.onStep?.(`${name} at ${(s * 100).toFixed(0)} % pruned: decode, auto and planes layouts interleaved`);
  const bes = [await WasmBackend.create({ threads: o.threads, layout: 'auto' }), await WasmBackend.create({ threads: o.threads, layout: 'planes' })];
  try {
    const models = [];
    for (const be of bes) models.push(await LlamaModel.build(config, weights, be, { activations }));
    const rates = await decodeRates(models, n, o.rounds ?? 5);
    const threads = Number(bes[0]!.describe().threads);
    (['auto', 'planes'] as const).forEach((layouts, i) => {
      out.push({ model: name, sparsity: Math.round((zeros / count) * 1e4) / 1e4, layouts, chosen: layouts === 'auto' ? chosen : { planes: Object.values(chosen).reduce((a, b) => a + b!, 0) }, bytes: f32 + (layouts === 'auto' ? tern : planesBytes), ternary_bytes: layouts === 'auto' ? tern : planesBytes, ternary_f32_bytes: ternF32, f32_bytes: f32 + ternF32, decode_tokens: n, decode_tok_s: rates[i]!, threads });
    });
  } finally {
    for (const be of bes) await be.dispose();
  }
  return out;
}

export async function benchPrunedModels(o: PrunedModelOptions): Promise<PrunedModelResult[]> {
  const levels = o.levels ?? [0, 0.5, 0.9, 0.99];
  const res: PrunedModelResult[] = [];
  if (o.stories) {
    const ck = loadLlama2c(o.stories.checkpoint);
    for (const s of levels) {
      const q = quantizeWeights(ck.config, ck.weights, { quantizer: 'absmean', ...(s > 0 ? { prune: `magnitude:${s}` } : {}) });
      res.push(...(await one('stories260K', q.config, q.weights, 'f32', s, o, o.decode ?? 128)));
    }
  }
  if (o.big) {
    const sh = BITNET_07B;
    const config = defaultConfig({ dim: sh.dim, hiddenDim: sh.ffn, nLayers: sh.layers, nHeads: sh.heads, vocabSize: sh.vocab, seqLen: 256 });
    for (const s of levels) {
      o.onStep?.(`0.7B shape at ${(s * 100).toFixed(0)} % zeros: random ternary weights`);
      const w = randomTernaryWeights(config, 1, { density: s > 0 ? 1 - s : 2 / 3 });
      res.push(...(await one('0.7B shape', config, w, 'q8k', s, { ...o, rounds: Math.min(o.rounds ?? 3, 3) }, Math.min(o.decode ?? 16, 16))));
    }
  }
  return res;
}
