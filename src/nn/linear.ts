/**
 * linear — y = W·x (+ b) as a drop-in layer, ternary or dense.
 *
 * TernaryLinear holds W as trits on a backend and picks its activation path per layer:
 *   'f32'     hybrid: y = W_t·x with f32 activations (adds/subtracts, no multiplies)
 *   'int8'    BitNet W1.58A8: x → per-token absmax int8, integer accumulation, then
 *             y[b,r] = (max|x_b|/127) · rs[r] · Σ_g gs[r,g]·acc[b,r,g]
 *   'ternary' x → per-token ternary (twn), popcount dot, then y = α_b · rs[r] · Σ_g gs·acc
 *   'q8k'     llama.cpp's TQ path: x → int8 per 256-column block (Q8_K), then
 *             y[b,r] = rs[r] · Σ_g gs[r,g]·d[b,g]·acc[b,r,g]; W is viewed with 256-column scale
 *             groups (row-scaled weights get unit group scales; coarser groups are split)
 * DenseLinear is the full-precision fallback for layers a plan keeps dense.
 */
import type { ActivationMode, Backend, DenseWeights, TernaryWeights } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../quant/activation-quantizers.js';
import { dequantizeAccumulators, dequantizeBlockAccumulators } from '../quant/dequantize.js';
import { QK_K, quantizeQ8K } from '../quant/q8k.js';
import { quantize, type QuantizerSpec } from '../quant/weight-quantizers.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';

export interface Linear {
  readonly kind: 'ternary' | 'dense';
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** bytes of weight storage (planes + scales, or f32) */
  readonly bytes: number;
  /** x: [batch, inFeatures] → y: [batch, outFeatures] */
  forward(x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array>;
}

function addBias(y: Float32Array, bias: Float32Array | undefined, batch: number, n: number): void {
  if (!bias) return;
  for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) y[b * n + i]! += bias[i]!;
}

function checkBias(bias: Float32Array | undefined, n: number, where: string): void {
  if (bias && bias.length !== n) throw new TritwiseError('E_SHAPE', 'bias length does not match output features', { where, expected: n, got: bias.length });
}

export interface TernaryLinearOptions {
  activation?: ActivationMode;
  bias?: Float32Array;
  name?: string;
}

export class TernaryLinear implements Linear {
  readonly kind = 'ternary';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly activation: ActivationMode;
  readonly bias?: Float32Array;

  private constructor(
    readonly backend: Backend,
    readonly weights: TernaryWeights,
    opts: TernaryLinearOptions,
  ) {
    this.inFeatures = weights.cols;
    this.outFeatures = weights.rows;
    this.activation = opts.activation ?? 'f32';
    if (!['f32', 'int8', 'ternary', 'q8k'].includes(this.activation)) {
      throw new TritwiseError('E_ARG', 'unknown activation mode', { where: opts.name ?? 'TernaryLinear', expected: 'f32 | int8 | ternary | q8k', got: this.activation });
    }
    checkBias(opts.bias, this.outFeatures, opts.name ?? 'TernaryLinear');
    this.bias = opts.bias;
  }

  /** Wrap an existing ternary tensor [out, in]. */
  static async fromTensor(backend: Backend, t: TernaryTensor, opts: TernaryLinearOptions = {}): Promise<TernaryLinear> {
    if (opts.activation === 'q8k') t = withBlockGroups(t, opts.name ?? 'TernaryLinear');
    return new TernaryLinear(backend, await backend.uploadTernary(t), opts);
  }

  /** Quantize f32 weights [out, in] with the chosen quantizer and group size. */
  static async fromWeights(
    backend: Backend,
    w: Float32Array,
    outFeatures: number,
    inFeatures: number,
    opts: TernaryLinearOptions & { quantizer?: QuantizerSpec | string; groupSize?: number } = {},
  ): Promise<TernaryLinear> {
    const { tensor } = quantize(w, outFeatures, inFeatures, opts.quantizer ?? 'absmean', { groupSize: opts.groupSize, name: opts.name });
    return TernaryLinear.fromTensor(backend, tensor, opts);
  }

