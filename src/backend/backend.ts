/**
 * backend — the interface every compute backend implements (ref, wasm, webgpu).
 *
 * Weights are uploaded once and then addressed by handle; a backend may repack them into any
 * layout it likes. Activations go in and out as typed arrays ([batch, cols] row-major).
 * All kernels compute, for every batch row b and weight row r:
 *
 *   matmulF32     y[b,r]   = Σ_g  gs[r,g] · Σ_{c∈g} t[r,c]·x[b,c]   · rs[r]      (f32 result)
 *   matmulI8      acc[b,r,g] = Σ_{c∈g} t[r,c]·q[b,c]                        (exact int32)
 *   matmulTernary acc[b,r,g] = Σ_{c∈g} t[r,c]·u[b,c]                        (exact int32, by
 *                 popcount: pc(w⁺&u⁺) + pc(w⁻&u⁻) − pc(w⁺&u⁻) − pc(w⁻&u⁺))
 *   matmulDense   y[b,r]   = Σ_c W[r,c]·x[b,c]                              (f32 baseline)
 *
 * where rs are W's row scales, gs its group scales (one group per row when it has none), and g
 * ranges over the groups, so integer outputs have shape [batch, rows, groups]. The integer
 * results are scaled to f32 in one shared place (nn/ternary-linear.ts), so integer paths can be
 * compared bit for bit across backends. Calls are async because GPU backends are; CPU backends
 * resolve immediately. An optional `out` lets callers reuse buffers.
 *
 * Optional fast paths (a backend may leave them out; nn/ then composes the methods above):
 *   linear         y = the whole activation pipeline of nn/linear.ts for one mode in one call
 *                  (quantize x, integer matmul, dequantize), f32 in and out, bit-identical to the
 *                  composition for the modes in `linearModes`;
 *   allocF32       f32 buffers in the backend's own memory, which its kernels read and write in
 *                  place (no staging copies); model activations and KV caches live there;
 *   attention      exact attention (nn/attention.ts's AttentionFn contract) as a native kernel.
 *
 * Multi-trit weights (optional, issue 6): W = Σ_p T_p with d planes, each with its own row and
 * group scales (MultiTritTensor). A backend that has kernels for them implements all three
 * methods below; others are served by one TernaryWeights per plane (nn/multi-trit-linear.ts).
 *
 *   matmulMultiF32  y[b,r] = Σ_p rs_p[r] · Σ_g gs_p[r,g] · Σ_{c∈g} t_p[r,c]·x[b,c]      (f32)
 *   matmulMultiI8   acc[b,r,p,g] = Σ_{c∈g} t_p[r,c]·q[b,c]             (exact int32, shape
 *                   [batch, rows, depth, groups]; scaled by dequantizeMultiAccumulators)
 */
import type { AttentionMode } from '../nn/attention-modes.js';
import type { LlamaModel } from '../nn/llama.js';
import type { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';

/** 'q8k': llama.cpp's Q8_K (int8 per 256-column block), for exact TQ1_0/TQ2_0 emulation */
export type ActivationMode = 'f32' | 'int8' | 'ternary' | 'q8k';

export interface TernaryWeights {
  readonly kind: 'ternary';
  readonly backend: string;
  readonly rows: number;
  readonly cols: number;
  /** 0 = row scales only */
  readonly groupSize: number;
  /** scale groups per row (1 when groupSize is 0) */
  readonly groups: number;
  /** the uploaded tensor (kept for the scales and for inspection) */
  readonly tensor: TernaryTensor;
}

export interface MultiTritWeights {
  readonly kind: 'multitrit';
  readonly backend: string;
  readonly rows: number;
  readonly cols: number;
  readonly depth: number;
  readonly groupSize: number;
  /** scale groups per row and plane (1 when groupSize is 0) */
  readonly groups: number;
  readonly tensor: MultiTritTensor;
}

/** Heads of one attention call (the same shape as nn/attention.ts's AttentionShape). */
export interface AttentionShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** sliding window in positions (0 = full causal attention) */
  window: number;
}

export interface DenseWeights {
  readonly kind: 'dense';
  readonly backend: string;
  readonly rows: number;
  readonly cols: number;
}

