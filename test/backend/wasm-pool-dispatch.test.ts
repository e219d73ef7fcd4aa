/**
 * The wasm worker pool's dispatch: guided chunk schedules cover every row exactly once with
 * shrinking chunks; idle workers poll for `spinUs` and then sleep (bounded: an idle pool burns no
 * CPU); a job started while workers poll needs no wake-up; and no wake-up is ever lost when jobs
 * come at any gap around the poll time (with the calling thread kept out of the job, a lost
 * wake-up would hang the job and fail the test by timeout).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend } from '../../src/backend/registry.js';
import { DEFAULT_SPIN_US } from '../../src/backend/wasm/pool.js';
import { ARGS, CDONE, CHUNKS, CONTROL_BYTES, CUR, FN, GUIDE, KIND, MAX_ARGS, MAX_SCHEDULE, MAX_WORKERS, MIN_SHARE, MSG, NARGS, NEXT, ROWS, SEQ, SLEEP, SPIN_US, START, STATUS, writeSchedule } from '../../src/backend/wasm/protocol.js';
import { WasmBackend } from '../../src/backend/wasm/wasm-backend.js';
import { quantizeInt8PerToken } from '../../src/quant/activation-quantizers.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { naiveIntAcc } from './conformance.js';

function chunks(rows: number, threads: number): number[] {
  const ctl = new Int32Array(CONTROL_BYTES / 4);
  const n = writeSchedule(ctl, rows, threads);
  expect(ctl[START]).toBe(0);
  expect(ctl[START + n]).toBe(rows);
  return Array.from({ length: n }, (_, c) => ctl[START + c + 1]! - ctl[START + c]!);
}

describe('control block layout', () => {
  it('SEQ, the job fields, NEXT and CDONE sit on four different 64-byte lines, and no two fields or regions overlap', () => {
    const line = (i: number) => (i * 4) >> 6;
    const job = [KIND, FN, NARGS, ROWS, CHUNKS, SPIN_US];
    expect(new Set([line(SEQ), line(job[0]!), line(NEXT), line(CDONE)]).size).toBe(4);
    for (const f of job) expect(line(f)).toBe(line(KIND));
    // regions [start, end) in Int32 slots, in order and disjoint, inside the block
    const regions: [number, number][] = [[SEQ, SEQ + 1], [KIND, SPIN_US + 1], [NEXT, NEXT + 1], [CDONE, CDONE + 1], [ARGS, ARGS + MAX_ARGS], [STATUS, STATUS + MAX_WORKERS], [CUR, CUR + MAX_WORKERS], [SLEEP, SLEEP + MAX_WORKERS], [START, START + MAX_SCHEDULE + 1]];
    for (let i = 1; i < regions.length; i++) expect(regions[i]![0]).toBeGreaterThanOrEqual(regions[i - 1]![1]);
    expect(MSG / 4).toBeGreaterThanOrEqual(regions[regions.length - 1]![1]);
    expect(CONTROL_BYTES).toBeGreaterThan(MSG);
  });
});

describe('guided chunk schedule', () => {
  it('covers [0, rows) with non-empty, non-increasing chunks, short at the end, within the table', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300_000 }), fc.integer({ min: 1, max: 255 }), (rows, threads) => {
        const s = chunks(rows, threads);
        expect(s.reduce((a, b) => a + b, 0)).toBe(rows);
        expect(s.length).toBeLessThanOrEqual(MAX_SCHEDULE);
        expect(s.every((x, i) => x > 0 && (i === 0 || x <= s[i - 1]!)), `sizes ${s.join(',')}`).toBe(true);
        const min = Math.max(1, Math.ceil(rows / (MIN_SHARE * threads)), Math.ceil(rows / (MAX_SCHEDULE / 2)));
        expect(s[s.length - 1]).toBeLessThanOrEqual(min);
        expect(s[0]).toBeLessThanOrEqual(Math.max(min, Math.ceil(rows / (GUIDE * threads))));
      }),
      { numRuns: 300 },
    );
  });

  it('the lut kernel at 2 threads: long first chunks (a quarter of the job), a tail of 1/32', () => {
    // 256 row-block pairs (the 0.7B gate/up stack): 11 chunks, the first a quarter, the last ones 8
    expect(chunks(256, 2)).toEqual([64, 48, 36, 27, 21, 15, 12, 9, 8, 8, 8]);
    // 48 pairs (wo, w2: 1536 rows): 10 chunks of at least 2 pairs, not 19 down to 1 pair — each
    // thread streams long runs of every column group from memory
    expect(chunks(48, 2)).toEqual([12, 9, 7, 5, 4, 3, 2, 2, 2, 2]);
    expect(chunks(1, 2)).toEqual([1]);
    expect(chunks(5, 1)).toEqual([3, 1, 1]);
  });
});

const rows = 64,
  cols = 96;
const t = quantize(randomFloats(rows * cols, 14), rows, cols, 'twn').tensor;
const q = quantizeInt8PerToken(randomFloats(cols, 15), 1, cols).q;
const want = Array.from(naiveIntAcc(t, q, 1));

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

describe('worker polling and sleeping', () => {
  let be: WasmBackend;
  beforeAll(async () => {
    be = await WasmBackend.create({ threads: 2, parallelMinWork: 0 });
  });
  afterAll(async () => {
    await be?.dispose();
  });

  it('defaults to a bounded poll and takes spinUs from the options', async () => {
    expect(be.pool.spinUs).toBe(DEFAULT_SPIN_US);
    const b = await WasmBackend.create({ threads: 2, spinUs: 0 });
    expect(b.pool.spinUs).toBe(0);
    await b.dispose();
    for (const bad of [-1, 1.5, 2_000_000, Number.NaN]) {
      await expect(WasmBackend.create({ threads: 2, spinUs: bad })).rejects.toMatchObject({ code: 'E_ARG', where: 'wasm backend option spinUs' });
    }
    await expect(createBackend('wasm', { threads: 1, spinUs: -5 } as never)).rejects.toMatchObject({ code: 'E_ARG' });
    expect(() => (be.pool.spinUs = -1)).toThrow(expect.objectContaining({ code: 'E_ARG' }));
  });

  it('an idle worker sleeps once its poll time is over, and polls (awake) until then', async () => {
    const h = await be.uploadTernary(t);
    be.pool.spinUs = 2_000;
    await be.matmulI8(h, q, 1);
    expect(await until(() => be.pool.sleeping === 1, 5_000), 'the worker must go to sleep after 2 ms idle').toBe(true);
    be.pool.spinUs = 1_000_000;
    await be.matmulI8(h, q, 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(be.pool.sleeping, 'with a 1 s poll the worker is still polling 100 ms later').toBe(0);
    // the next job finds it awake: no wake-up
    const wakes = be.pool.stats.wakes;
    expect(Array.from(await be.matmulI8(h, q, 1))).toEqual(want);
    expect(be.pool.stats.wakes).toBe(wakes);
    be.pool.spinUs = DEFAULT_SPIN_US;
    be.release(h);
  });

  it('back-to-back calls within the poll time need no wake-up; calls after sleep do', async () => {
    const h = await be.uploadTernary(t);
    be.pool.spinUs = 1_000_000;
    await be.matmulI8(h, q, 1);
    const { jobs, wakes } = be.pool.stats;
    for (let i = 0; i < 50; i++) expect(Array.from(await be.matmulI8(h, q, 1))).toEqual(want);
    expect(be.pool.stats.jobs - jobs).toBe(50);
    expect(be.pool.stats.wakes - wakes).toBe(0);
    be.pool.spinUs = 0;
    const w0 = be.pool.stats.wakes;
    for (let i = 0; i < 3; i++) {
      expect(await until(() => be.pool.sleeping === 1, 5_000)).toBe(true);
      expect(Array.from(await be.matmulI8(h, q, 1))).toEqual(want);
    }
    expect(be.pool.stats.wakes - w0).toBe(3);
    be.pool.spinUs = DEFAULT_SPIN_US;
    be.release(h);
  });

  it('no wake-up is lost at any gap around the poll time (the workers alone run every job)', async () => {
    const h = await be.uploadTernary(t);
    be.pool.hostParticipates = false;
    try {
      for (const spin of [0, 20, 200]) {
        be.pool.spinUs = spin;
        for (let i = 0; i < 60; i++) {
          const gapUs = (i * 37) % 400; // 0 … 400 µs, around and past the poll time
          const end = performance.now() + gapUs / 1000;
          while (performance.now() < end);
          if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
          expect(Array.from(await be.matmulI8(h, q, 1)), `spin ${spin} job ${i}`).toEqual(want);
        }
      }
    } finally {
      be.pool.hostParticipates = true;
      be.pool.spinUs = DEFAULT_SPIN_US;
    }
    be.release(h);
  }, 60_000);

  it('dispose() ends polling workers promptly', async () => {
    const b = await WasmBackend.create({ threads: 3, parallelMinWork: 0, spinUs: 1_000_000 });
    const h = await b.uploadTernary(t);
    expect(Array.from(await b.matmulI8(h, q, 1))).toEqual(want);
    const t0 = performance.now();
    await b.dispose();
    // workers that did not exit by themselves would be terminated after 2 s
    expect(performance.now() - t0).toBeLessThan(1_900);
    expect(b.pool.alive).toBe(0);
  });
});