  get tensor(): TernaryTensor {
    return this.weights.tensor;
  }

  get bytes(): number {
    return this.weights.tensor.bytes + (this.bias?.byteLength ?? 0);
  }

  async forward(x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    const w = this.weights;
    const be = this.backend;
    let y: Float32Array;
    if (be.linear && be.linearModes?.includes(this.activation)) {
      // the backend runs quantize → integer matmul → dequantize itself (bit-identical)
      y = await be.linear(w, x, batch, this.activation, out);
      addBias(y, this.bias, batch, this.outFeatures);
      return y;
    }
    switch (this.activation) {
      case 'f32':
        y = await be.matmulF32(w, x, batch, out);
        break;
      case 'int8': {
        const a = quantizeInt8PerToken(x, batch, this.inFeatures);
        const acc = await be.matmulI8(w, a.q, batch);
        y = dequantizeAccumulators(acc, w.tensor, a.scales, batch, out);
        break;
      }
      case 'ternary': {
        const u = quantizeTernaryPerToken(x, batch, this.inFeatures);
        const acc = await be.matmulTernary(w, u);
        y = dequantizeAccumulators(acc, w.tensor, u.scales, batch, out);
        break;
      }
      case 'q8k': {
        const a = quantizeQ8K(x, batch, this.inFeatures);
        const acc = await be.matmulI8(w, a.q, batch);
        y = dequantizeBlockAccumulators(acc, w.tensor, a.scales, batch, out);
        break;
      }
    }
    addBias(y, this.bias, batch, this.outFeatures);
    return y;
  }
}

/**
 * The same weights with one scale group per 256 columns (the Q8_K block), sharing the planes:
 * row-scaled tensors get unit group scales, tensors grouped by a multiple of 256 repeat theirs.
 */
function withBlockGroups(t: TernaryTensor, where: string): TernaryTensor {
  if (t.groupSize === QK_K) return t;
  if (t.groupSize !== 0 && t.groupSize % QK_K !== 0) {
    throw new TritwiseError('E_UNSUPPORTED', "activation 'q8k' needs weight scale groups of a multiple of 256 columns (or per-row scales)", { where, expected: 'groupSize 0, 256, 512, …', got: t.groupSize });
  }
  const G = Math.ceil(t.cols / QK_K);
  const gs = new Float32Array(t.rows * G).fill(1);
  if (t.groupScales) {
    const per = t.groupSize / QK_K;
    for (let r = 0; r < t.rows; r++) for (let g = 0; g < G; g++) gs[r * G + g] = t.groupScales[r * t.groupsPerRow + Math.floor(g / per)]!;
  }
  return new TernaryTensor({ rows: t.rows, cols: t.cols, plus: t.plus, minus: t.minus, scales: t.scales, groupSize: QK_K, groupScales: gs, quantizer: t.quantizer }, where);
}

export class DenseLinear implements Linear {
  readonly kind = 'dense';
  readonly bias?: Float32Array;

  private constructor(
    readonly backend: Backend,
    readonly weights: DenseWeights,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias?: Float32Array,
  ) {
    this.bias = bias;
  }

  static async fromWeights(backend: Backend, w: Float32Array, outFeatures: number, inFeatures: number, opts: { bias?: Float32Array; name?: string } = {}): Promise<DenseLinear> {
    checkBias(opts.bias, outFeatures, opts.name ?? 'DenseLinear');
    return new DenseLinear(backend, await backend.uploadDense(w, outFeatures, inFeatures), inFeatures, outFeatures, opts.bias);
  }

  get bytes(): number {
    return this.inFeatures * this.outFeatures * 4 + (this.bias?.byteLength ?? 0);
  }

  async forward(x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    const y = await this.backend.matmulDense(this.weights, x, batch, out);
    addBias(y, this.bias, batch, this.outFeatures);
    return y;
  }
}