export interface Backend {
  readonly name: string;
  /** Facts for reports: threads, SIMD features, adapter name, … */
  describe(): Record<string, unknown>;
  uploadTernary(w: TernaryTensor): Promise<TernaryWeights>;
  uploadDense(w: Float32Array, rows: number, cols: number): Promise<DenseWeights>;
  matmulF32(w: TernaryWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array>;
  matmulI8(w: TernaryWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array>;
  matmulTernary(w: TernaryWeights, x: TernaryTensor, out?: Int32Array): Promise<Int32Array>;
  matmulDense(w: DenseWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array>;
  /** Upload d trit planes as one weight whose kernels read the activations once for all planes. */
  uploadMultiTrit?(w: MultiTritTensor): Promise<MultiTritWeights>;
  matmulMultiF32?(w: MultiTritWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array>;
  matmulMultiI8?(w: MultiTritWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array>;
  /** Modes `linear` handles (others are composed from matmulI8/matmulTernary by the caller). */
  readonly linearModes?: readonly ActivationMode[];
  linear?(w: TernaryWeights, x: Float32Array, batch: number, mode: ActivationMode, out?: Float32Array): Promise<Float32Array>;
  /** A zeroed f32 buffer in backend memory (release with freeF32; never touched after that). */
  allocF32?(n: number): Float32Array;
  freeF32?(a: Float32Array): void;
  /**
   * Exact causal attention of one query token over a sequence's cached keys and values (the
   * AttentionFn of nn/attention.ts, f32 within 1e-5 of it); fastest on allocF32 buffers.
   */
  attention?(q: Float32Array, qOff: number, keys: Float32Array, values: Float32Array, pos: number, shape: AttentionShape, out: Float32Array, outOff: number): void;
  /**
   * Optional: the block's element-wise operations (nn/ops.ts is the reference), fastest on
   * allocF32 buffers. rmsnorm and add match the reference to the f64 summation order (add is
   * bit-identical); swiglu is f32 SIMD, within 5e-7 relative (+1e-30 absolute) of it.
   */
  rmsnorm?(out: Float32Array, x: Float32Array, w: Float32Array, rows: number, n: number, eps: number): void;
  addInPlace?(x: Float32Array, y: Float32Array, len: number): void;
  swigluRows?(h: Float32Array, gu: Float32Array, rows: number, n: number): void;
  /** Free a weight's backend memory. Using it afterwards is an error. */
  release(w: TernaryWeights | DenseWeights | MultiTritWeights): void;
  /** Free everything (workers, GPU device). Safe to call twice. */
  dispose(): Promise<void>;
  /**
   * Optional: whole decode steps on the device (GPU backends). The model's weights stay where
   * this backend uploaded them; a step reads back only the sampled token. Model.generate uses
   * it when present.
   */
  createDecoder?(model: LlamaModel, opts?: DecoderOptions): Promise<Decoder>;
  /**
   * false when the backend's own decoder reads Q/K/V and gate/up as separate layers, so the
   * model must not stack them into one matmul (nn/linear-stack.ts). Default true.
   */
  readonly stackLinears?: boolean;
}

/** How a decoder picks the next token: nn/sampling.ts's rules; `draw` is the sampler's PRNG. */
export interface DeviceSampling {
  /** 0 = greedy */
  temperature: number;
  /** nucleus mass in (0, 1]; 1 = off */
  topP: number;
  /** the uniform number in [0, 1) for a sampled step (called once per step when temperature > 0) */
  draw: () => number;
}

export interface DecoderOptions {
  /** KV-cache positions to allocate (default: the model's context length) */
  maxLength?: number;
  /** attention per layer: one mode for every layer or one per layer (default exact) */
  attention?: readonly AttentionMode[];
}

/** One sequence decoded on a device, with its KV cache there. */
export interface Decoder {
  /** tokens in the device's KV cache (the next token's position) */
  readonly length: number;
  readonly maxLength: number;
  /** Run tokens through the model (appending them to the cache); the next token, sampled from the last one's logits. */
  step(tokens: readonly number[], sampling: DeviceSampling): Promise<number>;
  /** The last step's logits, read back (for tests and diagnostics; generation never needs it). */
  logits(): Promise<Float32Array>;
  /** Empty the cache. */
  reset(): void;
  dispose(): Promise<void>;
}
