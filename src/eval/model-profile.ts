/**
 * model-profile — where the time of one decode step goes (`tritwise bench --model --profile`).
 *
 * The model of model-bench (seeded random ternary, BitNet-0.7B shape by default) runs on a
 * backend wrapped so that every `linear`, `matmulDense` and `attention` call is timed and booked
 * under the layer it belongs to (by weight shape: q/k/v stack, wo, gate/up stack, w2, output
 * head), and the backend's element-wise calls (RMSNorm, SwiGLU, residual adds) under one row.
 * What is left of the step's wall time is the model's own JavaScript between calls (embedding
 * row, RoPE, KV-cache stores, argmax, and the element-wise ops of backends without their own).
 *
 * Two more probes split the linear layers' time:
 *   fixed cost per call   a 16-row layer with the model's width, timed alone: quantizing the
 *                         activations, building tables, one kernel call, dequantizing; it is paid
 *                         96 times per token whatever the layer's size
 *   pool dispatch         the same 16-row layer forced onto the worker pool (parallelMinWork 1)
 *                         minus the serial figure: waking the workers and waiting for them
 * and the decode step is then timed again at the start of the context and at position `context`
 * (the attention grows with it).
 */
import type { ActivationMode, Backend, TernaryWeights, DenseWeights } from '../backend/backend.js';
import { defaultConfig, linearNames, type LlamaConfig } from '../nn/llama-config.js';
import { LlamaModel } from '../nn/llama.js';
import { randomTernaryTensor, randomTernaryWeights } from '../nn/random-model.js';
import { argmax } from '../nn/sampling.js';
import { machineInfo, measure, median, type MachineInfo } from './benchmark.js';
import type { ModelShape } from './model-bench.js';

export interface ProfileOptions {
  shape: ModelShape;
  threads: number;
  /** decode steps timed (after `context` prompt tokens and 2 warm-up steps) */
  tokens?: number;
  /** prompt tokens in the cache before the timed steps (default 0) */
  context?: number;
  activation?: ActivationMode;
  seed?: number;
  makeBackend: (threads: number, extra?: Record<string, unknown>) => Promise<Backend>;
}

export interface ProfileRow {
  part: string;
  calls_per_token: number;
  ms_per_token: number;
  share: number;
  /** weight bytes read per token (2 bits per trit for ternary, 4 bytes per f32) and GB/s */
  bytes_per_token?: number;
  gbps?: number;
}

export interface DecodeProfile {
  machine: MachineInfo;
  shape: ModelShape;
  threads: number;
  context: number;
  tokens: number;
  /** mean over the timed steps (the rows add up to it); median step alongside */
  ms_per_token: number;
  median_step_ms: number;
  rows: ProfileRow[];
  /** one 16-row linear call, serial and forced onto the pool (median ms) */
  fixed_call_ms: number;
  pooled_call_ms: number;
}

/** The backend's own element-wise calls (Backend.rmsnorm / addInPlace / swigluRows, e.g. wasm SIMD). */
const ELEMENTWISE = 'RMSNorm, SwiGLU, residual adds (backend)';

/** Which part of the model a weight belongs to, from its shape. */
function partOf(rows: number, cols: number, s: ModelShape): string {
  if (cols === s.dim && rows === 3 * s.dim) return 'q/k/v (stacked)';
  if (cols === s.dim && rows === s.dim) return 'wo';
  if (cols === s.dim && rows === 2 * s.ffn) return 'gate/up (stacked)';
  if (cols === s.ffn && rows === s.dim) return 'w2';
  if (rows === s.vocab) return 'output head (f32)';
  return `${rows}×${cols}`;
}

interface Book {
  ms: Map<string, number>;
  calls: Map<string, number>;
  bytes: Map<string, number>;
}

