/**
 * sparse-ref-backend — the reference backend with ternary weights stored in one sparse format
 * (CSR or block-sparse), so the backend conformance suite checks the sparse reference kernels
 * exactly as it checks every other backend. Dense weights go to the plain reference backend;
 * ternary×ternary expands the activation trits to int8 and uses the int8 kernel (exact).
 */
import type { Backend, DenseWeights, TernaryWeights } from '../backend/backend.js';
import { RefBackend } from '../backend/ref/ref-backend.js';
import { TritwiseError } from '../errors.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';
import { toBlockSparse, type BlockSparseTrits } from './block-sparse.js';
import { toCsr, type CsrTrits } from './csr.js';
import { gemmSparseF32, gemmSparseI8 } from './ref-kernels.js';

interface SparseHandle extends TernaryWeights {
  sparse: CsrTrits | BlockSparseTrits | null;
}

export class SparseRefBackend implements Backend {
  readonly name: string;
  readonly #ref = new RefBackend();

  constructor(readonly format: 'csr' | 'block-sparse', readonly opts: { chunkWords?: number; indexBits?: 16 | 32 } = {}) {
    this.name = `ref-${format}`;
  }

  describe(): Record<string, unknown> {
    return { backend: this.name, threads: 1, simd: 'none', format: this.format };
  }

  async uploadTernary(w: TernaryTensor): Promise<TernaryWeights> {
    const sparse = this.format === 'csr' ? toCsr(w, { indexBits: this.opts.indexBits }) : toBlockSparse(w, { chunkWords: this.opts.chunkWords });
    const h: SparseHandle = { kind: 'ternary', backend: this.name, rows: w.rows, cols: w.cols, groupSize: w.groupSize, groups: w.groupsPerRow, tensor: w, sparse };
    return h;
  }

  #sparse(w: TernaryWeights): CsrTrits | BlockSparseTrits {
    const s = (w as SparseHandle).sparse;
    if (w.backend !== this.name || !s) throw new TritwiseError('E_BACKEND', 'weight handle is not live on this backend', { where: this.name, expected: `a handle from ${this.name}.uploadTernary`, got: w.backend });
    return s;
  }

  uploadDense(w: Float32Array, rows: number, cols: number): Promise<DenseWeights> {
    return this.#ref.uploadDense(w, rows, cols);
  }

  async matmulF32(w: TernaryWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return gemmSparseF32(this.#sparse(w), x, batch, out);
  }

  async matmulI8(w: TernaryWeights, q: Int8Array, batch: number, out?: Int32Array): Promise<Int32Array> {
    return gemmSparseI8(this.#sparse(w), q, batch, out);
  }

  async matmulTernary(w: TernaryWeights, x: TernaryTensor, out?: Int32Array): Promise<Int32Array> {
    const s = this.#sparse(w);
    if (x.cols !== s.cols) throw new TritwiseError('E_SHAPE', 'activation width does not match weights', { where: `${this.name}.matmulTernary`, expected: s.cols, got: x.cols });
    return gemmSparseI8(s, x.toTrits(), x.rows, out);
  }

  matmulDense(w: DenseWeights, x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    return this.#ref.matmulDense(w, x, batch, out);
  }

  release(w: TernaryWeights | DenseWeights): void {
    if (w.kind === 'dense') this.#ref.release(w);
    else (w as SparseHandle).sparse = null;
  }

  async dispose(): Promise<void> {}
}
