import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/eval/random.js';
import { TritVector } from '../../src/tensor/trit-vector.js';
import { Accumulator } from '../../src/vsa/accumulator.js';
import { decode, type DecoderName } from '../../src/vsa/decode/index.js';
import { ampCore } from '../../src/vsa/decode/amp.js';
import { jsKernels } from '../../src/vsa/engine/kernels.js';
import { randomCodebook } from '../../src/vsa/hypervector.js';
import { ItemMemory } from '../../src/vsa/item-memory.js';
import { KeyValueStore } from '../../src/vsa/kv-store.js';

/** N random pairs over M random values at dimension D; returns the problem and the truth. */
async function superposition(D: number, N: number, M: number, seed: number) {
  const rng = seededRandom(seed);
  const V = randomCodebook(M, D, rng), K = randomCodebook(N, D, rng);
  const values = await ItemMemory.fromCodebook(V);
  const truth = Int32Array.from({ length: N }, () => rng.int(M));
  const acc = new Accumulator(D);
  for (let i = 0; i < N; i++) acc.addBound(TritVector.fromRow(K, i), TritVector.fromRow(V, truth[i]!));
  return { problem: { sum: acc.counts, keys: K, values }, truth };
}

function accuracy(got: Int32Array, truth: Int32Array): number {
  let n = 0;
  for (let i = 0; i < truth.length; i++) if (got[i] === truth[i]) n++;
  return n / truth.length;
}

describe('KeyValueStore', () => {
  it('set / get / overwrite / delete, with delete an exact subtraction', async () => {
    const store = await KeyValueStore.create(1024, { seed: 5 });
    const colors = ['red', 'green', 'blue', 'cyan', 'magenta', 'yellow', 'black', 'white'];
    for (const c of colors) store.values.symbol(c);
    const want = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      want.set(`k${i}`, colors[(i * 5) % 8]!);
      await store.set(`k${i}`, colors[(i * 5) % 8]!);
    }
    expect(store.size).toBe(40);
    for (const [k, v] of want) expect((await store.get(k))!.value).toBe(v);
    expect(await store.get('absent')).toBeUndefined();

    // overwrite: the old value is removed, not superposed
    await store.set('k3', 'white');
    expect((await store.get('k3'))!.value).toBe('white');
    expect(store.size).toBe(40);
    want.set('k3', 'white');

    // delete restores the memory to the exact sum of the remaining pairs
    expect(await store.delete('k7')).toBe(true);
    expect(await store.delete('k7')).toBe(false);
    want.delete('k7');
    const ref = new Accumulator(1024);
    for (const [k, v] of want) ref.addBound(store.keyVectors.vector(k), store.values.vector(v));
    expect(store.memory.equals(ref)).toBe(true);
    expect(store.has('k7')).toBe(false);

    // set then delete of a new pair is an exact no-op
    const before = store.memory.clone();
    await store.set('temp', 'cyan');
    await store.delete('temp', 'cyan');
    expect(store.memory.equals(before)).toBe(true);

    // joint decoding of all keys agrees
    const all = await store.entries('amp');
    expect(Object.fromEntries(all)).toEqual(Object.fromEntries(want));
    expect((await store.get('k5', { decoder: 'amp' }))!.value).toBe(want.get('k5'));
    await expect(store.get('k5', { decoder: 'nope' as DecoderName })).rejects.toMatchObject({ code: 'E_ARG' });
    await store.dispose();
  });

  it('adds unseen value names to the codebook; keys are made once per name', async () => {
    const store = await KeyValueStore.create(512, { seed: 1 });
    await store.set('a', 'x');
    await store.set('b', 'y');
    expect(store.values.names).toEqual(['x', 'y']);
    expect(store.keyVectors.vector('a').equals((await KeyValueStore.create(512, { seed: 1 })).keyVectors.symbol('a'))).toBe(true);
    expect((await store.get('b'))!.value).toBe('y');
  });
});

describe('sparse ternary codes', () => {
  it('keys and values at density 0.3: the pair energies e = nnz(k ⊙ v) vary and AMP still decodes', async () => {
    const store = await KeyValueStore.create(2048, { seed: 2, density: 0.3 });
    for (let m = 0; m < 200; m++) store.values.symbol(`v${m}`);
    const want = new Map(Array.from({ length: 48 }, (_, i) => [`k${i}`, `v${(i * 7) % 200}`] as const));
    for (const [k, v] of want) store.add(k, v);
    expect(Object.fromEntries(await store.entries('amp'))).toEqual(Object.fromEntries(want));
  });
});

describe('decoders (D = 1,024, M = 1,000 random values)', () => {
  it('below D/14 single-shot cleanup is nearly always right', async () => {
    const { problem, truth } = await superposition(1024, 48, 1000, 1);
    const r = await decode(problem, 'single');
    expect(accuracy(r.indices, truth)).toBeGreaterThanOrEqual(0.95);
    expect(r.stats.fullScorings).toBe(48);
  });

  it('at D/8 single-shot and greedy fail while AMP decodes everything', async () => {
    const { problem, truth } = await superposition(1024, 128, 1000, 2);
    const single = await decode(problem, 'single');
    const greedy = await decode(problem, 'greedy');
    const amp = await decode(problem, 'iterative');
    expect(accuracy(single.indices, truth)).toBeLessThan(0.6);
    expect(accuracy(greedy.indices, truth)).toBeLessThan(0.6);
    expect(accuracy(amp.indices, truth)).toBeGreaterThanOrEqual(0.99);
    expect(amp.stats.decoder).toBe('amp');
    // its first pass is exactly the single-shot decode
    expect(Array.from(amp.singleShot!)).toEqual(Array.from(single.indices));
    // shortlists keep the cost near one single-shot pass
    expect(amp.stats.fullScorings).toBeLessThan(2 * 128);
  });

  it('the Onsager term matters: without it the same message passing stalls at D/8', async () => {
    const { problem, truth } = await superposition(1024, 128, 1000, 3);
    const amp = await decode(problem, 'amp');
    const sic = await decode(problem, 'amp', { noOnsager: true, maxIterations: 30 });
    expect(accuracy(amp.indices, truth)).toBeGreaterThanOrEqual(0.99);
    expect(accuracy(sic.indices, truth)).toBeLessThan(0.6);
  });

  it('ampCore drives the residual to zero on a tiny exact problem', () => {
    // two keys, three candidates each, orthogonal-ish codes of length 64
    const D = 64, rng = seededRandom(8);
    const K = randomCodebook(2, D, rng), V = randomCodebook(3, D, rng);
    const R = new Accumulator(D).addBound(TritVector.fromRow(K, 0), TritVector.fromRow(V, 2)).addBound(TritVector.fromRow(K, 1), TritVector.fromRow(V, 0)).counts;
    const out = ampCore({ R, session: jsKernels.ampSession(K, V), logTail: new Float64Array(2).fill(-Infinity), secs: Int32Array.of(0, 1), L: 3, lists: Int32Array.of(0, 1, 2, 0, 1, 2), E: new Float64Array(6).fill(D), maxIterations: 30, onsager: true });
    expect(out.p[2]).toBeGreaterThan(0.999);
    expect(out.p[3]).toBeGreaterThan(0.999);
    expect(out.tau2).toBeLessThan(1e-6);
  });

  it('rejects an unknown decoder and mismatched shapes with typed errors', async () => {
    const { problem } = await superposition(256, 4, 10, 4);
    await expect(decode(problem, 'magic' as DecoderName)).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(decode({ ...problem, sum: new Int32Array(300) }, 'single')).rejects.toMatchObject({ code: 'E_SHAPE' });
  });
});
