/**
 * wasm-kernels — the trainer's hot loops on WebAssembly SIMD (src/kernels/gemm-f32.ts and
 * attention-f32.ts), one thread, in a memory of its own.
 *
 *   C[M, N] = op(A)·op(B):  op(A) [M, K] and op(B) [K, N] are copied into the module's memory
 *   (transposing on the way when asked, and padding N to a multiple of 4), the kernel runs, and C
 *   is copied (or added) back. The copies are O(M·K + K·N + M·N) against O(M·N·K) work, so only
 *   products above a size threshold come here; gemm.ts keeps everything else in plain TypeScript.
 *   attention: each (sequence, head) is gathered into the module's memory (Q, K, V and the
 *   transposes Kt, Vt), run forward or backward there, and scattered back (flash style: only the
 *   row log-sum-exp L is kept between the passes).
 * loadWasmGemm() must have resolved (the trainer awaits it); until then, or when the module is
 * missing or the engine has no SIMD, products stay in TypeScript.
 */
import { HEAP_BASE } from '../backend/wasm/heap.js';
import { nodePlatform } from '../backend/wasm/node-platform.js';

interface GemmExports {
  gemmF32(a: number, b: number, c: number, M: number, N: number, K: number): void;
  attnForward(Q: number, Kt: number, V: number, O: number, M: number, Z: number, S: number, T: number, Tp: number, d: number, window: number, scale: number): void;
  attnBackward(Q: number, K: number, Kt: number, Vt: number, O: number, dO: number, L: number, dQ: number, dK: number, dV: number, S: number, P: number, T: number, Tp: number, d: number, window: number, scale: number): void;
}

let kernel: { ex: GemmExports; memory: WebAssembly.Memory } | null = null;
let loading: Promise<boolean> | null = null;
let enabled = true;

/** Load the kernel once (and switch it on); resolves to whether it is available. */
export function loadWasmGemm(): Promise<boolean> {
  enabled = true;
  loading ??= (async () => {
    try {
      const bytes = await nodePlatform.readKernel('simd.wasm');
      if (!WebAssembly.validate(bytes)) return false;
      const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
      const inst = await WebAssembly.instantiate(await WebAssembly.compile(bytes), { env: { memory } });
      kernel = { ex: inst.exports as unknown as GemmExports, memory };
      return true;
    } catch {
      return false;
    }
  })();
  return loading;
}

export function wasmGemmReady(): boolean {
  return enabled && kernel !== null;
}

/** Switch the wasm path off until the next loadWasmGemm() (tests compare both paths). */
export function disableWasmGemm(): void {
  enabled = false;
}

function ensure(bytes: number): void {
  const mem = kernel!.memory;
  const have = mem.buffer.byteLength;
  if (bytes > have) mem.grow(Math.ceil((bytes - have) / 65536));
}

/**
 * C[M,N] (+)= op(A)·op(B) with op(A) = A [M,K] (or Aᵀ of A stored [K,M] when transA) and
 * op(B) = B [K,N] (or Bᵀ of B stored [N,K] when transB); A starts at aOff, C at cOff.
 */
export function wasmMatmul(c: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean, aOff: number, cOff: number): void {
  const Np = (N + 3) & ~3;
  const [pa, pb, pc] = regions([M * K, K * Np, M * Np]) as [number, number, number];
  const buf = kernel!.memory.buffer;
  const A = new Float32Array(buf, pa, M * K), B = new Float32Array(buf, pb, K * Np), C = new Float32Array(buf, pc, M * Np);
  if (!transA) A.set(a.subarray(aOff, aOff + M * K));
  else transposeInto(A, a, aOff, K, M, K);
  if (!transB) {
    if (Np === N) B.set(b.subarray(0, K * N));
    else for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) B[k * Np + n] = b[k * N + n]!;
      for (let n = N; n < Np; n++) B[k * Np + n] = 0;
    }
  } else {
    transposeInto(B, b, 0, N, K, Np);
    if (Np !== N) for (let k = 0; k < K; k++) for (let n = N; n < Np; n++) B[k * Np + n] = 0;
  }
  kernel!.ex.gemmF32(pa, pb, pc, M, Np, K);
  if (!accumulate && Np === N) {
    c.set(C, cOff);
    return;
  }
  for (let m = 0; m < M; m++) {
    const o = cOff + m * N, s = m * Np;
    if (accumulate) for (let n = 0; n < N; n++) c[o + n]! += C[s + n]!;
    else for (let n = 0; n < N; n++) c[o + n] = C[s + n]!;
  }
}

/**
 * dst[j·ld + i] = src[off + i·cols + j] for the [rows, cols] matrix at `off` (dst is its
 * transpose, rows `ld` apart), in 16 × 16 tiles so that neither side is walked with a long stride.
 */
function transposeInto(dst: Float32Array, src: Float32Array, off: number, rows: number, cols: number, ld: number): void {
  const TB = 16;
  for (let i0 = 0; i0 < rows; i0 += TB) {
    const i1 = Math.min(rows, i0 + TB);
    for (let j0 = 0; j0 < cols; j0 += TB) {
      const j1 = Math.min(cols, j0 + TB);
      for (let i = i0; i < i1; i++) {
        const so = off + i * cols;
        for (let j = j0; j < j1; j++) dst[j * ld + i] = src[so + j]!;
      }
    }
  }
}

export interface HeadLayout {
  B: number;
  T: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  window: number;
}

