/**
 * platform — what the wasm backend needs from its host environment, so that the Node-specific
 * parts (worker_threads, the file system, os) stay in node-platform.ts and a browser platform
 * (Web Workers, fetch) can be added beside it without touching the pool or the kernels.
 */
import type { WorkerInit } from './protocol.js';

export interface PoolWorker {
  onMessage(cb: (msg: unknown) => void): void;
  onError(cb: (err: Error) => void): void;
  onExit(cb: (code: number) => void): void;
  /** Let the process exit while this worker is idle (Node); a no-op elsewhere. */
  unref(): void;
  terminate(): Promise<void>;
}

export interface Platform {
  readonly name: string;
  /** Logical cores (the default thread count). */
  cores(): number;
  /** The bytes of a built kernel module: 'simd.wasm' or 'relaxed.wasm'. */
  readKernel(file: string): Promise<Uint8Array<ArrayBuffer>>;
  /** Start a pool worker; it posts 'ready' once it waits for jobs. */
  spawn(init: WorkerInit): PoolWorker;
}
