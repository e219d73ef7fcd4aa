/**
 * pool-worker — the Node.js entry of a pool worker (worker_threads glue around worker-loop.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerInit } from './protocol.js';
import { workerLoop } from './worker-loop.js';

await workerLoop(
  workerData as WorkerInit,
  (m) => parentPort!.postMessage(m),
  () => process.exit(3),
);
process.exit(0);
