/**
 * The wasm VSA engine against the plain-TypeScript kernels (the ground truth): every integer
 * operation must match bit for bit, on vectors in wasm memory and on ordinary vectors (staged),
 * for D from 64 to 1,000,000 including D not a multiple of 32 or 128; the AMP float loops within
 * a stated tolerance. `npm test` runs this file under Node 22 too (relaxed-SIMD build).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, type Rng } from '../../src/eval/random.js';
import { lastWordMask, wordsFor } from '../../src/tensor/bits.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { TritVector } from '../../src/tensor/trit-vector.js';
import { Accumulator } from '../../src/vsa/accumulator.js';
import { VsaEngine, createVsaEngine } from '../../src/vsa/engine/engine.js';
import { jsKernels } from '../../src/vsa/engine/kernels.js';
import { digitPlanes } from '../../src/vsa/digit-planes.js';
import { randomCodebook } from '../../src/vsa/hypervector.js';
import { KeyValueStore } from '../../src/vsa/kv-store.js';
import { bind, nnz, permute, similarity } from '../../src/vsa/ops.js';

const relaxed = WebAssembly.validate(readFileSync(new URL('../../dist/kernels/relaxed.wasm', import.meta.url)));

/** Random trits: density 1 (bipolar), a sparse density, or -1 for each trit uniform in {-1,0,1}. */
function randomTrits(D: number, rng: Rng, density: number): TritVector {
  const v = new TritVector(D), W = wordsFor(D);
  for (let w = 0; w < W; w++) {
    const r = (rng.next() * 2 ** 32) >>> 0, s = (rng.next() * 2 ** 32) >>> 0;
    let nzMask = 0xffffffff;
    if (density > 0 && density < 1) {
      nzMask = 0;
      for (let b = 0; b < 32; b++) if (rng.next() < density) nzMask |= 1 << b;
    } else if (density < 0) nzMask = s | ((rng.next() * 2 ** 32) >>> 0); // 3/4 nonzero
    // density ≥ 1: every trit nonzero (2: then one set to zero, below)
    v.plus[w] = r & nzMask;
    v.minus[w] = ~r & nzMask;
  }
  v.plus[W - 1]! &= lastWordMask(D);
  v.minus[W - 1]! &= lastWordMask(D);
  if (density === 2) v.setAt(Math.floor(D * 0.7), 0); // dense except one trit (past the first 256)
  return v;
}

const DIMS = [64, 100, 1000, 4097, 10000, 1_000_000];

/** Index of the first difference of two integer arrays, or −1 (fast on 10⁶ entries). */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
const KINDS: [string, number][] = [['bipolar', 1], ['sparse 10%', 0.1], ['uniform trits', -1], ['bipolar but one zero', 2]];

let wasm: VsaEngine;
beforeAll(async () => {
  wasm = await createVsaEngine('wasm', { threads: 1 });
});
afterAll(async () => {
  await wasm.dispose();
});

describe('VsaEngine selection', () => {
  it('is chosen by name; auto is wasm here; bad names and backends are typed errors', async () => {
    expect(wasm.name).toBe('wasm');
    expect(wasm.describe()).toMatchObject({ engine: 'wasm', backend: 'wasm', simd: relaxed ? 'relaxed-simd' : 'simd128' });
    if (process.env.TRITWISE_EXPECT_SIMD) expect(wasm.describe().simd).toBe(process.env.TRITWISE_EXPECT_SIMD);
    const auto = await createVsaEngine('auto', { threads: 1 });
    expect(auto.name).toBe('wasm');
    await auto.dispose();
    const js = await createVsaEngine('js');
    expect(js.name).toBe('js');
    expect(js.vector(100).plus.buffer).toBeInstanceOf(ArrayBuffer);
    await expect(createVsaEngine('gpu')).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(VsaEngine.create('wasm', { backend: js.backend })).rejects.toMatchObject({ code: 'E_ARG' });
    await js.dispose();
  });

  it('vectors and accumulators live in wasm memory, free() returns it, and a disposed engine refuses work', async () => {
    const e = await createVsaEngine('wasm', { threads: 1 });
    const heap = (e.backend as unknown as { heap: { used: number; owns(b: ArrayBufferLike): boolean } }).heap;
    const before = heap.used;
    const v = e.random(10_000, 3), acc = e.accumulator(10_000);
    expect(heap.owns(v.plus.buffer)).toBe(true);
    expect(heap.owns(acc.counts.buffer)).toBe(true);
    expect(heap.used).toBeGreaterThanOrEqual(before + 2 * 313 * 4 + 40_000);
    e.free(v);
    e.free(acc);
    e.free(v); // twice is harmless
    expect(heap.used).toBe(before);
    await e.dispose();
    expect(() => e.vector(64)).toThrow(expect.objectContaining({ code: 'E_BACKEND' }));
  });
});

