/**
 * protocol — the worker pool's shared control block and the kernels it can run, shared by the
 * host (pool.ts) and the workers (worker-loop.ts).
 *
 * The control block is an Int32Array over a SharedArrayBuffer:
 *   SEQ     job sequence number; the host bumps it (and notifies) to start a job
 *   KIND    RUN, EXIT or DIE (DIE: a test hook that makes one worker's thread exit mid-job)
 *   FN      index into POOL_KERNELS;  NARGS, ARGS: the kernel's arguments before (r0, r1)
 *   ROWS    rows of the job;  CHUNKS: how many chunks; chunk c is rows [START + c, START + c + 1)
 *           (guided self-scheduling, see writeSchedule)
 *   NEXT    the chunk claim counter, (seq & SEQ_MASK) << CHUNK_BITS | next chunk: every thread
 *           (the host included) claims chunks with compareExchange until none is left, so a
 *           descheduled or late worker simply does fewer chunks (a late worker cannot claim a
 *           chunk of a finished job: the job's tag or count no longer matches)
 *   CDONE   chunks finished; the job is done when CDONE = CHUNKS
 *   SPIN_US how long (µs) an idle worker polls SEQ after a job before it sleeps in Atomics.wait
 *           (the host sets it; 0: sleep at once)
 *   ENDS    1 for a job split from both ends (two participants: the host claims chunks from the
 *           front, the one worker from the back; NEXT then packs both counters, see claimEnd)
 *   CUR + k   the chunk worker k is running, −1 when idle (to account for a worker that dies)
 *   STATUS + k   0 ok / 1 error for worker k; its message is UTF-8 at byte MSG + k·MSG_BYTES
 *   SLEEP + k    1 while worker k is (about to be) in Atomics.wait on SEQ, else 0. The host calls
 *           Atomics.notify only when some worker sleeps: a notify that wakes a thread costs the
 *           caller 25–35 µs on this VM (and up to milliseconds on a loaded machine, when the
 *           woken worker preempts it), while a polling worker sees the new SEQ by itself. No
 *           wake-up is lost: the worker stores SLEEP = 1 before Atomics.wait re-checks SEQ, the
 *           host stores SEQ before it reads SLEEP (all sequentially consistent), so either the
 *           host sees the flag and notifies, or the worker's wait sees the new SEQ and returns.
 */
// SEQ, the job description, NEXT and CDONE sit on separate 64-byte lines: idle workers poll
// SEQ's line, the host writes the job's fields without taking that line from them (one store to
// SEQ then starts the job), and claims (NEXT) and completions (CDONE) do not contend with either.
export const SEQ = 0;
export const KIND = 16;
export const FN = 17;
export const NARGS = 18;
export const ROWS = 19;
export const CHUNKS = 20;
export const SPIN_US = 21;
/** 1 when the job is split from both ends (writeScheduleEnds, claimEnd), else 0 (a job field). */
export const ENDS = 22;
export const NEXT = 32;
export const CDONE = 48;
export const ARGS = 64;
export const MAX_ARGS = 16;
export const MAX_WORKERS = 256;
export const STATUS = ARGS + MAX_ARGS;
export const CUR = STATUS + MAX_WORKERS;
export const SLEEP = CUR + MAX_WORKERS;
/** Most chunks one job is cut into (the schedule table holds MAX_SCHEDULE + 1 row starts). */
export const MAX_SCHEDULE = 1024;
export const START = SLEEP + MAX_WORKERS;
export const MSG = (START + MAX_SCHEDULE + 1) * 4;
export const MSG_BYTES = 256;
export const CONTROL_BYTES = MSG + MAX_WORKERS * MSG_BYTES;

export const CHUNK_BITS = 20;
export const MAX_CHUNKS = 1 << CHUNK_BITS;
export const SEQ_MASK = 0x7ff;

export const KIND_RUN = 0;
export const KIND_EXIT = 1;
export const KIND_DIE = 2;

