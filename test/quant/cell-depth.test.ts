/**
 * Sub-layer depths (issue 6): gptq with a depth per input column or per output row (grids.ts
 * CellDepths), the plan fields that carry them, and trit re-selection / QAT at those depths.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { loadWeights, saveWeights } from '../../src/io/weights-file.js';
import { cellRowBytes, mapBitsPerEntry, packCellTrytes, packDepthMap, unpackCellTrytes, unpackDepthMap } from '../../src/tensor/cell-trytes.js';
import { gptqSaliency, outputError, quantizeGptq } from '../../src/quant/gptq.js';
import { validatePlan, resolvePlan } from '../../src/quant/plan.js';
import { quantizeLayer } from '../../src/quant/quantize-model.js';
import { balancedDigits, tryteMax, type MultiTritTensor } from '../../src/tensor/multi-trit-tensor.js';
import { TritTunedWeight } from '../../src/train/trit-linear.js';
import { Tape } from '../../src/train/tape.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { correlatedHessian } from '../helpers/hessian.js';

/** H = E[x xᵀ] for correlated inputs whose column c is (1 + c mod 7) times as active. */
const hessian = (cols: number, n: number, seed: number) => correlatedHessian(cols, n, seed, { k: 8, period: 7, noise: 0.1 });

const mean = (H: Float64Array, n: number) => Array.from({ length: n }, (_, i) => H[i * n + i]!).reduce((x, y) => x + y, 0) / n;

const rows = 16,
  cols = 64;
const w = randomFloats(rows * cols, 3, 0.05);
const H = hessian(cols, 300, 9);
const rel = (m: MultiTritTensor) => outputError(w, m.toDense(), rows, cols, H) / outputError(w, null, rows, cols, H);

describe('gptq with per-column and per-row depths', () => {
  it('a column of depth d uses only its top d planes (codes are multiples of 3^(D−d) within the d-trit range)', () => {
    const cd = Uint8Array.from({ length: cols }, (_, c) => [1, 2, 3, 0][c % 4]!);
    const g = quantizeGptq(w, rows, cols, 3, H, { groupSize: 32, actOrder: true, refine: 2, columnDepths: cd });
    expect(g.tensor.columnDepths).toEqual(cd);
    const n = g.tensor.toIntegers();
    let nonzero = [0, 0, 0, 0];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const d = cd[c]!;
        const v = n[r * cols + c]!;
        const digits = balancedDigits(v, 3);
        for (let k = 0; k < 3 - d; k++) expect(digits[k], `r${r} c${c} plane ${k}`).toBe(0);
        expect(Math.abs(v)).toBeLessThanOrEqual(tryteMax(d) * 3 ** (3 - d));
        if (v !== 0) nonzero[d]!++;
      }
    }
    expect(nonzero[0]).toBe(0);
    for (const d of [1, 2, 3]) expect(nonzero[d]).toBeGreaterThan(0);
  });

  it('every column at the full depth is exactly plain gptq; the error lies between the uniform depths', () => {
    const full = quantizeGptq(w, rows, cols, 2, H, { groupSize: 32, actOrder: true, columnDepths: new Uint8Array(cols).fill(2) });
    const plain = quantizeGptq(w, rows, cols, 2, H, { groupSize: 32, actOrder: true });
    expect(Array.from(full.tensor.toIntegers())).toEqual(Array.from(plain.tensor.toIntegers()));
    const one = quantizeGptq(w, rows, cols, 1, H, { groupSize: 32, actOrder: true }).relOutputError;
    const mixed = quantizeGptq(w, rows, cols, 2, H, { groupSize: 32, actOrder: true, columnDepths: Uint8Array.from({ length: cols }, (_, c) => 1 + (c % 2)) }).relOutputError;
    expect(mixed).toBeLessThan(one);
    expect(mixed).toBeGreaterThan(plain.relOutputError);
  });

  it('the same trits on the columns of largest gptq saliency 1/U_qq² beat them on the smallest, whatever H_qq says', () => {
    const sal = gptqSaliency(H, cols, { actOrder: true });
    const by = (score: (c: number) => number) => Array.from({ length: cols }, (_, c) => c).sort((a, b) => score(b) - score(a));
    const err = (order: number[], top: boolean) => {
      const cd = new Uint8Array(cols).fill(1);
      for (let i = 0; i < cols / 4; i++) cd[order[top ? i : cols - 1 - i]!] = 2;
      return quantizeGptq(w, rows, cols, 2, H, { groupSize: 32, actOrder: true, columnDepths: cd }).relOutputError;
    };
    const s = by((c) => sal[c]!);
    expect(err(s, true)).toBeLessThan(0.8 * err(s, false));
    // with act-order the most active columns go first and the rest absorb their error, so H_qq alone points the wrong way here
    const a = by((c) => H[c * cols + c]!);
    expect(err(s, true)).toBeLessThan(err(a, true));
    // the last column in pass order keeps its whole H_qq
    const last = a[cols - 1]!;
    expect(sal[last]).toBeGreaterThan(0.9 * (H[last * cols + last]! + 0.01 * mean(H, cols)));
  });

  it('a row of depth d keeps its integers within ±(3^d−1)/2 and deeper rows have smaller errors', () => {
    const rd = Uint8Array.from({ length: rows }, (_, r) => 1 + (r % 3));
    const g = quantizeGptq(w, rows, cols, 3, H, { groupSize: 32, rowDepths: rd });
    expect(g.tensor.rowDepths).toEqual(rd);
    const n = g.tensor.toIntegers();
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(Math.abs(n[r * cols + c]!)).toBeLessThanOrEqual(tryteMax(rd[r]!));
    const uniform = (d: number) => quantizeGptq(w, rows, cols, d, H, { groupSize: 32 }).tensor.toIntegers();
    // rows are independent in gptq: a row of depth d is the row of uniform depth d
    for (const d of [1, 2, 3]) {
      const u = uniform(d);
      const r = d - 1; // rows 0, 1, 2 have depths 1, 2, 3
      expect(Array.from(n.subarray(r * cols, (r + 1) * cols))).toEqual(Array.from(u.subarray(r * cols, (r + 1) * cols)));
    }
    expect(g.relOutputError).toBeLessThan(quantizeGptq(w, rows, cols, 1, H, { groupSize: 32 }).relOutputError);
  });

  it('bad maps are typed errors', () => {
    expect(() => quantizeGptq(w, rows, cols, 2, H, { columnDepths: new Uint8Array(cols - 1).fill(1) })).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(() => quantizeGptq(w, rows, cols, 2, H, { columnDepths: new Uint8Array(cols).fill(3) })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => quantizeGptq(w, rows, cols, 2, H, { rowDepths: new Uint8Array(rows).fill(0) })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => quantizeGptq(w, rows, cols, 2, H, { columnDepths: new Uint8Array(cols).fill(1), rowDepths: new Uint8Array(rows).fill(1) })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => quantizeGptq(w, rows, cols, 2, H, { grid: 'residual', columnDepths: new Uint8Array(cols).fill(1) })).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
    // a plan rule with a map and another quantizer is refused, not silently ignored
    const rule = { name: 'x', dense: false, quantizer: 'rtn', groupSize: 0, activation: 'f32' as const, depth: 2, columnDepths: '1'.repeat(cols) };
    expect(() => quantizeLayer(rule, w, rows, cols)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
  });
});

