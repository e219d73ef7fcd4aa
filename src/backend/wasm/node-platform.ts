/**
 * node-platform — the wasm backend's Platform on Node.js: worker_threads workers running
 * dist/backend/wasm/pool-worker.js, kernels read from dist/kernels/, os.availableParallelism().
 * Paths are resolved from the package root, so this works from src/ (tests) and dist/ alike
 * (`npm run build` must have run, which `npm install` and `npm test` do).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TritwiseError } from '../../errors.js';
import type { Platform, PoolWorker } from './platform.js';
import type { WorkerInit } from './protocol.js';

const root = new URL('../../../', import.meta.url);

function built(rel: string): URL {
  const url = new URL(rel, root);
  if (!existsSync(url)) {
    throw new TritwiseError('E_BACKEND', 'wasm backend is not built', { where: fileURLToPath(url), expected: 'the output of `npm run build` (run by npm install / npm test)', got: 'missing file' });
  }
  return url;
}

export const nodePlatform: Platform = {
  name: 'node',
  cores: () => availableParallelism(),
  async readKernel(file: string): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await readFile(built(`dist/kernels/${file}`)));
  },
  spawn(init: WorkerInit): PoolWorker {
    const w = new Worker(built('dist/backend/wasm/pool-worker.js'), { workerData: init, name: `tritwise-wasm-${init.index}` });
    return {
      onMessage: (cb) => void w.on('message', cb),
      onError: (cb) => void w.on('error', cb),
      onExit: (cb) => void w.on('exit', cb),
      unref: () => w.unref(),
      terminate: async () => {
        await w.terminate();
      },
    };
  },
};
