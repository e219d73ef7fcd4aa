/**
 * Ternary attention: trit quantization invariants, the popcount dot against plain integer
 * arithmetic, the WASM kernels bit for bit against the reference (trits, scales, f32 scores),
 * ternary-score attention against an independent float64 formula, the top-k hybrid against a
 * brute-force selection (causal, GQA, threshold mode, k ≥ n = exact), key tables across
 * sequences, and the ternary KV cache's bytes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttentionShape } from '../../src/backend/backend.js';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import type { AttentionFn } from '../../src/nn/attention.js';
import { TernaryKVCache } from '../../src/nn/attention-kv-cache.js';
import { makeAttention } from '../../src/nn/attention-modes.js';
import { exact64 } from '../../src/nn/attention-reference.js';
import { ternaryAttention, ternaryScores, topKAttention } from '../../src/nn/attention-ternary.js';
import { quantizeDepth, quantizeTrits, TernaryRows, tritDot, tritWords, TRIT_THRESHOLD } from '../../src/nn/attention-trits.js';
import type { AttentionKernels } from '../../src/nn/attention-wasm.js';
import { randomFloats } from '../helpers/arbitraries.js';

let wasm: WasmBackend;
let K: AttentionKernels;
beforeAll(async () => {
  wasm = await WasmBackend.create({ threads: 1 });
  K = wasm.kernels as unknown as AttentionKernels;
});
afterAll(async () => {
  await wasm?.dispose();
});

/** The trits of record p as numbers. */
function trits(planes: Uint32Array, p: number, d: number): number[] {
  const W = tritWords(d);
  return Array.from({ length: d }, (_, i) => (planes[p + (i >>> 5)]! >>> (i & 31)) & 1 ? ((planes[p + W + (i >>> 5)]! >>> (i & 31)) & 1 ? -1 : 1) : 0);
}

const floatsArb = (d: number) => fc.array(fc.float({ min: -8, max: 8, noNaN: true, noDefaultInfinity: true }), { minLength: d, maxLength: d });

describe('trit quantization and the popcount dot', () => {
  it('keeps exactly |x| > 0.4·mean|x|, α = mean kept |x|, neg ⊆ nz, padding bits zero', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 160 }).chain((d) => floatsArb(d)), (xs) => {
        const d = xs.length;
        const W = tritWords(d);
        const planes = new Uint32Array(2 * W).fill(0xffffffff);
        const a = quantizeTrits(xs, 0, d, planes, 0);
        const delta = (TRIT_THRESHOLD * xs.reduce((s, v) => s + Math.abs(v), 0)) / d;
        const t = trits(planes, 0, d);
        const kept = xs.filter((v) => Math.abs(v) > delta);
        t.forEach((ti, i) => expect(ti).toBe(Math.abs(xs[i]!) > delta ? Math.sign(xs[i]!) : 0));
        expect(a).toBeCloseTo(kept.length ? kept.reduce((s, v) => s + Math.abs(v), 0) / kept.length : 0, 12);
        for (let w = 0; w < W; w++) expect(planes[W + w]! & ~planes[w]!).toBe(0);
        if (d % 32) expect(planes[W - 1]! >>> (d % 32)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('tritDot = Σ t·u over random trit vectors of any length', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }).chain((d) => fc.tuple(fc.array(fc.constantFrom(-1, 0, 1), { minLength: d, maxLength: d }), fc.array(fc.constantFrom(-1, 0, 1), { minLength: d, maxLength: d }))), ([t, u]) => {
        const d = t.length;
        const W = tritWords(d);
        const a = new Uint32Array(2 * W), b = new Uint32Array(2 * W);
        quantizeTrits(t, 0, d, a, 0);
        quantizeTrits(u, 0, d, b, 0);
        expect(trits(a, 0, d)).toEqual(t.map((x) => x + 0));
        expect(tritDot(a, 0, b, 0, W)).toBe(t.reduce((s: number, x, i) => s + x * u[i]!, 0));
      }),
      { numRuns: 200 },
    );
  });

  it('WASM quantTrits matches the reference bit for bit (planes and f32 scales), d 8/33/64/96/128, depth 1 and 2', () => {
    const tmp = wasm.allocF32(128);
    for (const D of [1, 2])
      for (const d of [8, 33, 64, 96, 128]) {
        const R = D * 2 * tritWords(d);
        const count = 37;
        const x = wasm.allocF32(count * d);
        x.set(randomFloats(count * d, d, 3));
        const planes = wasm.allocF32(count * R), scales = wasm.allocF32(count * D);
        K.quantTrits(x.byteOffset, count, d, d, planes.byteOffset, R, scales.byteOffset, D, tmp.byteOffset);
        const rows = new TernaryRows(d, count, D);
        rows.set(0, x, 0);
        expect(new Uint32Array(planes.buffer, planes.byteOffset, count * R)).toEqual(rows.planes.subarray(0, count * R));
        expect(Array.from(scales)).toEqual(Array.from(rows.scales.subarray(0, count * D)));
        for (const a of [x, planes, scales]) wasm.freeF32(a);
      }
    wasm.freeF32(tmp);
  });

  it('depth 2 is a residual: α₁t₁ + α₂t₂ is closer to x than α₁t₁', () => {
    const x = randomFloats(64 * 50, 8, 2);
    const r1 = new TernaryRows(64, 50, 1), r2 = new TernaryRows(64, 50, 2);
    r1.set(0, x, 0);
    r2.set(0, x, 0);
    const a = new Float32Array(64), b = new Float32Array(64);
    for (let g = 0; g < 50; g++) {
      r1.dequantize(0, g, a, 0);
      r2.dequantize(0, g, b, 0);
      const err = (y: Float32Array) => y.reduce((s, v, i) => s + (v - x[g * 64 + i]!) ** 2, 0);
      expect(err(b)).toBeLessThan(err(a));
    }
  });
});

