/**
 * llama-train — the Llama forward pass of nn/llama.ts rebuilt from differentiable ops, over a
 * batch of B sequences of T tokens, ending in the fused head + cross-entropy loss:
 *
 *   x = E[ids]
 *   per layer:  h = rmsnorm(x)·attention_norm;  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ;  rope(q), rope(k)
 *               x = x + attention(q, k, v)·Woᵀ
 *               h = rmsnorm(x)·ffn_norm;  x = x + (silu(h·W1ᵀ) ⊙ h·W3ᵀ)·W2ᵀ
 *   loss = CE(rmsnorm(x)·norm · Eᵀ (shared classifier) or ·Outputᵀ, next tokens)
 *
 * What trains depends on the mode:
 *   'full'    every weight in f32 (the f32 fine-tuning baseline)
 *   'qat'     linear layers hold latent f32 weights and run ternary (qat.ts); embedding and norms f32
 *   'lora'    linear layers frozen in trit planes, adapters on the chosen ones (lora.ts)
 *   'frozen'  nothing trains (a distillation teacher, evaluation)
 *   'scales'  linear layers keep their trits frozen; one multiplier per row/group of their scales
 *             trains (scale-linear.ts: post-training scale tuning); norms optional, embedding f32
 *   'trits'   linear layers (trytes) re-choose their integers through latent positions and the
 *             straight-through estimator, with the same scale multipliers (trit-linear.ts:
 *             post-training trit re-selection); norms optional, embedding f32
 * With `recompute` each layer keeps only its input and is run again in the backward pass.
 */
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import type { StoredTensor } from '../io/weights-file.js';
import { checkWeights, linearNames, type LlamaConfig } from '../nn/llama-config.js';
import type { LoraTensors } from '../nn/lora-linear.js';
import { RopeTables } from '../nn/rope.js';
import { globToRegExp } from '../quant/plan.js';
import { quantize } from '../quant/weight-quantizers.js';
import type { DenseTensor } from '../tensor/dense-tensor.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { FrozenTernary, LoraAdapter, loraForward, mergeDense, mergeRequantize, type LoraOptions } from './lora.js';
import { attention } from './ops/attention.js';
import { cosineDistance } from './ops/cosine.js';
import { headLoss, type HeadLossResult } from './ops/cross-entropy.js';
import { add, embedding, scale, swiglu } from './ops/elementwise.js';
import { linear } from './ops/linear.js';
import { recompute } from './ops/recompute.js';
import { rmsnorm } from './ops/rmsnorm.js';
import { rope } from './ops/rope.js';
import { QatWeight, type QatOptions } from './qat.js';
import { ScaleTunedWeight } from './scale-linear.js';
import { TritTunedWeight } from './trit-linear.js';
import { Tape } from './tape.js';
import { completeSoft, type BatchSoft } from './teacher-cache.js';
import { Tensor, type FloatArrayCtor } from './tensor.js';

export type TrainMode = 'full' | 'qat' | 'lora' | 'frozen' | 'scales' | 'trits';

export interface LoraSpec extends LoraOptions {
  /** globs of the linear layers that get adapters (default: every linear layer) */
  targets?: string[];
  /** quantizer for an f32 base (default 'twn'); an already ternary base is kept as it is */
  quantizer?: string;
  groupSize?: number;
}

export interface TrainSpec {
  mode: TrainMode;
  qat?: QatOptions;
  lora?: LoraSpec;
  /** train the token embedding (default: true for full/qat, false for lora) */
  trainEmbedding?: boolean;
  /** train the RMSNorm weights (default: true for full/qat, false for lora) */
  trainNorms?: boolean;
  /** mode 'trits': the f32 weights the trytes came from (latent positions start inside their cells) */
  tritInit?: Map<string, StoredTensor>;
  /** element type (f64 for gradient checks; default f32) */
  dtype?: 'f32' | 'f64';
}

export interface Batch {
  /** B·T input ids, row-major */
  ids: Int32Array;
  /** B·T next-token targets (< 0: not scored) */
  targets: Int32Array;
  B: number;
  T: number;
  /** aligned-window index of each row (data.ts alignedBatch) */
  windows?: Int32Array;
  /** cached teacher targets per row (teacher-cache.ts); rows missing are computed by the loss */
  soft?: BatchSoft;
}

export type Distill =
  | { kind: 'kl'; teacher: TrainModel; alpha: number; temperature?: number; topK?: number }
  | { kind: 'cosine'; teacher: TrainModel; alpha: number };

