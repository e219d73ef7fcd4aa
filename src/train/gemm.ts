/**
 * gemm — the one matrix product every training op uses, and a transpose:
 *
 *   gemmNT:  C[M, N] (+)= A[M, K] · B[N, K]ᵀ,   C[m, n] = Σ_k A[m, k]·B[n, k]
 *
 * Both operands are read along contiguous rows, so the other products reduce to it with a
 * transpose (O(size), cheap next to the O(M·N·K) product):
 *   Y = X·Wᵀ            gemmNT(Y, X, W)
 *   ∂X = ∂Y·W           gemmNT(∂X, ∂Y, Wᵀ)
 *   ∂W = ∂Yᵀ·X          gemmNT(∂W, ∂Yᵀ, Xᵀ)
 * The kernel is register-blocked 4 rows of A × 2 rows of B (8 running sums, 6 loads per 8
 * multiply-adds), which runs about 2× faster than one dot product at a time in V8. Sums are
 * JS numbers (f64) and are rounded once when stored.
 */
import type { FloatArray } from './tensor.js';
import { wasmGemmReady, wasmMatmul } from './wasm-kernels.js';

/** Products with at least this many multiply-adds go to the wasm kernel when it is loaded. */
export const WASM_MIN_WORK = 1 << 15;

export interface MatmulOptions {
  /** A is stored [K, M] (use Aᵀ) */
  transA?: boolean;
  /** B is stored [N, K] (use Bᵀ) */
  transB?: boolean;
  accumulate?: boolean;
  /** A starts at this element (row-major [M, K] or [K, M]) */
  aOff?: number;
  /** C starts at this element */
  cOff?: number;
}

/**
 * C[M, N] (+)= op(A)·op(B), op(A) [M, K], op(B) [K, N] — the general entry point: large f32
 * products run on the wasm SIMD kernel (wasm-kernels.ts), the rest through gemmNT after the
 * transposes that put both operands in its row-major form.
 */
export function matmul(c: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, o: MatmulOptions = {}): void {
  const aOff = o.aOff ?? 0, cOff = o.cOff ?? 0;
  if (c instanceof Float32Array && a instanceof Float32Array && b instanceof Float32Array && M * N * K >= WASM_MIN_WORK && wasmGemmReady()) {
    wasmMatmul(c, a, b, M, N, K, !!o.transA, !!o.transB, !!o.accumulate, aOff, cOff);
    return;
  }
  const A = o.transA ? transpose(scratch(c, 'mm.a', M * K), a, K, M, aOff) : a;
  const B = o.transB ? b : transpose(scratch(c, 'mm.b', N * K), b, K, N);
  gemmNT(c, A, B, M, N, K, !!o.accumulate, o.transA ? 0 : aOff, 0, cOff);
}

/** C[M,N] = A[M,K]·B[N,K]ᵀ, or C += … when `accumulate`. Offsets let callers address sub-blocks. */
export function gemmNT(c: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate = false, aOff = 0, bOff = 0, cOff = 0): void {
  gemmNTs(c, a, b, M, N, K, accumulate, aOff, K, bOff, K, cOff, N);
}

/**
 * The strided form: row m of A starts at aOff + m·lda, row n of B at bOff + n·ldb, and C[m, n]
 * is c[cOff + m·ldc + n] (so a product can read and write sub-matrices of larger arrays).
 */
export function gemmNTs(c: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean, aOff: number, lda: number, bOff: number, ldb: number, cOff: number, ldc: number): void {
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = aOff + m * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    const o0 = cOff + m * ldc, o1 = o0 + ldc, o2 = o1 + ldc, o3 = o2 + ldc;
    let n = 0;
    for (; n + 2 <= N; n += 2) {
      const b0 = bOff + n * ldb, b1 = b0 + ldb;
      let s00 = 0, s10 = 0, s20 = 0, s30 = 0, s01 = 0, s11 = 0, s21 = 0, s31 = 0;
      for (let k = 0; k < K; k++) {
        const u = b[b0 + k]!, v = b[b1 + k]!;
        const x0 = a[a0 + k]!, x1 = a[a1 + k]!, x2 = a[a2 + k]!, x3 = a[a3 + k]!;
        s00 += x0 * u; s10 += x1 * u; s20 += x2 * u; s30 += x3 * u;
        s01 += x0 * v; s11 += x1 * v; s21 += x2 * v; s31 += x3 * v;
      }
      if (accumulate) {
        c[o0 + n]! += s00; c[o0 + n + 1]! += s01; c[o1 + n]! += s10; c[o1 + n + 1]! += s11;
        c[o2 + n]! += s20; c[o2 + n + 1]! += s21; c[o3 + n]! += s30; c[o3 + n + 1]! += s31;
      } else {
        c[o0 + n] = s00; c[o0 + n + 1] = s01; c[o1 + n] = s10; c[o1 + n + 1] = s11;
        c[o2 + n] = s20; c[o2 + n + 1] = s21; c[o3 + n] = s30; c[o3 + n + 1] = s31;
      }
    }
    for (; n < N; n++) {
      const b0 = bOff + n * ldb;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const u = b[b0 + k]!;
        s0 += a[a0 + k]! * u; s1 += a[a1 + k]! * u; s2 += a[a2 + k]! * u; s3 += a[a3 + k]! * u;
      }
      if (accumulate) {
        c[o0 + n]! += s0; c[o1 + n]! += s1; c[o2 + n]! += s2; c[o3 + n]! += s3;
      } else {
        c[o0 + n] = s0; c[o1 + n] = s1; c[o2 + n] = s2; c[o3 + n] = s3;
      }
    }
  }
  for (; m < M; m++) {
    const a0 = aOff + m * lda;
    const o0 = cOff + m * ldc;
    for (let n = 0; n < N; n++) {
      const b0 = bOff + n * ldb;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[a0 + k]! * b[b0 + k]!;
      if (accumulate) c[o0 + n]! += s;
      else c[o0 + n] = s;
    }
  }
}

/** out[C, R] = in[R, C]ᵀ (out may be a reused scratch of at least R·C elements). */
export function transpose(out: FloatArray, x: FloatArray, R: number, C: number, xOff = 0): FloatArray {
  for (let r = 0; r < R; r++) {
    const o = xOff + r * C;
    for (let c = 0; c < C; c++) out[c * R + r] = x[o + c]!;
  }
  return out;
}

/** Scratch buffers reused across calls, one per (slot, element type), grown on demand. */
const scratch32 = new Map<string, Float32Array>();
const scratch64 = new Map<string, Float64Array>();

export function scratch(like: FloatArray, slot: string, n: number): FloatArray {
  if (like instanceof Float64Array) {
    let s = scratch64.get(slot);
    if (!s || s.length < n) scratch64.set(slot, (s = new Float64Array(Math.max(n, (s?.length ?? 0) * 2))));
    return s;
  }
  let s = scratch32.get(slot);
  if (!s || s.length < n) scratch32.set(slot, (s = new Float32Array(Math.max(n, (s?.length ?? 0) * 2))));
  return s;
}

/** Drop every scratch buffer (after a run, to give the memory back). */
export function releaseScratch(): void {
  scratch32.clear();
  scratch64.clear();
}
