/**
 * pool-worker — the Web Worker entry of a wasm pool worker: the first message is its WorkerInit
 * (module, shared memory, control block), then the host-independent worker loop runs.
 */
import type { WorkerInit } from '../backend/wasm/protocol.js';
import { workerLoop } from '../backend/wasm/worker-loop.js';

const scope = self as unknown as { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void; close(): void };
scope.onmessage = (e: MessageEvent) => {
  scope.onmessage = null;
  void workerLoop(e.data as WorkerInit, (m) => scope.postMessage(m), () => scope.close()).then(() => scope.close());
};