/** Kernels the pool can split by rows; each takes (…args, r0, r1). */
export const POOL_KERNELS = ['denseF32', 'ternaryI8', 'ternaryF32', 'ternaryTernary', 'sparseI8', 'sparseF32', 'lutI8', 'trapAt', 'ternarySigns', 'multiF32', 'multiI8', 'sparseI8W', 'sparseF32W', 'blockSparseI8', 'blockSparseF32', 'csrPadF32', 'csrPadI8', 'csrGroupI8', 'csrPadI32', 'lut3I8'] as const;
export type PoolKernel = (typeof POOL_KERNELS)[number];

/**
 * Guided scheduling: a chunk takes 1/(GUIDE·threads) of the rows still unscheduled …
 *
 * GUIDE 2 / MIN_SHARE 16 (was 4 / 64): longer chunks are longer weight streams. In the 0.7B
 * decode, where every weight comes from DRAM, the old schedule cut the 1536-row layers (wo, w2:
 * 48 row-block pairs) into 19 chunks down to one pair, so each thread read many short pieces of
 * each column group's stream, and those layers ran slower on two threads than on one. A per-step
 * interleaved decode A/B (2 threads, load 10, Node 20) gave 1.11–1.16× tokens/s for 2 / 16 and
 * 1.14–1.17× for 1 / 8; 2 / 16 keeps the first chunk at a quarter of a 2-thread job, so a worker
 * descheduled while it holds a chunk delays the job less.
 */
export const GUIDE = 2;
/** … and at least 1/(MIN_SHARE·threads) of all rows. */
export const MIN_SHARE = 16;

/**
 * Cut `rows` into chunks for `threads` threads and write their row starts to ctl[START …]
 * (START + n holds `rows`); returns the chunk count n. Guided self-scheduling: chunks shrink as
 * the job proceeds, size = max(⌈left / (GUIDE·threads)⌉, ⌈rows / (MIN_SHARE·threads)⌉), so the
 * first chunks are long (long weight streams, few claims) and the last ones short: the thread
 * that finishes first waits at most one short chunk (1/32 of a 2-thread job) for the others. At
 * most MAX_SCHEDULE chunks.
 */
export function writeSchedule(ctl: Int32Array, rows: number, threads: number): number {
  // no chunk under rows / (MAX_SCHEDULE / 2), so the table never overflows whatever the thread count
  const min = Math.max(1, Math.ceil(rows / (MIN_SHARE * threads)), Math.ceil(rows / (MAX_SCHEDULE / 2)));
  let r = 0;
  let n = 0;
  while (r < rows) {
    ctl[START + n] = r;
    const left = rows - r;
    r += n === MAX_SCHEDULE - 1 ? left : Math.min(left, Math.max(min, Math.ceil(left / (GUIDE * threads))));
    n++;
  }
  ctl[START + n] = rows;
  return n;
}

/** The claim counter's value for chunk c of job `seq`. */
export function tag(seq: number, c: number): number {
  return (((seq & SEQ_MASK) << CHUNK_BITS) | c) | 0;
}

/** A NEXT value whose tag matches no job: the host closes NEXT while it rewrites the job. */
export const CLOSED = -1;

/**
 * Claim the next chunk of job `seq` (as read from SEQ); returns the chunk or −1 when none is left
 * or the job has moved on. With `slot` ≥ 0 the candidate chunk is published in CUR + slot before
 * the claim (and −1 after a failed one), so "CUR = −1" always means "holds no chunk".
 */
export function claim(ctl: Int32Array, seq: number, chunks: number, slot = -1): number {
  for (;;) {
    const cur = Atomics.load(ctl, NEXT);
    const c = cur & (MAX_CHUNKS - 1);
    if (cur >>> CHUNK_BITS !== (seq & SEQ_MASK) || c >= chunks) {
      if (slot >= 0) Atomics.store(ctl, CUR + slot, -1);
      return -1;
    }
    if (slot >= 0) Atomics.store(ctl, CUR + slot, c);
    if (Atomics.compareExchange(ctl, NEXT, cur, cur + 1) === cur) return c;
  }
}