export interface LossOptions {
  /** re-run each layer in the backward pass instead of keeping its activations */
  recompute?: boolean;
  /** recompute attention probabilities in backward (keep only the row log-sum-exp) */
  recomputeAttention?: boolean;
  distill?: Distill;
  /** rows per chunk of the fused head loss */
  chunk?: number;
}

export interface TrainLinear {
  readonly name: string;
  forward(tape: Tape, x: Tensor): Tensor;
  parameters(): Tensor[];
}

class DenseLinearT implements TrainLinear {
  constructor(readonly name: string, readonly w: Tensor) {}
  forward(tape: Tape, x: Tensor): Tensor {
    return linear(tape, x, this.w);
  }
  parameters(): Tensor[] {
    return this.w.requiresGrad ? [this.w] : [];
  }
}

class QatLinearT implements TrainLinear {
  constructor(readonly name: string, readonly q: QatWeight) {}
  forward(tape: Tape, x: Tensor): Tensor {
    return linear(tape, x, this.q.forward(tape));
  }
  parameters(): Tensor[] {
    return this.q.parameters();
  }
}

class ScaleLinearT implements TrainLinear {
  constructor(readonly name: string, readonly q: ScaleTunedWeight) {}
  forward(tape: Tape, x: Tensor): Tensor {
    return linear(tape, x, this.q.forward(tape));
  }
  parameters(): Tensor[] {
    return [this.q.m];
  }
}

class TritLinearT implements TrainLinear {
  constructor(readonly name: string, readonly q: TritTunedWeight) {}
  forward(tape: Tape, x: Tensor): Tensor {
    return linear(tape, x, this.q.forward(tape));
  }
  parameters(): Tensor[] {
    return this.q.parameters();
  }
}

class LoraLinearT implements TrainLinear {
  constructor(readonly name: string, readonly base: FrozenTernary, readonly adapter: LoraAdapter | null) {}
  forward(tape: Tape, x: Tensor): Tensor {
    return loraForward(tape, x, this.base, this.adapter);
  }
  parameters(): Tensor[] {
    return this.adapter ? [this.adapter.a, this.adapter.b] : [];
  }
}

interface TrainLayer {
  attentionNorm: Tensor;
  ffnNorm: Tensor;
  wq: TrainLinear;
  wk: TrainLinear;
  wv: TrainLinear;
  wo: TrainLinear;
  w1: TrainLinear;
  w2: TrainLinear;
  w3: TrainLinear;
}

export interface ExportOptions {
  /** LoRA: keep adapters separate (default), merge into dense f32, or merge and re-quantize */
  merge?: 'none' | 'dense' | 'requantize';
}

export interface ExportedWeights {
  config: LlamaConfig;
  weights: Map<string, StoredTensor>;
  activations: Map<string, ActivationMode>;
  adapters?: Map<string, LoraTensors>;
}

function denseOf(t: StoredTensor): Float32Array {
  return t instanceof TernaryTensor ? t.toDense() : (t as DenseTensor).data;
}

export class TrainModel {
  readonly rope: RopeTables;
  readonly layers: TrainLayer[] = [];
  readonly embedding: Tensor;
  readonly finalNorm: Tensor;
  /** the separate output head (null when the classifier is the embedding) */
  readonly output: TrainLinear | null;
  readonly linears = new Map<string, TrainLinear>();
  readonly #ctor: FloatArrayCtor;

