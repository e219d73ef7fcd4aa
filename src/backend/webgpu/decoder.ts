/**
 * decoder — whole Llama decode steps on the GPU (nn/llama.ts's forward pass, one token at a time).
 *
 * Everything a step touches lives on the device: the linear layers exactly where the backend
 * uploaded them for the model (no second copy), the norms, the RoPE cos/sin table, the KV cache
 * [positions, kvDim] per layer, and every intermediate. All launches of a step (kernels below)
 * are built once; a step writes one small uniform (position, embedding row, sampling numbers),
 * encodes the launches in one compute pass and submits. Prompt tokens are submitted back to back
 * without waiting; after the last token the sampled id — 4 bytes — is the only readback.
 *
 *   embed → per layer: rmsnorm → wq,wk,wv → rope-kv (rotate q,k; write k,v to the cache)
 *         → attention → wo (+= x) → rmsnorm → w1,w3 → swiglu → w2 (+= x)
 *   → rmsnorm → output → argmax | sample
 * A linear layer is one ternary-f32 or dense launch per weight shard, or, with int8 / ternary /
 * q8k activations, act-quant → ternary-int → dequant (as nn/linear.ts does on the CPU). A
 * multi-trit layer (d planes) quantizes its activations once and runs d plane launches adding
 * into the same output.
 *
 * Attention runs the layer's `--attention` mode (DecoderOptions.attention; default exact) with
 * the kernels of attention.ts: exact, flash (split keys + log-sum-exp merge), ternary (popcount
 * scores over a trit K cache) and top-k / threshold hybrids.
 */
/// <reference types="@webgpu/types" />
import { TritwiseError } from '../../errors.js';
import { kvDim, qDim } from '../../nn/llama-config.js';
import type { AttentionMode } from '../../nn/attention-modes.js';
import type { LlamaModel } from '../../nn/llama.js';
import type { Linear, TernaryLinear } from '../../nn/linear.js';
import { MultiTritLinear } from '../../nn/multi-trit-linear.js';
import type { LinearStack } from '../../nn/linear-stack.js';
import type { Decoder, DecoderOptions, DeviceSampling } from '../backend.js';
import { attentionLaunches, attentionSizes, type GpuAttentionShape } from './attention.js';
import { encodeDispatches, gpuTimeMs, makeDispatch, releaseDispatches, type Dispatch } from './dispatch.js';
import { denseMatmul, ternaryF32, ternaryGemvFused, ternaryInt, usesGemv } from './matmul.js';
import type { WebGpuBackend } from './webgpu-backend.js';
import { destroyWeights, gpuBuffer, uploadDense, type GpuDense, type GpuTernary } from './weights.js';

/** The separate layers of a Q/K/V or gate/up stack (the webgpu backend asks the model not to stack them). */
function parts(s: LinearStack, n: number): Linear[] {
  if (s.stacked || s.parts.length !== n) {
    throw new TritwiseError('E_UNSUPPORTED', 'the GPU decoder needs Q/K/V and gate/up as separate layers', { where: 'webgpu decoder', expected: `${n} separate layers (backend.stackLinears = false)`, got: s.stacked ? 'one stacked layer' : `${s.parts.length} layers` });
  }
  return s.parts;
}


/**
 * Scratch of the quantized-activation linears: qa/qs the quantized input and its scale(s), acc the
 * integer sums, and which input qa holds now (launches are built in order, so a linear that
 * reads the same input in the same mode as the one before it skips its act-quant launch).
 */
interface QuantScratch {
  qa: GPUBuffer;
  qs: GPUBuffer;
  acc: GPUBuffer;
  held: { input: GPUBuffer; mode: string; cols: number } | null;
}

const STEP_BINDING = 7;
const pad32 = (n: number) => Math.ceil(n / 32) * 32;
const wgs = (n: number, per: number) => Math.max(1, Math.ceil(n / per));

export class GpuDecoder implements Decoder {
  #length = 0;
  #disposed = false;
  readonly #owned: GPUBuffer[] = [];
  #body: Dispatch[] = [];
  #head: Dispatch[] = [];
  #embed: Dispatch[] = [];
  #argmax!: Dispatch;
  #sample!: Dispatch;
  #embedding!: GpuDense;
  #ownEmbedding = false;
  #step!: GPUBuffer;
  #tok!: GPUBuffer;
  #read!: GPUBuffer;
  #logits!: GPUBuffer;
  #haveLogits = false;

