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
import { DEFAULT_SPIN_US, SKIP_PROBE, wakesSleeper } from '../../src/backend/wasm/pool.js';
import { ARGS, CDONE, CHUNKS, CONTROL_BYTES, CUR, ENDS, ENDS_GUIDE, ENDS_MIN_SHARE, FN, GUIDE, KIND, MAX_ARGS, MAX_ENDS_CHUNKS, MAX_SCHEDULE, MAX_WORKERS, MIN_SHARE, MSG, NARGS, NEXT, ROWS, SEQ, SLEEP, SPIN_US, START, STATUS, claimEnd, tagEnds, writeSchedule, writeScheduleEnds } from '../../src/backend/wasm/protocol.js';
import { padSparseLists } from '../../src/backend/wasm/layouts.js';
import { randomTernaryTensor } from '../../src/nn/random-model.js';
import { gemmTernaryF32 } from '../../src/backend/ref/kernels.js';
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
    const job = [KIND, FN, NARGS, ROWS, CHUNKS, SPIN_US, ENDS];
    expect(new Set([line(SEQ), line(job[0]!), line(NEXT), line(CDONE)]).size).toBe(4);
    for (const f of job) expect(line(f)).toBe(line(KIND));
    // regions [start, end) in Int32 slots, in order and disjoint, inside the block
    const regions: [number, number][] = [[SEQ, SEQ + 1], [KIND, ENDS + 1], [NEXT, NEXT + 1], [CDONE, CDONE + 1], [ARGS, ARGS + MAX_ARGS], [STATUS, STATUS + MAX_WORKERS], [CUR, CUR + MAX_WORKERS], [SLEEP, SLEEP + MAX_WORKERS], [START, START + MAX_SCHEDULE + 1]];
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

