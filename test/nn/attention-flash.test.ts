/**
 * Flash-style attention (reference and WASM SIMD) against float64 exact attention, with
 * flash-attention's own acceptance criterion
 *   max|flash − exact64| ≤ 2·max|naive32 − exact64| + 1e-6
 * over random shapes: sequence lengths 1..4096 (a few long, many short), head dims 64 and 128,
 * GQA ratios 1, 2, 4, sliding windows; plus the f32 scoring kernel.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import type { AttentionShape } from '../../src/backend/backend.js';
import type { AttentionFn } from '../../src/nn/attention.js';
import { flashAttention } from '../../src/nn/attention-flash.js';
import { makeAttention } from '../../src/nn/attention-modes.js';
import { exact64, naive32 } from '../../src/nn/attention-reference.js';
import { type AttentionKernels } from '../../src/nn/attention-wasm.js';
import { randomFloats } from '../helpers/arbitraries.js';

let wasm: WasmBackend;
let wasmFlash: AttentionFn;
beforeAll(async () => {
  wasm = await WasmBackend.create({ threads: 1 });
  wasmFlash = makeAttention({ kind: 'flash' }, wasm);
});
afterAll(async () => {
  await wasm?.dispose();
});

interface Case {
  seq: number;
  d: number;
  ratio: number;
  nKv: number;
  window: number;
  seed: number;
}

/** Inputs of the last query position of a `seq`-token sequence (N(0,1)-ish, like flash-attn's randn). */
function inputs(c: Case) {
  const s: AttentionShape = { nHeads: c.nKv * c.ratio, nKvHeads: c.nKv, headDim: c.d, window: c.window };
  const q = randomFloats(s.nHeads * c.d, c.seed, 1.7);
  const keys = randomFloats(c.seq * c.nKv * c.d, c.seed + 1, 1.7);
  const values = randomFloats(c.seq * c.nKv * c.d, c.seed + 2, 1.7);
  return { s, q, keys, values, pos: c.seq - 1 };
}

function maxErr(a: ArrayLike<number>, ref: Float64Array): number {
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(a[i]! - ref[i]!));
  return m;
}

/** Errors of both flash implementations and of naive32, against exact64. */
function errors(c: Case) {
  const { s, q, keys, values, pos } = inputs(c);
  const n = s.nHeads * c.d;
  const ref = exact64(q, 0, keys, values, pos, s);
  const naive = new Float32Array(n);
  naive32(q, 0, keys, values, pos, s, naive, 0);
  const flash = new Float32Array(n);
  flashAttention(q, 0, keys, values, pos, s, flash, 0);
  const fw = new Float32Array(n);
  wasmFlash(q, 0, keys, values, pos, s, fw, 0);
  return { naive: maxErr(naive, ref), ref: maxErr(flash, ref), wasm: maxErr(fw, ref) };
}

function expectCriterion(c: Case) {
  const e = errors(c);
  const bound = 2 * e.naive + 1e-6;
  expect(e.ref, `reference flash ${JSON.stringify(c)}`).toBeLessThanOrEqual(bound);
  expect(e.wasm, `wasm flash ${JSON.stringify(c)}`).toBeLessThanOrEqual(bound);
}

describe('flash attention: max|flash − exact64| ≤ 2·max|naive32 − exact64| + 1e-6', () => {
  it('long sequences: 4096 and 2049 keys, d 64/128, GQA 1/2/4', () => {
    const cases: Case[] = [
      { seq: 4096, d: 128, ratio: 4, nKv: 1, window: 0, seed: 11 },
      { seq: 4096, d: 64, ratio: 2, nKv: 2, window: 0, seed: 12 },
      { seq: 2049, d: 64, ratio: 1, nKv: 2, window: 0, seed: 13 },
      { seq: 3000, d: 128, ratio: 2, nKv: 1, window: 1000, seed: 14 },
    ];
    for (const c of cases) expectCriterion(c);
  });

  it('random shapes: seq 1..600, head dim 64/128, GQA 1/2/4, sliding windows', () => {
    fc.assert(
      fc.property(
        fc.record({
          seq: fc.oneof(fc.constantFrom(1, 2, 63, 64, 65, 127, 128, 129), fc.integer({ min: 1, max: 600 })),
          d: fc.constantFrom(64, 128),
          ratio: fc.constantFrom(1, 2, 4),
          nKv: fc.integer({ min: 1, max: 2 }),
          window: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 })),
          seed: fc.integer({ min: 1, max: 1 << 30 }),
        }),
        (c) => expectCriterion(c),
      ),
      { numRuns: 150 },
    );
  });

  it('the criterion can fail: a flash that drops the last key is caught', () => {
    const c: Case = { seq: 100, d: 64, ratio: 1, nKv: 1, window: 0, seed: 5 };
    const { s, q, keys, values, pos } = inputs(c);
    const ref = exact64(q, 0, keys, values, pos, s);
    const naive = new Float32Array(64);
    naive32(q, 0, keys, values, pos, s, naive, 0);
    const bad = new Float32Array(64);
    flashAttention(q, 0, keys, values, pos - 1, s, bad, 0);
    expect(maxErr(bad, ref)).toBeGreaterThan(2 * maxErr(naive, ref) + 1e-6);
  });

  it('queries and outputs at offsets, from ordinary (non-wasm) arrays and from wasm memory', () => {
    const c: Case = { seq: 70, d: 64, ratio: 2, nKv: 2, window: 0, seed: 9 };
    const { s, q, keys, values, pos } = inputs(c);
    const n = s.nHeads * c.d;
    const ref = new Float32Array(n);
    flashAttention(q, 0, keys, values, pos, s, ref, 0);
    const q2 = new Float32Array(n + 5);
    q2.set(q, 5);
    const out = new Float32Array(n + 3);
    wasmFlash(q2, 5, keys, values, pos, s, out, 3);
    const k3 = wasm.allocF32(keys.length), v3 = wasm.allocF32(values.length), o3 = wasm.allocF32(n);
    k3.set(keys);
    v3.set(values);
    wasmFlash(q, 0, k3, v3, pos, s, o3, 0);
    for (let i = 0; i < n; i++) {
      expect(Math.abs(out[3 + i]! - ref[i]!)).toBeLessThan(1e-5);
      expect(o3[i]).toBe(out[3 + i]);
    }
    for (const a of [k3, v3, o3]) wasm.freeF32(a);
    expect(() => wasmFlash(q, 0, keys.subarray(0, 10), values, pos, s, out, 0)).toThrow(/KV cache too short/);
  });
});

describe('f32 scoring kernel', () => {
  it('scoresF32 = q·k/√d per head (GQA 2)', () => {
    const s: AttentionShape = { nHeads: 4, nKvHeads: 2, headDim: 64, window: 0 };
    const n = 37;
    const q = wasm.allocF32(4 * 64), keys = wasm.allocF32(n * 128), out = wasm.allocF32(4 * n);
    q.set(randomFloats(q.length, 3));
    keys.set(randomFloats(keys.length, 4));
    (wasm.kernels as unknown as AttentionKernels).scoresF32(q.byteOffset, keys.byteOffset, n, s.nHeads, s.nKvHeads, 64, out.byteOffset);
    for (let h = 0; h < 4; h++)
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let i = 0; i < 64; i++) dot += q[h * 64 + i]! * keys[j * 128 + (h >> 1) * 64 + i]!;
        expect(out[h * n + j]).toBeCloseTo(dot / 8, 5);
      }
    for (const a of [q, keys, out]) wasm.freeF32(a);
  });
});
