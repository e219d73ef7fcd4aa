/**
 * llama — the Llama forward pass (llama2.c `run.c` style), over a batch of sequences.
 *
 * Per layer, for every new token x (a row of the [N, dim] residual stream):
 *   xb = rmsnorm(x, attention_norm)
 *   q, k, v = wq·xb, wk·xb, wv·xb            (one batched matmul for all N tokens)
 *   q, k = rope(q, p), rope(k, p)            (p = the token's position in its sequence)
 *   cache[p] = (k, v);  o = attention(q, cache[0..p])
 *   x = x + wo·o
 *   xb = rmsnorm(x, ffn_norm)
 *   x = x + w2·(silu(w1·xb) ⊙ w3·xb)         (SwiGLU)
 * then logits = output · rmsnorm(x, norm), with output = tok_embeddings when shared.
 *
 * Every matrix product goes through a `Linear` (ternary or dense) on the model's Backend; Q/K/V
 * and gate/up each run as one stacked matmul when their weights allow (linear-stack.ts). When the
 * backend offers its own memory (allocF32), the activations and the KV caches live there, so its
 * kernels read and write them in place, and its native attention (Backend.attention) is the
 * default. The other non-linear parts (ops.ts, rope.ts) are plain TypeScript.
 */
import type { ActivationMode, Backend } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { exactAttention, type AttentionFn, type AttentionShape } from './attention.js';
import { KVCache, type F32Allocator } from './kv-cache.js';
import { checkWeights, kvDim, linearNames, qDim, type LlamaConfig } from './llama-config.js';
import { DenseLinear, type Linear } from './linear.js';
import { LinearStack, makeLinear } from './linear-stack.js';
import { LoraLinear, type LoraTensors } from './lora-linear.js';
import { addInPlace, rmsnorm, swigluRows } from './ops.js';
import { applyRope, RopeTables } from './rope.js';

/** Activation mode of a ternary linear layer, including llama.cpp's Q8_K emulation. */
export type LinearActivation = ActivationMode;

export interface LlamaLayer {
  attentionNorm: Float32Array;
  /** wq, wk, wv: output row [q | k | v] */
  qkv: LinearStack;
  wo: Linear;
  ffnNorm: Float32Array;
  /** w1 (gate), w3 (up): output row [gate | up] */
  gateUp: LinearStack;
  w2: Linear;
  attention: AttentionFn;
}

export interface BuildOptions {
  /** activation mode per ternary linear name (default 'f32') */
  activations?: Map<string, ActivationMode>;
  /** attention implementation per layer (default exact; nn/attention-modes.ts makes these) */
  attention?: (layer: number, backend: Backend) => AttentionFn;
  /** wrap a linear layer (calibration uses this to record inputs) */
  wrapLinear?: (name: string, l: Linear) => Linear;
  /** LoRA adapters added to these linear layers at inference (by linear name) */
  adapters?: Map<string, LoraTensors>;
}

/** One sequence's slice of a forward batch: new tokens appended at cache.length. */
export interface SequenceStep {
  tokens: ArrayLike<number>;
  cache: KVCache;
}

export interface ForwardOptions {
  /** logits for every new token ('all') or only the last of each sequence (default 'last') */
  logits?: 'all' | 'last';
}

function dense(weights: Map<string, StoredTensor>, name: string): Float32Array {
  return (weights.get(name) as DenseTensor).data;
}

export class LlamaModel {
  readonly rope: RopeTables;
  readonly attnShape: AttentionShape;

  private constructor(
    readonly config: LlamaConfig,
    readonly backend: Backend,
    readonly embedding: Float32Array,
    readonly layers: LlamaLayer[],
    readonly finalNorm: Float32Array,
    readonly output: Linear,
  ) {
    this.rope = new RopeTables(config.headDim, config.ropeTheta);
    this.attnShape = { nHeads: config.nHeads, nKvHeads: config.nKvHeads, headDim: config.headDim, window: config.slidingWindow };
    // the backend's own element-wise ops when it has them (wasm: SIMD on its memory), else ops.ts
    this.#rmsnorm = backend.rmsnorm?.bind(backend) ?? rmsnorm;
    this.#add = backend.addInPlace?.bind(backend) ?? addInPlace;
    this.#swiglu = backend.swigluRows?.bind(backend) ?? swigluRows;
  }

