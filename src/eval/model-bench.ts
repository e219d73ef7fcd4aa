/**
 * model-bench — end-to-end speed of a whole Llama model, side by side (`tritwise bench --model`):
 *
 *   tritwise-wasm    the ternary model on the wasm backend (activations 'q8k' by default: the
 *                    same integer arithmetic as llama.cpp's TQ2_0 × Q8_K)
 *   llamacpp-tq2_0   the same weights exported as a TQ2_0 GGUF (io/gguf-model.ts), run by llama.cpp
 *                    (node-llama-cpp, CPU, the same thread count)
 *   dense-f32-wasm   the same model with every linear layer dequantized to f32, on the same
 *                    backend: the baseline a ternary speedup is claimed against
 *
 * The model is seeded and random (nn/random-model.ts): every linear layer ternary with one f16
 * scale per 256 columns (so the GGUF holds exactly the same weights), embedding and output head
 * f32 (as in BitNet, whose head stays full precision). Like llama-bench: "prompt" evaluates n
 * tokens as one batch into an empty context; "decode" generates n tokens one at a time from BOS
 * (greedy), and tokens/s is n over the wall time. All engines run in every round, one after the
 * other, so they share the machine's background load; the report gives medians over rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActivationMode, Backend } from '../backend/backend.js';
import { exportGguf } from '../io/gguf-model.js';
import { syntheticVocabulary } from '../io/tokenizers/synthetic-vocab.js';
import type { StoredTensor } from '../io/weights-file.js';
import { defaultConfig, linearNames, type LlamaConfig } from '../nn/llama-config.js';
import { LlamaModel } from '../nn/llama.js';
import { randomTernaryWeights } from '../nn/random-model.js';
import { argmax } from '../nn/sampling.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { machineInfo, median, type MachineInfo } from './benchmark.js';
import { LlamaCppModel, NODE_LLAMA_CPP } from './llamacpp-model.js';

export interface ModelShape {
  dim: number;
  ffn: number;
  layers: number;
  heads: number;
  vocab: number;
}

/** BitNet b1.58 0.7B ("bitnet_b1_58-large"): the shape. */
export const BITNET_07B: ModelShape = { dim: 1536, ffn: 4096, layers: 24, heads: 16, vocab: 32000 };

export interface ModelBenchOptions {
  shape?: ModelShape;
  threads: number[];
  /** prompt tokens (default 512) */
  prompt?: number;
  /** generated tokens (default 64) */
  decode?: number;
  /** interleaved rounds (default 3) */
  rounds?: number;
  llamacpp?: boolean;
  /** include the dense f32 baseline (its prompt is `densePrompt` tokens: f32 GEMM is slow) */
  dense?: boolean;
  densePrompt?: number;
  denseDecode?: number;
  activation?: ActivationMode;
  seed?: number;
  makeBackend: (threads: number) => Promise<Backend>;
  onStep?: (s: string) => void;
}

export interface ModelBenchResult {
  name: string;
  threads: number;
  prompt_tokens: number;
  decode_tokens: number;
  /** medians over rounds */
  prompt_tok_s: number;
  decode_tok_s: number;
  prompt_ms: number[];
  decode_ms: number[];
  /** tritwise-wasm only: its tokens/s over llama.cpp's and over dense f32's, same threads */
  decode_vs_llamacpp?: number;
  prompt_vs_llamacpp?: number;
  decode_vs_dense?: number;
  prompt_vs_dense?: number;
}

export interface ModelBenchReport {
  machine: MachineInfo;
  model: { shape: ModelShape; activation: ActivationMode; ternary_params: number; ternary_bytes_tq2_0: number; f32_params: number; seed: number; gguf_bytes?: number };
  results: ModelBenchResult[];
  /** greedy ids of tritwise and llama.cpp from BOS: how many leading ids agree */
  agreement?: { compared: number; same_prefix: number };
}