for (const D of DIMS) {
  describe(`wasm kernels = js kernels at D = ${D}`, () => {
    const rng = seededRandom(D);
    const W = wordsFor(D);
    const big = D >= 1_000_000;

    it('bind, similarity, nnz: in wasm memory, staged, and in place', () => {
      for (const [, density] of KINDS) {
        const a = randomTrits(D, rng, density), b = randomTrits(D, rng, big || density >= 1 ? 1 : -1);
        const ref = bind(a, b), sim = similarity(a, b);
        const ha = wasm.copy(a), hb = wasm.copy(b);
        expect(wasm.bind(ha, hb).equals(ref)).toBe(true);
        expect(wasm.bind(a, b).equals(ref)).toBe(true); // staged inputs
        expect(wasm.bindInto(new TritVector(D), ha, b).equals(ref)).toBe(true); // staged output
        expect(wasm.similarity(ha, hb)).toEqual(sim);
        expect(wasm.similarity(a, hb)).toEqual(sim);
        expect(wasm.dot(ha, hb)).toBe(sim.dot);
        expect(wasm.nnz(ha)).toBe(nnz(a));
        wasm.bindInto(ha, ha, hb); // out aliases a
        expect(ha.equals(ref)).toBe(true);
        const z = wasm.vector(D);
        expect(wasm.similarity(z, hb)).toEqual({ dot: 0, cosine: 0 });
        for (const v of [ha, hb, z]) wasm.free(v);
      }
    });

    it('permute by word rotations, funnel shifts and across the wrap', () => {
      const x = randomTrits(D, rng, -1), hx = wasm.copy(x);
      for (const k of [0, 1, 31, 32, 33, 127, D - 1, -5, Math.floor(rng.next() * D)]) {
        const ref = permute(x, k);
        expect(wasm.permute(hx, k).equals(ref), `k = ${k}`).toBe(true);
        expect(wasm.permuteInto(new TritVector(D), x, k).equals(ref), `staged, k = ${k}`).toBe(true);
      }
      expect(wasm.permute(wasm.permute(hx, 7), -7).equals(x)).toBe(true);
    });

    it('accumulate (weighted, bound), threshold (θ, ties), dot and unbind of the integer sum', () => {
      const js = new Accumulator(D), hw = wasm.accumulator(D);
      const n = big ? 2 : 12;
      for (let i = 0; i < n; i++) {
        const x = randomTrits(D, rng, KINDS[i % 3]![1]), y = randomTrits(D, rng, 1);
        const w = [1, -1, 3, -7, 2 ** 20][i % 5]!;
        js.add(x, w).addBound(x, y, -2);
        hw.add(i % 2 ? x : wasm.copy(x), w).addBound(x, wasm.copy(y), -2);
      }
      expect(firstDiff(hw.counts, js.counts)).toBe(-1);
      const ties = randomTrits(D, rng, 1), key = randomTrits(D, rng, -1), K = randomCodebook(2, D, rng);
      for (const theta of big ? [0, 2.5] : [0, 1, 2.5, 2 ** 21, Infinity]) {
        expect(hw.threshold(theta).equals(js.threshold(theta)), `θ = ${theta}`).toBe(true);
        expect(hw.threshold(theta, ties).equals(js.threshold(theta, ties)), `θ = ${theta}, ties`).toBe(true);
      }
      expect(hw.dot(key)).toBe(js.dot(key));
      expect(hw.dotBoundRows(K, 0, K, 1)).toBe(js.dotBoundRows(K, 0, K, 1));
      expect(firstDiff(hw.unbind(key), js.unbind(key))).toBe(-1);
      // a clone stays in wasm memory; subtracting the sum from it restores zero exactly
      const c = hw.clone();
      expect((wasm.backend as unknown as { heap: { owns(b: ArrayBufferLike): boolean } }).heap.owns(c.counts.buffer)).toBe(true);
      c.merge(hw, -1);
      expect(c.counts.every((v) => v === 0)).toBe(true);
      wasm.free(hw);
    });

    it('balanced-ternary digit planes, up to 20 digits', () => {
      for (const P of big ? [5] : [1, 5, 20]) {
        const half = (3 ** P - 1) / 2;
        const x = Int32Array.from({ length: D }, (_, d) => (d < 3 ? [half, -half, 0][d]! : Math.round((rng.next() * 2 - 1) * half)));
        const ref = digitPlanes(x, P);
        const got = TernaryTensor.zeros(P, D);
        got.plus.fill(0xffffffff); // stale bits must be overwritten
        wasm.kernels.digitPlanes(x, P, got.plus, got.minus, 0, W);
        got.invalidateMetadata();
        expect(got.equals(ref), `P = ${P}`).toBe(true);
      }
    });

    if (!big) it('AMP loops: shortlist dots and the residual axpy within 1e-5 of the f64 reference (ternary and dense bipolar values)', () => {
      const N = 5, M = 9, L = 4;
      const K = randomCodebook(N, D, rng, { density: 0.7 });
      for (const density of [0.5, 1]) {
        const V = randomCodebook(M, D, rng, { density });
        const js = jsKernels.ampSession(K, V), hw = wasm.kernels.ampSession(K, V);
        for (let d = 0; d < D; d++) js.z[d] = hw.z[d] = Math.round((rng.next() * 2 - 1) * 50) + 0.25 * (d % 3);
        const secs = Int32Array.of(0, 2, 4), lists = Int32Array.from({ length: 3 * L }, (_, i) => (i === 5 ? -1 : (i * 5) % M));
        const a = new Float64Array(3 * L).fill(7), b = new Float64Array(3 * L).fill(9);
        js.dots(secs, lists, L, a);
        hw.dots(secs, lists, L, b);
        let zabs = 0;
        for (let d = 0; d < D; d++) zabs += Math.abs(js.z[d]!);
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `density ${density}, u[${i}]`).toBeLessThanOrEqual(1e-5 * zabs);
        expect(b[5]).toBe(0);
        const coef = Float64Array.from({ length: 3 * L }, (_, i) => (i % 4 === 3 || i >= 8 ? 0 : -0.25 * (i + 1)));
        for (let d = 0; d < D; d++) js.zn[d] = hw.zn[d] = d % 7;
        js.axpy(secs, lists, L, coef);
        hw.axpy(secs, lists, L, coef);
        for (let d = 0; d < D; d++) expect(Math.abs(js.zn[d]! - hw.zn[d]!), `density ${density}, z[${d}]`).toBeLessThanOrEqual(1e-5 * 16);
        // the padding past D stays 0 (the kernels read whole words)
        const heap = (wasm.backend as unknown as { heap: { f32: Float32Array } }).heap;
        const base = hw.zn.byteOffset / 4;
        for (let d = D; d < W * 32; d++) expect(heap.f32[base + d]).toBe(0);
        js.release();
        hw.release();
      }
    });
  });
}

