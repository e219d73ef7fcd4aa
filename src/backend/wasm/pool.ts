/**
 * pool — persistent workers over one shared WebAssembly.Memory; a job is one kernel call split
 * by rows between the calling thread (participant 0) and the workers.
 *
 * Chunks shrink as a job proceeds (guided self-scheduling, protocol.ts writeSchedule).
 *
 * run(): write the job into the control block, bump SEQ (and notify, if a worker sleeps); then the calling thread and
 * the workers all claim chunks of rows until none is left (protocol.ts), so a worker that is late
 * or descheduled (a busy machine) just does fewer chunks instead of holding the job up. The host
 * waits for CDONE to reach the chunk count (spinning briefly, then Atomics.waitAsync with a
 * timeout so worker 'exit' events can be seen). Nothing is allocated per job beyond the promise.
 * Idle workers poll for `spinUs` µs after a job before they sleep (worker-loop.ts), so a job that
 * follows within that time starts without a wake-up; `stats` counts jobs and wake-ups.
 *
 * Small jobs (run(…, small = true): a few hundred µs of work or less) do not wake a worker that
 * sleeps although the previous job ended less than spinUs ago, i.e. a worker that should have been
 * polling but was descheduled (a loaded machine): the notify costs the calling thread 25–35 µs
 * and, when the woken worker preempts it, far more, while the worker arrives too late to share a
 * short job. The calling thread (and any worker that is polling) takes all the chunks. Every
 * SKIP_PROBE-th such job wakes the worker anyway, so once the machine is quiet again it rejoins
 * and stays polling between back-to-back jobs. A worker asleep after a real pause (longer than
 * spinUs) is always woken. Measured (4096×11008 CSR GEMV, 2 threads, load 4–5, rule on vs off in
 * one process): median 1.01–1.05× at 99 % zeros, 0.87–1.31× at 99.9 % — no reliable gain; it does
 * nothing on an idle machine (never waking at all gave 1.47× at 99 %, but strands the worker).
 *
 * Failures: a worker whose kernel throws (a wasm trap, …) reports its message through the
 * control block and the job rejects with TritwiseError E_WORKER. A worker that dies is noticed by
 * its 'exit' event; the job waits for the surviving workers (they write into shared buffers),
 * rejects with E_WORKER, and the next job replaces the dead worker — the pool never deadlocks.
 * dispose() asks workers to exit and terminates those that do not; workers are unref()'d, so an
 * idle pool never keeps the process alive.
 */
import { TritwiseError } from '../../errors.js';
import type { Platform, PoolWorker } from './platform.js';
import { ARGS, CDONE, CHUNKS, CLOSED, CONTROL_BYTES, CUR, ENDS, FN, KIND, KIND_DIE, KIND_EXIT, KIND_RUN, MAX_ARGS, MAX_WORKERS, MSG, MSG_BYTES, NARGS, NEXT, POOL_KERNELS, ROWS, SEQ, SLEEP, SPIN_US, START, STATUS, claim, claimEnd, tag, tagEnds, writeSchedule, writeScheduleEnds, type PoolKernel } from './protocol.js';

type KernelFn = (...a: number[]) => void;

/** Atomics.waitAsync (ES2024; in Node ≥ 16 and current browsers), typed here for our ES2022 lib. */
type WaitAsync = (a: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<'ok' | 'timed-out'> | 'not-equal' | 'timed-out' };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

interface Slot {
  worker: PoolWorker | null;
  alive: boolean;
  exitCode: number | null;
  error: Error | null;
}

const SPIN_MS = 0.25;
/** Default worker poll time after a job, µs (see spinUs). */
export const DEFAULT_SPIN_US = 300;
export const MAX_SPIN_US = 1_000_000;
const WAIT_SLICE_MS = 20;
const READY_TIMEOUT_MS = 30_000;
/** Consecutive small jobs that may skip waking a descheduled worker before one wakes it. */
export const SKIP_PROBE = 8;

/**
 * Whether a job wakes a worker it finds asleep: always, unless the job is small, the worker should
 * still be polling (the last job ended less than spinUs ago) and fewer than SKIP_PROBE jobs in a
 * row have skipped the wake-up (see the header).
 */