function setup(seq: number, d: number, nHeads: number, nKv: number, seed: number, window = 0) {
  const s: AttentionShape = { nHeads, nKvHeads: nKv, headDim: d, window };
  return { s, q: randomFloats(nHeads * d, seed, 2), keys: randomFloats(seq * nKv * d, seed + 1, 2), values: randomFloats(seq * nKv * d, seed + 2, 1) };
}

/** Float64 softmax-weighted values of the given (position, score) pairs. */
function weighted(pairs: [number, number][], values: Float32Array, kvDim: number, ko: number, d: number): number[] {
  const m = Math.max(...pairs.map((p) => p[1]));
  const w = pairs.map(([j, sc]) => [j, Math.exp(sc - m)] as const);
  const sum = w.reduce((a, x) => a + x[1], 0);
  const out = new Array<number>(d).fill(0);
  for (const [j, p] of w) for (let i = 0; i < d; i++) out[i]! += (p / sum) * values[j * kvDim + ko + i]!;
  return out;
}

/** Independent ternary scores: dequantize q and k (α·t) and take the f64 dot over √d. */
function ternaryScoresF64(q: Float32Array, keys: Float32Array, s: AttentionShape, h: number, pos: number): [number, number][] {
  const d = s.headDim;
  const kvDim = s.nKvHeads * d;
  const g = Math.floor(h / (s.nHeads / s.nKvHeads));
  const W = tritWords(d);
  const qp = new Uint32Array(2 * W), kp = new Uint32Array(2 * W);
  const aq = quantizeTrits(q, h * d, d, qp, 0);
  const tq = trits(qp, 0, d);
  const start = s.window > 0 ? Math.max(0, pos - s.window + 1) : 0;
  const res: [number, number][] = [];
  for (let j = start; j <= pos; j++) {
    const ak = Math.fround(quantizeTrits(keys, j * kvDim + g * d, d, kp, 0));
    const tk = trits(kp, 0, d);
    res.push([j, (aq * ak * tq.reduce((a, t, i) => a + t * tk[i]!, 0)) / Math.sqrt(d)]);
  }
  return res;
}

function run(fn: AttentionFn, x: ReturnType<typeof setup>, pos: number): Float32Array {
  const out = new Float32Array(x.s.nHeads * x.s.headDim);
  fn(x.q, 0, x.keys, x.values, pos, x.s, out, 0);
  return out;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  expect(m, what).toBeLessThanOrEqual(tol);
}

