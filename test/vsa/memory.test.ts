import { describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/backend.js';
import { createBackend } from '../../src/backend/registry.js';
import { TritwiseError } from '../../src/errors.js';
import { TernaryTensor } from '../../src/tensor/ternary-tensor.js';
import { TritVector } from '../../src/tensor/trit-vector.js';
import { Accumulator } from '../../src/vsa/accumulator.js';
import { randomCodebook, randomHypervector } from '../../src/vsa/hypervector.js';
import { ItemMemory } from '../../src/vsa/item-memory.js';
import { bind, dot, permute, similarity } from '../../src/vsa/ops.js';
import { RecordCodec, field, record } from '../../src/vsa/record.js';
import { bindSequence, sequence, sequenceItem } from '../../src/vsa/sequence.js';
import { StructureMemory } from '../../src/vsa/structure.js';

/** A backend wrapper that counts matmulTernary calls (to check "one GEMV per batch"). */
async function countingBackend(): Promise<{ backend: Backend; calls: () => number }> {
  const inner = await createBackend('ref');
  let n = 0;
  const backend: Backend = Object.assign(Object.create(Object.getPrototypeOf(inner)), inner, {
    matmulTernary: (w: Parameters<Backend['matmulTernary']>[0], x: TernaryTensor, out?: Int32Array) => {
      n++;
      return inner.matmulTernary(w, x, out);
    },
  });
  return { backend, calls: () => n };
}

describe('ItemMemory (cleanup memory)', () => {
  it('scores a batch of trit queries in one backend GEMV, equal to the popcount dots', async () => {
    const { backend, calls } = await countingBackend();
    const mem = await ItemMemory.fromCodebook(randomCodebook(50, 500, 1), undefined, { backend });
    const qs = Array.from({ length: 7 }, (_, i) => randomHypervector(500, 100 + i, { density: 0.3 }));
    const before = calls();
    const t = TernaryTensor.zeros(7, 500);
    qs.forEach((q, b) => {
      t.plus.set(q.plus, b * t.wordsPerRow);
      t.minus.set(q.minus, b * t.wordsPerRow);
    });
    const s = await mem.scoreTrits(t);
    expect(calls() - before).toBe(1);
    for (let b = 0; b < 7; b++) for (let m = 0; m < 50; m++) expect(s[b * 50 + m]).toBe(dot(qs[b]!, mem.vector(m)));
  });

  it('integer queries (digit planes) score exactly, also in one backend call', async () => {
    const { backend, calls } = await countingBackend();
    const mem = await ItemMemory.fromCodebook(randomCodebook(30, 200, 2), undefined, { backend });
    const qs = Array.from({ length: 4 }, (_, b) => Int32Array.from({ length: 200 }, (_, d) => ((d * 7919 + b * 104729) % 2001) - 1000));
    const before = calls();
    const s = await mem.scoreInts(qs);
    expect(calls() - before).toBe(1);
    for (let b = 0; b < 4; b++) {
      for (let m = 0; m < 30; m++) {
        const v = mem.vector(m);
        let want = 0;
        for (let d = 0; d < 200; d++) want += qs[b]![d]! * v.at(d);
        expect(s[b * 30 + m]).toBe(want);
      }
    }
  });

  it('cleanup returns the nearest item with its dot and cosine, from noisy trit or integer queries', async () => {
    const mem = await ItemMemory.create(2048);
    for (const n of ['red', 'green', 'blue', 'cyan']) mem.symbol(n);
    const noisy = mem.vector('green');
    for (let d = 0; d < 600; d++) noisy.setAt(d * 3, 0); // knock out 600 trits
    const r = await mem.cleanup(noisy);
    expect(r).toMatchObject({ name: 'green', index: 1, similarity: 2048 - 600 });
    expect(r.cosine).toBeCloseTo(similarity(noisy, mem.vector('green')).cosine, 12);
    const acc = new Accumulator(2048).add(mem.vector('blue'), 3).add(mem.vector('red')).add(mem.vector('cyan'));
    expect((await mem.cleanup(acc)).name).toBe('blue');
    const top = await mem.topK(acc, 3);
    expect(top.length).toBe(3);
    expect(top[0]!.name).toBe('blue');
    expect(top.slice(1).map((t) => t.name).sort()).toEqual(['cyan', 'red']);
    expect(top[0]!.similarity).toBeGreaterThan(top[1]!.similarity);
  });

  it('grows, keeps names unique, and rejects bad use with typed errors', async () => {
    const mem = await ItemMemory.create(128, { seed: 4 });
    for (let i = 0; i < 40; i++) mem.symbol(`s${i}`);
    expect(mem.size).toBe(40);
    expect(mem.vector('s39').equals(mem.symbol('s39'))).toBe(true);
    expect((await mem.cleanup(mem.vector(33))).name).toBe('s33');
    await expect(ItemMemory.create(128).then((m) => m.cleanup(randomHypervector(128, 1)))).rejects.toMatchObject({ code: 'E_ARG' });
    expect(() => mem.add('s1', randomHypervector(128, 1))).toThrow(TritwiseError);
    expect(() => mem.add('x', randomHypervector(256, 1))).toThrow(/dimension/);
    expect(() => mem.indexOf('nope')).toThrow(/unknown item/);
    await expect(ItemMemory.create(128, { backend: 'nope' })).rejects.toMatchObject({ code: 'E_ARG' });
  });
});

describe('records and sequences', () => {
  it('record = bundle(bind(role, filler)); each field unbinds to its filler', async () => {
    const D = 2048;
    const roles = await ItemMemory.create(D, { seed: 1 });
    const fillers = await ItemMemory.create(D, { seed: 2 });
    for (let i = 0; i < 100; i++) fillers.symbol(`f${i}`);
    const codec = new RecordCodec(roles, fillers);
    const obj = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`r${i}`, `f${(i * 37) % 100}`]));
    const rec = codec.encode(obj);
    expect(await codec.decode(rec, Object.keys(obj))).toEqual(obj);
    expect((await codec.get(rec, 'r3')).name).toBe('f11');
    // roles are made once and kept
    expect(roles.size).toBe(25);
    codec.encode({ r0: 'f1' });
    expect(roles.size).toBe(25);
    // the functional form agrees
    const r = record([roles.vector('r0'), roles.vector('r1')], [fillers.vector('f0'), fillers.vector('f1')]);
    expect(similarity(field(r, roles.vector('r1')), fillers.vector('f1')).cosine).toBeGreaterThan(0.4);
  });

  it('sequences by permutation: item i is recovered by shifting back i', async () => {
    const D = 1024;
    const mem = await ItemMemory.create(D, { seed: 3 });
    const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
    for (const l of letters) mem.symbol(l);
    const word = 'hologram'.split('');
    const seq = sequence(word.map((l) => mem.vector(l)));
    const got = await mem.cleanupBatch(word.map((_, i) => sequenceItem(seq, i)));
    expect(got.map((g) => g.name).join('')).toBe('hologram');
    // order matters
    const rev = sequence([...word].reverse().map((l) => mem.vector(l)));
    expect(Math.abs(similarity(seq, rev).cosine)).toBeLessThan(0.2);
    // n-gram = Π ρ^i(x_i)
    const [a, b, c] = ['a', 'b', 'c'].map((l) => mem.vector(l)) as [TritVector, TritVector, TritVector];
    expect(bindSequence([a, b, c]).equals(bind(bind(a, permute(b, 1)), permute(c, 2)))).toBe(true);
  });

  it('nested structures 3 levels deep (records of records of sequences): every level is queryable', async () => {
    const sm = await StructureMemory.create(4096, { seed: 11 });
    const people = {
      alice: { address: { street: ['12', 'main', 'st'], city: 'paris' }, pets: ['cat', 'fish'], job: 'pilot' },
      bob: { address: { street: ['3', 'elm', 'rd'], city: 'oslo' }, pets: ['dog'], job: 'chef' },
      carol: { address: { street: ['7', 'main', 'ave'], city: 'lima' }, pets: ['cat', 'dog', 'owl'], job: 'judge' },
    };
    const v = sm.encode(people);
    // level 1: a record
    expect((await sm.query(v, ['bob'])).kind).toBe('record');
    // level 2: a record inside it; level 3: a sequence inside that; leaf: an atom
    expect((await sm.query(v, ['carol', 'address'])).kind).toBe('record');
    const street = await sm.query(v, ['carol', 'address', 'street']);
    expect(street.kind).toBe('sequence');
    expect(street.steps.map((s) => s.step)).toEqual(['carol', 'address', 'street']);
    expect((await sm.query(v, ['carol', 'address', 'street', 1])).atom).toBe('main');
    expect((await sm.query(v, ['alice', 'address', 'street', 2])).atom).toBe('st');
    expect((await sm.query(v, ['bob', 'address', 'city'])).atom).toBe('oslo');
    expect((await sm.query(v, ['carol', 'pets', 2])).atom).toBe('owl');
    // the clean vector at a level is the stored sub-structure itself
    expect(street.vector.equals(sm.encode(['7', 'main', 'ave']))).toBe(true);
    // and the whole value decodes back by querying every field
    expect(await sm.decode(v)).toEqual(people);
    await expect(sm.query(v, ['bob', 'job', 0])).rejects.toMatchObject({ code: 'E_ARG' });
    expect(() => sm.encode([])).toThrow(TritwiseError);
  });
});
