/**
 * tensor — the value a training graph passes around: a flat row-major array (f32 for training,
 * f64 for gradient checks) with a shape, and, when it takes part in differentiation, a gradient
 * of the same size and element type, allocated on first use.
 */
import { TritwiseError } from '../errors.js';

export type FloatArray = Float32Array | Float64Array;
export type FloatArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor;

export class Tensor {
  /** ∂loss/∂this, allocated by ensureGrad(); null until a gradient reaches it */
  grad: FloatArray | null = null;

  constructor(
    public data: FloatArray,
    readonly shape: readonly number[],
    /** true for parameters and for every value computed from one */
    readonly requiresGrad = false,
    readonly name?: string,
  ) {
    let n = 1;
    for (const d of shape) n *= d;
    if (n !== data.length) throw new TritwiseError('E_SHAPE', 'tensor data does not match its shape', { where: name ?? 'Tensor', expected: `${shape.join('×')} = ${n}`, got: data.length });
  }

  get size(): number {
    return this.data.length;
  }

  /** The array constructor of this tensor's element type. */
  get ctor(): FloatArrayCtor {
    return this.data instanceof Float64Array ? Float64Array : Float32Array;
  }

  /** The gradient buffer (zeros when first asked for). */
  ensureGrad(): FloatArray {
    if (!this.grad) this.grad = new (this.ctor)(this.data.length);
    return this.grad;
  }

  zeroGrad(): void {
    this.grad?.fill(0);
  }
}

/** A parameter: a tensor that requires a gradient. */
export function param(data: FloatArray, shape: readonly number[], name?: string): Tensor {
  return new Tensor(data, shape, true, name);
}

/** A constant: no gradient is ever computed for it. */
export function constant(data: FloatArray, shape: readonly number[], name?: string): Tensor {
  return new Tensor(data, shape, false, name);
}

/** A new array of the same element type as `like`. */
export function alloc(like: FloatArray | Tensor, n: number): FloatArray {
  const a = like instanceof Tensor ? like.data : like;
  return a instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

export function checkShape(t: Tensor, shape: readonly number[], where: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new TritwiseError('E_SHAPE', 'tensor shape mismatch', { where: `${where}: ${t.name ?? 'tensor'}`, expected: `[${shape.join(', ')}]`, got: `[${t.shape.join(', ')}]` });
  }
}
