/**
 * protocol — the worker pool's shared control block and the kernels it can run, shared by the
 * host (pool.ts) and the workers (worker-loop.ts).
 *
 * The control block is an Int32Array over a SharedArrayBuffer:
 *   SEQ     job sequence number; the host bumps it (and notifies) to start a job
 *   DONE    workers that finished the current job (the host waits for it to reach the count)
 *   KIND    RUN, EXIT or DIE (DIE: a test hook that makes one worker's thread exit mid-job)
 *   FN      index into POOL_KERNELS;  NARGS, ARGS: the kernel's arguments before (r0, r1)
 *   ROWS    rows to split;  NPART  participants (the host thread is participant 0)
 *   STATUS + k   0 ok / 1 error for worker k; its message is UTF-8 at byte MSG + k·MSG_BYTES
 * Participant p computes rows [⌊R·p/n⌋, ⌊R·(p+1)/n⌋).
 */
export const SEQ = 0;
export const DONE = 1;
export const KIND = 2;
export const FN = 3;
export const NARGS = 4;
export const ROWS = 5;
export const NPART = 6;
export const ARGS = 8;
export const MAX_ARGS = 16;
export const STATUS = 32;
export const MAX_WORKERS = 256;
export const MSG = (STATUS + MAX_WORKERS) * 4;
export const MSG_BYTES = 256;
export const CONTROL_BYTES = MSG + MAX_WORKERS * MSG_BYTES;

export const KIND_RUN = 0;
export const KIND_EXIT = 1;
export const KIND_DIE = 2;

/** Kernels the pool can split by rows; each takes (…args, r0, r1). */
export const POOL_KERNELS = ['denseF32', 'ternaryI8', 'ternaryF32', 'ternaryTernary', 'sparseI8', 'sparseF32', 'trapAt'] as const;
export type PoolKernel = (typeof POOL_KERNELS)[number];

/** Rows [r0, r1) of participant p out of n. */
export function rowRange(rows: number, p: number, n: number): [number, number] {
  return [Math.floor((rows * p) / n), Math.floor((rows * (p + 1)) / n)];
}

/** What a worker is given at start (structured-cloned). */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  /** worker number k (participant k + 1) */
  index: number;
}
