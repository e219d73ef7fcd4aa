/**
 * ref-backend — the reference Backend: plain TypeScript kernels (kernels.ts), no repacking.
 * Slow and obviously correct; the conformance suite compares every other backend against it.
 */
import { TritwiseError } from '../../errors.js';
import type { MultiTritTensor } from '../../tensor/multi-trit-tensor.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import type { Backend, DenseWeights, MultiTritWeights, TernaryWeights } from '../backend.js';
import { gemmDense, gemmTernaryF32, gemmTernaryI8, gemmTernaryTernary } from './kernels.js';
import { gemmMultiF32, gemmMultiI8 } from './multi-kernels.js';

interface RefDense extends DenseWeights {
  data: Float32Array | null;
}
interface RefTernary extends TernaryWeights {
  released: boolean;
}
interface RefMulti extends MultiTritWeights {
  released: boolean;
}

export class RefBackend implements Backend {
  readonly name = 'ref';

  describe(): Record<string, unknown> {
    return { backend: 'ref', threads: 1, simd: 'none' };
  }

  async uploadTernary(w: TernaryTensor): Promise<TernaryWeights> {
    const h: RefTernary = { kind: 'ternary', backend: 'ref', rows: w.rows, cols: w.cols, groupSize: w.groupSize, groups: w.groupsPerRow, tensor: w, released: false };
    return h;
  }

  async uploadDense(w: Float32Array, rows: number, cols: number): Promise<DenseWeights> {
    if (w.length !== rows * cols) throw new TritwiseError('E_SHAPE', 'dense weight length does not match shape', { where: 'ref.uploadDense', expected: rows * cols, got: w.length });
    const h: RefDense = { kind: 'dense', backend: 'ref', rows, cols, data: w };
    return h;
  }

  #ternary(w: TernaryWeights): TernaryTensor {
    if (w.backend !== 'ref' || (w as RefTernary).released) throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where: 'ref', expected: 'a handle from ref.uploadTernary', got: `${w.backend}${(w as RefTernary).released ? ' (released)' : ''}` });
    return w.tensor;
  }

  async matmulF32(w: TernaryWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return gemmTernaryF32(this.#ternary(w), x, batch, out);
  }

  async matmulI8(w: TernaryWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
    return gemmTernaryI8(this.#ternary(w), q, batch, out);
  }

  async matmulTernary(w: TernaryWeights, x: TernaryTensor, out?: Int32Array): Promise<Int32Array> {
    return gemmTernaryTernary(this.#ternary(w), x, out);
  }

  async matmulDense(w: DenseWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    const d = (w as RefDense).data;
    if (w.backend !== 'ref' || !d) throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where: 'ref', expected: 'a handle from ref.uploadDense', got: w.backend });
    return gemmDense(d, w.rows, w.cols, x, batch, out);
  }

  async uploadMultiTrit(w: MultiTritTensor): Promise<MultiTritWeights> {
    const h: RefMulti = { kind: 'multitrit', backend: 'ref', rows: w.rows, cols: w.cols, depth: w.depth, groupSize: w.groupSize, groups: w.planes[0]!.groupsPerRow, tensor: w, released: false };
    return h;
  }

  #multi(w: MultiTritWeights): MultiTritTensor {
    if (w.backend !== 'ref' || w.kind !== 'multitrit' || (w as RefMulti).released) throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where: 'ref', expected: 'a handle from ref.uploadMultiTrit', got: `${w.backend} ${w.kind}${(w as RefMulti).released ? ' (released)' : ''}` });
    return w.tensor;
  }

  async matmulMultiF32(w: MultiTritWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return gemmMultiF32(this.#multi(w), x, batch, out);
  }

  async matmulMultiI8(w: MultiTritWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
    return gemmMultiI8(this.#multi(w), q, batch, out);
  }

  release(w: TernaryWeights | DenseWeights | MultiTritWeights): void {
    if (w.kind === 'dense') (w as RefDense).data = null;
    else (w as RefTernary | RefMulti).released = true;
  }

  async dispose(): Promise<void> {}
}