  readonly #rmsnorm: typeof rmsnorm;
  readonly #add: typeof addInPlace;
  readonly #swiglu: typeof swigluRows;

  static async build(config: LlamaConfig, weights: Map<string, StoredTensor>, backend: Backend, opts: BuildOptions = {}): Promise<LlamaModel> {
    checkWeights(config, weights, 'model');
    for (const name of opts.adapters?.keys() ?? []) {
      if (!linearNames(config).includes(name)) throw new TritwiseError('E_CONFIG', 'adapter for a layer the model does not have', { where: `model: ${name}`, expected: 'a linear layer name (layers.N.attention.wq, …)', got: name });
    }
    // a layer with an adapter becomes LoraLinear(base); then the caller's wrap, if any
    const wrap = (name: string, base: Linear): Linear => {
      const ad = opts.adapters?.get(name);
      const l = ad ? new LoraLinear(base, ad, name) : base;
      return opts.wrapLinear ? opts.wrapLinear(name, l) : l;
    };
    const lin = async (name: string) => wrap(name, await makeLinear(backend, name, weights.get(name)!, opts.activations?.get(name)));
    // parts with adapters run one by one (each adds its own low-rank term), the others stack
    const stack = (names: string[]) => {
      const wrapped = opts.wrapLinear || names.some((n) => opts.adapters?.has(n));
      return LinearStack.build(backend, names.map((name) => ({ name, tensor: weights.get(name)!, activation: opts.activations?.get(name) })), { wrap: wrapped ? wrap : undefined, stack: backend.stackLinears !== false });
    };
    const native = backend.attention ? (backend.attention.bind(backend) as AttentionFn) : null;
    const layers: LlamaLayer[] = [];
    for (let l = 0; l < config.nLayers; l++) {
      const p = `layers.${l}.`;
      layers.push({
        attentionNorm: dense(weights, p + 'attention_norm'),
        qkv: await stack([p + 'attention.wq', p + 'attention.wk', p + 'attention.wv']),
        wo: await lin(p + 'attention.wo'),
        ffnNorm: dense(weights, p + 'ffn_norm'),
        gateUp: await stack([p + 'feed_forward.w1', p + 'feed_forward.w3']),
        w2: await lin(p + 'feed_forward.w2'),
        attention: opts.attention?.(l, backend) ?? native ?? exactAttention,
      });
    }
    const emb = dense(weights, 'tok_embeddings');
    let output: Linear;
    if (config.sharedClassifier) {
      const l = await DenseLinear.fromWeights(backend, emb, config.vocabSize, config.dim, { name: 'output (shared)' });
      output = opts.wrapLinear ? opts.wrapLinear('output', l) : l;
    } else output = await lin('output');
    return new LlamaModel(config, backend, emb, layers, dense(weights, 'norm'), output);
  }

  /** f32 buffers in backend memory when the backend has its own (see Backend.allocF32). */
  get allocator(): F32Allocator | undefined {
    const b = this.backend;
    return b.allocF32 && b.freeF32 ? { alloc: (n) => b.allocF32!(n), free: (a) => b.freeF32!(a) } : undefined;
  }

  /** A KV cache for one sequence (in backend memory when possible: dispose() it when done). */
  newCache(): KVCache {
    return new KVCache(this.config.nLayers, kvDim(this.config), this.config.seqLen, this.allocator);
  }

  /** Bytes of weights: linear layers as stored, plus embedding and norms in f32. */
  get bytes(): number {
    let b = this.embedding.byteLength + this.finalNorm.byteLength;
    for (const L of this.layers) b += L.attentionNorm.byteLength + L.ffnNorm.byteLength + L.qkv.bytes + L.wo.bytes + L.gateUp.bytes + L.w2.bytes;
    if (!this.config.sharedClassifier) b += this.output.bytes;
    return b;
  }