const PAUSE_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One engine: a prompt run and a decode run, each returning milliseconds. */
interface Engine {
  name: string;
  promptTokens: number;
  decodeTokens: number;
  prompt(tokens: number[]): Promise<number>;
  decode(bos: number, n: number): Promise<{ ids: number[]; ms: number }>;
  dispose(): Promise<void>;
}

function tritwiseEngine(name: string, m: LlamaModel, promptTokens: number, decodeTokens: number): Engine {
  return {
    name,
    promptTokens,
    decodeTokens,
    async prompt(tokens) {
      const cache = m.newCache();
      try {
        const t0 = performance.now();
        await m.forward([{ tokens, cache }]);
        return performance.now() - t0;
      } finally {
        cache.dispose();
      }
    },
    async decode(bos, n) {
      const cache = m.newCache();
      const ids: number[] = [];
      try {
        const t0 = performance.now();
        let tok = bos;
        for (let i = 0; i < n; i++) {
          const [logits] = await m.forward([{ tokens: [tok], cache }]);
          tok = argmax(logits!);
          ids.push(tok);
        }
        return { ids, ms: performance.now() - t0 };
      } finally {
        cache.dispose();
      }
    },
    async dispose() {},
  };
}

/** The same model with every ternary linear layer as f32 (W = t · row scale · group scale). */
function denseWeights(weights: Map<string, StoredTensor>): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  for (const [k, t] of weights) out.set(k, t instanceof TernaryTensor ? { shape: [t.rows, t.cols], data: t.toDense() } : t);
  return out;
}

