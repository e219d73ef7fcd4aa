/**
 * worker-loop — the body of a pool worker, independent of the host environment.
 *
 * It instantiates the kernel module over the shared memory, reads the job counter *before*
 * announcing itself (so a job posted between "ready" and the first wait cannot be missed), then
 * waits for SEQ to change, runs its rows of the job, records success or the error message, and
 * bumps DONE. A short spin before Atomics.wait keeps back-to-back jobs cheap.
 */
import { ARGS, DONE, FN, KIND, KIND_DIE, KIND_EXIT, MSG, MSG_BYTES, NARGS, NPART, POOL_KERNELS, ROWS, SEQ, STATUS, rowRange, type WorkerInit } from './protocol.js';

const SPIN = 4000;

export async function workerLoop(init: WorkerInit, post: (msg: unknown) => void, die: () => void): Promise<void> {
  const instance = (await WebAssembly.instantiate(init.module, { env: { memory: init.memory } })) as unknown as WebAssembly.Instance;
  const ex = instance.exports as Record<string, (...a: number[]) => void>;
  const fns = POOL_KERNELS.map((n) => ex[n]!);
  const ctl = new Int32Array(init.control);
  const msg = new Uint8Array(init.control);
  const enc = new TextEncoder();
  const k = init.index;
  const argv: number[] = new Array(32).fill(0);
  let seen = Atomics.load(ctl, SEQ); // before 'ready': see protocol.ts
  post('ready');
  for (;;) {
    let spins = 0;
    while (Atomics.load(ctl, SEQ) === seen && spins++ < SPIN);
    if (Atomics.load(ctl, SEQ) === seen) Atomics.wait(ctl, SEQ, seen);
    const seq = Atomics.load(ctl, SEQ);
    if (seq === seen) continue;
    seen = seq;
    const kind = ctl[KIND]!;
    if (kind === KIND_EXIT) return;
    if (kind === KIND_DIE && ctl[ARGS] === k) die();
    try {
      const nargs = ctl[NARGS]!;
      const [r0, r1] = rowRange(ctl[ROWS]!, k + 1, ctl[NPART]!);
      argv.length = nargs + 2;
      for (let i = 0; i < nargs; i++) argv[i] = ctl[ARGS + i]!;
      argv[nargs] = r0;
      argv[nargs + 1] = r1;
      if (r1 > r0 && kind !== KIND_DIE) fns[ctl[FN]!]!(...argv);
      Atomics.store(ctl, STATUS + k, 0);
    } catch (e) {
      const text = enc.encode(String((e as Error)?.message ?? e)).subarray(0, MSG_BYTES - 1);
      msg.fill(0, MSG + k * MSG_BYTES, MSG + (k + 1) * MSG_BYTES);
      msg.set(text, MSG + k * MSG_BYTES);
      Atomics.store(ctl, STATUS + k, 1);
    }
    Atomics.add(ctl, DONE, 1);
    Atomics.notify(ctl, DONE);
  }
}