  private constructor(
    readonly config: LlamaConfig,
    readonly spec: TrainSpec,
    /** the weights this model was built from (data-parallel workers rebuild it from them) */
    readonly source: Map<string, StoredTensor>,
    readonly activations: Map<string, ActivationMode>,
  ) {
    const weights = source;
    checkWeights(config, weights, 'training model');
    const mode = spec.mode;
    if (!['full', 'qat', 'lora', 'frozen', 'scales', 'trits'].includes(mode)) throw new TritwiseError('E_ARG', 'unknown training mode', { where: 'finetune --mode', expected: 'full | qat | lora', got: mode });
    this.#ctor = spec.dtype === 'f64' ? Float64Array : Float32Array;
    const trainBase = mode === 'full' || mode === 'qat';
    const trainEmb = mode !== 'frozen' && (spec.trainEmbedding ?? trainBase);
    const trainNorms = mode !== 'frozen' && (spec.trainNorms ?? trainBase);
    const vec = (name: string, trainable: boolean) => new Tensor(this.#ctor.from(denseOf(weights.get(name)!)), (weights.get(name) as DenseTensor).shape, trainable, name);
    this.rope = new RopeTables(config.headDim, config.ropeTheta);
    this.embedding = vec('tok_embeddings', trainEmb);
    this.finalNorm = vec('norm', trainNorms);
    const targets = (spec.lora?.targets ?? ['*']).map(globToRegExp);
    let loraCount = 0;
    const makeLinear = (name: string): TrainLinear => {
      const src = weights.get(name)!;
      if (mode === 'scales' && (src instanceof TernaryTensor || src instanceof MultiTritTensor)) return new ScaleLinearT(name, new ScaleTunedWeight(src, name, this.#ctor));
      if (mode === 'trits' && (src instanceof TernaryTensor || src instanceof MultiTritTensor)) {
        const w0 = spec.tritInit?.get(name);
        return new TritLinearT(name, new TritTunedWeight(src, name, this.#ctor, w0 && !(w0 instanceof TernaryTensor || w0 instanceof MultiTritTensor) ? (w0 as DenseTensor).data : undefined));
      }
      if (src instanceof MultiTritTensor) throw new TritwiseError('E_UNSUPPORTED', 'fine-tuning a multi-trit (depth > 1) model is not supported', { where: `finetune: ${name}`, expected: 'an f32 or single-trit model (fine-tune the f32 checkpoint with --depth d instead)', got: `${src.depth} trits per weight` });
      const [rows, cols] = src instanceof TernaryTensor ? [src.rows, src.cols] : ((src as DenseTensor).shape as [number, number]);
      if (mode === 'qat') return new QatLinearT(name, new QatWeight(this.#ctor.from(denseOf(src)), rows, cols, name, spec.qat));
      if (mode === 'lora' || (mode === 'frozen' && src instanceof TernaryTensor)) {
        const base = src instanceof TernaryTensor ? src : quantize((src as DenseTensor).data, rows, cols, spec.lora?.quantizer ?? 'twn', { groupSize: spec.lora?.groupSize ?? 0, name }).tensor;
        const wants = mode === 'lora' && targets.some((re) => re.test(name));
        if (wants) loraCount++;
        return new LoraLinearT(name, new FrozenTernary(base, name), wants ? new LoraAdapter(rows, cols, name, spec.lora, this.#ctor) : null);
      }
      return new DenseLinearT(name, new Tensor(this.#ctor.from(denseOf(src)), [rows, cols], mode === 'full', name));
    };
    for (let l = 0; l < config.nLayers; l++) {
      const p = `layers.${l}.`;
      const lin = (k: string) => {
        const t = makeLinear(p + k);
        this.linears.set(p + k, t);
        return t;
      };
      this.layers.push({
        attentionNorm: vec(p + 'attention_norm', trainNorms),
        wq: lin('attention.wq'),
        wk: lin('attention.wk'),
        wv: lin('attention.wv'),
        wo: lin('attention.wo'),
        ffnNorm: vec(p + 'ffn_norm', trainNorms),
        w1: lin('feed_forward.w1'),
        w2: lin('feed_forward.w2'),
        w3: lin('feed_forward.w3'),
      });
    }
    if (config.sharedClassifier) this.output = null;
    else {
      const src = weights.get('output')!;
      // the head follows the mode only when it is already ternary; an f32 head stays f32 (a plan's default)
      if (src instanceof TernaryTensor || src instanceof MultiTritTensor || mode === 'full') this.output = makeLinear('output');
      else this.output = new DenseLinearT('output', new Tensor(this.#ctor.from((src as DenseTensor).data), (src as DenseTensor).shape, false, 'output'));
      this.linears.set('output', this.output);
    }
    if (mode === 'lora' && loraCount === 0) throw new TritwiseError('E_ARG', 'no linear layer matches the LoRA targets', { where: 'lora targets', expected: `globs over ${linearNames(config).slice(0, 3).join(', ')}, …`, got: spec.lora?.targets });
  }

  /** Build from a model's weights (f32 or ternary linear layers). */
  static fromWeights(config: LlamaConfig, weights: Map<string, StoredTensor>, spec: TrainSpec, activations: Map<string, ActivationMode> = new Map()): TrainModel {
    return new TrainModel(config, spec, weights, activations);
  }

  /** Every trainable tensor, by name (stable order). */
  parameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const put = (t: Tensor) => {
      if (t.requiresGrad) out.set(t.name!, t);
    };
    put(this.embedding);
    this.layers.forEach((L) => {
      put(L.attentionNorm);
      put(L.ffnNorm);
    });
    for (const lin of this.linears.values()) for (const t of lin.parameters()) put(t);
    put(this.finalNorm);
    return out;
  }

  /**
   * Bytes of the weights as training holds them: `trainable` (each also gets a gradient and two
   * AdamW moments of the same size) and `frozen` (f32/f64 tensors at their element size, a frozen
   * ternary base in its planes and scales).
   */
  weightBytes(): { trainable: number; frozen: number } {
    const el = this.#ctor.BYTES_PER_ELEMENT;
    let trainable = 0, frozen = 0;
    const t = (x: Tensor) => {
      if (x.requiresGrad) trainable += x.size * el;
      else frozen += x.size * el;
    };
    t(this.embedding);
    t(this.finalNorm);
    for (const L of this.layers) {
      t(L.attentionNorm);
      t(L.ffnNorm);
    }
    for (const lin of this.linears.values()) {
      if (lin instanceof LoraLinearT) frozen += lin.base.tensor.bytes;
      else if (lin instanceof ScaleLinearT || lin instanceof TritLinearT) frozen += lin.q.tensor.bytes;
      else if (lin instanceof DenseLinearT) t(lin.w);
      for (const p of lin.parameters()) if (!(lin instanceof DenseLinearT)) t(p);
    }
    return { trainable, frozen };
  }

  /**
   * Learning-rate multipliers per parameter name (spec.qat.relativeLr): each QAT matrix (and its
   * learnable scales) gets mean|W₀| / m̄, m̄ the size-weighted mean of mean|W₀| over all QAT
   * matrices; other parameters keep the base rate. Empty otherwise.
   */
  lrScales(): Map<string, number> {
    const out = new Map<string, number>();
    if (this.spec.mode !== 'qat' || !this.spec.qat?.relativeLr) return out;
    const qs = [...this.linears.values()].filter((l): l is QatLinearT => l instanceof QatLinearT).map((l) => l.q);
    let num = 0, den = 0;
    for (const q of qs) {
      num += q.meanAbs0 * q.latent.size;
      den += q.latent.size;
    }
    const ref = num / Math.max(1, den);
    for (const q of qs) for (const t of q.parameters()) out.set(t.name!, ref > 0 ? q.meanAbs0 / ref : 1);
    return out;
  }

  /** Progressive quantization: λ of every QAT weight's forward Q_λ = λ·Q + (1 − λ)·W (qat.ts). */
  get quantBlend(): number {
    for (const l of this.linears.values()) if (l instanceof QatLinearT) return l.q.blend;
    return 1;
  }

  set quantBlend(v: number) {
    for (const l of this.linears.values()) if (l instanceof QatLinearT) l.q.blend = v;
  }

  /** Number of trainable values. */
  get trainableCount(): number {
    let n = 0;
    for (const t of this.parameters().values()) n += t.size;
    return n;
  }

  #layer(tape: Tape, x: Tensor, L: TrainLayer, pos: Int32Array, B: number, T: number, opts: LossOptions): Tensor {
    const c = this.config;
    let h = rmsnorm(tape, x, L.attentionNorm, c.normEps);
    let q = L.wq.forward(tape, h);
    let k = L.wk.forward(tape, h);
    const v = L.wv.forward(tape, h);
    q = rope(tape, q, c.nHeads, pos, this.rope, c.ropeStyle);
    k = rope(tape, k, c.nKvHeads, pos, this.rope, c.ropeStyle);
    const o = attention(tape, q, k, v, { B, T, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, window: c.slidingWindow }, { recompute: opts.recomputeAttention });
    x = add(tape, x, L.wo.forward(tape, o));
    h = rmsnorm(tape, x, L.ffnNorm, c.normEps);
    const g = swiglu(tape, L.w1.forward(tape, h), L.w3.forward(tape, h));
    return add(tape, x, L.w2.forward(tape, g));
  }

  /** The final normed hidden states [B·T, dim] (the head's input). */
  hidden(tape: Tape, batch: Batch, opts: LossOptions = {}): Tensor {
    const { B, T } = batch;
    if (batch.ids.length !== B * T) throw new TritwiseError('E_SHAPE', 'batch ids do not match B×T', { where: 'TrainModel', expected: B * T, got: batch.ids.length });
    if (T > this.config.seqLen) throw new TritwiseError('E_ARG', 'sequence longer than the model context', { where: 'TrainModel', expected: `≤ ${this.config.seqLen}`, got: T });
    const pos = new Int32Array(B * T);
    for (let i = 0; i < pos.length; i++) pos[i] = i % T;
    let x = embedding(tape, this.embedding, batch.ids);
    for (const L of this.layers) {
      x = opts.recompute ? recompute(tape, [x], (t, [xi]) => this.#layer(t, xi!, L, pos, B, T, opts)) : this.#layer(tape, x, L, pos, B, T, opts);
    }
    return rmsnorm(tape, x, this.finalNorm, this.config.normEps);
  }

  /** The head matrix [vocab, dim] as a tensor on the tape. */
  headWeight(tape: Tape): Tensor {
    if (!this.output) return this.embedding;
    if (this.output instanceof DenseLinearT) return this.output.w;
    if (this.output instanceof QatLinearT || this.output instanceof ScaleLinearT || this.output instanceof TritLinearT) return this.output.q.forward(tape);
    const base = (this.output as LoraLinearT).base;
    const w = new this.#ctor(base.rows * base.cols);
    base.decode(w);
    return new Tensor(w, [base.rows, base.cols], false, 'output');
  }

  /** The loss of a batch (and its parts): cross-entropy, optionally distilled from a teacher. */
  loss(tape: Tape, batch: Batch, opts: LossOptions = {}): HeadLossResult {
    const h = this.hidden(tape, batch, opts);
    const w = this.headWeight(tape);
    const d = opts.distill;
    if (!d || d.alpha === 0) return headLoss(tape, h, w, batch.targets, { chunk: opts.chunk });
    if (d.kind === 'kl' && batch.soft) {
      // cached top-k teacher targets; rows the cache lacked are computed now (and kept by the caller)
      completeSoft(d.teacher, batch as Batch & { soft: BatchSoft });
      return headLoss(tape, h, w, batch.targets, { chunk: opts.chunk, distill: { soft: batch.soft, alpha: d.alpha, temperature: d.temperature } });
    }
    const off = new Tape(false);
    const th = d.teacher.hidden(off, batch, { recomputeAttention: true });
    if (d.kind === 'kl') {
      const tw = d.teacher.headWeight(off);
      return headLoss(tape, h, w, batch.targets, { chunk: opts.chunk, distill: { hidden: th.data, weight: tw.data, alpha: d.alpha, temperature: d.temperature } });
    }
    const ce = headLoss(tape, h, w, batch.targets, { chunk: opts.chunk });
    const cos = cosineDistance(tape, h, th.data, this.config.dim);
    return { ...ce, kl: cos.data[0]!, loss: add(tape, scale(tape, ce.loss, 1 - d.alpha), scale(tape, cos, d.alpha)) };
  }

  /** The weights as a model holds them: trained trits, f32 embedding and norms, adapters. */
  export(opts: ExportOptions = {}): ExportedWeights {
    const f32 = (t: Tensor, shape: number[]) => ({ shape, data: Float32Array.from(t.data) });
    const weights = new Map<string, StoredTensor>();
    const activations = new Map(this.activations);
    const adapters = new Map<string, LoraTensors>();
    const c = this.config;
    weights.set('tok_embeddings', f32(this.embedding, [c.vocabSize, c.dim]));
    weights.set('norm', f32(this.finalNorm, [c.dim]));
    this.layers.forEach((L, l) => {
      weights.set(`layers.${l}.attention_norm`, f32(L.attentionNorm, [c.dim]));
      weights.set(`layers.${l}.ffn_norm`, f32(L.ffnNorm, [c.dim]));
    });
    for (const [name, lin] of this.linears) {
      if (lin instanceof DenseLinearT) weights.set(name, f32(lin.w, [...lin.w.shape]));
      else if (lin instanceof ScaleLinearT || lin instanceof TritLinearT) weights.set(name, lin.q.export());
      else if (lin instanceof QatLinearT) {
        const planes = lin.q.toTernary();
        // one plane is a ternary layer; deeper QAT is stored as its exact f32 sum Σ αₖTₖ
        weights.set(name, planes.length === 1 ? planes[0]! : { shape: [lin.q.rows, lin.q.cols], data: lin.q.toDense() });
        if (planes.length === 1 && !activations.has(name)) activations.set(name, 'f32');
        if (planes.length > 1) activations.delete(name);
      } else {
        const L = lin as LoraLinearT;
        const a = L.adapter;
        const merge = opts.merge ?? 'none';
        if (!a || merge === 'none') {
          weights.set(name, L.base.tensor);
          if (!activations.has(name)) activations.set(name, 'f32');
          if (a) adapters.set(name, { a: Float32Array.from(a.a.data), b: Float32Array.from(a.b.data), rank: a.rank, alpha: a.alpha });
        } else if (merge === 'dense') {
          weights.set(name, { shape: [L.base.rows, L.base.cols], data: mergeDense(L.base.tensor, a) });
          activations.delete(name);
        } else {
          weights.set(name, mergeRequantize(L.base.tensor, a, this.spec.lora?.quantizer ?? 'twn'));
          if (!activations.has(name)) activations.set(name, 'f32');
        }
      }
    }
    return { config: { ...c }, weights, activations, ...(adapters.size ? { adapters } : {}) };
  }
}
