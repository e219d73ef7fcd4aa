/**
 * The trainer's matrix products: the wasm SIMD kernel equals the TypeScript reference on ragged
 * shapes and every transpose/accumulate/offset combination (f32 tolerance), and small or f64
 * products stay in TypeScript.
 */
import { describe, expect, it } from 'vitest';
import { gemmNT, matmul } from '../../src/train/gemm.js';
import { disableWasmGemm, loadWasmGemm, wasmGemmReady, wasmMatmul } from '../../src/train/wasm-kernels.js';
import { randomFloats } from '../helpers/arbitraries.js';

function reference(a: Float32Array, b: Float32Array, M: number, N: number, K: number, tA: boolean, tB: boolean, aOff: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a[aOff + (tA ? k * M + m : m * K + k)]! * b[tB ? n * K + k : k * N + n]!;
    c[m * N + n] = s;
  }
  return c;
}

describe('matmul', () => {
  it('the wasm kernel matches the reference on ragged shapes, transposes, offsets and accumulation', async () => {
    expect(await loadWasmGemm()).toBe(true);
    for (const [M, N, K] of [[1, 1, 1], [5, 3, 7], [4, 8, 16], [9, 13, 33], [20, 172, 40], [3, 211, 5]] as const) {
      for (const tA of [false, true]) for (const tB of [false, true]) for (const acc of [false, true]) {
        const aOff = 3, cOff = 2;
        const a = randomFloats(aOff + M * K, M + K), b = randomFloats(N * K, N * 7 + K);
        const c = randomFloats(cOff + M * N, 5);
        const before = c.slice();
        wasmMatmul(c, a, b, M, N, K, tA, tB, acc, aOff, cOff);
        const ref = reference(a, b, M, N, K, tA, tB, aOff);
        expect(c.subarray(0, cOff)).toEqual(before.subarray(0, cOff));
        for (let i = 0; i < M * N; i++) expect(Math.abs(c[cOff + i]! - (ref[i]! + (acc ? before[cOff + i]! : 0)))).toBeLessThan(1e-4 * (1 + Math.abs(ref[i]!)));
      }
    }
  });

  it('matmul dispatches large f32 products to wasm and gives the TypeScript result within f32 tolerance', async () => {
    await loadWasmGemm();
    const M = 70, N = 90, K = 33;
    const a = randomFloats(K * M, 1), b = randomFloats(K * N, 2);
    const viaWasm = new Float32Array(M * N);
    matmul(viaWasm, a, b, M, N, K, { transA: true });
    expect(wasmGemmReady()).toBe(true);
    disableWasmGemm();
    const viaTs = new Float32Array(M * N);
    matmul(viaTs, a, b, M, N, K, { transA: true });
    expect(wasmGemmReady()).toBe(false);
    for (let i = 0; i < M * N; i++) expect(viaWasm[i]).toBeCloseTo(viaTs[i]!, 4);
    // gemmNT's strided entry agrees with the plain one
    const c1 = new Float64Array(6 * 5), c2 = new Float64Array(6 * 5);
    const A = Float64Array.from(randomFloats(6 * 4, 3)), B = Float64Array.from(randomFloats(5 * 4, 4));
    gemmNT(c1, A, B, 6, 5, 4);
    const ref = reference(Float32Array.from(A), Float32Array.from(B), 6, 5, 4, false, true, 0);
    for (let i = 0; i < 30; i++) expect(c1[i]).toBeCloseTo(ref[i]!, 5);
    gemmNT(c2, A, B, 6, 5, 4, true);
    expect(c2).toEqual(c1);
  });
});

describe('wasm attention', () => {
  it('forward and backward equal the TypeScript attention (GQA, two sequences, ragged T, window, head sizes 4, 8, 12, 16)', async () => {
    const { attention } = await import('../../src/train/ops/attention.js');
    const { Tape } = await import('../../src/train/tape.js');
    const { Tensor } = await import('../../src/train/tensor.js');
    for (const [B, T, H, Hkv, d, window] of [[2, 7, 4, 2, 8, 0], [1, 13, 2, 2, 4, 5], [1, 33, 8, 4, 8, 0], [1, 9, 2, 1, 12, 0], [1, 11, 2, 2, 16, 4]] as const) {
      const mk = (n: number, seed: number) => new Tensor(randomFloats(n, seed), [n], true);
      const run = async (wasm: boolean) => {
        if (wasm) expect(await loadWasmGemm()).toBe(true);
        else disableWasmGemm();
        const q = mk(B * T * H * d, 1), k = mk(B * T * Hkv * d, 2), v = mk(B * T * Hkv * d, 3);
        const tape = new Tape();
        const o = attention(tape, q, k, v, { B, T, nHeads: H, nKvHeads: Hkv, headDim: d, window });
        expect(wasmGemmReady()).toBe(wasm);
        tape.backward(o, randomFloats(o.size, 4));
        return [o.data, q.grad!, k.grad!, v.grad!];
      };
      const ts = await run(false);
      const wa = await run(true);
      ts.forEach((a, i) => {
        for (let j = 0; j < a.length; j++) expect(Math.abs(wa[i]![j]! - a[j]!), `B${B} T${T} output ${i} [${j}]: ${wa[i]![j]} vs ${a[j]}`).toBeLessThan(2e-5);
      });
    }
  });
});

describe('kernel module', () => {
  it('keeps its data segments below HEAP_BASE (hosts place buffers from there up)', async () => {
    const { readFileSync } = await import('node:fs');
    const { HEAP_BASE } = await import('../../src/backend/wasm/heap.js');
    for (const f of ['simd.wasm', 'relaxed.wasm']) {
      const b = readFileSync(new URL(`../../dist/kernels/${f}`, import.meta.url));
      let p = 8;
      const leb = () => {
        let v = 0, shift = 0, x;
        do {
          x = b[p++]!;
          v += (x & 0x7f) * 2 ** shift;
          shift += 7;
        } while (x & 0x80);
        return v;
      };
      const sections: number[] = [];
      while (p < b.length) {
        const id = b[p++]!;
        const size = leb();
        const end = p + size;
        if (id === 11) {
          // data section: segments of (flags, [i32.const offset end], bytes)
          for (let n = leb(); n > 0; n--) {
            const flags = leb();
            expect(flags, `${f}: only active segments in memory 0`).toBe(0);
            expect(b[p++], `${f}: offset is an i32.const`).toBe(0x41);
            const offset = leb(); // non-negative offsets below 2^31 read the same as unsigned LEB
            expect(b[p++]).toBe(0x0b);
            const len = leb();
            expect(offset + len, `${f}: data segment end`).toBeLessThanOrEqual(HEAP_BASE);
            p += len;
          }
        }
        sections.push(id);
        p = end;
      }
      expect(sections).toContain(10); // the code section was found, so the walk is right
    }
  });
});