describe('ternary-score attention', () => {
  it('reference = independent float64 formula; WASM = reference (GQA 2, window, d 8/64/96; depth 2 too)', () => {
    for (const [d, win] of [[64, 0], [96, 50], [8, 0]] as const) {
      const x = setup(150, d, 4, 2, d + win, win);
      const want = Array.from({ length: 4 }, (_, h) => weighted(ternaryScoresF64(x.q, x.keys, x.s, h, 149), x.values, 2 * d, Math.floor(h / 2) * d, d)).flat();
      const ref = run(ternaryAttention(), x, 149);
      expectClose(ref, want, 2e-5, `ref d=${d}`);
      expectClose(run(makeAttention({ kind: 'ternary' }, wasm), x, 149), ref, 2e-5, `wasm d=${d}`);
      expectClose(run(makeAttention({ kind: 'ternary', depth: 2 }, wasm), x, 149), run(ternaryAttention({ depth: 2 }), x, 149), 2e-5, `wasm depth 2 d=${d}`);
    }
  });

  it('WASM popcount scores equal the reference f32 scores exactly (every kernel path: depth 1 and 2, d 64/96/128)', () => {
    for (const [D, d] of [[1, 64], [1, 128], [1, 96], [2, 64], [2, 128]] as const) {
      const nKv = 2, nH = 4, seq = 90, cap = 128;
      const x = setup(seq, d, nH, nKv, 77);
      const R = D * 2 * tritWords(d);
      const tmp = wasm.allocF32(d);
      const kp = wasm.allocF32(nKv * cap * R), ks = wasm.allocF32(nKv * cap * D), kx = wasm.allocF32(seq * nKv * d);
      kx.set(x.keys);
      for (let g = 0; g < nKv; g++) K.quantTrits(kx.byteOffset + g * d * 4, seq, d, nKv * d, kp.byteOffset + g * cap * R * 4, R, ks.byteOffset + g * cap * D * 4, D, tmp.byteOffset);
      const qx = wasm.allocF32(nH * d), qp = wasm.allocF32(nH * R), qs = wasm.allocF32(nH * D), out = wasm.allocF32(nH * (seq - 5));
      qx.set(x.q);
      K.quantTrits(qx.byteOffset, nH, d, d, qp.byteOffset, R, qs.byteOffset, D, tmp.byteOffset);
      K.ternaryScores(qp.byteOffset, qs.byteOffset, kp.byteOffset, ks.byteOffset, cap, 5, seq - 5, nH, nKv, d, D, out.byteOffset);
      const rows = new TernaryRows(d, nKv, D);
      for (let r = 0; r < seq; r++) rows.set(r, x.keys, r * nKv * d);
      const sc = new Float64Array(seq);
      const rq = new Uint32Array(R);
      const rs = new Float32Array(D);
      for (let h = 0; h < nH; h++) {
        quantizeDepth(x.q, h * d, d, D, rq, 0, rs, 0);
        ternaryScores(rq, rs, rows, h >> 1, 5, seq - 5, sc);
        expect(Array.from(out.subarray(h * (seq - 5), (h + 1) * (seq - 5)))).toEqual(Array.from(sc.subarray(0, seq - 5)));
      }
      for (const a of [kp, ks, kx, qx, qp, qs, out, tmp]) wasm.freeF32(a);
    }
  });

  it('the ternary KV cache: f32 values = ternaryAttention; trit values = the formula on α·t values; bytes ≤ 1/12 of f32 keys at d 64/128', () => {
    for (const d of [64, 128]) {
      const x = setup(40, d, 4, 2, d);
      const kvDim = 2 * d;
      const c = new TernaryKVCache(2, x.s);
      const cv = new TernaryKVCache(1, x.s, { ternaryValues: true });
      for (let p = 0; p < 40; p++) {
        c.set(1, p, x.keys, p * kvDim, x.values, p * kvDim);
        cv.set(0, p, x.keys, p * kvDim, x.values, p * kvDim);
      }
      const out = new Float32Array(4 * d);
      c.attend(1, x.q, 0, 39, out, 0);
      expectClose(out, run(ternaryAttention(), x, 39), 1e-6, 'f32 values');
      // trit values: dequantize them and use the f32 path's formula
      const deq = new Float32Array(40 * kvDim);
      for (let p = 0; p < 40; p++) for (let g = 0; g < 2; g++) (cv.values[0] as TernaryRows).dequantize(p, g, deq, p * kvDim + g * d);
      cv.attend(0, x.q, 0, 39, out, 0);
      expectClose(out, run(ternaryAttention(), { ...x, values: deq }, 39), 1e-6, 'trit values');
      expect(c.keys[1]!.bytes).toBe(40 * 2 * (2 * tritWords(d) * 4 + 4));
      expect(c.keyBytes / (c.f32KeyBytes / 2)).toBeLessThanOrEqual(1 / 12);
      expect(cv.valueBytes).toBe(cv.keyBytes);
    }
  });
});

/**
 * Brute-force top-k: sort ternary scores (depth D; the `recent` latest first; ties: earlier key),
 * keep k (or the threshold set), exact float64 attention over them.
 */
function bruteTopK(x: ReturnType<typeof setup>, pos: number, k: number | null, tau?: number, D = 1, recent = 0): number[] {
  const { s, q, keys, values } = x;
  const d = s.headDim;
  const kvDim = s.nKvHeads * d;
  const rows = new TernaryRows(d, s.nKvHeads, D);
  for (let r = 0; r <= pos; r++) rows.set(r, keys, r * kvDim);
  const start = s.window > 0 ? Math.max(0, pos - s.window + 1) : 0;
  const n = pos - start + 1;
  const out: number[] = [];
  for (let h = 0; h < s.nHeads; h++) {
    const g = Math.floor(h / (s.nHeads / s.nKvHeads));
    const qp = new Uint32Array(rows.R);
    const qs = new Float32Array(D);
    const sc = new Float64Array(n);
    quantizeDepth(q, h * d, d, D, qp, 0, qs, 0);
    ternaryScores(qp, qs, rows, g, start, n, sc);
    const best = Math.max(...sc);
    const key = (j: number) => (j >= n - recent ? Infinity : sc[j]!);
    let order = Array.from({ length: n }, (_, j) => j).sort((a, b) => key(b) - key(a) || a - b);
    if (tau !== undefined) order = order.filter((j) => key(j) >= Math.fround(best - tau));
    else order = order.slice(0, k!);
    const pairs = order.map((j) => {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += q[h * d + i]! * keys[(start + j) * kvDim + g * d + i]!;
      return [start + j, dot / Math.sqrt(d)] as [number, number];
    });
    out.push(...weighted(pairs, values, kvDim, g * d, d));
  }
  return out;
}