  private constructor(
    readonly backend: WebGpuBackend,
    readonly model: LlamaModel,
    readonly maxLength: number,
    readonly attention: readonly AttentionMode[],
  ) {}

  get length(): number {
    return this.#length;
  }

  static async create(be: WebGpuBackend, model: LlamaModel, opts: DecoderOptions = {}): Promise<GpuDecoder> {
    const c = model.config;
    const maxLength = opts.maxLength ?? c.seqLen;
    if (!(Number.isInteger(maxLength) && maxLength >= 1 && maxLength <= c.seqLen)) {
      throw new TritwiseError('E_ARG', 'invalid decoder length', { where: 'webgpu decoder maxLength', expected: `1..${c.seqLen}`, got: maxLength });
    }
    const modes = opts.attention ?? [{ kind: 'exact' }];
    if (modes.length !== 1 && modes.length !== c.nLayers) throw new TritwiseError('E_ARG', 'one attention mode, or one per layer', { where: 'webgpu decoder attention', expected: `1 or ${c.nLayers} modes`, got: modes.length });
    const d = new GpuDecoder(be, model, maxLength, Array.from({ length: c.nLayers }, (_, l) => modes[modes.length === 1 ? 0 : l]!));
    try {
      await be.scoped('building the decoder', () => d.#build());
    } catch (e) {
      d.#free();
      throw e;
    }
    return d;
  }

  #buffer(floats: number, label: string, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
    const b = this.backend.device.createBuffer({ label, size: Math.max(16, Math.ceil((floats * 4) / 16) * 16), usage });
    this.#owned.push(b);
    return b;
  }