  /**
   * Run new tokens of several sequences through the model in one batch. Returns, per sequence,
   * logits [n, vocab] (n = its new tokens for 'all', 1 for 'last'). Caches advance.
   */
  async forward(steps: SequenceStep[], opts: ForwardOptions = {}): Promise<Float32Array[]> {
    const c = this.config;
    const D = c.dim;
    const Q = qDim(c);
    const KV = kvDim(c);
    // the token rows of the batch: which sequence, which position
    const seqOf: number[] = [];
    const posOf: number[] = [];
    steps.forEach((s, i) => {
      s.cache.reserve(s.cache.length + s.tokens.length);
      for (let j = 0; j < s.tokens.length; j++) {
        seqOf.push(i);
        posOf.push(s.cache.length + j);
      }
    });
    const N = seqOf.length;
    const S = Q + 2 * KV; // a row of [q | k | v]
    const H = c.hiddenDim;
    const alloc = this.allocator;
    const bufs: Float32Array[] = [];
    const buf = (n: number): Float32Array => {
      const a = alloc ? alloc.alloc(n) : new Float32Array(n);
      bufs.push(a);
      return a;
    };
    try {
      // x = token embeddings
      const x = buf(N * D);
      let r = 0;
      for (const s of steps) {
        for (let j = 0; j < s.tokens.length; j++, r++) {
          const id = s.tokens[j]!;
          if (!(Number.isInteger(id) && id >= 0 && id < c.vocabSize)) throw new TritwiseError('E_VOCAB', 'token id outside the model vocabulary', { where: 'forward', expected: `0..${c.vocabSize - 1}`, got: id });
          x.set(this.embedding.subarray(id * D, (id + 1) * D), r * D);
        }
      }
      const xb = buf(N * D);
      const qkv = buf(N * S);
      const att = buf(N * Q);
      const y = buf(N * D);
      const gu = buf(N * 2 * H);
      const h = buf(N * H);
      for (let l = 0; l < this.layers.length; l++) {
        const L = this.layers[l]!;
        // attention block
        this.#rmsnorm(xb, x, L.attentionNorm, N, D, c.normEps);
        await L.qkv.forward(xb, N, qkv);
        for (let t = 0; t < N; t++) {
          const cache = steps[seqOf[t]!]!.cache;
          const p = posOf[t]!;
          applyRope(qkv, t * S, c.nHeads, p, this.rope, c.ropeStyle);
          applyRope(qkv, t * S + Q, c.nKvHeads, p, this.rope, c.ropeStyle);
          cache.keys[l]!.set(qkv.subarray(t * S + Q, t * S + Q + KV), p * KV);
          cache.values[l]!.set(qkv.subarray(t * S + Q + KV, (t + 1) * S), p * KV);
        }
        for (let t = 0; t < N; t++) {
          const cache = steps[seqOf[t]!]!.cache;
          L.attention(qkv, t * S, cache.keys[l]!, cache.values[l]!, posOf[t]!, this.attnShape, att, t * Q);
        }
        this.#add(x, await L.wo.forward(att, N, y), N * D);
        // feed-forward block
        this.#rmsnorm(xb, x, L.ffnNorm, N, D, c.normEps);
        await L.gateUp.forward(xb, N, gu);
        this.#swiglu(h, gu, N, H);
        this.#add(x, await L.w2.forward(h, N, y), N * D);
      }
      for (const s of steps) s.cache.length += s.tokens.length;
      // classifier on the rows asked for
      const rows: number[] = [];
      const counts: number[] = [];
      let base = 0;
      for (const s of steps) {
        const n = s.tokens.length;
        if (opts.logits === 'all') for (let j = 0; j < n; j++) rows.push(base + j);
        else if (n > 0) rows.push(base + n - 1);
        counts.push(opts.logits === 'all' ? n : Math.min(n, 1));
        base += n;
      }
      const sel = buf(rows.length * D);
      rows.forEach((row, i) => sel.set(x.subarray(row * D, (row + 1) * D), i * D));
      this.#rmsnorm(sel, sel, this.finalNorm, rows.length, D, c.normEps);
      const V = c.vocabSize;
      const logits = await this.output.forward(sel, rows.length, buf(rows.length * V));
      const out: Float32Array[] = [];
      let o = 0;
      for (const n of counts) {
        out.push(logits.slice(o * V, (o + n) * V));
        o += n;
      }
      return out;
    } finally {
      if (alloc) for (const a of bufs) alloc.free(a);
    }
  }
}
