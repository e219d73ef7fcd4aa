/**
 * browser-platform — the wasm backend's Platform in a browser: kernels fetched next to the page
 * (kernels/simd.wasm, kernels/relaxed.wasm), pool workers as module Web Workers
 * (tritwise-pool-worker.js), navigator.hardwareConcurrency cores. The shared WebAssembly.Memory
 * needs a cross-origin-isolated page (COOP/COEP headers, which `tritwise serve` sends).
 */
import { TritwiseError } from '../errors.js';
import type { Platform, PoolWorker } from '../backend/wasm/platform.js';
import type { WorkerInit } from '../backend/wasm/protocol.js';

export function browserPlatform(base: URL): Platform {
  return {
    name: 'browser',
    cores: () => Math.max(1, navigator.hardwareConcurrency || 1),
    async readKernel(file: string): Promise<Uint8Array<ArrayBuffer>> {
      const url = new URL(`kernels/${file}`, base);
      const r = await fetch(url);
      if (!r.ok) throw new TritwiseError('E_BACKEND', 'cannot fetch the wasm kernels', { where: url.href, expected: 'HTTP 200', got: r.status });
      return new Uint8Array(await r.arrayBuffer());
    },
    spawn(init: WorkerInit): PoolWorker {
      const w = new Worker(new URL('tritwise-pool-worker.js', base), { type: 'module', name: `tritwise-wasm-${init.index}` });
      w.postMessage(init);
      return {
        onMessage: (cb) => w.addEventListener('message', (e) => cb(e.data)),
        onError: (cb) => w.addEventListener('error', (e) => cb(new Error(e.message))),
        onExit: () => {},
        unref: () => {},
        terminate: async () => w.terminate(),
      };
    },
  };
}