export function wakesSleeper(small: boolean, skips: number, sinceLastEndMs: number, spinUs: number): boolean {
  return !(small && skips < SKIP_PROBE && sinceLastEndMs < spinUs / 1000);
}
const EXIT_TIMEOUT_MS = 2_000;

export class WorkerPool {
  readonly control = new SharedArrayBuffer(CONTROL_BYTES);
  readonly #ctl = new Int32Array(this.control);
  readonly #slots: Slot[] = [];
  readonly #fns: KernelFn[];
  readonly #argv: number[] = [];
  #disposed = false;
  #deathSignal = 0;
  /** Whether the calling thread claims chunks too (tests turn it off to force work onto workers). */
  hostParticipates = true;
  /** Parallel jobs started, and how many of them had to wake a sleeping worker (Atomics.notify). */
  readonly stats = { jobs: 0, wakes: 0, skipped: 0 };
  /** performance.now() when the last job ended, and small jobs in a row that skipped a wake-up */
  #lastEnd = -Infinity;
  #skips = 0;

  private constructor(
    private readonly platform: Platform,
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    main: WebAssembly.Exports,
    readonly workers: number,
  ) {
    this.#fns = POOL_KERNELS.map((n) => main[n] as KernelFn);
    this.spinUs = DEFAULT_SPIN_US;
  }