export async function benchModel(o: ModelBenchOptions): Promise<ModelBenchReport> {
  const step = o.onStep ?? (() => {});
  const shape = o.shape ?? BITNET_07B;
  const P = o.prompt ?? 512;
  const N = o.decode ?? 64;
  const rounds = o.rounds ?? 3;
  const seed = o.seed ?? 1;
  const activation = o.activation ?? 'q8k';
  const config: LlamaConfig = defaultConfig({ dim: shape.dim, hiddenDim: shape.ffn, nLayers: shape.layers, nHeads: shape.heads, vocabSize: shape.vocab, seqLen: Math.max(P, N + 1, 64) + 64 });
  step(`random ternary model: ${shape.layers} layers, dim ${shape.dim}, ffn ${shape.ffn}, ${shape.heads} heads, vocab ${shape.vocab} (seed ${seed})`);
  const weights = randomTernaryWeights(config, seed);
  const activations = new Map<string, ActivationMode>(linearNames(config).filter((n) => n !== 'output').map((n) => [n, activation]));
  let ternaryParams = 0;
  let f32Params = 0;
  for (const t of weights.values()) {
    if (t instanceof TernaryTensor) ternaryParams += t.rows * t.cols;
    else if ('data' in t) f32Params += t.data.length;
  }
  const tokenizer = syntheticVocabulary(shape.vocab);
  const rng = (i: number) => 3 + ((i * 7919 + seed * 104729) % (shape.vocab - 3));
  const promptIds = [tokenizer.bos, ...Array.from({ length: P - 1 }, (_, i) => rng(i))];
  const report: ModelBenchReport = { machine: machineInfo(), model: { shape, activation, ternary_params: ternaryParams, ternary_bytes_tq2_0: (ternaryParams / 256) * 66, f32_params: f32Params, seed }, results: [] };
  let dir: string | null = null;
  let gguf: string | null = null;
  if (o.llamacpp !== false) {
    dir = mkdtempSync(join(tmpdir(), 'tritwise-bench-'));
    gguf = join(dir, 'model.tq2_0.gguf');
    step('exporting the TQ2_0 GGUF for llama.cpp');
    report.model.gguf_bytes = exportGguf(gguf, { config, weights, tokenizer, name: 'tritwise random BitNet-shaped' }, 'tq2_0').bytes;
  }
  try {
    for (const threads of o.threads) {
      const backend = await o.makeBackend(threads);
      const engines: Engine[] = [];
      try {
        step(`threads ${threads}: uploading the ternary model`);
        const tern = await LlamaModel.build(config, weights, backend, { activations });
        engines.push(tritwiseEngine('tritwise-wasm', tern, P, N));
        if (gguf) {
          step(`threads ${threads}: loading the GGUF in llama.cpp`);
          const lc = await LlamaCppModel.open(gguf, threads, config.seqLen);
          engines.push({ name: 'llamacpp-tq2_0', promptTokens: P, decodeTokens: N, prompt: (t) => lc.prompt(t), decode: (b, n) => lc.decode(b, n), dispose: () => lc.dispose() });
          report.machine.llamacpp = NODE_LLAMA_CPP;
        }
        if (o.dense) {
          step(`threads ${threads}: uploading the dense f32 model`);
          const dense = await LlamaModel.build(config, denseWeights(weights), backend);
          engines.push(tritwiseEngine('dense-f32-wasm', dense, Math.min(P, o.densePrompt ?? 64), Math.min(N, o.denseDecode ?? 16)));
        }
        Object.assign(report.machine, { backend: backend.describe() });
        // warm-up: lazily built layouts, JIT, page faults
        for (const e of engines) {
          await e.prompt(promptIds.slice(0, 8));
          await e.decode(tokenizer.bos, 2);
          await sleep(PAUSE_MS);
        }
        const runs = new Map(engines.map((e) => [e.name, { prompt: [] as number[], decode: [] as number[], ids: [] as number[] }]));
        for (let r = 0; r < rounds; r++) {
          for (const e of engines) {
            const rec = runs.get(e.name)!;
            step(`threads ${threads}, round ${r + 1}/${rounds}: ${e.name} prompt ${e.promptTokens}`);
            rec.prompt.push(await e.prompt(promptIds.slice(0, e.promptTokens)));
            await sleep(PAUSE_MS); // let llama.cpp's threads park before the next engine runs
            step(`threads ${threads}, round ${r + 1}/${rounds}: ${e.name} decode ${e.decodeTokens}`);
            const d = await e.decode(tokenizer.bos, e.decodeTokens);
            rec.decode.push(d.ms);
            rec.ids = d.ids;
            await sleep(PAUSE_MS);
          }
        }
        const res = new Map<string, ModelBenchResult>();
        for (const e of engines) {
          const rec = runs.get(e.name)!;
          const r: ModelBenchResult = { name: e.name, threads, prompt_tokens: e.promptTokens, decode_tokens: e.decodeTokens, prompt_tok_s: (e.promptTokens * 1000) / median(rec.prompt), decode_tok_s: (e.decodeTokens * 1000) / median(rec.decode), prompt_ms: rec.prompt, decode_ms: rec.decode };
          res.set(e.name, r);
          report.results.push(r);
        }
        const t = res.get('tritwise-wasm')!;
        const l = res.get('llamacpp-tq2_0');
        const d = res.get('dense-f32-wasm');
        if (l) {
          t.decode_vs_llamacpp = t.decode_tok_s / l.decode_tok_s;
          t.prompt_vs_llamacpp = t.prompt_tok_s / l.prompt_tok_s;
          const a = runs.get('tritwise-wasm')!.ids;
          const b = runs.get('llamacpp-tq2_0')!.ids;
          let same = 0;
          while (same < Math.min(a.length, b.length) && a[same] === b[same]) same++;
          report.agreement = { compared: Math.min(a.length, b.length), same_prefix: same };
        }
        if (d) {
          t.decode_vs_dense = t.decode_tok_s / d.decode_tok_s;
          t.prompt_vs_dense = t.prompt_tok_s / d.prompt_tok_s;
        }
      } finally {
        for (const e of engines) await e.dispose();
        await backend.dispose();
      }
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return report;
}