  #upload(data: Float32Array, label: string): GPUBuffer {
    const b = gpuBuffer(this.backend.device, data, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, label);
    this.#owned.push(b);
    return b;
  }

  async #build(): Promise<void> {
    const be = this.backend;
    const ctx = be.ctx;
    const m = this.model;
    const c = m.config;
    const D = c.dim;
    const Q = qDim(c);
    const KV = kvDim(c);
    const H = c.hiddenDim;
    const V = c.vocabSize;
    const L = this.maxLength;
    const linears = m.layers.flatMap((l) => [...parts(l.qkv, 3), l.wo, ...parts(l.gateUp, 2), l.w2]).concat([m.output]);
    const maxCols = Math.max(...linears.map((l) => l.inFeatures));
    let maxAcc = 1;
    for (const l of linears) {
      if (l.kind === 'ternary' && (l as TernaryLinear).activation !== 'f32') {
        for (const w of this.#planes(l, 'accumulators')) maxAcc = Math.max(maxAcc, w.rows * w.groups);
      }
    }
    // activations and scratch (padded to whole 32-column words; the padding stays zero)
    const x = this.#buffer(pad32(D), 'x');
    const xb = this.#buffer(pad32(D), 'xb');
    const q = this.#buffer(pad32(Q), 'q');
    const k = this.#buffer(pad32(KV), 'k');
    const v = this.#buffer(pad32(KV), 'v');
    const att = this.#buffer(pad32(Q), 'att');
    const hb = this.#buffer(pad32(H), 'hb');
    const hb2 = this.#buffer(pad32(H), 'hb2');
    this.#logits = this.#buffer(V, 'logits');
    const probs = this.#buffer(V, 'probs');
    const qa = this.#buffer(8 * Math.ceil(maxCols / 32), 'quantized activations');
    const qs = this.#buffer(Math.ceil(maxCols / 256) + 1, 'activation scales');
    const acc = this.#buffer(maxAcc, 'accumulators');
    const ashape: GpuAttentionShape = { nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, window: c.slidingWindow, length: L };
    const sizes = this.attention.map((mode) => attentionSizes(mode, ashape));
    const scores = this.#buffer(Math.max(...sizes.map((z) => z.scratch)), 'attention scratch');
    const maxQt = Math.max(...sizes.map((z) => z.queryTrits));
    const queryTrits = maxQt > 0 ? this.#buffer(maxQt, 'query trits') : undefined;
    this.#tok = this.#buffer(4, 'token');
    this.#read = this.#buffer(4, 'token readback', GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.#step = this.#buffer(8, 'step', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const step = { [STEP_BINDING]: this.#step };
    // RoPE table: the same f32 cos/sin as the CPU (nn/rope.ts), interleaved
    const half = c.headDim / 2;
    m.rope.ensure(L);
    const cs = new Float32Array(L * half * 2);
    for (let i = 0; i < L * half; i++) {
      cs[2 * i] = m.rope.cos[i]!;
      cs[2 * i + 1] = m.rope.sin[i]!;
    }
    const ropeTable = this.#upload(cs, 'rope cos/sin');
    // embedding: the shared classifier's weights when they are on the GPU already
    if (c.sharedClassifier && m.output.kind === 'dense') this.#embedding = be.denseHandle((m.output as unknown as { weights: GpuDense }).weights, 'decoder embedding');
    else {
      this.#embedding = uploadDense(be.device, m.embedding, V, D, be.limits);
      this.#ownEmbedding = true;
    }
    this.#embed = await Promise.all(this.#embedding.shards.map((s) => makeDispatch(ctx, { shader: 'embed' }, [D, 4 * this.#embedding.cs], [s.data, x], [wgs(D, 64), 1, 1], step)));

    const rmsnorm = (input: GPUBuffer, w: GPUBuffer, out: GPUBuffer) => makeDispatch(ctx, { shader: 'rmsnorm' }, [D, { f: c.normEps }], [input, w, out], [1, 1, 1]);
    const scratch: QuantScratch = { qa, qs, acc, held: null };
    const linear = (l: Linear, name: string, input: GPUBuffer, out: GPUBuffer, accumulate = false) => this.#linear(l, name, input, out, accumulate, scratch);
    // a launch that writes a linear's input (norm, attention, swiglu) ends what qa holds
    const inputWritten = () => (scratch.held = null);
    const body: Dispatch[] = [];
    for (let li = 0; li < m.layers.length; li++) {
      const l = m.layers[li]!;
      const p = `layers.${li}.`;
      const kc = this.#buffer(L * KV, `${p}k cache`);
      const vc = this.#buffer(L * KV, `${p}v cache`);
      const an = this.#upload(l.attentionNorm, `${p}attention_norm`);
      const fn = this.#upload(l.ffnNorm, `${p}ffn_norm`);
      body.push(await rmsnorm(x, an, xb));
      inputWritten();
      const [wq, wk, wv] = parts(l.qkv, 3);
      const [w1, w3] = parts(l.gateUp, 2);
      body.push(...(await linear(wq!, p + 'attention.wq', xb, q)), ...(await linear(wk!, p + 'attention.wk', xb, k)), ...(await linear(wv!, p + 'attention.wv', xb, v)));
      body.push(await makeDispatch(ctx, { shader: 'rope-kv' }, [c.nHeads, c.nKvHeads, c.headDim, c.ropeStyle === 'halves' ? 1 : 0, KV], [q, k, v, kc, vc, ropeTable], [wgs(Q / 2 + KV / 2 + KV, 64), 1, 1], step));
      const keyTrits = sizes[li]!.keyTrits > 0 ? this.#buffer(sizes[li]!.keyTrits, `${p}k trit cache`) : undefined;
      body.push(...(await attentionLaunches(ctx, this.attention[li]!, ashape, { q, kc, vc, scratch: scores, out: att, step: this.#step, keyTrits, queryTrits })));
      inputWritten();
      body.push(...(await linear(l.wo, p + 'attention.wo', att, x, true)));
      body.push(await rmsnorm(x, fn, xb));
      inputWritten();
      body.push(...(await linear(w1!, p + 'feed_forward.w1', xb, hb)), ...(await linear(w3!, p + 'feed_forward.w3', xb, hb2)));
      body.push(await makeDispatch(ctx, { shader: 'swiglu' }, [H], [hb, hb2], [wgs(H, 64), 1, 1]));
      inputWritten();
      body.push(...(await linear(l.w2, p + 'feed_forward.w2', hb, x, true)));
    }
    this.#body = body;
    const norm = this.#upload(m.finalNorm, 'norm');
    inputWritten();
    this.#head = [await rmsnorm(x, norm, xb), ...(await linear(m.output, 'output', xb, this.#logits))];
    this.#argmax = await makeDispatch(ctx, { shader: 'sample', entry: 'argmax' }, [V], [this.#logits, null, this.#tok], [1, 1, 1]);
    this.#sample = await makeDispatch(ctx, { shader: 'sample', entry: 'sample' }, [V], [this.#logits, probs, this.#tok], [1, 1, 1], step);
  }

  async #linear(l: Linear, name: string, input: GPUBuffer, out: GPUBuffer, accumulate: boolean, s: QuantScratch): Promise<Dispatch[]> {
    const be = this.backend;
    const ctx = be.ctx;
    if ((l as { bias?: Float32Array }).bias) throw new TritwiseError('E_UNSUPPORTED', 'linear layers with a bias are not supported by the GPU decoder', { where: name, expected: 'no bias', got: 'bias' });
    if (l.kind === 'dense') return denseMatmul(ctx, be.denseHandle((l as unknown as { weights: GpuDense }).weights, name), { x: input, y: out, batch: 1, accumulate });
    const planes = this.#planes(l, name);
    const mode = (l as TernaryLinear).activation;
    // d planes (multi-trit): the first plane writes (or adds, for a residual), the others add
    const f32 = (h: GpuTernary, i: number) => ternaryF32(ctx, h, { x: input, y: out, batch: 1, accumulate: accumulate || i > 0 });
    if (mode === 'f32') return (await Promise.all(planes.map(f32))).flat();
    const h0 = planes[0]!;
    const launches: Dispatch[] = [];
    // Q/K/V (and gate/up) read the same input: quantize it once while qa still holds it
    const quantKey = { input, mode, cols: h0.cols };
    const held = s.held;
    if (!(held && held.input === input && held.mode === mode && held.cols === h0.cols)) {
      launches.push(await makeDispatch(ctx, { shader: 'act-quant', constants: { MODE: mode === 'int8' ? 0 : mode === 'q8k' ? 1 : 2 } }, [h0.cols, h0.wpr], [input, s.qa, s.qs], [mode === 'q8k' ? wgs(h0.cols, 256) : 1, 1, 1]));
      s.held = quantKey;
    }
    for (const [i, h] of planes.entries()) {
      if (mode !== 'q8k' && usesGemv(ctx, h, 1)) {
        launches.push(...(await ternaryGemvFused(ctx, h, mode, { x: s.qa, xs: s.qs, y: out, accumulate: accumulate || i > 0 })));
        continue;
      }
      launches.push(...(await ternaryInt(ctx, h, mode === 'ternary' ? 'ternary' : 'int8', { x: s.qa, y: s.acc, batch: 1 })));
      launches.push(...(await Promise.all(h.shards.map((sh) => makeDispatch(ctx, { shader: 'dequant', constants: { MODE: mode === 'q8k' ? 1 : 0 } }, [sh.rows, h.groups, sh.row0, accumulate || i > 0 ? 1 : 0], [s.acc, sh.scales, s.qs, out], [wgs(sh.rows, 64), 1, 1])))));
    }
    return launches;
  }

  /** The GPU trit planes of a ternary layer: one, or d for a multi-trit layer (its fused upload or its per-plane layers). */
  #planes(l: Linear, name: string): GpuTernary[] {
    const be = this.backend;
    if (l instanceof MultiTritLinear) {
      if (l.fused) return be.multiHandle(l.fused, name).planes;
      return l.planes.map((p, i) => be.ternaryHandle(p.weights, `${name} plane ${i}`));
    }
    if (!('weights' in l) || (l as TernaryLinear).weights?.kind !== 'ternary') throw new TritwiseError('E_UNSUPPORTED', 'unsupported linear layer in the GPU decoder', { where: name, expected: 'a ternary, multi-trit or dense layer', got: l.constructor.name });
    return [be.ternaryHandle((l as TernaryLinear).weights, name)];
  }

  async step(tokens: readonly number[], sampling: DeviceSampling): Promise<number> {
    const c = this.model.config;
    if (tokens.length === 0) throw new TritwiseError('E_ARG', 'a decode step needs at least one token', { where: 'webgpu decoder', expected: '≥ 1 token', got: 0 });
    if (!(Number.isFinite(sampling.temperature) && sampling.temperature >= 0)) throw new TritwiseError('E_ARG', 'invalid temperature', { where: 'webgpu decoder', expected: '≥ 0', got: sampling.temperature });
    if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new TritwiseError('E_ARG', 'invalid top-p', { where: 'webgpu decoder', expected: '0 < p ≤ 1', got: sampling.topP });
    for (const id of tokens) if (!(Number.isInteger(id) && id >= 0 && id < c.vocabSize)) throw new TritwiseError('E_VOCAB', 'token id outside the model vocabulary', { where: 'webgpu decoder', expected: `0..${c.vocabSize - 1}`, got: id });
    if (this.#length + tokens.length > this.maxLength) throw new TritwiseError('E_ARG', 'sequence is longer than the decoder cache', { where: 'webgpu decoder', expected: `≤ ${this.maxLength} positions`, got: this.#length + tokens.length });
    return this.backend.serial(() =>
      this.backend.scoped('decode step', async () => {
        if (this.#disposed) throw new TritwiseError('E_BACKEND', 'decoder is disposed', { where: 'webgpu decoder' });
        const dev = this.backend.device;
        const greedy = sampling.temperature === 0;
        const stepData = new ArrayBuffer(32);
        const u32 = new Uint32Array(stepData);
        const f32 = new Float32Array(stepData);
        for (let i = 0; i < tokens.length; i++) {
          const id = tokens[i]!;
          const last = i === tokens.length - 1;
          const si = this.#embedding.shards.findIndex((s) => id >= s.row0 && id < s.row0 + s.rows);
          u32[0] = this.#length;
          u32[1] = id - this.#embedding.shards[si]!.row0;
          f32[2] = last && !greedy ? Math.fround(sampling.draw()) : 0;
          f32[3] = sampling.temperature;
          f32[4] = sampling.topP;
          dev.queue.writeBuffer(this.#step, 0, stepData);
          const enc = dev.createCommandEncoder({ label: 'decode step' });
          const pass = enc.beginComputePass({ label: 'decode step' });
          encodeDispatches(pass, [this.#embed[si]!, ...this.#body]);
          if (last) encodeDispatches(pass, [...this.#head, greedy ? this.#argmax : this.#sample]);
          pass.end();
          if (last) enc.copyBufferToBuffer(this.#tok, 0, this.#read, 0, 4);
          dev.queue.submit([enc.finish()]);
          this.#length++;
        }
        this.#haveLogits = true;
        await this.#read.mapAsync(GPUMapMode.READ, 0, 4);
        const next = new Uint32Array(this.#read.getMappedRange(0, 4))[0]!;
        this.#read.unmap();
        return next;
      }),
    );
  }

  /**
   * GPU time of one greedy decode step (embedding, every layer, head, argmax) by timestamp
   * queries, median of n, in ms; null where the device has no timestamps. It re-runs the step
   * at the current position without advancing the cache (it overwrites that position's K/V,
   * which the next real step writes again), so it leaves the decoder's state as it was.
   */
  async gpuStepMs(n = 16): Promise<number | null> {
    if (!this.backend.gpu.timestamps) return null;
    return this.backend.serial(async () => {
      const stepData = new Uint32Array(8);
      stepData[0] = Math.min(this.#length, this.maxLength - 1);
      this.backend.device.queue.writeBuffer(this.#step, 0, stepData);
      const ms = await gpuTimeMs(this.backend.device, [[this.#embed[0]!, ...this.#body, ...this.#head, this.#argmax]], n);
      this.#haveLogits = false;
      return ms;
    });
  }

  async logits(): Promise<Float32Array> {
    if (!this.#haveLogits) throw new TritwiseError('E_ARG', 'no logits yet', { where: 'webgpu decoder', expected: 'a step first', got: 'none' });
    return this.backend.serial(() =>
      this.backend.scoped('reading logits', async () => {
        const dev = this.backend.device;
        const n = this.model.config.vocabSize * 4;
        const rb = dev.createBuffer({ label: 'logits readback', size: Math.ceil(n / 16) * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        try {
          const enc = dev.createCommandEncoder();
          enc.copyBufferToBuffer(this.#logits, 0, rb, 0, Math.ceil(n / 16) * 16);
          dev.queue.submit([enc.finish()]);
          await rb.mapAsync(GPUMapMode.READ);
          return new Float32Array(rb.getMappedRange().slice(0, n));
        } finally {
          rb.destroy();
        }
      }),
    );
  }

  reset(): void {
    this.#length = 0;
    this.#haveLogits = false;
  }

  /** Bytes of device memory this decoder allocated (KV cache, intermediates, norms; not the model's weights). */
  get bytes(): number {
    return this.#owned.reduce((s, b) => s + b.size, 0);
  }

  #free(): void {
    releaseDispatches([...this.#embed, ...this.#body, ...this.#head, ...(this.#argmax ? [this.#argmax] : []), ...(this.#sample ? [this.#sample] : [])]);
    for (const b of this.#owned) b.destroy();
    this.#owned.length = 0;
    if (this.#ownEmbedding) destroyWeights(this.#embedding);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.backend.serial(async () => this.#free()).catch(() => this.#free());
  }
}