/** The backend with its hot calls timed into `book` (everything else passes through). */
function timed(be: Backend, s: ModelShape, book: Book): Backend {
  const add = (part: string, ms: number, bytes: number) => {
    book.ms.set(part, (book.ms.get(part) ?? 0) + ms);
    book.calls.set(part, (book.calls.get(part) ?? 0) + 1);
    book.bytes.set(part, (book.bytes.get(part) ?? 0) + bytes);
  };
  return new Proxy(be, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'linear') {
        return async (w: TernaryWeights, ...rest: unknown[]) => {
          const t0 = performance.now();
          const y = await (v as (...a: unknown[]) => Promise<Float32Array>).call(target, w, ...rest);
          add(partOf(w.rows, w.cols, s), performance.now() - t0, (w.rows * w.cols) / 4);
          return y;
        };
      }
      if (prop === 'matmulDense') {
        return async (w: DenseWeights, ...rest: unknown[]) => {
          const t0 = performance.now();
          const y = await (v as (...a: unknown[]) => Promise<Float32Array>).call(target, w, ...rest);
          add(partOf(w.rows, w.cols, s), performance.now() - t0, w.rows * w.cols * 4);
          return y;
        };
      }
      if (prop === 'rmsnorm' || prop === 'addInPlace' || prop === 'swigluRows') {
        return (...a: unknown[]) => {
          const t0 = performance.now();
          (v as (...a: unknown[]) => void).apply(target, a);
          add(ELEMENTWISE, performance.now() - t0, 0);
        };
      }
      if (prop === 'attention') {
        return (...a: unknown[]) => {
          const t0 = performance.now();
          (v as (...a: unknown[]) => void).apply(target, a);
          add('attention', performance.now() - t0, 0);
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

/** One 16-row layer of the model's width: serial, and forced onto the pool. */
async function callCosts(o: ProfileOptions, activation: ActivationMode): Promise<{ serial: number; pooled: number }> {
  const t = randomTernaryTensor(16, o.shape.dim, 7);
  const x = new Float32Array(o.shape.dim).map((_, i) => Math.sin(i));
  const out: number[] = [];
  for (const extra of [{}, { parallelMinWork: 1 }]) {
    const be = await o.makeBackend(o.threads, extra);
    try {
      const w = await be.uploadTernary(t);
      const y = new Float32Array(16);
      out.push((await measure(() => be.linear!(w, x, 1, activation, y), { warmup: 50, minRuns: 200, minTimeMs: 300 })).median_ms);
    } finally {
      await be.dispose();
    }
  }
  return { serial: out[0]!, pooled: out[1]! };
}

export async function profileDecode(o: ProfileOptions): Promise<DecodeProfile> {
  const s = o.shape;
  const activation = o.activation ?? 'q8k';
  const N = o.tokens ?? 32;
  const ctx = o.context ?? 0;
  const config: LlamaConfig = defaultConfig({ dim: s.dim, hiddenDim: s.ffn, nLayers: s.layers, nHeads: s.heads, vocabSize: s.vocab, seqLen: ctx + N + 8 });
  const weights = randomTernaryWeights(config, o.seed ?? 1);
  const activations = new Map<string, ActivationMode>(linearNames(config).filter((n) => n !== 'output').map((n) => [n, activation]));
  const book: Book = { ms: new Map(), calls: new Map(), bytes: new Map() };
  const raw = await o.makeBackend(o.threads);
  let res: DecodeProfile;
  try {
    const be = timed(raw, s, book);
    const m = await LlamaModel.build(config, weights, be, { activations });
    const cache = m.newCache();
    try {
      if (ctx > 0) await m.forward([{ tokens: Array.from({ length: ctx }, (_, i) => 3 + ((i * 7919) % (s.vocab - 3))), cache }]);
      let tok = 1;
      for (let i = 0; i < 2; i++) tok = argmax((await m.forward([{ tokens: [tok], cache }]))[0]!);
      book.ms.clear();
      book.calls.clear();
      book.bytes.clear();
      const steps: number[] = [];
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        tok = argmax((await m.forward([{ tokens: [tok], cache }]))[0]!);
        steps.push(performance.now() - t0);
      }
      const total = steps.reduce((a, b) => a + b, 0);
      const rows: ProfileRow[] = [...book.ms].map(([part, ms]) => {
        const b = book.bytes.get(part)! / N;
        return { part, calls_per_token: book.calls.get(part)! / N, ms_per_token: ms / N, share: ms / total, ...(b > 0 ? { bytes_per_token: b, gbps: b / ((ms / N) * 1e6) } : {}) };
      });
      const booked = rows.reduce((a, r) => a + r.ms_per_token, 0);
      rows.push({ part: 'JS between calls (embedding, RoPE, KV stores, argmax; norms, SwiGLU, adds if the backend has none)', calls_per_token: 0, ms_per_token: total / N - booked, share: 1 - (booked * N) / total });
      res = { machine: machineInfo({ backend: raw.describe() }), shape: s, threads: o.threads, context: ctx, tokens: N, ms_per_token: total / N, median_step_ms: median(steps), rows, fixed_call_ms: NaN, pooled_call_ms: NaN };
    } finally {
      cache.dispose();
    }
  } finally {
    await raw.dispose();
  }
  const c = await callCosts(o, activation);
  res.fixed_call_ms = c.serial;
  res.pooled_call_ms = c.pooled;
  return res;
}