describe('top-k hybrid', () => {
  it('= brute-force selection + exact attention (ref and WASM), random shapes, GQA 1/2/4, windows, depth 1/2, recent keys', () => {
    fc.assert(
      fc.property(
        fc.record({ seq: fc.integer({ min: 1, max: 300 }), d: fc.constantFrom(8, 64, 96, 128), ratio: fc.constantFrom(1, 2, 4), k: fc.integer({ min: 1, max: 40 }), win: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })), seed: fc.integer({ min: 1, max: 1 << 30 }), depth: fc.constantFrom(1, 2), recent: fc.constantFrom(0, 0, 3, 8) }),
        (c) => {
          const x = setup(c.seq, c.d, 2 * c.ratio, 2, c.seed, c.win);
          const want = bruteTopK(x, c.seq - 1, c.k, undefined, c.depth, c.recent);
          const ref = run(topKAttention({ k: c.k, depth: c.depth, recent: c.recent }), x, c.seq - 1);
          expectClose(ref, want, 1e-5, 'ref');
          expectClose(run(makeAttention({ kind: 'topk', k: c.k, depth: c.depth, recent: c.recent }, wasm), x, c.seq - 1), ref, 1e-5, 'wasm');
        },
      ),
      { numRuns: 40 },
    );
  });

  it('threshold mode = brute force; huge τ or k ≥ n gives exact attention; τ = 0 keeps only the best', () => {
    const x = setup(200, 64, 4, 2, 99);
    for (const [tau, D, r] of [[0, 1, 0], [0.5, 1, 0], [2, 1, 0], [0.5, 2, 4], [0, 1, 6]] as const) {
      const want = bruteTopK(x, 199, null, tau, D, r);
      expectClose(run(topKAttention({ threshold: tau, depth: D, recent: r }), x, 199), want, 1e-5, `ref τ=${tau}`);
      expectClose(run(makeAttention({ kind: 'topk', threshold: tau, depth: D, recent: r }, wasm), x, 199), want, 1e-5, `wasm τ=${tau}`);
    }
    const exact = exact64(x.q, 0, x.keys, x.values, 199, x.s);
    expectClose(run(topKAttention({ threshold: 1e9 }), x, 199), exact, 1e-5, 'τ = ∞');
    expectClose(run(topKAttention({ k: 200 }), x, 199), exact, 1e-5, 'k = n');
    expectClose(run(makeAttention({ kind: 'topk', k: 500 }, wasm), x, 199), exact, 1e-5, 'wasm k > n');
    // and a small k really is an approximation (the test above could fail)
    const approx = run(topKAttention({ k: 4 }), x, 199);
    expect(Math.max(...Array.from(approx, (v, i) => Math.abs(v - exact[i]!)))).toBeGreaterThan(1e-3);
  });

  it('causal: keys and values after pos are never read; a sequence step by step = fresh tables', () => {
    const x = setup(64, 64, 4, 1, 5);
    for (const mk of [() => topKAttention({ k: 8 }), () => ternaryAttention(), () => makeAttention({ kind: 'topk', k: 8 }, wasm), () => makeAttention({ kind: 'ternary' }, wasm)]) {
      const poisoned = { ...x, keys: x.keys.slice(), values: x.values.slice() };
      poisoned.keys.fill(NaN, 30 * 64);
      poisoned.values.fill(NaN, 30 * 64);
      const fresh = run(mk(), x, 29);
      expectClose(run(mk(), poisoned, 29), fresh, 0, 'poisoned future');
      // one function over positions 0..29 (tables grow step by step), then a new sequence in the same arrays
      const fn = mk();
      for (let p = 0; p < 30; p++) run(fn, x, p);
      expectClose(run(fn, x, 29), fresh, 0, 'same position again');
      const other = setup(64, 64, 4, 1, 6);
      x.keys.set(other.keys);
      x.values.set(other.values);
      expectClose(run(fn, x, 10), run(mk(), x, 10), 0, 'new sequence in the same storage');
      x.keys.set(setup(64, 64, 4, 1, 5).keys);
      x.values.set(setup(64, 64, 4, 1, 5).values);
    }
  });
});