describe('two-ended chunk schedule', () => {
  const ends = (rows: number) => {
    const ctl = new Int32Array(CONTROL_BYTES / 4);
    const n = writeScheduleEnds(ctl, rows);
    expect(ctl[START]).toBe(0);
    expect(ctl[START + n]).toBe(rows);
    return { ctl, n, s: Array.from({ length: n }, (_, c) => ctl[START + c + 1]! - ctl[START + c]!) };
  };

  it('covers [0, rows) with chunks long at both ends and short in the middle, within the counters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 300_000 }), (rows) => {
        const { s } = ends(rows);
        expect(s.reduce((a, b) => a + b, 0)).toBe(rows);
        expect(s.length).toBeLessThanOrEqual(MAX_ENDS_CHUNKS);
        expect(s.every((x) => x > 0)).toBe(true);
        const half = Math.floor(s.length / 2);
        // non-increasing towards the middle from the front, and from the back
        for (let i = 1; i < half; i++) expect(s[i]!).toBeLessThanOrEqual(s[i - 1]!);
        for (let i = s.length - 2; i >= s.length - half; i--) expect(s[i]!).toBeLessThanOrEqual(s[i + 1]!);
        expect(s[0]).toBe(s[s.length - 1]);
        expect(s[0]).toBeLessThanOrEqual(Math.max(1, Math.ceil(rows / (ENDS_GUIDE * 2)), Math.ceil(rows / (ENDS_MIN_SHARE * 2)), Math.ceil(rows / ((MAX_ENDS_CHUNKS - 1) / 2))));
      }),
      { numRuns: 300 },
    );
    expect(ends(4096).s.slice(0, 3)).toEqual([512, 384, 288]);
    expect(ends(2).s).toEqual([1, 1]);
  });

  it('front and back claims in any interleaving take every chunk exactly once, and none of another job', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5_000 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 400 }), (rows, order) => {
        const { ctl, n } = ends(rows);
        const seq = 77;
        Atomics.store(ctl, NEXT, tagEnds(seq, 0, n));
        const got: number[] = [];
        const front: number[] = [];
        const back: number[] = [];
        for (let i = 0; ; i++) {
          const b = order[i % order.length]!;
          expect(claimEnd(ctl, seq + 1, b), 'a claim for another job gets nothing').toBe(-1);
          const c = claimEnd(ctl, seq, b);
          if (c < 0) break;
          got.push(c);
          (b ? back : front).push(c);
        }
        expect(got.slice().sort((p, q) => p - q)).toEqual(Array.from({ length: n }, (_, c) => c));
        expect(front).toEqual(Array.from({ length: front.length }, (_, c) => c));
        expect(back).toEqual(Array.from({ length: back.length }, (_, c) => n - 1 - c));
        expect(claimEnd(ctl, seq, true)).toBe(-1);
        expect(claimEnd(ctl, seq, false)).toBe(-1);
      }),
      { numRuns: 200 },
    );
  });

  it('the padded CSR kernels split from both ends give the reference result, with and without the worker', async () => {
    const be = await WasmBackend.create({ threads: 2, parallelMinWork: 0, layout: 'csr' });
    try {
      for (const [r, c, z] of [
        [300, 9000, 0.95],
        [257, 100, 0.5],
        [2, 64, 0.9],
      ] as const) {
        const w = randomTernaryTensor(r, c, 31 + r, { density: 1 - z, groupSize: 0 });
        const x = Float32Array.from(randomFloats(c, 32 + r));
        const x2 = x.map((v) => 3 * v + 1);
        const want = gemmTernaryF32(w, x, 1);
        const tol = 1e-5 * x.reduce((s, v) => s + Math.abs(v), 0) * Math.max(...w.scales.map(Math.abs));
        const h = await be.uploadTernary(w);
        for (const part of [true, false]) {
          be.pool.hostParticipates = part;
          for (const e of [true, false]) {
            be.csrEnds = e;
            await be.matmulF32(h, x2, 1); // other values in the output scratch: a skipped row would keep them
            const y = await be.matmulF32(h, x, 1);
            let bad = 0;
            for (let i = 0; i < r; i++) if (!(Math.abs(y[i]! - want[i]!) <= tol)) bad++;
            expect(bad, `${r}×${c}: rows off the reference, ends ${e}, host taking part ${part}`).toBe(0);
          }
        }
        be.pool.hostParticipates = true;
        be.csrEnds = true;
        // the layout is the sorted one, so the rows the two ends take are rows of mixed lengths
        expect(padSparseLists(w, 4).perm.length).toBe(r);
        be.release(h);
      }
    } finally {
      await be.dispose();
    }
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

  it('the wake-up rule: a small job skips a worker asleep within its poll time, at most SKIP_PROBE times in a row', () => {
    expect(wakesSleeper(true, 0, 0.1, 300)).toBe(false); // small, 100 µs after the last job, 300 µs poll: descheduled
    expect(wakesSleeper(true, SKIP_PROBE - 1, 0.1, 300)).toBe(false);
    expect(wakesSleeper(true, SKIP_PROBE, 0.1, 300)).toBe(true); // the probe
    expect(wakesSleeper(false, 0, 0.1, 300)).toBe(true); // a large job
    expect(wakesSleeper(true, 0, 0.5, 300)).toBe(true); // after a pause longer than the poll time
    expect(wakesSleeper(true, 0, 0, 0)).toBe(true); // spinUs 0: workers sleep at once by design
    expect(wakesSleeper(true, 0, Infinity, 300)).toBe(true); // no job yet
  });

  it('a small CSR job leaves a worker asleep within its poll time asleep and runs exactly; a large one or one after a pause wakes it', async () => {
    const sp = randomTernaryTensor(rows, cols, 11, { density: 0.1, groupSize: 0 });
    const h = await be.uploadTernary(sp, { layout: 'csr' });
    const qs = quantizeInt8PerToken(randomFloats(cols, 12), 1, cols).q;
    const exact = Array.from(naiveIntAcc(sp, qs, 1));
    /** get the worker asleep while its poll time (as the host sees it) is 1 s: a "descheduled" worker */
    const asleepWithinPoll = async () => {
      be.pool.spinUs = 0;
      // the worker runs this job itself (so it is awake for it, not still waking when it ends), then sleeps
      be.pool.hostParticipates = false;
      try {
        expect(Array.from(await be.matmulI8(h, qs, 1))).toEqual(exact);
      } finally {
        be.pool.hostParticipates = true;
      }
      expect(await until(() => be.pool.sleeping === 1, 5_000)).toBe(true);
      be.pool.spinUs = 1_000_000;
    };
    // a sleeping worker can also wake by itself (an interrupt makes Atomics.wait re-check SEQ,
    // which the skipped job changed): only jobs that find it asleep are counted
    const job = async () => {
      const asleep = be.pool.sleeping === 1;
      const s0 = { ...be.pool.stats };
      expect(Array.from(await be.matmulI8(h, qs, 1))).toEqual(exact);
      return { asleep, skipped: be.pool.stats.skipped - s0.skipped, wakes: be.pool.stats.wakes - s0.wakes };
    };
    try {
      const seen = { skip: 0, large: 0, pause: 0 };
      for (let round = 0; round < 5; round++) {
        await asleepWithinPoll();
        const r = await job();
        if (r.asleep) {
          expect([r.skipped, r.wakes], 'small, within the poll time').toEqual([1, 0]);
          seen.skip++;
        }
        await asleepWithinPoll();
        be.csrSmallEntries = 0;
        const l = await job();
        be.csrSmallEntries = 1 << 20;
        if (l.asleep) {
          expect([l.skipped, l.wakes], 'large').toEqual([0, 1]);
          seen.large++;
        }
        await asleepWithinPoll();
        be.pool.spinUs = 2_000;
        await new Promise((res) => setTimeout(res, 30));
        const p = await job();
        if (p.asleep) {
          expect([p.skipped, p.wakes], 'after a pause').toEqual([0, 1]);
          seen.pause++;
        }
      }
      expect(Math.min(seen.skip, seen.large, seen.pause), JSON.stringify(seen)).toBeGreaterThan(0);
    } finally {
      be.csrSmallEntries = 1 << 20;
      be.pool.hostParticipates = true;
      be.pool.spinUs = DEFAULT_SPIN_US;
      be.release(h);
    }
  });

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