  /**
   * How long (µs) an idle worker polls for the next job before it sleeps in Atomics.wait: a job
   * that comes sooner starts without a wake-up. Bounded, so an idle pool burns no CPU; 0 makes
   * workers sleep at once (every job then pays a wake-up).
   */
  get spinUs(): number {
    return Atomics.load(this.#ctl, SPIN_US);
  }
  set spinUs(us: number) {
    if (!Number.isInteger(us) || us < 0 || us > MAX_SPIN_US) throw new TritwiseError('E_ARG', 'invalid worker spin time', { where: 'wasm pool spinUs', expected: `an integer number of µs in 0..${MAX_SPIN_US}`, got: us });
    Atomics.store(this.#ctl, SPIN_US, us);
  }

  /** A pool with `workers` workers (0: everything runs on the calling thread). */
  static async create(platform: Platform, module: WebAssembly.Module, memory: WebAssembly.Memory, main: WebAssembly.Exports, workers: number): Promise<WorkerPool> {
    if (!Number.isInteger(workers) || workers < 0 || workers >= MAX_WORKERS) {
      throw new TritwiseError('E_ARG', 'invalid worker count', { where: 'wasm pool', expected: `0..${MAX_WORKERS - 1}`, got: workers });
    }
    const pool = new WorkerPool(platform, module, memory, main, workers);
    for (let k = 0; k < workers; k++) pool.#slots.push({ worker: null, alive: false, exitCode: null, error: null });
    try {
      await Promise.all(pool.#slots.map((_, k) => pool.#spawn(k)));
    } catch (e) {
      await pool.dispose();
      throw e;
    }
    return pool;
  }

  #spawn(k: number): Promise<void> {
    const slot = this.#slots[k]!;
    slot.exitCode = null;
    slot.error = null;
    Atomics.store(this.#ctl, SLEEP + k, 0);
    return new Promise((resolve, reject) => {
      let ready = false;
      const fail = (why: string, cause?: unknown) => {
        if (!ready) reject(new TritwiseError('E_WORKER', 'wasm worker failed to start', { where: `wasm worker ${k}`, expected: 'ready', got: why, cause }));
      };
      const timer = setTimeout(() => fail(`no answer in ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
      let w: PoolWorker;
      try {
        w = this.platform.spawn({ module: this.module, memory: this.memory, control: this.control, index: k });
      } catch (e) {
        clearTimeout(timer);
        return fail(String(e), e);
      }
      slot.worker = w;
      w.onMessage((m) => {
        if (m === 'ready' && !ready) {
          ready = true;
          slot.alive = true;
          clearTimeout(timer);
          w.unref();
          resolve();
        }
      });
      w.onError((e) => {
        slot.error = e;
        fail(e.message, e);
      });
      w.onExit((code) => {
        clearTimeout(timer);
        slot.alive = false;
        slot.exitCode = code;
        if (slot.worker === w) slot.worker = null;
        fail(`exit code ${code}`);
        // wake a host waiting in run()
        this.#deathSignal++;
        Atomics.notify(this.#ctl, CDONE);
      });
    });
  }

  /** Replace workers that died since the last job. */
  async #heal(): Promise<void> {
    const dead = this.#slots.map((s, k) => (s.alive ? -1 : k)).filter((k) => k >= 0);
    if (dead.length) await Promise.all(dead.map((k) => this.#spawn(k)));
  }

  /**
   * Run `fn(...args, r0, r1)` over `rows` rows. With `parallel` false (or no workers) the calling
   * thread does all rows. `ends`: split the rows from both ends (protocol.ts writeScheduleEnds:
   * the calling thread from the first row up, the worker from the last row down), so each thread
   * keeps its rows from call to call; it applies when the job has exactly two participants (one
   * worker, the calling thread taking part), else the one-counter guided schedule runs.
   * `small`: a short job, which does not wake a descheduled worker (see the header).
   */
  async run(fn: PoolKernel, args: readonly number[], rows: number, parallel: boolean, ends = false, small = false): Promise<void> {
    if (this.#disposed) throw new TritwiseError('E_BACKEND', 'backend is disposed', { where: 'wasm pool' });
    const fi = POOL_KERNELS.indexOf(fn);
    if (!parallel || this.workers === 0 || rows < 2) {
      try {
        this.#call(fi, args, 0, rows);
      } catch (e) {
        throw new TritwiseError('E_BACKEND', 'a wasm kernel failed', { where: `wasm (${fn})`, expected: 'no error', got: String((e as Error)?.message ?? e), cause: e });
      }
      return;
    }
    await this.#heal();
    await this.#job(KIND_RUN, fi, args, rows, ends && this.workers === 1 && this.hostParticipates, small && this.hostParticipates);
  }

  #call(fi: number, args: readonly number[], r0: number, r1: number): void {
    const a = this.#argv;
    a.length = args.length + 2;
    for (let i = 0; i < args.length; i++) a[i] = args[i]!;
    a[args.length] = r0;
    a[args.length + 1] = r1;
    this.#fns[fi]!(...a);
  }

  async #job(kind: number, fi: number, args: readonly number[], rows: number, ends = false, small = false): Promise<void> {
    if (args.length > MAX_ARGS) throw new TritwiseError('E_ARG', 'too many kernel arguments', { where: 'wasm pool', expected: `≤ ${MAX_ARGS}`, got: args.length });
    const ctl = this.#ctl;
    const seq = (Atomics.load(ctl, SEQ) + 1) | 0;
    // close the claim counter before rewriting the job, so a late worker cannot mix two jobs
    Atomics.store(ctl, NEXT, CLOSED);
    ctl[KIND] = kind;
    ctl[FN] = fi;
    ctl[NARGS] = args.length;
    for (let i = 0; i < args.length; i++) ctl[ARGS + i] = args[i]!;
    ctl[ROWS] = rows;
    const chunks = ends ? writeScheduleEnds(ctl, rows) : writeSchedule(ctl, rows, kind === KIND_DIE ? 1 : this.workers + 1);
    ctl[CHUNKS] = chunks;
    ctl[ENDS] = ends ? 1 : 0;
    for (let k = 0; k < this.workers; k++) ctl[STATUS + k] = 0;
    Atomics.store(ctl, CDONE, 0);
    Atomics.store(ctl, NEXT, ends ? tagEnds(seq, 0, chunks) : tag(seq, 0));
    const deaths = this.#deathSignal;
    Atomics.store(ctl, SEQ, seq);
    this.stats.jobs++;
    for (let k = 0; k < this.workers; k++) {
      if (Atomics.load(ctl, SLEEP + k) !== 0) {
        // asleep although the last job ended within its poll time: descheduled, too late for a short job
        if (!wakesSleeper(small, this.#skips, performance.now() - this.#lastEnd, Atomics.load(ctl, SPIN_US))) {
          this.#skips++;
          this.stats.skipped++;
          break;
        }
        this.#skips = 0;
        this.stats.wakes++;
        Atomics.notify(ctl, SEQ);
        break;
      }
    }
    let mine: unknown = null;
    if (kind === KIND_RUN && this.hostParticipates) {
      for (;;) {
        const c = ends ? claimEnd(ctl, seq, false) : claim(ctl, seq, chunks);
        if (c < 0) break;
        try {
          this.#call(fi, args, ctl[START + c]!, ctl[START + c + 1]!);
        } catch (e) {
          mine ??= e;
        }
        Atomics.add(ctl, CDONE, 1);
      }
    }
    await this.#wait(chunks, deaths);
    this.#lastEnd = performance.now();
    // a worker that died after the last chunk did not hurt this job; the next job replaces it
    const died = Atomics.load(ctl, CDONE) < chunks ? this.#slots.findIndex((s) => !s.alive) : -1;
    if (died >= 0) {
      const s = this.#slots[died]!;
      throw new TritwiseError('E_WORKER', 'a wasm worker died during a kernel call', { where: `wasm worker ${died} (${POOL_KERNELS[fi]})`, expected: 'the worker to finish its rows', got: s.error ? s.error.message : `exit code ${s.exitCode}`, cause: s.error ?? undefined });
    }
    for (let k = 0; k < this.workers; k++) {
      if (ctl[STATUS + k] !== 0) {
        const bytes = new Uint8Array(this.control, MSG + k * MSG_BYTES, MSG_BYTES).slice();
        const end = bytes.indexOf(0);
        const text = new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
        throw new TritwiseError('E_WORKER', 'a wasm kernel failed in a worker', { where: `wasm worker ${k} (${POOL_KERNELS[fi]})`, expected: 'no error', got: text });
      }
    }
    if (mine) throw new TritwiseError('E_WORKER', 'a wasm kernel failed on the calling thread', { where: `wasm (${POOL_KERNELS[fi]})`, expected: 'no error', got: String((mine as Error).message ?? mine), cause: mine });
  }

  /**
   * Wait until every chunk is done — or, once a worker has died, until no live worker holds a
   * chunk (the host has already taken every unclaimed one), so the caller can fail cleanly.
   */
  async #wait(chunks: number, deaths: number): Promise<void> {
    const ctl = this.#ctl;
    const idle = () => this.#slots.every((s, k) => !s.alive || Atomics.load(ctl, CUR + k) === -1);
    const t0 = performance.now();
    while (Atomics.load(ctl, CDONE) < chunks && performance.now() - t0 < SPIN_MS);
    for (;;) {
      const done = Atomics.load(ctl, CDONE);
      if (done >= chunks) return;
      if (this.#deathSignal !== deaths && idle()) return;
      const w = waitAsync(ctl, CDONE, done, WAIT_SLICE_MS);
      if (w.async) {
        // Keep the event loop alive until the wait settles: its timeout is not a libuv handle and
        // the workers are unref'd, so without this Node may exit mid-call. The timer must outlive
        // the wait whatever the scheduling delays, hence a far deadline cleared afterwards.
        const keep = setTimeout(() => {}, 0x7fffffff);
        try {
          await w.value;
        } finally {
          clearTimeout(keep);
        }
      }
    }
  }

  /** Test hooks: make worker k's thread exit inside a job, or terminate it while idle. */
  async debugDieInJob(k: number): Promise<void> {
    await this.#heal();
    await this.#job(KIND_DIE, POOL_KERNELS.indexOf('trapAt'), [k], 1);
  }
  async debugTerminate(k: number): Promise<void> {
    await this.#slots[k]?.worker?.terminate();
  }
  /** Workers that are asleep in Atomics.wait right now (an idle pool: all of them, after spinUs). */
  get sleeping(): number {
    let n = 0;
    for (let k = 0; k < this.workers; k++) if (this.#slots[k]!.alive && Atomics.load(this.#ctl, SLEEP + k) !== 0) n++;
    return n;
  }
  /** Live workers right now. */
  get alive(): number {
    return this.#slots.filter((s) => s.alive).length;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const live = this.#slots.filter((s) => s.alive && s.worker);
    if (live.length) {
      const exited = Promise.all(live.map((s) => new Promise<void>((r) => (s.worker ? s.worker.onExit(() => r()) : r()))));
      Atomics.store(this.#ctl, NEXT, CLOSED);
      this.#ctl[KIND] = KIND_EXIT;
      Atomics.add(this.#ctl, SEQ, 1);
      Atomics.notify(this.#ctl, SEQ);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), EXIT_TIMEOUT_MS)));
      const how = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (how === 'timeout') await Promise.all(live.map((s) => s.worker?.terminate()));
    }
    for (const s of this.#slots) {
      s.alive = false;
      s.worker = null;
    }
  }
}
