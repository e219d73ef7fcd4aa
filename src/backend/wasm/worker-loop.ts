/**
 * worker-loop — the body of a pool worker, independent of the host environment.
 *
 * It instantiates the kernel module over the shared memory, reads the job counter *before*
 * announcing itself (so a job posted between "ready" and the first wait cannot be missed), then
 * waits for SEQ to change and claims chunks of the job's rows until none is left (protocol.ts),
 * recording an error message if a kernel throws.
 *
 * Between jobs it polls SEQ for SPIN_US microseconds (a clock check every 64 polls), then raises
 * its SLEEP flag and sleeps in Atomics.wait. While it polls, the host starts a job without
 * Atomics.notify (protocol.ts), so back-to-back calls — a model's layers, a benchmark's rounds —
 * skip the 25–35 µs wake-up; an idle pool sleeps and burns no CPU after SPIN_US.
 */
import { ARGS, CDONE, CHUNKS, CUR, ENDS, FN, KIND, KIND_DIE, KIND_EXIT, MSG, MSG_BYTES, NARGS, POOL_KERNELS, SEQ, SLEEP, SPIN_US, START, STATUS, claim, claimEnd, type WorkerInit } from './protocol.js';

export async function workerLoop(init: WorkerInit, post: (msg: unknown) => void, die: () => void): Promise<void> {
  const instance = (await WebAssembly.instantiate(init.module, { env: { memory: init.memory } })) as unknown as WebAssembly.Instance;
  const ex = instance.exports as Record<string, (...a: number[]) => void>;
  const fns = POOL_KERNELS.map((n) => ex[n]!);
  ex.setThreadIndex!(init.index + 1); // per-thread scratch of some kernels (lut-i8.ts tables)
  const ctl = new Int32Array(init.control);
  const msg = new Uint8Array(init.control);
  const enc = new TextEncoder();
  const k = init.index;
  const argv: number[] = [];
  Atomics.store(ctl, CUR + k, -1);
  let seen = Atomics.load(ctl, SEQ); // before 'ready': see protocol.ts
  post('ready');
  for (;;) {
    const budget = Atomics.load(ctl, SPIN_US) / 1000;
    if (budget > 0) {
      const t0 = performance.now();
      let i = 0;
      while (Atomics.load(ctl, SEQ) === seen && ((++i & 63) !== 0 || performance.now() - t0 < budget));
    }
    if (Atomics.load(ctl, SEQ) === seen) {
      Atomics.store(ctl, SLEEP + k, 1);
      Atomics.wait(ctl, SEQ, seen);
      Atomics.store(ctl, SLEEP + k, 0);
    }
    const seq = Atomics.load(ctl, SEQ);
    if (seq === seen) continue;
    seen = seq;
    const kind = ctl[KIND]!;
    if (kind === KIND_EXIT) return;
    if (kind === KIND_DIE) {
      // test hook: the target worker takes the job's only chunk and dies holding it
      if (ctl[ARGS] === k) {
        claim(ctl, seq, ctl[CHUNKS]!, k);
        die();
      }
      continue;
    }
    const fn = fns[ctl[FN]!]!;
    const nargs = ctl[NARGS]!;
    const chunks = ctl[CHUNKS]!;
    const ends = ctl[ENDS] === 1; // two-ended: the (only) worker claims from the back
    argv.length = nargs + 2;
    for (let i = 0; i < nargs; i++) argv[i] = ctl[ARGS + i]!;
    for (;;) {
      const c = ends ? claimEnd(ctl, seq, true, k) : claim(ctl, seq, chunks, k);
      if (c < 0) break;
      argv[nargs] = ctl[START + c]!;
      argv[nargs + 1] = ctl[START + c + 1]!;
      try {
        fn(...argv);
      } catch (e) {
        const text = enc.encode(String((e as Error)?.message ?? e)).subarray(0, MSG_BYTES - 1);
        msg.fill(0, MSG + k * MSG_BYTES, MSG + (k + 1) * MSG_BYTES);
        msg.set(text, MSG + k * MSG_BYTES);
        Atomics.store(ctl, STATUS + k, 1);
      }
      Atomics.store(ctl, CUR + k, -1);
      // only the job's last chunk can end the host's wait (a death wakes it from the host side)
      if (Atomics.add(ctl, CDONE, 1) + 1 === chunks) Atomics.notify(ctl, CDONE);
    }
  }
}
