/**
 * multi-trit-linear — y = W·x (+ b) for multi-trit weights, W = Σ_p T_p (d planes):
 *
 *   y[b,r] = Σ_p rs_p[r] · Σ_g gs_p[r,g] · Σ_{c∈g} t_p[r,c]·x[b,c]
 *
 * On a backend with multi-trit kernels (Backend.uploadMultiTrit: ref, wasm) the 'f32' and 'int8'
 * activation modes run one kernel that reads the activations once for all planes; int8
 * accumulators come back per plane and group and are scaled by dequantizeMultiAccumulators.
 * Otherwise — other backends, or the 'ternary' and 'q8k' modes — every plane is its own
 * TernaryLinear and the d outputs are added (exactly the same sum, d kernel calls).
 * 'int8' also goes plane by plane on a backend whose fused `linear` handles int8 (wasm: the
 * table-lookup kernel, whose per-call tables make one plane about 2× cheaper than a plane of the
 * shared-load multi kernel; bench-depth-gemv.mjs). `path` forces one way ('multi' needs the
 * backend's multi-trit kernels and the f32 or int8 mode).
 */
import type { ActivationMode, Backend, MultiTritWeights } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import { quantizeInt8PerToken } from '../quant/activation-quantizers.js';
import { dequantizeMultiAccumulators } from '../quant/dequantize.js';
import type { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import { TernaryLinear, type Linear, type TernaryLinearOptions } from './linear.js';

export class MultiTritLinear implements Linear {
  readonly kind = 'ternary';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly depth: number;
  readonly activation: ActivationMode;
  readonly bias?: Float32Array;

  private constructor(
    readonly backend: Backend,
    readonly tensor: MultiTritTensor,
    readonly fused: MultiTritWeights | null,
    readonly planes: TernaryLinear[],
    opts: TernaryLinearOptions,
  ) {
    this.inFeatures = tensor.cols;
    this.outFeatures = tensor.rows;
    this.depth = tensor.depth;
    this.activation = opts.activation ?? 'f32';
    this.bias = opts.bias;
  }

  static async fromTensor(backend: Backend, m: MultiTritTensor, opts: TernaryLinearOptions & { path?: 'multi' | 'planes' } = {}): Promise<MultiTritLinear> {
    const mode = opts.activation ?? 'f32';
    const where = opts.name ?? 'MultiTritLinear';
    if (!['f32', 'int8', 'ternary', 'q8k'].includes(mode)) throw new TritwiseError('E_ARG', 'unknown activation mode', { where, expected: 'f32 | int8 | ternary | q8k', got: mode });
    if (opts.bias && opts.bias.length !== m.rows) throw new TritwiseError('E_SHAPE', 'bias length does not match output features', { where, expected: m.rows, got: opts.bias.length });
    const kernels = backend.uploadMultiTrit && backend.matmulMultiF32 && backend.matmulMultiI8;
    const lutInt8 = mode === 'int8' && !!backend.linear && !!backend.linearModes?.includes('int8');
    const multi = opts.path === 'multi' ? mode === 'f32' || mode === 'int8' : opts.path !== 'planes' && (mode === 'f32' || (mode === 'int8' && !lutInt8));
    if (kernels && multi) return new MultiTritLinear(backend, m, await backend.uploadMultiTrit!(m), [], opts);
    const planes: TernaryLinear[] = [];
    for (const [p, t] of m.planes.entries()) planes.push(await TernaryLinear.fromTensor(backend, t, { activation: mode, name: `${where} plane ${p}` }));
    return new MultiTritLinear(backend, m, null, planes, opts);
  }

  /** Bytes of weight storage in memory (all planes and scales, plus a bias). */
  get bytes(): number {
    return this.tensor.bytes + (this.bias?.byteLength ?? 0);
  }

  async forward(x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    let y: Float32Array;
    if (this.fused) {
      if (this.activation === 'f32') y = await this.backend.matmulMultiF32!(this.fused, x, batch, out);
      else {
        const a = quantizeInt8PerToken(x, batch, this.inFeatures);
        const acc = await this.backend.matmulMultiI8!(this.fused, a.q, batch);
        y = dequantizeMultiAccumulators(acc, this.tensor, a.scales, batch, out);
      }
    } else {
      y = out ?? new Float32Array(batch * this.outFeatures);
      y.fill(0, 0, batch * this.outFeatures);
      for (const p of this.planes) {
        const yp = await p.forward(x, batch);
        for (let i = 0; i < batch * this.outFeatures; i++) y[i]! += yp[i]!;
      }
    }
    if (this.bias) for (let b = 0; b < batch; b++) for (let i = 0; i < this.outFeatures; i++) y[b * this.outFeatures + i]! += this.bias[i]!;
    return y;
  }
}