describe('plans with column or row depths', () => {
  it('validate and resolve; a later depth-only rule drops the map', () => {
    const plan = { quantizer: 'gptq', layers: [{ match: 'a', depth: 2, columnDepths: '1212' }, { match: 'b', depth: 3, rowDepths: '123' }, { match: 'b', depth: 2 }] };
    expect(validatePlan(plan)).toBe(plan);
    const [ra, rb] = resolvePlan(plan, ['a', 'b']);
    expect(ra!.columnDepths).toBe('1212');
    expect(rb!.rowDepths).toBeUndefined();
    for (const bad of [{ match: 'a', depth: 1, columnDepths: '12' }, { match: 'a', columnDepths: '1' }, { match: 'a', depth: 2, columnDepths: '1x' }, { match: 'a', depth: 2, columnDepths: '1', rowDepths: '1' }]) {
      expect(() => validatePlan({ layers: [bad] })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    }
  });
});

describe('trit re-selection at column depths', () => {
  it('starts at gptq integers, moves latents in the cell steps, and exports the same depth map', () => {
    const cd = Uint8Array.from({ length: cols }, (_, c) => 1 + (c % 3));
    const g = quantizeGptq(w, rows, cols, 3, H, { groupSize: 32, actOrder: true, columnDepths: cd });
    const t = new TritTunedWeight(g.tensor, 'x', Float64Array, w);
    expect(Array.from(t.integers())).toEqual(Array.from(g.tensor.toIntegers()));
    // push every latent by +0.7 of its cell's step: each integer moves by one cell step (3^(3−d)) or stays at the bound
    const u = t.u.data;
    for (let i = 0; i < u.length; i++) u[i] = Math.round(u[i]!) + 0.7 * Math.sign(0.5 - (i % 2));
    const n = t.integers();
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const k = 3 ** (3 - cd[c]!);
        expect(Math.abs(n[r * cols + c]! % k)).toBe(0);
        expect(Math.abs(n[r * cols + c]!)).toBeLessThanOrEqual(tryteMax(cd[c]!) * k);
      }
    }
    // the straight-through gradient carries the cell's step k·s₀ (column 0: depth 1, k = 9)
    const tape = new Tape(true);
    const y = t.forward(tape);
    const seed = Float64Array.from(randomFloats(y.size, 5));
    tape.backward(y, seed);
    const s0 = g.tensor.planes[0]!.scaleAt(0, 0);
    expect(Math.abs(t.u.data[0]!)).toBeLessThanOrEqual(1.5);
    expect(t.u.grad![0]).toBeCloseTo(seed[0]! * 9 * s0, 10);
    expect(t.u.grad![2]).toBeCloseTo(seed[2]! * s0, 10);
    const e = t.export() as MultiTritTensor;
    expect(e.columnDepths).toEqual(cd);
    expect(Array.from(e.toIntegers())).toEqual(Array.from(n));
  });
});

