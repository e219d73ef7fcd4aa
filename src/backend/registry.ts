/**
 * registry — backends by name. Each row is a lazy factory, so importing tritwise never loads
 * WASM or a GPU driver that is not used. New backends add one row.
 */
import { TritwiseError } from '../errors.js';
import type { Backend } from './backend.js';

export interface BackendOptions {
  /** Worker threads for CPU backends (default: the number of cores). */
  threads?: number;
}

type Factory = (opts: BackendOptions) => Promise<Backend>;

const factories = new Map<string, Factory>([
  ['ref', async () => new (await import('./ref/ref-backend.js')).RefBackend()],
  ['wasm', async (opts) => (await import('./wasm/wasm-backend.js')).WasmBackend.create(opts)],
  ['webgpu', async (opts) => (await import('./webgpu/webgpu-backend.js')).WebGpuBackend.create(opts)],
]);

export function registerBackend(name: string, factory: Factory): void {
  factories.set(name, factory);
}

export function backendNames(): string[] {
  return [...factories.keys()];
}

export async function createBackend(name = 'ref', opts: BackendOptions = {}): Promise<Backend> {
  const f = factories.get(name);
  if (!f) throw new TritwiseError('E_ARG', 'unknown backend', { where: 'backend', expected: backendNames().join(' | '), got: name });
  return f(opts);
}