/*
 * Two-ended jobs (two participants: the calling thread and one worker). The host claims chunks
 * from the first row up, the worker from the last row down, until they meet; NEXT packs the tag
 * and both counters, (seq & SEQ_MASK) << CHUNK_BITS | front << ENDS_BITS | back, so one
 * compareExchange decides each claim and no chunk is taken twice. Chunks are long at both ends
 * and short where the two meet (writeScheduleEnds). What it buys over the one-counter schedule:
 * each thread runs the same rows call after call (the rows of its end, give or take the chunks
 * near the meeting point), so the weights it streamed in the last call are still in its own
 * core's cache, and each thread claims about half as many chunks; a late or descheduled worker
 * still only means that the host takes more chunks from the front.
 */
export const ENDS_BITS = 10;
/** Most chunks of a two-ended job (both counters fit ENDS_BITS). */
export const MAX_ENDS_CHUNKS = (1 << ENDS_BITS) - 1;

/** NEXT of a two-ended job whose next front chunk is f and whose back chunks start at b. */
export function tagEnds(seq: number, f: number, b: number): number {
  return (((seq & SEQ_MASK) << CHUNK_BITS) | (f << ENDS_BITS) | b) | 0;
}

/**
 * The two-ended schedule keeps its own guide and minimum share (the values the guided schedule
 * had when it was measured, 27 Nov): its first chunks are an eighth of the rows from each end.
 */
export const ENDS_GUIDE = 4;
export const ENDS_MIN_SHARE = 64;

/**
 * Cut `rows` into chunks for two threads working from both ends: guided sizes (as writeSchedule,
 * for 2 threads) taken in pairs, one at the front and a mirrored one at the back, and the rest in
 * the middle in chunks of the minimum size; writes the row starts to ctl[START …] and returns the
 * chunk count (≤ MAX_ENDS_CHUNKS).
 */
export function writeScheduleEnds(ctl: Int32Array, rows: number): number {
  const min = Math.max(1, Math.ceil(rows / (ENDS_MIN_SHARE * 2)), Math.ceil(rows / ((MAX_ENDS_CHUNKS - 1) / 2)));
  const sizes: number[] = [];
  let left = rows;
  while (left >= 2 * min) {
    const s = Math.max(min, Math.min(Math.floor(left / 2), Math.ceil(left / (ENDS_GUIDE * 2))));
    sizes.push(s);
    left -= 2 * s;
  }
  let r = 0;
  let n = 0;
  const put = (s: number) => {
    ctl[START + n++] = r;
    r += s;
  };
  for (const s of sizes) put(s);
  while (left > 0) {
    const s = Math.min(min, left);
    put(s);
    left -= s;
  }
  for (let i = sizes.length - 1; i >= 0; i--) put(sizes[i]!);
  ctl[START + n] = rows;
  return n;
}

/**
 * Claim the next chunk of two-ended job `seq`: from the front (the host) or from the back (the
 * worker). −1 when the ends have met or the job has moved on; `slot` as in claim().
 */
export function claimEnd(ctl: Int32Array, seq: number, back: boolean, slot = -1): number {
  const mask = (1 << ENDS_BITS) - 1;
  for (;;) {
    const cur = Atomics.load(ctl, NEXT);
    const f = (cur >>> ENDS_BITS) & mask;
    const b = cur & mask;
    if (cur >>> CHUNK_BITS !== (seq & SEQ_MASK) || f >= b) {
      if (slot >= 0) Atomics.store(ctl, CUR + slot, -1);
      return -1;
    }
    const c = back ? b - 1 : f;
    if (slot >= 0) Atomics.store(ctl, CUR + slot, c);
    if (Atomics.compareExchange(ctl, NEXT, cur, back ? cur - 1 : cur + (1 << ENDS_BITS)) === cur) return c;
  }
}

/** What a worker is given at start (structured-cloned). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** worker number k */
  index: number;
}
