/**
 * model — the public face of the pipeline:
 *
 *   const model = await Model.load('stories260K.bin', { tokenizer: 'tok512.bin' });
 *   const q = await model.quantize({ quantizer: 'twn', groupSize: 64 });
 *   for await (const t of q.generate('Once upon a time', { maxTokens: 50 })) process.stdout.write(t.text);
 *   await q.save('out/');   q.exportGguf('out.gguf', 'tq2_0');
 *
 * A Model is immutable: quantize() returns a new Model that shares the backend, the embedding and
 * the norms. Forward passes run on the Backend given at load (default: createBackend()).
 */
import type { ActivationMode, Backend, Decoder } from '../backend/backend.js';
import { createBackend } from '../backend/registry.js';
import { TritwiseError } from '../errors.js';
import { loadCheckpoint, type Checkpoint, type CheckpointFormat, type CheckpointOptions } from '../io/checkpoint.js';
import { exportGguf, type GgufExportReport, type GgufExportType } from '../io/gguf-model.js';
import { saveHfCheckpoint } from '../io/hf-checkpoint.js';
import { saveModel } from '../io/model-file.js';
import { storageChooser } from '../sparse/storage-choice.js';
import { checkVocab, StreamingDecoder, type Tokenizer } from '../io/tokenizers/tokenizer.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { Progress } from '../quant/calibration.js';
import { needsCalibration, needsHessian, resolveAttention, resolvePlan, validatePlan, type QuantPlan } from '../quant/plan.js';
import { quantizeModelWeights } from '../quant/quantize-pipeline.js';
import { planTargets, type LayerReport, type QuantizedWeights } from '../quant/quantize-model.js';
import { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import type { AttentionFn } from './attention.js';
import { attentionFactory, attentionModesOf, type AttentionMode } from './attention-modes.js';
import type { KVCache } from './kv-cache.js';
import type { LoraTensors } from './lora-linear.js';
import { checkWeights, type LlamaConfig } from './llama-config.js';
import { LlamaModel, type ForwardOptions, type SequenceStep } from './llama.js';
import { Sampler, type SamplingOptions } from './sampling.js';

export interface ModelLoadOptions extends CheckpointOptions {
  /** a Backend, or a backend name for createBackend (default: the registry's default) */
  backend?: Backend | string;
  /** worker threads, when the backend is created here */
  threads?: number;
  /** attention implementation per layer (default exact); attentionFactory('topk:32') makes one */
  attention?: (layer: number, backend: Backend) => AttentionFn;
}

export interface GenerateOptions extends SamplingOptions {
  /** tokens to generate (default 128) */
  maxTokens?: number;
  /** stop at the EOS token (default true) */
  stopAtEos?: boolean;
  /** prepend BOS to a text prompt (default true) */
  bos?: boolean;
}

export interface GeneratedToken {
  id: number;
  /** the text this token completes (may be '' inside a multi-byte character) */
  text: string;
}

export interface QuantizeModelOptions {
  /** calibration text (overrides plan.calibration.text, which the CLI reads from a file) */
  calibrationText?: string;
  onProgress?: Progress;
}

export interface ModelInfo {
  format: CheckpointFormat | 'memory';
  path?: string;
  plan?: unknown;
  layers?: LayerReport[];
  /** calibration.tune of the quantize call that made this model: KL before/after, trits changed */
  tune?: QuantizedWeights['tune'];
}

export class Model {
  #ownsBackend: boolean;
  /** the backend's device decoder (GPU backends), made on first use, and whether a generation holds it */
  #decoder: Decoder | null = null;
  #decoderBusy = false;

  private constructor(
    readonly config: LlamaConfig,
    readonly weights: Map<string, StoredTensor>,
    readonly activations: Map<string, ActivationMode>,
    readonly tokenizer: Tokenizer | undefined,
    readonly backend: Backend,
    readonly llama: LlamaModel,
    readonly info: ModelInfo,
    ownsBackend: boolean,
    readonly attention?: (layer: number, backend: Backend) => AttentionFn,
    /** LoRA adapters kept beside their layers (a fine-tuned model, train/lora.ts) */
    readonly adapters?: Map<string, LoraTensors>,
  ) {
    this.#ownsBackend = ownsBackend;
  }

  /** Load a llama2.c checkpoint, HF folder, GGUF file or tritwise model folder. */
  static async load(path: string, opts: ModelLoadOptions = {}): Promise<Model> {
    const ck = loadCheckpoint(path, opts);
    return Model.fromCheckpoint(ck, opts);
  }

  static async fromCheckpoint(ck: Omit<Checkpoint, 'format' | 'path'> & Partial<Pick<Checkpoint, 'format' | 'path'>>, opts: ModelLoadOptions = {}): Promise<Model> {
    const owns = !(typeof opts.backend === 'object');
    const backend = typeof opts.backend === 'object' ? opts.backend : await createBackend(opts.backend, { threads: opts.threads });
    if (ck.tokenizer) checkVocab(ck.tokenizer, ck.config.vocabSize, ck.path ?? 'model');
    checkWeights(ck.config, ck.weights, ck.path ?? 'model');
    const llama = await LlamaModel.build(ck.config, ck.weights, backend, { activations: ck.activations, attention: opts.attention, adapters: ck.adapters });
    return new Model(ck.config, ck.weights, ck.activations ?? new Map(), ck.tokenizer, backend, llama, { format: ck.format ?? 'memory', path: ck.path, plan: ck.plan }, owns, opts.attention, ck.adapters);
  }

  /** True when any linear layer is ternary. */
  get isQuantized(): boolean {
    for (const t of this.weights.values()) if (t instanceof TernaryTensor || t instanceof MultiTritTensor) return true;
    return false;
  }

  /** Bytes of weights as held in memory (ternary planes + scales, f32 elsewhere). */
  get bytes(): number {
    return this.llama.bytes;
  }

  newCache(): KVCache {
    return this.llama.newCache();
  }

  /** The raw forward pass over a batch of sequences (see LlamaModel.forward). */
  forward(steps: SequenceStep[], opts?: ForwardOptions): Promise<Float32Array[]> {
    return this.llama.forward(steps, opts);
  }

  requireTokenizer(): Tokenizer {
    if (!this.tokenizer) throw new TritwiseError('E_ARG', 'this model has no tokenizer', { where: this.info.path ?? 'model', expected: 'a tokenizer (pass { tokenizer: "tokenizer.bin" } / --tokenizer)', got: 'none' });
    return this.tokenizer;
  }

  /** Quantize under a plan; returns a new Model (this one is unchanged). */
  async quantize(plan: QuantPlan = {}, opts: QuantizeModelOptions = {}): Promise<Model> {
    validatePlan(plan);
    let tokens: number[] | undefined;
    let all: number[] | undefined;
    const resolved = resolvePlan(plan, planTargets(this.config));
    if (needsCalibration(resolved) || plan.calibration?.tune) {
      const text = opts.calibrationText;
      const which = resolved.find((l) => !l.dense && (l.quantizer === 'calibrated' || needsHessian(l)))?.quantizer ?? 'calibration.tune';
      if (text === undefined) throw new TritwiseError('E_ARG', `the '${which}' quantizer needs calibration text`, { where: 'quantize', expected: 'calibrationText (or --calibrate <file>)', got: 'none' });
      const tok = this.requireTokenizer();
      all = tok.encode(text, { bos: false });
      tokens = all.slice(0, plan.calibration?.tokens ?? 4096);
    }
    const q = await quantizeModelWeights(this.config, this.weights, plan, { backend: this.backend, tokens, tuneTokens: all, bos: this.tokenizer?.bos, onProgress: opts.onProgress, keepActivations: this.activations });
    // the plan's attention modes (if it sets any) replace the model's
    const modes = resolveAttention(plan, this.config.nLayers);
    const attention = modes ? attentionFactory(modes, 'plan attention') : this.attention;
    const llama = await LlamaModel.build(q.config, q.weights, this.backend, { activations: q.activations, attention, adapters: this.adapters });
    const { calibration: _c, ...planInfo } = plan;
    return new Model(q.config, q.weights, q.activations, this.tokenizer, this.backend, llama, { format: 'memory', path: this.info.path, plan: planInfo, layers: q.layers, ...(q.tune ? { tune: q.tune } : {}) }, false, attention, this.adapters);
  }

  /** Stream generated tokens. The prompt is text (encoded with BOS) or token ids. */
  async *generate(prompt: string | readonly number[], opts: GenerateOptions = {}): AsyncGenerator<GeneratedToken> {
    const tok = typeof prompt === 'string' ? this.requireTokenizer() : this.tokenizer;
    const ids = typeof prompt === 'string' ? tok!.encode(prompt, { bos: opts.bos ?? true }) : [...prompt];
    if (ids.length === 0) ids.push(tok?.bos ?? 1);
    if (ids.length > this.config.seqLen) throw new TritwiseError('E_ARG', 'prompt is longer than the context', { where: 'generate', expected: `≤ ${this.config.seqLen} tokens`, got: `${ids.length} tokens` });
    const max = opts.maxTokens ?? 128;
    const sampler = new Sampler(opts);
    // the device decoder runs the named attention modes (attentionFactory's); a custom attention hook decodes layer by layer
    const modes = attentionModesOf(this.attention);
    if (this.backend.createDecoder && modes && (modes.length === 1 || modes.length === this.config.nLayers)) {
      yield* this.#generateOnDevice(ids, max, sampler, tok, opts.stopAtEos ?? true, modes);
      return;
    }
    const cache = this.newCache();
    const decoder = tok ? new StreamingDecoder(tok, ids) : null;
    const eos = tok?.eos ?? 2;
    let step: number[] = ids;
    try {
      for (let i = 0; i < max && cache.length + step.length <= this.config.seqLen; i++) {
        const [logits] = await this.llama.forward([{ tokens: step, cache }]);
        const id = sampler.sample(logits!);
        if (id === eos && (opts.stopAtEos ?? true)) return;
        yield { id, text: decoder ? decoder.push(id) : '' };
        step = [id];
      }
    } finally {
      cache.dispose();
    }
  }

  /**
   * Generation on a device decoder (Backend.createDecoder): the whole forward pass and the
   * sampling run on the device, which returns only each sampled token. Same sampling rules and
   * PRNG draws as the CPU path.
   */
  async *#generateOnDevice(ids: number[], max: number, sampler: Sampler, tok: Tokenizer | undefined, stopAtEos: boolean, attention: readonly AttentionMode[]): AsyncGenerator<GeneratedToken> {
    const need = Math.min(this.config.seqLen, ids.length + max);
    // the cached decoder, unless another generation holds it (then a private one)
    const shared = !this.#decoderBusy;
    if (shared) this.#decoderBusy = true;
    let dec: Decoder | null = null;
    try {
      if (shared && this.#decoder && this.#decoder.maxLength >= need) dec = this.#decoder;
      else {
        dec = await this.backend.createDecoder!(this.llama, { maxLength: need, attention });
        if (shared) {
          await this.#decoder?.dispose();
          this.#decoder = dec;
        }
      }
      dec.reset();
      const decoder = tok ? new StreamingDecoder(tok, ids) : null;
      const eos = tok?.eos ?? 2;
      const sampling = { temperature: sampler.temperature, topP: sampler.topP, draw: () => sampler.rng.next() };
      let step: number[] = ids;
      for (let i = 0; i < max && dec.length + step.length <= dec.maxLength; i++) {
        const id = await dec.step(step, sampling);
        if (id === eos && stopAtEos) return;
        yield { id, text: decoder ? decoder.push(id) : '' };
        step = [id];
      }
    } finally {
      if (shared) this.#decoderBusy = false;
      else await dec?.dispose();
    }
  }

  /** Save as a tritwise model folder (weights, config, tokenizer). */
  save(dir: string, opts: { storage?: 'planes' | 'auto' | 'csr' | 'block-sparse' } = {}): void {
    const storage = opts.storage && opts.storage !== 'planes' ? storageChooser(opts.storage, this.activations) : undefined;
    saveModel(dir, { config: this.config, weights: this.weights, activations: this.activations, tokenizer: this.tokenizer, plan: this.info.plan, adapters: this.adapters, storage });
  }

  #noAdapters(what: string): void {
    if (this.adapters?.size) throw new TritwiseError('E_UNSUPPORTED', `${what} cannot hold LoRA adapters kept beside their layers`, { where: this.info.path ?? 'model', expected: 'a model without separate adapters (fine-tune with --merge dense or --merge requantize)', got: `${this.adapters.size} adapters` });
  }

  /** Save as an HF-style f32 checkpoint (Q/K rows in HF's rotate-half order). */
  saveHf(dir: string): void {
    this.#noAdapters('an HF checkpoint');
    saveHfCheckpoint(dir, { config: this.config, weights: this.weights, tokenizer: this.tokenizer });
  }

  /** Export a llama GGUF for llama.cpp: ternary layers as TQ2_0/TQ1_0 (or f32), the rest f32. */
  exportGguf(path: string, type: GgufExportType = 'tq2_0'): GgufExportReport {
    this.#noAdapters('a GGUF file');
    return exportGguf(path, { config: this.config, weights: this.weights, tokenizer: this.tokenizer, name: this.info.path }, type);
  }

  /** Release backend memory (and the backend itself when the model created it). */
  async dispose(): Promise<void> {
    await this.#decoder?.dispose();
    this.#decoder = null;
    if (this.#ownsBackend) await this.backend.dispose();
  }
}
