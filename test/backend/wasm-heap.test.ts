/**
 * The wasm backend's heap: 64-byte alignment (by Math.ceil, not `& ~63`), no overlapping blocks
 * under random alloc/free sequences, coalescing, growth, and a typed error when memory runs out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { HEAP_BASE, Heap, Scratch, align64 } from '../../src/backend/wasm/heap.js';
import { CSR_X, CSR_X_BYTES } from '../../src/backend/wasm/layouts.js';

/** [start, end) of every active data segment (i32.const offset) in a wasm binary. */
function dataSegments(bin: Uint8Array): [number, number][] {
  let p = 8;
  const leb = (): number => {
    let v = 0, shift = 0, b: number;
    do {
      b = bin[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  const out: [number, number][] = [];
  while (p < bin.length) {
    const id = bin[p++]!, size = leb(), end = p + size;
    if (id === 11) {
      for (let n = leb(); n > 0; n--) {
        const kind = leb();
        if (kind === 1) { const len = leb(); p += len; continue; } // passive
        if (kind === 2) leb(); // memory index
        expect(bin[p++], 'data offset is an i32.const').toBe(0x41);
        let off = 0, shift = 0, b: number;
        do {
          b = bin[p++]!;
          off |= (b & 0x7f) << shift;
          shift += 7;
        } while (b & 0x80);
        expect(bin[p++]).toBe(0x0b); // end
        const len = leb();
        out.push([off, off + len]);
        p += len;
      }
    }
    p = end;
  }
  return out;
}

describe('wasm heap', () => {
  it("the kernels' static data ends below the padded CSR staging area, which ends at the heap", () => {
    expect(CSR_X + CSR_X_BYTES).toBe(HEAP_BASE);
    for (const f of ['simd.wasm', 'relaxed.wasm']) {
      const segs = dataSegments(new Uint8Array(readFileSync(new URL(`../../dist/kernels/${f}`, import.meta.url))));
      expect(segs.length, f).toBeGreaterThan(0);
      for (const [, end] of segs) expect(end, f).toBeLessThanOrEqual(CSR_X);
    }
  });

  it('align64 rounds up with Math.ceil, also past 2 GiB', () => {
    expect(align64(0)).toBe(0);
    expect(align64(1)).toBe(64);
    expect(align64(64)).toBe(64);
    expect(align64(2 ** 31 + 1)).toBe(2 ** 31 + 64); // `& ~63` would give a negative number here
    expect(align64(2 ** 32 - 100)).toBe(2 ** 32 - 64);
  });

  it('random alloc/free sequences never overlap, stay aligned, and free space is reused', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 300_000 })), { minLength: 1, maxLength: 60 }), (ops) => {
        const heap = new Heap(1024);
        const live = new Map<number, number>();
        for (const [doAlloc, n] of ops) {
          if (doAlloc || live.size === 0) {
            const p = heap.alloc(n);
            expect(p % 64).toBe(0);
            expect(p).toBeGreaterThanOrEqual(HEAP_BASE);
            expect(p + n).toBeLessThanOrEqual(heap.bytes);
            for (const [q, m] of live) expect(p + n <= q || q + m <= p, `[${p}, ${p + n}) overlaps [${q}, ${q + m})`).toBe(true);
            live.set(p, n);
          } else {
            const [q] = [...live.keys()].slice(n % live.size);
            heap.free(q!);
            live.delete(q!);
          }
        }
        expect(heap.used).toBe([...live.values()].reduce((a, n) => a + align64(n), 0));
        for (const p of [...live.keys()]) heap.free(p);
        expect(heap.used).toBe(0);
        // everything coalesced back: the first block starts at the base again
        expect(heap.alloc(10)).toBe(HEAP_BASE);
      }),
      { numRuns: 40 },
    );
  });

  it('grows the memory on demand and reports exhaustion as E_BACKEND', () => {
    const heap = new Heap(64); // 4 MiB at most
    const before = heap.bytes;
    const p = heap.alloc(3 << 20);
    expect(heap.bytes).toBeGreaterThan(before);
    heap.u8.fill(7, p, p + (3 << 20)); // the refreshed views cover the grown memory
    expect(() => heap.alloc(2 << 20, 'test block')).toThrow(expect.objectContaining({ code: 'E_BACKEND', message: expect.stringMatching(/test block/) }));
  });

  it('a scratch buffer reallocates only when it must grow', () => {
    const heap = new Heap(256);
    const s = new Scratch(heap, 'scratch');
    const a = s.ensure(1000);
    expect(s.ensure(1000)).toBe(a);
    expect(s.ensure(10)).toBe(a);
    s.ensure(100_000);
    expect(s.size).toBeGreaterThanOrEqual(100_000);
    s.release();
    expect(heap.used).toBe(0);
  });
});