describe('storage of column and row depths (format tryte-cells)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tritwise-cells-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cd = Uint8Array.from({ length: cols }, (_, c) => [1, 2, 3, 0, 2][c % 5]!);
  const rd = Uint8Array.from({ length: rows }, (_, r) => 1 + (r % 3));
  const byCol = quantizeGptq(w, rows, cols, 3, H, { groupSize: 32, actOrder: true, columnDepths: cd }).tensor;
  const byRow = quantizeGptq(w, rows, cols, 3, H, { rowDepths: rd }).tensor;

  it('packs only the kept trits (1.6 bits each, rows padded to bytes) and unpacks bit for bit', () => {
    for (const m of [byCol, byRow]) {
      const p = packCellTrytes(m);
      const map = (m.columnDepths ?? m.rowDepths)!;
      const trits = m.columnDepths ? rows * cd.reduce((a, b) => a + b, 0) : cols * rd.reduce((a, b) => a + b, 0);
      expect(p.data.length).toBe(cellRowBytes(rows, cols, map, !!m.columnDepths).reduce((a, b) => a + b, 0));
      expect(p.data.length).toBeLessThan(Math.ceil(trits / 5) + rows);
      expect(p.data.length).toBeLessThan(rows * Math.ceil((cols * 3) / 5)); // fewer bytes than the 3-trit tryte
      const u = unpackCellTrytes(p);
      expect(u.equals(m)).toBe(true);
      expect(Array.from(u.toIntegers())).toEqual(Array.from(m.toIntegers()));
      expect(u.columnDepths ?? u.rowDepths).toEqual(map);
    }
  });

  it('depth maps pack at ⌈log2(D + 1)⌉ bits per entry and unpack exactly; padding bits must be zero', () => {
    expect([1, 2, 3, 4, 6].map(mapBitsPerEntry)).toEqual([1, 2, 2, 3, 3]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 70 }), (D, xs) => {
        const map = Uint8Array.from(xs, (x) => x % (D + 1));
        const p = packDepthMap(map, D);
        expect(p.length).toBe(Math.ceil((map.length * mapBitsPerEntry(D)) / 8));
        expect(unpackDepthMap(p, map.length, D)).toEqual(map);
      }),
    );
    const p = packDepthMap(Uint8Array.of(1, 2, 3), 3); // 6 bits used of 8
    p[0]! |= 0x80;
    expect(() => unpackDepthMap(p, 3, 3)).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(() => unpackDepthMap(new Uint8Array(2), 3, 3)).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });

  it('saves and loads through the weights file', () => {
    const path = join(dir, 'w.safetensors');
    saveWeights(path, { a: byCol, b: byRow });
    const back = loadWeights(path).tensors;
    const a = back.get('a') as MultiTritTensor;
    const b = back.get('b') as MultiTritTensor;
    expect(a.equals(byCol)).toBe(true);
    expect(b.equals(byRow)).toBe(true);
    expect(a.columnDepths).toEqual(cd);
    expect(b.rowDepths).toEqual(rd);
    expect(a.quantizer).toBe('gptq');
  });

  it('corrupt data is a typed error: bad byte, non-zero padding, a map that does not fit', () => {
    const p = packCellTrytes(byCol);
    const bad = (patch: (q: typeof p) => void) => {
      const q = { ...p, data: p.data.slice(), cellDepths: p.cellDepths.slice() };
      patch(q);
      return () => unpackCellTrytes(q);
    };
    expect(bad((q) => (q.data[0] = 250))).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    const rb = cellRowBytes(rows, cols, cd, true)[0]!;
    const padded = rows * cd.reduce((x, y) => x + y, 0) > 0 && (cd.reduce((x, y) => x + y, 0) % 5) !== 0;
    expect(padded).toBe(true);
    expect(bad((q) => (q.data[rb - 1] = 242))).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(bad((q) => (q.cellDepths[0] = 4))).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    expect(bad((q) => { q.cellDepths[3] = 3; q.cellDepths[8] = 3; })).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
    expect(bad((q) => (q.cellDepths = q.cellDepths.subarray(1)))).toThrow(expect.objectContaining({ code: 'E_SHAPE' }));
  });

  it('any corrupted byte of a saved file loads or fails with a TritwiseError, never anything else', () => {
    const path = join(dir, 'fuzz.safetensors');
    saveWeights(path, { a: byCol });
    const good = readFileSync(path);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const buf = Buffer.from(good);
        buf[i] = v;
        const p = join(dir, 'f.safetensors');
        writeFileSync(p, buf);
        try {
          const t = loadWeights(p).tensors.get('a');
          if (t instanceof Object && 'columnDepths' in t) expect((t as MultiTritTensor).rows).toBe(rows);
        } catch (e) {
          expect(e).toBeInstanceOf(TritwiseError);
        }
      }),
      { numRuns: 200 },
    );
  });
});