/** Byte offsets of consecutive f32 regions of the given lengths (64-byte aligned, from HEAP_BASE), memory grown to fit. */
function regions(lengths: number[]): number[] {
  const out: number[] = [];
  let p = HEAP_BASE;
  for (const n of lengths) {
    out.push(p);
    p += Math.ceil((n * 4) / 64) * 64;
  }
  ensure(p);
  return out;
}

function gather(dst: Float32Array, x: Float32Array, W: number, row0: number, off: number, T: number, d: number): void {
  for (let i = 0; i < T; i++) {
    const o = (row0 + i) * W + off;
    for (let c = 0; c < d; c++) dst[i * d + c] = x[o + c]!;
  }
}

function gatherT(dst: Float32Array, x: Float32Array, W: number, row0: number, off: number, T: number, Tp: number, d: number): void {
  for (let i = 0; i < T; i++) {
    const o = (row0 + i) * W + off;
    for (let c = 0; c < d; c++) dst[c * Tp + i] = x[o + c]!;
  }
  for (let c = 0; c < d; c++) for (let i = T; i < Tp; i++) dst[c * Tp + i] = 0;
}

/** out = attention(q, k, v); L[(b·H + h)·T + i] = row log-sum-exp (kept for the backward pass). */
export function wasmAttentionForward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, L: Float32Array, s: HeadLayout): void {
  const { B, T, nHeads: H, nKvHeads: Hkv, headDim: d } = s;
  const Tp = (T + 3) & ~3, QW = H * d, KW = Hkv * d, group = H / Hkv;
  const [pQ, pKt, pV, pO, pM, pZ, pS] = regions([T * d, d * Tp, T * d, T * d, T, 2 * T, Tp]) as [number, number, number, number, number, number, number];
  const buf = kernel!.memory.buffer;
  const Q = new Float32Array(buf, pQ, T * d), Kt = new Float32Array(buf, pKt, d * Tp), V = new Float32Array(buf, pV, T * d);
  const O = new Float32Array(buf, pO, T * d), Mh = new Float32Array(buf, pM, T), Zh = new Float64Array(buf, pZ, T);
  const scale = 1 / Math.sqrt(d);
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < Hkv; g++) {
      gatherT(Kt, k, KW, b * T, g * d, T, Tp, d);
      gather(V, v, KW, b * T, g * d, T, d);
      for (let h = g * group; h < (g + 1) * group; h++) {
        gather(Q, q, QW, b * T, h * d, T, d);
        kernel!.ex.attnForward(pQ, pKt, pV, pO, pM, pZ, pS, T, Tp, d, s.window, scale);
        for (let i = 0; i < T; i++) {
          const o = (b * T + i) * QW + h * d;
          for (let c = 0; c < d; c++) out[o + c] = O[i * d + c]!;
          L[(b * H + h) * T + i] = Mh[i]! + Math.log(Zh[i]!);
        }
      }
    }
  }
}

/** Add ∂L/∂q, ∂L/∂k, ∂L/∂v (those asked for) given ∂L/∂out. */
export function wasmAttentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, dOut: Float32Array, L: Float32Array, dq: Float32Array | null, dk: Float32Array | null, dv: Float32Array | null, s: HeadLayout): void {
  const { B, T, nHeads: H, nKvHeads: Hkv, headDim: d } = s;
  const Tp = (T + 3) & ~3, QW = H * d, KW = Hkv * d, group = H / Hkv;
  const n = T * d;
  const r = regions([n, n, d * Tp, d * Tp, n, n, T, n, n, n, Tp, Tp]);
  const [pQ, pK, pKt, pVt, pO, pdO, pL, pdQ, pdK, pdV, pS, pP] = r as [number, number, number, number, number, number, number, number, number, number, number, number];
  const buf = kernel!.memory.buffer;
  const view = (p: number, len: number) => new Float32Array(buf, p, len);
  const Q = view(pQ, n), K = view(pK, n), Kt = view(pKt, d * Tp), Vt = view(pVt, d * Tp), O = view(pO, n), dO = view(pdO, n), Lh = view(pL, T);
  const dQ = view(pdQ, n), dK = view(pdK, n), dV = view(pdV, n);
  const scale = 1 / Math.sqrt(d);
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < Hkv; g++) {
      gather(K, k, KW, b * T, g * d, T, d);
      gatherT(Kt, k, KW, b * T, g * d, T, Tp, d);
      gatherT(Vt, v, KW, b * T, g * d, T, Tp, d);
      for (let h = g * group; h < (g + 1) * group; h++) {
        gather(Q, q, QW, b * T, h * d, T, d);
        gather(O, out, QW, b * T, h * d, T, d);
        gather(dO, dOut, QW, b * T, h * d, T, d);
        Lh.set(L.subarray((b * H + h) * T, (b * H + h + 1) * T));
        kernel!.ex.attnBackward(pQ, pK, pKt, pVt, pO, pdO, pL, pdQ, pdK, pdV, pS, pP, T, Tp, d, s.window, scale);
        for (let i = 0; i < T; i++) {
          const qo = (b * T + i) * QW + h * d, ko = (b * T + i) * KW + g * d;
          for (let c = 0; c < d; c++) {
            if (dq) dq[qo + c]! += dQ[i * d + c]!;
            if (dk) dk[ko + c]! += dK[i * d + c]!;
            if (dv) dv[ko + c]! += dV[i * d + c]!;
          }
        }
      }
    }
  }
}
