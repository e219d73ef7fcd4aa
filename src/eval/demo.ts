/**
 * demo — the side-by-side that `tritwise demo` prints: the same model in f32 and ternary, with
 * weight bytes, load and quantize time, generation speed, and (with a checkpoint and a text)
 * perplexity and a sample generation from each. Everything is measured in one run.
 */
import type { Backend } from '../backend/backend.js';
import { defaultConfig, type LlamaConfig } from '../nn/llama-config.js';
import { Model } from '../nn/model.js';
import { randomWeights } from '../nn/random-model.js';
import type { QuantPlan } from '../quant/plan.js';
import { machineInfo, type MachineInfo } from './benchmark.js';
import { defaultDemoModel, runTrainedDemo, type TrainedDemo, type TrainedDemoOptions } from './demo-model.js';
import { evaluatePerplexity, type PerplexityResult } from './perplexity.js';
import { existsSync } from 'node:fs';

export interface DemoOptions {
  backend: Backend;
  /** a checkpoint; without it a random model of `shape` is built */
  model?: string;
  tokenizer?: string;
  /** text for perplexity (with `model`) */
  text?: string;
  shape?: { layers: number; dim: number; ffn: number; heads: number; vocab: number };
  plan: QuantPlan;
  calibrationText?: string;
  /** tokens to generate for the speed measurement */
  tokens: number;
  prompt?: string;
  ctx?: number;
  /** perplexity chunks */
  chunks?: number;
  seed?: number;
  onStep?: (what: string) => void;
  /** the trained ternary model section (default: the bundled model when there is no checkpoint); null = skip */
  trained?: Omit<TrainedDemoOptions, 'backend'> | null;
}

export interface DemoSide {
  variant: 'f32' | 'ternary';
  bytes: number;
  /** load time (f32) or quantize time (ternary), ms */
  prepare_ms: number;
  tokens_per_second: number;
  perplexity?: PerplexityResult;
  sample?: string;
}

export interface DemoReport {
  machine: MachineInfo;
  source: string;
  config: LlamaConfig;
  plan: QuantPlan;
  sides: [DemoSide, DemoSide];
  /** the real ternary model trained by tritwise (absent with a checkpoint, or when not installed) */
  trained?: TrainedDemo;
}

async function speed(m: Model, n: number, prompt: number[]): Promise<number> {
  const t0 = performance.now();
  let k = 0;
  for await (const _ of m.generate(prompt, { maxTokens: n, stopAtEos: false })) k++;
  return k / ((performance.now() - t0) / 1000);
}

async function sample(m: Model, prompt: string, n: number): Promise<string> {
  let s = prompt;
  for await (const t of m.generate(prompt, { maxTokens: n })) s += t.text;
  return s;
}

export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const step = o.onStep ?? (() => {});
  let t0 = performance.now();
  let f32: Model;
  if (o.model) {
    step(`loading ${o.model}`);
    f32 = await Model.load(o.model, { backend: o.backend, tokenizer: o.tokenizer });
  } else {
    const s = o.shape ?? { layers: 6, dim: 512, ffn: 1536, heads: 8, vocab: 8000 };
    step(`building a random ${s.layers}-layer dim-${s.dim} model`);
    const config = defaultConfig({ dim: s.dim, hiddenDim: s.ffn, nLayers: s.layers, nHeads: s.heads, vocabSize: s.vocab, seqLen: 2048 });
    f32 = await Model.fromCheckpoint({ config, weights: randomWeights(config, o.seed ?? 1), activations: new Map() }, { backend: o.backend });
  }
  const loadMs = performance.now() - t0;
  step('quantizing');
  t0 = performance.now();
  const tern = await f32.quantize(o.plan, { calibrationText: o.calibrationText });
  const quantMs = performance.now() - t0;
  const prompt = f32.tokenizer ? f32.tokenizer.encode(o.prompt ?? 'Once upon a time') : [1];
  const sides: DemoSide[] = [];
  for (const [variant, m, ms] of [['f32', f32, loadMs], ['ternary', tern, quantMs]] as const) {
    step(`${variant}: generating ${o.tokens} tokens`);
    const side: DemoSide = { variant, bytes: m.bytes, prepare_ms: ms, tokens_per_second: await speed(m, o.tokens, prompt) };
    if (o.text !== undefined && m.tokenizer) {
      step(`${variant}: perplexity`);
      side.perplexity = await evaluatePerplexity(m, o.text, { ctx: o.ctx ?? 512, limit: o.chunks ?? 4 });
      side.sample = await sample(m, o.prompt ?? 'Once upon a time', 32);
    }
    sides.push(side);
  }
  let trained: TrainedDemo | undefined;
  const t = o.trained === undefined ? (o.model ? null : {}) : o.trained;
  if (t && existsSync(t.path ?? defaultDemoModel())) {
    step('trained ternary model: perplexity and a sample');
    trained = await runTrainedDemo({ ...t, backend: o.backend });
  }
  return { machine: machineInfo(o.backend.describe()), source: o.model ?? 'random', config: f32.config, plan: tern.info.plan as QuantPlan, sides: sides as [DemoSide, DemoSide], ...(trained ? { trained } : {}) };
}