describe('memories and decoders give the same answers on both engines', () => {
  it('key-value store: identical sums and single-shot reads; AMP decodes D/8 on both', async () => {
    const D = 1024, N = 128, M = 1000;
    const js = await createVsaEngine('js');
    const stores = await Promise.all([js, wasm].map((engine) => KeyValueStore.create(D, { engine, seed: 9 })));
    for (const s of stores) for (let m = 0; m < M; m++) s.values.symbol(`v${m}`);
    const rng = seededRandom(4);
    const truth = new Map<string, string>();
    for (let i = 0; i < N; i++) truth.set(`k${i}`, `v${Math.floor(rng.next() * M)}`);
    for (const s of stores) for (const [k, v] of truth) s.add(k, v);
    expect(stores[1]!.memory.host).toBe(wasm);
    expect(firstDiff(stores[0]!.memory.counts, stores[1]!.memory.counts)).toBe(-1);
    // single-shot scores are exact integers on both engines: the same reads, right or wrong
    const reads = await Promise.all(stores.map(async (s) => Promise.all(s.keys().slice(0, 20).map(async (k) => (await s.get(k))!.value))));
    expect(reads[1]).toEqual(reads[0]);
    // AMP (float loops: f64 in js, f32 residual in wasm) decodes every pair at D/N = 8 on both
    for (const s of stores) {
      const { order, result } = await s.decodeAll('amp');
      expect(order.filter((k, i) => s.values.nameOf(result.indices[i]!) === truth.get(k)).length, s.values.engine.name).toBe(N);
    }
    await Promise.all(stores.map((s) => s.dispose()));
    await js.dispose();
  });
});
